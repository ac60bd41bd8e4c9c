package announcer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// ErrStopped is returned by calls made after Stop.
var ErrStopped = errors.New("announcer: stopped")

// SegmentHistory receives every segment change, whether or not it goes to ZooKeeper: the HTTP segment inventory
// (*inventory.Inventory) implements it. Loads are the load announcements (segments.LoadAnnouncement) of the segments
// as given, carrying the announced (transformed) copy; drops carry the segment as given.
type SegmentHistory interface {
	AnnounceLoads(loads []segments.ChangeRequest) error
	Unannounce(segs []*segments.DataSegment) error
}

// Option configures New.
type Option func(*options)

type options struct {
	log       hclog.Logger
	history   SegmentHistory
	labels    map[string]string
	startTime time.Time
	node      discovery.Announcer
	reg       prometheus.Registerer
}

// WithLogger sets the logger (hclog.NewNullLogger() by default); go-zookeeper's own lines go to it too.
func WithLogger(l hclog.Logger) Option { return func(o *options) { o.log = l } }

// WithInventory passes every segment change to h (normally the *Inventory that serves the HTTP protocol). A nil h
// (typed or not) means none.
func WithInventory(h SegmentHistory) Option { return func(o *options) { o.history = h } }

// WithLabels sets DruidNode.labels; without it labels is announced as null, as a Java node without labels does.
func WithLabels(labels map[string]string) Option {
	return func(o *options) { o.labels = labels }
}

// WithRegisterer registers the Announcer's metrics with r: druid_sidecar_announced_segments and, with ZooKeeper
// enabled, druid_sidecar_zk_connected, druid_sidecar_zk_reconnects_total, druid_sidecar_zk_reconnect_seconds and
// druid_sidecar_zk_session_expiries_total (see zookeeper.Stats). They are read from the Announcer at scrape time. Without
// it (or with a nil r) nothing is registered; New fails if r refuses them (one Announcer per registry).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithNodeAnnouncer announces the node through n instead of ZooKeeper's internal discovery (the default with
// ZooKeeper enabled): the seam for another discovery backend. WithLabels and WithStartTime then do not apply.
func WithNodeAnnouncer(n discovery.Announcer) Option { return func(o *options) { o.node = n } }

// WithStartTime sets the announced startTime (the time New is called by default).
func WithStartTime(t time.Time) Option { return func(o *options) { o.startTime = t } }

// Announcer makes the process visible to a Druid cluster exactly as a Java Historical is over ZooKeeper: the
// internal-discovery node, the legacy server announcement, batch segment znodes and (behind
// druid.sidecar.announceServedSegments) the legacy per-segment znodes. Every change is also passed to the
// SegmentHistory.
//
// It keeps the desired ZooKeeper state in memory (path → bytes) and one goroutine makes ZooKeeper match it,
// pipelining requests. That same loop carries the announcements through any session loss:
//
//   - after a session expiry every announced znode is re-created, with the same bytes, as soon as the new session
//     exists;
//   - a znode found at one of our paths but owned by another session (a previous run of this process whose session
//     has not expired yet, or anything else) is deleted and re-created, rather than waited out for up to a session
//     timeout during which Druid would see stale data;
//   - a znode of ours deleted by someone else is re-created (the parent directories are watched);
//   - a request whose outcome a connection loss left unknown is simply retried: creates that find their node
//     already there, owned by our session, compare its bytes.
//
// Parents are created PERSISTENT with empty data when missing (Curator writes the host's IP there; nobody reads
// it) and never deleted: /druid/segments/<host:port> stays behind as Java leaves it, and the shared directories
// belong to the cluster.
//
// All methods are safe for concurrent use.
type Announcer struct {
	log      hclog.Logger
	history  SegmentHistory
	segsOnZK bool // batch znodes are written
	served   bool // legacy per-segment znodes are written
	xformDM  bool // druid.announcer.skipDimensionsAndMetrics
	xformLS  bool // druid.announcer.skipLoadSpec

	// serverAnn: the legacy server announcement (announcementsPath/<host:port>) is written, which Druid 38 removed
	// (druid.sidecar.legacyServerAnnouncement); segsStopped: segsOnZK no longer holds. Both change under mu, while
	// running (StopLegacyZNodes); segsOnZK itself stays as configured, since prepare reads it without the lock.
	serverAnn   bool
	segsStopped bool
	// held: HoldWrites is in force; changes are recorded (and the inventory has them) but the loop writes nothing.
	held bool

	serverPath, batchDir, servedDir string
	serverData                      []byte
	node                            discovery.Announcer // nil: the node is not announced (ZooKeeper disabled)

	zk *zookeeper.Conn // nil when druid.zk.service.enabled=false

	kick        chan struct{}
	sessionKick chan struct{}
	stop        chan struct{}
	wg          sync.WaitGroup

	mu       sync.Mutex
	segs     map[segments.SegmentID]*announced
	pack     *packer
	desired  map[string]*znode
	byDir    map[string]map[string]struct{} // desired children by parent directory
	watching map[string]bool
	applied  map[string]appliedNode // what exists in ZooKeeper in the current session, as far as we know
	dirty    map[string]struct{}
	gen      uint64 // bumped by every change of desired
	doneGen  uint64 // every change up to this one is in ZooKeeper
	doneCh   chan struct{}
	epoch    uint64 // bumped at every session change; results of an older epoch are discarded
	session  int64
	live     bool
	seq      uint64 // confirmations so far; appliedNode.seq orders them against directory listings
	stopped  bool
	resyncAt time.Time // when the current session began, while its first full pass runs
}

