package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
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

// What BenchmarkAuditMillion keeps besides its figures, to compare builds on the same data and to see where the
// time goes: auditBenchReportEnv names a file the last run's report is written to; auditBenchBinEnv a druid-sidecar
// binary run instead of one built from this source; auditBenchOtherBinEnv another binary run in each round after
// the measured one, whose figures are logged beside (an older build, to compare under the same load);
// auditBenchProfileEnv a directory where,
// after the timed runs, one more audit run inside this process leaves cpu.pprof and heap.pprof (the heap at its
// largest, the 20 inventories this process serves included).
const (
	auditBenchReportEnv   = "DRUID_SIDECAR_BENCH_AUDIT_REPORT"
	auditBenchBinEnv      = "DRUID_SIDECAR_BENCH_AUDIT_BIN"
	auditBenchOtherBinEnv = "DRUID_SIDECAR_BENCH_AUDIT_OTHER_BIN"
	auditBenchProfileEnv  = "DRUID_SIDECAR_BENCH_AUDIT_PROFILE"
	// auditBenchRoundsEnv sets how many copy-and-audit rounds each figure is the median of (3 unless set); run the
	// benchmark with -benchtime 1x, as the setup (a million rows, 20 inventories) dwarfs a round.
	auditBenchRoundsEnv = "DRUID_SIDECAR_BENCH_AUDIT_ROUNDS"
)

// allUsed is metadata.ProductionShapedRecord with every row used, as the benchmark asks.
func allUsed(i int) (metadata.SegmentRecord, error) {
	rec, err := metadata.ProductionShapedRecord(i)
	rec.Used = true
	return rec, err
}

// BenchmarkAuditMillion runs `druid-sidecar audit --format json` as a child process over a million used segments
// whose two replicas each (the default rule) are served by 20 data servers' HTTP inventories, and reports its
// time and peak RSS against, in the same run, `COPY (SELECT payload FROM druid_segments WHERE used) TO STDOUT`
// into nothing. Targets: within 2x of the copy, under 512 MiB RSS. Deep storage is skipped (a listing of a million
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

	bin := os.Getenv(auditBenchBinEnv)
	if bin == "" {
		bin = serveBinary(b)
	}
	args := []string{"audit", "--format", "json", "--skip-deep-storage", "--grace", "0s", "--log-level", "warn"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	if f := os.Getenv(auditBenchReportEnv); f != "" {
		args = append(args, "--output", f)
	}
	rounds := 3
	if v := os.Getenv(auditBenchRoundsEnv); v != "" {
		if rounds, err = strconv.Atoi(v); err != nil || rounds <= 0 {
			b.Fatalf("%s=%q: expected a positive number of rounds", auditBenchRoundsEnv, v)
		}
	}
	b.ResetTimer()
	for range b.N {
		// Each figure is the median of the rounds, each round a copy and an audit back to back, so that a burst of
		// load on the machine moves one round, not the figure.
		var audits, copies, ratios, rsss []float64
		for round := range rounds {
			auditS, copyS, rss := auditRound(b, bin, args, func() {
				// The baseline: the metadata store's own fastest way to hand over the payloads.
				if _, err := conn.PgConn().CopyTo(ctx, io.Discard,
					"COPY (SELECT payload FROM "+tables.Segments()+" WHERE used) TO STDOUT"); err != nil {
					b.Fatal(err)
				}
			})
			audits, copies, ratios, rsss = append(audits, auditS), append(copies, copyS), append(ratios, auditS/copyS), append(rsss, rss)
			b.Logf("round %d: %d used segments, %d servers: audit %.2f s, COPY %.2f s (%.2fx), peak RSS %.0f MiB; load average %s",
				round+1, n, servers, auditS, copyS, auditS/copyS, rss, loadAverage())
			if other := os.Getenv(auditBenchOtherBinEnv); other != "" {
				otherArgs := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--output" || a == os.Getenv(auditBenchReportEnv) })
				if f := os.Getenv(auditBenchReportEnv); f != "" {
					otherArgs = append(otherArgs, "--output", f+".other")
				}
				auditS, _, rss := auditRound(b, other, otherArgs, func() {})
				b.Logf("round %d, %s: audit %.2f s (%.2fx the copy above), peak RSS %.0f MiB; load average %s",
					round+1, other, auditS, auditS/copyS, rss, loadAverage())
			}
		}
		b.ReportMetric(median(audits), "audit-s")
		b.ReportMetric(median(copies), "copy-s")
		b.ReportMetric(median(ratios), "x-copy")
		b.ReportMetric(median(rsss), "audit-peak-RSS-MiB")
		b.Logf("median of %d rounds: audit %.2f s, COPY %.2f s, %.2fx (target within 2x), peak RSS %.0f MiB (target under 512)",
			rounds, median(audits), median(copies), median(ratios), median(rsss))
	}
	if dir := os.Getenv(auditBenchProfileEnv); dir != "" {
		b.StopTimer()
		profileAudit(b, dir, args)
	}
}

// auditRound times copyAll, then one run of the audit binary, and returns the audit's and the copy's seconds and the
// audit's peak RSS in MiB.
func auditRound(b *testing.B, bin string, args []string, copyAll func()) (auditS, copyS, rssMiB float64) {
	t0 := time.Now()
	copyAll()
	copyS = time.Since(t0).Seconds()

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
	stop := poll(20*time.Millisecond, func() {
		if v := vmHWM(cmd.Process.Pid); v > rss {
			rss = v
		}
	})
	err := cmd.Wait()
	auditS = time.Since(t0).Seconds()
	stop()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		b.Fatalf("audit exited %d (%v): a healthy cluster must give 0", code, err)
	}
	return auditS, copyS, float64(rss) / (1 << 20)
}

// poll calls fn now and then every interval until the function it returns is called, which returns once fn has
// run for the last time.
func poll(interval time.Duration, fn func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			fn()
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// median returns the median of vs (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadAverage is the machine's load average as /proc/loadavg gives it (1, 5 and 15 minutes), "unknown" elsewhere.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// profileAudit runs the audit once inside this process, as the child runs it, with the CPU profiled and the heap
// profile taken when the heap is at its largest (polled every 100 ms), into dir.
func profileAudit(b *testing.B, dir string, args []string) {
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	defer cpu.Close()
	runtime.GC()
	var peak uint64
	var heapProf bytes.Buffer
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak {
			peak = ms.HeapAlloc
			heapProf.Reset()
			_ = pprof.Lookup("heap").WriteTo(&heapProf, 0)
		}
	}
	stopSampling := poll(100*time.Millisecond, sample)
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	t0 := time.Now()
	code := runAudit(context.Background(), &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
		environ: []string{}}, args[1:])
	pprof.StopCPUProfile()
	stopSampling()
	if code != exitOK {
		b.Fatalf("audit in process exited %d: %s", code, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "heap.pprof"), heapProf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("audit in process: %.2f s, peak heap %.0f MiB (this process's inventories included); profiles in %s",
		time.Since(t0).Seconds(), float64(peak)/(1<<20), dir)
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
