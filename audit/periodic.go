package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// PeriodicOptions configure NewPeriodic. Every field is optional.
type PeriodicOptions struct {
	// Period between two audits; 0 means druid.sidecar.audit.period.
	Period time.Duration
	// InventoryURL is the node's own segment inventory (http://host:port); "" means the plaintext host:port of
	// the configuration (druid.host, druid.plaintextPort).
	InventoryURL string
	// LoadTimeout is how old a download marker may be before it counts as stale; 0 means DefaultLoadTimeout.
	LoadTimeout time.Duration
	// Ignore names segments being loaded or dropped right now, which drift leaves out.
	Ignore func(id string) bool
	// Logger; nil discards.
	Logger hclog.Logger
	// Registerer receives the Metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is the outcome of one node audit.
type Result struct {
	// At is when it started and Duration how long it took.
	At       time.Time
	Duration time.Duration
	// Findings are its findings, sorted by kind (worst first) and segment id.
	Findings []Finding
	// Err is why it could not run, nil when it did.
	Err error
}

// Periodic audits one node at a fixed period, as `serve` runs it beside its segment server: drift between the
// node's cache directories, info_dir and inventory, and, when a metadata store is configured, the node's served
// segments against the segments table (unknown_served, unused_served, overshadowed_served). Its findings are
// exported as metrics.
type Periodic struct {
	cfg     *configs.Config
	opts    PeriodicOptions
	period  time.Duration
	url     string
	node    string
	log     hclog.Logger
	metrics *Metrics

	storeMu sync.Mutex
	store   *metadata.Store

	mu   sync.Mutex
	last Result
}

// NewPeriodic checks the configuration and registers the metrics; nothing runs until Run or AuditOnce.
func NewPeriodic(cfg *configs.Config, opts PeriodicOptions) (*Periodic, error) {
	if cfg == nil {
		return nil, errors.New("periodic audit: no configuration")
	}
	p := &Periodic{cfg: cfg, opts: opts, period: opts.Period, url: opts.InventoryURL, log: opts.Logger,
		node: cfg.Node.HostAndPortToUse(), metrics: NewMetrics()}
	if p.period <= 0 {
		p.period = cfg.Sidecar.AuditPeriod
	}
	if p.period <= 0 {
		return nil, errors.New("periodic audit: druid.sidecar.audit.period is empty, which turns periodic audits off")
	}
	if p.url == "" {
		hp := cfg.Node.HostAndPort()
		if hp == "" {
			return nil, errors.New("periodic audit: the node has no plaintext host:port to read its inventory from (druid.host, druid.plaintextPort)")
		}
		p.url = "http://" + hp
	}
	if len(cfg.SegmentCache.Locations()) == 0 {
		return nil, errors.New("periodic audit: druid.segmentCache.locations is empty")
	}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(p.metrics); err != nil {
			return nil, fmt.Errorf("periodic audit: registering the metrics: %w", err)
		}
	}
	return p, nil
}

// Metrics returns the collector the audits feed.
func (p *Periodic) Metrics() *Metrics { return p.metrics }

// Last returns the latest audit's result (zero before the first).
func (p *Periodic) Last() Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Run audits every period, the first time one period after it is called (so that a starting node has read its
// cache and announced it), until ctx ends; then it closes what it opened and returns nil. A failed audit is
// logged, exported (druid_sidecar_audit_last_run_success 0) and tried again at the next period.
func (p *Periodic) Run(ctx context.Context) error {
	defer p.Close()
	t := time.NewTicker(p.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			res := p.AuditOnce(ctx)
			switch {
			case res.Err != nil && ctx.Err() != nil:
				return nil
			case res.Err != nil:
				p.log.Warn("periodic audit failed", "error", res.Err)
			case len(res.Findings) > 0:
				p.log.Warn("periodic audit found problems", "findings", len(res.Findings), "first", res.Findings[0].Detail,
					"segment", res.Findings[0].SegmentID)
			default:
				p.log.Debug("periodic audit found nothing", "duration", res.Duration)
			}
		}
	}
}