// znode is one desired znode's data; the encoded (gzip) form is computed once, so every re-creation writes the
// very same bytes.
//
// A batch znode's data is held as its segments' JSON (parts, written as a JSON array of size bytes) instead of
// raw: the array is only ever compressed, by the pass that writes it, so it is streamed into the compressor there,
// on the pass's goroutines, and never gathered under the announcer's lock (for a bootstrap of 100,000 segments
// that gathering was a copy of every segment's JSON, tens of megabytes, on one core).
type znode struct {
	raw   []byte
	parts [][]byte
	size  int
	once  sync.Once
	enc   []byte
}

func (z *znode) encoded(c *zookeeper.Conn) []byte {
	z.once.Do(func() {
		if z.parts == nil {
			z.enc = c.Encode(z.raw)
			return
		}
		z.enc = c.EncodeWith(z.size, func(w io.Writer) { writeJSONArray(w, z.parts) })
	})
	return z.enc
}

type appliedNode struct {
	z   *znode
	seq uint64
}

// New builds an Announcer for cfg. With ZooKeeper enabled it starts the client, which connects in the background
// and keeps reconnecting until Stop; nothing is written before the first Announce call.
func New(cfg *configs.Config, opts ...Option) (*Announcer, error) {
	o := options{log: hclog.NewNullLogger(), startTime: time.Now()}
	for _, opt := range opts {
		opt(&o)
	}
	if h := o.history; h != nil {
		if v := reflect.ValueOf(h); v.Kind() == reflect.Pointer && v.IsNil() {
			o.history = nil
		}
	}
	name := cfg.Node.HostAndPortToUse()
	if name == "" || cfg.Node.Host == "" {
		return nil, errors.New("announcer: the node has no host:port to announce: set druid.host and enable druid.plaintextPort or druid.enableTlsPort")
	}
	a := &Announcer{
		log:         o.log.Named("announcer"),
		history:     o.history,
		segsOnZK:    cfg.ZK.Enabled && !cfg.Announcer.SkipSegmentAnnouncementOnZK,
		serverAnn:   cfg.ZK.Enabled && cfg.Sidecar.LegacyServerAnnouncement,
		xformDM:     cfg.Announcer.SkipDimensionsAndMetrics,
		xformLS:     cfg.Announcer.SkipLoadSpec,
		serverPath:  path.Join(cfg.ZK.Paths.Announcements, name),
		batchDir:    path.Join(cfg.ZK.Paths.LiveSegments, name),
		servedDir:   path.Join(cfg.ZK.Paths.ServedSegments, name),
		serverData:  serverMetadataJSON(cfg),
		kick:        make(chan struct{}, 1),
		sessionKick: make(chan struct{}, 1),
		stop:        make(chan struct{}),
		segs:        map[segments.SegmentID]*announced{},
		desired:     map[string]*znode{},
		byDir:       map[string]map[string]struct{}{},
		watching:    map[string]bool{},
		applied:     map[string]appliedNode{},
		dirty:       map[string]struct{}{},
		doneCh:      make(chan struct{}),
	}
	a.served = a.segsOnZK && cfg.Sidecar.AnnounceServedSegments
	a.pack = newPacker(cfg.Node.HostAndPort(), discovery.ServerTypeHistorical, cfg.Server.Tier,
		cfg.Announcer.SegmentsPerNode, cfg.Announcer.MaxBytesPerNode, time.Now)
	if cfg.ZK.Enabled {
		c, err := zookeeper.Dial(cfg.ZK.Service, a.log.Named("zk"), func(zk.State) { signal(a.sessionKick) })
		if err != nil {
			return nil, fmt.Errorf("announcer: %w", err)
		}
		a.zk = c
	}
	// The node's discovery znode is kept by this Announcer, in the session of its segments, as Java keeps both.
	switch {
	case o.node != nil:
		a.node = o.node
	case a.zk != nil:
		a.node = discovery.NewZooKeeperAnnouncer(a, cfg, discovery.RoleHistorical,
			discovery.HistoricalNodeJSON(cfg, o.startTime, o.labels))
	}
	if o.reg != nil {
		if err := o.reg.Register(collector(a)); err != nil {
			if a.zk != nil {
				a.zk.Close()
			}
			return nil, fmt.Errorf("announcer: registering the metrics: %w", err)
		}
	}
	if a.zk != nil {
		a.wg.Add(1)
		go a.run()
	}
	return a, nil
}

