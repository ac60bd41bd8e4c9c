package segcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

const hour = "druid.segmentCache.dropSegmentDelayMillis=3600000"

func TestLayoutPaths(t *testing.T) {
	seg := testSegment(t, "wiki", 0, 3, 100)
	flat, _ := newLayout("flat")
	nested, _ := newLayout("nested")
	id := "wiki_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_2025-02-01T00:00:00.000Z_3"
	if rel, name, err := flat.rel(seg.ID()); err != nil || rel != id || name != id {
		t.Errorf("flat: %q %q %v", rel, name, err)
	}
	want := "wiki/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/2025-02-01T00:00:00.000Z/3"
	if rel, name, err := nested.rel(seg.ID()); err != nil || rel != want || name != id {
		t.Errorf("nested: %q %q %v", rel, name, err)
	}
	p0 := testSegment(t, "wiki", 0, 0, 100)
	if rel, _, _ := nested.rel(p0.ID()); !strings.HasSuffix(rel, "/0") {
		t.Errorf("nested partition 0: %q", rel)
	}
}

func TestLayoutRefusesUnsafeIDs(t *testing.T) {
	flat, _ := newLayout("flat")
	nested, _ := newLayout("nested", "info_dir")
	for _, tc := range []struct {
		ds, version string
		flatOK      bool
		nestedOK    bool
	}{
		{ds: "../../etc", version: "v"},
		{ds: "a/b", version: "v"},
		{ds: ".hidden", version: "v"},
		{ds: "ds", version: "../../x"},
		{ds: "ds", version: "..", flatOK: true},
		{ds: "ds", version: "a\x00b"},
		{ds: "__drop", version: "v", flatOK: true},
		{ds: "info_dir", version: "v", flatOK: true},
		{ds: strings.Repeat("x", 240), version: "v"},
		{ds: strings.Repeat("x", 150), version: "v", flatOK: true, nestedOK: true},
		{ds: "wiki:edits ünïcode", version: "2025-01-01T00:00:00.000Z", flatOK: true, nestedOK: true},
	} {
		id := segments.SegmentID{DataSource: tc.ds, Interval: segments.Interval{Start: 0, End: 86400000}, Version: tc.version}
		_, _, ferr := flat.rel(id)
		_, _, nerr := nested.rel(id)
		if (ferr == nil) != tc.flatOK || (nerr == nil) != tc.nestedOK {
			t.Errorf("%q/%q: flat %v, nested %v", tc.ds, tc.version, ferr, nerr)
		}
		for _, err := range []error{ferr, nerr} {
			if err != nil && !errors.Is(err, ErrUnsafeSegmentID) {
				t.Errorf("%q: %v does not match ErrUnsafeSegmentID", tc.ds, err)
			}
		}
	}
}

func TestLoadUnsafeSegmentCreatesNothing(t *testing.T) {
	base := t.TempDir()
	loc := filepath.Join(base, "loc")
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}), CacheOptions{})
	p := &fakePuller{}
	for _, ds := range []string{"../../escape", "a/b", ".x"} {
		seg := testSegment(t, ds, 0, 0, 100)
		if _, err := c.Load(context.Background(), seg, p); !errors.Is(err, ErrUnsafeSegmentID) {
			t.Errorf("%q: %v", ds, err)
		}
		if err := c.Drop(seg); !errors.Is(err, ErrUnsafeSegmentID) {
			t.Errorf("drop %q: %v", ds, err)
		}
	}
	if p.pulls.Load() != 0 {
		t.Error("pulled an unsafe segment")
	}
	if got := tree(t, base); strings.Join(got, " ") != "loc/ loc/info_dir/" {
		t.Errorf("tree: %v", got)
	}
}

func TestLoadDropBootstrap(t *testing.T) {
	for _, layout := range []string{"flat", "nested"} {
		t.Run(layout, func(t *testing.T) {
			loc := t.TempDir()
			cfg := testConfig(t, []testLoc{{path: loc}}, "druid.sidecar.cacheLayout="+layout, "druid.segmentCache.dropSegmentDelayMillis=10")
			c := newTestCache(t, cfg, CacheOptions{})
			p := &fakePuller{}
			ctx := context.Background()
			var segs []*segments.DataSegment
			for i := range 3 {
				seg := testSegment(t, "wiki:edits", i, i, 1000+int64(i))
				segs = append(segs, seg)
				dir, err := c.Load(ctx, seg, p)
				if err != nil {
					t.Fatal(err)
				}
				rel, name, _ := c.layout.rel(seg.ID())
				if dir != filepath.Join(loc, rel) {
					t.Errorf("dir %s, want %s", dir, filepath.Join(loc, rel))
				}
				if _, err := os.Stat(filepath.Join(dir, DownloadStartMarker)); !os.IsNotExist(err) {
					t.Errorf("marker left behind: %v", err)
				}
				info, err := os.ReadFile(filepath.Join(loc, "info_dir", name))
				if err != nil {
					t.Fatal(err)
				}
				want, _ := seg.AppendJSON(nil)
				if !bytes.Equal(info, want) {
					t.Errorf("info file %s, want %s", info, want)
				}
			}
			if u := c.Usage()[0]; u.Used != 3003 || u.Segments != 3 {
				t.Errorf("usage %+v", u)
			}
			if got := c.List(); len(got) != 3 || got[0].State != "loaded" {
				t.Errorf("list %+v", got)
			}
			// A second load returns at once.
			if _, err := c.Load(ctx, segs[0], p); err != nil || p.pulls.Load() != 3 {
				t.Fatalf("reload: %v, %d pulls", err, p.pulls.Load())
			}
			c.Close()

			// Restart.
			c2 := newTestCacheNoBootstrap(t, cfg)
			got, rep, err := c2.Bootstrap(ctx)
			if err != nil || len(got) != 3 || len(rep.Problems) != 0 || rep.Bytes != 3003 {
				t.Fatalf("bootstrap: %d segments, %+v, %v", len(got), rep, err)
			}
			if u := c2.Usage()[0]; u.Used != 3003 || u.Segments != 3 {
				t.Errorf("usage after bootstrap %+v", u)
			}
			if _, err := c2.Load(ctx, segs[1], p); err != nil || p.pulls.Load() != 3 {
				t.Fatalf("load of a bootstrapped segment: %v, %d pulls", err, p.pulls.Load())
			}
			// Drop: the info file goes at once, the files after the delay, through __drop.
			for _, seg := range segs {
				if err := c2.Drop(seg); err != nil {
					t.Fatal(err)
				}
				_, name, _ := c2.layout.rel(seg.ID())
				if _, err := os.Stat(filepath.Join(loc, "info_dir", name)); !os.IsNotExist(err) {
					t.Errorf("info file still there after drop: %v", err)
				}
			}
			waitFor(t, func() bool { return len(c2.List()) == 0 && c2.Usage()[0].Used == 0 })
			if got := tree(t, loc); strings.Join(got, " ") != "__drop/ info_dir/" {
				t.Errorf("after drops: %v", got)
			}
			if u := c2.Usage()[0]; u.Used != 0 || u.Segments != 0 {
				t.Errorf("usage after drops %+v", u)
			}
		})
	}
}

