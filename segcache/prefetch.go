package segcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Prefetching fills a running Java Historical's segment cache ahead of it (druid-protocol.md section 13): a segment
// the Coordinator has queued for the Historical is pulled into a private staging directory of the same location,
// checked and made durable, then moved into the segment's directory with one atomic rename that never replaces
// anything. When the Historical's load arrives it finds a complete directory without a downloadStartMarker and
// mounts it as it is, skipping its own single-stream download.
//
// The rules that keep this safe beside a Historical that knows nothing of it:
//   - The Historical owns everything it can see. The prefetcher never creates a downloadStartMarker, never writes
//     info_dir, and never changes a segment directory once it is in place: after the rename the copy is the
//     Historical's to mount, move or delete. Only Discard removes a copy again, and only its own, unclaimed one.
//   - A segment whose directory exists in any location is left alone: it is checked before the pull and again
//     just before the rename, and the rename itself is renameat2(RENAME_NOREPLACE), because a plain rename would
//     replace the empty directory a Historical has between its mkdirp and its marker.
//   - In the nested layout (Druid 30-34) a Historical's drop deletes the segment directory and then each parent
//     that it finds empty, recursively; a copy renamed into such a parent between the emptiness check and the
//     delete would go with it. So no copy is placed into a parent in which a drop happened in the last minute.
//   - The prefetcher runs with the Historical's uid and gid and leaves Druid's usual permissions (directories 0755,
//     files 0644), and it never chowns: the Historical must be able to move and delete what it finds.

// Errors of the prefetcher, matched with errors.Is.
var (
	// ErrPrefetchOff is NewPrefetcher's error when the configuration turns prefetching off.
	ErrPrefetchOff = errors.New("prefetching is off")
	// ErrNoRoom is Place's and Budget's error when the prefetch window is full or no location has room.
	ErrNoRoom = errors.New("no room to prefetch the segment")
	// ErrRecentDrop is Place's error when the segment's parent directory (nested layout) saw a drop less than a
	// minute ago.
	ErrRecentDrop = errors.New("a drop happened in the segment's parent directory less than a minute ago")
	// ErrClaimed is Discard's error when the Historical has the copy: its info_dir entry or a downloadStartMarker
	// is there.
	ErrClaimed = errors.New("the Historical has claimed the segment's directory")
	// ErrNotPlaced is Discard's error for a directory this prefetcher did not place (or that was replaced since).
	ErrNotPlaced = errors.New("not a copy this prefetcher placed")
	// ErrNoReplaceUnsupported is Place's error on a filesystem without renameat2(RENAME_NOREPLACE): a plain
	// rename could replace a Historical's directory, so nothing is placed.
	ErrNoReplaceUnsupported = errors.New("the filesystem cannot rename without replacing (renameat2 RENAME_NOREPLACE)")
)

// PlaceOutcome is what Place did with a segment.
type PlaceOutcome int

// Place's outcomes.
const (
	// Placed: the copy was renamed into the segment's directory.
	Placed PlaceOutcome = iota + 1
	// AlreadyPresent: the segment's directory or info_dir entry was there before anything was pulled.
	AlreadyPresent
	// LostRace: the segment's directory appeared while the copy was being pulled (a Historical's load), and the
	// copy was discarded.
	LostRace
)

func (o PlaceOutcome) String() string {
	switch o {
	case Placed:
		return "placed"
	case AlreadyPresent:
		return "already present"
	case LostRace:
		return "lost the race"
	}
	return "PlaceOutcome(" + strconv.Itoa(int(o)) + ")"
}

// Placement is the result of Place.
type Placement struct {
	Outcome PlaceOutcome
	// Dir is the segment's directory: the copy placed, or the one found there.
	Dir string
	// Bytes is what the placed copy's files add up to (0 unless Placed).
	Bytes int64
	// Location is the location holding Dir.
	Location string
}

// PlacedCopy is a copy placed and not yet seen claimed, discarded or gone.
type PlacedCopy struct {
	Segment  *segments.DataSegment
	Location string
	Dir      string
	Bytes    int64
	PlacedAt time.Time
}

// PrefetchOptions are a Prefetcher's collaborators; the zero value of each is a sensible default.
type PrefetchOptions struct {
	// Logger receives what the prefetcher does; nil discards.
	Logger hclog.Logger
	// Now is the clock against which directory times are compared; nil means time.Now.
	Now func() time.Time

	statfs func(string) (diskSpace, error) // tests: a fake disk
}

// Timing of the nested layout's drop guard.
const (
	// dropQuiet is how long after a drop in a nested parent no copy goes into it: the Historical lists the parent
	// right after deleting the segment directory, so a minute covers even a long garbage-collection pause between
	// its emptiness check and its recursive delete.
	dropQuiet = time.Minute
	// creationSlack is how far apart a child's birth time and its parent's modification time may be and still be
	// one mkdir: the kernel stamps them from clocks of different granularity (up to a 10 ms tick apart were measured).
	creationSlack = 25 * time.Millisecond
	// quietWait bounds how long a pulled copy waits for its parent to be quiet before it is discarded.
	quietWait = 3 * time.Minute
	// quietPoll is how often a waiting copy looks again.
	quietPoll = time.Second
)

// ledgerDir is <location>/.prefetch/placed: one file per placed, unclaimed copy, named after the identity of the
// copy's directory (dirID: inode number and birth time) and holding its segments.DataSegment JSON, so that a restarted
// prefetcher still knows which directories are its own (a directory the Historical re-created is another one).
const ledgerDir = PrefetchDir + "/placed"

