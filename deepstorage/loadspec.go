package deepstorage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// LoadSpec is where a segment's files are in deep storage: a DataSegment's "loadSpec", parsed by ParseLoadSpec.
// It is one of S3Zip, Google, Azure, Local and Tombstone.
type LoadSpec interface {
	// Type is the load spec's "type" as Druid writes it: "s3_zip", "google", "azure", "local" or "tombstone".
	Type() string
	// String names the location for people: s3://bucket/key, gs://bucket/path, azure://container/blobPath, the
	// local path, or "tombstone".
	String() string
	isLoadSpec()
}

// S3Zip is an "s3_zip" load spec. Key is used exactly as written (it is never rebuilt from the segment id): it
// ends in ".zip" (an archive), ".gz" (one gzipped file) or, from Druid 35 with druid.storage.zip=false, "/" (a
// prefix under which the segment's files are stored one object each).
type S3Zip struct {
	Bucket string
	Key    string
	// Schema is "S3Schema" ("s3n", or "s3a" with druid.storage.useS3aSchema). Pulling ignores it.
	Schema string
}

// Google is a "google" load spec (Druid's google extension, GoogleLoadSpec): an object of a Google Cloud Storage
// bucket. Path is used as written: an index.zip or, with druid.storage.zip=false (recent Druid), a prefix ending in
// "/" under which the segment's files are stored one object each.
type Google struct {
	Bucket string
	Path   string
}

// Azure is an "azure" load spec (Druid's azure extension, AzureLoadSpec): a blob of a container of the storage
// account druid.azure.account names. BlobPath is an index.zip or, with druid.storage.zip=false, a prefix ending in
// "/"; a Hadoop-style path (…blob.core.windows.net/<blob>) is read from what follows the endpoint, as Druid does.
type Azure struct {
	Container string
	BlobPath  string
}

// Local is a "local" load spec: an absolute path to an index.zip (or a .gz file) or, with druid.storage.zip=false,
// a directory of segment files.
type Local struct {
	Path string
}

// Tombstone is a "tombstone" load spec: a segment that only hides older data. It has no files in deep storage;
// loading it writes factory.json naming the tombstone segment factory.
type Tombstone struct{}

func (S3Zip) Type() string     { return "s3_zip" }
func (Google) Type() string    { return "google" }
func (Azure) Type() string     { return "azure" }
func (Local) Type() string     { return "local" }
func (Tombstone) Type() string { return "tombstone" }

func (s S3Zip) String() string     { return "s3://" + s.Bucket + "/" + s.Key }
func (g Google) String() string    { return g.location().String() }
func (a Azure) String() string     { return schemeAzure + "://" + a.Container + "/" + a.BlobPath }
func (Google) isLoadSpec()         {}
func (Azure) isLoadSpec()          {}
func (l Local) String() string     { return l.Path }
func (Tombstone) String() string   { return "tombstone" }
func (S3Zip) isLoadSpec()          {}
func (Local) isLoadSpec()          {}
func (Tombstone) isLoadSpec()      {}
func (s S3Zip) location() location { return location{scheme: schemeS3, bucket: s.Bucket, key: s.Key} }
func (g Google) location() location {
	return location{scheme: schemeGoogle, bucket: g.Bucket, key: g.Path}
}

// defaultAzureBlobSuffix is the host suffix of Azure's blob endpoints (druid.azure.storageAccountEndpointSuffix's
// default).
const defaultAzureBlobSuffix = "blob.core.windows.net"

// locationWith is the blob to read: BlobPath, or what follows the blob endpoint's host suffix in a Hadoop-style
// path (wasbs://container@account.blob.core.windows.net/<blob>), as Druid's AzureUtils.maybeRemoveAzurePathPrefix
// reads it.
func (a Azure) locationWith(blobSuffix string) location {
	key := a.BlobPath
	if blobSuffix == "" {
		blobSuffix = defaultAzureBlobSuffix
	}
	if i := strings.Index(key, blobSuffix); i >= 0 && i+len(blobSuffix) < len(key) {
		key = key[i+len(blobSuffix)+1:]
	}
	return location{scheme: schemeAzure, bucket: a.Container, key: key}
}

// SupportedTypes are the load spec types druid-sidecar can pull, in the order error messages list them.
var SupportedTypes = []string{"s3_zip", "local", "tombstone", "google", "azure"}

// ErrUnsupportedLoadSpec matches (errors.Is) the error of a load spec whose type druid-sidecar cannot pull.
var ErrUnsupportedLoadSpec = errors.New("unsupported load spec type")

// UnsupportedTypeError is a load spec of a type druid-sidecar cannot pull (hdfs, or a type it does not know). It is an ordinary value: a load queue reports its text as the segment's FAILED cause.
type UnsupportedTypeError struct {
	Type string
}

