package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func loadConfig(t *testing.T, sets ...string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets,
		Require: []configs.Requirement{configs.RequireHost, configs.RequireSegmentCache}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is an agent started by start; stop cancels it and waits for Run's result.
type running struct {
	a      *Agent
	url    string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg *configs.Config) *running {
	t.Helper()
	return startAgent(t, cfg, nil)
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of the cancel")
		return nil
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeLoadRestart(t *testing.T) {
	z := testenv.ZooKeeper(t)
	b := testenv.S3(t)
	cacheDir := t.TempDir()
	segs := putDailySegments(t, b, 3)
	config := func(port int, s3Endpoint string) *configs.Config {
		return loadConfig(t,
			"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(port),
			"druid.zk.service.host="+z.ConnectString,
			fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, cacheDir),
			"druid.s3.endpoint.url="+s3Endpoint, "druid.s3.enablePathStyleAccess=true",
			"druid.s3.accessKey="+b.AccessKey, "druid.s3.secretKey="+b.SecretKey,
			"druid.s3.endpoint.signingRegion="+b.Region)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := z.Conn(t)

	// First run: an empty cache; a Coordinator loads three segments from S3.
	port := freePort(t)
	cfg := config(port, b.Endpoint)
	r := start(t, cfg)
	if code, body := httpGet(t, r.url+HealthPath); code != 200 || strings.TrimSpace(body) != "true" {
		t.Errorf("%s: %d %q", HealthPath, code, body)
	}
	if code, _ := httpGet(t, r.url+ReadinessPath); code != 200 {
		t.Errorf("%s: %d, want 200", ReadinessPath, code)
	}
	if code, body := httpGet(t, r.url+LoadStatusPath); code != 200 || strings.TrimSpace(body) != `{"cacheInitialized":true}` {
		t.Errorf("%s: %d %q", LoadStatusPath, code, body)
	}
	if code, body := httpGet(t, r.url+SelfDiscoveredStatePath); code != 200 || strings.TrimSpace(body) != `{"selfDiscovered":true}` {
		t.Errorf("%s: %d %q", SelfDiscoveredStatePath, code, body)
	}
	code, body := httpGet(t, r.url+PropertiesPath)
	var props map[string]string
	if err := json.Unmarshal([]byte(body), &props); code != 200 || err != nil {
		t.Fatalf("%s: %d %v %q", PropertiesPath, code, err, body)
	}
	if props["druid.s3.secretKey"] != "<redacted>" || props["druid.host"] != "127.0.0.1" || strings.Contains(body, b.SecretKey) {
		t.Errorf("%s: secretKey %q, host %q", PropertiesPath, props["druid.s3.secretKey"], props["druid.host"])
	}
	if code, body := httpGet(t, r.url+StatusPath); code != 200 || !strings.Contains(body, `"version":"test"`) {
		t.Errorf("%s: %d %q", StatusPath, code, body)
	}
	if code, _ := httpGet(t, r.url+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof is off but /debug/pprof/ answers %d", code)
	}
	discovery := z.Path("/druid/internal-discovery/HISTORICAL/" + cfg.Node.HostAndPort())
	if ok, _, err := conn.Exists(discovery); err != nil || !ok {
		t.Fatalf("discovery znode %s: exists %v, %v", discovery, ok, err)
	}

	peon := &druidpeer.LoadPeon{URL: r.url, BatchSize: 3, HostTimeout: 10 * time.Second, RepeatDelay: 100 * time.Millisecond}
	for _, s := range segs {
		peon.Load(s)
	}
	if err := peon.Drain(ctx); err != nil {
		t.Fatalf("the Coordinator's load queue did not drain: %v (%+v)", err, peon.Stats())
	}
	for _, s := range segs {
		if st, ok := peon.Result(segments.ActionLoad, s.ID()); !ok || st.State != "SUCCESS" {
			t.Errorf("load %s: %+v (found %v)", s.ID(), st, ok)
		}
	}
	broker := druidpeer.New(druidpeer.Config{URL: r.url, ServerTimeout: 2 * time.Second})
	if resp, err := broker.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync || len(broker.Segments()) != 3 {
		t.Fatalf("Broker full sync: %v, %+v, %d segments", err, resp, len(broker.Segments()))
	}
	if ct := broker.Last().ContentType; ct != "application/x-jackson-smile" {
		t.Errorf("inventory Content-Type %q, want Smile", ct)
	}
	if _, body := httpGet(t, r.url+MetricsPath); !strings.Contains(body, `druid_sidecar_segment_loads_total{result="success"} 3`) {
		t.Errorf("/metrics lacks 3 successful loads:\n%s", grepLines(body, "druid_sidecar_segment_loads"))
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if ok, _, err := conn.Exists(discovery); err != nil || ok {
		t.Fatalf("discovery znode after shutdown: exists %v, %v", ok, err)
	}

	// Second run on the same cache, with deep storage unreachable: bootstrap announces the three segments
	// from the cache alone.
	cfg2 := config(freePort(t), "http://127.0.0.1:1")
	r2 := start(t, cfg2)
	broker2 := druidpeer.New(druidpeer.Config{URL: r2.url, ServerTimeout: 2 * time.Second})
	if resp, err := broker2.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync {
		t.Fatalf("Broker full sync after restart: %v, %+v", err, resp)
	}
	got := broker2.Segments()
	for _, s := range segs {
		if got[s.ID()] == nil {
			t.Errorf("after restart the inventory lacks %s", s.ID())
		}
	}
	if len(got) != 3 {
		t.Errorf("after restart the inventory has %d segments, want 3", len(got))
	}
	if _, body := httpGet(t, r2.url+MetricsPath); !strings.Contains(body, `druid_sidecar_segment_loads_total{result="success"} 0`) {
		t.Errorf("after restart segments were loaded again:\n%s", grepLines(body, "druid_sidecar_segment_loads"))
	}
	discovery2 := z.Path("/druid/internal-discovery/HISTORICAL/" + cfg2.Node.HostAndPort())
	if ok, _, err := conn.Exists(discovery2); err != nil || !ok {
		t.Fatalf("discovery znode %s after restart: exists %v, %v", discovery2, ok, err)
	}
	if err := r2.stop(t); err != nil {
		t.Fatalf("second Run after cancel: %v", err)
	}
	if ok, _, err := conn.Exists(discovery2); err != nil || ok {
		t.Fatalf("discovery znode after the second shutdown: exists %v, %v", ok, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
