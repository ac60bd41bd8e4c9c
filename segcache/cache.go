package segcache

import (
	"context"
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Puller fetches a segment's files from deep storage into its directory of the cache. The caller (the load queue,
// the cache pull command) satisfies it with package deepstorage, which this package does not import.
//
// Pull must create files only through dir, must not touch files already there (the downloadStartMarker), must
// stop once its files add up to more than maxBytes, and on failure should remove what it wrote (the cache removes
// the whole directory anyway). It returns the bytes it wrote.
type Puller interface {
	PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error)
}

// PullerFunc adapts a function to Puller.
type PullerFunc func(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error)

// PullSegment calls f.
func (f PullerFunc) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	return f(ctx, seg, dir, maxBytes)
}

// CacheOptions are a Cache's collaborators; the zero value of each is a sensible default.
type CacheOptions struct {
	// Logger receives warnings (a corrupt entry removed, an info file ignored) and debug detail; nil discards.
	Logger hclog.Logger
	// Now is the clock of reports; nil means time.Now.
	Now func() time.Time
	// Registerer receives the cache's metrics, read from the locations at every scrape:
	// druid_sidecar_segment_cache_{max_bytes,used_bytes,segments,free_bytes}{location}. Nil registers nothing;
	// NewCache fails if it refuses them (one Cache per registry).
	Registerer prometheus.Registerer

	statfs func(string) (diskSpace, error) // tests: a fake disk
}

// Cache is the local segment cache of druid.segmentCache.*: segment directories in the locations, in Druid's flat
// (35+) or nested (34 and older) layout, and the info_dir of restart state. It is what a Java Historical of the
// matching version reads and writes, and it keeps Druid's crash-recovery conventions (downloadStartMarker, info_dir
// written only after a complete load, deletes through __drop), so that a process killed at any moment restarts into
// a consistent cache. Every path derived from a segment id is opened through an *os.Root of its location.
//
// A Cache is safe for concurrent use.
type Cache struct {
	log       hclog.Logger
	now       func() time.Time
	layout    layout
	locs      []*location
	sel       selector
	info      *infoDir
	dropDelay time.Duration
	// keepDropped is druid.segmentCache.deleteOnRemove=false: as in Druid, a drop removes the info file and, after
	// the drop delay, stops counting the segment against its location, but leaves its files, which a later load
	// of the segment re-uses.
	keepDropped bool
	scanThread  int

	// disk is held for reading by every load and delete while it changes a location, and for writing by Bootstrap
	// and Verify, which must see a location at rest.
	disk sync.RWMutex

	mu sync.Mutex
	// entries is keyed by the segment id string, the name of the info file and of the flat directory; each entry
	// holds its segment, whose whole identity (dataSource, interval, version, partition) every Load and Drop
	// compares, since two ids may print alike (ErrSegmentIDClash).
	entries map[string]*entry
	closed  bool
	work    sync.WaitGroup      // loads and deletions in progress
	left    map[ProblemKind]int // problems the last Bootstrap or Verify left in place, by kind
}

// setLeft records what a check left in place, for the druid_sidecar_segment_cache_problems gauge.
func (c *Cache) setLeft(rep Report) {
	left := rep.left()
	c.mu.Lock()
	c.left = left
	c.mu.Unlock()
}

type entryState int

const (
	stateLoading  entryState = iota // a load is running; done is closed when it ends
	stateLoaded                     // files complete, info file written
	stateDropping                   // dropped: info file removed, files still there until the drop delay passes
	stateDeleting                   // the files are being deleted; deleted is closed when they are gone
)

func (s entryState) String() string {
	return [...]string{"loading", "loaded", "dropping", "deleting"}[s]
}

type entry struct {
	seg   *segments.DataSegment
	name  string // the segment id string: the info file's name, and the flat layout's directory
	rel   string // the directory relative to the location
	loc   *location
	bytes int64 // bytes accounted to loc
	state entryState

	run     *loadRun      // stateLoading: the load in progress
	gen     int           // counts drops, so that a stale deletion timer does nothing
	timer   *time.Timer   // stateDropping: the pending deletion
	deleted chan struct{} // stateDeleting: closed once the files are gone

	unaccounted bool // a directory Drop found with no entry: neither its bytes nor the segment count in loc

	// op orders the info file writes of a load with the info file removal of a drop.
	op sync.Mutex
}

