package inventory_test

// Tests of the HTTP segment inventory with internal/druidpeer playing the Broker/Coordinator side of the
// long-poll (Druid's ChangeRequestHttpSyncer).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// invSegment returns segment n of a family of distinct, realistic segments.
func invSegment(n int) *segments.DataSegment {
	bv := 9
	start := int64(1735689600000) + int64(n/3)*3600000
	iv := segments.Interval{Start: segments.UnixMilli(start), End: segments.UnixMilli(start + 3600000)}
	return &segments.DataSegment{
		DataSource: "wikipedia",
		Interval:   iv,
		Version:    "2025-06-01T00:00:00.000Z",
		LoadSpec: json.RawMessage(fmt.Sprintf(`{"type":"s3_zip","bucket":"druid-deep","key":"druid/segments/wikipedia/%s/2025-06-01T00:00:00.000Z/%d/index.zip","S3Schema":"s3n"}`,
			strings.ReplaceAll(iv.String(), "/", "_"), n%3)),
		Dimensions:    []string{"channel", "cityName", "comment", "countryIsoCode", "countryName", "isAnonymous", "isMinor", "isNew", "isRobot", "isUnpatrolled", "namespace", "page", "regionIsoCode", "regionName", "user"},
		Metrics:       []string{"count", "sum_added", "sum_deleted", "sum_delta"},
		ShardSpec:     segments.NumberedShardSpec(n%3, 3),
		BinaryVersion: &bv,
		Size:          int64(4_000_000 + n),
	}
}

func invSegments(from, n int) []*segments.DataSegment {
	out := make([]*segments.DataSegment, n)
	for i := range out {
		out[i] = invSegment(from + i)
	}
	return out
}

// invServer serves inv on a loopback test server.
func invServer(t testing.TB, inv *inventory.Inventory) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(inv)
	t.Cleanup(srv.Close)
	return srv
}

// invGet sends one raw inventory request.
func invGet(t testing.TB, srv *httptest.Server, query, accept string) (status int, contentType string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+inventory.Path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET ?%s: %v", query, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET ?%s: reading the body: %v", query, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// invExpectedJSON builds the JSON body Druid would write for a success with these requests.
func invExpectedJSON(t testing.TB, c inventory.Counter, reqs []segments.ChangeRequest) []byte {
	t.Helper()
	b := fmt.Appendf(nil, `{"resetCounter":false,"resetCause":null,"counter":{"counter":%d,"hash":%d},"requests":`, c.Counter, c.Hash)
	b, err := segments.AppendChangeRequests(b, reqs)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '}')
}

