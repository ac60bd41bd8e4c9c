package agent

// The local segment server ("upstream", druid.sidecar.upstream) is the process that answers queries for the
// segments this node loads. The agent tells it about each load and drop through two HTTP calls (the hook, whose
// contract docs/upstream.md describes), forwards /druid/v2/* to it (proxy.go), and watches that it is up.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The paths the agent calls on the upstream.
const (
	// UpstreamLoadPath takes POST {"segment":<DataSegment>,"directory":"<absolute path>"} once the segment's
	// files are in place and before the segment is announced.
	UpstreamLoadPath = "/druid-sidecar/v1/segments/load"
	// UpstreamDropPath takes POST {"segment":<DataSegment>} after the segment is unannounced and before its files
	// are deleted.
	UpstreamDropPath = "/druid-sidecar/v1/segments/drop"
	// UpstreamHealthPath is probed with GET; any 2xx answer means the upstream is up.
	UpstreamHealthPath = "/status/health"
)

// DefaultUpstreamHookTimeout bounds a hook call when druid.sidecar.upstream.hookTimeout is empty (0).
const DefaultUpstreamHookTimeout = 5 * time.Minute

const (
	// upstreamProbePeriod is how often the _up gauge is refreshed: often enough for an alert to follow an outage
	// within a scrape or two, rarely enough to cost the upstream nothing.
	upstreamProbePeriod = 10 * time.Second
	// upstreamProbeTimeout bounds one probe: the upstream runs beside this process, so a health check that takes
	// longer than this is as good as down.
	upstreamProbeTimeout = 2 * time.Second
	// maxUpstreamMessage bounds the upstream's answer quoted in a failure cause: the cause travels to the
	// Coordinator and its logs, where a few hundred bytes say what went wrong and a whole stack trace does not fit.
	maxUpstreamMessage = 300
	// maxUpstreamBody bounds how much of a hook answer is read at all.
	maxUpstreamBody = 64 << 10
)

// hookDurationBuckets span a quick in-memory registration (milliseconds) to a segment the upstream maps or
// preloads from disk (minutes), up to the default hook timeout.
var hookDurationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// errHookTimeout is the cause of a hook call that ran out of druid.sidecar.upstream.hookTimeout.
var errHookTimeout = errors.New("druid.sidecar.upstream.hookTimeout passed")

// HookError is a hook call the upstream answered with a status other than 2xx: it refused the load or the drop.
type HookError struct {
	// Action is the hook called: load or drop.
	Action segments.Action
	// URL is the hook's URL.
	URL string
	// StatusCode is the upstream's HTTP status.
	StatusCode int
	// Message is the upstream's answer, trimmed, on one line and bounded to a few hundred bytes; when the answer
	// is a Druid-style JSON error, its errorMessage (or error).
	Message string
}

func (e *HookError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(an empty answer)"
	}
	return fmt.Sprintf("POST %s answered %d %s: %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode), msg)
}

// UpstreamOptions are an Upstream's settings; the zero value of each is a sensible default.
type UpstreamOptions struct {
	// HookTimeout bounds one hook call (druid.sidecar.upstream.hookTimeout); 0 means DefaultUpstreamHookTimeout.
	HookTimeout time.Duration
	// Logger; nil discards.
	Logger hclog.Logger
	// Registerer receives the upstream's metrics: druid_sidecar_upstream_up,
	// druid_sidecar_upstream_hook_duration_seconds{action}, druid_sidecar_upstream_hook_failures_total{action}
	// and druid_sidecar_upstream_proxy_errors_total. nil registers nothing.
	Registerer prometheus.Registerer
	// TLS is the client configuration of an https:// upstream (druid.client.https.*, tlsconf.Client); nil means Go's.
	TLS *tls.Config
}

// Upstream is the client side of the local segment server: the load/drop hook, the health probe and the query
// proxy's transport. It is safe for concurrent use.
type Upstream struct {
	base      *url.URL // without a trailing slash, query or fragment
	name      string   // base for people: no user info
	transport *http.Transport
	client    *http.Client
	timeout   time.Duration
	log       hclog.Logger
	m         *upstreamMetrics
}

