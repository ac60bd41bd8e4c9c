package companion

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The benchmark's scale (it needs the S3 server, so -short skips it): COMPANION_BENCH_SEGMENTS segments (200) of
// COMPANION_BENCH_SEGMENT_MB megabytes each (16), loaded by a Historical COMPANION_BENCH_LOADING_THREADS at a time
// (2, as numLoadingThreads on a 12-core machine and the Coordinator's batch size for it), S3 giving
// COMPANION_BENCH_CONN_MBPS megabytes per second per connection (85). On a small machine the S3 server, the proxy
// and both sides' unzipping compete for the CPU at 85 MB/s per connection; a lower rate keeps the run bound by
// S3's per-connection bandwidth, which is what the companion is for.
const (
	benchSegmentsEnv = "COMPANION_BENCH_SEGMENTS"
	benchSizeEnv     = "COMPANION_BENCH_SEGMENT_MB"
	benchThreadsEnv  = "COMPANION_BENCH_LOADING_THREADS"
	benchRateEnv     = "COMPANION_BENCH_CONN_MBPS"
	// benchConnMBps is S3's bandwidth per connection, as measured by Druid users (85 MB/s).
	benchConnMBps = 85
)

func benchInt(b *testing.B, env string, def int) int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: expected a positive integer", env, v)
	}
	return n
}

// BenchmarkFill times a fresh Historical filling its cache from a full load queue, with S3 capped at 85 MB/s
// per connection: once alone (each load one GET, numLoadingThreads at a time, as a Java Historical), once with the
// companion prefetching the queue ahead of it. It reports both times and the speedup.
//
//	go test ./agent -run '^$' -bench CompanionFill -benchtime 1x
func BenchmarkFill(b *testing.B) {
	n := benchInt(b, benchSegmentsEnv, 200)
	mb := benchInt(b, benchSizeEnv, 16)
	loading := benchInt(b, benchThreadsEnv, 2)
	rate := benchInt(b, benchRateEnv, benchConnMBps)
	bucket := testenv.S3(b)
	segs := benchUpload(b, bucket, n, mb<<20)
	proxy, err := faultproxy.New(bucket.Endpoint)
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	api, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()

	cache := benchDir(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	server := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(server)
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	window := min(64, n)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{
		"druid.host=127.0.0.1", "druid.plaintextPort=" + port, "druid.bindOnHost=true", "druid.zk.service.enabled=false",
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":%d}]`, cache, 2*total),
		"druid.segmentCache.numLoadingThreads=" + strconv.Itoa(loading),
		"druid.s3.endpoint.url=" + proxy.URL(), "druid.s3.enablePathStyleAccess=true",
		"druid.s3.accessKey=" + bucket.AccessKey, "druid.s3.secretKey=" + bucket.SecretKey,
		"druid.s3.endpoint.signingRegion=" + bucket.Region,
		"druid.sidecar.coordinator.url=" + api.URL(),
		"druid.sidecar.prefetch.maxBytes=" + strconv.FormatInt(int64(window)*int64(mb<<20)*11/10, 10),
		"druid.sidecar.prefetch.maxSegments=" + strconv.Itoa(window),
		"druid.sidecar.prefetch.pollPeriod=PT0.1S", "druid.sidecar.drift.period=",
	}})
	if err != nil {
		b.Fatal(err)
	}
	// The Historical's own S3 client: a connection per concurrent load, each one GET per segment.
	hist, err := druidpeer.NewJavaHistorical(cfg, druidpeer.HistoricalOptions{S3: benchS3(bucket, proxy.URL()),
		ScratchDir: benchDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// The stand-in checks every mount against deep storage's bytes, which it downloads once per object: done here,
	// uncapped and untimed, so that the timed loads download only what a Java Historical would.
	proxy.SetConnRate(0)
	if _, _, err := benchFill(ctx, hist, api, server, segs, 4); err != nil {
		b.Fatal(err)
	}
	benchDrop(b, hist, segs)
	proxy.SetConnRate(int64(rate) * 1_000_000)

	var alone, with time.Duration
	var reused int
	var raced int64
	b.ResetTimer()
	for range b.N {
		d, r, err := benchFill(ctx, hist, api, server, segs, loading)
		if err != nil {
			b.Fatal(err)
		}
		if r != 0 {
			b.Fatalf("without the companion %d segments were found in the cache", r)
		}
		alone += d
		benchDrop(b, hist, segs)

		c, err := New(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		<-c.Ready()
		d, r, err = benchFill(ctx, hist, api, server, segs, loading)
		stop()
		if rerr := <-done; err == nil {
			err = rerr
		}
		if err != nil {
			b.Fatal(err)
		}
		with += d
		reused += r
		raced += c.pf.Stats().Raced // copies the Historical downloaded over: the mount race
		benchDrop(b, hist, segs)
	}
	b.StopTimer()
	alone /= time.Duration(b.N)
	with /= time.Duration(b.N)
	b.ReportMetric(alone.Seconds(), "s-alone")
	b.ReportMetric(with.Seconds(), "s-companion")
	b.ReportMetric(alone.Seconds()/with.Seconds(), "x-faster")
	b.ReportMetric(float64(reused)/float64(b.N), "prefetched-segs")
	b.ReportMetric(float64(raced)/float64(b.N), "raced-copies")
	mbps := func(d time.Duration) float64 { return float64(total) / 1e6 / d.Seconds() }
	b.Logf("%d segments of %d MB, %d loading threads, S3 at %d MB/s per connection: alone %s (%.0f MB/s), with the "+
		"companion %s (%.0f MB/s, %d of %d found prefetched, %d copies downloaded over in the mount race): %.2fx faster",
		n, mb, loading, rate, alone.Round(time.Millisecond), mbps(alone), with.Round(time.Millisecond), mbps(with),
		reused/b.N, n, raced/int64(b.N), alone.Seconds()/with.Seconds())
}

// benchFill queues segs for server and has the Historical load them loading at a time, in queue order,
// each taken off the queue when done, as the Coordinator does; it returns the time until all are loaded and how
// many the Historical found in its cache instead of downloading.
func benchFill(ctx context.Context, h *druidpeer.JavaHistorical, api *druidpeer.CoordinatorAPI, server string,
	segs []*segments.DataSegment, loading int) (time.Duration, int, error) {
	api.Load(server, segs...)
	start := time.Now()
	var next, reused atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range loading {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(segs) {
					return
				}
				m, err := h.Load(ctx, segs[i])
				if err == nil && !m.Match() {
					err = fmt.Errorf("%s was mounted with bytes other than deep storage's", segs[i].ID())
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
				if m.Reused {
					reused.Add(1)
				}
				api.Remove(server, segs[i].ID())
			}
		})
	}
	wg.Wait()
	return time.Since(start), int(reused.Load()), firstErr
}

