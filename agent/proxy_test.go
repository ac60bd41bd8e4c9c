package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// queryUpstream is the query side of a test upstream: it records what reached it and answers as a data server
// would, streaming.
type queryUpstream struct {
	mu       sync.Mutex
	requests []recorded

	release  chan struct{} // the streamed answer's second half waits for it
	started  chan struct{} // a "slow" query arrived
	canceled chan struct{} // the "slow" query's request context ended
}

type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

func newQueryUpstream() *queryUpstream {
	return &queryUpstream{release: make(chan struct{}), started: make(chan struct{}), canceled: make(chan struct{})}
}

func (q *queryUpstream) last() recorded {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.requests[len(q.requests)-1]
}

func (q *queryUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q.mu.Lock()
	q.requests = append(q.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	q.mu.Unlock()
	switch {
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusAccepted)
	case r.Header.Get("Content-Type") == smileType:
		// Smile comes back byte for byte, as the answer.
		w.Header().Set("Content-Type", smileType)
		w.Write(body)
	case bytes.Contains(body, []byte(`"slow"`)):
		close(q.started)
		select {
		case <-r.Context().Done():
			close(q.canceled)
		case <-time.After(10 * time.Second):
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Druid-Query-Id", "q-1")
		w.Header().Set("X-Druid-Response-Context", `{"missingSegments":[]}`)
		io.WriteString(w, `[{"timestamp":"2025-01-01T00:00:00.000Z",`)
		w.(http.Flusher).Flush()
		select { // the rest only once the client has read the first part: the proxy must not hold it back
		case <-q.release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, `"result":{"minTime":"2025-01-01T00:00:00.000Z"}}]`)
	}
}

// TestQueryProxy sends queries through the agent to a local segment server: JSON streamed back part by part with
// Druid's headers, Smile passed byte for byte both ways, DELETE cancellation, a client's cancellation reaching the
// server, and a 503 naming the server once it is gone.
func TestQueryProxy(t *testing.T) {
	z := testenv.ZooKeeper(t)
	q := newQueryUpstream()
	up := newTestUpstream(t, q)
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.upstream="+up.URL)
	r := startAgent(t, cfg, func(a *Agent) { a.probePeriod = 50 * time.Millisecond })
	client := &http.Client{Timeout: 20 * time.Second}

	// JSON, streamed: the first part arrives while the server still holds the second.
	query := `{"queryType":"timeBoundary","dataSource":"wikipedia","context":{"queryId":"q-1"}}`
	req, _ := http.NewRequest(http.MethodPost, r.url+QueryPath+"?pretty", strings.NewReader(query))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Druid-Test", "kept")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len(`[{"timestamp":"2025-01-01T00:00:00.000Z",`))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("reading the first part of a streamed answer: %v", err)
	}
	close(q.release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(first) + string(rest); resp.StatusCode != 200 ||
		got != `[{"timestamp":"2025-01-01T00:00:00.000Z","result":{"minTime":"2025-01-01T00:00:00.000Z"}}]` {
		t.Errorf("JSON query: %d %q", resp.StatusCode, got)
	}
	if h := resp.Header; h.Get("X-Druid-Response-Context") != `{"missingSegments":[]}` || h.Get("X-Druid-Query-Id") != "q-1" {
		t.Errorf("response headers %v", h)
	}
	got := q.last()
	if got.Method != "POST" || got.Path != QueryPath || got.RawQuery != "pretty" || string(got.Body) != query ||
		got.Header.Get("X-Druid-Test") != "kept" || got.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("the upstream got %s %s?%s %q with %v", got.Method, got.Path, got.RawQuery, got.Body, got.Header)
	}

	// Smile: arbitrary bytes after the Smile header, larger than any buffer on the way, unchanged both ways.
	smile := append([]byte(":)\n\x01"), make([]byte, 300<<10)...)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 4; i < len(smile); i++ {
		smile[i] = byte(rng.Uint32())
	}
	req, _ = http.NewRequest(http.MethodPost, r.url+QueryPath, bytes.NewReader(smile))
	req.Header.Set("Content-Type", smileType)
	req.Header.Set("Accept", smileType)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(q.last().Body, smile) {
		t.Errorf("the Smile query reached the upstream as %d different bytes", len(q.last().Body))
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != smileType || !bytes.Equal(answer, smile) {
		t.Errorf("the Smile answer: %d %s, %d bytes (equal %v)", resp.StatusCode, resp.Header.Get("Content-Type"), len(answer), bytes.Equal(answer, smile))
	}

	// DELETE /druid/v2/{queryId}: Druid's cancellation, forwarded.
	req, _ = http.NewRequest(http.MethodDelete, r.url+QueryPath+"q-1", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := q.last(); resp.StatusCode != http.StatusAccepted || got.Method != "DELETE" || got.Path != QueryPath+"q-1" {
		t.Errorf("DELETE: %d, the upstream got %s %s", resp.StatusCode, got.Method, got.Path)
	}

	// A client that goes away cancels the upstream's request.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, r.url+QueryPath, strings.NewReader(`{"queryType":"slow"}`))
	req.Header.Set("Content-Type", "application/json")
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-q.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow query did not reach the upstream")
	}
	cancel()
	select {
	case <-q.canceled:
	case <-time.After(5 * time.Second):
		t.Error("the upstream request was not canceled within 5 s of the client's cancellation")
	}
	<-errc

	if v, _ := metricValue(t, r.url, "druid_sidecar_upstream_up"); v != "1" {
		t.Errorf("druid_sidecar_upstream_up = %q with the upstream running", v)
	}

	// The upstream gone: 503 with Druid's error JSON naming it, Smile for a Smile client; the gauge follows.
	up.Close()
	for _, accept := range []string{"application/json", smileType} {
		req, _ = http.NewRequest(http.MethodPost, r.url+QueryPath, strings.NewReader(query))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != accept {
			t.Errorf("query to a stopped upstream (Accept %s): %d %s %q", accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if accept == smileType {
			if !bytes.HasPrefix(body, []byte(":)\n")) || !bytes.Contains(body, []byte(up.URL)) {
				t.Errorf("the Smile error body %q", body)
			}
			continue
		}
		var e map[string]string
		if err := json.Unmarshal(body, &e); err != nil || e["error"] == "" || e["errorClass"] == "" ||
			!strings.Contains(e["errorMessage"], up.URL) || e["host"] != cfg.Node.HostAndPortToUse() {
			t.Errorf("the error body %s (%v)", body, err)
		}
	}
	if v, _ := metricValue(t, r.url, "druid_sidecar_upstream_proxy_errors_total"); v != "2" {
		t.Errorf("druid_sidecar_upstream_proxy_errors_total = %q, want 2", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for v, _ := metricValue(t, r.url, "druid_sidecar_upstream_up"); v != "0"; v, _ = metricValue(t, r.url, "druid_sidecar_upstream_up") {
		if time.Now().After(deadline) {
			t.Fatalf("druid_sidecar_upstream_up = %q 5 s after the upstream stopped", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoUpstreamAndInternalAuth runs an agent without a local segment server and with druid.sidecar.internalAuth:
// queries get 503 saying so, /druid-internal/* needs the escalator's credentials, health and readiness do not.
func TestNoUpstreamAndInternalAuth(t *testing.T) {
	z := testenv.ZooKeeper(t)
	const user, pass = "druid_system", "s3cret pass:word"
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.internalAuth=true", "druid.escalator.type=basic",
		"druid.escalator.internalClientUsername="+user, "druid.escalator.internalClientPassword="+pass)
	r := startAgent(t, cfg, nil)

	do := func(method, path, u, p string, body io.Reader) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, r.url+path, body)
		if u != "" || p != "" {
			req.SetBasicAuth(u, p)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	code, _, body := do("POST", QueryPath, "", "", strings.NewReader(`{"queryType":"timeBoundary","dataSource":"x"}`))
	var e map[string]string
	if err := json.Unmarshal([]byte(body), &e); code != http.StatusServiceUnavailable || err != nil ||
		!strings.Contains(e["errorMessage"], "cluster state only") || e["host"] != cfg.Node.HostAndPortToUse() {
		t.Errorf("a query without an upstream: %d %s", code, body)
	}

	inv := "/druid-internal/v1/segments?counter=-1&timeout=1000"
	for _, tc := range []struct {
		method, path, user, pass string
		want                     int
	}{
		{"GET", inv, "", "", 401},
		{"GET", inv, user, "wrong", 401},
		{"GET", inv, "other", pass, 401},
		{"GET", inv, user, pass + "x", 401},
		{"GET", inv, user, pass, 200},
		{"GET", "/druid-internal/v1/segments/loadCapabilities", "", "", 401},
		{"GET", "/druid-internal/v1/segments/loadCapabilities", user, pass, 200},
		{"POST", "/druid-internal/v1/segments/changeRequests?timeout=1000", "", "", 401},
		{"GET", "/druid-internal/v1/unknown", "", "", 401},
		{"GET", "/druid-internal/v1/unknown", user, pass, 404},
		{"GET", HealthPath, "", "", 200},
		{"GET", ReadinessPath, "", "", 200},
	} {
		code, h, body := do(tc.method, tc.path, tc.user, tc.pass, strings.NewReader("[]"))
		if code != tc.want {
			t.Errorf("%s %s as %q/%q: %d %q, want %d", tc.method, tc.path, tc.user, tc.pass, code, body, tc.want)
		}
		if code == 401 && h.Get("WWW-Authenticate") != `Basic realm="druid"` {
			t.Errorf("%s %s: 401 with WWW-Authenticate %q", tc.method, tc.path, h.Get("WWW-Authenticate"))
		}
	}
	if _, ok := metricValue(t, r.url, "druid_sidecar_upstream_up"); ok {
		t.Error("druid_sidecar_upstream_up is exported without an upstream")
	}
}

// BenchmarkQueryProxy measures a query answered by an upstream directly (the baseline) and through the agent's
// proxy, for a small answer and a 1 MiB one.
func BenchmarkQueryProxy(b *testing.B) {
	z := testenv.ZooKeeper(b)
	answers := map[string][]byte{"small": []byte(`[{"timestamp":"2025-01-01T00:00:00.000Z","result":{}}]`), "1MiB": bytes.Repeat([]byte("x"), 1<<20)}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(answers[r.URL.Query().Get("size")])
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go up.Serve(ln)
	defer up.Close()
	upURL := "http://" + ln.Addr().String()
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := pln.Addr().(*net.TCPAddr).Port
	pln.Close()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.host=127.0.0.1", "druid.bindOnHost=true",
		"druid.plaintextPort=" + strconv.Itoa(port), "druid.zk.service.host=" + z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, b.TempDir()), "druid.sidecar.upstream=" + upURL}})
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-a.Ready():
	case err := <-done:
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	query := []byte(`{"queryType":"timeBoundary","dataSource":"wikipedia"}`)
	for _, size := range []string{"small", "1MiB"} {
		for via, base := range map[string]string{"direct": upURL, "proxy": "http://" + cfg.Node.HostAndPort()} {
			b.Run(size+"/"+via, func(b *testing.B) {
				b.SetBytes(int64(len(answers[size])))
				for b.Loop() {
					resp, err := client.Post(base+QueryPath+"?size="+size, "application/json", bytes.NewReader(query))
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
	}
}
