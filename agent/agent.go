// Package agent wires druid-sidecar's parts into a running Druid data server and runs its lifecycle in the order a
// Java Historical does (druid-protocol.md 10): the segment cache is read, the HTTP endpoints go live, the cached
// segments are announced, readiness is reported, and only then is the node announced to internal discovery, which
// is what makes Brokers and Coordinators find it. Shutdown runs the stages in reverse.
//
// With druid.sidecar.upstream set, a local segment server answers the queries: each load and drop is handed to it
// (the hook, upstream.go), /druid/v2/* is forwarded to it (proxy.go), and a restart hands it every cached segment
// before they are announced. docs/upstream.md is its contract.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/loadqueue"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// DefaultShutdownTimeout bounds the whole shutdown; loads still running when it passes are canceled.
const DefaultShutdownTimeout = lifecycle.DefaultShutdownTimeout

// Registry is where the agent's metrics are registered and what /metrics serves; *prometheus.Registry is one.
type Registry = lifecycle.Registry

// Options are an Agent's collaborators (the companion's too); every field is optional.
type Options = lifecycle.Options

// Agent is one data server's lifecycle. Run it once.
type Agent struct {
	cfg       *configs.Config
	log       hclog.Logger
	reg       Registry
	version   string
	shutdown  time.Duration
	listen    string
	startTime time.Time

	tls         *tls.Config // the TLS port's (druid.enableTlsPort), nil without TLS
	clientTLS   *tls.Config // outbound calls' (druid.client.https.*), nil for Go's defaults
	plainListen string      // the plaintext port beside the TLS one, "" when there is none

	ran atomic.Bool
	// bootstrapped: the cached segments are announced; /druid/historical/v1/loadstatus and readiness both answer
	// it, as Druid 37's HistoricalResource answers both from SegmentCacheBootstrapper.isBootstrappingComplete.
	bootstrapped   atomic.Bool
	selfDiscovered atomic.Bool // AnnounceNode succeeded: /status/ready and /status/selfDiscovered
	discovered     bool        // selfDiscovered when the shutdown began
	ready          chan struct{}
	readyOnce      sync.Once

	mu   sync.Mutex
	addr net.Addr

	// coord is the one client of the leader Coordinator that start-up's version read and bootstrap segments and the
	// version watch share (coordinatorClient), so that serve opens one discovery session for them, not three.
	coord     *coordinator.Client
	coordErr  error
	coordOnce sync.Once

	probePeriod time.Duration // how often the upstream is probed; tests shorten it
}

// New checks that cfg describes a data server the agent can run and returns the Agent; nothing is opened yet.
// Its errors are configuration errors.
func New(cfg *configs.Config, opts Options) (*Agent, error) {
	if cfg == nil {
		return nil, errors.New("agent: no configuration")
	}
	var errs []error
	if cfg.Node.Host == "" {
		errs = append(errs, errors.New("druid.host is not set: the node needs an address to announce"))
	}
	if len(cfg.SegmentCache.Locations()) == 0 {
		errs = append(errs, errors.New("druid.segmentCache.locations is empty: a data server needs a segment cache"))
	}
	var tlsCfg *tls.Config
	if cfg.Node.EnableTLSPort {
		// The key store is read now, so that a wrong password or alias is a configuration error naming its key.
		var err error
		if tlsCfg, err = tlsconf.Server(cfg.TLS.Server); err != nil {
			errs = append(errs, err)
		}
	} else if !cfg.Node.EnablePlaintextPort {
		errs = append(errs, errors.New("druid.enablePlaintextPort=false and druid.enableTlsPort=false: the node would have no port to serve and announce"))
	}
	clientTLS, err := tlsconf.Client(cfg.TLS.Client)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	a := &Agent{cfg: cfg, log: opts.Logger, reg: opts.Registerer, version: opts.Version, shutdown: opts.ShutdownTimeout,
		ready: make(chan struct{})}
	a.probePeriod = upstreamProbePeriod
	bindHost := ""
	if cfg.Node.BindOnHost {
		bindHost = cfg.Node.Host
	}
	a.listen = net.JoinHostPort(bindHost, strconv.Itoa(cfg.Node.PortToUse()))
	// With TLS, a.listen is the TLS port (the node's identity); the plaintext port is served beside it when enabled.
	a.tls, a.clientTLS = tlsCfg, clientTLS
	if tlsCfg != nil && cfg.Node.EnablePlaintextPort {
		a.plainListen = net.JoinHostPort(bindHost, strconv.Itoa(cfg.Node.PlaintextPort))
	}
	return a, nil
}

