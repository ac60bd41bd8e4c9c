package audit

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// evalState is what one record's evaluation found, for the summary and the availability buckets.
type evalState struct {
	expected, available, full bool
}

// cluster is the shape of the server set the evaluation compares against.
type cluster struct {
	tierServers     []int // managed replication-target servers per tier, reachable or not
	tierUnreachable []int // unreachable managed replication-target servers per tier
	// bcastAll and bcastUnreachable count the servers broadcast rules expect segments on: every managed server (all
	// data server types are broadcast targets), decommissioning ones aside, as StrategicSegmentAssigner does.
	bcastAll, bcastUnreachable int
}

func (r *run) clusterShape() cluster {
	c := cluster{tierServers: make([]int, len(r.tiers)), tierUnreachable: make([]int, len(r.tiers))}
	for _, s := range r.servers {
		if !s.clone && !s.decommissioning {
			c.bcastAll++
			if !s.reachable {
				c.bcastUnreachable++
			}
		}
		if s.replicas {
			c.tierServers[s.tier]++
			if !s.reachable {
				c.tierUnreachable[s.tier]++
			}
		}
	}
	return c
}

// evaluate decides, for every used segment, what its rules expect and how that compares with what is served, and
// reports the served segments the metadata store does not know or marks unused.
func (r *run) evaluate() {
	shape := r.clusterShape()
	groups := r.byDataSource()
	summaries := make([]DataSourceSummary, len(r.dsNames))
	for d, idxs := range groups {
		r.progress("evaluation", int64(d), int64(len(groups)))
		name := r.dsNames[d]
		sum := &summaries[d]
		sum.DataSource = name
		var states []bucketEntry
		for _, i := range idxs {
			st := r.evalRecord(shape, name, i, sum)
			if st.expected {
				rec := &r.recs[i]
				states = append(states, bucketEntry{iv: rec.iv, size: rec.size, state: st})
			}
		}
		sum.Granularity, sum.Availability = buckets(states)
	}
	r.progress("evaluation", int64(len(groups)), int64(len(groups)))
	r.reportExtras()
	r.warnUndecided()

	// Summaries for every dataSource with a finding (orphans and unknown segments name dataSources the segments
	// table may not have), sorted by name.
	byName := map[string]*DataSourceSummary{}
	for i := range summaries {
		byName[summaries[i].DataSource] = &summaries[i]
	}
	for ds := range r.findings.byDS {
		if ds != "" && byName[ds] == nil {
			summaries = append(summaries, DataSourceSummary{DataSource: ds, Granularity: granularityDay.name})
			byName[ds] = &summaries[len(summaries)-1]
		}
	}
	for i := range summaries {
		s := &summaries[i]
		s.FindingsByKind = map[Kind]int{}
		for k, n := range r.findings.byDS[s.DataSource] {
			s.FindingsByKind[k] = n
		}
		if s.Availability == nil {
			s.Availability = []IntervalBucket{}
		}
	}
	sort.Slice(summaries, func(i, j int) bool { return summaries[i].DataSource < summaries[j].DataSource })
	r.report.DataSources = summaries
}

