package agent

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"runtime"
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

// handler is the data server's HTTP surface. None of it checks credentials: Druid's internal calls carry the
// escalator's, which are accepted as any other request (trap 25: keep /druid-internal on a trusted network).
func (a *Agent) handler(p *parts) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(announcer.InventoryPath, p.inv)
	lq := p.queue.Handler()
	mux.Handle(loadqueue.ChangeRequestsPath, lq)
	mux.Handle(loadqueue.LoadCapabilitiesPath, lq)

	mux.HandleFunc(HealthPath, get(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, true) }))
	mux.HandleFunc(StatusPath, get(a.status))
	mux.HandleFunc(PropertiesPath, get(a.properties))
	mux.HandleFunc(SelfDiscoveredPath, get(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !a.selfDiscovered.Load() {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
	}))
	mux.HandleFunc(SelfDiscoveredStatePath, get(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"selfDiscovered": a.selfDiscovered.Load()})
	}))
	mux.HandleFunc(LoadStatusPath, get(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"cacheInitialized": a.cacheReady.Load()})
	}))
	mux.HandleFunc(ReadinessPath, get(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !a.bootstrapped.Load() {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
	}))
	mux.Handle(MetricsPath, promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	if a.cfg.Sidecar.HTTPPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
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
