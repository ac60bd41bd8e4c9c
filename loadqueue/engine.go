// Package loadqueue is the load/drop engine of a data server: it carries out the Coordinator's load and drop
// requests (pull into the segment cache, make the segment queryable, announce it; or unannounce and drop it) on
// bounded pools, and serves them over HTTP as Druid's SegmentListerResource and SegmentLoadDropHandler do
// (POST /druid-internal/v1/segments/changeRequests, GET /druid-internal/v1/segments/loadCapabilities).
//
// The engine (Submit) is independent of the transport, so that a ZooKeeper load-queue watcher (Coordinators up to
// 29) can drive it as the HTTP handler does.
package loadqueue

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Announcer announces and unannounces served segments: in ZooKeeper and in the HTTP segment inventory. The
// ZooKeeper *announcer.Announcer satisfies it. Both calls must be idempotent (announcing an announced segment and
// unannouncing an absent one do nothing) and return once the change is visible.
type Announcer interface {
	AnnounceSegments(ctx context.Context, segs ...*segments.DataSegment) error
	UnannounceSegments(ctx context.Context, segs ...*segments.DataSegment) error
}

// QueueingAnnouncer is an Announcer that can announce a segment without waiting for ZooKeeper to confirm its batch
// znode: QueueSegments returns once the segment is in the HTTP segment inventory, its znode written right after
// (*announcer.Announcer). A load is then announced so, as Java's announcer writes its batch znodes in the background
// (Curator's inBackground) and answers the load's SUCCESS once the change history has it; waiting for ZooKeeper
// would add a round trip to every load, and with loads ending one after another, a wait for the pass in flight.
type QueueingAnnouncer interface {
	Announcer
	QueueSegments(segs ...*segments.DataSegment) error
}

// Hook is the local segment server's part of a load or a drop: for a load it is called with the segment's cache
// directory once the files are in place and before the segment is announced (a non-nil error fails the load, which
// is then rolled back); for a drop it is called with dir "" after the segment is unannounced.
type Hook func(ctx context.Context, action segments.Action, seg *segments.DataSegment, dir string) error

// ErrStopped is the error of a Submit after Stop has begun.
var ErrStopped = errors.New("the load queue is shutting down and takes no new requests")

// errShutdown is the cause of work canceled because Stop's deadline passed.
var errShutdown = errors.New("the load was canceled because the server is shutting down")

// Options are an Engine's collaborators and limits.
type Options struct {
	// Cache is the segment cache segments are loaded into and dropped from. Required.
	Cache *segcache.Cache
	// Puller fetches a segment's files (a *deepstorage.Puller). Required.
	Puller segcache.Puller
	// Announcer announces loaded segments and unannounces dropped ones. Required.
	Announcer Announcer
	// Hook is the local segment server's hook; nil means none.
	Hook Hook
	// Logger; nil discards.
	Logger hclog.Logger
	// NumLoadingThreads bounds concurrent NORMAL loads (druid.segmentCache.numLoadingThreads); NumTurboThreads
	// bounds concurrent TURBO loads (druid.segmentCache.numBootstrapThreads). Values below 1 mean 1.
	NumLoadingThreads, NumTurboThreads int
	// StatusQueueMaxSize is the size of the HTTP handler's status cache (druid.segmentCache.statusQueueMaxSize);
	// below 1 means 100, Druid's default.
	StatusQueueMaxSize int
	// MaxRequestBytes bounds one changeRequests body (druid.sidecar.http.changeRequests.maxRequestBytes; 413
	// beyond); MaxInflightBytes bounds what the bodies being read or held take together, their decoded requests
	// included (druid.sidecar.http.changeRequests.maxInflightBytes; 503 beyond). Below 1 means
	// DefaultMaxRequestBytes and DefaultMaxInflightBytes; MaxRequestBytes is at most MaxInflightBytes.
	MaxRequestBytes, MaxInflightBytes int64
	// Registerer receives the engine's metrics (see metrics.go for the list); nil registers nothing. New fails if
	// it refuses them (one Engine per registry).
	Registerer prometheus.Registerer
}