// NewUpstream returns the client of the upstream at rawURL (druid.sidecar.upstream: http:// or https://, with an
// optional path prefix). It opens nothing yet.
func NewUpstream(rawURL string, opts UpstreamOptions) (*Upstream, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("druid.sidecar.upstream %q is not an http:// or https:// URL such as http://127.0.0.1:8100", rawURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	up := &Upstream{base: u, name: u.Redacted(), transport: tlsconf.Transport(newUpstreamTransport(), opts.TLS), timeout: opts.HookTimeout,
		log: opts.Logger, m: newUpstreamMetrics()}
	up.client = &http.Client{Transport: up.transport}
	if up.timeout <= 0 {
		up.timeout = DefaultUpstreamHookTimeout
	}
	if up.log == nil {
		up.log = hclog.NewNullLogger()
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(up.m); err != nil {
			return nil, fmt.Errorf("registering the upstream's metrics: %w", err)
		}
	}
	return up, nil
}

// newUpstreamTransport is the one transport of hook calls, probes and proxied queries.
func newUpstreamTransport() *http.Transport {
	return &http.Transport{
		// The upstream runs beside this process: HTTP_PROXY and friends must never route it elsewhere.
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		// Every connection goes to one host, and a Broker fans a query out to many segments at once: with Go's
		// default of 2 idle connections per host most proxied queries would open a new connection.
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		// Bodies pass as they are: the Broker's Accept-Encoding reaches the upstream and its Content-Encoding
		// comes back, instead of the transport asking for gzip and unpacking it on the way.
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		// No ResponseHeaderTimeout: a query may compute for as long as its own timeout (Druid's query context)
		// allows before it sends anything, and the Broker cancels it when it gives up.
		WriteBufferSize: 64 << 10,
		ReadBufferSize:  64 << 10,
	}
}

// URL is the upstream's URL as configured, without user info.
func (u *Upstream) URL() string { return u.name }

// endpoint is the URL of path on the upstream.
func (u *Upstream) endpoint(path string) string {
	e := *u.base
	e.Path += path
	return e.String()
}

// endpointName is endpoint without user info, for messages.
func (u *Upstream) endpointName(path string) string { return u.name + path }

// Hook is the loadqueue.Hook of the upstream: POST UpstreamLoadPath with the segment and its absolute directory
// (a tombstone's directory holds only factory.json), or POST UpstreamDropPath with the segment. A 2xx answer is
// success; any other answer is a *HookError carrying the status and the upstream's message. Each call is bounded by
// the hook timeout and by ctx.
func (u *Upstream) Hook(ctx context.Context, action segments.Action, seg *segments.DataSegment, dir string) error {
	var path string
	switch action {
	case segments.ActionLoad:
		path = UpstreamLoadPath
		if dir == "" {
			return fmt.Errorf("the load hook of segment %s has no directory to give the local segment server", seg.ID())
		}
	case segments.ActionDrop:
		path = UpstreamDropPath
	default:
		return fmt.Errorf("the local segment server takes load and drop hooks, not %q", string(action))
	}
	body, err := hookBody(seg, action, dir)
	if err != nil {
		return err
	}
	start := time.Now()
	err = u.call(ctx, action, path, body)
	u.m.hookDuration.WithLabelValues(string(action)).Observe(time.Since(start).Seconds())
	if err != nil {
		u.m.hookFailures.WithLabelValues(string(action)).Inc()
	}
	return err
}

// hookBody is {"segment":<DataSegment exactly as Druid writes it>[,"directory":"<absolute path>"]}.
func hookBody(seg *segments.DataSegment, action segments.Action, dir string) ([]byte, error) {
	body := make([]byte, 0, 1024)
	body = append(body, `{"segment":`...)
	body, err := seg.AppendJSON(body)
	if err != nil {
		return nil, fmt.Errorf("writing segment %s for the local segment server: %w", seg.ID(), err)
	}
	if action == segments.ActionLoad {
		// The cache's paths are as absolute as druid.segmentCache.locations wrote them; the upstream may run
		// with another working directory, so it always gets an absolute one.
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("making the directory %s of segment %s absolute: %w", dir, seg.ID(), err)
		}
		body = append(body, `,"directory":`...)
		body = jackson.AppendJSONString(body, abs)
	}
	return append(body, '}'), nil
}

