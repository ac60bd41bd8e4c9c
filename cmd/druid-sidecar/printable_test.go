package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// hostile is what a process that can write to ZooKeeper, announce itself or publish a segment could put in a
// name: a screen clear, a window title change, a forged line and a right-to-left override.
const hostile = "evil\x1b[2J\x1b]0;pwned\x07\r\n[ERROR] forged\t\u202etxt.exe\u009b31m"

// requirePrintable fails the test when a text output holds a character that acts on a terminal: anything
// safetext.Printable escapes, line feeds between lines aside.
func requirePrintable(t *testing.T, what, out string) {
	t.Helper()
	checkPrintable(t, what, out)
	if !strings.Contains(out, `evil\x1b[2J`) {
		t.Errorf("%s does not show the hostile name escaped:\n%s", what, out)
	}
}

// checkPrintable is requirePrintable for an output that need not show the name.
func checkPrintable(t *testing.T, what, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if !safetext.IsPrintable(line) {
			t.Errorf("%s, line %d: %q", what, i+1, line)
		}
	}
}

// TestAuditTableIsPrintable: every string of a report that reaches the table (dataSources, servers, tiers, server
// types, errors, warnings, segment ids, objects, details) comes out with its escapes neutralized.
func TestAuditTableIsPrintable(t *testing.T) {
	h := hostile
	rep := &audit.Report{
		GeneratedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Inputs:      audit.Inputs{MetadataStore: h, ZooKeeper: h, DeepStorage: h, DeepStorageChecked: true},
		Servers:     []audit.ServerReport{{Name: h, Role: h, ServerType: h, Tier: h, Source: audit.SourceUnreachable, Error: h}},
		DataSources: []audit.DataSourceSummary{{DataSource: h, UsedSegments: 1, FindingsByKind: map[audit.Kind]int{audit.KindUnavailable: 1}}},
		Findings: []audit.Finding{{Kind: audit.KindUnavailable, Severity: audit.SeverityCritical, DataSource: h, SegmentID: h + "_2025",
			Tier: h, ExpectedReplicas: 2, Servers: []string{h, h}, Object: "s3://b/" + h, Detail: h}},
		Warnings: []string{h},
		Totals:   audit.Totals{Findings: 1, FindingsByKind: map[audit.Kind]int{audit.KindUnavailable: 1}, UnreachableServers: 1},
	}
	var out bytes.Buffer
	writeAuditTable(&out, rep)
	requirePrintable(t, "audit table", out.String())
}

// TestClusterTableIsPrintable: a node announcing itself with escape sequences in its host, service, version and
// tier, and a Coordinator latch holding one in its URL, do not reach the operator's terminal raw.
func TestClusterTableIsPrintable(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	acl := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"druid", "druid/internal-discovery", "druid/internal-discovery/HISTORICAL", "druid/coordinator",
		"druid/coordinator/_COORDINATOR"} {
		if _, err := conn.Create(z.Path(p), nil, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	node := `{"druidNode":{"service":` + q(hostile) + `,"host":` + q(hostile) + `,"bindOnHost":false,"plaintextPort":8083,` +
		`"port":-1,"tlsPort":-1,"enablePlaintextPort":true,"enableTlsPort":false,"version":` + q(hostile) + `},` +
		`"nodeType":"historical","services":{"dataNodeService":{"type":"dataNodeService","tier":` + q(hostile) + `,` +
		`"maxSize":1000,"type":"historical","serverType":"historical","priority":0}},"startTime":"2026-01-01T00:00:00.000Z"}`
	if _, err := conn.Create(z.Path("druid/internal-discovery/HISTORICAL/127.0.0.64:8083"), []byte(node), zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create(z.Path("druid/coordinator/_COORDINATOR/_c_00000000-0000-0000-0000-000000000000-latch-0000000001"),
		[]byte("http://"+hostile), zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, []string{}, "cluster", "--set", "druid.zk.service.host="+z.ConnectString)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	requirePrintable(t, "cluster table", stdout)
	checkPrintable(t, "cluster's standard error", stderr)
}

// TestCacheLsIsPrintable: a segment whose dataSource holds escape sequences, pulled into the cache as a
// Coordinator's load would, lists with them neutralized.
func TestCacheLsIsPrintable(t *testing.T) {
	deep, loc := t.TempDir(), t.TempDir()
	set := []string{"--set", `druid.segmentCache.locations=[{"path":"` + loc + `","maxSize":"1m"}]`}
	zip, size := writeIndexZip(t, deep, 1)
	segFile := filepath.Join(deep, "segment.json")
	ds, _ := json.Marshal(hostile)
	seg := strings.Replace(segmentJSON("DATASOURCE", 1, zip, size), `"DATASOURCE"`, string(ds), 1)
	if err := os.WriteFile(segFile, []byte(seg), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLIStdin(t, "", append(append([]string{"cache", "pull"}, set...), segFile)...); code != exitOK {
		t.Fatalf("cache pull: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLIStdin(t, "", append([]string{"cache", "ls"}, set...)...)
	if code != exitOK {
		t.Fatalf("cache ls: exit %d: %s", code, stderr)
	}
	requirePrintable(t, "cache ls", stdout)
}