// Engine runs loads and drops. Requests for one segment are serialized and coalesced: a load submitted while a
// load of the segment is queued or running shares its outcome; a drop submitted during a load runs once the load
// has ended, so that the load answers SUCCESS and the drop then undoes it (a load still waiting for a thread is
// skipped, answering SUCCESS, as the drop leaves the segment as it would after it); a load submitted during a drop
// runs after the drop (and takes the segment back from the cache's delayed deletion). Work waits in queues and runs
// on the pools' threads (goroutines), so that a batch of any size costs memory in proportion to its requests, not a
// goroutine each. It is safe for concurrent use.
type Engine struct {
	cache     *segcache.Cache
	puller    segcache.Puller
	announcer Announcer
	hook      Hook
	log       hclog.Logger
	normal    *pool // NORMAL loads
	turbo     *pool // TURBO loads
	drops     *pool
	statusMax int
	metrics   *metrics

	base       context.Context // canceled when Stop's deadline passes
	cancelBase context.CancelCauseFunc

	mu       sync.Mutex                 // guards the fields below, the pools and the ops' fields marked so
	ops      map[segments.SegmentID]*op // the latest op of each segment with one queued or running
	busy     map[string]bool            // the string forms of ops' keys, for Busy, which a periodic audit asks of each segment
	served   map[segments.SegmentID]bool
	stopping bool
	stopCh   chan struct{} // closed when Stop begins
	work     sync.WaitGroup

	http *handler
}

// dropThreads is the size of the drop pool. A drop is short (an unannouncement, the local segment server's drop,
// a scheduled deletion) and Java runs a batch's drops one after another on the request's thread; a few threads
// keep one drop stuck in the upstream hook from holding up every other.
const dropThreads = 4

// op is one load or drop of a segment; requests that coalesce into it share its outcome. Its fields other than
// action, seg and mode are guarded by Engine.mu.
type op struct {
	action  segments.Action
	seg     *segments.DataSegment
	mode    segments.LoadingMode
	next    *op           // the op of the same segment that runs after this one, or nil
	elem    *list.Element // the op's place in its pool's queue while it waits there
	started bool
	skip    bool                          // a load a drop of its segment overtook before it started: it ends at once, SUCCESS
	subs    []func(segments.ChangeStatus) // called once, when the op ends
}

// pool runs queued ops on at most size goroutines, started as ops arrive and ended when the queue is empty: an idle
// pool holds no goroutine, a busy one size of them whatever the length of its queue. Guarded by Engine.mu.
type pool struct {
	size    int
	running int
	queue   list.List // of *op, oldest first
}

// Busy reports whether a load or drop of the segment with this id (its string form) is queued or running.
func (e *Engine) Busy(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.busy[id]
}

// New makes an Engine.
func New(opts Options) (*Engine, error) {
	var missing []string
	if opts.Cache == nil {
		missing = append(missing, "Cache")
	}
	if opts.Puller == nil {
		missing = append(missing, "Puller")
	}
	if opts.Announcer == nil {
		missing = append(missing, "Announcer")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("loadqueue: New needs %v", missing)
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	n, t := max(1, opts.NumLoadingThreads), max(1, opts.NumTurboThreads)
	size := opts.StatusQueueMaxSize
	if size < 1 {
		size = 100
	}
	m := newMetrics()
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(m); err != nil {
			return nil, fmt.Errorf("loadqueue: registering the metrics: %w", err)
		}
	}
	base, cancel := context.WithCancelCause(context.Background())
	e := &Engine{
		cache: opts.Cache, puller: opts.Puller, announcer: opts.Announcer, hook: opts.Hook, log: log,
		normal: &pool{size: n}, turbo: &pool{size: t}, drops: &pool{size: dropThreads}, statusMax: size, metrics: m,
		base: base, cancelBase: cancel,
		ops: map[segments.SegmentID]*op{}, busy: map[string]bool{}, served: map[segments.SegmentID]bool{}, stopCh: make(chan struct{}),
	}
	inflight := opts.MaxInflightBytes
	if inflight < 1 {
		inflight = DefaultMaxInflightBytes
	}
	request := opts.MaxRequestBytes
	if request < 1 {
		request = DefaultMaxRequestBytes
	}
	e.http = newHandler(e, min(request, inflight), inflight)
	return e, nil
}

