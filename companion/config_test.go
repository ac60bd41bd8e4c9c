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

// TestFailsOpenOnConfigurationProblems: beside a Historical whose properties hold mistakes (a malformed S3
// endpoint, a metadata password whose variable is missing, a drift period that does not parse), the companion
// still starts and answers its probe, turns off exactly what each mistake affects, and says so on /status and in
// its metrics, where an operator's alert finds it.
func TestFailsOpenOnConfigurationProblems(t *testing.T) {
	port := freePort(t)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, KeepGoing: true, Sets: []string{
		"druid.host=127.0.0.1", "druid.plaintextPort=" + strconv.Itoa(freePort(t)), "druid.zk.service.enabled=false",
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.companion.port=" + strconv.Itoa(port), "druid.sidecar.coordinator.url=http://127.0.0.1:1",
		"druid.sidecar.prefetch.maxBytes=1g",
		"druid.s3.endpoint.url=http:/nope",
		"druid.metadata.storage.type=postgresql", "druid.metadata.storage.connector.connectURI=jdbc:postgresql://127.0.0.1:1/druid",
		`druid.metadata.storage.connector.password={"type":"environment","variable":"DRUID_METADATA_PASSWORD"}`,
		"druid.sidecar.drift.period=soon",
	}})
	if err == nil || len(cfg.Problems()) != 3 {
		t.Fatalf("the configuration has %d problems (%v), want 3", len(cfg.Problems()), err)
	}
	rc := (&rig{t: t}).start(cfg)

	if code, _ := httpGet(t, rc.url+lifecycle.HealthPath); code != http.StatusOK {
		t.Errorf("/status/health: %d", code)
	}
	s := rc.status(t)
	if len(s.ConfigurationProblems) != 3 {
		t.Errorf("/status configurationProblems: %q", s.ConfigurationProblems)
	}
	for _, p := range s.ConfigurationProblems {
		if !strings.HasPrefix(p, "flag:--set: druid.") {
			t.Errorf("a problem without its origin and key: %q", p)
		}
	}
	if s.Prefetch.Enabled || !strings.Contains(s.Prefetch.Off, "druid.s3.endpoint.url") ||
		strings.Contains(s.Prefetch.Off, "connector.password") {
		t.Errorf("prefetching: enabled %v, off %q; want it off for the S3 endpoint only", s.Prefetch.Enabled, s.Prefetch.Off)
	}
	if s.Drift.Enabled || !strings.Contains(s.Drift.Off, "druid.sidecar.drift.period") {
		t.Errorf("drift watch: enabled %v, off %q", s.Drift.Enabled, s.Drift.Off)
	}
	m := rc.metrics(t)
	for _, want := range []string{"druid_sidecar_config_problems 3", `druid_sidecar_companion_enabled{feature="prefetch"} 0`,
		`druid_sidecar_companion_enabled{feature="drift"} 0`} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if rc.c.noMetadata != true {
		t.Error("the metadata store fallback is on with its password missing")
	}

	// A mistake in a key whose default serves turns nothing off: the drift watch runs.
	cfg, _ = configs.Load(configs.LoadOptions{Environ: []string{}, KeepGoing: true, Sets: []string{
		"druid.host=127.0.0.1", fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.companion.port=" + strconv.Itoa(freePort(t)), "druid.sidecar.http.pprof=maybe"}})
	rc = (&rig{t: t}).start(cfg)
	if s := rc.status(t); !s.Drift.Enabled || s.Drift.Off != "" || len(s.ConfigurationProblems) != 1 ||
		!strings.Contains(s.Prefetch.Off, "has no maxSize") {
		t.Errorf("a bad druid.sidecar.http.pprof: %+v", s)
	}
}