// loadRun is one load of an entry; waiters keep a pointer to it, since a later load of the entry has its own.
type loadRun struct {
	done chan struct{} // closed when the load ends
	err  error         // its outcome, set before done is closed
}

func newRun() *loadRun { return &loadRun{done: make(chan struct{})} }

// infoDirPath is the absolute info_dir of a cache: druid.segmentCache.infoDir, which configs defaults to
// <first location>/info_dir. Relative paths (Druid resolves them against the working directory) are made absolute,
// as the locations' are: the info directory is recognized inside a location by comparing the two.
func infoDirPath(sc configs.SegmentCacheConfig) (string, error) {
	p, err := filepath.Abs(sc.InfoDir)
	if err != nil {
		return "", fmt.Errorf("druid.segmentCache.infoDir %s: %w", sc.InfoDir, err)
	}
	return p, nil
}

// NewCache opens the cache that cfg describes, creating the location and info directories if need be. It reads
// nothing yet: call Bootstrap before loading, to learn what is cached and to clean up after a crash.
func NewCache(cfg *configs.Config, opts CacheOptions) (*Cache, error) {
	sc := cfg.SegmentCache
	confLocs := sc.Locations()
	if len(confLocs) == 0 {
		return nil, errors.New("druid.segmentCache.locations is empty: the segment cache needs at least one location")
	}
	infoPath, err := infoDirPath(sc)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		log: opts.Logger, now: opts.Now, dropDelay: sc.DropSegmentDelay, keepDropped: !sc.DeleteOnRemove, entries: map[string]*entry{},
		sel:        selector{strategy: sc.LocationSelector},
		scanThread: max(sc.NumBootstrapThreads, 2*runtime.GOMAXPROCS(0)),
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	if c.now == nil {
		c.now = time.Now
	}
	sf := opts.statfs
	if sf == nil {
		sf = statfs
	}
	fail := func(err error) (*Cache, error) {
		c.Close()
		return nil, err
	}
	locs, reserved, err := openLocations(confLocs, infoPath, sf)
	if err != nil {
		return fail(err)
	}
	c.locs = locs
	if c.layout, err = newLayout(cfg.Sidecar.CacheLayout, reserved...); err != nil {
		return fail(err)
	}
	if c.info, err = openInfoDir(infoPath); err != nil {
		return fail(err)
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(cacheCollector(c)); err != nil {
			return fail(fmt.Errorf("registering the segment cache metrics: %w", err))
		}
	}
	return c, nil
}

// Close waits for loads and deletions in progress, deletes at once the files of dropped segments still waiting out
// the drop delay (the delay lets queries in flight finish, and there are none once the server stops; a startup
// leaves directories without an info file alone, as Druid does, so they would stay), and releases the directories.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	var pending []*entry
	for _, e := range c.entries {
		if e.timer != nil && e.timer.Stop() {
			e.timer = nil
			pending = append(pending, e)
		}
	}
	c.mu.Unlock()
	c.work.Wait()
	var errs []error
	if c.keepDropped {
		pending = nil
	}
	c.disk.RLock()
	for _, e := range pending {
		if err := c.removeDir(e.loc, e.rel); err != nil {
			errs = append(errs, fmt.Errorf("deleting the files of the dropped segment %s: %w", e.name, err))
		}
	}
	c.disk.RUnlock()
	for _, l := range c.locs {
		errs = append(errs, l.root.Close())
	}
	if c.info != nil {
		errs = append(errs, c.info.close())
	}
	return errors.Join(errs...)
}

// errClosed is the error of a call after Close.
var errClosed = errors.New("the segment cache is closed")

// ErrSegmentIDClash matches (errors.Is) the error of a load refused because another segment whose id prints the
// same is cached: a version ending in "_<n>" makes "<version>_<n>" of partition 0 and "<version>" of partition n
// one string, and so one flat directory and one info_dir file (Druid has the same clash on disk). The cache keys
// its segments by their whole identity and never serves one's files as the other's.
var ErrSegmentIDClash = errors.New("another segment with the same id string is in the segment cache")