func newTestCacheNoBootstrap(t testing.TB, cfg *configs.Config) *Cache {
	t.Helper()
	c, err := NewCache(cfg, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestTombstone(t *testing.T) {
	loc := t.TempDir()
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc, maxSize: 10}}), CacheOptions{})
	ts := segments.NewTombstone("wiki", segments.Interval{Start: 0, End: 86400000}, "v1")
	p := &fakePuller{files: func(*segments.DataSegment) map[string][]byte {
		return map[string][]byte{"factory.json": []byte(`{"type":"tombstoneSegmentFactory"}`)}
	}}
	if _, err := c.Load(context.Background(), &ts, p); err != nil {
		t.Fatal(err)
	}
	if u := c.Usage()[0]; u.Used != 1 {
		t.Errorf("a tombstone counts its size 1, got %d", u.Used)
	}
	rep, err := c.Verify(context.Background(), false)
	if err != nil || len(rep.Problems) != 0 || rep.Segments != 1 {
		t.Errorf("verify: %+v %v", rep, err)
	}
}

func TestLoadsCoalesce(t *testing.T) {
	c := newTestCache(t, testConfig(t, []testLoc{{path: t.TempDir()}}), CacheOptions{})
	g := newGate()
	p := &fakePuller{before: g.wait}
	seg := testSegment(t, "wiki", 0, 0, 500)
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Go(func() { dirs[i], errs[i] = c.Load(context.Background(), seg, p) })
	}
	waitFor(t, func() bool { return g.waiting.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	g.open()
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("load %d: %q %v", i, dirs[i], errs[i])
		}
	}
	if p.pulls.Load() != 1 {
		t.Errorf("%d pulls, want 1", p.pulls.Load())
	}
}

func TestJoinedLoadSurvivesCallerCancel(t *testing.T) {
	c := newTestCache(t, testConfig(t, []testLoc{{path: t.TempDir()}}), CacheOptions{})
	seg := testSegment(t, "wiki", 0, 0, 500)
	first := true
	var mu sync.Mutex
	started := make(chan struct{})
	p := &fakePuller{before: func(*segments.DataSegment) error {
		mu.Lock()
		f := first
		first = false
		mu.Unlock()
		if f {
			close(started)
			time.Sleep(50 * time.Millisecond)
			return context.Canceled
		}
		return nil
	}}
	ctx1, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := c.Load(ctx1, seg, p); errc <- err }()
	<-started
	if _, err := c.Load(context.Background(), seg, p); err != nil {
		t.Fatalf("the joined load failed with its leader: %v", err)
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v", err)
	}
}

func TestConcurrentLoadsRespectMaxSize(t *testing.T) {
	loc := t.TempDir()
	const size = 1000
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc, maxSize: 3*size + size/2}}), CacheOptions{})
	g := newGate()
	p := &fakePuller{before: g.wait}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	var failedEarly atomic.Int64
	for i := range 10 {
		wg.Go(func() {
			_, errs[i] = c.Load(context.Background(), testSegment(t, "wiki", i, 0, size), p)
			if errs[i] != nil {
				failedEarly.Add(1)
			}
		})
	}
	// Seven loads fail at once for want of room; three wait in their pulls.
	waitFor(t, func() bool { return failedEarly.Load() == 7 && g.waiting.Load() == 3 })
	if u := c.Usage()[0]; u.Used != 3*size || u.Segments != 3 {
		t.Errorf("reserved %+v", u)
	}
	g.open()
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if !strings.Contains(err.Error(), "no segment cache location can hold its 1000 bytes") {
				t.Errorf("error: %v", err)
			}
		}
	}
	if failed != 7 || p.pulls.Load() != 3 {
		t.Errorf("%d failed, %d pulls", failed, p.pulls.Load())
	}
	if n := len(tree(t, loc)); n != 1+3+3*4 { // info_dir/, 3 info files, 3 dirs with 3 files
		t.Errorf("tree: %v", tree(t, loc))
	}
}

func TestFreeSpacePercent(t *testing.T) {
	loc := t.TempDir()
	var mu sync.Mutex
	disk := diskSpace{Total: 100_000, Free: 12_500}
	opts := CacheOptions{statfs: func(string) (diskSpace, error) {
		mu.Lock()
		defer mu.Unlock()
		return disk, nil
	}}
	// 10% of the disk (10,000 bytes) stays free: 2,500 bytes of room.
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc, freePercent: 10}}), opts)
	g := newGate()
	p := &fakePuller{before: g.wait}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := c.Load(ctx, testSegment(t, "wiki", 0, 0, 2000), p); done <- err }()
	waitFor(t, func() bool { return g.waiting.Load() == 1 })
	// The first load's 2,000 bytes are not written yet, but count: 500 bytes of room remain.
	if _, err := c.Load(ctx, testSegment(t, "wiki", 1, 0, 600), p); err == nil || !strings.Contains(err.Error(), "kept free") {
		t.Errorf("second load: %v", err)
	}
	g.open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	disk.Free -= 2000 // the files landed
	mu.Unlock()
	if _, err := c.Load(ctx, testSegment(t, "wiki", 1, 0, 400), p); err != nil {
		t.Errorf("a load that fits: %v", err)
	}
}

func TestLocationStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		want     []int // location index of each of four loads of equal size
	}{
		{"leastBytesUsed", []int{0, 1, 2, 0}},
		{"roundRobin", []int{0, 1, 2, 0}},
		{"mostAvailableSize", []int{2, 2, 0, 2}}, // maxSize 3000, 2000, 5000; ties go to the first
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			base := t.TempDir()
			locs := []testLoc{{path: filepath.Join(base, "a"), maxSize: 3000}, {path: filepath.Join(base, "b"), maxSize: 2000},
				{path: filepath.Join(base, "c"), maxSize: 5000}}
			c := newTestCache(t, testConfig(t, locs, "druid.segmentCache.locationSelector.strategy="+tc.strategy), CacheOptions{})
			for i, want := range tc.want {
				dir, err := c.Load(context.Background(), testSegment(t, "wiki", i, 0, 1000), &fakePuller{})
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(dir, locs[want].path+"/") {
					t.Errorf("load %d went to %s, want %s", i, dir, locs[want].path)
				}
			}
		})
	}
	t.Run("random", func(t *testing.T) {
		base := t.TempDir()
		locs := []testLoc{{path: filepath.Join(base, "a")}, {path: filepath.Join(base, "b")}}
		c := newTestCache(t, testConfig(t, locs, "druid.segmentCache.locationSelector.strategy=random"), CacheOptions{})
		seen := map[string]bool{}
		for i := range 40 {
			dir, err := c.Load(context.Background(), testSegment(t, "wiki", i, 0, 100), &fakePuller{})
			if err != nil {
				t.Fatal(err)
			}
			seen[filepath.Dir(dir)] = true
		}
		if len(seen) != 2 {
			t.Errorf("random used %v", seen)
		}
	})
	t.Run("full location falls through", func(t *testing.T) {
		base := t.TempDir()
		locs := []testLoc{{path: filepath.Join(base, "a"), maxSize: 1500}, {path: filepath.Join(base, "b"), maxSize: 1500}}
		c := newTestCache(t, testConfig(t, locs, "druid.segmentCache.locationSelector.strategy=roundRobin"), CacheOptions{})
		for i := range 2 {
			if _, err := c.Load(context.Background(), testSegment(t, "wiki", i, 0, 1000), &fakePuller{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := c.Load(context.Background(), testSegment(t, "wiki", 9, 0, 1000), &fakePuller{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(base, "a")) || !strings.Contains(err.Error(), filepath.Join(base, "b")) {
			t.Errorf("full cache: %v", err)
		}
	})
}

func TestFailedLoadCleansUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *fakePuller
		want string
	}{
		{"pull error after writing", &fakePuller{after: func(*segments.DataSegment) error { return errors.New("connection reset") }}, "connection reset"},
		{"no version.bin", &fakePuller{files: func(seg *segments.DataSegment) map[string][]byte {
			f := segmentFilesFor(seg.Size, "x")
			f["00001.smoosh"] = f["version.bin"]
			delete(f, "version.bin")
			return f
		}}, "version.bin is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := t.TempDir()
			c := newTestCache(t, testConfig(t, []testLoc{{path: loc, maxSize: 5000}}), CacheOptions{})
			_, err := c.Load(context.Background(), testSegment(t, "wiki", 0, 0, 1000), tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if got := tree(t, loc); strings.Join(got, " ") != "__drop/ info_dir/" {
				t.Errorf("left behind: %v", got)
			}
			if u := c.Usage()[0]; u.Used != 0 || u.Segments != 0 {
				t.Errorf("reservation not released: %+v", u)
			}
			// And it loads once deep storage behaves.
			if _, err := c.Load(context.Background(), testSegment(t, "wiki", 0, 0, 1000), &fakePuller{}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLoadDropLoadWithinDelay(t *testing.T) {
	loc := t.TempDir()
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}, hour), CacheOptions{})
	p := &fakePuller{}
	seg := testSegment(t, "wiki", 0, 0, 1000)
	ctx := context.Background()
	dir, err := c.Load(ctx, seg, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Drop(seg); err != nil {
		t.Fatal(err)
	}
	if l := c.List(); len(l) != 1 || l[0].State != "dropping" {
		t.Fatalf("list while dropping: %+v", l)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("files deleted before the delay")
	}
	dir2, err := c.Load(ctx, seg, p)
	if err != nil || dir2 != dir || p.pulls.Load() != 1 {
		t.Fatalf("reload within the delay: %s %v, %d pulls", dir2, err, p.pulls.Load())
	}
	if _, err := os.Stat(filepath.Join(loc, "info_dir", seg.ID().String())); err != nil {
		t.Errorf("info file not written again: %v", err)
	}
	if u := c.Usage()[0]; u.Used != 1000 || u.Segments != 1 {
		t.Errorf("usage %+v", u)
	}

	// Files damaged during the delay are pulled again.
	if err := c.Drop(seg); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "meta.smoosh"))
	if _, err := c.Load(ctx, seg, p); err != nil || p.pulls.Load() != 2 {
		t.Fatalf("reload of damaged files: %v, %d pulls", err, p.pulls.Load())
	}
	if u := c.Usage()[0]; u.Used != 1000 || u.Segments != 1 {
		t.Errorf("usage %+v", u)
	}
}

func TestLoadAfterDeleteRepulls(t *testing.T) {
	loc := t.TempDir()
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}, "druid.segmentCache.dropSegmentDelayMillis=0"), CacheOptions{})
	p := &fakePuller{}
	seg := testSegment(t, "wiki", 0, 0, 1000)
	for range 5 {
		if _, err := c.Load(context.Background(), seg, p); err != nil {
			t.Fatal(err)
		}
		if err := c.Drop(seg); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return len(c.List()) == 0 && c.Usage()[0].Used == 0 })
	if _, err := c.Load(context.Background(), seg, p); err != nil {
		t.Fatal(err)
	}
	if got := c.Usage()[0]; got.Used != 1000 || got.Segments != 1 {
		t.Errorf("usage %+v", got)
	}
}

func TestDropUnknownRemovesFiles(t *testing.T) {
	loc := t.TempDir()
	cfg := testConfig(t, []testLoc{{path: loc}}, "druid.segmentCache.dropSegmentDelayMillis=0")
	c := newTestCacheNoBootstrap(t, cfg)
	seg := testSegment(t, "wiki", 0, 0, 1000)
	dir := filepath.Join(loc, seg.ID().String())
	writeSegmentDir(t, dir, segmentFilesFor(1000, "x"))
	if err := c.Drop(seg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := os.Stat(dir); return os.IsNotExist(err) })
}

