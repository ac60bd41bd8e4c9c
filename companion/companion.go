// Package companion runs beside an unmodified Java Historical that shares its segment cache volume
// (druid-protocol.md 13): it prefetches the segments of the Historical's load queue into the cache and watches the
// cache, info_dir and inventory for drift. Companion is the process; its files are split by concern: the prefetch
// loop (queue.go), the drift watch (drift.go), /status and the HTTP surface (status.go), the metrics (metrics.go) and
// where a queued segment's DataSegment comes from (source.go).
package companion

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
	"github.com/druid-sidecar/druid-sidecar/internal/promx"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segcache"
)

// Options are the companion's collaborators, the same as serve's; every field is optional.
type Options = lifecycle.Options

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
	reg          lifecycle.Registry
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
	coord      *coordinator.Client
	source     segmentSource
	puller     segcache.Puller
	metrics    *metrics
	// drift reads the Historical and compares; tests may replace it.
	drift func(ctx context.Context, ignore func(id string) bool) ([]audit.Finding, error)
	// absentGrace is how long the Coordinator may not list the server before a warning; tests shorten it.
	absentGrace time.Duration

	ran       atomic.Bool
	ready     chan struct{}
	startTime time.Time

	srv  *lifecycle.Server // set by Run
	gate *gate
	// tls is the HTTPS port's (druid.enableTlsPort), served on listen; plainListen is the HTTP port, "" for none.
	tls         *tls.Config
	plainListen string

	mu     sync.Mutex
	addr   net.Addr
	status snapshot
	placed map[string]bool // ids placed and not yet claimed or discarded: the drift watch expects them on disk
}

