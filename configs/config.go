package configs

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the resolved runtime configuration. Load builds it; nothing changes it afterwards. Every field is a
// plain value (the few lists are behind accessors that return copies), so a Config and its parts can be passed by
// value and shared between goroutines.
type Config struct {
	Node         NodeConfig
	ZK           ZKConfig
	Server       ServerConfig
	SegmentCache SegmentCacheConfig
	Announcer    AnnouncerConfig
	Storage      StorageConfig
	S3           S3Config
	Google       GoogleConfig
	Azure        AzureConfig
	Metadata     MetadataConfig
	MySQLSSL     MySQLSSLConfig // druid.metadata.mysql.ssl.*, for a metadata store of type mysql
	Discovery    DiscoveryConfig
	Lookup       LookupConfig
	Escalator    EscalatorConfig
	TLS          TLSConfig // druid.server.https.* and druid.client.https.*
	Sidecar      SidecarConfig

	hostPort int // a port given in druid.host, 0 if none
	entries  []Entry
	warnings []string
	problems []Problem // what a LoadOptions.KeepGoing load refused
}

// Problems are what a load with LoadOptions.KeepGoing refused (each refused value left at its default); nil for
// a Config from a load without problems.
func (c *Config) Problems() []Problem { return slices.Clone(c.problems) }

// Warnings are notes about the configuration that do not stop it from loading: a key given twice in one file,
// a removed Druid key still in use, a value of a key Druid owns that could not be interpolated.
func (c *Config) Warnings() []string { return slices.Clone(c.warnings) }

// NodeConfig is the process's DruidNode (druid.host, druid.plaintextPort, …): the identity it announces.
type NodeConfig struct {
	// Service is druid.service, e.g. "druid/historical".
	Service string
	// Host is druid.host without any port; "" when not set.
	Host string
	// BindOnHost is druid.bindOnHost.
	BindOnHost bool
	// PlaintextPort and TLSPort are the configured ports. DruidNode announces -1 for a port whose connector is
	// disabled; AnnouncedPorts gives those values.
	PlaintextPort int
	TLSPort       int
	// LegacyPort is the deprecated druid.port (0 when not set), which DruidNode takes as the plaintext port when
	// druid.plaintextPort is not set; druid-operator writes only druid.port.
	LegacyPort int
	// EnablePlaintextPort and EnableTLSPort are druid.enablePlaintextPort and druid.enableTlsPort.
	EnablePlaintextPort bool
	EnableTLSPort       bool
}

// HostAndPort is the plaintext host:port ("[v6]:port" for IPv6), or "" when plaintext is disabled.
func (n NodeConfig) HostAndPort() string {
	if !n.EnablePlaintextPort {
		return ""
	}
	return net.JoinHostPort(n.Host, strconv.Itoa(n.PlaintextPort))
}

// HostAndTLSPort is the TLS host:port, or "" when TLS is disabled.
func (n NodeConfig) HostAndTLSPort() string {
	if !n.EnableTLSPort {
		return ""
	}
	return net.JoinHostPort(n.Host, strconv.Itoa(n.TLSPort))
}

// HostAndPortToUse is the node's identity in Druid (DruidNode.getHostAndPortToUse): the TLS host:port when TLS is
// enabled, the plaintext one otherwise.
func (n NodeConfig) HostAndPortToUse() string {
	if n.EnableTLSPort {
		return n.HostAndTLSPort()
	}
	return n.HostAndPort()
}

// PortToUse is the port of HostAndPortToUse.
func (n NodeConfig) PortToUse() int {
	if n.EnableTLSPort {
		return n.TLSPort
	}
	return n.PlaintextPort
}

// AnnouncedPorts are DruidNode's plaintextPort and tlsPort fields: -1 for a disabled connector.
func (n NodeConfig) AnnouncedPorts() (plaintext, tls int) {
	plaintext, tls = -1, -1
	if n.EnablePlaintextPort {
		plaintext = n.PlaintextPort
	}
	if n.EnableTLSPort {
		tls = n.TLSPort
	}
	return plaintext, tls
}