func writeSegmentDir(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeInfo(t testing.TB, infoDir, name string, seg *segments.DataSegment) {
	t.Helper()
	data, err := seg.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(infoDir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBootstrapRepairs builds every kind of damage a crash or an operator can leave and checks that Bootstrap
// deletes no more than a Druid 35+ Historical's startup does (the leftovers in __drop, the info files of segments
// that are nowhere), announces complete segments only (those over maxSize too, as Druid does) and reports the rest
// in place; then that a repair removes what is wrong and leaves alone what is not a segment.
func TestBootstrapRepairs(t *testing.T) {
	loc := t.TempDir()
	info := filepath.Join(loc, "info_dir")
	os.MkdirAll(info, 0o755)
	cfg := testConfig(t, []testLoc{{path: loc, maxSize: 10_000}})
	mk := func(day int, size int64, files map[string][]byte, withInfo bool) *segments.DataSegment {
		seg := testSegment(t, "wiki", day, 0, size)
		if files != nil {
			writeSegmentDir(t, filepath.Join(loc, seg.ID().String()), files)
		}
		if withInfo {
			writeInfo(t, info, seg.ID().String(), seg)
		}
		return seg
	}
	good := mk(0, 1000, segmentFilesFor(1000, "a"), true)
	partialFiles := segmentFilesFor(1000, "b")
	partialFiles[DownloadStartMarker] = nil
	partial := mk(1, 1000, partialFiles, true)
	broken := segmentFilesFor(1000, "c")
	delete(broken, "version.bin")
	corrupt := mk(2, 1000, broken, true)
	orphan := mk(3, 1000, segmentFilesFor(1000, "d"), false)
	missing := mk(4, 1000, nil, true)
	// Over the 10,000 bytes of maxSize with the others: ids sort by day, so day 5 (9,000 bytes) passes and day 6
	// does not.
	big := mk(5, 8000, segmentFilesFor(8000, "e"), true)
	over := mk(6, 1500, segmentFilesFor(1500, "f"), true)
	// A truncated info file (Druid 35 and older write in place).
	trunc := mk(7, 1000, segmentFilesFor(1000, "g"), false)
	full, _ := trunc.AppendJSON(nil)
	os.WriteFile(filepath.Join(info, trunc.ID().String()), full[:len(full)/2], 0o644)
	// An info file not named after its id is ignored and left alone.
	os.WriteFile(filepath.Join(info, "someone-else"), full, 0o644)
	// A temporary info file of an interrupted atomic write.
	tmpInfo := "info_dir/." + good.ID().String() + ".1234"
	os.WriteFile(filepath.Join(loc, tmpInfo), full[:5], 0o644)
	// Leftovers of an interrupted delete.
	writeSegmentDir(t, filepath.Join(loc, DropDir, "x.123"), segmentFilesFor(100, "h"))
	// Not segments: the prefetcher's staging area, lost+found, a file.
	writeSegmentDir(t, filepath.Join(loc, PrefetchDir, good.ID().String()+".nonce"), segmentFilesFor(1000, "i"))
	os.MkdirAll(filepath.Join(loc, "lost+found"), 0o700)
	os.WriteFile(filepath.Join(loc, "README"), []byte("hello"), 0o644)

	// Verify without repair reports and changes nothing.
	c := newTestCacheNoBootstrap(t, cfg)
	before := tree(t, loc)
	rep, err := c.Verify(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if after := tree(t, loc); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("verify without repair changed the cache")
	}
	wantKinds := map[ProblemKind]int{ProblemPartial: 1, ProblemCorrupt: 2, ProblemOrphaned: 2, ProblemMissing: 1,
		ProblemOverLimit: 1, ProblemTrash: 2, ProblemIgnored: 1}
	for k, n := range wantKinds {
		if rep.Count(k) != n {
			t.Errorf("%s: %d, want %d", k, rep.Count(k), n)
		}
	}
	if len(rep.Problems) != 10 || len(rep.Findings()) != 9 || rep.Segments != 3 || rep.Bytes != 10500 {
		for _, p := range rep.Problems {
			t.Log(p)
		}
		t.Errorf("%d problems, %d findings, %d segments, %d bytes", len(rep.Problems), len(rep.Findings()), rep.Segments, rep.Bytes)
	}

	// The startup: only __drop and the info file of the segment that is nowhere go.
	segs, rep, err := c.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 || segs[0].ID() != good.ID() || segs[1].ID() != big.ID() || segs[2].ID() != over.ID() {
		t.Fatalf("bootstrap announced %v", segs)
	}
	for _, p := range rep.Problems {
		removed := p.Kind == ProblemMissing || p.Kind == ProblemTrash && strings.Contains(p.Path, DropDir)
		if p.Repaired != removed {
			t.Errorf("repaired %v: %v", p.Repaired, p)
		}
	}
	got := tree(t, loc)
	for _, gone := range []string{"info_dir/" + missing.ID().String(), DropDir + "/x.123/"} {
		if hasEntry(got, gone) {
			t.Errorf("%s is still there", gone)
		}
	}
	for _, seg := range []*segments.DataSegment{partial, corrupt, orphan, over, trunc} {
		if !hasEntry(got, seg.ID().String()+"/meta.smoosh") {
			t.Errorf("the startup removed %s's files", seg.ID())
		}
	}
	if !hasEntry(got, tmpInfo) || !hasEntry(got, "info_dir/"+partial.ID().String()) || !hasEntry(got, "info_dir/"+trunc.ID().String()) {
		t.Errorf("the startup removed info files: %v", withPrefix(got, "info_dir/"))
	}
	if u := c.Usage()[0]; u.Used != 10500 || u.Segments != 3 {
		t.Errorf("usage %+v", u)
	}

	// The repair removes the rest.
	rep, err = c.Verify(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Kind != ProblemIgnored && !p.Repaired {
			t.Errorf("not repaired: %v", p)
		}
	}
	got = tree(t, loc)
	for _, seg := range []*segments.DataSegment{partial, corrupt, orphan, missing, over, trunc} {
		if len(withPrefix(got, seg.ID().String())) != 0 || hasEntry(got, "info_dir/"+seg.ID().String()) {
			t.Errorf("%s still in the cache", seg.ID())
		}
	}
	for _, want := range []string{"info_dir/someone-else", ".prefetch/" + good.ID().String() + ".nonce/00000.smoosh",
		"lost+found/", "README", "info_dir/" + good.ID().String(), good.ID().String() + "/version.bin",
		"info_dir/" + big.ID().String()} {
		if !hasEntry(got, want) {
			t.Errorf("%s was removed", want)
		}
	}
	if len(withPrefix(got, "__drop/")) != 1 || len(withPrefix(got, "info_dir/.")) != 0 {
		t.Errorf("trash left: %v", got)
	}
	if l := c.List(); len(l) != 2 {
		t.Errorf("the repaired over-limit segment is still listed: %v", l)
	}
	// A second check finds nothing more.
	rep, err = c.Verify(context.Background(), false)
	if err != nil || len(rep.Findings()) != 0 || rep.Segments != 2 {
		t.Errorf("second verify: %+v %v", rep, err)
	}
	if u := c.Usage()[0]; u.Used != 9000 || u.Segments != 2 {
		t.Errorf("usage %+v", u)
	}
}

func TestBootstrapNestedAndMigration(t *testing.T) {
	loc := t.TempDir()
	info := filepath.Join(loc, "info_dir")
	os.MkdirAll(info, 0o755)
	seg := testSegment(t, "wiki", 0, 2, 1000)
	orphan := testSegment(t, "wiki", 0, 3, 1000)
	nested, _ := newLayout("nested")
	rel, _, _ := nested.rel(seg.ID())
	orel, _, _ := nested.rel(orphan.ID())
	writeSegmentDir(t, filepath.Join(loc, rel), segmentFilesFor(1000, "a"))
	writeSegmentDir(t, filepath.Join(loc, orel), segmentFilesFor(1000, "b"))
	writeSegmentDir(t, filepath.Join(loc, "other", "2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z", "v", "0"), segmentFilesFor(1000, "c"))
	writeInfo(t, info, seg.ID().String(), seg)

	// Nested: the segment is found where Druid 34 put it; the orphans are left to a repair, which removes them with
	// their empty parents.
	c := newTestCacheNoBootstrap(t, testConfig(t, []testLoc{{path: loc}}, "druid.sidecar.cacheLayout=nested"))
	segs, rep, err := c.Bootstrap(context.Background())
	if err != nil || len(segs) != 1 || rep.Count(ProblemOrphaned) != 2 || !hasEntry(tree(t, loc), orel+"/") {
		t.Fatalf("nested bootstrap: %v %+v %v", segs, rep, err)
	}
	if rep, err = c.Verify(context.Background(), true); err != nil || rep.Count(ProblemOrphaned) != 2 {
		t.Fatalf("nested repair: %+v %v", rep, err)
	}
	got := tree(t, loc)
	if hasEntry(got, "other/") || hasEntry(got, orel+"/") || !hasEntry(got, rel+"/version.bin") {
		t.Errorf("nested tree: %v", got)
	}
	c.Close()

	// Flat: the segment is moved in, as Druid 35 does, and the empty nested parents go.
	c = newTestCacheNoBootstrap(t, testConfig(t, []testLoc{{path: loc}}))
	segs, rep, err = c.Bootstrap(context.Background())
	if err != nil || len(segs) != 1 || len(rep.Findings()) != 0 {
		t.Fatalf("flat bootstrap: %v %+v %v", segs, rep, err)
	}
	got = tree(t, loc)
	if !hasEntry(got, seg.ID().String()+"/version.bin") || hasEntry(got, "wiki/") {
		t.Errorf("flat tree after migration: %v", got)
	}
}

func TestVerifyLiveCacheLeavesInFlightAlone(t *testing.T) {
	loc := t.TempDir()
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}, hour), CacheOptions{})
	p := &fakePuller{}
	a, b := testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 1000)
	for _, s := range []*segments.DataSegment{a, b} {
		if _, err := c.Load(context.Background(), s, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Drop(b); err != nil { // dropping: files stay, no info file
		t.Fatal(err)
	}
	os.Remove(filepath.Join(loc, a.ID().String(), "version.bin"))
	rep, err := c.Verify(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings()) != 1 || rep.Problems[0].Kind != ProblemCorrupt || !rep.Problems[0].Repaired {
		t.Fatalf("%+v", rep)
	}
	l := c.List()
	if len(l) != 1 || l[0].Segment.ID() != b.ID() || l[0].State != "dropping" {
		t.Errorf("list after repair: %+v", l)
	}
	if _, err := os.Stat(filepath.Join(loc, b.ID().String())); err != nil {
		t.Errorf("the dropping segment's files were touched: %v", err)
	}
	// Taken back, it loads; the broken one is pulled again.
	for _, s := range []*segments.DataSegment{a, b} {
		if _, err := c.Load(context.Background(), s, p); err != nil {
			t.Fatal(err)
		}
	}
	if p.pulls.Load() != 3 {
		t.Errorf("%d pulls, want 3", p.pulls.Load())
	}
}

func TestExistingDirectoryIsAdopted(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	cfg := testConfig(t, []testLoc{{path: a}, {path: b}})
	c := newTestCache(t, cfg, CacheOptions{})
	seg := testSegment(t, "wiki", 0, 0, 1000)
	// A placed prefetch in the second location is used as it is.
	writeSegmentDir(t, filepath.Join(b, seg.ID().String()), segmentFilesFor(1000, "p"))
	p := &fakePuller{}
	dir, err := c.Load(context.Background(), seg, p)
	if err != nil || dir != filepath.Join(b, seg.ID().String()) || p.pulls.Load() != 0 {
		t.Fatalf("%s %v %d", dir, err, p.pulls.Load())
	}
	// A partial one is deleted and pulled again.
	seg2 := testSegment(t, "wiki", 1, 0, 1000)
	files := segmentFilesFor(1000, "q")
	files[DownloadStartMarker] = nil
	writeSegmentDir(t, filepath.Join(b, seg2.ID().String()), files)
	if _, err := c.Load(context.Background(), seg2, p); err != nil || p.pulls.Load() != 1 {
		t.Fatalf("%v %d", err, p.pulls.Load())
	}
	if _, err := os.Stat(filepath.Join(b, seg2.ID().String())); !os.IsNotExist(err) {
		t.Errorf("the partial directory is still there: %v", err)
	}
}

func TestCancelledPullCleansUp(t *testing.T) {
	loc := t.TempDir()
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}), CacheOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	p := &fakePuller{after: func(*segments.DataSegment) error { cancel(); return nil }}
	if _, err := c.Load(ctx, testSegment(t, "wiki", 0, 0, 1000), p); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	if got := tree(t, loc); strings.Join(got, " ") != "__drop/ info_dir/" {
		t.Errorf("left: %v", got)
	}
}

