package loadqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// testClient bounds every request of a test, so that a response that never comes fails the test instead of hanging
// it.
var testClient = &http.Client{Timeout: 30 * time.Second}

func post(t *testing.T, url, query, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	return postReader(t, url, query, strings.NewReader(body), hdr...)
}

// postReader is post with a body of any reader: of unannounced length (sent chunked) unless it tells its length as
// a *strings.Reader or *bytes.Reader does.
func postReader(t *testing.T, url, query string, body io.Reader, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+ChangeRequestsPath+query, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func reqJSON(t testing.TB, reqs ...segments.ChangeRequest) string {
	b, err := segments.AppendChangeRequests(nil, reqs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func load(s *segments.DataSegment) segments.ChangeRequest {
	return segments.ChangeRequest{Action: segments.ActionLoad, Segment: s}
}

func drop(s *segments.DataSegment) segments.ChangeRequest {
	return segments.ChangeRequest{Action: segments.ActionDrop, Segment: s}
}

func TestLoadBatchSuccessOnlyAfterInventory(t *testing.T) {
	r := newRig(t, rigOpts{threads: 2})
	r.ann.delay = 150 * time.Millisecond // SUCCESS must wait for the announcement
	p := r.peon(2)
	var segs []*segments.DataSegment
	for i := range 5 {
		s := r.s3Segment("wiki", i, 4096+i)
		segs = append(segs, s)
		p.Load(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Play the peon by hand to check the inventory at the moment each SUCCESS arrives.
	for p.Queued() > 0 {
		if _, err := p.Send(ctx); err != nil {
			t.Fatal(err)
		}
		for _, s := range segs {
			if st, ok := p.Result(segments.ActionLoad, s.ID()); ok {
				if st.State != "SUCCESS" || st.LoadingMode == nil || *st.LoadingMode != "NORMAL" {
					t.Fatalf("%s: %+v %s", s.ID(), st, cause(st))
				}
				if !r.ann.has(s.ID()) {
					t.Fatalf("%s reported SUCCESS before the inventory showed it", s.ID())
				}
			}
		}
	}
	for _, s := range segs {
		if !r.cached(s.ID()) {
			t.Errorf("%s is not in the cache", s.ID())
		}
	}
	if n := r.puller.pulls.Load(); n != 5 {
		t.Errorf("%d pulls, want 5", n)
	}
	m := r.eng.metrics
	if n := testutil.ToFloat64(m.loadOK); n != 5 {
		t.Errorf("druid_sidecar_segment_loads_total{result=\"success\"} = %v, want 5", n)
	}
	if n := testutil.ToFloat64(m.pulledBytes); n <= 0 {
		t.Errorf("druid_sidecar_segment_pulled_bytes_total = %v, want the pulled bytes", n)
	}
	if n := testutil.ToFloat64(m.queued); n != 0 {
		t.Errorf("druid_sidecar_load_queue_depth = %v, want 0", n)
	}
	metricstest.NoSegmentLabels(t, r.reg, segs)
}

func TestSuccessHandedOutOnce(t *testing.T) {
	r := newRig(t, rigOpts{})
	s := r.s3Segment("once", 0, 1000)
	body := reqJSON(t, load(s))
	var got string
	for range 20 {
		code, b, _ := post(t, r.srv.URL, "?timeout=5000", body)
		if code == 200 && strings.Contains(b, `"SUCCESS"`) {
			got = b
			break
		}
	}
	want := `[{"request":` + body[1:len(body)-1] + `,"status":{"state":"SUCCESS","failureCause":null,"loadingMode":"NORMAL"}}]`
	if got != want {
		t.Fatalf("response\n%s\nwant\n%s", got, want)
	}
	r.eng.http.mu.Lock()
	n := len(r.eng.http.entries)
	r.eng.http.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d status entries left after SUCCESS was handed out", n)
	}
	// A resend starts afresh: already loaded, so SUCCESS without a new pull.
	code, b, _ := post(t, r.srv.URL, "?timeout=5000", body)
	if code != 200 || !strings.Contains(b, `"SUCCESS"`) || r.puller.pulls.Load() != 1 {
		t.Fatalf("resend: %d %s, pulls %d", code, b, r.puller.pulls.Load())
	}
}

func TestFailedRetriedOnResend(t *testing.T) {
	r := newRig(t, rigOpts{})
	data, size := indexZip(t, 2000)
	key := "druid/segments/late/index.zip"
	s := segment(t, "late", 0, `{"type":"s3_zip","bucket":"`+r.bucket.Bucket+`","key":"`+key+`"}`, size)
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	st := result(t, p, segments.ActionLoad, s)
	if st.State != "FAILED" || !strings.Contains(cause(st), "does not exist") || r.cached(s.ID()) || r.ann.has(s.ID()) {
		t.Fatalf("first load: %+v %q", st, cause(st))
	}
	r.bucket.Put(t, key, data)
	p.Load(s)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s); st.State != "SUCCESS" || !r.ann.has(s.ID()) {
		t.Fatalf("resend: %+v %q", st, cause(st))
	}
}

func TestLoadDropLoadWithinDropDelay(t *testing.T) {
	r := newRig(t, rigOpts{})
	s := r.s3Segment("ldl", 0, 3000)
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	code, b, _ := post(t, r.srv.URL, "?timeout=5000", reqJSON(t, drop(s)))
	if code != 200 || !strings.HasSuffix(b, `"status":{"state":"SUCCESS","failureCause":null,"loadingMode":null}}]`) {
		t.Fatalf("drop: %d %s", code, b)
	}
	if r.ann.has(s.ID()) || r.cached(s.ID()) {
		t.Fatal("dropped segment still announced or listed")
	}
	// A second drop is SUCCESS too (Java says FAILED "Unknown reason").
	if code, b, _ := post(t, r.srv.URL, "?timeout=5000", reqJSON(t, drop(s))); code != 200 || !strings.Contains(b, `"SUCCESS"`) {
		t.Fatalf("second drop: %d %s", code, b)
	}
	p.Load(s)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s); st.State != "SUCCESS" || !r.ann.has(s.ID()) || !r.cached(s.ID()) {
		t.Fatalf("reload: %+v", st)
	}
	if n := r.puller.pulls.Load(); n != 1 {
		t.Fatalf("%d pulls: the reload within the drop delay pulled again", n)
	}
}

func TestTombstone(t *testing.T) {
	// No deep storage at all: a tombstone must not need it.
	r := newRig(t, rigOpts{noStorage: true})
	s := tombstone(t, "tomb", 3)
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s); st.State != "SUCCESS" || !r.ann.has(s.ID()) {
		t.Fatalf("tombstone: %+v %s", st, cause(st))
	}
	if !r.cached(s.ID()) {
		t.Fatal("tombstone not in the cache")
	}
}

func TestUnsupportedLoadSpec(t *testing.T) {
	r := newRig(t, rigOpts{})
	s := segment(t, "hdfs", 0, `{"type":"hdfs","path":"hdfs://nn/x/index.zip"}`, 100)
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	st := result(t, p, segments.ActionLoad, s)
	if st.State != "FAILED" || !strings.Contains(cause(st), "s3_zip, local, tombstone") || !strings.Contains(cause(st), "hdfs") {
		t.Fatalf("%+v %q", st, cause(st))
	}
	if r.cached(s.ID()) || r.ann.has(s.ID()) {
		t.Fatal("failed load left state behind")
	}
}

func TestCorruptZip(t *testing.T) {
	r := newRig(t, rigOpts{})
	data, size := indexZip(t, 5000)
	data = data[:len(data)/2] // truncated: no central directory
	key := "druid/segments/corrupt/index.zip"
	r.bucket.Put(t, key, data)
	s := segment(t, "corrupt", 0, `{"type":"s3_zip","bucket":"`+r.bucket.Bucket+`","key":"`+key+`"}`, size)
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	st := result(t, p, segments.ActionLoad, s)
	if st.State != "FAILED" {
		t.Fatalf("%+v", st)
	}
	t.Logf("failureCause: %s", cause(st))
	if r.cached(s.ID()) || r.ann.has(s.ID()) {
		t.Fatal("corrupt segment cached or announced")
	}
	assertNoSegmentFiles(t, r.dir)
}

// assertNoSegmentFiles checks that a cache location holds no segment files (only empty directories, info_dir).
func assertNoSegmentFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in the cache: %s", path)
		}
		return nil
	})
}

