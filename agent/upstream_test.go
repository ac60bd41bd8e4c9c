package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// hookCall is one hook call a testUpstream received, with what it saw at that moment.
type hookCall struct {
	Action    string
	ID        segments.SegmentID
	Segment   []byte // the "segment" member exactly as received
	Directory string
	HasDir    bool     // the body had a "directory" member
	Files     []string // the directory's entries when the call arrived
	Announced bool     // the agent's segment inventory held the segment when the call arrived
}

// testUpstream is a local segment server on 127.0.0.1:0 that records the hook calls, can refuse some, and hands
// /druid/v2/* to a handler of the test. When agentURL is set, each hook call first reads the agent's inventory,
// which is how the tests see the order of hook calls and announcements.
type testUpstream struct {
	t        *testing.T
	URL      string
	srv      *http.Server
	agentURL atomic.Pointer[string]
	query    http.Handler

	mu     sync.Mutex
	calls  []hookCall
	refuse map[string]func() (int, string) // by "load <id>" or "drop <id>": the status and body to answer
}

func newTestUpstream(t *testing.T, query http.Handler) *testUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &testUpstream{t: t, URL: "http://" + ln.Addr().String(), query: query, refuse: map[string]func() (int, string){}}
	u.srv = &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}
	go u.srv.Serve(ln)
	t.Cleanup(u.Close)
	return u
}

// Close stops the upstream: from then on nothing answers at its URL.
func (u *testUpstream) Close() { u.srv.Close() }

func (u *testUpstream) setAgent(url string) { u.agentURL.Store(&url) }

func (u *testUpstream) refuseWith(action segments.Action, id segments.SegmentID, code int, body string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.refuse[string(action)+" "+id.String()] = func() (int, string) { return code, body }
}

func (u *testUpstream) hookCalls() []hookCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.calls)
}

// callsFor returns the calls of one segment, in order.
func (u *testUpstream) callsFor(id segments.SegmentID) []hookCall {
	var out []hookCall
	for _, c := range u.hookCalls() {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

func (u *testUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == UpstreamHealthPath:
		w.Write([]byte("true"))
	case r.URL.Path == UpstreamLoadPath || r.URL.Path == UpstreamDropPath:
		u.hook(w, r)
	case strings.HasPrefix(r.URL.Path, "/druid/v2") && u.query != nil:
		u.query.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (u *testUpstream) hook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "hooks are POSTed JSON", http.StatusBadRequest)
		return
	}
	var body map[string]json.RawMessage
	data, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(data, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var seg segments.DataSegment
	if err := seg.UnmarshalJSON(body["segment"]); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := hookCall{Action: strings.TrimPrefix(r.URL.Path, "/druid-sidecar/v1/segments/"), ID: seg.ID(), Segment: body["segment"]}
	if raw, ok := body["directory"]; ok {
		c.HasDir = true
		json.Unmarshal(raw, &c.Directory)
		if des, err := os.ReadDir(c.Directory); err == nil {
			for _, de := range des {
				c.Files = append(c.Files, de.Name())
			}
		}
	}
	if url := u.agentURL.Load(); url != nil {
		syncer := druidpeer.New(druidpeer.Config{URL: *url, JSON: true, ServerTimeout: time.Second})
		if _, err := syncer.Poll(r.Context()); err != nil {
			u.t.Errorf("reading the agent's inventory during the %s hook of %s: %v", c.Action, c.ID, err)
		}
		c.Announced = syncer.Segments()[c.ID] != nil
	}
	u.mu.Lock()
	u.calls = append(u.calls, c)
	answer := u.refuse[c.Action+" "+c.ID.String()]
	u.mu.Unlock()
	if answer != nil {
		code, msg := answer()
		w.WriteHeader(code)
		io.WriteString(w, msg)
	}
}

// upstreamConfig is an agent's configuration with S3 deep storage, a cache in cacheDir and the upstream upURL.
func upstreamConfig(t *testing.T, z testenv.ZK, b testenv.S3Bucket, cacheDir, upURL string, more ...string) *configs.Config {
	t.Helper()
	sets := []string{
		"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort=" + strconv.Itoa(freePort(t)),
		"druid.zk.service.host=" + z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, cacheDir),
		"druid.segmentCache.dropSegmentDelayMillis=0",
		"druid.s3.endpoint.url=" + b.Endpoint, "druid.s3.enablePathStyleAccess=true",
		"druid.s3.accessKey=" + b.AccessKey, "druid.s3.secretKey=" + b.SecretKey,
		"druid.s3.endpoint.signingRegion=" + b.Region,
		"druid.sidecar.upstream=" + upURL,
	}
	return loadConfig(t, append(sets, more...)...)
}