// ZKStats returns the ZooKeeper session metrics (all zero with ZooKeeper disabled).
func (a *Announcer) ZKStats() zookeeper.Stats {
	if a.zk == nil {
		return zookeeper.Stats{}
	}
	return a.zk.Stats()
}

// AnnounceNode writes the legacy server announcement (with ZooKeeper, up to Druid 37), then announces the node
// through discovery (the announcement that makes Brokers and Coordinators find this server), and returns once both
// are done. Call it when the HTTP endpoints serve and the inventory is complete. With neither ZooKeeper nor a node
// announcer it does nothing.
func (a *Announcer) AnnounceNode(ctx context.Context) error {
	if err := a.checkStopped(); err != nil {
		return err
	}
	a.releaseWrites()
	if a.zk != nil {
		if err := a.change(ctx, func() {
			if a.serverAnn {
				a.setDesired(a.serverPath, a.serverData)
			}
		}); err != nil {
			return err
		}
	}
	if a.node == nil {
		return a.checkStopped()
	}
	return a.node.Announce(ctx)
}

// HoldWrites keeps every znode change made from now on in memory, unwritten, until AnnounceNode (or Stop) writes
// them; the segments announced meanwhile are in the inventory at once. Java's Historical does the same during its
// bootstrap: its ZooKeeper announcer starts only after readiness, so the segment znodes the bootstrap announces are
// queued until then, and the cache read never shares the cores with their compression and creates. A change whose
// caller waits for ZooKeeper (AnnounceSegments) waits until the hold ends.
func (a *Announcer) HoldWrites() {
	a.mu.Lock()
	a.held = true
	a.mu.Unlock()
}

// releaseWrites ends HoldWrites and wakes the loop to write what was held.
func (a *Announcer) releaseWrites() {
	a.mu.Lock()
	was := a.held
	a.held = false
	a.mu.Unlock()
	if was {
		signal(a.kick)
	}
}

// UnannounceNode withdraws the node from discovery, then removes the legacy server announcement.
func (a *Announcer) UnannounceNode(ctx context.Context) error {
	if err := a.checkStopped(); err != nil {
		return err
	}
	if a.node != nil {
		if err := a.node.Unannounce(ctx); err != nil {
			return err
		}
	}
	if a.zk == nil {
		return a.checkStopped()
	}
	return a.change(ctx, func() { a.setDesired(a.serverPath, nil) })
}

// KeepZNode keeps an ephemeral znode at the Druid path p holding data in this Announcer's session, re-created
// through session losses like every znode it announces, and returns once ZooKeeper holds it
// (discovery.ZNodeKeeper).
func (a *Announcer) KeepZNode(ctx context.Context, p string, data []byte) error {
	if a.zk == nil {
		return errors.New("announcer: ZooKeeper is disabled (druid.zk.service.enabled=false)")
	}
	return a.change(ctx, func() { a.setDesired(p, data) })
}

// DropZNode deletes the znode KeepZNode keeps at p.
func (a *Announcer) DropZNode(ctx context.Context, p string) error {
	if a.zk == nil {
		return a.checkStopped()
	}
	return a.change(ctx, func() { a.setDesired(p, nil) })
}

// AnnounceSegments announces segments not announced yet (others, and repeats within the call, are skipped) and
// returns once ZooKeeper holds them. One new segment is placed as Java's announceSegment places it, several as its
// bootstrap announceSegments does. A segment that cannot be announced (its JSON reaches maxBytesPerNode) is
// reported in the error and the others are announced.
//
// If ctx ends first the error says so, but the change stands: it is in the history and will reach ZooKeeper as
// soon as ZooKeeper answers.
func (a *Announcer) AnnounceSegments(ctx context.Context, segs ...*segments.DataSegment) error {
	ticket, errs := a.announceSegments(segs)
	if ticket == 0 {
		return errors.Join(errs...)
	}
	return errors.Join(append(errs, a.wait(ctx, ticket))...)
}

