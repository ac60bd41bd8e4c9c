package audit

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// The HTML report is one self-contained page (inline CSS and SVG, no script, nothing fetched) for someone who never
// ran the command: what was checked, a verdict in plain words, a table per dataSource, an availability chart per
// dataSource, the servers and the findings with what each kind means and what to do.
//
// Every number the page shows that comes from the Report is marked with data-k, a JSON Pointer (RFC 6901) into
// the Report's JSON, so that a reader, or a test, can check it against `--format json`. When the text shown is
// not the number itself (a size in kB, a bar of a chart), data-v holds the number as JSON writes it. A percentage
// is marked with data-pct, the pointers of its numerator and denominator.

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Parse(reportTemplateText))

// The page's bounds. The JSON output has everything; the page stays small enough to open and mail whatever the
// cluster's state: findings, dataSources and servers are cut to a table each, and charts stop at a budget of bars.
const (
	// HTMLMaxFindings is how many findings the page lists; the rest are counted, and the JSON lists them.
	HTMLMaxFindings = 1000
	// htmlMaxRows bounds the dataSource and server tables.
	htmlMaxRows = 1000
	// htmlMaxCharts and htmlMaxBars bound the availability charts: at 400 buckets per dataSource (the most the
	// report gives), 30 full charts, about 3 MB of SVG.
	htmlMaxCharts = 100
	htmlMaxBars   = 12000
	// htmlMaxServersPerFinding is how many servers a finding's row names before "+N more".
	htmlMaxServersPerFinding = 5
)

// WriteHTML writes the report as a self-contained HTML page. Everything from the report is escaped (dataSource
// names and segment ids are user input); a report missing parts (nil slices or maps) renders as empty.
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("writing the HTML report: no report")
	}
	if err := reportTemplate.Execute(w, newHTMLPage(r)); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	return nil
}

// htmlNum is one number shown on the page: K its JSON Pointer in the report, V its JSON value when Text is not
// the number itself (else ""), Title a tooltip.
type htmlNum struct {
	K, V, Text, Title string
}

// htmlPct is a percentage: Num and Den are the pointers of the numbers it divides.
type htmlPct struct {
	Num, Den, Text string
}

type htmlPage struct {
	R          *Report
	Generated  string
	Duration   string
	Grace      string
	Filter     string
	Rules      []htmlKV
	Aliases    []htmlKV
	Clones     []htmlKV
	Verdict    htmlVerdict
	Figures    []htmlFigure
	DataSource []htmlDSRow
	DSMore     int
	Total      htmlDSRow
	Charts     []htmlChart
	ChartsMore int
	Servers    []htmlServer
	SrvMore    int
	Kinds      []htmlKind
	Findings   []htmlFinding
	// MoreNote says how many findings are not listed, and where they are.
	MoreNote string
	// DeepStorage totals, shown when it was listed.
	DSObjects, DSBytes, Orphans htmlNum
}

type htmlKV struct{ K, V string }

// htmlVerdict is the page's first answer: Class is its colour (ok, critical, warning, notice, incomplete).
type htmlVerdict struct {
	Class    string
	Headline string
	Points   []string
}

// htmlFigure is one of the key figures under the verdict.
type htmlFigure struct {
	Label string
	N     htmlNum
	Class string // "bad" when it is a problem, "" otherwise
}

type htmlDSRow struct {
	Name                                                               string
	Used, Size, Expected, Available, TaskServed                        htmlNum
	Pct                                                                htmlPct
	Unavailable, Under, Over, Stale, Unverified, Loading, Overshadowed htmlNum
	Findings                                                           []htmlKindCount
}

type htmlKindCount struct {
	Kind     Kind
	Severity Severity
	N        htmlNum
}

type htmlServer struct {
	Name, Role, Type, Tier, Source, Error, CloneOf string
	Decommissioning                                bool
	Segments, Partial, Bytes, MaxSize              htmlNum
}

type htmlKind struct {
	Kind     Kind
	Severity Severity
	N        htmlNum
	Zero     bool
	Meaning  string
	Action   string
}

