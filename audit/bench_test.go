package audit

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/metadata"
)

// benchSegmentsEnv sets how many rows BenchmarkAuditScale audits; without it a small table keeps a plain
// `go test -bench` quick. The figure that matters is a million:
//
//	DRUID_SIDECAR_BENCH_SEGMENTS=1000000 go test -run '^$' -bench AuditScale -benchtime 1x ./audit
const benchSegmentsEnv = "DRUID_SIDECAR_BENCH_SEGMENTS"

// defaultRules are the rules Druid's Coordinator seeds: two replicas on _default_tier.
var defaultRules = []byte(`[{"tieredReplicants":{"_default_tier":2},"useDefaultTierForNull":true,"type":"loadForever"}]`)

// BenchmarkAuditScale audits a segments table of production shape (no data server announced, deep storage
// skipped: every used segment is then an unavailable finding, the collector's worst case too) and reports the
// peak live heap the audit added and its time per segment, on PostgreSQL and on MariaDB; on MariaDB, its own
// client's plain read of the same payloads (mariadb --quick) in the same run is the baseline.
func BenchmarkAuditScale(b *testing.B) {
	n := 20000
	if v := os.Getenv(benchSegmentsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("%s=%q: expected a positive row count", benchSegmentsEnv, v)
		}
	}
	z := testenv.ZooKeeper(b)
	sets := []string{"druid.zk.service.host=" + z.ConnectString, "druid.storage.type=s3",
		"druid.storage.bucket=druid-deep-storage", "druid.storage.baseKey=druid/segments"}
	ctx := context.Background()

	pg := testenv.Postgres(b)
	cfg := benchConfig(b, append(sets, "druid.metadata.storage.type=postgresql",
		"druid.metadata.storage.connector.connectURI="+pg.JDBCURI, "druid.metadata.storage.connector.user="+pg.User))
	conn := pg.Conn(b)
	if err := metadata.CreateTables(ctx, conn, cfg.Metadata.Tables, metadata.VariantCurrent); err != nil {
		b.Fatal(err)
	}
	if err := metadata.InsertRules(ctx, conn, cfg.Metadata.Tables, "_default", time.Now(), defaultRules); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := metadata.CopySegments(ctx, conn, cfg.Metadata.Tables, n, metadata.ProductionShapedRecord); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+cfg.Metadata.Tables.Segments()); err != nil {
		b.Fatal(err)
	}
	b.Logf("postgresql: loaded %d rows in %v", n, time.Since(start).Round(time.Millisecond))
	b.Run("postgresql", func(b *testing.B) { benchAudit(b, ctx, cfg, n) })

	my := testenv.MariaDB(b)
	mcfg := benchConfig(b, append(sets, "druid.metadata.storage.type=mysql",
		"druid.metadata.storage.connector.connectURI="+my.JDBCURI, "druid.metadata.storage.connector.user="+my.User,
		"druid.metadata.storage.connector.password="+my.Password))
	db := my.DB(b)
	if err := metadata.CreateMySQLTables(ctx, db, mcfg.Metadata.Tables, metadata.VariantCurrent); err != nil {
		b.Fatal(err)
	}
	if err := metadata.InsertMySQLRules(ctx, db, mcfg.Metadata.Tables, "_default", time.Now(), defaultRules); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	if _, err := metadata.LoadMySQLSegments(ctx, db, mcfg.Metadata.Tables, n, metadata.ProductionShapedRecord); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE "+mcfg.Metadata.Tables.Segments()); err != nil {
		b.Fatal(err)
	}
	b.Logf("mysql: loaded %d rows in %v", n, time.Since(start).Round(time.Millisecond))
	b.Run("mysql/mariadb-client-baseline", func(b *testing.B) {
		for b.Loop() {
			my.Client(b, "SELECT payload FROM "+mcfg.Metadata.Tables.Segments()+" WHERE used", io.Discard)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/row")
	})
	b.Run("mysql", func(b *testing.B) { benchAudit(b, ctx, mcfg, n) })
}

func benchConfig(b *testing.B, sets []string) *configs.Config {
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: sets})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// benchAudit runs the audit b.N times on the loaded store of cfg, n rows.
func benchAudit(b *testing.B, ctx context.Context, cfg *configs.Config, n int) {
	for range b.N {
		peak := startPeak()
		t0 := time.Now()
		phase, phaseStart := "", t0
		rep, err := Run(ctx, cfg, Options{SkipDeepStorage: true, Grace: -1, Progress: func(p string, _, _ int64) {
			if p != phase {
				if phase != "" {
					b.Logf("phase %s: %v", phase, time.Since(phaseStart).Round(time.Millisecond))
				}
				phase, phaseStart = p, time.Now()
			}
		}})
		b.Logf("phase %s: %v", phase, time.Since(phaseStart).Round(time.Millisecond))
		d := time.Since(t0)
		added := peak.finish()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(added)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(added)/float64(rep.Totals.UsedSegments), "heap-B/used-segment")
		b.ReportMetric(d.Seconds()*1e9/float64(n), "ns/row")
		b.Logf("%d rows (%d used): %v, peak live heap +%.0f MiB, %d findings (%d kept)", n, rep.Totals.UsedSegments,
			d.Round(time.Millisecond), float64(added)/(1<<20), rep.Totals.Findings, len(rep.Findings))
		runtime.KeepAlive(rep)
	}
}

// heapPeak samples the live heap (runtime/metrics, no stop-the-world) until finished and returns the peak above
// the heap at the start.
type heapPeak struct {
	stop       chan struct{}
	done       sync.WaitGroup
	base, peak atomic.Uint64
}

func startPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	h.base.Store(read())
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) finish() uint64 {
	close(h.stop)
	h.done.Wait()
	if p, b := h.peak.Load(), h.base.Load(); p > b {
		return p - b
	}
	return 0
}
