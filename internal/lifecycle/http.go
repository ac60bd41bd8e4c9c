package lifecycle

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The status paths a Historical serves (druid-protocol.md 4.5) that the companion serves too.
const (
	HealthPath  = "/status/health"
	StatusPath  = "/status"
	MetricsPath = "/metrics"
)

// ServeDiagnostics mounts /metrics, and /debug/pprof/ behind guard when druid.sidecar.http.pprof is on (profiles
// expose internals, so they are opt-in), on serve's and companion's ports alike.
func ServeDiagnostics(mux *http.ServeMux, reg Registry, pprofOn bool, guard func(http.Handler) http.Handler) {
	mux.Handle(MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if pprofOn {
		mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", guard(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	}
}

// Get restricts a handler to GET and HEAD, as the JAX-RS resources are.
func Get(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method "+r.Method+" is not allowed; this endpoint answers GET", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

// WriteJSON answers v as JSON with code, HTML characters unescaped as Jackson writes them.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
