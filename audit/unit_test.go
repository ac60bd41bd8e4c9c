package audit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

func day(d int) segments.Instant { return segments.UnixMilli(1735689600000 + int64(d)*86400000) } // 2025-01-01 + d

func TestBucketsGranularity(t *testing.T) {
	entry := func(from, to segments.Instant, available, full bool) bucketEntry {
		return bucketEntry{iv: segments.Interval{Start: from, End: to}, size: 10, state: evalState{expected: true, available: available, full: full}}
	}
	// 30 days of daily segments, one unavailable: daily buckets.
	var es []bucketEntry
	for d := range 30 {
		es = append(es, entry(day(d), day(d+1), d != 3, d != 3 && d != 4))
	}
	g, bs := buckets(es)
	if g != "day" || len(bs) != 30 || bs[3].AvailableSegments != 0 || bs[4].FullyReplicatedSegments != 0 ||
		bs[5].ExpectedBytes != 10 || bs[0].Interval != "2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z" {
		t.Fatalf("%s %+v", g, bs)
	}
	// Two years: weekly buckets from Monday; a month-long segment counts in every week it overlaps.
	g, bs = buckets([]bucketEntry{entry(day(0), day(31), true, true), entry(day(700), day(701), true, true)})
	if g != "week" || len(bs) != 6 || bs[0].Start.Weekday() != time.Monday || bs[0].Interval != "2024-12-30T00:00:00.000Z/2025-01-06T00:00:00.000Z" {
		t.Fatalf("%s %+v", g, bs)
	}
	// Fifteen years: months.
	g, bs = buckets([]bucketEntry{entry(day(0), day(1), true, true), entry(day(15*365), day(15*365+1), true, true)})
	if g != "month" || len(bs) != 2 || bs[1].Start.Day() != 1 {
		t.Fatalf("%s %+v", g, bs)
	}
	// ETERNITY is clipped to the years 1000 to 3000, in buckets of several years.
	eternity, err := segments.ParseInterval("-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z")
	if err != nil {
		t.Fatal(err)
	}
	g, bs = buckets([]bucketEntry{entry(eternity.Start, eternity.End, true, true)})
	if g != "6 years" || len(bs) < 330 || len(bs) > maxBuckets || bs[0].Start.Year() != 996 {
		t.Fatalf("%s: %d buckets from %v", g, len(bs), bs[0].Start)
	}
	if g, bs := buckets(nil); g != "day" || bs == nil || len(bs) != 0 {
		t.Fatalf("no entries: %s %v", g, bs)
	}
}

func TestCollectorKeepsTheWorst(t *testing.T) {
	c := newCollector(3)
	filled := 0
	fill := func(f *Finding) { filled++; f.Servers = []string{"s"} }
	add := func(k Kind, ds string, d int) {
		c.add(Finding{Kind: k, DataSource: ds, SegmentID: fmt.Sprintf("%s_%d", ds, d)}, day(d), fill)
	}
	add(KindOrphanInDeepStorage, "a", 0)
	add(KindOverReplicated, "a", 1)
	add(KindUnavailable, "b", 1)
	add(KindUnavailable, "a", 1)
	add(KindCacheDrift, "a", 1) // not among the worst three: not filled
	add(KindUnavailable, "a", 5)
	got, omitted := c.sorted()
	var ids []string
	for _, f := range got {
		ids = append(ids, string(f.Kind)+":"+f.SegmentID)
	}
	// Worst kind first; within it dataSource, then newest interval first.
	if strings.Join(ids, " ") != "unavailable:a_5 unavailable:a_1 unavailable:b_1" || omitted != 3 || c.total != 6 {
		t.Fatalf("%v, omitted %d, total %d", ids, omitted, c.total)
	}
	if filled != 5 || c.byKind[KindUnavailable] != 3 || c.byDS["a"][KindOrphanInDeepStorage] != 1 {
		t.Fatalf("filled %d, by kind %v", filled, c.byKind)
	}
	unbounded := newCollector(-1)
	for d := range 5 {
		unbounded.add(Finding{Kind: KindUnderReplicated}, day(d), nil)
	}
	if got, omitted := unbounded.sorted(); len(got) != 5 || omitted != 0 || got[0].Servers == nil {
		t.Fatalf("unbounded: %d kept, %d omitted", len(got), omitted)
	}
}

func TestKindsAreOrderedAndSevere(t *testing.T) {
	for i, k := range Kinds {
		if k.Rank() != i {
			t.Errorf("%s: rank %d, want %d", k, k.Rank(), i)
		}
	}
	if Kind("new").Rank() != len(Kinds) || KindUnavailable.Severity() != SeverityCritical ||
		KindUnusedServed.Severity() != SeverityWarning || KindOrphanInDeepStorage.Severity() != SeverityNotice {
		t.Error("ranks or severities")
	}
}

// The inventory reader takes JSON as well as Smile, skips schema requests, and refuses resets and what is not a
// snapshot, naming the URL.
func TestFetchInventoryForms(t *testing.T) {
	seg := driftSegment("wiki", 0)
	req, err := seg.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	load := `{"action":"load",` + string(req[1:])
	for _, tc := range []struct {
		name, body string
		ids        int
		err        string
	}{
		{"json", `{"resetCounter":false,"resetCause":null,"counter":{"counter":3,"hash":9},"requests":[` + load + `,{"action":"schema","segmentSchemas":{}}]}`, 1, ""},
		{"empty", `{"resetCounter":false,"counter":{"counter":0,"hash":1},"requests":[]}`, 0, ""},
		{"reset", `{"resetCounter":true,"resetCause":"x","counter":null,"requests":null}`, 0, "counter reset"},
		{"not a snapshot", `[1,2]`, 0, "not a segment inventory snapshot"},
		{"no requests", `{"resetCounter":false}`, 0, "no requests"},
		{"bad request", `{"requests":[{"action":"load","dataSource":7}]}`, 0, "request 0 of the snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("counter") != "-1" || r.URL.Query().Get("timeout") == "" {
					http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			c := newInventoryClient(nil, nil, 5*time.Second)
			n := 0
			err := c.fetch(context.Background(), srv.URL, func(id segments.SegmentID, size int64, _ string) {
				if id != seg.ID() || size != seg.Size {
					t.Errorf("segment %v size %d", id, size)
				}
				n++
			})
			switch {
			case tc.err == "" && (err != nil || n != tc.ids):
				t.Errorf("%d segments, %v", n, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), srv.URL)):
				t.Errorf("error %v, want one containing %q and the URL", err, tc.err)
			}
		})
	}
}
