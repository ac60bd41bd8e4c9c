package metadata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/jackc/pgx/v5"

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

	// The partial-load rules of Druid 38+ (PartialLoadRule and its Forever, Interval and Period variants): load rules
	// whose matcher decides, per segment, which part of it the servers keep resident.
	TypeLoadPartialForever    = "loadPartialForever"
	TypeLoadPartialByInterval = "loadPartialByInterval"
	TypeLoadPartialByPeriod   = "loadPartialByPeriod"
)

var ruleTypes = []string{
	TypeLoadForever, TypeLoadByInterval, TypeLoadByPeriod, TypeDropForever, TypeDropByInterval, TypeDropByPeriod,
	TypeDropBeforeByPeriod, TypeBroadcastForever, TypeBroadcastByInterval, TypeBroadcastByPeriod,
	TypeLoadPartialForever, TypeLoadPartialByInterval, TypeLoadPartialByPeriod,
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

// DefaultRuleKey is the Coordinator's configuration key naming the dataSource whose rules are the default rules.
const DefaultRuleKey = "druid.manager.rules.defaultRule"

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
	// Matcher is the matcher of the partial-load types, nil for every other type.
	Matcher *Matcher
	// OnCannotMatch is what a partial-load rule does with a segment its matcher does not apply to (loadOnDemand when
	// absent, null or a value Druid does not know); "" for the other types.
	OnCannotMatch CannotMatch
}

// IsPartial reports whether the rule is a partial-load rule.
func (r *Rule) IsPartial() bool { return r.Matcher != nil }

// Action returns what the rule does to the segments it applies to.
func (r *Rule) Action() Action {
	switch r.Type {
	case TypeLoadForever, TypeLoadByInterval, TypeLoadByPeriod, TypeLoadPartialForever, TypeLoadPartialByInterval,
		TypeLoadPartialByPeriod:
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
	case TypeLoadByPeriod, TypeDropByPeriod, TypeDropBeforeByPeriod, TypeBroadcastByPeriod, TypeLoadPartialByPeriod:
		return true
	}
	return false
}