// Prefetcher places segments into a Java Historical's segment cache ahead of the Historical's own load. It is
// safe for concurrent use; Close releases its directories.
type Prefetcher struct {
	log         hclog.Logger
	now         func() time.Time
	layout      layout
	locs        []*location
	infoPath    string
	maxBytes    int64 // druid.sidecar.prefetch.maxBytes, unless auto
	auto        bool  // the window of each location is sized from its disk (druid.sidecar.prefetch.maxBytes=auto)
	maxSegments int
	noWindow    map[*location]error // auto: the locations that can have no window, and why
	info        infoSegments
	stats       prefetchCounters

	mu      sync.Mutex
	staging map[string]*stagedCopy // by segment id string: pulls in progress
	placed  map[string]*placedCopy // by segment id string: copies placed, not yet claimed or discarded
	own     map[ownKey]time.Time   // nested parents: the modification time our own last change left
	busy    map[string]bool        // segment ids a Discard is working on
	inUse   map[ownKey]bool        // names under .prefetch being written: ledger temporaries, trash
	// rejected holds, by segment id string, why the Historical deleted a copy without claiming it.
	rejected map[string]string

	beforeRename func() // tests: runs just before the rename into the segment's directory
}

type stagedCopy struct {
	loc  *location
	size int64
	rel  string // the staging directory, relative to the location
}

type placedCopy struct {
	seg      *segments.DataSegment
	loc      *location
	rel      string
	dirID    dirID
	bytes    int64
	placedAt time.Time
	filesAt  time.Time // the newest modification time of the copy's files when it was placed
}

type ownKey struct {
	loc int
	dir string
}

// NewPrefetcher opens the segment cache locations cfg describes for prefetching and reads back the copies a
// previous run placed. It refuses what PrefetchRefusal refuses (virtual storage, deleteOnRemove=false, a window or
// maxSegments of 0) and, with an automatic window, a cache none of whose locations can have one; it logs each
// location's window.
func NewPrefetcher(cfg *configs.Config, opts PrefetchOptions) (*Prefetcher, error) {
	if err := PrefetchRefusal(cfg); err != nil {
		return nil, err
	}
	sc := cfg.SegmentCache
	confLocs := sc.Locations()
	if len(confLocs) == 0 {
		return nil, errors.New("druid.segmentCache.locations is empty: there is no segment cache to prefetch into")
	}
	infoPath, err := infoDirPath(sc)
	if err != nil {
		return nil, err
	}
	p := &Prefetcher{
		log: opts.Logger, now: opts.Now, infoPath: infoPath,
		maxBytes: int64(cfg.Sidecar.PrefetchMaxBytes), auto: cfg.Sidecar.PrefetchMaxBytes == configs.PrefetchWindowAuto,
		maxSegments: cfg.Sidecar.PrefetchMaxSegments, noWindow: map[*location]error{},
		staging: map[string]*stagedCopy{}, placed: map[string]*placedCopy{}, own: map[ownKey]time.Time{},
		busy: map[string]bool{}, inUse: map[ownKey]bool{}, rejected: map[string]string{},
	}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	if p.now == nil {
		p.now = time.Now
	}
	sf := opts.statfs
	if sf == nil {
		sf = statfs
	}
	fail := func(err error) (*Prefetcher, error) {
		p.Close()
		return nil, err
	}
	locs, reserved, err := openLocations(confLocs, infoPath, sf)
	if err != nil {
		return fail(err)
	}
	p.locs = locs
	if p.layout, err = newLayout(cfg.Sidecar.CacheLayout, reserved...); err != nil {
		return fail(err)
	}
	var problems []error
	for _, loc := range p.locs {
		if p.auto {
			if problem := autoProblem(loc); problem != nil {
				p.noWindow[loc] = problem
				problems = append(problems, problem)
				p.log.Warn("no prefetch window in a segment cache location", "location", loc.path, "why", problem)
			}
		} else if problem := p.staticFit(loc); problem != nil {
			p.log.Warn("a segment cache location cannot take prefetched copies", "location", loc.path, "problem", problem)
		}
		if err := p.readLedger(loc); err != nil {
			return fail(err)
		}
	}
	if p.auto {
		if len(problems) == len(p.locs) {
			// Copies placed by an earlier run stay; Discard is the only way they go, and it needs a Prefetcher.
			return fail(fmt.Errorf("%w: no segment cache location can have an automatic prefetch window: %w",
				ErrPrefetchOff, errors.Join(problems...)))
		}
		p.logWindows()
	}
	return p, nil
}

// Close releases the locations' directories. Copies already placed stay where they are.
func (p *Prefetcher) Close() error {
	var errs []error
	for _, l := range p.locs {
		errs = append(errs, l.root.Close())
	}
	return errors.Join(errs...)
}