func TestNewCacheErrors(t *testing.T) {
	cfg := testConfig(t, nil)
	if _, err := NewCache(cfg, CacheOptions{}); err == nil || !strings.Contains(err.Error(), "druid.segmentCache.locations") {
		t.Errorf("%v", err)
	}
	// An infoDir that is a location, or locations that overlap, never reach the cache: the configuration refuses them.
	loc := t.TempDir()
	for _, sets := range [][]string{
		{`druid.segmentCache.locations=[{"path":"` + loc + `"}]`, "druid.segmentCache.infoDir=" + loc + "/"},
		{`druid.segmentCache.locations=[{"path":"` + loc + `"},{"path":"` + loc + `/sub"}]`},
	} {
		if _, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets, NumCPU: 2}); err == nil {
			t.Errorf("%v: loaded", sets)
		}
	}
}

func TestCustomInfoDirInsideLocationIsNotAnOrphan(t *testing.T) {
	loc := t.TempDir()
	cfg := testConfig(t, []testLoc{{path: loc}}, "druid.segmentCache.infoDir="+filepath.Join(loc, "state", "info"))
	c := newTestCache(t, cfg, CacheOptions{})
	if _, err := c.Load(context.Background(), testSegment(t, "wiki", 0, 0, 1000), &fakePuller{}); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Verify(context.Background(), true)
	if err != nil || len(rep.Problems) != 0 || rep.Segments != 1 {
		t.Errorf("%+v %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(loc, "state", "info")); err != nil {
		t.Error(err)
	}
}

// TestJavaHistoricalCache reads caches laid out as a Java Historical writes them (testdata/cache: Druid 35's flat
// layout and Druid 34's nested one, each with a v9 segment of two partitions and a tombstone) and finds them
// complete, loads nothing again, and rewrites nothing.
func TestJavaHistoricalCache(t *testing.T) {
	for _, tc := range []struct{ fixture, layout string }{{"flat35", "flat"}, {"nested34", "nested"}} {
		t.Run(tc.fixture, func(t *testing.T) {
			loc := filepath.Join(t.TempDir(), "segment-cache")
			if err := os.CopyFS(loc, os.DirFS(filepath.Join("testdata", "cache", tc.fixture))); err != nil {
				t.Fatal(err)
			}
			before := tree(t, loc)
			c := newTestCacheNoBootstrap(t, testConfig(t, []testLoc{{path: loc, maxSize: 1 << 30}}, "druid.sidecar.cacheLayout="+tc.layout))
			rep, err := c.Verify(context.Background(), false)
			if err != nil || len(rep.Problems) != 0 || rep.Segments != 3 || rep.Bytes != 1126+1127+1 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
			segs, rep, err := c.Bootstrap(context.Background())
			if err != nil || len(segs) != 3 || len(rep.Problems) != 0 {
				t.Fatalf("bootstrap: %v %+v %v", segs, rep, err)
			}
			p := &fakePuller{}
			for _, seg := range segs {
				if _, err := c.Load(context.Background(), seg, p); err != nil {
					t.Fatal(err)
				}
			}
			if p.pulls.Load() != 0 {
				t.Errorf("pulled %d segments a Java Historical had cached", p.pulls.Load())
			}
			if after := tree(t, loc); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the cache changed:\n%v\n%v", before, after)
			}
		})
	}
}

