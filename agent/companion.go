package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/loadqueue"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Companion runs beside an unmodified Java Historical that shares its segment cache volume (druid-protocol.md 13).
// It is read-only toward the cluster: it never announces anything, never answers change requests and never writes
// to ZooKeeper. It does two things:
//
//   - prefetch: it reads the Coordinator's load queue for the Historical (its server name is the Historical's
//     hostAndPortToUse) and pulls the queued segments, in queue order, into the cache with the parallel deep-storage
//     engine, through segcache.Prefetcher's safe placement, so that the Historical finds each one cached and skips
//     its own single-stream download. Copies the Historical never claims are discarded after the claim timeout.
//   - the drift watch: it compares the Historical's cache directories, its info_dir and its HTTP inventory, and
//     exposes the disagreements as metrics and on /status.
//
// Run it once.
type Companion struct {
	cfg          *configs.Config
	log          hclog.Logger
	reg          Registry
	version      string
	shutdown     time.Duration
	listen       string
	server       string // the Historical's name in the cluster: its hostAndPortToUse
	inventoryURL string
	now          func() time.Time

	// off says why prefetching is off ("" when it is on); pf, coord, source and puller are nil then.
	off string
	// driftOff says why a configuration problem turned the drift watch off; noMetadata that one turned off the
	// metadata store fallback; problems are the configuration's problems, as shown on /status.
	driftOff   string
	noMetadata bool
	problems   []string
	pf         *segcache.Prefetcher
	coord      *loadqueue.CoordinatorClient
	source     companionSegmentSource
	puller     segcache.Puller
	metrics    *companionMetrics
	// drift reads the Historical and compares; tests may replace it.
	drift func(ctx context.Context, ignore func(id string) bool) ([]audit.Finding, error)
	// absentGrace is how long the Coordinator may not list the server before a warning; tests shorten it.
	absentGrace time.Duration

	ran       atomic.Bool
	ready     chan struct{}
	startTime time.Time

	mu     sync.Mutex
	addr   net.Addr
	status companionSnapshot
	placed map[string]bool // ids placed and not yet claimed or discarded: the drift watch expects them on disk
}

// companionSegmentSource gives a queued segment's DataSegment from its id alone.
type companionSegmentSource interface {
	SegmentByID(ctx context.Context, id string) (*segments.DataSegment, error)
}

// NewCompanion prepares the companion for the Historical cfg describes; nothing is contacted yet. A companion only
// helps, so a configuration problem never stops it (it must never keep the Historical it sits beside from
// starting): the problems a configs.LoadOptions.KeepGoing load found (cfg.Problems) and the ones NewCompanion
// finds itself turn off what they affect (prefetching, the drift watch, the metadata store fallback), and they
// show on /status, in the log at startup and in druid_sidecar_config_problems. Its error is for what is no
// configuration problem (the metrics cannot be registered).
func NewCompanion(cfg *configs.Config, opts Options) (*Companion, error) {
	if cfg == nil {
		return nil, errors.New("companion: no configuration")
	}
	opts = opts.withDefaults()
	c := &Companion{cfg: cfg, log: opts.Logger, reg: opts.Registerer, version: opts.Version, shutdown: opts.ShutdownTimeout,
		now: time.Now, ready: make(chan struct{}), placed: map[string]bool{}, absentGrace: companionAbsentGrace}
	c.metrics = newCompanionMetrics()
	if err := c.reg.Register(c.metrics); err != nil {
		return nil, fmt.Errorf("registering the companion's metrics: %w", err)
	}
	c.configProblems(cfg)
	c.server = cfg.Node.HostAndPortToUse()
	scheme := "http"
	if cfg.Node.EnableTLSPort {
		scheme = "https"
	}
	c.inventoryURL = scheme + "://" + c.server + announcer.InventoryPath + "?counter=-1"
	port := strconv.Itoa(cfg.Sidecar.CompanionPort)
	if cfg.Node.BindOnHost && cfg.Node.Host != "" {
		c.listen = net.JoinHostPort(cfg.Node.Host, port)
	} else {
		c.listen = net.JoinHostPort("", port)
	}
	c.drift = c.readDrift

	switch {
	case c.off != "":
	case cfg.SegmentCache.VirtualStorage:
		c.off = "druid.segmentCache.virtualStorage=true: the Historical loads segments on demand, so there is nothing " +
			"to fill ahead of it"
	case cfg.Sidecar.PrefetchMaxBytes <= 0:
		c.off = "druid.sidecar.prefetch.maxBytes is 0: prefetching is off until a window is budgeted into the disk " +
			"(location maxSize + window + free-space margin must fit)"
	case cfg.Sidecar.PrefetchMaxSegments <= 0:
		c.off = "druid.sidecar.prefetch.maxSegments is 0: no segment may be prefetched"
	}
	if c.off != "" {
		return c, nil
	}
	// What fails below cannot work with this configuration either: prefetching stays off, saying why.
	var err error
	c.pf, err = segcache.NewPrefetcher(cfg, segcache.PrefetchOptions{Logger: c.log.Named("prefetch"), Now: c.now})
	if err != nil {
		c.off = fmt.Sprintf("setting up prefetching into %s failed: %v", describeLocations(cfg), err)
		return c, nil
	}
	c.coord, err = loadqueue.NewCoordinatorClient(cfg, loadqueue.CoordinatorOptions{Logger: c.log.Named("coordinator")})
	if err != nil {
		c.off = "reading the Coordinator's load queue cannot be set up: " + err.Error()
		c.closePrefetcher()
		return c, nil
	}
	c.source = c.coord
	if cfg.Metadata.Type == "postgresql" && cfg.Metadata.ConnectURI != "" && !c.noMetadata {
		c.source = &companionFallbackSource{primary: c.coord, cfg: cfg, log: c.log}
	}
	dsOpts := deepstorage.OptionsFromConfig(cfg)
	dsOpts.Logger = c.log.Named("deepstorage")
	p, err := deepstorage.New(dsOpts)
	if err != nil {
		c.off = "deep storage cannot be set up: " + err.Error()
		c.coord.Close()
		c.coord, c.source = nil, nil
		c.closePrefetcher()
		return c, nil
	}
	c.puller = p
	return c, nil
}

