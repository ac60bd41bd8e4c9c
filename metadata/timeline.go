package metadata

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Overshadowed returns the segments among segs that Druid's segment timeline considers overshadowed, as the
// Coordinator computes them (DataSourcesSnapshot: SegmentTimeline.isOvershadowed for every used segment). segs
// should be the used segments; they may span dataSources (each gets its own timeline). Only overshadowed segments are
// in the map.
func Overshadowed(segs []*segments.DataSegment) map[segments.SegmentID]bool {
	out := map[segments.SegmentID]bool{}
	byDS := map[string][]*segments.DataSegment{}
	for _, s := range segs {
		byDS[s.DataSource] = append(byDS[s.DataSource], s)
	}
	for _, list := range byDS {
		tl := NewTimeline(list)
		for _, s := range list {
			if tl.IsOvershadowed(s) {
				out[s.ID()] = true
			}
		}
	}
	return out
}

// Timeline is Druid's VersionedIntervalTimeline of one dataSource's segments, reduced to what overshadowing needs:
// the partition holder of every (interval, version), which of its chunks are visible, whether it is complete, and the
// timeline of complete holders (for every instant, the complete holder of the highest version covering it).
//
// Rules, from PartitionHolder, the PartitionChunk kinds and OvershadowableManager:
//
//   - A holder is complete when its visible chunks form a chain: the first is a start, each abuts the next, one is an
//     end. numbered/hashed chunks (and single/range ones with numCorePartitions) start at partition 0 and end at
//     partitions-1, so every core partition must be there (with partitions 0 every chunk is both); linear chunks are
//     always complete; none, tombstone and numbered_overwrite chunks are a start and an end by themselves; single and
//     range chunks without numCorePartitions chain by their start and end values.
//   - With segment locking, chunks form atomic update groups (root partition range, minor version). A group is full
//     when it has atomicUpdateGroupSize chunks. Per root partition range the full group of the highest minor version
//     is visible; a non-full group of a higher minor version is visible only when the lower groups do not fully cover
//     its range. A holder whose visible groups are not all full is not complete.
//   - A segment is overshadowed when the complete timeline covers its whole interval, without holes, with versions
//     higher than its own, or its own version where a visible chunk of that holder overshadows it (same root
//     partitions or more, higher minor version).
//
// Versions compare as Go strings (UTF-8 byte order), which agrees with Java's String.compareTo except for characters
// outside the Basic Multilingual Plane; Druid versions are ISO timestamps.
type Timeline struct {
	holders map[holderKey]*holder
	pieces  []piece
}

type holderKey struct {
	interval segments.Interval
	version  string
}

type chunkKind uint8

const (
	kindNumbered  chunkKind = iota // NumberedPartitionChunk
	kindString                     // StringPartitionChunk: single/range without numCorePartitions
	kindLinear                     // LinearPartitionChunk
	kindSingle                     // SingleElementPartitionChunk (none), TombstonePartitionedChunk, unknown kinds
	kindOverwrite                  // NumberedOverwritingPartitionChunk
)

type chunk struct {
	seg                   *segments.DataSegment
	kind                  chunkKind
	num, cores            int
	start, end            *string // kindString bounds, canonical JSON text; nil for null
	rootStart, rootEnd    int
	minor, atomicUpdateGr int
}

func newChunk(s *segments.DataSegment) *chunk {
	ss := s.ShardSpec
	c := &chunk{
		seg: s, num: ss.PartitionNum(), cores: ss.NumCorePartitions(),
		rootStart: ss.StartRootPartitionID(), rootEnd: ss.EndRootPartitionID(),
		minor: ss.MinorVersion(), atomicUpdateGr: ss.AtomicUpdateGroupSize(),
	}
	switch ss.Type() {
	case segments.ShardTypeNumbered, segments.ShardTypeHashed:
		c.kind = kindNumbered
	case segments.ShardTypeSingle, segments.ShardTypeRange:
		if c.cores >= 0 {
			c.kind = kindNumbered
		} else {
			c.kind = kindString
			c.start, c.end = stringChunkBounds(ss.Raw())
		}
	case segments.ShardTypeLinear:
		c.kind = kindLinear
	case segments.ShardTypeNumberedOverwrite:
		c.kind = kindOverwrite
	default:
		c.kind = kindSingle
	}
	return c
}

// stringChunkBounds reads "start" and "end" of a single (strings) or range (string arrays) shard spec.
func stringChunkBounds(raw []byte) (start, end *string) {
	var v struct{ Start, End json.RawMessage }
	if json.Unmarshal(raw, &v) != nil {
		return nil, nil
	}
	canon := func(r json.RawMessage) *string {
		if len(r) == 0 || string(r) == "null" {
			return nil
		}
		var s string
		if json.Unmarshal(r, &s) == nil {
			return &s
		}
		var arr []*string
		if json.Unmarshal(r, &arr) == nil {
			b, _ := json.Marshal(arr)
			t := string(b)
			return &t
		}
		t := string(r)
		return &t
	}
	return canon(v.Start), canon(v.End)
}

