package announcer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/discovery"
)

// The discovery and legacy payloads are compared with hand-written files that follow Java's bytes
// (druid-protocol.md 2.1, 2.2): key order, the duplicate "type", labels before version.
func TestNodePayloadsMatchJava(t *testing.T) {
	cfg := zktConfig(t, "127.0.0.1:2181")
	start := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		file string
		got  []byte
	}{
		{"discovery_historical.json", discoveryNodeJSON(cfg, start, nil)},
		{"announcement_historical.json", serverMetadataJSON(cfg)},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(c.got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", c.file, c.got, want)
		}
	}

	got := discoveryNodeJSON(cfg, start, map[string]string{"zone": "b\"1", "app": "x"})
	n, err := discovery.ParseNode(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := `,"enableTlsPort":false,"labels":{"app":"x","zone":"b\"1"},"version":"36.0.0"}`; !strings.Contains(string(got), want) {
		t.Errorf("labels: %s does not contain %s", got, want)
	}
	if n.DataNode == nil || n.DataNode.ServerType != "historical" || n.DataNode.MaxSize != 300000000000 || n.Services[0] != "dataNodeService" {
		t.Errorf("parsed back: %+v", n)
	}
}