// closePrefetcher releases the prefetcher of a companion whose prefetching ended up off.
func (c *Companion) closePrefetcher() {
	if err := c.pf.Close(); err != nil {
		c.log.Warn("closing the segment cache locations of the prefetcher failed", "error", err)
	}
	c.pf = nil
}

// configProblems records the configuration's problems, adds those of a Historical the companion cannot sit beside,
// and turns off what they affect: c.off (prefetching), c.driftOff, c.noMetadata.
func (c *Companion) configProblems(cfg *configs.Config) {
	problems := cfg.Problems()
	about := func(key string) bool {
		return slices.ContainsFunc(problems, func(p configs.Problem) bool { return p.Key == key })
	}
	if cfg.Node.Host == "" && !about("druid.host") {
		problems = append(problems, configs.Problem{Key: "druid.host", Msg: "not set: the companion needs the " +
			"Historical's host, which is its name in the Coordinator's load queue and the address of its segment inventory"})
	}
	if len(cfg.SegmentCache.Locations()) == 0 && !about("druid.segmentCache.locations") {
		problems = append(problems, configs.Problem{Key: "druid.segmentCache.locations", Msg: "empty: give the " +
			"companion the Historical's own properties, whose segment cache it fills and watches"})
	}
	var prefetch, drift []string
	for _, p := range problems {
		line := p.Error()
		c.problems = append(c.problems, line)
		pre, dri, meta := companionAffected(p.Key)
		if pre {
			prefetch = append(prefetch, line)
		}
		if dri {
			drift = append(drift, line)
		}
		c.noMetadata = c.noMetadata || meta
	}
	c.metrics.configProblems.Set(float64(len(problems)))
	if len(prefetch) > 0 {
		c.off = "configuration problem: " + strings.Join(prefetch, "; ")
	}
	if len(drift) > 0 {
		c.driftOff = "configuration problem: " + strings.Join(drift, "; ")
	}
}

// companionAffected says what a problem with key takes away. Keys that say which Historical and which cache (its
// host and ports, the cache locations and layout), or a problem with no key (a properties file that cannot be
// read), leave nothing to fill or watch. The drift watch's own keys turn off only the drift watch, the metadata
// store's only the fallback to it, and the companion's HTTP keys nothing (their defaults serve). Any other key may
// be one prefetching reads (discovery, ZooKeeper, the escalator, deep storage, the prefetch window): prefetching,
// which writes into the Historical's cache, stays off while the configuration is in doubt; the drift watch only
// reads and goes on.
func companionAffected(key string) (prefetch, drift, metadata bool) {
	switch {
	case key == "" || key == "druid.host" || strings.HasPrefix(key, "druid.segmentCache.") || key == "druid.sidecar.cacheLayout" ||
		slices.Contains([]string{"druid.port", "druid.plaintextPort", "druid.tlsPort", "druid.enablePlaintextPort",
			"druid.enableTlsPort"}, key):
		return true, true, false
	case strings.HasPrefix(key, "druid.sidecar.drift."):
		return false, true, false
	case strings.HasPrefix(key, "druid.metadata."):
		return false, false, true
	case key == "druid.sidecar.companion.port" || key == "druid.sidecar.http.pprof" || key == "druid.bindOnHost":
		return false, false, false
	}
	return true, false, false
}

// Ready is closed once the HTTP endpoints serve and the loops run.
func (c *Companion) Ready() <-chan struct{} { return c.ready }

// Addr is the address the HTTP server listens on, nil before it listens.
func (c *Companion) Addr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// Once runs the drift watch a single time and returns its findings. Copies a companion placed and the Historical
// has not claimed yet are left out when prefetching is configured (the prefetcher's ledger on disk names them, also
// those of a companion running beside this process); otherwise they would show as "on disk but never announced".
func (c *Companion) Once(ctx context.Context) ([]audit.Finding, error) {
	if c.driftOff != "" {
		return nil, errors.New("the drift watch cannot run: " + c.driftOff)
	}
	var ignore func(string) bool
	if c.pf != nil {
		own := map[string]bool{}
		for _, pc := range c.pf.Unclaimed() {
			own[pc.Segment.ID().String()] = true
		}
		ignore = func(id string) bool { return own[id] }
	}
	return c.drift(ctx, ignore)
}

// readDrift is the drift watch's reading: the Historical's cache directories, info_dir and inventory.
func (c *Companion) readDrift(ctx context.Context, ignore func(id string) bool) ([]audit.Finding, error) {
	st, err := audit.ReadNode(ctx, c.cfg, c.inventoryURL)
	if err != nil {
		return nil, fmt.Errorf("reading the Historical %s (cache %s, inventory %s): %w", c.server, describeLocations(c.cfg),
			c.inventoryURL, err)
	}
	return audit.Drift(st, c.now(), c.loadTimeout(), ignore), nil
}

// loadTimeout is the Coordinator's load timeout as the configuration knows it: druid.sidecar.prefetch.claimTimeout
// says the same thing (a load not finished after it is given up), and 15 minutes is Druid's default.
func (c *Companion) loadTimeout() time.Duration {
	if d := c.cfg.Sidecar.PrefetchClaimTimeout; d > 0 {
		return d
	}
	return 15 * time.Minute
}

