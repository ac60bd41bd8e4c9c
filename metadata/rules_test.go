package metadata

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

func TestParseRulesEveryType(t *testing.T) {
	payload, err := os.ReadFile("testdata/rules/every_type.json")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules("wiki", payload)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ     string
		action  Action
		period  string
		future  bool
		tiers   map[string]int
		iv      string
		useNull bool
	}{
		{TypeLoadByPeriod, ActionLoad, "P1M", true, map[string]int{"hot": 2, "_default_tier": 1}, "", true},
		{TypeLoadByInterval, ActionLoad, "", false, map[string]int{"cold": 1}, "2020-01-01T00:00:00.000Z/2021-01-01T00:00:00.000Z", true},
		{TypeDropByPeriod, ActionDrop, "P1Y2M", false, nil, "", false},
		{TypeDropByInterval, ActionDrop, "", false, nil, "2019-01-01T00:00:00.000Z/2020-01-01T00:00:00.000Z", false},
		{TypeDropBeforeByPeriod, ActionDrop, "P3Y", false, nil, "", false},
		{TypeBroadcastByPeriod, ActionBroadcast, "PT6H", false, nil, "", false},
		{TypeBroadcastByInterval, ActionBroadcast, "", false, nil, "2018-01-01T00:00:00.000Z/2018-02-01T00:00:00.000Z", false},
		{TypeBroadcastForever, ActionBroadcast, "", false, nil, "", false},
		{TypeLoadForever, ActionLoad, "", false, map[string]int{"_default_tier": 2}, "", true},
		{TypeDropForever, ActionDrop, "", false, nil, "", false},
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rules), len(want))
	}
	for i, w := range want {
		r := rules[i]
		if r.Type != w.typ || r.Action() != w.action || r.Period != w.period || r.IncludeFuture != w.future ||
			!maps.Equal(r.TieredReplicants, w.tiers) || r.UseDefaultTierForNull != w.useNull {
			t.Errorf("rule %d: %+v, want %+v", i, r, w)
		}
		if w.iv != "" && r.Interval.String() != w.iv {
			t.Errorf("rule %d: interval %s, want %s", i, r.Interval, w.iv)
		}
	}
}

func TestParseRulesDefaults(t *testing.T) {
	cases := []struct {
		json   string
		tiers  map[string]int
		future bool
	}{
		{`{"type":"loadForever"}`, map[string]int{"_default_tier": 2}, false},
		{`{"type":"loadForever","tieredReplicants":null}`, map[string]int{"_default_tier": 2}, false},
		{`{"type":"loadForever","useDefaultTierForNull":false}`, map[string]int{}, false},
		{`{"type":"loadForever","tieredReplicants":{}}`, map[string]int{}, false},
		{`{"type":"loadByPeriod","period":"P1D"}`, map[string]int{"_default_tier": 2}, true},
		{`{"type":"loadByPeriod","period":"P1D","includeFuture":null}`, map[string]int{"_default_tier": 2}, true},
		{`{"type":"loadByPeriod","period":"P1D","includeFuture":false,"tieredReplicants":{"hot":0}}`, map[string]int{"hot": 0}, false},
		{`{"type":"dropByPeriod","period":"P1D"}`, nil, true},
		{`{"type":"broadcastByPeriod","period":"P1D","colocatedDataSources":["a"]}`, nil, true},
		{`{"period":"P1D","type":"dropBeforeByPeriod","unknownField":1}`, nil, false},
	}
	for _, c := range cases {
		rules, err := ParseRules("ds", []byte("["+c.json+"]"))
		if err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		r := rules[0]
		if !maps.Equal(r.TieredReplicants, c.tiers) || (r.TieredReplicants == nil) != (c.tiers == nil) || r.IncludeFuture != c.future {
			t.Errorf("%s: tiers %v includeFuture %v, want %v %v", c.json, r.TieredReplicants, r.IncludeFuture, c.tiers, c.future)
		}
	}
	if rules, err := ParseRules("ds", []byte("null")); err != nil || len(rules) != 0 {
		t.Errorf("null payload: %v %v", rules, err)
	}
}

