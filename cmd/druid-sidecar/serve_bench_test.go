package main

// Benchmarks of `druid-sidecar serve` as a process, each against a baseline measured in the same run on the same
// services:
//
//	go test -run '^$' -bench Serve ./cmd/druid-sidecar
//
// Sizes come from the environment (defaults in parentheses):
//
//	DRUID_SIDECAR_BENCH_SERVE_SEGMENTS         segments loaded by BenchmarkServeLoad200 (200)
//	DRUID_SIDECAR_BENCH_SERVE_SEGMENT_BYTES    column bytes of each, the DataSegment size (1048576)
//	DRUID_SIDECAR_BENCH_SERVE_THREADS          numLoadingThreads, the Coordinator's batch, the raw pulls' parallelism (8)
//	DRUID_SIDECAR_BENCH_SERVE_CACHED_SEGMENTS  cached segments of BenchmarkServeRestart100k (100000)
//	DRUID_SIDECAR_BENCH_SERVE_PROFILE          a directory to write an execution trace (trace.out) and a CPU profile
//	                                           (cpu.pprof) of the serve process to, taken over the first timed load of
//	                                           BenchmarkServeLoad200 (none)
//	DRUID_SIDECAR_BENCH_ZK_PID                 the ZooKeeper server's process id, whose CPU time over each timed load of
//	                                           BenchmarkServeLoad200 is then reported beside the serve process's and
//	                                           the benchmark's own (the Coordinator's and the Broker's stand-ins) (none)

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// benchEnvInt reads a positive integer from the environment, def when it is not set.
func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// parallel runs f(0) … f(n-1) on at most workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// BenchmarkServeLoad200 loads 200 segments end to end through changeRequests, timed from the Coordinator's first
// POST until a Broker's sync lists all of them, and compares with the raw time to pull the same objects with the
// same parallelism: deepstorage's Pull into plain directories (the same download and unzip without the cache, the
// load queue and the announcements), and plain parallel GETs read to nowhere. Target: within 1.25x of the pull.
func BenchmarkServeLoad200(b *testing.B) {
	count := benchEnvInt(b, "DRUID_SIDECAR_BENCH_SERVE_SEGMENTS", 200)
	chunk := benchEnvInt(b, "DRUID_SIDECAR_BENCH_SERVE_SEGMENT_BYTES", 1<<20)
	threads := benchEnvInt(b, "DRUID_SIDECAR_BENCH_SERVE_THREADS", 8)
	profileDir := os.Getenv("DRUID_SIDECAR_BENCH_SERVE_PROFILE")
	zkPid := 0
	if os.Getenv("DRUID_SIDECAR_BENCH_ZK_PID") != "" {
		zkPid = benchEnvInt(b, "DRUID_SIDECAR_BENCH_ZK_PID", 0)
	}
	n := newE2ENode(b, nodeOpts{directS3: true, logLevel: "info", sets: []string{
		"druid.segmentCache.numLoadingThreads=" + strconv.Itoa(threads),
		"druid.sidecar.http.pprof=" + strconv.FormatBool(profileDir != ""),
	}})
	z, err := e2eIndexZip(chunk)
	if err != nil {
		b.Fatal(err)
	}
	segs := make([]*segments.DataSegment, count)
	for i := range segs {
		segs[i] = sandbox.Segment("load", i, 0, 1, n.Bucket.Bucket, e2eBaseKey, z.size)
	}
	client := n.Bucket.Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	err = parallel(count, 16, func(i int) error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(n.Bucket.Bucket), Key: aws.String(e2eS3Key(segs[i])),
			Body: bytes.NewReader(z.data), ContentLength: aws.Int64(int64(len(z.data)))})
		return err
	})
	if err != nil {
		b.Fatalf("uploading the segments: %v", err)
	}
	b.Logf("%d segments of %d bytes (index.zip %d bytes) uploaded in %v", count, z.size, len(z.data), time.Since(start).Round(time.Millisecond))
	cfg, err := configs.Load(configs.LoadOptions{PropertiesFiles: []string{n.Props}, Environ: []string{}})
	if err != nil {
		b.Fatal(err)
	}
	puller, err := deepstorage.New(deepstorage.OptionsFromConfig(cfg))
	if err != nil {
		b.Fatal(err)
	}

	rawGet := func() time.Duration {
		start := time.Now()
		err := parallel(count, threads, func(i int) error {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(n.Bucket.Bucket), Key: aws.String(e2eS3Key(segs[i]))})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.Copy(io.Discard, out.Body)
			return err
		})
		if err != nil {
			b.Fatalf("raw GETs: %v", err)
		}
		return time.Since(start)
	}
	// rawPull pulls every segment into a directory of its own; with durable, each file and the directory are then
	// fsynced, as the segment cache does before it writes the info_dir entry, to tell the cost of durability apart.
	rawPull := func(durable bool) time.Duration {
		dir := b.TempDir()
		start := time.Now()
		err := parallel(count, threads, func(i int) error {
			spec, err := deepstorage.ParseLoadSpec(segs[i].LoadSpec)
			if err != nil {
				return err
			}
			d := filepath.Join(dir, strconv.Itoa(i))
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
			root, err := os.OpenRoot(d)
			if err != nil {
				return err
			}
			defer root.Close()
			res, err := puller.Pull(ctx, spec, root, 1<<40)
			if err != nil || !durable {
				return err
			}
			for _, name := range append(res.Files, ".") {
				f, err := root.Open(name)
				if err != nil {
					return err
				}
				if err := errors.Join(f.Sync(), f.Close()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("raw pulls: %v", err)
		}
		took := time.Since(start)
		os.RemoveAll(dir)
		return took
	}
	rawGet() // warms the S3 server's page cache for everything that follows

	var serveSum, pullSum, syncedSum, getSum time.Duration
	var serveCPU, selfCPU, zkCPU, pullCPU time.Duration // CPU time of each process over the timed loads, and of the raw pull
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		getSum += rawGet()
		cpu := procCPU(os.Getpid())
		pullSum += rawPull(false)
		pullCPU += procCPU(os.Getpid()) - cpu
		syncedSum += rawPull(true)
		n.SetCache(filepath.Join(b.TempDir(), "segment-cache"))
		p := n.StartReady()
		broker := n.watchInventory(nil)
		peon := &druidpeer.LoadPeon{URL: n.URL, BatchSize: threads, HostTimeout: 5 * time.Minute, RepeatDelay: 100 * time.Millisecond}
		for _, s := range segs {
			peon.Load(s)
		}
		want := idStrings(segs)
		drained := make(chan error, 1)
		var profiled chan error
		if profileDir != "" && i == 0 {
			profiled = make(chan error, 2)
			go func() { profiled <- fetchProfile(ctx, n.URL, "trace", filepath.Join(profileDir, "trace.out")) }()
			go func() { profiled <- fetchProfile(ctx, n.URL, "profile", filepath.Join(profileDir, "cpu.pprof")) }()
		}
		servePid := p.cmd.Process.Pid
		cpu0 := [3]time.Duration{procCPU(servePid), procCPU(os.Getpid()), procCPU(zkPid)}
		b.StartTimer()
		start := time.Now()
		go func() { drained <- peon.Drain(ctx) }()
		err := broker.WaitFor(ctx, func(view map[segments.SegmentID]*segments.DataSegment, _ *inventory.Counter) bool {
			return len(view) == len(want)
		})
		took := time.Since(start)
		b.StopTimer()
		serveCPU += procCPU(servePid) - cpu0[0]
		selfCPU += procCPU(os.Getpid()) - cpu0[1]
		zkCPU += procCPU(zkPid) - cpu0[2]
		if err != nil {
			b.Fatalf("the Broker did not see the %d segments: %v", count, err)
		}
		if err := <-drained; err != nil {
			b.Fatalf("the Coordinator's queue: %v", err)
		}
		if got := replicaIDs(broker.Segments()); !slices.Equal(got, want) {
			b.Fatalf("the Broker sees %d segments, not the %d loaded", len(got), len(want))
		}
		for _, s := range segs {
			if st, _ := peon.Result(segments.ActionLoad, s.ID()); st.State != "SUCCESS" {
				b.Fatalf("load of %s: %s %s", s.ID(), st.State, causeOf(st))
			}
		}
		serveSum += took
		loadSecs, _ := n.Metric("druid_sidecar_segment_load_duration_seconds_sum")
		b.Logf("load %d: %.3f s, %d POSTs; the loads took %.3f s together, %.0f%% of the %d threads' time",
			i, took.Seconds(), peon.Stats().Posts, loadSecs, 100*loadSecs/(took.Seconds()*float64(threads)), threads)
		if profiled != nil {
			if err := errors.Join(<-profiled, <-profiled); err != nil {
				b.Fatalf("profiling the serve process: %v", err)
			}
		}
		broker.Stop()
		p.Stop()
		b.StartTimer()
	}
	b.StopTimer()
	nf := float64(b.N)
	serve, pull, synced, get := serveSum.Seconds()/nf, pullSum.Seconds()/nf, syncedSum.Seconds()/nf, getSum.Seconds()/nf
	b.ReportMetric(serve, "serve-s")
	b.ReportMetric(pull, "raw-pull-s")
	b.ReportMetric(synced, "raw-pull-fsync-s")
	b.ReportMetric(get, "raw-get-s")
	b.ReportMetric(serve/pull, "x-raw-pull")
	b.ReportMetric(float64(count)*float64(len(z.data))/1e6/serve, "zip-MB/s")
	b.Logf("%d segments (%d B each, %d B zipped) on %d threads: serve %.3f s, raw pull %.3f s (%.2fx; target within 1.25x), raw pull with fsync %.3f s (%.2fx), raw GET %.3f s",
		count, z.size, len(z.data), threads, serve, pull, serve/pull, synced, serve/synced, get)
	b.Logf("CPU over a timed load: serve %.3f s, the Coordinator and Broker stand-ins %.3f s, ZooKeeper %.3f s (with DRUID_SIDECAR_BENCH_ZK_PID); the raw pull's %.3f s",
		serveCPU.Seconds()/nf, selfCPU.Seconds()/nf, zkCPU.Seconds()/nf, pullCPU.Seconds()/nf)
}

// procCPU is the user and system CPU time process pid has used so far (/proc/<pid>/stat), 0 when unknown.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces; the fields after it are space-separated, utime and stime
	// being the 14th and 15th of the line (the 12th and 13th after the name), in clock ticks of 1/100 s on Linux.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// fetchProfile writes the named /debug/pprof profile of the serve process at url, taken over the next few seconds,
// to file.
func fetchProfile(ctx context.Context, url, name, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/debug/pprof/"+name+"?seconds=4", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/debug/pprof/%s: %s", name, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// BenchmarkServeTombstoneRoundTrip times the changeRequests round trip of one tombstone load (a load without deep
// storage: cache entry, info_dir, announcement in the inventory and ZooKeeper), from the POST to the SUCCESS the
// Coordinator reads, resends included, against a plain HTTP round trip to the same server (GET /status/health).
// Reported: p50 and p99 of each.
func BenchmarkServeTombstoneRoundTrip(b *testing.B) {
	n := newE2ENode(b, nodeOpts{directS3: true, logLevel: "info"})
	p := n.StartReady()
	defer p.Stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: time.Minute}
	do := func(req *http.Request) (int, []byte) {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		return resp.StatusCode, body
	}
	day := 0
	load := func() time.Duration {
		seg := e2eTombstone("tombstones", day)
		day++
		body, err := segments.AppendChangeRequests(nil, []segments.ChangeRequest{{Action: segments.ActionLoad, Segment: seg}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			req, _ := http.NewRequest(http.MethodPost, n.URL+"/druid-internal/v1/segments/changeRequests?timeout=60000", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			code, resp := do(req)
			switch {
			case code == http.StatusOK && strings.Contains(string(resp), `"state":"SUCCESS"`):
				return time.Since(start)
			case code == http.StatusNoContent || code == http.StatusOK && strings.Contains(string(resp), `"state":"PENDING"`):
				continue // the Coordinator resends at once
			default:
				b.Fatalf("tombstone load of %s: %d %s", seg.ID(), code, resp)
			}
		}
	}
	health := func() time.Duration {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, n.URL+"/status/health", nil)
		if code, body := do(req); code != http.StatusOK || strings.TrimSpace(string(body)) != "true" {
			b.Fatalf("/status/health: %d %s", code, body)
		}
		return time.Since(start)
	}
	for range 20 { // connections and the first allocations
		load()
		health()
	}
	loads := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		loads = append(loads, load())
	}
	b.StopTimer()
	base := make([]time.Duration, len(loads))
	for i := range base {
		base[i] = health()
	}
	slices.Sort(loads)
	slices.Sort(base)
	pct := func(d []time.Duration, q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(loads, 0.50), "load-p50-ms")
	b.ReportMetric(pct(loads, 0.99), "load-p99-ms")
	b.ReportMetric(pct(base, 0.50), "health-p50-ms")
	b.ReportMetric(pct(base, 0.99), "health-p99-ms")
	if ids := n.fullSync(b); len(ids) != day {
		b.Fatalf("the inventory lists %d tombstones, %d were loaded", len(ids), day)
	}
}
