package segments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// checkSummary holds the SummaryReader to its promise on data: what it accepts, the whole parse accepts, as a
// DataSegment and (for loads and drops) as a ChangeRequest, with the same members; what the whole parse refuses,
// it refuses.
func checkSummary(t *testing.T, sr *SummaryReader, data []byte) {
	t.Helper()
	var sum Summary
	readErr := sr.Read(data, &sum)
	var seg DataSegment
	segErr := seg.UnmarshalJSON(data)
	var cr ChangeRequest
	crErr := cr.UnmarshalJSON(data)
	if readErr != nil {
		return
	}
	if segErr != nil {
		t.Fatalf("Read(%q) accepted what UnmarshalJSON refuses: %v", data, segErr)
	}
	want := seg.Summary()
	if !sameLoadSpec(sum.LoadSpec, want.LoadSpec) {
		t.Fatalf("Read(%q): loadSpec %s, want %s", data, sum.LoadSpec, want.LoadSpec)
	}
	sum.LoadSpec, want.LoadSpec = nil, nil
	action, fingerprint := sum.Action, sum.Fingerprint
	sum.Action, sum.Fingerprint = "", ""
	if fmt.Sprint(sum) != fmt.Sprint(want) {
		t.Fatalf("Read(%q) = %+v, want %+v", data, sum, want)
	}
	if action != string(ActionLoad) && action != string(ActionDrop) {
		return
	}
	if crErr != nil || string(cr.Action) != action {
		t.Fatalf("Read(%q) accepted a %s request that ChangeRequest.UnmarshalJSON reads as %q, %v", data, action, cr.Action, crErr)
	}
	if cr.Action == ActionLoad && (cr.Fingerprint == nil) != (fingerprint == "") || cr.Fingerprint != nil && *cr.Fingerprint != fingerprint {
		t.Fatalf("Read(%q): fingerprint %q, the request has %v", data, fingerprint, cr.Fingerprint)
	}
}

