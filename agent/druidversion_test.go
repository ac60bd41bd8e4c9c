package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// TestServeDruidVersionDefaults starts serve beside a leader Coordinator of Druid 29, 37 and 38, and one that
// cannot be reached: a Coordinator's load peon then loads a tombstone over HTTP, and ZooKeeper holds segment
// znodes except with 38 (which reads none), and the ZooKeeper load queue's znode only with 29 (whose Coordinator
// may use the curator load queue peon).
func TestServeDruidVersionDefaults(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	for i, tc := range []struct {
		name, version      string
		unreachable        bool
		segZNodes, zkQueue bool
	}{
		{name: "29", version: "29.0.0", segZNodes: true, zkQueue: true},
		{name: "37", version: "37.0.0", segZNodes: true},
		{name: "38", version: "38.0.0"},
		{name: "unreachable", unreachable: true, segZNodes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coord, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
			if err != nil {
				t.Fatal(err)
			}
			coord.SetVersion(tc.version)
			if tc.unreachable {
				coord.Close() // nothing listens on its port any more: connection refused
			} else {
				defer coord.Close()
			}
			port := freePort(t)
			cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(port),
				"druid.zk.service.host="+z.ConnectString,
				fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, t.TempDir()),
				"druid.sidecar.coordinator.url="+coord.URL())
			r := start(t, cfg)
			name := cfg.Node.HostAndPort()

			// A Coordinator's HTTP load peon loads a tombstone, which needs no deep storage.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tomb := sandbox.Tombstone("versions", i)
			peon := &druidpeer.LoadPeon{URL: r.url, HostTimeout: 5 * time.Second, RepeatDelay: 100 * time.Millisecond}
			peon.Load(tomb)
			if err := peon.Drain(ctx); err != nil {
				t.Fatalf("the load queue did not drain: %v (%+v)", err, peon.Stats())
			}
			if st, ok := peon.Result(segments.ActionLoad, tomb.ID()); !ok || st.State != "SUCCESS" {
				t.Fatalf("load %s: %+v (found %v)", tomb.ID(), st, ok)
			}

			// A load answers SUCCESS once the inventory lists it, and its batch znode, when there is one, is written
			// right after, as Java's announcer writes it in the background.
			znodes := func() []string {
				batches, _, err := conn.Children(z.Path("/druid/segments/" + name))
				if err != nil && !errors.Is(err, zk.ErrNoNode) {
					t.Fatal(err)
				}
				return batches
			}
			batches := znodes()
			for deadline := time.Now().Add(10 * time.Second); tc.segZNodes && len(batches) == 0 && time.Now().Before(deadline); batches = znodes() {
				time.Sleep(10 * time.Millisecond)
			}
			if got := len(batches) > 0; got != tc.segZNodes {
				t.Errorf("segment znodes under /druid/segments/%s: %v, want %v", name, batches, tc.segZNodes)
			}

			// The ZooKeeper load queue's reader starts once the node is announced: its znode is watched for.
			queue := z.Path("/druid/loadQueue/" + name)
			deadline := time.After(10 * time.Second)
			for {
				ok, _, created, err := conn.ExistsW(queue)
				if err != nil {
					t.Fatal(err)
				}
				if ok != tc.zkQueue && tc.zkQueue {
					select {
					case <-created:
						continue
					case <-deadline:
						t.Fatalf("%s was not created within 10 s", queue)
					}
				}
				if ok != tc.zkQueue {
					t.Errorf("%s exists, but the ZooKeeper load queue should be off", queue)
				}
				break
			}

			if !tc.unreachable {
				asked := false
				for _, req := range coord.Requests() {
					asked = asked || (req.Path == "/status" && req.Status == 200)
				}
				if !asked {
					t.Error("the Coordinator's /status was not read")
				}
			}
		})
	}
}
