package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// The discovery payload is compared with a hand-written file that follows Java's bytes (druid-protocol.md 2.2):
// key order, the duplicate "type", labels before version, Druid 37's storageSize (the locations' sum, not
// druid.server.maxSize) after maxSize; and a Broker's reading of it gives back what was written.
func TestHistoricalNodeJSONMatchesJava(t *testing.T) {
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{"druid.host=127.0.0.7",
		"druid.plaintextPort=8083", "druid.zk.service.host=127.0.0.1:2181", "druid.server.maxSize=300000000000",
		"druid.sidecar.version=36.0.0",
		`druid.segmentCache.locations=[{"path":"/mnt/a","maxSize":100000000000},{"path":"/mnt/b","maxSize":150000000000}]`}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	want, err := os.ReadFile(filepath.Join("testdata", "discovery_historical.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := HistoricalNodeJSON(cfg, start, nil); string(got) != string(want) {
		t.Errorf("discovery_historical.json:\n got %s\nwant %s", got, want)
	}

	got := HistoricalNodeJSON(cfg, start, map[string]string{"zone": "b\"1", "app": "x"})
	n, err := ParseNode(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := `,"enableTlsPort":false,"labels":{"app":"x","zone":"b\"1"},"version":"36.0.0"}`; !strings.Contains(string(got), want) {
		t.Errorf("labels: %s does not contain %s", got, want)
	}
	if n.DataNode == nil || n.DataNode.ServerType != "historical" || n.DataNode.MaxSize != 300000000000 ||
		n.DataNode.StorageSize != 250000000000 || n.Services[0] != "dataNodeService" {
		t.Errorf("parsed back: %+v", n)
	}
	if a := NewZooKeeperAnnouncer(nil, cfg, RoleHistorical, got); a.Path() != "/druid/internal-discovery/HISTORICAL/127.0.0.7:8083" {
		t.Errorf("znode path %s", a.Path())
	}
}