// Run serves HTTP, runs the prefetch loop and the drift watch until ctx ends, then stops them. It returns nil after
// a shutdown asked for by ctx, and an error naming the failed step when startup fails or the HTTP server stops by
// itself.
func (c *Companion) Run(ctx context.Context) error {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("companion: Run was already called; a Companion runs once")
	}
	c.startTime = c.now()
	for _, p := range c.problems {
		c.log.Error("configuration problem: the companion keeps running without what it affects", "problem", p)
	}
	if c.off == "" {
		// Staging copies and trash left by a previous run are half-done work nobody will finish. A companion that
		// cannot remove them runs as another user than the Historical: it must not place copies either.
		if err := c.pf.CleanStaging(); err != nil {
			c.off = fmt.Sprintf("removing the prefetch staging left in %s failed (the companion must run as the "+
				"Historical's user): %v", describeLocations(c.cfg), err)
			c.closePrefetcher()
		}
	}
	if c.off != "" {
		c.log.Info("prefetching is off", "why", c.off)
	} else {
		c.log.Info("prefetching for the Historical", "server", c.server, "maxBytes", int64(c.cfg.Sidecar.PrefetchMaxBytes),
			"maxSegments", c.cfg.Sidecar.PrefetchMaxSegments, "threads", c.threads(), "poll", c.pollPeriod())
	}
	switch {
	case c.driftOff != "":
		c.log.Info("the drift watch is off", "why", c.driftOff)
	case c.cfg.Sidecar.DriftPeriod <= 0:
		c.log.Info("the drift watch is off (druid.sidecar.drift.period is empty)")
	}
	c.metrics.enabled.WithLabelValues("prefetch").Set(b2f(c.off == ""))
	c.metrics.enabled.WithLabelValues("drift").Set(b2f(c.driftOn()))
	c.publish(func(s *companionSnapshot) {})

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listening for HTTP on %s (druid.sidecar.companion.port, druid.bindOnHost): %w", c.listen, err)
	}
	c.mu.Lock()
	c.addr = ln.Addr()
	c.mu.Unlock()
	srv := &http.Server{Handler: c.handler(), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: c.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c.log.Info("serving HTTP", "addr", ln.Addr().String())

	loopCtx, stopLoops := context.WithCancel(ctx)
	var loops sync.WaitGroup
	if c.off == "" {
		loops.Go(func() { c.prefetchLoop(loopCtx) })
	}
	if c.driftOn() {
		loops.Go(func() { c.driftLoop(loopCtx) })
	}
	close(c.ready)

	var runErr error
	select {
	case <-ctx.Done():
		c.log.Info("shutting down", "cause", context.Cause(ctx))
	case serr := <-served:
		runErr = fmt.Errorf("the HTTP server on %s stopped: %w", c.listen, serr)
		served = nil
	}
	stopLoops()
	stopCtx, cancel := context.WithTimeout(context.Background(), c.shutdown)
	defer cancel()
	loopsDone := make(chan struct{})
	go func() { loops.Wait(); close(loopsDone) }()
	var errs []error
	select {
	case <-loopsDone:
	case <-stopCtx.Done():
		errs = append(errs, fmt.Errorf("the prefetch pulls did not stop within %s", c.shutdown))
	}
	if err := srv.Shutdown(stopCtx); err != nil {
		errs = append(errs, fmt.Errorf("stopping the HTTP server: %w", err))
		srv.Close()
	}
	if served != nil {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("the HTTP server: %w", err))
		}
	}
	if c.coord != nil {
		c.coord.Close()
	}
	if c.pf != nil {
		if err := c.pf.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the segment cache locations: %w", err))
		}
	}
	if fs, ok := c.source.(*companionFallbackSource); ok {
		fs.close()
	}
	err = errors.Join(runErr, errors.Join(errs...))
	if err != nil {
		c.log.Error("the companion stopped after a failure", "error", err)
	} else {
		c.log.Info("shutdown complete")
	}
	return err
}

func (c *Companion) threads() int { return max(1, c.cfg.Sidecar.PrefetchThreads) }

// driftOn says whether the drift watch runs: it has a period and no configuration problem turned it off.
func (c *Companion) driftOn() bool { return c.cfg.Sidecar.DriftPeriod > 0 && c.driftOff == "" }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *Companion) pollPeriod() time.Duration {
	if d := c.cfg.Sidecar.PrefetchPollPeriod; d > 0 {
		return d
	}
	return 5 * time.Second
}

// The prefetch loop. One goroutine owns every entry; pulls run on their own goroutines and report back through a
// channel, so the bookkeeping needs no lock (the lock guards only what /status and the drift watch read).

type companionState int

const (
	companionPulling companionState = iota // a pull runs
	companionPlaced                        // placed in the cache, not claimed yet: counts against the window
	companionDone                          // nothing more to do while it stays queued (present, claimed, lost, skipped)
	companionFailed                        // the pull failed; tried again at retryAt
)

// companionEntry is one queued segment the loop has dealt with.
type companionEntry struct {
	id       string
	seg      *segments.DataSegment
	state    companionState
	cancel   context.CancelFunc // of the pull, while pulling
	left     bool               // the pull was canceled because the entry left the queue
	placedAt time.Time
	leftAt   time.Time // when a placed copy was first seen out of segmentsToLoad; zero while queued
	failures int
	retryAt  time.Time
}

// companionResult is a finished pull.
type companionResult struct {
	id  string
	pl  segcache.Placement
	err error
}

// companionLoop is the prefetch loop's state, owned by its goroutine.
type companionLoop struct {
	entries map[string]*companionEntry
	segs    map[string]*segments.DataSegment // DataSegments of queued ids, fetched once
	queue   []string                         // the last segmentsToLoad read
	inQueue map[string]bool
	results chan companionResult
	pulls   sync.WaitGroup
	coordOK bool
	read    bool   // the queue was read at least once: before that, every entry counts as queued
	lastErr string // the last Coordinator error logged, to log each new one once
	blocked string // why dispatching last stopped, logged once per change
	totals  companionTotals
	// unlistedSince is when the Coordinator's listing was first seen without the server (zero while it is listed);
	// warned says the warning about it was logged.
	unlistedSince time.Time
	warned        bool
}

// companionAbsentGrace is how long the Coordinator may not list the Historical before the companion warns: a
// Historical announces itself only once it has loaded its cached segments, and the Coordinator lists it from its
// next run (druid.coordinator.period, a minute by default), so a few minutes of absence at startup are normal.
const companionAbsentGrace = 5 * time.Minute

// companionTotals count since the start; /status shows them.
type companionTotals struct {
	Placed    int64 `json:"placed"`
	Claimed   int64 `json:"claimed"`
	Present   int64 `json:"alreadyPresent"`
	LostRace  int64 `json:"lostRace"`
	Unclaimed int64 `json:"discardedUnclaimed"`
	Vanished  int64 `json:"vanished"`
	Failed    int64 `json:"failed"`
	Canceled  int64 `json:"canceled"`
	Bytes     int64 `json:"bytes"`
}