// QueueSegments is AnnounceSegments without the wait for ZooKeeper: the segments are in the inventory when it
// returns, and their znodes are queued. AnnounceNode waits for them before it announces the node, as Java's
// bootstrap queues its segment znodes and flushes them before the node's discovery znode.
func (a *Announcer) QueueSegments(segs ...*segments.DataSegment) error {
	_, errs := a.announceSegments(segs)
	return errors.Join(errs...)
}

// announceSegments records segments and returns the ticket to wait for, 0 when stopped (ErrStopped is in errs).
func (a *Announcer) announceSegments(segs []*segments.DataSegment) (uint64, []error) {
	_, builds := a.history.(loadsJSONHistory)
	prepared, allLoads, errs := a.prepare(segs, a.history != nil, builds)
	ticket, err := a.record(func() {
		if len(a.segs) == 0 && len(prepared) > 1 {
			a.segs = make(map[segments.SegmentID]*announced, len(prepared)) // a bootstrap: sized once, not grown
		}
		fresh, loads := prepared[:0], allLoads[:0]
		for i, p := range prepared {
			id := p.orig.ID()
			if a.segs[id] != nil {
				continue
			}
			a.segs[id] = p
			fresh = append(fresh, p)
			if loads != nil {
				loads = append(loads, allLoads[i])
			}
		}
		if len(fresh) == 0 {
			return
		}
		if a.history != nil {
			var err error
			if h, ok := a.history.(loadsJSONHistory); ok {
				reqs := make([][]byte, len(fresh))
				for i, p := range fresh {
					reqs[i], p.req = p.req, nil
				}
				err = h.AnnounceLoadsJSON(loads, reqs)
			} else {
				err = a.history.AnnounceLoads(loads)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("announcer: recording the announcement in the segment inventory: %w", err))
			}
		}
		if !a.segsOnZK || a.segsStopped {
			return
		}
		var changed []*batch
		if len(fresh) == 1 {
			changed = []*batch{a.pack.placeOne(fresh[0])}
		} else {
			changed = a.pack.placeBulk(fresh)
		}
		for _, b := range changed {
			a.setBatch(b)
		}
		if a.served {
			for _, p := range fresh {
				a.setDesired(a.servedDir+"/"+p.orig.ID().String(), p.json)
			}
		}
	})
	if err != nil {
		return 0, append(errs, err)
	}
	return ticket, errs
}

// loadsJSONHistory is a SegmentHistory that takes load requests with their JSON built (*inventory.Inventory): the
// announcer builds each from the segment JSON it writes to ZooKeeper, so that a segment is serialized once.
type loadsJSONHistory interface {
	AnnounceLoadsJSON(loads []segments.ChangeRequest, reqs [][]byte) error
}

// loadOf is the load announcement of p: built from the segment as loaded and then given the transformed copy, since
// with skipLoadSpec the copy has no load spec, and so no partial-load wrapper to take the fingerprint from.
func loadOf(p *announced) segments.ChangeRequest {
	r := segments.LoadAnnouncement(p.orig)
	r.Segment = p.xform
	return r
}