func invIDs(segs map[segments.SegmentID]*segments.DataSegment) []string {
	out := make([]string, 0, len(segs))
	for id := range segs {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return out
}

func invSnapshotIDs(s inventory.Snapshot) []string {
	out := make([]string, 0, len(s.IDs))
	for _, id := range s.IDs {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return out
}

func invCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestInventorySnapshotAndDelta(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	segs := invSegments(0, 3)
	if err := inv.Announce(segs); err != nil {
		t.Fatal(err)
	}
	peer := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: 5 * time.Second})
	if u := peer.RequestURL(); !strings.HasSuffix(u, "/druid-internal/v1/segments?counter=-1&timeout=5000") {
		t.Fatalf("first request URL %s", u)
	}
	resp, err := peer.Poll(invCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Kind != druidpeer.FullSync || resp.ContentType != inventory.SmileType || !bytes.HasPrefix(resp.Body, []byte(":)\n\x01")) {
		t.Fatalf("first poll: %v, Content-Type %q, body starts % x", resp.Kind, resp.ContentType, resp.Body[:min(8, len(resp.Body))])
	}
	snap := inv.Snapshot()
	if resp.Counter.Counter != 3 || resp.Counter.Hash != snap.Counter.Hash || snap.Counter.Counter != 3 {
		t.Fatalf("full sync counter %+v, inventory counter %v", *resp.Counter, snap.Counter)
	}
	var want []segments.ChangeRequest
	for _, s := range segs {
		want = append(want, segments.ChangeRequest{Action: segments.ActionLoad, Segment: s})
	}
	if exp := invExpectedJSON(t, snap.Counter, want); !bytes.Equal(resp.JSON, exp) {
		t.Fatalf("full sync, Smile decoded to JSON:\n got %s\nwant %s", resp.JSON, exp)
	}
	// The same snapshot in JSON is byte for byte what Jackson writes.
	status, ct, body := invGet(t, srv, "counter=-1&timeout=1000", "application/json")
	if status != 200 || ct != "application/json" || !bytes.Equal(body, resp.JSON) {
		t.Fatalf("JSON snapshot: %d %q\n%s", status, ct, body)
	}
	// Accept must match exactly; anything else is JSON.
	for _, accept := range []string{"", "application/x-jackson-smile, application/json", "application/x-jackson-smile;q=1", "*/*"} {
		if _, ct, body := invGet(t, srv, "counter=-1&timeout=1000", accept); ct != "application/json" || !bytes.Equal(body, resp.JSON) {
			t.Errorf("Accept %q: Content-Type %q", accept, ct)
		}
	}

	// A delta: one load, one drop.
	added := invSegment(10)
	if err := inv.Announce([]*segments.DataSegment{added}); err != nil {
		t.Fatal(err)
	}
	if err := inv.Unannounce([]*segments.DataSegment{segs[1]}); err != nil {
		t.Fatal(err)
	}
	resp, err = peer.Poll(invCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Kind != druidpeer.Delta || len(resp.Requests) != 2 || resp.Counter.Counter != 5 {
		t.Fatalf("delta poll: %v with %d requests, counter %+v", resp.Kind, len(resp.Requests), resp.Counter)
	}
	want = []segments.ChangeRequest{{Action: segments.ActionLoad, Segment: added}, {Action: segments.ActionDrop, Segment: segs[1]}}
	if exp := invExpectedJSON(t, inv.Snapshot().Counter, want); !bytes.Equal(resp.JSON, exp) {
		t.Fatalf("delta:\n got %s\nwant %s", resp.JSON, exp)
	}
	if got, want := invIDs(peer.Segments()), invSnapshotIDs(inv.Snapshot()); !slices.Equal(got, want) {
		t.Fatalf("replica %v, server %v", got, want)
	}
}

func TestInventoryIdempotentAndDropCarriesGivenSegment(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	segs := invSegments(0, 4)
	if err := inv.Announce(append(segs, segs[0])); err != nil { // a duplicate within the call
		t.Fatal(err)
	}
	c := inv.Snapshot().Counter
	if c.Counter != 4 {
		t.Fatalf("counter after 4 distinct announcements: %v", c)
	}
	// Re-announcing (even a different copy of the same id) and unannouncing an absent segment record nothing.
	copy0 := *segs[0]
	copy0.Size++
	if err := inv.Announce([]*segments.DataSegment{&copy0, segs[2]}); err != nil {
		t.Fatal(err)
	}
	if err := inv.Unannounce([]*segments.DataSegment{invSegment(99)}); err != nil {
		t.Fatal(err)
	}
	if err := inv.Announce(nil); err != nil {
		t.Fatal(err)
	}
	if got := inv.Snapshot().Counter; got != c || inv.Len() != 4 {
		t.Fatalf("counter %v after no-op calls, want %v; %d segments", got, c, inv.Len())
	}
	// The drop entry carries the segment as given to Unannounce (untransformed), keyed by id only.
	full := *segs[3]
	full.Dimensions = append(full.Dimensions, "extra")
	if err := inv.Unannounce([]*segments.DataSegment{&full}); err != nil {
		t.Fatal(err)
	}
	status, _, body := invGet(t, srv, fmt.Sprintf("counter=%d&hash=%d&timeout=1000", c.Counter, c.Hash), "")
	exp := invExpectedJSON(t, inv.Snapshot().Counter, []segments.ChangeRequest{{Action: segments.ActionDrop, Segment: &full}})
	if status != 200 || !bytes.Equal(body, exp) {
		t.Fatalf("drop delta: %d\n got %s\nwant %s", status, body, exp)
	}
	// An unserializable segment changes nothing.
	bad := invSegment(50)
	bad.LoadSpec = json.RawMessage(`[1]`)
	if err := inv.Announce([]*segments.DataSegment{invSegment(51), bad}); err == nil || !strings.Contains(err.Error(), "loadSpec") {
		t.Fatalf("announcing a segment with an array loadSpec: %v", err)
	}
	if inv.Len() != 3 {
		t.Fatalf("%d segments after a failed Announce, want 3", inv.Len())
	}
}

func TestInventoryResets(t *testing.T) {
	inv := inventory.NewWithZeroHash(1234)
	srv := invServer(t, inv)
	peer := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: 5 * time.Second})
	if r, err := peer.Poll(invCtx(t)); err != nil || r.Kind != druidpeer.FullSync || r.Counter.Counter != 0 || r.Counter.Hash != 1234 || len(r.Requests) != 0 {
		t.Fatalf("full sync of an empty inventory: %+v, %v", r, err)
	}
	for i := 0; i < 1001; i++ { // one announcement at a time: 1001 history entries
		if err := inv.Announce(invSegments(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	last := inv.Snapshot().Counter
	resetOf := func(query string) string {
		t.Helper()
		for _, accept := range []string{"application/json", inventory.SmileType} {
			status, ct, body := invGet(t, srv, query, accept)
			if accept == inventory.SmileType {
				if ct != accept {
					t.Fatalf("?%s: Content-Type %q for a Smile request", query, ct)
				}
				var err error
				if body, err = jackson.SmileToJSON(body); err != nil {
					t.Fatalf("?%s: %v", query, err)
				}
			}
			var env struct {
				ResetCounter bool
				ResetCause   *string
				Counter      *json.RawMessage
				Requests     *json.RawMessage
			}
			if err := json.Unmarshal(body, &env); err != nil || status != 200 {
				t.Fatalf("?%s: %d %s (%v)", query, status, body, err)
			}
			if !env.ResetCounter || env.ResetCause == nil || env.Counter != nil || env.Requests != nil ||
				!strings.HasPrefix(string(body), `{"resetCounter":true,"resetCause":"`) || !strings.HasSuffix(string(body), `","counter":null,"requests":null}`) {
				t.Fatalf("?%s: not a reset: %s", query, body)
			}
			if accept == inventory.SmileType {
				return *env.ResetCause
			}
		}
		return ""
	}
	q := func(c, h int64) string { return fmt.Sprintf("counter=%d&hash=%d&timeout=1000", c, h) }
	for _, tc := range []struct{ name, query, want string }{
		{"too old (zero counter after 1001 changes)", q(0, 1234), "not enough history is kept"},
		{"too old (1000 behind)", q(last.Counter-1000, 1), "not enough history is kept"},
		{"wrong hash on the last counter", q(last.Counter, last.Hash+1), "failed to match"},
		{"wrong hash on an older counter", q(last.Counter-5, 77), "failed to match"},
		{"future counter", q(last.Counter+1, last.Hash), "> last counter"},
	} {
		if cause := resetOf(tc.query); !strings.Contains(cause, tc.want) {
			t.Errorf("%s: reset cause %q, want it to contain %q", tc.name, cause, tc.want)
		}
	}
	// The peer, 1001 changes behind, is reset and then fully synced.
	r, err := peer.Poll(invCtx(t))
	if err != nil || r.Kind != druidpeer.Reset || !strings.Contains(r.ResetCause, "not enough history") {
		t.Fatalf("poll 1001 changes behind: %v %q %v", r.Kind, r.ResetCause, err)
	}
	if _, ok := peer.Counter(); ok {
		t.Fatal("the peer kept its counter after a reset")
	}
	if r, err = peer.Poll(invCtx(t)); err != nil || r.Kind != druidpeer.FullSync || len(r.Requests) != 1001 || *r.Counter != (inventory.Counter{Counter: last.Counter, Hash: last.Hash}) {
		t.Fatalf("poll after the reset: %v, %d requests, %v", r.Kind, len(r.Requests), err)
	}
	// 999 behind is still served.
	c := inv.Snapshot().Counter
	if err := inv.Announce(invSegments(5000, 999)); err != nil {
		t.Fatal(err)
	}
	if r, err = peer.Poll(invCtx(t)); err != nil || r.Kind != druidpeer.Delta || len(r.Requests) != 999 || r.Counter.Counter != c.Counter+999 {
		t.Fatalf("poll 999 behind: %v, %d requests, %v", r.Kind, len(r.Requests), err)
	}
	// A restarted server (another zero hash) resets a client that holds counter 0 of the old one.
	inv2 := inventory.NewWithZeroHash(99)
	srv2 := invServer(t, inv2)
	if status, _, body := invGet(t, srv2, q(0, 1234), ""); status != 200 || !strings.Contains(string(body), `"resetCounter":true`) {
		t.Fatalf("old zero counter on a restarted server: %d %s", status, body)
	}
}

func TestInventoryParkThenDelta(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	peer := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: 20 * time.Second})
	if _, err := peer.Poll(invCtx(t)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   *druidpeer.Response
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		r, err := peer.Poll(invCtx(t))
		done <- result{r, err, time.Now()}
	}()
	invWaitParked(t, inv, 1)
	select {
	case r := <-done:
		t.Fatalf("the poll returned before any change: %v", r.r.Kind)
	case <-time.After(50 * time.Millisecond):
	}
	seg := invSegment(7)
	announced := time.Now()
	if err := inv.Announce([]*segments.DataSegment{seg}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.r.Kind != druidpeer.Delta || len(r.r.Requests) != 1 || r.r.Requests[0].Segment.ID() != seg.ID() {
		t.Fatalf("parked poll: %+v %v", r.r, r.err)
	}
	t.Logf("a parked poll returned %v after the announcement", r.at.Sub(announced))
	if inv.Parked() != 0 {
		t.Fatalf("%d polls still parked", inv.Parked())
	}
}

func invWaitParked(t testing.TB, inv *inventory.Inventory, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for inv.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d polls parked, want %d", inv.Parked(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInventoryManyParkedPollsWakeTogether(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	if err := inv.Announce(invSegments(0, 2)); err != nil {
		t.Fatal(err)
	}
	c := inv.Snapshot().Counter
	const n = 300
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	bodies := make([][]byte, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+inventory.Path+fmt.Sprintf("?counter=%d&hash=%d&timeout=20000", c.Counter, c.Hash), nil)
			req.Header.Set("Accept", inventory.SmileType)
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			bodies[i], errs[i] = b, err
		}()
	}
	invWaitParked(t, inv, n)
	// Polls on an older counter are answered at once and never park.
	if status, _, _ := invGet(t, srv, "counter=0&hash="+strconv.FormatInt(inventory.ProcessStart, 10)+"&timeout=20000", ""); status != 200 {
		t.Fatalf("poll on counter 0: %d", status)
	}
	if err := inv.Unannounce(invSegments(0, 1)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range bodies {
		if errs[i] != nil {
			t.Fatalf("poll %d: %v", i, errs[i])
		}
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("poll %d got another body", i)
		}
	}
	got, err := jackson.SmileToJSON(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	want := invExpectedJSON(t, inv.Snapshot().Counter, []segments.ChangeRequest{{Action: segments.ActionDrop, Segment: invSegment(0)}})
	if !bytes.Equal(got, want) {
		t.Fatalf("woken polls got\n%s\nwant\n%s", got, want)
	}
	if inv.Parked() != 0 {
		t.Fatalf("%d polls still parked", inv.Parked())
	}
}