// benchDir is where the cache and the Historical's downloads go: memory where there is a tmpfs, as the
// deep-storage benchmarks do, since this machine's disk writes at about S3's speed per connection and would be what
// is measured.
func benchDir(b *testing.B) string {
	if shm, err := os.MkdirTemp("/dev/shm", "companion-bench-"); err == nil {
		b.Cleanup(func() { os.RemoveAll(shm) })
		return shm
	}
	return b.TempDir()
}

func benchDrop(b *testing.B, h *druidpeer.JavaHistorical, segs []*segments.DataSegment) {
	for _, s := range segs {
		if err := h.Drop(s); err != nil {
			b.Fatal(err)
		}
	}
}

// benchS3 is an S3 client to endpoint with a connection pool.
func benchS3(bucket testenv.S3Bucket, endpoint string) *s3.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return s3.New(s3.Options{Region: bucket.Region, UsePathStyle: true, BaseEndpoint: aws.String(endpoint),
		HTTPClient:                 &http.Client{Transport: tr},
		Credentials:                credentials.NewStaticCredentialsProvider(bucket.AccessKey, bucket.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
}

// benchUpload puts n segments of about size bytes in S3. Their column data is random, so that the objects
// are as large as the segments: Druid's columns are compressed already, and what crosses the network is what the
// 85 MB/s per connection applies to.
func benchUpload(b *testing.B, bucket testenv.S3Bucket, n, size int) []*segments.DataSegment {
	b.Helper()
	client := bucket.Client(b)
	segs := make([]*segments.DataSegment, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				data, total, err := benchZip(uint64(i+1), size)
				if err != nil {
					errs[i] = err
					return
				}
				s := sandbox.Segment("wikipedia", i, 0, 1, bucket.Bucket, baseKey, total)
				_, errs[i] = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket.Bucket),
					Key: aws.String(sandbox.Key(baseKey, s.ID())), Body: bytes.NewReader(data)})
				segs[i] = s
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("uploading segment %d: %v", i, err)
		}
	}
	return segs
}

// benchZip is an index.zip whose chunk is size bytes of random data, deflated at level 0 (random data
// does not compress anyway), and the files' total size.
func benchZip(seed uint64, size int) ([]byte, int64, error) {
	chunk := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	if _, err := rng.Read(chunk); err != nil {
		return nil, 0, err
	}
	return sandbox.IndexZipOf(chunk, true)
}
