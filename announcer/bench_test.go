package announcer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
)

// BenchmarkAnnounceBootstrap announces 100,000 segments at once, as a Historical's bootstrap does (batch znodes and
// the HTTP inventory), and compares
// with the raw time to create the same znodes with the same bytes through go-zookeeper, in the same run on the
// same ZooKeeper, pipelined the same way. Reported: seconds for each, their ratio (target ≤ 1.2), znodes, MB
// sent (compressed), retained heap per announced segment, and the seconds the compression of the same znodes alone
// takes on every core (a floor under any announcement that builds its znodes, which the raw creates do not).
func BenchmarkAnnounceBootstrap(b *testing.B) {
	const n = 100_000
	z := testenv.ZooKeeper(b)
	segs := zktSegments(b, "wikipedia", n)
	raw := zktConnect(b, z.Servers...)
	for i := 0; i < b.N; i++ {
		cfg := zktConfig(b, z.ConnectString, "druid.host="+hostOf(50+i%100), "druid.zk.service.sessionTimeoutMs=10000")
		a, err := New(cfg, WithInventory(inventory.New())) // as serve announces: the HTTP inventory too
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := a.AnnounceNode(ctx); err != nil { // session and parents first: the bootstrap is what is timed
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start, cpu := time.Now(), processCPU()
		if err := a.AnnounceSegments(ctx, segs...); err != nil {
			b.Fatal(err)
		}
		ours, oursCPU := time.Since(start), processCPU()-cpu
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)

		a.mu.Lock()
		var datas, raws [][]byte
		sent := 0
		for p, zn := range a.desired {
			if len(p) > len(a.batchDir) && p[:len(a.batchDir)] == a.batchDir {
				datas = append(datas, zn.encoded(a.zk))
				sent += len(zn.enc)
				var raw bytes.Buffer
				writeJSONArray(&raw, zn.parts)
				raws = append(raws, raw.Bytes())
			}
		}
		a.mu.Unlock()
		gzipTook := gzipAll(a, raws)

		dir := z.Path(fmt.Sprintf("raw%d", i))
		if _, err := raw.Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			b.Fatal(err)
		}
		start, cpu = time.Now(), processCPU()
		if err := rawCreate(raw, dir, datas); err != nil {
			b.Fatal(err)
		}
		rawTook, rawCPU := time.Since(start), processCPU()-cpu
		_ = a.Stop(ctx)
		cancel()

		b.ReportMetric(ours.Seconds(), "announce-s")
		b.ReportMetric(rawTook.Seconds(), "raw-s")
		b.ReportMetric(ours.Seconds()/rawTook.Seconds(), "x-raw")
		// The process's CPU time in each (ZooKeeper's own aside), which a busy machine stretches far less than the
		// elapsed time: what the announcement costs beyond the creates.
		b.ReportMetric(oursCPU.Seconds(), "announce-cpu-s")
		b.ReportMetric(rawCPU.Seconds(), "raw-cpu-s")
		// The compression alone of the same znodes' JSON, on every core and without ZooKeeper: a floor under what
		// an announcement that builds and compresses its znodes can take beside the creates.
		b.ReportMetric(gzipTook.Seconds(), "gzip-only-s")
		b.ReportMetric(float64(len(datas)), "znodes")
		b.ReportMetric(float64(sent)/1e6, "MB-sent")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/seg")
	}
}

// rawCreate creates one ephemeral znode per data under dir with go-zookeeper alone, maxInFlight at a time.
func rawCreate(conn *zk.Conn, dir string, datas [][]byte) error {
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, d := range datas {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := conn.Create(fmt.Sprintf("%s/b%06d", dir, i), d, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// gzipAll compresses raws as the announcer does, on GOMAXPROCS goroutines, and returns the time it took.
func gzipAll(a *Announcer, raws [][]byte) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(raws); i += workers {
				_ = a.zk.Encode(raws[i])
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