func TestInventoryTimeoutNoContent(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	c := inv.Snapshot().Counter
	started := time.Now()
	status, ct, body := invGet(t, srv, fmt.Sprintf("counter=%d&hash=%d&timeout=60", c.Counter, c.Hash), inventory.SmileType)
	if status != http.StatusNoContent || len(body) != 0 || ct != "" {
		t.Fatalf("timed-out poll: %d %q %q", status, ct, body)
	}
	if d := time.Since(started); d < 60*time.Millisecond || d > 5*time.Second {
		t.Fatalf("timed-out poll took %v for timeout=60", d)
	}
	peer := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: 50 * time.Millisecond})
	if _, err := peer.Poll(invCtx(t)); err != nil {
		t.Fatal(err)
	}
	r, err := peer.Poll(invCtx(t))
	if err != nil || r.Kind != druidpeer.NoContent {
		t.Fatalf("peer poll without change: %v %v", r.Kind, err)
	}
	if got, ok := peer.Counter(); !ok || got.Counter != c.Counter || got.Hash != c.Hash {
		t.Fatalf("counter after 204: %v %v", got, ok)
	}
}

func TestInventoryBadRequests(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	for _, tc := range []struct{ query, want string }{
		{"counter=-1", "timeout must be positive."},
		{"counter=-1&timeout=0", "timeout must be positive."},
		{"counter=-1&timeout=-5", "timeout must be positive."},
		{"counter=-1&timeout=abc", `timeout="abc"`},
		{"counter=x&timeout=100", `counter="x"`},
		{"counter=0&hash=1.5&timeout=100", `hash="1.5"`},
	} {
		status, _, body := invGet(t, srv, tc.query, inventory.SmileType)
		if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
			t.Errorf("?%s: %d %q, want 400 containing %q", tc.query, status, body, tc.want)
		}
	}
	resp, err := srv.Client().Post(srv.URL+inventory.Path+"?counter=-1&timeout=100", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// Missing counter and hash default to 0: the empty history's counter needs the process start hash.
	if status, _, body := invGet(t, srv, "timeout=100", ""); status != 200 || !strings.Contains(string(body), `"resetCounter":true`) {
		t.Fatalf("no counter: %d %s", status, body)
	}
}

