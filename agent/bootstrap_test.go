package agent

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// At startup serve asks the leader Coordinator for its bootstrap (broadcast) segments and has them loaded from
// deep storage and announced by the time it reports bootstrap complete, as a Java Historical's
// SegmentCacheBootstrapper does: a Broker's first full sync, right when the node is announced, holds them.
func TestServeLoadsBootstrapSegments(t *testing.T) {
	z := testenv.ZooKeeper(t)
	b := testenv.S3(t)
	segs := putDailySegments(t, b, 2)
	api, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	api.SetBootstrapSegments(segs...)
	cfg := loadConfig(t,
		"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString, "druid.sidecar.coordinator.url="+api.URL(),
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, t.TempDir()),
		"druid.s3.endpoint.url="+b.Endpoint, "druid.s3.enablePathStyleAccess=true",
		"druid.s3.accessKey="+b.AccessKey, "druid.s3.secretKey="+b.SecretKey,
		"druid.s3.endpoint.signingRegion="+b.Region)
	r := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if code, body := httpGet(t, r.url+LoadStatusPath); code != 200 || strings.TrimSpace(body) != `{"cacheInitialized":true}` {
		t.Errorf("%s: %d %q", LoadStatusPath, code, body)
	}
	broker := druidpeer.New(druidpeer.Config{URL: r.url, ServerTimeout: 2 * time.Second})
	if resp, err := broker.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync {
		t.Fatalf("Broker full sync: %v, %+v", err, resp)
	}
	got := broker.Segments()
	for _, s := range segs {
		if got[s.ID()] == nil {
			t.Errorf("the bootstrap segment %s is not announced when bootstrap is complete", s.ID())
		}
	}
	if n := api.Count(coordinator.BootstrapSegmentsPath); n != 1 {
		t.Errorf("the Coordinator was asked for bootstrap segments %d times, want 1", n)
	}
	if _, body := httpGet(t, r.url+MetricsPath); !strings.Contains(body, `druid_sidecar_segment_loads_total{result="success"} 2`) {
		t.Errorf("/metrics lacks 2 successful loads:\n%s", grepLines(body, "druid_sidecar_segment_loads"))
	}
}
