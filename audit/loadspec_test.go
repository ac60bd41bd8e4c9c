package audit

import (
	"testing"

	"github.com/druid-sidecar/druid-sidecar/deepstorage"
)

// TestLocate: the load specs read in place give what deepstorage's whole parse gives, and every other form goes
// through it.
func TestLocate(t *testing.T) {
	r := &run{}
	for _, c := range []struct {
		spec string
		fast bool
	}{
		{`{"type":"s3_zip","bucket":"b","key":"druid/segments/wiki/x/index.zip","S3Schema":"s3n"}`, true},
		{`{"type":"s3_zip","bucket":"b","key":"k/","S3Schema":"s3a"}`, true},
		{`{"type":"s3_zip","bucket":"b","key":"k","S3Schema":null}`, true},
		{`{"type":"s3_zip","bucket":"b","key":"k"}`, true},
		{`{"type":"s3_zip","bucket":"b","key":"k\/x"}`, false},
		{`{"type":"s3_zip","bucket":"","key":"k"}`, false},
		{`{"type":"s3_zip","bucket":"b","key":""}`, false},
		{`{"type":"s3_zip","bucket":"b","key":"k","S3Schema":1}`, false},
		{`{"type":"s3_zip","bucket":"b","key":"k","S3Schema":"s3n","x":1}`, false},
		{`{"type":"s3_zip","bucket":"b","key":"k","S3Schema":"s3n"} `, false},
		{`{"type":"s3_zip","key":"k","bucket":"b"}`, false},
		{`{"bucket":"b","key":"k","type":"s3_zip"}`, false},
		{`{"type":"s3_zip","bucket":"b","key":"a","key":"k"}`, false},
		{`{"type":"google","bucket":"b","path":"druid/x/index.zip"}`, false},
		{`{"type":"azure","containerName":"c","blobPath":"druid/x/index.zip"}`, false},
		{`{"type":"local","path":"/x/index.zip"}`, false},
		{`{"type":"hdfs","path":"hdfs://x"}`, false},
		{`{"type":"s3_zip","bucket":"b","key":"k","S3Schema":"s3n"`, false},
	} {
		_, _, fast := s3ZipFast([]byte(c.spec))
		if fast != c.fast {
			t.Errorf("%s: read in place %v, want %v", c.spec, fast, c.fast)
		}
		bucket, key, ok := r.locate([]byte(c.spec))
		wantBucket, wantKey, wantOK := "", "", false
		if spec, err := deepstorage.ParseLoadSpec([]byte(c.spec)); err == nil {
			var b deepstorage.Bucket
			b, wantKey, wantOK = deepstorage.Locate(spec)
			if wantOK {
				wantBucket = b.URL("")
			}
		}
		if ok != wantOK || ok && (bucket != wantBucket || key != wantKey) {
			t.Errorf("%s: %q %q %v, want %q %q %v", c.spec, bucket, key, ok, wantBucket, wantKey, wantOK)
		}
	}
}
