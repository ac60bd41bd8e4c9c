package segments

import (
	"encoding/json"
	"strings"
	"testing"
)

// The wrapper's shape, as Druid's PartialLoadSpec.detectPartialLoadSpec and hasPartialTypePrefix read it.
func TestParsePartialLoadSpec(t *testing.T) {
	cases := []struct {
		spec               string
		partial, malformed bool
		fingerprint, deleg string
	}{
		{`{"type":"partialProjection","delegate":{"type":"local","path":"/var/druid/segments/foo"},"projections":["revenue"],"fingerprint":"v1:abcdef0123456789"}`,
			true, false, "v1:abcdef0123456789", `{"type":"local","path":"/var/druid/segments/foo"}`},
		{`{"type":"partialFutureScheme","delegate":{"type":"s3_zip","bucket":"b","key":"k/","rangeable":true},"fingerprint":"v1:1111111111111111"}`,
			true, false, "v1:1111111111111111", `{"type":"s3_zip","bucket":"b","key":"k/","rangeable":true}`},
		{`{"type":"partial\u0046ullSegment","fingerprint":"a\"b","delegate": {"type":"local"} }`, true, false, `a"b`, `{"type":"local"}`},
		// A plain spec that happens to carry the fields is not a wrapper.
		{`{"type":"local","path":"/var/druid/segments/foo","fingerprint":"v1:notreallypartial","delegate":{"ignored":"yes"}}`, false, false, "", ""},
		{`{"type":"s3_zip","bucket":"partial","key":"partial/index.zip"}`, false, false, "", ""},
		{`{"type":["partialX"],"fingerprint":"f","delegate":{}}`, false, false, "", ""},
		{`null`, false, false, "", ""},
		{``, false, false, "", ""},
		// Malformed wrappers: the prefix without both fields.
		{`{"type":"partialProjection","delegate":{"type":"local","path":"/x"}}`, true, true, "", ""},
		{`{"type":"partialProjection","fingerprint":"f","delegate":null}`, true, true, "", ""},
		{`{"type":"partialProjection","fingerprint":null,"delegate":{}}`, true, true, "", ""},
		{`{"type":"partialProjection","fingerprint":"f","delegate":[{}]}`, true, true, "", ""},
	}
	for _, c := range cases {
		p, partial, err := ParsePartialLoadSpec(json.RawMessage(c.spec))
		if partial != c.partial || (err != nil) != c.malformed {
			t.Errorf("ParsePartialLoadSpec(%s) = partial %v, error %v; want partial %v, malformed %v", c.spec, partial, err, c.partial, c.malformed)
			continue
		}
		if partial && !c.malformed && (p.Fingerprint != c.fingerprint || string(p.Delegate) != c.deleg || !strings.HasPrefix(p.Type, "partial")) {
			t.Errorf("ParsePartialLoadSpec(%s) = %+v (delegate %s)", c.spec, p, p.Delegate)
		}
	}
}

