package deepstorage

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// BenchmarkPull measures the download strategies against the local S3 server, as a Historical loads segments:
// N pulls at a time (numLoadingThreads) over a set of segment archives, each pull into a directory of its own.
//
//	sets:       large = 8 archives of 64 MB, small = 400 archives of 256 KB
//	strategies: raw (one GET to io.Discard: the ceiling), raw-ranged (parallel ranged GETs to io.Discard),
//	            stream-single (a: one GET unpacked as it arrives, as Java does), spool-ranged (b: parallel ranged
//	            GETs into a temporary file, then archive/zip), spool-single (c: one GET into a temporary file),
//	            stream-ranged-cN (the first part streamed, the next N parts fetched ahead in parallel, unpacked in
//	            order as they arrive; N=4 is the default, Auto)
//	capped:     the large set again through a proxy that caps every connection at 85 MB/s, as S3 does, and at
//	            20 MB/s (the same effect, scaled down to what a 2-core machine can unpack)
//
// MB/s is archive (downloaded) bytes per second, MBout/s unpacked bytes per second, cpu-s/GB this process's CPU
// per GB downloaded. Run with `make bench`, or
// go test -run '^$' -bench BenchmarkPull -benchtime 2x ./deepstorage
func BenchmarkPull(b *testing.B) {
	bucket := testenv.S3(b)
	sets := benchSets
	archives := benchUpload(b, bucket, sets)

	// Proxies that cap every connection: at 85 MB/s as S3 does, and at 20 MB/s, which shows the same effect on a
	// machine too small to unpack at 8 x 85 MB/s.
	proxies := map[int64]*faultproxy.Proxy{}
	for _, rate := range []int64{85_000_000, 20_000_000} {
		proxy, err := faultproxy.New(bucket.Endpoint)
		if err != nil {
			b.Fatal(err)
		}
		defer proxy.Close()
		proxy.SetConnRate(rate)
		proxies[rate] = proxy
	}

	type mode struct {
		name        string
		strategy    Strategy
		concurrency int
		raw         int // 0: pull; 1: one GET to io.Discard; 2: ranged GETs to io.Discard
	}
	modes := []mode{
		{"raw", Auto, 0, 1}, {"raw-ranged", Auto, 0, 2},
		{"stream-single", StreamSingle, 0, 0}, {"spool-single", SpoolSingle, 0, 0},
		{"spool-ranged", SpoolRanged, 0, 0}, {"stream-ranged-c2", StreamRanged, 2, 0},
		{"stream-ranged-c4=auto", Auto, 0, 0}, {"stream-ranged-c8", StreamRanged, 8, 0},
	}
	base := benchDir(b)
	for _, rate := range []int64{0, 85_000_000, 20_000_000} {
		capped := rate > 0
		for _, s := range sets {
			if capped && s.count >= 10 {
				continue // the cap matters for large objects only
			}
			for _, n := range []int{2, 8} {
				for _, m := range modes {
					name := fmt.Sprintf("%s/N=%d/%s", s.name, n, m.name)
					if capped {
						name = fmt.Sprintf("capped%dMBps/%s", rate/1e6, name)
					}
					b.Run(name, func(b *testing.B) {
						opts, _ := s3Options(b, bucket)
						opts.Logger = nil
						if capped {
							opts.S3.Endpoint = proxies[rate].URL()
						}
						opts.Download.Strategy = m.strategy
						opts.Download.Concurrency = m.concurrency
						p := newPuller(b, opts)
						archive := archives[s.name]
						b.SetBytes(int64(len(archive) * s.count))
						var out atomic.Int64
						cpu0 := cpuTime()
						for b.Loop() {
							benchLoads(b, p, bucket.Bucket, s.name, s.count, n, m.raw, base, &out)
						}
						b.ReportMetric(float64(out.Load())/1e6/b.Elapsed().Seconds(), "MBout/s")
						// CPU of this process (the proxy's too, when capped) per GB downloaded; the S3 server's is
						// not counted.
						gb := float64(len(archive)*s.count) * float64(b.N) / 1e9
						b.ReportMetric((cpuTime()-cpu0).Seconds()/gb, "cpu-s/GB")
					})
				}
			}
		}
	}
}

