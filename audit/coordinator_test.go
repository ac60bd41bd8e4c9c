package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The audit's decisions on hand-built inputs: the rows of a segments table, the rules, the Coordinator's dynamic
// configuration and what each data server announces, fed to the audit's own steps without any service, the way a
// Coordinator would see that cluster.

// handBuilt is one such cluster.
type handBuilt struct {
	t        *testing.T
	start    time.Time
	rules    map[string]string // dataSource → rules payload
	defRule  string            // druid.manager.rules.defaultRule; "" for _default
	dynamic  string            // the coordinator.config row, "" for none
	rows     []*metadata.SegmentRow
	nodes    []discovery.Node
	announce map[string][]held // what each server announces over HTTP
}

// newHandBuilt starts a cluster audited on day 30 (2025-01-31) at noon.
func newHandBuilt(t *testing.T) *handBuilt {
	return &handBuilt{t: t, start: sandbox.DayInterval(30).Start.Time().Add(12 * time.Hour), rules: map[string]string{},
		announce: map[string][]held{}}
}

// segment adds a used row (unused when used is false) for the segment.
func (h *handBuilt) segment(seg *segments.DataSegment, used bool) *segments.DataSegment {
	h.rows = append(h.rows, &metadata.SegmentRow{ID: seg.ID().String(), DataSource: seg.DataSource, Used: used, Segment: seg,
		UsedStatusLastUpdated: h.start.Add(-24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")})
	return seg
}

// segOn is a segment of ds on day d (days since 2025-01-01), version v1, partition 0 of 1.
func segOn(t *testing.T, ds string, d int, projections ...string) *segments.DataSegment {
	t.Helper()
	s := sandbox.Segment(ds, d, 0, 1, "bucket", "base", 1000)
	if projections != nil {
		p := slices.Clone(projections)
		s.Projections = &p
	}
	return s
}

// held is a segment a server announces, with the partial-load fingerprint it announces it with.
type held struct {
	seg *segments.DataSegment
	fp  string
}

func plain(segs ...*segments.DataSegment) []held {
	out := make([]held, len(segs))
	for i, s := range segs {
		out[i] = held{seg: s}
	}
	return out
}

// server adds a reachable data server of the role, server type and tier, announcing what it holds over HTTP.
func (h *handBuilt) server(name, role, serverType, tier string, holds []held) {
	host, port, _ := strings.Cut(name, ":")
	var p int
	fmt.Sscan(port, &p)
	h.nodes = append(h.nodes, discovery.Node{Role: role, Name: name, Host: host, PlaintextPort: p,
		DataNode: &discovery.DataNodeService{Tier: tier, ServerType: serverType, MaxSize: 1 << 40}})
	h.announce[name] = holds
}

func (h *handBuilt) historical(name, tier string, holds []held) {
	h.server(name, "HISTORICAL", "historical", tier, holds)
}

// audit runs the audit's steps on the cluster, with no grace period.
func (h *handBuilt) audit() *Report {
	t := h.t
	t.Helper()
	sets := []string{}
	if h.defRule != "" {
		sets = append(sets, "druid.manager.rules.defaultRule="+h.defRule)
	}
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets, NumCPU: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(cfg, Options{Grace: -1}, h.start)
	rs := &metadata.RuleSet{ByDataSource: map[string][]metadata.Rule{}, Versions: map[string]string{}, DefaultDataSource: cfg.Metadata.DefaultRule}
	for ds, payload := range h.rules {
		rules, err := metadata.ParseRules(ds, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		rs.ByDataSource[ds], rs.Versions[ds] = rules, "2025-01-01T00:00:00.000Z"
	}
	dyn, found := &metadata.DynamicConfig{}, h.dynamic != ""
	if found {
		if dyn, err = metadata.ParseDynamicConfig([]byte(h.dynamic)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.setRules(rs, dyn, found); err != nil {
		t.Fatal(err)
	}
	for _, row := range h.rows {
		r.addRow(row)
	}
	r.overshadow(context.Background())
	r.addServers(h.nodes)
	for i, s := range r.servers {
		// Looked up as readServer looks up what it reads, once the records are known.
		res := &serverResult{source: SourceHTTP}
		for _, hd := range h.announce[s.rep.Name] {
			res.add(r, hd.seg.ID(), hd.seg.Size, hd.fp)
		}
		r.apply(i, res)
	}
	r.brokerView()
	r.evaluate()
	r.finish(func() time.Time { return h.start })
	if js, err := json.MarshalIndent(r.report, "", "  "); err == nil {
		t.Logf("report:\n%s", js)
	}
	return r.report
}

// findingsOf lists a report's findings as "kind dataSource tier expected/actual [servers]", sorted.
func findingsOf(rep *Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, fmt.Sprintf("%s %s %s %d/%d %v", f.Kind, f.DataSource, f.Tier, f.ExpectedReplicas, f.ActualReplicas, f.Servers))
	}
	slices.Sort(out)
	return out
}

// expectDetail checks that the first finding of kind k says each of the phrases.
func expectDetail(t *testing.T, rep *Report, k Kind, phrases ...string) {
	t.Helper()
	s := detailOf(rep, k)
	for _, p := range phrases {
		if !strings.Contains(s, p) {
			t.Errorf("%s detail %q lacks %q", k, s, p)
		}
	}
}

func detailOf(rep *Report, k Kind) string {
	for _, f := range rep.Findings {
		if f.Kind == k {
			return f.Detail
		}
	}
	return ""
}

func summaryOf(rep *Report, ds string) DataSourceSummary {
	for _, d := range rep.DataSources {
		if d.DataSource == ds {
			return d
		}
	}
	return DataSourceSummary{}
}

func expectFindings(t *testing.T, rep *Report, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := findingsOf(rep); !slices.Equal(got, want) {
		t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// The issue's partial-load rule: a loadPartialByPeriod over the daily_* projections on hot, then dropForever.
const issuePartialRules = `[{"type":"loadPartialByPeriod","period":"P30D","tieredReplicants":{"hot":1},` +
	`"matcher":{"type":"globProjection","patterns":["daily_*"]}},{"type":"dropForever"}]`

// The fingerprint Druid's globProjection matcher gives the projections daily_a and daily_b (Guava's SHA-256, see
// metadata/testdata/rules/fingerprints.txt).
const fpDailyAB = "v1:5b6d4fb937eecf7f"

// Item 1: a partial-load rule is decided as PartialLoadRule decides it, and a replica counts toward it only when
// it announces the requested fingerprint; a plain or differently fingerprinted replica is stale, not missing.
func TestPartialLoadRuleReplicas(t *testing.T) {
	h := newHandBuilt(t)
	h.rules["metrics"] = issuePartialRules
	h.rules["_default"] = `[{"type":"loadForever"}]`
	matching := h.segment(segOn(t, "metrics", 25, "daily_a", "daily_b", "weekly"), true)
	plainOnly := h.segment(segOn(t, "metrics", 26, "daily_a", "daily_b"), true)
	otherFp := h.segment(segOn(t, "metrics", 27, "daily_a", "daily_b"), true)
	baseTable := h.segment(segOn(t, "metrics", 28), true)          // not projection-aware: the base table
	h.segment(segOn(t, "metrics", 29, "daily_a", "daily_b"), true) // on no server
	old := h.segment(segOn(t, "metrics", -5, "daily_a"), true)     // ends before now - P30D: dropped
	h.historical("127.0.0.11:8083", "hot", []held{{matching, fpDailyAB}, {plainOnly, ""}, {otherFp, "v1:0000000000000000"},
		{baseTable, "v1:partial-base"}})
	h.historical("127.0.0.12:8083", "hot", nil)
	rep := h.audit()

	expectFindings(t, rep,
		"stale_replica metrics hot 1/0 [127.0.0.11:8083]",
		"stale_replica metrics hot 1/0 [127.0.0.11:8083]",
		"unavailable metrics  1/0 []",
	)
	d := summaryOf(rep, "metrics")
	if d.ExpectedSegments != 5 || d.AvailableSegments != 4 || d.UnavailableSegments != 1 || d.UnderReplicatedSegments != 0 ||
		d.OverReplicatedSegments != 0 || d.StaleReplicaSegments != 2 || d.PartialLoadSegments != 5 || d.DroppedSegments != 1 ||
		d.NoRuleSegments != 0 {
		t.Errorf("summary: %+v", d)
	}
	expectDetail(t, rep, KindStaleReplica, "loadPartialByPeriod", fpDailyAB, "reloads them in place")
	expectDetail(t, rep, KindUnavailable, fpDailyAB, `projections "daily_a", "daily_b"`)
	_ = old
	if rep.Servers[0].PartialSegments != 3 {
		t.Errorf("servers: %+v", rep.Servers)
	}
}

// With a partial-load rule among the default rules, dataSources on defaults are decided by it, and a segment no
// server has is reported; a plain load rule sees a fingerprinted replica as counted but stale (it is reverted).
func TestPartialLoadRuleInDefaults(t *testing.T) {
	h := newHandBuilt(t)
	h.rules["_default"] = `[{"type":"loadPartialForever","tieredReplicants":{"hot":1},"matcher":{"type":"exactProjection","names":["daily_a"]},"onCannotMatch":"fallThrough"},` +
		`{"type":"loadForever","tieredReplicants":{"hot":1}}]`
	h.rules["wiki"] = `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`
	lost := h.segment(segOn(t, "logs", 20, "daily_a"), true)
	served := h.segment(segOn(t, "logs", 21, "daily_a"), true)
	reverted := h.segment(segOn(t, "wiki", 21), true)
	_ = lost
	h.historical("127.0.0.11:8083", "hot", []held{{served, "v1:e35ee98d36f2f455"}, {reverted, "v1:partial-full"}})
	rep := h.audit()
	expectFindings(t, rep,
		"stale_replica wiki hot 1/1 [127.0.0.11:8083]",
		"unavailable logs  1/0 []",
	)
	expectDetail(t, rep, KindStaleReplica, "plain loads")
	if d := summaryOf(rep, "logs"); d.ExpectedSegments != 2 || d.NoRuleSegments != 0 || d.AvailableSegments != 1 {
		t.Errorf("logs: %+v", d)
	}
}

// Item 2: a rule for the alias hot over hot-blue and hot-green asks for its count on each real tier.
func TestTierAliases(t *testing.T) {
	h := newHandBuilt(t)
	h.rules["_default"] = `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`
	h.dynamic = `{"historicalTierAliases":{"hot":["hot-blue","hot-green"]}}`
	both := h.segment(segOn(t, "wiki", 1), true)
	blueOnly := h.segment(segOn(t, "wiki", 2), true)
	h.historical("127.0.0.11:8083", "hot-blue", plain(both, blueOnly))
	h.historical("127.0.0.12:8083", "hot-green", plain(both))
	rep := h.audit()
	expectFindings(t, rep, "under_replicated wiki hot-green 1/0 []")
	expectDetail(t, rep, KindUnderReplicated, "hot-green (alias hot)")
	if !slices.Equal(rep.Inputs.TierAliases["hot"], []string{"hot-blue", "hot-green"}) || !strings.Contains(rep.Inputs.DynamicConfig, "coordinator.config") {
		t.Errorf("inputs: %+v", rep.Inputs)
	}
}

// Item 3: a clone is no replica (a segment on h1 and its clone c1 has 1 of 2), and the report says which servers
// are clones; broadcast rules expect nothing of decommissioning servers.
func TestCloneAndDecommissioningServers(t *testing.T) {
	h := newHandBuilt(t)
	h.rules["_default"] = `[{"type":"loadForever"}]`
	h.rules["lookup"] = `[{"type":"broadcastForever"}]`
	h.dynamic = `{"cloneServers":{"127.0.0.21:8083":"127.0.0.11:8083"},"decommissioningNodes":["127.0.0.13:8083"]}`
	seg := h.segment(segOn(t, "wiki", 1), true)
	cloneOnly := h.segment(segOn(t, "wiki", 2), true)
	bc := h.segment(segOn(t, "lookup", 1), true)
	h.historical("127.0.0.11:8083", DefaultTierForTest, plain(seg, bc))
	h.historical("127.0.0.12:8083", DefaultTierForTest, plain(bc))
	h.historical("127.0.0.13:8083", DefaultTierForTest, nil) // decommissioning, without the broadcast segment
	h.historical("127.0.0.21:8083", DefaultTierForTest, plain(seg, cloneOnly, bc))
	rep := h.audit()
	expectFindings(t, rep,
		"under_replicated wiki _default_tier 2/1 [127.0.0.11:8083]",
		"unavailable wiki  2/0 [127.0.0.21:8083]",
	)
	for _, f := range rep.Findings {
		if !strings.Contains(f.Detail, "127.0.0.21:8083 (a clone of 127.0.0.11:8083)") {
			t.Errorf("%s: %s", f.Kind, f.Detail)
		}
	}
	for _, s := range rep.Servers {
		if (s.CloneOf != "") != (s.Name == "127.0.0.21:8083") || s.Decommissioning != (s.Name == "127.0.0.13:8083") {
			t.Errorf("server %+v", s)
		}
	}
	if d := summaryOf(rep, "lookup"); d.ExpectedSegments != 1 || d.UnderReplicatedSegments != 0 {
		t.Errorf("broadcast: %+v", d)
	}
}

// DefaultTierForTest is the tier of Historicals without druid.server.tier.
const DefaultTierForTest = metadata.DefaultTier

// Item 4: a segment only an ingestion task serves is available, as Druid counts it, and reported as such, not as
// unavailable; within the grace period it is no finding.
func TestSegmentServedOnlyByTask(t *testing.T) {
	h := newHandBuilt(t)
	h.rules["_default"] = `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`
	handedOff := h.segment(segOn(t, "wiki", 1), true)
	realtime := h.segment(segOn(t, "wiki", 2), true)
	h.historical("127.0.0.11:8083", "hot", plain(handedOff))
	h.server("127.0.0.31:8100", "PEON", "indexer-executor", DefaultTierForTest, plain(handedOff, realtime))
	rep := h.audit()
	expectFindings(t, rep, "served_only_by_task wiki  1/1 [127.0.0.31:8100]")
	if d := summaryOf(rep, "wiki"); d.AvailableSegments != 2 || d.TaskServedSegments != 1 || d.UnavailableSegments != 0 {
		t.Errorf("summary: %+v", d)
	}
	expectDetail(t, rep, KindServedOnlyByTask, "handed off")
	if KindServedOnlyByTask.Severity() != SeverityWarning {
		t.Error("severity")
	}
}

// Item 5: an overshadowed segment still served is a finding only once the newer version is served too (Brokers'
// timeline); until then Brokers answer from it, and the newer version's finding says so.
func TestOvershadowedAsBrokersSeeIt(t *testing.T) {
	h := newHandBuilt(t)
	h.rules["_default"] = `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`
	oldA := h.segment(segOn(t, "wiki", 1), true)
	newA := *oldA
	newA.Version = "2025-12-01T00:00:00.000Z"
	h.segment(&newA, true)
	oldB := h.segment(segOn(t, "wiki", 2), true)
	newB := *oldB
	newB.Version = "2025-12-01T00:00:00.000Z"
	h.segment(&newB, true)
	h.historical("127.0.0.11:8083", "hot", plain(oldA, oldB, &newB))
	rep := h.audit()
	expectFindings(t, rep,
		"overshadowed_served wiki  0/1 [127.0.0.11:8083]",
		"unavailable wiki  1/0 []",
	)
	expectDetail(t, rep, KindUnavailable, "Brokers answer from it")
	expectDetail(t, rep, KindOvershadowedServed, "Brokers no longer query it")
	for _, f := range rep.Findings {
		if f.Kind == KindOvershadowedServed && f.SegmentID != oldB.ID().String() {
			t.Errorf("overshadowed: %s", f.SegmentID)
		}
	}
}

// Item 6: druid.manager.rules.defaultRule names the default rules.
func TestDefaultRuleKey(t *testing.T) {
	h := newHandBuilt(t)
	h.defRule = "house"
	h.rules["_default"] = `[{"type":"loadForever","tieredReplicants":{"cold":1}}]`
	h.rules["house"] = `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`
	seg := h.segment(segOn(t, "wiki", 1), true)
	h.historical("127.0.0.11:8083", "hot", plain(seg))
	rep := h.audit()
	expectFindings(t, rep)
	if rep.Inputs.DefaultRulesDataSource != "house" {
		t.Errorf("inputs: %+v", rep.Inputs)
	}
}