func TestParseRulesErrors(t *testing.T) {
	cases := []struct{ payload, want string }{
		{`[{"type":"loadForever"},{"type":"loadByFoo"}]`, `rules of dataSource "wiki": rule 1: unknown type "loadByFoo"`},
		{`[{"tieredReplicants":{"hot":1}}]`, `rule 0: it has no "type"`},
		{`[{"type":"loadForever","tieredReplicants":{"hot":-1}}]`, `tier "hot": -1 must not be negative`},
		{`[{"type":"loadForever","tieredReplicants":{"hot":null}}]`, `tier "hot": it must not be null`},
		{`[{"type":"loadByPeriod"}]`, "loadByPeriod needs a period"},
		{`[{"type":"dropByPeriod","period":"1M"}]`, `period "1M"`},
		{`[{"type":"dropByPeriod","period":"P1X"}]`, `period "P1X"`},
		{`[{"type":"loadByInterval"}]`, "loadByInterval needs an interval"},
		{`[{"type":"dropByInterval","interval":"2020-01-02/2020-01-01"}]`, "dropByInterval"},
		{`{"type":"loadForever"}`, "not a JSON array"},
		{`[null]`, "rule 0: a rule is null"},
		{`[{"type":"loadForever","tieredReplicants":{"hot":"2"}}]`, "rule 0: not a rule object"},
	}
	for _, c := range cases {
		_, err := ParseRules("wiki", []byte(c.payload))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"wiki"`) {
			t.Errorf("%s: error %v, want one containing %q and the dataSource", c.payload, err, c.want)
		}
	}
}

func TestPeriodBefore(t *testing.T) {
	cases := []struct{ period, at, want string }{
		{"P1M", "2024-03-31T00:00:00.000Z", "2024-02-29T00:00:00.000Z"},
		{"P1M", "2025-03-31T10:00:00.000Z", "2025-02-28T10:00:00.000Z"},
		{"P1Y2M", "2025-04-30T00:00:00.000Z", "2024-02-29T00:00:00.000Z"},
		{"P1Y", "2024-02-29T00:00:00.000Z", "2023-02-28T00:00:00.000Z"},
		{"P3D", "2024-03-01T00:00:00.000Z", "2024-02-27T00:00:00.000Z"},
		{"PT6H", "2024-03-10T05:00:00.000Z", "2024-03-09T23:00:00.000Z"},
		{"P2W", "2024-03-10T05:00:00.000Z", "2024-02-25T05:00:00.000Z"},
		{"P1DT12H30M", "2024-01-02T00:00:00.000Z", "2023-12-31T11:30:00.000Z"},
		{"PT0.5S", "2024-01-01T00:00:00.000Z", "2023-12-31T23:59:59.500Z"},
		{"P1M1D", "2024-03-31T00:00:00.000Z", "2024-02-28T00:00:00.000Z"},
	}
	for _, c := range cases {
		got, err := PeriodBefore(c.period, mustInstant(t, c.at))
		if err != nil || got.String() != c.want {
			t.Errorf("%s before %s = %s (%v), want %s", c.period, c.at, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "1M", "PT", "P1M/2020", "P1H"} {
		if _, err := PeriodBefore(bad, 0); err == nil {
			t.Errorf("PeriodBefore(%q) accepted it", bad)
		}
	}
	// Joda reads "P" as the empty period: a period rule that takes nothing off now.
	at := mustInstant(t, "2024-03-31T00:00:00.000Z")
	for _, empty := range []string{"P", "p"} {
		if got, err := PeriodBefore(empty, at); err != nil || got != at {
			t.Errorf("PeriodBefore(%q) = %s (%v), want %s", empty, got, err, at)
		}
	}
	if rules, err := ParseRules("ds", []byte(`[{"type":"loadByPeriod","period":"P","includeFuture":false},{"type":"dropForever"}]`)); err != nil || rules[0].Period != "P" {
		t.Errorf(`a rule of period "P": %v %v`, rules, err)
	}
}

// TestRuleAppliesTo pins every rule type at a fixed now, at the boundaries Druid's appliesTo draws.
func TestRuleAppliesTo(t *testing.T) {
	now := mustInstant(t, "2025-06-15T12:00:00.000Z") // now - P1M = 2025-05-15T12:00
	rule := func(js string) *Rule {
		rules, err := ParseRules("ds", []byte("["+js+"]"))
		if err != nil {
			t.Fatal(err)
		}
		return &rules[0]
	}
	cases := []struct {
		rule, interval string
		want           bool
	}{
		{`{"type":"loadForever"}`, "2000-01-01/2000-01-02", true},
		{`{"type":"dropForever"}`, "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z", true},
		{`{"type":"broadcastForever"}`, "2000-01-01/2000-01-02", true},
		// loadByInterval and broadcastByInterval: overlap.
		{`{"type":"loadByInterval","interval":"2020-01-01/2020-02-01"}`, "2020-01-31/2020-02-02", true},
		{`{"type":"loadByInterval","interval":"2020-01-01/2020-02-01"}`, "2020-02-01/2020-02-02", false},
		{`{"type":"broadcastByInterval","interval":"2020-01-01/2020-02-01"}`, "2019-12-31/2020-01-01T00:00:00.001Z", true},
		// dropByInterval: containment.
		{`{"type":"dropByInterval","interval":"2020-01-01/2020-02-01"}`, "2020-01-31/2020-02-01", true},
		{`{"type":"dropByInterval","interval":"2020-01-01/2020-02-01"}`, "2020-01-31/2020-02-02", false},
		// loadByPeriod with includeFuture: now - period < segment end.
		{`{"type":"loadByPeriod","period":"P1M"}`, "2025-05-15T11:00:00Z/2025-05-15T12:00:00Z", false},
		{`{"type":"loadByPeriod","period":"P1M"}`, "2025-05-15T11:00:00Z/2025-05-15T12:00:00.001Z", true},
		{`{"type":"loadByPeriod","period":"P1M"}`, "2030-01-01/2030-01-02", true},
		{`{"type":"loadByPeriod","period":"P1M"}`, "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z", true},
		// without includeFuture: [now - period, now) overlaps the segment.
		{`{"type":"loadByPeriod","period":"P1M","includeFuture":false}`, "2030-01-01/2030-01-02", false},
		{`{"type":"loadByPeriod","period":"P1M","includeFuture":false}`, "2025-06-15T11:59:59.999Z/2025-06-16", true},
		{`{"type":"loadByPeriod","period":"P1M","includeFuture":false}`, "2025-06-15T12:00:00Z/2025-06-16", false},
		{`{"type":"broadcastByPeriod","period":"PT6H","includeFuture":false}`, "2025-06-15T05:00:00Z/2025-06-15T06:00:00.001Z", true},
		{`{"type":"broadcastByPeriod","period":"PT6H","includeFuture":false}`, "2025-06-15T05:00:00Z/2025-06-15T06:00:00Z", false},
		// dropByPeriod with includeFuture: now - period <= segment start.
		{`{"type":"dropByPeriod","period":"P1M"}`, "2025-05-15T12:00:00Z/2025-05-16", true},
		{`{"type":"dropByPeriod","period":"P1M"}`, "2025-05-15T11:59:59.999Z/2025-05-16", false},
		{`{"type":"dropByPeriod","period":"P1M"}`, "2030-01-01/2030-01-02", true},
		// without includeFuture: [now - period, now) contains the segment.
		{`{"type":"dropByPeriod","period":"P1M","includeFuture":false}`, "2025-06-14T12:00:00Z/2025-06-15T12:00:00Z", true},
		{`{"type":"dropByPeriod","period":"P1M","includeFuture":false}`, "2025-06-14T12:00:00Z/2025-06-15T12:00:00.001Z", false},
		// dropBeforeByPeriod: segment end <= now - period.
		{`{"type":"dropBeforeByPeriod","period":"P1M"}`, "2025-05-14T12:00:00Z/2025-05-15T12:00:00Z", true},
		{`{"type":"dropBeforeByPeriod","period":"P1M"}`, "2025-05-14T12:00:00Z/2025-05-15T12:00:00.001Z", false},
		{`{"type":"dropBeforeByPeriod","period":"P1Y2M"}`, "2024-04-14/2024-04-15T12:00:00Z", true},
		{`{"type":"dropBeforeByPeriod","period":"P1Y2M"}`, "2024-04-14/2024-04-15T12:00:00.001Z", false},
	}
	for _, c := range cases {
		r := rule(c.rule)
		got, err := r.AppliesTo(mustInterval(t, c.interval), now)
		if err != nil || got != c.want {
			t.Errorf("%s on %s at %s: %v (%v), want %v", c.rule, c.interval, now, got, err, c.want)
		}
	}
}

func TestEvaluatorFirstMatchThenDefault(t *testing.T) {
	parse := func(ds, js string) []Rule {
		r, err := ParseRules(ds, []byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rs := &RuleSet{ByDataSource: map[string][]Rule{
		"wiki": parse("wiki", `[{"type":"loadByPeriod","period":"P7D","tieredReplicants":{"hot":2}},
			{"type":"loadByInterval","interval":"2024-01-01/2025-01-01","tieredReplicants":{"cold":1}},
			{"type":"dropBeforeByPeriod","period":"P3Y"}]`),
		"lookup":   parse("lookup", `[{"type":"broadcastForever"}]`),
		"_default": parse("_default", `[{"type":"loadByPeriod","period":"P1Y","includeFuture":false},{"type":"dropForever"}]`),
		"empty":    nil,
	}}
	ev, err := rs.At(mustInstant(t, "2025-06-15T00:00:00.000Z"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ds, interval string
		action       Action
		tiers        map[string]int
		from         string
		index        int
	}{
		{"wiki", "2025-06-10/2025-06-11", ActionLoad, map[string]int{"hot": 2}, "wiki", 0},
		{"wiki", "2030-06-10/2030-06-11", ActionLoad, map[string]int{"hot": 2}, "wiki", 0}, // includeFuture
		{"wiki", "2024-06-10/2024-06-11", ActionLoad, map[string]int{"cold": 1}, "wiki", 1},
		{"wiki", "2022-06-10/2022-06-11", ActionDrop, nil, "wiki", 2},
		{"wiki", "2023-06-10/2023-06-11", ActionDrop, nil, "_default", 1}, // no wiki rule: P1Y misses, dropForever
		{"lookup", "2000-01-01/2000-01-02", ActionBroadcast, nil, "lookup", 0},
		{"empty", "2025-01-01/2025-01-02", ActionLoad, map[string]int{"_default_tier": 2}, "_default", 0},
		{"other", "2025-01-01/2025-01-02", ActionLoad, map[string]int{"_default_tier": 2}, "_default", 0},
	}
	for _, c := range cases {
		d := ev.Evaluate(c.ds, mustInterval(t, c.interval))
		if d.Action != c.action || !maps.Equal(d.Replicas, c.tiers) || d.Matched.DataSource != c.from || d.Matched.Index != c.index {
			t.Errorf("%s %s: %v %v from %s[%d], want %v %v from %s[%d]", c.ds, c.interval, d.Action, d.Replicas,
				d.Matched.DataSource, d.Matched.Index, c.action, c.tiers, c.from, c.index)
		}
	}
	// Without _default rules a segment no rule matches gets no decision.
	delete(rs.ByDataSource, "_default")
	ev, _ = rs.At(mustInstant(t, "2025-06-15T00:00:00.000Z"))
	if d := ev.Evaluate("wiki", mustInterval(t, "2023-06-10/2023-06-11")); d.Action != ActionNone || d.Matched.Rule != nil {
		t.Errorf("no matching rule: %+v", d)
	}
	if refs := rs.RulesFor("wiki"); len(refs) != 3 {
		t.Errorf("RulesFor: %d rules", len(refs))
	}
}

func TestLoadRulesLatestVersionAndDefault(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, VariantCurrent)
	at := func(s string) time.Time { return mustInstant(t, s).Time() }
	// The default rule exactly as SQLMetadataRuleManager seeds it.
	seed := []struct {
		ds, version, payload string
	}{
		{"_default", "2020-01-01T00:00:00.000Z", `[{"tieredReplicants":{"_default_tier":2},"useDefaultTierForNull":true,"type":"loadForever"}]`},
		{"wiki", "2024-01-01T00:00:00.000Z", `[{"type":"dropForever"}]`},
		{"wiki", "2024-03-01T00:00:00.000Z", `[{"type":"loadByPeriod","period":"P1M","tieredReplicants":{"hot":1}},{"type":"dropForever"}]`},
		{"wiki", "2024-02-01T00:00:00.000Z", `[{"type":"loadForever","tieredReplicants":{"cold":3}}]`},
		{"logs", "2024-05-01T00:00:00.000Z", `[]`},
	}
	for _, s := range seed {
		if err := InsertRules(ctx, f.conn, f.tables, s.ds, at(s.version), []byte(s.payload)); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := f.store.LoadRules(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if v := rs.Versions["wiki"]; v != "2024-03-01T00:00:00.000Z" {
		t.Errorf("wiki rules version %s, want the latest", v)
	}
	if len(rs.ByDataSource["wiki"]) != 2 || len(rs.ByDataSource) != 3 {
		t.Errorf("rule set %v", rs.ByDataSource)
	}
	ev, err := rs.At(mustInstant(t, "2024-06-15T00:00:00.000Z"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ds, interval string
		want         Action
		tiers        map[string]int
	}{
		{"wiki", "2024-06-01/2024-06-02", ActionLoad, map[string]int{"hot": 1}},
		{"wiki", "2024-01-01/2024-01-02", ActionDrop, nil},
		{"logs", "2024-01-01/2024-01-02", ActionLoad, map[string]int{"_default_tier": 2}},
		{"unknown", "2024-01-01/2024-01-02", ActionLoad, map[string]int{"_default_tier": 2}},
	} {
		d := ev.Evaluate(c.ds, mustInterval(t, c.interval))
		if d.Action != c.want || !maps.Equal(d.Replicas, c.tiers) {
			t.Errorf("%s %s: %v %v, want %v %v", c.ds, c.interval, d.Action, d.Replicas, c.want, c.tiers)
		}
	}

	// A broken payload in one dataSource names it and the rule; the others still load.
	if err := InsertRules(ctx, f.conn, f.tables, "logs", at("2024-06-01T00:00:00.000Z"),
		[]byte(`[{"type":"dropForever"},{"type":"loadSometimes"}]`)); err != nil {
		t.Fatal(err)
	}
	rs, err = f.store.LoadRules(ctx, "")
	if err == nil || !strings.Contains(err.Error(), `"logs": rule 1: unknown type "loadSometimes"`) {
		t.Errorf("broken rules: %v", err)
	}
	if rs == nil || len(rs.ByDataSource["wiki"]) != 2 {
		t.Errorf("broken rules of one dataSource dropped the others: %v", rs)
	}
}

// fingerprintVectors are the fingerprints Druid's matchers give, computed with Guava (testdata/rules/fingerprints.txt).
func fingerprintVectors(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("testdata/rules/fingerprints.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if what, fp, ok := strings.Cut(line, "\t"); ok && !strings.HasPrefix(line, "#") {
			out[what] = fp
		}
	}
	return out
}

// partialSegment is a segment of dataSource ds over iv with the given projections (nil: not projection-aware) and
// clusterGroups member (raw JSON, "" for none), in partition part of cores.
func partialSegment(t *testing.T, ds, iv string, projections []string, clusterGroups string, part, cores int) *segments.DataSegment {
	t.Helper()
	js := fmt.Sprintf(`{"dataSource":%q,"interval":%q,"version":"v1","loadSpec":{"type":"s3_zip","bucket":"b","key":"k"},`+
		`"dimensions":"","metrics":"","shardSpec":{"type":"numbered","partitionNum":%d,"partitions":%d},"binaryVersion":9,"size":1`,
		ds, mustInterval(t, iv), part, cores)
	if projections != nil {
		js += fmt.Sprintf(`,"projections":%q`, strings.Join(projections, ","))
	}
	if clusterGroups != "" {
		js += `,"clusterGroups":` + clusterGroups
	}
	var s segments.DataSegment
	if err := json.Unmarshal([]byte(js+"}"), &s); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return &s
}

func mustRules(t *testing.T, ds, js string) []Rule {
	t.Helper()
	r, err := ParseRules(ds, []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The partial-load rules parse as Druid's Jackson reads them: their defaults, and what their constructors refuse,
// which fails the Coordinator's whole poll of the rules table.
func TestParsePartialRules(t *testing.T) {
	payload, err := os.ReadFile("testdata/rules/partial.json")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules("wiki", payload)
	if err != nil {
		t.Fatal(err)
	}
	r := rules[0]
	if r.Type != TypeLoadPartialByPeriod || r.Action() != ActionLoad || !r.IsPartial() || r.Period != "P30D" || !r.IncludeFuture ||
		!maps.Equal(r.TieredReplicants, map[string]int{"hot": 1}) || r.Matcher.Type != MatcherGlobProjection ||
		!slices.Equal(r.Matcher.Patterns, []string{"daily_*"}) || r.OnCannotMatch != CannotMatchLoadOnDemand || rules[1].IsPartial() {
		t.Errorf("the issue's rule: %+v", r)
	}

	for _, c := range []struct {
		json    string
		cannot  CannotMatch
		matcher string
		known   bool
	}{
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a"]},"onCannotMatch":"fallThrough"}`, CannotMatchFallThrough, MatcherExactProjection, true},
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a"]},"onCannotMatch":"baseLoad"}`, CannotMatchBaseLoad, MatcherExactProjection, true},
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a"]},"onCannotMatch":"fullLoad"}`, CannotMatchFullLoad, MatcherExactProjection, true},
		// A behaviour a newer Druid adds reads as the default; so does null.
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a"]},"onCannotMatch":"SOME_FUTURE_BEHAVIOR"}`, CannotMatchLoadOnDemand, MatcherExactProjection, true},
		{`{"type":"loadPartialByInterval","interval":"2024-01-01/2024-02-01","matcher":{"type":"globClusterGroup","patterns":[{"tenant":"a*"}]},"onCannotMatch":null}`, CannotMatchLoadOnDemand, MatcherGlobClusterGroup, true},
		// A matcher type this Druid does not know (nor its members) reads as the unknown matcher.
		{`{"type":"loadPartialForever","matcher":{"type":"futureMatcher","names":7}}`, CannotMatchLoadOnDemand, "futureMatcher", false},
		{`{"type":"loadPartialForever","matcher":{"names":["a"]}}`, CannotMatchLoadOnDemand, "", false},
		{`{"type":"loadPartialForever","matcher":{"type":"composite","matchers":[{"type":"exactProjection","names":["a"]},{"type":"globClusterGroup","patterns":[{"t":"*"}],"virtualColumns":[{"type":"expression","name":"t","expression":"lower(x)"}]}]}}`, CannotMatchLoadOnDemand, MatcherComposite, true},
	} {
		rules, err := ParseRules("ds", []byte("["+c.json+"]"))
		if err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		r := rules[0]
		if r.OnCannotMatch != c.cannot || r.Matcher.Type != c.matcher || r.Matcher.Known() != c.known ||
			!maps.Equal(r.TieredReplicants, map[string]int{DefaultTier: DefaultReplicants}) {
			t.Errorf("%s: %+v %+v", c.json, r, *r.Matcher)
		}
	}

	for _, c := range []struct{ rule, want string }{
		{`{"type":"loadPartialForever"}`, "matcher must not be null"},
		{`{"type":"loadPartialForever","matcher":null}`, "matcher must not be null"},
		{`{"type":"loadPartialByPeriod","matcher":{"type":"exactProjection","names":["a"]}}`, "needs a period"},
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":[]}}`, "names must not be null or empty"},
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a",null]}}`, "names[1] must not be null"},
		{`{"type":"loadPartialForever","matcher":{"type":"globProjection"}}`, "patterns must not be null or empty"},
		{`{"type":"loadPartialForever","matcher":{"type":"globProjection","patterns":["a\\"]}}`, "ends with an unescaped backslash"},
		{`{"type":"loadPartialForever","matcher":{"type":"globClusterGroup","patterns":[{}]}}`, "patterns[0] must not be null or empty"},
		{`{"type":"loadPartialForever","matcher":{"type":"composite","matchers":[]}}`, "matchers must not be null or empty"},
		{`{"type":"loadPartialForever","matcher":{"type":"composite","matchers":[null]}}`, "matchers[0] must not be null"},
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a"]},"onCannotMatch":{}}`, "onCannotMatch"},
		{`{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["a"]},"tieredReplicants":{"hot":-1}}`, "must not be negative"},
	} {
		if _, err := ParseRules("wiki", []byte("["+c.rule+"]")); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.rule, err, c.want)
		}
	}
}

