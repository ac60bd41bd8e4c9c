package companion

import (
	"context"
	"encoding/json"
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
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

const baseKey = "druid/segments"

// rig is a Java Historical's surroundings for the companion: segments in real S3 behind two fault proxies
// (one for the companion, one for the Historical, so that each side's GETs are counted apart), a Coordinator
// stand-in holding the Historical's load queue, the Historical stand-in on a cache directory, and an inventory
// server at the Historical's address.
type rig struct {
	t         *testing.T
	bucket    testenv.S3Bucket
	api       *druidpeer.CoordinatorAPI
	proxy     *faultproxy.Proxy // the companion's way to S3
	histProxy *faultproxy.Proxy // the Historical's
	cacheDir  string
	infoDir   string
	segs      []*segments.DataSegment
	server    string // the Historical's host:port
	inv       *inventory.Inventory
	hist      *druidpeer.JavaHistorical
	sets      []string
}

// newRig uploads n segments of about chunk bytes of column data each.
func newRig(t *testing.T, n, chunk int) *rig {
	t.Helper()
	r := &rig{t: t, bucket: testenv.S3(t), cacheDir: t.TempDir()}
	r.infoDir = filepath.Join(r.cacheDir, "info_dir")
	var err error
	if r.api, err = druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.api.Close() })
	for _, p := range []**faultproxy.Proxy{&r.proxy, &r.histProxy} {
		if *p, err = faultproxy.New(r.bucket.Endpoint); err != nil {
			t.Fatal(err)
		}
		px := *p
		t.Cleanup(func() { px.Close() })
	}
	for i := range n {
		data, size, err := sandbox.IndexZip(uint64(i+1), chunk)
		if err != nil {
			t.Fatal(err)
		}
		s := sandbox.Segment("wikipedia", i, 0, 1, r.bucket.Bucket, baseKey, size)
		r.bucket.Put(t, sandbox.Key(baseKey, s.ID()), data)
		r.segs = append(r.segs, s)
	}
	// The Historical's inventory: what the drift watch reads at druid.host:druid.plaintextPort.
	r.inv = inventory.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(inventory.Path, r.inv)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { r.inv.Stop(); srv.Close() })
	r.server = ln.Addr().String()
	_, port, _ := net.SplitHostPort(r.server)
	r.sets = []string{
		"druid.host=127.0.0.1", "druid.plaintextPort=" + port, "druid.bindOnHost=true",
		"druid.sidecar.companion.port=" + strconv.Itoa(freePort(t)),
		"druid.zk.service.enabled=false",
		"druid.sidecar.coordinator.url=" + r.api.URL(),
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"200m"}]`, r.cacheDir),
		"druid.s3.enablePathStyleAccess=true", "druid.s3.accessKey=" + r.bucket.AccessKey,
		"druid.s3.secretKey=" + r.bucket.SecretKey, "druid.s3.endpoint.signingRegion=" + r.bucket.Region,
		"druid.sidecar.prefetch.maxBytes=100m", "druid.sidecar.prefetch.maxSegments=20",
		"druid.sidecar.prefetch.threads=4", "druid.sidecar.prefetch.pollPeriod=PT0.05S",
		"druid.sidecar.prefetch.claimTimeout=PT15M", "druid.sidecar.drift.period=",
	}
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// config is the companion's configuration: the rig's, then sets; S3 through the companion's proxy.
func (r *rig) config(sets ...string) *configs.Config {
	r.t.Helper()
	all := append(slices.Clone(r.sets), "druid.s3.endpoint.url="+r.proxy.URL())
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: append(all, sets...)})
	if err != nil {
		r.t.Fatal(err)
	}
	return cfg
}

// historical starts the Historical stand-in on the rig's cache, pulling through its own proxy.
func (r *rig) historical() *druidpeer.JavaHistorical {
	r.t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{},
		Sets: append(slices.Clone(r.sets), "druid.s3.endpoint.url="+r.histProxy.URL())})
	if err != nil {
		r.t.Fatal(err)
	}
	h, err := druidpeer.NewJavaHistorical(cfg, druidpeer.HistoricalOptions{ScratchDir: r.t.TempDir()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.hist = h
	return h
}

// queue puts segs on the Historical's load queue, in this order.
func (r *rig) queue(segs ...*segments.DataSegment) { r.api.Load(r.server, segs...) }

// load has the Historical load seg as the Coordinator's request would, then takes it off the queue.
func (r *rig) load(ctx context.Context, seg *segments.DataSegment) druidpeer.HistoricalMount {
	r.t.Helper()
	m, err := r.hist.Load(ctx, seg)
	if err != nil {
		r.t.Fatalf("the Historical's load of %s: %v", seg.ID(), err)
	}
	if !m.Match() {
		r.t.Errorf("the Historical mounted %s with bytes other than deep storage's", seg.ID())
	}
	r.api.Remove(r.server, seg.ID())
	return m
}

type running struct {
	c    *Companion
	url  string
	done chan error
	stop context.CancelFunc
}

func (r *rig) start(cfg *configs.Config) *running {
	r.t.Helper()
	return r.startWith(cfg, testLogger(r.t), nil)
}

// startWith is start with a logger of the test's, and adjust to change the Companion between New and Run.
func (r *rig) startWith(cfg *configs.Config, log hclog.Logger, adjust func(c *Companion)) *running {
	r.t.Helper()
	c, err := New(cfg, Options{Logger: log, Version: "test", ShutdownTimeout: 10 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	if adjust != nil {
		adjust(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc := &running{c: c, done: make(chan error, 1), stop: cancel}
	go func() { rc.done <- c.Run(ctx) }()
	select {
	case <-c.Ready():
	case err := <-rc.done:
		cancel()
		r.t.Fatalf("the companion stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		r.t.Fatal("the companion was not ready within 10 s")
	}
	rc.url = "http://" + c.Addr().String()
	r.t.Cleanup(func() { rc.shutdown(r.t) })
	return rc
}

func (rc *running) shutdown(t *testing.T) {
	t.Helper()
	if rc.stop == nil {
		return
	}
	rc.stop()
	rc.stop = nil
	select {
	case err := <-rc.done:
		if err != nil {
			t.Errorf("the companion's Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("the companion did not stop within 15 s")
	}
}

func (rc *running) status(t *testing.T) snapshot {
	t.Helper()
	resp, err := http.Get(rc.url + lifecycle.StatusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (rc *running) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(rc.url + lifecycle.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitStatus polls /status until cond holds, for at most d.
func (rc *running) waitStatus(t *testing.T, d time.Duration, what string, cond func(s snapshot) bool) snapshot {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := rc.status(t)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(s, "", "  ")
			t.Fatalf("waited %s for %s; /status:\n%s", d, what, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gets lists, per segment, the GETs a proxy saw for its object, and the order in which the objects were first asked.
func gets(p *faultproxy.Proxy, segs []*segments.DataSegment) (count map[segments.SegmentID]int, order []segments.SegmentID) {
	count = map[segments.SegmentID]int{}
	for _, rec := range p.Requests() {
		if rec.Method != http.MethodGet {
			continue
		}
		for _, s := range segs {
			if strings.HasSuffix(rec.Path, sandbox.Key(baseKey, s.ID())) {
				if count[s.ID()] == 0 {
					order = append(order, s.ID())
				}
				count[s.ID()]++
			}
		}
	}
	return count, order
}

func segIDs(segs ...*segments.DataSegment) []segments.SegmentID {
	out := make([]segments.SegmentID, len(segs))
	for i, s := range segs {
		out[i] = s.ID()
	}
	return out
}

func (r *rig) dirExists(seg *segments.DataSegment) bool {
	_, err := os.Stat(filepath.Join(r.cacheDir, seg.ID().String()))
	return err == nil
}

// TestPrefetchesInQueueOrder: the companion pulls the Historical's queue in queue order (one thread, so the
// order is exact), and the Historical then mounts every copy as it is, downloading nothing; the claims are counted
// with their lead time. A segment the Historical loads without the companion shows what a download costs.
func TestPrefetchesInQueueOrder(t *testing.T) {
	r := newRig(t, 6, 64<<10)
	queued := []*segments.DataSegment{r.segs[3], r.segs[0], r.segs[4], r.segs[1], r.segs[2]}
	control := r.segs[5]
	// The stand-in checks each mount against deep storage's bytes, which it downloads once per object: done here,
	// with a load and a drop of each segment, so that the GETs counted below are downloads only.
	h := r.historical()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range queued {
		if _, err := h.Load(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := h.Drop(s); err != nil {
			t.Fatal(err)
		}
	}
	r.histProxy.Reset()

	r.queue(queued...)
	rc := r.start(r.config("druid.sidecar.prefetch.threads=1"))
	rc.waitStatus(t, 20*time.Second, "five copies placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 5 })
	if _, order := gets(r.proxy, r.segs); !slices.Equal(order, segIDs(queued...)) {
		t.Errorf("pulled in the order %v, want the queue's %v", order, segIDs(queued...))
	}
	for _, s := range queued {
		if !r.dirExists(s) {
			t.Errorf("%s is not in the cache", s.ID())
		}
		if _, err := os.Stat(filepath.Join(r.infoDir, s.ID().String())); err == nil {
			t.Errorf("the companion wrote info_dir/%s", s.ID())
		}
	}

	// The Historical loads them as the Coordinator sends them, two at a time.
	for i := 0; i < len(queued); i += 2 {
		var wg sync.WaitGroup
		for _, s := range queued[i:min(i+2, len(queued))] {
			wg.Go(func() {
				if m := r.load(ctx, s); !m.Reused {
					t.Errorf("the Historical downloaded %s itself", s.ID())
				}
			})
		}
		wg.Wait()
	}
	if m := r.load(ctx, control); m.Reused {
		t.Errorf("the control segment %s was found in the cache", control.ID())
	}
	// The Historical downloaded none of the prefetched segments; the control shows that its downloads are counted.
	count, _ := gets(r.histProxy, r.segs)
	for _, s := range queued {
		if count[s.ID()] != 0 {
			t.Errorf("the Historical made %d GETs of %s, want none", count[s.ID()], s.ID())
		}
	}
	if count[control.ID()] == 0 {
		t.Error("the Historical's download of the control segment was not counted")
	}
	if err := h.CheckOwnership(); err != nil {
		t.Error(err)
	}

	s := rc.waitStatus(t, 10*time.Second, "five claims", func(s snapshot) bool { return s.Prefetch.Totals.Claimed == 5 })
	if s.Prefetch.WindowSegments != 0 || s.Prefetch.Placed != 0 || !s.Coordinator.Up || s.Coordinator.URL != r.api.URL() {
		t.Errorf("/status after the claims: %+v", s)
	}
	m := rc.metrics(t)
	for _, want := range []string{"druid_sidecar_prefetch_placed_total 5", "druid_sidecar_prefetch_claimed_total 5",
		"druid_sidecar_prefetch_lead_time_seconds_count 5", "druid_sidecar_coordinator_up 1",
		`druid_sidecar_prefetch_discarded_total{reason="unclaimed"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLine(m, "druid_sidecar_"))
		}
	}
	metricstest.NoSegmentLabels(t, rc.c.reg, r.segs)
	rc.shutdown(t)
	if leftovers := stagingDirs(t, r.cacheDir); len(leftovers) > 0 {
		t.Errorf("staging left after shutdown: %v", leftovers)
	}
}

