package loadqueue

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// testBucket is where a rig's segments are stored: a bucket of the local S3 server, or, under -short, one in
// memory that a memStore pulls from (the engine sees only a puller, so its tests need no S3 to run).
type testBucket struct {
	Bucket string
	// Endpoint is the S3 server's; a memory bucket's is a port nothing listens on, so that a test which proxies
	// it also needs the real server (and skips under -short).
	Endpoint string
	s3       *testenv.S3Bucket
	mem      *memStore
}

// Put stores an object under key.
func (b testBucket) Put(t testing.TB, key string, body []byte) {
	t.Helper()
	switch {
	case b.s3 != nil:
		b.s3.Put(t, key, body)
	case b.mem != nil:
		b.mem.put(b.Bucket, key, body)
	default:
		t.Fatalf("putting %s: the rig has no deep storage", key)
	}
}

// memStore is deep storage in memory, and the puller that reads it as deepstorage's does for the engine: load
// specs are parsed by deepstorage (an unsupported type fails alike), an s3_zip archive is unpacked from memory
// into the segment's directory within maxBytes, a missing one fails with deepstorage.ErrNotFound, and the specs
// that read no S3 (tombstone, local) go to deepstorage itself.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte // by bucket + "/" + key
	other   *deepstorage.Puller
}

func newMemBucket(t testing.TB) (testBucket, *memStore) {
	t.Helper()
	p, err := deepstorage.New(deepstorage.Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := &memStore{objects: map[string][]byte{}, other: p}
	return testBucket{Bucket: "memory", Endpoint: "http://127.0.0.1:1", mem: m}, m
}

func (m *memStore) put(bucket, key string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[bucket+"/"+key] = bytes.Clone(body)
}

func (m *memStore) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	spec, err := deepstorage.ParseLoadSpec(seg.LoadSpec)
	if err != nil {
		return 0, err
	}
	s3z, ok := spec.(deepstorage.S3Zip)
	if !ok {
		return m.other.PullSegment(ctx, seg, dir, maxBytes)
	}
	m.mu.Lock()
	data, found := m.objects[s3z.Bucket+"/"+s3z.Key]
	m.mu.Unlock()
	where := "s3://" + s3z.Bucket + "/" + s3z.Key
	if !found {
		return 0, fmt.Errorf("%s does not exist (404 NoSuchKey): %w", where, deepstorage.ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := unzipInto(ctx, data, dir, maxBytes)
	if err != nil {
		return 0, fmt.Errorf("%s is not a usable segment archive: %w", where, err)
	}
	return n, nil
}

// unzipInto writes an archive's files into dir, within maxBytes in all; on failure it removes what it wrote, as
// deepstorage does.
func unzipInto(ctx context.Context, data []byte, dir *os.Root, maxBytes int64) (total int64, err error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, errors.Join(err, deepstorage.ErrInvalidArchive)
	}
	var written []string
	defer func() {
		if err != nil {
			for _, name := range written {
				_ = dir.Remove(name)
			}
		}
	}()
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if zf.UncompressedSize64 > uint64(maxBytes-total) {
			return 0, fmt.Errorf("%s takes the segment past the %d bytes allowed: %w", zf.Name, maxBytes, deepstorage.ErrTooLarge)
		}
		r, err := zf.Open()
		if err != nil {
			return 0, errors.Join(err, deepstorage.ErrInvalidArchive)
		}
		f, err := dir.OpenFile(zf.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			r.Close()
			return 0, err
		}
		written = append(written, zf.Name)
		n, cerr := io.Copy(f, io.LimitReader(r, maxBytes-total+1))
		r.Close()
		if err := errors.Join(cerr, f.Close()); err != nil {
			return 0, errors.Join(err, deepstorage.ErrInvalidArchive)
		}
		if total += n; total > maxBytes {
			return 0, fmt.Errorf("the files pass the %d bytes allowed: %w", maxBytes, deepstorage.ErrTooLarge)
		}
	}
	return total, nil
}
