package companion

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
)

// TestUnknownDiscoveryType: beside a Historical whose druid.discovery.type druid-sidecar does not implement, the
// companion keeps running and answering its probe, says so on /status (key and value), and prefetching, which
// needs the Coordinator found through discovery, stays off naming the key.
func TestUnknownDiscoveryType(t *testing.T) {
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, KeepGoing: true, Sets: []string{
		"druid.host=127.0.0.1", "druid.plaintextPort=" + strconv.Itoa(freePort(t)), "druid.zk.service.enabled=false",
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, t.TempDir()),
		"druid.sidecar.companion.port=" + strconv.Itoa(freePort(t)), "druid.sidecar.prefetch.maxBytes=1g",
		"druid.discovery.type=eureka",
	}})
	if err == nil || len(cfg.Problems()) != 1 {
		t.Fatalf("the configuration has %d problems (%v), want 1", len(cfg.Problems()), err)
	}
	rc := (&rig{t: t}).start(cfg)
	if code, _ := httpGet(t, rc.url+lifecycle.HealthPath); code != http.StatusOK {
		t.Errorf("/status/health: %d", code)
	}
	s := rc.status(t)
	if len(s.ConfigurationProblems) != 1 || !strings.Contains(s.ConfigurationProblems[0], `druid.discovery.type: expected one of curator, k8s; got "eureka"`) {
		t.Errorf("/status configurationProblems: %q", s.ConfigurationProblems)
	}
	if s.Prefetch.Enabled || !strings.Contains(s.Prefetch.Off, "druid.discovery.type") {
		t.Errorf("prefetching: enabled %v, off %q; want it off for the discovery type", s.Prefetch.Enabled, s.Prefetch.Off)
	}
}
