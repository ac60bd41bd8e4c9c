package discovery

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// ZooKeeper is discovery as Druid's Curator implementation has it (druid.discovery.type=curator): nodes under
// <base>/internal-discovery/<ROLE>/<host:port>, the leaders in the Curator LeaderLatches <coordinatorPath>/_COORDINATOR
// and <base>/overlord/_OVERLORD.
type ZooKeeper struct {
	conn  *zookeeper.Conn
	paths configs.ZKPathsConfig
}

var _ Discovery = (*ZooKeeper)(nil)

// OpenZooKeeper connects to the ZooKeeper of cfg and waits, within ctx, for an authenticated session.
func OpenZooKeeper(ctx context.Context, cfg *configs.Config, log hclog.Logger) (*ZooKeeper, error) {
	if !cfg.ZK.Enabled {
		return nil, errors.New("reading the cluster needs ZooKeeper, and druid.zk.service.enabled is false")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c, err := zookeeper.Open(ctx, cfg.ZK.Service, log.Named("zk"))
	if err != nil {
		return nil, err
	}
	return &ZooKeeper{conn: c, paths: cfg.ZK.Paths}, nil
}

// Conn is the ZooKeeper session, for readers of what else Druid keeps in ZooKeeper (the segment inventory).
func (z *ZooKeeper) Conn() *zookeeper.Conn { return z.conn }

// Close ends the session.
func (z *ZooKeeper) Close() { z.conn.Close() }

// Nodes reads internal discovery: every role directory, or only the roles given.
func (z *ZooKeeper) Nodes(ctx context.Context, roles ...string) ([]Node, error) {
	base := z.paths.InternalDiscovery
	if len(roles) == 0 {
		var err error
		if roles, err = z.conn.Children(ctx, base); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, role := range roles {
		names, err := z.conn.Children(ctx, path.Join(base, role))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			paths = append(paths, path.Join(base, role, n))
		}
	}
	datas, err := z.conn.GetAll(ctx, paths)
	errs := []error{err}
	var out []Node
	for _, p := range paths {
		data, ok := datas[p]
		if !ok {
			continue
		}
		n, err := ParseNode(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		n.Role, n.Name = path.Base(path.Dir(p)), path.Base(p)
		out = append(out, n)
	}
	return out, errors.Join(errs...)
}

// CoordinatorLeader is the holder of <coordinatorPath>/_COORDINATOR; nil when there is none.
func (z *ZooKeeper) CoordinatorLeader(ctx context.Context) (*Leader, error) {
	return z.Leader(ctx, path.Join(z.paths.Coordinator, "_COORDINATOR"))
}

// OverlordLeader is the holder of <base>/overlord/_OVERLORD; nil when there is none.
func (z *ZooKeeper) OverlordLeader(ctx context.Context) (*Leader, error) {
	return z.Leader(ctx, path.Join(z.paths.Overlord, "_OVERLORD"))
}

// Leader reads a Curator LeaderLatch at latchPath: the child with the lowest sequence (the text after its last
// "latch-", the whole name when there is none, as Curator sorts) leads; a child that vanishes between the listing
// and the read is passed over for the next. The data is raw UTF-8, never compressed.
func (z *ZooKeeper) Leader(ctx context.Context, latchPath string) (*Leader, error) {
	names, err := z.conn.Children(ctx, latchPath)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(names, func(a, b string) int { return strings.Compare(latchSequence(a), latchSequence(b)) })
	for _, n := range names {
		data, err := z.conn.GetRaw(ctx, path.Join(latchPath, n))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the latch %s/%s: %w", latchPath, n, errors.Unwrap(err))
		}
		return &Leader{URL: string(data), ZNode: n}, nil
	}
	return nil, nil
}

func latchSequence(name string) string {
	const lock = "latch-"
	if i := strings.LastIndex(name, lock); i >= 0 {
		return name[i+len(lock):]
	}
	return name
}
