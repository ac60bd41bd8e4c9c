package deepstorage

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseLoadSpec(t *testing.T) {
	cases := []struct {
		json string
		want LoadSpec
	}{
		{`{"type":"s3_zip","bucket":"b","key":"base/ds/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/2025-01-02T03:04:05.678Z/0/index.zip","S3Schema":"s3n"}`,
			S3Zip{Bucket: "b", Key: "base/ds/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/2025-01-02T03:04:05.678Z/0/index.zip", Schema: "s3n"}},
		{`{"type":"s3_zip","bucket":"b","key":"ds/x/0/6d1e2b1c-uuid/index.zip","S3Schema":"s3a"}`,
			S3Zip{Bucket: "b", Key: "ds/x/0/6d1e2b1c-uuid/index.zip", Schema: "s3a"}},
		{`{"S3Schema":"s3n","key":"ds/x/0/","bucket":"b","type":"s3_zip","unknown":[1,2]}`, S3Zip{Bucket: "b", Key: "ds/x/0/", Schema: "s3n"}},
		{`{"type":"s3_zip","bucket":"b","key":"ds/x/0/index.gz"}`, S3Zip{Bucket: "b", Key: "ds/x/0/index.gz"}},
		{`{"type":"local","path":"/var/druid/segments/ds/x/0/index.zip"}`, Local{Path: "/var/druid/segments/ds/x/0/index.zip"}},
		{` {"path":null,"type":"tombstone"} `, Tombstone{}},
		{`{"type":"tombstone"}`, Tombstone{}},
		// As Druid's google and azure extensions publish them (GoogleDataSegmentPusher, AzureDataSegmentPusher).
		{`{"type":"google","bucket":"b","path":"druid/wiki/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/v1/0/index.zip"}`,
			Google{Bucket: "b", Path: "druid/wiki/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/v1/0/index.zip"}},
		{`{"type":"azure","containerName":"c","blobPath":"druid/wiki/20250101T000000.000Z_20250102T000000.000Z/2025-01-02T03_04_05.678Z/0/index.zip"}`,
			Azure{Container: "c", BlobPath: "druid/wiki/20250101T000000.000Z_20250102T000000.000Z/2025-01-02T03_04_05.678Z/0/index.zip"}},
		{`{"type":"azure","containerName":"c","blobPath":"druid/wiki/x/0/","rangeable":true}`, Azure{Container: "c", BlobPath: "druid/wiki/x/0/"}},
		// A Druid 38+ Coordinator under a partial-load rule wraps the load spec; druid-sidecar loads the delegate in
		// full, whatever the wrapper's type (Druid recognizes wrappers by their shape, not by a list of subtypes).
		{`{"type":"partialFullSegment","fingerprint":"v1:abcdef0123456789","delegate":{"type":"s3_zip","bucket":"b","key":"ds/x/0/index.zip","S3Schema":"s3n","rangeable":true}}`,
			S3Zip{Bucket: "b", Key: "ds/x/0/index.zip", Schema: "s3n"}},
		{`{"delegate":{"type":"local","path":"/var/druid/segments/foo/index.zip"},"projections":["revenue"],"fingerprint":"v1:1","type":"partialProjection"}`,
			Local{Path: "/var/druid/segments/foo/index.zip"}},
		{`{"type":"partialFutureScheme","fingerprint":"f","delegate":{"type":"google","bucket":"g","path":"p/index.zip"},"whatever":{"x":1}}`,
			Google{Bucket: "g", Path: "p/index.zip"}},
		{`{"type":"partialComposite","fingerprint":"outer","delegate":{"type":"partialBaseTable","fingerprint":"inner","delegate":{"path":null,"type":"tombstone"}}}`,
			Tombstone{}},
	}
	for _, c := range cases {
		got, err := ParseLoadSpec(json.RawMessage(c.json))
		if err != nil {
			t.Errorf("ParseLoadSpec(%s): %v", c.json, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseLoadSpec(%s) = %#v, want %#v", c.json, got, c.want)
		}
	}
	if s := (S3Zip{Bucket: "b", Key: "k/index.zip"}).String(); s != "s3://b/k/index.zip" {
		t.Errorf("String() = %q", s)
	}
	if s := (Google{Bucket: "b", Path: "k/index.zip"}).String(); s != "gs://b/k/index.zip" {
		t.Errorf("String() = %q", s)
	}
	if s := (Azure{Container: "c", BlobPath: "k/index.zip"}).String(); s != "azure://c/k/index.zip" {
		t.Errorf("String() = %q", s)
	}
}

// A Hadoop indexing task writes the blob's whole wasbs:// address as its blobPath; Druid reads the blob named after
// the endpoint (AzureUtils.maybeRemoveAzurePathPrefix), with the configured endpoint suffix.
func TestAzureHadoopBlobPath(t *testing.T) {
	cases := []struct{ path, suffix, want string }{
		{"druid/wiki/x/0/index.zip", "", "druid/wiki/x/0/index.zip"},
		{"wasbs://c@acct.blob.core.windows.net/druid/wiki/x/0/index.zip", "", "druid/wiki/x/0/index.zip"},
		{"wasbs://c@acct.blob.core.chinacloudapi.cn/druid/x/index.zip", "blob.core.chinacloudapi.cn", "druid/x/index.zip"},
		{"wasbs://c@acct.blob.core.chinacloudapi.cn/druid/x/index.zip", "", "wasbs://c@acct.blob.core.chinacloudapi.cn/druid/x/index.zip"},
	}
	for _, c := range cases {
		if got := (Azure{Container: "c", BlobPath: c.path}).locationWith(c.suffix); got.key != c.want || got.bucket != "c" {
			t.Errorf("%q with suffix %q reads %v, want blob %q", c.path, c.suffix, got, c.want)
		}
	}
}

func TestParseLoadSpecUnsupported(t *testing.T) {
	cases := map[string]string{
		`{"type":"hdfs","path":"hdfs://nn:8020/druid/segments/ds/x/0_index.zip"}`: `load spec type "hdfs" (HDFS deep storage) is not supported: druid-sidecar pulls only s3_zip, local, tombstone, google, azure segments`,
		`{"type":"c*","x":1}`: `load spec type "c*" (deep storage) is not supported`,
	}
	for in, msg := range cases {
		_, err := ParseLoadSpec(json.RawMessage(in))
		var ue *UnsupportedTypeError
		if !errors.Is(err, ErrUnsupportedLoadSpec) || !errors.As(err, &ue) || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseLoadSpec(%s) = %v, want an unsupported-type error saying %q", in, err, msg)
		}
	}
}