// ZKConfig is druid.zk.service.* and druid.zk.paths.*.
type ZKConfig struct {
	// Enabled is druid.zk.service.enabled. When false there is no ZooKeeper at all, and the segment announcer
	// skips ZooKeeper (Announcer.SkipSegmentAnnouncementOnZK is forced on).
	Enabled bool
	Service ZKServiceConfig
	Paths   ZKPathsConfig
}

// ZKServiceConfig is druid.zk.service.* (Druid's CuratorConfig).
type ZKServiceConfig struct {
	// Host is the connect string: "zk1:2181,zk2:2181", optionally followed by a chroot ("…/chroot").
	Host              string
	SessionTimeout    time.Duration
	ConnectionTimeout time.Duration
	Compress          bool
	ACL               bool
	User              string
	Pwd               Secret
	AuthScheme        string
	MaxRetries        int
}

// Servers splits Host into host:port addresses (port 2181 when missing) and the chroot path ("" when none).
func (z ZKServiceConfig) Servers() (servers []string, chroot string) {
	servers, chroot, _ = splitZKConnect(z.Host)
	return servers, chroot
}

func splitZKConnect(s string) (servers []string, chroot string, err error) {
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], s[i:]
		if chroot == "/" {
			chroot = ""
		} else if checkZKPath(chroot) != "" {
			return nil, "", errors.New("expected host:port[,host:port…][/chroot] whose chroot is a ZooKeeper path such as /druid-prod")
		}
	}
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, "", errors.New("expected host:port[,host:port…][/chroot] with no empty host")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), "2181"
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, "", errors.New("expected host:port[,host:port…][/chroot] with ports from 1 to 65535")
		}
		servers = append(servers, net.JoinHostPort(host, port))
	}
	return servers, chroot, nil
}

// ZKPathsConfig is druid.zk.paths.*. Every path not set explicitly derives from Base.
type ZKPathsConfig struct {
	// Base is druid.zk.paths.base as configured ("druid" and "/druid" give the same paths).
	Base           string
	Announcements  string
	LiveSegments   string
	Coordinator    string
	ServedSegments string
	LoadQueue      string
	// Overlord and InternalDiscovery are always <base>/overlord and <base>/internal-discovery.
	Overlord          string
	InternalDiscovery string
}

// ServerConfig is druid.server.* (DruidServerConfig).
type ServerConfig struct {
	Tier     string
	Priority int
	// MaxSize is druid.server.maxSize, or the sum of the segment cache locations' maxSize when that is 0 or unset.
	MaxSize          ByteSize
	hiddenProperties []string
	// HTTPMaxIdleTime is druid.server.http.maxIdleTime; 0 keeps idle connections open.
	HTTPMaxIdleTime time.Duration
	// HTTPMaxRequestHeaderSize is druid.server.http.maxRequestHeaderSize, in bytes.
	HTTPMaxRequestHeaderSize int
	// HTTPUnannouncePropagationDelay is druid.server.http.unannouncePropagationDelay: serve's wait between
	// unannouncing the node and closing HTTP.
	HTTPUnannouncePropagationDelay time.Duration
	// HTTPGracefulShutdownTimeout is druid.server.http.gracefulShutdownTimeout; 0 waits within the shutdown timeout.
	HTTPGracefulShutdownTimeout time.Duration
}

// HiddenProperties is druid.server.hiddenProperties: substrings of the keys whose values are never shown.
func (s ServerConfig) HiddenProperties() []string { return slices.Clone(s.hiddenProperties) }

// LocationSelectorStrategy is druid.segmentCache.locationSelector.strategy.
type LocationSelectorStrategy string

// The location selector strategies Druid knows.
const (
	LeastBytesUsed    LocationSelectorStrategy = "leastBytesUsed"
	RoundRobin        LocationSelectorStrategy = "roundRobin"
	Random            LocationSelectorStrategy = "random"
	MostAvailableSize LocationSelectorStrategy = "mostAvailableSize"
)

// StorageLocation is one entry of druid.segmentCache.locations.
type StorageLocation struct {
	Path string
	// MaxSize is the location's maxSize, math.MaxInt64 when not given.
	MaxSize ByteSize
	// FreeSpacePercent is the share of the disk to keep free; 0 when not given.
	FreeSpacePercent float64
}

