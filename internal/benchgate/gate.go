package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Target is one performance target: the median of Metric over a benchmark's runs must satisfy Op Limit.
type Target struct {
	Bench  string // the top-level benchmark, as in its func name
	Pkg    string // the package that holds it
	Metric string // the unit it reports with b.ReportMetric
	Op     string // "<=", "<" or ">="
	Limit  float64
	// RoundsEnv, when set, names the variable that makes the benchmark measure that many rounds over one setup and
	// report each figure as their median: it is run once with the rounds the gate wants, since its setup dwarfs a
	// round (BenchmarkAuditMillion: a million rows and 20 inventories).
	RoundsEnv string
}

// met reports whether v satisfies the target.
func (t Target) met(v float64) bool {
	switch t.Op {
	case "<=":
		return v <= t.Limit
	case "<":
		return v < t.Limit
	case ">=":
		return v >= t.Limit
	}
	panic("benchgate: unknown operator " + t.Op)
}

// targets are the performance targets of the project (the performance issue's table): each ratio is measured
// against a baseline taken in the same run, so that the machine's speed cancels out.
var targets = []Target{
	{"BenchmarkServeLoad200", "./cmd/druid-sidecar", "x-raw-pull", "<=", 1.25, ""},
	{"BenchmarkAnnounceBootstrap", "./announcer", "x-raw", "<=", 1.2, ""},
	{"BenchmarkAuditMillion", "./cmd/druid-sidecar", "x-copy", "<=", 2.0, auditRounds},
	{"BenchmarkAuditMillion", "./cmd/druid-sidecar", "audit-peak-RSS-MiB", "<", 512, auditRounds},
	{"BenchmarkServeRestart100k", "./cmd/druid-sidecar", "x-walk-infodir", "<=", 1.2, restartRounds},
	{"BenchmarkCachePull", "./cmd/druid-sidecar", "x-get-unzip", ">=", 0.9, ""},
}

const (
	auditRounds   = "DRUID_SIDECAR_BENCH_AUDIT_ROUNDS"
	restartRounds = "DRUID_SIDECAR_BENCH_RESTART_ROUNDS" // writing its 100,000 cached segments takes minutes
)

// Results are what one benchmark's output says: the metrics of each run that completed, in order, and whether any
// run failed or was skipped.
type Results struct {
	Runs   []map[string]float64
	Failed bool
}

var (
	// benchName opens a result line: the name, with the -GOMAXPROCS suffix when it is not 1.
	benchName = regexp.MustCompile(`^(Benchmark[^\s/]*?)(?:-\d+)?(/\S*)?\s`)
	// benchFigures is the rest of a result line: the iteration count, then value-unit pairs, ns/op first.
	benchFigures = regexp.MustCompile(`(?:^|\s)(\d+)\s+([-+0-9.eE]+ ns/op.*)$`)
	// benchFailed is what testing prints when a benchmark (or one of its runs) fails or skips; a run after the
	// first fails on the line its name opened.
	benchFailed = regexp.MustCompile(`--- (?:FAIL|SKIP): (Benchmark[^\s/]*?)(?:-\d+)?(?:/\S*)?(?:\s|$)`)
)

// Parse reads `go test -bench` output and returns each top-level benchmark's results. A result line may be split:
// testing prints the name before the run and the figures after it, so whatever the benchmark writes to the same
// stream meanwhile (a child process's log) comes between them; the figures belong to the last name seen. Results
// of sub-benchmarks count as runs of their parent.
func Parse(r io.Reader) (map[string]*Results, error) {
	out := map[string]*Results{}
	get := func(name string) *Results {
		if out[name] == nil {
			out[name] = &Results{}
		}
		return out[name]
	}
	pending := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := benchFailed.FindStringSubmatch(line); m != nil {
			get(m[1]).Failed = true
			pending = ""
			continue
		}
		if m := benchName.FindStringSubmatch(line); m != nil {
			pending = m[1]
			line = line[len(m[0]):]
		}
		m := benchFigures.FindStringSubmatch(line)
		if m == nil || pending == "" {
			continue
		}
		fields := strings.Fields(m[2])
		run := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: figure %q of %q: %v", pending, fields[i], fields[i+1], err)
			}
			run[fields[i+1]] = v
		}
		get(pending).Runs = append(get(pending).Runs, run)
		pending = ""
	}
	return out, sc.Err()
}

// Verdicts, from the best to the worst; a row's verdict says which of them it is, so that a missed target is never
// confused with a benchmark that did not measure.
const (
	Pass     = "pass"
	Missed   = "FAIL: target missed"
	NoMetric = "FAIL: metric missing"
	Broken   = "FAIL: benchmark failed"
	NoResult = "FAIL: no result"
)

// Row is one target's line of the table.
type Row struct {
	Target
	Values  []float64 // the metric of each run that reported it
	Rounds  int       // with RoundsEnv, the rounds each value is the median of
	Median  float64
	Verdict string
}

// Evaluate judges every target against the results. count is the number of runs asked for: a benchmark with
// fewer results (a run that failed) is failed even when the others reported. A benchmark that takes its own rounds
// is run once, its figure already the median of count rounds.
func Evaluate(ts []Target, res map[string]*Results, count int) []Row {
	rows := make([]Row, 0, len(ts))
	for _, t := range ts {
		row := Row{Target: t, Rounds: count}
		want := count
		if t.RoundsEnv != "" {
			want = 1
		}
		r := res[t.Bench]
		if r != nil {
			for _, run := range r.Runs {
				if v, ok := run[t.Metric]; ok {
					row.Values = append(row.Values, v)
				}
			}
		}
		switch {
		case r == nil || (len(r.Runs) == 0 && !r.Failed):
			row.Verdict = NoResult
		case r.Failed || len(r.Runs) < want:
			row.Verdict = Broken
		case len(row.Values) < len(r.Runs):
			row.Verdict = NoMetric
		default:
			row.Median = median(row.Values)
			row.Verdict = Missed
			if t.met(row.Median) {
				row.Verdict = Pass
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// median is the middle value, or the mean of the two middle ones.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ExitCode is the gate's exit status: 0 when every target is met, 1 when a target is missed and every benchmark
// measured, 2 when a benchmark failed or a result or metric is missing.
func ExitCode(rows []Row) int {
	code := 0
	for _, r := range rows {
		switch r.Verdict {
		case Pass:
		case Missed:
			code = max(code, 1)
		default:
			code = 2
		}
	}
	return code
}

// WriteTable prints the rows as an aligned table.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCHMARK\tMETRIC\tRUNS\tMEDIAN\tTARGET\tVERDICT")
	for _, r := range rows {
		runs := make([]string, len(r.Values))
		for i, v := range r.Values {
			runs[i] = formatFigure(v)
		}
		if r.RoundsEnv != "" && len(runs) > 0 {
			runs = append(runs, fmt.Sprintf("(one run, the median of %d rounds)", r.Rounds))
		}
		med := "-"
		if r.Verdict == Pass || r.Verdict == Missed {
			med = formatFigure(r.Median)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", r.Bench, r.Metric, strings.Join(runs, " "), med, r.Op,
			formatFigure(r.Limit), r.Verdict)
	}
	return tw.Flush()
}

// formatFigure prints a ratio with three significant decimals and a larger figure (MiB) with fewer.
func formatFigure(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