func TestS3DownThenUp(t *testing.T) {
	b0 := newRig(t, rigOpts{}).bucket // for the endpoint only
	proxy, err := faultproxy.New(b0.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	r := newRig(t, rigOpts{endpoint: proxy.URL()})
	s := r.s3Segment("flaky", 0, 4000)
	proxy.Add(faultproxy.Rule{Method: http.MethodGet, Fault: faultproxy.Fault{Status: 503}})
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	st := result(t, p, segments.ActionLoad, s)
	if st.State != "FAILED" || !strings.Contains(cause(st), "503") && !strings.Contains(strings.ToLower(cause(st)), "slow") {
		t.Fatalf("%+v %q", st, cause(st))
	}
	t.Logf("failureCause while S3 is down: %s", cause(st))
	if r.cached(s.ID()) {
		t.Fatal("failed load cached")
	}
	proxy.Reset()
	p.Load(s)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s); st.State != "SUCCESS" || !r.ann.has(s.ID()) {
		t.Fatalf("after S3 is back: %+v %q", st, cause(st))
	}
}

func TestTimeoutIs204WithoutBody(t *testing.T) {
	r := newRig(t, rigOpts{delay: 2 * time.Second})
	s := tombstone(t, "slow", 0)
	want204At(t, r, 200*time.Millisecond, reqJSON(t, load(s)))
	// The resend is PENDING until the load ends, then SUCCESS.
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s); st.State != "SUCCESS" {
		t.Fatalf("%+v", st)
	}
	if n := r.puller.pulls.Load(); n != 1 {
		t.Fatalf("%d pulls", n)
	}
}

