package zookeeper

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// A connection works below its chroot as Curator's namespace does: parents are created as needed, reads decode
// what druid.zk.service.compress wrote (and plain data too, as Druid's PotentiallyGzippedCompressionProvider), a
// missing directory has no children, and a missing znode is reported as NoNode.
func TestConnBelowChroot(t *testing.T) {
	z := testenv.ZooKeeper(t)
	check := z.Conn(t)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.zk.service.host=" + z.ConnectString}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Open(ctx, cfg.ZK.Service, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.HasSession() || !c.Stats().Connected {
		t.Fatalf("no session after Open: %+v", c.Stats())
	}
	if got := c.Path("/druid/x"); got != z.Path("/druid/x") {
		t.Fatalf("Path: %s, want %s", got, z.Path("/druid/x"))
	}
	if err := c.EnsurePath("/druid/dir"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsurePath("/druid/dir"); err != nil { // already there: nothing to do
		t.Fatal(err)
	}
	raw := []byte(`{"a":"` + string(bytes.Repeat([]byte("b"), 300)) + `"}`)
	gz := c.Encode(raw)
	if !cfg.ZK.Service.Compress || len(gz) < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
		t.Fatalf("Encode with compress=%v: % x…", cfg.ZK.Service.Compress, gz[:2])
	}
	for name, data := range map[string][]byte{"gz": gz, "plain": raw} {
		if _, err := check.Create(z.Path("/druid/dir/"+name), data, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if kids, err := c.Children(ctx, "/druid/dir"); err != nil || len(kids) != 2 || kids[0] != "gz" || kids[1] != "plain" {
		t.Fatalf("Children: %v (%v)", kids, err)
	}
	if kids, err := c.Children(ctx, "/druid/none"); err != nil || kids != nil {
		t.Fatalf("Children of a missing directory: %v (%v)", kids, err)
	}
	all, err := c.GetAll(ctx, []string{"/druid/dir/gz", "/druid/dir/plain", "/druid/dir/missing"})
	if err != nil || len(all) != 2 || !bytes.Equal(all["/druid/dir/gz"], raw) || !bytes.Equal(all["/druid/dir/plain"], raw) {
		t.Fatalf("GetAll: %d znodes (%v)", len(all), err)
	}
	if got, err := c.GetRaw(ctx, "/druid/dir/gz"); err != nil || !bytes.Equal(got, gz) {
		t.Fatalf("GetRaw: %v", err)
	}
	if _, err := c.Get(ctx, "/druid/dir/missing"); !errors.Is(err, zk.ErrNoNode) || IsConnectionError(err) {
		t.Fatalf("Get of a missing znode: %v", err)
	}
}