// Place prefetches seg into the segment cache with puller, unless the segment's directory or info_dir entry is
// there already. The copy is staged in <location>/.prefetch/<segmentId>.<nonce> of the location Budget chooses,
// pulled, checked (the puller checks the archive's CRCs; the files must add up to the segment's size), made
// durable, then renamed into the segment's directory with renameat2(RENAME_NOREPLACE) and the parent synced.
//
// The outcome is AlreadyPresent when the segment was there before the pull, LostRace when its directory appeared
// during the pull or the rename found it (the staging copy is then deleted), Placed otherwise. In the nested layout
// a parent with a drop in the last minute is refused before the pull (ErrRecentDrop); after the pull the copy waits
// for the parent to be quiet, up to three minutes. On error nothing of the copy is left behind.
func (p *Prefetcher) Place(ctx context.Context, seg *segments.DataSegment, puller Puller) (Placement, error) {
	rel, name, err := p.layout.rel(seg.ID())
	if err != nil {
		return Placement{}, fmt.Errorf("prefetching segment: %w", err)
	}
	fail := func(err error) (Placement, error) {
		return Placement{}, fmt.Errorf("prefetching segment %s: %w", name, err)
	}
	if seg.IsTombstone() || isTombstoneLoadSpec(seg.LoadSpec) {
		return fail(errors.New("a tombstone has no files in deep storage, so there is nothing to prefetch"))
	}
	if seg.Size <= 0 {
		return fail(fmt.Errorf("its size is %d, so its bytes cannot be budgeted or checked", seg.Size))
	}
	if pl, ok, err := p.present(rel, name); err != nil || ok {
		if err != nil {
			return fail(err)
		}
		return pl, nil
	}
	st, err := p.reserve(seg, name)
	if err != nil {
		return fail(err)
	}
	defer p.unstage(name)
	loc := st.loc
	if p.layout.depth() > 1 {
		if err := p.recentDrop(loc, rel); err != nil {
			return fail(err)
		}
	}
	bytes, err := p.stage(ctx, seg, puller, st)
	if err != nil {
		return fail(errors.Join(err, p.removeStaging(st)))
	}
	// The pull took a while: the Historical may have loaded the segment meanwhile.
	if pl, ok, err := p.present(rel, name); err != nil || ok {
		if rerr := p.removeStaging(st); rerr != nil || err != nil {
			return fail(errors.Join(err, rerr))
		}
		pl.Outcome = LostRace
		p.stats.lostRace.Add(1)
		p.log.Debug("the segment appeared during the prefetch; copy discarded", "segment", name, "dir", pl.Dir)
		return pl, nil
	}
	if p.layout.depth() > 1 {
		if err := p.waitQuiet(ctx, loc, rel, name); err != nil {
			return fail(errors.Join(err, p.removeStaging(st)))
		}
		// Druid's own mkdirp makes the parents the same way; they are left in place on any failure below, since
		// pruning them could race a Historical's mkdirp of a sibling.
		if err := loc.root.MkdirAll(parentDir(rel), 0o755); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// A parent vanished while being made: a Historical's drop pruning it, as in rename.
				err = fmt.Errorf("%w: a parent was pruned while it was made (%v)", ErrRecentDrop, err)
			}
			return fail(errors.Join(fmt.Errorf("creating the parent directories of %s in %s: %w", rel, loc.path, err),
				p.removeStaging(st)))
		}
	}
	pl, err := p.rename(st, seg, rel, name, bytes)
	if err != nil {
		return fail(errors.Join(err, p.removeStaging(st)))
	}
	if pl.Outcome == LostRace {
		p.stats.lostRace.Add(1)
		if err := p.removeStaging(st); err != nil {
			return fail(err)
		}
		return pl, nil
	}
	p.stats.placed.Add(1)
	p.log.Info("segment prefetched", "segment", name, "dir", pl.Dir, "bytes", bytes)
	return pl, nil
}

// present says whether the segment is in the cache already: its info_dir entry, or its directory in any location.
func (p *Prefetcher) present(rel, name string) (Placement, bool, error) {
	for _, loc := range p.locs {
		_, err := loc.root.Lstat(rel)
		if err == nil {
			return Placement{Outcome: AlreadyPresent, Dir: filepath.Join(loc.path, rel), Location: loc.path}, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return Placement{}, false, fmt.Errorf("looking for the segment's directory in %s: %w", loc.path, err)
		}
	}
	if claimed, err := p.claimed(name); claimed || err != nil {
		return Placement{Outcome: AlreadyPresent}, claimed, err
	}
	return Placement{}, false, nil
}

// stage pulls the segment into its staging directory, checks its files and makes them durable.
func (p *Prefetcher) stage(ctx context.Context, seg *segments.DataSegment, puller Puller, st *stagedCopy) (int64, error) {
	loc := st.loc
	if err := loc.root.MkdirAll(PrefetchDir, 0o755); err != nil {
		return 0, fmt.Errorf("creating %s: %w", filepath.Join(loc.path, PrefetchDir), err)
	}
	if err := loc.root.Mkdir(st.rel, 0o755); err != nil {
		return 0, fmt.Errorf("creating the staging directory %s: %w", filepath.Join(loc.path, st.rel), err)
	}
	dir, err := loc.root.OpenRoot(st.rel)
	if err != nil {
		return 0, fmt.Errorf("opening the staging directory %s: %w", filepath.Join(loc.path, st.rel), err)
	}
	defer dir.Close()
	if _, err := puller.PullSegment(ctx, seg, dir, seg.Size); err != nil {
		return 0, err
	}
	files, err := listSegmentDir(loc.root, st.rel)
	if err != nil {
		return 0, err
	}
	actual, problem := checkSegmentFiles(seg, files)
	if problem != nil {
		return 0, fmt.Errorf("deep storage gave files that are not the segment: %w", problem)
	}
	if err := syncFiles(dir, files); err != nil {
		return 0, fmt.Errorf("making the files of %s durable: %w", filepath.Join(loc.path, st.rel), err)
	}
	return actual, nil
}