// The issue's example: a loadPartialByPeriod rule over the daily_* projections, then dropForever. A recent segment
// is loaded on hot with the fingerprint of the projections it selects (the base table when it has none of them); an
// old one is dropped; the evaluation by interval alone says it cannot tell.
func TestPartialRuleDecisionsOfTheIssueExample(t *testing.T) {
	fps := fingerprintVectors(t)
	payload, err := os.ReadFile("testdata/rules/partial.json")
	if err != nil {
		t.Fatal(err)
	}
	rs := &RuleSet{ByDataSource: map[string][]Rule{
		"wiki":     mustRules(t, "wiki", string(payload)),
		"_default": mustRules(t, "_default", `[{"type":"loadForever"}]`),
	}}
	ev, err := rs.At(mustInstant(t, "2025-06-15T00:00:00.000Z"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		seg         *segments.DataSegment
		action      Action
		typ, fp     string
		selection   string
		ruleIndex   int
		ruleOfWhich string
	}{
		{"two daily projections", partialSegment(t, "wiki", "2025-06-10/2025-06-11", []string{"weekly", "daily_b", "daily_a"}, "", 0, 1),
			ActionLoad, "partialProjection", fps["projections daily_a daily_b"], `projections "daily_a", "daily_b"`, 0, "wiki"},
		{"no daily projection", partialSegment(t, "wiki", "2025-06-10/2025-06-11", []string{"weekly"}, "", 0, 1),
			ActionLoad, "partialBaseTable", "v1:partial-base", "the base table (every row, no projection)", 0, "wiki"},
		{"not projection-aware", partialSegment(t, "wiki", "2025-06-10/2025-06-11", nil, "", 0, 1),
			ActionLoad, "partialBaseTable", "v1:partial-base", "the base table (every row, no projection)", 0, "wiki"},
		{"older than 30 days", partialSegment(t, "wiki", "2025-04-10/2025-04-11", []string{"daily_a"}, "", 0, 1),
			ActionDrop, "", "", "", 1, "wiki"},
		{"another dataSource", partialSegment(t, "logs", "2025-06-10/2025-06-11", []string{"daily_a"}, "", 0, 1),
			ActionLoad, "", "", "", 0, "_default"},
	} {
		d := ev.EvaluateSegment(c.seg)
		var typ, fp, sel string
		if d.Profile != nil {
			typ, fp, sel = d.Profile.Type, d.Profile.Fingerprint, d.Profile.Selection
		}
		if d.Action != c.action || typ != c.typ || fp != c.fp || sel != c.selection || d.Undecided != "" ||
			d.Matched.Index != c.ruleIndex || d.Matched.DataSource != c.ruleOfWhich {
			t.Errorf("%s: %+v %+v, want %v %s %s %q from %s[%d]", c.name, d, d.Profile, c.action, c.typ, c.fp, c.selection, c.ruleOfWhich, c.ruleIndex)
		}
		if c.action == ActionLoad && c.ruleOfWhich == "wiki" && !maps.Equal(d.Replicas, map[string]int{"hot": 1}) {
			t.Errorf("%s: replicas %v", c.name, d.Replicas)
		}
	}
	if !rs.HasPartial("wiki") || rs.HasPartial("logs") {
		t.Error("HasPartial")
	}
	if d := ev.Evaluate("wiki", mustInterval(t, "2025-06-10/2025-06-11")); d.Action != ActionLoad || d.Undecided == "" || d.Profile != nil {
		t.Errorf("by interval alone: %+v", d)
	}
	// Unicode names are sorted as Java's TreeSet sorts them (by UTF-16 unit) and hashed as UTF-16.
	rs.ByDataSource["wiki"] = mustRules(t, "wiki", `[{"type":"loadPartialForever","matcher":{"type":"exactProjection","names":["𝔘x","é","missing"]}}]`)
	d := ev.EvaluateSegment(partialSegment(t, "wiki", "2025-06-10/2025-06-11", []string{"é", "𝔘x"}, "", 0, 1))
	if d.Profile == nil || d.Profile.Fingerprint != fps["projections é 𝔘x"] {
		t.Errorf("unicode projections: %+v", d.Profile)
	}
}

// onCannotMatch's four behaviours, on a matcher that does not apply (an unknown one, which never does; a
// cluster-group one on a segment that is not clustered).
func TestPartialRuleCannotMatch(t *testing.T) {
	for _, c := range []struct {
		cannot    string
		action    Action
		fp        string
		fromIndex int
	}{
		{"fallThrough", ActionLoad, "", 1},
		{"loadOnDemand", ActionLoad, "", 0},
		{"baseLoad", ActionLoad, "v1:partial-base", 0},
		{"fullLoad", ActionLoad, "v1:partial-full", 0},
	} {
		for _, matcher := range []string{`{"type":"someFutureMatcher"}`, `{"type":"globClusterGroup","patterns":[{"tenant":"*"}]}`} {
			rs := &RuleSet{ByDataSource: map[string][]Rule{"_default": mustRules(t, "_default",
				`[{"type":"loadPartialForever","tieredReplicants":{"hot":1},"matcher":`+matcher+`,"onCannotMatch":"`+c.cannot+`"},{"type":"loadForever","tieredReplicants":{"cold":1}}]`)}}
			ev, _ := rs.At(0)
			d := ev.EvaluateSegment(partialSegment(t, "wiki", "2025-06-10/2025-06-11", []string{"a"}, "", 0, 1))
			fp := ""
			if d.Profile != nil {
				fp = d.Profile.Fingerprint
			}
			if d.Action != c.action || fp != c.fp || d.Matched.Index != c.fromIndex || d.Undecided != "" {
				t.Errorf("%s with %s: %+v %+v", c.cannot, matcher, d, d.Profile)
			}
		}
	}
}

// globClusterGroup: per-column globs over the rendered tuple values, "*" alone matching null, excludes, patterns
// that do not resolve against the segment's clustering, and the empty load of a core partition.
func TestClusterGroupMatcher(t *testing.T) {
	fps := fingerprintVectors(t)
	groups := `{"clusteringColumns":[{"name":"tenant","type":"STRING"},{"name":"region","type":"STRING"},{"name":"prio","type":"LONG"}],` +
		`"tuples":[["acme","us",1],["globex","eu",2],["acme2",null,3],[null,"eu",4]]}`
	eval := func(matcher, cannot string, part, cores int, cg string) Decision {
		t.Helper()
		rs := &RuleSet{ByDataSource: map[string][]Rule{"_default": mustRules(t, "_default",
			`[{"type":"loadPartialForever","matcher":`+matcher+`,"onCannotMatch":"`+cannot+`"},{"type":"dropForever"}]`)}}
		ev, _ := rs.At(0)
		return ev.EvaluateSegment(partialSegment(t, "wiki", "2025-06-10/2025-06-11", nil, cg, part, cores))
	}
	fpOf := func(d Decision) string {
		if d.Profile == nil {
			return "-"
		}
		return d.Profile.Fingerprint
	}
	for _, c := range []struct {
		name, matcher string
		part, cores   int
		want          string
	}{
		{"tenant acme*", `{"type":"globClusterGroup","patterns":[{"tenant":"acme*"}]}`, 0, 1, fps["cluster groups 0 2"]},
		{"two patterns", `{"type":"globClusterGroup","patterns":[{"tenant":"acme"},{"tenant":"acme?","region":"*"}]}`, 0, 1, fps["cluster groups 0 2"]},
		{"exclude", `{"type":"globClusterGroup","patterns":[{"tenant":"*"}],"excludePatterns":[{"region":"eu"},{"prio":"[23]"}]}`, 0, 1, fps["cluster groups 0 2"]},
		{"a glob does not match null", `{"type":"globClusterGroup","patterns":[{"region":"?*"}]}`, 0, 1, fps["cluster groups 0 1 3"]},
		{"long rendered", `{"type":"globClusterGroup","patterns":[{"prio":"1"}]}`, 0, 1, fps["cluster groups 0"]},
		{"nothing matches, core partition", `{"type":"globClusterGroup","patterns":[{"tenant":"initech"}]}`, 0, 2, "v1:partial-empty"},
		{"nothing matches, appended partition", `{"type":"globClusterGroup","patterns":[{"tenant":"initech"}]}`, 2, 2, "-"},
		{"no pattern resolves", `{"type":"globClusterGroup","patterns":[{"country":"*"}]}`, 0, 1, "-"},
		{"operator virtual column, segment without", `{"type":"globClusterGroup","patterns":[{"t":"*"}],"virtualColumns":[{"type":"expression","name":"t","expression":"lower(tenant)","outputType":"STRING"}]}`, 0, 1, "-"},
	} {
		d := eval(c.matcher, "fallThrough", c.part, c.cores, groups)
		want := c.want
		if want == "" {
			t.Fatalf("%s: no vector", c.name)
		}
		if got := fpOf(d); got != want || (want == "-") != (d.Action == ActionDrop) {
			t.Errorf("%s: %s (%+v), want %s", c.name, got, d, want)
		}
	}
	// Not clustered: the matcher does not apply.
	if d := eval(`{"type":"globClusterGroup","patterns":[{"tenant":"*"}]}`, "fullLoad", 0, 1, ""); fpOf(d) != "v1:partial-full" {
		t.Errorf("unclustered, fullLoad: %+v", d)
	}
	// Virtual columns on both sides need Druid's expression equivalence: undecided, and the cascade stops.
	vcGroups := `{"clusteringColumns":[{"name":"tl","type":"STRING"}],"tuples":[["acme"]],"virtualColumns":[{"type":"expression","name":"tl","expression":"lower(tenant)"}]}`
	d := eval(`{"type":"globClusterGroup","patterns":[{"t":"a*"}],"virtualColumns":[{"type":"expression","name":"t","expression":"lower(tenant)"}]}`, "fallThrough", 0, 1, vcGroups)
	if d.Undecided == "" || d.Action != ActionLoad || d.Matched.Index != 0 {
		t.Errorf("virtual columns: %+v", d)
	}
}

// composite: the union of its members, fingerprinted over their sorted (type, fingerprint) pairs; one member is
// itself; a member that does not apply vetoes it.
func TestCompositeMatcher(t *testing.T) {
	fps := fingerprintVectors(t)
	groups := `{"clusteringColumns":[{"name":"tenant","type":"STRING"}],"tuples":[["acme"],["globex"],["acme2"]]}`
	proj := `{"type":"exactProjection","names":["daily_a"]}`
	cluster := `{"type":"globClusterGroup","patterns":[{"tenant":"acme*"}]}`
	for _, c := range []struct {
		name, members, cg, typ, want string
	}{
		{"both", proj + "," + cluster, groups, "partialComposite", fps["composite projections daily_a + cluster groups 0 2"]},
		{"both, other order", cluster + "," + proj, groups, "partialComposite", fps["composite projections daily_a + cluster groups 0 2"]},
		{"one member", proj, groups, "partialProjection", fps["projections daily_a"]},
		{"unclustered member vetoes", proj + "," + cluster, "", "", ""},
	} {
		rs := &RuleSet{ByDataSource: map[string][]Rule{"_default": mustRules(t, "_default",
			`[{"type":"loadPartialForever","matcher":{"type":"composite","matchers":[`+c.members+`]},"onCannotMatch":"fallThrough"}]`)}}
		ev, _ := rs.At(0)
		d := ev.EvaluateSegment(partialSegment(t, "wiki", "2025-06-10/2025-06-11", []string{"daily_a", "daily_b"}, c.cg, 0, 1))
		typ, fp := "", ""
		if d.Profile != nil {
			typ, fp = d.Profile.Type, d.Profile.Fingerprint
		}
		if typ != c.typ || fp != c.want {
			t.Errorf("%s: %s %s (%+v), want %s %s", c.name, typ, fp, d, c.typ, c.want)
		}
	}
}

// Values are rendered as Java 19+ renders them (Double.toString, Float.toString), glob wildcards match what
// java.util.regex's '.' matches, and names sort as Java strings do; the expectations were printed by Java 25.
func TestJavaRendering(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: Go's constant arithmetic would make their sum exactly 0.3
	for _, c := range []struct {
		v    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {100, 64, "100.0"}, {1e7, 64, "1.0E7"}, {9999999, 64, "9999999.0"}, {0.001, 64, "0.001"},
		{0.0009, 64, "9.0E-4"}, {1.5e-10, 64, "1.5E-10"}, {4.9e-324, 64, "4.9E-324"}, {1e23, 64, "1.0E23"},
		{123456789, 64, "1.23456789E8"}, {math.Copysign(0, -1), 64, "-0.0"}, {tenth + fifth, 64, "0.30000000000000004"},
		{2e-3, 64, "0.002"}, {2e22, 64, "2.0E22"}, {1.7976931348623157e308, 64, "1.7976931348623157E308"},
		{float64(float32(98.6)), 32, "98.6"}, {float64(float32(1e10)), 32, "1.0E10"}, {float64(float32(1.4e-45)), 32, "1.4E-45"},
		{float64(float32(0.1)), 32, "0.1"}, {float64(float32(16777217)), 32, "1.6777216E7"}, {float64(float32(3.4028235e38)), 32, "3.4028235E38"},
	} {
		if got := javaFloatString(c.v, c.bits); got != c.want {
			t.Errorf("%v (%d bits): %s, want %s", c.v, c.bits, got, c.want)
		}
	}
	for _, c := range []struct {
		typ, raw, want string
	}{
		{"STRING", `7`, "7"}, {"STRING", `1.5`, "1.5"}, {"STRING", `1e10`, "1.0E10"}, {"STRING", `true`, "true"},
		{"LONG", `5.7`, "5"}, {"LONG", `-5.7`, "-5"}, {"LONG", `18446744073709551617`, "1"}, {"DOUBLE", `5`, "5.0"},
		{"FLOAT", `98.6`, "98.6"}, {"long", `12`, "12"},
	} {
		v, err := clusterValue(strings.ToUpper(c.typ), json.RawMessage(c.raw))
		if err != nil || v.Text != c.want {
			t.Errorf("%s %s: %+v %v, want %s", c.typ, c.raw, v, err, c.want)
		}
	}
	if _, err := clusterValue("LONG", json.RawMessage(`"42"`)); err == nil {
		t.Error("a string coerced to LONG")
	}
	for _, c := range []struct {
		glob, s string
		want    bool
	}{
		{"daily_*", "daily_a", true}, {"daily_*", "daily", false}, {"a?c", "abc", true}, {"a?c", "a\nc", false},
		{"a*", "a\nb", false}, {"*", "", true}, {`a\*`, "a*", true}, {`a\*`, "ab", false}, {"?", "𝔘", true},
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"a.b", "axb", false}, {"*x", "\u2028x", false},
	} {
		g, err := compileGlob(c.glob)
		if err != nil || g.matches(c.s) != c.want {
			t.Errorf("glob %q on %q: %v (%v), want %v", c.glob, c.s, !c.want, err, c.want)
		}
	}
	if got := javaSortedSet([]string{"\uFF21", "𝔘", "b", "a", "b"}); !slices.Equal(got, []string{"a", "b", "𝔘", "\uFF21"}) {
		t.Errorf("Java order: %q", got)
	}
}