func (c *Companion) prefetchLoop(ctx context.Context) {
	l := &companionLoop{entries: map[string]*companionEntry{}, segs: map[string]*segments.DataSegment{},
		inQueue: map[string]bool{}, results: make(chan companionResult, c.threads())}
	// Copies an earlier run placed and the Historical has not claimed are in the prefetcher's ledger: they take the
	// window and are discarded as any other once out of the queue past the claim timeout.
	for _, pc := range c.pf.Unclaimed() {
		id := pc.Segment.ID().String()
		l.entries[id] = &companionEntry{id: id, seg: pc.Segment, state: companionPlaced, placedAt: pc.PlacedAt}
	}
	if n := len(l.entries); n > 0 {
		c.log.Info("unclaimed copies of an earlier run are in the cache", "segments", n)
	}
	tick := time.NewTicker(c.pollPeriod())
	defer tick.Stop()
	c.round(ctx, l, true)
	for {
		select {
		case <-ctx.Done():
			// Cancel every pull and wait for them: Place removes its staging copy when canceled.
			for _, e := range l.entries {
				if e.state == companionPulling {
					e.cancel()
				}
			}
			l.pulls.Wait()
			return
		case r := <-l.results:
			c.finish(l, r)
			c.round(ctx, l, false)
		case <-tick.C:
			c.round(ctx, l, true)
		}
	}
}

// round reads the load queue (when poll is set), settles the entries against it, starts pulls, and publishes the
// state.
func (c *Companion) round(ctx context.Context, l *companionLoop, poll bool) {
	if poll {
		c.pollQueue(ctx, l)
	}
	now := c.now()
	c.reconcile(l, now)
	if l.coordOK {
		c.dispatch(ctx, l, now)
	}
	c.publishLoop(l)
}

func (c *Companion) pollQueue(ctx context.Context, l *companionLoop) {
	q, err := c.coord.Queue(ctx, c.server)
	toLoad := q.ToLoad
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.metrics.coordinatorUp.Set(0)
		l.coordOK = false
		// The last queue read stays: nothing is canceled or discarded because the Coordinator cannot be read.
		if msg := err.Error(); msg != l.lastErr {
			c.log.Warn("cannot read the Coordinator's load queue; prefetching waits", "error", err)
			l.lastErr = msg
		}
		c.publish(func(s *companionSnapshot) { s.Coordinator.Up, s.Coordinator.Error = false, err.Error() })
		return
	}
	if l.lastErr != "" || !l.coordOK {
		c.log.Info("reading the Coordinator's load queue", "leader", c.coord.Leader(), "queued", len(toLoad))
	}
	l.lastErr, l.coordOK, l.read = "", true, true
	c.metrics.coordinatorUp.Set(1)
	c.metrics.queue.Set(float64(len(toLoad)))
	absent := c.checkListed(l, q)
	l.queue = toLoad
	clear(l.inQueue)
	for _, id := range toLoad {
		l.inQueue[id] = true
	}
	for id := range l.segs {
		if !l.inQueue[id] {
			delete(l.segs, id)
		}
	}
	now := c.now()
	c.publish(func(s *companionSnapshot) {
		s.Coordinator.Up, s.Coordinator.Error, s.Coordinator.LastPoll = true, "", now.UTC().Format(time.RFC3339Nano)
		s.Coordinator.ServerListed, s.Coordinator.ServerAbsent = q.Listed, absent
		s.Coordinator.ListedServers, s.Coordinator.OtherServers = q.Servers, nil
		if !q.Listed {
			s.Coordinator.OtherServers = q.Others
		}
	})
}

// checkListed follows whether the Coordinator lists the Historical under the companion's server name. A server it
// does not list gets no loads, so nothing is prefetched: the usual cause is a companion given another druid.host
// than the Historical announces (a pod IP beside a host name), which would otherwise go unnoticed. It returns what
// /status says about the absence, "" while the server is listed.
func (c *Companion) checkListed(l *companionLoop, q loadqueue.ServerQueue) string {
	c.metrics.serverListed.Set(b2f(q.Listed))
	if q.Listed {
		if !l.unlistedSince.IsZero() {
			c.log.Info("the Coordinator lists the Historical now", "server", c.server)
		}
		l.unlistedSince, l.warned = time.Time{}, false
		return ""
	}
	now := c.now()
	if l.unlistedSince.IsZero() {
		l.unlistedSince = now
		c.log.Info("the Coordinator does not list the Historical yet; nothing is prefetched until it does",
			"server", c.server, "listedServers", q.Servers, "others", q.Others)
	}
	absent := fmt.Sprintf("the Coordinator's load queue has no server %s (it lists %d servers) since %s: the "+
		"Historical is still starting, or it announces another name than the companion's druid.host:port (give both "+
		"containers the same druid_host)", c.server, q.Servers, l.unlistedSince.UTC().Format(time.RFC3339))
	if !l.warned && now.Sub(l.unlistedSince) >= c.absentGrace {
		l.warned = true
		c.log.Warn("the Coordinator does not list the Historical: nothing is prefetched; check that the companion "+
			"and the Historical have the same druid.host and port", "server", c.server,
			"absentFor", now.Sub(l.unlistedSince).Round(time.Second), "listedServers", q.Servers, "others", q.Others)
	}
	return absent
}

// reconcile settles every entry against the last queue read: pulls of entries that left it are canceled, placed
// copies the Historical claimed are counted, unclaimed ones out of the queue for longer than the claim timeout are
// discarded, and finished entries out of the queue are forgotten.
func (c *Companion) reconcile(l *companionLoop, now time.Time) {
	claimTimeout := c.loadTimeout()
	c.vanished(l)
	for id, e := range l.entries {
		// Until the queue is read, an adopted copy is not known to be out of it.
		queued := l.inQueue[id] || !l.read
		switch e.state {
		case companionPulling:
			if !queued && !e.left {
				e.left = true
				e.cancel()
			}
		case companionPlaced:
			if c.pf.Claimed(e.seg.ID()) {
				e.state = companionDone
				l.totals.Claimed++
				c.metrics.claimed.Inc()
				c.metrics.leadTime.Observe(now.Sub(e.placedAt).Seconds())
				c.log.Debug("the Historical claimed a prefetched segment", "segment", id, "leadTime", now.Sub(e.placedAt))
				if !queued {
					delete(l.entries, id)
				}
				continue
			}
			if queued {
				e.leftAt = time.Time{}
				continue
			}
			if e.leftAt.IsZero() {
				e.leftAt = now
			}
			if now.Sub(e.leftAt) < claimTimeout {
				continue
			}
			if err := c.pf.Discard(e.seg); err != nil {
				if errors.Is(err, segcache.ErrNotPlaced) || errors.Is(err, segcache.ErrClaimed) {
					// Replaced, or taken by a load in progress: the directory is the Historical's now.
					c.log.Debug("a prefetched copy is no longer ours to discard", "segment", id, "error", err)
					delete(l.entries, id)
					continue
				}
				c.log.Warn("cannot discard an unclaimed prefetched segment; trying again next round", "segment", id, "error", err)
				continue
			}
			l.totals.Unclaimed++
			c.metrics.discardedUnclaimed.Inc()
			c.log.Info("discarded a prefetched segment the Historical never claimed", "segment", id,
				"outOfQueueFor", now.Sub(e.leftAt).Round(time.Second))
			delete(l.entries, id)
		default:
			if !queued {
				delete(l.entries, id)
			}
		}
	}
}

