package deepstorage

// Listing deep storage, for the audit: every object under a prefix, streamed page by page, and where a load spec's
// files are, so that objects no segment references (and segments whose objects are gone) can be found.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Object is one object of a listing.
type Object struct {
	// Key is the object's full key.
	Key string
	// Size is its size in bytes.
	Size int64
	// LastModified is when it was written, zero when the server did not say.
	LastModified time.Time
}

// Bucket is a bucket of deep storage: an S3 or Google Cloud Storage bucket, or an Azure Blob Storage container.
type Bucket struct {
	// Scheme is "s3", "gs" or "azure", as Druid writes their URIs.
	Scheme string
	// Name is the bucket's (or container's) name.
	Name string
}

// URL names an object of the bucket for people: s3://bucket/key, gs://bucket/key, azure://container/blob.
func (b Bucket) URL(key string) string { return b.location(key).String() }

func (b Bucket) location(key string) location {
	return location{scheme: b.Scheme, bucket: b.Name, key: key}
}

// List calls fn for every object of an S3 bucket whose key starts with prefix: ListBucket for S3.
func (p *Puller) List(ctx context.Context, bucket, prefix string, fn func(key string, size int64) error) error {
	return p.ListObjects(ctx, bucket, prefix, func(o Object) error { return fn(o.Key, o.Size) })
}

// ListObjects is List with each object's modification time, which tells an object being written by a task that has
// not published its segment yet from one nobody will ever reference.
func (p *Puller) ListObjects(ctx context.Context, bucket, prefix string, fn func(Object) error) error {
	return p.ListBucket(ctx, Bucket{Scheme: schemeS3, Name: bucket}, prefix, fn)
}

// ListBucket calls fn for every object of the bucket whose key starts with prefix, in key order, as the store
// lists them page by page (S3's ListObjectsV2, 1000 keys; Google's objects.list and Azure's List Blobs, 1024 by
// default, druid.google.maxListingLength and druid.azure.maxListingLength): no more than one page is held at a
// time, so a bucket of millions of objects is listed in constant memory. An error from fn ends the listing and is
// returned as it is. A page that fails is retried as a pull's requests are (throttling, 5xx, broken connections);
// errors name the bucket and prefix and match ErrNotFound (no such bucket) or ErrAccessDenied.
func (p *Puller) ListBucket(ctx context.Context, b Bucket, prefix string, fn func(Object) error) error {
	if b.Name == "" {
		return errors.New("deepstorage: listing needs a bucket")
	}
	switch b.Scheme {
	case schemeS3, schemeGoogle, schemeAzure:
	default:
		return fmt.Errorf("deepstorage: cannot list %q buckets: only s3, gs and azure", b.Scheme)
	}
	err := p.listPages(ctx, b.location(prefix), func(page []listed) error {
		for _, o := range page {
			if err := fn(o.Object); err != nil {
				return err
			}
		}
		return nil
	})
	var se *storeError
	if errors.As(err, &se) {
		return fmt.Errorf("listing objects: %w", err)
	}
	return err
}

// ObjectLocation returns where an S3 load spec's files are: the bucket and the key of the archive (.zip, .gz), or
// the prefix ending in "/" under which Druid 35+ stores an unzipped segment's files. ok is false for load specs
// without S3 objects (google, azure, local, tombstone); Locate answers for every object store.
func ObjectLocation(spec LoadSpec) (bucket, key string, ok bool) {
	s, isS3 := spec.(S3Zip)
	if !isS3 {
		return "", "", false
	}
	return s.Bucket, s.Key, true
}

// Locate returns where a load spec's files are in an object store: the bucket (S3, Google) or container (Azure),
// and the key of the archive or the prefix ending in "/" of an unzipped segment's files. An Azure Hadoop-style
// blob path is read as the puller reads it with Azure's default endpoint suffix. ok is false for load specs without
// objects (local, tombstone).
func Locate(spec LoadSpec) (b Bucket, key string, ok bool) {
	var loc location
	switch s := spec.(type) {
	case S3Zip:
		loc = s.location()
	case Google:
		loc = s.location()
	case Azure:
		loc = s.locationWith("")
	default:
		return Bucket{}, "", false
	}
	return Bucket{Scheme: loc.scheme, Name: loc.bucket}, loc.key, true
}

// StoragePrefix is the key prefix under which Druid's S3 pusher writes every segment: druid.storage.baseKey
// followed by "/", or "" (the whole bucket) when the base key is empty. Druid joins the base key and the segment's
// path with one "/", so a base key written with a trailing slash gives keys with "//"; the prefix keeps that.
func StoragePrefix(baseKey string) string {
	if baseKey == "" {
		return ""
	}
	return baseKey + "/"
}

// KeyDir returns the "directory" of a key: everything up to and including its last "/" ("" for a key without one).
// A segment's archive and, for an unzipped segment, its files share their directory, which no other segment uses.
func KeyDir(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}
