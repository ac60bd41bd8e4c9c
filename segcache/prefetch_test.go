package segcache

import (
	"context"
	"errors"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// newTestPrefetcher opens a prefetcher over the given locations with a prefetch window of maxBytes (sets add
// more --set values) and closes it when the test ends.
func newTestPrefetcher(t *testing.T, locs []testLoc, layout configs.CacheLayout, maxBytes string, opts PrefetchOptions, sets ...string) *Prefetcher {
	t.Helper()
	sets = append([]string{"druid.sidecar.cacheLayout=" + string(layout), "druid.sidecar.prefetch.maxBytes=" + maxBytes}, sets...)
	p, err := NewPrefetcher(testConfig(t, locs, sets...), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// segDir is where the segment's directory is in a location.
func segDir(t *testing.T, p *Prefetcher, loc string, seg *segments.DataSegment) string {
	t.Helper()
	rel, _, err := p.layout.rel(seg.ID())
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(loc, rel)
}

// writeClaim writes the info file a Historical writes after a load.
func writeClaim(t *testing.T, loc string, seg *segments.DataSegment) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(loc, "info_dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeInfo(t, filepath.Join(loc, "info_dir"), seg.ID().String(), seg)
}

// assertNoDebris fails when a location's .prefetch holds anything but the ledger of placed copies.
func assertNoDebris(t *testing.T, loc string) {
	t.Helper()
	for _, e := range tree(t, filepath.Join(loc, PrefetchDir)) {
		if e != "placed/" && !strings.HasPrefix(e, "placed/") {
			t.Errorf("%s holds %s after the prefetch", filepath.Join(loc, PrefetchDir), e)
		}
	}
}

func TestNewPrefetcherRefuses(t *testing.T) {
	loc := t.TempDir()
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"virtual storage", []string{"druid.sidecar.prefetch.maxBytes=1g", "druid.segmentCache.virtualStorage=true"},
			"never a placed copy"},
		{"deleteOnRemove false", []string{"druid.sidecar.prefetch.maxBytes=1g", "druid.segmentCache.deleteOnRemove=false"},
			"every later load of that segment fails"},
		{"no window", []string{"druid.sidecar.prefetch.maxBytes=0"}, "maxBytes is 0"},
		{"no segments", []string{"druid.sidecar.prefetch.maxBytes=1g", "druid.sidecar.prefetch.maxSegments=0"}, "maxSegments is 0"},
		{"auto without maxSize", nil, "has no maxSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, []testLoc{{path: loc}}, tc.sets...)
			_, err := NewPrefetcher(cfg, PrefetchOptions{})
			if !errors.Is(err, ErrPrefetchOff) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewPrefetcher = %v, want ErrPrefetchOff saying %q", err, tc.want)
			}
			if tc.sets == nil {
				return // a refusal of the disk, not of the configuration
			}
			if err := PrefetchRefusal(cfg); !errors.Is(err, ErrPrefetchOff) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PrefetchRefusal = %v, want the same refusal", err)
			}
		})
	}
	if err := PrefetchRefusal(testConfig(t, []testLoc{{path: loc}})); err != nil {
		t.Fatalf("PrefetchRefusal of the defaults = %v", err)
	}
}