// NumLoadingThreads and NumTurboThreads are the sizes of the pools, as loadCapabilities reports them.
func (e *Engine) NumLoadingThreads() int { return e.normal.size }

// NumTurboThreads is the size of the TURBO pool.
func (e *Engine) NumTurboThreads() int { return e.turbo.size }

// Submit starts a load or a drop (or joins the one of the same segment in progress) and returns a channel that
// receives its final status (SUCCESS or FAILED) once. mode picks the pool of a load ("" means NORMAL) and is
// ignored for a drop. It fails for requests other than load and drop, for a request without a segment, and after
// Stop has begun (ErrStopped).
func (e *Engine) Submit(req segments.ChangeRequest, mode segments.LoadingMode) (<-chan segments.ChangeStatus, error) {
	ch := make(chan segments.ChangeStatus, 1)
	err := e.submit(req, mode, func(s segments.ChangeStatus) { ch <- s })
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// submit is Submit with a callback, called once (from another goroutine, or from this one for an op already done).
func (e *Engine) submit(req segments.ChangeRequest, mode segments.LoadingMode, sub func(segments.ChangeStatus)) error {
	if err := checkRequest(req); err != nil {
		return err
	}
	if mode == "" {
		mode = segments.NormalLoading
	}
	if mode != segments.NormalLoading && mode != segments.TurboLoading {
		return fmt.Errorf("loading mode %q is unknown; expected NORMAL or TURBO", string(mode))
	}
	id := req.Segment.ID()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return ErrStopped
	}
	cur := e.ops[id]
	if cur != nil && cur.action == req.Action {
		cur.subs = append(cur.subs, sub)
		return nil
	}
	o := &op{action: req.Action, seg: req.Segment, subs: []func(segments.ChangeStatus){sub}}
	if req.Action == segments.ActionLoad {
		o.mode = mode
		e.metrics.queued.Inc()
	}
	e.ops[id] = o
	if cur == nil {
		e.busy[id.String()] = true
	}
	e.work.Add(1)
	if cur == nil {
		e.readyLocked(o)
		return nil
	}
	cur.next = o
	// cur is then a load, and the Coordinator changed its mind. A load in progress is not canceled: it ends (as
	// Druid's would, whose Coordinator would alert on a FAILED load) and the drop then undoes it. One not started
	// yet is pointless: it answers SUCCESS without loading, and the drop after it leaves the segment as it would
	// have after the load.
	if req.Action == segments.ActionDrop && !cur.started {
		cur.skip = true
		if cur.elem != nil {
			// Ended on a drop thread at once, rather than at its turn in the load queue.
			e.loadPool(cur.mode).queue.Remove(cur.elem)
			e.metrics.waiting.Dec()
			e.queueLocked(e.drops, cur)
		}
	}
	return nil
}

// readyLocked queues an op whose turn has come (no earlier op of its segment is left) in its pool, and starts a
// thread of the pool if one is free.
func (e *Engine) readyLocked(o *op) {
	p := e.drops // drops, and loads to skip, which end at once
	if o.action == segments.ActionLoad && !o.skip {
		p = e.loadPool(o.mode)
		e.metrics.waiting.Inc()
	}
	e.queueLocked(p, o)
}

func (e *Engine) loadPool(mode segments.LoadingMode) *pool {
	if mode == segments.TurboLoading {
		return e.turbo
	}
	return e.normal
}

// queueLocked appends o to p's queue and starts a thread of p if one is free.
func (e *Engine) queueLocked(p *pool, o *op) {
	o.elem = p.queue.PushBack(o)
	if p.running < p.size {
		p.running++
		go e.worker(p)
	}
}

// worker is a thread of pool p: it runs the queued ops one after another and ends when the queue is empty.
func (e *Engine) worker(p *pool) {
	for {
		e.mu.Lock()
		front := p.queue.Front()
		if front == nil {
			p.running--
			e.mu.Unlock()
			return
		}
		o := p.queue.Remove(front).(*op)
		if o.action == segments.ActionLoad && p != e.drops {
			e.metrics.waiting.Dec()
		}
		o.elem, o.started = nil, true
		skip := o.skip
		e.mu.Unlock()
		e.run(o, skip)
	}
}