// call POSTs body to path and reads the answer.
func (u *Upstream) call(ctx context.Context, action segments.Action, path string, body []byte) error {
	ctx, cancel := context.WithTimeoutCause(ctx, u.timeout, errHookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.endpoint(path), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the %s hook request for the local segment server at %s: %w", action, u.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "druid-sidecar")
	resp, err := u.client.Do(req)
	if err != nil {
		return u.transportError(ctx, "POST", path, fmt.Sprintf("the %s hook", action), err)
	}
	defer resp.Body.Close()
	u.m.setUp(true)
	answer, rerr := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if resp.StatusCode/100 == 2 {
		// The answer's body means nothing on success; draining it (bounded) lets the connection be reused.
		return nil
	}
	msg := upstreamMessage(answer)
	if rerr != nil && msg == "" {
		msg = "the answer could not be read: " + rerr.Error()
	}
	return &HookError{Action: action, URL: u.endpointName(path), StatusCode: resp.StatusCode, Message: msg}
}

// transportError explains a request that got no answer: the hook timeout, the caller's cancellation, or the
// upstream not answering at all (which also marks it down).
func (u *Upstream) transportError(ctx context.Context, method, path, what string, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, errHookTimeout) {
			return fmt.Errorf("the local segment server at %s did not answer %s (%s %s) within druid.sidecar.upstream.hookTimeout (%s): %w",
				u.name, what, method, path, u.timeout, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s call to the local segment server at %s was canceled: %w", what, u.name, cause)
	}
	u.m.setUp(false)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the url.Error repeats the URL, which the sentence already names
	}
	return fmt.Errorf("the local segment server at %s could not be reached for %s (%s %s): %w", u.name, what, method, path, err)
}

// upstreamMessage makes an upstream's answer fit a failure cause: a Druid-style JSON error gives its errorMessage
// (or error); any other text is used as it is. The result is trimmed, on one line, and bounded.
func upstreamMessage(b []byte) string {
	b = bytes.TrimSpace(b)
	var druidErr struct {
		Error        any    `json:"error"`
		ErrorMessage string `json:"errorMessage"`
	}
	if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &druidErr) == nil {
		if druidErr.ErrorMessage != "" {
			b = []byte(druidErr.ErrorMessage)
		} else if s, ok := druidErr.Error.(string); ok && s != "" {
			b = []byte(s)
		}
	}
	var sb strings.Builder
	space := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r == utf8.RuneError && n <= 1 {
			r = '\uFFFD'
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = sb.Len() > 0
			continue
		}
		if sb.Len()+1+utf8.RuneLen(r)+len("…") > maxUpstreamMessage { // room for a space and the ellipsis
			sb.WriteString("…")
			break
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// Probe asks the upstream GET UpstreamHealthPath and sets druid_sidecar_upstream_up: nil for a 2xx answer within
// a couple of seconds, an error naming the upstream otherwise.
func (u *Upstream) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, upstreamProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.endpoint(UpstreamHealthPath), nil)
	if err != nil {
		return fmt.Errorf("building the health probe of the local segment server at %s: %w", u.name, err)
	}
	req.Header.Set("User-Agent", "druid-sidecar")
	resp, err := u.client.Do(req)
	if err != nil {
		u.m.setUp(false)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("the local segment server at %s did not answer GET %s: %w", u.name, UpstreamHealthPath, err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		u.m.setUp(false)
		return fmt.Errorf("the local segment server at %s answered GET %s with %d %s: %s", u.name, UpstreamHealthPath,
			resp.StatusCode, http.StatusText(resp.StatusCode), upstreamMessage(answer))
	}
	u.m.setUp(true)
	return nil
}

// probeLoop probes every period until ctx ends, logging when the upstream goes down and when it comes back.
func (u *Upstream) probeLoop(ctx context.Context, period time.Duration, wasUp bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := u.Probe(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && wasUp:
			u.log.Warn("the local segment server stopped answering; queries get 503 and loads fail until it is back", "upstream", u.name, "error", err)
		case err == nil && !wasUp:
			u.log.Info("the local segment server answers", "upstream", u.name)
		}
		wasUp = err == nil
	}
}