// rename moves the staged copy into the segment's directory, recording it in the ledger first.
func (p *Prefetcher) rename(st *stagedCopy, seg *segments.DataSegment, rel, name string, bytes int64) (Placement, error) {
	loc := st.loc
	dest := filepath.Join(loc.path, rel)
	ino, err := identify(loc.root, st.rel)
	if err != nil {
		return Placement{}, fmt.Errorf("reading the staging directory: %w", err)
	}
	// The baseline against which a Historical's download over the copy (the mount race) shows.
	filesAt, err := newestFile(loc.root, st.rel)
	if err != nil {
		return Placement{}, fmt.Errorf("reading the staging directory: %w", err)
	}
	if err := p.writeLedger(loc, ino, seg); err != nil {
		return Placement{}, err
	}
	from, err := loc.root.Open(PrefetchDir)
	if err != nil {
		return Placement{}, errors.Join(fmt.Errorf("opening %s: %w", filepath.Join(loc.path, PrefetchDir), err), p.removeLedger(loc, ino))
	}
	defer from.Close()
	to, err := loc.root.Open(parentDir(rel))
	if err != nil && p.layout.depth() > 1 && errors.Is(err, fs.ErrNotExist) {
		// Place made the parents moments ago: only a Historical's drop of the last sibling prunes them, so this is
		// the drop the recent-drop check guards against, arrived after that check.
		err = fmt.Errorf("%w: the parent of %s was pruned after it was made (%v)", ErrRecentDrop, dest, err)
	}
	if err != nil {
		return Placement{}, errors.Join(fmt.Errorf("opening the parent of %s: %w", dest, err), p.removeLedger(loc, ino))
	}
	defer to.Close()
	if p.beforeRename != nil {
		p.beforeRename()
	}
	// The last checks come right before the rename, after everything slow (the ledger's fsync), to keep the
	// window in which a Historical's load or drop can slip in as short as a few system calls.
	if p.layout.depth() > 1 {
		// Our own renames into nested parents are checked and remembered one at a time, so that one copy's rename
		// is never taken for a drop by the check of another.
		loc.tree.Lock()
		defer loc.tree.Unlock()
	}
	if pl, ok, err := p.present(rel, name); err != nil || ok {
		if err == nil {
			pl.Outcome = LostRace
		}
		return pl, errors.Join(err, p.removeLedger(loc, ino))
	}
	if p.layout.depth() > 1 {
		if err := p.recentDropLocked(loc, rel); err != nil {
			return Placement{}, errors.Join(err, p.removeLedger(loc, ino))
		}
	}
	err = renameNoReplace(from, path.Base(st.rel), to, path.Base(rel))
	if errors.Is(err, fs.ErrExist) {
		p.log.Debug("the segment's directory appeared just before the rename; copy discarded", "segment", name, "dir", dest)
		return Placement{Outcome: LostRace, Dir: dest, Location: loc.path}, p.removeLedger(loc, ino)
	}
	if err != nil {
		return Placement{}, errors.Join(fmt.Errorf("moving the copy into %s: %w", dest, err), p.removeLedger(loc, ino))
	}
	// From here the copy is in place and belongs to the Historical as much as to us: a failure to sync is
	// reported, but the copy is not taken back.
	serr := to.Sync()
	p.mu.Lock()
	p.placed[name] = &placedCopy{seg: seg, loc: loc, rel: rel, dirID: ino, bytes: bytes, placedAt: p.now(), filesAt: filesAt}
	p.mu.Unlock()
	if p.layout.depth() > 1 {
		p.noteOwnChange(loc, parentDir(rel), to)
	}
	pl := Placement{Outcome: Placed, Dir: dest, Bytes: bytes, Location: loc.path}
	if serr != nil {
		return pl, fmt.Errorf("syncing the parent of %s: %w", dest, serr)
	}
	return pl, nil
}

// dirID identifies a directory across renames: its inode number and, where the filesystem records it, its birth
// time in nanoseconds (0 when it does not). The number alone is not enough: filesystems hand a freed inode number
// to the next file at once, so a directory the Historical re-created could look like our copy.
type dirID struct {
	ino   uint64
	birth int64
}

func (d dirID) String() string {
	return strconv.FormatUint(d.ino, 10) + "-" + strconv.FormatInt(d.birth, 10)
}

func parseDirID(s string) (dirID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return dirID{}, false
	}
	ino, err1 := strconv.ParseUint(a, 10, 64)
	birth, err2 := strconv.ParseInt(b, 10, 64)
	return dirID{ino: ino, birth: birth}, err1 == nil && err2 == nil
}

// stagingName is <segmentId>.<nonce>, the segment id shortened to keep the name within NAME_MAX.
func stagingName(prefix, name string) string {
	var b [8]byte
	rand.Read(b[:])
	suffix := "." + hex.EncodeToString(b[:])
	if len(prefix)+len(name)+len(suffix) > maxNameBytes {
		name = name[:maxNameBytes-len(prefix)-len(suffix)]
	}
	return prefix + name + suffix
}

// removeStaging deletes a staging directory (never seen by the Historical: its name starts in .prefetch).
func (p *Prefetcher) removeStaging(st *stagedCopy) error {
	if err := st.loc.root.RemoveAll(st.rel); err != nil {
		return fmt.Errorf("removing the staging directory %s: %w", filepath.Join(st.loc.path, st.rel), err)
	}
	return nil
}

// ---- budget ----------------------------------------------------------------------------------------------------

// Budget says whether the segment can be prefetched now, and where not, why: the Historical must not have rejected
// an earlier copy of it (ErrRejected), the window must take it, and some location must have room for it.
//
// The window is druid.sidecar.prefetch.maxBytes and maxSegments, less the copies being pulled or placed and not yet
// claimed. With maxBytes auto, each location has its own window instead: its disk's free bytes, less what the
// Historical may still load below maxSize (maxSize less its info_dir segments there), less the free space it keeps;
// a location without a maxSize below its disk has none.
//
// A location has room when three things hold. The Historical's own accounting takes the copy: maxSize less its
// info_dir segments there less the unclaimed copies there covers the segment's size, or a Druid 35+ Historical's
// reservation fails and deletes the copy. With an explicit maxBytes, statically, its maxSize plus the window plus
// the free space it keeps (freeSpacePercent) fit the disk (a location without maxSize is bounded by the disk alone).
// Dynamically, the disk's real free space (statfs, less the copies being pulled into it and the space kept free)
// holds the copy twice: once for its files, and once more for the free-space check the Historical's reservation
// makes after they landed (Druid compares the free space, which no longer includes the copy, with the space kept
// free plus the segment's size). Of the locations with room, the one with the most is chosen.
func (p *Prefetcher) Budget(seg *segments.DataSegment) error {
	if seg.Size <= 0 {
		return fmt.Errorf("prefetching segment %s: its size is %d, so its bytes cannot be budgeted", seg.ID(), seg.Size)
	}
	name, err := idName(seg.ID())
	if err != nil {
		return fmt.Errorf("prefetching segment: %w", err)
	}
	p.refresh()
	info, err := p.infoBytes()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.rejectedLocked(name); err != nil {
		return err
	}
	_, err = p.chooseLocked(seg.Size, info)
	return err
}