// stagingDirs lists what is in <cache>/.prefetch besides the ledger of placed copies.
func stagingDirs(t *testing.T, cacheDir string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(cacheDir, segcache.PrefetchDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != "placed" {
			out = append(out, de.Name())
		}
	}
	return out
}

func grepLine(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestSkipsWhatLeavesTheQueue: a pull in flight is canceled when its segment leaves the queue, and a
// segment that leaves before its turn is never fetched.
func TestSkipsWhatLeavesTheQueue(t *testing.T) {
	r := newRig(t, 3, 64<<10)
	a, b, c := r.segs[0], r.segs[1], r.segs[2]
	// a's object trickles in, so that its pull is still running when it leaves the queue.
	r.proxy.Add(faultproxy.Rule{Method: http.MethodGet, PathContains: sandbox.Key(baseKey, a.ID()),
		Fault: faultproxy.Fault{BodyRate: 2 << 10}})
	r.queue(a, b, c)
	rc := r.start(r.config("druid.sidecar.prefetch.threads=1"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if count, _ := gets(r.proxy, r.segs); count[a.ID()] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pull of the first segment did not start within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.api.Remove(r.server, a.ID(), b.ID())
	s := rc.waitStatus(t, 20*time.Second, "c placed and a canceled", func(s snapshot) bool {
		return s.Prefetch.Totals.Placed == 1 && s.Prefetch.Totals.Canceled == 1
	})
	count, _ := gets(r.proxy, r.segs)
	if count[b.ID()] != 0 {
		t.Errorf("the segment that left the queue before its turn was fetched (%d GETs)", count[b.ID()])
	}
	if r.dirExists(a) || r.dirExists(b) || !r.dirExists(c) {
		t.Errorf("in the cache: a %v, b %v, c %v; want only c", r.dirExists(a), r.dirExists(b), r.dirExists(c))
	}
	if s.Prefetch.Pulling != 0 {
		t.Errorf("/status: %d pulls still running", s.Prefetch.Pulling)
	}
	if leftovers := stagingDirs(t, r.cacheDir); len(leftovers) > 0 {
		t.Errorf("staging left by the canceled pull: %v", leftovers)
	}
	if m := rc.metrics(t); !strings.Contains(m, "druid_sidecar_prefetch_canceled_total 1") {
		t.Errorf("/metrics:\n%s", grepLine(m, "druid_sidecar_prefetch"))
	}
}

// TestRespectsTheWindow: placed copies the Historical has not claimed count against the window, in
// segments and in bytes; a claim makes room for the next segment in queue order.
func TestRespectsTheWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets func(size int64) []string
	}{
		{"segments", func(int64) []string { return []string{"druid.sidecar.prefetch.maxSegments=2"} }},
		{"bytes", func(size int64) []string {
			return []string{"druid.sidecar.prefetch.maxBytes=" + strconv.FormatInt(2*size+size/2, 10)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 5, 64<<10)
			size := slices.MaxFunc(r.segs, func(a, b *segments.DataSegment) int { return int(a.Size - b.Size) }).Size
			r.queue(r.segs...)
			rc := r.start(r.config(tc.sets(size)...))
			rc.waitStatus(t, 20*time.Second, "two copies placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 2 })
			time.Sleep(300 * time.Millisecond) // six polls: nothing more may come
			s := rc.status(t)
			if s.Prefetch.Totals.Placed != 2 || s.Prefetch.WindowSegments != 2 || s.Prefetch.Queue != 5 {
				t.Fatalf("with a full window: %+v", s.Prefetch)
			}
			count, order := gets(r.proxy, r.segs)
			if len(count) != 2 || count[r.segs[0].ID()] == 0 || count[r.segs[1].ID()] == 0 {
				t.Fatalf("objects fetched: %v, want the first two of the queue", order)
			}
			// The Historical loads the head of the queue: the claim frees a slot for the third.
			r.historical()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if m := r.load(ctx, r.segs[0]); !m.Reused {
				t.Errorf("the Historical downloaded %s itself", r.segs[0].ID())
			}
			rc.waitStatus(t, 20*time.Second, "a claim and a third copy", func(s snapshot) bool {
				return s.Prefetch.Totals.Claimed == 1 && s.Prefetch.Totals.Placed == 3
			})
			if !r.dirExists(r.segs[2]) || r.dirExists(r.segs[3]) {
				t.Errorf("the third copy is not the queue's third segment")
			}
		})
	}
}

// TestDiscardsUnclaimedCopies: a placed copy whose segment left the queue without the Historical loading
// it is removed once the claim timeout has passed since it left; one still queued stays however old.
func TestDiscardsUnclaimedCopies(t *testing.T) {
	r := newRig(t, 3, 64<<10)
	r.queue(r.segs...)
	rc := r.start(r.config("druid.sidecar.prefetch.claimTimeout=PT0.5S"))
	rc.waitStatus(t, 20*time.Second, "three copies placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 3 })
	left := time.Now()
	r.api.Remove(r.server, r.segs[0].ID(), r.segs[1].ID())
	time.Sleep(250 * time.Millisecond)
	if !r.dirExists(r.segs[0]) || !r.dirExists(r.segs[1]) {
		t.Fatal("a copy was removed before the claim timeout")
	}
	s := rc.waitStatus(t, 10*time.Second, "two unclaimed copies discarded", func(s snapshot) bool {
		return s.Prefetch.Totals.Unclaimed == 2
	})
	if since := time.Since(left); since < 500*time.Millisecond {
		t.Errorf("discarded %s after leaving the queue, before the 500 ms claim timeout", since)
	}
	if r.dirExists(r.segs[0]) || r.dirExists(r.segs[1]) {
		t.Error("a discarded copy is still in the cache")
	}
	if !r.dirExists(r.segs[2]) || s.Prefetch.Placed != 1 || s.Prefetch.WindowSegments != 1 {
		t.Errorf("the copy still queued: in the cache %v, /status %+v", r.dirExists(r.segs[2]), s.Prefetch)
	}
	if leftovers := stagingDirs(t, r.cacheDir); len(leftovers) > 0 {
		t.Errorf("trash left by the discards: %v", leftovers)
	}
	if m := rc.metrics(t); !strings.Contains(m, `druid_sidecar_prefetch_discarded_total{reason="unclaimed"} 2`) {
		t.Errorf("/metrics:\n%s", grepLine(m, "druid_sidecar_prefetch_discarded"))
	}
	// The queued one is still the Historical's to find.
	r.historical()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if m := r.load(ctx, r.segs[2]); !m.Reused {
		t.Error("the Historical did not find the copy still queued")
	}
}

// TestWaitsOutACoordinatorOutage: while the load queue cannot be read, the last one read stands: nothing is
// discarded, and coordinator_up says why nothing moves.
func TestWaitsOutACoordinatorOutage(t *testing.T) {
	r := newRig(t, 2, 32<<10)
	r.queue(r.segs[0])
	rc := r.start(r.config("druid.sidecar.prefetch.claimTimeout=PT0.2S"))
	rc.waitStatus(t, 20*time.Second, "the copy placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 1 })
	r.api.Fail(http.StatusServiceUnavailable)
	s := rc.waitStatus(t, 10*time.Second, "the Coordinator down", func(s snapshot) bool { return !s.Coordinator.Up })
	if !strings.Contains(s.Coordinator.Error, "503") {
		t.Errorf("/status coordinator error %q", s.Coordinator.Error)
	}
	r.queue(r.segs[1]) // queued during the outage: not seen until it ends
	time.Sleep(400 * time.Millisecond)
	if m := rc.metrics(t); !strings.Contains(m, "druid_sidecar_coordinator_up 0") {
		t.Errorf("/metrics:\n%s", grepLine(m, "coordinator_up"))
	}
	if !r.dirExists(r.segs[0]) || r.dirExists(r.segs[1]) {
		t.Fatal("the outage changed the cache")
	}
	r.api.Fail(0)
	rc.waitStatus(t, 20*time.Second, "the second copy after the outage", func(s snapshot) bool {
		return s.Coordinator.Up && s.Prefetch.Totals.Placed == 2
	})
}

// TestAdoptsAnEarlierRunsCopies: copies placed by a run that stopped are known to the next through the
// prefetcher's ledger: they take the window and are discarded when unclaimed.
func TestAdoptsAnEarlierRunsCopies(t *testing.T) {
	r := newRig(t, 2, 32<<10)
	r.queue(r.segs...)
	rc := r.start(r.config())
	rc.waitStatus(t, 20*time.Second, "two copies placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 2 })
	rc.shutdown(t)

	r.api.Remove(r.server, r.segs[0].ID())
	r.sets = append(r.sets, "druid.sidecar.companion.port="+strconv.Itoa(freePort(t)))
	rc2 := r.start(r.config("druid.sidecar.prefetch.claimTimeout=PT0.3S"))
	s := rc2.waitStatus(t, 10*time.Second, "the earlier copy out of the queue discarded", func(s snapshot) bool {
		return s.Prefetch.Totals.Unclaimed == 1
	})
	if s.Prefetch.Totals.Placed != 0 || s.Prefetch.Placed != 1 || r.dirExists(r.segs[0]) || !r.dirExists(r.segs[1]) {
		t.Errorf("after the restart: %+v; in the cache: %v %v", s.Prefetch, r.dirExists(r.segs[0]), r.dirExists(r.segs[1]))
	}
}

// TestDriftWatch: the Historical's disagreements show on /status and /metrics, and the companion's own
// unclaimed copy, on disk without an info_dir entry, is not one of them.
func TestDriftWatch(t *testing.T) {
	r := newRig(t, 3, 32<<10)
	announcedMissing, infoOnly, prefetched := r.segs[0], r.segs[1], r.segs[2]
	if err := r.inv.Announce([]*segments.DataSegment{announcedMissing}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.infoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := infoOnly.AppendJSON(nil)
	if err := os.WriteFile(filepath.Join(r.infoDir, infoOnly.ID().String()), js, 0o644); err != nil {
		t.Fatal(err)
	}
	r.queue(prefetched)
	rc := r.start(r.config("druid.sidecar.drift.period=PT0.1S"))
	rc.waitStatus(t, 20*time.Second, "the copy placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 1 })
	lastRun := rc.status(t).Drift.LastRun
	s := rc.waitStatus(t, 10*time.Second, "a drift check after the placement", func(s snapshot) bool {
		return s.Drift.LastRun != lastRun && s.Drift.LastRun != ""
	})
	if s.Drift.Error != "" || !s.Drift.Enabled {
		t.Fatalf("drift: %+v", s.Drift)
	}
	got := map[string]string{}
	for _, f := range s.Drift.Findings {
		got[f.SegmentID] = f.Detail
	}
	if len(got) != 2 || !strings.HasPrefix(got[announcedMissing.ID().String()], audit.DriftAnnouncedMissing) ||
		!strings.HasPrefix(got[infoOnly.ID().String()], audit.DriftInfoWithoutFiles) {
		t.Errorf("findings %v, want the two planted ones only", got)
	}
	m := rc.metrics(t)
	for _, want := range []string{`druid_sidecar_drift_findings{problem="announced_missing_on_disk"} 1`,
		`druid_sidecar_drift_findings{problem="info_dir_without_files"} 1`,
		`druid_sidecar_drift_findings{problem="on_disk_not_announced"} 0`, "druid_sidecar_drift_up 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLine(m, "druid_sidecar_drift"))
		}
	}
	metricstest.NoSegmentLabels(t, rc.c.reg, r.segs)

	// Once, from another process's point of view, leaves the companion's copy out too (the prefetcher's ledger).
	c, err := New(r.config("druid.sidecar.companion.port="+strconv.Itoa(freePort(t))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	findings, err := c.Once(context.Background())
	if err != nil || len(findings) != 2 {
		t.Errorf("Once: %v, %v", findings, err)
	}
}

// TestWithoutPrefetching: virtual storage, no window or deleteOnRemove=false turns prefetching off with the reason on /status,
// and the companion never asks the Coordinator.
func TestWithoutPrefetching(t *testing.T) {
	api, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	for _, tc := range []struct{ set, why string }{
		{"druid.segmentCache.virtualStorage=true", "virtualStorage"},
		{"druid.sidecar.prefetch.maxBytes=0", "druid.sidecar.prefetch.maxBytes is 0"},
		{"druid.segmentCache.deleteOnRemove=false", "deleteOnRemove is false"},
	} {
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{
			"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.zk.service.enabled=false",
			"druid.sidecar.companion.port=" + strconv.Itoa(freePort(t)),
			"druid.sidecar.coordinator.url=" + api.URL(), "druid.sidecar.prefetch.maxBytes=1g",
			`druid.segmentCache.locations=[{"path":"` + t.TempDir() + `"}]`, "druid.sidecar.drift.period=", tc.set}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(cfg, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		<-c.Ready()
		resp, err := http.Get("http://" + c.Addr().String() + lifecycle.StatusPath)
		if err != nil {
			t.Fatal(err)
		}
		var s snapshot
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if s.Prefetch.Enabled || !strings.Contains(s.Prefetch.Off, tc.why) {
			t.Errorf("%s: /status prefetch %+v", tc.set, s.Prefetch)
		}
		if code, body := httpGet(t, "http://"+c.Addr().String()+lifecycle.HealthPath); code != 200 || strings.TrimSpace(body) != "true" {
			t.Errorf("%s: %d %q", lifecycle.HealthPath, code, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", tc.set, err)
		}
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("the Coordinator was asked %d times", n)
	}
}

// TestNewRunsWithoutWhatItCannotDo: a Historical the companion cannot sit beside (no host, no cache) or
// cannot prefetch for (no way to find the Coordinator) makes no error: what cannot run is off, saying why.
func TestNewRunsWithoutWhatItCannotDo(t *testing.T) {
	loc := `druid.segmentCache.locations=[{"path":"` + t.TempDir() + `"}]`
	for _, tc := range []struct {
		sets      []string
		want      string
		driftOff  bool
		problemed bool
	}{
		{[]string{loc}, "druid.host: not set", true, true},
		{[]string{"druid.host=127.0.0.1"}, "druid.segmentCache.locations: empty", true, true},
		{[]string{"druid.host=127.0.0.1", loc, "druid.zk.service.enabled=false", "druid.sidecar.prefetch.maxBytes=1g"},
			"druid.sidecar.coordinator.url", false, false},
	} {
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: tc.sets})
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(cfg, Options{})
		if err != nil {
			t.Fatalf("%v: New error %v", tc.sets, err)
		}
		if !strings.Contains(c.off, tc.want) || (c.driftOff != "") != tc.driftOff || (len(c.problems) > 0) != tc.problemed {
			t.Errorf("%v: prefetching off for %q, drift off for %q, problems %q; want %q", tc.sets, c.off, c.driftOff,
				c.problems, tc.want)
		}
	}
}

func TestProblemLabels(t *testing.T) {
	for detail, want := range map[string]string{
		audit.DriftAnnouncedMissing:                                "announced_missing_on_disk",
		audit.DriftNeverAnnounced + " (/x/y)":                      "on_disk_not_announced",
		audit.DriftMarkerStale + " (/x, started 1h ago)":           "stale_download_marker",
		audit.DriftInfoWithoutFiles:                                "info_dir_without_files",
		"wiki_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_v": "other",
	} {
		if got := problemLabel(detail); got != want {
			t.Errorf("%q: %q, want %q", detail, got, want)
		}
	}
}

// lockedLog is a log output a test reads while the companion writes to it.
type lockedLog struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedLog) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "companion-test", Level: hclog.Debug, Output: l})
}

// TestSaysWhenTheCoordinatorDoesNotListItsServer: the Historical announces its host name while the
// companion was given the pod's address, so the Coordinator queues loads under a name the companion does not look
// for. The companion prefetches nothing, as it must, but says so: on /status with the names the Coordinator does
// list, in druid_sidecar_server_listed, and in a warning once the absence outlasts the startup grace. Once the
// Coordinator lists its server, all three clear and the queued segment is prefetched.
func TestSaysWhenTheCoordinatorDoesNotListItsServer(t *testing.T) {
	r := newRig(t, 1, 4<<10)
	_, port, _ := net.SplitHostPort(r.server)
	javaName := "historical-0.historical.druid.svc.cluster.local:" + port
	r.api.Load(javaName, r.segs[0])
	r.api.Remove("127.0.0.9:8091") // another server the Coordinator knows, with an empty queue
	log := &lockedLog{t: t}
	rc := r.startWith(r.config(), log.logger(), func(c *Companion) { c.absentGrace = 200 * time.Millisecond })

	s := rc.waitStatus(t, 10*time.Second, "the absence reported", func(s snapshot) bool {
		return s.Coordinator.Up && s.Coordinator.ServerAbsent != ""
	})
	if s.Coordinator.ServerListed || s.Coordinator.ListedServers != 2 || !slices.Equal(s.Coordinator.OtherServers,
		[]string{javaName, "127.0.0.9:8091"}) || !strings.Contains(s.Coordinator.ServerAbsent, r.server) ||
		!strings.Contains(s.Coordinator.ServerAbsent, "druid_host") {
		t.Errorf("/status coordinator: %+v", s.Coordinator)
	}
	if m := rc.metrics(t); !strings.Contains(m, "druid_sidecar_server_listed 0\n") {
		t.Errorf("/metrics:\n%s", grepLine(m, "druid_sidecar_server_listed"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "[WARN]  companion-test: the Coordinator does not list the Historical") {
		if time.Now().After(deadline) {
			t.Fatal("no warning 10 s after the Coordinator was first read without the server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := rc.status(t); s.Prefetch.Totals.Placed != 0 || s.Prefetch.Queue != 0 {
		t.Errorf("prefetched for a server that is not listed: %+v", s.Prefetch)
	}

	// The Historical is listed under the companion's name: the queue is read and filled.
	r.queue(r.segs[0])
	s = rc.waitStatus(t, 10*time.Second, "the segment placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 1 })
	if !s.Coordinator.ServerListed || s.Coordinator.ServerAbsent != "" || len(s.Coordinator.OtherServers) != 0 {
		t.Errorf("/status coordinator once listed: %+v", s.Coordinator)
	}
	if m := rc.metrics(t); !strings.Contains(m, "druid_sidecar_server_listed 1\n") {
		t.Errorf("/metrics:\n%s", grepLine(m, "druid_sidecar_server_listed"))
	}
	if n := strings.Count(log.String(), "[WARN]  companion-test: the Coordinator does not list"); n != 1 {
		t.Errorf("the absence was warned about %d times, want once", n)
	}
}

// TestRunsOnWhenItCannotCleanItsStaging: leftovers in the prefetch staging area that cannot be removed
// (the companion runs as another user than the Historical, or the area is not a directory) turn prefetching off; the
// companion still answers its probe and reports why, and leaves what it could not remove in place.
func TestRunsOnWhenItCannotCleanItsStaging(t *testing.T) {
	r := newRig(t, 1, 4<<10)
	r.queue(r.segs[0])
	staging := filepath.Join(r.cacheDir, segcache.PrefetchDir)
	// Tests run as root, whom permissions do not stop: a staging area that is a file fails its listing instead.
	rc := r.startWith(r.config("druid.sidecar.drift.period=PT1H"), testLogger(t), func(c *Companion) {
		if err := os.RemoveAll(staging); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(staging, []byte("not ours"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if code, _ := httpGet(t, rc.url+lifecycle.HealthPath); code != http.StatusOK {
		t.Errorf("/status/health: %d", code)
	}
	s := rc.status(t)
	if s.Prefetch.Enabled || !strings.Contains(s.Prefetch.Off, "removing the prefetch staging") || !s.Drift.Enabled {
		t.Errorf("/status: prefetch %+v, drift enabled %v", s.Prefetch, s.Drift.Enabled)
	}
	if m := rc.metrics(t); !strings.Contains(m, `druid_sidecar_companion_enabled{feature="prefetch"} 0`+"\n") {
		t.Errorf("/metrics:\n%s", grepLine(m, "druid_sidecar_companion_enabled"))
	}
	rc.shutdown(t)
	if b, err := os.ReadFile(staging); err != nil || string(b) != "not ours" {
		t.Errorf("what the companion could not clean was changed: %q %v", b, err)
	}
	if r.dirExists(r.segs[0]) {
		t.Error("a segment was prefetched with the staging area unusable")
	}
}

// TestPrefetchesWithoutConfiguration: with no druid.sidecar.prefetch.maxBytes at all (auto), a location whose
// maxSize is below its disk gets a window from the disk's free space, and the companion prefetches the queue out of
// the box (the rig's location has maxSize 200m on a test directory with far more free space).
func TestPrefetchesWithoutConfiguration(t *testing.T) {
	r := newRig(t, 3, 16<<10)
	r.sets = slices.DeleteFunc(r.sets, func(s string) bool { return strings.HasPrefix(s, "druid.sidecar.prefetch.maxBytes=") })
	r.queue(r.segs...)
	rc := r.start(r.config())
	s := rc.waitStatus(t, 20*time.Second, "three copies placed", func(s snapshot) bool { return s.Prefetch.Totals.Placed == 3 })
	if !s.Prefetch.Enabled || s.Prefetch.Off != "" {
		t.Errorf("prefetch enabled %v, off %q; want on by default", s.Prefetch.Enabled, s.Prefetch.Off)
	}
	for _, seg := range r.segs {
		if !r.dirExists(seg) {
			t.Errorf("%s is not in the cache", seg.ID())
		}
	}
}