// prepare transforms and serializes segments, in parallel for a bootstrap-sized call; with loads each one's load
// announcement is made too (loadsOut[i] is that of prepared[i]), and with reqs (which needs loads) its JSON, from
// the segment's JSON.
func (a *Announcer) prepare(segs []*segments.DataSegment, loads, reqs bool) (prepared []*announced, loadsOut []segments.ChangeRequest, failed []error) {
	out := make([]*announced, len(segs))
	errs := make([]error, len(segs))
	var allLoads []segments.ChangeRequest
	if loads {
		allLoads = make([]segments.ChangeRequest, len(segs))
	}
	one := func(i int, w *prepareWorker) {
		s := segs[i]
		x := a.transform(s)
		js, err := w.serialize(x)
		var req []byte
		if err == nil && allLoads != nil {
			allLoads[i] = loadOf(&announced{orig: s, xform: x})
		}
		if err == nil && reqs {
			r := allLoads[i]
			req, err = w.keep(func(dst []byte) ([]byte, error) { return r.AppendJSONWithSegment(dst, js) })
		}
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("announcer: segment %s cannot be announced: %w", s.ID(), err)
		case a.segsOnZK && !a.pack.fits(len(js)):
			errs[i] = fmt.Errorf("announcer: segment %s cannot be announced: its JSON is %d bytes, which "+
				"does not fit in a batch znode of druid.announcer.maxBytesPerNode=%d bytes; raise maxBytesPerNode "+
				"or set druid.announcer.skipDimensionsAndMetrics=true", s.ID(), len(js), a.pack.maxBytes)
		default:
			out[i] = w.announced()
			*out[i] = announced{orig: s, xform: x, json: js, req: req}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if len(segs) < 1024 || workers == 1 {
		var w prepareWorker
		for i := range segs {
			one(i, &w)
		}
	} else {
		var wg sync.WaitGroup
		chunk := (len(segs) + workers - 1) / workers
		for lo := 0; lo < len(segs); lo += chunk {
			wg.Add(1)
			go func(lo, hi int) {
				defer wg.Done()
				var w prepareWorker
				for i := lo; i < hi; i++ {
					one(i, &w)
				}
			}(lo, min(lo+chunk, len(segs)))
		}
		wg.Wait()
	}
	prepared = out[:0]
	for i, p := range out {
		if p != nil {
			prepared = append(prepared, p)
			if allLoads != nil {
				loadsOut = append(loadsOut, allLoads[i])
			}
		}
	}
	for _, e := range errs {
		if e != nil {
			failed = append(failed, e)
		}
	}
	return prepared, loadsOut, failed
}

// prepareWorker serializes segments for one goroutine of prepare. Each segment's JSON (and its load request's) is
// written at the end of a shared slab, so a bootstrap of 100,000 segments makes a few hundred allocations instead of
// a growing slice per segment (that growth was the largest cost of a bulk announce). A slab stays alive while any
// segment cut from it is announced; at 256 KiB a slab that is a small price. The announced records come in blocks
// likewise.
type prepareWorker struct {
	block   []announced
	scratch []byte
	slab    []byte
}

const prepareSlabSize = 256 << 10

func (w *prepareWorker) serialize(s *segments.DataSegment) ([]byte, error) {
	return w.keep(s.AppendJSON)
}

// keep runs build on the scratch buffer and copies what it wrote into the slab.
//
// It builds in place at the end of the slab when the slab has room for a large segment's JSON, and through the
// scratch buffer (one copy more) otherwise.
func (w *prepareWorker) keep(build func(dst []byte) ([]byte, error)) ([]byte, error) {
	if cap(w.slab)-len(w.slab) >= prepareInPlace {
		start := len(w.slab)
		out, err := build(w.slab)
		if err != nil {
			return nil, err
		}
		if cap(out) == cap(w.slab) { // built in place
			w.slab = out
			return out[start:len(out):len(out)], nil
		}
		// It outgrew the slab: append copied the slab into a new array, which the piece cut from it keeps; the
		// next piece starts a new slab.
		w.slab = nil
		return out[start:len(out):len(out)], nil
	}
	var err error
	if w.scratch, err = build(w.scratch[:0]); err != nil {
		return nil, err
	}
	n := len(w.scratch)
	if cap(w.slab)-len(w.slab) < n {
		w.slab = make([]byte, 0, max(prepareSlabSize, n))
	}
	start := len(w.slab)
	w.slab = append(w.slab, w.scratch...)
	return w.slab[start:len(w.slab):len(w.slab)], nil
}

// prepareInPlace is the room a slab needs for a segment's JSON to be built in place: far more than a segment's
// JSON normally takes (about 500 bytes).
const prepareInPlace = 16 << 10

// announced returns a new announced from the worker's current block: a bulk announce allocates its 100,000 in a
// hundred blocks instead of one by one, which the garbage collector then has to find again one by one.
func (w *prepareWorker) announced() *announced {
	if len(w.block) == cap(w.block) {
		w.block = make([]announced, 0, 1024)
	}
	w.block = w.block[:len(w.block)+1]
	return &w.block[len(w.block)-1]
}

// UnannounceSegments unannounces segments that are announced (others are skipped) and returns once ZooKeeper no
// longer lists them.
func (a *Announcer) UnannounceSegments(ctx context.Context, segs ...*segments.DataSegment) error {
	var histErr error
	err := a.change(ctx, func() {
		var dropped []*segments.DataSegment
		changed := map[*batch]bool{}
		for _, s := range segs {
			id := s.ID()
			p := a.segs[id]
			if p == nil {
				continue
			}
			delete(a.segs, id)
			dropped = append(dropped, s)
			if b := a.pack.remove(p); b != nil {
				changed[b] = true
			}
			if a.served {
				a.setDesired(a.servedDir+"/"+id.String(), nil)
			}
		}
		if len(dropped) > 0 && a.history != nil {
			if err := a.history.Unannounce(dropped); err != nil {
				histErr = fmt.Errorf("announcer: recording the drop in the segment inventory: %w", err)
			}
		}
		for b := range changed {
			a.setBatch(b)
		}
	})
	return errors.Join(histErr, err)
}

// Stop unannounces the node, closes the ZooKeeper session (ZooKeeper then deletes every other znode we announced
// at once) and stops the background work. Later calls return ErrStopped.
func (a *Announcer) Stop(ctx context.Context) error {
	a.releaseWrites() // the withdrawal below waits for ZooKeeper
	var err error
	if a.zk != nil || a.node != nil {
		err = a.UnannounceNode(ctx)
	}
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return nil
	}
	a.stopped = true
	close(a.doneCh) // wakes the waiters, who see stopped
	a.mu.Unlock()
	close(a.stop)
	if a.zk != nil {
		a.zk.Close()
	}
	a.wg.Wait()
	if errors.Is(err, ErrStopped) {
		err = nil
	}
	return err
}

