package audit

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func runAudit(t *testing.T, c *audittest.Cluster, opts Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if opts.Grace == 0 {
		opts.Grace = -1 // the fixture's objects were just written
	}
	rep, err := Run(ctx, c.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Every kind of finding appears exactly where the fixture planted it, and nowhere else; the unreachable server's
// tier makes its segments unverified rather than unavailable; each server says where its segments came from.
func TestRunFindsEveryPlantedDefect(t *testing.T) {
	c := audittest.New(t, audittest.Options{})
	var phases []string
	rep := runAudit(t, c, Options{Progress: func(phase string, done, total int64) {
		if len(phases) == 0 || phases[len(phases)-1] != phase {
			phases = append(phases, phase)
		}
	}})
	if js, err := json.MarshalIndent(rep, "", "  "); err == nil {
		t.Logf("report:\n%s", js)
	}

	checkPlanted(t, rep, c)

	sources := map[string]Source{}
	for _, s := range rep.Servers {
		sources[s.Name] = s.Source
		if (s.Source == SourceHTTP) != (s.Error == "") {
			t.Errorf("server %s: source %s, error %q", s.Name, s.Source, s.Error)
		}
	}
	want := map[string]Source{c.Servers[audittest.HostHTTP]: SourceHTTP, c.Servers[audittest.HostZooKeeper]: SourceZooKeeper,
		c.Servers[audittest.HostUnreachable]: SourceUnreachable}
	if len(sources) != 3 {
		t.Errorf("servers: %v, want %v", sources, want)
	}
	for name, s := range want {
		if sources[name] != s {
			t.Errorf("server %s: source %q, want %q", name, sources[name], s)
		}
	}

	byDS := map[string]DataSourceSummary{}
	for _, d := range rep.DataSources {
		byDS[d.DataSource] = d
	}
	wiki, logs := byDS["wiki"], byDS["logs"]
	// Used: days 0, 1, 2, 4, 7 (two versions) and the tombstone of day 9; day 5 is unused, day 6 has no row.
	if wiki.UsedSegments != 7 || wiki.OvershadowedSegments != 1 || wiki.ExpectedSegments != 6 || wiki.AvailableSegments != 5 ||
		wiki.UnavailableSegments != 1 || wiki.UnderReplicatedSegments != 1 || wiki.FindingsByKind[KindOrphanInDeepStorage] != 1 {
		t.Errorf("wiki summary: %+v", wiki)
	}
	if logs.UnverifiedSegments != 1 || logs.UnavailableSegments != 0 || logs.ExpectedSegments != 1 {
		t.Errorf("logs summary: %+v", logs)
	}
	if byDS["events"].OverReplicatedSegments != 1 {
		t.Errorf("events summary: %+v", byDS["events"])
	}
	if wiki.Granularity != "day" || len(wiki.Availability) != 6 { // days 0,1,2,4,7,9
		t.Errorf("wiki availability (%s): %+v", wiki.Granularity, wiki.Availability)
	} else if b := wiki.Availability[1]; b.ExpectedSegments != 1 || b.AvailableSegments != 0 ||
		!strings.HasPrefix(b.Interval, "2025-01-02T00:00:00.000Z/2025-01-03") {
		t.Errorf("wiki's unavailable day: %+v", b)
	}
	tot := rep.Totals
	// Objects: every segment's but day 4's (missing), day 6's (no row) and the tombstones, plus the orphan.
	if tot.Servers != 3 || tot.UnreachableServers != 1 || tot.UsedSegments != 9 || tot.UnusedSegments != 1 ||
		tot.DeepStorageObjects != 9 || tot.OrphanBytes != int64(len("not referenced")) || rep.Clean() {
		t.Errorf("totals: %+v", tot)
	}
	if !rep.Inputs.DeepStorageChecked || !strings.HasSuffix(rep.Inputs.DeepStorage, "/"+audittest.BaseKey+"/") ||
		!strings.Contains(rep.Inputs.MetadataStore, c.PG.Database) || rep.Inputs.RuleVersions["_default"] == "" {
		t.Errorf("inputs: %+v", rep.Inputs)
	}
	if !slices.Equal(phases, []string{"metadata", "timelines", "servers", "deep storage", "evaluation"}) {
		t.Errorf("progress phases: %v", phases)
	}

	// The dataSource filter narrows everything, deep storage included; a small bound keeps the worst findings.
	rep = runAudit(t, c, Options{DataSources: []string{"events"}, MaxFindings: 1})
	if rep.Totals.Findings != 1 || rep.Findings[0].Kind != KindOverReplicated || len(rep.DataSources) != 1 {
		t.Errorf("events only: %+v", rep.Findings)
	}
	rep = runAudit(t, c, Options{DataSources: []string{"wiki"}, MaxFindings: 2, SkipDeepStorage: true})
	if rep.Totals.Findings != 5 || len(rep.Findings) != 2 || rep.FindingsOmitted != 3 ||
		rep.Findings[0].Kind != KindUnavailable || rep.Findings[1].Kind != KindUnderReplicated || rep.Inputs.DeepStorageChecked {
		t.Errorf("wiki without deep storage, 2 findings kept: %d %+v", rep.Totals.Findings, rep.Findings)
	}

	// Within the grace period, the objects just written are not orphans yet, and nothing else changes.
	rep = runAudit(t, c, Options{Grace: time.Hour})
	if rep.Totals.FindingsByKind[KindOrphanInDeepStorage] != 0 || rep.Totals.RecentUnreferencedObjects != 1 ||
		rep.Totals.Findings != len(c.Planted)-1 {
		t.Errorf("with a grace period: %+v", rep.Totals)
	}
}

// A cluster without defects gives no findings.
func TestRunHealthyCluster(t *testing.T) {
	c := audittest.New(t, audittest.Options{Healthy: true})
	rep := runAudit(t, c, Options{})
	if !rep.Clean() || len(rep.Findings) != 0 || rep.Totals.ExpectedSegments != 3 || rep.Totals.AvailableSegments != 3 {
		t.Fatalf("healthy cluster: %+v %+v", rep.Totals, rep.Findings)
	}
	for _, d := range rep.DataSources {
		for _, b := range d.Availability {
			if b.FullyReplicatedSegments != b.ExpectedSegments {
				t.Errorf("%s %s: %+v", d.DataSource, b.Interval, b)
			}
		}
	}
}

// checkPlanted checks that every planted finding is in the report, exactly, and nothing else, worst first.
func checkPlanted(t *testing.T, rep *Report, c *audittest.Cluster) {
	t.Helper()
	if len(rep.Findings) != len(c.Planted) || rep.Totals.Findings != len(c.Planted) || rep.FindingsOmitted != 0 {
		t.Errorf("%d findings (total %d), want the %d planted", len(rep.Findings), rep.Totals.Findings, len(c.Planted))
	}
	for _, p := range c.Planted {
		var got *Finding
		for i := range rep.Findings {
			f := &rep.Findings[i]
			if string(f.Kind) == p.Kind && f.SegmentID == p.SegmentID && (p.SegmentID != "" || f.Object == p.Object) {
				got = f
			}
		}
		if got == nil {
			t.Errorf("no %s finding for %s%s", p.Kind, p.SegmentID, p.Object)
			continue
		}
		if got.DataSource != p.DataSource || got.Tier != p.Tier || got.ExpectedReplicas != p.Expected ||
			got.ActualReplicas != p.Actual || !slices.Equal(got.Servers, p.Servers) || (p.Object != "" && got.Object != p.Object) {
			t.Errorf("%s %s: got %+v, want %+v", p.Kind, p.SegmentID, *got, p)
		}
		if got.Severity != got.Kind.Severity() || got.Detail == "" {
			t.Errorf("%s: severity %q, detail %q", p.Kind, got.Severity, got.Detail)
		}
	}
	// Worst first.
	for i := 1; i < len(rep.Findings); i++ {
		if rep.Findings[i-1].Kind.Rank() > rep.Findings[i].Kind.Rank() {
			t.Errorf("finding %d (%s) sorts before %d (%s)", i-1, rep.Findings[i-1].Kind, i, rep.Findings[i].Kind)
		}
	}
}

// A 2026 cluster: a partial-load rule with a matching and a stale replica, a rule on a tier alias, a clone and an
// ingestion task, the dynamic configuration in the config table. Exactly the planted findings come out.
func TestRunDruid38Cluster(t *testing.T) {
	c := audittest.New(t, audittest.Options{Druid38: true})
	rep := runAudit(t, c, Options{})
	if js, err := json.MarshalIndent(rep, "", "  "); err == nil {
		t.Logf("report:\n%s", js)
	}
	checkPlanted(t, rep, c)
	byDS := map[string]DataSourceSummary{}
	for _, d := range rep.DataSources {
		byDS[d.DataSource] = d
	}
	if m := byDS["metrics"]; m.ExpectedSegments != 2 || m.AvailableSegments != 2 || m.PartialLoadSegments != 2 || m.StaleReplicaSegments != 1 {
		t.Errorf("metrics: %+v", m)
	}
	if w := byDS["traffic"]; w.ExpectedSegments != 1 || w.FindingsByKind[KindUnderReplicated]+w.FindingsByKind[KindOverReplicated] != 0 {
		t.Errorf("traffic: %+v", w)
	}
	if k := byDS["tasks"]; k.TaskServedSegments != 1 || k.AvailableSegments != 1 || k.UnavailableSegments != 0 {
		t.Errorf("tasks: %+v", k)
	}
	clone := c.Servers[audittest.HostClone]
	for _, s := range rep.Servers {
		if (s.CloneOf != "") != (s.Name == clone) || (s.Name == clone && s.CloneOf != c.Servers[audittest.HostHTTP]) {
			t.Errorf("server %+v", s)
		}
		if s.Name == c.Servers[audittest.HostPartial] && s.PartialSegments != 1 {
			t.Errorf("server %+v", s)
		}
	}
	for _, f := range rep.Findings {
		if f.Kind == KindUnderReplicated && f.DataSource == "wiki" && !strings.Contains(f.Detail, "a clone of") {
			t.Errorf("under-replicated beside a clone: %s", f.Detail)
		}
	}
	if !slices.Equal(rep.Inputs.TierAliases["warm"], []string{"warm-a", "warm-b"}) || rep.Inputs.CloneServers[clone] == "" ||
		rep.Inputs.DefaultRulesDataSource != "_default" || !strings.Contains(rep.Inputs.DynamicConfig, "druid_config") {
		t.Errorf("inputs: %+v", rep.Inputs)
	}
}

// A rules row the Coordinator cannot read fails its whole poll: the audit fails, naming the row, instead of
// deciding from the other rows. Joda's empty period "P" is a rule like any other.
func TestRunUnreadableRules(t *testing.T) {
	c := audittest.New(t, audittest.Options{Healthy: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := c.PG.Conn(t)
	if err := metadata.InsertRules(ctx, conn, c.Config.Metadata.Tables, "wiki", time.Now(), []byte(`[{"type":"loadByPeriod","period":"P","tieredReplicants":{"hot":2}},{"type":"dropForever"}]`)); err != nil {
		t.Fatal(err)
	}
	// P loads what ends after now (nothing here), then dropForever drops the rest: every replica is one too many.
	rep := runAudit(t, c, Options{})
	if rep.Totals.ExpectedSegments != 0 || rep.Totals.Findings != 3 || rep.Totals.FindingsByKind[KindOverReplicated] != 3 {
		t.Errorf(`with a rule of period "P": %+v`, rep.Totals)
	}
	version := time.Now().Add(time.Minute)
	if err := metadata.InsertRules(ctx, conn, c.Config.Metadata.Tables, "logs", version, []byte(`[{"type":"loadSometimes"}]`)); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, c.Config, Options{Grace: -1})
	if err == nil || !strings.Contains(err.Error(), `rules of dataSource "logs": rule 0: unknown type "loadSometimes"`) ||
		!strings.Contains(err.Error(), segments.InstantOf(version).String()) || !strings.Contains(err.Error(), "keeps applying the rules it read before") {
		t.Errorf("an unreadable rules row: %v", err)
	}
}
