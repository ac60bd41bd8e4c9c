package discovery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// A pre-0.23 payload (no serverType) gives the server type from the second "type"; the first stays the service's.
func TestParseNodeDuplicateType(t *testing.T) {
	n, err := ParseNode([]byte(`{"druidNode":{"host":"127.0.0.9","plaintextPort":8083},"nodeType":"historical",` +
		`"services":{"dataNodeService":{"type":"dataNodeService","tier":"hot","maxSize":5,"type":"historical","priority":3},` +
		`"lookupNodeService":{"type":"lookupNodeService","lookupTier":"__default"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	// No storageSize (a writer older than Druid 37): it is maxSize, as DruidServerMetadata reads it.
	if n.DataNode == nil || n.DataNode.ServerType != "historical" || n.DataNode.Tier != "hot" || n.DataNode.Priority != 3 ||
		n.DataNode.StorageSize != 5 || len(n.Services) != 2 || n.Services[0] != "dataNodeService" || n.Services[1] != "lookupNodeService" {
		t.Errorf("parsed: %+v %+v", n, n.DataNode)
	}
}

// A Broker reads internal discovery and the latches as this test does: nodes by role with their payload, the
// Coordinator leader by the lowest latch sequence (not the lowest name), no Overlord leader when its latch is empty.
func TestZooKeeperNodesAndLeaders(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.zk.service.host=" + z.ConnectString}})
	if err != nil {
		t.Fatal(err)
	}
	create := func(p, data string) {
		t.Helper()
		for i := 1; i < len(p); i++ {
			if p[i] == '/' {
				if _, err := conn.Create(z.Path(p[:i]), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
					t.Fatal(err)
				}
			}
		}
		if _, err := conn.Create(z.Path(p), []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	hist := `{"druidNode":{"service":"druid/historical","host":"127.0.0.3","plaintextPort":8083,"tlsPort":-1},` +
		`"nodeType":"historical","services":{"dataNodeService":{"type":"dataNodeService","tier":"hot","maxSize":9,` +
		`"type":"historical","serverType":"historical","priority":0}},"startTime":"2025-10-01T12:00:00.000Z"}`
	create("/druid/internal-discovery/HISTORICAL/127.0.0.3:8083", hist)
	create("/druid/internal-discovery/BROKER/127.0.0.4:8082",
		`{"druidNode":{"service":"druid/broker","host":"127.0.0.4","plaintextPort":8082},"nodeType":"broker","services":{}}`)
	create("/druid/coordinator/_COORDINATOR/_c_ffff-latch-0000000001", "http://127.0.0.5:8081")
	create("/druid/coordinator/_COORDINATOR/_c_0000-latch-0000000002", "http://127.0.0.6:8081")
	create("/druid/overlord/_OVERLORD/x", "")
	if err := conn.Delete(z.Path("/druid/overlord/_OVERLORD/x"), -1); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := OpenZooKeeper(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var _ Discovery = d
	nodes, err := d.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].Role != "BROKER" || nodes[1].Role != "HISTORICAL" ||
		nodes[1].Name != "127.0.0.3:8083" || nodes[1].DataNode == nil || nodes[1].DataNode.Tier != "hot" {
		t.Fatalf("nodes %+v (%v)", nodes, err)
	}
	if hs, err := d.Nodes(ctx, "HISTORICAL", "PEON"); err != nil || len(hs) != 1 || hs[0].Host != "127.0.0.3" {
		t.Fatalf("historicals %+v (%v)", hs, err)
	}
	if l, err := d.CoordinatorLeader(ctx); err != nil || l == nil || l.URL != "http://127.0.0.5:8081" {
		t.Fatalf("coordinator leader %+v (%v)", l, err)
	}
	if l, err := d.OverlordLeader(ctx); err != nil || l != nil {
		t.Fatalf("overlord leader %+v (%v), want none", l, err)
	}
}
