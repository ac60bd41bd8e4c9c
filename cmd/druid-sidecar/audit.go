package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
)

func init() { register(auditCommand()) }

func auditCommand() *command {
	return &command{
		name:     "audit",
		synopsis: "cross-check served segments against the metadata store and deep storage; exit 1 on findings",
		usage:    "[--format table|json|html] [--output FILE] [--datasource NAME]... [--skip-deep-storage] [--grace DURATION]",
		run:      runAudit,
	}
}

// auditTableFindings is how many findings the table shows; JSON has them all.
const auditTableFindings = 20

func runAudit(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("audit", "", env)
	var common commonFlags
	common.register(fs)
	format := fs.String("format", "table", "output format: table, json or html")
	output := fs.String("output", "", "write the report to `file` instead of standard output")
	var dataSources stringList
	fs.Var(&dataSources, "datasource", "audit only this dataSource (`name`); repeatable")
	skipDeep := fs.Bool("skip-deep-storage", false, "do not list deep storage: no missing_in_deep_storage or orphan_in_deep_storage findings")
	grace := fs.Duration("grace", audit.DefaultGrace, "segments marked used, and objects written, this recently are not reported as unavailable, under-replicated or orphaned (a load or publish may be under way); 0 reports them at once")
	if ok, code := parseArgs(env, "audit", fs, args, format, "table", "json", "html"); !ok {
		return code
	}
	log, err := common.logger(env.stderr)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar audit: %v\n", err)
		return exitBadInput
	}
	cfg, code := loadConfig(env, &common, configs.RequireMetadataStore)
	if cfg == nil {
		return code
	}
	if *grace < 0 {
		fmt.Fprintf(env.stderr, "druid-sidecar audit: --grace %v: expected a duration of 0 or more\n", *grace)
		return exitBadInput
	}
	// The audit's zero Grace means its default; no grace at all is a negative one.
	graceOpt := *grace
	if graceOpt == 0 {
		graceOpt = -1
	}
	progress := newAuditProgress(env.stderr)
	rep, err := audit.Run(ctx, cfg, audit.Options{
		DataSources:     dataSources,
		SkipDeepStorage: *skipDeep,
		Progress:        progress.update,
		Logger:          log.Named("audit"),
		Grace:           graceOpt,
	})
	progress.done()
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar audit: %s\n", auditOneLine(err.Error()))
		return exitBadInput
	}
	var out bytes.Buffer
	switch *format {
	case "json":
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	case "html":
		err = audit.WriteHTML(&out, rep)
	default:
		writeAuditTable(&out, rep)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar audit: writing the %s report: %s\n", *format, auditOneLine(err.Error()))
		return exitBadInput
	}
	if *output != "" {
		if err := os.WriteFile(*output, out.Bytes(), 0o644); err != nil {
			fmt.Fprintf(env.stderr, "druid-sidecar audit: writing the report: %v\n", err)
			return exitBadInput
		}
	} else if _, err := env.stdout.Write(out.Bytes()); err != nil {
		return exitBadInput
	}
	if !rep.Clean() {
		return exitFailure
	}
	return exitOK
}

// auditOneLine joins a multi-line error (errors.Join) into one line, as the exit-2 contract promises, with what it
// quotes from the cluster made printable.
func auditOneLine(s string) string {
	return safetext.Printable(strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " "))
}

// auditProgress shows the audit's phase and counts on a terminal, rewriting one line; elsewhere it is silent.
type auditProgress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	last  time.Time
	shown bool
}

func newAuditProgress(w io.Writer) *auditProgress {
	f, ok := w.(*os.File)
	return &auditProgress{w: w, on: ok && isatty.IsTerminal(f.Fd())}
}

