package main

// BenchmarkServeRestart100k, the restart of `druid-sidecar serve` over a large cache, and its helpers; the
// sizes and the command line are those of serve_bench_test.go.

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
)

// BenchmarkServeRestart100k starts the node over a cache of 100,000 segments (written directly: info_dir entries
// and tiny segment directories, as a Historical leaves them) and times the process until it is ready (readiness
// 200: the cache read, every segment in the inventory and its znode queued) and until it is announced to internal
// discovery (which comes after every batch znode is written), against a plain walk of the cache plus a read of
// every info_dir file in the same run: x-walk-infodir is readiness over that walk (target at most 1.2), x-walk the
// announcement over it. The inventory (a Broker's full sync) and the batch znodes are then checked to hold all of
// them. Target: announced under 10 s.
func BenchmarkServeRestart100k(b *testing.B) {
	count := benchEnvInt(b, "DRUID_SIDECAR_BENCH_SERVE_CACHED_SEGMENTS", 100_000)
	n := newE2ENode(b, nodeOpts{directS3: true, logLevel: "info", sets: []string{
		// Room for a bulk announce on a busy machine; nothing here waits for an expiry.
		"druid.zk.service.sessionTimeoutMs=10000",
	}})
	start := time.Now()
	writeSyntheticCache(b, n.Cache, count)
	b.Logf("wrote a cache of %d segments in %v", count, time.Since(start).Round(time.Millisecond))

	walk := func() time.Duration {
		start := time.Now()
		entries, infos := 0, 0
		err := filepath.WalkDir(n.Cache, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			entries++
			if !d.IsDir() && filepath.Base(filepath.Dir(p)) == "info_dir" {
				if _, err := os.ReadFile(p); err != nil {
					return err
				}
				infos++
			}
			return nil
		})
		if err != nil || infos != count {
			b.Fatalf("walking the cache: %d entries, %d info files, %v", entries, infos, err)
		}
		return time.Since(start)
	}
	walk()         // both measure a warm restart: dentries, inodes and info files cached
	serveBinary(b) // built before the clock runs

	// Rounds over the one setup (writing 100,000 segments takes minutes): the gate asks for three and judges the
	// median of their ratios, each round's restart against its own walk.
	rounds := benchEnvInt(b, "DRUID_SIDECAR_BENCH_RESTART_ROUNDS", 1)
	var readySum, readyCPU, announcedSum, readSum, walkSum, syncSum, stopSum time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N*rounds; i++ {
		b.StopTimer()
		w := walk()
		walkSum += w
		exists, _, watch, err := n.Conn.ExistsW(n.DiscoveryPath())
		if err != nil || exists {
			b.Fatalf("the discovery znode before the start: exists %v, %v", exists, err)
		}
		b.StartTimer()
		p := n.Start()
		ready := waitReadiness(b, p, 5*time.Minute)
		readyCPU += procCPU(p.cmd.Process.Pid)
		var announced time.Duration
		select {
		case ev := <-watch:
			announced = time.Since(p.start)
			if ev.Type != zk.EventNodeCreated {
				b.Fatalf("the discovery znode's watch fired %v", ev.Type)
			}
		case <-time.After(5 * time.Minute):
			b.Fatal("the node was not announced within 5 minutes")
		}
		b.StopTimer()
		readySum += ready
		ratios = append(ratios, ready.Seconds()/w.Seconds())
		b.Logf("round %d: ready %.3f s, walk+read %.3f s (%.2fx); load average %s", i+1, ready.Seconds(), w.Seconds(),
			ratios[len(ratios)-1], loadAverage())
		announcedSum += announced
		if d, ok := logDuration(p.stderr.String(), "segment cache read"); ok {
			readSum += d
		}

		syncStart := time.Now()
		if ids := n.fullSync(b); len(ids) != count {
			b.Fatalf("a Broker's full sync lists %d segments, want %d", len(ids), count)
		}
		syncSum += time.Since(syncStart)
		batches, err := n.Batches()
		if err != nil {
			b.Fatal(err)
		}
		ids, err := batchSegmentIDs(batches)
		if err != nil {
			b.Fatal(err)
		}
		if len(ids) != count || len(slices.Compact(ids)) != count {
			b.Fatalf("the batch znodes announce %d segments (%d distinct), want %d", len(ids), len(slices.Compact(ids)), count)
		}
		b.ReportMetric(float64(len(batches)), "znodes")
		stopSum += p.Stop()
		b.StartTimer()
	}
	b.StopTimer()
	nf := float64(b.N * rounds)
	ready, announced, wlk := readySum.Seconds()/nf, announcedSum.Seconds()/nf, walkSum.Seconds()/nf
	b.ReportMetric(ready, "ready-s")
	// The process's CPU time until ready, which a busy machine stretches far less than the elapsed time.
	b.ReportMetric(readyCPU.Seconds()/nf, "ready-cpu-s")
	b.ReportMetric(announced, "announced-s")
	b.ReportMetric(wlk, "walk-s")
	b.ReportMetric(announced/wlk, "x-walk")
	// The target's ratio: readiness against the same round's walk plus info_dir read, the median of the rounds
	// (target at most 1.2).
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "x-walk-infodir")
	b.ReportMetric(readSum.Seconds()/nf, "cache-read-s")
	b.ReportMetric(syncSum.Seconds()/nf, "broker-sync-s")
	b.ReportMetric(stopSum.Seconds()/nf, "stop-s")
	b.Logf("%d cached segments: ready %.3f s (of which the cache read %.3f s; %.2fx the walk+read, target 1.2x), announced %.3f s (target under 10 s), walk+read %.3f s (%.1fx), a Broker's full sync %.3f s, SIGTERM to exit %.3f s",
		count, ready, readSum.Seconds()/nf, ready/wlk, announced, wlk, announced/wlk, syncSum.Seconds()/nf, stopSum.Seconds()/nf)
}

