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
)

// ClusterReader reads what a Druid cluster announces in ZooKeeper: what discovery.ZooKeeper reads (nodes by role,
// the Coordinator and Overlord leaders), the legacy server announcements and the batch segment inventory of every
// data server, on one session.
type ClusterReader struct {
	*discovery.ZooKeeper
	paths configs.ZKPathsConfig
}

// NewClusterReader connects to the ZooKeeper of cfg and waits, within ctx, for a session.
func NewClusterReader(ctx context.Context, cfg *configs.Config, log hclog.Logger) (*ClusterReader, error) {
	d, err := discovery.OpenZooKeeper(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return &ClusterReader{ZooKeeper: d, paths: cfg.ZK.Paths}, nil
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
	inv, err := r.SegmentInventory(ctx)
	if err != nil {
		errs = append(errs, err)
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
