package metadata

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"
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
	for _, bad := range []string{"", "1M", "P", "PT", "P1M/2020", "P1H"} {
		if _, err := PeriodBefore(bad, 0); err == nil {
			t.Errorf("PeriodBefore(%q) accepted it", bad)
		}
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
