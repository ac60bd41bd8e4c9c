package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// `cluster` names the latch holder with the lowest sequence (not the lowest name), lists the announced node with
// its version (druid-sidecar's own), tier and sizes for people, and counts its batch segments and bytes.
func TestClusterCommand(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	sets := []string{"--set", "druid.zk.service.host=" + z.ConnectString, "--set", "druid.host=127.0.0.61",
		"--set", "druid.server.maxSize=10g", "--set", "druid.server.tier=hot",
		"--set", `druid.segmentCache.locations=[{"path":"` + t.TempDir() + `","maxSize":8000000000}]`}
	latch := z.Path("druid/coordinator/_COORDINATOR")
	for _, p := range []string{z.Path("druid"), z.Path("druid/coordinator"), latch} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// "_c_ffff…-latch-0000000001" sorts after "_c_0000…-latch-0000000002" by name, but leads by sequence.
	for _, l := range []struct{ name, url string }{
		{"_c_00000000-0000-0000-0000-000000000000-latch-0000000002", "http://127.0.0.62:8081"},
		{"_c_ffffffff-ffff-ffff-ffff-ffffffffffff-latch-0000000001", "http://127.0.0.63:8081"},
	} {
		if _, err := conn.Create(latch+"/"+l.name, []byte(l.url), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	var cfgSets []string
	for i := 1; i < len(sets); i += 2 {
		cfgSets = append(cfgSets, sets[i])
	}
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: cfgSets})
	if err != nil {
		t.Fatal(err)
	}
	a, err := announcer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer a.Stop(ctx)
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	var segs []*segments.DataSegment
	for i := range 3 {
		start := segments.Instant(1704067200000 + int64(i)*86400000)
		segs = append(segs, &segments.DataSegment{DataSource: "wiki", Interval: segments.Interval{Start: start, End: start + 86400000},
			Version: "v1", LoadSpec: []byte(`{"type":"local","path":"/x"}`), ShardSpec: segments.NumberedShardSpec(0, 1),
			Size: 1_250_000_000})
	}
	if err := a.AnnounceSegments(ctx, segs...); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCLI(t, []string{}, append([]string{"cluster", "--format", "json"}, sets...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c announcer.Cluster
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if c.Coordinator == nil || c.Coordinator.URL != "http://127.0.0.63:8081" || c.Overlord != nil {
		t.Errorf("leaders: %+v %+v", c.Coordinator, c.Overlord)
	}
	// The JSON keeps bytes, for programs; storageSize is the locations' sum, as a Druid 37+ Historical announces it.
	if len(c.Nodes) != 1 || c.Nodes[0].DataNode == nil || c.Nodes[0].DataNode.MaxSize != 10_000_000_000 ||
		c.Nodes[0].DataNode.StorageSize != 8_000_000_000 ||
		c.Nodes[0].Version != "druid-sidecar/"+version || len(c.Inventory) != 1 || c.Inventory[0].Bytes != 3_750_000_000 {
		t.Errorf("nodes: %s", stdout)
	}
	code, stdout, stderr = runCLI(t, []string{}, append([]string{"cluster"}, sets...)...)
	t.Logf("table:\n%s", stdout)
	row := regexp.MustCompile(`(?m)^HISTORICAL +127\.0\.0\.61:8083 +druid/historical +druid-sidecar/\S+ +hot +3 +3\.8 GB +10\.0 GB +8\.0 GB +37\.5%$`)
	if code != exitOK || !strings.Contains(stdout, "Coordinator leader: http://127.0.0.63:8081") ||
		!strings.Contains(stdout, "Overlord leader:    (none)") || !row.MatchString(stdout) {
		t.Errorf("exit %d, table:\n%s%s", code, stdout, stderr)
	}
}
