package audit

import (
	"bytes"

	"github.com/druid-sidecar/druid-sidecar/deepstorage"
)

// locate returns where a segment's load spec puts its object: the bucket as a URL prefix (scheme://bucket/) and
// the key, as deepstorage.Locate gives them; ok is false for a load spec of no object store, or one that does not
// parse. The form Druid's S3 pusher writes ({"type":"s3_zip","bucket":…,"key":…,"S3Schema":…}, no escapes) is
// read in place, since a table holds millions of them; any other goes through deepstorage.ParseLoadSpec.
func (r *run) locate(spec []byte) (bucket, key string, ok bool) {
	if b, k, fast := s3ZipFast(spec); fast {
		if r.s3URLs == nil {
			r.s3URLs = map[string]string{}
		}
		u, seen := r.s3URLs[string(b)]
		if !seen {
			u = deepstorage.Bucket{Scheme: "s3", Name: string(b)}.URL("")
			r.s3URLs[string(b)] = u
		}
		return u, string(k), true
	}
	parsed, err := deepstorage.ParseLoadSpec(spec)
	if err != nil {
		return "", "", false
	}
	b, key, ok := deepstorage.Locate(parsed)
	return b.URL(""), key, ok
}

// The fixed parts of the s3_zip load spec as Jackson writes Druid's S3 pusher's map.
var (
	s3ZipStart  = []byte(`{"type":"s3_zip","bucket":"`)
	s3ZipKey    = []byte(`","key":"`)
	s3ZipSchema = []byte(`","S3Schema":`)
)

// s3ZipFast reads a load spec of exactly the form {"type":"s3_zip","bucket":"b","key":"k"} with an optional
// "S3Schema" string or null last, bucket and key not empty and free of escapes and control characters: the bucket
// and key as they are. fast is false for anything else, which the whole parse decides.
func s3ZipFast(spec []byte) (bucket, key []byte, fast bool) {
	rest, ok := bytes.CutPrefix(spec, s3ZipStart)
	if !ok {
		return nil, nil, false
	}
	if bucket, rest, ok = plainString(rest); !ok || !bytes.HasPrefix(rest, s3ZipKey) {
		return nil, nil, false
	}
	if key, rest, ok = plainString(rest[len(s3ZipKey):]); !ok || len(bucket) == 0 || len(key) == 0 {
		return nil, nil, false
	}
	switch {
	case string(rest) == `"}`:
		return bucket, key, true
	case !bytes.HasPrefix(rest, s3ZipSchema):
		return nil, nil, false
	}
	rest = rest[len(s3ZipSchema):]
	if string(rest) == "null}" {
		return bucket, key, true
	}
	if len(rest) == 0 || rest[0] != '"' {
		return nil, nil, false
	}
	if _, rest, ok = plainString(rest[1:]); !ok || string(rest) != `"}` {
		return nil, nil, false
	}
	return bucket, key, true
}

// plainString splits s at its first '"': what comes before it, which must hold no backslash or control character
// (so it is the string's value as it is), and the rest from the quote on.
func plainString(s []byte) (value, rest []byte, ok bool) {
	end := bytes.IndexByte(s, '"')
	if end < 0 {
		return nil, nil, false
	}
	for _, c := range s[:end] {
		if c < 0x20 || c == '\\' {
			return nil, nil, false
		}
	}
	return s[:end], s[end:], true
}
