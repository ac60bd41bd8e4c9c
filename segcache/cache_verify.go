package segcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProblemKind classifies what Verify and Bootstrap find wrong in a cache.
type ProblemKind string

// The problems a cache can have.
const (
	// ProblemPartial is a segment directory that still has its downloadStartMarker: a pull that never finished.
	ProblemPartial ProblemKind = "partial"
	// ProblemCorrupt is a segment directory whose files cannot be the segment's (no version.bin or druid.segment, a
	// subdirectory, a tombstone with more than its factory.json), or an info file that is not a segments.DataSegment
	// (truncated by a crash of Druid 35 or older).
	ProblemCorrupt ProblemKind = "corrupt"
	// ProblemMissing is an info file whose segment has no directory in any location.
	ProblemMissing ProblemKind = "missing"
	// ProblemOrphaned is a segment directory with no info file (a load or a delete cut short), or a second copy of
	// a segment in another location. A copy the prefetcher placed for a Java Historical (recorded in the
	// .prefetch ledger, and still the very directory it placed) is not one.
	ProblemOrphaned ProblemKind = "orphaned"
	// ProblemOverLimit is a segment that does not fit its location's maxSize with the segments before it. Like
	// Druid, a startup only alerts: the segment is announced and counted.
	ProblemOverLimit ProblemKind = "over-limit"
	// ProblemTrash is a leftover of an interrupted delete in __drop, or a temporary info file.
	ProblemTrash ProblemKind = "trash"
	// ProblemIgnored is an info file that is not named after its segment's id, or whose segment cannot be stored in
	// this cache; like Druid, the cache ignores it, and leaves it alone. It is a warning, not a finding.
	ProblemIgnored ProblemKind = "ignored"
	// ProblemInexactSize is a complete segment whose files do not add up to its declared size. Druid only logs it,
	// and so does the cache: the segment is loaded and announced. It is a warning, not a finding.
	ProblemInexactSize ProblemKind = "inexact-size"
	// ProblemReadError is an info file or a segment directory that could not be read (permissions, an I/O error, a
	// directory where a file should be). It says nothing about the segment, so nothing is ever removed because of
	// it: neither the info file nor the segment's directory, which is not taken for an orphan either.
	ProblemReadError ProblemKind = "read-error"
)

// Problem is one thing Verify or Bootstrap found wrong.
type Problem struct {
	Kind ProblemKind
	// Path is the directory or file concerned.
	Path string
	// Segment is the segment id, when known.
	Segment string
	// Detail says what is wrong, in a sentence.
	Detail string
	// Repaired says whether it was removed.
	Repaired bool
	// Err is the error of a repair that failed.
	Err error
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s: %s", p.Kind, p.Path, p.Detail)
	switch {
	case p.Err != nil:
		s += fmt.Sprintf(" (removing it failed: %v)", p.Err)
	case p.Repaired:
		s += " (removed)"
	}
	return s
}

// Report is the outcome of Verify or Bootstrap.
type Report struct {
	// Segments and Bytes count the complete segments (what Bootstrap announces).
	Segments int
	Bytes    int64
	// Problems lists everything found wrong, repaired or not.
	Problems []Problem
	// Duration is how long the check took.
	Duration time.Duration
}

// Warning reports whether a kind is a warning (ProblemIgnored, ProblemInexactSize) rather than a finding.
func (k ProblemKind) Warning() bool { return k == ProblemIgnored || k == ProblemInexactSize }

// Findings are the problems that are not warnings: what `cache verify` fails on.
func (r *Report) Findings() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if !p.Kind.Warning() {
			out = append(out, p)
		}
	}
	return out
}

