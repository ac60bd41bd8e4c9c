package metadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Rule types, the "type" values of Druid's Rule subtypes.
const (
	TypeLoadForever         = "loadForever"
	TypeLoadByInterval      = "loadByInterval"
	TypeLoadByPeriod        = "loadByPeriod"
	TypeDropForever         = "dropForever"
	TypeDropByInterval      = "dropByInterval"
	TypeDropByPeriod        = "dropByPeriod"
	TypeDropBeforeByPeriod  = "dropBeforeByPeriod"
	TypeBroadcastForever    = "broadcastForever"
	TypeBroadcastByInterval = "broadcastByInterval"
	TypeBroadcastByPeriod   = "broadcastByPeriod"
)

var ruleTypes = []string{
	TypeLoadForever, TypeLoadByInterval, TypeLoadByPeriod, TypeDropForever, TypeDropByInterval, TypeDropByPeriod,
	TypeDropBeforeByPeriod, TypeBroadcastForever, TypeBroadcastByInterval, TypeBroadcastByPeriod,
}

// DefaultTier and DefaultReplicants are what a load rule without tieredReplicants asks for (DruidServer.DEFAULT_TIER
// and DEFAULT_NUM_REPLICANTS) when useDefaultTierForNull is true, as it is by default.
const (
	DefaultTier       = "_default_tier"
	DefaultReplicants = 2
)

// DefaultRulesDataSource is the dataSource whose rules apply after every dataSource's own, the default of
// druid.manager.rules.defaultRule.
const DefaultRulesDataSource = "_default"

// Action is what a rule tells the Coordinator to do with the segments it applies to.
type Action int

const (
	// ActionNone means no rule applied: the Coordinator logs the segment as having no matching rule and leaves it.
	ActionNone Action = iota
	// ActionLoad means keep replicas on Historical tiers (Decision.Replicas).
	ActionLoad
	// ActionDrop means the segment should be on no server (the Coordinator marks it unused).
	ActionDrop
	// ActionBroadcast means load the segment on every server that accepts broadcast segments.
	ActionBroadcast
)

func (a Action) String() string {
	switch a {
	case ActionLoad:
		return "load"
	case ActionDrop:
		return "drop"
	case ActionBroadcast:
		return "broadcast"
	default:
		return "none"
	}
}

// Rule is one retention rule.
type Rule struct {
	// Type is one of the Type* constants.
	Type string
	// Interval is the interval of the *ByInterval types.
	Interval segments.Interval
	// Period is the ISO period of the *ByPeriod types and dropBeforeByPeriod, as written (P1M, PT6H, P1Y2M, P2W).
	Period string
	// IncludeFuture is includeFuture of loadByPeriod, dropByPeriod and broadcastByPeriod (true when absent).
	IncludeFuture bool
	// TieredReplicants is the tier → replica count of the load types, after Druid's handling of a null map:
	// {"_default_tier": 2} when useDefaultTierForNull is true (the default), an empty map otherwise. Treat it as
	// read-only; Decisions share it.
	TieredReplicants map[string]int
	// UseDefaultTierForNull is useDefaultTierForNull of the load types (true when absent).
	UseDefaultTierForNull bool
	// ColocatedDataSources is colocatedDataSources of the broadcast types in Druid 0.19–0.22; later Druid ignores it.
	ColocatedDataSources []string
}

// Action returns what the rule does to the segments it applies to.
func (r *Rule) Action() Action {
	switch r.Type {
	case TypeLoadForever, TypeLoadByInterval, TypeLoadByPeriod:
		return ActionLoad
	case TypeDropForever, TypeDropByInterval, TypeDropByPeriod, TypeDropBeforeByPeriod:
		return ActionDrop
	case TypeBroadcastForever, TypeBroadcastByInterval, TypeBroadcastByPeriod:
		return ActionBroadcast
	}
	return ActionNone
}

// usesPeriod reports whether appliesTo needs now - period.
func (r *Rule) usesPeriod() bool {
	switch r.Type {
	case TypeLoadByPeriod, TypeDropByPeriod, TypeDropBeforeByPeriod, TypeBroadcastByPeriod:
		return true
	}
	return false
}