// New prepares the companion for the Historical cfg describes; nothing is contacted yet. A companion only
// helps, so a configuration problem never stops it (it must never keep the Historical it sits beside from
// starting): the problems a configs.LoadOptions.KeepGoing load found (cfg.Problems) and the ones New
// finds itself turn off what they affect (prefetching, the drift watch, the metadata store fallback), and they
// show on /status, in the log at startup and in druid_sidecar_config_problems. Its error is for what is no
// configuration problem (the metrics cannot be registered).
func New(cfg *configs.Config, opts Options) (*Companion, error) {
	if cfg == nil {
		return nil, errors.New("companion: no configuration")
	}
	opts = opts.WithDefaults()
	c := &Companion{cfg: cfg, log: opts.Logger, reg: opts.Registerer, version: opts.Version, shutdown: opts.ShutdownTimeout,
		now: time.Now, ready: make(chan struct{}), placed: map[string]bool{}, absentGrace: defaultAbsentGrace}
	c.metrics = newMetrics()
	if err := c.reg.Register(c.metrics); err != nil {
		return nil, fmt.Errorf("registering the companion's metrics: %w", err)
	}
	// The rollout gate is set up last on every return below, once prefetching has its Coordinator client or none.
	defer func() { c.gate = c.newGate(cfg, c.coord) }()
	c.configProblems(cfg)
	c.server = cfg.Node.HostAndPortToUse()
	scheme := "http"
	if cfg.Node.EnableTLSPort {
		scheme = "https"
	}
	c.inventoryURL = scheme + "://" + c.server + inventory.Path + "?counter=-1"
	port := strconv.Itoa(cfg.Sidecar.CompanionPort)
	if cfg.Node.BindOnHost && cfg.Node.Host != "" {
		c.listen = net.JoinHostPort(cfg.Node.Host, port)
	} else {
		c.listen = net.JoinHostPort("", port)
	}
	c.ports(cfg)
	c.drift = c.readDrift

	// The prefetcher says which Druid settings it refuses (virtual storage, deleteOnRemove=false, no window) and why.
	if c.off == "" {
		if err := segcache.PrefetchRefusal(cfg); err != nil {
			c.off = err.Error()
		}
	}
	if c.off != "" {
		return c, nil
	}
	// What fails below cannot work with this configuration either: prefetching stays off, saying why.
	var err error
	c.pf, err = segcache.NewPrefetcher(cfg, segcache.PrefetchOptions{Logger: c.log.Named("prefetch"), Now: c.now})
	if errors.Is(err, segcache.ErrPrefetchOff) {
		c.off = err.Error() // a refusal of the disk (no location can have a window), not a failure
		return c, nil
	}
	if err != nil {
		c.off = fmt.Sprintf("setting up prefetching into %s failed: %v", lifecycle.DescribeLocations(cfg), err)
		return c, nil
	}
	c.coord, err = coordinator.New(cfg, coordinator.Options{Logger: c.log.Named("coordinator")})
	if err != nil {
		c.off = "reading the Coordinator's load queue cannot be set up: " + err.Error()
		c.closePrefetcher()
		return c, nil
	}
	c.source = c.coord
	if cfg.Metadata.Type == "postgresql" && cfg.Metadata.ConnectURI != "" && !c.noMetadata {
		c.source = &fallbackSource{primary: c.coord, cfg: cfg, log: c.log}
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
		pre, dri, meta := affected(p.Key)
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

// affected says what a problem with key takes away. Keys that say which Historical and which cache (its
// host and ports, the cache locations and layout), or a problem with no key (a properties file that cannot be
// read), leave nothing to fill or watch. The drift watch's own keys turn off only the drift watch, the metadata
// store's only the fallback to it, and the companion's HTTP and rollout gate keys nothing (their defaults serve).
// Any other key may be one prefetching reads (discovery, ZooKeeper, the escalator, deep storage, the prefetch
// window): prefetching, which writes into the Historical's cache, stays off while the configuration is in doubt;
// the drift watch only reads and goes on.
func affected(key string) (prefetch, drift, metadata bool) {
	switch {
	case key == "" || key == "druid.host" || strings.HasPrefix(key, "druid.segmentCache.") || key == "druid.sidecar.cacheLayout" ||
		slices.Contains([]string{"druid.port", "druid.plaintextPort", "druid.tlsPort", "druid.enablePlaintextPort",
			"druid.enableTlsPort"}, key):
		return true, true, false
	case strings.HasPrefix(key, "druid.sidecar.drift."):
		return false, true, false
	case strings.HasPrefix(key, "druid.metadata."):
		return false, false, true
	case key == "druid.sidecar.companion.port" || key == "druid.sidecar.http.pprof" || key == "druid.bindOnHost" ||
		key == "druid.sidecar.rolloutGate" || key == "druid.sidecar.nativeSidecar":
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
				"Historical's user): %v", lifecycle.DescribeLocations(c.cfg), err)
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
	c.metrics.enabled.WithLabelValues("prefetch").Set(promx.Bool(c.off == ""))
	c.metrics.enabled.WithLabelValues("drift").Set(promx.Bool(c.driftOn()))
	c.publish(func(s *snapshot) {})

	// What New opened is closed last, in the reverse order of its opening.
	stops := lifecycle.NewStops(c.log.Named("stop"))
	if c.pf != nil {
		stops.Push("prefetcher", func(context.Context) error {
			return lifecycle.Wrap("closing the segment cache locations", c.pf.Close())
		})
	}
	if c.coord != nil {
		stops.Push("Coordinator client", func(context.Context) error { c.coord.Close(); return nil })
	}
	if fs, ok := c.source.(*fallbackSource); ok {
		stops.Push("metadata store", func(context.Context) error { fs.close(); return nil })
	}
	if c.gate.ownCoord {
		stops.Push("rollout gate's Coordinator client", func(context.Context) error { c.gate.coord.Close(); return nil })
	}
	runErr := c.start(ctx, stops)
	if runErr == nil {
		select {
		case <-ctx.Done():
			c.log.Info("shutting down", "cause", context.Cause(ctx))
		case <-c.srv.Done():
			runErr = fmt.Errorf("the HTTP server on %s stopped: %w", c.listen, c.srv.Err())
		}
	}
	// The gate answers 503 before anything stops, so that a rolling update never counts a stopping pod ready.
	c.gate.stopping.Store(true)
	stopCtx, cancel := context.WithTimeout(context.Background(), c.shutdown)
	defer cancel()
	err := errors.Join(runErr, stops.Stop(stopCtx))
	if err != nil {
		c.log.Error("the companion stopped after a failure", "error", err)
	} else {
		c.log.Info("shutdown complete")
	}
	return err
}

// start serves HTTP and starts the loops, pushing each one's stop on stops.
func (c *Companion) start(ctx context.Context, stops *lifecycle.Stops) error {
	var err error
	c.srv, err = c.serveHTTP(&http.Server{Handler: c.handler(), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: c.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.addr = c.srv.Addr()
	c.mu.Unlock()
	stops.Push("HTTP server", c.srv.Shutdown)
	c.log.Info("serving HTTP", "addr", c.srv.Addr().String(), "tls", c.tls != nil, "plaintext", c.plainListen)

	loopCtx, stopLoops := context.WithCancel(ctx)
	var loops sync.WaitGroup
	if c.off == "" {
		loops.Go(func() { c.prefetchLoop(loopCtx) })
	}
	if c.driftOn() {
		loops.Go(func() { c.driftLoop(loopCtx) })
	}
	if c.gate.on() {
		loops.Go(func() { c.gateLoop(loopCtx) })
	}
	// The loops stop before HTTP does, so that /status shows them to the end; a pull that outlives the shutdown
	// timeout is left to its cancel (Place removes its staging copy when canceled).
	stops.Push("prefetch loop and drift watch", func(ctx context.Context) error {
		stopLoops()
		loopsDone := make(chan struct{})
		go func() { loops.Wait(); close(loopsDone) }()
		select {
		case <-loopsDone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("the prefetch pulls did not stop within %s", c.shutdown)
		}
	})
	close(c.ready)
	return nil
}

func (c *Companion) threads() int { return max(1, c.cfg.Sidecar.PrefetchThreads) }

// driftOn says whether the drift watch runs: it has a period and no configuration problem turned it off.
func (c *Companion) driftOn() bool { return c.cfg.Sidecar.DriftPeriod > 0 && c.driftOff == "" }

func (c *Companion) pollPeriod() time.Duration {
	if d := c.cfg.Sidecar.PrefetchPollPeriod; d > 0 {
		return d
	}
	return 5 * time.Second
}