// Ready is closed once the node is announced to internal discovery, that is once startup has completed.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Addr is the address the HTTP server listens on, nil before it listens.
func (a *Agent) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// parts are what the HTTP handler serves; the stop list holds what shutdown closes.
type parts struct {
	cache    *segcache.Cache
	inv      *inventory.Inventory
	ann      *announcer.Announcer
	queue    *loadqueue.Engine
	upstream *Upstream // nil without druid.sidecar.upstream
	srv      *lifecycle.Server

	unannounced time.Time // when the node left internal discovery; zero before
}

// Run starts the server, serves until ctx ends, then shuts down. It returns nil after a shutdown asked for by ctx,
// and an error naming the failed step when startup fails or the HTTP server stops by itself.
func (a *Agent) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("agent: Run was already called; an Agent runs once")
	}
	a.startTime = time.Now()
	p := &parts{}
	stops := lifecycle.NewStops(a.log.Named("stop"))
	err := a.start(ctx, p, stops)
	if err == nil {
		select {
		case <-ctx.Done():
			a.log.Info("shutting down", "cause", context.Cause(ctx))
		case <-p.srv.Done():
			err = fmt.Errorf("the HTTP server on %s stopped: %w", a.listen, p.srv.Err())
		}
	} else if ctx.Err() != nil {
		a.log.Info("shutting down during startup", "cause", context.Cause(ctx), "step", err)
		err = nil
	}
	stopErr := a.stop(stops)
	if err != nil {
		a.log.Error("druid-sidecar stopped after a failure", "error", err)
	} else if stopErr == nil {
		a.log.Info("shutdown complete")
	}
	return errors.Join(err, stopErr)
}

