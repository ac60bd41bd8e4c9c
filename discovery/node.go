package discovery

import (
	"context"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The node role and server type a segment server announces: only HISTORICAL (with serverType historical) is both
// scanned for dataNodeService by Druid's HTTP server view and a replication target for the Coordinator.
const (
	RoleHistorical       = "HISTORICAL" // the internal-discovery path segment (NodeRole.toString())
	NodeTypeHistorical   = "historical" // DiscoveryDruidNode.nodeType (NodeRole's JSON name)
	ServerTypeHistorical = "historical" // ServerType's JSON text
)

// HistoricalNodeJSON is the DiscoveryDruidNode a Java Historical writes at
// <base>/internal-discovery/HISTORICAL/<host:port>, byte for byte in Jackson's order (druid-protocol.md 2.2):
// druidNode (with labels before version, as Druid 36+ writes them), nodeType, services, startTime.
//
// labels is always written, as null when there are none: Druid 36+ writes exactly that, and every older reader
// ignores an unknown member (FAIL_ON_UNKNOWN_PROPERTIES=false), so one form serves every version.
//
// services holds only dataNodeService, with Java's duplicate "type" (the subtype id first, then the server type,
// which pre-0.23 readers need; Druid 37 no longer writes it). storageSize follows maxSize, where Druid 37+ writes it
// (its creator's order): the sum of the segment cache locations' maxSize (DruidServerConfig.getStorageSize),
// whatever druid.server.maxSize says; older readers ignore it. lookupNodeService is left out: announcing it would
// make the Coordinator push lookups to /druid/listen/v1/lookups, which druid-sidecar does not serve.
func HistoricalNodeJSON(cfg *configs.Config, startTime time.Time, labels map[string]string) []byte {
	plain, tls := cfg.Node.AnnouncedPorts()
	b := make([]byte, 0, 512)
	b = append(b, `{"druidNode":{"service":`...)
	b = jackson.AppendJSONString(b, cfg.Node.Service)
	b = append(b, `,"host":`...)
	b = jackson.AppendJSONString(b, cfg.Node.Host)
	b = append(b, `,"bindOnHost":`...)
	b = strconv.AppendBool(b, cfg.Node.BindOnHost)
	b = append(b, `,"plaintextPort":`...)
	b = strconv.AppendInt(b, int64(plain), 10)
	b = append(b, `,"port":-1,"tlsPort":`...)
	b = strconv.AppendInt(b, int64(tls), 10)
	b = append(b, `,"enablePlaintextPort":`...)
	b = strconv.AppendBool(b, cfg.Node.EnablePlaintextPort)
	b = append(b, `,"enableTlsPort":`...)
	b = strconv.AppendBool(b, cfg.Node.EnableTLSPort)
	b = append(b, `,"labels":`...)
	if labels == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jackson.AppendJSONString(b, k)
			b = append(b, ':')
			b = jackson.AppendJSONString(b, labels[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"version":`...)
	b = jackson.AppendJSONString(b, cfg.Sidecar.Version)
	b = append(b, `},"nodeType":"`+NodeTypeHistorical+`","services":{"dataNodeService":{"type":"dataNodeService","tier":`...)
	b = jackson.AppendJSONString(b, cfg.Server.Tier)
	b = append(b, `,"maxSize":`...)
	b = strconv.AppendInt(b, int64(cfg.Server.MaxSize), 10)
	b = append(b, `,"storageSize":`...)
	b = strconv.AppendInt(b, int64(cfg.SegmentCache.CombinedMaxSize()), 10)
	b = append(b, `,"type":"`+ServerTypeHistorical+`","serverType":"`+ServerTypeHistorical+`","priority":`...)
	b = strconv.AppendInt(b, int64(cfg.Server.Priority), 10)
	b = append(b, `}},"startTime":"`...)
	b = segments.InstantOf(startTime).AppendFormat(b)
	b = append(b, `"}`...)
	return b
}

// ZNodeKeeper keeps ephemeral znodes in ZooKeeper through session losses and returns once ZooKeeper holds the
// change; the segment announcer is one, so that the node and its segments live in one session, as a Java
// Historical's single Curator client keeps them.
type ZNodeKeeper interface {
	// KeepZNode keeps an ephemeral znode at the Druid path p holding data.
	KeepZNode(ctx context.Context, p string, data []byte) error
	// DropZNode deletes the znode at p and stops keeping it.
	DropZNode(ctx context.Context, p string) error
}

// ZooKeeperAnnouncer announces a node as Druid's CuratorDruidNodeAnnouncer does: an ephemeral znode at
// <base>/internal-discovery/<ROLE>/<host:port> holding the DiscoveryDruidNode.
type ZooKeeperAnnouncer struct {
	keeper ZNodeKeeper
	path   string
	data   []byte
}

var _ Announcer = (*ZooKeeperAnnouncer)(nil)

// NewZooKeeperAnnouncer announces node (a DiscoveryDruidNode, such as HistoricalNodeJSON) under role for the node
// of cfg, through keeper.
func NewZooKeeperAnnouncer(keeper ZNodeKeeper, cfg *configs.Config, role string, node []byte) *ZooKeeperAnnouncer {
	return &ZooKeeperAnnouncer{keeper: keeper, path: path.Join(cfg.ZK.Paths.InternalDiscovery, role, cfg.Node.HostAndPortToUse()),
		data: node}
}

// Announce writes the node's znode and returns once ZooKeeper holds it.
func (a *ZooKeeperAnnouncer) Announce(ctx context.Context) error {
	return a.keeper.KeepZNode(ctx, a.path, a.data)
}

// Unannounce deletes the node's znode.
func (a *ZooKeeperAnnouncer) Unannounce(ctx context.Context) error {
	return a.keeper.DropZNode(ctx, a.path)
}

// Path is the Druid path of the node's znode.
func (a *ZooKeeperAnnouncer) Path() string { return a.path }

// Data is what the node's znode holds (before druid.zk.service.compress).
func (a *ZooKeeperAnnouncer) Data() []byte { return a.data }