type htmlFinding struct {
	N          int
	Kind       Kind
	Severity   Severity
	DataSource string
	// Segment and Object are split after each _ or /, where the page may break their lines.
	Segment      []string
	Object       []string
	Interval     []string
	IntervalFull string
	Tier         string
	Replicas     bool // Expected applies: the kind compares replica counts
	Expected     htmlNum
	Actual       htmlNum
	Servers      []string
	ServersMore  int
	Bytes        htmlNum
	Detail       string
}

// The chart's geometry, in SVG user units (pixels at 100 %).
const (
	chartW, chartH                             = 960, 140
	chartLeft, chartRight, chartTop, chartBott = 52, 12, 10, 30
	chartMaxBar                                = 28
)

type htmlChart struct {
	DataSource string
	Caption    string
	W, H       int
	// The plot area's corners, for the axes.
	X0, X1, Y0, Y1 int
	YTicks         []htmlTick
	XTicks         []htmlTick
	Bars           []htmlBar
}

// htmlTick is an axis tick: a line from (X1,Y1) to (X2,Y2) and its label at (TX,TY).
type htmlTick struct {
	X1, Y1, X2, Y2, TX, TY string
	Label                  string
}

type htmlBar struct {
	Tip   string
	Rects []htmlRect
}

type htmlRect struct {
	Class      string // x: expected but served by no reachable server; a: available; f: fully replicated
	N          htmlNum
	X, Y, W, H string
}

// kindText says, per kind, what it means and what to do, in the words of docs/audit.md.
var kindText = map[Kind][2]string{
	KindUnavailable: {"A used segment that a load or broadcast rule expects, and that no reachable server the Coordinator counts serves (a clone does not count): queries over its interval miss its data, or get an older version's when one is still served.",
		"Check the Coordinator's load queue and logs for the segment. A load that keeps failing usually means its object is missing or the tier is full (maxSize); a tier the rule names with no server at all means the rule or druid.server.tier is wrong."},
	KindMissingInDeepStorage: {"A used segment whose object is gone from deep storage: no server can load it again, and the servers listed hold its only copies.",
		"Restore the object from a backup or bucket versioning. If the data is gone for good, mark the segment unused so that the Coordinator stops trying to load it."},
	KindUnderReplicated: {"Fewer servers of a tier serve the segment than its rule asks for: one more lost server and it may be unavailable.",
		"Usually transient after a restart. If it lasts, check the tier's free space and the Coordinator's replicationThrottleLimit; the detail says when the tier has fewer servers than replicas."},
	KindServedOnlyByTask: {"A segment a load rule expects on Historicals that only ingestion tasks (or Brokers) serve: queries see it and Druid counts it available, but it has not been handed off, and it is gone from queries when they stop.",
		"Check the task's handoff in the Overlord's task log and the Coordinator's load queue: a Historical tier with no room, or a rule naming a tier without servers, keeps tasks waiting for handoff."},
	KindStaleReplica: {"A replica announced with a partial-load fingerprint its rule does not ask for (another one or none under a partial-load rule, one under a plain rule): the Coordinator does not count it toward a partial rule, and reloads it in place.",
		"Usually transient after a rule change: the Coordinator reloads such replicas in place and they serve queries meanwhile. If it lasts, check the server's load log: a server that cannot honour partial loads must announce the fingerprint of the request it fell back from."},
	KindUnknownServed: {"A server serves a segment that no row of the segments table has, used or unused: deleted from the metadata store by hand, or the server belongs to another cluster.",
		"If the row was deleted by mistake, re-insert the DataSegment JSON from the server's info_dir; otherwise remove the segment from the server."},
	KindUnusedServed: {"A server serves a segment the metadata store marks unused: Brokers may still return data that should be gone.",
		"The Coordinator drops unused segments on its next run. If it lasts, the server is not taking drop requests: check its log, or restart it."},
	KindOvershadowedServed: {"A segment that newer versions overshadow completely is still served, and so are the newer versions: Brokers no longer query it; it only takes memory and disk. (Until the newer versions are served, Brokers still query the old one, and that is no finding.)",
		"The Coordinator marks overshadowed segments unused and drops them. If it lasts, check that the Coordinator runs."},
	KindOverReplicated: {"More servers of a tier serve the segment than its rule asks for (tiers the rule does not name and drop rules count as zero).",
		"Transient after balancing. If it lasts, the Coordinator is not dropping (see unused_served), or the rules changed and will apply on its next run."},
	KindCacheDrift: {"One data server disagrees with itself: its cache directories, its info_dir and what it announces differ.",
		"Announced but missing on disk: restart the server, it downloads the segment again. The other cases waste disk: stop the server and remove the directory or info_dir entry, or run druid-sidecar cache verify --repair on its stopped cache."},
	KindOrphanInDeepStorage: {"An object under the storage prefix that no segment row references: storage paid for and never read.",
		"Check that it is not another cluster's (same bucket and baseKey), then delete it, or move it to a cheaper storage class first."},
}

