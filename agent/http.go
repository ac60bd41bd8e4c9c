package agent

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/loadqueue"
)

// The status paths a Historical serves (druid-protocol.md 4.5).
const (
	HealthPath              = lifecycle.HealthPath
	StatusPath              = lifecycle.StatusPath
	PropertiesPath          = "/status/properties"
	SelfDiscoveredPath      = "/status/selfDiscovered"
	SelfDiscoveredStatePath = "/status/selfDiscovered/status"
	ReadyPath               = "/status/ready"
	LoadStatusPath          = "/druid/historical/v1/loadstatus"
	ReadinessPath           = "/druid/historical/v1/readiness"
	MetricsPath             = lifecycle.MetricsPath
)

// InternalPath is the prefix of the endpoints Druid's own processes call (the segment inventory, changeRequests,
// loadCapabilities); with druid.sidecar.internalAuth they require the escalator's credentials.
const InternalPath = "/druid-internal/"

// handler is the data server's HTTP surface. /druid-internal/*, the status endpoints Java secures and the profiles
// check the escalator's basic-auth credentials when druid.sidecar.internalAuth is set (trap 25; otherwise keep
// them on a trusted network); /status/health, /status/ready and /druid/historical/v1/readiness are always open, as
// in Java, and so is /metrics. /druid/v2/* goes to the local segment server, or answers 503 when there is none.
func (a *Agent) handler(p *parts) http.Handler {
	mux := http.NewServeMux()
	internal := http.NewServeMux()
	internal.Handle(inventory.Path, p.inv)
	lq := p.queue.Handler()
	internal.Handle(loadqueue.ChangeRequestsPath, lq)
	internal.Handle(loadqueue.LoadCapabilitiesPath, lq)
	// The whole subtree goes through the check, unknown paths included, so that no path under it answers
	// anything (not even a 404) without credentials.
	mux.Handle(InternalPath, a.requireInternalAuth(internal))

	node := a.cfg.Node.HostAndPortToUse()
	var query http.Handler
	if p.upstream != nil {
		query = newQueryProxy(p.upstream, node, a.log.Named("proxy"))
	} else {
		query = noUpstreamHandler(node)
	}
	mux.Handle(QueryPath, query)
	mux.Handle(strings.TrimSuffix(QueryPath, "/"), query) // without the slash too, instead of a redirect a POST would not follow

	// Java secures every status endpoint but /status/health and readiness (StateResourceFilter on /status,
	// selfDiscovered and loadstatus, ConfigResourceFilter on /status/properties): with druid.sidecar.internalAuth
	// they take the same credentials as /druid-internal/*.
	secured := func(h http.HandlerFunc) http.Handler { return a.requireInternalAuth(lifecycle.Get(h)) }
	mux.HandleFunc(HealthPath, lifecycle.Get(func(w http.ResponseWriter, r *http.Request) { lifecycle.WriteJSON(w, http.StatusOK, true) }))
	mux.Handle(StatusPath, secured(a.status))
	mux.Handle(PropertiesPath, secured(a.properties))
	mux.Handle(SelfDiscoveredPath, secured(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !a.selfDiscovered.Load() {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
	}))
	mux.Handle(SelfDiscoveredStatePath, secured(func(w http.ResponseWriter, r *http.Request) {
		lifecycle.WriteJSON(w, http.StatusOK, map[string]bool{"selfDiscovered": a.selfDiscovered.Load()})
	}))
	// /status/ready (Druid 37+, StatusResource) answers the announcement state (ServiceAnnouncementState): true
	// once the node is announced, false before and from the start of shutdown, with 503. It is open, as
	// /status/health is, since it is the readiness probe of Druid's Kubernetes docs.
	mux.HandleFunc(ReadyPath, lifecycle.Get(func(w http.ResponseWriter, r *http.Request) {
		ready := a.selfDiscovered.Load()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		lifecycle.WriteJSON(w, code, ready)
	}))
	mux.Handle(LoadStatusPath, secured(func(w http.ResponseWriter, r *http.Request) {
		lifecycle.WriteJSON(w, http.StatusOK, map[string]bool{"cacheInitialized": a.bootstrapped.Load()})
	}))
	mux.HandleFunc(ReadinessPath, lifecycle.Get(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !a.bootstrapped.Load() {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
	}))
	// The profiles take the credentials too: /debug/pprof/cmdline shows the command line, --set passwords included.
	lifecycle.ServeDiagnostics(mux, a.reg, a.cfg.Sidecar.HTTPPprof, a.requireInternalAuth)
	// Every answer goes through the gzip handler, as every Druid resource goes through Jetty's.
	return gzipHandler(mux)
}

// requireInternalAuth lets through only requests with HTTP Basic credentials equal to the escalator's
// (druid.escalator.internalClientUsername and internalClientPassword), when druid.sidecar.internalAuth is set.
// Others get 401 with a Basic challenge. The comparison takes the same time whatever is wrong: both parts are
// hashed to a fixed length and both are always compared.
func (a *Agent) requireInternalAuth(h http.Handler) http.Handler {
	if !a.cfg.Sidecar.InternalAuth {
		return h
	}
	wantUser := sha256.Sum256([]byte(a.cfg.Escalator.InternalClientUsername))
	wantPass := sha256.Sum256([]byte(a.cfg.Escalator.InternalClientPassword.Reveal()))
	log := a.log.Named("auth")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		match := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) & subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		if !ok || match != 1 {
			log.Debug("refused a request without the right internal credentials", "method", r.Method, "path", r.URL.Path,
				"remote", r.RemoteAddr, "credentials", ok)
			w.Header().Set("WWW-Authenticate", `Basic realm="druid"`)
			http.Error(w, "this endpoint needs the cluster's internal credentials: HTTP Basic with "+
				"druid.escalator.internalClientUsername and internalClientPassword", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// status is /status: Druid's StatusResource gives version, modules and memory; the memory here is the Go heap's.
func (a *Agent) status(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	lifecycle.WriteJSON(w, http.StatusOK, map[string]any{
		"version": a.version,
		"modules": []any{},
		"memory": map[string]uint64{
			"maxMemory":   ms.Sys,
			"totalMemory": ms.HeapSys,
			"freeMemory":  ms.HeapSys - ms.HeapInuse,
			"usedMemory":  ms.HeapInuse,
		},
		"goVersion":  runtime.Version(),
		"goroutines": runtime.NumGoroutine(),
		"numCPU":     runtime.NumCPU(),
		"startTime":  a.startTime.UTC().Format(time.RFC3339Nano),
		"uptime":     time.Since(a.startTime).Round(time.Millisecond).String(),
	})
}

// properties is /status/properties: the resolved properties, secrets and hidden keys as "<redacted>".
func (a *Agent) properties(w http.ResponseWriter, r *http.Request) {
	props := map[string]string{}
	for _, e := range a.cfg.Entries() {
		props[e.Key] = e.Value
	}
	lifecycle.WriteJSON(w, http.StatusOK, props)
}
