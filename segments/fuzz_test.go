package segments

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// addGoldenSeeds adds a few golden payloads to a fuzz corpus; the corpus stays small on purpose.
func addGoldenSeeds(f *testing.F, names ...string) {
	f.Helper()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSuffix(b, []byte("\n")))
	}
}

func FuzzParseInstant(f *testing.F) {
	for _, s := range []string{
		"2025-01-02T03:04:05.678Z", "2025-01-02T08:34:05.678+05:30", "-146136543-09-08T08:23:32.096Z",
		"2025-W01-4T10,5", "2024-366", "T10:30-0100", "2025-01-01T00:00:00.000+00:00:00.001", "+2025",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		strict, strictErr := ParseStrictInstant(s)
		lenient, lenientErr := ParseInstant(s)
		if strictErr == nil && (lenientErr != nil || lenient != strict) {
			t.Fatalf("ParseStrictInstant(%q) = %d but ParseInstant = %d, %v", s, strict, lenient, lenientErr)
		}
		if lenientErr != nil {
			return
		}
		if lenient < MinInstant || lenient > MaxInstant {
			t.Fatalf("ParseInstant(%q) = %d, outside [MinInstant, MaxInstant]", s, lenient)
		}
		text := lenient.String()
		if back, err := ParseStrictInstant(text); err != nil || back != lenient {
			t.Fatalf("ParseStrictInstant(%q) = %d, %v; want %d (from %q)", text, back, err, lenient, s)
		}
	})
}

func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{
		"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z", "2025-01-01/P1M", "P1Y2M3W4DT5H6M7.89S/2025-03-31",
		"-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z", "2025-01-01T00:00+01/2025-01-01T00:00-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := ParseInterval(s)
		// The fast path must agree with the general rules it stands in for.
		general, reason := parseIntervalGeneral(s)
		if (err == nil) != (reason == "") || (err == nil && general != iv) {
			t.Fatalf("ParseInterval(%q) = %v, %v but the general rules give %v, %q", s, iv, err, general, reason)
		}
		if err != nil {
			return
		}
		if iv.End < iv.Start {
			t.Fatalf("ParseInterval(%q) = %v ends before it starts", s, iv)
		}
		if back, err := ParseInterval(iv.String()); err != nil || back != iv {
			t.Fatalf("ParseInterval(%q) = %v, %v; want %v", iv.String(), back, err, iv)
		}
	})
}

func FuzzSegmentIDParsing(f *testing.F) {
	f.Add("wikipedia", "2025-01-02T03:04:05.678Z", int64(1451692800000), int64(1451779200000), int32(0))
	f.Add("web_logs_7", "v_3", int64(0), int64(1), int32(2))
	f.Add("ds_2015-01-01T00:00:00.000Z", "2015-01-03T00:00:00.000Z_v", int64(-1), int64(0), int32(1))
	f.Add("x", "", int64(Eternity.Start), int64(Eternity.End), int32(32768))
	f.Fuzz(func(t *testing.T, dataSource, version string, start, end int64, partition int32) {
		// Druid can only read back ids with a dataSource, start before end and a non-negative partition number;
		// the instants are folded into the range that formats to parseable text.
		if dataSource == "" || partition < 0 {
			return
		}
		minimum, maximum := int64(MinInstant), int64(MaxInstant)
		span := uint64(maximum) - uint64(minimum) + 1 // Wraps to the true span, which fits a uint64.
		fold := func(v int64) Instant { return Instant(int64(uint64(v)%span + uint64(minimum))) }
		iv := Interval{Start: fold(start), End: fold(end)}
		if iv.Start >= iv.End {
			return
		}
		id := SegmentID{DataSource: dataSource, Interval: iv, Version: version, PartitionNum: int(partition)}
		s := id.String()
		withDS := ParseSegmentIDWithDataSource(dataSource, s)
		if !slices.Contains(withDS, id) {
			t.Fatalf("ParseSegmentIDWithDataSource(%q, %q) = %v, missing %v", dataSource, s, withDS, id)
		}
		if len(withDS) > 2 || withDS[len(withDS)-1].PartitionNum != 0 {
			t.Fatalf("ParseSegmentIDWithDataSource(%q, %q) = %v: at most two readings, the last with partition 0", dataSource, s, withDS)
		}
		all := PossibleSegmentIDs(s)
		if !slices.Contains(all, id) {
			t.Fatalf("PossibleSegmentIDs(%q) = %v, missing %v", s, all, id)
		}
		for _, r := range all {
			if r.Interval.Start >= r.Interval.End || r.DataSource == "" {
				t.Fatalf("PossibleSegmentIDs(%q) returned an invalid reading %v", s, r)
			}
		}
	})
}

func FuzzDataSegmentJSON(f *testing.F) {
	addGoldenSeeds(f, "segments/numbered.json", "segments/tombstone.json", "segments/future_field.json",
		"segments/unicode_datasource.json", "segments/range.json")
	f.Add([]byte(`{"x":1,"dataSource":"d","interval":"2025-01-01/P1D","version":"v","size":null,"shardSpec":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s DataSegment
		if err := s.UnmarshalJSON(data); err != nil {
			return
		}
		first, err := s.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON after UnmarshalJSON(%q): %v", data, err)
		}
		var again DataSegment
		if err := again.UnmarshalJSON(first); err != nil {
			t.Fatalf("UnmarshalJSON(%q) of our own output: %v", first, err)
		}
		second, err := again.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("unstable:\n%s\n%s", first, second)
		}
		if again.ID() != s.ID() {
			t.Fatalf("id changed: %v -> %v", s.ID(), again.ID())
		}
	})
}

func FuzzChangeRequest(f *testing.F) {
	addGoldenSeeds(f, "changerequests/load.json", "changerequests/noop.json", "changerequests/schema.json")
	f.Add([]byte(`{"dataSource":"d","action":"drop","interval":"2025-01-01/2025-01-02","version":"v","action":"x"}`))
	// A load announcement of a partial-load wrapper, its two request members around the segment's.
	f.Add([]byte(`{"action":"load","loadedBytes":7,"dataSource":"d","interval":"2025-01-01/2025-01-02","version":"v","loadSpec":{"type":"partialX","fingerprint":"f","delegate":{}},"fingerprint":"f","size":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ChangeRequest
		if err := r.UnmarshalJSON(data); err != nil {
			return
		}
		if r.Action == "" {
			return // JSON null
		}
		first, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON after UnmarshalJSON(%q): %v", data, err)
		}
		var again ChangeRequest
		if err := again.UnmarshalJSON(first); err != nil {
			t.Fatalf("UnmarshalJSON(%q) of our own output: %v", first, err)
		}
		second, err := again.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("unstable:\n%s\n%s", first, second)
		}
		list, err := ParseChangeRequests(append(append([]byte("["), data...), ']'))
		if err != nil || len(list) != 1 || list[0].Action != r.Action {
			t.Fatalf("ParseChangeRequests of [%s] = %v, %v", data, list, err)
		}
	})
}
