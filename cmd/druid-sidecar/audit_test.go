package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
	"github.com/druid-sidecar/druid-sidecar/metadata"
)

func auditArgs(sets []string, extra ...string) []string {
	args := append([]string{"audit"}, extra...)
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// `audit` exits 1 on the planted defects, and its table and JSON say the same: the totals, the per-dataSource
// counts and the worst findings in the same order, in lines of at most 100 columns.
func TestAuditCommandFindings(t *testing.T) {
	c := audittest.New(t, audittest.Options{})
	code, stdout, stderr := runCLI(t, []string{}, auditArgs(c.Sets, "--format", "json", "--grace", "0")...)
	if code != exitFailure {
		t.Fatalf("json: exit %d, want 1: %s", code, stderr)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, stdout)
	}
	if rep.ReportVersion != audit.ReportVersion || rep.Totals.Findings != len(c.Planted) || len(rep.Findings) != len(c.Planted) {
		t.Fatalf("report: version %d, %d findings, want %d", rep.ReportVersion, rep.Totals.Findings, len(c.Planted))
	}
	kinds := map[string]bool{}
	for _, f := range rep.Findings {
		kinds[string(f.Kind)] = true
	}
	for _, p := range c.Planted {
		if !kinds[p.Kind] {
			t.Errorf("no %s finding in the JSON report", p.Kind)
		}
	}

	code, table, stderr := runCLI(t, []string{}, auditArgs(c.Sets, "--grace", "0")...)
	if code != exitFailure {
		t.Fatalf("table: exit %d, want 1: %s", code, stderr)
	}
	t.Logf("table:\n%s", table)
	for i, line := range strings.Split(table, "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("table line %d has %d columns: %q", i+1, n, line)
		}
	}
	tot := rep.Totals
	totalRow := regexp.MustCompile(`(?m)^TOTAL +(\d+) +\S+ \S+ +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$`).FindStringSubmatch(table)
	want := fmt.Sprint([]int{tot.UsedSegments, tot.ExpectedSegments, tot.AvailableSegments, tot.UnavailableSegments,
		tot.UnderReplicated, tot.OverReplicated, tot.Findings})
	if totalRow == nil || fmt.Sprint(atoiAll(totalRow[1:])) != want {
		t.Errorf("TOTAL row %q, want the JSON totals %s", totalRow, want)
	}
	for _, d := range rep.DataSources {
		n := 0
		for _, c := range d.FindingsByKind {
			n += c
		}
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(d.DataSource) + ` +(\d+) .* (\d+)$`).FindStringSubmatch(table)
		if row == nil || row[1] != fmt.Sprint(d.UsedSegments) || row[2] != fmt.Sprint(n) {
			t.Errorf("dataSource %s: table row %q, JSON used %d findings %d", d.DataSource, row, d.UsedSegments, n)
		}
	}
	if !strings.Contains(table, fmt.Sprintf("Findings: %d (", tot.Findings)) ||
		!strings.Contains(table, "1 over HTTP, 1 from ZooKeeper, 1 unreachable") {
		t.Errorf("the table lacks the findings count or the servers' sources")
	}
	// The findings in the JSON order: each one's kind heads a block, and its segment or object follows.
	pos := 0
	for i, f := range rep.Findings {
		head := fmt.Sprintf("%2d. %s %s", i+1, strings.ToUpper(string(f.Severity[:1])), f.Kind)
		at := strings.Index(table[pos:], head)
		if at < 0 {
			t.Errorf("finding %d (%s) is not in the table after position %d", i+1, f.Kind, pos)
			break
		}
		pos += at
		what := f.SegmentID
		if what == "" {
			what = f.Object
		}
		if !strings.Contains(table[pos:], auditCutMiddle(what, 95)) {
			t.Errorf("finding %d: %s is not in the table", i+1, what)
		}
	}

	// --output writes the report to the file instead.
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, _ = runCLI(t, []string{}, auditArgs(c.Sets, "--format", "json", "--datasource", "events", "--output", out)...)
	data, err := os.ReadFile(out)
	if code != exitFailure || stdout != "" || err != nil || json.Unmarshal(data, &rep) != nil || rep.Totals.Findings != 1 {
		t.Errorf("--output: exit %d, stdout %q, file %v %.200s", code, stdout, err, data)
	}
	code, page, stderr := runCLI(t, []string{}, auditArgs(c.Sets, "--format", "html", "--skip-deep-storage")...)
	if code != exitFailure || !strings.Contains(strings.ToLower(page), "<html") {
		t.Errorf("html: exit %d, %s, page %.200s", code, stderr, page)
	}
}