// AppliesTo reports whether the rule applies to a segment interval at the reference time now, as Rule.appliesTo does.
// It computes now - period on every call; an Evaluator computes it once per rule.
func (r *Rule) AppliesTo(iv segments.Interval, now segments.Instant) (bool, error) {
	var from segments.Instant
	if r.usesPeriod() {
		var err error
		if from, err = PeriodBefore(r.Period, now); err != nil {
			return false, err
		}
	}
	return r.appliesTo(iv, now, from), nil
}

// appliesTo is Rule.appliesTo with periodStart = now - period precomputed:
//
//   - loadForever, dropForever, broadcastForever: always.
//   - loadByInterval, broadcastByInterval: the rule interval overlaps the segment's (Rules.eligibleForLoad).
//   - dropByInterval: the rule interval contains the segment's.
//   - loadByPeriod, broadcastByPeriod: with includeFuture, periodStart < segment end; without it, [periodStart, now)
//     overlaps the segment (Rules.eligibleForLoad).
//   - dropByPeriod: with includeFuture, periodStart <= segment start; without it, [periodStart, now) contains the
//     segment.
//   - dropBeforeByPeriod: segment end <= periodStart.
func (r *Rule) appliesTo(iv segments.Interval, now, periodStart segments.Instant) bool {
	switch r.Type {
	case TypeLoadForever, TypeDropForever, TypeBroadcastForever:
		return true
	case TypeLoadByInterval, TypeBroadcastByInterval:
		return r.Interval.Overlaps(iv)
	case TypeDropByInterval:
		return r.Interval.ContainsInterval(iv)
	case TypeLoadByPeriod, TypeBroadcastByPeriod:
		if r.IncludeFuture {
			return periodStart < iv.End
		}
		return segments.Interval{Start: periodStart, End: now}.Overlaps(iv)
	case TypeDropByPeriod:
		if r.IncludeFuture {
			return periodStart <= iv.Start
		}
		return segments.Interval{Start: periodStart, End: now}.ContainsInterval(iv)
	case TypeDropBeforeByPeriod:
		return iv.End <= periodStart
	}
	return false
}

// PeriodBefore returns t minus an ISO-8601 period, as Joda computes new Interval(period, t).getStart() and
// t.minus(period) in UTC: years, then months (clamping the day to the month's length), then weeks, days, hours,
// minutes, seconds and milliseconds. So 2024-03-31 minus P1M is 2024-02-29, and minus P1Y2M from 2025-04-30 is
// 2024-02-29.
//
// The period arithmetic is the segments package's (Joda's ISOPeriodFormat.standard()), reached through
// segments.ParseInterval's "PERIOD/END" form.
func PeriodBefore(period string, t segments.Instant) (segments.Instant, error) {
	if period == "" || strings.ContainsRune(period, '/') || (period[0] != 'P' && period[0] != 'p') {
		return 0, fmt.Errorf("period %q: expected an ISO-8601 period such as P1M, P3D, PT6H or P1Y2M", period)
	}
	iv, err := segments.ParseInterval(period + "/" + t.String())
	if err != nil {
		return 0, fmt.Errorf("period %q: %w", period, err)
	}
	return iv.Start, nil
}

// ruleJSON is the union of every rule type's properties; pointers tell absent or null from a value.
type ruleJSON struct {
	Type                  *string         `json:"type"`
	Interval              *string         `json:"interval"`
	Period                *string         `json:"period"`
	IncludeFuture         *bool           `json:"includeFuture"`
	TieredReplicants      map[string]*int `json:"tieredReplicants"`
	UseDefaultTierForNull *bool           `json:"useDefaultTierForNull"`
	ColocatedDataSources  []string        `json:"colocatedDataSources"`
}