// benchLoads pulls every archive of a set, n at a time, then removes what was written.
func benchLoads(b *testing.B, p *Puller, bucket, set string, count, n, raw int, base string, out *atomic.Int64) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				key := fmt.Sprintf("%s/%d/index.zip", set, i)
				if raw > 0 {
					n, err := rawGet(p, bucket, key, raw == 2)
					out.Add(n)
					if err != nil {
						errs <- err
					}
					continue
				}
				dir := filepath.Join(base, fmt.Sprint(i))
				if err := os.Mkdir(dir, 0o755); err != nil {
					errs <- err
					continue
				}
				root, err := os.OpenRoot(dir)
				if err != nil {
					errs <- err
					continue
				}
				res, err := p.Pull(context.Background(), S3Zip{Bucket: bucket, Key: key}, root, 1<<30)
				root.Close()
				out.Add(res.Bytes)
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range count {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.StopTimer()
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(base, e.Name()))
	}
	b.StartTimer()
}

// rawGet downloads an object to io.Discard: with one GET, or with parallel ranged GETs.
func rawGet(p *Puller, bucket, key string, ranged bool) (int64, error) {
	return rawGetAt(p, location{scheme: schemeS3, bucket: bucket, key: key}, ranged)
}

// rawGetAt is rawGet of any store's object.
func rawGetAt(p *Puller, loc location, ranged bool) (int64, error) {
	pl := &pull{p: p, ctx: context.Background()}
	if !ranged {
		s := pl.newStream(loc)
		defer s.Close()
		return io.Copy(io.Discard, s)
	}
	s, err := pl.openStream(loc)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, s)
	s.Close()
	if err != nil {
		return n, err
	}
	var jobs []rangeJob
	for start := n; start < s.obj.size; start += p.partSize {
		jobs = append(jobs, rangeJob{loc: loc, etag: s.obj.etag, start: start, n: min(p.partSize, s.obj.size-start), w: discardAt{}})
	}
	return s.obj.size, pl.fetchAll(loc.String(), jobs)
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// benchArchive is a segment archive of about size bytes, written as Java writes them (DEFLATE, data
// descriptors). Its smoosh chunk compresses to about 3/4, as LZ4-compressed columns do under DEFLATE.
func benchArchive(b *testing.B, size int) []byte {
	b.Helper()
	n := size * 4 / 3
	chunk := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < n; i += 4096 {
		x = x*6364136223846793005 + 1442695040888963407
		end := min(i+4096, n)
		if x>>62 != 0 { // 3 blocks in 4: noise
			for j := i; j < end; j++ {
				x = x*6364136223846793005 + 1442695040888963407
				chunk[j] = byte(x >> 56)
			}
		} else { // 1 in 4: repetitive
			for j := i; j < end; j++ {
				chunk[j] = "2025-01-01T00:00:00.000Z,wikipedia,en,"[j%38]
			}
		}
	}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	for _, f := range []file{{"00000.smoosh", chunk}, {"factory.json", []byte(`{"type":"mMapSegmentFactory"}`)},
		{"meta.smoosh", []byte("v1,2147483647,1\n")}, {"version.bin", []byte{0, 0, 0, 9}}} {
		fw, err := w.Create(f.name)
		if err != nil {
			b.Fatal(err)
		}
		fw.Write(f.data)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// benchSet is a set of equal segment archives a benchmark pulls.
type benchSet struct {
	name  string
	count int
	size  int // of the archive
}

// benchSets are the sets of the pull benchmarks: a few large segments and many small ones.
var benchSets = []benchSet{
	{"large-8x64MB", 8, 64 << 20},
	{"small-400x256KB", 400, 256 << 10},
}

// benchUpload puts every archive of sets into the bucket, as <set>/<i>/index.zip, and returns each set's archive.
func benchUpload(b *testing.B, bucket testenv.S3Bucket, sets []benchSet) map[string][]byte {
	archives := map[string][]byte{}
	for _, s := range sets {
		archive := benchArchive(b, s.size)
		archives[s.name] = archive
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range s.count {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				bucket.Put(b, fmt.Sprintf("%s/%d/index.zip", s.name, i), archive)
			}()
		}
		wg.Wait()
	}
	return archives
}

// benchDir is where benchmarks unpack: memory where there is a tmpfs, since this machine's disk (and the
// deletions between runs) would add noise that has nothing to do with what is measured.
func benchDir(b *testing.B) string {
	if shm, err := os.MkdirTemp("/dev/shm", "deepstorage-bench-"); err == nil {
		b.Cleanup(func() { os.RemoveAll(shm) })
		return shm
	}
	return b.TempDir()
}
