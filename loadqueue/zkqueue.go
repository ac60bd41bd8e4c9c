package loadqueue

// The ZooKeeper load queue: how Coordinators up to Druid 29 (with druid.coordinator.loadqueuepeon.type=curator, the
// default before 25.0) hand loads and drops to a data server. The Coordinator's CuratorLoadQueuePeon creates one
// EPHEMERAL znode per request at <loadQueuePath>/<host:port>/<segmentId>, holding the change request's JSON
// uncompressed, and takes the znode's deletion as "done". The data server (Druid's ZkCoordinator) ensured the
// persistent parent, ran each child on a pool of numLoadingThreads, and deleted it when the request finished,
// on success and on failure alike; a child it could not parse was deleted too.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/promx"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// ZKQueueOptions are a ZKQueue's collaborators.
type ZKQueueOptions struct {
	// Engine carries out the requests. Required.
	Engine *Engine
	// Config gives the ZooKeeper connection (druid.zk.service.*), the queue's root (druid.zk.paths.loadQueuePath)
	// and the node's name below it (druid.host and its port, as announced). Required.
	Config *configs.Config
	// Logger; nil discards.
	Logger hclog.Logger
	// Registerer receives the queue's metrics (see zkQueueMetrics); nil registers nothing. NewZKQueue fails if it
	// refuses them (one ZKQueue per registry).
	Registerer prometheus.Registerer
	// PollInterval is how often the queue's directory is looked at; 0 (or less) means 200 ms.
	PollInterval time.Duration
	// DrainTimeout bounds how long Run keeps going after its context ends, to delete the znodes of requests that
	// finish meanwhile; requests still running then stay in ZooKeeper and run again at the next start. 0 (or
	// less) means 5 s.
	DrainTimeout time.Duration
}

// defaultZKPollInterval is the announcer's polling period too: one Exists a fifth of a second is nothing for
// ZooKeeper, and the Coordinator's load timeout is minutes.
const defaultZKPollInterval = 200 * time.Millisecond

// defaultZKDrainTimeout is ZKQueueOptions.DrainTimeout's default: long enough for a load in its last bytes to
// have its znode deleted, short beside the agent's 30 s shutdown deadline.
const defaultZKDrainTimeout = 5 * time.Second

// zkFetchParallel bounds the znode reads a listing pipelines on the connection.
const zkFetchParallel = 32

// ZKQueue takes load and drop requests from the ZooKeeper load queue and carries them out with an Engine, as
// Druid's ZkCoordinator did:
//
//   - the persistent parent <loadQueuePath>/<host:port> is ensured (with its missing ancestors) in every session;
//   - its children are read (gzip or raw JSON alike), each one parsed as one change request, and submitted on the
//     NORMAL pool in creation order (their czxid), at most NumLoadingThreads at a time, as ZkCoordinator's fixed
//     pool of numLoadingThreads took them first in, first out;
//   - when a request's status arrives, SUCCESS or FAILED alike, its znode is deleted; a child that cannot be
//     parsed is deleted at once, logged at error level and counted, and the next one runs;
//   - a child is submitted once while it is queued or running, however often the directory is listed.
//
// The entries are the Coordinator's ephemerals, so neither an outage of ZooKeeper nor the loss of our own session
// loses one: the loop pauses, requests already submitted keep running, and deletes that failed are retried until
// they succeed or the znode is gone. After a restart of the process whatever is left in the queue is simply run
// again; a load of a segment already loaded succeeds without a pull.
//
// Like the announcer it polls the directory's child version instead of setting ZooKeeper watches (go-zookeeper
// 1.0.4 re-sets watches after a reconnect in a way the race detector reports).
type ZKQueue struct {
	e     *Engine
	zkCfg configs.ZKServiceConfig
	dir   string // the Druid path of our queue, <loadQueuePath>/<host:port>
	log   hclog.Logger
	poll  time.Duration
	drain time.Duration // ZKQueueOptions.DrainTimeout
	m     *zkQueueMetrics

	ran      atomic.Bool
	draining atomic.Bool   // Run's context ended: no new submissions, FAILED statuses keep their znodes
	kick     chan struct{} // wakes the loop: a status arrived, or the session changed
	conn     atomic.Pointer[zookeeper.Conn]

	mu      sync.Mutex
	entries map[string]*zkEntry // by child name: every child read and not yet forgotten
	running int                 // entries in zkRunning
	relist  bool                // list the children at the next pass even if their version did not change
	warned  string              // the last trouble logged at warning level, to log a repeat at debug level
	warnAt  time.Time
}

