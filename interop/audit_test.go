package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/realdruid"
)

// auditReport is what `druid-sidecar audit --format json` prints, as far as these tests read it.
type auditReport struct {
	Servers []struct {
		Name     string `json:"name"`
		Source   string `json:"source"`
		Segments int    `json:"segments"`
		Error    string `json:"error"`
	} `json:"servers"`
	Findings []struct {
		Kind      string   `json:"kind"`
		SegmentID string   `json:"segmentId"`
		Tier      string   `json:"tier"`
		Expected  int      `json:"expectedReplicas"`
		Actual    int      `json:"actualReplicas"`
		Servers   []string `json:"servers"`
		Object    string   `json:"object"`
		Detail    string   `json:"detail"`
	} `json:"findings"`
	Warnings []string `json:"warnings"`
}

// TestAudit: `audit` against the real cluster. Three days of data: all on serve (tier A), the third also on a
// Java Historical (tier B), as the rules ask. The audit of a healthy cluster finds nothing and exits 0. Then,
// through real APIs and with the Coordinator paused (it would repair each within a period): the first day's
// index.zip is deleted from S3, the second day is marked unused while still served, and the Java Historical
// stops, taking the third day's tier-B replica with it. The audit reports exactly those three, and exits 1.
func TestAudit(t *testing.T) {
	c := realdruid.Up(t)
	if c.Storage != "s3" || c.Metadata != "postgresql" {
		t.Skipf("Druid %s runs on %s and %s here; audit reads PostgreSQL and lists S3", c.Version, c.Metadata, c.Storage)
	}
	tierA, tierB := uniqueName("interop_audit_a_"), uniqueName("interop_audit_b_")
	ds := uniqueName("interop_audit_")
	c.SetRules(t, ds, realdruid.LoadByInterval("2025-03-03/2025-03-04", map[string]int{tierA: 1, tierB: 1}),
		realdruid.LoadForever(map[string]int{tierA: 1}))
	java := c.Historical(t, 1, realdruid.HistoricalOptions{Tier: tierB, FreshCache: true})
	up := startUpstream(t)
	n := newServeNode(t, c, tierA, up.URL)
	n.Start()

	segs := c.Ingest(t, ds, []realdruid.Row{
		{"ts": "2025-03-01T01:00:00Z", "page": "a", "user": "u", "added": 1},
		{"ts": "2025-03-02T01:00:00Z", "page": "b", "user": "u", "added": 2},
		{"ts": "2025-03-03T01:00:00Z", "page": "c", "user": "u", "added": 3},
	})
	want := ids(segs)
	if len(want) != 3 {
		t.Fatalf("the Indexer published %d segments, want 3: %v", len(want), want)
	}
	realdruid.WaitFor(t, "every segment placed as the rules say", 2*time.Minute, func() (bool, string) {
		onServe, onJava := c.ServerSegments(t, n.Host), c.ServerSegments(t, java)
		return equal(onServe, want) && equal(onJava, want[2:]), fmt.Sprintf("serve %v, Java %v", onServe, onJava)
	})

	props := filepath.Join(t.TempDir(), "common.runtime.properties")
	if err := os.WriteFile(props, []byte(strings.Join(c.CommonProperties(), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := func() (int, auditReport) {
		t.Helper()
		start := time.Now()
		code, stdout, stderr := runCLI(t, "audit", "--properties", props, "--datasource", ds, "--grace", "0", "--format", "json")
		var r auditReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("druid-sidecar audit: exit %d, no JSON report (%v): %s\n%s", code, err, stderr, stdout)
		}
		t.Logf("audit: exit %d in %v, %d findings, servers %+v, warnings %q", code, time.Since(start).Round(time.Millisecond),
			len(r.Findings), r.Servers, r.Warnings)
		return code, r
	}

	// Healthy: every data server read over HTTP (the Java Historical's inventory and serve's), nothing found.
	code, r := audit()
	if code != 0 || len(r.Findings) != 0 {
		t.Fatalf("the audit of a healthy cluster: exit %d, findings %+v; want exit 0 and none", code, r.Findings)
	}
	for _, s := range r.Servers {
		if s.Source != "http" {
			t.Errorf("server %s read from %q (%s), want its HTTP inventory", s.Name, s.Source, s.Error)
		}
	}

	// Plant the three faults, the Coordinator paused so that it repairs none.
	c.PauseCoordination(t)
	var lost realdruid.Segment
	for _, s := range segs {
		if s.ID == want[0] {
			lost = s
		}
	}
	var ls struct{ Key string }
	if err := json.Unmarshal(lost.LoadSpec, &ls); err != nil || ls.Key == "" {
		t.Fatalf("segment %s has no S3 key in its loadSpec %s", lost.ID, lost.LoadSpec)
	}
	c.DeleteObject(t, ls.Key)
	c.MarkSegmentUnused(t, ds, want[1])
	realdruid.WaitFor(t, "druid_segments marks the second day unused", 30*time.Second, func() (bool, string) {
		used := ids(c.UsedSegments(t, ds))
		return equal(used, []string{want[0], want[2]}), fmt.Sprintf("%v", used)
	})
	c.StopHistorical(t, 1)
	realdruid.WaitFor(t, "the Java Historical gone from the cluster", time.Minute, func() (bool, string) {
		_, ok := c.Server(t, java)
		return !ok, "still listed"
	})
	if got := c.ServerSegments(t, n.Host); !equal(got, want) {
		t.Fatalf("the paused Coordinator changed serve's segments: %v, want %v", got, want)
	}

	code, r = audit()
	var got []string
	for _, f := range r.Findings {
		got = append(got, fmt.Sprintf("%s %s %s %d/%d %s %s", f.Kind, f.SegmentID, f.Tier, f.Actual, f.Expected, strings.Join(f.Servers, ","), f.Object))
	}
	sort.Strings(got)
	expect := []string{
		fmt.Sprintf("missing_in_deep_storage %s  1/0 %s s3://%s/%s", want[0], n.Host, c.Bucket, ls.Key),
		fmt.Sprintf("under_replicated %s %s 0/1  ", want[2], tierB),
		fmt.Sprintf("unused_served %s  1/0 %s ", want[1], n.Host),
	}
	sort.Strings(expect)
	if code != 1 || !equal(got, expect) {
		t.Errorf("the audit after the three faults: exit %d, findings\n%s\nwant exit 1 and\n%s", code, strings.Join(got, "\n"), strings.Join(expect, "\n"))
	}
	for _, f := range r.Findings {
		t.Logf("%s %s: %s", f.Kind, f.SegmentID, f.Detail)
	}
}
