package announcer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// ClusterReader reads what a Druid cluster announces in ZooKeeper: nodes by role from internal discovery, the
// legacy server announcements, the batch segment inventory of every data server, and the Coordinator and Overlord
// leaders from their latches.
type ClusterReader struct {
	c     *zookeeper.Conn
	paths configs.ZKPathsConfig
}

// NewClusterReader connects to the ZooKeeper of cfg and waits, within ctx, for a session.
func NewClusterReader(ctx context.Context, cfg *configs.Config, log hclog.Logger) (*ClusterReader, error) {
	if !cfg.ZK.Enabled {
		return nil, errors.New("reading the cluster needs ZooKeeper, and druid.zk.service.enabled is false")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c, err := zookeeper.Dial(cfg.ZK.Service, log.Named("zk"), nil)
	if err != nil {
		return nil, err
	}
	if err := c.WaitSession(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := zookeeper.Call(ctx, c.Authenticate); err != nil {
		c.Close()
		return nil, err
	}
	return &ClusterReader{c: c, paths: cfg.ZK.Paths}, nil
}

// Close ends the session.
func (r *ClusterReader) Close() { r.c.Close() }

// DiscoveredNode is one DiscoveryDruidNode from internal discovery.
type DiscoveredNode struct {
	Role          string `json:"role"`     // the directory: HISTORICAL, BROKER, …
	NodeType      string `json:"nodeType"` // the payload's nodeType
	Name          string `json:"name"`     // the znode name, host:port
	Service       string `json:"service"`
	Host          string `json:"host"`
	PlaintextPort int    `json:"plaintextPort"`
	TLSPort       int    `json:"tlsPort"`
	Version       string `json:"version,omitempty"`
	StartTime     string `json:"startTime,omitempty"`
	// Services are the announced service types, in payload order.
	Services []string `json:"services"`
	// DataNode is the dataNodeService, nil when not announced.
	DataNode *DataNodeService `json:"dataNodeService,omitempty"`
}

// DataNodeService is what Druid's HTTP server view takes from a node: tier, maxSize, serverType, priority.
type DataNodeService struct {
	Tier       string `json:"tier"`
	MaxSize    int64  `json:"maxSize"`
	ServerType string `json:"serverType"`
	Priority   int    `json:"priority"`
}

// ParseDiscoveryNode reads a DiscoveryDruidNode payload as Druid does: services through a token stream so that
// the FIRST "type" of each service is its type (DataNodeService repeats "type" with the server type), serverType
// taken from "serverType", or from the second "type" for writers older than 0.23.
func ParseDiscoveryNode(data []byte) (DiscoveredNode, error) {
	var top struct {
		DruidNode struct {
			Service       string `json:"service"`
			Host          string `json:"host"`
			PlaintextPort int    `json:"plaintextPort"`
			TLSPort       int    `json:"tlsPort"`
			Version       string `json:"version"`
		} `json:"druidNode"`
		NodeType  string          `json:"nodeType"`
		Services  json.RawMessage `json:"services"`
		StartTime string          `json:"startTime"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return DiscoveredNode{}, fmt.Errorf("not a DiscoveryDruidNode: %w", err)
	}
	n := DiscoveredNode{NodeType: top.NodeType, Service: top.DruidNode.Service, Host: top.DruidNode.Host,
		PlaintextPort: top.DruidNode.PlaintextPort, TLSPort: top.DruidNode.TLSPort, Version: top.DruidNode.Version,
		StartTime: top.StartTime}
	if len(top.Services) == 0 || string(top.Services) == "null" {
		return n, nil
	}
	dec := json.NewDecoder(bytes.NewReader(top.Services))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return n, errors.New("DiscoveryDruidNode services: expected an object")
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the map key; the type inside decides
			return n, fmt.Errorf("DiscoveryDruidNode services: %w", err)
		}
		fields, err := firstMembers(dec)
		if err != nil {
			return n, fmt.Errorf("DiscoveryDruidNode services: %w", err)
		}
		get := func(key string, second bool) []byte {
			m := fields[key]
			switch {
			case m == nil:
				return nil
			case second:
				return m.second
			}
			return m.first
		}
		var typ string
		_ = json.Unmarshal(get("type", false), &typ)
		n.Services = append(n.Services, typ)
		if typ != "dataNodeService" {
			continue
		}
		d := &DataNodeService{}
		_ = json.Unmarshal(get("tier", false), &d.Tier)
		_ = json.Unmarshal(get("maxSize", false), &d.MaxSize)
		_ = json.Unmarshal(get("priority", false), &d.Priority)
		if err := json.Unmarshal(get("serverType", false), &d.ServerType); err != nil || d.ServerType == "" {
			_ = json.Unmarshal(get("type", true), &d.ServerType)
		}
		n.DataNode = d
	}
	return n, nil
}

type member struct{ first, second json.RawMessage }

// firstMembers reads one JSON object from dec keeping, per key, its first and second values.
func firstMembers(dec *json.Decoder) (map[string]*member, error) {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("expected an object")
	}
	out := map[string]*member{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch m := out[key]; {
		case m == nil:
			out[key] = &member{first: v}
		case m.second == nil:
			m.second = v
		}
	}
	_, err := dec.Token() // '}'
	return out, err
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

// Leader is the holder of a leader latch.
type Leader struct {
	URL   string `json:"url"`   // the latch data: scheme://host:port
	ZNode string `json:"znode"` // the latch child it holds
}

// children lists p's children; a missing p has none.
func (r *ClusterReader) children(ctx context.Context, p string) ([]string, error) {
	var out []string
	err := zookeeper.Call(ctx, func() error {
		var err error
		out, _, err = r.c.ZK().Children(r.c.Path(p))
		if errors.Is(err, zk.ErrNoNode) {
			out, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p, err)
	}
	sort.Strings(out)
	return out, nil
}

// get reads and decodes p; a missing p gives nil data and zk.ErrNoNode.
func (r *ClusterReader) get(ctx context.Context, p string) ([]byte, error) {
	var data []byte
	err := zookeeper.Call(ctx, func() error {
		var err error
		data, _, err = r.c.ZK().Get(r.c.Path(p))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return zookeeper.DecodeZNode(data)
}

// getAll reads many znodes in parallel (go-zookeeper pipelines them); missing ones are left out.
func (r *ClusterReader) getAll(ctx context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for _, p := range paths {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, err := r.get(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, zk.ErrNoNode):
			case err != nil:
				errs = append(errs, err)
			default:
				out[p] = data
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Nodes reads internal discovery: every role directory, or only the roles given (HISTORICAL, BROKER, …).
// Payloads that cannot be read are reported in the error; the others are returned.
func (r *ClusterReader) Nodes(ctx context.Context, roles ...string) ([]DiscoveredNode, error) {
	base := r.paths.InternalDiscovery
	if len(roles) == 0 {
		var err error
		if roles, err = r.children(ctx, base); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, role := range roles {
		names, err := r.children(ctx, path.Join(base, role))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			paths = append(paths, path.Join(base, role, n))
		}
	}
	datas, err := r.getAll(ctx, paths)
	errs := []error{err}
	var out []DiscoveredNode
	for _, p := range paths {
		data, ok := datas[p]
		if !ok {
			continue
		}
		n, err := ParseDiscoveryNode(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		n.Role, n.Name = path.Base(path.Dir(p)), path.Base(p)
		out = append(out, n)
	}
	return out, errors.Join(errs...)
}

// Servers reads the legacy announcements.
func (r *ClusterReader) Servers(ctx context.Context) ([]ServerMetadata, error) {
	names, err := r.children(ctx, r.paths.Announcements)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = path.Join(r.paths.Announcements, n)
	}
	datas, err := r.getAll(ctx, paths)
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
		if servers, err = r.children(ctx, base); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, s := range servers {
		names, err := r.children(ctx, path.Join(base, s))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			paths = append(paths, path.Join(base, s, n))
		}
	}
	datas, err := r.getAll(ctx, paths)
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

// CoordinatorLeader is the holder of <coordinatorPath>/_COORDINATOR; nil when there is none.
func (r *ClusterReader) CoordinatorLeader(ctx context.Context) (*Leader, error) {
	return r.Leader(ctx, path.Join(r.paths.Coordinator, "_COORDINATOR"))
}

// OverlordLeader is the holder of <base>/overlord/_OVERLORD; nil when there is none.
func (r *ClusterReader) OverlordLeader(ctx context.Context) (*Leader, error) {
	return r.Leader(ctx, path.Join(r.paths.Overlord, "_OVERLORD"))
}

// Leader reads a Curator LeaderLatch at latchPath: the child with the lowest sequence (the text after its last
// "latch-", the whole name when there is none, as Curator sorts) leads; a child that vanishes between the listing
// and the read is passed over for the next. The data is raw UTF-8, never compressed.
func (r *ClusterReader) Leader(ctx context.Context, latchPath string) (*Leader, error) {
	names, err := r.children(ctx, latchPath)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(names, func(a, b string) int { return strings.Compare(latchSequence(a), latchSequence(b)) })
	for _, n := range names {
		var data []byte
		err := zookeeper.Call(ctx, func() error {
			var err error
			data, _, err = r.c.ZK().Get(r.c.Path(path.Join(latchPath, n)))
			return err
		})
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the latch %s/%s: %w", latchPath, n, err)
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

// Cluster is one reading of the whole cluster.
type Cluster struct {
	Coordinator *Leader          `json:"coordinatorLeader"`
	Overlord    *Leader          `json:"overlordLeader"`
	Nodes       []DiscoveredNode `json:"nodes"`
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
