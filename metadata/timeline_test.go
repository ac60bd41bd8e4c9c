package metadata

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// seg is a compact segment description for the timeline tests: interval, version and shard spec.
type seg struct {
	name     string // label used in expectations
	interval string
	version  string
	shard    segments.ShardSpec
}

func (s seg) build(t *testing.T) *segments.DataSegment {
	return &segments.DataSegment{
		DataSource: "ds", Interval: mustInterval(t, s.interval), Version: s.version, ShardSpec: s.shard, Size: 1,
		LoadSpec: []byte(`{"type":"local","path":"/x"}`),
	}
}

func num(p, n int) segments.ShardSpec { return segments.NumberedShardSpec(p, n) }

func over(id, start, end int, minor, size int16) segments.ShardSpec {
	return segments.NumberedOverwriteShardSpec(id, start, end, minor, size)
}

func str(s string) *string { return &s }

const (
	day1  = "2025-01-01/2025-01-02"
	day2  = "2025-01-02/2025-01-03"
	days  = "2025-01-01/2025-01-03"
	month = "2025-01-01/2025-02-01"
	h00   = "2025-01-01T00:00Z/2025-01-01T12:00Z"
	h12   = "2025-01-01T12:00Z/2025-01-02T00:00Z"
	eter  = "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z"
)