// vanished finds placed copies that are neither claimed nor in the prefetcher's ledger any more: the Historical
// deleted or replaced the directory, which a Druid 35+ Historical does when its reservation of the copy fails
// (the disk budget is too tight). They leave the window.
func (c *Companion) vanished(l *companionLoop) {
	var placed int
	for _, e := range l.entries {
		if e.state == companionPlaced {
			placed++
		}
	}
	if placed == 0 {
		return
	}
	ledger := map[string]bool{}
	for _, pc := range c.pf.Unclaimed() {
		ledger[pc.Segment.ID().String()] = true
	}
	for id, e := range l.entries {
		if e.state != companionPlaced || ledger[id] || c.pf.Claimed(e.seg.ID()) {
			continue
		}
		e.state = companionDone
		l.totals.Vanished++
		c.metrics.discardedVanished.Inc()
		c.log.Warn("a prefetched copy disappeared before the Historical claimed it; a Historical deletes a copy whose "+
			"reservation fails, so check that the locations' maxSize, druid.sidecar.prefetch.maxBytes and the free "+
			"space kept fit the disk", "segment", id)
	}
}

// window is what the prefetch window holds: pulls in flight and placed copies not yet claimed.
func (l *companionLoop) window() (segs int, bytes int64, pulling int) {
	for _, e := range l.entries {
		switch e.state {
		case companionPulling:
			pulling++
			fallthrough
		case companionPlaced:
			segs++
			bytes += e.seg.Size
		}
	}
	return segs, bytes, pulling
}

// dispatch starts pulls in queue order while threads and the window allow. It stops at the first segment that does
// not fit, so that segments are fetched in the order the Historical will load them; entries done, waiting for a
// retry or already in flight are passed over.
func (c *Companion) dispatch(ctx context.Context, l *companionLoop, now time.Time) {
	maxSegs, maxBytes := c.cfg.Sidecar.PrefetchMaxSegments, int64(c.cfg.Sidecar.PrefetchMaxBytes)
	segs, bytes, pulling := l.window()
	blocked := ""
	// Each reason to wait is logged when it begins, not at every round.
	defer func() {
		if blocked != l.blocked && blocked != "" {
			c.log.Debug("prefetching waits", "why", blocked)
		}
		l.blocked = blocked
	}()
	for _, id := range l.queue {
		if ctx.Err() != nil {
			return
		}
		if pulling >= c.threads() {
			blocked = "every prefetch thread is busy"
			return
		}
		e := l.entries[id]
		if e != nil && (e.state != companionFailed || now.Before(e.retryAt)) {
			continue
		}
		if segs >= maxSegs {
			blocked = "the window holds druid.sidecar.prefetch.maxSegments segments"
			return
		}
		seg := l.segs[id]
		if seg == nil {
			var err error
			seg, err = c.source.SegmentByID(ctx, id)
			if errors.Is(err, loadqueue.ErrSegmentNotFound) {
				c.log.Debug("a queued segment is not among the used segments; not prefetched", "segment", id, "error", err)
				l.entries[id] = &companionEntry{id: id, state: companionDone}
				continue
			}
			if err != nil {
				blocked = "the segment metadata cannot be read"
				if ctx.Err() == nil && l.blocked != blocked {
					c.log.Warn("cannot read a queued segment's metadata; prefetching waits", "segment", id, "error", err)
				}
				return
			}
			l.segs[id] = seg
		}
		if seg.IsTombstone() || seg.Size <= 0 {
			// A tombstone has no files in deep storage: the Historical loads it without a download.
			l.entries[id] = &companionEntry{id: id, seg: seg, state: companionDone}
			continue
		}
		if seg.Size > maxBytes {
			c.log.Warn("a queued segment is larger than the whole prefetch window; the Historical downloads it itself",
				"segment", id, "size", seg.Size, "maxBytes", maxBytes)
			l.entries[id] = &companionEntry{id: id, seg: seg, state: companionDone}
			continue
		}
		if bytes+seg.Size > maxBytes {
			blocked = "the window holds druid.sidecar.prefetch.maxBytes"
			return
		}
		if err := c.pf.Budget(seg); err != nil {
			blocked = "no cache location has room"
			if l.blocked != blocked {
				c.log.Warn("no cache location has room for a prefetched copy; prefetching waits", "segment", id, "error", err)
			}
			return
		}
		if e == nil {
			e = &companionEntry{id: id}
			l.entries[id] = e
		}
		e.seg, e.state, e.left = seg, companionPulling, false
		pctx, cancel := context.WithCancel(ctx)
		e.cancel = cancel
		segs, bytes, pulling = segs+1, bytes+seg.Size, pulling+1
		l.pulls.Add(1)
		go func() {
			defer l.pulls.Done()
			pl, err := c.pf.Place(pctx, seg, c.puller)
			l.results <- companionResult{id: id, pl: pl, err: err}
		}()
	}
}

