package segcache

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// What a Druid 35+ Historical does with a copy it finds (druid-protocol.md 13.1), and so what the prefetcher must
// respect: it reserves the segment's declared size against maxSize less the segments it tracks there and, with
// freeSpacePercent, against the real free space that the copy already reduced; when that fails, or the mount fails,
// it deletes the copy. It looks for an existing directory in every location, in configuration order, and picks a
// location with its strategy only when none exists, so a copy landing after that scan is wasted: in the same
// location the Historical downloads over it (the mount race), in another it leaks beside the Historical's own.

// ErrRejected is Place's and Budget's error for a segment whose earlier copy the Historical deleted without
// claiming it; the segment is prefetched again only after LeftQueue.
var ErrRejected = errors.New("the Historical rejected an earlier prefetched copy of the segment")

// PrefetchStats counts what became of the prefetcher's copies since it started.
type PrefetchStats struct {
	// Placed: copies renamed into a segment's directory.
	Placed int64
	// Claimed: placed copies the Historical mounted as they were (its info_dir entry appeared).
	Claimed int64
	// Rejected: placed copies that vanished without an info_dir entry: a failed reservation or mount deleted them.
	Rejected int64
	// Leaked: claimed segments the Historical loaded into another location than the copy's; the copy was removed.
	Leaked int64
	// Raced: placed copies the Historical downloaded over (they landed between its existence check and its mkdirp).
	Raced int64
	// LostRace: pulls thrown away because the segment's directory appeared before the rename.
	LostRace int64
}

type prefetchCounters struct {
	placed, claimed, rejected, leaked, raced, lostRace atomic.Int64
}

// Stats returns the counts of what became of the copies.
func (p *Prefetcher) Stats() PrefetchStats {
	s := &p.stats
	return PrefetchStats{Placed: s.placed.Load(), Claimed: s.claimed.Load(), Rejected: s.rejected.Load(),
		Leaked: s.leaked.Load(), Raced: s.raced.Load(), LostRace: s.lostRace.Load()}
}

// PrefetchRefusal says why prefetching cannot be used beside the Historical cfg describes, or nil. The reason is
// meant for the operator (a log line, the companion's /status); NewPrefetcher returns it too.
func PrefetchRefusal(cfg *configs.Config) error {
	if err := prefetchSupported(); err != nil {
		return err
	}
	sc := cfg.SegmentCache
	switch {
	case sc.VirtualStorage:
		return fmt.Errorf("%w: druid.segmentCache.virtualStorage is true: such a Historical pulls nothing when it "+
			"loads a segment, and with partial downloads it reads only its own partial files, never a placed copy, "+
			"so a prefetched copy would only take its disk", ErrPrefetchOff)
	case !sc.DeleteOnRemove:
		return fmt.Errorf("%w: druid.segmentCache.deleteOnRemove is false: a Historical that cannot mount a copy "+
			"then never deletes it, and every later load of that segment fails; prefetching needs it true (Druid's "+
			"default)", ErrPrefetchOff)
	case cfg.Sidecar.PrefetchMaxBytes == 0:
		return fmt.Errorf("%w: druid.sidecar.prefetch.maxBytes is 0; leave it unset (auto) to size the window "+
			"from the disk", ErrPrefetchOff)
	case cfg.Sidecar.PrefetchMaxSegments <= 0:
		return fmt.Errorf("%w: druid.sidecar.prefetch.maxSegments is 0", ErrPrefetchOff)
	}
	return nil
}

// MaxBytes is the prefetch window of druid.sidecar.prefetch.maxBytes, or math.MaxInt64 when it is auto: each
// location's window is then sized by Budget and Place.
func (p *Prefetcher) MaxBytes() int64 {
	if p.auto {
		return math.MaxInt64
	}
	return p.maxBytes
}