func TestOvershadowed(t *testing.T) {
	cases := []struct {
		name         string
		segs         []seg
		overshadowed []string
	}{
		{"one complete version", []seg{{"a0", day1, "v1", num(0, 2)}, {"a1", day1, "v1", num(1, 2)}}, nil},
		{"newer complete version hides the older", []seg{
			{"a0", day1, "v1", num(0, 2)}, {"a1", day1, "v1", num(1, 2)}, {"b0", day1, "v2", num(0, 1)},
		}, []string{"a0", "a1"}},
		{"newer version missing a core partition hides nothing", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", day1, "v2", num(0, 2)},
		}, nil},
		{"newer version missing partition 0 hides nothing", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b1", day1, "v2", num(1, 2)},
		}, nil},
		{"appended partitions beyond the core set do not matter", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", day1, "v2", num(0, 1)}, {"b5", day1, "v2", num(5, 1)},
		}, []string{"a0"}},
		{"core partitions 0 (appends only): each is complete", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b3", day1, "v2", num(3, 0)},
		}, []string{"a0"}},
		{"older version ends after the newer: not covered", []seg{
			{"a0", days, "v1", num(0, 1)}, {"b0", day1, "v2", num(0, 1)},
		}, nil},
		{"newer pieces cover the whole interval", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", h00, "v2", num(0, 1)}, {"c0", h12, "v3", num(0, 1)},
		}, []string{"a0"}},
		{"a hole in the newer pieces", []seg{
			{"a0", days, "v1", num(0, 1)}, {"b0", h00, "v2", num(0, 1)}, {"c0", day2, "v2", num(0, 1)},
		}, nil},
		{"an incomplete piece makes a hole", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", h00, "v2", num(0, 1)}, {"c0", h12, "v2", num(0, 2)},
		}, nil},
		{"a wider newer version hides several older ones", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", day2, "v1", num(0, 1)}, {"m0", month, "v2", num(0, 1)},
		}, []string{"a0", "b0"}},
		{"an older wider version is not hidden by a narrower newer one", []seg{
			{"m0", month, "v1", num(0, 1)}, {"a0", day1, "v2", num(0, 1)},
		}, nil},
		{"three versions: the newest complete one hides both", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", day1, "v2", num(0, 2)}, {"c0", day1, "v3", num(0, 1)},
		}, []string{"a0", "b0"}},
		{"newest incomplete: the middle complete version still hides the oldest", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", day1, "v2", num(0, 1)}, {"c0", day1, "v3", num(0, 2)},
		}, []string{"a0"}},
		{"a tombstone overshadows", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"a1", day1, "v1", num(1, 0)}, {"t", day1, "v2", segments.TombstoneShardSpec()},
		}, []string{"a0", "a1"}},
		{"an older tombstone is overshadowed", []seg{
			{"t", day1, "v1", segments.TombstoneShardSpec()}, {"b0", day1, "v2", num(0, 1)},
		}, []string{"t"}},
		{"linear partitions are always complete", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"l3", day1, "v2", segments.LinearShardSpec(3)},
		}, []string{"a0"}},
		{"none shard spec", []seg{
			{"a0", day1, "v1", segments.NoneShardSpec()}, {"b0", day1, "v2", segments.NoneShardSpec()},
		}, []string{"a0"}},
		{"hashed: all buckets needed", []seg{
			{"a0", day1, "v1", num(0, 1)},
			{"h0", day1, "v2", segments.HashedShardSpec(0, 2, 0, 2, nil, "murmur3_32_abs")},
		}, nil},
		{"hashed: complete", []seg{
			{"a0", day1, "v1", num(0, 1)},
			{"h0", day1, "v2", segments.HashedShardSpec(0, 2, 0, 2, nil, "murmur3_32_abs")},
			{"h1", day1, "v2", segments.HashedShardSpec(1, 2, 1, 2, nil, "murmur3_32_abs")},
		}, []string{"a0"}},
		{"single dimension without numCorePartitions chains by start and end", []seg{
			{"a0", day1, "v1", num(0, 1)},
			{"s0", day1, "v2", segments.SingleDimensionShardSpec("d", nil, str("m"), 0, -1)},
			{"s1", day1, "v2", segments.SingleDimensionShardSpec("d", str("m"), nil, 1, -1)},
		}, []string{"a0"}},
		{"single dimension without numCorePartitions: a gap", []seg{
			{"a0", day1, "v1", num(0, 1)},
			{"s0", day1, "v2", segments.SingleDimensionShardSpec("d", nil, str("m"), 0, -1)},
			{"s1", day1, "v2", segments.SingleDimensionShardSpec("d", str("n"), nil, 1, -1)},
		}, nil},
		{"range with numCorePartitions needs every core partition", []seg{
			{"a0", day1, "v1", num(0, 1)},
			{"r1", day1, "v2", segments.RangeShardSpec([]string{"d"}, []string{"m"}, nil, 1, 2)},
		}, nil},
		{"ETERNITY", []seg{{"e1", eter, "v1", num(0, 1)}, {"e2", eter, "v2", num(0, 1)}}, []string{"e1"}},
		{"a day is not hidden by a newer ETERNITY that is incomplete", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"e2", eter, "v2", num(0, 2)},
		}, nil},
		{"a newer ETERNITY hides a day", []seg{{"a0", day1, "v1", num(0, 1)}, {"e2", eter, "v2", num(0, 1)}}, []string{"a0"}},

		// Segment locking: numbered_overwrite atomic update groups over root partitions of the same version.
		{"full atomic update group hides the root partitions it covers", []seg{
			{"r0", day1, "v1", num(0, 2)}, {"r1", day1, "v1", num(1, 2)},
			{"o0", day1, "v1", over(32768, 0, 2, 1, 2)}, {"o1", day1, "v1", over(32769, 0, 2, 1, 2)},
		}, []string{"r0", "r1"}},
		{"incomplete atomic update group hides nothing", []seg{
			{"r0", day1, "v1", num(0, 2)}, {"r1", day1, "v1", num(1, 2)},
			{"o0", day1, "v1", over(32768, 0, 2, 1, 2)},
		}, nil},
		{"higher minor version hides the lower group and the roots", []seg{
			{"r0", day1, "v1", num(0, 1)},
			{"o1", day1, "v1", over(32768, 0, 1, 1, 1)},
			{"o2", day1, "v1", over(32769, 0, 1, 2, 1)},
		}, []string{"r0", "o1"}},
		{"higher minor version incomplete: the lower full group stays visible", []seg{
			{"r0", day1, "v1", num(0, 1)},
			{"o1", day1, "v1", over(32768, 0, 1, 1, 1)},
			{"o2", day1, "v1", over(32769, 0, 1, 2, 2)},
		}, []string{"r0"}},
		{"root partitions missing: the incomplete group is visible and the holder incomplete", []seg{
			{"old", day1, "v0", num(0, 1)},
			{"r0", day1, "v1", num(0, 2)},
			{"o0", day1, "v1", over(32768, 0, 2, 1, 2)},
		}, nil},
		{"overwrite of the first root partition", []seg{
			{"r0", day1, "v1", num(0, 3)}, {"r1", day1, "v1", num(1, 3)}, {"r2", day1, "v1", num(2, 3)},
			{"o0", day1, "v1", over(32768, 0, 1, 1, 1)},
		}, []string{"r0"}},
		// A numbered chunk never abuts an overwriting one, so PartitionHolder.isComplete is false when an
		// overwritten range follows a root partition, and the holder overshadows nothing (Druid's behaviour).
		{"overwrite of a middle root partition leaves the holder incomplete", []seg{
			{"r0", day1, "v1", num(0, 3)}, {"r1", day1, "v1", num(1, 3)}, {"r2", day1, "v1", num(2, 3)},
			{"o1", day1, "v1", over(32768, 1, 2, 1, 1)},
		}, nil},
		{"a newer major version hides overwrite groups too", []seg{
			{"r0", day1, "v1", num(0, 1)}, {"o1", day1, "v1", over(32768, 0, 1, 1, 1)}, {"n0", day1, "v2", num(0, 1)},
		}, []string{"r0", "o1"}},
		{"duplicate partition: the first counts", []seg{
			{"a0", day1, "v1", num(0, 1)}, {"b0", day1, "v2", num(0, 1)}, {"b0dup", day1, "v2", num(0, 1)},
		}, []string{"a0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Druid's result does not depend on the order segments arrive in; neither does ours.
			for _, order := range [][]int{identity(len(c.segs)), reversed(len(c.segs))} {
				var list []*segments.DataSegment
				names := map[segments.SegmentID]string{}
				for _, i := range order {
					s := c.segs[i].build(t)
					list = append(list, s)
					if _, dup := names[s.ID()]; !dup {
						names[s.ID()] = c.segs[i].name
					}
				}
				got := Overshadowed(list)
				var gotNames []string
				for id := range got {
					gotNames = append(gotNames, names[id])
				}
				sort.Strings(gotNames)
				want := slices.Clone(c.overshadowed)
				sort.Strings(want)
				if !slices.Equal(gotNames, want) {
					t.Errorf("order %v: overshadowed %v, want %v", order, gotNames, want)
				}
			}
		})
	}
}