// want204At posts body with the given timeout and checks that the answer is 204 without a body, given at the timeout.
func want204At(t *testing.T, r *rig, timeout time.Duration, body string) {
	t.Helper()
	start := time.Now()
	code, b, _ := post(t, r.srv.URL, fmt.Sprintf("?timeout=%d", timeout.Milliseconds()), body)
	if code != 204 || b != "" {
		t.Fatalf("%d %q, want 204 without a body", code, b)
	}
	if d := time.Since(start); d < timeout || d > timeout+1300*time.Millisecond {
		t.Fatalf("held %v, want the %v timeout", d, timeout)
	}
}

func TestBadRequests(t *testing.T) {
	r := newRig(t, rigOpts{})
	good := reqJSON(t, load(tombstone(t, "x", 0)))
	cases := []struct {
		name, query, body, ctype string
		code                     int
		want                     string
	}{
		{"no timeout", "", good, "", 400, "timeout query parameter is missing"},
		{"zero timeout", "?timeout=0", good, "", 400, "must be positive"},
		{"negative timeout", "?timeout=-5", good, "", 400, "must be positive"},
		{"bad timeout", "?timeout=abc", good, "", 400, "not a whole number"},
		{"bad mode", "?timeout=100&loadingMode=FAST", good, "", 400, "NORMAL or TURBO"},
		{"not a list", "?timeout=100", `{"action":"load"}`, "", 400, "JSON array"},
		{"empty list", "?timeout=100", `[]`, "", 400, "empty"},
		{"null", "?timeout=100", `null`, "", 400, "null"},
		{"garbage", "?timeout=100", `[{"action":`, "", 400, "change request"},
		{"unknown action", "?timeout=100", `[{"action":"mount","dataSource":"x"}]`, "", 400, "unknown"},
		{"noop", "?timeout=100", `[{"action":"noop"}]`, "", 400, "noop"},
		{"schema", "?timeout=100", `[{"action":"schema","segmentSchemas":{}}]`, "", 400, "schema"},
		{"no interval", "?timeout=100", `[{"action":"load","dataSource":"x","version":"v","loadSpec":{"type":"tombstone"}}]`, "", 400, "interval"},
		{"malformed smile body", "?timeout=100", ":)\n", "application/x-jackson-smile", 400, "malformed Smile"},
		{"xml body", "?timeout=100", "<x/>", "application/xml", 415, "JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := []string{}
			if c.ctype != "" {
				hdr = append(hdr, "Content-Type", c.ctype)
			}
			code, b, _ := post(t, r.srv.URL, c.query, c.body, hdr...)
			if code != c.code || !strings.Contains(b, c.want) {
				t.Fatalf("%d %q, want %d containing %q", code, b, c.code, c.want)
			}
			t.Logf("%d %s", code, strings.TrimSpace(b))
		})
	}
	// A batch with one bad request starts nothing.
	bad := `[` + good[1:len(good)-1] + `,{"action":"noop"}]`
	if code, _, _ := post(t, r.srv.URL, "?timeout=100", bad); code != 400 {
		t.Fatalf("mixed batch: %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	if n := r.puller.pulls.Load(); n != 0 {
		t.Fatalf("a rejected batch started %d loads", n)
	}
	resp, err := http.Get(r.srv.URL + ChangeRequestsPath + "?timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("GET changeRequests: %d", resp.StatusCode)
	}
}

