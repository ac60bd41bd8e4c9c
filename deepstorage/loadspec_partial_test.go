package deepstorage

import (
	"encoding/json"
	"strings"
	"testing"
)

// A partial-load wrapper parses as its delegate (TestParseLoadSpec); one Druid could not build either is an error.
func TestParseLoadSpecPartialWrapperErrors(t *testing.T) {
	deep := `{"type":"s3_zip","bucket":"b","key":"k/index.zip"}`
	for range maxPartialNesting + 1 {
		deep = `{"type":"partialFullSegment","fingerprint":"f","delegate":` + deep + `}`
	}
	cases := []struct{ json, want string }{
		{`{"type":"partialProjection","delegate":{"type":"local","path":"/x/index.zip"}}`, "malformed"},
		{`{"type":"partialProjection","fingerprint":null,"delegate":{"type":"local","path":"/x/index.zip"}}`, "malformed"},
		{`{"type":"partialProjection","fingerprint":7,"delegate":{"type":"local","path":"/x/index.zip"}}`, "malformed"},
		{`{"type":"partialFullSegment","fingerprint":"f"}`, "malformed"},
		{`{"type":"partialFullSegment","fingerprint":"f","delegate":"s3://b/k"}`, "malformed"},
		{`{"type":"partialFullSegment","fingerprint":"f","delegate":{"type":"hdfs","path":"/x"}}`, "not supported"},
		{`{"type":"partialFullSegment","fingerprint":"f","delegate":{"type":"s3_zip","bucket":"b"}}`, "needs both"},
		{deep, "nests more than"},
	}
	for _, c := range cases {
		_, err := ParseLoadSpec(json.RawMessage(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLoadSpec(%.120s) = %v, want an error with %q", c.json, err, c.want)
		}
	}
}