func identity(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func reversed(n int) []int {
	o := identity(n)
	slices.Reverse(o)
	return o
}

func TestOvershadowedSeparatesDataSources(t *testing.T) {
	a := seg{"a", day1, "v1", num(0, 1)}.build(t)
	b := seg{"b", day1, "v2", num(0, 1)}.build(t)
	b.DataSource = "other"
	if got := Overshadowed([]*segments.DataSegment{a, b}); len(got) != 0 {
		t.Errorf("segments of different dataSources overshadow each other: %v", got)
	}
}

func TestTimelineIsComplete(t *testing.T) {
	tl := NewTimeline([]*segments.DataSegment{
		seg{"a0", day1, "v1", num(0, 2)}.build(t), seg{"a1", day1, "v1", num(1, 2)}.build(t),
		seg{"b0", day2, "v1", num(0, 2)}.build(t),
	})
	if !tl.IsComplete(mustInterval(t, day1), "v1") || tl.IsComplete(mustInterval(t, day2), "v1") {
		t.Error("IsComplete")
	}
}

// TestOvershadowedManyVersions checks the sweep on a long timeline against a brute-force answer.
func TestOvershadowedManyVersions(t *testing.T) {
	var list []*segments.DataSegment
	want := map[string]bool{}
	base := mustInstant(t, "2025-01-01T00:00:00.000Z")
	hour := int64(3600_000)
	for h := range 500 {
		iv := segments.Interval{Start: base + segments.Instant(int64(h)*hour), End: base + segments.Instant(int64(h+1)*hour)}
		versions := 1 + h%3
		for v := 1; v <= versions; v++ {
			parts := 1
			if h%7 == 0 && v == versions {
				parts = 2 // the newest version of every 7th hour lacks a partition
			}
			s := &segments.DataSegment{DataSource: "ds", Interval: iv, Version: fmt.Sprintf("v%d", v),
				ShardSpec: segments.NumberedShardSpec(0, parts), Size: 1}
			list = append(list, s)
			newestComplete := versions
			if h%7 == 0 {
				newestComplete = versions - 1
			}
			if v < newestComplete {
				want[s.ID().String()] = true
			}
		}
	}
	got := Overshadowed(list)
	if len(got) != len(want) {
		t.Errorf("%d overshadowed, want %d", len(got), len(want))
	}
	for id := range got {
		if !want[id.String()] {
			t.Errorf("%s overshadowed", id)
		}
	}
}