func (c *chunk) isStart() bool {
	switch c.kind {
	case kindNumbered:
		return c.cores <= 0 || c.num == 0
	case kindString:
		return c.start == nil
	}
	return true
}

func (c *chunk) isEnd() bool {
	switch c.kind {
	case kindNumbered:
		return c.cores <= 0 || c.num == c.cores-1
	case kindString:
		return c.end == nil
	}
	return true
}

func (c *chunk) abuts(o *chunk) bool {
	switch c.kind {
	case kindNumbered:
		if o.kind != kindNumbered {
			return false
		}
		if o.num < o.cores {
			return o.num == c.num+1
		}
		return o.num > c.num
	case kindString:
		return o.kind == kindString && o.start != nil && c.end != nil && *o.start == *c.end
	case kindLinear:
		return true
	}
	return false
}

// overshadows is DataSegment.overshadows for two segments of the same dataSource.
func (c *chunk) overshadows(o *chunk) bool {
	if !c.seg.Interval.Overlaps(o.seg.Interval) {
		return false
	}
	switch v := strings.Compare(c.seg.Version, o.seg.Version); {
	case v > 0:
		return true
	case v == 0:
		return c.rootStart <= o.rootStart && c.rootEnd >= o.rootEnd && c.minor > o.minor
	}
	return false
}

// group is an atomic update group.
type group struct {
	rootStart, rootEnd, minor int
	chunks                    []*chunk
}

func (g *group) full() bool { return len(g.chunks) == g.chunks[0].atomicUpdateGr }

func (g *group) contains(h *group) bool { return g.rootStart <= h.rootStart && h.rootEnd <= g.rootEnd }

func (g *group) overlaps(h *group) bool { return g.rootStart < h.rootEnd && h.rootStart < g.rootEnd }

type holder struct {
	key      holderKey
	chunks   []*chunk
	visible  []*chunk
	complete bool
}

