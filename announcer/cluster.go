package announcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// ClusterReader reads what a Druid cluster announces: through its discovery (nodes by role, the Coordinator and
// Overlord leaders; ZooKeeper or Kubernetes as druid.discovery.type says) and, with ZooKeeper, the legacy server
// announcements and the batch segment inventory of every data server, on the discovery's session.
type ClusterReader struct {
	discovery.Discovery
	zk    *discovery.ZooKeeper // nil without ZooKeeper (Kubernetes discovery with druid.zk.service.enabled=false)
	paths configs.ZKPathsConfig
}

// errNoZooKeeper is what the ZooKeeper readers answer when the cluster is read without ZooKeeper.
var errNoZooKeeper = errors.New("no ZooKeeper: druid.zk.service.enabled is false")

// NewClusterReader opens the discovery of cfg and, when enabled, ZooKeeper, waiting within ctx for its session.
func NewClusterReader(ctx context.Context, cfg *configs.Config, log hclog.Logger) (*ClusterReader, error) {
	r := &ClusterReader{paths: cfg.ZK.Paths}
	if cfg.Discovery.Type == configs.DiscoveryK8s && !cfg.ZK.Enabled {
		d, err := discovery.Open(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		r.Discovery = d
		return r, nil
	}
	zk, err := discovery.OpenZooKeeper(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	r.zk, r.Discovery = zk, zk
	if cfg.Discovery.Type == configs.DiscoveryK8s {
		// Nodes and leaders from Kubernetes; ZooKeeper still holds the segment announcements of Druid up to 37.
		if r.Discovery, err = discovery.Open(ctx, cfg, log); err != nil {
			zk.Close()
			return nil, err
		}
	}
	return r, nil
}

// Close releases the discovery and ZooKeeper.
func (r *ClusterReader) Close() {
	r.Discovery.Close()
	if r.zk != nil && discovery.Discovery(r.zk) != r.Discovery {
		r.zk.Close()
	}
}

// Conn is the ZooKeeper session, nil without ZooKeeper.
func (r *ClusterReader) Conn() *zookeeper.Conn {
	if r.zk == nil {
		return nil
	}
	return r.zk.Conn()
}

// ServerMetadata is a legacy announcement (DruidServerMetadata) under announcementsPath.
type ServerMetadata struct {
	Name           string  `json:"name"`
	Host           *string `json:"host"`
	HostAndTLSPort *string `json:"hostAndTlsPort"`
	MaxSize        int64   `json:"maxSize"`
	Type           string  `json:"type"`
	Tier           string  `json:"tier"`
	Priority       int     `json:"priority"`
}

// ServerSegments is a data server's batch inventory under liveSegmentsPath.
type ServerSegments struct {
	Server string
	// Batches maps each batch znode name to its segments, in znode order.
	Batches map[string][]segments.DataSegment
}

// Segments returns every segment of every batch, in batch name order.
func (s ServerSegments) Segments() []segments.DataSegment {
	names := make([]string, 0, len(s.Batches))
	for n := range s.Batches {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []segments.DataSegment
	for _, n := range names {
		out = append(out, s.Batches[n]...)
	}
	return out
}

// Servers reads the legacy announcements.
func (r *ClusterReader) Servers(ctx context.Context) ([]ServerMetadata, error) {
	if r.zk == nil {
		return nil, errNoZooKeeper
	}
	names, err := r.Conn().Children(ctx, r.paths.Announcements)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = path.Join(r.paths.Announcements, n)
	}
	datas, err := r.Conn().GetAll(ctx, paths)
	errs := []error{err}
	var out []ServerMetadata
	for _, p := range paths {
		if data, ok := datas[p]; ok {
			var m ServerMetadata
			if err := json.Unmarshal(data, &m); err != nil {
				errs = append(errs, fmt.Errorf("%s: not a DruidServerMetadata: %w", p, err))
				continue
			}
			out = append(out, m)
		}
	}
	return out, errors.Join(errs...)
}

// SegmentInventory reads every batch znode of the given servers (every server under liveSegmentsPath when none
// is given) and decodes them.
func (r *ClusterReader) SegmentInventory(ctx context.Context, servers ...string) ([]ServerSegments, error) {
	if r.zk == nil {
		return nil, errNoZooKeeper
	}
	base := r.paths.LiveSegments
	if len(servers) == 0 {
		var err error
		if servers, err = r.Conn().Children(ctx, base); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, s := range servers {
		names, err := r.Conn().Children(ctx, path.Join(base, s))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			paths = append(paths, path.Join(base, s, n))
		}
	}
	datas, err := r.Conn().GetAll(ctx, paths)
	errs := []error{err}
	out := make([]ServerSegments, len(servers))
	idx := map[string]int{}
	for i, s := range servers {
		out[i] = ServerSegments{Server: s, Batches: map[string][]segments.DataSegment{}}
		idx[s] = i
	}
	for _, p := range paths {
		data, ok := datas[p]
		if !ok {
			continue
		}
		var segs []segments.DataSegment
		if err := json.Unmarshal(data, &segs); err != nil {
			errs = append(errs, fmt.Errorf("%s: not a JSON array of DataSegment: %w", p, err))
			continue
		}
		out[idx[path.Base(path.Dir(p))]].Batches[path.Base(p)] = segs
	}
	return out, errors.Join(errs...)
}

// Cluster is one reading of the whole cluster.
type Cluster struct {
	Coordinator *discovery.Leader `json:"coordinatorLeader"`
	Overlord    *discovery.Leader `json:"overlordLeader"`
	Nodes       []discovery.Node  `json:"nodes"`
	// Inventory is each data server's batch announcement: distinct segments and their total size.
	Inventory []ServerInventory `json:"segmentInventory"`
}

// ServerInventory summarises one server's batch znodes.
type ServerInventory struct {
	Server   string `json:"server"`
	Batches  int    `json:"batchZnodes"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
}

// ReadCluster reads leaders, nodes and segment inventories. It reports every problem it meets and returns what it
// could read.
func (r *ClusterReader) ReadCluster(ctx context.Context) (*Cluster, error) {
	var errs []error
	c := &Cluster{}
	var err error
	if c.Coordinator, err = r.CoordinatorLeader(ctx); err != nil {
		errs = append(errs, err)
	}
	if c.Overlord, err = r.OverlordLeader(ctx); err != nil {
		errs = append(errs, err)
	}
	if c.Nodes, err = r.Nodes(ctx); err != nil {
		errs = append(errs, err)
	}
	var inv []ServerSegments
	if r.zk != nil { // without ZooKeeper there are no batch znodes to read, and that is no error
		if inv, err = r.SegmentInventory(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range inv {
		si := ServerInventory{Server: s.Server, Batches: len(s.Batches)}
		seen := map[segments.SegmentID]bool{}
		for _, seg := range s.Segments() {
			if id := seg.ID(); !seen[id] {
				seen[id] = true
				si.Segments++
				si.Bytes += seg.Size
			}
		}
		c.Inventory = append(c.Inventory, si)
	}
	return c, errors.Join(errs...)
}