func TestInventoryShutdown(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	if err := inv.Announce(invSegments(0, 2)); err != nil {
		t.Fatal(err)
	}
	peer := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: 20 * time.Second, BaseBackoff: time.Millisecond})
	if _, err := peer.Poll(invCtx(t)); err != nil {
		t.Fatal(err)
	}
	done := make(chan *druidpeer.Response, 1)
	go func() {
		r, _ := peer.Poll(invCtx(t))
		done <- r
	}()
	invWaitParked(t, inv, 1)
	inv.Stop()
	r := <-done
	if r.Kind != druidpeer.Failure || r.Status != 500 || !strings.Contains(string(r.Body), "Server is shutting down.") {
		t.Fatalf("parked poll at Stop: %v %d %q", r.Kind, r.Status, r.Body)
	}
	if st := peer.Stats(); st.ConsecutiveFailures != 1 {
		t.Fatalf("peer stats %+v", st)
	}
	c := inv.Snapshot().Counter
	for _, q := range []string{"counter=-1&timeout=100", fmt.Sprintf("counter=%d&hash=%d&timeout=100", c.Counter, c.Hash), "counter=0&hash=0&timeout=100"} {
		if status, _, body := invGet(t, srv, q, inventory.SmileType); status != 500 || !strings.Contains(string(body), "Server is shutting down.") {
			t.Errorf("?%s after Stop: %d %q", q, status, body)
		}
	}
	inv.Stop() // idempotent
	if inv.Parked() != 0 {
		t.Fatalf("%d polls parked after Stop", inv.Parked())
	}
}