// TestAutoWindow: with no druid.sidecar.prefetch.maxBytes, each location's window is its free bytes less what the
// Historical may still load below maxSize less the free space it keeps, and a location without a maxSize below its
// disk gets none.
func TestAutoWindow(t *testing.T) {
	good, noMax, tooBig := t.TempDir(), t.TempDir(), t.TempDir()
	var mu sync.Mutex
	disks := map[string]diskSpace{
		good:   {Total: 200_000, Free: 150_000},
		noMax:  {Total: 200_000, Free: 190_000},
		tooBig: {Total: 200_000, Free: 190_000},
	}
	var opts PrefetchOptions
	opts.statfs = func(p string) (diskSpace, error) {
		mu.Lock()
		defer mu.Unlock()
		return disks[p], nil
	}
	var logs syncLog
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	// The Historical holds 30,000 bytes in the good location: it may still load 70,000 there.
	held := testSegment(t, "wiki", 9, 0, 30_000)
	writeSegmentDir(t, filepath.Join(good, held.ID().String()), segmentFilesFor(30_000, "h"))
	writeClaim(t, good, held)
	cfg := testConfig(t, []testLoc{{path: good, maxSize: 100_000, freePercent: 10}, {path: noMax}, {path: tooBig, maxSize: 200_000}})
	p, err := NewPrefetcher(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := logs.String()
	for _, want := range []string{"prefetch window: location=" + good + " bytes=60000", noMax + " has no maxSize",
		tooBig + " has a maxSize of 200000, not below"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
	if p.MaxBytes() != math.MaxInt64 {
		t.Errorf("MaxBytes = %d with an automatic window", p.MaxBytes())
	}
	// 150,000 free - 70,000 the Historical may still load - 20,000 kept free.
	if err := p.Budget(testSegment(t, "wiki", 0, 0, 60_001)); !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "window is 60000") {
		t.Fatalf("Budget past the window = %v", err)
	}
	pl, err := p.Place(context.Background(), testSegment(t, "wiki", 0, 0, 20_000), &fakePuller{})
	if err != nil || pl.Location != good {
		t.Fatalf("Place = %+v, %v; want it in %s, the only location with a window", pl, err, good)
	}
	mu.Lock()
	disks[good] = diskSpace{Total: 200_000, Free: 130_000} // the copy's bytes
	mu.Unlock()
	if err := p.Budget(testSegment(t, "wiki", 1, 0, 40_001)); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("Budget past what is left of the window = %v", err)
	}
	if err := p.Budget(testSegment(t, "wiki", 1, 0, 40_000)); err != nil {
		t.Fatalf("Budget of what is left of the window = %v", err)
	}
}

// syncLog is a log output safe for concurrent writes.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestPlaceFlatThenDiscard(t *testing.T) {
	loc := t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.FlatLayout, "1m", PrefetchOptions{})
	seg := testSegment(t, "wiki", 0, 0, 1000)
	puller := &fakePuller{}
	pl, err := p.Place(context.Background(), seg, puller)
	if err != nil {
		t.Fatal(err)
	}
	dir := segDir(t, p, loc, seg)
	if pl.Outcome != Placed || pl.Dir != dir || pl.Bytes != 1000 || pl.Location != loc {
		t.Fatalf("Place = %+v, want Placed in %s with 1000 bytes", pl, dir)
	}
	got := tree(t, loc)
	for _, want := range []string{seg.ID().String() + "/00000.smoosh", seg.ID().String() + "/meta.smoosh", seg.ID().String() + "/version.bin"} {
		if !hasEntry(got, want) {
			t.Errorf("cache lacks %s: %v", want, got)
		}
	}
	if hasEntry(got, seg.ID().String()+"/"+DownloadStartMarker) {
		t.Error("the prefetcher created a downloadStartMarker")
	}
	if entries := tree(t, filepath.Join(loc, "info_dir")); len(entries) != 0 {
		t.Errorf("the prefetcher wrote info_dir: %v", entries)
	}
	assertNoDebris(t, loc)
	if un := p.Unclaimed(); len(un) != 1 || un[0].Dir != dir || un[0].Bytes != 1000 {
		t.Fatalf("Unclaimed = %+v", un)
	}

	// A second Place finds it.
	pl, err = p.Place(context.Background(), seg, puller)
	if err != nil || pl.Outcome != AlreadyPresent || pl.Dir != dir {
		t.Fatalf("second Place = %+v, %v; want AlreadyPresent", pl, err)
	}
	if n := puller.pulls.Load(); n != 1 {
		t.Fatalf("%d pulls, want 1", n)
	}
	if p.Claimed(seg.ID()) {
		t.Fatal("Claimed without an info file")
	}
	if err := p.Discard(seg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("the discarded copy is still there: %v", err)
	}
	assertNoDebris(t, loc)
	if entries := tree(t, filepath.Join(loc, ledgerDir)); len(entries) != 0 {
		t.Fatalf("ledger after the discard: %v", entries)
	}
	if un := p.Unclaimed(); len(un) != 0 {
		t.Fatalf("Unclaimed after the discard = %+v", un)
	}
	if err := p.Discard(seg); !errors.Is(err, ErrNotPlaced) {
		t.Fatalf("second Discard = %v, want ErrNotPlaced", err)
	}
}