// resolve decides the visible chunks and completeness of the holder.
func (h *holder) resolve() {
	type gkey struct{ start, end, minor int }
	byKey := map[gkey]*group{}
	var groups []*group
	for _, c := range h.chunks {
		k := gkey{c.rootStart, c.rootEnd, c.minor}
		g := byKey[k]
		if g == nil {
			g = &group{rootStart: c.rootStart, rootEnd: c.rootEnd, minor: c.minor}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.chunks = append(g.chunks, c)
	}
	slices.SortStableFunc(groups, func(a, b *group) int {
		return cmp.Or(cmp.Compare(b.minor, a.minor), cmp.Compare(a.rootStart, b.rootStart), cmp.Compare(a.rootEnd, b.rootEnd))
	})
	visible := visibleGroups(groups)
	allFull := len(visible) > 0
	h.visible = h.visible[:0]
	for _, g := range visible {
		allFull = allFull && g.full()
		cs := slices.Clone(g.chunks)
		slices.SortFunc(cs, func(a, b *chunk) int { return cmp.Compare(a.num, b.num) })
		h.visible = append(h.visible, cs...)
	}
	h.complete = allFull && chainComplete(h.visible)
}

// visibleGroups applies OvershadowableManager's rule to groups sorted by descending minor version: a group
// overlapping a visible group of a higher minor version is overshadowed; a full group is visible; a group that is not
// full is visible unless the lower groups in its range resolve to full groups covering the range exactly (then it
// waits on standby). The result is sorted by root partition range.
func visibleGroups(groups []*group) []*group {
	var visible []*group
next:
	for i, g := range groups {
		for _, v := range visible {
			if v.overlaps(g) {
				continue next
			}
		}
		if !g.full() {
			var lower []*group
			for _, o := range groups[i+1:] {
				if o.minor < g.minor && g.contains(o) {
					lower = append(lower, o)
				}
			}
			if coversFully(visibleGroups(lower), g.rootStart, g.rootEnd) {
				continue
			}
		}
		visible = append(visible, g)
	}
	slices.SortFunc(visible, func(a, b *group) int {
		return cmp.Or(cmp.Compare(a.rootStart, b.rootStart), cmp.Compare(a.rootEnd, b.rootEnd))
	})
	return visible
}

// coversFully is doGroupsFullyCoverPartitionRange: full groups, adjacent, from start to end exactly.
func coversFully(groups []*group, start, end int) bool {
	if len(groups) == 0 || groups[0].rootStart != start || groups[len(groups)-1].rootEnd != end {
		return false
	}
	prev := start
	for _, g := range groups {
		if !g.full() || g.rootStart != prev {
			return false
		}
		prev = g.rootEnd
	}
	return true
}

// chainComplete is the chain walk of PartitionHolder.isComplete over the visible chunks in order.
func chainComplete(cs []*chunk) bool {
	if len(cs) == 0 || !cs[0].isStart() {
		return false
	}
	curr := cs[0]
	if curr.isEnd() {
		return true
	}
	for _, next := range cs[1:] {
		if !curr.abuts(next) {
			return false
		}
		if next.isEnd() {
			return true
		}
		curr = next
	}
	return false
}

// piece is a stretch of the complete timeline owned by one holder.
type piece struct {
	start, end segments.Instant
	h          *holder
}

// NewTimeline builds the timeline of one dataSource's used segments. A segment whose (interval, version,
// partition number) repeats an earlier one is ignored, as PartitionHolder ignores a chunk it already has.
func NewTimeline(segs []*segments.DataSegment) *Timeline {
	t := &Timeline{holders: map[holderKey]*holder{}}
	var order []*holder
	seen := map[holderKey]map[int]bool{}
	for _, s := range segs {
		k := holderKey{s.Interval, s.Version}
		h := t.holders[k]
		if h == nil {
			h = &holder{key: k}
			t.holders[k] = h
			seen[k] = map[int]bool{}
			order = append(order, h)
		}
		n := s.ShardSpec.PartitionNum()
		if seen[k][n] {
			continue
		}
		seen[k][n] = true
		h.chunks = append(h.chunks, newChunk(s))
	}
	var complete []*holder
	for _, h := range order {
		h.resolve()
		if h.complete && h.key.interval.Start < h.key.interval.End {
			complete = append(complete, h)
		}
	}
	t.pieces = sweep(complete)
	return t
}

// sweep computes, for every instant, the complete holder of the highest version covering it, as the pieces of
// VersionedIntervalTimeline's completePartitionsTimeline (merged where one holder owns adjacent pieces).
func sweep(hs []*holder) []piece {
	if len(hs) == 0 {
		return nil
	}
	points := make([]segments.Instant, 0, 2*len(hs))
	for _, h := range hs {
		points = append(points, h.key.interval.Start, h.key.interval.End)
	}
	slices.Sort(points)
	points = slices.Compact(points)
	byStart := slices.Clone(hs)
	slices.SortFunc(byStart, func(a, b *holder) int { return cmp.Compare(a.key.interval.Start, b.key.interval.Start) })

	var (
		pieces []piece
		active holderHeap
		next   int
	)
	for i := 0; i+1 < len(points); i++ {
		at := points[i]
		for next < len(byStart) && byStart[next].key.interval.Start == at {
			heap.Push(&active, byStart[next])
			next++
		}
		for active.Len() > 0 && active[0].key.interval.End <= at {
			heap.Pop(&active)
		}
		if active.Len() == 0 {
			continue
		}
		top := active[0]
		if n := len(pieces); n > 0 && pieces[n-1].h == top && pieces[n-1].end == at {
			pieces[n-1].end = points[i+1]
		} else {
			pieces = append(pieces, piece{start: at, end: points[i+1], h: top})
		}
	}
	return pieces
}

// holderHeap orders holders by descending version; among equal versions (which Druid refuses to overlap) the
// earlier start wins.
type holderHeap []*holder

func (q holderHeap) Len() int { return len(q) }
func (q holderHeap) Less(i, j int) bool {
	if c := strings.Compare(q[i].key.version, q[j].key.version); c != 0 {
		return c > 0
	}
	return q[i].key.interval.Start < q[j].key.interval.Start
}
func (q holderHeap) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *holderHeap) Push(x any)   { *q = append(*q, x.(*holder)) }
func (q *holderHeap) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// IsOvershadowed is SegmentTimeline.isOvershadowed(segment).
func (t *Timeline) IsOvershadowed(s *segments.DataSegment) bool {
	iv := s.Interval
	i := sort.Search(len(t.pieces), func(k int) bool { return t.pieces[k].start > iv.Start }) - 1
	if i < 0 || !(segments.Interval{Start: t.pieces[i].start, End: t.pieces[i].end}).Overlaps(iv) {
		return false
	}
	var self *chunk
	for k := i; k < len(t.pieces); k++ {
		p := &t.pieces[k]
		if k > i && p.start > t.pieces[k-1].end {
			return false // a hole
		}
		switch c := strings.Compare(s.Version, p.h.key.version); {
		case c > 0:
			return false
		case c == 0:
			if self == nil {
				self = newChunk(s)
			}
			if !slices.ContainsFunc(p.h.visible, func(v *chunk) bool { return v.overshadows(self) }) {
				return false
			}
		}
		if iv.End <= p.end {
			return true
		}
	}
	return false
}

// IsComplete reports whether the segments of an (interval, version) form a complete partition set, so that they
// can overshadow older versions.
func (t *Timeline) IsComplete(iv segments.Interval, version string) bool {
	h := t.holders[holderKey{iv, version}]
	return h != nil && h.complete
}