// logDuration finds the first log line of the node containing msg and returns its duration=… field.
func logDuration(log, msg string) (time.Duration, bool) {
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		_, v, ok := strings.Cut(line, " duration=")
		if !ok {
			return 0, false
		}
		v, _, _ = strings.Cut(v, " ")
		d, err := time.ParseDuration(v)
		return d, err == nil
	}
	return 0, false
}

// waitReadiness polls /druid/historical/v1/readiness until it answers 200 and returns the time since the process
// started.
func waitReadiness(b *testing.B, p *serveProc, timeout time.Duration) time.Duration {
	b.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(p.node.URL + "/druid/historical/v1/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.start)
			}
		}
		if p.Exited() {
			b.Fatalf("druid-sidecar serve exited (%v) before it was ready", p.state)
		}
		if time.Now().After(deadline) {
			b.Fatalf("druid-sidecar serve was not ready within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeSyntheticCache writes count segments into a flat cache at loc as a Historical leaves them: a directory per
// segment with version.bin, meta.smoosh and a small 00000.smoosh (their sizes adding up to the segment's size), and
// an info_dir file holding the segment's JSON.
func writeSyntheticCache(b *testing.B, loc string, count int) {
	b.Helper()
	info := filepath.Join(loc, "info_dir")
	if err := os.MkdirAll(info, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string][]byte{
		"version.bin":  {0, 0, 0, 9},
		"meta.smoosh":  []byte("v1,2147483647,1\n__time,0,0,128\n"),
		"00000.smoosh": make([]byte, 128),
	}
	var size int64
	for _, data := range files {
		size += int64(len(data))
	}
	err := parallel(count, 8, func(i int) error {
		// 24 partitions a day: realistic ids, and a year of days is about 8,800 intervals.
		s := sandbox.Segment("restart", i/24, i%24, 24, "druid-segments", e2eBaseKey, size)
		name := s.ID().String()
		dir := filepath.Join(loc, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		for fname, data := range files {
			if err := os.WriteFile(filepath.Join(dir, fname), data, 0o644); err != nil {
				return err
			}
		}
		js, err := s.AppendJSON(nil)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(info, name), js, 0o644)
	})
	if err != nil {
		b.Fatalf("writing the synthetic cache: %v", err)
	}
}