func partialSegment(t *testing.T, loadSpec string, size int64) *DataSegment {
	t.Helper()
	var s DataSegment
	raw := `{"dataSource":"ds","interval":"2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z","version":"v1","loadSpec":` + loadSpec +
		`,"dimensions":"d","metrics":"m","shardSpec":{"type":"none"},"binaryVersion":9,"size":` + jsonInt(size) + `}`
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// SegmentChangeRequestLoad.forAnnouncement: a segment loaded through a wrapper's delegate announces the wrapper's
// fingerprint and loadedBytes = size; a plain or malformed one announces neither.
func TestLoadAnnouncement(t *testing.T) {
	wrapped := `{"type":"partialProjection","delegate":{"type":"s3_zip","bucket":"b","key":"k/index.zip","rangeable":true},"projections":["revenue"],"fingerprint":"v1:abcdef0123456789"}`
	seg := partialSegment(t, wrapped, 12345)
	r := LoadAnnouncement(seg)
	if r.Action != ActionLoad || r.Segment != seg || r.Fingerprint == nil || *r.Fingerprint != "v1:abcdef0123456789" || r.LoadedBytes == nil || *r.LoadedBytes != 12345 {
		t.Fatalf("LoadAnnouncement = %+v", r)
	}
	got, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// Jackson writes SegmentChangeRequestLoad's creator properties (fingerprint, loadedBytes) before the unwrapped
	// segment, whose load spec is the wrapper exactly as received (rangeable included).
	want := `{"action":"load","fingerprint":"v1:abcdef0123456789","loadedBytes":12345,"dataSource":"ds","interval":"2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z","version":"v1","loadSpec":` +
		wrapped + `,"dimensions":"d","metrics":"m","shardSpec":{"type":"none"},"binaryVersion":9,"size":12345,"identifier":"ds_2024-01-01T00:00:00.000Z_2024-02-01T00:00:00.000Z_v1"}`
	if string(got) != want {
		t.Fatalf("announcement\n got %s\nwant %s", got, want)
	}
	// Read back as a Broker or Coordinator reads it: the two fields belong to the request, not to the segment.
	var back ChangeRequest
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Fingerprint == nil || *back.Fingerprint != "v1:abcdef0123456789" || back.LoadedBytes == nil || *back.LoadedBytes != 12345 || len(back.Segment.UnknownFields()) != 0 {
		t.Fatalf("read back %+v, unknown %v", back, back.Segment.UnknownFields())
	}
	if again, _ := back.MarshalJSON(); string(again) != want {
		t.Errorf("re-serialized\n got %s\nwant %s", again, want)
	}

	for _, spec := range []string{
		`{"type":"s3_zip","bucket":"b","key":"k/index.zip"}`,
		`{"type":"local","path":"/x","fingerprint":"v1:notreallypartial","delegate":{"ignored":"yes"}}`,
		`{"type":"partialProjection","delegate":{"type":"local","path":"/x"}}`,
		`null`,
	} {
		r := LoadAnnouncement(partialSegment(t, spec, 100))
		if r.Fingerprint != nil || r.LoadedBytes != nil {
			t.Errorf("LoadAnnouncement with load spec %s = fingerprint %v, loadedBytes %v; want neither", spec, r.Fingerprint, r.LoadedBytes)
		}
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"loadedBytes"`) || strings.HasPrefix(string(b), `{"action":"load","fingerprint"`) {
			t.Errorf("plain announcement carries a partial-load field: %s", b)
		}
	}
}

func TestChangeRequestLoadFields(t *testing.T) {
	base := `"dataSource":"ds","interval":"2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z","version":"v1","loadSpec":{"type":"local","path":"/x"},"dimensions":"","metrics":"","shardSpec":{"type":"none"},"binaryVersion":9,"size":1`
	// Members in any order, as Jackson binds them; null leaves a field unset.
	for _, c := range []struct {
		json     string
		fp       string
		lb       int64
		hasFP    bool
		hasBytes bool
	}{
		{`{"action":"load",` + base + `,"loadedBytes":5,"fingerprint":"f1"}`, "f1", 5, true, true},
		{`{"fingerprint":"f2","action":"load",` + base + `}`, "f2", 0, true, false},
		{`{"action":"load","fingerprint":null,"loadedBytes":null,` + base + `}`, "", 0, false, false},
		{`{"action":"load","fingerprint":"old","fingerprint":"new",` + base + `}`, "new", 0, true, false},
	} {
		var r ChangeRequest
		if err := json.Unmarshal([]byte(c.json), &r); err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		if (r.Fingerprint != nil) != c.hasFP || (r.LoadedBytes != nil) != c.hasBytes ||
			(c.hasFP && *r.Fingerprint != c.fp) || (c.hasBytes && *r.LoadedBytes != c.lb) || len(r.Segment.UnknownFields()) != 0 {
			t.Errorf("%s: fingerprint %v, loadedBytes %v, unknown %v", c.json, r.Fingerprint, r.LoadedBytes, r.Segment.UnknownFields())
		}
	}
	for _, bad := range []string{
		`{"action":"load",` + base + `,"fingerprint":7}`,
		`{"action":"load",` + base + `,"loadedBytes":"5"}`,
		`{"action":"load",` + base + `,"loadedBytes":1.5}`,
	} {
		var r ChangeRequest
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	// SegmentChangeRequestDrop has no such fields: they stay unknown segment members, written back where they were.
	drop := `{"action":"drop",` + base + `,"identifier":"ds_2024-01-01T00:00:00.000Z_2024-02-01T00:00:00.000Z_v1","fingerprint":"f"}`
	var r ChangeRequest
	if err := json.Unmarshal([]byte(drop), &r); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.MarshalJSON(); r.Fingerprint != nil || string(got) != drop {
		t.Errorf("drop: fingerprint %v, written back as %s", r.Fingerprint, got)
	}
}
