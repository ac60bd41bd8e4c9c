package agent

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipHandler compresses answers as Druid's Jetty gzip handler does (JettyServerInitUtils.wrapWithDefaultGzipHandler,
// around every resource): GET and POST only, every answer whatever its size (minGzipSize 0), when the request's
// Accept-Encoding names gzip; the long-poll inventory and changeRequests replies included. An answer that already
// has a Content-Encoding (a query answer the local segment server compressed, /metrics) passes as it is, and so do
// the media types Jetty leaves alone (images, audio, video, archives). Each answer to a GET or POST says
// Vary: Accept-Encoding, as Jetty's does. A request body sent with Content-Encoding: gzip is inflated first, as
// Jetty does with its inflate buffer (druid.server.http.inflateBufferSize, on by default).
func gzipHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") && r.Body != nil && r.Body != http.NoBody {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "the request body says Content-Encoding: gzip but is not gzip: "+err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = gunzipBody{zr, r.Body}
			r.Header.Del("Content-Encoding")
			r.Header.Del("Content-Length")
			r.ContentLength = -1
		}
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w}
		defer gw.close()
		h.ServeHTTP(gw, r)
	})
}

// gunzipBody is an inflated request body; closing it closes the body it reads.
type gunzipBody struct {
	*gzip.Reader
	raw io.Closer
}

func (b gunzipBody) Close() error { return b.raw.Close() }

// acceptsGzip reports whether an Accept-Encoding names gzip (or x-gzip) with a quality above 0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && !strings.EqualFold(name, "x-gzip") {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

// uncompressedTypes are the media types Jetty's gzip handler does not compress by default: already compressed.
var uncompressedTypes = []string{"image/", "audio/", "video/", "application/gzip", "application/x-gzip",
	"application/zip", "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
	"application/compress", "application/x-compress", "application/brotli", "application/zstd"}

// gzipPool keeps the writers between answers: a gzip.Writer holds about 800 KiB of deflate state.
var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// gzipWriter compresses what the handler writes, decided at the first write or WriteHeader from the headers the
// handler set.
type gzipWriter struct {
	http.ResponseWriter
	decided bool
	zw      *gzip.Writer // nil when the answer passes uncompressed
}

func (g *gzipWriter) decide(code int) {
	if g.decided {
		return
	}
	g.decided = true
	h := g.Header()
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified || h.Get("Content-Encoding") != "" {
		return
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	for _, t := range uncompressedTypes {
		if strings.HasPrefix(ct, t) {
			return
		}
	}
	h.Set("Content-Encoding", "gzip")
	h.Del("Content-Length")
	g.zw = gzipPool.Get().(*gzip.Writer)
	g.zw.Reset(g.ResponseWriter)
}

func (g *gzipWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		g.ResponseWriter.WriteHeader(code) // an informational answer is not the answer
		return
	}
	g.decide(code)
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.decided {
		if g.Header().Get("Content-Type") == "" && len(p) > 0 {
			// What net/http would sniff, set now so that the check above sees it.
			g.Header().Set("Content-Type", http.DetectContentType(p))
		}
		g.WriteHeader(http.StatusOK)
	}
	if g.zw == nil {
		return g.ResponseWriter.Write(p)
	}
	return g.zw.Write(p)
}

// Flush sends what is compressed so far, so that a streamed answer (a proxied query) reaches the client as it comes.
func (g *gzipWriter) Flush() {
	if g.zw != nil {
		_ = g.zw.Flush()
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer (deadlines).
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// close ends the gzip stream of an answer that was compressed; an answer the handler never wrote is left as it is
// (net/http sends its empty 200 uncompressed).
func (g *gzipWriter) close() {
	if g.zw == nil {
		return
	}
	_ = g.zw.Close()
	g.zw.Reset(io.Discard)
	gzipPool.Put(g.zw)
	g.zw = nil
}