// jp builds a JSON Pointer from its reference tokens, escaping ~ and / as RFC 6901 asks.
func jp(tokens ...any) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		s := fmt.Sprint(t)
		s = strings.ReplaceAll(s, "~", "~0")
		b.WriteString(strings.ReplaceAll(s, "/", "~1"))
	}
	return b.String()
}

// count shows an integer with thousands separators.
func count(k string, n int64) htmlNum {
	return htmlNum{K: k, Text: groupDigits(n)}
}

// size shows a byte count with a decimal unit, the exact count in the tooltip.
func size(k string, n int64) htmlNum {
	return htmlNum{K: k, V: strconv.FormatInt(n, 10), Text: configs.FormatHumanBytes(n), Title: groupDigits(n) + " bytes"}
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// percent is num/den in percent with one decimal, rounded down so that 100 % means all of them, never nearly
// all; "–" when den is 0. It counts in integers, which no float rounding can push up to the next tenth.
func percent(num, den int64) string {
	if den <= 0 {
		return "–"
	}
	var tenths int64
	if num >= 0 && num <= math.MaxInt64/1000 {
		tenths = num * 1000 / den
	} else {
		tenths = int64(math.Floor(float64(num) * 1000 / float64(den)))
	}
	return fmt.Sprintf("%d.%d %%", tenths/10, tenths%10)
}

// breakAfter splits s after each of the bytes in seps, so that a long segment id or object key can wrap where a
// reader expects it to; joined, the parts are s.
func breakAfter(s, seps string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s, seps)
		if i < 0 {
			return append(out, s)
		}
		out, s = append(out, s[:i+1]), s[i+1:]
	}
	return out
}

// compactInterval drops the time of day from an interval's bounds at midnight, which most segments' are.
func compactInterval(iv string) string {
	parts := strings.Split(iv, "/")
	for i, p := range parts {
		parts[i] = strings.TrimSuffix(p, "T00:00:00.000Z")
	}
	return strings.Join(parts, "/")
}