// checkRequest rejects what the engine cannot carry out.
func checkRequest(req segments.ChangeRequest) error {
	switch req.Action {
	case segments.ActionLoad, segments.ActionDrop:
		if req.Segment == nil {
			return fmt.Errorf("the %s request has no segment", req.Action)
		}
		return nil
	case segments.ActionNoop:
		return errors.New(`a "noop" change request is not a load or a drop; the Coordinator sends only load and drop requests to a data server`)
	case segments.ActionSchema:
		return errors.New(`a "schema" change request is not a load or a drop; only realtime tasks publish schema changes, and a data server does not take them`)
	}
	return fmt.Errorf("change request action %q is unknown; a data server takes load and drop requests", string(req.Action))
}

// run carries out an op on a pool's thread (or skips a load a drop overtook), then hands its turn to the next op of
// the segment and its status to its subscribers.
func (e *Engine) run(o *op, skip bool) {
	defer e.work.Done()
	ctx, cancel := context.WithCancel(e.base)
	defer cancel()
	id := o.seg.ID()
	var st segments.ChangeStatus
	switch {
	case skip:
		// Not counted as a load: nothing was loaded.
		e.metrics.queued.Dec()
		st = segments.ChangeStatus{State: segments.ChangeSuccess, LoadingMode: o.mode}
		e.log.Debug("segment load skipped: a drop of the segment arrived before it started", "segment", id.String())
	case o.action == segments.ActionLoad:
		st = e.load(ctx, id, o)
	default:
		st = e.drop(ctx, id, o)
	}
	e.mu.Lock()
	if e.ops[id] == o {
		delete(e.ops, id)
		delete(e.busy, id.String())
	}
	if o.next != nil {
		e.readyLocked(o.next)
	}
	subs := o.subs
	o.subs = nil
	e.mu.Unlock()
	for _, s := range subs {
		s(st)
	}
}

func failed(mode segments.LoadingMode, err error) segments.ChangeStatus {
	return segments.ChangeStatus{State: segments.ChangeFailed, FailureCause: failureCause(err), LoadingMode: mode}
}

// maxFailureCause bounds the cause sent back to the Coordinator, which logs it and keeps it in its load queue
// status: an error quoting a hostile 1 MB dataSource name must not travel whole.
const maxFailureCause = 2048

func failureCause(err error) string { return safetext.Cap(err.Error(), maxFailureCause) }

// load carries out a load: pull into the cache, the hook, the announcement. A failure undoes what this load did.
func (e *Engine) load(ctx context.Context, id segments.SegmentID, o *op) (st segments.ChangeStatus) {
	defer e.metrics.queued.Dec()
	if err := ctx.Err(); err != nil {
		e.metrics.loads(false)
		return failed(o.mode, context.Cause(ctx))
	}
	start := time.Now()
	defer func() {
		e.metrics.loads(st.State == segments.ChangeSuccess)
		if st.State == segments.ChangeSuccess {
			e.metrics.loadDuration.Observe(time.Since(start).Seconds())
		}
	}()

	e.mu.Lock()
	wasServed := e.served[id]
	e.mu.Unlock()
	prev := e.cache.Segment(id)
	dir, err := e.cache.Load(ctx, o.seg, countingPuller{e.puller, e.metrics})
	if err != nil {
		err = e.explain(ctx, err)
		e.log.Warn("segment load failed", "segment", id.String(), "error", err)
		return failed(o.mode, err)
	}
	if e.hook != nil {
		if err = e.hook(ctx, segments.ActionLoad, o.seg, dir); err != nil {
			err = fmt.Errorf("the local segment server did not take segment %s: %w", id, err)
		}
	}
	if err == nil && prev != nil && !segments.SameAnnouncedFingerprint(prev, o.seg) {
		// A loaded segment asked for under another partial-load rule (Druid 38+'s additive reload): the Coordinator
		// counts this replica as stale until it is announced with the new fingerprint, and an announced segment is
		// not announced twice, so the old announcement is withdrawn first.
		if err = e.announcer.UnannounceSegments(ctx, prev); err != nil {
			err = fmt.Errorf("withdrawing the announcement of segment %s under its former load spec: %w", id, e.explain(ctx, err))
		}
	}
	if err == nil {
		if q, ok := e.announcer.(QueueingAnnouncer); ok {
			err = q.QueueSegments(o.seg)
		} else {
			err = e.announcer.AnnounceSegments(ctx, o.seg)
		}
		if err != nil {
			err = fmt.Errorf("announcing segment %s: %w", id, e.explain(ctx, err))
		}
	}
	if err != nil {
		if !wasServed {
			err = errors.Join(err, e.rollback(o.seg))
		}
		e.log.Warn("segment load failed", "segment", id.String(), "error", err)
		return failed(o.mode, err)
	}
	e.mu.Lock()
	e.served[id] = true
	e.mu.Unlock()
	e.log.Debug("segment loaded", "segment", id.String(), "dir", dir, "mode", string(o.mode))
	return segments.ChangeStatus{State: segments.ChangeSuccess, LoadingMode: o.mode}
}