func TestPlaceNested(t *testing.T) {
	loc := t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.NestedLayout, "1m", PrefetchOptions{})
	seg := testSegment(t, "wiki", 0, 3, 1000)
	pl, err := p.Place(context.Background(), seg, &fakePuller{})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(loc, "wiki", "2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z", "2025-02-01T00:00:00.000Z", "3")
	if pl.Outcome != Placed || pl.Dir != want {
		t.Fatalf("Place = %+v, want Placed in %s", pl, want)
	}
	if _, err := os.Stat(filepath.Join(want, "version.bin")); err != nil {
		t.Fatal(err)
	}
	// A sibling right after: the parent's change was our own rename, not a drop.
	sib := testSegment(t, "wiki", 0, 4, 1000)
	if pl, err := p.Place(context.Background(), sib, &fakePuller{}); err != nil || pl.Outcome != Placed {
		t.Fatalf("Place of a sibling = %+v, %v", pl, err)
	}
	assertNoDebris(t, loc)
}

func TestPlaceAlreadyPresent(t *testing.T) {
	loc1, loc2 := t.TempDir(), t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc1}, {path: loc2}}, configs.FlatLayout, "1m", PrefetchOptions{})
	seg := testSegment(t, "wiki", 0, 0, 1000)
	// A Historical's download in progress in the second location: the directory with its marker.
	dir := segDir(t, p, loc2, seg)
	writeSegmentDir(t, dir, map[string][]byte{DownloadStartMarker: nil})
	puller := &fakePuller{}
	pl, err := p.Place(context.Background(), seg, puller)
	if err != nil || pl.Outcome != AlreadyPresent || pl.Dir != dir || pl.Location != loc2 {
		t.Fatalf("Place = %+v, %v; want AlreadyPresent in %s", pl, err, dir)
	}
	// Claimed by its info file only (its directory elsewhere or being deleted).
	seg2 := testSegment(t, "wiki", 1, 0, 1000)
	writeClaim(t, loc1, seg2)
	pl, err = p.Place(context.Background(), seg2, puller)
	if err != nil || pl.Outcome != AlreadyPresent {
		t.Fatalf("Place of a claimed segment = %+v, %v; want AlreadyPresent", pl, err)
	}
	if n := puller.pulls.Load(); n != 0 {
		t.Fatalf("%d pulls of segments already present", n)
	}
	if got := tree(t, dir); len(got) != 1 || got[0] != DownloadStartMarker {
		t.Fatalf("the Historical's directory changed: %v", got)
	}
}

func TestPlaceLostRaceDuringPull(t *testing.T) {
	loc := t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.FlatLayout, "1m", PrefetchOptions{})
	seg := testSegment(t, "wiki", 0, 0, 1000)
	dir := segDir(t, p, loc, seg)
	puller := &fakePuller{after: func(*segments.DataSegment) error {
		// The Historical's load starts meanwhile: mkdirp, marker.
		writeSegmentDir(t, dir, map[string][]byte{DownloadStartMarker: nil})
		return nil
	}}
	pl, err := p.Place(context.Background(), seg, puller)
	if err != nil || pl.Outcome != LostRace || pl.Dir != dir {
		t.Fatalf("Place = %+v, %v; want LostRace", pl, err)
	}
	if got := tree(t, dir); len(got) != 1 || got[0] != DownloadStartMarker {
		t.Fatalf("the Historical's directory changed: %v", got)
	}
	assertNoDebris(t, loc)
	if un := p.Unclaimed(); len(un) != 0 {
		t.Fatalf("Unclaimed = %+v", un)
	}
}

// TestPlaceNeverReplacesAnEmptyDirectory is the reason for RENAME_NOREPLACE: between a Historical's mkdirp and
// its marker the segment's directory is empty, and a plain rename would replace it.
func TestPlaceNeverReplacesAnEmptyDirectory(t *testing.T) {
	for _, layout := range []configs.CacheLayout{configs.FlatLayout, configs.NestedLayout} {
		t.Run(string(layout), func(t *testing.T) {
			loc := t.TempDir()
			p := newTestPrefetcher(t, []testLoc{{path: loc}}, layout, "1m", PrefetchOptions{})
			seg := testSegment(t, "wiki", 0, 0, 1000)
			dir := segDir(t, p, loc, seg)
			p.beforeRename = func() {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Error(err)
				}
			}
			pl, err := p.Place(context.Background(), seg, &fakePuller{})
			if err != nil || pl.Outcome != LostRace {
				t.Fatalf("Place = %+v, %v; want LostRace", pl, err)
			}
			if got := tree(t, dir); len(got) != 0 {
				t.Fatalf("the Historical's empty directory now holds %v", got)
			}
			assertNoDebris(t, loc)
			if entries := tree(t, filepath.Join(loc, ledgerDir)); len(entries) != 0 {
				t.Fatalf("ledger after a lost race: %v", entries)
			}
		})
	}
}