func newHTMLPage(r *Report) *htmlPage {
	p := &htmlPage{R: r}
	p.Generated = r.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	p.Duration = strconv.FormatFloat(r.DurationSeconds, 'f', 1, 64) + " s"
	p.Grace = (time.Duration(r.Inputs.GraceSeconds * float64(time.Second))).String()
	if r.Inputs.GraceSeconds <= 0 {
		p.Grace = "none"
	}
	p.Filter = "all"
	if len(r.Inputs.DataSourceFilter) > 0 {
		p.Filter = strings.Join(r.Inputs.DataSourceFilter, ", ")
	}
	for _, ds := range sortedKeys(r.Inputs.RuleVersions) {
		p.Rules = append(p.Rules, htmlKV{ds, r.Inputs.RuleVersions[ds]})
	}
	for _, a := range sortedKeys(r.Inputs.TierAliases) {
		p.Aliases = append(p.Aliases, htmlKV{a, strings.Join(r.Inputs.TierAliases[a], ", ")})
	}
	for _, c := range sortedKeys(r.Inputs.CloneServers) {
		p.Clones = append(p.Clones, htmlKV{c, r.Inputs.CloneServers[c]})
	}
	p.Verdict = verdictOf(r)
	t := r.Totals
	p.Figures = []htmlFigure{
		{Label: "segments expected by the rules", N: count(jp("totals", "expectedSegments"), int64(t.ExpectedSegments))},
		{Label: "served by a reachable server", N: count(jp("totals", "availableSegments"), int64(t.AvailableSegments))},
		{Label: "unavailable", N: count(jp("totals", "unavailableSegments"), int64(t.UnavailableSegments)), Class: badIf(t.UnavailableSegments > 0)},
		{Label: "under-replicated", N: count(jp("totals", "underReplicatedSegments"), int64(t.UnderReplicated)), Class: badIf(t.UnderReplicated > 0)},
		{Label: "findings", N: count(jp("totals", "findings"), int64(t.Findings)), Class: badIf(t.Findings > 0)},
		{Label: "data servers", N: count(jp("totals", "servers"), int64(t.Servers))},
		{Label: "unreachable servers", N: count(jp("totals", "unreachableServers"), int64(t.UnreachableServers)), Class: badIf(t.UnreachableServers > 0)},
		{Label: "used data", N: size(jp("totals", "usedBytes"), t.UsedBytes)},
	}
	p.DSObjects = count(jp("totals", "deepStorageObjects"), t.DeepStorageObjects)
	p.DSBytes = size(jp("totals", "deepStorageBytes"), t.DeepStorageBytes)
	p.Orphans = size(jp("totals", "orphanBytes"), t.OrphanBytes)

	for i, d := range r.DataSources {
		if i == htmlMaxRows {
			p.DSMore = len(r.DataSources) - i
			break
		}
		row := func(f string) string { return jp("dataSources", i, f) }
		ds := htmlDSRow{Name: d.DataSource,
			Used: count(row("usedSegments"), int64(d.UsedSegments)), Size: size(row("usedBytes"), d.UsedBytes),
			Expected: count(row("expectedSegments"), int64(d.ExpectedSegments)), Available: count(row("availableSegments"), int64(d.AvailableSegments)),
			Pct:          htmlPct{Num: row("availableSegments"), Den: row("expectedSegments"), Text: percent(int64(d.AvailableSegments), int64(d.ExpectedSegments))},
			TaskServed:   count(row("taskServedSegments"), int64(d.TaskServedSegments)),
			Unavailable:  count(row("unavailableSegments"), int64(d.UnavailableSegments)),
			Under:        count(row("underReplicatedSegments"), int64(d.UnderReplicatedSegments)),
			Over:         count(row("overReplicatedSegments"), int64(d.OverReplicatedSegments)),
			Stale:        count(row("staleReplicaSegments"), int64(d.StaleReplicaSegments)),
			Unverified:   count(row("unverifiedSegments"), int64(d.UnverifiedSegments)),
			Loading:      count(row("loadingSegments"), int64(d.LoadingSegments)),
			Overshadowed: count(row("overshadowedSegments"), int64(d.OvershadowedSegments)),
		}
		ds.Findings = kindCounts(d.FindingsByKind, "dataSources", i, "findingsByKind")
		p.DataSource = append(p.DataSource, ds)
	}
	tot := func(f string) string { return jp("totals", f) }
	p.Total = htmlDSRow{Name: "total",
		Used: count(tot("usedSegments"), int64(t.UsedSegments)), Size: size(tot("usedBytes"), t.UsedBytes),
		Expected: count(tot("expectedSegments"), int64(t.ExpectedSegments)), Available: count(tot("availableSegments"), int64(t.AvailableSegments)),
		Pct:          htmlPct{Num: tot("availableSegments"), Den: tot("expectedSegments"), Text: percent(int64(t.AvailableSegments), int64(t.ExpectedSegments))},
		TaskServed:   count(tot("taskServedSegments"), int64(t.TaskServedSegments)),
		Unavailable:  count(tot("unavailableSegments"), int64(t.UnavailableSegments)),
		Under:        count(tot("underReplicatedSegments"), int64(t.UnderReplicated)),
		Over:         count(tot("overReplicatedSegments"), int64(t.OverReplicated)),
		Stale:        count(tot("staleReplicaSegments"), int64(t.StaleReplicaSegments)),
		Unverified:   count(tot("unverifiedSegments"), int64(t.UnverifiedSegments)),
		Loading:      count(tot("loadingSegments"), int64(t.LoadingSegments)),
		Overshadowed: count(tot("overshadowedSegments"), int64(t.OvershadowedSegments)),
		Findings:     kindCounts(t.FindingsByKind, "totals", "findingsByKind"),
	}

	p.Charts, p.ChartsMore = charts(r.DataSources)

	for i, s := range r.Servers {
		if i == htmlMaxRows {
			p.SrvMore = len(r.Servers) - i
			break
		}
		row := func(f string) string { return jp("servers", i, f) }
		p.Servers = append(p.Servers, htmlServer{Name: s.Name, Role: s.Role, Type: s.ServerType, Tier: s.Tier,
			Source: string(s.Source), Error: s.Error, CloneOf: s.CloneOf, Decommissioning: s.Decommissioning,
			Segments: count(row("segments"), int64(s.Segments)), Partial: count(row("partialSegments"), int64(s.PartialSegments)),
			Bytes: size(row("bytes"), s.Bytes), MaxSize: size(row("maxSize"), s.MaxSize)})
	}

	for _, k := range Kinds {
		text := kindText[k]
		n := t.FindingsByKind[k]
		p.Kinds = append(p.Kinds, htmlKind{Kind: k, Severity: k.Severity(),
			N: count(jp("totals", "findingsByKind", k), int64(n)), Zero: n == 0, Meaning: text[0], Action: text[1]})
	}

	for i, f := range r.Findings {
		if i == HTMLMaxFindings {
			break
		}
		row := func(field string) string { return jp("findings", i, field) }
		hf := htmlFinding{N: i + 1, Kind: f.Kind, Severity: f.Severity, DataSource: f.DataSource, Segment: breakAfter(f.SegmentID, "_"),
			Object: breakAfter(f.Object, "/"), Interval: breakAfter(compactInterval(f.Interval), "/"), IntervalFull: f.Interval, Tier: f.Tier,
			Replicas: f.ExpectedReplicas > 0 || f.Kind == KindUnavailable || f.Kind == KindUnderReplicated || f.Kind == KindOverReplicated ||
				f.Kind == KindStaleReplica || f.Kind == KindServedOnlyByTask,
			Expected: count(row("expectedReplicas"), int64(f.ExpectedReplicas)),
			Actual:   count(row("actualReplicas"), int64(f.ActualReplicas)),
			Bytes:    size(row("bytes"), f.Bytes), Detail: f.Detail}
		if hf.Severity == "" {
			hf.Severity = f.Kind.Severity()
		}
		hf.Servers = f.Servers
		if len(hf.Servers) > htmlMaxServersPerFinding {
			hf.Servers, hf.ServersMore = hf.Servers[:htmlMaxServersPerFinding], len(hf.Servers)-htmlMaxServersPerFinding
		}
		p.Findings = append(p.Findings, hf)
	}
	p.MoreNote = moreNote(len(p.Findings), len(r.Findings), max(t.Findings, len(r.Findings)))
	return p
}