func TestLoadCapabilities(t *testing.T) {
	r := newRig(t, rigOpts{threads: 3})
	resp, err := http.Get(r.srv.URL + LoadCapabilitiesPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != `{"numLoadingThreads":3,"numTurboLoadingThreads":6}` {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func TestConcurrentDuplicatesCoalesce(t *testing.T) {
	r := newRig(t, rigOpts{delay: 300 * time.Millisecond})
	s := r.s3Segment("dup", 0, 8000)
	body := reqJSON(t, load(s), load(s), load(s))
	var wg sync.WaitGroup
	var mu sync.Mutex
	successes := 0
	for range 8 {
		wg.Go(func() {
			p := r.peon(3)
			p.Enqueue(load(s), load(s))
			drain(t, p)
			mu.Lock()
			if st, _ := p.Result(segments.ActionLoad, s.ID()); st.State == "SUCCESS" {
				successes++
			}
			mu.Unlock()
		})
	}
	wg.Go(func() {
		code, b, _ := post(t, r.srv.URL, "?timeout=5000", body)
		if code == 200 && strings.Count(b, `"request"`) != 1 {
			t.Errorf("duplicates in one batch did not collapse: %s", b)
		}
	})
	wg.Wait()
	if successes != 8 {
		t.Fatalf("%d of 8 peons saw SUCCESS", successes)
	}
	if n := r.puller.pulls.Load(); n != 1 {
		t.Fatalf("%d pulls for one segment", n)
	}
}

func TestHookAndAnnounceFailuresRollBack(t *testing.T) {
	var hookErr error
	var mu sync.Mutex
	r := newRig(t, rigOpts{hook: func(ctx context.Context, a segments.Action, seg *segments.DataSegment, dir string) error {
		mu.Lock()
		defer mu.Unlock()
		if a == segments.ActionLoad {
			return hookErr
		}
		return nil
	}})
	s := r.s3Segment("hook", 0, 1000)
	mu.Lock()
	hookErr = errors.New("mmap failed: out of memory")
	mu.Unlock()
	p := r.peon(1)
	p.Load(s)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s); st.State != "FAILED" || !strings.Contains(cause(st), "mmap failed") {
		t.Fatalf("%+v %q", st, cause(st))
	}
	if r.cached(s.ID()) || r.ann.has(s.ID()) {
		t.Fatal("hook failure left the segment cached or announced")
	}
	mu.Lock()
	hookErr = nil
	mu.Unlock()
	annErr := errors.New("ZooKeeper is unreachable")
	r.ann.fail.Store(&annErr)
	s2 := r.s3Segment("hook", 1, 1000)
	p.Load(s2)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s2); st.State != "FAILED" || !strings.Contains(cause(st), "ZooKeeper is unreachable") {
		t.Fatalf("%+v %q", st, cause(st))
	}
	if r.cached(s2.ID()) || r.ann.has(s2.ID()) {
		t.Fatal("announce failure left the segment cached or announced")
	}
	r.ann.fail.Store(nil)
	p.Load(s2)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, s2); st.State != "SUCCESS" {
		t.Fatalf("%+v", st)
	}
}