// start runs the startup stages, pushing each one's stop on stops as it starts.
func (a *Agent) start(ctx context.Context, p *parts, stops *lifecycle.Stops) error {
	cfg, log := a.cfg, a.log
	var err error

	// NORMAL: the segment cache, as SegmentCacheBootstrapper reads it.
	p.cache, err = segcache.NewCache(cfg, segcache.CacheOptions{Logger: log.Named("cache"), Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("opening the segment cache: %w", err)
	}
	stops.Push("segment cache", func(context.Context) error {
		return lifecycle.Wrap("closing the segment cache", p.cache.Close())
	})
	dsOpts := deepstorage.OptionsFromConfig(cfg)
	dsOpts.Logger = log.Named("deepstorage")
	puller, err := deepstorage.New(dsOpts)
	if err != nil {
		return fmt.Errorf("setting up deep storage: %w", err)
	}
	stops.Push("Coordinator client", func(context.Context) error {
		a.coordOnce.Do(func() {}) // a client made by start is seen here
		if a.coord != nil {
			return lifecycle.Wrap("closing the Coordinator client", a.coord.Close())
		}
		return nil
	})
	// The defaults that depend on the cluster's Druid version are settled before anything is announced.
	dv := a.applyDruidVersion(ctx)
	cfg = a.cfg
	p.inv = inventory.New()
	nodeOpts, err := a.nodeAnnouncerOption(cfg, log)
	if err != nil {
		return fmt.Errorf("setting up Kubernetes discovery (druid.discovery.type=k8s): %w", err)
	}
	p.ann, err = announcer.New(cfg, append([]announcer.Option{announcer.WithLogger(log), announcer.WithInventory(p.inv),
		announcer.WithRegisterer(a.reg), announcer.WithStartTime(a.startTime)}, nodeOpts...)...)
	if err != nil {
		return fmt.Errorf("starting the announcer (ZooKeeper %s): %w", cfg.ZK.Service.Host, err)
	}
	stops.Push("announcer", func(ctx context.Context) error {
		return lifecycle.Wrap("stopping the announcer", p.ann.Stop(ctx))
	})
	// The cache is read with the announcer ready, so that without an upstream (which must learn the cached segments
	// before they are announced) each segment is announced as it is read: the inventory has it at once, its znode is
	// queued, and AnnounceNode writes and waits for every znode, as Java's bootstrap queues its announcements until
	// its ZooKeeper announcer starts after readiness (so the read keeps both cores).
	p.ann.HoldWrites()
	var handed func([]*segments.DataSegment)
	var handedErr error
	announcedAsRead := 0
	if cfg.Sidecar.Upstream == "" {
		handed = func(segs []*segments.DataSegment) {
			announcedAsRead += len(segs)
			if err := p.ann.QueueSegments(segs...); err != nil && handedErr == nil {
				handedErr = err
			}
		}
	}
	cached, _, err := p.cache.BootstrapEach(ctx, handed)
	if err != nil {
		return fmt.Errorf("reading the segment cache in %s: %w", lifecycle.DescribeLocations(cfg), err)
	}
	if handedErr != nil {
		return fmt.Errorf("announcing the cached segments (ZooKeeper %s): %w", cfg.ZK.Service.Host, handedErr)
	}
	log.Info("segment cache read", "segments", announcedAsRead+len(cached), "announced as read", announcedAsRead,
		"layout", p.cache.Layout(), "infoDir", p.cache.InfoDir())
	// The hook stays a nil func without an upstream (a method value of a nil *Upstream would not be nil): loads
	// then end in the cache.
	var hook loadqueue.Hook
	if cfg.Sidecar.Upstream != "" {
		p.upstream, err = NewUpstream(cfg.Sidecar.Upstream, UpstreamOptions{HookTimeout: cfg.Sidecar.UpstreamHookTimeout, TLS: a.clientTLS,
			Logger: log.Named("upstream"), Registerer: a.reg})
		if err != nil {
			return fmt.Errorf("setting up the local segment server: %w", err)
		}
		stops.Push("local segment server client", func(context.Context) error { p.upstream.close(); return nil })
		hook = p.upstream.Hook
	}
	sc := cfg.SegmentCache
	p.queue, err = loadqueue.New(loadqueue.Options{
		Cache:              p.cache,
		Puller:             puller,
		Announcer:          p.ann,
		Hook:               hook,
		Logger:             log.Named("loadqueue"),
		Registerer:         a.reg,
		NumLoadingThreads:  sc.NumLoadingThreads,
		NumTurboThreads:    sc.NumBootstrapThreads,
		StatusQueueMaxSize: sc.StatusQueueMaxSize,
		MaxRequestBytes:    int64(cfg.Sidecar.ChangeRequestsMaxRequestBytes),
		MaxInflightBytes:   int64(cfg.Sidecar.ChangeRequestsMaxInflightBytes),
	})
	if err != nil {
		return fmt.Errorf("starting the load queue: %w", err)
	}
	var zkq *loadqueue.ZKQueue // nil unless druid.sidecar.zkLoadQueue
	var zkqDone chan error     // the ZooKeeper load queue reader's end, once it runs
	if cfg.Sidecar.ZKLoadQueue {
		zkq, err = loadqueue.NewZKQueue(loadqueue.ZKQueueOptions{Engine: p.queue, Config: cfg,
			Logger: log.Named("zkloadqueue"), Registerer: a.reg})
		if err != nil {
			// The engine's stop is pushed once HTTP serves (see there); until then a failure stops it here.
			p.queue.Stop(context.Background())
			return fmt.Errorf("setting up the ZooKeeper load queue (druid.sidecar.zkLoadQueue): %w", err)
		}
	}
	if p.upstream == nil {
		log.Info("no upstream: cluster state only (segment inventory and loads into the cache); /druid/v2/* answers 503")
	} else {
		// A first probe, for the log and the _up gauge only: the upstream may well start after this process.
		perr := p.upstream.Probe(ctx)
		if perr == nil {
			log.Info("local segment server answers: queries go to it, loads and drops are handed to it",
				"upstream", p.upstream.URL(), "hookTimeout", p.upstream.timeout.String())
		} else {
			log.Warn("local segment server configured but not answering yet: queries get 503 until it does",
				"upstream", p.upstream.URL(), "error", perr)
		}
		// The probes run until stop, not until ctx ends, so that the gauge stays current during the shutdown.
		probeCtx, stopProbe := context.WithCancel(context.WithoutCancel(ctx))
		var probing sync.WaitGroup
		probing.Go(func() { p.upstream.probeLoop(probeCtx, a.probePeriod, perr == nil) })
		stops.Push("local segment server probes", func(context.Context) error { stopProbe(); probing.Wait(); return nil })
	}

	// SERVER: every endpoint is live before anything is announced (trap 16).
	if a.tls != nil {
		p.srv, err = lifecycle.ListenTLS(a.listen, a.tls, a.plainListen, a.httpServer(a.handler(p)))
	} else {
		p.srv, err = lifecycle.Listen(a.listen, a.httpServer(a.handler(p)))
	}
	if err != nil {
		p.queue.Stop(context.Background())
		return fmt.Errorf("%w (druid.plaintextPort, druid.tlsPort, druid.bindOnHost)", err)
	}
	a.mu.Lock()
	a.addr = p.srv.Addr()
	a.mu.Unlock()
	stops.Push("HTTP server", a.stopHTTP(p))
	log.Info("serving HTTP", "addr", p.srv.Addr().String(), "tls", a.tls != nil, "plaintextBesideTLS", a.plainListen)
	// The inventory and the load queue answer over HTTP, and their held requests (inventory long-polls,
	// changeRequests) would keep the server from draining: they stop before it. Parked inventory polls get 500
	// "Server is shutting down."
	stops.Push("segment inventory", func(context.Context) error { p.inv.Stop(); return nil })
	// The engine stops loading (loads it cancels keep their ZooKeeper znodes), then the ZooKeeper load queue's
	// reader, which waits for the loads it handed over, ends.
	stops.Push("load queue", func(ctx context.Context) error {
		err := p.queue.Stop(ctx)
		if zkqDone != nil {
			if zerr := <-zkqDone; zerr != nil {
				err = errors.Join(err, fmt.Errorf("stopping the ZooKeeper load queue: %w", zerr))
			}
		}
		return err
	})

	// A restarted upstream knows none of the cached segments: it learns them before they are announced, as a load
	// would have told it.
	if p.upstream != nil && len(cached) > 0 {
		cached, err = bootstrapUpstream(ctx, p.upstream, p.cache, cached, sc.NumBootstrapThreads, log.Named("upstream"))
		if err != nil {
			return err
		}
	}

	// The cached segments not announced as read, in bulk: the inventory has them at once, their znodes are queued.
	if len(cached) > 0 {
		if err := p.ann.QueueSegments(cached...); err != nil {
			return fmt.Errorf("announcing the %d cached segments (ZooKeeper %s): %w", len(cached), cfg.ZK.Service.Host, err)
		}
	}
	// Then the Coordinator's bootstrap (broadcast) segments, loaded before bootstrap completes.
	a.loadBootstrapSegments(ctx, p.queue)
	// Under Kubernetes discovery the pod's readiness is what the cluster goes by, so loadstatus and readiness wait
	// for the announcement patch below: a pod whose announcement failed never turns ready.
	k8s := cfg.Discovery.Type == configs.DiscoveryK8s
	if !k8s {
		a.bootstrapped.Store(true)
	}
	log.Info("bootstrap complete: cached and bootstrap segments announced", "cached", announcedAsRead+len(cached))

	// The node's own audit: its cache, info_dir and inventory, and what it serves against the metadata store. Work
	// the load queue has in flight is left out, so that a load or a delayed drop is never reported as drift. It is
	// set up before the node is announced, so that nothing that can fail comes between the announcement and the
	// push of its withdrawal.
	var periodic *audit.Periodic // nil unless druid.sidecar.audit.period
	if cfg.Sidecar.AuditPeriod > 0 {
		queue, cache := p.queue, p.cache
		periodic, err = audit.NewPeriodic(cfg, audit.PeriodicOptions{
			Ignore:     func(id string) bool { return queue.Busy(id) || !cache.Settled(id) },
			Logger:     log.Named("audit"),
			Registerer: a.reg,
		})
		if err != nil {
			return fmt.Errorf("setting up the periodic audit (druid.sidecar.audit.period): %w", err)
		}
	}

	// ANNOUNCEMENTS: internal discovery last.
	err = p.ann.AnnounceNode(ctx)
	if err == nil {
		if k8s {
			a.bootstrapped.Store(true)
		}
		a.selfDiscovered.Store(true)
		a.readyOnce.Do(func() { close(a.ready) })
		log.Info("node announced", "node", cfg.Node.HostAndPortToUse(), "service", cfg.Node.Service)
		// The ZooKeeper load queue is read once the node is discoverable, as a Coordinator up to 29 writes to it
		// only for servers it sees; it runs on its own context, canceled at shutdown, and the load queue's stop
		// waits for it after the engine.
		if zkq != nil {
			zctx, cancel := context.WithCancel(context.Background())
			zkqDone = make(chan error, 1)
			go func() { zkqDone <- zkq.Run(zctx) }()
			stops.Push("ZooKeeper load queue reader", func(context.Context) error { cancel(); return nil })
			log.Info("reading the ZooKeeper load queue", "path", zkq.Path())
		}
		// The version is read again while serving, as a rolling upgrade's Coordinator changes it (druidversion.go).
		a.watchDruidVersion(dv, p.ann, stops)
		if periodic != nil {
			actx, cancel := context.WithCancel(context.Background())
			auditDone := make(chan struct{})
			go func() { defer close(auditDone); _ = periodic.Run(actx) }()
			stops.Push("periodic audit", func(context.Context) error { cancel(); <-auditDone; return nil })
			log.Info("auditing this node periodically", "period", cfg.Sidecar.AuditPeriod)
		}
	}
	// The withdrawal of the node is pushed last, also when the announcement failed (a znode may have been
	// written), so that shutdown withdraws it first: Brokers and Coordinators stop sending work before anything
	// else stops.
	stops.Push("node announcement", func(ctx context.Context) error {
		err := p.ann.UnannounceNode(ctx)
		p.unannounced = time.Now()
		return lifecycle.Wrap("unannouncing the node", err)
	})
	if err != nil {
		return fmt.Errorf("announcing the node %s to %s: %w", cfg.Node.HostAndPortToUse(), announcedWhere(cfg), err)
	}
	return nil
}

// stop marks the node not ready, then runs the stop list. Readiness and self-discovery turn false before anything
// else stops, so that a readiness probe takes the pod out of its Service at once. The shutdown timeout bounds the
// stops, and druid.server.http.unannouncePropagationDelay comes on top of it, as in Druid, where the delay is a
// minimum the graceful timeout starts after.
func (a *Agent) stop(stops *lifecycle.Stops) error {
	a.bootstrapped.Store(false)
	a.discovered = a.selfDiscovered.Swap(false)
	ctx, cancel := context.WithTimeout(context.Background(), a.shutdown+max(a.cfg.Server.HTTPUnannouncePropagationDelay, 0))
	defer cancel()
	return stops.Stop(ctx)
}

// stopHTTP is the HTTP server's stop. As a Java Historical does, HTTP keeps answering for
// druid.server.http.unannouncePropagationDelay after the node is unannounced, so that Brokers still routing queries
// to it stop doing so before its connections close.
func (a *Agent) stopHTTP(p *parts) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		// Only a node that was discovered can have Brokers routing queries to it.
		if delay := a.cfg.Server.HTTPUnannouncePropagationDelay; a.discovered && delay > 0 && !p.unannounced.IsZero() {
			if wait := time.Until(p.unannounced.Add(delay)); wait > 0 {
				a.log.Info("waiting for the unannouncement to propagate before closing HTTP", "wait", wait.Round(time.Millisecond),
					"key", "druid.server.http.unannouncePropagationDelay")
				time.Sleep(wait)
			}
		}
		// Requests in flight get druid.server.http.gracefulShutdownTimeout when it is set. Druid's Jetty closes them
		// at once when it is not; serve waits for them within the shutdown timeout instead, since a query cut off is
		// an error on the Broker.
		if grace := a.cfg.Server.HTTPGracefulShutdownTimeout; grace > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), grace)
			defer cancel()
		}
		return p.srv.Shutdown(ctx)
	}
}