func TestInventoryClientGoneLeavesNothingParked(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	c := inv.Snapshot().Counter
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+inventory.Path+fmt.Sprintf("?counter=%d&hash=%d&timeout=60000", c.Counter, c.Hash), nil)
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	invWaitParked(t, inv, 20)
	cancel()
	wg.Wait()
	invWaitParked(t, inv, 0)
}

// TestInventoryReplicaFollowsRandomChanges runs a peer (Run, with Druid's client loop) while the announcer makes
// random changes, some in bursts of more than HistorySize so that the peer is reset, and checks that the replica
// always ends equal to the server's set.
func TestInventoryReplicaFollowsRandomChanges(t *testing.T) {
	inv := inventory.New()
	srv := invServer(t, inv)
	for _, json := range []bool{false, true} {
		peer := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: 2 * time.Second, BaseBackoff: time.Millisecond, JSON: json})
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- peer.Run(ctx) }()

		rng := rand.New(rand.NewPCG(1, uint64(len(strconv.FormatBool(json)))))
		const universe = 3000
		check := func(round int) {
			t.Helper()
			snap := inv.Snapshot()
			want := invSnapshotIDs(snap)
			wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer wcancel()
			err := peer.WaitFor(wctx, func(segs map[segments.SegmentID]*segments.DataSegment, c *inventory.Counter) bool {
				return c != nil && c.Counter >= snap.Counter.Counter && len(segs) == len(want)
			})
			if err != nil {
				t.Fatalf("round %d (json %v): %v; peer stats %+v", round, json, err, peer.Stats())
			}
			if got := invIDs(peer.Segments()); !slices.Equal(got, want) {
				t.Fatalf("round %d (json %v): replica has %d segments, server %d", round, json, len(got), len(want))
			}
		}
		for round := 0; round < 27; round++ {
			switch round % 13 {
			case 7: // more changes in one call than the history holds: the peer must be reset
				if err := inv.Announce(invSegments(10000+round*2000, 1100)); err != nil {
					t.Fatal(err)
				}
			case 8:
				if err := inv.Unannounce(invSegments(10000+(round-1)*2000, 1100)); err != nil {
					t.Fatal(err)
				}
			}
			n := 1 + rng.IntN(20)
			for i := 0; i < n; i++ {
				k := 1 + rng.IntN(8)
				batch := make([]*segments.DataSegment, k)
				for j := range batch {
					batch[j] = invSegment(rng.IntN(universe))
				}
				var err error
				if rng.IntN(2) == 0 {
					err = inv.Announce(batch)
				} else {
					err = inv.Unannounce(batch)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if round%5 == 4 {
				check(round)
			}
		}
		check(27)
		cancel()
		<-runDone
		st := peer.Stats()
		t.Logf("json=%v: %d segments, counter %v; peer %+v", json, inv.Len(), inv.Snapshot().Counter, st)
		if st.Failures != 0 || st.Deltas == 0 || st.FullSyncs < 2 || st.Resets == 0 {
			t.Errorf("peer stats %+v: want deltas, resets followed by full syncs, and no failure", st)
		}
	}
}
