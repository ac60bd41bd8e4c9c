package interop

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/realdruid"
)

// clusterView is what `druid-sidecar cluster --format json` prints, as far as these tests read it.
type clusterView struct {
	Coordinator *struct{ URL string } `json:"coordinatorLeader"`
	Overlord    *struct{ URL string } `json:"overlordLeader"`
	Nodes       []struct {
		Role     string `json:"role"`
		Name     string `json:"name"`
		Service  string `json:"service"`
		DataNode *struct {
			Tier       string `json:"tier"`
			ServerType string `json:"serverType"`
		} `json:"dataNodeService"`
	} `json:"nodes"`
}

// TestClusterCommand: `cluster` names the real Coordinator and Overlord leaders as the Coordinator's own API does,
// and every real node with its role and, for data servers, tier, as the Broker's sys.servers lists them: the
// Coordinator-Overlord, the Broker, the Indexer, a Java Historical and a `serve` node.
func TestClusterCommand(t *testing.T) {
	c := realdruid.Up(t)
	javaTier := uniqueName("interop_java_")
	java := c.Historical(t, 1, realdruid.HistoricalOptions{Tier: javaTier})
	up := startUpstream(t)
	serveTier := uniqueName("interop_cluster_")
	n := newServeNode(t, c, serveTier, up.URL)
	n.Start()

	// sys.servers, the Broker's list of every discovered node: wait until it has both data servers.
	var servers []map[string]any
	realdruid.WaitFor(t, "sys.servers lists the Java Historical and serve", time.Minute, func() (bool, string) {
		servers = c.SQL(t, "SELECT server, server_type, tier FROM sys.servers ORDER BY server, server_type")
		var java1, serve1 bool
		for _, s := range servers {
			java1 = java1 || s["server"] == java
			serve1 = serve1 || s["server"] == n.Host
		}
		return java1 && serve1, fmt.Sprintf("%v", servers)
	})

	code, stdout, stderr := runCLI(t, "cluster", "--format", "json", "--properties", n.Props)
	if code != 0 {
		t.Fatalf("druid-sidecar cluster: exit %d: %s", code, stderr)
	}
	var v clusterView
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("druid-sidecar cluster --format json printed no JSON (%v):\n%s", err, stdout)
	}
	if want := c.Leader(t, false); v.Coordinator == nil || v.Coordinator.URL != want {
		t.Errorf("Coordinator leader %+v, want %s (GET /druid/coordinator/v1/leader)", v.Coordinator, want)
	}
	if want := c.Leader(t, true); v.Overlord == nil || v.Overlord.URL != want {
		t.Errorf("Overlord leader %+v, want %s (GET /druid/indexer/v1/leader)", v.Overlord, want)
	}

	// Every node of sys.servers, by name, role and tier; and no other.
	var want, got []string
	for _, s := range servers {
		tier, _ := s["tier"].(string)
		want = append(want, fmt.Sprintf("%s %s %s", s["server"], strings.ToUpper(s["server_type"].(string)), tier))
	}
	for _, node := range v.Nodes {
		tier := ""
		if node.DataNode != nil {
			tier = node.DataNode.Tier
		}
		got = append(got, fmt.Sprintf("%s %s %s", node.Name, node.Role, tier))
	}
	sort.Strings(want)
	sort.Strings(got)
	t.Logf("sys.servers and cluster: %d nodes:\n%s", len(want), strings.Join(want, "\n"))
	if !equal(got, want) {
		t.Errorf("druid-sidecar cluster lists the nodes\n%s\nsys.servers lists\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, node := range v.Nodes {
		if node.Name == java && (node.DataNode == nil || node.DataNode.ServerType != "historical" || node.Service != "druid/historical") {
			t.Errorf("the Java Historical is listed as %+v", node)
		}
	}
}