// sameLoadSpec compares load specs as JSON values (the reader keeps them as received, the whole parse compacted).
func sameLoadSpec(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// summaryCases are documents around every rule of the whole parse the reader has to follow.
var summaryCases = []string{
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","size":null,"shardSpec":null,"loadSpec":null}`,
	` { "dataSource" : "d" , "interval" : "2025-01-01/2025-01-02" , "version" : "v" , "loadSpec" : { "type" : "local" , "path" : "/x" } } `,
	`{"dataSource":"d\u00e9","interval":"2025-01-01\/2025-01-02","version":"v\"1","size":5}`,
	`{"dataSource":"d","dataSource":"e","interval":"2025-01-01/P1D","version":"v","version":"w","size":1,"size":2}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","dataSource":null}`,
	`{"dataSource":"","interval":"2025-01-01/P1D","version":"v"}`,
	`{"interval":"2025-01-01/P1D","version":"v"}`,
	`{"dataSource":"d","version":"v"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D"}`,
	`{"dataSource":"d","interval":"2025-01-02/2025-01-01","version":"v"}`,
	`{"dataSource":"d","interval":5,"version":"v"}`,
	`{"dataSource":1,"interval":"2025-01-01/P1D","version":"v"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":true}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","size":-1}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","size":1.5}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","size":"1"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","binaryVersion":9}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","binaryVersion":3000000000}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","binaryVersion":"9"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","dimensions":"a,b","metrics":null,"projections":""}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","dimensions":["a"]}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","metrics":1}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","loadSpec":[]}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","lastCompactionState":"x"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","shardSpec":{"type":"linear","partitionNum":3}}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","shardSpec":{"type":"numbered","partitionNum":-1,"partitions":1}}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","shardSpec":{"type":"numbered","partitionNum":1},"shardSpec":{"type":"tombstone"}}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","shardSpec":"x"}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","identifier":5,"future":{"a":[1,2]}}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v"} x`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v"`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","x":tru}`,
	"{\"dataSource\":\"d\xff\",\"interval\":\"2025-01-01/P1D\",\"version\":\"v\"}",
	"{\"dataSource\":\"d\",\"interval\":\"2025-01-01/P1D\",\"version\":\"v\",\"dimensions\":\"\xff\"}",
	`null`, `[]`, ``, `{}`,
	// Change requests.
	`{"action":"load","dataSource":"d","interval":"2025-01-01/P1D","version":"v","size":3}`,
	`{"dataSource":"d","interval":"2025-01-01/P1D","version":"v","action":"drop","action":"load"}`,
	`{"action":"load","fingerprint":"f","loadedBytes":7,"dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":"load","fingerprint":"f","fingerprint":null,"dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":"load","fingerprint":1,"dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":"load","loadedBytes":"7","dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":"drop","fingerprint":"f","dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":7,"dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":"bogus","dataSource":"d","interval":"2025-01-01/P1D","version":"v"}`,
	`{"action":"noop"}`,
}

// TestSummaryReader checks the reader against the whole parse on the golden payloads and the cases above, and
// that ReadPrefix reads an object followed by anything.
func TestSummaryReader(t *testing.T) {
	sr := NewSummaryReader()
	docs := summaryCases
	for _, dir := range []string{"segments", "changerequests"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("golden files of %s: %v", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(bytes.TrimSpace(b)))
		}
	}
	accepted := 0
	for _, d := range docs {
		checkSummary(t, sr, []byte(d))
		var sum Summary
		if sr.Read([]byte(d), &sum) == nil {
			accepted++
			d = string(bytes.TrimSpace([]byte(d)))
			n, err := sr.ReadPrefix([]byte(d+` ,{"next":1}`), &sum)
			if err != nil || n != len(d) {
				t.Errorf("ReadPrefix(%q + more) = %d, %v; want %d", d, n, err, len(d))
			}
		}
	}
	if accepted < 20 {
		t.Errorf("only %d of %d documents summarized", accepted, len(docs))
	}
}

// TestSummaryReaderCaches: past their bound the caches start over, and every value read stays right.
func TestSummaryReaderCaches(t *testing.T) {
	sr := NewSummaryReader()
	for i := range summaryCacheMax + 100 {
		day := Instant(int64(i) * 86400_000)
		iv := Interval{Start: day, End: day + 86400_000}
		doc := fmt.Sprintf(`{"dataSource":"ds%d","interval":"%s","version":"v","shardSpec":{"type":"linear","partitionNum":%d}}`, i, iv, i)
		var sum Summary
		if err := sr.Read([]byte(doc), &sum); err != nil {
			t.Fatal(err)
		}
		if want := (SegmentID{DataSource: fmt.Sprintf("ds%d", i), Interval: iv, Version: "v", PartitionNum: i}); sum.ID() != want {
			t.Fatalf("document %d: id %v, want %v", i, sum.ID(), want)
		}
	}
	if len(sr.intervals) > summaryCacheMax || len(sr.dataSources) > summaryCacheMax || len(sr.shards) > summaryCacheMax {
		t.Errorf("caches beyond their bound: %d, %d, %d", len(sr.intervals), len(sr.dataSources), len(sr.shards))
	}
}

func FuzzSummaryReader(f *testing.F) {
	addGoldenSeeds(f, "segments/numbered.json", "segments/tombstone.json", "segments/future_field.json",
		"changerequests/load.json", "changerequests/schema.json")
	for _, d := range summaryCases[:12] {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSummary(t, NewSummaryReader(), data)
	})
}

// BenchmarkSummaryReader reads a hashed segment's payload, as the segments table and inventories hold millions
// of, summarized and whole.
func BenchmarkSummaryReader(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "segments", "hashed.json"))
	if err != nil {
		b.Fatal(err)
	}
	data = bytes.TrimSpace(data)
	b.Run("summary", func(b *testing.B) {
		sr := NewSummaryReader()
		var sum Summary
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := sr.Read(data, &sum); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var seg DataSegment
			if err := seg.UnmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
