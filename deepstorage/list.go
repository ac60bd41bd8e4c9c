package deepstorage

// Listing deep storage, for the audit: every object under a prefix, streamed page by page, and where a load spec's
// files are, so that objects no segment references (and segments whose objects are gone) can be found.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// List calls fn for every object of bucket whose key starts with prefix, in key order, as ListObjectsV2 returns them
// page by page: no more than one page (1000 keys) is held at a time, so a bucket of millions of objects is listed in
// constant memory. An error from fn ends the listing and is returned as it is. A page that fails is retried as a
// pull's requests are (throttling, 5xx, broken connections); errors name the bucket and prefix and match
// ErrNotFound (no such bucket) or ErrAccessDenied.
func (p *Puller) List(ctx context.Context, bucket, prefix string, fn func(key string, size int64) error) error {
	return p.ListObjects(ctx, bucket, prefix, func(o Object) error { return fn(o.Key, o.Size) })
}

// ListObjects is List with each object's modification time, which tells an object being written by a task that has
// not published its segment yet from one nobody will ever reference.
func (p *Puller) ListObjects(ctx context.Context, bucket, prefix string, fn func(Object) error) error {
	if bucket == "" {
		return errors.New("deepstorage: listing needs a bucket")
	}
	loc := location{bucket: bucket, key: prefix}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if p.listPageSize > 0 {
		in.MaxKeys = aws.Int32(p.listPageSize)
	}
	for {
		var out *s3.ListObjectsV2Output
		r := retrier{p: p, loc: loc}
		for {
			var err error
			out, err = p.client.ListObjectsV2(ctx, in)
			if err == nil {
				break
			}
			if err = r.failed(ctx, err); err != nil {
				return fmt.Errorf("listing objects: %w", err)
			}
		}
		for _, o := range out.Contents {
			obj := Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)}
			if err := fn(obj); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		next := aws.ToString(out.NextContinuationToken)
		if next == "" {
			// A truncated page without a token cannot be continued; stopping silently would pass an incomplete
			// listing off as the whole bucket.
			return fmt.Errorf("listing %s: the S3 server said the listing is truncated but gave no continuation token", loc)
		}
		in.ContinuationToken = aws.String(next)
	}
}

// ObjectLocation returns where a load spec's files are in S3: the bucket and the key of the archive (.zip, .gz), or
// the prefix ending in "/" under which Druid 35+ stores an unzipped segment's files. ok is false for load specs
// without S3 objects (local, tombstone).
func ObjectLocation(spec LoadSpec) (bucket, key string, ok bool) {
	s, isS3 := spec.(S3Zip)
	if !isS3 {
		return "", "", false
	}
	return s.Bucket, s.Key, true
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