func TestPlaceRefusesBadCopies(t *testing.T) {
	loc := t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.FlatLayout, "1m", PrefetchOptions{})
	seg := testSegment(t, "wiki", 0, 0, 1000)
	for name, puller := range map[string]*fakePuller{
		"sizes": {files: func(*segments.DataSegment) map[string][]byte { return segmentFilesFor(999, "x") }},
		"no version.bin": {files: func(*segments.DataSegment) map[string][]byte {
			f := segmentFilesFor(1000, "x")
			delete(f, "version.bin")
			f["00000.smoosh"] = append(f["00000.smoosh"], 0, 0, 0, 0)
			return f
		}},
		"pull fails": {before: func(*segments.DataSegment) error { return errors.New("deep storage is down") }},
	} {
		t.Run(name, func(t *testing.T) {
			if pl, err := p.Place(context.Background(), seg, puller); err == nil {
				t.Fatalf("Place = %+v, want an error", pl)
			} else if !strings.Contains(err.Error(), seg.ID().String()) {
				t.Errorf("error %q does not name the segment", err)
			}
			if _, err := os.Lstat(segDir(t, p, loc, seg)); !os.IsNotExist(err) {
				t.Fatal("a bad copy was placed")
			}
			assertNoDebris(t, loc)
			if err := p.Budget(seg); err != nil {
				t.Fatalf("the failed copy still holds the window: %v", err)
			}
		})
	}
	tomb := segments.NewTombstone("wiki", segments.Interval{Start: 0, End: 1000}, "v1")
	if _, err := p.Place(context.Background(), &tomb, &fakePuller{}); err == nil {
		t.Fatal("a tombstone was prefetched")
	}
}

func TestBudget(t *testing.T) {
	loc1, loc2 := t.TempDir(), t.TempDir()
	var mu sync.Mutex
	disks := map[string]diskSpace{
		loc1: {Total: 100_000, Free: 50_000},
		loc2: {Total: 100_000, Free: 80_000},
	}
	opts := PrefetchOptions{statfs: func(p string) (diskSpace, error) {
		mu.Lock()
		defer mu.Unlock()
		return disks[p], nil
	}}
	p := newTestPrefetcher(t, []testLoc{{path: loc1, maxSize: 80_000}, {path: loc2, freePercent: 10}},
		configs.FlatLayout, "5000", opts, "druid.sidecar.prefetch.maxSegments=2")

	// The window.
	if err := p.Budget(testSegment(t, "wiki", 0, 0, 5001)); !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "maxBytes=5000") {
		t.Fatalf("Budget past the window = %v", err)
	}
	// loc1: 80,000 maxSize + 5,000 window fit the 100,000 disk; loc2 has no maxSize. loc2 has more room.
	pl, err := p.Place(context.Background(), testSegment(t, "wiki", 0, 0, 2000), &fakePuller{})
	if err != nil || pl.Location != loc2 {
		t.Fatalf("Place = %+v, %v; want it in %s, the location with the most room", pl, err, loc2)
	}
	if err := p.Budget(testSegment(t, "wiki", 1, 0, 3001)); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("Budget with 2,000 of 5,000 taken = %v", err)
	}
	if _, err := p.Place(context.Background(), testSegment(t, "wiki", 1, 0, 100), &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Budget(testSegment(t, "wiki", 2, 0, 100)); !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "maxSegments is 2") {
		t.Fatalf("Budget past maxSegments = %v", err)
	}
	// A claim frees the window.
	first := testSegment(t, "wiki", 0, 0, 2000)
	writeClaim(t, loc1, first)
	if err := p.Budget(testSegment(t, "wiki", 2, 0, 100)); err != nil {
		t.Fatalf("Budget after a claim = %v", err)
	}

	// The disk: loc2 keeps 10,000 free; with 14,000 free it has room for 2,000 bytes only (a copy counts twice).
	mu.Lock()
	disks[loc2] = diskSpace{Total: 100_000, Free: 14_000}
	disks[loc1] = diskSpace{Total: 100_000, Free: 1_000}
	mu.Unlock()
	if err := p.Budget(testSegment(t, "wiki", 3, 0, 2000)); err != nil {
		t.Fatalf("Budget of 2,000 bytes with 4,000 to spare = %v", err)
	}
	if err := p.Budget(testSegment(t, "wiki", 3, 0, 2001)); !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), loc2) {
		t.Fatalf("Budget of 2,001 bytes with 4,000 to spare = %v", err)
	}

	// Statically: maxSize + window + the space kept free must fit the disk.
	mu.Lock()
	disks[loc1] = diskSpace{Total: 84_000, Free: 80_000}
	mu.Unlock()
	err = p.staticFit(p.locs[0])
	if err == nil || !strings.Contains(err.Error(), "maxSize 80000") {
		t.Fatalf("staticFit = %v", err)
	}
	if err := p.staticFit(p.locs[1]); err != nil {
		t.Fatalf("staticFit of a location without maxSize = %v", err)
	}
}