// warnUndecided says, per dataSource and reason, how many segments' partial-load decision the audit could not tell.
func (r *run) warnUndecided() {
	keys := make([][2]string, 0, len(r.undecided))
	for k := range r.undecided {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for n, k := range keys {
		if n == 20 {
			r.warn("%d more reasons why partial-load rules could not be decided", len(keys)-n)
			break
		}
		r.warn("%d used segments of dataSource %q: what their partial-load rule asks cannot be told (%s); every replica of them was counted, whatever its fingerprint",
			r.undecided[k], k[0], k[1])
	}
}

func ruleName(d metadata.Decision) string {
	if d.Matched.Rule == nil {
		return "no rule"
	}
	return fmt.Sprintf("rule %d of %s (%s)", d.Matched.Index, d.Matched.DataSource, d.Matched.Rule.Type)
}

// decisionOf is the decision for record i: taken from its layout when its row was read, for the dataSources that
// run partial-load rules, else from its interval.
func (r *run) decisionOf(name string, i int32) metadata.Decision {
	if d, ok := r.decided[i]; ok {
		return d
	}
	return r.ev.Evaluate(name, r.recs[i].iv)
}

// expand resolves the Coordinator's tier aliases in a load decision's replicas, once per rule.
func (r *run) expand(d metadata.Decision) map[string]int {
	if d.Matched.Rule == nil {
		return d.Replicas
	}
	if m, ok := r.expanded[d.Matched.Rule]; ok {
		return m
	}
	m := r.dyn.ExpandTiers(d.Replicas)
	r.expanded[d.Matched.Rule] = m
	return m
}

// evalRecord evaluates one used segment.
func (r *run) evalRecord(shape cluster, name string, i int32, sum *DataSourceSummary) evalState {
	rec := &r.recs[i]
	sum.UsedSegments++
	sum.UsedBytes += rec.size
	var idStr string
	id := func() string {
		if idStr == "" {
			idStr = rec.id(name).String()
		}
		return idStr
	}
	base := func(k Kind) Finding {
		return Finding{Kind: k, DataSource: name, SegmentID: id(), Interval: rec.iv.String(), Bytes: rec.size}
	}
	allServers := func(f *Finding) { f.Servers = r.serversOf(i, -1) }

	if rec.flags&flagInScope != 0 && rec.flags&flagFound == 0 {
		f := base(KindMissingInDeepStorage)
		f.Object = r.objectOf(i)
		f.ActualReplicas = int(r.served[i])
		f.Detail = "the segment is used, and its object is not in deep storage: no server can load it again"
		if r.served[i] > 0 {
			f.Detail += "; the servers that hold it now are its only copies"
		}
		r.add(f, rec.iv.Start, allServers)
	}
	if rec.flags&flagOvershadowed != 0 {
		sum.OvershadowedSegments++
		// Until the newer versions are served, Brokers' timeline still shows this one and the Coordinator keeps it
		// used: it is the data queries get, not a finding.
		if r.served[i] > 0 && rec.flags&flagBrokerShadowed != 0 {
			f := base(KindOvershadowedServed)
			f.ActualReplicas = int(r.served[i])
			f.Detail = "newer versions overshadow the segment completely, and they are served: Brokers no longer query it, and the Coordinator marks it unused and drops it"
			r.add(f, rec.iv.Start, allServers)
		}
		return evalState{}
	}
	dec := r.decisionOf(name, i)
	if dec.Undecided != "" {
		sum.UndecidedSegments++
		r.undecided[[2]string{name, dec.Undecided}]++
	}
	switch dec.Action {
	case metadata.ActionNone:
		sum.NoRuleSegments++
		return evalState{}
	case metadata.ActionDrop:
		sum.DroppedSegments++
		r.overReplicated(i, rec, base, nil, nil, fmt.Sprintf("%s drops the segment; the Coordinator marks it unused and its servers drop it", ruleName(dec)), sum)
		return evalState{}
	case metadata.ActionBroadcast:
		return r.evalBroadcast(i, rec, base, shape, dec, sum)
	}
	return r.evalLoad(i, rec, base, shape, dec, sum)
}

// staleOn returns the stale replicas of record i on tier ti (see run.stale).
func (r *run) staleOn(i int32, ti int) int {
	return int(r.stale[int64(i)*int64(len(r.tiers))+int64(ti)])
}

// wantedLoad describes what a load decision asks of each replica, for details: "" for a plain load.
func wantedLoad(dec metadata.Decision) string {
	if dec.Profile == nil {
		return ""
	}
	return fmt.Sprintf(" loaded with fingerprint %s (%s: %s)", dec.Profile.Fingerprint, dec.Profile.Type, dec.Profile.Selection)
}

// tierName names a tier for details, with the alias a rule may have named it by.
func (r *run) tierName(t string) string {
	if a := r.dyn.AliasOf(t); a != "" {
		return fmt.Sprintf("%s (alias %s)", t, a)
	}
	return t
}

// evalLoad compares a load rule's replicas per tier (its aliases resolved) with the managed replication targets
// serving the segment, as the Coordinator counts them.
func (r *run) evalLoad(i int32, rec *record, base func(Kind) Finding, shape cluster, dec metadata.Decision, sum *DataSourceSummary) evalState {
	want := r.expand(dec)
	tiers := make([]string, 0, len(want))
	total := 0
	for t, n := range want {
		if n > 0 {
			tiers = append(tiers, t)
			total += n
		}
	}
	slices.Sort(tiers)
	if total == 0 {
		// A load rule asking for no replica anywhere: nothing is expected, and any replica is one too many.
		r.overReplicated(i, rec, base, want, dec.Profile, ruleName(dec)+" asks for no replica", sum)
		return evalState{}
	}
	sum.ExpectedSegments++
	if dec.Profile != nil {
		sum.PartialLoadSegments++
	}
	T := len(r.tiers)
	actual := func(t string) (act, stale, servers, unreachable int) {
		ti, ok := r.tierIndex[t]
		if !ok {
			return 0, 0, 0, 0
		}
		return int(r.counts[int(i)*T+ti]), r.staleOn(i, ti), shape.tierServers[ti], shape.tierUnreachable[ti]
	}
	managed := false
	for ti := range r.tiers {
		if r.counts[int(i)*T+ti] > 0 || r.staleOn(i, ti) > 0 {
			managed = true
			break
		}
	}
	recent := rec.flags&flagRecent != 0
	st := evalState{expected: true, available: managed, full: managed}
	if !managed {
		st.full = false
		couldBeHeld := false
		for _, t := range tiers {
			if _, _, _, u := actual(t); u > 0 {
				couldBeHeld = true
			}
		}
		switch {
		case r.nonHist[i] > 0:
			// Druid counts task and Broker replicas toward availability (SegmentReplicaCount.totalLoaded), and
			// Brokers query them: the segment is available, but not yet handed off to Historicals.
			st.available = true
			sum.AvailableSegments++
			sum.TaskServedSegments++
			if !recent && !couldBeHeld {
				f := base(KindServedOnlyByTask)
				f.ExpectedReplicas, f.ActualReplicas = total, int(r.nonHist[i])
				f.Detail = fmt.Sprintf("%s expects it on %s, and only ingestion tasks or Brokers serve it: queries see it, but it has not been handed off to Historicals, and it is gone from queries when they stop",
					ruleName(dec), r.wantedTiers(tiers, want))
				r.add(f, rec.iv.Start, func(f *Finding) {
					f.Servers = r.serversWhere(i, func(s *server) bool { return !s.replicas && !s.clone })
				})
			}
		case couldBeHeld:
			sum.UnverifiedSegments++
		case recent:
			sum.LoadingSegments++
		default:
			sum.UnavailableSegments++
			f := base(KindUnavailable)
			f.ExpectedReplicas = total
			f.Detail = fmt.Sprintf("%s expects it on %s%s, and no reachable server serves it", ruleName(dec), r.wantedTiers(tiers, want), wantedLoad(dec))
			f.Detail += r.cloneNote(i) + olderNote(rec)
			r.add(f, rec.iv.Start, func(f *Finding) {
				f.Servers = r.serversWhere(i, func(s *server) bool { return s.clone })
			})
		}
		r.overReplicated(i, rec, base, want, dec.Profile, ruleName(dec), sum)
		return st
	}
	sum.AvailableSegments++
	under, unverified, loading, staleSeen := false, false, false, false
	for _, t := range tiers {
		exp := want[t]
		act, stale, servers, unreachable := actual(t)
		ti := r.tierIndex[t]
		if stale > 0 {
			staleSeen = true
			r.staleReplica(i, rec, base, dec, t, ti, exp, act, stale)
		}
		// A stale replica under a partial load is not counted, but it is not missing either: it is reported as
		// stale, and only the replicas missing altogether make the tier under-replicated.
		held := act
		if dec.Profile != nil {
			held += stale
		}
		if act >= exp {
			continue
		}
		switch {
		case held >= exp:
			continue
		case held+unreachable >= exp:
			unverified = true
		case recent:
			loading = true
		default:
			under = true
			f := base(KindUnderReplicated)
			f.Tier, f.ExpectedReplicas, f.ActualReplicas = t, exp, act
			f.Detail = fmt.Sprintf("%s expects %d replicas on tier %s%s; %d of its %d servers serve it", ruleName(dec), exp, r.tierName(t), wantedLoad(dec), act, servers)
			if stale > 0 && dec.Profile != nil {
				f.Detail += fmt.Sprintf(" so, and %d more with another fingerprint or none (reported as stale_replica)", stale)
			}
			if servers < exp {
				f.Detail += fmt.Sprintf(" (the tier has fewer servers than replicas: add %d)", exp-servers)
			}
			if unreachable > 0 {
				f.Detail += fmt.Sprintf("; %d of them are unreachable", unreachable)
			}
			f.Detail += r.cloneNote(i)
			r.add(f, rec.iv.Start, func(f *Finding) { f.Servers = r.serversOfTier(i, t, ti) })
		}
	}
	switch {
	case under:
		sum.UnderReplicatedSegments++
	case unverified:
		sum.UnverifiedSegments++
	case loading:
		sum.LoadingSegments++
	}
	if staleSeen {
		sum.StaleReplicaSegments++
	}
	for _, t := range tiers {
		if act, _, _, _ := actual(t); act < want[t] {
			st.full = false
		}
	}
	r.overReplicated(i, rec, base, want, dec.Profile, ruleName(dec), sum)
	return st
}

// wantedTiers lists a load rule's tiers with their counts: "hot: 1, cold: 2".
func (r *run) wantedTiers(tiers []string, want map[string]int) string {
	parts := make([]string, len(tiers))
	for k, t := range tiers {
		parts[k] = fmt.Sprintf("%s: %d", r.tierName(t), want[t])
	}
	return strings.Join(parts, ", ")
}

// cloneNote says which clones serve record i, which the Coordinator does not count; "" when none does.
func (r *run) cloneNote(i int32) string {
	var clones []string
	for _, s := range r.servers {
		if s.clone && s.reachable {
			if _, ok := slices.BinarySearch(s.recs, i); ok {
				clones = append(clones, s.rep.Name+" (a clone of "+s.rep.CloneOf+")")
			}
		}
	}
	if len(clones) == 0 {
		return ""
	}
	return "; " + strings.Join(clones, ", ") + " also serves it, which the Coordinator counts as no replica, and Brokers query only when a query's cloneQueryMode asks for clones"
}

// olderNote says that Brokers answer from an older version still served, when they do.
func olderNote(rec *record) string {
	if rec.flags&flagOlderServed == 0 {
		return ""
	}
	return "; an older version of its interval is still served, and Brokers answer from it: the Coordinator keeps it until this one is loaded"
}

// staleReplica reports the replicas of record i on tier t announced with a fingerprint its rule does not ask for.
func (r *run) staleReplica(i int32, rec *record, base func(Kind) Finding, dec metadata.Decision, t string, ti, exp, act, stale int) {
	f := base(KindStaleReplica)
	f.Tier, f.ExpectedReplicas, f.ActualReplicas = t, exp, act
	want := ""
	if dec.Profile != nil {
		want = dec.Profile.Fingerprint
		f.Detail = fmt.Sprintf("%s asks tier %s for %d replicas%s; %d of its servers serve it with another fingerprint or none, which the Coordinator does not count toward the rule: it reloads them in place (they serve queries meanwhile), and drops what is extra once enough matching replicas are loaded",
			ruleName(dec), r.tierName(t), exp, wantedLoad(dec), stale)
	} else {
		f.Detail = fmt.Sprintf("%s asks for plain loads, and %d servers of tier %s serve it with the fingerprint of a partial load: the Coordinator counts them, and reloads them in place to release the partial load",
			ruleName(dec), stale, r.tierName(t))
	}
	r.add(f, rec.iv.Start, func(f *Finding) {
		f.Servers = r.serversWhere(i, func(s *server) bool { return s.replicas && s.tier == ti && s.fpOf(i) != want })
	})
}

// serversOfTier is serversOf for a tier that may have no server.
func (r *run) serversOfTier(i int32, name string, ti int) []string {
	if _, ok := r.tierIndex[name]; !ok {
		return nil
	}
	return r.serversOf(i, ti)
}

// overReplicated reports every tier whose managed replication targets hold more replicas than want gives it (0
// for a tier want does not name, or a nil want). Under a partial load (profile set) the replicas counted are the
// matching ones; on a tier the rule wants nothing of, stale ones are extra too.
func (r *run) overReplicated(i int32, rec *record, base func(Kind) Finding, want map[string]int, profile *metadata.Profile, why string, sum *DataSourceSummary) {
	T := len(r.tiers)
	over := false
	for ti, t := range r.tiers {
		act := int(r.counts[int(i)*T+ti])
		exp := want[t]
		if exp == 0 && profile != nil {
			act += r.staleOn(i, ti)
		}
		if act <= exp {
			continue
		}
		over = true
		f := base(KindOverReplicated)
		f.Tier, f.ExpectedReplicas, f.ActualReplicas = t, exp, act
		f.Detail = fmt.Sprintf("%d servers of tier %s serve it, %d expected (%s)", act, r.tierName(t), exp, why)
		r.add(f, rec.iv.Start, func(f *Finding) { f.Servers = r.serversOf(i, ti) })
	}
	if over {
		sum.OverReplicatedSegments++
	}
}

// evalBroadcast compares a broadcast rule (every managed data server but the decommissioning ones should hold the
// segment) with the servers of any type serving it.
func (r *run) evalBroadcast(i int32, rec *record, base func(Kind) Finding, shape cluster, dec metadata.Decision, sum *DataSourceSummary) evalState {
	sum.ExpectedSegments++
	act := int(r.bcast[i])
	exp := shape.bcastAll
	recent := rec.flags&flagRecent != 0
	available := act > 0 || r.queryable(i)
	st := evalState{expected: true, available: available}
	switch {
	case act >= exp:
		st.full = true
	case act+shape.bcastUnreachable >= exp:
		sum.UnverifiedSegments++
	case recent:
		sum.LoadingSegments++
	case !available:
		sum.UnavailableSegments++
		f := base(KindUnavailable)
		f.ExpectedReplicas = exp
		f.Detail = fmt.Sprintf("%s broadcasts it to every data server, and no reachable server serves it", ruleName(dec)) + r.cloneNote(i)
		r.add(f, rec.iv.Start, func(f *Finding) {
			f.Servers = r.serversWhere(i, func(s *server) bool { return s.clone })
		})
	default:
		sum.UnderReplicatedSegments++
		f := base(KindUnderReplicated)
		f.ExpectedReplicas, f.ActualReplicas = exp, act
		f.Detail = fmt.Sprintf("%s broadcasts it to every data server (decommissioning ones and clones aside); %d of %d serve it", ruleName(dec), act, exp)
		r.add(f, rec.iv.Start, func(f *Finding) {
			f.Servers = r.serversWhere(i, func(s *server) bool { return !s.clone && !s.decommissioning })
		})
	}
	if available {
		sum.AvailableSegments++
	}
	return st
}

// reportExtras reports the served segments no used row describes: unused ones and unknown ones.
func (r *run) reportExtras() {
	ids := make([]segments.SegmentID, 0, len(r.extras))
	for id := range r.extras {
		ids = append(ids, id)
	}
	for _, id := range ids {
		e := r.extras[id]
		kind, detail := KindUnknownServed, "no row of the segments table, used or unused, has this segment: it was deleted from the metadata store, or comes from another cluster"
		if _, ok := r.unused[r.hashID(id)]; ok {
			kind, detail = KindUnusedServed, "the segments table marks the segment unused: the Coordinator should have told its servers to drop it, and Brokers may still return its data"
		}
		f := Finding{Kind: kind, DataSource: id.DataSource, SegmentID: id.String(), Interval: id.Interval.String(),
			ActualReplicas: len(e.servers), Bytes: e.size, Detail: detail}
		r.add(f, id.Interval.Start, func(f *Finding) {
			for _, si := range e.servers {
				f.Servers = append(f.Servers, r.servers[si].rep.Name)
			}
			slices.Sort(f.Servers)
		})
	}
}