// zkEntryState is where a child of the queue stands.
type zkEntryState int

const (
	zkWaiting zkEntryState = iota // read and parsed, waiting for a free thread
	zkRunning                     // submitted to the engine, its status not arrived yet
	zkDone                        // finished, or malformed: its znode is to be deleted
)

// zkEntry is one child of the queue. czxid identifies the znode: a child deleted and created again under the same
// name (the same segment) is a new request, which must not be deleted on behalf of the old one.
type zkEntry struct {
	name   string
	czxid  int64
	state  zkEntryState
	req    segments.ChangeRequest
	warned bool // a failure to delete it was logged
}

// NewZKQueue checks the options and registers the metrics; Run does the work.
func NewZKQueue(opts ZKQueueOptions) (*ZKQueue, error) {
	var missing []string
	if opts.Engine == nil {
		missing = append(missing, "Engine")
	}
	if opts.Config == nil {
		missing = append(missing, "Config")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("loadqueue: NewZKQueue needs %v", missing)
	}
	cfg := opts.Config
	if !cfg.ZK.Enabled {
		return nil, errors.New("the ZooKeeper load queue (druid.sidecar.zkLoadQueue) needs ZooKeeper, and druid.zk.service.enabled is false")
	}
	if servers, _ := cfg.ZK.Service.Servers(); len(servers) == 0 {
		return nil, fmt.Errorf("the ZooKeeper load queue: druid.zk.service.host %q names no ZooKeeper server", cfg.ZK.Service.Host)
	}
	name := cfg.Node.HostAndPortToUse()
	if name == "" || cfg.Node.Host == "" {
		return nil, errors.New("the ZooKeeper load queue: the node has no host:port to take requests for: set druid.host and enable druid.plaintextPort or druid.enableTlsPort")
	}
	if cfg.ZK.Paths.LoadQueue == "" {
		return nil, errors.New("the ZooKeeper load queue: druid.zk.paths.loadQueuePath is empty")
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = defaultZKPollInterval
	}
	drain := opts.DrainTimeout
	if drain <= 0 {
		drain = defaultZKDrainTimeout
	}
	m := newZKQueueMetrics()
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(m); err != nil {
			return nil, fmt.Errorf("loadqueue: registering the ZooKeeper load queue's metrics: %w", err)
		}
	}
	return &ZKQueue{
		e: opts.Engine, zkCfg: cfg.ZK.Service, dir: path.Join(cfg.ZK.Paths.LoadQueue, name),
		log: log, poll: poll, drain: drain, m: m, kick: make(chan struct{}, 1), entries: map[string]*zkEntry{},
	}, nil
}

// Path is the Druid path of the queue's directory, <loadQueuePath>/<host:port> (below the configured chroot).
func (q *ZKQueue) Path() string { return q.dir }

