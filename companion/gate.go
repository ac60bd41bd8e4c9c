package companion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
)

// RolloutPath is the rollout gate on the companion's port: a readiness probe for a Historical StatefulSet's rolling
// update (druid.sidecar.rolloutGate).
const RolloutPath = "/status/rollout"

// gate is the rollout gate. It turns ready only when the Coordinator knows the Historical (an empty load queue for a
// server it does not list proves nothing), the Historical's load queue is empty, and its tier has no unavailable or
// under-replicated segment; then it latches, so that later replication trouble never takes a serving Historical
// out of anything. A rolling update waits for the gate before it restarts the next pod, so it waits for
// replication.
type gate struct {
	// off says why the gate is off ("" when it runs); broken why it cannot turn ready (a setup problem).
	off, broken string
	coord       *coordinator.Client
	ownCoord    bool // the gate opened coord itself (prefetching is off)
	// tier reads the tier's replication: a sentence on what holds the roll, "" when nothing does. Tests replace it.
	tier func(ctx context.Context) (string, error)

	stopping atomic.Bool // shutdown began: not ready, latched or not

	mu        sync.Mutex
	ready     bool
	reason    string // why it is not ready yet
	readyAt   time.Time
	lastCheck time.Time
}

// rolloutStatus is the gate on /status.
type rolloutStatus struct {
	Enabled bool `json:"enabled"`
	// Off says why the gate is off: its endpoint then answers 200, so that it never holds a roll it cannot judge.
	Off   string `json:"off,omitempty"`
	Ready bool   `json:"ready"`
	// Reason says what holds the gate: the Coordinator unreachable, the server unknown to it, the queue, the tier.
	Reason     string `json:"reason,omitempty"`
	ReadySince string `json:"readySince,omitempty"`
	LastCheck  string `json:"lastCheck,omitempty"`
}

// k8sRefusal is why the gate stays off under Kubernetes discovery without a native sidecar.
const k8sRefusal = "druid.discovery.type=k8s and druid.sidecar.nativeSidecar is false: Druid's Kubernetes " +
	"discovery announces a Historical only once every ordinary container of its pod is ready, so a gate that waits " +
	"for the Coordinator to know the Historical would never turn ready; run the companion as a native sidecar (an " +
	"init container with restartPolicy: Always, whose readiness Druid does not read) and set " +
	"druid.sidecar.nativeSidecar=true"

// newGate sets the gate up for cfg; coord is the prefetcher's Coordinator client, nil when prefetching is off.
func (c *Companion) newGate(cfg *configs.Config, coord *coordinator.Client) *gate {
	g := &gate{reason: "not checked yet"}
	switch {
	case !cfg.Sidecar.RolloutGate:
		g.off = "druid.sidecar.rolloutGate is false"
		return g
	case cfg.Discovery.Type == "k8s" && !cfg.Sidecar.NativeSidecar:
		g.off = k8sRefusal
		return g
	}
	g.tier = c.tierHolds
	g.coord = coord
	if coord == nil {
		var err error
		g.coord, err = coordinator.New(cfg, coordinator.Options{Logger: c.log.Named("rollout")})
		if err != nil {
			g.broken = "the Coordinator client cannot be set up: " + err.Error()
		}
		g.ownCoord = err == nil
	}
	if g.broken != "" {
		g.reason = g.broken
	}
	return g
}

// on says whether the gate runs.
func (g *gate) on() bool { return g.off == "" }

// status is the gate's /status.
func (g *gate) status() rolloutStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := rolloutStatus{Enabled: g.on(), Off: g.off, Ready: g.ready && !g.stopping.Load()}
	switch {
	case !g.on():
	case g.stopping.Load():
		s.Reason = "the companion is shutting down"
	case !g.ready:
		s.Reason = g.reason
	}
	if !g.readyAt.IsZero() {
		s.ReadySince = g.readyAt.UTC().Format(time.RFC3339Nano)
	}
	if !g.lastCheck.IsZero() {
		s.LastCheck = g.lastCheck.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// serve answers the probe: 200 once latched (or when the gate is off), 503 with the reason otherwise.
func (g *gate) serve(w http.ResponseWriter, r *http.Request) {
	s := g.status()
	code := http.StatusOK
	if g.on() && !s.Ready {
		code = http.StatusServiceUnavailable
	}
	lifecycle.WriteJSON(w, code, s)
}

// gateLoop checks the gate every poll period until it latches.
func (c *Companion) gateLoop(ctx context.Context) {
	if c.gate.broken != "" {
		c.log.Error("the rollout gate cannot turn ready", "why", c.gate.broken)
		return
	}
	tick := time.NewTicker(c.pollPeriod())
	defer tick.Stop()
	last := ""
	for {
		reason := c.checkGate(ctx)
		if ctx.Err() != nil {
			return
		}
		now := c.now()
		c.gate.mu.Lock()
		c.gate.lastCheck = now
		c.gate.reason = reason
		if reason == "" {
			c.gate.ready, c.gate.readyAt = true, now
		}
		c.gate.mu.Unlock()
		if reason == "" {
			c.log.Info("the rollout gate is ready and stays so", "server", c.server)
			return
		}
		if reason != last {
			c.log.Info("the rollout gate holds", "why", reason)
			last = reason
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkGate says what holds the gate, "" when nothing does. The cheap checks come first: the tier's replication,
// which reads the whole cluster as the audit does, is read only for a known server with an empty queue.
func (c *Companion) checkGate(ctx context.Context) string {
	q, err := c.gate.coord.Queue(ctx, c.server)
	switch {
	case err != nil:
		return "the Coordinator's load queue cannot be read: " + err.Error()
	case !q.Listed:
		return fmt.Sprintf("the Coordinator does not know the server %s yet (it lists %d servers): an empty queue "+
			"for a server it does not list proves nothing", c.server, q.Servers)
	case len(q.ToLoad) > 0:
		return fmt.Sprintf("%d segments are in the Historical's load queue", len(q.ToLoad))
	}
	holds, err := c.gate.tier(ctx)
	if err != nil {
		return "the tier's replication cannot be read: " + err.Error()
	}
	return holds
}

// tierHolds reads the cluster as the audit does (deep storage left out) and says what, in the Historical's tier,
// holds the roll. Unavailable segments count whatever tier their rule names: such a finding does not say which
// tier lacks them, and a roll must not go on while a segment is served by no one. Segments marked used within the
// audit's grace period are loads under way, which the Coordinator's queues show, not findings.
func (c *Companion) tierHolds(ctx context.Context) (string, error) {
	if c.cfg.Metadata.ConnectURI == "" {
		return "", errors.New("druid.metadata.storage.connector.connectURI is empty: the gate reads the used " +
			"segments and the rules from the metadata store")
	}
	rep, err := audit.Run(ctx, c.cfg, audit.Options{SkipDeepStorage: true, MaxFindings: -1, Logger: c.log.Named("rollout")})
	if err != nil {
		return "", err
	}
	tier := c.cfg.Server.Tier
	var unavailable, under int
	first := ""
	for _, f := range rep.Findings {
		switch {
		case f.Kind == audit.KindUnavailable:
			unavailable++
		case f.Kind == audit.KindUnderReplicated && f.Tier == tier:
			under++
		default:
			continue
		}
		if first == "" {
			first = f.SegmentID
		}
	}
	if unavailable+under == 0 {
		return "", nil
	}
	return fmt.Sprintf("%d unavailable segments and %d under-replicated in tier %s (first: %s)", unavailable, under,
		tier, first), nil
}