func (e *UnsupportedTypeError) Error() string {
	what := "deep storage"
	switch e.Type {
	case "hdfs":
		what = "HDFS deep storage"
	}
	return fmt.Sprintf("load spec type %q (%s) is not supported: druid-sidecar pulls only %s segments",
		e.Type, what, strings.Join(SupportedTypes, ", "))
}

func (e *UnsupportedTypeError) Is(target error) bool { return target == ErrUnsupportedLoadSpec }

// ParseLoadSpec reads a DataSegment's "loadSpec" JSON object. Unknown fields are ignored (as Druid does); missing
// required fields and unsupported types are errors, the latter an *UnsupportedTypeError.
//
// A partial-load wrapper (Druid 38+: a "type" starting with "partial", a string "fingerprint" and an object
// "delegate"; see segments.ParsePartialLoadSpec) parses as its delegate: druid-sidecar loads a segment in full, as
// a Java Historical does when it falls back from a partial load, whatever part the wrapper asks for. A wrapper
// without both fields is an error, as Druid cannot build one either.
func ParseLoadSpec(raw json.RawMessage) (LoadSpec, error) { return parseLoadSpec(raw, 0) }

// maxPartialNesting bounds wrappers inside wrappers, which Druid's Coordinator never sends: each level re-reads the
// rest of the spec, and a hostile request must not make that quadratic.
const maxPartialNesting = 4

func parseLoadSpec(raw json.RawMessage, nesting int) (LoadSpec, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("load spec %s is not a JSON object", quoteShort(raw))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("load spec %s is not valid JSON: %w", quoteShort(raw), err)
	}
	typ, err := stringField(fields, "type")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(typ, segments.PartialLoadTypePrefix) {
		p, _, err := segments.ParsePartialLoadSpec(raw)
		if err != nil {
			return nil, err
		}
		if nesting >= maxPartialNesting {
			return nil, fmt.Errorf("partial-load wrapper %q nests more than %d wrappers", typ, maxPartialNesting)
		}
		return parseLoadSpec(p.Delegate, nesting+1)
	}
	switch typ {
	case "":
		return nil, fmt.Errorf("load spec %s has no \"type\"", quoteShort(raw))
	case "s3_zip":
		var s S3Zip
		if s.Bucket, err = stringField(fields, "bucket"); err != nil {
			return nil, err
		}
		if s.Key, err = stringField(fields, "key"); err != nil {
			return nil, err
		}
		if s.Schema, err = stringField(fields, "S3Schema"); err != nil {
			return nil, err
		}
		if s.Bucket == "" || s.Key == "" {
			return nil, fmt.Errorf("s3_zip load spec %s needs both \"bucket\" and \"key\"", quoteShort(raw))
		}
		return s, nil
	case "google":
		var g Google
		if g.Bucket, err = stringField(fields, "bucket"); err != nil {
			return nil, err
		}
		if g.Path, err = stringField(fields, "path"); err != nil {
			return nil, err
		}
		if g.Bucket == "" || g.Path == "" {
			return nil, fmt.Errorf("google load spec %s needs both \"bucket\" and \"path\"", quoteShort(raw))
		}
		return g, nil
	case "azure":
		var a Azure
		if a.Container, err = stringField(fields, "containerName"); err != nil {
			return nil, err
		}
		if a.BlobPath, err = stringField(fields, "blobPath"); err != nil {
			return nil, err
		}
		if a.Container == "" || a.BlobPath == "" {
			return nil, fmt.Errorf("azure load spec %s needs both \"containerName\" and \"blobPath\"", quoteShort(raw))
		}
		return a, nil
	case "local":
		var l Local
		if l.Path, err = stringField(fields, "path"); err != nil {
			return nil, err
		}
		if l.Path == "" {
			return nil, fmt.Errorf("local load spec %s has no \"path\"", quoteShort(raw))
		}
		if !filepath.IsAbs(l.Path) {
			return nil, fmt.Errorf("local load spec path %q is not absolute (Druid requires an absolute path)", l.Path)
		}
		return l, nil
	case "tombstone":
		return Tombstone{}, nil
	default:
		return nil, &UnsupportedTypeError{Type: typ}
	}
}

// stringField reads fields[name] as a string; a missing field or JSON null reads as "".
func stringField(fields map[string]json.RawMessage, name string) (string, error) {
	v, ok := fields[name]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("load spec field %q is %s, not a string", name, quoteShort(v))
	}
	return s, nil
}

// quoteShort quotes JSON for an error message, cut to a readable length.
func quoteShort(b []byte) string {
	const max = 200
	s := string(b)
	if len(s) > max {
		s = s[:max] + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