// reserve chooses the location for a copy and counts it in the window until unstage.
func (p *Prefetcher) reserve(seg *segments.DataSegment, name string) (*stagedCopy, error) {
	p.refresh()
	info, err := p.infoBytes()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.staging[name] != nil {
		return nil, errors.New("it is being prefetched already")
	}
	if err := p.rejectedLocked(name); err != nil {
		return nil, err
	}
	loc, err := p.chooseLocked(seg.Size, info)
	if err != nil {
		return nil, err
	}
	st := &stagedCopy{loc: loc, size: seg.Size, rel: PrefetchDir + "/" + stagingName("", name)}
	p.staging[name] = st
	return st, nil
}

func (p *Prefetcher) unstage(name string) {
	p.mu.Lock()
	delete(p.staging, name)
	p.mu.Unlock()
}

// chooseLocked picks the location for a copy of size bytes; info is infoBytes'.
func (p *Prefetcher) chooseLocked(size int64, info map[int]int64) (*location, error) {
	var used int64
	n := len(p.staging) + len(p.placed)
	for _, s := range p.staging {
		used += s.size
	}
	for _, c := range p.placed {
		used += c.bytes
	}
	if n+1 > p.maxSegments {
		return nil, fmt.Errorf("%w: %d segments are being prefetched or wait unclaimed, and "+
			"druid.sidecar.prefetch.maxSegments is %d", ErrNoRoom, n, p.maxSegments)
	}
	if !p.auto && used+size > p.maxBytes {
		return nil, fmt.Errorf("%w: its %d bytes do not fit in the prefetch window: %d of "+
			"druid.sidecar.prefetch.maxBytes=%d are taken by copies being pulled or waiting unclaimed",
			ErrNoRoom, size, used, p.maxBytes)
	}
	var best *location
	var bestRoom int64
	var refusals []error
	for _, loc := range p.locs {
		if err := p.fitsLocked(loc, size, info[loc.index]); err != nil {
			refusals = append(refusals, err)
			continue
		}
		room, err := p.roomLocked(loc)
		if err != nil {
			refusals = append(refusals, err)
			continue
		}
		if room < 2*size {
			refusals = append(refusals, fmt.Errorf("%s has %d bytes to spare beyond the free space it keeps, "+
				"less than twice the segment's %d (its files, then the Historical's own free-space check)", loc.path, room, size))
			continue
		}
		if best == nil || room > bestRoom {
			best, bestRoom = loc, room
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %w", ErrNoRoom, errors.Join(refusals...))
	}
	return best, nil
}

// fitsLocked checks a location's window and the Historical's accounting for a copy of size bytes; info is the
// bytes of the info_dir segments in the location.
func (p *Prefetcher) fitsLocked(loc *location, size, info int64) error {
	if p.auto {
		if err := p.noWindow[loc]; err != nil {
			return err
		}
		w, err := p.autoWindowLocked(loc, info)
		if err != nil {
			return err
		}
		if w.spare < size {
			return fmt.Errorf("%s: its prefetch window is %d bytes (%d free, less %d the Historical may still load "+
				"below maxSize, less %d kept free, with %d of unclaimed copies added back) and %d of it are taken, "+
				"so the segment's %d do not fit", loc.path, w.window, w.free, max(loc.maxSize-info, 0), w.keep,
				w.unclaimd, w.window-w.spare, size)
		}
	} else if err := p.staticFit(loc); err != nil {
		return err
	}
	return p.accountingFitsLocked(loc, size, info)
}

// keepFree is the bytes of a disk the location keeps free (freeSpacePercent), rounded up to err on the safe side.
func keepFree(loc *location, total uint64) int64 {
	return int64(min(math.Ceil(float64(total)*loc.freeSpacePercent/100), math.MaxInt64))
}

// staticFit checks that the location's maxSize, the prefetch window and the space kept free fit the disk.
func (p *Prefetcher) staticFit(loc *location) error {
	if loc.maxSize == math.MaxInt64 {
		return nil
	}
	ds, err := loc.statfs(loc.path)
	if err != nil {
		return err
	}
	keep := keepFree(loc, ds.Total)
	total := int64(min(ds.Total, math.MaxInt64))
	if loc.maxSize > total || p.maxBytes > total-loc.maxSize || keep > total-loc.maxSize-p.maxBytes {
		return fmt.Errorf("%s: its maxSize %d, the prefetch window of %d (druid.sidecar.prefetch.maxBytes) and the "+
			"%d bytes kept free (freeSpacePercent %.4g) exceed the disk's %d bytes, so a Historical's reservation "+
			"could fail and delete a prefetched copy; lower maxSize or druid.sidecar.prefetch.maxBytes",
			loc.path, loc.maxSize, p.maxBytes, keep, loc.freeSpacePercent, ds.Total)
	}
	return nil
}

// roomLocked is the free space of the location's disk less the copies being pulled into it and the space it keeps.
func (p *Prefetcher) roomLocked(loc *location) (int64, error) {
	ds, err := loc.statfs(loc.path)
	if err != nil {
		return 0, err
	}
	room := int64(min(ds.Free, math.MaxInt64)) - keepFree(loc, ds.Total)
	for _, s := range p.staging {
		if s.loc == loc {
			room -= s.size
		}
	}
	return room, nil
}

// ---- claims, discards, cleanup ---------------------------------------------------------------------------------

// Claimed reports whether the Historical has loaded the segment: info_dir/<segmentId> exists (the Historical writes
// it only after a successful load). A claimed copy leaves the prefetch window for good.
func (p *Prefetcher) Claimed(id segments.SegmentID) bool {
	name, err := idName(id)
	if err != nil {
		return false
	}
	claimed, err := p.claimed(name)
	if err != nil {
		p.log.Warn("reading the info_dir failed", "segment", name, "error", err)
		return false
	}
	if claimed {
		if c, done, err := p.acquire(name); err == nil {
			p.settle(name, c)
			done()
		}
	}
	return claimed
}

func (p *Prefetcher) claimed(name string) (bool, error) {
	// name is a single checked path component: idName refused '/', NUL and a leading '.'.
	_, err := os.Lstat(filepath.Join(p.infoPath, name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("looking for the info file of %s: %w", name, err)
}

// forget drops a placed copy from the window and its ledger entry.
func (p *Prefetcher) forget(name string) {
	p.mu.Lock()
	c := p.placed[name]
	delete(p.placed, name)
	p.mu.Unlock()
	if c != nil {
		if err := p.removeLedger(c.loc, c.dirID); err != nil {
			p.log.Warn("removing a prefetch ledger entry failed", "segment", name, "error", err)
		}
	}
}

// refresh settles the placed copies that were claimed and records as rejected those that are gone without a
// claim (the Historical deleted or replaced them).
func (p *Prefetcher) refresh() {
	p.mu.Lock()
	names := make([]string, 0, len(p.placed))
	for name := range p.placed {
		if !p.busy[name] {
			names = append(names, name)
		}
	}
	p.mu.Unlock()
	for _, name := range names {
		c, done, err := p.acquire(name)
		if err != nil {
			continue
		}
		if claimed, err := p.claimed(name); claimed || err != nil {
			if claimed {
				p.settle(name, c)
			}
			done()
			continue
		}
		id, err := identify(c.loc.root, c.rel)
		if errors.Is(err, fs.ErrNotExist) || err == nil && id != c.dirID {
			p.reject(name, c)
		}
		done()
	}
}

// Unclaimed lists the copies placed (by this run or, through the ledger, an earlier one) that the Historical has
// not claimed, oldest first.
func (p *Prefetcher) Unclaimed() []PlacedCopy {
	p.refresh()
	p.mu.Lock()
	out := make([]PlacedCopy, 0, len(p.placed))
	for _, c := range p.placed {
		out = append(out, PlacedCopy{Segment: c.seg, Location: c.loc.path, Dir: filepath.Join(c.loc.path, c.rel),
			Bytes: c.bytes, PlacedAt: c.placedAt})
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b PlacedCopy) int { return a.PlacedAt.Compare(b.PlacedAt) })
	return out
}

// Discard removes a copy this prefetcher placed and the Historical never claimed: the directory is renamed into
// <location>/.prefetch/trash-… (so the Historical can no longer find a half-deleted one), then deleted. It refuses
// (ErrClaimed) when the segment's info_dir entry or a downloadStartMarker is there, also when they appear while it
// renames (the copy is then moved back), and (ErrNotPlaced) a directory it did not place or that was replaced
// since. A copy that is already gone is no error.
//
// The caller decides when: only after the segment has been out of the Historical's load queue for longer than the
// Coordinator's load timeout (druid.sidecar.prefetch.claimTimeout), since a Historical still loading it could be
// between finding the directory and writing its info_dir entry. Empty nested parents are left in place: removing
// them could break a Historical's mkdirp of a sibling.
func (p *Prefetcher) Discard(seg *segments.DataSegment) error {
	rel, name, err := p.layout.rel(seg.ID())
	if err != nil {
		return fmt.Errorf("discarding a prefetched copy: %w", err)
	}
	fail := func(err error) error { return fmt.Errorf("discarding the prefetched copy of %s: %w", name, err) }
	c, done, err := p.acquire(name)
	if err != nil {
		return fail(err)
	}
	defer done()
	if claimed, err := p.claimed(name); err != nil || claimed {
		if err != nil {
			return fail(err)
		}
		p.settle(name, c)
		return fail(fmt.Errorf("%w: its info file is in %s", ErrClaimed, p.infoPath))
	}
	if err := p.removeCopy(c, name, ""); err != nil {
		return fail(err)
	}
	p.log.Info("unclaimed prefetched copy removed", "segment", name, "dir", filepath.Join(c.loc.path, rel))
	return nil
}

// acquire marks a placed copy busy, for one Discard or settlement at a time; the function returned ends it.
func (p *Prefetcher) acquire(name string) (*placedCopy, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.placed[name]
	if c == nil {
		return nil, nil, ErrNotPlaced
	}
	if p.busy[name] {
		return nil, nil, errors.New("another Discard of it is running")
	}
	p.busy[name] = true
	return c, func() {
		p.mu.Lock()
		delete(p.busy, name)
		p.mu.Unlock()
	}, nil
}

// removeCopy moves a copy the caller holds busy into the trash and deletes it, unless the Historical holds it. With
// other == "" the copy must be unclaimed: an info_dir entry appearing meanwhile keeps it. Otherwise other is the
// Historical's directory of the segment in another location, and the copy leaked beside it: it is kept only if
// that directory is gone meanwhile (a drop and a reload may then use the copy). Either way a downloadStartMarker in
// it, or a directory replaced since placement, keeps it. A copy already gone is no error.
func (p *Prefetcher) removeCopy(c *placedCopy, name, other string) error {
	rel := c.rel
	loc := c.loc
	dir := filepath.Join(loc.path, rel)
	cur, err := identify(loc.root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		p.forget(name)
		return nil
	}
	if err != nil {
		return err
	}
	if cur != c.dirID {
		p.forget(name)
		return fmt.Errorf("%w: %s was replaced since it was placed", ErrNotPlaced, dir)
	}
	if marked, err := hasMarker(loc.root, rel); err != nil || marked {
		if err != nil {
			return err
		}
		p.forget(name)
		return fmt.Errorf("%w: %s has a %s (a load is in progress)", ErrClaimed, dir, DownloadStartMarker)
	}
	trash := PrefetchDir + "/" + stagingName("trash-", name)
	defer p.use(loc, trash)()
	parent, err := loc.root.Open(parentDir(rel))
	if err != nil {
		return fmt.Errorf("opening the parent of %s: %w", dir, err)
	}
	defer parent.Close()
	if err := loc.root.MkdirAll(PrefetchDir, 0o755); err != nil {
		return err
	}
	pf, err := loc.root.Open(PrefetchDir)
	if err != nil {
		return err
	}
	defer pf.Close()
	if p.layout.depth() > 1 {
		loc.tree.Lock()
	}
	err = renameNoReplace(parent, path.Base(rel), pf, path.Base(trash))
	if err == nil && p.layout.depth() > 1 {
		p.noteOwnChange(loc, parentDir(rel), parent)
	}
	if p.layout.depth() > 1 {
		loc.tree.Unlock()
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			p.forget(name)
			return nil
		}
		return fmt.Errorf("moving %s to %s: %w", dir, PrefetchDir, err)
	}
	// The Historical may have found the directory just before it moved: if it claimed or marked it meanwhile, or
	// replaced it since the identity check, the directory goes back where the Historical expects it.
	var claimed bool
	var cerr error
	if other == "" {
		claimed, cerr = p.claimed(name)
	} else if _, err := os.Lstat(other); err != nil {
		claimed = true // the Historical's other directory went: this copy may be the one it loads now
	}
	marked, merr := hasMarker(loc.root, trash)
	moved, ierr := identify(loc.root, trash)
	if ierr == nil && moved != c.dirID {
		ierr = fmt.Errorf("%w: %s was replaced just before it was moved", ErrNotPlaced, dir)
	}
	if claimed || marked || cerr != nil || merr != nil || ierr != nil {
		merr = errors.Join(merr, ierr)
		err := renameNoReplace(pf, path.Base(trash), parent, path.Base(rel))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return errors.Join(cerr, merr, fmt.Errorf("moving the copy back into %s: %w", dir, err))
		}
		if err != nil { // the Historical made a directory of its own there: ours is just trash now
			err = loc.root.RemoveAll(trash)
		}
		p.forget(name)
		var why error
		if claimed || marked {
			why = fmt.Errorf("%w: the Historical claimed it while it was being removed", ErrClaimed)
		}
		return errors.Join(why, cerr, merr, err)
	}
	if err := errors.Join(parent.Sync(), loc.root.RemoveAll(trash)); err != nil {
		return fmt.Errorf("deleting %s: %w", filepath.Join(loc.path, trash), err)
	}
	p.forget(name)
	return nil
}