// Tier aliases: the issue's alias hot over hot-blue and hot-green asks for the rule's count on each real tier; a
// count given to a real tier explicitly wins; the dynamic configuration is read from the config table.
func TestTierAliasesAndDynamicConfig(t *testing.T) {
	dc, err := ParseDynamicConfig([]byte(`{"historicalTierAliases":{"hot":["hot-blue","hot-green"]},` +
		`"cloneServers":{"127.0.0.9:8083":"127.0.0.8:8083"},"decommissioningNodes":["127.0.0.7:8083"],"maxSegmentsToMove":5}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want map[string]int }{
		{map[string]int{"hot": 1}, map[string]int{"hot-blue": 1, "hot-green": 1}},
		{map[string]int{"hot": 2, "hot-green": 1, "cold": 1}, map[string]int{"hot-blue": 2, "hot-green": 1, "cold": 1}},
		{map[string]int{"cold": 1}, map[string]int{"cold": 1}},
	} {
		if got := dc.ExpandTiers(c.in); !maps.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.in, got, c.want)
		}
	}
	if dc.AliasOf("hot-green") != "hot" || dc.AliasOf("cold") != "" || dc.CloneServers["127.0.0.9:8083"] != "127.0.0.8:8083" ||
		!slices.Equal(dc.DecommissioningNodes, []string{"127.0.0.7:8083"}) {
		t.Errorf("dynamic config: %+v", dc)
	}
	if _, err := ParseDynamicConfig([]byte(`[1]`)); err == nil {
		t.Error("an array read as a dynamic configuration")
	}

	ctx := testCtx(t)
	f := newFixture(t, VariantCurrent)
	if got, found, err := f.store.LoadDynamicConfig(ctx); err != nil || found || len(got.HistoricalTierAliases) != 0 {
		t.Errorf("no config table: %+v %v %v", got, found, err)
	}
	// The table as Druid's SQLMetadataConnector creates it, and the row as JacksonConfigManager writes it.
	if _, err := f.conn.Exec(ctx, "CREATE TABLE "+f.tables.Config()+" (name VARCHAR(255) NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY(name))"); err != nil {
		t.Fatal(err)
	}
	if got, found, err := f.store.LoadDynamicConfig(ctx); err != nil || found || got == nil {
		t.Errorf("no row: %+v %v %v", got, found, err)
	}
	if _, err := f.conn.Exec(ctx, "INSERT INTO "+f.tables.Config()+" (name, payload) VALUES ($1, $2)", DynamicConfigKey,
		[]byte(`{"historicalTierAliases":{"hot":["hot-blue","hot-green"]}}`)); err != nil {
		t.Fatal(err)
	}
	if got, found, err := f.store.LoadDynamicConfig(ctx); err != nil || !found || len(got.HistoricalTierAliases["hot"]) != 2 {
		t.Errorf("the row: %+v %v %v", got, found, err)
	}
	if _, err := f.conn.Exec(ctx, "UPDATE "+f.tables.Config()+" SET payload = $1", []byte(`not json`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.LoadDynamicConfig(ctx); err == nil || !strings.Contains(err.Error(), DynamicConfigKey) {
		t.Errorf("a broken row: %v", err)
	}
}

// druid.manager.rules.defaultRule names the dataSource whose rules apply after every dataSource's own.
func TestLoadRulesCustomDefault(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, VariantCurrent)
	at := mustInstant(t, "2024-01-01T00:00:00.000Z").Time()
	for ds, payload := range map[string]string{
		"_default": `[{"type":"loadForever","tieredReplicants":{"_default_tier":2}}]`,
		"house":    `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`,
	} {
		if err := InsertRules(ctx, f.conn, f.tables, ds, at, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := f.store.LoadRules(ctx, "house")
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := rs.At(mustInstant(t, "2024-06-01T00:00:00.000Z"))
	if d := ev.Evaluate("wiki", mustInterval(t, "2024-01-01/2024-01-02")); !maps.Equal(d.Replicas, map[string]int{"hot": 1}) || d.Matched.DataSource != "house" {
		t.Errorf("with defaultRule house: %+v", d)
	}
}