func syncedInventory(t *testing.T, ctx context.Context, url string) map[segments.SegmentID]*segments.DataSegment {
	t.Helper()
	s := druidpeer.New(druidpeer.Config{URL: url, ServerTimeout: time.Second})
	if resp, err := s.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync {
		t.Fatalf("full sync of the inventory of %s: %v, %+v", url, err, resp)
	}
	return s.Segments()
}

func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still exists 5 s after the segment left the cache (%v)", path, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUpstreamHook runs the agent against S3 and ZooKeeper with a local segment server: loads reach the server
// with the segment and its directory before the inventory shows them, a refusal fails the load with the server's
// message and leaves nothing behind, drops reach it after the inventory lost them, and a restart hands it every
// cached segment before announcing them.
func TestUpstreamHook(t *testing.T) {
	z := testenv.ZooKeeper(t)
	b := testenv.S3(t)
	cacheDir := t.TempDir()
	segs := putDailySegments(t, b, 3)
	start := segments.UnixMilli(1735689600000 + 5*86400000)
	tomb := segments.NewTombstone("wikipedia", segments.Interval{Start: start, End: start + 86400000}, "2025-10-01T12:00:00.000Z")
	segs = append(segs, &tomb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	up := newTestUpstream(t, nil)
	long := "disk full on /data:\n" + strings.Repeat("x", 1000) // bounded in the cause, on one line
	up.refuseWith(segments.ActionLoad, segs[1].ID(), http.StatusInternalServerError, long)
	cfg := upstreamConfig(t, z, b, cacheDir, up.URL)
	r := startAgent(t, cfg, nil)
	up.setAgent(r.url)

	peon := &druidpeer.LoadPeon{URL: r.url, BatchSize: 4, HostTimeout: 10 * time.Second, RepeatDelay: 100 * time.Millisecond}
	for _, s := range segs {
		peon.Load(s)
	}
	if err := peon.Drain(ctx); err != nil {
		t.Fatalf("the load queue did not drain: %v (%+v)", err, peon.Stats())
	}
	for i, s := range segs {
		st, ok := peon.Result(segments.ActionLoad, s.ID())
		if i == 1 {
			cause := ""
			if st.FailureCause != nil {
				cause = *st.FailureCause
			}
			if !ok || st.State != "FAILED" || !strings.Contains(cause, "500 Internal Server Error: disk full on /data: xxx") ||
				!strings.Contains(cause, up.URL+UpstreamLoadPath) || strings.Contains(cause, strings.Repeat("x", maxUpstreamMessage)) {
				t.Errorf("refused load of %s: %+v %q", s.ID(), st, cause)
			}
			continue
		}
		if !ok || st.State != "SUCCESS" {
			t.Errorf("load %s: %+v (found %v)", s.ID(), st, ok)
		}
		calls := up.callsFor(s.ID())
		if len(calls) != 1 || calls[0].Action != "load" {
			t.Fatalf("hook calls of %s: %+v, want one load", s.ID(), calls)
		}
		c := calls[0]
		if c.Announced {
			t.Errorf("the load hook of %s came after the inventory had the segment", s.ID())
		}
		want, _ := s.AppendJSON(nil)
		if string(c.Segment) != string(want) {
			t.Errorf("the load hook's segment\n%s\nis not the DataSegment JSON\n%s", c.Segment, want)
		}
		if wantDir := filepath.Join(cacheDir, s.ID().String()); c.Directory != wantDir || !filepath.IsAbs(c.Directory) {
			t.Errorf("load hook directory %q, want %q", c.Directory, wantDir)
		}
		wantFiles := []string{"00000.smoosh", "factory.json", "meta.smoosh", "version.bin"}
		if s.IsTombstone() {
			wantFiles = []string{"factory.json"} // a tombstone's directory: factory.json alone
		}
		if !slices.Equal(c.Files, wantFiles) {
			t.Errorf("the directory of %s held %v when the hook came, want %v", s.ID(), c.Files, wantFiles)
		}
	}
	// The refused segment: a load, then the rollback's drop; no info file, no directory, no announcement.
	calls := up.callsFor(segs[1].ID())
	if len(calls) != 2 || calls[0].Action != "load" || calls[1].Action != "drop" || calls[1].HasDir {
		t.Errorf("hook calls of the refused segment: %+v, want load then drop", calls)
	}
	waitGone(t, filepath.Join(cacheDir, "info_dir", segs[1].ID().String()))
	waitGone(t, filepath.Join(cacheDir, segs[1].ID().String()))
	inv := syncedInventory(t, ctx, r.url)
	if len(inv) != 3 || inv[segs[1].ID()] != nil {
		t.Errorf("inventory after the loads: %d segments (the refused one: %v), want the 3 others", len(inv), inv[segs[1].ID()] != nil)
	}

	// A drop: the hook comes once the inventory no longer has the segment.
	peon.Drop(segs[0])
	if err := peon.Drain(ctx); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if st, ok := peon.Result(segments.ActionDrop, segs[0].ID()); !ok || st.State != "SUCCESS" {
		t.Errorf("drop: %+v", st)
	}
	calls = up.callsFor(segs[0].ID())
	if len(calls) != 2 || calls[1].Action != "drop" || calls[1].HasDir || calls[1].Announced {
		t.Errorf("hook calls of the dropped segment: %+v, want a drop without directory after the unannouncement", calls)
	}
	if v, _ := metricValue(t, r.url, "druid_sidecar_upstream_up"); v != "1" {
		t.Errorf("druid_sidecar_upstream_up = %q, want 1", v)
	}
	for series, want := range map[string]string{
		`druid_sidecar_upstream_hook_duration_seconds_count{action="load"}`: "4",
		`druid_sidecar_upstream_hook_duration_seconds_count{action="drop"}`: "2",
		`druid_sidecar_upstream_hook_failures_total{action="load"}`:         "1",
		`druid_sidecar_upstream_hook_failures_total{action="drop"}`:         "0",
	} {
		if v, _ := metricValue(t, r.url, series); v != want {
			t.Errorf("%s = %q, want %s", series, v, want)
		}
	}
	metricstest.NoSegmentLabels(t, r.a.reg, segs)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}

	// A restart with an upstream that knows nothing: it gets a load for each cached segment (segs[2] and the
	// tombstone) before they are announced, and the one it refuses is removed instead of announced.
	up2 := newTestUpstream(t, nil)
	up2.refuseWith(segments.ActionLoad, segs[2].ID(), http.StatusUnprocessableEntity, `{"error":"x","errorMessage":"version.bin is unreadable"}`)
	cfg2 := upstreamConfig(t, z, b, cacheDir, up2.URL)
	up2.setAgent("http://" + cfg2.Node.HostAndPort())
	r2 := startAgent(t, cfg2, nil)
	for _, s := range []*segments.DataSegment{segs[2], &tomb} {
		calls := up2.callsFor(s.ID())
		if len(calls) == 0 || calls[0].Action != "load" || calls[0].Announced || calls[0].Directory != filepath.Join(cacheDir, s.ID().String()) {
			t.Errorf("after the restart, hook calls of cached segment %s: %+v, want a load before the announcement", s.ID(), calls)
		}
	}
	if n := len(up2.hookCalls()); n != 3 {
		t.Errorf("after the restart the upstream got %d hook calls, want 3 (2 loads, 1 drop of the refused one): %+v", n, up2.hookCalls())
	}
	inv = syncedInventory(t, ctx, r2.url)
	if len(inv) != 1 || inv[tomb.ID()] == nil {
		t.Errorf("inventory after the restart: %d segments, want the tombstone alone", len(inv))
	}
	waitGone(t, filepath.Join(cacheDir, "info_dir", segs[2].ID().String()))
	if err := r2.stop(t); err != nil {
		t.Fatalf("second Run after cancel: %v", err)
	}

	// A restart whose upstream never answers: startup fails within the hook timeout, naming the upstream, and the
	// cache keeps the tombstone.
	dead := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg3 := upstreamConfig(t, z, b, cacheDir, dead, "druid.sidecar.upstream.hookTimeout=PT1S")
	a3, err := New(cfg3, Options{Logger: testLogger(t), ShutdownTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = a3.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "hookTimeout") {
		t.Errorf("Run with a silent upstream and a cached segment: %v, want a failure naming %s", err, dead)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Run took %s to give up on a silent upstream with a 1 s hook timeout", d)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "info_dir", tomb.ID().String())); err != nil {
		t.Errorf("the cached tombstone is gone after a startup that could not reach the upstream: %v", err)
	}
}

// TestUpstreamHookCalls checks the hook's errors against a server on loopback, without the rest of the agent.
func TestUpstreamHookCalls(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/prefix" + UpstreamLoadPath:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"Unknown exception","errorMessage":"still   warming up\n  the index"}`)
		case "/prefix" + UpstreamDropPath:
			select { // never answers: the hook timeout or the caller ends it
			case <-r.Context().Done():
			case <-release:
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/prefix/"
	up, err := NewUpstream(base, UpstreamOptions{HookTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer up.close()
	ts := segments.NewTombstone("wiki", segments.Interval{Start: 0, End: 86400000}, "v1")
	seg := &ts
	ctx := context.Background()

	err = up.Hook(ctx, segments.ActionLoad, seg, t.TempDir())
	var he *HookError
	if !errors.As(err, &he) || he.StatusCode != 503 || he.Message != "still warming up the index" ||
		he.URL != strings.TrimSuffix(base, "/")+UpstreamLoadPath {
		t.Errorf("a 503 answer: %v (%+v)", err, he)
	}
	if err := up.Hook(ctx, segments.ActionDrop, seg, ""); err == nil || !strings.Contains(err.Error(), "hookTimeout") {
		t.Errorf("a drop the upstream never answers: %v, want the hook timeout", err)
	}
	cctx, ccancel := context.WithCancelCause(ctx)
	cause := errors.New("a drop of the segment arrived")
	time.AfterFunc(50*time.Millisecond, func() { ccancel(cause) })
	if err := up.Hook(cctx, segments.ActionDrop, seg, ""); !errors.Is(err, cause) {
		t.Errorf("a canceled hook: %v, want the cancellation's cause", err)
	}
	if err := up.Hook(ctx, segments.ActionLoad, seg, ""); err == nil {
		t.Error("a load hook without a directory was sent")
	}

	dead, err := NewUpstream("http://127.0.0.1:"+strconv.Itoa(freePort(t)), UpstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Hook(ctx, segments.ActionLoad, seg, "/somewhere"); err == nil || errors.As(err, &he) ||
		!strings.Contains(err.Error(), dead.URL()) || !strings.Contains(err.Error(), "could not be reached") {
		t.Errorf("a load hook to a closed port: %v", err)
	}
	if err := dead.Probe(ctx); err == nil || !strings.Contains(err.Error(), dead.URL()) {
		t.Errorf("a probe of a closed port: %v", err)
	}
	if _, err := NewUpstream("ftp://127.0.0.1:1", UpstreamOptions{}); err == nil {
		t.Error("NewUpstream took an ftp:// URL")
	}
}

func TestHookBodyAndMessage(t *testing.T) {
	ts := segments.NewTombstone("wiki \"quoted\"", segments.Interval{Start: 0, End: 86400000}, "v1")
	body, err := hookBody(&ts, segments.ActionLoad, "/cache/dir \"x\"")
	if err != nil {
		t.Fatal(err)
	}
	segJSON, _ := ts.AppendJSON(nil)
	if want := `{"segment":` + string(segJSON) + `,"directory":"/cache/dir \"x\""}`; string(body) != want {
		t.Errorf("load body\n%s\nwant\n%s", body, want)
	}
	if body, _ := hookBody(&ts, segments.ActionDrop, ""); string(body) != `{"segment":`+string(segJSON)+`}` {
		t.Errorf("drop body %s", body)
	}
	rel, _ := hookBody(&ts, segments.ActionLoad, "relative/dir")
	var parsed struct{ Directory string }
	if json.Unmarshal(rel, &parsed); !filepath.IsAbs(parsed.Directory) {
		t.Errorf("a relative directory was sent as %q", parsed.Directory)
	}

	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  plain\r\ntext\t here ", "plain text here"},
		{`{"error":"Unknown exception","errorMessage":"boom"}`, "boom"},
		{`{"error":"only the code"}`, "only the code"},
		{`{"other":1}`, `{"other":1}`},
		{"bad \xff utf8", "bad \uFFFD utf8"},
	} {
		if got := upstreamMessage([]byte(tc.in)); got != tc.want {
			t.Errorf("upstreamMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := upstreamMessage([]byte(strings.Repeat("é", 1000)))
	if len(long) > maxUpstreamMessage || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "éé") {
		t.Errorf("a long message became %d bytes: %q", len(long), long)
	}
}
