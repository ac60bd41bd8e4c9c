package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
)

// cachePullArchive is column data of about 4/3 size bytes whose index.zip is about size bytes: three blocks in four
// are noise and one in four repeats a row, so that the archive inflates as LZ4-compressed columns do under DEFLATE
// (to about 3/4), not at the speed of a copy.
func cachePullArchive(b *testing.B, size int) ([]byte, int64) {
	b.Helper()
	chunk := make([]byte, size*4/3)
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < len(chunk); i += 4096 {
		x = x*6364136223846793005 + 1442695040888963407
		end := min(i+4096, len(chunk))
		noise := x>>62 != 0
		for j := i; j < end; j++ {
			if noise {
				x = x*6364136223846793005 + 1442695040888963407
				chunk[j] = byte(x >> 56)
			} else {
				chunk[j] = "2025-01-01T00:00:00.000Z,wikipedia,en,"[j%38]
			}
		}
	}
	data, total, err := sandbox.IndexZipOf(chunk, false)
	if err != nil {
		b.Fatal(err)
	}
	return data, total
}

// BenchmarkCachePull runs `druid-sidecar cache pull` (the binary, one process per segment, as an operator runs it)
// of 4 segments whose index.zip is 32 MB each, one after the other into a new segment cache on disk, and compares
// it in the same run with two baselines over the same objects, one after the other, written beside the cache and
// fsynced as the cache syncs what it pulls:
//
//	get-unzip: a minimal correct loader, a GET of the archive into memory and archive/zip of the standard library
//	           writing its entries to files (what any loader must do: the archive is DEFLATE-compressed);
//	raw-get:   a GET of the archive written to a file as it is, without unpacking (the ceiling of network and disk).
//
// x-get-unzip is the loader's time over the cache pull's time, the cache pull's throughput as a fraction of it (above
// 1: faster). Target: at least 0.9. x-raw-get is the same against raw GETs, reported but not a target: on 2 cores
// the inflating alone takes several times as long as the GET of the compressed bytes.
func BenchmarkCachePull(b *testing.B) {
	const count, size = 4, 32 << 20
	n := newE2ENode(b, nodeOpts{directS3: true, logLevel: "info"})
	data, total := cachePullArchive(b, size)
	segFiles := make([]string, count)
	keys := make([]string, count)
	for i := range count {
		s := sandbox.Segment("pull", i, 0, 1, n.Bucket.Bucket, e2eBaseKey, total)
		keys[i] = e2eS3Key(s)
		n.Bucket.Put(b, keys[i], data)
		js, err := json.Marshal(s)
		if err != nil {
			b.Fatal(err)
		}
		segFiles[i] = filepath.Join(b.TempDir(), "segment.json")
		if err := os.WriteFile(segFiles[i], js, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d archives of %d bytes (%d bytes unpacked)", count, len(data), total)
	client := n.Bucket.Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	work := b.TempDir() // the cache and the raw files, one directory each per iteration, removed after it

	// getEach times a baseline: a GET of every archive one after the other, each body handed to put with the
	// directory to write in, then the directory fsynced.
	getEach := func(dir string, put func(i int, body io.Reader) error) time.Duration {
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i, key := range keys {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(n.Bucket.Bucket), Key: aws.String(key)})
			if err != nil {
				b.Fatalf("GET of %s: %v", key, err)
			}
			err = put(i, out.Body)
			out.Body.Close()
			if err != nil {
				b.Fatalf("GET of %s to disk: %v", key, err)
			}
		}
		if err := syncDir(dir); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// rawGet writes each archive to a file as it is.
	rawGet := func(dir string) time.Duration {
		return getEach(dir, func(i int, body io.Reader) error {
			f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)+".zip"))
			if err != nil {
				return err
			}
			_, err = io.Copy(f, body)
			return errors.Join(err, f.Sync(), f.Close())
		})
	}
	// getUnzip is the minimal loader: the archive read whole, each entry inflated into a file and fsynced.
	getUnzip := func(dir string) time.Duration {
		return getEach(dir, func(i int, body io.Reader) error {
			archive, err := io.ReadAll(body)
			if err != nil {
				return err
			}
			zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
			if err != nil {
				return fmt.Errorf("unzip: %w", err)
			}
			seg := filepath.Join(dir, strconv.Itoa(i))
			if err := os.Mkdir(seg, 0o755); err != nil {
				return err
			}
			for _, zf := range zr.File {
				if err := unzipEntry(zf, filepath.Join(seg, filepath.Base(zf.Name))); err != nil {
					return fmt.Errorf("unzip: %w", err)
				}
			}
			return syncDir(seg)
		})
	}
	serveBinary(b) // built before anything is timed
	warm := filepath.Join(work, "warm")
	rawGet(warm) // warms the S3 server's page cache for everything that follows
	os.RemoveAll(warm)
	var pullSum, rawSum, unzipSum time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw := filepath.Join(work, "raw-"+strconv.Itoa(i))
		rawSum += rawGet(raw)
		os.RemoveAll(raw)
		unzipped := filepath.Join(work, "unzip-"+strconv.Itoa(i))
		unzipSum += getUnzip(unzipped)
		os.RemoveAll(unzipped)
		n.SetCache(filepath.Join(work, "cache-"+strconv.Itoa(i)))
		start := time.Now()
		for _, f := range segFiles {
			code, stdout, stderr := runBinary(b, "cache", "pull", "--properties", n.Props, f)
			if code != exitOK || !strings.HasPrefix(strings.TrimSpace(stdout), n.Cache) {
				b.Fatalf("druid-sidecar cache pull %s: exit %d, stdout %q\n%s", f, code, stdout, tail(stderr, 20))
			}
		}
		pullSum += time.Since(start)
		os.RemoveAll(n.Cache)
	}
	b.StopTimer()
	nf := float64(b.N)
	b.SetBytes(int64(count * len(data)))
	b.ReportMetric(pullSum.Seconds()/nf, "cache-pull-s")
	b.ReportMetric(rawSum.Seconds()/nf, "raw-get-s")
	b.ReportMetric(unzipSum.Seconds()/nf, "get-unzip-s")
	b.ReportMetric(rawSum.Seconds()/pullSum.Seconds(), "x-raw-get")
	b.ReportMetric(unzipSum.Seconds()/pullSum.Seconds(), "x-get-unzip")
}

// unzipEntry writes one archive entry to path and fsyncs it.
func unzipEntry(zf *zip.File, path string) error {
	r, err := zf.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Sync(), f.Close())
}

// syncDir fsyncs a directory, so that the names written in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