// LeftQueue tells the prefetcher that the segment (its id string, as the load queue lists it) left the Historical's load queue: a copy of it that the
// Historical rejected no longer stops it from being prefetched when it is queued again.
func (p *Prefetcher) LeftQueue(id string) {
	p.mu.Lock()
	delete(p.rejected, id)
	p.mu.Unlock()
}

// rejectedErr is the refusal of a segment whose copy was rejected, or nil. p.mu must be held.
func (p *Prefetcher) rejectedLocked(name string) error {
	if why, ok := p.rejected[name]; ok {
		return fmt.Errorf("%w (%s); it is prefetched again only once it has left the load queue and is queued again",
			ErrRejected, why)
	}
	return nil
}

// ---- Druid's accounting of a location ------------------------------------------------------------------------

// infoSegments tracks the segments of info_dir and the location holding each: what a Historical counts against a
// location's maxSize. Entries are read once: a segment never moves while its info file is there.
type infoSegments struct {
	mu   sync.Mutex
	segs map[string]infoSeg
}

type infoSeg struct {
	size int64
	loc  int
}

// infoBytes returns, by location index, the declared sizes of the info_dir segments whose directory is in that
// location (the first location holding it, as the Historical finds it). A missing info_dir counts nothing.
func (p *Prefetcher) infoBytes() (map[int]int64, error) {
	des, err := os.ReadDir(p.infoPath)
	if errors.Is(err, fs.ErrNotExist) {
		return map[int]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the segment info directory %s: %w", p.infoPath, err)
	}
	is := &p.info
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.segs == nil {
		is.segs = map[string]infoSeg{}
	}
	seen := make(map[string]bool, len(des))
	out := map[int]int64{}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !de.Type().IsRegular() {
			continue
		}
		seen[name] = true
		s, ok := is.segs[name]
		if !ok {
			if s, ok = p.locateInfo(name); !ok {
				continue // unreadable, or its directory is not there (yet): counted once it is
			}
			is.segs[name] = s
		}
		out[s.loc] += s.size
	}
	for name := range is.segs {
		if !seen[name] {
			delete(is.segs, name)
		}
	}
	return out, nil
}

func (p *Prefetcher) locateInfo(name string) (infoSeg, bool) {
	data, err := os.ReadFile(filepath.Join(p.infoPath, name))
	if err != nil {
		return infoSeg{}, false
	}
	seg := new(segments.DataSegment)
	if seg.UnmarshalJSON(data) != nil || seg.DataSource == "" {
		return infoSeg{}, false
	}
	rel, _, err := p.layout.rel(seg.ID())
	if err != nil {
		return infoSeg{}, false
	}
	for _, loc := range p.locs {
		if _, err := loc.root.Lstat(rel); err == nil {
			return infoSeg{size: seg.Size, loc: loc.index}, true
		}
	}
	return infoSeg{}, false
}

// copiesLocked returns the bytes of the copies being pulled into a location and of those placed there unclaimed.
func (p *Prefetcher) copiesLocked(loc *location) (staging, placed int64) {
	for _, s := range p.staging {
		if s.loc == loc {
			staging += s.size
		}
	}
	for _, c := range p.placed {
		if c.loc == loc {
			placed += c.bytes
		}
	}
	return staging, placed
}

// accountingFits checks a copy of size bytes against the Historical's own accounting of the location: maxSize less
// the info_dir segments there less the copies the Historical will also reserve (unclaimed and being pulled) must
// cover it, or its reservation fails and a Druid 35+ Historical deletes the copy (a 30-34 one goes past maxSize).
func (p *Prefetcher) accountingFitsLocked(loc *location, size, info int64) error {
	if loc.maxSize == math.MaxInt64 {
		return nil
	}
	staging, placed := p.copiesLocked(loc)
	if left := loc.maxSize - info - staging - placed; left < size {
		return fmt.Errorf("%s: maxSize %d less the %d bytes of the Historical's segments there and the %d bytes of "+
			"prefetched copies it has not claimed leaves %d, less than the segment's %d, so its reservation would "+
			"fail", loc.path, loc.maxSize, info, staging+placed, max(left, 0), size)
	}
	return nil
}

