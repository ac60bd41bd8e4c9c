package segments

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// readGolden returns the files matching pattern, each without its single trailing newline.
func readGolden(t *testing.T, pattern string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files match %s: %v", pattern, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = bytes.TrimSuffix(b, []byte("\n"))
	}
	return out
}

// checkGoldenFile compares got with testdata/name, or rewrites the file when -update is set.
func checkGoldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the current output (run go test -update after checking the change):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func mustUnmarshalSegment(t *testing.T, data []byte) DataSegment {
	t.Helper()
	var s DataSegment
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("unmarshal %s: %v", data, err)
	}
	return s
}

func mustMarshal(t *testing.T, v json.Marshaler) []byte {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func TestSegmentGoldenRoundTrip(t *testing.T) {
	var ids strings.Builder
	golden := readGolden(t, "segments/*.json")
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range golden {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		input := golden[name]
		t.Run(name, func(t *testing.T) {
			seg := mustUnmarshalSegment(t, input)
			if got := mustMarshal(t, seg); !bytes.Equal(got, input) {
				t.Errorf("re-serialization differs:\n got: %s\nwant: %s", got, input)
			}
			// The identifier member must be what ID().String() gives, and the id must be among its readings.
			var probe struct {
				Identifier string `json:"identifier"`
			}
			if err := json.Unmarshal(input, &probe); err != nil {
				t.Fatal(err)
			}
			id := seg.ID()
			if id.String() != probe.Identifier {
				t.Errorf("ID().String() = %q, identifier member = %q", id.String(), probe.Identifier)
			}
			withDS := ParseSegmentIDWithDataSource(seg.DataSource, probe.Identifier)
			if !slices.Contains(withDS, id) {
				t.Errorf("ParseSegmentIDWithDataSource(%q, %q) = %v, missing %v", seg.DataSource, probe.Identifier, withDS, id)
			}
			all := PossibleSegmentIDs(probe.Identifier)
			if !slices.Contains(all, id) {
				t.Errorf("PossibleSegmentIDs(%q) = %v, missing %v", probe.Identifier, all, id)
			}
			ids.WriteString(name + "\n  id: " + id.String() + "\n")
			for _, r := range withDS {
				ids.WriteString("  with dataSource: " + describeID(r) + "\n")
			}
			for _, r := range all {
				ids.WriteString("  possible: " + describeID(r) + "\n")
			}
		})
	}
	checkGoldenFile(t, "segment_ids.golden", []byte(ids.String()))
}

func describeID(id SegmentID) string {
	b, _ := json.Marshal(struct {
		DataSource   string
		Interval     string
		Version      string
		PartitionNum int
	}{id.DataSource, id.Interval.String(), id.Version, id.PartitionNum})
	return string(b)
}

func TestSegmentGoldenFields(t *testing.T) {
	golden := readGolden(t, "segments/*.json")
	tests := []struct {
		file      string
		check     func(t *testing.T, s *DataSegment)
		tombstone bool
	}{
		{file: "numbered", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "DataSource", s.DataSource, "wikipedia")
			wantEq(t, "Interval", s.Interval.String(), "2016-06-27T00:00:00.000Z/2016-06-28T00:00:00.000Z")
			wantEq(t, "len(Dimensions)", len(s.Dimensions), 16)
			wantEq(t, "Metrics[4]", s.Metrics[4], "sum_metroCode")
			wantEq(t, "BinaryVersion", *s.BinaryVersion, 9)
			wantEq(t, "Size", s.Size, int64(4821846))
			wantEq(t, "Projections == nil", s.Projections == nil, true)
			wantEq(t, "LastCompactionState == nil", s.LastCompactionState == nil, true)
		}},
		{file: "tombstone", tombstone: true, check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "LoadSpec", string(s.LoadSpec), `{"path":null,"type":"tombstone"}`)
			wantEq(t, "BinaryVersion == nil", s.BinaryVersion == nil, true)
			wantEq(t, "Size", s.Size, int64(1))
			wantEq(t, "Dimensions == nil", s.Dimensions == nil, true)
		}},
		{file: "eternity", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "Interval", s.Interval, Eternity)
		}},
		{file: "numbered_overwrite", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "PartitionNum", s.ShardSpec.PartitionNum(), 32768)
			wantEq(t, "EndRootPartitionID", s.ShardSpec.EndRootPartitionID(), 2)
			wantEq(t, "MinorVersion", s.ShardSpec.MinorVersion(), 1)
		}},
		{file: "single", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "NumCorePartitions", s.ShardSpec.NumCorePartitions(), 2)
		}},
		{file: "projections", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "Projections", strings.Join(*s.Projections, "|"), "daily_by_country|hourly_totals")
		}},
		{file: "projections_empty", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "len(*Projections)", len(*s.Projections), 0)
		}},
		{file: "unicode_datasource", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "DataSource", s.DataSource, "売上データ_ü")
			wantEq(t, "Dimensions", strings.Join(s.Dimensions, "|"), "都市|国|emoji😀|a<b&c/d|tab\there|quote\"d|back\\slash|ctl\x1fx")
		}},
		{file: "future_field", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "UnknownFields", strings.Join(s.UnknownFields(), ","), "storageFormat,numRows")
			wantEq(t, "BinaryVersion", *s.BinaryVersion, 10)
		}},
		{file: "compaction_state", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "LastCompactionState prefix", string(s.LastCompactionState[:18]), `{"partitionsSpec":`)
		}},
		{file: "null_loadspec", check: func(t *testing.T, s *DataSegment) {
			wantEq(t, "LoadSpec == nil", s.LoadSpec == nil, true)
			wantEq(t, "PartitionNum", s.ID().PartitionNum, 5)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := mustUnmarshalSegment(t, golden[tt.file])
			wantEq(t, "IsTombstone", s.IsTombstone(), tt.tombstone)
			tt.check(t, &s)
		})
	}
}

func wantEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestSegmentNormalization covers inputs Druid accepts but never writes: the output is what Druid would write back.
func TestSegmentNormalization(t *testing.T) {
	const head = `"dataSource":"ds","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v"`
	const id = `"identifier":"ds_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_v"`
	const numbered01 = `"shardSpec":{"type":"numbered","partitionNum":0,"partitions":1}`
	tests := []struct {
		name, in, want string
	}{
		{
			name: "missing optional members get Druid's defaults",
			in:   `{` + head + `}`,
			want: `{` + head + `,"loadSpec":null,"dimensions":"","metrics":"",` + numbered01 + `,"binaryVersion":null,"size":0,` + id + `}`,
		},
		{
			name: "null shardSpec, projections, lastCompactionState and size",
			in: `{` + head + `,"loadSpec":{},"dimensions":null,"metrics":null,"projections":null,"shardSpec":null,` +
				`"lastCompactionState":null,"binaryVersion":9,"size":null}`,
			want: `{` + head + `,"loadSpec":{},"dimensions":"","metrics":"",` + numbered01 + `,"binaryVersion":9,"size":0,` + id + `}`,
		},
		{
			name: "members in another order, whitespace, and a wrong identifier",
			in: " {\n  \"size\" : 5 ,\"identifier\":\"bogus\", \"shardSpec\": { \"type\" : \"linear\", \"partitionNum\": 2 },\n" +
				`"version":"v","interval":"2025-01-01T00:00:00+01:00/2025-01-02","dataSource":"ds","loadSpec":{ "a" : [1, 2] }} `,
			want: `{"dataSource":"ds","interval":"2024-12-31T23:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v","loadSpec":{"a":[1,2]},` +
				`"dimensions":"","metrics":"","shardSpec":{"type":"linear","partitionNum":2},"binaryVersion":null,"size":5,` +
				`"identifier":"ds_2024-12-31T23:00:00.000Z_2025-01-02T00:00:00.000Z_v_2"}`,
		},
		{
			name: "comma lists drop empty items",
			in:   `{` + head + `,"dimensions":",a,,b,","metrics":",","projections":",,"}`,
			want: `{` + head + `,"loadSpec":null,"dimensions":"a,b","metrics":"","projections":"",` + numbered01 + `,"binaryVersion":null,"size":0,` + id + `}`,
		},
		{
			name: "escapes are rewritten as Jackson writes them",
			in:   `{"data\u0053ource":"d\u00e9\/s\u0001","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"\ud83d\ude00<&>\u2028"}`,
			want: `{"dataSource":"dé/s\u0001","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"😀<&>` + "\u2028" + `","loadSpec":null,` +
				`"dimensions":"","metrics":"",` + numbered01 + `,"binaryVersion":null,"size":0,` +
				`"identifier":"dé/s\u0001_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_😀<&>` + "\u2028" + `"}`,
		},
		{
			name: "duplicate members: the last wins",
			in:   `{` + head + `,"size":1,"size":2,"version":"w"}`,
			want: `{"dataSource":"ds","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"w","loadSpec":null,"dimensions":"","metrics":"",` + numbered01 +
				`,"binaryVersion":null,"size":2,"identifier":"ds_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_w"}`,
		},
		{
			name: "unknown members follow the known member they followed",
			in:   `{"first":1,` + head + `,"afterVersion":{"x": [ ]},"size":3,"afterSize":"s",` + id + `,"last":null}`,
			want: `{"first":1,` + head + `,"afterVersion":{"x":[]},"loadSpec":null,"dimensions":"","metrics":"",` + numbered01 +
				`,"binaryVersion":null,"size":3,"afterSize":"s",` + id + `,"last":null}`,
		},
		{
			name: "lone surrogate escapes become U+FFFD",
			in:   `{"dataSource":"\ud800x","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v"}`,
			want: `{"dataSource":"` + "\uFFFD" + `x","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v","loadSpec":null,` +
				`"dimensions":"","metrics":"",` + numbered01 + `,"binaryVersion":null,"size":0,"identifier":"` + "\uFFFD" +
				`x_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_v"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := mustUnmarshalSegment(t, []byte(tt.in))
			got := mustMarshal(t, seg)
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			// What we write reads back to the same bytes.
			if again := mustMarshal(t, mustUnmarshalSegment(t, got)); !bytes.Equal(again, got) {
				t.Errorf("second round trip differs:\n%s\n%s", again, got)
			}
		})
	}
}

func TestSegmentErrors(t *testing.T) {
	const head = `"dataSource":"ds","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v"`
	tests := []struct {
		name, in string
		want     []string // substrings of the error
	}{
		{"month out of range", `{"dataSource":"ds","interval":"2025-13-01T00:00:00.000Z/2025-13-02T00:00:00.000Z","version":"v"}`,
			[]string{`segment interval: invalid interval "2025-13-01T00:00:00.000Z/2025-13-02T00:00:00.000Z": start "2025-13-01T00:00:00.000Z": month 13 is out of range [1, 12]`}},
		{"the package documentation's example", `{"dataSource":"ds","interval":"2025-13-01/2025-13-02","version":"v"}`,
			[]string{`segment interval: invalid interval "2025-13-01/2025-13-02": start "2025-13-01": month 13 is out of range [1, 12]`}},
		{"end before start", `{"dataSource":"ds","interval":"2025-01-02T00:00:00.000Z/2025-01-01T00:00:00.000Z","version":"v"}`,
			[]string{"segment interval", "the end 2025-01-01T00:00:00.000Z is before the start 2025-01-02T00:00:00.000Z"}},
		{"interval not a string", `{"dataSource":"ds","interval":5,"version":"v"}`, []string{"segment interval 5: it must be a JSON string"}},
		{"missing everything", `{}`, []string{"segment dataSource is missing", "segment interval is missing", "segment version is missing"}},
		{"empty dataSource", `{"dataSource":"","interval":"2025-01-01/2025-01-02","version":"v"}`, []string{"segment dataSource is missing, null or empty"}},
		{"dataSource not a string", `{"dataSource":["a"],"interval":"2025-01-01/2025-01-02","version":"v"}`, []string{`segment dataSource ["a"]: it must be a JSON string`}},
		{"negative size", `{` + head + `,"size":-1}`, []string{"segment size -1: it must not be negative"}},
		{"fractional size", `{` + head + `,"size":1.5}`, []string{"segment size 1.5: it must be an integer that fits a Java long"}},
		{"huge size", `{` + head + `,"size":9223372036854775808}`, []string{"segment size 9223372036854775808: it must be an integer"}},
		{"string size", `{` + head + `,"size":"12"}`, []string{`segment size "12": it must be an integer`}},
		{"binaryVersion too big", `{` + head + `,"binaryVersion":2147483648}`, []string{"segment binaryVersion 2147483648: it must be an integer that fits a Java int"}},
		{"loadSpec array", `{` + head + `,"loadSpec":[1]}`, []string{"segment loadSpec [1]: it must be a JSON object or null"}},
		{"dimensions array", `{` + head + `,"dimensions":["a","b"]}`, []string{`segment dimensions ["a","b"]: it must be a JSON string`}},
		{"lastCompactionState string", `{` + head + `,"lastCompactionState":"x"}`, []string{`segment lastCompactionState "x": it must be a JSON object or null`}},
		{"bad shard spec", `{` + head + `,"shardSpec":{"type":"numbered","partitionNum":-1,"partitions":1}}`,
			[]string{"segment shardSpec: invalid numbered shard spec: partitionNum -1 must not be negative"}},
		{"several problems at once", `{"dataSource":"ds","interval":"x","version":"v","size":-5}`,
			[]string{`segment interval: invalid interval "x"`, "segment size -5"}},
		{"not an object", `[1]`, []string{"segment JSON: malformed JSON at offset 0: expected a JSON object"}},
		{"trailing data", `{` + head + `} x`, []string{"segment JSON: malformed JSON at offset", "expected the end of the input"}},
		{"truncated", `{` + head, []string{"segment JSON: malformed JSON: unexpected end of input"}},
		{"control character in string", "{\"dataSource\":\"a\x01\"}", []string{"expected an escaped control character"}},
		{"invalid UTF-8", "{\"dataSource\":\"a\xff\"}", []string{"segment JSON is not valid UTF-8"}},
		{"bad number", `{` + head + `,"x":01}`, []string{"malformed JSON at offset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s DataSegment
			err := s.UnmarshalJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error for %s", tt.in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSegmentNullLeavesValue(t *testing.T) {
	s := NewTombstone("ds", Interval{Start: 0, End: 1}, "v")
	if err := s.UnmarshalJSON([]byte(" null ")); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "DataSource", s.DataSource, "ds")
}

func TestSegmentBuiltByHand(t *testing.T) {
	bv := 9
	projections := []string{"p1"}
	iv, err := ParseInterval("2025-01-01/2025-01-02")
	if err != nil {
		t.Fatal(err)
	}
	seg := DataSegment{
		DataSource: "ds", Interval: iv, Version: "2025-01-03T00:00:00.000Z",
		LoadSpec:   json.RawMessage(" {\"type\": \"local\",\n \"path\": \"/x y\"} "),
		Dimensions: []string{"a", "b"}, Metrics: []string{"m"}, Projections: &projections,
		ShardSpec:           HashedShardSpec(1, 2, 1, 2, []string{"a"}, "murmur3_32_abs"),
		LastCompactionState: json.RawMessage(`{"k":1}`), BinaryVersion: &bv, Size: 10,
	}
	want := `{"dataSource":"ds","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"2025-01-03T00:00:00.000Z",` +
		`"loadSpec":{"type":"local","path":"/x y"},"dimensions":"a,b","metrics":"m","projections":"p1",` +
		`"shardSpec":{"type":"hashed","partitionNum":1,"partitions":2,"bucketId":1,"numBuckets":2,"partitionDimensions":["a"],"partitionFunction":"murmur3_32_abs"},` +
		`"lastCompactionState":{"k":1},"binaryVersion":9,"size":10,"identifier":"ds_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_2025-01-03T00:00:00.000Z_1"}`
	if got := string(mustMarshal(t, seg)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	tomb := NewTombstone("ds", iv, "v")
	wantTomb := `{"dataSource":"ds","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v",` +
		`"loadSpec":{"path":null,"type":"tombstone"},"dimensions":"","metrics":"","shardSpec":{"type":"tombstone","partitionNum":0,"partitions":0},` +
		`"binaryVersion":null,"size":1,"identifier":"ds_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_v"}`
	if got := string(mustMarshal(t, tomb)); got != wantTomb {
		t.Errorf("tombstone got:\n%s\nwant:\n%s", got, wantTomb)
	}

	for _, bad := range []string{`[1]`, `{"a":}`, `"x"`, ``} {
		s := seg
		s.LoadSpec = json.RawMessage(bad)
		if _, err := s.MarshalJSON(); err == nil || !strings.Contains(err.Error(), "segment loadSpec") {
			t.Errorf("LoadSpec %q: error %v, want one naming loadSpec", bad, err)
		}
	}
}

// TestSegmentWithEncodingJSON checks that DataSegment works inside structures encoded by encoding/json, and documents
// that only an Encoder with SetEscapeHTML(false) keeps Jackson's bytes.
func TestSegmentWithEncodingJSON(t *testing.T) {
	golden := readGolden(t, "segments/unicode_datasource.json")["unicode_datasource"]
	var list []DataSegment
	if err := json.Unmarshal([]byte("["+string(golden)+","+string(golden)+"]"), &list); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(list); err != nil {
		t.Fatal(err)
	}
	want := "[" + string(golden) + "," + string(golden) + "]\n"
	if buf.String() != want {
		t.Errorf("Encoder output differs:\n%s\n%s", buf.String(), want)
	}
	escaped, err := json.Marshal(list[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(escaped, []byte(`a\u003cb\u0026c/d`)) {
		t.Errorf("json.Marshal was expected to HTML-escape: %s", escaped)
	}
}
