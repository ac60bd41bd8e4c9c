package segcache

import "testing"

// TestIsTombstoneLoadSpec: a tombstone is what deep storage parses as one (its top-level type), whatever the spacing
// Druid's metadata store kept; the word elsewhere in a spec does not make one.
func TestIsTombstoneLoadSpec(t *testing.T) {
	for spec, want := range map[string]bool{
		`{"type":"tombstone"}`:                                       true,
		`{ "type" : "tombstone" }`:                                   true,
		"{\"type\":\t\"tombstone\",\"path\":null}":                   true,
		`{"type":"s3_zip","bucket":"b","key":"tombstone/index.zip"}`: false,
		`{"type":"local","path":"/x","note":{"type":"tombstone"}}`:   false,
		`{"type":"hdfs","path":"\"tombstone\""}`:                     false,
		`not json "tombstone"`:                                       false,
		`{"type":"s3_zip","bucket":"b","key":"k/index.zip"}`:         false,
	} {
		if got := isTombstoneLoadSpec([]byte(spec)); got != want {
			t.Errorf("isTombstoneLoadSpec(%s) = %v, want %v", spec, got, want)
		}
	}
}
