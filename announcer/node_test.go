package announcer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/discovery"
)

// The legacy announcement is compared with a hand-written file that follows Java's bytes (druid-protocol.md 2.1),
// with Druid 37's storageSize: the locations' 100 GB and 150 GB, not druid.server.maxSize.
func TestServerMetadataMatchesJava(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "announcement_historical.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := zktConfig(t, "127.0.0.1:2181", `druid.segmentCache.locations=[{"path":"/mnt/a","maxSize":100000000000},`+
		`{"path":"/mnt/b","maxSize":150000000000}]`)
	if got := serverMetadataJSON(cfg); string(got) != string(want) {
		t.Errorf("announcement_historical.json:\n got %s\nwant %s", got, want)
	}
}

// recordingNode is a discovery backend other than ZooKeeper as the Announcer sees it: it records the calls.
type recordingNode struct{ calls []string }

func (r *recordingNode) Announce(context.Context) error {
	r.calls = append(r.calls, "announce")
	return nil
}
func (r *recordingNode) Unannounce(context.Context) error {
	r.calls = append(r.calls, "unannounce")
	return nil
}

// Without ZooKeeper, a node announcer given with WithNodeAnnouncer is what announces and withdraws the node,
// Stop included; with ZooKeeper, the node's znode is announced there unless one is given.
func TestNodeAnnouncedThroughDiscovery(t *testing.T) {
	cfg := zktConfig(t, "127.0.0.1:1", "druid.zk.service.enabled=false")
	n := &recordingNode{}
	a, err := New(cfg, WithNodeAnnouncer(n))
	if err != nil {
		t.Fatal(err)
	}
	ctx := zktCtx(t, 5*time.Second)
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.UnannounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"announce", "unannounce", "announce", "unannounce"}; !slices.Equal(n.calls, want) {
		t.Errorf("calls %v, want %v", n.calls, want)
	}
	if err := a.AnnounceNode(ctx); !errors.Is(err, ErrStopped) || len(n.calls) != 4 {
		t.Errorf("after Stop: %v, calls %v", err, n.calls)
	}

	zkCfg := zktConfig(t, "127.0.0.1:1")
	b, err := New(zkCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	if zn, ok := b.node.(*discovery.ZooKeeperAnnouncer); !ok || zn.Path() != "/druid/internal-discovery/HISTORICAL/127.0.0.7:8083" {
		t.Errorf("with ZooKeeper the node announcer is %T", b.node)
	}
}