// waitUp probes until the upstream answers, for at most the hook timeout.
func (u *Upstream) waitUp(ctx context.Context, log hclog.Logger) error {
	deadline := time.Now().Add(u.timeout)
	delay := 250 * time.Millisecond
	logged := time.Time{}
	for {
		err := u.Probe(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("waited druid.sidecar.upstream.hookTimeout (%s) for it to answer: %w", u.timeout, err)
		}
		if time.Since(logged) > 10*time.Second {
			log.Warn("waiting for the local segment server before telling it about the cached segments", "upstream", u.name, "error", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// close drops the idle connections to the upstream.
func (u *Upstream) close() { u.transport.CloseIdleConnections() }

// bootstrapUpstream tells the upstream about every cached segment before they are announced, as a restarted
// upstream knows none of them. It first waits (for at most the hook timeout) for the upstream to answer its health
// probe, then sends the load hooks on numBootstrapThreads at a time. A segment the upstream refuses (a non-2xx
// answer) is dropped from the cache and not announced, as a Java Historical removes a cached segment it cannot load
// at startup; the Coordinator then loads it again, or elsewhere. An upstream that does not answer at all fails the
// startup instead, so that a slow or crashed upstream never empties the cache. It returns the segments to announce.
func bootstrapUpstream(ctx context.Context, up *Upstream, cache *segcache.Cache, cached []*segments.DataSegment,
	threads int, log hclog.Logger) ([]*segments.DataSegment, error) {
	if len(cached) == 0 {
		return cached, nil
	}
	if err := up.waitUp(ctx, log); err != nil {
		return nil, fmt.Errorf("the cached segments (%d) cannot be announced before the local segment server knows them: %w",
			len(cached), err)
	}
	start := time.Now()
	dirs := make(map[segments.SegmentID]string, len(cached))
	for _, cs := range cache.List() {
		dirs[cs.Segment.ID()] = cs.Dir
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	refused := make([]bool, len(cached))
	sem := make(chan struct{}, max(1, threads))
	var wg sync.WaitGroup
	var failOnce sync.Once
	var fatal error
	for i, seg := range cached {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := up.Hook(ctx, segments.ActionLoad, seg, dirs[seg.ID()])
			var he *HookError
			switch {
			case err == nil:
			case errors.As(err, &he):
				refused[i] = true
				log.Warn("the local segment server refused a cached segment: it is removed from the cache and not announced",
					"segment", seg.ID().String(), "error", err)
				// Best effort, as after a failed load: the upstream may hold part of what it refused.
				if err := up.Hook(ctx, segments.ActionDrop, seg, ""); err != nil {
					log.Warn("the drop hook after a refused load failed", "segment", seg.ID().String(), "error", err)
				}
				if err := cache.Drop(seg); err != nil {
					log.Error("removing a refused segment from the cache failed", "segment", seg.ID().String(), "error", err)
				}
			default:
				failOnce.Do(func() {
					fatal = fmt.Errorf("telling the local segment server about cached segment %s: %w", seg.ID(), err)
					cancel(fatal)
				})
			}
		})
	}
	wg.Wait()
	if fatal != nil {
		return nil, fatal
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	keep := make([]*segments.DataSegment, 0, len(cached))
	for i, seg := range cached {
		if !refused[i] {
			keep = append(keep, seg)
		}
	}
	log.Info("the local segment server took the cached segments", "segments", len(keep), "refused", len(cached)-len(keep),
		"duration", time.Since(start).Round(time.Millisecond).String())
	return keep, nil
}

// upstreamMetrics are the upstream's collectors, registered as one Collector. No label is a segment: action is
// "load" or "drop".
type upstreamMetrics struct {
	promx.Collector
	up           prometheus.Gauge
	hookDuration *prometheus.HistogramVec
	hookFailures *prometheus.CounterVec
	proxyErrors  prometheus.Counter
}

func newUpstreamMetrics() *upstreamMetrics {
	m := &upstreamMetrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "druid_sidecar_upstream_up",
			Help: "1 while the local segment server (druid.sidecar.upstream) answers its health probe and hook calls, 0 otherwise.",
		}),
		hookDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "druid_sidecar_upstream_hook_duration_seconds",
			Help:    "Duration of load and drop hook calls to the local segment server, failed ones included.",
			Buckets: hookDurationBuckets,
		}, []string{"action"}),
		hookFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "druid_sidecar_upstream_hook_failures_total",
			Help: "Load and drop hook calls the local segment server refused or did not answer.",
		}, []string{"action"}),
		proxyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "druid_sidecar_upstream_proxy_errors_total",
			Help: "Queries (/druid/v2/*) answered 503 because the local segment server could not be reached.",
		}),
	}
	// Both series exist from the start, so that rate() and absent() behave before the first call.
	for _, a := range []segments.Action{segments.ActionLoad, segments.ActionDrop} {
		m.hookDuration.WithLabelValues(string(a))
		m.hookFailures.WithLabelValues(string(a))
	}
	m.Collector = promx.New(m.up, m.hookDuration, m.hookFailures, m.proxyErrors)
	return m
}

func (m *upstreamMetrics) setUp(up bool) { m.up.Set(promx.Bool(up)) }