// finish records a finished pull.
func (c *Companion) finish(l *companionLoop, r companionResult) {
	e := l.entries[r.id]
	if e == nil {
		return
	}
	e.cancel()
	now := c.now()
	if r.err != nil {
		if e.left {
			l.totals.Canceled++
			c.metrics.canceled.Inc()
			c.log.Debug("canceled the prefetch of a segment that left the load queue", "segment", r.id)
			delete(l.entries, r.id)
			return
		}
		switch {
		case errors.Is(r.err, segcache.ErrNoRoom):
			// The window or the disk filled up between Budget and Place: the segment waits a poll period for room,
			// which keeps a disk that fills and empties from spinning the loop.
			c.log.Debug("no room for a prefetched copy; it waits", "segment", r.id, "error", r.err)
			e.state, e.retryAt = companionFailed, now.Add(c.pollPeriod())
			return
		case errors.Is(r.err, segcache.ErrRecentDrop):
			// The nested layout's drop guard: the parent calms down within a minute.
			c.log.Debug("a drop happened beside the segment's directory; trying again shortly", "segment", r.id)
			e.state, e.retryAt = companionFailed, now.Add(max(c.pollPeriod(), 5*time.Second))
			return
		}
		e.failures++
		e.state = companionFailed
		e.retryAt = now.Add(min(c.pollPeriod()<<min(e.failures, 10), 5*time.Minute))
		l.totals.Failed++
		c.metrics.failures.Inc()
		c.log.Warn("prefetching a segment failed; the Historical will download it itself unless a retry is in time",
			"segment", r.id, "error", r.err, "failures", e.failures, "retryAt", e.retryAt.UTC().Format(time.RFC3339))
		return
	}
	switch r.pl.Outcome {
	case segcache.Placed:
		e.state, e.placedAt = companionPlaced, now
		if !l.inQueue[r.id] {
			e.leftAt = now
		}
		l.totals.Placed++
		l.totals.Bytes += r.pl.Bytes
		c.metrics.placed.Inc()
		c.metrics.bytes.Add(float64(r.pl.Bytes))
		c.log.Debug("prefetched a segment", "segment", r.id, "dir", r.pl.Dir, "bytes", r.pl.Bytes)
	case segcache.AlreadyPresent:
		e.state = companionDone
		l.totals.Present++
		c.metrics.present.Inc()
	case segcache.LostRace:
		e.state = companionDone
		l.totals.LostRace++
		c.metrics.discardedLostRace.Inc()
		c.log.Debug("the Historical placed the segment first; the prefetched copy was discarded", "segment", r.id)
	default:
		e.state = companionDone
	}
}

// publishLoop copies the loop's state to what /status and the drift watch read.
func (c *Companion) publishLoop(l *companionLoop) {
	var p companionPrefetchStatus
	p.Queue = len(l.queue)
	placed := map[string]bool{}
	for id, e := range l.entries {
		switch e.state {
		case companionPulling:
			p.Pulling++
		case companionPlaced:
			p.Placed++
			placed[id] = true
		case companionFailed:
			p.Failed++
		case companionDone:
			p.Done++
		}
	}
	p.WindowSegments, p.WindowBytes, _ = l.window()
	p.Totals = l.totals
	c.metrics.windowSegments.Set(float64(p.WindowSegments))
	c.metrics.windowBytes.Set(float64(p.WindowBytes))
	c.metrics.pulling.Set(float64(p.Pulling))
	c.mu.Lock()
	c.placed = placed
	c.mu.Unlock()
	leader := c.coord.Leader()
	c.publish(func(s *companionSnapshot) {
		base := s.Prefetch
		p.Enabled, p.Off, p.MaxBytes, p.MaxSegments, p.Threads = base.Enabled, base.Off, base.MaxBytes, base.MaxSegments, base.Threads
		s.Prefetch = p
		if leader != "" {
			s.Coordinator.URL = leader
		}
	})
}

// placedUnclaimed says whether id is a copy the companion placed and the Historical has not claimed yet: the drift
// watch expects it on disk without an info_dir entry.
func (c *Companion) placedUnclaimed(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.placed[id]
}

// The drift watch.

