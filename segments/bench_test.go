package segments

import (
	"encoding/json"
	"os"
	"testing"
)

func benchmarkPayload(b *testing.B) []byte {
	b.Helper()
	data, err := os.ReadFile("testdata/segments/numbered.json")
	if err != nil {
		b.Fatal(err)
	}
	return data[:len(data)-1]
}

func BenchmarkUnmarshalSegment(b *testing.B) {
	data := benchmarkPayload(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var s DataSegment
		if err := s.UnmarshalJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalStdlibBaseline decodes the same payload with encoding/json into raw members, the obvious
// alternative to the hand-written reader; it does not even parse the interval or shard spec.
func BenchmarkUnmarshalStdlibBaseline(b *testing.B) {
	data := benchmarkPayload(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var s struct {
			DataSource, Interval, Version, Dimensions, Metrics string
			LoadSpec, ShardSpec, LastCompactionState           json.RawMessage
			BinaryVersion                                      *int
			Size                                               int64
		}
		if err := json.Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalSegment(b *testing.B) {
	var s DataSegment
	if err := s.UnmarshalJSON(benchmarkPayload(b)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = s.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseInterval(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseInterval("2016-06-27T00:00:00.000Z/2016-06-28T00:00:00.000Z"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSegmentIDString(b *testing.B) {
	id := SegmentID{DataSource: "wikipedia", Interval: Interval{Start: 1467072000000, End: 1467158400000}, Version: "2025-01-02T03:04:05.678Z", PartitionNum: 3}
	b.ReportAllocs()
	for b.Loop() {
		_ = id.String()
	}
}