func TestParseLoadSpecInvalid(t *testing.T) {
	cases := map[string]string{
		``:                               "is not a JSON object",
		`null`:                           "is not a JSON object",
		`[1]`:                            "is not a JSON object",
		`{"type":"s3_zip"`:               "is not valid JSON",
		`{"bucket":"b","key":"k"}`:       `has no "type"`,
		`{"type":7}`:                     `field "type" is 7, not a string`,
		`{"type":"s3_zip","bucket":"b"}`: `needs both "bucket" and "key"`,
		`{"type":"s3_zip","key":"k","bucket":""}`: `needs both "bucket" and "key"`,
		`{"type":"local"}`:                        `has no "path"`,
		`{"type":"local","path":"rel/index.zip"}`: `is not absolute`,
		`{"type":"google","bucket":"b"}`:          `needs both "bucket" and "path"`,
		`{"type":"google","path":"p/index.zip"}`:  `needs both "bucket" and "path"`,
		`{"type":"azure","containerName":"c"}`:    `needs both "containerName" and "blobPath"`,
		`{"type":"azure","blobPath":"p"}`:         `needs both "containerName" and "blobPath"`,
		`{"type":"azure","blobPath":7}`:           `field "blobPath" is 7, not a string`,
	}
	for in, msg := range cases {
		_, err := ParseLoadSpec(json.RawMessage(in))
		if err == nil || !strings.Contains(err.Error(), msg) || errors.Is(err, ErrUnsupportedLoadSpec) {
			t.Errorf("ParseLoadSpec(%q) = %v, want an error saying %q", in, err, msg)
		}
	}
}

func FuzzParseLoadSpec(f *testing.F) {
	for _, s := range []string{
		`{"type":"s3_zip","bucket":"b","key":"k/index.zip","S3Schema":"s3n"}`,
		`{"type":"local","path":"/x/index.zip"}`,
		`{"path":null,"type":"tombstone"}`,
		`{"type":"hdfs","path":"hdfs://x"}`,
		`{"type":"google","bucket":"b","path":"p/index.zip"}`,
		`{"type":"azure","containerName":"c","blobPath":"p/"}`,
		`{"type":"s3_zip","bucket":"b","key":null}`,
		`{}`, `[]`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := ParseLoadSpec(b)
		if (spec == nil) == (err == nil) {
			t.Fatalf("ParseLoadSpec(%q) = %v, %v: want exactly one of a spec and an error", b, spec, err)
		}
		switch s := spec.(type) {
		case S3Zip:
			if s.Bucket == "" || s.Key == "" {
				t.Fatalf("ParseLoadSpec(%q) accepted %#v", b, s)
			}
		case Google:
			if s.Bucket == "" || s.Path == "" {
				t.Fatalf("ParseLoadSpec(%q) accepted %#v", b, s)
			}
		case Azure:
			if s.Container == "" || s.BlobPath == "" {
				t.Fatalf("ParseLoadSpec(%q) accepted %#v", b, s)
			}
		case Local:
			if !strings.HasPrefix(s.Path, "/") {
				t.Fatalf("ParseLoadSpec(%q) accepted %#v", b, s)
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("empty error for %q", b)
		}
	})
}
