package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

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

// TestServeDruidVersionFollowsLeader runs serve under a Coordinator leader of Druid 37, found through its ZooKeeper
// leader latch, then hands the leadership to a Coordinator of 38, as the last step of Druid's rolling upgrade does
// (the Brokers went before it): serve deletes its segment znodes and its legacy server announcement while it stays
// announced, writes none for later loads, and the version gauge follows. A leader of 29 afterwards (a downgrade)
// changes nothing live and gets one warning naming the keys a restart would apply.
func TestServeDruidVersionFollowsLeader(t *testing.T) {
	// Restored by a cleanup registered before the agent's, so that it runs after the agent has stopped.
	period := druidVersionPeriod
	t.Cleanup(func() { druidVersionPeriod = period })
	druidVersionPeriod = 100 * time.Millisecond
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)

	coordinators := map[string]*druidpeer.CoordinatorAPI{}
	for _, v := range []string{"37.0.0", "38.0.0", "29.0.0"} {
		c, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetVersion(v)
		coordinators[v] = c
	}
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, t.TempDir()))
	// The leader latch as Curator's LeaderLatch keeps it: ephemeral sequential children, the lowest leads.
	latchDir := path.Join(cfg.ZK.Paths.Coordinator, "_COORDINATOR")
	for _, p := range []string{"/druid", cfg.ZK.Paths.Coordinator, latchDir} {
		if _, err := conn.Create(z.Path(p), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	lead := func(version string) string {
		t.Helper()
		p, err := conn.Create(z.Path(latchDir+"/_c_"+strings.ReplaceAll(version, ".", "")+"-latch-"),
			[]byte(coordinators[version].URL()), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	resign := func(latch string) {
		t.Helper()
		if err := conn.Delete(latch, -1); err != nil {
			t.Fatal(err)
		}
	}
	latch := lead("37.0.0")

	var logs safeBuffer
	r := startAgent(t, cfg, func(a *Agent) {
		a.log = hclog.New(&hclog.LoggerOptions{Name: "agent-test", Level: hclog.Debug,
			Output: io.MultiWriter(testWriter{t}, &logs)})
	})
	name := cfg.Node.HostAndPort()
	serverZNode, batchDir := z.Path("/druid/announcements/"+name), z.Path("/druid/segments/"+name)
	disc := z.Path("/druid/internal-discovery/HISTORICAL/" + name)
	legacy := func() (server, batches bool) {
		t.Helper()
		ok, _, err := conn.Exists(serverZNode)
		if err != nil {
			t.Fatal(err)
		}
		kids, _, err := conn.Children(batchDir)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			t.Fatal(err)
		}
		return ok, len(kids) > 0
	}
	peon := &druidpeer.LoadPeon{URL: r.url, HostTimeout: 5 * time.Second, RepeatDelay: 100 * time.Millisecond}
	load := func(i int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		tomb := sandbox.Tombstone("follows", i)
		peon.Load(tomb)
		if err := peon.Drain(ctx); err != nil {
			t.Fatalf("the load queue did not drain: %v (%+v)", err, peon.Stats())
		}
		if st, ok := peon.Result(segments.ActionLoad, tomb.ID()); !ok || st.State != "SUCCESS" {
			t.Fatalf("load %s: %+v (found %v)", tomb.ID(), st, ok)
		}
	}
	gauge := func(version string) string {
		return `druid_sidecar_druid_version_info{source="coordinator",version="` + version + `"}`
	}

	// Druid 37: both are written (a load's batch znode right after its SUCCESS, as Java's announcer writes it).
	load(0)
	waitFor(t, 10*time.Second, "the server announcement and a segment znode under a Coordinator of 37", func() bool {
		s, b := legacy()
		return s && b
	})
	if v, ok := metricValue(t, r.url, gauge("37.0.0")); !ok || v != "1" {
		t.Errorf("%s = %q (%v), want 1", gauge("37.0.0"), v, ok)
	}

	// The leadership goes to a Coordinator of 38: both go, the node stays discovered.
	latch38 := lead("38.0.0")
	resign(latch)
	waitFor(t, 10*time.Second, "the legacy znodes deleted under a Coordinator of 38", func() bool {
		s, b := legacy()
		return !s && !b
	})
	if ok, _, err := conn.Exists(disc); err != nil || !ok {
		t.Errorf("the discovery znode %s: %v, %v; want it kept", disc, ok, err)
	}
	load(1)
	if s, b := legacy(); s || b {
		t.Errorf("a load under a Coordinator of 38 wrote legacy znodes: server announcement %v, segment znodes %v", s, b)
	}
	waitFor(t, 10*time.Second, "the gauge at 38.0.0", func() bool {
		v, ok := metricValue(t, r.url, gauge("38.0.0"))
		return ok && v == "1"
	})
	if _, ok := metricValue(t, r.url, gauge("37.0.0")); ok {
		t.Errorf("%s is still exposed", gauge("37.0.0"))
	}

	// A Coordinator of 29 (a downgrade, Coordinator first): nothing changes live, one warning names the keys.
	lead("29.0.0")
	resign(latch38)
	waitFor(t, 10*time.Second, "the gauge at 29.0.0", func() bool {
		v, ok := metricValue(t, r.url, gauge("29.0.0"))
		return ok && v == "1"
	})
	waitFor(t, 10*time.Second, "the restart warning", func() bool { return strings.Contains(logs.String(), "need a restart") })
	out := logs.String()
	for _, key := range []string{"druid.announcer.skipSegmentAnnouncementOnZk=false", "druid.sidecar.legacyServerAnnouncement=true",
		"druid.sidecar.zkLoadQueue=true"} {
		if !strings.Contains(out, key) {
			t.Errorf("the restart warning does not name %s", key)
		}
	}
	if n := strings.Count(out, "need a restart"); n != 1 {
		t.Errorf("%d restart warnings, want one", n)
	}
	if s, b := legacy(); s || b {
		t.Errorf("under a Coordinator of 29 before a restart: server announcement %v, segment znodes %v; want neither", s, b)
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// safeBuffer is a bytes.Buffer for a logger's output read by the test meanwhile.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