func (c *Companion) driftLoop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Sidecar.DriftPeriod)
	defer tick.Stop()
	last := -1
	for {
		findings, err := c.drift(ctx, c.placedUnclaimed)
		if ctx.Err() != nil {
			return
		}
		now := c.now()
		c.metrics.driftLast.Set(float64(now.UnixMilli()) / 1000)
		if err != nil {
			c.metrics.driftUp.Set(0)
			c.log.Warn("the drift watch cannot read the Historical", "error", err)
		} else {
			c.metrics.driftUp.Set(1)
			c.metrics.setDrift(findings)
			if len(findings) != last {
				if len(findings) > 0 {
					c.log.Warn("the Historical's cache, info_dir and inventory disagree", "findings", len(findings),
						"first", describeFinding(findings[0]))
				} else if last > 0 {
					c.log.Info("the Historical's cache, info_dir and inventory agree again")
				}
				last = len(findings)
			}
		}
		c.publish(func(s *companionSnapshot) {
			s.Drift.LastRun = now.UTC().Format(time.RFC3339Nano)
			if err != nil {
				s.Drift.Error = err.Error()
				return
			}
			s.Drift.Error, s.Drift.Findings = "", findings
			if s.Drift.Findings == nil {
				s.Drift.Findings = []audit.Finding{}
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func describeFinding(f audit.Finding) string {
	return f.SegmentID + ": " + f.Detail
}

// companionProblem maps a drift finding's detail to a metric label of a fixed set, so that no label ever carries a
// segment id whatever the detail says.
func companionProblem(detail string) string {
	switch {
	case strings.HasPrefix(detail, audit.DriftAnnouncedMissing):
		return "announced_missing_on_disk"
	case strings.HasPrefix(detail, audit.DriftNeverAnnounced):
		return "on_disk_not_announced"
	case strings.HasPrefix(detail, audit.DriftMarkerStale):
		return "stale_download_marker"
	case strings.HasPrefix(detail, audit.DriftInfoWithoutFiles):
		return "info_dir_without_files"
	}
	return "other"
}

// companionProblems are the label values of druid_sidecar_drift_findings, always exported (0 when none).
var companionProblems = []string{"announced_missing_on_disk", "on_disk_not_announced", "stale_download_marker",
	"info_dir_without_files", "other"}

// Status.

// companionSnapshot is /status.
type companionSnapshot struct {
	Server      string                     `json:"server"`
	Version     string                     `json:"version"`
	StartTime   string                     `json:"startTime"`
	Uptime      string                     `json:"uptime"`
	GoVersion   string                     `json:"goVersion"`
	Prefetch    companionPrefetchStatus    `json:"prefetch"`
	Coordinator companionCoordinatorStatus `json:"coordinator"`
	Drift       companionDriftStatus       `json:"drift"`
	// ConfigurationProblems are the configuration's problems, each with its key and where the value came from;
	// the companion runs without what they affect (prefetch.off and drift.off say what that is).
	ConfigurationProblems []string `json:"configurationProblems"`
}

type companionPrefetchStatus struct {
	Enabled bool `json:"enabled"`
	// Off says why prefetching is off.
	Off string `json:"off,omitempty"`
	// Queue is the length of the Historical's segmentsToLoad at the last read.
	Queue int `json:"queue"`
	// Entries by state: pulling, placed and not yet claimed, failed and waiting to retry, done while queued.
	Pulling int `json:"pulling"`
	Placed  int `json:"placed"`
	Failed  int `json:"failed"`
	Done    int `json:"done"`
	// The window: pulls and unclaimed copies, against its bounds.
	WindowSegments int             `json:"windowSegments"`
	WindowBytes    int64           `json:"windowBytes"`
	MaxSegments    int             `json:"maxSegments"`
	MaxBytes       int64           `json:"maxBytes"`
	Threads        int             `json:"threads"`
	Totals         companionTotals `json:"totals"`
}

type companionCoordinatorStatus struct {
	URL      string `json:"url,omitempty"`
	Up       bool   `json:"up"`
	LastPoll string `json:"lastPoll,omitempty"`
	Error    string `json:"error,omitempty"`
	// ServerListed says whether the last listing had the companion's server; ServerAbsent says what its absence
	// means, with ListedServers (the listing's size) and OtherServers (a few names it has, on the same port first).
	ServerListed  bool     `json:"serverListed"`
	ServerAbsent  string   `json:"serverAbsent,omitempty"`
	ListedServers int      `json:"listedServers"`
	OtherServers  []string `json:"otherServers,omitempty"`
}

type companionDriftStatus struct {
	Enabled bool `json:"enabled"`
	// Off says why the drift watch is off.
	Off      string          `json:"off,omitempty"`
	Period   string          `json:"period,omitempty"`
	LastRun  string          `json:"lastRun,omitempty"`
	Error    string          `json:"error,omitempty"`
	Findings []audit.Finding `json:"findings"`
}

// publish changes the /status snapshot under the lock; the first call fills in what never changes.
func (c *Companion) publish(f func(s *companionSnapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.status
	if s.Server == "" {
		s.Server, s.Version, s.GoVersion = c.server, c.version, runtime.Version()
		s.StartTime = c.startTime.UTC().Format(time.RFC3339Nano)
		s.Prefetch.Enabled, s.Prefetch.Off = c.off == "", c.off
		s.Prefetch.MaxBytes, s.Prefetch.MaxSegments = int64(c.cfg.Sidecar.PrefetchMaxBytes), c.cfg.Sidecar.PrefetchMaxSegments
		s.Prefetch.Threads = c.threads()
		if c.coord != nil {
			s.Coordinator.URL = c.cfg.Sidecar.CoordinatorURL
		}
		s.Drift.Enabled = c.driftOn()
		switch {
		case s.Drift.Enabled:
			s.Drift.Period = c.cfg.Sidecar.DriftPeriod.String()
		case c.driftOff != "":
			s.Drift.Off = c.driftOff
		default:
			s.Drift.Off = "druid.sidecar.drift.period is empty"
		}
		s.ConfigurationProblems = append([]string{}, c.problems...)
		s.Drift.Findings = []audit.Finding{}
	}
	f(s)
}

func (c *Companion) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(HealthPath, get(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, true) }))
	mux.HandleFunc(StatusPath, get(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		s := c.status
		s.Drift.Findings = slices.Clone(s.Drift.Findings)
		c.mu.Unlock()
		s.Uptime = c.now().Sub(c.startTime).Round(time.Millisecond).String()
		writeJSON(w, http.StatusOK, s)
	}))
	serveDiagnostics(mux, c.reg, c.cfg.Sidecar.HTTPPprof, func(h http.Handler) http.Handler { return h })
	return mux
}

// Metrics. No label carries a segment id or a dataSource.

var companionLeadTimeBuckets = []float64{0.5, 1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200}

// companionMetrics are the companion's collectors:
//
//   - druid_sidecar_prefetch_placed_total: segments prefetched and placed in the cache;
//   - druid_sidecar_prefetch_claimed_total: placed copies the Historical claimed (its info_dir entry appeared);
//   - druid_sidecar_prefetch_discarded_total{reason}: lost_race (the Historical had begun its own copy first),
//     unclaimed (out of the queue for longer than the claim timeout, removed) or vanished (the Historical removed
//     the copy before claiming it: its reservation failed);
//   - druid_sidecar_prefetch_already_present_total: queued segments found already in the cache;
//   - druid_sidecar_prefetch_failures_total, druid_sidecar_prefetch_canceled_total: failed pulls, and pulls canceled
//     because the segment left the queue;
//   - druid_sidecar_prefetch_bytes_total: bytes of the copies placed;
//   - druid_sidecar_prefetch_lead_time_seconds: histogram of placed-to-claimed time;
//   - druid_sidecar_prefetch_queue_segments: the Historical's segmentsToLoad at the last read;
//   - druid_sidecar_prefetch_window_segments, druid_sidecar_prefetch_window_bytes, druid_sidecar_prefetch_pulling:
//     the window in use (pulls plus unclaimed copies) and the pulls in flight;
//   - druid_sidecar_coordinator_up: 1 when the last load-queue read succeeded;
//   - druid_sidecar_server_listed: 1 when the last load-queue read listed the Historical under the companion's
//     server name (0 before a read and while the Coordinator does not know it by that name);
//   - druid_sidecar_drift_findings{problem}, druid_sidecar_drift_up, druid_sidecar_drift_last_run_timestamp_seconds;
//   - druid_sidecar_config_problems: problems in the configuration, each turning off what it affects;
//   - druid_sidecar_companion_enabled{feature}: 1 when prefetch, or drift, runs.
type companionMetrics struct {
	placed, claimed, present, failures, canceled prometheus.Counter
	discardedLostRace, discardedUnclaimed        prometheus.Counter
	discardedVanished                            prometheus.Counter
	bytes                                        prometheus.Counter
	leadTime                                     prometheus.Histogram
	queue, windowSegments, windowBytes, pulling  prometheus.Gauge
	coordinatorUp, serverListed                  prometheus.Gauge
	driftFindings                                *prometheus.GaugeVec
	driftUp, driftLast                           prometheus.Gauge
	configProblems                               prometheus.Gauge
	enabled                                      *prometheus.GaugeVec
	all                                          []prometheus.Collector
}

func newCompanionMetrics() *companionMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	discarded := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "druid_sidecar_prefetch_discarded_total",
		Help: "Prefetched copies lost: lost_race (the Historical began its own first), unclaimed (out of the queue past the claim timeout, removed) or vanished (removed by the Historical before it claimed them)."},
		[]string{"reason"})
	m := &companionMetrics{
		placed:             counter("druid_sidecar_prefetch_placed_total", "Segments prefetched and placed in the Historical's cache."),
		claimed:            counter("druid_sidecar_prefetch_claimed_total", "Prefetched copies the Historical claimed (its info_dir entry appeared)."),
		present:            counter("druid_sidecar_prefetch_already_present_total", "Queued segments found already in the cache, not prefetched."),
		failures:           counter("druid_sidecar_prefetch_failures_total", "Prefetch pulls that failed."),
		canceled:           counter("druid_sidecar_prefetch_canceled_total", "Prefetch pulls canceled because the segment left the load queue."),
		discardedLostRace:  discarded.WithLabelValues("lost_race"),
		discardedUnclaimed: discarded.WithLabelValues("unclaimed"),
		discardedVanished:  discarded.WithLabelValues("vanished"),
		bytes:              counter("druid_sidecar_prefetch_bytes_total", "Bytes of the segment copies placed."),
		leadTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "druid_sidecar_prefetch_lead_time_seconds",
			Help: "Time from placing a prefetched copy to the Historical claiming it.", Buckets: companionLeadTimeBuckets}),
		queue:          gauge("druid_sidecar_prefetch_queue_segments", "Segments in the Historical's load queue at the last read."),
		windowSegments: gauge("druid_sidecar_prefetch_window_segments", "Segments in the prefetch window: pulls in flight plus unclaimed copies."),
		windowBytes:    gauge("druid_sidecar_prefetch_window_bytes", "Bytes in the prefetch window: pulls in flight plus unclaimed copies."),
		pulling:        gauge("druid_sidecar_prefetch_pulling", "Prefetch pulls in flight."),
		coordinatorUp:  gauge("druid_sidecar_coordinator_up", "1 when the last read of the Coordinator's load queue succeeded."),
		serverListed: gauge("druid_sidecar_server_listed",
			"1 when the Coordinator's load queue lists the Historical under the companion's druid.host:port; 0 means nothing can be prefetched (/status says why)."),
		driftFindings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "druid_sidecar_drift_findings",
			Help: "Disagreements between the Historical's cache, info_dir and inventory at the last drift check, by problem."},
			[]string{"problem"}),
		driftUp:   gauge("druid_sidecar_drift_up", "1 when the last drift check could read the Historical."),
		driftLast: gauge("druid_sidecar_drift_last_run_timestamp_seconds", "When the last drift check ran."),
		configProblems: gauge("druid_sidecar_config_problems",
			"Problems in the configuration; the companion runs without what each affects (/status lists them)."),
		enabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "druid_sidecar_companion_enabled",
			Help: "1 when the feature (prefetch, drift) runs, 0 when it is off (/status says why)."}, []string{"feature"}),
	}
	for _, p := range companionProblems {
		m.driftFindings.WithLabelValues(p)
	}
	m.all = []prometheus.Collector{m.placed, m.claimed, m.present, m.failures, m.canceled, discarded, m.bytes, m.leadTime,
		m.queue, m.windowSegments, m.windowBytes, m.pulling, m.coordinatorUp, m.serverListed, m.driftFindings, m.driftUp, m.driftLast,
		m.configProblems, m.enabled}
	return m
}

