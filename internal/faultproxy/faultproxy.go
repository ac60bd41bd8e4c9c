// Package faultproxy is test support: an HTTP reverse proxy, on a loopback port, that injects programmable faults
// between a client (the AWS SDK, a Druid peer's HTTP client) and a real server (the local S3 server).
//
// Faults are chosen per request by rules, tried in the order they were added; the first rule that matches and
// still has uses left applies. A fault can answer with an error status instead of forwarding (an S3-style XML
// error body is written for it), delay the request, slow the response body down, or cut the connection after a
// number of body bytes. Independently of the rules, every client connection can be capped to a bandwidth in bytes
// per second (S3 gives about 85 MB/s per connection; a benchmark can model that on loopback).
//
// The proxy keeps the request's Host header, so requests signed for the proxy's address (SigV4 signs the host)
// still verify at the server behind it. It is for tests and sandboxes only: it buffers nothing, trusts its
// client and listens on 127.0.0.1.
package faultproxy

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what happens to a request a rule matches. The zero Fault forwards the request unchanged.
type Fault struct {
	// Status, if not zero, answers the request with this status without forwarding it. Body is the answer's body;
	// when empty an S3-style XML error is written whose code follows the status (503 SlowDown, 500 InternalError,
	// 403 AccessDenied, 404 NoSuchKey, ...).
	Status int
	Body   string
	// Header holds extra response headers for a Status answer.
	Header http.Header
	// Delay holds the request this long before it is answered or forwarded (cut short if the client goes away).
	Delay time.Duration
	// CutAfter, if not zero, forwards the request and then closes the client's connection once this many bytes of
	// the response body have been sent. The client sees a truncated body (unexpected EOF). CutAfter < 0 cuts the
	// connection right after the response headers.
	CutAfter int64
	// Reset makes a cut a TCP reset (the client sees "connection reset by peer") instead of a clean close.
	Reset bool
	// BodyRate, if not zero, sends this response's body at no more than this many bytes per second.
	BodyRate int64
}

// Rule picks the requests a Fault applies to.
type Rule struct {
	// Method, if set, must equal the request's method.
	Method string
	// PathContains, if set, must be a substring of the request's URL path.
	PathContains string
	// Ranged, if set, must equal whether the request carries a Range header (or Azure's x-ms-range).
	Ranged *bool
	// Match, if set, must return true.
	Match func(*http.Request) bool
	// Times is how many matching requests the rule applies to; 0 means every one.
	Times int
	Fault
}

// Record is one request the proxy handled.
type Record struct {
	Method string
	Path   string
	Query  string
	Range  string
	// Status is the status sent to the client (the server's, or the fault's).
	Status int
	// Rule is the index, in the order added, of the rule that applied, or -1.
	Rule int
	// Fault is the fault that applied (the zero Fault if none).
	Fault Fault
}

// Proxy is a running fault-injecting reverse proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target    *url.URL
	listener  net.Listener
	server    *http.Server
	transport *http.Transport
	connRate  atomic.Int64

	mu      sync.Mutex
	rules   []*ruleState
	records []Record
}

type ruleState struct {
	Rule
	used int
}

type connKey struct{}

// New starts a proxy on 127.0.0.1 (a free port) that forwards to target, a URL such as http://127.0.0.1:29000.
// Close stops it.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an http(s) URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listening on 127.0.0.1: %w", err)
	}
	p := &Proxy{
		target: u,
		transport: &http.Transport{
			Proxy:               nil,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
			ReadBufferSize:      64 << 10,
			WriteBufferSize:     64 << 10,
		},
	}
	p.listener = &rateListener{Listener: ln, rate: &p.connRate}
	p.server = &http.Server{
		Handler:           http.HandlerFunc(p.serve),
		ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		// Cut connections make the server complain; the tests see the effect on the client side.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = p.server.Serve(p.listener) }()
	return p, nil
}

// URL is the proxy's base URL, http://127.0.0.1:<port>.
func (p *Proxy) URL() string { return "http://" + p.listener.Addr().String() }

// Close stops the proxy and closes every connection it holds.
func (p *Proxy) Close() error {
	err := p.server.Close()
	p.transport.CloseIdleConnections()
	return err
}

// Add appends rules; they are tried after the ones already added.
func (p *Proxy) Add(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rules {
		p.rules = append(p.rules, &ruleState{Rule: r})
	}
}

// Reset removes every rule and forgets the recorded requests. The connection bandwidth cap stays.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	p.records = nil
}

// SetConnRate caps every client connection (those open and those to come) to bytesPerSec bytes per second sent
// to the client, headers included. 0 removes the cap.
func (p *Proxy) SetConnRate(bytesPerSec int64) { p.connRate.Store(bytesPerSec) }

// Requests returns the requests handled so far, in the order they arrived.
func (p *Proxy) Requests() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.records...)
}

// pick chooses the fault for r and records the request; it returns the record's index.
func (p *Proxy) pick(r *http.Request) (Fault, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := Record{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Range: rangeOf(r), Rule: -1}
	var f Fault
	for i, rs := range p.rules {
		if rs.Times > 0 && rs.used >= rs.Times {
			continue
		}
		if !rs.matches(r) {
			continue
		}
		rs.used++
		rec.Rule, rec.Fault, f = i, rs.Fault, rs.Fault
		break
	}
	p.records = append(p.records, rec)
	return f, len(p.records) - 1
}

func (p *Proxy) setStatus(i, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < len(p.records) {
		p.records[i].Status = status
	}
}