// clashError explains a refused load of id because of other, which "is in the cache" or the like.
func clashError(id, other segments.SegmentID, where string) error {
	return fmt.Errorf("%w: this segment (version %s, partition %d) and the segment of version %s, partition %d, of the "+
		"same dataSource and interval, both print as %s, so they would share one directory and one info_dir file; "+
		"the other %s, so this one is not loaded", ErrSegmentIDClash, segments.QuoteShort(id.Version), id.PartitionNum,
		segments.QuoteShort(other.Version), other.PartitionNum, segments.QuoteShort(id.String()), where)
}

// infoOwner reads the info file called name, if any, and returns the id of its segment. A file that holds no
// segments.DataSegment (truncated by a crash) counts as none: it is no segment's, and a load replaces it. An error is one of
// reading the file, which then must be left alone.
func (c *Cache) infoOwner(name string) (id segments.SegmentID, found bool, err error) {
	seg, _, err := c.info.read(name, nil)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return segments.SegmentID{}, false, nil
	case errors.Is(err, errUnreadableInfo):
		c.log.Warn("an info file holds no segment; it is replaced", "path", filepath.Join(c.info.path, name), "problem", err)
		return segments.SegmentID{}, false, nil
	case err != nil:
		return segments.SegmentID{}, false, fmt.Errorf("reading the info file %s: %w", filepath.Join(c.info.path, name), err)
	}
	return seg.ID(), true, nil
}