func (a *Announcer) checkStopped() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return ErrStopped
	}
	return nil
}

// transform is the druid.announcer.skip* rule: the announced copy loses its dimensions and metrics, or its
// loadSpec.
func (a *Announcer) transform(s *segments.DataSegment) *segments.DataSegment {
	if !a.xformDM && !a.xformLS {
		return s
	}
	c := *s
	if a.xformDM {
		c.Dimensions, c.Metrics = nil, nil
	}
	if a.xformLS {
		c.LoadSpec = nil
	}
	return &c
}

// change runs f under the lock, then waits until ZooKeeper reflects every change made so far.
func (a *Announcer) change(ctx context.Context, f func()) error {
	ticket, err := a.record(f)
	if err != nil {
		return err
	}
	return a.wait(ctx, ticket)
}

// record runs f under the lock, wakes the loop if f changed anything, and returns the ticket that waits for every
// change made so far.
func (a *Announcer) record(f func()) (uint64, error) {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return 0, ErrStopped
	}
	before := a.gen
	f()
	ticket := a.gen
	a.mu.Unlock()
	if ticket != before {
		signal(a.kick)
	}
	return ticket, nil
}

func (a *Announcer) wait(ctx context.Context, ticket uint64) error {
	for {
		a.mu.Lock()
		if a.doneGen >= ticket {
			a.mu.Unlock()
			return nil
		}
		if a.stopped {
			a.mu.Unlock()
			return ErrStopped
		}
		ch := a.doneCh
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("announcer: ZooKeeper has not confirmed the change yet (it is kept and will be written when ZooKeeper answers): %w", ctx.Err())
		}
	}
}

// setDesired records that p should hold raw (nil: should not exist). Called with mu held.
func (a *Announcer) setDesired(p string, raw []byte) {
	if raw != nil {
		if z := a.desired[p]; z != nil && z.parts == nil && bytes.Equal(z.raw, raw) {
			return
		}
		a.setDesiredZNode(p, &znode{raw: raw})
		return
	}
	a.setDesiredZNode(p, nil)
}

// setBatch records that the batch znode of b should hold b's segments, or should not exist when it has none.
// Called with mu held. The znode keeps the segments' JSON as they are now (b.segs changes under the lock, the
// pass reads the znode without it).
func (a *Announcer) setBatch(b *batch) {
	p := a.batchDir + "/" + b.name
	if len(b.segs) == 0 {
		a.setDesiredZNode(p, nil)
		return
	}
	a.setDesiredZNode(p, &znode{parts: b.parts(), size: b.size})
}

// setDesiredZNode records that p should hold z (nil: should not exist). Called with mu held.
func (a *Announcer) setDesiredZNode(p string, z *znode) {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if z == nil {
		if _, ok := a.desired[p]; !ok {
			return
		}
		delete(a.desired, p)
		delete(a.byDir[dir], name)
	} else {
		a.desired[p] = z
		if a.byDir[dir] == nil {
			a.byDir[dir] = map[string]struct{}{}
		}
		a.byDir[dir][name] = struct{}{}
		if !a.watching[dir] && a.zk != nil {
			a.watching[dir] = true
			a.wg.Add(1)
			go a.watchDir(dir)
		}
	}
	a.dirty[p] = struct{}{}
	a.gen++
}