// TestConcurrentLoadDropStress loads and drops a few segments from several goroutines at once, with deletions
// racing the loads that take segments back, and checks that the accounting and the disk agree afterwards.
func TestConcurrentLoadDropStress(t *testing.T) {
	loc := t.TempDir()
	cfg := testConfig(t, []testLoc{{path: loc, maxSize: 4000}}, "druid.segmentCache.dropSegmentDelayMillis=1")
	c := newTestCache(t, cfg, CacheOptions{})
	p := &fakePuller{}
	var segs []*segments.DataSegment
	for i := range 6 {
		segs = append(segs, testSegment(t, "wiki", i, 0, 1000))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 150 {
				seg := segs[(i*7+w*3)%len(segs)]
				if (i+w)%3 == 0 {
					if err := c.Drop(seg); err != nil {
						t.Error(err)
					}
				} else if _, err := c.Load(context.Background(), seg, p); err != nil && !strings.Contains(err.Error(), "no segment cache location") {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Let the pending deletions finish.
	waitFor(t, func() bool {
		for _, s := range c.List() {
			if s.State != "loaded" {
				return false
			}
		}
		u := c.Usage()[0]
		return u.Used == int64(len(c.List()))*1000 && u.Segments == len(c.List())
	})
	loaded := map[segments.SegmentID]bool{}
	for _, s := range c.List() {
		loaded[s.Segment.ID()] = true
	}
	c.Close()
	c2 := newTestCacheNoBootstrap(t, cfg)
	got, rep, err := c2.Bootstrap(context.Background())
	if err != nil || len(rep.Findings()) != 0 || len(got) != len(loaded) {
		t.Fatalf("after the stress: %d segments (want %d), %+v, %v", len(got), len(loaded), rep.Problems, err)
	}
	for _, s := range got {
		if !loaded[s.ID()] {
			t.Errorf("%s announced but was not loaded", s.ID())
		}
	}
	t.Logf("%d pulls, %d segments loaded at the end", p.pulls.Load(), len(loaded))
}

// TestCacheRelativeLocation opens a cache whose location is given relative to the working directory, as
// Historicals' runtime.properties often do: the default info_dir inside it must not look like an orphaned segment.
func TestCacheRelativeLocation(t *testing.T) {
	t.Chdir(t.TempDir())
	c := newTestCache(t, testConfig(t, []testLoc{{path: "var/segment-cache"}}), CacheOptions{})
	rep, err := c.Verify(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Findings(); len(f) != 0 {
		t.Fatalf("a fresh cache at a relative location has findings: %+v", f)
	}
	if !filepath.IsAbs(c.InfoDir()) {
		t.Fatalf("info dir %q is not absolute", c.InfoDir())
	}
}

// TestReadErrorsDeleteNothing puts in info_dir, where a segment's info file should be, entries that cannot be read
// (a directory; a symbolic link out of info_dir, which the cache refuses to follow): neither a startup nor a repair
// takes that for corruption, and both leave the info_dir entry and the segment's files where they are.
func TestReadErrorsDeleteNothing(t *testing.T) {
	for _, layout := range []string{"flat", "nested"} {
		t.Run(layout, func(t *testing.T) {
			loc := t.TempDir()
			info := filepath.Join(loc, "info_dir")
			outside := filepath.Join(t.TempDir(), "elsewhere")
			cfg := testConfig(t, []testLoc{{path: loc}}, "druid.sidecar.cacheLayout="+layout)
			l, _ := newLayout(configs.CacheLayout(layout), "info_dir")
			var segs []*segments.DataSegment
			for day := range 2 {
				seg := testSegment(t, "wiki", day, 0, 1000)
				rel, _, _ := l.rel(seg.ID())
				writeSegmentDir(t, filepath.Join(loc, rel), segmentFilesFor(1000, "a"))
				segs = append(segs, seg)
			}
			os.MkdirAll(filepath.Join(info, segs[0].ID().String()), 0o755)
			writeInfo(t, filepath.Dir(outside), filepath.Base(outside), segs[1])
			if err := os.Symlink(outside, filepath.Join(info, segs[1].ID().String())); err != nil {
				t.Fatal(err)
			}
			before := tree(t, loc)
			check := func(what string, rep Report) {
				t.Helper()
				if n := rep.Count(ProblemReadError); n != 2 {
					t.Errorf("%s: %d read errors, want 2: %v", what, n, rep.Problems)
				}
				for _, p := range rep.Problems {
					if p.Repaired || p.Kind == ProblemCorrupt || p.Kind == ProblemOrphaned {
						t.Errorf("%s: %v", what, p)
					}
				}
				if after := tree(t, loc); strings.Join(after, "\n") != strings.Join(before, "\n") {
					t.Errorf("%s changed the cache:\n%v\n%v", what, before, after)
				}
			}
			c := newTestCacheNoBootstrap(t, cfg)
			announced, rep, err := c.Bootstrap(context.Background())
			if err != nil || len(announced) != 0 {
				t.Fatalf("bootstrap: %v %v", announced, err)
			}
			check("bootstrap", rep)
			rep, err = c.Verify(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			check("verify --repair", rep)
		})
	}
}

// TestRepairKeepsPrefetchedCopies: the copies the prefetcher placed for a Java Historical that has not loaded them
// yet have no info file, but are no orphans; a directory the Historical re-created under the same name (another
// identity) is one.
func TestRepairKeepsPrefetchedCopies(t *testing.T) {
	for _, layout := range []configs.CacheLayout{configs.FlatLayout, configs.NestedLayout} {
		t.Run(string(layout), func(t *testing.T) {
			loc := t.TempDir()
			p := newTestPrefetcher(t, []testLoc{{path: loc}}, layout, "1g", PrefetchOptions{})
			kept, replaced := testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 1000)
			for _, seg := range []*segments.DataSegment{kept, replaced} {
				if pl, err := p.Place(context.Background(), seg, &fakePuller{}); err != nil || pl.Outcome != Placed {
					t.Fatalf("%+v %v", pl, err)
				}
			}
			gone := segDir(t, p, loc, replaced)
			if err := os.RemoveAll(gone); err != nil {
				t.Fatal(err)
			}
			writeSegmentDir(t, gone, segmentFilesFor(1000, "z"))
			c := newTestCacheNoBootstrap(t, testConfig(t, []testLoc{{path: loc}}, "druid.sidecar.cacheLayout="+string(layout)))
			rep, err := c.Verify(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemOrphaned || rep.Problems[0].Path != gone || !rep.Problems[0].Repaired {
				t.Errorf("%v", rep.Problems)
			}
			if _, err := os.Stat(filepath.Join(segDir(t, p, loc, kept), "version.bin")); err != nil {
				t.Errorf("the prefetched copy was removed: %v", err)
			}
		})
	}
}

// TestCloseDeletesPendingDrops: a dropped segment whose files wait out the drop delay has them deleted when the
// cache closes, since a startup leaves a directory without an info file in place.
func TestCloseDeletesPendingDrops(t *testing.T) {
	loc := t.TempDir()
	c, err := NewCache(testConfig(t, []testLoc{{path: loc}}, hour), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	kept, dropped := testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 1000)
	for _, seg := range []*segments.DataSegment{kept, dropped} {
		if _, err := c.Load(context.Background(), seg, &fakePuller{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Drop(dropped); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := tree(t, loc)
	if len(withPrefix(got, dropped.ID().String())) != 0 || !hasEntry(got, kept.ID().String()+"/version.bin") {
		t.Errorf("after Close: %v", got)
	}
}

// TestInexactSizes: a segment whose files do not add up to its declared size loads with a warning, as in Druid,
// counts the bytes its files take, and survives a restart; a declared size of 0 loads into a location without
// maxSize.
func TestInexactSizes(t *testing.T) {
	loc := t.TempDir()
	cfg := testConfig(t, []testLoc{{path: loc}})
	c := newTestCacheNoBootstrap(t, cfg)
	if _, _, err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	actual := map[int]int64{0: 1200, 1: 800, 2: 5000}
	p := &fakePuller{files: func(seg *segments.DataSegment) map[string][]byte {
		return segmentFilesFor(actual[int((seg.Interval.Start-1735689600000)/86400000)], "x")
	}}
	segs := []*segments.DataSegment{testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 1000), testSegment(t, "wiki", 2, 0, 0)}
	for _, seg := range segs {
		if _, err := c.Load(context.Background(), seg, p); err != nil {
			t.Fatalf("%s: %v", seg.ID(), err)
		}
	}
	if u := c.Usage()[0]; u.Used != 7000 || u.Segments != 3 {
		t.Errorf("usage %+v, want the 7000 bytes written", u)
	}
	c.Close()
	c = newTestCacheNoBootstrap(t, cfg)
	announced, rep, err := c.Bootstrap(context.Background())
	if err != nil || len(announced) != 3 || len(rep.Findings()) != 0 || rep.Count(ProblemInexactSize) != 2 || rep.Bytes != 7000 {
		t.Fatalf("restart: %v %+v %v", announced, rep, err)
	}
	if got := tree(t, loc); len(withPrefix(got, "wiki_")) != 3*4 {
		t.Errorf("after the restart: %v", got)
	}
}

// TestPullBoundIsTheLocationsRoom: the bound a pull gets is what the location can give, not the declared size: the
// reservation and the room below maxSize, within the disk's free space less the margin and the other loads.
func TestPullBoundIsTheLocationsRoom(t *testing.T) {
	// The second load (declared size 0) comes once the first's 1000 bytes are used; the fake disk does not shrink.
	for _, tc := range []struct {
		name string
		loc  testLoc
		disk diskSpace
		want []int64
	}{
		{"maxSize", testLoc{maxSize: 10_000}, diskSpace{Total: 1 << 40, Free: 1 << 39}, []int64{10_000, 9_000}},
		{"disk", testLoc{}, diskSpace{Total: 100_000, Free: 50_000}, []int64{50_000, 50_000}},
		{"disk less the margin", testLoc{freePercent: 10}, diskSpace{Total: 100_000, Free: 50_000}, []int64{40_000, 40_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.loc.path = t.TempDir()
			opts := CacheOptions{statfs: func(string) (diskSpace, error) { return tc.disk, nil }}
			c := newTestCache(t, testConfig(t, []testLoc{tc.loc}), opts)
			var got []int64
			p := PullerFunc(func(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
				got = append(got, maxBytes)
				return (&fakePuller{}).PullSegment(ctx, seg, dir, maxBytes)
			})
			for day, size := range []int64{1000, 0} {
				if _, err := c.Load(context.Background(), testSegment(t, "wiki", day, 0, size), p); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("bounds %v, want %v", got, tc.want)
			}
		})
	}
}

// clashingSegments are two segments whose ids print alike: version "col_1" partition 0 and version "col" partition 1.
func clashingSegments(t *testing.T) (*segments.DataSegment, *segments.DataSegment) {
	t.Helper()
	mk := func(version string, partition int) *segments.DataSegment {
		js := fmt.Sprintf(`{"dataSource":"wiki","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":%q,`+
			`"loadSpec":{"type":"local","path":"/deep/index.zip"},"dimensions":"","metrics":"","shardSpec":{"type":"numbered",`+
			`"partitionNum":%d,"partitions":0},"binaryVersion":9,"size":1000}`, version, partition)
		seg := new(segments.DataSegment)
		if err := seg.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		return seg
	}
	a, b := mk("col_1", 0), mk("col", 1)
	if a.ID().String() != b.ID().String() || a.ID() == b.ID() {
		t.Fatalf("%s and %s do not clash", a.ID(), b.ID())
	}
	return a, b
}

// TestSegmentIDClash: of two segments whose ids print alike, the second load fails with the cause, never serving
// the first's files; a drop of either one never deletes the other's files; after a restart the same holds.
func TestSegmentIDClash(t *testing.T) {
	for _, layout := range []string{"flat", "nested"} {
		t.Run(layout, func(t *testing.T) {
			loc := t.TempDir()
			cfg := testConfig(t, []testLoc{{path: loc}}, "druid.segmentCache.dropSegmentDelayMillis=0", "druid.sidecar.cacheLayout="+layout)
			a, b := clashingSegments(t)
			p := &fakePuller{}
			c := newTestCache(t, cfg, CacheOptions{})
			dirA, err := c.Load(context.Background(), a, p)
			if err != nil {
				t.Fatal(err)
			}
			infoA, _ := os.ReadFile(filepath.Join(loc, "info_dir", a.ID().String()))
			check := func(what string, c *Cache) {
				t.Helper()
				if dir, err := c.Load(context.Background(), b, p); !errors.Is(err, ErrSegmentIDClash) || dir != "" ||
					!strings.Contains(err.Error(), `version "col", partition 1`) {
					t.Errorf("%s: load of the second: %q %v", what, dir, err)
				}
				if err := c.Drop(b); err != nil {
					t.Errorf("%s: drop of the second: %v", what, err)
				}
				if l := c.List(); len(l) != 1 || l[0].Segment.ID() != a.ID() || l[0].State != "loaded" {
					t.Errorf("%s: list %+v", what, l)
				}
				if _, err := os.Stat(filepath.Join(dirA, "version.bin")); err != nil {
					t.Errorf("%s: the first one's files: %v", what, err)
				}
				if info, _ := os.ReadFile(filepath.Join(loc, "info_dir", a.ID().String())); !bytes.Equal(info, infoA) {
					t.Errorf("%s: the info file is %s", what, info)
				}
			}
			check("running", c)
			if p.pulls.Load() != 1 {
				t.Errorf("%d pulls", p.pulls.Load())
			}
			c.Close()
			c = newTestCache(t, cfg, CacheOptions{})
			check("after a restart", c)
			// Once the first is dropped and deleted, the second loads.
			if err := c.Drop(a); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return len(c.List()) == 0 })
			if _, err := c.Load(context.Background(), b, p); err != nil {
				t.Fatal(err)
			}
			seg, _, err := c.info.read(b.ID().String(), nil)
			if err != nil || seg.ID() != b.ID() {
				t.Errorf("info file of %v: %v", seg, err)
			}
		})
	}
}

// TestSegmentIDClashOnDisk: the other segment's info file alone (its segment not loaded, say partial at startup)
// is enough for the load to be refused and for a drop to leave it alone.
func TestSegmentIDClashOnDisk(t *testing.T) {
	loc := t.TempDir()
	a, b := clashingSegments(t)
	os.MkdirAll(filepath.Join(loc, "info_dir"), 0o755)
	writeInfo(t, filepath.Join(loc, "info_dir"), a.ID().String(), a)
	files := segmentFilesFor(1000, "a")
	files[DownloadStartMarker] = nil
	writeSegmentDir(t, filepath.Join(loc, a.ID().String()), files)
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}, "druid.segmentCache.dropSegmentDelayMillis=0"), CacheOptions{})
	before := tree(t, loc)
	if _, err := c.Load(context.Background(), b, &fakePuller{}); !errors.Is(err, ErrSegmentIDClash) {
		t.Errorf("load: %v", err)
	}
	if err := c.Drop(b); err != nil {
		t.Error(err)
	}
	if after := tree(t, loc); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("changed:\n%v\n%v", before, after)
	}
}

// TestDeleteOnRemoveFalse: as in Druid, a drop removes the info file and, after the delay, stops counting the
// segment against its location, but leaves its files, which the next load of the segment uses without a pull.
func TestDeleteOnRemoveFalse(t *testing.T) {
	loc := t.TempDir()
	cfg := testConfig(t, []testLoc{{path: loc}}, "druid.segmentCache.dropSegmentDelayMillis=0", "druid.segmentCache.deleteOnRemove=false")
	c := newTestCache(t, cfg, CacheOptions{})
	p := &fakePuller{}
	seg, unknown := testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 1000)
	dir, err := c.Load(context.Background(), seg, p)
	if err != nil {
		t.Fatal(err)
	}
	writeSegmentDir(t, filepath.Join(loc, unknown.ID().String()), segmentFilesFor(1000, "u"))
	for _, s := range []*segments.DataSegment{seg, unknown} {
		if err := c.Drop(s); err != nil {
			t.Fatal(err)
		}
	}
	// The list empties when the drop is taken, the usage when its delay has passed: wait for both.
	waitFor(t, func() bool {
		u := c.Usage()[0]
		return len(c.List()) == 0 && u.Used == 0 && u.Segments == 0
	})
	got := tree(t, loc)
	if hasEntry(got, "info_dir/"+seg.ID().String()) || !hasEntry(got, seg.ID().String()+"/version.bin") ||
		!hasEntry(got, unknown.ID().String()+"/version.bin") {
		t.Errorf("after the drops: %v", got)
	}
	if dir2, err := c.Load(context.Background(), seg, p); err != nil || dir2 != dir || p.pulls.Load() != 1 {
		t.Errorf("load again: %s %v, %d pulls", dir2, err, p.pulls.Load())
	}
	// Close deletes nothing either.
	c2 := newTestCache(t, testConfig(t, []testLoc{{path: loc}}, hour, "druid.segmentCache.deleteOnRemove=false"), CacheOptions{})
	c.Close()
	if err := c2.Drop(seg); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if !hasEntry(tree(t, loc), seg.ID().String()+"/version.bin") {
		t.Errorf("Close deleted the files of a drop")
	}
}