// Load makes the segment available in the cache and returns its directory.
//
// A loaded segment returns at once, and concurrent loads of one segment share one pull. A segment dropped less
// than the drop delay ago is taken back with the files it has. Otherwise a directory of the segment found in a
// location (a Java Historical's, a prefetched one) is used when it is complete, and removed when it is not; else a
// location is chosen by the selector strategy and segment.size reserved in it, then the directory is created with
// a downloadStartMarker, the files are pulled, made durable and checked, the marker is removed and the segment's
// info file written. On failure the directory is deleted and the reservation released.
func (c *Cache) Load(ctx context.Context, seg *segments.DataSegment, p Puller) (string, error) {
	id := seg.ID()
	rel, name, err := c.layout.rel(id)
	if err != nil {
		return "", fmt.Errorf("loading segment: %w", err)
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return "", fmt.Errorf("loading segment %s: %w", name, errClosed)
		}
		e := c.entries[name]
		if e != nil && e.seg.ID() != id {
			// Another segment whose id prints the same: its directory (flat layout) and info file would be ours.
			// Wait for what is in flight to settle, then refuse while the other one is cached.
			var wait <-chan struct{}
			switch e.state {
			case stateLoading:
				wait = e.run.done
			case stateDeleting:
				wait = e.deleted
			}
			c.mu.Unlock()
			if wait == nil {
				return "", fmt.Errorf("loading segment %s: %w", name, clashError(id, e.seg.ID(), "is in the cache"))
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("loading segment %s: %w", name, context.Cause(ctx))
			}
		}
		switch {
		case e == nil:
			e = &entry{seg: seg, name: name, rel: rel, state: stateLoading, run: newRun()}
			c.entries[name] = e
			c.work.Add(1)
			c.mu.Unlock()
			dir, err := c.load(ctx, e, p, false)
			c.work.Done()
			return dir, err
		case e.state == stateLoaded:
			dir := filepath.Join(e.loc.path, e.rel)
			if !segments.SameAnnouncedFingerprint(e.seg, seg) {
				c.mu.Unlock()
				return dir, c.relabel(e, seg)
			}
			c.mu.Unlock()
			return dir, nil
		case e.state == stateDropping:
			// Taken back before its files were deleted: cancel the deletion and re-use them.
			if e.timer != nil {
				e.timer.Stop()
				e.timer = nil
			}
			e.state, e.run, e.seg = stateLoading, newRun(), seg
			c.work.Add(1)
			c.mu.Unlock()
			dir, err := c.load(ctx, e, p, true)
			c.work.Done()
			return dir, err
		case e.state == stateLoading:
			run := e.run
			c.mu.Unlock()
			select {
			case <-run.done:
			case <-ctx.Done():
				return "", fmt.Errorf("loading segment %s: %w", name, context.Cause(ctx))
			}
			if run.err == nil || (isContextError(run.err) && ctx.Err() == nil) {
				// Look again: loaded, or (a drop's placeholder, a load canceled by its own caller) not yet.
				continue
			}
			return "", run.err
		default: // stateDeleting
			deleted := e.deleted
			c.mu.Unlock()
			select {
			case <-deleted:
			case <-ctx.Done():
				return "", fmt.Errorf("loading segment %s: %w", name, context.Cause(ctx))
			}
		}
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// load runs a load for an entry in stateLoading and publishes the outcome.
func (c *Cache) load(ctx context.Context, e *entry, p Puller, revive bool) (dir string, err error) {
	c.disk.RLock()
	defer c.disk.RUnlock()
	e.op.Lock()
	defer e.op.Unlock()
	revived := false
	if revive {
		revived, err = c.revive(e)
	}
	if err == nil && !revived {
		err = c.fetch(ctx, e, p)
	}
	c.mu.Lock()
	if err != nil {
		err = fmt.Errorf("loading segment %s: %w", e.name, err)
		e.run.err = err
		delete(c.entries, e.name)
	} else {
		e.state = stateLoaded
	}
	close(e.run.done)
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(e.loc.path, e.rel)
	c.log.Debug("segment loaded", "segment", e.name, "dir", dir, "bytes", e.bytes)
	return dir, nil
}

// revive takes back a dropped segment whose files are still in place. When they are not usable it deletes them
// and returns false, for the caller to pull the segment afresh.
func (c *Cache) revive(e *entry) (bool, error) {
	files, err := listSegmentDir(e.loc.root, e.rel)
	var actual int64
	if err == nil {
		actual, err = c.checkFiles(e, files)
	}
	if err == nil {
		if err = c.info.write(e.name, e.seg); err == nil {
			if e.unaccounted { // a directory that Drop found without a load: it counts from now on
				e.bytes, e.unaccounted = actual, false
				e.loc.account(e.bytes, true)
			} else {
				e.loc.recount()
			}
			return true, nil
		}
	}
	c.log.Warn("a dropped segment taken back before its deletion is not usable; pulling it again", "segment", e.name, "cause", err)
	if rerr := c.removeDir(e.loc, e.rel); rerr != nil {
		return false, errors.Join(err, rerr)
	}
	e.loc.forget(e.bytes, false)
	e.loc, e.bytes = nil, 0
	return false, nil
}

// fetch finds or pulls the segment's files. e.seg, e.name and e.rel are set.
func (c *Cache) fetch(ctx context.Context, e *entry, p Puller) error {
	// An info file already there must be this segment's: it is not replaced otherwise (nor read over).
	switch owner, found, err := c.infoOwner(e.name); {
	case err != nil:
		return fmt.Errorf("%w; the segment is not loaded over it", err)
	case found && owner != e.seg.ID():
		return clashError(e.seg.ID(), owner, "has its info file in "+c.info.path)
	}
	if err := c.adopt(e); err != nil || e.loc != nil {
		return err
	}
	seg := e.seg
	var refusals []error
	for _, loc := range c.sel.order(c.locs) {
		if err := loc.reserve(seg.Size); err != nil {
			refusals = append(refusals, err)
			continue
		}
		err := c.pullInto(ctx, e, loc, p)
		if err != nil {
			loc.release(seg.Size)
			return err
		}
		return nil
	}
	return fmt.Errorf("no segment cache location can hold its %d bytes: %w", seg.Size, errors.Join(refusals...))
}

// adopt looks for the segment's directory in every location, in configuration order as Druid 35 does. A complete
// one is used as it is (e.loc set); a partial or corrupt one is deleted.
func (c *Cache) adopt(e *entry) error {
	for _, loc := range c.locs {
		fi, err := loc.root.Lstat(e.rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("looking for an existing directory in %s: %w", loc.path, err)
		}
		var problem error
		var actual int64
		if !fi.IsDir() {
			problem = errors.New("it is not a directory")
		} else {
			files, err := listSegmentDir(loc.root, e.rel)
			if err != nil {
				return err
			}
			actual, problem = c.checkFiles(e, files)
		}
		if problem == nil {
			bytes := actual
			if loc.account(bytes, false) {
				if err := c.info.write(e.name, e.seg); err != nil {
					loc.forget(bytes, true)
					return err
				}
				e.loc, e.bytes = loc, bytes
				c.log.Info("using the segment's files already in the cache", "segment", e.name, "location", loc.path)
				return nil
			}
			problem = fmt.Errorf("%s has no room for it (as Druid does, it is deleted)", loc.path)
		}
		c.log.Warn("deleting a segment directory found in the cache", "segment", e.name, "dir",
			filepath.Join(loc.path, e.rel), "cause", problem)
		if err := c.removeDir(loc, e.rel); err != nil {
			return err
		}
	}
	return nil
}

// checkFiles checks the files of a segment's directory as a load takes them: a directory that cannot be the
// segment's is refused; one whose files do not add up to the declared size is taken with a warning, as Druid does.
// It returns what the segment counts against its location (accountedBytes).
func (c *Cache) checkFiles(e *entry, files segmentFiles) (int64, error) {
	actual, err := checkSegmentShape(e.seg, files)
	if err != nil {
		return 0, err
	}
	if err := checkSegmentSize(e.seg, actual); err != nil {
		c.log.Warn("a segment's files differ from its declared size; it is loaded all the same, as Druid does",
			"segment", e.name, "problem", err)
	}
	return accountedBytes(e.seg, actual), nil
}

// accountedBytes is what a segment whose files add up to actual bytes counts against its location: those bytes,
// which the disk holds whatever the declared size says; but a tombstone counts its declared size (1), as in Druid,
// its factory.json being a marker rather than data.
func accountedBytes(seg *segments.DataSegment, actual int64) int64 {
	if seg.IsTombstone() || isTombstoneLoadSpec(seg.LoadSpec) {
		return seg.Size
	}
	return actual
}

// pullInto creates the segment directory with its marker in loc, where seg.Size is reserved, pulls the files and
// completes the load; on failure it removes the directory (the caller releases the reservation).
func (c *Cache) pullInto(ctx context.Context, e *entry, loc *location, p Puller) (err error) {
	seg := e.seg
	if err := c.makeSegmentDir(loc, e.rel); err != nil {
		return err
	}
	dirPath := filepath.Join(loc.path, e.rel)
	defer func() {
		if err != nil {
			if rerr := c.removeDir(loc, e.rel); rerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the partial directory: %w", rerr))
			}
		}
	}()
	dir, err := loc.root.OpenRoot(e.rel)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dirPath, err)
	}
	defer dir.Close()
	// The pull may write what the location can give: a declared size may be off (Druid only logs that), and the
	// bound still stops a decompression bomb before it fills the disk.
	if _, err := p.PullSegment(ctx, seg, dir, loc.pullBound(seg.Size)); err != nil {
		return err
	}
	files, err := listSegmentDir(loc.root, e.rel)
	if err != nil {
		return err
	}
	if !files.marker {
		return fmt.Errorf("the %s in %s disappeared during the pull", DownloadStartMarker, dirPath)
	}
	files.marker = false
	actual, problem := c.checkFiles(e, files)
	if problem != nil {
		return fmt.Errorf("deep storage gave files that are not the segment: %w", problem)
	}
	// Durability in two rounds of fsyncs run together (several at once cost about one): first the files, their
	// entries in the directory and the info file's staged copy; then the marker's removal and the info file's
	// rename. The info file is thus never durable before the segment's files, though a crash may leave it beside
	// the marker, which startup takes for a partial download and removes with it.
	var tmp string
	var stageErr, entriesErr error
	var wg sync.WaitGroup
	wg.Go(func() { tmp, stageErr = c.info.stage(e.name, seg) })
	wg.Go(func() { entriesErr = syncDir(dir) })
	err = syncEach(dir, files)
	wg.Wait()
	if err = errors.Join(err, entriesErr); err != nil || stageErr != nil {
		if stageErr == nil {
			c.info.discard(tmp)
		}
		if err != nil {
			err = fmt.Errorf("making the files of %s durable: %w", dirPath, err)
		}
		return errors.Join(err, stageErr)
	}
	if err := dir.Remove(DownloadStartMarker); err != nil {
		c.info.discard(tmp)
		return fmt.Errorf("removing the %s: %w", DownloadStartMarker, err)
	}
	var markerErr error
	wg.Go(func() { markerErr = syncDir(dir) })
	err = c.info.commit(tmp, e.name)
	wg.Wait()
	if err != nil {
		return err
	}
	if markerErr != nil {
		// The directory goes (the deferred removal above), so the info file just written must not stay.
		return errors.Join(fmt.Errorf("syncing %s: %w", dirPath, markerErr), c.info.remove(e.name))
	}
	loc.settle(seg.Size, actual)
	e.loc, e.bytes = loc, actual
	return nil
}

