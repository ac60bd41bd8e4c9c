package companion

import (
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
)

// Status.

// snapshot is /status.
type snapshot struct {
	Server      string            `json:"server"`
	Version     string            `json:"version"`
	StartTime   string            `json:"startTime"`
	Uptime      string            `json:"uptime"`
	GoVersion   string            `json:"goVersion"`
	Prefetch    prefetchStatus    `json:"prefetch"`
	Coordinator coordinatorStatus `json:"coordinator"`
	Drift       driftStatus       `json:"drift"`
	Rollout     rolloutStatus     `json:"rollout"`
	// ConfigurationProblems are the configuration's problems, each with its key and where the value came from;
	// the companion runs without what they affect (prefetch.off and drift.off say what that is).
	ConfigurationProblems []string `json:"configurationProblems"`
}

type prefetchStatus struct {
	Enabled bool `json:"enabled"`
	// Off says why prefetching is off.
	Off string `json:"off,omitempty"`
	// Queue is the length of the Historical's segmentsToLoad at the last read.
	Queue int `json:"queue"`
	// Entries by state: pulling, placed and not yet claimed, failed and waiting to retry, done while queued.
	Pulling int `json:"pulling"`
	Placed  int `json:"placed"`
	Failed  int `json:"failed"`
	Done    int `json:"done"`
	// The window: pulls and unclaimed copies, against its bounds.
	WindowSegments int         `json:"windowSegments"`
	WindowBytes    int64       `json:"windowBytes"`
	MaxSegments    int         `json:"maxSegments"`
	MaxBytes       int64       `json:"maxBytes"`
	Threads        int         `json:"threads"`
	Totals         totalCounts `json:"totals"`
}

type coordinatorStatus struct {
	URL      string `json:"url,omitempty"`
	Up       bool   `json:"up"`
	LastPoll string `json:"lastPoll,omitempty"`
	Error    string `json:"error,omitempty"`
	// ServerListed says whether the last listing had the companion's server; ServerAbsent says what its absence
	// means, with ListedServers (the listing's size) and OtherServers (a few names it has, on the same port first).
	ServerListed  bool     `json:"serverListed"`
	ServerAbsent  string   `json:"serverAbsent,omitempty"`
	ListedServers int      `json:"listedServers"`
	OtherServers  []string `json:"otherServers,omitempty"`
}

type driftStatus struct {
	Enabled bool `json:"enabled"`
	// Off says why the drift watch is off.
	Off      string          `json:"off,omitempty"`
	Period   string          `json:"period,omitempty"`
	LastRun  string          `json:"lastRun,omitempty"`
	Error    string          `json:"error,omitempty"`
	Findings []audit.Finding `json:"findings"`
}

// publish changes the /status snapshot under the lock; the first call fills in what never changes.
func (c *Companion) publish(f func(s *snapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.status
	if s.Server == "" {
		s.Server, s.Version, s.GoVersion = c.server, c.version, runtime.Version()
		s.StartTime = c.startTime.UTC().Format(time.RFC3339Nano)
		s.Prefetch.Enabled, s.Prefetch.Off = c.off == "", c.off
		s.Prefetch.MaxBytes, s.Prefetch.MaxSegments = int64(c.cfg.Sidecar.PrefetchMaxBytes), c.cfg.Sidecar.PrefetchMaxSegments
		s.Prefetch.Threads = c.threads()
		if c.coord != nil {
			s.Coordinator.URL = c.cfg.Sidecar.CoordinatorURL
		}
		s.Drift.Enabled = c.driftOn()
		switch {
		case s.Drift.Enabled:
			s.Drift.Period = c.cfg.Sidecar.DriftPeriod.String()
		case c.driftOff != "":
			s.Drift.Off = c.driftOff
		default:
			s.Drift.Off = "druid.sidecar.drift.period is empty"
		}
		s.ConfigurationProblems = append([]string{}, c.problems...)
		s.Drift.Findings = []audit.Finding{}
	}
	f(s)
}

func (c *Companion) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(lifecycle.HealthPath, lifecycle.Get(func(w http.ResponseWriter, r *http.Request) { lifecycle.WriteJSON(w, http.StatusOK, true) }))
	mux.HandleFunc(lifecycle.StatusPath, lifecycle.Get(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		s := c.status
		s.Drift.Findings = slices.Clone(s.Drift.Findings)
		c.mu.Unlock()
		s.Uptime = c.now().Sub(c.startTime).Round(time.Millisecond).String()
		s.Rollout = c.gate.status()
		lifecycle.WriteJSON(w, http.StatusOK, s)
	}))
	if c.cfg.Sidecar.RolloutGate {
		mux.HandleFunc(RolloutPath, lifecycle.Get(c.gate.serve))
	}
	lifecycle.ServeDiagnostics(mux, c.reg, c.cfg.Sidecar.HTTPPprof, func(h http.Handler) http.Handler { return h })
	return mux
}