// SegmentCacheConfig is druid.segmentCache.* (SegmentLoaderConfig).
type SegmentCacheConfig struct {
	locations           []StorageLocation
	LocationSelector    LocationSelectorStrategy
	NumLoadingThreads   int
	NumBootstrapThreads int
	DropSegmentDelay    time.Duration
	// InfoDir is druid.segmentCache.infoDir, by default <first location>/info_dir ("" without locations).
	InfoDir            string
	StatusQueueMaxSize int
	AnnounceInterval   time.Duration
	DeleteOnRemove     bool
	LazyLoadOnStart    bool
	VirtualStorage     bool
}

// Locations returns a copy of druid.segmentCache.locations, in configuration order.
func (s SegmentCacheConfig) Locations() []StorageLocation { return slices.Clone(s.locations) }

// CombinedMaxSize is the sum of the locations' maxSize (SegmentLoaderConfig.getCombinedMaxSize): the default of
// druid.server.maxSize, and the storageSize a Druid 37+ data server announces. Java's sum overflows; this one
// saturates at math.MaxInt64 instead.
func (s SegmentCacheConfig) CombinedMaxSize() ByteSize {
	var sum int64
	for _, loc := range s.locations {
		if int64(loc.MaxSize) > math.MaxInt64-sum {
			return math.MaxInt64
		}
		sum += int64(loc.MaxSize)
	}
	return ByteSize(sum)
}

// AnnouncerConfig is druid.announcer.* (BatchDataSegmentAnnouncerConfig).
type AnnouncerConfig struct {
	SegmentsPerNode             int
	MaxBytesPerNode             int64
	SkipDimensionsAndMetrics    bool
	SkipLoadSpec                bool
	SkipSegmentAnnouncementOnZK bool
	// skipOnZKByDefault: no source set skipSegmentAnnouncementOnZk, so the Druid version may decide it.
	skipOnZKByDefault bool
}

// StorageConfig is druid.storage.* (deep storage).
type StorageConfig struct {
	Type             string
	Bucket           string
	BaseKey          string
	StorageDirectory string
	UseS3aSchema     bool
	Zip              bool
}

// S3Config is druid.s3.*.
type S3Config struct {
	AccessKey                      Secret
	SecretKey                      Secret
	EndpointURL                    string
	EndpointSigningRegion          string
	Protocol                       string
	EnablePathStyleAccess          bool
	DisableChunkedEncoding         bool
	ForceGlobalBucketAccessEnabled bool
}

// GoogleConfig is druid.google.* (Druid's google extension: GoogleAccountConfig, GoogleInputDataConfig) and the
// emulator endpoint druid.sidecar.google.endpoint.
type GoogleConfig struct {
	Bucket           string
	Prefix           string
	MaxListingLength int
	// Endpoint is a Cloud Storage JSON API server in Google's stead (an emulator); "" for Google's.
	Endpoint string
}

// AzureConfig is druid.azure.* (Druid's azure extension: AzureAccountConfig, AzureDataSegmentConfig,
// AzureInputDataConfig) and the emulator endpoint druid.sidecar.azure.endpoint.
type AzureConfig struct {
	Account                  string
	Key                      Secret
	SharedAccessStorageToken Secret
	UseAzureCredentialsChain bool
	Protocol                 string
	// EndpointSuffix is the deprecated druid.azure.endpointSuffix (core.windows.net: the blob endpoint is
	// blob.<suffix>); it wins over StorageAccountEndpointSuffix when set, as in Druid.
	EndpointSuffix               string
	StorageAccountEndpointSuffix string
	MaxTries                     int
	Container                    string
	Prefix                       string
	MaxListingLength             int
	// Endpoint is the blob service's URL in the account's stead (an emulator); "" for Azure's.
	Endpoint string
}

// MetadataConfig is druid.metadata.storage.*.
type MetadataConfig struct {
	Type       string
	ConnectURI string
	User       string
	Password   Secret
	Tables     MetadataTables
	// DefaultRule is druid.manager.rules.defaultRule: the dataSource whose rules apply after every dataSource's own.
	DefaultRule string
}

// MetadataTables is druid.metadata.storage.tables.*: each table is <base>_<suffix> unless set explicitly.
type MetadataTables struct {
	Base  string
	names [tableCount]string
}