// moreNote says where the findings not listed are: the page lists shown of the report's inJSON findings, and
// the totals count all of them, also those the audit's own bound left out of the JSON.
func moreNote(shown, inJSON, all int) string {
	jsonOnly, counted := inJSON-shown, all-inJSON
	n := func(v int) string { return groupDigits(int64(v)) }
	switch {
	case jsonOnly > 0 && counted > 0:
		return fmt.Sprintf("%s more findings are not listed here: %s more in the JSON output (--format json); the other %s were only counted, as the audit keeps its worst %s.",
			n(jsonOnly+counted), n(jsonOnly), n(counted), n(inJSON))
	case jsonOnly > 0:
		return fmt.Sprintf("%s more in the JSON output (--format json): this page lists the worst %s findings.", n(jsonOnly), n(shown))
	case counted > 0:
		return fmt.Sprintf("%s more findings were only counted: the audit keeps its worst %s, all listed here.", n(counted), n(inJSON))
	}
	return ""
}

func badIf(b bool) string {
	if b {
		return "bad"
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindCounts lists the kinds with findings in m, worst first, with the pointer of each count under prefix.
func kindCounts(m map[Kind]int, prefix ...any) []htmlKindCount {
	var out []htmlKindCount
	for _, k := range Kinds {
		if n := m[k]; n > 0 {
			out = append(out, htmlKindCount{Kind: k, Severity: k.Severity(), N: count(jp(append(prefix, k)...), int64(n))})
		}
	}
	// Kinds this version does not know (a newer audit's report) are shown too, after the known ones.
	var unknown []string
	for k := range m {
		if k.Rank() == len(Kinds) && m[k] > 0 {
			unknown = append(unknown, string(k))
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		out = append(out, htmlKindCount{Kind: Kind(k), Severity: Kind(k).Severity(), N: count(jp(append(prefix, k)...), int64(m[Kind(k)]))})
	}
	return out
}

// verdictOf says in plain words what the audit found, worst first.
func verdictOf(r *Report) htmlVerdict {
	t := r.Totals
	by := t.FindingsByKind
	plural := func(n int, one, many string) string {
		if n == 1 {
			return groupDigits(int64(n)) + " " + one
		}
		return groupDigits(int64(n)) + " " + many
	}
	var v htmlVerdict
	worst := SeverityNotice
	for k, n := range by {
		if n > 0 && k.Severity() == SeverityCritical {
			worst = SeverityCritical
		} else if n > 0 && k.Severity() == SeverityWarning && worst != SeverityCritical {
			worst = SeverityWarning
		}
	}
	switch {
	case t.Findings == 0 && t.UnreachableServers == 0:
		v.Class, v.Headline = "ok", "Healthy: every segment the rules expect is served with all its replicas, and no server serves a segment it should not."
	case t.Findings == 0:
		v.Class, v.Headline = "incomplete", "Nothing wrong was found, but the audit is incomplete: some data servers could not be read."
	case worst == SeverityCritical:
		v.Class, v.Headline = "critical", "Data is at risk: some segments are not queryable now, or cannot be loaded again."
	case worst == SeverityWarning:
		v.Class, v.Headline = "warning", "Queries see all the data, but some of it is at risk or out of date."
	default:
		v.Class, v.Headline = "notice", "Queries see all the data; some disk, memory or storage is wasted."
	}
	add := func(s string) { v.Points = append(v.Points, s) }
	// say picks the sentence for one or for many, with the number in front.
	say := func(n int, one, many string) {
		if n == 1 {
			add("1 " + one)
		} else if n > 1 {
			add(groupDigits(int64(n)) + " " + many)
		}
	}
	say(by[KindUnavailable], "segment is served by no reachable server: queries over its interval miss its data.",
		"segments are served by no reachable server: queries over their intervals miss their data.")
	say(by[KindMissingInDeepStorage], "used segment has no object in deep storage: no server could load it again.",
		"used segments have no object in deep storage: no server could load them again.")
	say(t.UnderReplicated, "segment has fewer replicas than its rule asks for: one more lost server and its data may be missing.",
		"segments have fewer replicas than their rules ask for: one more lost server and their data may be missing.")
	say(by[KindServedOnlyByTask], "segment is served only by ingestion tasks, not handed off to Historicals: it is gone from queries when they stop.",
		"segments are served only by ingestion tasks, not handed off to Historicals: they are gone from queries when the tasks stop.")
	say(t.StaleReplicaSegments, "segment has replicas whose partial-load fingerprint is not the one its rule asks for; the Coordinator reloads them in place.",
		"segments have replicas whose partial-load fingerprint is not the one their rules ask for; the Coordinator reloads them in place.")
	say(by[KindUnusedServed]+by[KindUnknownServed], "segment is served that the metadata store marks unused or does not have: queries may return data that should be gone.",
		"segments are served that the metadata store marks unused or does not have: queries may return data that should be gone.")
	say(by[KindOvershadowedServed]+by[KindOverReplicated]+by[KindCacheDrift], "finding is about wasted disk or memory on a data server (an overshadowed, over-replicated or drifted segment).",
		"findings are about wasted disk or memory on data servers (overshadowed, over-replicated or drifted segments).")
	say(by[KindOrphanInDeepStorage], "object in deep storage ("+configs.FormatHumanBytes(t.OrphanBytes)+") belongs to no segment.",
		"objects in deep storage ("+configs.FormatHumanBytes(t.OrphanBytes)+") belong to no segment.")
	if n := t.UnreachableServers; n > 0 {
		s, them := plural(n, "data server", "data servers")+" could not be read", "them"
		if n == 1 {
			them = "it"
		}
		switch {
		case t.UnverifiedSegments == 1:
			s += "; 1 segment could be held only by " + them + " and is not counted as lost"
		case t.UnverifiedSegments > 1:
			s += "; " + groupDigits(int64(t.UnverifiedSegments)) + " segments could be held only by " + them + " and are not counted as lost"
		}
		add(s + ".")
	}
	say(t.LoadingSegments, "segment was marked used within the grace period and may still be loading; it is not a finding.",
		"segments were marked used within the grace period and may still be loading; they are not findings.")
	if !r.Inputs.DeepStorageChecked {
		add("Deep storage was not checked (" + strings.TrimPrefix(r.Inputs.DeepStorage, "not checked: ") + "): missing and orphaned objects are not reported.")
	}
	say(t.UndecidedSegments, "segment's partial-load rule could not be decided (see the warnings): every replica of it was counted.",
		"segments' partial-load rules could not be decided (see the warnings): every replica of them was counted.")
	say(len(r.Warnings), "warning limits what the audit could check; it is listed at the end.",
		"warnings limit what the audit could check; they are listed at the end.")
	return v
}

// charts draws each dataSource's availability buckets as bars on a time axis, within the page's budget.
func charts(dss []DataSourceSummary) ([]htmlChart, int) {
	var out []htmlChart
	bars, more := 0, 0
	for i, d := range dss {
		if len(d.Availability) == 0 {
			continue
		}
		if len(out) == htmlMaxCharts || bars+len(d.Availability) > htmlMaxBars {
			more++
			continue
		}
		bars += len(d.Availability)
		out = append(out, chartOf(i, d))
	}
	return out, more
}

func fmtPx(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// chartOf draws one dataSource's buckets: x is time (buckets without segments leave gaps, as they are gaps), the
// height of a bar its expected segments. Three rectangles overlap from the baseline: red to the expected count
// (served by no reachable server), amber to the available count, green to the fully replicated count, so that
// the colours show each part.
func chartOf(i int, d DataSourceSummary) htmlChart {
	c := htmlChart{DataSource: d.DataSource, W: chartW, H: chartH,
		X0: chartLeft, X1: chartW - chartRight, Y0: chartH - chartBott, Y1: chartTop}
	b := d.Availability
	t0, t1 := b[0].Start, b[0].End
	maxExp := 0
	for _, k := range b {
		if k.Start.Before(t0) {
			t0 = k.Start
		}
		if k.End.After(t1) {
			t1 = k.End
		}
		maxExp = max(maxExp, k.ExpectedSegments)
	}
	span := float64(t1.Sub(t0))
	if span <= 0 {
		span = 1
	}
	plotW, plotH := float64(c.X1-c.X0), float64(c.Y0-c.Y1)
	// A few buckets would make bars as wide as the page: no bucket is drawn wider than chartMaxBar, and the time
	// axis then ends before the right edge.
	narrowest := span
	for _, k := range b {
		if w := float64(k.End.Sub(k.Start)); w > 0 && w < narrowest {
			narrowest = w
		}
	}
	perNs := min(plotW/span, chartMaxBar/narrowest)
	c.X1 = c.X0 + int(math.Ceil(span*perNs))
	// A narrow chart is as wide as its bars and the room for its last date label, so that several fit in a row.
	c.W = min(chartW, max(c.X1+chartRight+70, 240))
	x := func(t time.Time) float64 { return float64(c.X0) + float64(t.Sub(t0))*perNs }
	scale := float64(max(maxExp, 1))
	y := func(n int) float64 { return float64(c.Y0) - float64(n)/scale*plotH }

	layout := "2006-01-02"
	switch {
	case strings.HasPrefix(d.Granularity, "month"):
		layout = "2006-01"
	case strings.Contains(d.Granularity, "year"):
		layout = "2006"
	}
	buckets := "buckets"
	if len(b) == 1 {
		buckets = "bucket"
	}
	c.Caption = fmt.Sprintf("%d %s of one %s, %s to %s", len(b), buckets, d.Granularity,
		t0.UTC().Format(layout), t1.UTC().Format(layout))

	yTick := func(n int) {
		py := fmtPx(y(n))
		c.YTicks = append(c.YTicks, htmlTick{X1: strconv.Itoa(c.X0), Y1: py, X2: strconv.Itoa(c.X1), Y2: py,
			TX: strconv.Itoa(c.X0 - 6), TY: fmtPx(y(n) + 4), Label: groupDigits(int64(n))})
	}
	yTick(0)
	if maxExp >= 2 {
		yTick(maxExp / 2)
	}
	if maxExp >= 1 {
		yTick(maxExp)
	}
	// Date labels at bucket starts, at least 110 units apart so that they never overlap.
	last := math.Inf(-1)
	for _, k := range b {
		px := x(k.Start)
		if px-last >= 110 && px+66 <= float64(c.W) {
			c.XTicks = append(c.XTicks, htmlTick{X1: fmtPx(px), Y1: strconv.Itoa(c.Y0), X2: fmtPx(px), Y2: strconv.Itoa(c.Y0 + 4),
				TX: fmtPx(px), TY: strconv.Itoa(c.Y0 + 17), Label: k.Start.UTC().Format(layout)})
			last = px
		}
	}

	for j, k := range b {
		x0, x1 := x(k.Start), x(k.End)
		w := x1 - x0
		if w > 3 {
			w-- // a gap between neighbouring bars
		}
		w = max(w, 0.5)
		ptr := func(f string) string { return jp("dataSources", i, "availability", j, f) }
		bar := htmlBar{Tip: fmt.Sprintf("%s: %d expected, %d served, %d fully replicated",
			compactInterval(k.Interval), k.ExpectedSegments, k.AvailableSegments, k.FullyReplicatedSegments)}
		rect := func(class, f string, n, height int) {
			bar.Rects = append(bar.Rects, htmlRect{Class: class, N: htmlNum{K: ptr(f), V: strconv.Itoa(n)},
				X: fmtPx(x0), Y: fmtPx(y(height)), W: fmtPx(w), H: fmtPx(y(0) - y(height))})
		}
		// A rectangle is drawn only where it shows something: a fully served bar is one green rectangle.
		avail := min(k.AvailableSegments, k.ExpectedSegments)
		full := min(k.FullyReplicatedSegments, avail)
		if k.ExpectedSegments > avail {
			rect("x", "expectedSegments", k.ExpectedSegments, k.ExpectedSegments)
		}
		if avail > full {
			rect("a", "availableSegments", k.AvailableSegments, avail)
		}
		if full > 0 {
			rect("f", "fullyReplicatedSegments", k.FullyReplicatedSegments, full)
		}
		c.Bars = append(c.Bars, bar)
	}
	return c
}