// Run serves the queue until ctx ends, through ZooKeeper outages and session expiries. After ctx ends it takes
// no new request and, for at most ZKQueueOptions.DrainTimeout, deletes the znodes of requests that succeed
// meanwhile; a request that fails then (the engine stopping cancels it) or is still running keeps its znode, for
// the next start. It returns nil after ctx ends, and an error only when it cannot start (a second call, a bad
// connect string). Every goroutine Run starts has ended when it returns; requests still running in the engine
// call back into the queue when they finish, which then only records their outcome.
func (q *ZKQueue) Run(ctx context.Context) error {
	if !q.ran.CompareAndSwap(false, true) {
		return errors.New("loadqueue: ZKQueue.Run was already called; a ZKQueue runs once")
	}
	conn, err := zookeeper.Dial(q.zkCfg, q.log.Named("zk"), func(zk.State) { zkSignal(q.kick) })
	if err != nil {
		return fmt.Errorf("starting the ZooKeeper load queue %s: %w", q.dir, err)
	}
	q.conn.Store(conn)
	// A ZooKeeper call in progress when the drain time is over (ZooKeeper unreachable) must not hold Run:
	// closing the connection fails it at once.
	finished := make(chan struct{})
	drainOver := make(chan struct{})
	watchDone := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		defer close(watchDone)
		t := time.NewTimer(q.drain)
		defer t.Stop()
		select {
		case <-t.C:
			close(drainOver)
			conn.Close()
		case <-finished:
		}
	})
	defer func() {
		// The watch is told to end first, then waited for when it had started, so that it never outlives Run.
		close(finished)
		if !stopWatch() {
			<-watchDone
		}
		conn.Close()
		q.m.depth.Set(0)
	}()

	q.log.Info("taking load and drop requests from the ZooKeeper load queue", "path", q.dir, "zk", q.zkCfg.Host)
	var st zkRunState
	st.cversion = -1
	timer := time.NewTimer(0)
	defer timer.Stop()
	fast := 0
	for ctx.Err() == nil {
		if q.pass(conn, &st, false) {
			// The Coordinator answers a deletion by creating its next entry: look again soon, a few times.
			fast = 4
		}
		wait := q.poll
		if fast > 0 {
			wait = min(wait, 10*time.Millisecond<<(4-fast))
			fast--
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-q.kick:
		case <-timer.C:
		}
	}

	q.draining.Store(true)
	q.mu.Lock()
	for _, en := range q.entries {
		if en.state == zkWaiting {
			delete(q.entries, en.name) // never submitted: it stays in ZooKeeper for the next start
		}
	}
	q.mu.Unlock()
	for q.drainPending() {
		q.pass(conn, &st, true)
		timer.Reset(50 * time.Millisecond)
		select {
		case <-drainOver:
		case <-q.kick:
		case <-timer.C:
		}
		select {
		case <-drainOver:
			q.log.Info("stopped before every request of the ZooKeeper load queue finished; they stay in ZooKeeper and run again at the next start",
				"path", q.dir, "pending", q.pendingCount())
			return nil
		default:
		}
	}
	q.log.Info("stopped taking requests from the ZooKeeper load queue", "path", q.dir)
	return nil
}

// zkRunState is what the loop knows of the current session.
type zkRunState struct {
	sid      int64 // the session the rest refers to
	authed   bool
	ensured  bool  // the queue's directory exists in this session
	cversion int32 // the directory's child version at the last complete listing; -1 for none
}

// pass does one round of work and reports whether it deleted a znode. Without a session it does nothing: an
// outage only pauses the queue.
func (q *ZKQueue) pass(conn *zookeeper.Conn, st *zkRunState, draining bool) bool {
	if !conn.HasSession() {
		return false
	}
	if sid := conn.ZK().SessionID(); sid != st.sid {
		if st.sid != 0 {
			q.log.Info("new ZooKeeper session: the ZooKeeper load queue resumes", "session", fmt.Sprintf("0x%x", sid), "path", q.dir)
		}
		st.sid, st.ensured, st.cversion = sid, false, -1
	}
	if !st.authed {
		if err := conn.Authenticate(); err != nil {
			q.trouble("", err)
			return false
		}
		st.authed = true
	}
	if !st.ensured {
		if err := conn.EnsurePath(q.dir); err != nil {
			q.trouble("creating the ZooKeeper load queue's directory "+q.dir, err)
			return false
		}
		st.ensured = true
	}
	deleted, ok := q.deleteDone(conn)
	if !ok || draining {
		return deleted
	}
	if !q.list(conn, st) {
		return deleted
	}
	q.submitWaiting()
	more, _ := q.deleteDone(conn) // the malformed and noop children this listing found
	return deleted || more
}

