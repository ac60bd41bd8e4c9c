package announcer

import (
	"errors"
	"path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestLegacyZNodes checks what a Druid 38 reader finds, which reads neither the legacy server announcement nor
// segment znodes (#19377): with Druid 38 neither is written while the node's discovery znode is; with 37 both are,
// until StopLegacyZNodes deletes them (the node staying discovered), after which loads and drops write none.
func TestLegacyZNodes(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	for _, tc := range []struct {
		name, host, version string
		stop                bool
	}{
		{"38", hostOf(31), "38.0.0", false},
		{"37 then 38", hostOf(32), "37.0.0", true},
		{"37, server announcement kept", hostOf(33), "37.0.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := zktConfig(t, z.ConnectString, "druid.host="+tc.host, configs.KeyDruidVersion+"="+tc.version)
			a, err := New(cfg, WithLogger(zktLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			zktStop(t, a)
			ctx := zktCtx(t, 20*time.Second)
			name := cfg.Node.HostAndPortToUse()
			server := z.Path(path.Join(cfg.ZK.Paths.Announcements, name))
			batchDir := z.Path(path.Join(cfg.ZK.Paths.LiveSegments, name))
			disc := z.Path(path.Join(cfg.ZK.Paths.InternalDiscovery, discovery.RoleHistorical, name))
			exists := func(p string) bool {
				t.Helper()
				ok, _, err := conn.Exists(p)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			batches := func() int {
				t.Helper()
				kids, _, err := conn.Children(batchDir)
				if err != nil && !errors.Is(err, zk.ErrNoNode) {
					t.Fatal(err)
				}
				return len(kids)
			}
			state := func(wantLegacy bool) {
				t.Helper()
				if !exists(disc) {
					t.Errorf("the discovery znode %s is missing", disc)
				}
				if got := exists(server); got != wantLegacy {
					t.Errorf("legacy server announcement %s exists: %v, want %v", server, got, wantLegacy)
				}
				if got := batches() > 0; got != wantLegacy {
					t.Errorf("segment znodes under %s: %v, want %v", batchDir, got, wantLegacy)
				}
				if s, srv := a.LegacyZNodes(); s != wantLegacy || srv != wantLegacy {
					t.Errorf("LegacyZNodes() = %v, %v; want %v", s, srv, wantLegacy)
				}
			}

			segs := zktSegments(t, "legacy", 6)
			if err := a.AnnounceSegments(ctx, segs[:3]...); err != nil {
				t.Fatal(err)
			}
			if err := a.AnnounceNode(ctx); err != nil {
				t.Fatal(err)
			}
			legacy := tc.version == "37.0.0"
			state(legacy)
			if tc.stop {
				if err := a.StopLegacyZNodes(ctx, true, true); err != nil {
					t.Fatal(err)
				}
				legacy = false
				state(false)
			}
			// Later loads and drops: znodes only while they are written.
			if err := a.AnnounceSegments(ctx, segs[3]); err != nil {
				t.Fatal(err)
			}
			if err := a.AnnounceSegments(ctx, segs[4:]...); err != nil {
				t.Fatal(err)
			}
			if err := a.UnannounceSegments(ctx, segs[0], segs[3]); err != nil {
				t.Fatal(err)
			}
			state(legacy)
			if err := a.UnannounceNode(ctx); err != nil {
				t.Fatal(err)
			}
			if exists(server) || exists(disc) {
				t.Errorf("after UnannounceNode: server announcement %v, discovery znode %v; want neither", exists(server), exists(disc))
			}
		})
	}
}