// AuditOnce runs one audit now and records its result (Last, the metrics), unless ctx ended during it.
func (p *Periodic) AuditOnce(ctx context.Context) Result {
	start := p.opts.Now()
	res := Result{At: start}
	state, err := ReadNode(ctx, p.cfg, p.url)
	if err == nil {
		res.Findings = Drift(state, start, p.opts.LoadTimeout, p.opts.Ignore)
		if p.metadataConfigured() {
			var served []Finding
			served, err = p.servedFindings(ctx, state)
			res.Findings = append(res.Findings, served...)
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		f.Severity = f.Kind.Severity()
		f.Servers = []string{p.node}
		if f.Kind != KindCacheDrift {
			f.ActualReplicas = 1
		}
	}
	slices.SortStableFunc(res.Findings, func(a, b Finding) int {
		if c := a.Kind.Rank() - b.Kind.Rank(); c != 0 {
			return c
		}
		if a.SegmentID < b.SegmentID {
			return -1
		}
		if a.SegmentID > b.SegmentID {
			return 1
		}
		return 0
	})
	res.Err = err
	res.Duration = p.opts.Now().Sub(start)
	if err != nil && ctx.Err() != nil {
		// Cut short by the caller (shutdown): not an outcome worth reporting as the node's state.
		return res
	}
	p.metrics.Observe(res.Findings, start, res.Duration, err)
	p.mu.Lock()
	p.last = res
	p.mu.Unlock()
	return res
}

// Close closes the metadata store connection, if one was opened.
func (p *Periodic) Close() {
	p.storeMu.Lock()
	defer p.storeMu.Unlock()
	if p.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.store.Close(ctx)
		p.store = nil
	}
}

func (p *Periodic) metadataConfigured() bool {
	return p.cfg.Metadata.Type == "postgresql" && p.cfg.Metadata.ConnectURI != ""
}

// servedFindings checks the node's announced segments against the segments table: only the dataSources it serves
// are read, used rows kept as light segments for their timelines.
func (p *Periodic) servedFindings(ctx context.Context, s *NodeState) ([]Finding, error) {
	if len(s.Announced) == 0 {
		return nil, nil
	}
	dsSet := map[string]bool{}
	for name := range s.Announced {
		if id, ok := s.idOf(name); ok {
			dsSet[id.DataSource] = true
		}
	}
	dss := make([]string, 0, len(dsSet))
	for ds := range dsSet {
		dss = append(dss, ds)
	}
	slices.Sort(dss)
	p.storeMu.Lock()
	defer p.storeMu.Unlock()
	if p.store == nil {
		st, err := metadata.Open(ctx, p.cfg)
		if err != nil {
			return nil, err
		}
		p.store = st
	}
	var used []*segments.DataSegment
	rows := map[string]*segments.DataSegment{} // announced id -> its light segment, nil when unused
	err := p.store.StreamSegments(ctx, metadata.StreamOptions{DataSources: dss, IncludeUnused: true}, func(row *metadata.SegmentRow) error {
		var light *segments.DataSegment
		if row.Used {
			seg := row.Segment
			light = &segments.DataSegment{DataSource: seg.DataSource, Interval: seg.Interval, Version: seg.Version, ShardSpec: seg.ShardSpec}
			used = append(used, light)
		}
		if s.Announced[row.ID] {
			rows[row.ID] = light
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	shadowed := metadata.Overshadowed(used)
	// Brokers build their timeline from what is served: this node alone shows whether its own segments overshadow
	// the one in question; newer versions served elsewhere it cannot see.
	var mine []*segments.DataSegment
	for _, light := range rows {
		if light != nil {
			mine = append(mine, light)
		}
	}
	shadowedHere := metadata.Overshadowed(mine)
	var out []Finding
	for name := range s.Announced {
		f := Finding{SegmentID: name}
		if id, ok := s.idOf(name); ok {
			f.DataSource, f.Interval = id.DataSource, id.Interval.String()
		}
		light, known := rows[name]
		switch {
		case !known:
			f.Kind, f.Detail = KindUnknownServed, "no row of the segments table, used or unused, has this segment"
		case light == nil:
			f.Kind, f.Detail = KindUnusedServed, "the segments table marks the segment unused; the Coordinator should have dropped it from this node"
		case shadowedHere[light.ID()]:
			f.Kind, f.Detail = KindOvershadowedServed, "newer versions overshadow the segment completely, and this node serves them: Brokers no longer query it, and the Coordinator marks it unused and drops it"
		case shadowed[light.ID()]:
			f.Kind, f.Detail = KindOvershadowedServed, "newer versions overshadow the segment completely in the metadata store; until they are served (not by this node), Brokers still query this one and the Coordinator keeps it (the cluster audit, druid-sidecar audit, tells which)"
		default:
			continue
		}
		out = append(out, f)
	}
	return out, nil
}