func (r *Rule) matches(req *http.Request) bool {
	if r.Method != "" && r.Method != req.Method {
		return false
	}
	if r.PathContains != "" && !strings.Contains(req.URL.Path, r.PathContains) {
		return false
	}
	if r.Ranged != nil && *r.Ranged != (rangeOf(req) != "") {
		return false
	}
	if r.Match != nil && !r.Match(req) {
		return false
	}
	return true
}

// rangeOf is the range a request asks for: its Range header, or Azure Blob Storage's x-ms-range, which Azure's
// clients send instead.
func rangeOf(r *http.Request) string {
	if v := r.Header.Get("Range"); v != "" {
		return v
	}
	return r.Header.Get("X-Ms-Range")
}

// Ranged is a helper for Rule.Ranged.
func Ranged(b bool) *bool { return &b }

// hopHeaders are not forwarded (RFC 9110 section 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f, idx := p.pick(r)
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f.Status != 0 {
		p.setStatus(idx, f.Status)
		writeError(w, r, f)
		return
	}

	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = p.target.Scheme
	out.URL.Host = p.target.Host
	out.Host = r.Host // keep the signed host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.setStatus(idx, http.StatusBadGateway)
		http.Error(w, "faultproxy: forwarding failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	p.setStatus(idx, resp.StatusCode)
	w.WriteHeader(resp.StatusCode)
	if f.CutAfter < 0 {
		cut(w, r, f.Reset)
		return
	}
	var dst io.Writer = w
	if f.BodyRate > 0 {
		dst = &pacedWriter{w: w, pacer: newPacer(f.BodyRate), flush: flusher(w)}
	}
	if f.CutAfter > 0 {
		if _, err := io.CopyN(dst, resp.Body, f.CutAfter); err == nil {
			cut(w, r, f.Reset)
			return
		}
		// The body was shorter than CutAfter: it has been sent whole.
		return
	}
	_, _ = io.Copy(dst, resp.Body)
}

// cut flushes what was written and closes the client's connection under the response.
func cut(w http.ResponseWriter, r *http.Request, reset bool) {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if c == nil {
		panic(http.ErrAbortHandler)
	}
	if reset {
		if rc, ok := c.(*rateConn); ok {
			if tc, ok := rc.Conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
	}
	_ = c.Close()
}

func flusher(w http.ResponseWriter) func() {
	if fl, ok := w.(http.Flusher); ok {
		return fl.Flush
	}
	return func() {}
}

// s3Codes maps a status to the S3 error code a fault answers with.
var s3Codes = map[int]string{
	400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 409: "OperationAborted",
	412: "PreconditionFailed", 416: "InvalidRange", 429: "TooManyRequests", 500: "InternalError",
	501: "NotImplemented", 502: "BadGateway", 503: "SlowDown", 504: "GatewayTimeout",
}

func writeError(w http.ResponseWriter, r *http.Request, f Fault) {
	for k, vs := range f.Header {
		w.Header()[k] = vs
	}
	body := f.Body
	if body == "" {
		code := s3Codes[f.Status]
		if code == "" {
			code = strings.ReplaceAll(http.StatusText(f.Status), " ", "")
		}
		body = fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"+
			"<Message>injected by faultproxy</Message><Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>",
			code, xmlEscape(r.URL.Path))
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/xml")
		}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(f.Status)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, body)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// pacer spreads bytes over time at a rate (a virtual-clock scheduler): each write of n bytes moves the earliest
// time of the next write n/rate later; idle time earns at most a burst of 10 ms worth of bytes.
type pacer struct {
	rate int64
	next time.Time
}

const burst = 10 * time.Millisecond

func newPacer(rate int64) *pacer { return &pacer{rate: rate} }

// wait blocks until n more bytes may go out.
func (p *pacer) wait(n int) {
	now := time.Now()
	if p.next.Before(now.Add(-burst)) {
		p.next = now.Add(-burst)
	}
	p.next = p.next.Add(time.Duration(float64(n) / float64(p.rate) * float64(time.Second)))
	if d := p.next.Sub(now); d > 0 {
		time.Sleep(d)
	}
}

// chunk is the largest write a paced writer lets through at once.
func chunk(rate int64) int {
	c := rate / 100 // 10 ms worth
	if c < 1024 {
		c = 1024
	}
	if c > 256<<10 {
		c = 256 << 10
	}
	return int(c)
}

type pacedWriter struct {
	w     io.Writer
	pacer *pacer
	flush func()
}

func (pw *pacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		n := min(len(b), chunk(pw.pacer.rate))
		pw.pacer.wait(n)
		m, err := pw.w.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		pw.flush()
		b = b[n:]
	}
	return written, nil
}

// rateListener wraps accepted connections so that their writes follow the proxy's connection rate.
type rateListener struct {
	net.Listener
	rate *atomic.Int64
}

func (l *rateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &rateConn{Conn: c, rate: l.rate}, nil
}

type rateConn struct {
	net.Conn
	rate  *atomic.Int64
	mu    sync.Mutex
	pacer *pacer
}

func (c *rateConn) Write(b []byte) (int, error) {
	rate := c.rate.Load()
	if rate <= 0 {
		return c.Conn.Write(b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pacer == nil || c.pacer.rate != rate {
		c.pacer = newPacer(rate)
	}
	written := 0
	for len(b) > 0 {
		n := min(len(b), chunk(rate))
		c.pacer.wait(n)
		m, err := c.Conn.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}