func TestClaimedCopiesRefuseDiscard(t *testing.T) {
	loc := t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.FlatLayout, "1m", PrefetchOptions{})
	ctx := context.Background()

	claimed := testSegment(t, "wiki", 0, 0, 1000)
	if _, err := p.Place(ctx, claimed, &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	writeClaim(t, loc, claimed)
	if !p.Claimed(claimed.ID()) {
		t.Fatal("Claimed = false with the info file there")
	}
	if err := p.Discard(claimed); !errors.Is(err, ErrNotPlaced) && !errors.Is(err, ErrClaimed) {
		t.Fatalf("Discard of a claimed copy = %v", err)
	}
	if _, err := os.Stat(segDir(t, p, loc, claimed)); err != nil {
		t.Fatalf("a claimed copy was removed: %v", err)
	}

	// Claimed between Place and Discard, never observed through Claimed.
	late := testSegment(t, "wiki", 1, 0, 1000)
	if _, err := p.Place(ctx, late, &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	writeClaim(t, loc, late)
	if err := p.Discard(late); !errors.Is(err, ErrClaimed) {
		t.Fatalf("Discard of a copy claimed meanwhile = %v, want ErrClaimed", err)
	}

	// A load in progress into the copy (the Historical created its marker in it).
	marked := testSegment(t, "wiki", 2, 0, 1000)
	if _, err := p.Place(ctx, marked, &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(segDir(t, p, loc, marked), DownloadStartMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Discard(marked); !errors.Is(err, ErrClaimed) {
		t.Fatalf("Discard of a marked copy = %v, want ErrClaimed", err)
	}
	if _, err := os.Stat(filepath.Join(segDir(t, p, loc, marked), "version.bin")); err != nil {
		t.Fatalf("a marked copy was removed: %v", err)
	}

	// Deleted and re-created by the Historical: no longer ours.
	redone := testSegment(t, "wiki", 3, 0, 1000)
	if _, err := p.Place(ctx, redone, &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	dir := segDir(t, p, loc, redone)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeSegmentDir(t, dir, segmentFilesFor(1000, "h"))
	if err := p.Discard(redone); !errors.Is(err, ErrNotPlaced) {
		t.Fatalf("Discard of a re-created directory = %v, want ErrNotPlaced", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the Historical's directory was removed: %v", err)
	}
	if un := p.Unclaimed(); len(un) != 0 {
		t.Fatalf("Unclaimed = %+v, want none", un)
	}
	assertNoDebris(t, loc)
}

func TestRecentDropInNestedParent(t *testing.T) {
	loc := t.TempDir()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.NestedLayout, "1m", PrefetchOptions{Now: clock})
	ctx := context.Background()
	dropped := testSegment(t, "wiki", 0, 0, 1000)
	sibling := testSegment(t, "wiki", 0, 1, 1000)

	// A Historical's load of a sibling is a creation in the parent: no obstacle.
	writeSegmentDir(t, segDir(t, p, loc, dropped), segmentFilesFor(1000, "d"))
	if err := p.recentDrop(p.locs[0], strings.TrimPrefix(segDir(t, p, loc, sibling), loc+"/")); err != nil {
		t.Fatalf("a creation counted as a drop: %v", err)
	}
	// Its drop deletes the directory, later: the parent changed by a removal.
	time.Sleep(2 * creationSlack)
	if err := os.RemoveAll(segDir(t, p, loc, dropped)); err != nil {
		t.Fatal(err)
	}
	puller := &fakePuller{}
	_, err := p.Place(ctx, sibling, puller)
	if !errors.Is(err, ErrRecentDrop) {
		t.Fatalf("Place right after a drop = %v, want ErrRecentDrop", err)
	}
	if puller.pulls.Load() != 0 {
		t.Fatal("pulled although the parent is not quiet")
	}
	assertNoDebris(t, loc)
	// A minute later.
	mu.Lock()
	now = now.Add(dropQuiet + time.Second)
	mu.Unlock()
	if pl, err := p.Place(ctx, sibling, puller); err != nil || pl.Outcome != Placed {
		t.Fatalf("Place a minute after the drop = %+v, %v", pl, err)
	}
}

func TestCleanStagingAndLedgerAcrossRestarts(t *testing.T) {
	loc := t.TempDir()
	locs := []testLoc{{path: loc}}
	p := newTestPrefetcher(t, locs, configs.FlatLayout, "1m", PrefetchOptions{})
	ctx := context.Background()
	kept := testSegment(t, "wiki", 0, 0, 1000)
	if _, err := p.Place(ctx, kept, &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	replaced := testSegment(t, "wiki", 1, 0, 1000)
	if _, err := p.Place(ctx, replaced, &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	p.Close()

	// Leftovers of a crash: a staging directory mid-pull, trash of a discard, a ledger write cut short.
	writeSegmentDir(t, filepath.Join(loc, PrefetchDir, kept.ID().String()+".0123456789abcdef"), segmentFilesFor(100, "s"))
	writeSegmentDir(t, filepath.Join(loc, PrefetchDir, "trash-x.0123456789abcdef"), segmentFilesFor(100, "t"))
	if err := os.WriteFile(filepath.Join(loc, ledgerDir, ".123.0123456789abcdef"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The Historical deleted and re-created one of the copies.
	dir := filepath.Join(loc, replaced.ID().String())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeSegmentDir(t, dir, segmentFilesFor(1000, "h"))

	p = newTestPrefetcher(t, locs, configs.FlatLayout, "1m", PrefetchOptions{})
	if err := p.CleanStaging(); err != nil {
		t.Fatal(err)
	}
	assertNoDebris(t, loc)
	un := p.Unclaimed()
	if len(un) != 1 || un[0].Segment.ID() != kept.ID() || un[0].Bytes != 1000 {
		t.Fatalf("Unclaimed after a restart = %+v, want only %s", un, kept.ID())
	}
	if entries := tree(t, filepath.Join(loc, ledgerDir)); len(entries) != 1 {
		t.Fatalf("ledger = %v, want one entry", entries)
	}
	if err := p.Discard(replaced); !errors.Is(err, ErrNotPlaced) {
		t.Fatalf("Discard of the re-created directory = %v, want ErrNotPlaced", err)
	}
	if err := p.Discard(kept); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); err != nil {
		t.Fatalf("the Historical's directory is gone: %v", err)
	}
}

func TestStagingNamesStayWithinNameMax(t *testing.T) {
	loc := t.TempDir()
	p := newTestPrefetcher(t, []testLoc{{path: loc}}, configs.FlatLayout, "1m", PrefetchOptions{})
	seg := testSegment(t, strings.Repeat("d", 175), 0, 0, 1000)
	if n := len(seg.ID().String()); n < 240 || n > maxNameBytes {
		t.Fatalf("test segment id is %d bytes, want 240..255", n)
	}
	pl, err := p.Place(context.Background(), seg, &fakePuller{})
	if err != nil || pl.Outcome != Placed {
		t.Fatalf("Place = %+v, %v", pl, err)
	}
	if err := p.Discard(seg); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{stagingName("", seg.ID().String()), stagingName("trash-", seg.ID().String())} {
		if len(n) > maxNameBytes {
			t.Fatalf("name of %d bytes", len(n))
		}
	}
}