// relabel keeps seg as the loaded entry's segment, its info file included, when the Coordinator asks for a
// loaded segment under another partial-load rule (Druid 38+'s additive reload: a stale replica is asked to load
// again with the new wrapper): the files are the same, and the info file must hold the new wrapper so that a
// restart announces the new fingerprint.
func (c *Cache) relabel(e *entry, seg *segments.DataSegment) error {
	c.disk.RLock()
	defer c.disk.RUnlock()
	e.op.Lock()
	defer e.op.Unlock()
	c.mu.Lock()
	loaded := e.state == stateLoaded && c.entries[e.name] == e
	c.mu.Unlock()
	if !loaded {
		return fmt.Errorf("loading segment %s: it was dropped while being loaded", e.name)
	}
	if err := c.info.write(e.name, seg); err != nil {
		return fmt.Errorf("loading segment %s: %w", e.name, err)
	}
	c.mu.Lock()
	e.seg = seg
	c.mu.Unlock()
	return nil
}

// Segment returns the segment the cache holds loaded under id (as its info file has it), or nil.
func (c *Cache) Segment(id segments.SegmentID) *segments.DataSegment {
	_, name, err := c.layout.rel(id)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[name]; e != nil && e.state == stateLoaded && e.seg.ID() == id {
		return e.seg
	}
	return nil
}