// explain replaces a bare context error by the cause of the cancellation.
func (e *Engine) explain(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			return fmt.Errorf("%w: %w", cause, err)
		}
	}
	return err
}

// rollback undoes a load that did not complete: unannounce (the announcement may have reached ZooKeeper although
// the call failed), tell the segment server, drop from the cache. It runs on its own bounded context, as the load's
// may be canceled.
func (e *Engine) rollback(seg *segments.DataSegment) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if err := e.announcer.UnannounceSegments(ctx, seg); err != nil {
		errs = append(errs, fmt.Errorf("rolling back: unannouncing: %w", err))
	}
	if e.hook != nil {
		if err := e.hook(ctx, segments.ActionDrop, seg, ""); err != nil {
			errs = append(errs, fmt.Errorf("rolling back: the local segment server's drop: %w", err))
		}
	}
	if err := e.cache.Drop(seg); err != nil {
		errs = append(errs, fmt.Errorf("rolling back: %w", err))
	}
	return errors.Join(errs...)
}

// drop carries out a drop: unannounce, the hook, then the cache (whose files go after the drop delay). Every step
// runs even if an earlier one failed; the status is FAILED with every cause then, and a resend retries.
func (e *Engine) drop(ctx context.Context, id segments.SegmentID, o *op) segments.ChangeStatus {
	var errs []error
	if err := e.announcer.UnannounceSegments(ctx, o.seg); err != nil {
		errs = append(errs, fmt.Errorf("unannouncing segment %s: %w", id, e.explain(ctx, err)))
	}
	if e.hook != nil {
		if err := e.hook(ctx, segments.ActionDrop, o.seg, ""); err != nil {
			errs = append(errs, fmt.Errorf("the local segment server did not drop segment %s: %w", id, err))
		}
	}
	if err := e.cache.Drop(o.seg); err != nil {
		errs = append(errs, err)
	}
	e.mu.Lock()
	delete(e.served, id)
	e.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		e.metrics.drops(false)
		e.log.Warn("segment drop failed", "segment", id.String(), "error", err)
		return segments.ChangeStatus{State: segments.ChangeFailed, FailureCause: failureCause(err)}
	}
	e.metrics.drops(true)
	e.log.Debug("segment dropped", "segment", id.String())
	return segments.ChangeStatus{State: segments.ChangeSuccess}
}

// Stop refuses new requests (Submit returns ErrStopped, the HTTP handler answers 503), answers held
// changeRequests at once, and waits for the loads and drops in progress. When ctx ends first it cancels them (each
// rolls back) and waits for them to return; the error then says so.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.stopping {
		e.stopping = true
		close(e.stopCh)
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.work.Wait(); close(done) }()
	select {
	case <-done:
		e.cancelBase(errShutdown)
		return nil
	case <-ctx.Done():
	}
	e.cancelBase(errShutdown)
	<-done
	return fmt.Errorf("stopping the load queue: loads still running were canceled: %w", context.Cause(ctx))
}

// countingPuller counts the bytes pulled.
type countingPuller struct {
	p segcache.Puller
	m *metrics
}

func (c countingPuller) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	n, err := c.p.PullSegment(ctx, seg, dir, maxBytes)
	if err == nil {
		c.m.pulledBytes.Add(float64(n))
	}
	return n, err
}