func atoiAll(ss []string) []int {
	out := make([]int, len(ss))
	for i, s := range ss {
		fmt.Sscan(s, &out[i])
	}
	return out
}

// A healthy cluster exits 0; an unreachable metadata store or ZooKeeper exits 2 with one line naming it.
func TestAuditCommandHealthyAndUnreachable(t *testing.T) {
	c := audittest.New(t, audittest.Options{Healthy: true})
	code, stdout, stderr := runCLI(t, []string{}, auditArgs(c.Sets)...)
	if code != exitOK || !strings.Contains(stdout, "No findings.") {
		t.Fatalf("healthy: exit %d\n%s%s", code, stdout, stderr)
	}

	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	pgAddr, zkAddr := closed(), closed()
	for _, tc := range []struct {
		name, set, want string
	}{
		{"metadata store", "druid.metadata.storage.connector.connectURI=jdbc:postgresql://" + pgAddr + "/druid", "PostgreSQL at " + pgAddr},
		{"ZooKeeper", "druid.zk.service.host=" + zkAddr, "ZooKeeper at " + zkAddr},
	} {
		sets := append(append([]string{}, c.Sets...), tc.set, "druid.zk.service.connectionTimeoutMs=1500")
		code, _, stderr := runCLI(t, []string{}, auditArgs(sets)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != exitBadInput || len(lines) != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s unreachable: exit %d, stderr:\n%s", tc.name, code, stderr)
		}
	}
	if code, _, _ := runCLI(t, []string{}, auditArgs(c.Sets, "--format", "xml")...); code != exitBadInput {
		t.Errorf("--format xml: exit %d", code)
	}
}

// The 2026 state is in the table too: the dynamic configuration read, the clone, the partial loads and the
// segment only a task serves; a rules row the Coordinator cannot read, and an empty defaultRule, exit 2 with one
// line naming what.
func TestAuditCommandDruid38(t *testing.T) {
	c := audittest.New(t, audittest.Options{Druid38: true})
	code, table, stderr := runCLI(t, []string{}, auditArgs(c.Sets, "--grace", "0", "--skip-deep-storage")...)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	t.Logf("table:\n%s", table)
	for _, want := range []string{"dynamic config: the coordinator.config row of druid_config", "default rules:  _default",
		"clone " + c.Servers[audittest.HostClone] + " of " + c.Servers[audittest.HostHTTP], "stale_replica", "served_only_by_task",
		"Partial loads: 2 expected segments; 1 with stale replicas", "Served only by ingestion tasks: 1"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	for i, line := range strings.Split(table, "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("table line %d has %d columns: %q", i+1, n, line)
		}
	}

	code, _, stderr = runCLI(t, []string{}, auditArgs(append(c.Sets, "druid.manager.rules.defaultRule="))...)
	if code != exitBadInput || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "druid.manager.rules.defaultRule is empty") {
		t.Errorf("empty defaultRule: exit %d, %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := metadata.InsertRules(ctx, c.PG.Conn(t), c.Config.Metadata.Tables, "wiki", time.Now(), []byte(`[{"type":"loadForever","tieredReplicants":{"hot":"two"}}]`)); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, []string{}, auditArgs(c.Sets)...)
	if code != exitBadInput || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, `rules of dataSource "wiki": rule 0`) {
		t.Errorf("an unreadable rules row: exit %d, %s", code, stderr)
	}
}