// httpServer is serve's HTTP server, with its limits on slow, idle and oversized clients: Druid's header size limit
// and idle timeout (druid.server.http.*), and a header timeout, a body deadline and per-handler write deadlines
// (druid.sidecar.http.*), which Druid does not have.
func (a *Agent) httpServer(h http.Handler) *http.Server {
	// Go reads up to MaxHeaderBytes plus 4096 bytes of request line and headers before it answers 431; Jetty counts
	// exactly its requestHeaderSize. The difference is taken off, as far as Go allows.
	headerBytes := max(1, a.cfg.Server.HTTPMaxRequestHeaderSize-4096)
	return &http.Server{
		Handler:           withDeadlines(h, a.cfg.Sidecar.HTTPBodyReadTimeout, a.cfg.Sidecar.HTTPWriteTimeout),
		ReadHeaderTimeout: a.cfg.Sidecar.HTTPReadHeaderTimeout,
		// Without a ReadTimeout, an IdleTimeout of 0 is none at all, as an empty druid.server.http.maxIdleTime says.
		IdleTimeout:    a.cfg.Server.HTTPMaxIdleTime,
		MaxHeaderBytes: headerBytes,
		ErrorLog:       a.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// holdsResponse reports whether a path's handler may hold its response for long by design, and so has no write
// deadline: the inventory long-poll and changeRequests (each up to its timeout), the query proxy (a query takes
// what it takes) and the opt-in profiles (a CPU profile or trace lasts the seconds asked).
func holdsResponse(path string) bool {
	return path == inventory.Path || path == loadqueue.ChangeRequestsPath ||
		strings.HasPrefix(path, QueryPath) || path == strings.TrimSuffix(QueryPath, "/") ||
		strings.HasPrefix(path, "/debug/pprof/")
}

// withDeadlines gives each request a deadline for its body, bodyRead after its headers were read, and a write
// deadline, write from then, unless holdsResponse; 0 means none. http.Server's ReadTimeout and WriteTimeout would
// also cut the long-polls, whose connections must stay open after the request is read.
func withDeadlines(h http.Handler, bodyRead, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// A deadline stays on the connection until it is changed, so a request it does not apply to clears the one
		// an earlier request of the connection set.
		var writeBy time.Time
		if write > 0 && !holdsResponse(r.URL.Path) {
			writeBy = time.Now().Add(write)
		}
		rc.SetWriteDeadline(writeBy)
		if bodyRead > 0 && r.ContentLength != 0 {
			rc.SetReadDeadline(time.Now().Add(bodyRead))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline once the body is read: the server then watches the connection
// for the client going away, and would take the deadline passing for that, ending a response held afterwards.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