func TestSmileResponseAndTurbo(t *testing.T) {
	r := newRig(t, rigOpts{})
	s := tombstone(t, "smile", 0)
	var b string
	var hdr http.Header
	for range 20 {
		var code int
		code, b, hdr = post(t, r.srv.URL, "?timeout=5000&loadingMode=TURBO", reqJSON(t, load(s)), "Accept", druidpeer.SmileType)
		if code == 200 {
			break
		}
	}
	if hdr.Get("Content-Type") != druidpeer.SmileType {
		t.Fatalf("content type %q", hdr.Get("Content-Type"))
	}
	js, err := jackson.SmileToJSON([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(js), `"status":{"state":"SUCCESS","failureCause":null,"loadingMode":"TURBO"}}]`) {
		t.Fatalf("%s", js)
	}
}

func TestStopRefusesAndFinishes(t *testing.T) {
	r := newRig(t, rigOpts{delay: 300 * time.Millisecond})
	s := tombstone(t, "stop", 0)
	ch, err := r.eng.Submit(load(s), segments.NormalLoading)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st := <-ch; st.State != segments.ChangeSuccess {
		t.Fatalf("in-flight load: %+v", st)
	}
	if _, err := r.eng.Submit(load(s), segments.NormalLoading); !errors.Is(err, ErrStopped) {
		t.Fatalf("Submit after Stop: %v", err)
	}
	code, b, _ := post(t, r.srv.URL, "?timeout=100", reqJSON(t, load(s)))
	if code != 503 {
		t.Fatalf("%d %s", code, b)
	}
	// loadCapabilities stays 200.
	resp, err := http.Get(r.srv.URL + LoadCapabilitiesPath)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
}

func TestStopDeadlineCancelsAndRollsBack(t *testing.T) {
	r := newRig(t, rigOpts{delay: 10 * time.Second})
	s := r.s3Segment("stopdl", 0, 1000)
	ch, err := r.eng.Submit(load(s), segments.NormalLoading)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := r.eng.Stop(ctx); err == nil {
		t.Fatal("Stop past its deadline reported no error")
	}
	st := <-ch
	if st.State != segments.ChangeFailed || !strings.Contains(st.FailureCause, "shutting down") {
		t.Fatalf("%+v", st)
	}
	if r.cached(s.ID()) || r.ann.has(s.ID()) {
		t.Fatal("canceled load left state")
	}
}

// A drop arriving while a load of the segment is in progress lets the load end and answer SUCCESS (a FAILED load
// is an alert on the Coordinator), then undoes it: not announced, the files gone after the drop delay. A load still
// waiting for a thread when its drop arrives answers SUCCESS without pulling.
func TestDropDuringLoadEndsTheLoadFirst(t *testing.T) {
	block := make(chan struct{})
	const delay = 500 * time.Millisecond
	r := newRig(t, rigOpts{threads: 1, block: block,
		sets: []string{fmt.Sprintf("druid.segmentCache.dropSegmentDelayMillis=%d", delay.Milliseconds())}})
	s, queued := r.s3Segment("dl", 0, 1000), r.s3Segment("dl", 1, 1000)
	want204At(t, r, 100*time.Millisecond, reqJSON(t, load(s), load(queued)))
	waitUntil(t, 10*time.Second, "the first load pulling", func() bool { return r.puller.pulls.Load() == 1 })

	// The load waiting for the only thread is overtaken by its drop.
	code, b, _ := post(t, r.srv.URL, "?timeout=5000", reqJSON(t, drop(queued)))
	if code != 200 || !strings.Contains(b, `"status":{"state":"SUCCESS"`) {
		t.Fatalf("drop of the queued load: %d %s", code, b)
	}
	code, b, _ = post(t, r.srv.URL, "?timeout=5000", reqJSON(t, load(queued)))
	if code != 200 || !strings.Contains(b, `"status":{"state":"SUCCESS","failureCause":null,"loadingMode":"NORMAL"}`) {
		t.Fatalf("resend of the overtaken load: %d %s", code, b)
	}

	// The drop of the load in progress waits for it.
	type answer struct {
		code int
		body string
	}
	dropped := make(chan answer, 1)
	go func() {
		resp, err := testClient.Post(r.srv.URL+ChangeRequestsPath+"?timeout=20000", "application/json", strings.NewReader(reqJSON(t, drop(s))))
		if err != nil {
			dropped <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		dropped <- answer{resp.StatusCode, string(b)}
	}()
	waitUntil(t, 10*time.Second, "the drop waiting for the load", func() bool { return r.pending(segments.ActionDrop, s) })
	released := time.Now() // the drop, and its delay, start after this
	close(block)
	a := <-dropped
	if a.code != 200 || !strings.Contains(a.body, `"status":{"state":"SUCCESS","failureCause":null,"loadingMode":null}`) {
		t.Fatalf("drop: %d %s", a.code, a.body)
	}
	code, b, _ = post(t, r.srv.URL, "?timeout=5000", reqJSON(t, load(s)))
	if code != 200 || !strings.Contains(b, `"status":{"state":"SUCCESS","failureCause":null,"loadingMode":"NORMAL"}`) {
		t.Fatalf("resend of the load the drop waited for: %d %s", code, b)
	}
	if r.ann.has(s.ID()) || r.cached(s.ID()) || r.ann.has(queued.ID()) || r.cached(queued.ID()) {
		t.Fatal("a dropped segment is still announced or listed")
	}
	waitUntil(t, 10*time.Second, "the dropped files deleted", func() bool { return segmentFiles(t, r.dir) == 0 })
	if d := time.Since(released); d < delay {
		t.Errorf("the files went %v after the drop, before the %v drop delay", d, delay)
	}
	m := r.eng.metrics
	if ok, bad := testutil.ToFloat64(m.loadOK), testutil.ToFloat64(m.loadFail); ok != 1 || bad != 0 {
		t.Errorf("loads: %v succeeded, %v failed; want the one that ran, succeeded", ok, bad)
	}
	if n := r.puller.pulls.Load(); n != 1 {
		t.Errorf("%d pulls, want 1: the overtaken load pulled", n)
	}
}

// segmentFiles counts the segment files in a cache location (info_dir aside).
func segmentFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "info_dir" {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// A drop held by a stuck upstream hook does not hold the answer past the request's timeout: with nothing done the
// Coordinator gets 204, with something else done 200 and the drop PENDING, and it resends.
func TestTimeoutAnsweredWithDropBehindStuckHook(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, rigOpts{hook: func(ctx context.Context, a segments.Action, seg *segments.DataSegment, dir string) error {
		if a == segments.ActionDrop {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}})
	var once sync.Once
	unstick := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unstick) // before the rig's Stop, which waits for the drop
	s, other := tombstone(t, "stuck", 0), tombstone(t, "stuck", 1)
	p := r.peon(2)
	p.Load(s)
	p.Load(other)
	drain(t, p)

	want204At(t, r, 300*time.Millisecond, reqJSON(t, drop(s)))
	// Something else done: 200 at the timeout, the drop PENDING.
	start := time.Now()
	code, b, _ := post(t, r.srv.URL, "?timeout=300", reqJSON(t, drop(s), load(other)))
	if code != 200 || time.Since(start) > 3*time.Second ||
		!strings.Contains(b, `"action":"drop"`) || !strings.Contains(b, `{"state":"PENDING","failureCause":null,"loadingMode":null}`) ||
		!strings.Contains(b, `{"state":"SUCCESS","failureCause":null,"loadingMode":"NORMAL"}`) {
		t.Fatalf("after %v: %d %s", time.Since(start), code, b)
	}
	unstick()
	code, b, _ = post(t, r.srv.URL, "?timeout=5000", reqJSON(t, drop(s)))
	if code != 200 || !strings.Contains(b, `"state":"SUCCESS"`) || r.ann.has(s.ID()) {
		t.Fatalf("once the hook returns: %d %s", code, b)
	}
}

// A batch of 100,000 loads waits in the queues: the goroutines are the pools' threads whatever the batch holds, and
// the memory is the queue's.
func TestHugeBatchQueuesOnThePools(t *testing.T) {
	block := make(chan struct{})
	// Limits that take the whole batch (about 40 MB on the wire).
	r := newRig(t, rigOpts{threads: 2, block: block, maxRequest: 64 << 20, maxInflight: 256 << 20})
	const n = 100_000
	spec := `{"type":"s3_zip","bucket":"` + r.bucket.Bucket + `","key":"druid/segments/absent/index.zip"}`
	var body []byte
	for i := range n {
		req := load(segment(t, "huge", i, spec, 1000))
		body = append(body, ',')
		var err error
		if body, err = req.AppendJSON(body); err != nil {
			t.Fatal(err)
		}
	}
	body[0] = '['
	body = append(body, ']')

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	answered := make(chan error, 1)
	// Decoding and queueing 100,000 loads takes tens of seconds under the race detector on a loaded 2-core
	// machine: the client waits as long as the test's own bound, not testClient's 30 s.
	client := &http.Client{Timeout: 3 * time.Minute}
	go func() {
		resp, err := client.Post(r.srv.URL+ChangeRequestsPath+"?timeout=2000", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 204 {
				err = fmt.Errorf("status %d, want 204: every load is still waiting", resp.StatusCode)
			}
		}
		answered <- err
	}()
	waitUntil(t, 3*time.Minute, "the whole batch queued", func() bool {
		select {
		case err := <-answered:
			t.Fatalf("answered before the batch was queued: %v", err)
		default:
		}
		return testutil.ToFloat64(r.eng.metrics.queued) == n
	})
	waitUntil(t, 10*time.Second, "both loading threads pulling", func() bool { return r.puller.pulls.Load() == 2 })
	extra := runtime.NumGoroutine() - goroutines
	var during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&during)
	perLoad := (int64(during.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d loads queued: %d goroutines more than before the batch, %d heap bytes per queued load (the batch's requests and status entries included)",
		n, extra, perLoad)
	if extra > 50 {
		t.Errorf("%d goroutines more during the batch, want the 2 loading threads and the request's own", extra)
	}
	if w := testutil.ToFloat64(r.eng.metrics.waiting); w != n-2 {
		t.Errorf("druid_sidecar_load_queue_waiting = %v, want %d", w, n-2)
	}
	last := segment(t, "huge", n-1, spec, 1000).ID().String()
	if !r.eng.Busy(last) || r.eng.Busy("huge_not_queued") {
		t.Errorf("Busy: %v for the last load queued, %v for a segment not queued", r.eng.Busy(last), r.eng.Busy("huge_not_queued"))
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	// The shutdown's deadline cancels the pulls and fails the queue at once.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.eng.Stop(ctx); err == nil {
		t.Error("Stop with loads running past its deadline reported no error")
	}
	if q := testutil.ToFloat64(r.eng.metrics.queued); q != 0 || r.eng.Busy(last) {
		t.Errorf("after Stop: druid_sidecar_load_queue_depth = %v, Busy %v; want 0 and false", q, r.eng.Busy(last))
	}
}

// TestLoadSuccessDoesNotWaitForZooKeeper: with an announcer that queues znodes (the ZooKeeper one), a load answers
// SUCCESS once the inventory lists the segment, as Java's announcer writes its batch znodes in the background,
// although ZooKeeper has not confirmed (here, never answers).
func TestLoadSuccessDoesNotWaitForZooKeeper(t *testing.T) {
	r := newRig(t, rigOpts{zkStalled: true})
	p := r.peon(2)
	s := r.s3Segment("wiki", 0, 4096)
	p.Load(s)
	drain(t, p)
	if st, _ := p.Result(segments.ActionLoad, s.ID()); st.State != "SUCCESS" {
		t.Fatalf("load: %+v %s", st, cause(st))
	}
	if !r.ann.has(s.ID()) {
		t.Fatal("SUCCESS before the inventory listed the segment")
	}
}