type tableName int

const (
	tableSegments tableName = iota
	tableRules
	tableConfig
	tableDataSource
	tablePendingSegments
	tableUpgradeSegments
	tableTasks
	tableTaskLock
	tableAudit
	tableSupervisors
	tableSegmentSchemas
	tableCount
)

// Segments is the segments table, druid_segments by default.
func (t MetadataTables) Segments() string { return t.names[tableSegments] }

// Rules is the rules table, druid_rules by default.
func (t MetadataTables) Rules() string { return t.names[tableRules] }

// Config is the config table, druid_config by default.
func (t MetadataTables) Config() string { return t.names[tableConfig] }

// DataSource is the dataSource (supervisor metadata) table, druid_dataSource by default.
func (t MetadataTables) DataSource() string { return t.names[tableDataSource] }

// PendingSegments is the pending segments table, druid_pendingSegments by default.
func (t MetadataTables) PendingSegments() string { return t.names[tablePendingSegments] }

// UpgradeSegments is the upgrade segments table, druid_upgradeSegments by default.
func (t MetadataTables) UpgradeSegments() string { return t.names[tableUpgradeSegments] }

// Tasks is the tasks table, druid_tasks by default.
func (t MetadataTables) Tasks() string { return t.names[tableTasks] }

// TaskLock is the task lock table, druid_tasklocks by default (the key is taskLock, the suffix tasklocks).
func (t MetadataTables) TaskLock() string { return t.names[tableTaskLock] }

// Audit is the audit table, druid_audit by default.
func (t MetadataTables) Audit() string { return t.names[tableAudit] }

// Supervisors is the supervisors table, druid_supervisors by default.
func (t MetadataTables) Supervisors() string { return t.names[tableSupervisors] }

// SegmentSchemas is the segment schemas table, druid_segmentSchemas by default.
func (t MetadataTables) SegmentSchemas() string { return t.names[tableSegmentSchemas] }

// The discovery types druid-sidecar implements (druid.discovery.type).
const (
	DiscoveryCurator = "curator" // ZooKeeper, Curator's internal discovery
	DiscoveryK8s     = "k8s"     // Kubernetes pod labels and annotations (druid-kubernetes-extensions)
)

// DiscoveryConfig is druid.discovery.*.
type DiscoveryConfig struct {
	// Type is druid.discovery.type: DiscoveryCurator or DiscoveryK8s.
	Type string
	// K8s is druid.discovery.k8s.*, read with Type k8s.
	K8s K8sDiscoveryConfig
}

// K8sDiscoveryConfig is druid.discovery.k8s.*, as Druid's K8sDiscoveryConfig reads it (the leader election timings
// are left out: druid-sidecar only reads the leaders).
type K8sDiscoveryConfig struct {
	ClusterIdentifier  string
	PodNameEnvKey      string // the environment variable holding the pod's name
	PodNamespaceEnvKey string // the environment variable holding the pod's namespace
	// CoordinatorLeaderNamespace and OverlordLeaderNamespace hold the leader ConfigMaps; "" is the pod's namespace.
	CoordinatorLeaderNamespace string
	OverlordLeaderNamespace    string
}

// LookupConfig is druid.lookup.*.
type LookupConfig struct {
	// LookupTier is announced in the lookupNodeService.
	LookupTier string
}

// EscalatorConfig is druid.escalator.*: the credentials Druid processes use to call each other.
type EscalatorConfig struct {
	// Type is druid.escalator.type: noop (the default) or basic.
	Type                   string
	InternalClientUsername string
	InternalClientPassword Secret
}

// CacheLayout is druid.sidecar.cacheLayout.
type CacheLayout string

// The segment cache layouts.
const (
	// FlatLayout is Druid 35+'s <location>/<segmentId>.
	FlatLayout CacheLayout = "flat"
	// NestedLayout is Druid 34's and older <location>/<dataSource>/<start>_<end>/<version>/<partitionNum>.
	NestedLayout CacheLayout = "nested"
)

// BuildVersion is what druid.sidecar.version defaults to: the druid-sidecar binary's own version, which its main
// package sets before any configuration is loaded ("unknown" until then, as Druid announces without one).
var BuildVersion = "unknown"

