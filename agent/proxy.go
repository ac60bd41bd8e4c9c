package agent

import (
	"context"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// QueryPath is the prefix of Druid's native query endpoint: the Broker POSTs queries to /druid/v2/ (Smile or
// JSON) and cancels them with DELETE /druid/v2/{queryId} (druid-protocol.md 4.5).
const QueryPath = "/druid/v2/"

const smileType = "application/x-jackson-smile"

// newQueryProxy forwards /druid/v2/* to the upstream as it comes: method, path, query string, headers and body
// (Smile or JSON, streamed, never buffered whole), and the answer back the same way, flushed as it arrives so that
// a Broker merging a streamed result sees each part at once. The response headers, X-Druid-Response-Context and
// X-Druid-Query-Id among them, pass through; a client that goes away cancels the upstream request. When the
// upstream cannot be reached the Broker gets 503 with a Druid-style error naming it.
func newQueryProxy(up *Upstream, node string, log hclog.Logger) http.Handler {
	target := up.base
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// SetURL also sends the upstream's own host as Host; the Broker's address goes in X-Forwarded-*.
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: up.transport,
		// Flush after every write: Druid answers with one JSON or Smile array streamed as the segments are
		// scanned, and the Broker's merge should not wait for a buffer to fill.
		FlushInterval: -1,
		BufferPool:    proxyBuffers{},
		ErrorLog:      log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				// The Broker went away (it canceled the query or timed out): nobody reads an answer.
				log.Debug("query canceled by its client", "method", r.Method, "path", r.URL.Path, "cause", context.Cause(r.Context()))
				return
			}
			up.m.proxyErrors.Inc()
			log.Warn("a query could not be forwarded to the local segment server", "upstream", up.name,
				"method", r.Method, "path", r.URL.Path, "error", err)
			writeQueryError(w, r, http.StatusServiceUnavailable, "Unknown exception",
				"the local segment server at "+up.name+" did not answer the query: "+err.Error(),
				"druid-sidecar.UpstreamUnavailableException", node)
		},
	}
}

// proxyBuffers lends the proxy 128 KiB copy buffers instead of a fresh 32 KiB one per request: an answer of many
// megabytes then takes 8 reads, writes and flushes per MiB rather than 32, and no garbage per query; a hundred
// queries in flight hold 12.5 MiB.
type proxyBuffers struct{}

var proxyBufferPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

func (proxyBuffers) Get() []byte  { return *proxyBufferPool.Get().(*[]byte) }
func (proxyBuffers) Put(b []byte) { proxyBufferPool.Put(&b) }

// noUpstreamHandler answers /druid/v2/* on a node without a local segment server.
func noUpstreamHandler(node string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeQueryError(w, r, http.StatusServiceUnavailable, "Unknown exception",
			"this node serves cluster state only (segment announcements, loads and drops) and answers no queries: "+
				"no local segment server is configured (druid.sidecar.upstream)",
			"druid-sidecar.NoUpstreamException", node)
	})
}

// writeQueryError writes a Druid query error (QueryException's JSON: error, errorMessage, errorClass, host),
// which the Broker reads whatever the status. It is Smile when the client asked for Smile, as Druid's
// QueryResource answers in the client's format.
func writeQueryError(w http.ResponseWriter, r *http.Request, code int, errorCode, msg, errorClass, host string) {
	body := make([]byte, 0, 256+len(msg))
	body = append(body, `{"error":`...)
	body = jackson.AppendJSONString(body, errorCode)
	body = append(body, `,"errorMessage":`...)
	body = jackson.AppendJSONString(body, msg)
	body = append(body, `,"errorClass":`...)
	body = jackson.AppendJSONString(body, errorClass)
	body = append(body, `,"host":`...)
	body = jackson.AppendJSONString(body, host)
	body = append(body, '}')
	ct := "application/json"
	if wantsSmile(r) {
		if s, err := jackson.JSONToSmile(nil, body); err == nil {
			body, ct = s, smileType
		}
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(body)
}

// wantsSmile reports whether the answer should be Smile: the Accept header asks for it, or there is none (or a
// wildcard) and the request body is Smile, which is how Druid's QueryResource picks the format of a Broker's query
// (the Broker sends only a Content-Type).
func wantsSmile(r *http.Request) bool {
	accept := strings.TrimSpace(r.Header.Get("Accept"))
	if accept == "" || accept == "*/*" {
		accept = r.Header.Get("Content-Type")
	}
	mt, _, _ := strings.Cut(accept, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, smileType) || strings.EqualFold(mt, "application/smile")
}