// makeSegmentDir creates the segment's directory and its downloadStartMarker.
func (c *Cache) makeSegmentDir(loc *location, rel string) error {
	if c.layout.depth() > 1 {
		loc.tree.Lock()
		defer loc.tree.Unlock()
		if err := loc.root.MkdirAll(parentDir(rel), 0o755); err != nil {
			return fmt.Errorf("creating the parent directories of %s in %s: %w", rel, loc.path, err)
		}
	}
	if err := loc.root.Mkdir(rel, 0o755); err != nil {
		return fmt.Errorf("creating the segment directory in %s: %w", loc.path, err)
	}
	f, err := loc.root.OpenFile(rel+"/"+DownloadStartMarker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		loc.root.Remove(rel)
		return fmt.Errorf("creating the %s in %s: %w", DownloadStartMarker, filepath.Join(loc.path, rel), err)
	}
	return f.Close()
}

func syncDir(r *os.Root) error {
	d, err := r.Open(".")
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func syncFiles(dir *os.Root, files segmentFiles) error {
	if err := syncEach(dir, files); err != nil {
		return err
	}
	return syncDir(dir)
}

// maxParallelSyncs bounds the fsyncs syncEach runs at once.
const maxParallelSyncs = 8

// syncEach fsyncs the files (not their directory), several at once: the disk then writes them together and the
// file system commits its journal for them once, instead of once per file one after another.
func syncEach(dir *os.Root, files segmentFiles) error {
	errs := make([]error, len(files.files))
	sem := make(chan struct{}, maxParallelSyncs)
	var wg sync.WaitGroup
	for i, f := range files.files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fh, err := dir.Open(f.name)
			if err == nil {
				err = errors.Join(fh.Sync(), fh.Close())
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// removeDir deletes a segment directory: it is first renamed into <location>/__drop, so that a crash in the middle
// leaves nothing that looks like a segment, then removed; in the nested layout, parents left empty are pruned as
// Druid 34 does. A directory that is not there is no error.
func (c *Cache) removeDir(loc *location, rel string) error {
	if err := loc.root.MkdirAll(DropDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Join(loc.path, DropDir), err)
	}
	trash := DropDir + "/" + tempName(path.Base(rel))[1:]
	if err := loc.root.Rename(rel, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("moving %s to %s: %w", filepath.Join(loc.path, rel), DropDir, err)
	}
	if err := loc.root.RemoveAll(trash); err != nil {
		return fmt.Errorf("deleting %s: %w", filepath.Join(loc.path, trash), err)
	}
	if c.layout.depth() > 1 {
		loc.tree.Lock()
		for p := parentDir(rel); p != "."; p = parentDir(p) {
			if loc.root.Remove(p) != nil {
				break // not empty, or gone
			}
		}
		loc.tree.Unlock()
	}
	return nil
}

// Drop removes a segment from the cache: its info file at once (so a restart no longer announces it), its files
// after druid.segmentCache.dropSegmentDelayMillis (so queries in flight can finish), through <location>/__drop;
// with druid.segmentCache.deleteOnRemove=false the files stay, uncounted, for a later load to re-use. A Load in
// the meantime cancels the deletion. Dropping a segment that is not cached removes whatever files and info file it
// has.
func (c *Cache) Drop(seg *segments.DataSegment) error {
	rel, name, err := c.layout.rel(seg.ID())
	if err != nil {
		return fmt.Errorf("dropping segment: %w", err)
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return fmt.Errorf("dropping segment %s: %w", name, errClosed)
		}
		e := c.entries[name]
		if e == nil {
			// Not known: whatever is on disk goes, through the same delay.
			e = &entry{seg: seg, name: name, rel: rel, state: stateLoading, run: newRun(), unaccounted: true}
			c.entries[name] = e
			c.mu.Unlock()
			return c.dropUnknown(e)
		}
		if other := e.seg.ID(); other != seg.ID() && e.state != stateLoading {
			// The cached segment with this id string is another one: this one is not cached, and the other's files
			// are not this drop's to delete.
			c.mu.Unlock()
			c.log.Info("drop of a segment that is not cached; the cached segment with the same id string is another one, left alone",
				"segment", name, "version", seg.Version, "partition", seg.ID().PartitionNum, "cached version", other.Version,
				"cached partition", other.PartitionNum)
			return nil
		}
		switch e.state {
		case stateLoading:
			run := e.run
			c.mu.Unlock()
			<-run.done
			continue
		case stateDropping, stateDeleting:
			c.mu.Unlock()
			return nil
		}
		e.state = stateDropping
		e.gen++
		gen := e.gen
		c.mu.Unlock()
		e.loc.uncount()
		// A Load may take the segment back from here on; e.op orders its info file write after our removal, and
		// the generation tells us whether it already has.
		e.op.Lock()
		c.mu.Lock()
		current := e.state == stateDropping && e.gen == gen
		c.mu.Unlock()
		var err error
		if current {
			err = c.info.remove(name)
			c.scheduleDelete(e, gen)
		}
		e.op.Unlock()
		if err != nil {
			return fmt.Errorf("dropping segment %s: %w", name, err)
		}
		return nil
	}
}

// dropUnknown drops a segment the cache has no entry for, e being a placeholder in stateLoading. Its info file goes,
// and its directory after the drop delay, unless the info file says they are another segment's (an id string
// clash), or cannot be read: then the info file stays, and so does the directory when its name is the id string.
func (c *Cache) dropUnknown(e *entry) error {
	c.disk.RLock()
	owner, found, err := c.infoOwner(e.name)
	mine := err == nil && (!found || owner == e.seg.ID())
	if mine {
		err = c.info.remove(e.name)
	} else {
		c.log.Warn("dropping a segment that is not cached: its info file is left alone, as it is another segment's or cannot be read",
			"segment", e.name, "owner version", owner.Version, "owner partition", owner.PartitionNum, "error", err)
		err = nil
	}
	if !c.keepDropped && (mine || c.layout.depth() > 1) { // a nested directory is named after the whole identity
		for _, loc := range c.locs {
			if _, serr := loc.root.Lstat(e.rel); serr == nil {
				e.loc = loc
				break
			}
		}
	}
	c.disk.RUnlock()
	c.mu.Lock()
	close(e.run.done)
	if e.loc == nil {
		delete(c.entries, e.name)
		c.mu.Unlock()
	} else {
		e.state = stateDropping
		e.gen++
		gen := e.gen
		c.mu.Unlock()
		c.scheduleDelete(e, gen)
	}
	if err != nil {
		return fmt.Errorf("dropping segment %s: %w", e.name, err)
	}
	return nil
}

// scheduleDelete arms the deletion of a dropped segment's files, unless it was taken back meanwhile.
func (c *Cache) scheduleDelete(e *entry, gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.state != stateDropping || e.gen != gen || c.closed {
		return
	}
	e.timer = time.AfterFunc(c.dropDelay, func() { c.deleteDropped(e, gen) })
}

func (c *Cache) deleteDropped(e *entry, gen int) {
	c.mu.Lock()
	if e.state != stateDropping || e.gen != gen || c.closed {
		c.mu.Unlock()
		return
	}
	e.state, e.timer, e.deleted = stateDeleting, nil, make(chan struct{})
	c.work.Add(1)
	c.mu.Unlock()
	defer c.work.Done()

	var err error
	if !c.keepDropped {
		c.disk.RLock()
		err = c.removeDir(e.loc, e.rel)
		c.disk.RUnlock()
	}
	switch {
	case err != nil:
		// The files stay; with no info file they are an orphan that `cache verify --repair` removes.
		c.log.Error("deleting a dropped segment's files failed", "segment", e.name, "error", err)
	case c.keepDropped:
		c.log.Info("dropped segment's files kept (druid.segmentCache.deleteOnRemove=false)", "segment", e.name,
			"dir", filepath.Join(e.loc.path, e.rel))
	default:
		c.log.Debug("dropped segment deleted", "segment", e.name)
	}
	e.loc.forget(e.bytes, false)
	c.mu.Lock()
	delete(c.entries, e.name)
	close(e.deleted)
	c.mu.Unlock()
}

// CachedSegment is one segment of List.
type CachedSegment struct {
	Segment  *segments.DataSegment
	Location string
	Dir      string
	// Bytes is what the segment counts against its location (segment.size, or its files' bytes when that is 0).
	Bytes int64
	// State is "loaded", or "dropping" while the deletion of a dropped segment waits for the drop delay.
	State string
}

// Settled reports whether the segment with this id (its string form) is either unknown to the cache or loaded:
// neither being pulled nor waiting out the drop delay. An audit of the node compares only settled segments, so
// that it never reports the load queue's work in progress as drift.
func (c *Cache) Settled(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	return !ok || e.state == stateLoaded
}

// List returns the loaded and dropping segments, by location and id.
func (c *Cache) List() []CachedSegment {
	c.mu.Lock()
	out := make([]CachedSegment, 0, len(c.entries))
	for _, e := range c.entries {
		if e.state != stateLoaded && e.state != stateDropping {
			continue
		}
		out = append(out, CachedSegment{Segment: e.seg, Location: e.loc.path, Dir: filepath.Join(e.loc.path, e.rel),
			Bytes: e.bytes, State: e.state.String()})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b CachedSegment) int {
		if a.Location != b.Location {
			return strings.Compare(a.Location, b.Location)
		}
		return a.Segment.ID().Compare(b.Segment.ID())
	})
	return out
}

// Usage returns each location's size, usage and disk space, in configuration order: the figures of the per-location
// usage gauges.
func (c *Cache) Usage() []LocationUsage {
	out := make([]LocationUsage, len(c.locs))
	for i, l := range c.locs {
		out[i] = l.usage()
	}
	return out
}

// Layout is the cache's directory layout.
func (c *Cache) Layout() configs.CacheLayout { return c.layout.kind }

// InfoDir is the directory of the info files.
func (c *Cache) InfoDir() string { return c.info.path }
