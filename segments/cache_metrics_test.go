package segments

import (
	"context"
	"fmt"
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
	segs := []*DataSegment{testSegment(t, "wiki", 0, 0, 1000), testSegment(t, "wiki", 1, 0, 3000), testSegment(t, "wiki", 2, 0, 500)}
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
# HELP druid_sidecar_segment_cache_segments Segments loaded or loading in the location (Druid's segment/count).
# TYPE druid_sidecar_segment_cache_segments gauge
druid_sidecar_segment_cache_segments{location=%[1]q} 2
druid_sidecar_segment_cache_segments{location=%[2]q} 1
# HELP druid_sidecar_segment_cache_used_bytes Bytes accounted to the location: loaded segments, loads in progress and files awaiting deletion (Druid's segment/used).
# TYPE druid_sidecar_segment_cache_used_bytes gauge
druid_sidecar_segment_cache_used_bytes{location=%[1]q} 1500
druid_sidecar_segment_cache_used_bytes{location=%[2]q} 3000
`, locA, locB)
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
				if lp.GetName() != "location" || (v != locA && v != locB) || len(PossibleSegmentIDs(v)) > 0 || strings.Contains(v, "wiki") {
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
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 2 {
		t.Errorf("%d series (%v), want used_bytes and segments only", n, err)
	}
	if n, err := testutil.GatherAndCount(reg, "druid_sidecar_segment_cache_max_bytes", "druid_sidecar_segment_cache_free_bytes"); err != nil || n != 0 {
		t.Errorf("%d max/free series (%v), want none", n, err)
	}
}
