package announcer

import (
	"context"
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// TestAnnouncerZooKeeper walks the API against the real ZooKeeper: what is written, in which encoding, the
// history, idempotence, skip* transforms, removal, and repair of znodes others delete or leave behind.
func TestAnnouncerZooKeeper(t *testing.T) {
	z := testenv.ZooKeeper(t)
	check := z.Conn(t)
	for _, tc := range []struct {
		name     string
		host     string
		sets     []string
		compress bool
	}{
		{"gzip", hostOf(21), nil, true},
		{"raw", hostOf(22), []string{"druid.zk.service.compress=false", "druid.announcer.skipDimensionsAndMetrics=true",
			"druid.announcer.skipLoadSpec=true", "druid.sidecar.announceServedSegments=true"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := zktConfig(t, z.ConnectString, append([]string{"druid.host=" + tc.host, "druid.announcer.segmentsPerNode=10"}, tc.sets...)...)
			hist := &zktHistory{}
			a, err := New(cfg, WithInventory(hist), WithLogger(zktLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			zktStop(t, a)
			st := zktState{conn: check, root: z.Chroot, cfg: cfg, a: a, served: cfg.Sidecar.AnnounceServedSegments}
			ctx := zktCtx(t, 20*time.Second)

			// Someone else's session left a node at our discovery path: it is replaced.
			other, err := zookeeper.Dial(cfg.ZK.Service, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.WaitSession(ctx); err != nil {
				t.Fatal(err)
			}
			discPath := path.Join(cfg.ZK.Paths.InternalDiscovery, discovery.RoleHistorical, cfg.Node.HostAndPortToUse())
			disc := z.Path(discPath)
			if err := other.EnsurePath(path.Dir(discPath)); err != nil {
				t.Fatal(err)
			}
			if _, err := other.ZK().Create(other.Path(discPath), []byte("stale"), zk.FlagEphemeral, other.ACL()); err != nil {
				t.Fatal(err)
			}

			segs := zktSegments(t, "wikipedia", 35)
			if err := a.AnnounceSegments(ctx); err != nil { // empty: writes nothing
				t.Fatal(err)
			}
			if err := a.AnnounceSegments(ctx, append(segs[:30:30], segs[0], segs[1])...); err != nil { // duplicates skipped
				t.Fatal(err)
			}
			for _, s := range segs[30:] { // singles
				if err := a.AnnounceSegments(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.AnnounceSegments(ctx, segs[3], segs[31]); err != nil { // already announced: no-op
				t.Fatal(err)
			}
			if err := a.AnnounceNode(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.check(true, segs); err != nil {
				t.Fatal(err)
			}
			data, _, err := check.Get(disc)
			if err != nil {
				t.Fatal(err)
			}
			if gz := len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b; gz != tc.compress {
				t.Errorf("discovery znode gzip=%v, want %v", gz, tc.compress)
			}
			if len(hist.loads) != 35 || hist.loadCalls != 6 {
				t.Errorf("history got %d loads in %d calls, want 35 in 6", len(hist.loads), hist.loadCalls)
			}
			if tc.name == "raw" && (hist.loads[0].LoadSpec != nil || hist.loads[0].Dimensions != nil) {
				t.Error("history loads must carry the transformed segment")
			}

			// Removal rewrites or deletes batch znodes; drops carry the untransformed segment.
			if err := a.UnannounceSegments(ctx, segs[:12]...); err != nil {
				t.Fatal(err)
			}
			if err := a.UnannounceSegments(ctx, segs[:12]...); err != nil { // not announced any more: no-op
				t.Fatal(err)
			}
			if len(hist.drops) != 12 || hist.drops[0] != segs[0] {
				t.Errorf("history drops: %d", len(hist.drops))
			}
			if err := st.check(true, segs[12:]); err != nil {
				t.Fatal(err)
			}

			// Our znodes deleted by someone else come back.
			batches, _, err := check.Children(z.Path(path.Join(cfg.ZK.Paths.LiveSegments, cfg.Node.HostAndPortToUse())))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{disc, z.Path(path.Join(cfg.ZK.Paths.LiveSegments, cfg.Node.HostAndPortToUse(), batches[0]))} {
				if err := check.Delete(p, -1); err != nil {
					t.Fatal(err)
				}
			}
			took := st.eventually(t, 5*time.Second, true, segs[12:])
			t.Logf("deleted znodes re-created within %v", took.Round(time.Millisecond))

			if err := a.UnannounceNode(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.check(false, segs[12:]); err != nil {
				t.Fatal(err)
			}
			if err := a.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.AnnounceSegments(ctx, segs[0]); !errors.Is(err, ErrStopped) {
				t.Errorf("after Stop: %v", err)
			}
			// Parents stay; our ephemerals went with the session.
			if ok, _, _ := check.Exists(z.Path(path.Join(cfg.ZK.Paths.LiveSegments, cfg.Node.HostAndPortToUse()))); !ok {
				t.Error("the batch parent was deleted")
			}
		})
	}
}

// With digest auth and acl=true, every znode we create (parents too) is creator-only.
func TestAnnouncerACL(t *testing.T) {
	z := testenv.ZooKeeper(t)
	check := z.Conn(t)
	t.Cleanup(func() { // creator-only znodes: delete them as their creator before testenv removes the chroot
		if err := check.AddAuth("digest", []byte("druid:secret")); err != nil {
			t.Error(err)
		}
		zktDeleteTree(t, check, z.Path("druid"))
	})
	cfg := zktConfig(t, z.ConnectString, "druid.host="+hostOf(23), "druid.zk.service.acl=true",
		"druid.zk.service.user=druid", "druid.zk.service.pwd=secret")
	a, err := New(cfg, WithLogger(zktLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	zktStop(t, a)
	ctx := zktCtx(t, 20*time.Second)
	if err := a.AnnounceSegments(ctx, zktSegments(t, "acl", 3)...); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	want := zk.DigestACL(zk.PermAll, "druid", "secret")[0]
	for _, p := range []string{
		path.Join(cfg.ZK.Paths.InternalDiscovery, discovery.RoleHistorical, cfg.Node.HostAndPortToUse()),
		path.Join(cfg.ZK.Paths.LiveSegments, cfg.Node.HostAndPortToUse()),
	} {
		if _, _, err := check.Get(z.Path(p)); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s readable without auth: %v", p, err)
		}
	}
	if err := check.AddAuth("digest", []byte("druid:secret")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		path.Join(cfg.ZK.Paths.InternalDiscovery, discovery.RoleHistorical, cfg.Node.HostAndPortToUse()),
		path.Join(cfg.ZK.Paths.LiveSegments, cfg.Node.HostAndPortToUse()),
	} {
		acl, _, err := check.GetACL(z.Path(p))
		if err != nil {
			t.Fatal(err)
		}
		if len(acl) != 1 || acl[0] != want {
			t.Errorf("%s ACL %v, want %v", p, acl, want)
		}
	}
}

// With ZooKeeper disabled (or skipSegmentAnnouncementOnZk) the history still gets every change.
func TestAnnouncerWithoutZooKeeper(t *testing.T) {
	cfg := zktConfig(t, "127.0.0.1:1", "druid.zk.service.enabled=false")
	hist := &zktHistory{}
	a, err := New(cfg, WithInventory(hist))
	if err != nil {
		t.Fatal(err)
	}
	ctx := zktCtx(t, 5*time.Second)
	segs := zktSegments(t, "nozk", 3)
	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceSegments(ctx, segs...); err != nil {
		t.Fatal(err)
	}
	if err := a.UnannounceSegments(ctx, segs[0]); err != nil {
		t.Fatal(err)
	}
	if len(hist.loads) != 3 || len(hist.drops) != 1 {
		t.Errorf("history: %d loads, %d drops", len(hist.loads), len(hist.drops))
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// An oversized segment is refused with a sentence naming the setting; the others are announced.
func TestAnnouncerOversizedSegment(t *testing.T) {
	z := testenv.ZooKeeper(t)
	cfg := zktConfig(t, z.ConnectString, "druid.host="+hostOf(24), "druid.announcer.maxBytesPerNode=1024")
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	zktStop(t, a)
	big := zktSegments(t, "big", 1)[0]
	big.Dimensions = make([]string, 200)
	for i := range big.Dimensions {
		big.Dimensions[i] = "dimension_with_a_long_name"
	}
	small := zktSegments(t, "small", 1)[0]
	err = a.AnnounceSegments(zktCtx(t, 10*time.Second), big, small)
	if err == nil || !strings.Contains(err.Error(), "druid.announcer.maxBytesPerNode=1024") || len(a.segs) != 1 || a.segs[small.ID()] == nil {
		t.Fatalf("oversized segment: %v; announced %d", err, len(a.segs))
	}
}

// TestHoldWritesUntilAnnounceNode is a bootstrap as Java's Historical runs it: the cached segments are in the
// inventory as soon as they are announced, their znodes are written only once the node is announced, and every one
// of them is in ZooKeeper before the discovery znode.
func TestHoldWritesUntilAnnounceNode(t *testing.T) {
	z := testenv.ZooKeeper(t)
	cfg := zktConfig(t, z.ConnectString, "druid.host="+hostOf(25), "druid.announcer.segmentsPerNode=10")
	hist := &zktHistory{}
	a, err := New(cfg, WithInventory(hist), WithLogger(zktLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	zktStop(t, a)
	st := zktState{conn: z.Conn(t), root: z.Chroot, cfg: cfg, a: a}
	ctx := zktCtx(t, 20*time.Second)
	if err := a.zk.WaitSession(ctx); err != nil {
		t.Fatal(err)
	}

	a.HoldWrites()
	segs := zktSegments(t, "wikipedia", 25)
	if err := a.QueueSegments(segs[:20]...); err != nil {
		t.Fatal(err)
	}
	// A caller that waits for ZooKeeper waits for the end of the hold.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := a.AnnounceSegments(short, segs[20:]...); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AnnounceSegments during the hold: %v, want the context's deadline", err)
	}
	hist.mu.Lock()
	inInventory := len(hist.loads)
	hist.mu.Unlock()
	if inInventory != len(segs) {
		t.Fatalf("the inventory has %d segments during the hold, want %d", inInventory, len(segs))
	}
	kids, _, err := st.conn.Children(st.abs(a.batchDir))
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Fatal(err)
	}
	if len(kids) != 0 {
		t.Fatalf("batch znodes written during the hold: %v", kids)
	}

	if err := a.AnnounceNode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.check(true, segs); err != nil {
		t.Fatal(err)
	}
}