// list reads the children created since the last listing, parses them and records them as waiting (or, when
// they cannot be parsed, as done). It reports false when ZooKeeper failed it.
func (q *ZKQueue) list(conn *zookeeper.Conn, st *zkRunState) bool {
	c, abs := conn.ZK(), conn.Path(q.dir)
	ok, stat, err := c.Exists(abs)
	if err != nil {
		q.trouble("looking at the ZooKeeper load queue "+q.dir, err)
		return false
	}
	if !ok {
		q.log.Warn("the ZooKeeper load queue's directory was deleted; creating it again", "path", q.dir)
		st.ensured, st.cversion = false, -1
		zkSignal(q.kick)
		return false
	}
	q.mu.Lock()
	relist := q.relist
	q.mu.Unlock()
	if stat.Cversion == st.cversion && !relist {
		return true
	}
	children, stat, err := c.Children(abs)
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			st.ensured, st.cversion = false, -1
		}
		q.trouble("listing the ZooKeeper load queue "+q.dir, err)
		return false
	}
	q.m.depth.Set(float64(len(children)))
	present := make(map[string]struct{}, len(children))
	for _, name := range children {
		present[name] = struct{}{}
	}
	var fresh []string
	q.mu.Lock()
	for name, en := range q.entries {
		// A waiting child the Coordinator took back, or a finished one already deleted, is forgotten; a running
		// one is kept until its status arrives (its delete then finds nothing).
		if _, ok := present[name]; !ok && en.state != zkRunning {
			delete(q.entries, name)
		}
	}
	for _, name := range children {
		if q.entries[name] == nil {
			fresh = append(fresh, name)
		}
	}
	q.relist = false
	q.mu.Unlock()

	read, err := q.fetch(conn, fresh)
	if err != nil {
		q.mu.Lock()
		q.relist = true
		q.mu.Unlock()
		q.trouble("reading the ZooKeeper load queue "+q.dir, err)
		return false
	}
	q.mu.Lock()
	for _, ch := range read {
		en := &zkEntry{name: ch.name, czxid: ch.czxid}
		req, err := parseZKRequest(ch.data)
		if err != nil {
			en.state = zkDone
			q.m.malformed.Inc()
			q.log.Error("a ZooKeeper load queue entry is not a load or drop request; deleting it and going on with the next one",
				"path", q.dir+"/"+ch.name, "error", err)
		} else {
			en.req = req
		}
		q.entries[ch.name] = en
	}
	q.mu.Unlock()
	st.cversion = stat.Cversion
	return true
}

// zkChild is a child's data as read.
type zkChild struct {
	name  string
	czxid int64
	data  []byte
}

