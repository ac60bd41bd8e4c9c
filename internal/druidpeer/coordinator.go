package druidpeer

// Coordinator stand-in: the part of a Druid Coordinator that puts segments on one data server, and the Broker's
// view that shows them served, for the sandbox and for tests. Druid behaviour reproduced (druid-protocol.md 4 and
// 8), without the Coordinator's start delay and duty period (it acts at once):
//   - when a server is discovered, GET …/loadCapabilities (Accept: application/json, 10 s timeout); its
//     numLoadingThreads is the batch size of the server's load queue, and a 404 means batches of 1;
//   - the server view (HttpServerInventoryView: a Syncer) is synced before any decision;
//   - the used segments come from the metadata store, overshadowed ones set aside (they are never loaded), and the
//     rules (a dataSource's own, then the default ones; the first that applies wins) decide the rest: a load rule
//     with replicas in the server's tier or a broadcast rule puts the segment on the server;
//   - served segments that are not wanted are dropped, wanted ones that are not served are loaded, through an
//     HttpLoadQueuePeon (LoadPeon): drops first, then loads of the most recent intervals first, as the
//     Coordinator's queue orders them;
//   - a Broker's server view (a second Syncer) is where a segment counts as available.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// SandboxLoadCapabilitiesTimeout is how long the Coordinator waits for loadCapabilities.
const SandboxLoadCapabilitiesTimeout = 10 * time.Second