// AppliesTo reports whether the rule applies to a segment interval at the reference time now, as Rule.appliesTo does.
// It computes now - period on every call; an Evaluator computes it once per rule. For a partial-load rule it is the
// time window only, the Interval overload of PartialLoadRule.appliesTo: whether its matcher, and onCannotMatch, let
// it apply to a segment takes the segment (Evaluator.EvaluateLayout).
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
//   - loadForever, dropForever, broadcastForever, loadPartialForever: always.
//   - loadByInterval, broadcastByInterval, loadPartialByInterval: the rule interval overlaps the segment's
//     (Rules.eligibleForLoad).
//   - dropByInterval: the rule interval contains the segment's.
//   - loadByPeriod, broadcastByPeriod, loadPartialByPeriod: with includeFuture, periodStart < segment end; without
//     it, [periodStart, now) overlaps the segment (Rules.eligibleForLoad).
//   - dropByPeriod: with includeFuture, periodStart <= segment start; without it, [periodStart, now) contains the
//     segment.
//   - dropBeforeByPeriod: segment end <= periodStart.
func (r *Rule) appliesTo(iv segments.Interval, now, periodStart segments.Instant) bool {
	switch r.Type {
	case TypeLoadForever, TypeDropForever, TypeBroadcastForever, TypeLoadPartialForever:
		return true
	case TypeLoadByInterval, TypeBroadcastByInterval, TypeLoadPartialByInterval:
		return r.Interval.Overlaps(iv)
	case TypeDropByInterval:
		return r.Interval.ContainsInterval(iv)
	case TypeLoadByPeriod, TypeBroadcastByPeriod, TypeLoadPartialByPeriod:
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
// segments.ParseInterval's "PERIOD/END" form. "P" alone is Joda's empty period, which that parser reads as zero.
func PeriodBefore(period string, t segments.Instant) (segments.Instant, error) {
	if period == "" || strings.ContainsRune(period, '/') || (period[0] != 'P' && period[0] != 'p') {
		return 0, fmt.Errorf("period %q: expected an ISO-8601 period such as P1M, P3D, PT6H or P1Y2M", period)
	}
	if len(period) == 1 {
		return t, nil
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
	Matcher               json.RawMessage `json:"matcher"`
	OnCannotMatch         json.RawMessage `json:"onCannotMatch"`
}

// ParseRules reads a rules payload, a JSON array of rules, as Druid's Jackson reads a List<Rule>. Errors name the
// dataSource and the 0-based index of the offending rule. JSON null reads as no rules. What Jackson refuses is an
// error here, since the Coordinator's poll of the rules table then fails as a whole.
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
	if isNull(raw) {
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
	case TypeLoadByInterval, TypeDropByInterval, TypeBroadcastByInterval, TypeLoadPartialByInterval:
		if j.Interval == nil {
			return Rule{}, fmt.Errorf("%s needs an interval", r.Type)
		}
		iv, err := segments.ParseInterval(*j.Interval)
		if err != nil {
			return Rule{}, fmt.Errorf("%s: %w", r.Type, err)
		}
		r.Interval = iv
	case TypeLoadByPeriod, TypeDropByPeriod, TypeDropBeforeByPeriod, TypeBroadcastByPeriod, TypeLoadPartialByPeriod:
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
	switch r.Type {
	case TypeLoadPartialForever, TypeLoadPartialByInterval, TypeLoadPartialByPeriod:
		if len(j.Matcher) == 0 || isNull(j.Matcher) {
			return Rule{}, fmt.Errorf("%s: matcher must not be null for a partial load rule", r.Type)
		}
		m, err := parseMatcher(j.Matcher)
		if err != nil {
			return Rule{}, fmt.Errorf("%s: matcher: %w", r.Type, err)
		}
		r.Matcher = m
		if r.OnCannotMatch, err = parseCannotMatch(j.OnCannotMatch); err != nil {
			return Rule{}, fmt.Errorf("%s: onCannotMatch: %w", r.Type, err)
		}
	}
	return r, nil
}

func isNull(raw []byte) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// CannotMatch is a partial-load rule's onCannotMatch (CannotMatchBehavior): what the rule does with a segment its
// matcher does not apply to.
type CannotMatch string

// The onCannotMatch values. Every one but CannotMatchFallThrough applies the rule; they differ in what the load
// request asks the servers to keep resident.
const (
	// CannotMatchFallThrough: the rule does not apply, the next rule decides.
	CannotMatchFallThrough CannotMatch = "fallThrough"
	// CannotMatchLoadOnDemand: a plain load request, without a partial-load wrapper (the default).
	CannotMatchLoadOnDemand CannotMatch = "loadOnDemand"
	// CannotMatchBaseLoad: a partialBaseTable request, every row and no projection.
	CannotMatchBaseLoad CannotMatch = "baseLoad"
	// CannotMatchFullLoad: a partialFullSegment request, every bundle of the segment.
	CannotMatchFullLoad CannotMatch = "fullLoad"
)

// parseCannotMatch reads onCannotMatch as CannotMatchBehavior.fromString does: an unknown value (a newer Druid's),
// null or an absent member gives the default, loadOnDemand.
func parseCannotMatch(raw json.RawMessage) (CannotMatch, error) {
	if len(raw) == 0 || isNull(raw) {
		return CannotMatchLoadOnDemand, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch s := v.(type) {
	case string:
		switch c := CannotMatch(s); c {
		case CannotMatchFallThrough, CannotMatchLoadOnDemand, CannotMatchBaseLoad, CannotMatchFullLoad:
			return c, nil
		}
		return CannotMatchLoadOnDemand, nil
	case float64, bool:
		// Jackson hands a scalar to the String creator as its text, which names no behaviour.
		return CannotMatchLoadOnDemand, nil
	}
	return "", fmt.Errorf("expected a string, found %s", raw)
}

// The matcher types of partial-load rules (PartialLoadMatcher's subtypes).
const (
	MatcherExactProjection  = "exactProjection"
	MatcherGlobProjection   = "globProjection"
	MatcherGlobClusterGroup = "globClusterGroup"
	MatcherComposite        = "composite"
)

// Matcher is a partial-load rule's matcher: it decides whether the rule partially loads a segment, and what part.
// A type Druid does not know reads as an unknown matcher (UnknownPartialLoadMatcher), which never applies.
type Matcher struct {
	// Type is the "type" member as written ("" when absent).
	Type string
	// Names are exactProjection's projection names.
	Names []string
	// Patterns and ExcludePatterns are globProjection's globs.
	Patterns, ExcludePatterns []string
	// GroupPatterns and GroupExcludePatterns are globClusterGroup's patterns: clustering column (or operator virtual
	// column) → glob of the value.
	GroupPatterns, GroupExcludePatterns []map[string]string
	// VirtualColumns are the output names of globClusterGroup's operator virtual columns.
	VirtualColumns []string
	// Members are composite's matchers.
	Members []*Matcher

	globs, excludeGlobs           []glob
	groupGlobs, groupExcludeGlobs []map[string]glob
}

// Known reports whether the matcher is of a type Druid knows; an unknown one never applies.
func (m *Matcher) Known() bool {
	switch m.Type {
	case MatcherExactProjection, MatcherGlobProjection, MatcherGlobClusterGroup, MatcherComposite:
		return true
	}
	return false
}

type matcherJSON struct {
	Type            *string           `json:"type"`
	Names           []*string         `json:"names"`
	Patterns        json.RawMessage   `json:"patterns"`
	ExcludePatterns json.RawMessage   `json:"excludePatterns"`
	VirtualColumns  []json.RawMessage `json:"virtualColumns"`
	Matchers        []json.RawMessage `json:"matchers"`
}

// parseMatcher reads a matcher as Jackson builds it, with the checks its constructors make (InvalidInput fails the
// whole rules payload).
func parseMatcher(raw json.RawMessage) (*Matcher, error) {
	var j matcherJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		// Members of a type the matcher's own type does not have are never read by Jackson: look at the type first.
		var typed struct {
			Type *string `json:"type"`
		}
		if json.Unmarshal(raw, &typed) == nil && (typed.Type == nil || !(&Matcher{Type: *typed.Type}).Known()) {
			m := &Matcher{}
			if typed.Type != nil {
				m.Type = *typed.Type
			}
			return m, nil
		}
		return nil, fmt.Errorf("not a matcher object: %w", err)
	}
	m := &Matcher{}
	if j.Type != nil {
		m.Type = *j.Type
	}
	switch m.Type {
	case MatcherExactProjection:
		if len(j.Names) == 0 {
			return nil, errors.New("names must not be null or empty for exactProjection matcher")
		}
		for i, n := range j.Names {
			if n == nil {
				return nil, fmt.Errorf("names[%d] must not be null", i)
			}
			m.Names = append(m.Names, *n)
		}
	case MatcherGlobProjection:
		var err error
		if m.Patterns, err = stringList(j.Patterns, "patterns"); err != nil {
			return nil, err
		}
		if len(m.Patterns) == 0 {
			return nil, errors.New("patterns must not be null or empty for globProjection matcher")
		}
		if m.ExcludePatterns, err = stringList(j.ExcludePatterns, "excludePatterns"); err != nil {
			return nil, err
		}
		if m.globs, err = compileGlobs(m.Patterns); err != nil {
			return nil, err
		}
		if m.excludeGlobs, err = compileGlobs(m.ExcludePatterns); err != nil {
			return nil, err
		}
	case MatcherGlobClusterGroup:
		var err error
		if m.GroupPatterns, m.groupGlobs, err = groupPatterns(j.Patterns, "patterns"); err != nil {
			return nil, err
		}
		if len(m.GroupPatterns) == 0 {
			return nil, errors.New("patterns must not be null or empty for globClusterGroup matcher")
		}
		if m.GroupExcludePatterns, m.groupExcludeGlobs, err = groupPatterns(j.ExcludePatterns, "excludePatterns"); err != nil {
			return nil, err
		}
		for i, vc := range j.VirtualColumns {
			var named struct {
				Name *string `json:"name"`
			}
			if err := json.Unmarshal(vc, &named); err != nil || named.Name == nil {
				return nil, fmt.Errorf("virtualColumns[%d]: not a virtual column with a name", i)
			}
			m.VirtualColumns = append(m.VirtualColumns, *named.Name)
		}
	case MatcherComposite:
		if len(j.Matchers) == 0 {
			return nil, errors.New("matchers must not be null or empty for composite matcher")
		}
		for i, raw := range j.Matchers {
			if isNull(raw) {
				return nil, fmt.Errorf("matchers[%d] must not be null for composite matcher", i)
			}
			member, err := parseMatcher(raw)
			if err != nil {
				return nil, fmt.Errorf("matchers[%d]: %w", i, err)
			}
			m.Members = append(m.Members, member)
		}
	}
	return m, nil
}

// stringList reads a list of strings of which none may be null (List.copyOf); absent or null is empty.
func stringList(raw json.RawMessage, field string) ([]string, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	var items []*string
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	out := make([]string, 0, len(items))
	for i, s := range items {
		if s == nil {
			return nil, fmt.Errorf("%s[%d] must not be null", field, i)
		}
		out = append(out, *s)
	}
	return out, nil
}

// groupPatterns reads globClusterGroup's patterns or excludePatterns: non-empty maps of non-null globs.
func groupPatterns(raw json.RawMessage, field string) ([]map[string]string, []map[string]glob, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil, nil
	}
	var items []map[string]*string
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", field, err)
	}
	pats := make([]map[string]string, 0, len(items))
	globs := make([]map[string]glob, 0, len(items))
	for i, item := range items {
		if len(item) == 0 {
			return nil, nil, fmt.Errorf("%s[%d] must not be null or empty", field, i)
		}
		p, g := map[string]string{}, map[string]glob{}
		for col, v := range item {
			if v == nil {
				return nil, nil, fmt.Errorf("%s[%d][%q] must not be null", field, i, col)
			}
			compiled, err := compileGlob(*v)
			if err != nil {
				return nil, nil, err
			}
			p[col], g[col] = *v, compiled
		}
		pats, globs = append(pats, p), append(globs, g)
	}
	return pats, globs, nil
}

// glob is a compiled glob of Druid's partial-load matchers (Globs): '*' any run of characters, '?' any one, '\'
// escapes the next. Druid compiles it to a java.util.regex pattern matched against the whole string, where '*' and
// '?' become '.', which matches one code point but no line terminator.
type glob struct {
	raw  string
	toks []globTok
}

type globTok struct {
	kind byte // 'l' a literal rune, '*' any run, '?' any one
	r    rune
}

func compileGlob(s string) (glob, error) {
	g := glob{raw: s}
	escaping := false
	for _, r := range s {
		switch {
		case escaping:
			g.toks, escaping = append(g.toks, globTok{'l', r}), false
		case r == '\\':
			escaping = true
		case r == '*' || r == '?':
			g.toks = append(g.toks, globTok{byte(r), 0})
		default:
			g.toks = append(g.toks, globTok{'l', r})
		}
	}
	if escaping {
		return glob{}, fmt.Errorf("glob pattern [%s] ends with an unescaped backslash", s)
	}
	return g, nil
}

func compileGlobs(ss []string) ([]glob, error) {
	out := make([]glob, 0, len(ss))
	for _, s := range ss {
		g, err := compileGlob(s)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// lineTerminator is what java.util.regex's '.' does not match without DOTALL.
func lineTerminator(r rune) bool {
	return r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029'
}

// matches reports whether the glob matches all of s.
func (g glob) matches(s string) bool {
	rs := []rune(s)
	// Backtracking on the last '*' seen, as glob matchers do: linear for patterns with one star, quadratic at worst.
	ti, si := 0, 0
	starT, starS := -1, 0
	for si < len(rs) {
		if ti < len(g.toks) {
			t := g.toks[ti]
			switch {
			case t.kind == '*':
				starT, starS = ti, si
				ti++
				continue
			case t.kind == '?' && !lineTerminator(rs[si]), t.kind == 'l' && t.r == rs[si]:
				ti++
				si++
				continue
			}
		}
		if starT < 0 || lineTerminator(rs[starS]) {
			return false
		}
		starS++
		ti, si = starT+1, starS
	}
	for ti < len(g.toks) && g.toks[ti].kind == '*' {
		ti++
	}
	return ti == len(g.toks)
}

// matchAny reports whether the glob is "*", which a cluster-group pattern lets match a null value too.
func (g glob) matchAny() bool { return g.raw == "*" }

func anyGlob(gs []glob, s string) bool {
	for _, g := range gs {
		if g.matches(s) {
			return true
		}
	}
	return false
}

// Profile is what a partial-load rule asks the servers of a segment to keep resident: the load request carries it
// as a wrapped load spec, and a server announces the segment with its fingerprint. The Coordinator counts a replica
// toward the rule only when the fingerprint it announces is the requested one.
type Profile struct {
	// Type is the wrapped load spec's type: partialProjection, partialClusterGroup, partialBaseTable,
	// partialFullSegment or partialComposite.
	Type string
	// Fingerprint identifies the request, "v1:…".
	Fingerprint string
	// Selection says in words what it selects.
	Selection string
}

// The fingerprints and profiles that do not depend on the segment (PartialBaseTableLoadSpec.FINGERPRINT,
// PartialFullSegmentLoadSpec.FINGERPRINT, PartialLoadMatcher.EMPTY_LOAD_FINGERPRINT).
var (
	profileBaseTable    = &Profile{Type: "partialBaseTable", Fingerprint: "v1:partial-base", Selection: "the base table (every row, no projection)"}
	profileFullSegment  = &Profile{Type: "partialFullSegment", Fingerprint: "v1:partial-full", Selection: "every bundle of the segment"}
	profileEmptyCluster = &Profile{Type: "partialClusterGroup", Fingerprint: "v1:partial-empty", Selection: "no cluster group (an empty load that keeps the segment announced)"}
)

// emptyLoadFingerprint is the fingerprint of a load with no scheme-specific content, whatever the matcher.
const emptyLoadFingerprint = "v1:partial-empty"

// fingerprint is the matchers' "v1:" and the first 16 hex digits of a SHA-256 (Guava's Hashing.sha256, whose
// putUnencodedChars writes each UTF-16 code unit little-endian and putInt four bytes little-endian).
func fingerprint(write func(h hashWriter)) string {
	h := sha256.New()
	write(h)
	return "v1:" + hex.EncodeToString(h.Sum(nil))[:16]
}

type hashWriter interface{ Write([]byte) (int, error) }

func putUnencodedChars(h hashWriter, s string) {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	h.Write(b)
}

// javaCompare orders strings as Java's String.compareTo does, by UTF-16 code unit (TreeSet and sorted()).
func javaCompare(a, b string) int {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

// javaSortedSet sorts and dedups in place as a Java TreeSet<String> would.
func javaSortedSet(ss []string) []string {
	slices.SortFunc(ss, javaCompare)
	return slices.Compact(ss)
}

// matchResult is a matcher's answer for one segment: a profile when it applies, nil when it does not, or why the
// answer cannot be told from what the segments table says.
type matchResult struct {
	profile   *Profile
	undecided string
}

// match is PartialLoadMatcher.match for the segment l describes.
func (m *Matcher) match(l *Layout) matchResult {
	switch m.Type {
	case MatcherExactProjection, MatcherGlobProjection:
		return matchResult{profile: m.matchProjections(l)}
	case MatcherGlobClusterGroup:
		return m.matchClusterGroups(l)
	case MatcherComposite:
		return m.matchComposite(l)
	}
	return matchResult{} // unknown: never applies
}

// matchProjections is ProjectionPartialLoadMatcher.match: the projections the matcher selects among the segment's,
// or, when it selects none (or the segment has none), the base table. It always applies.
func (m *Matcher) matchProjections(l *Layout) *Profile {
	var have []string
	if l.Projections != nil {
		have = *l.Projections
	}
	var picked []string
	if m.Type == MatcherExactProjection {
		for _, n := range m.Names {
			if slices.Contains(have, n) {
				picked = append(picked, n)
			}
		}
	} else {
		for _, n := range have {
			if !anyGlob(m.excludeGlobs, n) && anyGlob(m.globs, n) {
				picked = append(picked, n)
			}
		}
	}
	if len(picked) == 0 {
		return profileBaseTable
	}
	picked = javaSortedSet(picked)
	fp := fingerprint(func(h hashWriter) {
		for _, n := range picked {
			putUnencodedChars(h, n)
			h.Write([]byte{0})
		}
	})
	return &Profile{Type: "partialProjection", Fingerprint: fp, Selection: "projections " + quoteList(picked)}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// matchClusterGroups is WildcardClusterGroupPartialLoadMatcher's resolution with ClusterGroupPartialLoadMatcher.match:
// the indexes of the segment's cluster groups whose tuples match an include pattern and no exclude pattern.
func (m *Matcher) matchClusterGroups(l *Layout) matchResult {
	cg := l.ClusterGroups
	if cg == nil {
		return matchResult{} // not clustered
	}
	if cg.Undecided != "" {
		return matchResult{undecided: cg.Undecided}
	}
	resolve := func(pats []map[string]glob) ([]map[string]int, string) {
		out := make([]map[string]int, len(pats))
		for p, pat := range pats {
			cols := map[string]int{}
			for key := range pat {
				if slices.Contains(m.VirtualColumns, key) {
					// The key is the operator's virtual column: Druid looks for an equivalent clustering virtual
					// column of the segment (VirtualColumns.findEquivalent), which needs the expressions compared.
					if len(cg.VirtualColumns) > 0 {
						return nil, fmt.Sprintf("pattern key %q is a virtual column of the matcher, and the segment clusters on virtual columns: their equivalence is Druid's expression comparison", key)
					}
					cols = nil
					break
				}
				idx := slices.IndexFunc(cg.Columns, func(c ClusterColumn) bool { return c.Name == key })
				if idx < 0 {
					cols = nil
					break
				}
				cols[key] = idx
			}
			out[p] = cols
		}
		return out, ""
	}
	incl, why := resolve(m.groupGlobs)
	if why != "" {
		return matchResult{undecided: why}
	}
	excl, why := resolve(m.groupExcludeGlobs)
	if why != "" {
		return matchResult{undecided: why}
	}
	if !slices.ContainsFunc(incl, func(c map[string]int) bool { return c != nil }) {
		return matchResult{} // no pattern resolves against the segment's clustering: the matcher is opaque to it
	}
	matchesAny := func(tuple []ClusterValue, pats []map[string]glob, cols []map[string]int) bool {
	next:
		for p, pat := range pats {
			if cols[p] == nil {
				continue
			}
			for key, g := range pat {
				if g.matchAny() {
					continue
				}
				v := tuple[cols[p][key]]
				if v.Null || !g.matches(v.Text) {
					continue next
				}
			}
			return true
		}
		return false
	}
	var picked []int
	for i, tuple := range cg.Tuples {
		if matchesAny(tuple, m.groupGlobs, incl) && !matchesAny(tuple, m.groupExcludeGlobs, excl) {
			picked = append(picked, i)
		}
	}
	if len(picked) == 0 {
		// An empty load only keeps a core partition announced, for the Broker's completeness check of its group.
		if l.PartitionNum >= l.CorePartitions {
			return matchResult{}
		}
		return matchResult{profile: profileEmptyCluster}
	}
	fp := fingerprint(func(h hashWriter) {
		var b [4]byte
		for _, i := range picked {
			binary.LittleEndian.PutUint32(b[:], uint32(i))
			h.Write(b[:])
		}
	})
	idx := make([]string, len(picked))
	for k, i := range picked {
		idx[k] = strconv.Itoa(i)
	}
	return matchResult{profile: &Profile{Type: "partialClusterGroup", Fingerprint: fp, Selection: "cluster groups " + strings.Join(idx, ", ")}}
}

// matchComposite is CompositePartialLoadMatcher.match: every member must apply (one that does not vetoes the
// whole), a single member is itself, and several fingerprint over their sorted (type, fingerprint) pairs.
func (m *Matcher) matchComposite(l *Layout) matchResult {
	var results []*Profile
	undecided := ""
	for _, member := range m.Members {
		r := member.match(l)
		switch {
		case r.undecided != "":
			undecided = r.undecided
		case r.profile == nil:
			return matchResult{} // a member that does not apply vetoes the composite, whatever the others say
		default:
			results = append(results, r.profile)
		}
	}
	if undecided != "" {
		return matchResult{undecided: undecided}
	}
	if len(results) == 1 {
		return matchResult{profile: results[0]}
	}
	allEmpty := true
	pairs := make([]string, len(results))
	sel := make([]string, len(results))
	for i, p := range results {
		allEmpty = allEmpty && p.Fingerprint == emptyLoadFingerprint
		pairs[i] = p.Type + "\x00" + p.Fingerprint
		sel[i] = p.Selection
	}
	fp := emptyLoadFingerprint
	if !allEmpty {
		slices.SortFunc(pairs, javaCompare)
		fp = fingerprint(func(h hashWriter) {
			for _, pair := range pairs {
				putUnencodedChars(h, pair)
				h.Write([]byte{0})
			}
		})
	}
	return matchResult{profile: &Profile{Type: "partialComposite", Fingerprint: fp, Selection: strings.Join(sel, "; ")}}
}

// Layout is what partial-load matchers read of a segment besides its interval.
type Layout struct {
	// Projections are the segment's projections; nil when it is not projection-aware (written before Druid 35).
	Projections *[]string
	// ClusterGroups are the segment's cluster groups; nil when it is not clustered.
	ClusterGroups *ClusterGroups
	// PartitionNum and CorePartitions come from its shard spec.
	PartitionNum, CorePartitions int
}

// ClusterGroups is a clustered segment's clusterGroups (ClusterGroupTuples): the clustering columns, and one tuple
// of their values per cluster group.
type ClusterGroups struct {
	Columns []ClusterColumn
	// Tuples hold each value as the matcher sees it: its Java toString after the column type's coercion.
	Tuples [][]ClusterValue
	// VirtualColumns are the output names of the segment's clustering virtual columns.
	VirtualColumns []string
	// Undecided says why the values cannot be rendered as Druid renders them ("" when they can).
	Undecided string
}

// ClusterColumn is one clustering column.
type ClusterColumn struct{ Name, Type string }

// ClusterValue is one value of a cluster group's tuple.
type ClusterValue struct {
	Null bool
	Text string
}

// LayoutOf reads a segment's layout: its projections, its shard spec's partition numbers and, when the segment
// has the clusterGroups member (which this module's DataSegment keeps as an unknown member), its cluster groups.
func LayoutOf(seg *segments.DataSegment) *Layout {
	l := &Layout{Projections: seg.Projections, PartitionNum: seg.ShardSpec.PartitionNum(), CorePartitions: seg.ShardSpec.NumCorePartitions()}
	if !slices.Contains(seg.UnknownFields(), "clusterGroups") {
		return l
	}
	js, err := seg.AppendJSON(nil)
	if err != nil {
		l.ClusterGroups = &ClusterGroups{Undecided: "its clusterGroups cannot be read: " + err.Error()}
		return l
	}
	var member struct {
		ClusterGroups json.RawMessage `json:"clusterGroups"`
	}
	if err := json.Unmarshal(js, &member); err != nil {
		l.ClusterGroups = &ClusterGroups{Undecided: "its clusterGroups cannot be read: " + err.Error()}
		return l
	}
	l.ClusterGroups = ParseClusterGroups(member.ClusterGroups)
	return l
}

// ParseClusterGroups reads a clusterGroups member; nil for JSON null. Values are coerced as ClusterGroupTuples
// does (STRING any value as its text, LONG, DOUBLE and FLOAT a number) and rendered as Java's toString renders the
// result; what Druid would refuse, or what this reader cannot render, makes the groups Undecided.
func ParseClusterGroups(raw json.RawMessage) *ClusterGroups {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var j struct {
		ClusteringColumns []struct {
			Name string  `json:"name"`
			Type *string `json:"type"`
		} `json:"clusteringColumns"`
		Tuples         [][]json.RawMessage `json:"tuples"`
		VirtualColumns []json.RawMessage   `json:"virtualColumns"`
	}
	cg := &ClusterGroups{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&j); err != nil {
		cg.Undecided = "its clusterGroups cannot be read: " + err.Error()
		return cg
	}
	if len(j.ClusteringColumns) == 0 {
		cg.Undecided = "its clusterGroups have no clustering columns"
		return cg
	}
	for _, c := range j.ClusteringColumns {
		if c.Type == nil {
			cg.Undecided = fmt.Sprintf("clustering column %q has no type", c.Name)
			return cg
		}
		cg.Columns = append(cg.Columns, ClusterColumn{Name: c.Name, Type: strings.ToUpper(*c.Type)})
	}
	for _, vc := range j.VirtualColumns {
		var named struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(vc, &named)
		cg.VirtualColumns = append(cg.VirtualColumns, named.Name)
	}
	for t, tuple := range j.Tuples {
		if len(tuple) != len(cg.Columns) {
			cg.Undecided = fmt.Sprintf("tuple %d has %d values for %d clustering columns", t, len(tuple), len(cg.Columns))
			return cg
		}
		vals := make([]ClusterValue, len(tuple))
		for i, v := range tuple {
			cv, err := clusterValue(cg.Columns[i].Type, v)
			if err != nil {
				cg.Undecided = fmt.Sprintf("tuple %d, column %q: %v", t, cg.Columns[i].Name, err)
				return cg
			}
			vals[i] = cv
		}
		cg.Tuples = append(cg.Tuples, vals)
	}
	return cg
}

// clusterValue coerces one JSON value as ClusterGroupTuples.coerceValue does, after Jackson's reading of it (an
// integer as Integer, Long or BigInteger, a number with a fraction or an exponent as Double), and renders it as
// toString does.
func clusterValue(typ string, raw json.RawMessage) (ClusterValue, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return ClusterValue{Null: true}, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return ClusterValue{}, err
	}
	num, isNum := v.(json.Number)
	integer := isNum && !strings.ContainsAny(string(num), ".eE")
	switch typ {
	case "STRING":
		switch x := v.(type) {
		case string:
			return ClusterValue{Text: x}, nil
		case bool:
			return ClusterValue{Text: strconv.FormatBool(x)}, nil
		case json.Number:
			if integer {
				n, _ := new(big.Int).SetString(string(x), 10)
				return ClusterValue{Text: n.String()}, nil
			}
			f, _ := strconv.ParseFloat(string(x), 64)
			return ClusterValue{Text: javaFloatString(f, 64)}, nil
		}
		return ClusterValue{}, fmt.Errorf("a %T renders as Java's collection text, which the audit does not reproduce", v)
	case "LONG", "DOUBLE", "FLOAT":
		if !isNum {
			return ClusterValue{}, fmt.Errorf("%s cannot be coerced to %s", raw, typ)
		}
	default:
		return ClusterValue{}, fmt.Errorf("unsupported clustering column type %s", typ)
	}
	var f float64
	var n int64
	if integer {
		b, _ := new(big.Int).SetString(string(num), 10)
		n = int64(b.Uint64()) // BigInteger.longValue: the low 64 bits
		if b.IsInt64() {
			n = b.Int64()
		}
		f, _ = new(big.Float).SetInt(b).Float64()
	} else {
		f, _ = strconv.ParseFloat(string(num), 64)
		n = javaLong(f)
	}
	switch typ {
	case "LONG":
		return ClusterValue{Text: strconv.FormatInt(n, 10)}, nil
	case "DOUBLE":
		return ClusterValue{Text: javaFloatString(f, 64)}, nil
	}
	if integer {
		b, _ := new(big.Int).SetString(string(num), 10)
		f32, _ := new(big.Float).SetInt(b).Float32()
		return ClusterValue{Text: javaFloatString(float64(f32), 32)}, nil
	}
	return ClusterValue{Text: javaFloatString(float64(float32(f)), 32)}, nil
}

// javaLong is Java's (long) of a double: toward zero, saturating, NaN to 0.
func javaLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// javaFloatString is Double.toString (bits 64) or Float.toString (bits 32) of Java 19 and later: the shortest
// decimal that reads back as the value (of one or two digits when one would do, the closer), plain between 10^-3
// and 10^7 with at least one fraction digit, else d.dddE±n.
func javaFloatString(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'e', -1, bits)
	if mant, _, _ := strings.Cut(strings.TrimPrefix(s, "-"), "e"); len(mant) == 1 {
		// One digit would do: Java takes the two-digit decimal closest to the value when it reads back as it too.
		two := strconv.FormatFloat(f, 'e', 1, bits)
		if m2, _, _ := strings.Cut(strings.TrimPrefix(two, "-"), "e"); m2[2] != '0' {
			if back, err := strconv.ParseFloat(two, bits); err == nil && back == f {
				s = two
			}
		}
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if abs := math.Abs(f); abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			for len(digits) < exp+1 {
				digits += "0"
			}
			frac := digits[exp+1:]
			if frac == "" {
				frac = "0"
			}
			out = digits[:exp+1] + "." + frac
		} else {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		}
	} else {
		frac := digits[1:]
		if frac == "" {
			frac = "0"
		}
		out = digits[:1] + "." + frac + "E" + strconv.Itoa(exp)
	}
	if neg {
		return "-" + out
	}
	return out
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

// HasPartial reports whether any rule the Coordinator runs for a dataSource is a partial-load rule, whose decision
// takes the segment's layout (EvaluateLayout) and not only its interval.
func (rs *RuleSet) HasPartial(dataSource string) bool {
	for _, ref := range rs.RulesFor(dataSource) {
		if ref.Rule.IsPartial() {
			return true
		}
	}
	return false
}

// Decision is what the Coordinator's rules say about one segment.
type Decision struct {
	Action Action
	// Replicas is the expected replica count per tier, for ActionLoad; shared with the rule, do not modify. Tiers are
	// as the rule names them: ExpandTiers resolves the Coordinator's tier aliases.
	Replicas map[string]int
	// Matched is the rule that decided, zero (Rule nil) for ActionNone.
	Matched RuleRef
	// Profile is, for a partial-load rule that sends its loads wrapped, what they ask the servers to keep resident:
	// only replicas announcing its fingerprint count toward Replicas. nil for a plain load (every other load rule,
	// and a partial-load rule with onCannotMatch loadOnDemand whose matcher does not apply).
	Profile *Profile
	// Undecided says why what a partial-load rule asks of the segment cannot be told from what was read ("" when it
	// can): Action and Replicas are then the rule's, and Profile is nil. When the rule falls through on a segment its
	// matcher does not apply to, whether it applies at all is undecided, and the later rules were not tried.
	Undecided string
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

// Evaluate decides for one segment from its interval alone: right for every rule but the partial-load ones, whose
// decision is then Undecided (EvaluateLayout takes what they read).
func (ev *Evaluator) Evaluate(dataSource string, iv segments.Interval) Decision {
	return ev.EvaluateLayout(dataSource, iv, nil)
}

// EvaluateLayout decides for one segment as RunRules does: the first of RulesFor(dataSource) that applies to the
// segment wins. A partial-load rule applies when its time window does and its matcher applies to the segment, or
// when it does not and onCannotMatch is not fallThrough (PartialLoadRule.appliesTo); what the load then asks is
// PartialLoadRule.run's. layout is the segment's (nil when not read).
func (ev *Evaluator) EvaluateLayout(dataSource string, iv segments.Interval, layout *Layout) Decision {
	try := func(ds string) (Decision, bool) {
		rules := ev.rules.ByDataSource[ds]
		for i := range rules {
			r := &rules[i]
			if !r.appliesTo(iv, ev.now, ev.from[r]) {
				continue
			}
			d := Decision{Action: r.Action(), Matched: RuleRef{DataSource: ds, Index: i, Rule: r}}
			if d.Action == ActionLoad {
				d.Replicas = r.TieredReplicants
			}
			if r.Matcher == nil {
				return d, true
			}
			if layout == nil {
				d.Undecided = "the segment's projections and cluster groups were not read"
				return d, true
			}
			res := r.Matcher.match(layout)
			switch {
			case res.undecided != "":
				d.Undecided = res.undecided
			case res.profile != nil:
				d.Profile = res.profile
			case r.OnCannotMatch == CannotMatchFallThrough:
				continue
			case r.OnCannotMatch == CannotMatchBaseLoad:
				d.Profile = profileBaseTable
			case r.OnCannotMatch == CannotMatchFullLoad:
				d.Profile = profileFullSegment
			}
			return d, true
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

// EvaluateSegment is EvaluateLayout for a segment.
func (ev *Evaluator) EvaluateSegment(seg *segments.DataSegment) Decision {
	var layout *Layout
	if ev.rules.HasPartial(seg.DataSource) {
		layout = LayoutOf(seg)
	}
	return ev.EvaluateLayout(seg.DataSource, seg.Interval, layout)
}

// LoadRules reads the rules table as the Coordinator's SQLMetadataRuleManager polls it: for each dataSource, the
// row with the greatest version. defaultDataSource is druid.manager.rules.defaultRule ("" means "_default").
// When the rules of some dataSources do not parse, the RuleSet holds the others and the error names each failure,
// with its dataSource and version. Druid's poll fails as a whole on such a row and the Coordinator keeps the rules
// of its previous poll, which no reader of the table can know: a caller deciding as the Coordinator does must
// treat the error as fatal.
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

// DynamicConfigKey is the config table's row of the Coordinator's dynamic configuration
// (CoordinatorDynamicConfig.CONFIG_KEY), which GET /druid/coordinator/v1/config serves.
const DynamicConfigKey = "coordinator.config"

// DynamicConfig is what the audit reads of the Coordinator's dynamic configuration: the settings that change which
// servers count as replicas and on which tiers a rule's replicas go.
type DynamicConfig struct {
	// HistoricalTierAliases maps a virtual tier a rule may name to the real tiers it stands for (Druid 38+).
	HistoricalTierAliases map[string][]string `json:"historicalTierAliases"`
	// CloneServers maps a clone Historical (host:port) to the Historical it copies (Druid 33+). Clones are not
	// managed: the Coordinator counts no replica on them and loads on them only what their source has.
	CloneServers map[string]string `json:"cloneServers"`
	// DecommissioningNodes are servers (host:port) being emptied: the Coordinator moves their segments away, and
	// broadcast rules no longer expect segments on them.
	DecommissioningNodes []string `json:"decommissioningNodes"`
}

// ParseDynamicConfig reads the dynamic configuration's JSON; members the audit does not use are ignored, as Druid's
// mapper ignores unknown ones. JSON null is the defaults.
func ParseDynamicConfig(payload []byte) (*DynamicConfig, error) {
	dc := &DynamicConfig{}
	if isNull(payload) {
		return dc, nil
	}
	if err := json.Unmarshal(payload, dc); err != nil {
		return nil, fmt.Errorf("the Coordinator's dynamic configuration is not a JSON object of its settings: %w", err)
	}
	return dc, nil
}

// ExpandTiers resolves tier aliases in a rule's tier → replicas map as StrategicSegmentAssigner.expandWithAliases
// does: an alias is replaced by each of its real tiers with the same count (it asks for that many on each), the
// alias itself is not kept, and a count the rule gives a real tier explicitly wins over the alias's. The map is
// returned as it is when no alias applies.
func (dc *DynamicConfig) ExpandTiers(replicas map[string]int) map[string]int {
	if dc == nil || len(dc.HistoricalTierAliases) == 0 {
		return replicas
	}
	aliased := false
	for tier := range replicas {
		if _, ok := dc.HistoricalTierAliases[tier]; ok {
			aliased = true
		}
	}
	if !aliased {
		return replicas
	}
	out := make(map[string]int, len(replicas))
	for tier, n := range replicas {
		if _, ok := dc.HistoricalTierAliases[tier]; !ok {
			out[tier] = n
		}
	}
	for tier, n := range replicas {
		for _, real := range dc.HistoricalTierAliases[tier] {
			if _, explicit := out[real]; !explicit {
				out[real] = n
			}
		}
	}
	return out
}

// AliasOf returns the alias a real tier belongs to ("" for none), for reports; with several, the first by name.
func (dc *DynamicConfig) AliasOf(tier string) string {
	if dc == nil {
		return ""
	}
	var names []string
	for alias, tiers := range dc.HistoricalTierAliases {
		if slices.Contains(tiers, tier) {
			names = append(names, alias)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[0]
}

// LoadDynamicConfig reads the Coordinator's dynamic configuration from the config table, as the Coordinator's
// JacksonConfigManager does. found is false when the table has no such row (or the table does not exist), and the
// defaults (no alias, no clone, no decommissioning server) are returned.
func (s *Store) LoadDynamicConfig(ctx context.Context) (dc *DynamicConfig, found bool, err error) {
	if err := s.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer s.release()
	t := s.tables.Config()
	if _, err := s.conn.tableColumns(ctx, t); err != nil {
		if errors.Is(err, errNoTable) {
			// Druid creates the table when a Coordinator or Overlord first starts.
			return &DynamicConfig{}, false, nil
		}
		return nil, false, s.wrap("looking for the config table "+t, err)
	}
	var payload []byte
	err = s.conn.QueryRow(ctx, "SELECT payload FROM "+t+" WHERE name = $1", DynamicConfigKey).Scan(&payload)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &DynamicConfig{}, false, nil
	case err != nil:
		return nil, false, s.wrap("reading "+DynamicConfigKey+" from the config table "+t, err)
	}
	dc, err = ParseDynamicConfig(payload)
	if err != nil {
		return nil, true, s.wrap("reading "+DynamicConfigKey+" from the config table "+t, err)
	}
	return dc, true, nil
}