// markDone is called with mu held.
func (a *Announcer) markDone(g uint64) {
	if g > a.doneGen && !a.stopped {
		a.doneGen = g
		close(a.doneCh)
		a.doneCh = make(chan struct{})
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ---- the loop that makes ZooKeeper match the desired state -----------------------------------------------------

// maxInFlight bounds the requests the loop pipelines on the connection.
const maxInFlight = 64

type syncItem struct {
	path    string
	want    *znode // nil: delete
	applied *znode // what the session already holds, nil if unknown or absent
}

func (a *Announcer) run() {
	defer a.wg.Done()
	authed := false
	var retry <-chan time.Time
	for {
		select {
		case <-a.stop:
			return
		case <-a.sessionKick:
		case <-a.kick:
		case <-retry:
		}
		retry = nil
		a.checkSession()
		if !authed && a.isLive() {
			if err := a.zk.Authenticate(); err != nil {
				a.log.Error("cannot authenticate to ZooKeeper; retrying", "error", err)
				retry = time.After(time.Second)
				continue
			}
			authed = true
		}
		for {
			select {
			case <-a.sessionKick:
				a.checkSession()
			default:
			}
			items, passGen, epoch, ok := a.takeDirty()
			if !ok {
				break
			}
			failed, connLost := a.apply(items, epoch)
			if failed == 0 {
				a.finishPass(passGen, epoch)
				continue
			}
			// A lost connection also sends a session event; the timer only guards against missing one.
			retry = time.After(250 * time.Millisecond)
			if connLost {
				retry = time.After(500 * time.Millisecond)
			}
			break
		}
	}
}

func (a *Announcer) isLive() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.live
}

// checkSession notices session changes: a new session id means every ephemeral znode of ours is gone.
func (a *Announcer) checkSession() {
	state, sid := a.zk.ZK().State(), a.zk.ZK().SessionID()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.live = state == zk.StateHasSession && sid != 0
	if state == zk.StateExpired || (a.live && sid != a.session) {
		a.epoch++
		a.session = 0
		clear(a.applied)
		for p := range a.desired {
			a.dirty[p] = struct{}{}
		}
	}
	if a.live && sid != a.session {
		a.session = sid
		if len(a.desired) > 0 {
			a.resyncAt = time.Now()
			a.log.Info("new ZooKeeper session: re-announcing every znode", "session", fmt.Sprintf("0x%x", sid), "znodes", len(a.desired))
		}
	}
}

// takeDirty hands the dirty paths to a pass, or reports there is nothing to do now.
func (a *Announcer) takeDirty() (items []syncItem, passGen, epoch uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live || a.held {
		return nil, 0, 0, false
	}
	if len(a.dirty) == 0 {
		a.markDone(a.gen)
		return nil, 0, 0, false
	}
	items = make([]syncItem, 0, len(a.dirty))
	for p := range a.dirty {
		it := syncItem{path: p, want: a.desired[p], applied: a.applied[p].z}
		if it.want != nil && it.want == it.applied {
			continue
		}
		items = append(items, it)
	}
	clear(a.dirty)
	return items, a.gen, a.epoch, true
}

func (a *Announcer) finishPass(passGen, epoch uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if epoch != a.epoch {
		return
	}
	// Every change up to passGen was in this pass or an earlier one that succeeded, so its callers return now:
	// changes made during the pass wait for the next one, but no longer hold up those before them (with loads
	// ending one after another, a caller would otherwise wait for the first pass that found nothing new).
	a.markDone(passGen)
	if len(a.dirty) == 0 {
		if !a.resyncAt.IsZero() {
			a.log.Info("every znode is announced in the new session", "znodes", len(a.desired), "seconds", time.Since(a.resyncAt).Seconds())
			a.resyncAt = time.Time{}
		}
	}
}

// apply runs a pass, pipelining up to maxInFlight requests.
func (a *Announcer) apply(items []syncItem, epoch uint64) (failed int, connLost bool) {
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := a.applyOne(it)
			a.mu.Lock()
			current := epoch == a.epoch
			switch {
			case err == nil && current:
				a.seq++
				if it.want != nil {
					a.applied[it.path] = appliedNode{z: it.want, seq: a.seq}
				} else {
					delete(a.applied, it.path)
				}
			default:
				a.dirty[it.path] = struct{}{}
				if err != nil {
					delete(a.applied, it.path) // outcome unknown: the retry checks what is there
				}
			}
			a.mu.Unlock()
			if err != nil || !current {
				mu.Lock()
				failed++
				if err != nil && zookeeper.IsConnectionError(err) || !current {
					connLost = true
				} else if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		a.log.Warn("ZooKeeper refused an announcement; retrying", "failed", failed, "error", firstErr)
	}
	return failed, connLost
}

func (a *Announcer) applyOne(it syncItem) error {
	conn, abs := a.zk.ZK(), a.zk.Path(it.path)
	if it.want == nil {
		if err := conn.Delete(abs, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("deleting %s: %w", abs, err)
		}
		return nil
	}
	data := it.want.encoded(a.zk)
	if it.applied != nil {
		_, err := conn.Set(abs, data, -1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("updating %s: %w", abs, err)
		}
	}
	return a.create(it.path, data)
}

// create creates an ephemeral znode at the Druid path p, creating missing parents, and takes over a node left at
// the path by another session.
func (a *Announcer) create(p string, data []byte) error {
	conn, abs := a.zk.ZK(), a.zk.Path(p)
	for attempt := 0; attempt < 5; attempt++ {
		_, err := conn.Create(abs, data, zk.FlagEphemeral, a.zk.ACL())
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := a.zk.EnsurePath(path.Dir(p)); err != nil {
				return err
			}
		case errors.Is(err, zk.ErrNodeExists):
			cur, stat, err := conn.Get(abs)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", abs, err)
			}
			if stat.EphemeralOwner == conn.SessionID() {
				if bytes.Equal(cur, data) {
					return nil
				}
				if _, err := conn.Set(abs, data, stat.Version); err == nil {
					return nil
				} else if !errors.Is(err, zk.ErrBadVersion) && !errors.Is(err, zk.ErrNoNode) {
					return fmt.Errorf("updating %s: %w", abs, err)
				}
				continue
			}
			a.log.Warn("replacing a znode at our path that another session owns (an earlier run of this process, or another process announcing the same host:port)",
				"path", abs, "owner", fmt.Sprintf("0x%x", stat.EphemeralOwner))
			if err := conn.Delete(abs, stat.Version); err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
				return fmt.Errorf("deleting %s, left by session 0x%x: %w", abs, stat.EphemeralOwner, err)
			}
		default:
			return fmt.Errorf("creating %s: %w", abs, err)
		}
	}
	return fmt.Errorf("creating %s: it keeps changing under us; retrying later", abs)
}