func (p *auditProgress) update(phase string, done, total int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// At most ten redraws a second, and always the end of a phase.
	if now := time.Now(); now.Sub(p.last) < 100*time.Millisecond && (total == 0 || done < total) {
		return
	} else {
		p.last = now
	}
	line := fmt.Sprintf("audit: %s: %d", phase, done)
	if total > 0 {
		line += fmt.Sprintf(" of %d", total)
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.shown = true
}

func (p *auditProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// writeAuditTable writes the report for a terminal of 100 columns: the inputs and servers, a summary per
// dataSource, then the worst findings, one block each.
func writeAuditTable(w io.Writer, r *audit.Report) {
	fmt.Fprintf(w, "Audit at %s (%.1f s)\n", r.GeneratedAt.Format(time.RFC3339), r.DurationSeconds)
	fmt.Fprintf(w, "  metadata store: %s\n", auditCut(r.Inputs.MetadataStore, 80))
	fmt.Fprintf(w, "  ZooKeeper:      %s\n", auditCut(r.Inputs.ZooKeeper, 80))
	fmt.Fprintf(w, "  deep storage:   %s\n", auditCut(r.Inputs.DeepStorage, 80))
	fmt.Fprintf(w, "  default rules:  %s\n", auditCut(r.Inputs.DefaultRulesDataSource, 80))
	auditWrap(w, "  dynamic config: ", r.Inputs.DynamicConfig)
	bySource := map[audit.Source]int{}
	for _, s := range r.Servers {
		bySource[s.Source]++
	}
	fmt.Fprintf(w, "Servers: %d (%d over HTTP, %d from ZooKeeper, %d unreachable)\n", len(r.Servers),
		bySource[audit.SourceHTTP], bySource[audit.SourceZooKeeper], bySource[audit.SourceUnreachable])
	for _, s := range r.Servers {
		if s.Source == audit.SourceHTTP {
			continue
		}
		fmt.Fprintf(w, "  %s %s (%s, tier %s):\n", s.Source, auditCut(s.Name, 40), auditCut(s.ServerType, 20), auditCut(s.Tier, 20))
		auditWrap(w, "      ", s.Error)
	}
	for _, s := range r.Servers {
		// Clones count as no replica, and broadcast rules expect nothing of decommissioning servers.
		if s.CloneOf != "" {
			fmt.Fprintf(w, "  clone %s of %s (not counted as a replica)\n", auditCut(s.Name, 40), auditCut(s.CloneOf, 40))
		}
		if s.Decommissioning {
			fmt.Fprintf(w, "  decommissioning %s\n", auditCut(s.Name, 40))
		}
	}
	for _, warning := range r.Warnings {
		fmt.Fprintln(w, "Warning:")
		auditWrap(w, "  ", warning)
	}

	fmt.Fprintln(w)
	const row = "%-24s %8s %9s %9s %9s %7s %6s %5s %8s\n"
	fmt.Fprintf(w, row, "DATASOURCE", "USED", "SIZE", "EXPECTED", "AVAILABLE", "UNAVAIL", "UNDER", "OVER", "FINDINGS")
	for _, d := range r.DataSources {
		n := 0
		for _, c := range d.FindingsByKind {
			n += c
		}
		fmt.Fprintf(w, row, auditCut(d.DataSource, 24), auditItoa(d.UsedSegments), configs.FormatHumanBytes(d.UsedBytes), auditItoa(d.ExpectedSegments),
			auditItoa(d.AvailableSegments), auditItoa(d.UnavailableSegments), auditItoa(d.UnderReplicatedSegments),
			auditItoa(d.OverReplicatedSegments), auditItoa(n))
	}
	t := r.Totals
	fmt.Fprintf(w, row, "TOTAL", auditItoa(t.UsedSegments), configs.FormatHumanBytes(t.UsedBytes), auditItoa(t.ExpectedSegments),
		auditItoa(t.AvailableSegments), auditItoa(t.UnavailableSegments), auditItoa(t.UnderReplicated), auditItoa(t.OverReplicated),
		auditItoa(t.Findings))
	if t.UnverifiedSegments > 0 || t.LoadingSegments > 0 {
		auditWrap(w, "", fmt.Sprintf("Not findings: %d segments could be on unreachable servers, %d were marked used "+
			"within the grace period.", t.UnverifiedSegments, t.LoadingSegments))
	}
	if t.PartialLoadSegments > 0 || t.TaskServedSegments > 0 || t.UndecidedSegments > 0 {
		auditWrap(w, "", fmt.Sprintf("Partial loads: %d expected segments; %d with stale replicas; %d whose rule could not be "+
			"decided. Served only by ingestion tasks: %d segments.", t.PartialLoadSegments, t.StaleReplicaSegments,
			t.UndecidedSegments, t.TaskServedSegments))
	}
	if r.Inputs.DeepStorageChecked {
		fmt.Fprintf(w, "Deep storage: %d objects, %s; %s orphaned.\n", t.DeepStorageObjects, configs.FormatHumanBytes(t.DeepStorageBytes),
			configs.FormatHumanBytes(t.OrphanBytes))
	}

	fmt.Fprintln(w)
	if t.Findings == 0 {
		if t.UnreachableServers > 0 {
			fmt.Fprintln(w, "No findings, but unreachable servers leave the audit incomplete.")
		} else {
			fmt.Fprintln(w, "No findings.")
		}
		return
	}
	var kinds []string
	for _, k := range audit.Kinds {
		if n := t.FindingsByKind[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
	}
	auditWrap(w, "", fmt.Sprintf("Findings: %d (%s)", t.Findings, strings.Join(kinds, ", ")))
	for i, f := range r.Findings {
		if i == auditTableFindings {
			break
		}
		head := fmt.Sprintf("%2d. %s %s  %s", i+1, strings.ToUpper(string(f.Severity[:1])), f.Kind, auditCut(f.DataSource, 30))
		if f.Tier != "" {
			head += "  tier " + auditCut(f.Tier, 20)
		}
		if f.ExpectedReplicas > 0 || f.Kind == audit.KindUnavailable || f.Kind == audit.KindUnderReplicated ||
			f.Kind == audit.KindOverReplicated {
			head += fmt.Sprintf("  replicas %d of %d", f.ActualReplicas, f.ExpectedReplicas)
		}
		fmt.Fprintln(w, auditCut(head, 99))
		if f.SegmentID != "" {
			fmt.Fprintf(w, "    %s\n", auditCutMiddle(f.SegmentID, 95))
		}
		if f.Object != "" {
			fmt.Fprintf(w, "    %s\n", auditCutMiddle(f.Object, 95))
		}
		if len(f.Servers) > 0 {
			auditWrap(w, "    on ", strings.Join(f.Servers, ", "))
		}
		auditWrap(w, "    ", f.Detail)
	}
	if rest := t.Findings - min(len(r.Findings), auditTableFindings); rest > 0 {
		fmt.Fprintf(w, "… and %d more findings; --format json lists them.\n", rest)
	}
}

func auditItoa(n int) string { return fmt.Sprint(n) }

// auditCut shortens s to at most n runes, marking the cut with an ellipsis. Every string of the report reaches the
// table through auditCut, auditCutMiddle or auditWrap, which make it printable first: names read from the cluster
// may hold terminal escape sequences.
func auditCut(s string, n int) string {
	s = safetext.Printable(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// auditCutMiddle shortens s to at most n runes by cutting its middle, which keeps a segment id's dataSource and
// version readable.
func auditCutMiddle(s string, n int) string {
	s = safetext.Printable(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// auditWrap writes text after prefix, wrapped at word boundaries to 99 columns; continuation lines are indented
// like the prefix.
func auditWrap(w io.Writer, prefix, text string) {
	const width = 99
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	line := prefix
	empty := true
	for _, word := range strings.Fields(text) {
		word = auditCut(word, width-len(indent))
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			fmt.Fprintln(w, line)
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty {
		fmt.Fprintln(w, line)
	}
}
