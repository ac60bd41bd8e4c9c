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
	tierServers      []int // replication-target servers per tier, reachable or not
	tierUnreachable  []int // unreachable replication-target servers per tier
	all, unreachable int   // every data server (broadcast targets), and the unreachable ones
}

func (r *run) clusterShape() cluster {
	c := cluster{tierServers: make([]int, len(r.tiers)), tierUnreachable: make([]int, len(r.tiers))}
	for _, s := range r.servers {
		c.all++
		if !s.reachable {
			c.unreachable++
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
func (r *run) evaluate(ev *metadata.Evaluator) {
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
			st := r.evalRecord(ev, shape, name, i, sum)
			if st.expected {
				rec := &r.recs[i]
				states = append(states, bucketEntry{iv: rec.iv, size: rec.size, state: st})
			}
		}
		sum.Granularity, sum.Availability = buckets(states)
	}
	r.progress("evaluation", int64(len(groups)), int64(len(groups)))
	r.reportExtras()

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

func ruleName(d metadata.Decision) string {
	if d.Matched.Rule == nil {
		return "no rule"
	}
	return fmt.Sprintf("rule %d of %s (%s)", d.Matched.Index, d.Matched.DataSource, d.Matched.Rule.Type)
}

// evalRecord evaluates one used segment.
func (r *run) evalRecord(ev *metadata.Evaluator, shape cluster, name string, i int32, sum *DataSourceSummary) evalState {
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
		if r.served[i] > 0 {
			f := base(KindOvershadowedServed)
			f.ActualReplicas = int(r.served[i])
			f.Detail = "newer versions overshadow the segment completely; Brokers never query it, and the Coordinator drops it once it marks it unused"
			r.add(f, rec.iv.Start, allServers)
		}
		return evalState{}
	}
	dec := ev.Evaluate(name, rec.iv)
	switch dec.Action {
	case metadata.ActionNone:
		sum.NoRuleSegments++
		return evalState{}
	case metadata.ActionDrop:
		sum.DroppedSegments++
		r.overReplicated(i, rec, base, nil, fmt.Sprintf("%s drops the segment; the Coordinator marks it unused and its servers drop it", ruleName(dec)), sum)
		return evalState{}
	case metadata.ActionBroadcast:
		return r.evalBroadcast(i, rec, base, shape, dec, sum)
	}
	return r.evalLoad(i, rec, base, shape, dec, sum)
}

// evalLoad compares a load rule's replicas per tier with the replication-target servers serving the segment.
func (r *run) evalLoad(i int32, rec *record, base func(Kind) Finding, shape cluster, dec metadata.Decision, sum *DataSourceSummary) evalState {
	tiers := make([]string, 0, len(dec.Replicas))
	total := 0
	for t, n := range dec.Replicas {
		if n > 0 {
			tiers = append(tiers, t)
			total += n
		}
	}
	slices.Sort(tiers)
	if total == 0 {
		// A load rule asking for no replica anywhere: nothing is expected, and any replica is one too many.
		r.overReplicated(i, rec, base, dec.Replicas, ruleName(dec)+" asks for no replica", sum)
		return evalState{}
	}
	sum.ExpectedSegments++
	T := len(r.tiers)
	actual := func(t string) (act, servers, unreachable int) {
		ti, ok := r.tierIndex[t]
		if !ok {
			return 0, 0, 0
		}
		return int(r.counts[int(i)*T+ti]), shape.tierServers[ti], shape.tierUnreachable[ti]
	}
	available := false
	for ti := range r.tiers {
		if r.counts[int(i)*T+ti] > 0 {
			available = true
			break
		}
	}
	recent := rec.flags&flagRecent != 0
	st := evalState{expected: true, available: available, full: available}
	if !available {
		st.full = false
		couldBeHeld := false
		for _, t := range tiers {
			if _, _, u := actual(t); u > 0 {
				couldBeHeld = true
			}
		}
		switch {
		case couldBeHeld:
			sum.UnverifiedSegments++
		case recent:
			sum.LoadingSegments++
		default:
			sum.UnavailableSegments++
			f := base(KindUnavailable)
			f.ExpectedReplicas = total
			var want []string
			for _, t := range tiers {
				want = append(want, fmt.Sprintf("%s: %d", t, dec.Replicas[t]))
			}
			f.Detail = fmt.Sprintf("%s expects it on %s, and no reachable server serves it", ruleName(dec), strings.Join(want, ", "))
			r.add(f, rec.iv.Start, nil)
		}
		r.overReplicated(i, rec, base, dec.Replicas, ruleName(dec), sum)
		return st
	}
	sum.AvailableSegments++
	under, unverified, loading := false, false, false
	for _, t := range tiers {
		exp := dec.Replicas[t]
		act, servers, unreachable := actual(t)
		if act >= exp {
			continue
		}
		switch {
		case act+unreachable >= exp:
			unverified = true
		case recent:
			loading = true
		default:
			under = true
			f := base(KindUnderReplicated)
			f.Tier, f.ExpectedReplicas, f.ActualReplicas = t, exp, act
			f.Detail = fmt.Sprintf("%s expects %d replicas on tier %s; %d of its %d servers serve it", ruleName(dec), exp, t, act, servers)
			if servers < exp {
				f.Detail += fmt.Sprintf(" (the tier has fewer servers than replicas: add %d)", exp-servers)
			}
			if unreachable > 0 {
				f.Detail += fmt.Sprintf("; %d of them are unreachable", unreachable)
			}
			ti := r.tierIndex[t]
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
	st.full = !under && !unverified && !loading
	r.overReplicated(i, rec, base, dec.Replicas, ruleName(dec), sum)
	return st
}

// serversOfTier is serversOf for a tier that may have no server.
func (r *run) serversOfTier(i int32, name string, ti int) []string {
	if _, ok := r.tierIndex[name]; !ok {
		return nil
	}
	return r.serversOf(i, ti)
}

// overReplicated reports every tier whose replication-target servers hold more replicas than want gives it (0
// for a tier want does not name, or a nil want).
func (r *run) overReplicated(i int32, rec *record, base func(Kind) Finding, want map[string]int, why string, sum *DataSourceSummary) {
	T := len(r.tiers)
	over := false
	for ti, t := range r.tiers {
		act := int(r.counts[int(i)*T+ti])
		exp := want[t]
		if act <= exp {
			continue
		}
		over = true
		f := base(KindOverReplicated)
		f.Tier, f.ExpectedReplicas, f.ActualReplicas = t, exp, act
		f.Detail = fmt.Sprintf("%d servers of tier %s serve it, %d expected (%s)", act, t, exp, why)
		r.add(f, rec.iv.Start, func(f *Finding) { f.Servers = r.serversOf(i, ti) })
	}
	if over {
		sum.OverReplicatedSegments++
	}
}

// evalBroadcast compares a broadcast rule (every data server should hold the segment) with the servers of any type
// serving it.
func (r *run) evalBroadcast(i int32, rec *record, base func(Kind) Finding, shape cluster, dec metadata.Decision, sum *DataSourceSummary) evalState {
	sum.ExpectedSegments++
	act := int(r.served[i])
	exp := shape.all
	recent := rec.flags&flagRecent != 0
	st := evalState{expected: true, available: act > 0}
	switch {
	case act >= exp:
		st.full = true
	case act+shape.unreachable >= exp:
		sum.UnverifiedSegments++
	case recent:
		sum.LoadingSegments++
	case act == 0:
		sum.UnavailableSegments++
		f := base(KindUnavailable)
		f.ExpectedReplicas = exp
		f.Detail = fmt.Sprintf("%s broadcasts it to every data server, and no reachable server serves it", ruleName(dec))
		r.add(f, rec.iv.Start, nil)
	default:
		sum.UnderReplicatedSegments++
		f := base(KindUnderReplicated)
		f.ExpectedReplicas, f.ActualReplicas = exp, act
		f.Detail = fmt.Sprintf("%s broadcasts it to every data server; %d of %d serve it", ruleName(dec), act, exp)
		r.add(f, rec.iv.Start, func(f *Finding) { f.Servers = r.serversOf(i, -1) })
	}
	if act > 0 {
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
	var buf []byte
	for _, id := range ids {
		e := r.extras[id]
		kind, detail := KindUnknownServed, "no row of the segments table, used or unused, has this segment: it was deleted from the metadata store, or comes from another cluster"
		if _, ok := r.unused[r.hashID(id, &buf)]; ok {
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