// ParseRules reads a rules payload, a JSON array of rules, as Druid's Jackson reads a List<Rule>. Errors name the
// dataSource and the 0-based index of the offending rule. JSON null reads as no rules.
func ParseRules(dataSource string, payload []byte) ([]Rule, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(payload, &raws); err != nil {
		return nil, fmt.Errorf("rules of dataSource %q: the payload is not a JSON array of rules: %w", dataSource, err)
	}
	rules := make([]Rule, 0, len(raws))
	for i, raw := range raws {
		r, err := parseRule(raw)
		if err != nil {
			return nil, fmt.Errorf("rules of dataSource %q: rule %d: %w", dataSource, i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRule(raw []byte) (Rule, error) {
	var j ruleJSON
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return Rule{}, errors.New("a rule is null")
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return Rule{}, fmt.Errorf("not a rule object: %w", err)
	}
	if j.Type == nil {
		return Rule{}, errors.New(`it has no "type"`)
	}
	r := Rule{Type: *j.Type}
	if !slices.Contains(ruleTypes, r.Type) {
		return Rule{}, fmt.Errorf("unknown type %q; druid-sidecar knows %s", r.Type, strings.Join(ruleTypes, ", "))
	}
	switch r.Type {
	case TypeLoadByInterval, TypeDropByInterval, TypeBroadcastByInterval:
		if j.Interval == nil {
			return Rule{}, fmt.Errorf("%s needs an interval", r.Type)
		}
		iv, err := segments.ParseInterval(*j.Interval)
		if err != nil {
			return Rule{}, fmt.Errorf("%s: %w", r.Type, err)
		}
		r.Interval = iv
	case TypeLoadByPeriod, TypeDropByPeriod, TypeDropBeforeByPeriod, TypeBroadcastByPeriod:
		if j.Period == nil {
			return Rule{}, fmt.Errorf("%s needs a period", r.Type)
		}
		r.Period = *j.Period
		if _, err := PeriodBefore(r.Period, 0); err != nil {
			return Rule{}, fmt.Errorf("%s: %w", r.Type, err)
		}
		if r.Type != TypeDropBeforeByPeriod {
			r.IncludeFuture = j.IncludeFuture == nil || *j.IncludeFuture
		}
	}
	switch r.Action() {
	case ActionLoad:
		r.UseDefaultTierForNull = j.UseDefaultTierForNull == nil || *j.UseDefaultTierForNull
		switch {
		case j.TieredReplicants != nil:
			r.TieredReplicants = make(map[string]int, len(j.TieredReplicants))
			tiers := make([]string, 0, len(j.TieredReplicants))
			for tier := range j.TieredReplicants {
				tiers = append(tiers, tier)
			}
			sort.Strings(tiers)
			for _, tier := range tiers {
				n := j.TieredReplicants[tier]
				if n == nil {
					return Rule{}, fmt.Errorf("invalid number of replicas for tier %q: it must not be null", tier)
				}
				if *n < 0 {
					return Rule{}, fmt.Errorf("invalid number of replicas for tier %q: %d must not be negative", tier, *n)
				}
				r.TieredReplicants[tier] = *n
			}
		case r.UseDefaultTierForNull:
			r.TieredReplicants = map[string]int{DefaultTier: DefaultReplicants}
		default:
			r.TieredReplicants = map[string]int{}
		}
	case ActionBroadcast:
		r.ColocatedDataSources = j.ColocatedDataSources
	}
	return r, nil
}

// RuleSet is the rules of every dataSource, as the Coordinator's rule manager holds them after a poll.
type RuleSet struct {
	// ByDataSource maps a dataSource to its rules, in order. The default rules are under DefaultDataSource.
	ByDataSource map[string][]Rule
	// Versions maps a dataSource to the version (an ISO timestamp) of the rules in ByDataSource.
	Versions map[string]string
	// DefaultDataSource is druid.manager.rules.defaultRule, "_default" unless set otherwise.
	DefaultDataSource string
}

// RuleRef is a rule and where it came from.
type RuleRef struct {
	// DataSource is the dataSource the rule is listed under: the segment's own or the default one.
	DataSource string
	// Index is the rule's 0-based position in that list.
	Index int
	Rule  *Rule
}

// RulesFor returns the rules the Coordinator runs for a dataSource: its own, then the default rules
// (MetadataRuleManager.getRulesWithDefault).
func (rs *RuleSet) RulesFor(dataSource string) []RuleRef {
	var refs []RuleRef
	add := func(ds string) {
		rules := rs.ByDataSource[ds]
		for i := range rules {
			refs = append(refs, RuleRef{DataSource: ds, Index: i, Rule: &rules[i]})
		}
	}
	add(dataSource)
	if def := rs.defaultDataSource(); def != dataSource {
		add(def)
	}
	return refs
}

func (rs *RuleSet) defaultDataSource() string {
	if rs.DefaultDataSource == "" {
		return DefaultRulesDataSource
	}
	return rs.DefaultDataSource
}

// Decision is what the Coordinator's rules say about one segment.
type Decision struct {
	Action Action
	// Replicas is the expected replica count per tier, for ActionLoad; shared with the rule, do not modify.
	Replicas map[string]int
	// Matched is the rule that decided, zero (Rule nil) for ActionNone.
	Matched RuleRef
}

// Evaluator applies a RuleSet at a fixed reference time, with now - period computed once per rule.
type Evaluator struct {
	rules *RuleSet
	now   segments.Instant
	from  map[*Rule]segments.Instant // periodStart of each period rule
}

// At returns an Evaluator for the reference time now (the Coordinator uses the time of its run).
func (rs *RuleSet) At(now segments.Instant) (*Evaluator, error) {
	ev := &Evaluator{rules: rs, now: now, from: map[*Rule]segments.Instant{}}
	var errs []error
	dss := make([]string, 0, len(rs.ByDataSource))
	for ds := range rs.ByDataSource {
		dss = append(dss, ds)
	}
	sort.Strings(dss)
	for _, ds := range dss {
		rules := rs.ByDataSource[ds]
		for i := range rules {
			r := &rules[i]
			if !r.usesPeriod() {
				continue
			}
			from, err := PeriodBefore(r.Period, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("rules of dataSource %q: rule %d: %w", ds, i, err))
				continue
			}
			ev.from[r] = from
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ev, nil
}

// Now returns the reference time.
func (ev *Evaluator) Now() segments.Instant { return ev.now }

// Evaluate decides for one segment as RunRules does: the first of RulesFor(dataSource) that applies to the segment's
// interval wins.
func (ev *Evaluator) Evaluate(dataSource string, iv segments.Interval) Decision {
	try := func(ds string) (Decision, bool) {
		rules := ev.rules.ByDataSource[ds]
		for i := range rules {
			r := &rules[i]
			if r.appliesTo(iv, ev.now, ev.from[r]) {
				d := Decision{Action: r.Action(), Matched: RuleRef{DataSource: ds, Index: i, Rule: r}}
				if d.Action == ActionLoad {
					d.Replicas = r.TieredReplicants
				}
				return d, true
			}
		}
		return Decision{}, false
	}
	if d, ok := try(dataSource); ok {
		return d
	}
	if def := ev.rules.defaultDataSource(); def != dataSource {
		if d, ok := try(def); ok {
			return d
		}
	}
	return Decision{Action: ActionNone}
}

// EvaluateSegment is Evaluate for a segment.
func (ev *Evaluator) EvaluateSegment(seg *segments.DataSegment) Decision {
	return ev.Evaluate(seg.DataSource, seg.Interval)
}

// LoadRules reads the rules table as the Coordinator's SQLMetadataRuleManager polls it: for each dataSource, the
// row with the greatest version. defaultDataSource is druid.manager.rules.defaultRule ("" means "_default").
// When the rules of some dataSources do not parse, the RuleSet holds the others and the error names each failure.
func (s *Store) LoadRules(ctx context.Context, defaultDataSource string) (*RuleSet, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	t := s.tables.Rules()
	q := "SELECT r.datasource, r.version, r.payload FROM " + t + " r INNER JOIN (SELECT datasource, max(version) AS version FROM " +
		t + " GROUP BY datasource) ds ON r.datasource = ds.datasource AND r.version = ds.version"
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, s.wrap("reading the rules table "+t, err)
	}
	defer rows.Close()
	rs := &RuleSet{ByDataSource: map[string][]Rule{}, Versions: map[string]string{}, DefaultDataSource: defaultDataSource}
	var errs []error
	for rows.Next() {
		var ds, version string
		var payload []byte
		if err := rows.Scan(&ds, &version, &payload); err != nil {
			return nil, s.wrap("reading the rules table "+t, err)
		}
		rules, err := ParseRules(ds, payload)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w (rules version %s)", err, version))
			continue
		}
		rs.ByDataSource[ds] = rules
		rs.Versions[ds] = version
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("reading the rules table "+t, err)
	}
	if err := errors.Join(errs...); err != nil {
		return rs, s.wrap("reading the rules table "+t, err)
	}
	return rs, nil
}
