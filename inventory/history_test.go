package inventory

import (
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// historyTestID returns a distinct segment id per n.
func historyTestID(n int) segments.SegmentID {
	return segments.SegmentID{DataSource: "wiki", Interval: segments.Interval{Start: segments.UnixMilli(int64(n) * 3600000), End: segments.UnixMilli(int64(n+1) * 3600000)}, Version: "v1"}
}

func historyRecordN(h *History, n int) {
	for i := 0; i < n; i++ {
		h.Record(segments.ActionLoad, historyTestID(int(h.Last().Counter)+1), []byte(`{"action":"load"}`))
	}
}

func TestHistoryCountersAndHashes(t *testing.T) {
	h := NewHistory(1000)
	if got := h.Last(); got != (Counter{0, 1000}) {
		t.Fatalf("empty history counter = %v, want {0, 1000}", got)
	}
	now := int64(5000)
	h.clock = func() int64 { return now }
	c1 := h.Record(segments.ActionLoad, historyTestID(1), nil)
	c2 := h.Record(segments.ActionDrop, historyTestID(1), nil) // same millisecond
	now = 4000                                                 // the wall clock steps back
	c3 := h.Record(segments.ActionLoad, historyTestID(2), nil)
	now = 9000
	c4 := h.Record(segments.ActionLoad, historyTestID(3), nil)
	want := []Counter{{1, 5000}, {2, 5001}, {3, 5002}, {4, 9000}}
	for i, got := range []Counter{c1, c2, c3, c4} {
		if got != want[i] {
			t.Errorf("change %d: counter %v, want %v", i+1, got, want[i])
		}
	}
	// The first change of a history made in the very millisecond of its zero hash still gets a new hash.
	h2 := NewHistory(7000)
	h2.clock = func() int64 { return 7000 }
	if c := h2.Record(segments.ActionLoad, historyTestID(1), nil); c != (Counter{1, 7001}) {
		t.Errorf("first change in the zero hash's millisecond: %v, want {1, 7001}", c)
	}
	if s := c4.String(); s != "Counter{counter=4, hash=9000}" {
		t.Errorf("String() = %q", s)
	}
}

func TestHistorySince(t *testing.T) {
	h := NewHistory(42)
	// Empty history: the zero counter parks, anything else resets.
	if ch, last, cause := h.Since(Counter{0, 42}); cause != "" || len(ch) != 0 || last != (Counter{0, 42}) {
		t.Fatalf("Since(zero) on empty history = %v, %v, %q", ch, last, cause)
	}
	if _, _, cause := h.Since(Counter{0, 41}); !strings.Contains(cause, "failed to match") {
		t.Fatalf("zero counter with another hash: cause %q", cause)
	}
	historyRecordN(h, 10)
	last := h.Last()
	ch, got, cause := h.Since(Counter{0, 42})
	if cause != "" || len(ch) != 10 || got != last || ch[0].Counter.Counter != 1 || ch[9].Counter != last {
		t.Fatalf("Since(zero) after 10 changes: %d changes, last %v, cause %q", len(ch), got, cause)
	}
	c4 := ch[3].Counter
	if ch, _, cause := h.Since(c4); cause != "" || len(ch) != 6 || ch[0].Counter.Counter != 5 {
		t.Fatalf("Since(4) = %d changes, cause %q", len(ch), cause)
	}
	for _, tc := range []struct {
		c    Counter
		want string
	}{
		{Counter{4, c4.Hash + 1}, "failed to match"},
		{Counter{last.Counter, last.Hash - 1}, "failed to match"},
		{Counter{last.Counter + 1, last.Hash}, "> last counter"},
		{Counter{-1, 0}, "must be >= 0"},
	} {
		if _, _, cause := h.Since(tc.c); !strings.Contains(cause, tc.want) {
			t.Errorf("Since(%v): cause %q, want it to contain %q", tc.c, cause, tc.want)
		}
	}

	// Wrap the ring: HistorySize+500 changes in all.
	historyRecordN(h, HistorySize+490)
	last = h.Last()
	if h.Len() != HistorySize || last.Counter != HistorySize+500 {
		t.Fatalf("after wrapping: len %d, last %v", h.Len(), last)
	}
	oldest := h.at(0).Counter // counter last-999
	if ch, _, cause := h.Since(oldest); cause != "" || len(ch) != HistorySize-1 {
		t.Errorf("Since(oldest held, %d behind) = %d changes, cause %q; want %d changes", last.Counter-oldest.Counter, len(ch), cause, HistorySize-1)
	}
	// HistorySize behind: reset, even though the changes after it are all held (its own hash is not).
	if _, _, cause := h.Since(Counter{last.Counter - HistorySize, 1}); !strings.Contains(cause, "not enough history") {
		t.Errorf("Since(%d behind): cause %q", HistorySize, cause)
	}
	if _, _, cause := h.Since(Counter{0, 42}); !strings.Contains(cause, "not enough history") {
		t.Errorf("Since(zero) after wrapping: cause %q", cause)
	}
	if ch, _, cause := h.Since(last); cause != "" || len(ch) != 0 {
		t.Errorf("Since(last) = %d changes, cause %q", len(ch), cause)
	}
	if ch, _, _ := h.Since(h.at(HistorySize - 2).Counter); len(ch) != 1 || ch[0].Counter != last {
		t.Errorf("Since(last-1) = %v", ch)
	}
}