// watchDir re-creates our znodes in dir that someone else deletes. A child confirmed before the listing was
// requested and missing from it was deleted: requests on one session are answered in order.
//
// It polls the directory's child version every dirPollInterval and lists the children only when it changed,
// instead of setting a ZooKeeper watch: go-zookeeper 1.0.4 re-sets watches after a reconnect while its receive
// loop runs (Conn.sendSetWatches reads lastZxid as recvLoop writes it, a data race -race reports), so the
// announcer sets no watch at all.
func (a *Announcer) watchDir(dir string) {
	defer a.wg.Done()
	var lastEpoch uint64
	lastCversion := int32(-1)
	for {
		select {
		case <-a.stop:
			return
		case <-time.After(dirPollInterval):
		}
		a.mu.Lock()
		live, epoch, seq := a.live, a.epoch, a.seq
		a.mu.Unlock()
		if !live {
			continue
		}
		ok, stat, err := a.zk.ZK().Exists(a.zk.Path(dir))
		if err != nil {
			continue
		}
		if !ok {
			a.lost(dir, nil, epoch, seq)
			lastCversion = -1
			continue
		}
		if epoch == lastEpoch && stat.Cversion == lastCversion {
			continue
		}
		children, stat, err := a.zk.ZK().Children(a.zk.Path(dir))
		if err != nil {
			continue
		}
		a.lost(dir, children, epoch, seq)
		lastEpoch, lastCversion = epoch, stat.Cversion
	}
}

// dirPollInterval is how often watchDir looks at a directory's child version.
const dirPollInterval = 200 * time.Millisecond

func (a *Announcer) lost(dir string, children []string, epoch, seq uint64) {
	present := make(map[string]struct{}, len(children))
	for _, c := range children {
		present[c] = struct{}{}
	}
	a.mu.Lock()
	n := 0
	if epoch == a.epoch {
		for name := range a.byDir[dir] {
			p := dir + "/" + name
			if ap, ok := a.applied[p]; ok && ap.seq <= seq {
				if _, ok := present[name]; !ok {
					delete(a.applied, p)
					a.dirty[p] = struct{}{}
					n++
				}
			}
		}
	}
	a.mu.Unlock()
	if n > 0 {
		a.log.Warn("znodes of ours were deleted by someone else; re-creating them", "dir", dir, "znodes", n)
		signal(a.kick)
	}
}