func (m *companionMetrics) setDrift(findings []audit.Finding) {
	counts := map[string]int{}
	for _, f := range findings {
		counts[companionProblem(f.Detail)]++
	}
	for _, p := range companionProblems {
		m.driftFindings.WithLabelValues(p).Set(float64(counts[p]))
	}
}

// Describe implements prometheus.Collector.
func (m *companionMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *companionMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all {
		c.Collect(ch)
	}
}

// companionFallbackSource asks the Coordinator first and, when the Coordinator refuses the credentials for the
// metadata API (it needs read permission on the dataSource, the load queue only on the state), reads the segment
// from the metadata store. The Coordinator is first because it serves from memory; the store is read one
// dataSource at a time, which is costly for large dataSources, so it stays a fallback.
type companionFallbackSource struct {
	primary companionSegmentSource
	cfg     *configs.Config
	log     hclog.Logger

	mu    sync.Mutex
	store *metadata.Store
}

func (f *companionFallbackSource) SegmentByID(ctx context.Context, id string) (*segments.DataSegment, error) {
	seg, err := f.primary.SegmentByID(ctx, id)
	if err == nil || !errors.Is(err, loadqueue.ErrCoordinatorRefused) {
		return seg, err
	}
	seg, serr := f.fromStore(ctx, id)
	if serr != nil {
		return nil, errors.Join(err, serr)
	}
	return seg, nil
}

// errCompanionFound ends a stream of the segments table at the row looked for.
var errCompanionFound = errors.New("found")

func (f *companionFallbackSource) fromStore(ctx context.Context, id string) (*segments.DataSegment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store == nil {
		s, err := metadata.Open(ctx, f.cfg)
		if err != nil {
			return nil, err
		}
		f.store = s
		f.log.Info("reading queued segments from the metadata store: the Coordinator refused its metadata API")
	}
	var dataSources []string
	for _, r := range segments.PossibleSegmentIDs(id) {
		if !slices.Contains(dataSources, r.DataSource) {
			dataSources = append(dataSources, r.DataSource)
		}
	}
	if len(dataSources) == 0 {
		return nil, fmt.Errorf("%q is not a segment id: %w", id, loadqueue.ErrSegmentNotFound)
	}
	var found *segments.DataSegment
	err := f.store.StreamSegments(ctx, metadata.StreamOptions{DataSources: dataSources}, func(r *metadata.SegmentRow) error {
		if r.ID == id {
			found = r.Segment
			return errCompanionFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errCompanionFound) {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("segment %s: no used row in the metadata store: %w", id, loadqueue.ErrSegmentNotFound)
	}
	return found, nil
}

func (f *companionFallbackSource) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.store.Close(ctx)
		f.store = nil
	}
}
