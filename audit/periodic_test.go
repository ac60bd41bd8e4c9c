package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The node audit of `serve` reports drift and the node's served segments that the metadata store does not know,
// marks unused or overshadows, and exports the counts as metrics.
func TestPeriodicNodeAudit(t *testing.T) {
	pg := testenv.Postgres(t)
	loc := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ok, unused, unknown, old := driftSegment("wiki", 0), driftSegment("wiki", 1), driftSegment("wiki", 2), driftSegment("wiki", 3)
	newer := driftSegment("wiki", 3)
	newer.Version = "2025-11-01T00:00:00.000Z"
	missing := driftSegment("other", 0) // announced, not on disk
	url := serveInventory(t, ok, unused, unknown, old, missing)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		`druid.segmentCache.locations=[{"path":"` + loc + `"}]`, "druid.host=127.0.0.81", "druid.plaintextPort=8083",
		"druid.metadata.storage.type=postgresql", "druid.metadata.storage.connector.connectURI=" + pg.JDBCURI,
		"druid.metadata.storage.connector.user=" + pg.User, "druid.sidecar.audit.period=PT1S"}})
	if err != nil {
		t.Fatal(err)
	}
	info := mkdir(t, cfg.SegmentCache.InfoDir)
	for _, s := range []*segments.DataSegment{ok, unused, unknown, old} {
		mkdir(t, loc, s.ID().String())
		touch(t, info+"/"+s.ID().String(), time.Now())
	}
	conn := pg.Conn(t)
	if err := metadata.CreateTables(ctx, conn, cfg.Metadata.Tables, metadata.VariantCurrent); err != nil {
		t.Fatal(err)
	}
	var recs []metadata.SegmentRecord
	for _, s := range []*segments.DataSegment{ok, old, newer, driftSegment("other", 0)} {
		recs = append(recs, metadata.SegmentRecord{Segment: s, Used: true})
	}
	recs = append(recs, metadata.SegmentRecord{Segment: unused, Used: false})
	if err := metadata.InsertSegment(ctx, conn, cfg.Metadata.Tables, recs...); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	p, err := NewPeriodic(cfg, PeriodicOptions{InventoryURL: url, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res := p.AuditOnce(ctx)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []struct {
		kind Kind
		id   string
	}{
		{KindUnknownServed, unknown.ID().String()},
		{KindUnusedServed, unused.ID().String()},
		{KindOvershadowedServed, old.ID().String()},
		{KindCacheDrift, missing.ID().String()},
	}
	if len(res.Findings) != len(want) {
		t.Fatalf("findings: %+v", res.Findings)
	}
	for i, w := range want {
		f := res.Findings[i]
		if f.Kind != w.kind || f.SegmentID != w.id || len(f.Servers) != 1 || f.Servers[0] != "127.0.0.81:8083" {
			t.Errorf("finding %d: %+v, want %s of %s", i, f, w.kind, w.id)
		}
	}
	if p.Last().At.IsZero() || len(p.Last().Findings) != 4 {
		t.Errorf("Last: %+v", p.Last())
	}
	expected := `
# HELP druid_sidecar_audit_findings Findings of the latest successful audit, by kind and dataSource (kinds without findings have no series).
# TYPE druid_sidecar_audit_findings gauge
druid_sidecar_audit_findings{dataSource="other",kind="cache_drift"} 1
druid_sidecar_audit_findings{dataSource="wiki",kind="overshadowed_served"} 1
druid_sidecar_audit_findings{dataSource="wiki",kind="unknown_served"} 1
druid_sidecar_audit_findings{dataSource="wiki",kind="unused_served"} 1
# HELP druid_sidecar_audit_last_run_success 1 if the latest audit could read everything it needed, 0 if it failed (its findings are then the previous run's).
# TYPE druid_sidecar_audit_last_run_success gauge
druid_sidecar_audit_last_run_success 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "druid_sidecar_audit_findings",
		"druid_sidecar_audit_last_run_success"); err != nil {
		t.Error(err)
	}

	// A failed run keeps the last findings and says so; Run audits by itself every period and stops with ctx.
	p.url = "http://127.0.0.1:1"
	if res := p.AuditOnce(ctx); res.Err == nil {
		t.Fatal("an unreachable inventory did not fail the audit")
	}
	if v := testutil.ToFloat64(gaugeOf(t, reg, "druid_sidecar_audit_last_run_success")); v != 0 {
		t.Errorf("last_run_success after a failure: %v", v)
	}
	if n, _ := testutil.GatherAndCount(reg, "druid_sidecar_audit_findings"); n != 4 {
		t.Errorf("%d finding series after a failure, want the previous 4", n)
	}
	p.url = url
	p.period = 100 * time.Millisecond
	before := p.Last().At
	rctx, rcancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer rcancel()
	if err := p.Run(rctx); err != nil {
		t.Fatal(err)
	}
	if !p.Last().At.After(before) || p.Last().Err != nil {
		t.Errorf("Run did not audit: %+v", p.Last())
	}
}

// gaugeOf reads one unlabelled gauge from a gatherer.
func gaugeOf(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "copy"},
				func() float64 { return mf.GetMetric()[0].GetGauge().GetValue() })
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func TestNewPeriodicNeedsAPeriod(t *testing.T) {
	cfg := cacheConfig(t, "flat", t.TempDir())
	if _, err := NewPeriodic(cfg, PeriodicOptions{}); err == nil || !strings.Contains(err.Error(), "druid.sidecar.audit.period") {
		t.Fatalf("error: %v", err)
	}
	p, err := NewPeriodic(cfg, PeriodicOptions{Period: time.Minute})
	if err != nil || p.url != "http://127.0.0.1:8083" {
		t.Fatalf("%v %+v", err, p)
	}
}