func hasMarker(root *os.Root, rel string) (bool, error) {
	_, err := root.Lstat(rel + "/" + DownloadStartMarker)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("looking for a %s in %s: %w", DownloadStartMarker, filepath.Join(root.Name(), rel), err)
}

// CleanStaging removes what an earlier run left in <location>/.prefetch: staging directories of pulls cut short and
// trash of interrupted discards (the ledger of placed copies stays). Call it at start, before any Place; staging
// directories of pulls in progress in this process are left alone anyway.
func (p *Prefetcher) CleanStaging() error {
	var errs []error
	for _, loc := range p.locs {
		names, err := readDirNames(loc.root, PrefetchDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Taken after the listing: whatever a Place or Discard of this process creates is registered before it
		// exists, so every such name listed is in here.
		active := p.activeNames(loc)
		for _, n := range names {
			rel := PrefetchDir + "/" + n
			if rel == ledgerDir || active[rel] {
				continue
			}
			if err := loc.root.RemoveAll(rel); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", filepath.Join(loc.path, rel), err))
			} else {
				p.log.Debug("removed a prefetch leftover", "path", filepath.Join(loc.path, rel))
			}
		}
		// Temporary ledger files of an interrupted write.
		names, err = readDirNames(loc.root, ledgerDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		active = p.activeNames(loc)
		for _, n := range names {
			if strings.HasPrefix(n, ".") && !active[ledgerDir+"/"+n] {
				if err := loc.root.Remove(ledgerDir + "/" + n); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	p.refresh()
	return errors.Join(errs...)
}

// activeNames are the names under .prefetch of a location that a Place or Discard in progress is using.
func (p *Prefetcher) activeNames(loc *location) map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for _, s := range p.staging {
		if s.loc == loc {
			out[s.rel] = true
		}
	}
	for k := range p.inUse {
		if k.loc == loc.index {
			out[k.dir] = true
		}
	}
	return out
}

// use registers a name under .prefetch before it is created, for CleanStaging to leave alone; the function returned
// ends the registration.
func (p *Prefetcher) use(loc *location, rel string) func() {
	k := ownKey{loc.index, rel}
	p.mu.Lock()
	p.inUse[k] = true
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.inUse, k)
		p.mu.Unlock()
	}
}

// ---- the ledger ------------------------------------------------------------------------------------------------

func ledgerName(id dirID) string { return ledgerDir + "/" + id.String() }

// writeLedger records, durably, that the directory with identity ino is the copy of seg.
func (p *Prefetcher) writeLedger(loc *location, ino dirID, seg *segments.DataSegment) error {
	data, err := seg.AppendJSON(nil)
	if err != nil {
		return fmt.Errorf("recording the prefetched copy: %w", err)
	}
	if err := loc.root.MkdirAll(ledgerDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Join(loc.path, ledgerDir), err)
	}
	tmp := ledgerDir + "/" + tempName(ino.String())
	defer p.use(loc, tmp)()
	f, err := loc.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("recording the prefetched copy in %s: %w", filepath.Join(loc.path, ledgerDir), err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		loc.root.Remove(tmp)
		return fmt.Errorf("recording the prefetched copy in %s: %w", filepath.Join(loc.path, ledgerDir), err)
	}
	if err := loc.root.Rename(tmp, ledgerName(ino)); err != nil {
		loc.root.Remove(tmp)
		return fmt.Errorf("recording the prefetched copy in %s: %w", filepath.Join(loc.path, ledgerDir), err)
	}
	return p.syncLedger(loc)
}