// SandboxLoadCapabilities asks a data server for its loading capabilities as the Coordinator does when it creates
// the server's load queue (Druid 33+). found is false when the server answers 404 (a server older than 33), in which
// case the Coordinator uses batches of 1.
func SandboxLoadCapabilities(ctx context.Context, client *http.Client, serverURL string) (loading, turbo int, found bool, err error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, SandboxLoadCapabilitiesTimeout)
	defer cancel()
	u := serverURL + "/druid-internal/v1/segments/loadCapabilities"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, false, fmt.Errorf("asking %s for its load capabilities: %w", serverURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, 0, false, fmt.Errorf("reading the load capabilities of %s: %w", serverURL, err)
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return 1, 1, false, nil
	case http.StatusOK:
	default:
		// Druid's Coordinator fails to create the server's load queue on any other answer.
		return 0, 0, false, fmt.Errorf("load capabilities of %s: HTTP %d: %s", serverURL, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var caps struct {
		NumLoadingThreads      int `json:"numLoadingThreads"`
		NumTurboLoadingThreads int `json:"numTurboLoadingThreads"`
	}
	if err := json.Unmarshal(body, &caps); err != nil {
		return 0, 0, false, fmt.Errorf("load capabilities of %s are not SegmentLoadingCapabilities JSON: %w", serverURL, err)
	}
	return caps.NumLoadingThreads, caps.NumTurboLoadingThreads, true, nil
}

// SandboxPlan is what the rules put on the server.
type SandboxPlan struct {
	// Used is the number of used segments in the metadata store.
	Used int
	// Wanted are the segments the server should serve, the most recent interval first.
	Wanted []*segments.DataSegment
	// Skipped gives, for every used segment that is not wanted, the reason in a few words.
	Skipped map[segments.SegmentID]string
}

// SandboxProgress is where loading stands.
type SandboxProgress struct {
	// Wanted is the number of segments the server should serve, WantedBytes their size.
	Wanted      int
	WantedBytes int64
	// AlreadyServed is how many of them the server served before any load was sent (its cache).
	AlreadyServed int
	// Loads and Drops are the requests sent; Loaded and Dropped those that succeeded, LoadedBytes the size of the
	// loaded segments.
	Loads, Drops    int
	Loaded, Dropped int
	LoadedBytes     int64
	// Failed lists the requests that failed, "load <segment id>: <cause>".
	Failed []string
	// Visible is how many wanted segments the Broker's view has, VisibleBytes their size; Unwanted the other
	// segments it still has.
	Visible      int
	VisibleBytes int64
	Unwanted     int
	// BrokerSynced is whether the Broker's view has synced once.
	BrokerSynced bool
	// Elapsed is the time since Run started.
	Elapsed time.Duration
	// Done is set on the last report: every wanted segment is visible and nothing unwanted is.
	Done bool
}

// SandboxResult is what Run did.
type SandboxResult struct {
	Plan *SandboxPlan
	// BatchSize is the load queue's batch size, from loadCapabilities.
	BatchSize int
	// Progress is the last progress report.
	Progress SandboxProgress
	// Broker is the Broker's view of the server at the end.
	Broker map[segments.SegmentID]*segments.DataSegment
	// Peon holds the load queue's counters.
	Peon PeonStats
}

// SandboxCoordinator plays the Coordinator and a Broker for one data server. Set the fields, then call Run once.
type SandboxCoordinator struct {
	// Store is the metadata store of the cluster.
	Store *metadata.Store
	// ServerURL is the data server's base URL, http://host:port, as discovery announces it.
	ServerURL string
	// Tier is the server's tier (its dataNodeService's); "" means _default_tier.
	Tier string
	// DefaultRulesDataSource is druid.manager.rules.defaultRule; "" means "_default".
	DefaultRulesDataSource string
	// Now is the reference time of the rules; zero means the time of the Plan.
	Now segments.Instant
	// HostTimeout and RepeatDelay configure the load queue (LoadPeon); zero takes Druid's PT5M and PT1M.
	HostTimeout, RepeatDelay time.Duration
	// ServerTimeout is the long-poll timeout of both server views; zero takes Druid's PT4M.
	ServerTimeout time.Duration
	// Client makes the loadCapabilities call; nil uses http.DefaultClient.
	Client *http.Client
	// Progress, when set, is called every ProgressEvery (zero: 100 ms) while Run waits, and once at the end.
	Progress      func(SandboxProgress)
	ProgressEvery time.Duration
}

// Plan reads the rules and the used segments from the metadata store and decides, as the Coordinator's RunRules
// duty does, which segments belong on the server.
func (c *SandboxCoordinator) Plan(ctx context.Context) (*SandboxPlan, error) {
	rules, err := c.Store.LoadRules(ctx, c.DefaultRulesDataSource)
	if err != nil {
		return nil, fmt.Errorf("coordinator stand-in: %w", err)
	}
	var used []*segments.DataSegment
	if err := c.Store.StreamSegments(ctx, metadata.StreamOptions{Order: metadata.OrderByID}, func(r *metadata.SegmentRow) error {
		used = append(used, r.Segment)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("coordinator stand-in: %w", err)
	}
	now := c.Now
	if now == 0 {
		now = segments.InstantOf(time.Now())
	}
	ev, err := rules.At(now)
	if err != nil {
		return nil, fmt.Errorf("coordinator stand-in: the rules: %w", err)
	}
	tier := cmp.Or(c.Tier, metadata.DefaultTier)
	plan := &SandboxPlan{Used: len(used), Skipped: map[segments.SegmentID]string{}}
	over := metadata.Overshadowed(used)
	for _, s := range used {
		id := s.ID()
		if over[id] {
			plan.Skipped[id] = "overshadowed"
			continue
		}
		d := ev.EvaluateSegment(s)
		switch d.Action {
		case metadata.ActionBroadcast:
			plan.Wanted = append(plan.Wanted, s)
		case metadata.ActionLoad:
			if d.Replicas[tier] > 0 {
				plan.Wanted = append(plan.Wanted, s)
			} else {
				plan.Skipped[id] = fmt.Sprintf("rule %d of %s puts no replica in tier %s", d.Matched.Index, d.Matched.DataSource, tier)
			}
		case metadata.ActionDrop:
			plan.Skipped[id] = fmt.Sprintf("rule %d of %s drops it", d.Matched.Index, d.Matched.DataSource)
		default:
			plan.Skipped[id] = "no rule applies"
		}
	}
	slices.SortStableFunc(plan.Wanted, recentFirst)
	return plan, nil
}

// recentFirst orders segments as the Coordinator's load queue does: the latest interval end first, then the latest
// start, then by id.
func recentFirst(a, b *segments.DataSegment) int {
	if c := cmp.Compare(b.Interval.End, a.Interval.End); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Interval.Start, a.Interval.Start); c != 0 {
		return c
	}
	return a.ID().Compare(b.ID())
}

// Run plans, syncs the Coordinator's view of the server, sends the loads and drops, and waits until the Broker's
// view shows exactly the wanted segments, or a request fails, or ctx ends.
func (c *SandboxCoordinator) Run(ctx context.Context) (*SandboxResult, error) {
	start := time.Now()
	if c.Store == nil || c.ServerURL == "" {
		return nil, errors.New("coordinator stand-in: Store and ServerURL must be set")
	}
	loading, _, _, err := SandboxLoadCapabilities(ctx, c.Client, c.ServerURL)
	if err != nil {
		return nil, fmt.Errorf("coordinator stand-in: %w", err)
	}
	res := &SandboxResult{BatchSize: max(1, loading)}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	coordView := New(Config{URL: c.ServerURL, ServerTimeout: c.ServerTimeout})
	brokerView := New(Config{URL: c.ServerURL, ServerTimeout: c.ServerTimeout})
	for _, v := range []*Syncer{coordView, brokerView} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = v.Run(ctx)
		}()
	}

	if res.Plan, err = c.Plan(ctx); err != nil {
		return res, err
	}
	if err := coordView.WaitFor(ctx, func(_ map[segments.SegmentID]*segments.DataSegment, counter *inventory.Counter) bool {
		return counter != nil
	}); err != nil {
		return res, fmt.Errorf("coordinator stand-in: no inventory from %s (last poll: %s): %w", c.ServerURL, lastPoll(coordView), err)
	}

	wanted := make(map[segments.SegmentID]*segments.DataSegment, len(res.Plan.Wanted))
	for _, s := range res.Plan.Wanted {
		wanted[s.ID()] = s
	}
	served := coordView.Segments()
	peon := &LoadPeon{URL: c.ServerURL, BatchSize: res.BatchSize, HostTimeout: c.HostTimeout, RepeatDelay: c.RepeatDelay,
		LoadingMode: "NORMAL"}
	var loads, drops []*segments.DataSegment
	for id, s := range served {
		if wanted[id] == nil {
			drops = append(drops, s)
		}
	}
	slices.SortFunc(drops, recentFirst)
	for _, s := range res.Plan.Wanted {
		if served[s.ID()] == nil {
			loads = append(loads, s)
		}
	}
	for _, s := range drops {
		peon.Drop(s)
	}
	for _, s := range loads {
		peon.Load(s)
	}
	alreadyServed := len(wanted) - len(loads)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = peon.Drain(ctx)
	}()

	every := cmp.Or(c.ProgressEvery, 100*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		p := SandboxProgress{Wanted: len(wanted), AlreadyServed: alreadyServed, Loads: len(loads), Drops: len(drops),
			Elapsed: time.Since(start)}
		for _, s := range res.Plan.Wanted {
			p.WantedBytes += s.Size
		}
		for _, s := range loads {
			if st, ok := peon.Result(segments.ActionLoad, s.ID()); ok {
				if st.State == "SUCCESS" {
					p.Loaded++
					p.LoadedBytes += s.Size
				} else {
					p.Failed = append(p.Failed, fmt.Sprintf("load %s: %s", s.ID(), failureCause(st)))
				}
			}
		}
		for _, s := range drops {
			if st, ok := peon.Result(segments.ActionDrop, s.ID()); ok {
				if st.State == "SUCCESS" {
					p.Dropped++
				} else {
					p.Failed = append(p.Failed, fmt.Sprintf("drop %s: %s", s.ID(), failureCause(st)))
				}
			}
		}
		_, p.BrokerSynced = brokerView.Counter()
		view := brokerView.Segments()
		for id := range view {
			if s := wanted[id]; s != nil {
				p.Visible++
				p.VisibleBytes += s.Size
			} else {
				p.Unwanted++
			}
		}
		p.Done = p.BrokerSynced && p.Visible == p.Wanted && p.Unwanted == 0 &&
			p.Loaded == len(loads) && p.Dropped == len(drops)
		stop := p.Done || len(p.Failed) > 0 || ctx.Err() != nil
		if stop {
			res.Progress, res.Broker, res.Peon = p, view, peon.Stats()
		}
		if c.Progress != nil {
			c.Progress(p)
		}
		switch {
		case p.Done:
			return res, nil
		case len(p.Failed) > 0:
			return res, fmt.Errorf("coordinator stand-in: %d of the requests to %s failed:\n\t%s",
				len(p.Failed), c.ServerURL, strings.Join(p.Failed, "\n\t"))
		case ctx.Err() != nil:
			return res, fmt.Errorf("coordinator stand-in: %d of %d segments loaded and %d in the Broker's view of %s when it stopped "+
				"(load queue: %d queued, last error %q; Broker's last poll: %s): %w", p.Loaded, len(loads), p.Visible, c.ServerURL,
				peon.Queued(), peon.Stats().LastError, lastPoll(brokerView), context.Cause(ctx))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

func failureCause(st PeonStatus) string {
	if st.FailureCause != nil {
		return *st.FailureCause
	}
	return st.State + " without a cause"
}

// lastPoll describes a view's last poll for error messages.
func lastPoll(s *Syncer) string {
	r := s.Last()
	switch {
	case r == nil:
		return "none yet"
	case r.Err != nil:
		return r.Kind.String() + ": " + r.Err.Error()
	}
	return r.Kind.String()
}