// Count returns how many problems of a kind the report has.
func (r *Report) Count(kind ProblemKind) int {
	n := 0
	for _, p := range r.Problems {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// Bootstrap reads the cache after a (re)start, as Druid's SegmentCacheBootstrapper does, and returns the segments to
// announce, in id order. It deletes no more than a Druid 35+ Historical's startup does: it empties __drop and
// removes the info files of segments whose directory is in no location; in the flat layout it moves in a segment
// found only in the nested layout, as Druid 35 does. Everything else it reports (in the log, in the Report and in
// the druid_sidecar_segment_cache_problems gauge) and leaves in place: a segment whose directory is partial (its
// downloadStartMarker is there) or corrupt is not announced, and its directory is deleted when the segment is next
// loaded; directories without an info file are left alone (only `cache verify --repair` removes them); a segment
// over its location's maxSize is announced and counted, with an alert; what cannot be read is never touched.
//
// Bootstrap must be called before any Load.
func (c *Cache) Bootstrap(ctx context.Context) ([]*segments.DataSegment, Report, error) {
	return c.BootstrapEach(ctx, nil)
}

// BootstrapEach is Bootstrap handing the segments it finds complete to found while the cache is still being read,
// a chunk at a time, one call at a time, from a goroutine of its own (so that the reading goes on meanwhile), and
// before it returns: a caller announces them as they are read, as Druid's bootstrap queues its announcements. Only a
// segment sure to be announced is handed over (complete in a location, read without error); the segments
// BootstrapEach returns are the others to announce (such as one moved in from the nested layout). found must not
// call the Cache. With a nil found it is Bootstrap.
func (c *Cache) BootstrapEach(ctx context.Context, found func([]*segments.DataSegment)) ([]*segments.DataSegment, Report, error) {
	c.mu.Lock()
	if len(c.entries) > 0 || c.closed {
		c.mu.Unlock()
		return nil, Report{}, errors.New("segment cache: Bootstrap must run once, before any Load or Drop")
	}
	c.mu.Unlock()
	c.disk.Lock()
	defer c.disk.Unlock()
	scanned, rep, err := c.scan(ctx, scanStartup, found)
	if err != nil {
		return nil, rep, err
	}
	var segs []*segments.DataSegment
	c.mu.Lock()
	for _, f := range scanned {
		f.loc.account(f.bytes, true)
		c.entries[f.name] = &entry{seg: f.seg, name: f.name, rel: f.rel, loc: f.loc, bytes: f.bytes, state: stateLoaded}
		if !f.handed {
			segs = append(segs, f.seg)
		}
	}
	c.mu.Unlock()
	c.logProblems(rep)
	c.setLeft(rep)
	c.log.Info("segment cache read", "segments", rep.Segments, "bytes", rep.Bytes, "problems", len(rep.Findings()),
		"left in place", rep.left(), "duration", rep.Duration)
	return segs, rep, nil
}

// problemsLoggedPerKind bounds the problems of one kind logged one by one; the rest are counted in a summary line,
// so that a cache of 100,000 stray directories does not write 100,000 warnings.
const problemsLoggedPerKind = 20

// logProblems logs what a startup found, with what happens next to each problem left in place.
func (c *Cache) logProblems(rep Report) {
	logged := map[ProblemKind]int{}
	for _, p := range rep.Problems {
		if p.Repaired && p.Kind == ProblemTrash {
			continue
		}
		if logged[p.Kind]++; logged[p.Kind] > problemsLoggedPerKind {
			continue
		}
		switch {
		case p.Kind == ProblemIgnored:
			c.log.Warn("ignoring an info file", "path", p.Path, "reason", p.Detail)
		case p.Kind == ProblemInexactSize:
			c.log.Warn("a cached segment's files differ from its declared size; it is announced all the same, as Druid does",
				"path", p.Path, "problem", p.Detail)
		case p.Err != nil:
			c.log.Error("segment cache entry could not be removed", "kind", p.Kind, "path", p.Path, "problem", p.Detail, "error", p.Err)
		case p.Repaired:
			c.log.Warn("segment cache entry removed", "kind", p.Kind, "path", p.Path, "problem", p.Detail)
		default:
			c.log.Warn("segment cache entry left in place", "kind", p.Kind, "path", p.Path, "problem", p.Detail,
				"next", leftInPlace[p.Kind])
		}
	}
	for kind, n := range logged {
		if n > problemsLoggedPerKind {
			c.log.Warn("more segment cache problems of this kind not logged one by one", "kind", kind,
				"not logged", n-problemsLoggedPerKind, "total", n)
		}
	}
}

// leftInPlace says what becomes of a problem a startup leaves in place.
var leftInPlace = map[ProblemKind]string{
	ProblemPartial:   "not announced; its directory is deleted and pulled again when the segment is next loaded",
	ProblemCorrupt:   "not announced; its directory is deleted and pulled again when the segment is next loaded",
	ProblemOrphaned:  "not a cached segment, left alone as Druid does; a load of its segment re-uses it if complete, `druid-sidecar cache verify --repair` (server stopped) removes it",
	ProblemOverLimit: "announced anyway, as Druid does; no segment is loaded into the location until it has room (raise its maxSize)",
	ProblemReadError: "nothing is removed because of a read error; check the permissions and the disk",
	ProblemTrash:     "harmless; `druid-sidecar cache verify --repair` removes it",
	ProblemMissing:   "`druid-sidecar cache verify --repair` moves it in",
}

// left counts the problems of a report that were left in place, by kind; warnings are not problems.
func (r *Report) left() map[ProblemKind]int {
	out := map[ProblemKind]int{}
	for _, p := range r.Findings() {
		if !p.Repaired {
			out[p.Kind]++
		}
	}
	return out
}

// Verify checks the cache as Bootstrap does (an fsck), and with repair removes what is partial, corrupt, orphaned,
// over-limit or trash. On a cache in use, segments being loaded or awaiting deletion are left alone, and loaded
// segments found broken are forgotten when repaired (the caller must unannounce them: they are no longer in List).
// It works on a cache it has not bootstrapped, such as a stopped Java Historical's.
func (c *Cache) Verify(ctx context.Context, repair bool) (Report, error) {
	c.disk.Lock()
	defer c.disk.Unlock()
	mode := scanOnly
	if repair {
		mode = scanRepair
	}
	_, rep, err := c.scan(ctx, mode, nil)
	if err == nil {
		c.setLeft(rep)
	}
	if err != nil || !repair {
		return rep, err
	}
	// A loaded segment is forgotten when the repair removed its directory or its info file; one whose files could
	// not be read, say, stays loaded.
	removed := map[string]bool{}
	for _, p := range rep.Problems {
		if p.Repaired {
			removed[p.Path] = true
		}
	}
	c.mu.Lock()
	for name, e := range c.entries {
		if e.state == stateLoaded && (removed[filepath.Join(e.loc.path, e.rel)] || removed[filepath.Join(c.info.path, name)]) {
			e.loc.forget(e.bytes, true)
			delete(c.entries, name)
		}
	}
	c.mu.Unlock()
	return rep, nil
}

// scanned is what the check of one info file found.
type scanned struct {
	name     string
	seg      *segments.DataSegment
	rel      string
	loc      *location   // the first location holding the directory
	extra    []*location // other locations holding a copy
	nested   *location   // flat layout: the location holding the segment in the nested layout only
	bytes    int64
	kind     ProblemKind // "" when complete
	detail   string
	inexact  string // complete, but its files do not add up to its declared size: why
	ignored  bool
	infoPath string
	handed   bool // handed to BootstrapEach's found while the cache was read
}

// sure reports whether a startup announces r whatever the rest of the cache holds: a complete segment in a location
// (a copy in another location, or a location over its maxSize, only adds a problem).
func (r *scanned) sure() bool {
	return r != nil && r.seg != nil && !r.ignored && r.kind == "" && r.loc != nil
}

// scanMode says what a scan may change.
type scanMode int

const (
	// scanOnly changes nothing (Verify without repair, Inspect).
	scanOnly scanMode = iota
	// scanStartup removes only what a Druid 35+ Historical's startup removes (Bootstrap).
	scanStartup
	// scanRepair removes everything found wrong, except what could not be read (Verify with repair).
	scanRepair
)

// scan is the check behind Bootstrap, Verify and Inspect; c.disk is held for writing. Every problem is reported
// with the fix that would remove it; mode decides whether the fix runs: always with scanRepair, and with scanStartup
// only for the fixes marked as Druid's own startup behaviour. A startup hands the segments sure to be announced to
// found (when not nil) as they are read.
func (c *Cache) scan(ctx context.Context, mode scanMode, found func([]*segments.DataSegment)) ([]*scanned, Report, error) {
	start := c.now()
	var rep Report
	const atStartup = true
	add := func(p Problem, fix func() error, startup ...bool) {
		if fix != nil && (mode == scanRepair || mode == scanStartup && len(startup) > 0 && startup[0]) {
			p.Err = fix()
			p.Repaired = p.Err == nil
		}
		rep.Problems = append(rep.Problems, p)
	}

	// 1. Leftovers of deletes cut short.
	for _, loc := range c.locs {
		names, err := readDirNames(loc.root, DropDir)
		if err != nil {
			return nil, rep, err
		}
		for _, n := range names {
			rel := DropDir + "/" + n
			add(Problem{Kind: ProblemTrash, Path: filepath.Join(loc.path, rel), Detail: "a leftover of an interrupted delete"},
				func() error { return loc.root.RemoveAll(rel) }, atStartup)
		}
	}

	// 2. The info files, checked in parallel with their directories.
	infos, err := c.info.list()
	if err != nil {
		return nil, rep, err
	}
	var names []string
	for _, ie := range infos {
		if ie.temp {
			add(Problem{Kind: ProblemTrash, Path: filepath.Join(c.info.path, ie.name), Detail: "a temporary info file of an interrupted write"},
				func() error { return c.info.root.Remove(ie.name) })
			continue
		}
		names = append(names, ie.name)
	}
	slices.Sort(names)
	// Segments in flight are left alone: their info file may be there or not, their directory must not be touched.
	c.mu.Lock()
	busy := map[string]*entry{}
	for n, e := range c.entries {
		if e.state != stateLoaded {
			busy[n] = e
		}
	}
	c.mu.Unlock()
	// In the flat layout every segment directory is an entry of its location: one listing of each location
	// answers "which locations hold it" for all of them.
	var top []map[string]fs.FileMode
	if c.layout.depth() == 1 {
		top = make([]map[string]fs.FileMode, len(c.locs))
		for i, loc := range c.locs {
			des, err := listNames(loc.path)
			if err != nil {
				return nil, rep, err
			}
			top[i] = make(map[string]fs.FileMode, len(des))
			for _, de := range des {
				top[i][de.Name()] = de.Type()
			}
		}
	}
	results := make([]*scanned, len(names))
	hand := newHandOver(found, mode == scanStartup)
	locFDs := make([]*dirFD, len(c.locs))
	for i, loc := range c.locs {
		locFDs[i] = openDirFD(loc.root)
		defer locFDs[i].close()
	}
	err = c.parallel(ctx, len(names), func(i int, buf *[]byte) {
		if busy[names[i]] == nil {
			results[i] = c.check(names[i], buf, top, locFDs)
			hand.offer(results[i])
		}
	})
	hand.close()
	if err != nil {
		return nil, rep, err
	}

	// 3. Apply the findings in id order, accounting the complete segments against maxSize.
	claimed := make([]map[string]bool, len(c.locs))
	for i := range claimed {
		claimed[i] = map[string]bool{}
	}
	for _, e := range busy {
		if e.loc != nil {
			claimed[e.loc.index][e.rel] = true
		}
	}
	tally := make([]int64, len(c.locs))
	var complete []*scanned
	for _, r := range results {
		if r == nil {
			continue
		}
		removeInfo := func() error { return c.info.remove(r.name) }
		removeBoth := func() error { return errors.Join(c.info.remove(r.name), c.removeDir(r.loc, r.rel)) }
		switch {
		case r.ignored:
			add(Problem{Kind: ProblemIgnored, Path: r.infoPath, Segment: r.name, Detail: r.detail}, nil)
			continue
		case r.kind == ProblemReadError:
			// Nothing is removed because of a read error, and whatever directory may be the segment's is claimed.
			path := r.infoPath
			if r.loc != nil {
				path = filepath.Join(r.loc.path, r.rel)
			}
			add(Problem{Kind: ProblemReadError, Path: path, Segment: r.name, Detail: r.detail}, nil)
			c.claimAll(claimed, r)
			continue
		case r.kind == ProblemCorrupt && r.seg == nil: // an info file that is not a segments.DataSegment
			add(Problem{Kind: ProblemCorrupt, Path: r.infoPath, Segment: r.name, Detail: r.detail}, removeInfo)
			continue
		case r.loc == nil && r.nested != nil:
			if mode == scanOnly {
				add(Problem{Kind: ProblemMissing, Path: r.infoPath, Segment: r.name, Detail: fmt.Sprintf(
					"the segment is in the nested layout (%s) of a flat cache; a repair moves it in", filepath.Join(r.nested.path, c.nestedRel(r.seg)))}, nil)
				continue
			}
			if err := c.migrate(r); err != nil {
				add(Problem{Kind: ProblemMissing, Path: r.infoPath, Segment: r.name, Detail: "moving the segment from the nested layout failed", Err: err}, nil)
				continue
			}
			c.log.Info("moved a segment from the nested layout", "segment", r.name, "location", r.loc.path)
		case r.loc == nil:
			add(Problem{Kind: ProblemMissing, Path: r.infoPath, Segment: r.name, Detail: "no location holds the segment's directory"},
				removeInfo, atStartup)
			continue
		}
		for _, other := range r.extra {
			add(Problem{Kind: ProblemOrphaned, Path: filepath.Join(other.path, r.rel), Segment: r.name,
				Detail: "a second copy of a segment held in " + r.loc.path}, func() error { return c.removeDir(other, r.rel) })
		}
		claimed[r.loc.index][r.rel] = true // reported here, not again as an orphan
		if r.kind != "" {
			add(Problem{Kind: r.kind, Path: filepath.Join(r.loc.path, r.rel), Segment: r.name, Detail: r.detail}, removeBoth)
			continue
		}
		if tally[r.loc.index]+r.bytes > r.loc.maxSize {
			add(Problem{Kind: ProblemOverLimit, Path: filepath.Join(r.loc.path, r.rel), Segment: r.name, Detail: fmt.Sprintf(
				"its %d bytes do not fit in the location's maxSize %d after the %d bytes of the segments before it",
				r.bytes, r.loc.maxSize, tally[r.loc.index])}, removeBoth)
			if mode == scanRepair {
				continue
			}
			// Announced and counted all the same, as Druid 30+ does (an alert, never a delete).
		} else {
			tally[r.loc.index] += r.bytes
		}
		if r.inexact != "" {
			add(Problem{Kind: ProblemInexactSize, Path: filepath.Join(r.loc.path, r.rel), Segment: r.name, Detail: r.inexact}, nil)
		}
		complete = append(complete, r)
		rep.Segments++
		rep.Bytes += r.bytes
	}

	// 4. Directories nobody claims.
	for _, loc := range c.locs {
		if err := c.findOrphans(ctx, loc, claimed[loc.index], add, mode == scanRepair); err != nil {
			return nil, rep, err
		}
	}
	rep.Duration = c.now().Sub(start)
	return complete, rep, nil
}

// handOverChunk is how many segments a startup hands over at a time: enough for a bulk announcement to fill its
// batch znodes (50 segments each by default), few enough to announce while the rest is read.
const handOverChunk = 1000

// handOver passes the segments a startup is sure to announce to a callback as the reading goroutines find them: they
// fill chunks under a lock, and one goroutine hands the full chunks over in order, so that the reading never waits
// for the callback.
type handOver struct {
	found func([]*segments.DataSegment)
	mu    sync.Mutex
	chunk []*segments.DataSegment
	ch    chan []*segments.DataSegment
	done  chan struct{}
}

// newHandOver returns a handOver to found, or nil (whose methods do nothing) when there is nothing to hand over to.
func newHandOver(found func([]*segments.DataSegment), on bool) *handOver {
	if found == nil || !on {
		return nil
	}
	h := &handOver{found: found, ch: make(chan []*segments.DataSegment, 64), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for chunk := range h.ch {
			h.found(chunk)
		}
	}()
	return h
}

func (h *handOver) offer(r *scanned) {
	if h == nil || !r.sure() {
		return
	}
	r.handed = true
	h.mu.Lock()
	h.chunk = append(h.chunk, r.seg)
	var full []*segments.DataSegment
	if len(h.chunk) >= handOverChunk {
		full, h.chunk = h.chunk, make([]*segments.DataSegment, 0, handOverChunk)
	}
	h.mu.Unlock()
	if full != nil {
		h.ch <- full
	}
}

// close hands over the last chunk and returns once found has had every chunk.
func (h *handOver) close() {
	if h == nil {
		return
	}
	if len(h.chunk) > 0 {
		h.ch <- h.chunk
	}
	close(h.ch)
	<-h.done
}

// parallel runs f for 0..n-1 on the scan threads, each with a reusable buffer.
func (c *Cache) parallel(ctx context.Context, n int, f func(i int, buf *[]byte)) error {
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range min(c.scanThread, max(n, 1)) {
		wg.Go(func() {
			buf := make([]byte, 0, 4096)
			for ctx.Err() == nil {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				f(j, &buf)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reading the segment cache: %w", context.Cause(ctx))
	}
	return nil
}

// claimAll marks every directory that may be the segment of r as claimed in every location, so that none is taken
// for an orphan: its own directory when its info file was read, else (the id known only from the file's name)
// the flat directory of that name, or in the nested layout the directory of every reading of the name as an id.
func (c *Cache) claimAll(claimed []map[string]bool, r *scanned) {
	rels := []string{r.rel}
	if r.seg == nil {
		if c.layout.depth() == 1 {
			rels = []string{r.name}
		} else {
			rels = nil
			for _, id := range segments.PossibleSegmentIDs(r.name) {
				if rel, _, err := c.layout.rel(id); err == nil {
					rels = append(rels, rel)
				}
			}
		}
	}
	for _, m := range claimed {
		for _, rel := range rels {
			m[rel] = true
		}
	}
}

// check reads one info file and checks its segment's directory.
func (c *Cache) check(name string, buf *[]byte, top []map[string]fs.FileMode, locFDs []*dirFD) *scanned {
	r := &scanned{name: name, infoPath: filepath.Join(c.info.path, name)}
	seg, b, err := c.info.read(name, *buf)
	*buf = b
	switch {
	case errors.Is(err, errUnreadableInfo):
		r.kind, r.detail = ProblemCorrupt, fmt.Sprintf("the info file cannot be read: %v", err)
		return r
	case err != nil:
		r.kind, r.detail = ProblemReadError, fmt.Sprintf("the info file cannot be read (%v); it and its segment's "+
			"directory are left alone", err)
		return r
	}
	r.seg = seg
	id := seg.ID()
	if s := id.String(); s != name {
		r.ignored, r.detail = true, fmt.Sprintf("its segment's id is %s, not its name (Druid ignores such files too)", segments.QuoteShort(s))
		return r
	}
	rel, _, err := c.layout.rel(id)
	if err != nil {
		r.ignored, r.detail = true, err.Error()
		return r
	}
	r.rel = rel
	for _, loc := range c.locs {
		var isDir bool
		if top != nil { // flat: the location's listing says
			mode, ok := top[loc.index][rel]
			if !ok {
				continue
			}
			isDir = mode.IsDir()
		} else {
			fi, err := loc.root.Lstat(rel)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			if err != nil {
				// Whether the segment is there is unknown: never call it missing.
				r.loc, r.kind, r.detail = loc, ProblemReadError, fmt.Sprintf("looking for its directory in %s: %v", loc.path, err)
				return r
			}
			isDir = fi.IsDir()
		}
		if r.loc != nil {
			r.extra = append(r.extra, loc)
			continue
		}
		r.loc = loc
		if !isDir {
			r.kind, r.detail = ProblemCorrupt, "it is not a directory"
			continue
		}
		files, err := listSegmentDirVia(locFDs[loc.index], loc.root, rel)
		if err != nil {
			r.kind, r.detail = ProblemReadError, fmt.Sprintf("%v; the directory and the info file are left alone", err)
			continue
		}
		r.judge(files)
	}
	if r.loc == nil && c.layout.depth() == 1 {
		nrel := c.nestedRel(seg)
		for _, loc := range c.locs {
			if fi, err := loc.root.Lstat(nrel); err == nil && fi.IsDir() {
				r.nested = loc
				break
			}
		}
	}
	return r
}

func (c *Cache) nestedRel(seg *segments.DataSegment) string {
	parts := c.layout.nestedParts(seg.ID())
	return strings.Join(parts[:], "/")
}

// migrate moves a segment from the nested layout into the flat one, as Druid 35 does on startup, and checks it.
func (c *Cache) migrate(r *scanned) error {
	loc, nrel := r.nested, c.nestedRel(r.seg)
	for _, p := range strings.Split(nrel, "/") {
		if checkComponent(p) != nil {
			return fmt.Errorf("%w: %s", ErrUnsafeSegmentID, nrel)
		}
	}
	if err := loc.root.Rename(nrel, r.rel); err != nil {
		return err
	}
	for p := parentDir(nrel); p != "."; p = parentDir(p) {
		if loc.root.Remove(p) != nil {
			break
		}
	}
	r.loc = loc
	files, err := listSegmentDir(loc.root, r.rel)
	if err != nil {
		return err
	}
	r.judge(files)
	return nil
}

// judge records what the files of r's directory make of it: partial, corrupt, or complete with their bytes (and
// whether they add up to the declared size).
func (r *scanned) judge(files segmentFiles) {
	actual, problem := checkSegmentShape(r.seg, files)
	switch {
	case errors.Is(problem, errPartial):
		r.kind, r.detail = ProblemPartial, problem.Error()
	case problem != nil:
		r.kind, r.detail = ProblemCorrupt, problem.Error()
	default:
		r.bytes = accountedBytes(r.seg, actual)
		if err := checkSegmentSize(r.seg, actual); err != nil {
			r.inexact = err.Error()
		}
	}
}

// findOrphans reports (and with repair removes) segment directories of a location that no info file claims. Names
// starting with '.', __drop, lost+found and the info_dir are not segments; neither are files, nor the copies the
// prefetcher placed for a Java Historical that has not claimed them yet (its ledger names them by directory
// identity). When that ledger cannot be read, orphans are reported but not removed: any may be such a copy.
func (c *Cache) findOrphans(ctx context.Context, loc *location, claimed map[string]bool, add func(Problem, func() error, ...bool), repair bool) error {
	placed, err := readDirNames(loc.root, ledgerDir)
	if err != nil {
		add(Problem{Kind: ProblemReadError, Path: filepath.Join(loc.path, ledgerDir), Detail: fmt.Sprintf(
			"the prefetcher's ledger of placed copies cannot be read (%v); no orphan of this location is removed", err)}, nil)
		repair = false
	}
	ledger := make(map[string]bool, len(placed))
	for _, n := range placed {
		ledger[n] = true
	}
	var walk func(dir string, depth int) (empty bool, err error)
	walk = func(dir string, depth int) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("reading the segment cache: %w", context.Cause(ctx))
		}
		var des []fs.DirEntry
		var err error
		if dir == "." {
			des, err = listNames(loc.path) // names and types only, for the 100,000 entries of a flat location
		} else {
			des, err = readDir(loc.root, dir)
			if err != nil {
				// A nested parent that cannot be read: what is below it is unknown, and left alone.
				add(Problem{Kind: ProblemReadError, Path: filepath.Join(loc.path, dir), Detail: fmt.Sprintf(
					"%v; what it holds is left alone", err)}, nil)
				return false, nil
			}
		}
		if err != nil {
			return false, err
		}
		empty := true
		for _, de := range des {
			name := de.Name()
			rel := name
			if dir != "." {
				rel = dir + "/" + name
			}
			if depth == 1 && (strings.HasPrefix(name, ".") || c.layout.reserved[name]) || !de.IsDir() {
				empty = false
				continue
			}
			if depth < c.layout.depth() {
				sub, err := walk(rel, depth+1)
				if err != nil {
					return false, err
				}
				if sub && repair {
					if loc.root.Remove(rel) == nil {
						continue
					}
				}
				empty = false
				continue
			}
			if claimed[rel] {
				empty = false
				continue
			}
			if fi, err := loc.root.Lstat(rel); err != nil || !fi.IsDir() {
				continue // gone since the listing (a nested parent pruned by a migration)
			}
			if len(ledger) > 0 {
				if id, err := identify(loc.root, rel); err == nil && ledger[id.String()] {
					empty = false
					continue // placed by the prefetcher, awaiting the Historical's load
				}
			}
			kind, detail := ProblemOrphaned, "a segment directory with no info file"
			if _, err := loc.root.Lstat(rel + "/" + DownloadStartMarker); err == nil {
				kind, detail = ProblemPartial, "a download cut short (its downloadStartMarker is there, its info file is not)"
			}
			var fix func() error
			if repair {
				fix = func() error { return c.removeDir(loc, rel) }
			}
			add(Problem{Kind: kind, Path: filepath.Join(loc.path, rel), Detail: detail}, fix)
			if !repair {
				empty = false
			}
		}
		return empty, nil
	}
	_, err = walk(".", 1)
	return err
}

func readDir(root *os.Root, dir string) ([]fs.DirEntry, error) {
	f, err := root.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(root.Name(), dir), err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(root.Name(), dir), err)
	}
	slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return des, nil
}

// listNames lists the names and types of a directory given by its configured path (a location or the info_dir,
// never a path derived from a segment id): getdents only, no stat per entry, which matters for 100,000 entries.
func listNames(dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return des, nil
}

// readDirNames lists a directory's entries; a directory that does not exist has none.
func readDirNames(root *os.Root, dir string) ([]string, error) {
	des, err := readDir(root, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	return names, nil
}

// segmentFiles is the content of a segment directory.
type segmentFiles struct {
	files  []segmentFile
	marker bool     // a downloadStartMarker is there
	other  []string // entries that are not regular files
}

type segmentFile struct {
	name string
	size int64
}

// listSegmentDir lists a segment directory, with the size of each regular file. The directory is opened through
// the location's root, and Go stats the entries of a directory opened in a root relative to its descriptor
// (fstatat), so this is one open, the getdents calls and one fstatat per file.
func listSegmentDir(loc *os.Root, rel string) (segmentFiles, error) {
	var out segmentFiles
	f, err := loc.Open(rel)
	if err != nil {
		return out, fmt.Errorf("opening %s: %w", filepath.Join(loc.Name(), rel), err)
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return out, fmt.Errorf("reading %s: %w", filepath.Join(loc.Name(), rel), err)
	}
	for _, de := range des {
		name := de.Name()
		if err := out.add(name, de.Type().IsRegular(), func() (int64, error) {
			fi, err := de.Info()
			if err != nil {
				return 0, fmt.Errorf("reading %s: %w", filepath.Join(loc.Name(), rel, name), err)
			}
			return fi.Size(), nil
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// add files one entry of a segment directory: a regular file by its name (the download marker, or a segment file
// whose size it then asks for), anything else among the others. Both listings (listSegmentDir and dirFD's) file
// their entries here.
func (out *segmentFiles) add(name string, regular bool, size func() (int64, error)) error {
	switch {
	case !regular:
		out.other = append(out.other, name)
	case name == DownloadStartMarker:
		out.marker = true
	default:
		n, err := size()
		if err != nil {
			return err
		}
		out.files = append(out.files, segmentFile{name: name, size: n})
	}
	return nil
}

// listSegmentDirVia is listSegmentDir through d, which reads a one-component rel with raw system calls
// (dirfd_linux.go), and through root otherwise; the errors are worded alike.
func listSegmentDirVia(d *dirFD, root *os.Root, rel string) (segmentFiles, error) {
	files, ok, err := d.listSegment(rel)
	if !ok {
		return listSegmentDir(root, rel)
	}
	if err != nil {
		verb := "reading"
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Op == "openat" {
			verb = "opening"
		}
		return files, fmt.Errorf("%s %s: %w", verb, filepath.Join(root.Name(), rel), err)
	}
	return files, nil
}

var errPartial = errors.New("its download never finished")

// checkSegmentFiles is checkSegmentShape and checkSegmentSize: the prefetcher's check of a copy it places, which
// must be exactly what deep storage holds for the segment, since the Historical mounts it without a look.
func checkSegmentFiles(seg *segments.DataSegment, f segmentFiles) (int64, error) {
	total, err := checkSegmentShape(seg, f)
	if err == nil {
		err = checkSegmentSize(seg, total)
	}
	if err != nil {
		return 0, err
	}
	return total, nil
}

// checkSegmentSize says how a complete segment's files differ from its declared size, or returns nil: when they add
// up to it, when the size is unknown (0), or for a tombstone (whose size, 1 by convention, is not its file's).
// Druid's pushers set size to the total uncompressed bytes of the very files they zip, but a Historical only logs a
// difference; so does the cache.
func checkSegmentSize(seg *segments.DataSegment, total int64) error {
	if seg.Size > 0 && total != seg.Size && !seg.IsTombstone() && !isTombstoneLoadSpec(seg.LoadSpec) {
		return fmt.Errorf("its files add up to %d bytes, not the segment's size of %d", total, seg.Size)
	}
	return nil
}

// checkSegmentShape decides whether a directory's files are plausibly the segment's, and returns their total size.
//
// The rule, applied alike after a pull and when reading the cache (so that what a load accepts a restart accepts):
// no downloadStartMarker; only regular files (segment directories are flat); for a tombstone, factory.json alone;
// otherwise version.bin and meta.smoosh (binaryVersion 9) or druid.segment (binaryVersion 10; version.bin or
// druid.segment when binaryVersion is null). Sizes are checkSegmentSize's.
func checkSegmentShape(seg *segments.DataSegment, f segmentFiles) (int64, error) {
	if f.marker {
		return 0, fmt.Errorf("%w: it still has its %s", errPartial, DownloadStartMarker)
	}
	if len(f.other) > 0 {
		return 0, fmt.Errorf("it holds %s, which is not a regular file (segment directories are flat)", segments.QuoteShort(f.other[0]))
	}
	var total int64
	has := map[string]bool{}
	for _, sf := range f.files {
		total += sf.size
		has[sf.name] = true
	}
	if seg.IsTombstone() || isTombstoneLoadSpec(seg.LoadSpec) {
		if len(f.files) != 1 || !has["factory.json"] {
			return 0, fmt.Errorf("a tombstone's directory holds factory.json only, not %d files", len(f.files))
		}
		return total, nil
	}
	if len(f.files) == 0 {
		return 0, errors.New("it is empty")
	}
	bv := 0
	if seg.BinaryVersion != nil {
		bv = *seg.BinaryVersion
	}
	switch {
	case bv == 10 && !has["druid.segment"]:
		return 0, errors.New("druid.segment is missing (the segment's binaryVersion is 10)")
	case bv == 9 && !has["version.bin"]:
		return 0, errors.New("version.bin is missing (the segment's binaryVersion is 9)")
	case bv == 9 && !has["meta.smoosh"]:
		// Format v9 is smooshed: without its table of contents no column can be read.
		return 0, errors.New("meta.smoosh is missing (the segment's binaryVersion is 9)")
	case !has["version.bin"] && !has["druid.segment"]:
		return 0, errors.New("it holds neither version.bin (format v9) nor druid.segment (format v10)")
	}
	return total, nil
}

// isTombstoneLoadSpec reports whether a loadSpec is a tombstone as deep storage parses it (its top-level "type"),
// the authority on load specs. Only a spec that holds the word at all is parsed, so other segments cost a byte search.
func isTombstoneLoadSpec(raw []byte) bool {
	if !bytes.Contains(raw, []byte(`"tombstone"`)) {
		return false
	}
	spec, err := deepstorage.ParseLoadSpec(raw)
	_, ok := spec.(deepstorage.Tombstone)
	return err == nil && ok
}

// Inspect lists the complete segments on disk without changing anything, with the report of what else was found:
// what `cache ls` shows of a cache that is not running. A running cache's List is the authority instead.
func (c *Cache) Inspect(ctx context.Context) ([]CachedSegment, Report, error) {
	c.disk.Lock()
	defer c.disk.Unlock()
	found, rep, err := c.scan(ctx, scanOnly, nil)
	if err != nil {
		return nil, rep, err
	}
	out := make([]CachedSegment, len(found))
	for i, f := range found {
		out[i] = CachedSegment{Segment: f.seg, Location: f.loc.path, Dir: filepath.Join(f.loc.path, f.rel), Bytes: f.bytes, State: "cached"}
	}
	slices.SortStableFunc(out, func(a, b CachedSegment) int {
		if a.Location != b.Location {
			return strings.Compare(a.Location, b.Location)
		}
		return a.Segment.ID().Compare(b.Segment.ID())
	})
	return out, rep, nil
}
