package segcache

import (
	"context"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCacheMetrics(t *testing.T) {
	locA, locB := t.TempDir(), t.TempDir()
	disks := map[string]diskSpace{
		locA: {Total: 1 << 40, Free: 1 << 39},
		locB: {Total: 100_000, Free: 50_000},
	}
	reg := prometheus.NewPedanticRegistry()
	opts := CacheOptions{Registerer: reg, statfs: func(p string) (diskSpace, error) { return disks[p], nil }}
	// A is bounded by its maxSize, B (no maxSize) by its disk, 10% of which stays free.
	cfg := testConfig(t, []testLoc{{path: locA, maxSize: 10_000}, {path: locB, freePercent: 10}})
	c := newTestCache(t, cfg, opts)
	// A second cache cannot take the same registry; NewCache says so.
	if _, err := NewCache(cfg, CacheOptions{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "registering the segment cache metrics") {
		t.Errorf("NewCache with a registry already holding a cache's metrics: %v", err)
	}

	// leastBytesUsed: 1,000 bytes to A, 3,000 to B (then the emptier), 500 to A.
	p := &fakePuller{}
	segs := []*segments.DataSegment{testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 3000), testSegment(t, "wiki", 2, 0, 500)}
	for _, s := range segs {
		if _, err := c.Load(context.Background(), s, p); err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprintf(`
# HELP druid_sidecar_segment_cache_free_bytes Bytes the location can still take: below maxSize and within the filesystem's free space less freeSpacePercent.
# TYPE druid_sidecar_segment_cache_free_bytes gauge
druid_sidecar_segment_cache_free_bytes{location=%[1]q} 8500
druid_sidecar_segment_cache_free_bytes{location=%[2]q} 40000
# HELP druid_sidecar_segment_cache_max_bytes The location's maxSize (Druid's segment/max); the filesystem's size when no maxSize is configured.
# TYPE druid_sidecar_segment_cache_max_bytes gauge
druid_sidecar_segment_cache_max_bytes{location=%[1]q} 10000
druid_sidecar_segment_cache_max_bytes{location=%[2]q} 100000
%[3]s# HELP druid_sidecar_segment_cache_segments Segments loaded or loading in the location (Druid's segment/count).
# TYPE druid_sidecar_segment_cache_segments gauge
druid_sidecar_segment_cache_segments{location=%[1]q} 2
druid_sidecar_segment_cache_segments{location=%[2]q} 1
# HELP druid_sidecar_segment_cache_used_bytes Bytes accounted to the location: loaded segments, loads in progress and files awaiting deletion (Druid's segment/used).
# TYPE druid_sidecar_segment_cache_used_bytes gauge
druid_sidecar_segment_cache_used_bytes{location=%[1]q} 1500
druid_sidecar_segment_cache_used_bytes{location=%[2]q} 3000
`, locA, locB, problemsExposition(nil))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// No label value is, or names, a segment.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				if mf.GetName() == "druid_sidecar_segment_cache_problems" && lp.GetName() == "kind" && slices.Contains(problemKinds, ProblemKind(v)) {
					continue
				}
				if lp.GetName() != "location" || (v != locA && v != locB) || len(segments.PossibleSegmentIDs(v)) > 0 || strings.Contains(v, "wiki") {
					t.Errorf("%s{%s=%q}: not a location path", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
}

// Without a maxSize and without a readable filesystem there is no bound to report: max and free are left out.
func TestCacheMetricsUnknownDisk(t *testing.T) {
	loc := t.TempDir()
	reg := prometheus.NewPedanticRegistry()
	opts := CacheOptions{Registerer: reg, statfs: func(string) (diskSpace, error) { return diskSpace{}, fmt.Errorf("no statfs") }}
	newTestCache(t, testConfig(t, []testLoc{{path: loc}}), opts)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 2+len(problemKinds) {
		t.Errorf("%d series (%v), want used_bytes, segments and the problems only", n, err)
	}
	if n, err := testutil.GatherAndCount(reg, "druid_sidecar_segment_cache_max_bytes", "druid_sidecar_segment_cache_free_bytes"); err != nil || n != 0 {
		t.Errorf("%d max/free series (%v), want none", n, err)
	}
}

// problemsExposition is the text exposition of druid_sidecar_segment_cache_problems with the given counts.
func problemsExposition(counts map[ProblemKind]int) string {
	var b strings.Builder
	b.WriteString("# HELP druid_sidecar_segment_cache_problems " + strings.ReplaceAll(cacheProblemsDescHelp, "\\", "\\\\") + "\n")
	b.WriteString("# TYPE druid_sidecar_segment_cache_problems gauge\n")
	kinds := slices.Clone(problemKinds)
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "druid_sidecar_segment_cache_problems{kind=%q} %d\n", k, counts[k])
	}
	return b.String()
}

// TestCacheProblemsMetric: what a startup leaves in place shows in the problems gauge until a check finds it gone.
func TestCacheProblemsMetric(t *testing.T) {
	loc := t.TempDir()
	for day := range 3 {
		writeSegmentDir(t, filepath.Join(loc, testSegment(t, "wiki", day, 0, 1000).ID().String()), segmentFilesFor(1000, "a"))
	}
	partial := segmentFilesFor(1000, "b")
	partial[DownloadStartMarker] = nil
	writeSegmentDir(t, filepath.Join(loc, testSegment(t, "wiki", 9, 0, 1000).ID().String()), partial)
	reg := prometheus.NewPedanticRegistry()
	c := newTestCache(t, testConfig(t, []testLoc{{path: loc}}), CacheOptions{Registerer: reg})
	want := problemsExposition(map[ProblemKind]int{ProblemOrphaned: 3, ProblemPartial: 1})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "druid_sidecar_segment_cache_problems"); err != nil {
		t.Error(err)
	}
	if _, err := c.Verify(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(problemsExposition(nil)), "druid_sidecar_segment_cache_problems"); err != nil {
		t.Error(err)
	}
	if entries, _ := os.ReadDir(loc); len(entries) != 2 { // info_dir and __drop
		t.Errorf("after the repair: %v", entries)
	}
}