// SidecarConfig is druid.sidecar.*: druid-sidecar's own keys.
type SidecarConfig struct {
	Version     string
	CacheLayout CacheLayout
	// ZKLoadQueue is whether the ZooKeeper load queue is read: druid.sidecar.zkLoadQueue, with auto resolved
	// from the Druid version (ZKLoadQueueMode keeps what was configured).
	ZKLoadQueue     bool
	ZKLoadQueueMode Switch
	// LegacyServerAnnouncement is whether the server announcement znode (announcementsPath/<host:port>) is written:
	// druid.sidecar.legacyServerAnnouncement, with auto resolved from the Druid version (the Mode keeps what was
	// configured).
	LegacyServerAnnouncement     bool
	LegacyServerAnnouncementMode Switch
	// DruidVersion is druid.sidecar.druidVersion; "" means read from the Coordinator leader at start.
	DruidVersion           string
	AnnounceServedSegments bool
	// Upstream is the URL of the segment server served beside; "" when none.
	Upstream string
	// AuditPeriod is druid.sidecar.audit.period; 0 means no periodic audit.
	AuditPeriod time.Duration
	// CoordinatorURL is druid.sidecar.coordinator.url; "" means find the leader through discovery.
	CoordinatorURL      string
	PrefetchMaxBytes    ByteSize
	PrefetchMaxSegments int
	HTTPPprof           bool
	// UpstreamHookTimeout bounds one load or drop hook call to the upstream.
	UpstreamHookTimeout time.Duration
	// InternalAuth requires the escalator's basic-auth credentials on /druid-internal/*.
	InternalAuth bool
	// CompanionPort is the HTTP port of `companion`.
	CompanionPort int
	// CompanionTLSPort is its HTTPS port, served with druid.enableTlsPort as the Historical's druid.tlsPort is.
	CompanionTLSPort int
	// PrefetchThreads is how many segments `companion` pulls at once.
	PrefetchThreads int
	// PrefetchPollPeriod is how often `companion` reads the Coordinator's load queue.
	PrefetchPollPeriod time.Duration
	// PrefetchClaimTimeout is how long an unclaimed prefetched copy out of the queue is kept.
	PrefetchClaimTimeout time.Duration
	// DriftPeriod is how often `companion` runs its drift watch; 0 turns it off.
	DriftPeriod time.Duration
	// RolloutGate turns on the companion's rollout gate (/status/rollout); NativeSidecar says the companion runs
	// as a Kubernetes native sidecar, which the gate needs under druid.discovery.type=k8s.
	RolloutGate, NativeSidecar bool
	// ChangeRequestsMaxRequestBytes bounds one changeRequests body; ChangeRequestsMaxInflightBytes bounds what the
	// bodies being read or answered take together. 0 means the load queue's defaults.
	ChangeRequestsMaxRequestBytes  ByteSize
	ChangeRequestsMaxInflightBytes ByteSize
	// PullStallTimeout cuts a deep storage transfer that receives nothing for this long; PullTimeout bounds a whole
	// pull (0: no bound).
	PullStallTimeout, PullTimeout time.Duration
	// HTTPReadHeaderTimeout, HTTPBodyReadTimeout and HTTPWriteTimeout bound the reading of a request's headers and
	// of its body, and the writing of a response; 0 means no limit.
	HTTPReadHeaderTimeout time.Duration
	HTTPBodyReadTimeout   time.Duration
	HTTPWriteTimeout      time.Duration
}

// redacted is what every secret prints as.
const redacted = "<redacted>"

// Secret is a password or key. It prints, formats, logs and marshals as "<redacted>"; only Reveal gives the value.
type Secret struct {
	value string
}

// NewSecret wraps a value, for tests and for callers that build a Secret themselves.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "<redacted>".
func (s Secret) String() string { return redacted }

// GoString returns "<redacted>".
func (s Secret) GoString() string { return redacted }

// Format writes "<redacted>" for every verb, so no fmt verb reaches the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(redacted))
		return
	}
	fmt.Fprint(f, redacted)
}

// MarshalJSON returns "<redacted>" as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "<redacted>".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