func (p *Prefetcher) syncLedger(loc *location) error {
	d, err := loc.root.Open(ledgerDir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Join(loc.path, ledgerDir), err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Join(loc.path, ledgerDir), err)
	}
	return nil
}

func (p *Prefetcher) removeLedger(loc *location, ino dirID) error {
	if err := loc.root.Remove(ledgerName(ino)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the prefetch ledger entry %s: %w", filepath.Join(loc.path, ledgerName(ino)), err)
	}
	return nil
}

// readLedger takes back the copies an earlier run placed: an entry whose directory still has the identity it
// names is a copy of ours; any other entry (the directory is gone or was re-created, the entry is unreadable) is removed.
// Claimed copies are dropped by the refresh that follows.
func (p *Prefetcher) readLedger(loc *location) error {
	names, err := readDirNames(loc.root, ledgerDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		ino, ok := parseDirID(n)
		if !ok {
			continue // a temporary file: CleanStaging's
		}
		seg, fi, err := readLedgerEntry(loc.root, ledgerDir+"/"+n)
		var rel, name string
		if err == nil {
			rel, name, err = p.layout.rel(seg.ID())
		}
		if err == nil {
			var cur dirID
			if cur, err = identify(loc.root, rel); err == nil && cur != ino {
				err = errors.New("the directory was replaced")
			}
		}
		if err != nil {
			p.log.Debug("dropping a prefetch ledger entry", "entry", filepath.Join(loc.path, ledgerDir, n), "reason", err)
			if rerr := p.removeLedger(loc, ino); rerr != nil {
				return rerr
			}
			continue
		}
		// The ledger entry was written after the copy's files, so its time is their baseline.
		p.placed[name] = &placedCopy{seg: seg, loc: loc, rel: rel, dirID: ino, bytes: seg.Size, placedAt: fi.ModTime(),
			filesAt: fi.ModTime()}
	}
	return nil
}