// fetch reads the named children, pipelining the reads; children deleted meanwhile are left out.
func (q *ZKQueue) fetch(conn *zookeeper.Conn, names []string) ([]zkChild, error) {
	out := make([]zkChild, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, zkFetchParallel)
	var wg sync.WaitGroup
	for i, name := range names {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, stat, err := conn.ZK().Get(conn.Path(q.dir + "/" + name))
			switch {
			case errors.Is(err, zk.ErrNoNode):
			case err != nil:
				errs[i] = fmt.Errorf("reading %s: %w", q.dir+"/"+name, err)
			default:
				out[i] = zkChild{name: name, czxid: stat.Czxid, data: data}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(c zkChild) bool { return c.name == "" }), nil
}

// parseZKRequest reads one child's data: one change request, gzip or raw JSON (the Coordinator wrote raw).
func parseZKRequest(data []byte) (segments.ChangeRequest, error) {
	raw, err := zookeeper.DecodeZNode(data)
	if err != nil {
		return segments.ChangeRequest{}, err
	}
	if len(raw) == 0 {
		return segments.ChangeRequest{}, errors.New("the znode is empty; it should hold a change request's JSON")
	}
	var req segments.ChangeRequest
	if err := req.UnmarshalJSON(raw); err != nil {
		return segments.ChangeRequest{}, err
	}
	switch req.Action {
	case "":
		return segments.ChangeRequest{}, errors.New("the znode holds JSON null; it should hold a change request")
	case segments.ActionNoop:
		return req, nil // Druid's noop request completes at once, and its znode is deleted
	}
	return req, checkRequest(req)
}

// submitWaiting submits waiting entries in creation order while fewer than NumLoadingThreads run.
func (q *ZKQueue) submitWaiting() {
	q.mu.Lock()
	var waiting []*zkEntry
	for _, en := range q.entries {
		if en.state == zkWaiting {
			waiting = append(waiting, en)
		}
	}
	// The Coordinator created its entries one after another: run them in that order.
	slices.SortFunc(waiting, func(a, b *zkEntry) int { return cmp.Compare(a.czxid, b.czxid) })
	var submit []*zkEntry
	for _, en := range waiting {
		if en.req.Action == segments.ActionNoop {
			en.state = zkDone
			q.m.requests(segments.ActionNoop, true)
			continue
		}
		if q.running >= q.e.NumLoadingThreads() {
			break
		}
		en.state = zkRunning
		q.running++
		submit = append(submit, en)
	}
	q.m.inFlight.Set(float64(q.running))
	q.mu.Unlock()

	for i, en := range submit {
		err := q.e.submit(en.req, segments.NormalLoading, func(s segments.ChangeStatus) { q.finished(en, s) })
		if err == nil {
			continue
		}
		q.mu.Lock()
		if errors.Is(err, ErrStopped) {
			// The engine is shutting down: this entry and the ones after it wait in ZooKeeper for the next start.
			for _, later := range submit[i:] {
				later.state = zkWaiting
				q.running--
			}
			q.m.inFlight.Set(float64(q.running))
			q.mu.Unlock()
			q.log.Debug("the load engine is stopping; ZooKeeper load queue entries wait for the next start", "path", q.dir)
			return
		}
		en.state = zkDone
		q.running--
		q.m.inFlight.Set(float64(q.running))
		q.m.malformed.Inc()
		q.mu.Unlock()
		q.log.Error("a ZooKeeper load queue entry cannot be carried out; deleting it and going on with the next one",
			"path", q.dir+"/"+en.name, "error", err)
	}
}

// finished takes a request's status: its znode is to be deleted, on success and on failure alike, except for a
// failure while Run stops or the engine cancels its work for shutdown, which is an interruption, not an outcome:
// that znode stays for the next start.
func (q *ZKQueue) finished(en *zkEntry, s segments.ChangeStatus) {
	ok := s.State == segments.ChangeSuccess
	q.m.requests(en.req.Action, ok)
	interrupted := !ok && (q.draining.Load() || q.e.base.Err() != nil)
	q.mu.Lock()
	q.running--
	q.m.inFlight.Set(float64(q.running))
	if interrupted {
		if q.entries[en.name] == en {
			delete(q.entries, en.name)
		}
		q.relist = true
	} else {
		en.state = zkDone
	}
	q.mu.Unlock()
	switch {
	case interrupted:
		q.log.Info("a ZooKeeper load queue request was interrupted by the shutdown; its znode stays for the next start",
			"path", q.dir+"/"+en.name, "action", string(en.req.Action))
	case ok:
		q.log.Debug("ZooKeeper load queue request done", "path", q.dir+"/"+en.name, "action", string(en.req.Action))
	default:
		q.log.Debug("ZooKeeper load queue request failed; deleting its znode as Druid does", "path", q.dir+"/"+en.name,
			"action", string(en.req.Action), "cause", s.FailureCause)
	}
	zkSignal(q.kick)
}

// deleteDone deletes the znodes of finished and malformed entries. It reports whether it deleted one, and false
// as ok when ZooKeeper became unreachable (the rest is retried at a later pass).
func (q *ZKQueue) deleteDone(conn *zookeeper.Conn) (deleted, ok bool) {
	q.mu.Lock()
	var done []*zkEntry
	for _, en := range q.entries {
		if en.state == zkDone {
			done = append(done, en)
		}
	}
	q.mu.Unlock()
	c := conn.ZK()
	for _, en := range done {
		p := conn.Path(q.dir + "/" + en.name)
		exists, stat, err := c.Exists(p)
		if err == nil && exists && stat.Czxid == en.czxid {
			err = c.Delete(p, -1)
			if err == nil {
				deleted = true
			}
		}
		switch {
		case err == nil || errors.Is(err, zk.ErrNoNode):
			q.mu.Lock()
			if q.entries[en.name] == en {
				delete(q.entries, en.name)
			}
			if exists && stat.Czxid != en.czxid {
				q.relist = true // a new request under the same name: the next listing reads it
			}
			q.mu.Unlock()
		case zookeeper.IsConnectionError(err):
			q.log.Debug("ZooKeeper is unreachable; deleting the finished load queue entries later", "error", err)
			return deleted, false
		default:
			// ZooKeeper answered with a refusal (an ACL, say): keep retrying, and say it once per entry.
			q.mu.Lock()
			first := !en.warned
			en.warned = true
			q.mu.Unlock()
			if first {
				q.log.Warn("cannot delete a finished ZooKeeper load queue entry; retrying", "path", q.dir+"/"+en.name, "error", err)
			}
		}
	}
	return deleted, true
}

// drainPending reports whether requests are running or znodes wait to be deleted.
func (q *ZKQueue) drainPending() bool { return q.pendingCount() > 0 }

func (q *ZKQueue) pendingCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, en := range q.entries {
		if en.state != zkWaiting {
			n++
		}
	}
	return n
}

