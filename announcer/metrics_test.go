package announcer

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/internal/zkproxy"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

func TestMetricsZooKeeper(t *testing.T) {
	z := testenv.ZooKeeper(t)
	proxy, err := zkproxy.New(z.Servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	reg := prometheus.NewPedanticRegistry()
	cfg := zktConfig(t, proxy.Addr()+z.Chroot, "druid.host="+hostOf(21))
	a, err := New(cfg, WithLogger(zktLogger(t)), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	zktStop(t, a)
	// A second Announcer cannot take the same registry; New says so and leaves nothing running.
	if _, err := New(cfg, WithRegisterer(reg)); err == nil || !strings.Contains(err.Error(), "registering the metrics") {
		t.Errorf("New with a registry already holding an Announcer's metrics: %v", err)
	}

	ctx := zktCtx(t, 20*time.Second)
	segs := zktSegments(t, "metricsds", 3)
	if err := a.AnnounceSegments(ctx, segs...); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	const head = `
# HELP druid_sidecar_announced_segments Segments announced (to the segment inventory and, when enabled, ZooKeeper).
# TYPE druid_sidecar_announced_segments gauge
# HELP druid_sidecar_zk_connected 1 while the ZooKeeper client has a session, 0 otherwise (ZooKeeper's up gauge; Druid's zk/connected).
# TYPE druid_sidecar_zk_connected gauge
# HELP druid_sidecar_zk_reconnects_total ZooKeeper sessions regained after a loss (the first session is not one).
# TYPE druid_sidecar_zk_reconnects_total counter
# HELP druid_sidecar_zk_session_expiries_total ZooKeeper sessions the server expired; every ephemeral znode is re-created in the next session.
# TYPE druid_sidecar_zk_session_expiries_total counter
`
	want := head + `
druid_sidecar_announced_segments 3
druid_sidecar_zk_connected 1
druid_sidecar_zk_reconnects_total 0
druid_sidecar_zk_session_expiries_total 0
`
	names := []string{"druid_sidecar_announced_segments", "druid_sidecar_zk_connected",
		"druid_sidecar_zk_reconnects_total", "druid_sidecar_zk_session_expiries_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// Drop the connection: the session survives, the client reconnects, one loss is timed.
	old := a.zk.ZK().SessionID()
	if n := proxy.DropAll(); n == 0 {
		t.Fatal("the proxy held no connection to drop")
	}
	deadline := time.Now().Add(15 * time.Second)
	for a.ZKStats().Reconnects == 0 || !a.ZKStats().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect after the connection was dropped: %+v", a.ZKStats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.UnannounceSegments(ctx, segs[0]); err != nil {
		t.Fatal(err)
	}
	want = head + `
druid_sidecar_announced_segments 2
druid_sidecar_zk_connected 1
druid_sidecar_zk_reconnects_total 1
druid_sidecar_zk_session_expiries_total 0
`
	if a.zk.ZK().SessionID() != old {
		t.Log("the session changed (a slow machine); not comparing the expiry counter")
		names = names[:3]
		want = strings.ReplaceAll(want, "druid_sidecar_zk_session_expiries_total 0\n", "")
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var hist bool
	for _, mf := range mfs {
		if mf.GetName() != "druid_sidecar_zk_reconnect_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		hist = true
		if h.GetSampleCount() != 1 || h.GetSampleSum() <= 0 || len(h.GetBucket()) != len(zookeeper.ReconnectBuckets) {
			t.Errorf("druid_sidecar_zk_reconnect_seconds: %v", h)
		}
		if b := h.GetBucket()[len(h.GetBucket())-1]; b.GetUpperBound() != 300 || b.GetCumulativeCount() != 1 {
			t.Errorf("last bucket %v", b)
		}
	}
	if !hist {
		t.Error("druid_sidecar_zk_reconnect_seconds is not exposed")
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 5 {
		t.Errorf("%d series (%v), want 5", n, err)
	}
	metricstest.NoSegmentLabels(t, reg, segs)
}

// Without ZooKeeper only the announced segments are exposed: a zk_connected of 0 would raise a false alarm.
func TestMetricsWithoutZooKeeper(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := New(zktConfig(t, "127.0.0.1:1", "druid.zk.service.enabled=false"), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	zktStop(t, a)
	segs := zktSegments(t, "nozkmetrics", 4)
	if err := a.AnnounceSegments(zktCtx(t, 5*time.Second), segs...); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP druid_sidecar_announced_segments Segments announced (to the segment inventory and, when enabled, ZooKeeper).
# TYPE druid_sidecar_announced_segments gauge
druid_sidecar_announced_segments 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	metricstest.NoSegmentLabels(t, reg, segs)
}