// autoProblem says why a location can have no automatic window at all: without a maxSize below its disk the
// Historical may need every free byte.
func autoProblem(loc *location) error {
	if loc.maxSize == math.MaxInt64 {
		return fmt.Errorf("%s has no maxSize, so the Historical may fill its whole disk and no byte is spare; give "+
			"the location a maxSize below the disk's size in druid.segmentCache.locations, or set "+
			"druid.sidecar.prefetch.maxBytes after budgeting the disk", loc.path)
	}
	ds, err := loc.statfs(loc.path)
	if err != nil {
		return err
	}
	if uint64(loc.maxSize) >= ds.Total {
		return fmt.Errorf("%s has a maxSize of %d, not below its disk's %d bytes, so the Historical may need every "+
			"free byte; lower its maxSize in druid.segmentCache.locations, or set druid.sidecar.prefetch.maxBytes "+
			"after budgeting the disk", loc.path, loc.maxSize, ds.Total)
	}
	return nil
}

// locWindow is the automatic window of a location: what copies may take there in all.
type locWindow struct {
	window, spare     int64 // the window; what is left of it for new copies
	free, keep, info  int64
	staging, unclaimd int64
}

// autoWindowLocked sizes a location's window: the disk's free bytes (which already lack the placed copies, so
// their bytes are added back), less what the Historical may still load below maxSize (maxSize less its info_dir
// segments there), less the free space it keeps (freeSpacePercent). What is spare for a new copy is that less the
// copies unclaimed there and being pulled.
func (p *Prefetcher) autoWindowLocked(loc *location, info int64) (locWindow, error) {
	ds, err := loc.statfs(loc.path)
	if err != nil {
		return locWindow{}, err
	}
	w := locWindow{free: int64(min(ds.Free, math.MaxInt64)), keep: keepFree(loc, ds.Total), info: info}
	w.staging, w.unclaimd = p.copiesLocked(loc)
	w.window = max(w.free+w.unclaimd-max(loc.maxSize-info, 0)-w.keep, 0)
	w.spare = max(w.window-w.unclaimd-w.staging, 0)
	return w, nil
}

