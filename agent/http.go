package agent

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/loadqueue"
)

// The status paths a Historical serves (druid-protocol.md 4.5).
const (
	HealthPath              = "/status/health"
	StatusPath              = "/status"
	PropertiesPath          = "/status/properties"
	SelfDiscoveredPath      = "/status/selfDiscovered"
	SelfDiscoveredStatePath = "/status/selfDiscovered/status"
	LoadStatusPath          = "/druid/historical/v1/loadstatus"
	ReadinessPath           = "/druid/historical/v1/readiness"
	MetricsPath             = "/metrics"
)

// InternalPath is the prefix of the endpoints Druid's own processes call (the segment inventory, changeRequests,
// loadCapabilities); with druid.sidecar.internalAuth they require the escalator's credentials.
const InternalPath = "/druid-internal/"

// handler is the data server's HTTP surface. /druid-internal/*, the status endpoints Java secures and the profiles
// check the escalator's basic-auth credentials when druid.sidecar.internalAuth is set (trap 25; otherwise keep
// them on a trusted network); /status/health and /druid/historical/v1/readiness are always open, as in Java, and
// so is /metrics. /druid/v2/* goes to the local segment server, or answers 503 when there is none.
func (a *Agent) handler(p *parts) http.Handler {
	mux := http.NewServeMux()
	internal := http.NewServeMux()
	internal.Handle(announcer.InventoryPath, p.inv)
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
	secured := func(h http.HandlerFunc) http.Handler { return a.requireInternalAuth(get(h)) }
	mux.HandleFunc(HealthPath, get(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, true) }))
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
		writeJSON(w, http.StatusOK, map[string]bool{"selfDiscovered": a.selfDiscovered.Load()})
	}))
	mux.Handle(LoadStatusPath, secured(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"cacheInitialized": a.cacheReady.Load()})
	}))
	mux.HandleFunc(ReadinessPath, get(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !a.bootstrapped.Load() {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
	}))
	// The profiles take the credentials too: /debug/pprof/cmdline shows the command line, --set passwords included.
	serveDiagnostics(mux, a.reg, a.cfg.Sidecar.HTTPPprof, a.requireInternalAuth)
	return mux
}

// serveDiagnostics mounts /metrics, and /debug/pprof/ behind guard when druid.sidecar.http.pprof is on (profiles
// expose internals, so they are opt-in), on serve's and companion's ports alike.
func serveDiagnostics(mux *http.ServeMux, reg Registry, pprofOn bool, guard func(http.Handler) http.Handler) {
	mux.Handle(MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if pprofOn {
		mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", guard(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	}
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

// get restricts a handler to GET and HEAD, as the JAX-RS resources are.
func get(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method "+r.Method+" is not allowed; this endpoint answers GET", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// status is /status: Druid's StatusResource gives version, modules and memory; the memory here is the Go heap's.
func (a *Agent) status(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, map[string]any{
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
	writeJSON(w, http.StatusOK, props)
}