// trouble logs a ZooKeeper failure: lost connections at debug level (go-zookeeper and the pause say enough), other
// failures at warning level, a repeat of the same message within a minute at debug level.
func (q *ZKQueue) trouble(what string, err error) {
	msg := err.Error()
	if what != "" {
		msg = what + ": " + msg
	}
	if zookeeper.IsConnectionError(err) {
		q.log.Debug("ZooKeeper is unreachable; the load queue waits", "error", msg)
		return
	}
	q.mu.Lock()
	repeat := q.warned == msg && time.Since(q.warnAt) < time.Minute
	if !repeat {
		q.warned, q.warnAt = msg, time.Now()
	}
	q.mu.Unlock()
	if repeat {
		q.log.Debug("the ZooKeeper load queue is still failing; retrying", "error", msg)
		return
	}
	q.log.Warn("the ZooKeeper load queue failed; retrying", "error", msg)
}

// ---- metrics ---------------------------------------------------------------------------------------------------

// zkQueueMetrics are the ZooKeeper load queue's collectors (ZKQueueOptions.Registerer receives them as one
// Collector). No label is a segment:
//
//   - druid_sidecar_zk_load_queue_requests_total{action,outcome}: requests finished, action load, drop or noop,
//     outcome success or failure;
//   - druid_sidecar_zk_load_queue_malformed_total: entries deleted without running because they are not a load or
//     drop request;
//   - druid_sidecar_zk_load_queue_depth: entries in the queue at the last listing (Druid's segment/loadQueue/count
//     as the Coordinator saw it);
//   - druid_sidecar_zk_load_queue_in_flight: entries submitted to the engine and not finished.
type zkQueueMetrics struct {
	promx.Collector
	byOutcome map[segments.Action][2]prometheus.Counter // [failure, success]
	malformed prometheus.Counter
	depth     prometheus.Gauge
	inFlight  prometheus.Gauge
}

func newZKQueueMetrics() *zkQueueMetrics {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "druid_sidecar_zk_load_queue_requests_total", Help: "ZooKeeper load queue requests finished, by action and outcome.",
	}, []string{"action", "outcome"})
	m := &zkQueueMetrics{
		byOutcome: map[segments.Action][2]prometheus.Counter{},
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "druid_sidecar_zk_load_queue_malformed_total",
			Help: "ZooKeeper load queue entries deleted unrun because they are not a load or drop request.",
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "druid_sidecar_zk_load_queue_depth", Help: "Entries in this server's ZooKeeper load queue at the last listing.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "druid_sidecar_zk_load_queue_in_flight", Help: "ZooKeeper load queue requests running.",
		}),
	}
	for _, a := range []segments.Action{segments.ActionLoad, segments.ActionDrop, segments.ActionNoop} {
		m.byOutcome[a] = [2]prometheus.Counter{reqs.WithLabelValues(string(a), "failure"), reqs.WithLabelValues(string(a), "success")}
	}
	m.Collector = promx.New(reqs, m.malformed, m.depth, m.inFlight)
	return m
}

func (m *zkQueueMetrics) requests(a segments.Action, ok bool) {
	c, known := m.byOutcome[a]
	if !known {
		return
	}
	if ok {
		c[1].Inc()
	} else {
		c[0].Inc()
	}
}

// zkSignal wakes a loop waiting on ch without blocking.
func zkSignal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
