package loadqueue

// The ZooKeeper load queue against real ZooKeeper (a chroot per test), a real S3 bucket and the real engine and
// segment cache. A Coordinator stand-in writes entries as CuratorLoadQueuePeon did: EPHEMERAL znodes of its own
// session at <loadQueuePath>/<host:port>/<segmentId>, holding the change request's uncompressed JSON, and waits
// for their deletion.

import (
	"bytes"
	"compress/gzip"
	"context"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/internal/zkproxy"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// zkqRig is a rig (engine, cache, S3) with a ZooKeeper chroot, a Coordinator stand-in on its own session and the
// queue under test.
type zkqRig struct {
	*rig
	z     testenv.ZK
	proxy *zkproxy.Proxy // between the queue and ZooKeeper, when asked for
	coord *zkqCoordinator
	logs  *zkqLog
	poll  time.Duration
	drain time.Duration // ZKQueueOptions.DrainTimeout of the queues started; 0 for the default
}

// zkqRun is one running ZKQueue.
type zkqRun struct {
	t      *testing.T
	q      *ZKQueue
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// newZKQRig builds the rig; with proxy, the queue reaches ZooKeeper through a zkproxy (the stand-in does not).
// The queue is not started (see start).
func newZKQRig(t *testing.T, o rigOpts, proxy bool, poll time.Duration) *zkqRig {
	t.Helper()
	z := testenv.ZooKeeper(t)
	connect := z.ConnectString
	var px *zkproxy.Proxy
	if proxy {
		var err error
		if px, err = zkproxy.New(z.Servers[0]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { px.Close() })
		connect = px.Addr() + z.Chroot
	}
	o.sets = append(o.sets, "druid.host=127.0.0.31", "druid.plaintextPort=8083", "druid.zk.service.host="+connect,
		"druid.zk.service.sessionTimeoutMs=2000", "druid.zk.service.connectionTimeoutMs=2000")
	r := newRig(t, o)
	dir := z.Path(path.Join(r.cfg.ZK.Paths.LoadQueue, r.cfg.Node.HostAndPortToUse()))
	return &zkqRig{rig: r, z: z, proxy: px, poll: poll, logs: &zkqLog{t: t},
		coord: &zkqCoordinator{t: t, conn: z.Conn(t), dir: dir}}
}

// start runs a ZKQueue over e, stopped when the test ends (before the engine: cleanups run last first).
func (zr *zkqRig) start(e *Engine) *zkqRun {
	t := zr.t
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	log := hclog.New(&hclog.LoggerOptions{Name: "zkqueue", Level: hclog.Debug, Output: zr.logs})
	q, err := NewZKQueue(ZKQueueOptions{Engine: e, Config: zr.cfg, Logger: log, Registerer: reg, PollInterval: zr.poll,
		DrainTimeout: zr.drain})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &zkqRun{t: t, q: q, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- q.Run(ctx) }()
	t.Cleanup(func() { run.stop() })
	return run
}

// stop cancels Run and waits for it; it reports how long Run took to return.
func (run *zkqRun) stop() time.Duration {
	var took time.Duration
	run.once.Do(func() {
		start := time.Now()
		run.cancel()
		select {
		case err := <-run.done:
			if err != nil {
				run.t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			run.t.Errorf("Run did not return within 15 s of its context ending")
		}
		took = time.Since(start)
	})
	return took
}

// zkqLog keeps the queue's log lines, for checks, and passes them to the test log.
type zkqLog struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *zkqLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (l *zkqLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// zkqCoordinator plays CuratorLoadQueuePeon on a session of its own.
type zkqCoordinator struct {
	t    *testing.T
	conn *zk.Conn
	dir  string // absolute: the queue's directory below the test's chroot
}

// waitParent waits for the queue to create its directory: the Coordinator never created it.
func (c *zkqCoordinator) waitParent() *zk.Stat {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, stat, err := c.conn.Exists(c.dir)
		if err == nil && ok {
			return stat
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the queue did not create %s within 10 s (%v)", c.dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// create writes one entry and returns its path.
func (c *zkqCoordinator) create(name string, data []byte) string {
	c.t.Helper()
	p := c.dir + "/" + name
	if _, err := c.conn.Create(p, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		c.t.Fatalf("creating %s: %v", p, err)
	}
	return p
}

// send writes a change request as the Coordinator did: uncompressed JSON, named by the segment id.
func (c *zkqCoordinator) send(req segments.ChangeRequest) string {
	c.t.Helper()
	data, err := req.AppendJSON(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.create(req.Segment.ID().String(), data)
}

// waitDeleted waits until every path is gone, as the Coordinator's exists-watch did.
func (c *zkqCoordinator) waitDeleted(timeout time.Duration, paths ...string) time.Duration {
	c.t.Helper()
	start := time.Now()
	for _, p := range paths {
		for {
			ok, _, err := c.conn.Exists(p)
			if err == nil && !ok {
				break
			}
			if time.Since(start) > timeout {
				c.t.Fatalf("%s still exists after %v (%v)", p, timeout, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(start)
}

func (c *zkqCoordinator) exists(p string) bool {
	c.t.Helper()
	ok, _, err := c.conn.Exists(p)
	if err != nil {
		c.t.Fatal(err)
	}
	return ok
}

func gzipped(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zkqCount(t *testing.T, run *zkqRun, action, outcome string) float64 {
	t.Helper()
	c := run.q.m.byOutcome[segments.Action(action)]
	if outcome == "success" {
		return testutil.ToFloat64(c[1])
	}
	return testutil.ToFloat64(c[0])
}

func TestZKQueueLoadThenDrop(t *testing.T) {
	zr := newZKQRig(t, rigOpts{}, false, 0) // the default poll interval, 200 ms
	run := zr.start(zr.eng)
	stat := zr.coord.waitParent()
	if stat.EphemeralOwner != 0 {
		t.Fatalf("the queue's directory is ephemeral (owner 0x%x); Druid's is persistent", stat.EphemeralOwner)
	}
	s1, s2, ts := zr.s3Segment("zkq", 0, 3000), zr.s3Segment("zkq", 1, 4000), tombstone(t, "zkq", 2)
	segs := []*segments.DataSegment{s1, s2, ts}

	// One at a time, as the Coordinator created them; the second one gzip-compressed, which readers accept too.
	for i, s := range segs {
		var p string
		if i == 1 {
			req := load(s)
			raw, _ := req.AppendJSON(nil)
			p = zr.coord.create(s.ID().String(), gzipped(t, raw))
		} else {
			p = zr.coord.send(load(s))
		}
		took := zr.coord.waitDeleted(10*time.Second, p)
		t.Logf("load %d: znode deleted %v after its creation", i, took.Round(time.Millisecond))
		if !zr.cached(s.ID()) || !zr.ann.has(s.ID()) {
			t.Fatalf("%s: znode deleted, but cached=%v announced=%v", s.ID(), zr.cached(s.ID()), zr.ann.has(s.ID()))
		}
	}
	p := zr.coord.send(drop(s1))
	zr.coord.waitDeleted(10*time.Second, p)
	if zr.ann.has(s1.ID()) || zr.cached(s1.ID()) {
		t.Fatalf("dropped %s is still announced or listed as loaded", s1.ID())
	}
	if n := zr.puller.pulls.Load(); n != 3 {
		t.Errorf("%d pulls, want 3: one per load, none for the drop", n)
	}
	if n := zkqCount(t, run, "load", "success"); n != 3 {
		t.Errorf(`druid_sidecar_zk_load_queue_requests_total{action="load",outcome="success"} = %v, want 3`, n)
	}
	if n := zkqCount(t, run, "drop", "success"); n != 1 {
		t.Errorf(`druid_sidecar_zk_load_queue_requests_total{action="drop",outcome="success"} = %v, want 1`, n)
	}
	// The depth gauge follows the queue: empty again at the next listing.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(run.q.m.depth) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	want := `
# HELP druid_sidecar_zk_load_queue_depth Entries in this server's ZooKeeper load queue at the last listing.
# TYPE druid_sidecar_zk_load_queue_depth gauge
druid_sidecar_zk_load_queue_depth 0
# HELP druid_sidecar_zk_load_queue_in_flight ZooKeeper load queue requests running.
# TYPE druid_sidecar_zk_load_queue_in_flight gauge
druid_sidecar_zk_load_queue_in_flight 0
# HELP druid_sidecar_zk_load_queue_malformed_total ZooKeeper load queue entries deleted unrun because they are not a load or drop request.
# TYPE druid_sidecar_zk_load_queue_malformed_total counter
druid_sidecar_zk_load_queue_malformed_total 0
# HELP druid_sidecar_zk_load_queue_requests_total ZooKeeper load queue requests finished, by action and outcome.
# TYPE druid_sidecar_zk_load_queue_requests_total counter
druid_sidecar_zk_load_queue_requests_total{action="drop",outcome="failure"} 0
druid_sidecar_zk_load_queue_requests_total{action="drop",outcome="success"} 1
druid_sidecar_zk_load_queue_requests_total{action="load",outcome="failure"} 0
druid_sidecar_zk_load_queue_requests_total{action="load",outcome="success"} 3
druid_sidecar_zk_load_queue_requests_total{action="noop",outcome="failure"} 0
druid_sidecar_zk_load_queue_requests_total{action="noop",outcome="success"} 0
`
	if err := testutil.GatherAndCompare(run.reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	metricstest.NoSegmentLabels(t, run.reg, segs)

	// The directory outlives the queue, as Druid's persistent parent does.
	if took := run.stop(); took > 2*time.Second {
		t.Errorf("Run took %v to return with nothing in flight", took)
	}
	if !zr.coord.exists(zr.coord.dir) {
		t.Error("the queue's directory was deleted at shutdown")
	}
}

func TestZKQueueFailedLoadIsDeleted(t *testing.T) {
	zr := newZKQRig(t, rigOpts{}, false, 20*time.Millisecond)
	run := zr.start(zr.eng)
	zr.coord.waitParent()
	data, size := indexZip(t, 2000)
	key := "druid/segments/zkqmissing/index.zip"
	s := segment(t, "zkqmissing", 0, `{"type":"s3_zip","bucket":"`+zr.bucket.Bucket+`","key":"`+key+`"}`, size)

	p := zr.coord.send(load(s))
	zr.coord.waitDeleted(10*time.Second, p)
	if zr.cached(s.ID()) || zr.ann.has(s.ID()) {
		t.Fatal("a load of a missing object left the segment cached or announced")
	}
	if n := zkqCount(t, run, "load", "failure"); n != 1 {
		t.Errorf(`druid_sidecar_zk_load_queue_requests_total{action="load",outcome="failure"} = %v, want 1`, n)
	}
	// The Coordinator learns the failure from the inventory and assigns the segment again: it loads now.
	zr.bucket.Put(t, key, data)
	p = zr.coord.send(load(s))
	zr.coord.waitDeleted(10*time.Second, p)
	if !zr.cached(s.ID()) || !zr.ann.has(s.ID()) {
		t.Fatal("the second load did not load the segment")
	}
}

func TestZKQueueMalformedDeletedAndNextRuns(t *testing.T) {
	zr := newZKQRig(t, rigOpts{threads: 1}, false, 20*time.Millisecond)
	run := zr.start(zr.eng)
	zr.coord.waitParent()
	good := zr.s3Segment("zkqgood", 0, 2000)
	noInterval := `{"action":"load","dataSource":"zkqbad","version":"v1","loadSpec":{"type":"tombstone"},"size":1}`
	bad := []struct{ name, data string }{
		{"not-json", "this is not JSON"},
		{"unknown-action", `{"action":"frobnicate","dataSource":"zkqbad"}`},
		{"no-segment", `{"action":"load"}`},
		{"no-interval", noInterval},
		{"null", "null"},
		{"empty", ""},
		{"schema", `{"action":"schema","segmentSchemas":{}}`},
		{"bad-gzip", "\x1f\x8bnot really gzip"},
	}
	var paths []string
	for _, b := range bad {
		paths = append(paths, zr.coord.create(b.name, []byte(b.data)))
	}
	noop := zr.coord.create("noop", []byte(`{"action":"noop"}`))
	paths = append(paths, noop, zr.coord.send(load(good)))
	zr.coord.waitDeleted(10*time.Second, paths...)
	if !zr.cached(good.ID()) || !zr.ann.has(good.ID()) {
		t.Fatal("the load after the malformed entries did not run")
	}
	if n := testutil.ToFloat64(run.q.m.malformed); n != float64(len(bad)) {
		t.Errorf("druid_sidecar_zk_load_queue_malformed_total = %v, want %d", n, len(bad))
	}
	if n := zkqCount(t, run, "noop", "success"); n != 1 {
		t.Errorf(`requests_total{action="noop",outcome="success"} = %v, want 1`, n)
	}
	logs := zr.logs.String()
	for _, b := range bad {
		p := path.Join(zr.cfg.ZK.Paths.LoadQueue, zr.cfg.Node.HostAndPortToUse(), b.name)
		if !strings.Contains(logs, "[ERROR] zkqueue: a ZooKeeper load queue entry is not a load or drop request") ||
			!strings.Contains(logs, "path="+p) {
			t.Errorf("no error naming %s in the log", p)
		}
	}
	if !strings.Contains(logs, "interval") {
		t.Error("the log does not give the parse error of the entry without an interval")
	}
}

func TestZKQueueCreationOrderAndOnce(t *testing.T) {
	var mu sync.Mutex
	var order []segments.SegmentID
	hook := func(_ context.Context, action segments.Action, seg *segments.DataSegment, _ string) error {
		if action == segments.ActionLoad {
			mu.Lock()
			order = append(order, seg.ID())
			mu.Unlock()
		}
		return nil
	}
	// One loading thread and slow pulls: every entry waits, or runs, through many listings.
	zr := newZKQRig(t, rigOpts{threads: 1, delay: 150 * time.Millisecond, hook: hook}, false, 10*time.Millisecond)
	run := zr.start(zr.eng)
	zr.coord.waitParent()
	// Created from the last day to the first, so that creation order is the reverse of the names' order.
	var want []segments.SegmentID
	var paths []string
	for day := 4; day >= 0; day-- {
		s := zr.s3Segment("zkqorder", day, 1000+day)
		want = append(want, s.ID())
		paths = append(paths, zr.coord.send(load(s)))
	}
	zr.coord.waitDeleted(15*time.Second, paths...)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, want) {
		t.Errorf("execution order\n%v\nwant the creation order\n%v", order, want)
	}
	if n := zr.puller.pulls.Load(); n != int64(len(want)) {
		t.Errorf("%d pulls for %d entries: an entry was submitted again while it was queued or running", n, len(want))
	}
	if n := zkqCount(t, run, "load", "success"); n != float64(len(want)) {
		t.Errorf(`requests_total{action="load",outcome="success"} = %v for %d entries: an entry ran twice`, n, len(want))
	}
}

// TestZKQueueStopWhileZooKeeperUnreachable stops the queue while a load runs and ZooKeeper does not answer: Run
// returns within its drain time, and the entry stays in ZooKeeper for the next start.
func TestZKQueueStopWhileZooKeeperUnreachable(t *testing.T) {
	zr := newZKQRig(t, rigOpts{threads: 1, delay: 1500 * time.Millisecond}, true, 20*time.Millisecond)
	zr.drain = 500 * time.Millisecond
	run := zr.start(zr.eng)
	zr.coord.waitParent()
	s := zr.s3Segment("zkqcut", 0, 1000)
	p := zr.coord.send(load(s))
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(run.q.m.inFlight) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the load never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	zr.proxy.Cut()
	took := run.stop()
	t.Logf("Run returned %v after its context ended", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("Run took %v to return with ZooKeeper unreachable; the drain time is %v", took, zr.drain)
	}
	zr.proxy.Heal()
	// The load finishes in the engine after Run returned; nobody deletes the entry, which the next start runs.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := zr.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !zr.coord.exists(p) {
		t.Error("the entry was deleted although the queue stopped before its request finished")
	}
}

// TestZKQueueSessionExpiry cuts the queue's own connection for longer than the session timeout while loads run
// and more are queued: nothing is lost, nothing runs twice, and the deletes that failed meanwhile are retried in
// the new session.
func TestZKQueueSessionExpiry(t *testing.T) {
	zr := newZKQRig(t, rigOpts{threads: 2, delay: 400 * time.Millisecond}, true, 50*time.Millisecond)
	run := zr.start(zr.eng)
	zr.coord.waitParent()
	var segs []*segments.DataSegment
	var paths []string
	for day := range 6 {
		s := zr.s3Segment("zkqexpiry", day, 1500)
		segs = append(segs, s)
		paths = append(paths, zr.coord.send(load(s)))
	}
	zr.coord.waitDeleted(10*time.Second, paths[0])
	conn := run.q.conn.Load()
	old := conn.ZK().SessionID()

	zr.proxy.Cut()
	// The Coordinator keeps assigning while our session is gone: its entries are its own ephemerals.
	for day := 6; day < 8; day++ {
		s := zr.s3Segment("zkqexpiry", day, 1500)
		segs = append(segs, s)
		paths = append(paths, zr.coord.send(load(s)))
	}
	zr.z.WaitSessionExpired(t, old, 15*time.Second) // sessionTimeoutMs=2000: the heal finds the session expired
	zr.proxy.Heal()

	took := zr.coord.waitDeleted(20*time.Second, paths...)
	t.Logf("every entry done and deleted %v after the heal", took.Round(time.Millisecond))
	for _, s := range segs {
		if !zr.cached(s.ID()) || !zr.ann.has(s.ID()) {
			t.Errorf("%s: cached=%v announced=%v", s.ID(), zr.cached(s.ID()), zr.ann.has(s.ID()))
		}
	}
	if n := zr.puller.pulls.Load(); n != int64(len(segs)) {
		t.Errorf("%d pulls for %d entries: a request ran twice", n, len(segs))
	}
	if sid := conn.ZK().SessionID(); sid == old {
		t.Errorf("the session 0x%x was not replaced; the test did not expire it", sid)
	}
	if st := conn.Stats(); st.Expiries < 1 {
		t.Errorf("no session expiry seen: %+v", st)
	}
	if n := zkqCount(t, run, "load", "success"); n != float64(len(segs)) {
		t.Errorf(`requests_total{action="load",outcome="success"} = %v, want %d`, n, len(segs))
	}
}

// TestZKQueueRestart stops the queue and the engine while loads are queued and one runs, then starts new ones over
// the same cache: what is left in ZooKeeper runs, and no entry was deleted without its segment being loaded.
func TestZKQueueRestart(t *testing.T) {
	zr := newZKQRig(t, rigOpts{threads: 1, delay: 300 * time.Millisecond}, false, 20*time.Millisecond)
	run := zr.start(zr.eng)
	zr.coord.waitParent()
	var segs []*segments.DataSegment
	var paths []string
	for day := range 5 {
		s := zr.s3Segment("zkqrestart", day, 1200)
		segs = append(segs, s)
		paths = append(paths, zr.coord.send(load(s)))
	}
	zr.coord.waitDeleted(10*time.Second, paths[:2]...)

	// The agent's order: the queue first, then the engine, whose short deadline cancels the load running.
	stopped := make(chan time.Duration, 1)
	go func() { stopped <- run.stop() }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := zr.eng.Stop(ctx)
	cancel()
	t.Logf("engine stop: %v", err)
	if took := <-stopped; took > 3*time.Second {
		t.Errorf("Run took %v to return once the engine had stopped", took)
	}
	left := 0
	for i, s := range segs {
		if zr.coord.exists(paths[i]) {
			left++
		} else if !zr.cached(s.ID()) || !zr.ann.has(s.ID()) {
			t.Errorf("%s: its entry was deleted but the segment is not loaded and announced", s.ID())
		}
	}
	if left == 0 {
		t.Fatal("every entry finished before the stop; the test stopped too late")
	}
	t.Logf("%d entries left in ZooKeeper at the stop", left)

	e2, err := New(Options{Cache: zr.cache, Puller: zr.puller, Announcer: zr.ann, NumLoadingThreads: 1, NumTurboThreads: 1,
		Registerer: prometheus.NewPedanticRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e2.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	zr.start(e2)
	zr.coord.waitDeleted(15*time.Second, paths...)
	for _, s := range segs {
		if !zr.cached(s.ID()) || !zr.ann.has(s.ID()) {
			t.Errorf("%s after the restart: cached=%v announced=%v", s.ID(), zr.cached(s.ID()), zr.ann.has(s.ID()))
		}
	}
	if n := testutil.ToFloat64(e2.metrics.loadOK); n != float64(left) {
		t.Errorf("the second engine ran %v loads, want the %d left in ZooKeeper", n, left)
	}
}

func TestNewZKQueueRefuses(t *testing.T) {
	if _, err := NewZKQueue(ZKQueueOptions{}); err == nil || !strings.Contains(err.Error(), "Engine") || !strings.Contains(err.Error(), "Config") {
		t.Errorf("NewZKQueue without Engine and Config: %v", err)
	}
	cfg := func(sets ...string) *configs.Config {
		c, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets, NumCPU: 2})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		cfg  *configs.Config
		want string
	}{
		{cfg("druid.host=127.0.0.31", "druid.zk.service.enabled=false"), "druid.zk.service.enabled is false"},
		{cfg(), "set druid.host"},
	} {
		_, err := NewZKQueue(ZKQueueOptions{Engine: &Engine{}, Config: tc.cfg})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewZKQueue: %v, want an error containing %q", err, tc.want)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	good := cfg("druid.host=127.0.0.31")
	q, err := NewZKQueue(ZKQueueOptions{Engine: &Engine{}, Config: good, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if q.Path() != "/druid/loadQueue/127.0.0.31:8083" {
		t.Errorf("Path() = %s", q.Path())
	}
	if _, err := NewZKQueue(ZKQueueOptions{Engine: &Engine{}, Config: good, Registerer: reg}); err == nil ||
		!strings.Contains(err.Error(), "registering") {
		t.Errorf("a second queue on one registry: %v", err)
	}
}
