package companion

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
	"github.com/druid-sidecar/druid-sidecar/configs"
)

// probe is a kubelet's readiness probe of the rollout gate: the status code and the gate's state.
func probe(t *testing.T, url string) (int, rolloutStatus) {
	t.Helper()
	code, body := httpGet(t, url+RolloutPath)
	var s rolloutStatus
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("%s answered %d %q: %v", RolloutPath, code, body, err)
	}
	return code, s
}

// waitGate polls /status until the gate's reason contains want ("" waits for ready), then checks the probe agrees.
func (rc *running) waitGate(t *testing.T, want string) {
	t.Helper()
	rc.waitStatus(t, 10*time.Second, "the rollout gate: "+want, func(s snapshot) bool {
		if want == "" {
			return s.Rollout.Ready
		}
		return !s.Rollout.Ready && strings.Contains(s.Rollout.Reason, want)
	})
	code, s := probe(t, rc.url)
	if wantCode := map[bool]int{true: http.StatusOK, false: http.StatusServiceUnavailable}[want == ""]; code != wantCode {
		t.Errorf("the gate answered %d (%+v) while it should hold for %q; want %d", code, s, want, wantCode)
	}
}

// TestRolloutGateHoldsTheRollUntilReplicated plays a rolling update's readiness probe against the gate while the
// Coordinator stand-in goes through what a restarted Historical meets: not yet known to the Coordinator, segments
// queued for it, its tier under-replicated, the Coordinator unreachable; the gate turns ready only when all is
// well, then stays ready whatever follows, and answers 503 once shutdown begins.
func TestRolloutGateHoldsTheRollUntilReplicated(t *testing.T) {
	r := newRig(t, 2, 1024)
	var mu sync.Mutex
	holds := "1 unavailable segments and 0 under-replicated in tier _default_tier (first: x)"
	setHolds := func(s string) { mu.Lock(); holds = s; mu.Unlock() }
	rc := r.startWith(r.config("druid.sidecar.rolloutGate=true"), testLogger(t), func(c *Companion) {
		c.gate.tier = func(context.Context) (string, error) { mu.Lock(); defer mu.Unlock(); return holds, nil }
	})

	rc.waitGate(t, "does not know the server "+r.server)
	r.queue(r.segs[0])
	rc.waitGate(t, "1 segments are in the Historical's load queue")
	r.api.Remove(r.server, r.segs[0].ID())
	rc.waitGate(t, "1 unavailable segments")
	r.api.Fail(http.StatusServiceUnavailable)
	rc.waitGate(t, "the Coordinator's load queue cannot be read")
	r.api.Fail(0)
	setHolds("")
	rc.waitGate(t, "")

	// Latched: a new load and replication trouble do not take the Historical out of anything.
	setHolds("1 unavailable segments and 0 under-replicated in tier _default_tier (first: y)")
	r.queue(r.segs[1])
	rc.waitStatus(t, 10*time.Second, "the new load read", func(s snapshot) bool { return s.Prefetch.Queue == 1 })
	if code, s := probe(t, rc.url); code != http.StatusOK || !s.Ready || s.ReadySince == "" {
		t.Errorf("the latched gate answered %d %+v, want 200 and ready", code, s)
	}

	rc.shutdown(t)
	rec := httptest.NewRecorder()
	rc.c.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, RolloutPath, nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "shutting down") {
		t.Errorf("after the shutdown began the gate answered %d %s, want 503", rec.Code, rec.Body)
	}
}

// TestRolloutGateUnderKubernetesDiscovery: Druid's Kubernetes discovery waits for the pod's ordinary containers
// to be ready, so the gate refuses to run there (it answers 200 and /status says why) unless the companion is a
// native sidecar.
func TestRolloutGateUnderKubernetesDiscovery(t *testing.T) {
	r := newRig(t, 1, 1024)
	rc := r.start(r.config("druid.sidecar.rolloutGate=true", "druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier=druid"))
	code, s := probe(t, rc.url)
	if code != http.StatusOK || s.Enabled || !strings.Contains(s.Off, "druid.sidecar.nativeSidecar") {
		t.Errorf("under k8s discovery without a native sidecar the gate answered %d %+v, want 200 and off, saying why", code, s)
	}
	if st := rc.status(t); !strings.Contains(st.Rollout.Off, "native sidecar") {
		t.Errorf("/status does not say why the gate is off: %+v", st.Rollout)
	}
	rc.shutdown(t)

	rc = r.start(r.config("druid.sidecar.rolloutGate=true", "druid.discovery.type=k8s", "druid.discovery.k8s.clusterIdentifier=druid", "druid.sidecar.nativeSidecar=true"))
	if code, s := probe(t, rc.url); code != http.StatusServiceUnavailable || !s.Enabled {
		t.Errorf("as a native sidecar under k8s discovery the gate answered %d %+v, want 503 until the Coordinator knows the server", code, s)
	}
	if code, _ := httpGet(t, rc.url+"/status/health"); code != http.StatusOK {
		t.Errorf("health answered %d", code)
	}
}

// TestRolloutGateReadsTheTierAsTheAuditDoes: the gate's replication check on a cluster with an unavailable
// segment and an under-replicated one in the hot tier, and on a healthy one.
func TestRolloutGateReadsTheTierAsTheAuditDoes(t *testing.T) {
	for _, healthy := range []bool{false, true} {
		cl := audittest.New(t, audittest.Options{Healthy: healthy})
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: append(cl.Sets, "druid.host=127.0.0.1",
			"druid.server.tier=hot", `druid.segmentCache.locations=[{"path":"`+t.TempDir()+`"}]`,
			"druid.sidecar.rolloutGate=true", "druid.sidecar.drift.period=")})
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(cfg, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		holds, err := c.tierHolds(ctx)
		cancel()
		switch {
		case err != nil:
			t.Errorf("healthy=%v: %v", healthy, err)
		case healthy && holds != "":
			t.Errorf("a healthy cluster holds the roll: %s", holds)
		case !healthy && !strings.Contains(holds, "1 unavailable segments and 1 under-replicated in tier hot"):
			t.Errorf("the cluster with defects holds the roll for %q, want its unavailable and under-replicated segments", holds)
		}
	}
}