func readLedgerEntry(root *os.Root, rel string) (*segments.DataSegment, fs.FileInfo, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	buf, err := readAll(f, make([]byte, 0, 1024))
	if err != nil {
		return nil, nil, err
	}
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON(buf); err != nil {
		return nil, nil, err
	}
	return seg, fi, nil
}

// ---- the nested layout's drop guard ----------------------------------------------------------------------------

// recentDrop refuses a nested segment directory whose parents (dataSource, interval, version directories that
// exist) saw a drop in the last minute.
//
// Detection is by modification time, refined so that loads do not count as drops: a directory modified less than
// a minute ago counts as having had a drop unless its last change is explained as a creation: its own (its birth
// time, from statx, matches its modification time), one of its children's (a child's birth time matches it), or
// this prefetcher's own rename or discard, whose resulting modification time it remembers. Without birth times
// (some filesystems) every recent change not our own counts. What it cannot see is a drop followed within the
// minute by a creation in the same directory, or a drop within creationSlack of the directory's own creation;
// that matters only if the Historical stalls between its emptiness check and its recursive delete for longer than
// the gap, and even then costs the copy (the Historical downloads the segment itself), never wrong bytes.
func (p *Prefetcher) recentDrop(loc *location, rel string) error {
	loc.tree.Lock()
	defer loc.tree.Unlock()
	return p.recentDropLocked(loc, rel)
}

// recentDropLocked is recentDrop with loc.tree held.
func (p *Prefetcher) recentDropLocked(loc *location, rel string) error {
	parts := strings.Split(parentDir(rel), "/")
	now := p.now()
	for i := range parts {
		d := strings.Join(parts[:i+1], "/")
		f, err := loc.root.Open(d)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing below it exists either: Place creates them
		}
		if err != nil {
			return fmt.Errorf("opening %s: %w", filepath.Join(loc.path, d), err)
		}
		err = p.checkQuiet(loc, d, f, now)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Prefetcher) checkQuiet(loc *location, d string, f *os.File, now time.Time) error {
	t, err := statxAt(f, ".")
	if err != nil {
		return fmt.Errorf("reading the times of %s: %w", filepath.Join(loc.path, d), err)
	}
	age := now.Sub(t.mtime)
	if age >= dropQuiet {
		return nil
	}
	p.mu.Lock()
	own := p.own[ownKey{loc.index, d}]
	p.mu.Unlock()
	if own.Equal(t.mtime) {
		return nil
	}
	if t.hasBirth {
		if gap := t.mtime.Sub(t.btime); gap >= -time.Millisecond && gap <= creationSlack {
			return nil // created then, and nothing removed from it since
		}
		names, err := f.Readdirnames(-1)
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(loc.path, d), err)
		}
		for _, n := range names {
			ct, err := statxAt(f, n)
			if err != nil || !ct.hasBirth {
				continue
			}
			if gap := t.mtime.Sub(ct.btime); gap >= -time.Millisecond && gap <= creationSlack {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s changed %s ago, and not by creating a directory in it; a Historical's drop may "+
		"still be pruning it, so prefetch the segment after a minute", ErrRecentDrop, filepath.Join(loc.path, d),
		max(age, 0).Round(time.Millisecond))
}

// waitQuiet waits, up to quietWait, until the segment's parents have had no drop for a minute.
func (p *Prefetcher) waitQuiet(ctx context.Context, loc *location, rel, name string) error {
	deadline := time.Now().Add(quietWait)
	for {
		err := p.recentDrop(loc, rel)
		if !errors.Is(err, ErrRecentDrop) || !time.Now().Before(deadline) {
			return err
		}
		p.log.Debug("waiting for a drop in the segment's parent to settle", "segment", name, "cause", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the segment's parent directory to be quiet: %w", context.Cause(ctx))
		case <-time.After(quietPoll):
		}
	}
}

// noteOwnChange remembers the modification time our rename or discard left on a nested parent.
func (p *Prefetcher) noteOwnChange(loc *location, d string, f *os.File) {
	t, err := statxAt(f, ".")
	if err != nil {
		return
	}
	now := p.now()
	p.mu.Lock()
	for k, m := range p.own { // only changes younger than dropQuiet matter
		if now.Sub(m) >= dropQuiet {
			delete(p.own, k)
		}
	}
	p.own[ownKey{loc.index, d}] = t.mtime
	p.mu.Unlock()
}

type inodeTimes struct {
	mtime, btime time.Time
	hasBirth     bool
}