// logWindows logs each location's automatic window, or why it has none.
func (p *Prefetcher) logWindows() {
	info, err := p.infoBytes()
	if err != nil {
		p.log.Warn("cannot read the Historical's segments to size the prefetch window", "error", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, loc := range p.locs {
		if p.noWindow[loc] != nil {
			continue
		}
		w, err := p.autoWindowLocked(loc, info[loc.index])
		if err != nil {
			p.log.Warn("cannot size the prefetch window of a location", "location", loc.path, "error", err)
			continue
		}
		p.log.Info("prefetch window", "location", loc.path, "bytes", w.window, "free", w.free,
			"historicalMayStillLoad", max(loc.maxSize-w.info, 0), "keptFree", w.keep, "unclaimed", w.unclaimd)
	}
}

// ---- what became of a copy -------------------------------------------------------------------------------------

// reject records that a placed copy vanished without an info_dir entry: the Historical deleted it (a failed
// reservation or mount) or replaced it. The segment is not placed again until LeftQueue; one line says why.
func (p *Prefetcher) reject(name string, c *placedCopy) {
	p.mu.Lock()
	if p.placed[name] != c {
		p.mu.Unlock()
		return
	}
	delete(p.placed, name)
	p.mu.Unlock()
	if err := p.removeLedger(c.loc, c.dirID); err != nil {
		p.log.Warn("removing a prefetch ledger entry failed", "segment", name, "error", err)
	}
	why := p.rejectionCause(c)
	p.mu.Lock()
	p.rejected[name] = why
	p.mu.Unlock()
	p.stats.rejected.Add(1)
	p.log.Warn("the Historical deleted a prefetched copy without claiming it; the segment is not prefetched again "+
		"until it leaves the load queue", "segment", name, "dir", filepath.Join(c.loc.path, c.rel), "reason", why)
}

// rejectionCause tells, where the accounting shows it, why the Historical deleted a copy.
func (p *Prefetcher) rejectionCause(c *placedCopy) string {
	info, err := p.infoBytes()
	if err == nil && c.loc.maxSize != math.MaxInt64 {
		p.mu.Lock()
		staging, placed := p.copiesLocked(c.loc)
		p.mu.Unlock()
		if left := c.loc.maxSize - info[c.loc.index] - staging - placed; left < c.bytes {
			return fmt.Sprintf("reservation: maxSize %d of %s less the %d bytes of its segments and %d of other "+
				"copies leaves %d for %d", c.loc.maxSize, c.loc.path, info[c.loc.index], staging+placed, left, c.bytes)
		}
	}
	if c.loc.freeSpacePercent > 0 {
		if ds, err := c.loc.statfs(c.loc.path); err == nil {
			if free, keep := int64(min(ds.Free, math.MaxInt64)), keepFree(c.loc, ds.Total); free-keep < c.bytes {
				return fmt.Sprintf("reservation: %s has %d bytes free, less than the %d it keeps free plus the "+
					"segment's %d", c.loc.path, free, keep, c.bytes)
			}
		}
	}
	return "not told by the accounting: a failed mount (missing or unreadable files) or a reservation that " +
		"failed while other loads held the space"
}

// settle accounts a copy whose segment the Historical claimed (its info_dir entry is there); the caller holds the
// segment's busy mark. When the segment's directory is also in another location, the Historical loaded it there
// (the copy landed after its existence scan) and the copy leaked: it is removed at once, before a restart could
// make the Historical reserve both. A copy whose files were rewritten after placement lost the mount race.
func (p *Prefetcher) settle(name string, c *placedCopy) {
	if other := p.elsewhere(c); other != "" {
		err := p.removeCopy(c, name, other)
		switch {
		case err == nil:
			p.stats.leaked.Add(1)
			p.log.Info("the Historical loaded the segment into another location; the prefetched copy leaked and "+
				"was removed", "segment", name, "copy", filepath.Join(c.loc.path, c.rel), "historical", other)
			return
		case errors.Is(err, ErrClaimed), errors.Is(err, ErrNotPlaced):
			// The Historical took this copy after all, or replaced it: it is the Historical's now.
		default:
			p.log.Warn("cannot remove a leaked prefetched copy; trying again later", "segment", name, "error", err)
			return
		}
	}
	if p.rewritten(c) {
		p.stats.raced.Add(1)
		p.log.Debug("the Historical downloaded over a prefetched copy (it landed after its existence check)",
			"segment", name)
	} else {
		p.stats.claimed.Add(1)
	}
	p.forget(name)
}

// elsewhere returns the directory of the copy's segment in another location than the copy's, or "".
func (p *Prefetcher) elsewhere(c *placedCopy) string {
	for _, loc := range p.locs {
		if loc == c.loc {
			continue
		}
		if _, err := loc.root.Lstat(c.rel); err == nil {
			return filepath.Join(loc.path, c.rel)
		}
	}
	return ""
}

// rewritten says whether a file of the copy was written after the copy was placed: the Historical's own download
// into the directory truncates and rewrites every file.
func (p *Prefetcher) rewritten(c *placedCopy) bool {
	t, err := newestFile(c.loc.root, c.rel)
	return err == nil && t.After(c.filesAt)
}

// newestFile is the latest modification time of the regular files of a directory.
func newestFile(root *os.Root, rel string) (time.Time, error) {
	d, err := root.Open(rel)
	if err != nil {
		return time.Time{}, err
	}
	defer d.Close()
	des, err := d.ReadDir(-1)
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest, nil
}
