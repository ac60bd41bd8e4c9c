package segcache

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var benchCacheSegments = flag.Int("cache.bench.segments", 100_000, "segments in the synthetic cache of BenchmarkCacheRestart")

// BenchmarkCacheRestart measures a restart's read of the cache, Bootstrap (read and parse every info file, list and
// stat every segment directory, look for orphans) of a synthetic flat cache of 100,000 segments of three small
// files each, against the same run's plain filepath.WalkDir with a stat per file of the same tree. The target is
// under 5 s and within 2x of the walk; the figures are reported as metrics (s/op of each, and the ratio).
func BenchmarkCacheRestart(b *testing.B) {
	n := *benchCacheSegments
	loc := filepath.Join(b.TempDir(), "cache")
	start := time.Now()
	makeSyntheticCache(b, loc, n)
	b.Logf("made a cache of %d segments in %v", n, time.Since(start).Round(time.Millisecond))
	cfg := testConfig(b, []testLoc{{path: loc}})

	walk := func() int {
		files := 0
		err := filepath.WalkDir(loc, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if _, err := d.Info(); err != nil {
				return err
			}
			files++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return files
	}
	bootstrap := func(threads int) {
		c, err := NewCache(cfg, CacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if threads > 0 {
			c.scanThread = threads
		}
		segs, rep, err := c.Bootstrap(context.Background())
		if err != nil || len(segs) != n || len(rep.Problems) != 0 {
			b.Fatalf("bootstrap: %d segments, %d problems, %v", len(segs), len(rep.Problems), err)
		}
		c.Close()
	}
	// Both measure a warm restart: dentries, inodes and the info files' pages cached.
	walk()
	bootstrap(0)

	var walkTime, bootTime time.Duration
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			if files := walk(); files < 4*n {
				b.Fatalf("walked %d entries", files)
			}
		}
		walkTime = b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(walkTime.Seconds(), "s/op")
	})
	b.Run("bootstrap", func(b *testing.B) {
		for b.Loop() {
			bootstrap(0)
		}
		bootTime = b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(bootTime.Seconds(), "s/op")
	})
	// The same read on one thread: whether the parallel read (the default) is the faster one on this disk.
	b.Run("bootstrap-sequential", func(b *testing.B) {
		for b.Loop() {
			bootstrap(1)
		}
		b.ReportMetric((b.Elapsed() / time.Duration(b.N)).Seconds(), "s/op")
	})
	if walkTime > 0 && bootTime > 0 {
		ratio := bootTime.Seconds() / walkTime.Seconds()
		b.ReportMetric(ratio, "bootstrap/walk")
		b.Logf("%d segments: bootstrap %v, walk %v, ratio %.2f (targets: under 5 s, within 2x)", n,
			bootTime.Round(time.Millisecond), walkTime.Round(time.Millisecond), ratio)
	}
}

// makeSyntheticCache writes n segments (version.bin, meta.smoosh, 00000.smoosh) with their info files.
func makeSyntheticCache(b *testing.B, loc string, n int) {
	info := filepath.Join(loc, "info_dir")
	if err := os.MkdirAll(info, 0o755); err != nil {
		b.Fatal(err)
	}
	const size = 128
	files := segmentFilesFor(size, "synthetic")
	var wg sync.WaitGroup
	var failed sync.Once
	workers := 8
	for w := range workers {
		wg.Go(func() {
			var buf []byte
			for i := w; i < n; i += workers {
				seg := testSegment(b, "bench", i/100, i%100, size)
				name := seg.ID().String()
				dir := filepath.Join(loc, name)
				err := os.Mkdir(dir, 0o755)
				for fname, data := range files {
					if err == nil {
						err = os.WriteFile(filepath.Join(dir, fname), data, 0o644)
					}
				}
				if err == nil {
					buf, err = seg.AppendJSON(buf[:0])
				}
				if err == nil {
					err = os.WriteFile(filepath.Join(info, name), buf, 0o644)
				}
				if err != nil {
					failed.Do(func() { b.Error(err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}
