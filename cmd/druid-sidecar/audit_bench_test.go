package main

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// auditBenchSegmentsEnv sets the table size of BenchmarkAuditMillion; the figure that matters is the default,
// a million used segments.
const auditBenchSegmentsEnv = "DRUID_SIDECAR_BENCH_AUDIT_SEGMENTS"

// allUsed is metadata.ProductionShapedRecord with every row used, as the benchmark asks.
func allUsed(i int) (metadata.SegmentRecord, error) {
	rec, err := metadata.ProductionShapedRecord(i)
	rec.Used = true
	return rec, err
}

// BenchmarkAuditMillion runs `druid-sidecar audit --format json` as a child process over a million used segments
// whose two replicas each (the default rule) are served by 20 data servers' HTTP inventories, and reports its
// time and peak RSS against, in the same run, `COPY (SELECT payload FROM druid_segments WHERE used) TO STDOUT`
// into nothing. Targets: within 2x of the copy, under 1.5 GB RSS. Deep storage is skipped (a listing of a million
// objects measures the S3 server, not the audit).
func BenchmarkAuditMillion(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv(auditBenchSegmentsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("%s=%q: expected a positive row count", auditBenchSegmentsEnv, v)
		}
	}
	const servers = 20
	pg, z := testenv.Postgres(b), testenv.ZooKeeper(b)
	sets := []string{"druid.zk.service.host=" + z.ConnectString, "druid.metadata.storage.type=postgresql",
		"druid.metadata.storage.connector.connectURI=" + pg.JDBCURI, "druid.metadata.storage.connector.user=" + pg.User,
		"druid.storage.type=s3", "druid.storage.bucket=druid-deep-storage", "druid.storage.baseKey=druid/segments"}
	if pg.Password != "" {
		sets = append(sets, "druid.metadata.storage.connector.password="+pg.Password)
	}
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	conn := pg.Conn(b)
	tables := cfg.Metadata.Tables
	if err := metadata.CreateTables(ctx, conn, tables, metadata.VariantCurrent); err != nil {
		b.Fatal(err)
	}
	if err := metadata.InsertRules(ctx, conn, tables, "_default", time.Now().Add(-time.Hour),
		[]byte(`[{"tieredReplicants":{"_default_tier":2},"type":"loadForever"}]`)); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if _, err := metadata.CopySegments(ctx, conn, tables, n, allUsed); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+tables.Segments()); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d rows in %s in %v", n, tables.Segments(), time.Since(t0).Round(time.Millisecond))

	// 20 data servers: segment i on servers i%20 and (i+1)%20, announced over HTTP only (their inventories are
	// what a Broker reads), discovered through ZooKeeper as Historicals of _default_tier.
	t0 = time.Now()
	invs := make([]*inventory.Inventory, servers)
	mine := make([][]*segments.DataSegment, servers)
	for k := range invs {
		invs[k] = inventory.New()
	}
	for i := range n {
		rec, _ := allUsed(i)
		mine[i%servers] = append(mine[i%servers], rec.Segment)
		mine[(i+1)%servers] = append(mine[(i+1)%servers], rec.Segment)
	}
	for k := range invs {
		host := "127.0.0." + strconv.Itoa(100+k)
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(invs[k])
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		b.Cleanup(srv.Close)
		scfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: append([]string{"druid.host=" + host,
			"druid.plaintextPort=" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), "druid.server.maxSize=100000000000000",
			"druid.announcer.skipSegmentAnnouncementOnZk=true"}, sets...)})
		if err != nil {
			b.Fatal(err)
		}
		a, err := announcer.New(scfg, announcer.WithInventory(invs[k]))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Stop(context.Background()) })
		if err := a.AnnounceSegments(ctx, mine[k]...); err != nil {
			b.Fatal(err)
		}
		mine[k] = nil
		if err := a.AnnounceNode(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d servers announced %d replicas in %v", servers, 2*n, time.Since(t0).Round(time.Millisecond))

	bin := serveBinary(b)
	args := []string{"audit", "--format", "json", "--skip-deep-storage", "--grace", "0s", "--log-level", "warn"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	b.ResetTimer()
	for range b.N {
		// The baseline: the metadata store's own fastest way to hand over the payloads.
		t0 := time.Now()
		if _, err := conn.PgConn().CopyTo(ctx, io.Discard,
			"COPY (SELECT payload FROM "+tables.Segments()+" WHERE used) TO STDOUT"); err != nil {
			b.Fatal(err)
		}
		copyTime := time.Since(t0)

		cmd := exec.Command(bin, args...)
		cmd.Stdout = io.Discard
		cmd.Stderr = os.Stderr
		t0 = time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// The child's own high-water mark, read while it runs: its rusage maxrss would also count this process's
		// memory, which the child shares between fork and exec (and this process holds 20 inventories).
		var rss int64
		exited, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				if v := vmHWM(cmd.Process.Pid); v > rss {
					rss = v
				}
				select {
				case <-exited:
					return
				case <-t.C:
				}
			}
		}()
		err := cmd.Wait()
		auditTime := time.Since(t0)
		close(exited)
		<-done
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			b.Fatalf("audit exited %d (%v): a healthy cluster must give 0", code, err)
		}
		b.ReportMetric(auditTime.Seconds(), "audit-s")
		b.ReportMetric(copyTime.Seconds(), "copy-s")
		b.ReportMetric(auditTime.Seconds()/copyTime.Seconds(), "x-copy")
		b.ReportMetric(float64(rss)/(1<<20), "audit-peak-RSS-MiB")
		b.Logf("%d used segments, %d servers: audit %.2f s, COPY %.2f s (%.2fx; target within 2x), peak RSS %.0f MiB (target under 1536)",
			n, servers, auditTime.Seconds(), copyTime.Seconds(), auditTime.Seconds()/copyTime.Seconds(), float64(rss)/(1<<20))
	}
}

// vmHWM is the peak resident set size of process pid in bytes (VmHWM in /proc/<pid>/status), 0 when unknown.
func vmHWM(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
