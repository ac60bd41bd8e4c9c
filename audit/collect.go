package audit

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// collector keeps the worst findings, up to a bound, and counts all of them: an audit of a broken cluster can find
// a million unavailable segments, and the report must stay readable (and its memory bounded) all the same.
type collector struct {
	max     int // < 0: no bound
	items   citems
	total   int
	omitted int
	byKind  map[Kind]int
	byDS    map[string]map[Kind]int
}

// citem is a finding with the instant it sorts by (its interval's start; newer intervals first).
type citem struct {
	f     Finding
	start segments.Instant
}

func newCollector(max int) *collector {
	return &collector{max: max, byKind: map[Kind]int{}, byDS: map[string]map[Kind]int{}}
}

// worse orders findings as the report lists them: by kind (worst first), dataSource, newest interval first,
// segment id, tier and object.
func worse(a, b *citem) int {
	if c := cmp.Compare(a.f.Kind.Rank(), b.f.Kind.Rank()); c != 0 {
		return c
	}
	if c := strings.Compare(a.f.DataSource, b.f.DataSource); c != 0 {
		return c
	}
	if c := cmp.Compare(b.start, a.start); c != 0 {
		return c
	}
	if c := strings.Compare(a.f.SegmentID, b.f.SegmentID); c != 0 {
		return c
	}
	if c := strings.Compare(a.f.Tier, b.f.Tier); c != 0 {
		return c
	}
	return strings.Compare(a.f.Object, b.f.Object)
}

// citems is a heap whose root is the least bad finding kept: the first to go when a worse one comes.
type citems []citem

func (h citems) Len() int           { return len(h) }
func (h citems) Less(i, j int) bool { return worse(&h[i], &h[j]) > 0 }
func (h citems) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *citems) Push(x any)        { *h = append(*h, x.(citem)) }
func (h *citems) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// add counts f and keeps it if it is among the worst max; fill, when set, completes a kept finding (it may be
// costly, such as looking up the servers of a segment).
func (c *collector) add(f Finding, start segments.Instant, fill func(*Finding)) {
	c.total++
	c.byKind[f.Kind]++
	m := c.byDS[f.DataSource]
	if m == nil {
		m = map[Kind]int{}
		c.byDS[f.DataSource] = m
	}
	m[f.Kind]++
	it := citem{f: f, start: start}
	switch {
	case c.max < 0 || len(c.items) < c.max:
	case c.max == 0 || worse(&it, &c.items[0]) >= 0:
		c.omitted++
		return
	default:
		heap.Pop(&c.items)
		c.omitted++
	}
	if fill != nil {
		fill(&it.f)
	}
	if it.f.Servers == nil {
		it.f.Servers = []string{}
	}
	if c.max < 0 {
		c.items = append(c.items, it)
		return
	}
	heap.Push(&c.items, it)
}

// sorted returns the kept findings, worst first, and how many were left out.
func (c *collector) sorted() ([]Finding, int) {
	slices.SortFunc(c.items, func(a, b citem) int { return worse(&a, &b) })
	out := make([]Finding, len(c.items))
	for i := range c.items {
		out[i] = c.items[i].f
	}
	return out, c.omitted
}
