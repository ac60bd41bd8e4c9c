package configs

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// historicalEnv is the environment of the Historical's pod: secrets from a Kubernetes Secret, and druid_*
// overrides from a ConfigMap in the Docker image convention.
var historicalEnv = []string{
	"HOME=/opt/druid",
	"PGHOST=127.0.0.20",
	"METADATA_PASSWORD=pg-s3cr3t",
	"AWS_ACCESS_KEY_ID=AKIAEXAMPLEACCESS",
	"AWS_SECRET_ACCESS_KEY=aws-s3cr3t/key+value",
	"DRUID_SYSTEM_PASSWORD=escalator-s3cr3t",
	"druid_host=127.0.0.5",
	"druid_segmentCache_numBootstrapThreads=8",
	"druid_sidecar_audit_period=PT1H",
	"DRUID_XMX=16g", // not a druid_ variable: the image's own
}

var historicalFiles = []string{"testdata/_common/common.runtime.properties", "testdata/historical/runtime.properties"}

func loadHistorical(t *testing.T, sets ...string) *Config {
	t.Helper()
	c, err := Load(LoadOptions{
		PropertiesFiles: historicalFiles,
		Environ:         historicalEnv,
		Sets:            sets,
		NumCPU:          32,
		Require:         []Requirement{RequireHost, RequireSegmentCache, RequireMetadataStore},
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoadHistorical(t *testing.T) {
	c := loadHistorical(t, "druid.server.priority=20", "druid.sidecar.audit.period=PT15M")

	const common = "testdata/_common/common.runtime.properties"
	const historical = "testdata/historical/runtime.properties"
	checks := []struct {
		got, want any
		name      string
	}{
		{c.Node.Service, "druid/historical", "service"},
		{c.Node.Host, "127.0.0.5", "host"},
		{c.Node.HostAndPortToUse(), "127.0.0.5:8083", "hostAndPortToUse"},
		{c.ZK.Service.Host, "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181/druid-prod", "zk host"},
		{c.ZK.Service.SessionTimeout, 30 * time.Second, "zk session timeout"},
		{c.ZK.Service.Compress, true, "zk compress"},
		{c.ZK.Paths.Announcements, "/druid/announcements", "announcementsPath"},
		{c.ZK.Paths.LiveSegments, "/druid/segments", "liveSegmentsPath"},
		{c.ZK.Paths.Coordinator, "/druid/coordinator", "coordinatorPath"},
		{c.ZK.Paths.Overlord, "/druid/overlord", "overlord path"},
		{c.ZK.Paths.InternalDiscovery, "/druid/internal-discovery", "internal discovery path"},
		{c.Server.Tier, "hot", "tier"},
		{c.Server.Priority, 20, "priority (--set beats the file)"},
		{c.Server.MaxSize, ByteSize(600_647_710_720), "maxSize = sum of locations"},
		{c.SegmentCache.NumLoadingThreads, 4, "numLoadingThreads"},
		{c.SegmentCache.NumBootstrapThreads, 8, "numBootstrapThreads (env)"},
		{c.SegmentCache.InfoDir, "/opt/druid/var/druid/segment-cache/info_dir", "infoDir"},
		{c.SegmentCache.LocationSelector, LeastBytesUsed, "strategy"},
		{c.SegmentCache.DropSegmentDelay, 30 * time.Second, "dropSegmentDelay"},
		{c.Announcer.SegmentsPerNode, 50, "segmentsPerNode"},
		{c.Announcer.MaxBytesPerNode, int64(524288), "maxBytesPerNode"},
		{c.Storage.Type, "s3", "storage type"},
		{c.Storage.BaseKey, "prod/segments-v2", "baseKey"},
		{c.S3.AccessKey.Reveal(), "AKIAEXAMPLEACCESS", "s3 access key (${env:})"},
		{c.S3.SecretKey.Reveal(), "aws-s3cr3t/key+value", "s3 secret key (provider)"},
		{c.Metadata.ConnectURI, "jdbc:postgresql://127.0.0.20:5432/druid?sslmode=require&ApplicationName=druid", "connectURI"},
		{c.Metadata.Password.Reveal(), "pg-s3cr3t", "metadata password (provider)"},
		{c.Metadata.Tables.Segments(), "druid_segments", "segments table"},
		{c.Metadata.Tables.TaskLock(), "druid_tasklocks", "taskLock table"},
		{c.Discovery.Type, "curator", "discovery"},
		{c.Lookup.LookupTier, "__default", "lookup tier"},
		{c.Escalator.Type, "basic", "escalator"},
		{c.Escalator.InternalClientPassword.Reveal(), "escalator-s3cr3t", "escalator password"},
		{c.Sidecar.Version, "unknown", "sidecar version"},
		{c.Sidecar.CacheLayout, FlatLayout, "cacheLayout"},
		{c.Sidecar.AuditPeriod, 15 * time.Minute, "audit period (--set beats env)"},
		{c.Sidecar.PrefetchMaxBytes, ByteSize(20_000_000_000), "prefetch maxBytes"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}

	locs := c.SegmentCache.Locations()
	want := []StorageLocation{
		{Path: "/opt/druid/var/druid/segment-cache", MaxSize: 300_000_000_000},
		{Path: "/mnt/disk2/segment-cache", MaxSize: 280 << 30, FreeSpacePercent: 1},
	}
	if len(locs) != len(want) || locs[0] != want[0] || locs[1] != want[1] {
		t.Errorf("locations = %+v, want %+v", locs, want)
	}
	locs[0].Path = "/elsewhere"
	if c.SegmentCache.Locations()[0].Path != want[0].Path {
		t.Error("Locations() lets the caller change the Config")
	}

	origins := map[string]string{
		"druid.host":                                "env:druid_host",
		"druid.segmentCache.numBootstrapThreads":    "env:druid_segmentCache_numBootstrapThreads",
		"druid.server.priority":                     "flag:--set",
		"druid.sidecar.audit.period":                "flag:--set",
		"druid.zk.service.host":                     "file:" + common + ":12",
		"druid.metadata.storage.connector.password": "file:" + common + ":19",
		"druid.segmentCache.locations":              "file:" + historical + ":14",
		"druid.server.tier":                         "file:" + historical + ":16",
		"druid.zk.paths.announcementsPath":          "default",
		"druid.processing.numThreads":               "file:" + historical + ":10",
	}
	entries := map[string]Entry{}
	for _, e := range c.Entries() {
		entries[e.Key] = e
	}
	for key, want := range origins {
		if got := entries[key].Origin.String(); got != want {
			t.Errorf("origin of %s = %s, want %s", key, got, want)
		}
	}
	if e := entries["druid.processing.numThreads"]; e.Known || e.Value != "15" {
		t.Errorf("druid.processing.numThreads entry = %+v, want an unknown key with value 15", e)
	}
	if e := entries["druid.server.maxSize"]; e.Value != "600647710720" || e.Origin.Kind != FromDefault {
		t.Errorf("druid.server.maxSize entry = %+v, want the derived sum", e)
	}

	props := FormatProperties(c.Entries())
	js, err := FormatJSON(c.Entries())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"pg-s3cr3t", "AKIAEXAMPLEACCESS", "aws-s3cr3t", "escalator-s3cr3t", "prod/segments-v2"} {
		if strings.Contains(props, secret) || strings.Contains(string(js), secret) {
			t.Errorf("config print shows %q", secret)
		}
	}
	for _, line := range []string{
		"# env:druid_host\ndruid.host=127.0.0.5\n",
		"# file:" + common + ":19\ndruid.metadata.storage.connector.password=<redacted>\n",
		"# file:" + common + ":25\ndruid.s3.accessKey=<redacted>\n",
		"# file:" + common + ":24\ndruid.storage.baseKey=<redacted>\n",
		"# default\ndruid.zk.service.pwd=\n",
		"# file:" + common + ":47 (not read by druid-sidecar)\ndruid.auth.authenticator.MyBasicMetadataAuthenticator.initialAdminPassword=<redacted>\n",
		"# default\ndruid.zk.paths.liveSegmentsPath=/druid/segments\n",
	} {
		if !strings.Contains(props, line) {
			t.Errorf("properties output lacks %q", line)
		}
	}
	if !strings.Contains(string(js), `"key": "druid.s3.secretKey",`+"\n"+`    "value": "<redacted>",`) {
		t.Errorf("JSON output does not redact druid.s3.secretKey:\n%s", js)
	}

	warnings := strings.Join(c.Warnings(), "\n")
	wantWarning := "file:" + common + ":47: druid.auth.authenticator.MyBasicMetadataAuthenticator.initialAdminPassword: " +
		"${env:DRUID_ADMIN_PASSWORD}: environment variable DRUID_ADMIN_PASSWORD is not set and no default is given " +
		"(write ${env:DRUID_ADMIN_PASSWORD:-default}) (a key druid-sidecar does not read; shown uninterpolated)"
	if warnings != wantWarning {
		t.Errorf("warnings:\n%s\nwant:\n%s", warnings, wantWarning)
	}
}

// TestLoadDefaults checks Druid's defaults with no source at all.
func TestLoadDefaults(t *testing.T) {
	c, err := Load(LoadOptions{Environ: []string{}, NumCPU: 13})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Node: NodeConfig{Service: "druid/historical", PlaintextPort: 8083, TLSPort: 8283, EnablePlaintextPort: true},
		ZK: ZKConfig{Enabled: true,
			Service: ZKServiceConfig{Host: "localhost", SessionTimeout: 30 * time.Second, ConnectionTimeout: 15 * time.Second,
				Compress: true, AuthScheme: "digest", MaxRetries: 29},
			Paths: ZKPathsConfig{Base: "druid", Announcements: "/druid/announcements", LiveSegments: "/druid/segments",
				Coordinator: "/druid/coordinator", ServedSegments: "/druid/servedSegments", LoadQueue: "/druid/loadQueue",
				Overlord: "/druid/overlord", InternalDiscovery: "/druid/internal-discovery"}},
		Server: ServerConfig{Tier: "_default_tier", HTTPMaxIdleTime: 5 * time.Minute, HTTPMaxRequestHeaderSize: 8192},
		SegmentCache: SegmentCacheConfig{LocationSelector: LeastBytesUsed, NumLoadingThreads: 2, NumBootstrapThreads: 2,
			DropSegmentDelay: 30 * time.Second, StatusQueueMaxSize: 100, DeleteOnRemove: true},
		Announcer: AnnouncerConfig{SegmentsPerNode: 50, MaxBytesPerNode: 524288, skipOnZKByDefault: true},
		Storage:   StorageConfig{Type: "local", StorageDirectory: "/tmp/druid/localStorage", Zip: true},
		S3:        S3Config{Protocol: "https"},
		Google:    GoogleConfig{MaxListingLength: 1024},
		Azure:     AzureConfig{Protocol: "https", StorageAccountEndpointSuffix: "blob.core.windows.net", MaxTries: 3, MaxListingLength: 1024},
		Metadata:  MetadataConfig{Type: "derby", Tables: c.Metadata.Tables, DefaultRule: "_default"},
		Discovery: DiscoveryConfig{Type: "curator", K8s: K8sDiscoveryConfig{PodNameEnvKey: "POD_NAME", PodNamespaceEnvKey: "POD_NAMESPACE"}},
		Lookup:    LookupConfig{LookupTier: "__default"},
		Escalator: EscalatorConfig{Type: "noop"},
		Sidecar: SidecarConfig{Version: "unknown", CacheLayout: FlatLayout, ZKLoadQueueMode: SwitchAuto, LegacyServerAnnouncement: true,
			LegacyServerAnnouncementMode: SwitchAuto, PrefetchMaxBytes: PrefetchWindowAuto, PrefetchMaxSegments: 10,
			UpstreamHookTimeout: 5 * time.Minute, CompanionPort: 9083, CompanionTLSPort: 9283, PrefetchThreads: 8, PrefetchPollPeriod: 5 * time.Second,
			PrefetchClaimTimeout: 15 * time.Minute, DriftPeriod: time.Minute,
			ChangeRequestsMaxRequestBytes: 16 << 20, ChangeRequestsMaxInflightBytes: 64 << 20, PullStallTimeout: 30 * time.Second,
			HTTPReadHeaderTimeout: 30 * time.Second, HTTPBodyReadTimeout: 30 * time.Second, HTTPWriteTimeout: time.Minute},
	}
	if c.Node != want.Node || c.ZK != want.ZK || c.Announcer != want.Announcer || c.Storage != want.Storage ||
		c.S3 != want.S3 || c.Metadata != want.Metadata || c.Discovery != want.Discovery || c.Lookup != want.Lookup ||
		c.Escalator != want.Escalator || c.Sidecar != want.Sidecar ||
		c.Server.Tier != want.Server.Tier || c.Server.Priority != 0 || c.Server.MaxSize != 0 {
		t.Errorf("defaults:\n%+v\nwant\n%+v", *c, want)
	}
	sc := c.SegmentCache
	sc.locations = nil
	if sc.LocationSelector != want.SegmentCache.LocationSelector || sc.NumLoadingThreads != 2 || sc.NumBootstrapThreads != 2 ||
		sc.DropSegmentDelay != 30*time.Second || sc.StatusQueueMaxSize != 100 || !sc.DeleteOnRemove || sc.InfoDir != "" {
		t.Errorf("segment cache defaults = %+v", sc)
	}
	tables := c.Metadata.Tables
	for got, want := range map[string]string{
		tables.Segments(): "druid_segments", tables.Rules(): "druid_rules", tables.Config(): "druid_config",
		tables.DataSource(): "druid_dataSource", tables.PendingSegments(): "druid_pendingSegments",
		tables.UpgradeSegments(): "druid_upgradeSegments", tables.Tasks(): "druid_tasks", tables.TaskLock(): "druid_tasklocks",
		tables.Audit(): "druid_audit", tables.Supervisors(): "druid_supervisors", tables.SegmentSchemas(): "druid_segmentSchemas",
	} {
		if got != want {
			t.Errorf("table %s, want %s", got, want)
		}
	}
	if got := c.Server.HiddenProperties(); len(got) != 7 {
		t.Errorf("hiddenProperties = %v", got)
	}
}

// memFiles serves named contents and falls back to the real file system.
func memFiles(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return os.ReadFile(p)
	}
}

func TestLoadDerived(t *testing.T) {
	tests := []struct {
		name  string
		props string
		env   []string
		check func(t *testing.T, c *Config)
	}{
		{"base drives every path", "druid.zk.paths.base=prod/druid/\ndruid.zk.paths.coordinatorPath=/elsewhere/coordinator\n", nil, func(t *testing.T, c *Config) {
			p := c.ZK.Paths
			if p.Announcements != "/prod/druid/announcements" || p.Coordinator != "/elsewhere/coordinator" ||
				p.InternalDiscovery != "/prod/druid/internal-discovery" || p.Overlord != "/prod/druid/overlord" {
				t.Errorf("paths = %+v", p)
			}
		}},
		{"tables base", "druid.metadata.storage.tables.base=prod\ndruid.metadata.storage.tables.segments=custom_segments\n", nil, func(t *testing.T, c *Config) {
			if c.Metadata.Tables.Segments() != "custom_segments" || c.Metadata.Tables.Rules() != "prod_rules" {
				t.Errorf("tables = %s %s", c.Metadata.Tables.Segments(), c.Metadata.Tables.Rules())
			}
		}},
		{"druid.port when druid.plaintextPort is not set", "druid.host=127.0.0.7\ndruid.port=8088\n", nil, func(t *testing.T, c *Config) {
			if c.Node.PlaintextPort != 8088 || c.Node.HostAndPortToUse() != "127.0.0.7:8088" {
				t.Errorf("node = %+v", c.Node)
			}
		}},
		{"druid.plaintextPort wins over druid.port", "druid.port=8088\ndruid.plaintextPort=8090\n", nil, func(t *testing.T, c *Config) {
			if c.Node.PlaintextPort != 8090 {
				t.Errorf("node = %+v", c.Node)
			}
		}},
		{"port in druid.host", "druid.host=127.0.0.7:9083\n", nil, func(t *testing.T, c *Config) {
			if c.Node.Host != "127.0.0.7" || c.Node.PlaintextPort != 9083 || c.Node.HostAndPortToUse() != "127.0.0.7:9083" {
				t.Errorf("node = %+v", c.Node)
			}
		}},
		{"IPv6 host with TLS", "druid.host=[::1]\ndruid.enableTlsPort=true\ndruid.enablePlaintextPort=false\n", nil, func(t *testing.T, c *Config) {
			p, tls := c.Node.AnnouncedPorts()
			if c.Node.Host != "::1" || c.Node.HostAndPortToUse() != "[::1]:8283" || c.Node.HostAndPort() != "" || p != -1 || tls != 8283 {
				t.Errorf("node = %+v, %s", c.Node, c.Node.HostAndPortToUse())
			}
		}},
		{"bare IPv6 host", "druid.host=fd00::5\n", nil, func(t *testing.T, c *Config) {
			if c.Node.Host != "fd00::5" || c.Node.HostAndPortToUse() != "[fd00::5]:8083" {
				t.Errorf("node = %+v", c.Node)
			}
		}},
		{"explicit maxSize", "druid.server.maxSize=1t\ndruid.segmentCache.locations=[{\"path\":\"/a\"}]\n", nil, func(t *testing.T, c *Config) {
			if c.Server.MaxSize != 1_000_000_000_000 || c.SegmentCache.Locations()[0].MaxSize != math.MaxInt64 {
				t.Errorf("maxSize = %d, location = %+v", c.Server.MaxSize, c.SegmentCache.Locations())
			}
		}},
		{"unbounded locations saturate", "druid.segmentCache.locations=[{\"path\":\"/a\"},{\"path\":\"/b\",\"maxSize\":10}]\n", nil, func(t *testing.T, c *Config) {
			if c.Server.MaxSize != math.MaxInt64 {
				t.Errorf("maxSize = %d", c.Server.MaxSize)
			}
		}},
		{"ZooKeeper disabled skips ZK announcements", "druid.zk.service.enabled=false\n", nil, func(t *testing.T, c *Config) {
			if !c.Announcer.SkipSegmentAnnouncementOnZK {
				t.Error("SkipSegmentAnnouncementOnZK is off")
			}
		}},
		{"ZOOKEEPER, then druid_zk_service_host wins", "", []string{"ZOOKEEPER=127.0.0.30:2181", "druid_zk_service_host=127.0.0.31:2181/chroot"}, func(t *testing.T, c *Config) {
			s, chroot := c.ZK.Service.Servers()
			if c.ZK.Service.Host != "127.0.0.31:2181/chroot" || len(s) != 1 || s[0] != "127.0.0.31:2181" || chroot != "/chroot" {
				t.Errorf("zk = %q %v %q", c.ZK.Service.Host, s, chroot)
			}
		}},
		{"ZOOKEEPER alone", "druid.zk.service.host=127.0.0.40\n", []string{"ZOOKEEPER=127.0.0.30,127.0.0.32:2182"}, func(t *testing.T, c *Config) {
			s, chroot := c.ZK.Service.Servers()
			if len(s) != 2 || s[0] != "127.0.0.30:2181" || s[1] != "127.0.0.32:2182" || chroot != "" {
				t.Errorf("servers = %v %q", s, chroot)
			}
		}},
		{"env keys keep their case", "", []string{"druid_segmentCache_locations=[{\"path\":\"/env\",\"maxSize\":\"1gi\"}]", "druid_sidecar_http_pprof=true"}, func(t *testing.T, c *Config) {
			if l := c.SegmentCache.Locations(); len(l) != 1 || l[0].Path != "/env" || l[0].MaxSize != 1<<30 || !c.Sidecar.HTTPPprof {
				t.Errorf("locations = %+v, pprof %v", l, c.Sidecar.HTTPPprof)
			}
		}},
		{"key twice in a file: the later wins", "druid.server.tier=cold\ndruid.server.tier=hot\n", nil, func(t *testing.T, c *Config) {
			if c.Server.Tier != "hot" {
				t.Errorf("tier = %s", c.Server.Tier)
			}
			if w := c.Warnings(); len(w) != 1 || w[0] != "file:conf/runtime.properties:2: druid.server.tier: also set on line 1; the later value wins, as in Java" {
				t.Errorf("warnings = %q", w)
			}
		}},
		{"sys lookups read --set and JVM stand-ins", "druid.storage.storageDirectory=${sys:java.io.tmpdir}/deep\ndruid.server.tier=${sys:tier:-cold}\n", nil, func(t *testing.T, c *Config) {
			if c.Storage.StorageDirectory != "/tmp/deep" || c.Server.Tier != "cold" {
				t.Errorf("storage dir %q tier %q", c.Storage.StorageDirectory, c.Server.Tier)
			}
		}},
		{"file lookup with nested env", "druid.segmentCache.locations=${file:UTF-8:${env:CONF}/locations.json}\n", []string{"CONF=conf"}, func(t *testing.T, c *Config) {
			if l := c.SegmentCache.Locations(); len(l) != 1 || l[0].Path != "/from/file" {
				t.Errorf("locations = %+v", l)
			}
		}},
		{"escaped ${ stays literal", "druid.server.tier=$${not.a.variable}\n", nil, func(t *testing.T, c *Config) {
			if c.Server.Tier != "${not.a.variable}" {
				t.Errorf("tier = %q", c.Server.Tier)
			}
		}},
		{"removed Druid key warns", "druid.zk.paths.loadQueuePath=/druid/loadQueue\n", nil, func(t *testing.T, c *Config) {
			if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "removed from Druid in 31.0") {
				t.Errorf("warnings = %q", w)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(LoadOptions{
				PropertiesFiles: []string{"conf/runtime.properties"},
				Environ:         append([]string{}, tt.env...),
				NumCPU:          4,
				ReadFile: memFiles(map[string]string{
					"conf/runtime.properties": tt.props,
					"conf/locations.json":     `[{"path":"/from/file","maxSize":"10g"}]` + "\n",
				}),
			})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadLaterFileWins(t *testing.T) {
	c, err := Load(LoadOptions{
		PropertiesFiles: []string{"a", "b"},
		Environ:         []string{},
		ReadFile:        memFiles(map[string]string{"a": "druid.server.tier=a\ndruid.lookup.lookupTier=a\n", "b": "\n\ndruid.server.tier=b\n"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Tier != "b" || c.Lookup.LookupTier != "a" {
		t.Errorf("tier %s lookup tier %s", c.Server.Tier, c.Lookup.LookupTier)
	}
	for _, e := range c.Entries() {
		if e.Key == "druid.server.tier" && e.Origin != (Origin{Kind: FromFile, Path: "b", Line: 3}) {
			t.Errorf("origin = %+v", e.Origin)
		}
	}
}

// TestLoadProblems checks the one line each bad configuration gives.
func TestLoadProblems(t *testing.T) {
	const f = "file:conf/runtime.properties:1: "
	tests := []struct {
		name    string
		props   string
		env     []string
		sets    []string
		files   []string // default: conf/runtime.properties
		require []Requirement
		want    string
	}{
		{name: "bad JSON in locations", props: `druid.segmentCache.locations=[{"path":"/a","maxSize":"300g"}`,
			want: f + `druid.segmentCache.locations: expected a JSON array of locations such as [{"path":"/mnt/segments","maxSize":"300g"}]: unexpected end of JSON input`},
		{name: "locations not an array", props: `druid.segmentCache.locations={"path":"/a"}`,
			want: f + `druid.segmentCache.locations: expected a JSON array of locations such as [{"path":"/mnt/segments","maxSize":"300g"}]: found a JSON object where an array belongs`},
		{name: "location without path", props: `druid.segmentCache.locations=[{"maxSize":"300g"}]`,
			want: f + `druid.segmentCache.locations: location 0: expected a "path" string such as [{"path":"/mnt/segments","maxSize":"300g"}]`},
		{name: "size 12zz", props: `druid.segmentCache.locations=[{"path":"/a","maxSize":"12zz"}]`,
			want: f + `druid.segmentCache.locations: location 0: maxSize: expected a size in bytes such as 300000000000, 300g or 280Gi (k, m, g, t, p are powers of 1000; ki, mi, gi, ti, pi and kib … pib powers of 1024; whole numbers only), got "12zz"`},
		{name: "size 1.2t", props: "druid.server.maxSize=1.2t",
			want: f + `druid.server.maxSize: expected a size in bytes such as 300000000000, 300g or 280Gi (k, m, g, t, p are powers of 1000; ki, mi, gi, ti, pi and kib … pib powers of 1024; whole numbers only), got "1.2t"`},
		{name: "zero location size", props: `druid.segmentCache.locations=[{"path":"/a","maxSize":0}]`,
			want: f + `druid.segmentCache.locations: location 0: maxSize must be positive, got 0`},
		{name: "negative freeSpacePercent", props: `druid.segmentCache.locations=[{"path":"/a","freeSpacePercent":-1}]`,
			want: f + `druid.segmentCache.locations: location 0: freeSpacePercent: expected a number from 0 to 100, got -1`},
		{name: "unknown sidecar key", props: "druid.sidecar.cachelayout=flat",
			want: f + "druid.sidecar.cachelayout: unknown druid-sidecar key; did you mean druid.sidecar.cacheLayout?"},
		{name: "unknown sidecar key from env", env: []string{"druid_sidecar_audit_perod=PT1M"},
			want: "env:druid_sidecar_audit_perod: druid.sidecar.audit.perod: unknown druid-sidecar key; did you mean druid.sidecar.audit.period?"},
		{name: "unknown sidecar key, nothing near", props: "druid.sidecar.completelyDifferentThing=1",
			want: f + "druid.sidecar.completelyDifferentThing: unknown druid-sidecar key; the known ones are listed by `druid-sidecar config print`"},
		{name: "unreadable file", files: []string{"testdata/missing.properties"},
			want: "file:testdata/missing.properties: cannot read the properties file: open testdata/missing.properties: no such file or directory"},
		{name: "unterminated ${", props: "druid.server.tier=${env:TIER",
			want: f + `druid.server.tier: unterminated "${" at offset 0: close it with "}" or write "$${" for a literal "${"`},
		{name: "missing env var without default", props: "druid.zk.service.host=${env:ZK_HOSTS}",
			want: f + "druid.zk.service.host: ${env:ZK_HOSTS}: environment variable ZK_HOSTS is not set and no default is given (write ${env:ZK_HOSTS:-default})"},
		{name: "missing sys property", props: "druid.server.tier=${sys:tier}",
			want: f + "druid.server.tier: ${sys:tier}: system property tier is not set and no default is given (druid-sidecar has no JVM: give it with --set tier=… or write ${sys:tier:-default})"},
		{name: "variable without lookup", props: "druid.server.tier=${tier}",
			want: f + "druid.server.tier: ${tier} cannot be resolved: Druid interpolates only ${env:…}, ${sys:…} and ${file:…} (write $${tier} for a literal ${tier})"},
		{name: "self reference", props: "druid.server.tier=${env:A}", env: []string{"A=x${env:B}", "B=${env:A}"},
			want: f + "druid.server.tier: in the value of ${env:A}: in the value of ${env:B}: ${env:A} refers to itself (env:A → env:B → env:A)"},
		{name: "${file:} missing file", props: "druid.segmentCache.locations=${file:UTF-8:testdata/missing.json}",
			want: f + "druid.segmentCache.locations: ${file:UTF-8:testdata/missing.json}: cannot read the file: open testdata/missing.json: no such file or directory"},
		{name: "${file:} without charset", props: "druid.segmentCache.locations=${file:/etc/x}",
			want: f + "druid.segmentCache.locations: ${file:/etc/x}: expected ${file:CHARSET:PATH} such as ${file:UTF-8:/etc/druid/secret}"},
		{name: "bad int", props: "druid.server.priority=high",
			want: f + `druid.server.priority: expected an integer, got "high"`},
		{name: "bad bool", props: "druid.zk.service.compress=yes",
			want: f + `druid.zk.service.compress: expected true or false, got "yes"`},
		{name: "empty bool", props: "druid.zk.service.acl=",
			want: f + `druid.zk.service.acl: expected true or false, got an empty value`},
		{name: "negative port", props: "druid.plaintextPort=-1",
			want: f + "druid.plaintextPort: expected a port number between 1 and 65535, got -1"},
		{name: "port too large", sets: []string{"druid.tlsPort=70000"},
			want: "flag:--set: druid.tlsPort: expected a port number between 1 and 65535, got 70000"},
		{name: "maxBytesPerNode out of range", props: "druid.announcer.maxBytesPerNode=2000000",
			want: f + "druid.announcer.maxBytesPerNode: expected an integer between 1024 and 1048576, got 2000000"},
		{name: "segmentsPerNode 0", props: "druid.announcer.segmentsPerNode=0",
			want: f + "druid.announcer.segmentsPerNode: expected an integer of at least 1, got 0"},
		{name: "maxZkRetries too many", props: "druid.zk.service.maxZkRetries=30",
			want: f + "druid.zk.service.maxZkRetries: expected an integer between 0 and 29, got 30"},
		{name: "unknown strategy", props: "druid.segmentCache.locationSelector.strategy=fastest",
			want: f + `druid.segmentCache.locationSelector.strategy: expected one of leastBytesUsed, roundRobin, random, mostAvailableSize; got "fastest"`},
		{name: "unknown cacheLayout", props: "druid.sidecar.cacheLayout=deep",
			want: f + `druid.sidecar.cacheLayout: expected one of flat, nested; got "deep"`},
		{name: "bad period", props: "druid.sidecar.audit.period=15m",
			want: f + `druid.sidecar.audit.period: expected an ISO-8601 period such as PT15M, PT1H or P1D, got "15m"`},
		{name: "period in months", props: "druid.sidecar.audit.period=P1M",
			want: f + `druid.sidecar.audit.period: expected an ISO-8601 period of fixed length such as PT15M or P1D (years and months vary in length), got "P1M"`},
		{name: "bad URL for upstream", props: "druid.sidecar.upstream=127.0.0.1:8083",
			want: f + `druid.sidecar.upstream: expected an http:// or https:// URL such as http://127.0.0.1:8083, got "127.0.0.1:8083"`},
		{name: "password provider with unknown type", props: `druid.metadata.storage.connector.password={"type":"aws-rds-token","user":"druid"}`,
			want: f + `druid.metadata.storage.connector.password: unknown password provider type "aws-rds-token": druid-sidecar reads "default" and "environment"`},
		{name: "provider env var missing", props: `druid.s3.secretKey={"type":"environment","variable":"S3_SECRET"}`,
			want: f + "druid.s3.secretKey: password provider: environment variable S3_SECRET is not set"},
		{name: "provider without variable", props: `druid.zk.service.pwd={"type":"environment"}`,
			want: f + `druid.zk.service.pwd: password provider "environment" needs "variable": {"type":"environment","variable":"NAME"}`},
		{name: "bad ZooKeeper path", props: "druid.zk.paths.announcementsPath=druid/announcements",
			want: f + `druid.zk.paths.announcementsPath: expected an absolute ZooKeeper path such as /druid/announcements, got "druid/announcements"`},
		{name: "bad ZooKeeper base", props: "druid.zk.paths.base=/druid//prod",
			want: f + "druid.zk.paths.base: expected an absolute ZooKeeper path such as /druid/announcements (no empty, . or .. parts)"},
		{name: "bad ZooKeeper connect string", props: "druid.zk.service.host=127.0.0.1:zk",
			want: f + `druid.zk.service.host: expected host:port[,host:port…][/chroot] with ports from 1 to 65535, got "127.0.0.1:zk"`},
		{name: "bad ZooKeeper chroot", props: "druid.zk.service.host=127.0.0.1:2181/druid//prod",
			want: f + `druid.zk.service.host: expected host:port[,host:port…][/chroot] whose chroot is a ZooKeeper path such as /druid-prod, got "127.0.0.1:2181/druid//prod"`},
		{name: "bad host", props: "druid.host=http://127.0.0.1",
			want: f + `druid.host: expected a host name or IP address, optionally with :port, such as 10.0.0.5 or 10.0.0.5:8083, got "http://127.0.0.1"`},
		{name: "host port conflicts", props: "druid.host=127.0.0.1:9000\ndruid.plaintextPort=8083",
			want: f + "druid.host: port 9000 conflicts with druid.plaintextPort=8083; drop the port from druid.host or make them equal"},
		{name: "no connector enabled", props: "druid.enablePlaintextPort=false",
			want: f + "druid.enablePlaintextPort: at least one of druid.enablePlaintextPort and druid.enableTlsPort must be true"},
		{name: "same port twice", props: "druid.enableTlsPort=true\ndruid.tlsPort=8083",
			want: "file:conf/runtime.properties:2: druid.tlsPort: must differ from druid.plaintextPort (8083) when both connectors are enabled"},
		{name: "basic escalator without user", props: "druid.escalator.type=basic",
			want: f + "druid.escalator.internalClientUsername: not set; druid.escalator.type=basic needs the internal client's user name"},
		{name: "--set without =", sets: []string{"druid.host"},
			want: `flag:--set: --set "druid.host": expected key=value`},
		{name: "malformed unicode escape", props: "druid.server.tier=\\u00zz",
			want: "file:conf/runtime.properties:1: cannot parse the line: invalid unicode literal"},
		{name: "missing druid.host when required", require: []Requirement{RequireHost},
			want: "druid.host: not set; this command announces the node and needs its address (set druid.host, druid_host or --set druid.host=…)"},
		{name: "no locations when required", props: "druid.segmentCache.locations=[]", require: []Requirement{RequireSegmentCache},
			want: `druid.segmentCache.locations: no locations; this command needs at least one, e.g. [{"path":"/mnt/segments","maxSize":"300g"}]`},
		{name: "no metadata store when required", require: []Requirement{RequireMetadataStore},
			want: "druid.metadata.storage.connector.connectURI: not set; this command reads the metadata store and needs its JDBC URI, e.g. jdbc:postgresql://db:5432/druid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = []string{"conf/runtime.properties"}
			}
			c, err := Load(LoadOptions{
				PropertiesFiles: files,
				Environ:         append([]string{}, tt.env...),
				Sets:            tt.sets,
				ReadFile:        memFiles(map[string]string{"conf/runtime.properties": tt.props}),
				Require:         tt.require,
			})
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.Problems) != 1 {
				t.Errorf("error %T is not one *Errors problem", err)
			}
		})
	}
}

// TestLoadReportsEverything: every problem in every source comes back at once, in source order.
func TestLoadReportsEverything(t *testing.T) {
	files := map[string]string{
		"common.properties": "druid.zk.service.host=${env:ZK}\n" +
			"# a comment\n" +
			"druid.segmentCache.locations=[{\"path\":\"/a\",\\\n" +
			"    \"maxSize\":\"1.5t\"}]\n",
		"historical.properties": "druid.server.priority=ten\n" +
			"druid.server.tier=\\u12\n" +
			"druid.sidecar.cachLayout=nested\n" +
			"druid.processing.numThreads=${env:UNSET_BUT_NOT_OURS}\n",
	}
	_, err := Load(LoadOptions{
		PropertiesFiles: []string{"common.properties", "historical.properties", "absent.properties"},
		Environ:         []string{"druid_announcer_segmentsPerNode=0"},
		Sets:            []string{"druid.sidecar.http.pprof=maybe"},
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		},
		Require: []Requirement{RequireHost, RequireSegmentCache},
	})
	want := strings.Join([]string{
		"file:common.properties:1: druid.zk.service.host: ${env:ZK}: environment variable ZK is not set and no default is given (write ${env:ZK:-default})",
		`file:common.properties:3: druid.segmentCache.locations: location 0: maxSize: expected a size in bytes such as 300000000000, 300g or 280Gi (k, m, g, t, p are powers of 1000; ki, mi, gi, ti, pi and kib … pib powers of 1024; whole numbers only), got "1.5t"`,
		`file:historical.properties:1: druid.server.priority: expected an integer, got "ten"`,
		"file:historical.properties:2: cannot parse the line: invalid unicode literal",
		"file:historical.properties:3: druid.sidecar.cachLayout: unknown druid-sidecar key; did you mean druid.sidecar.cacheLayout?",
		"file:absent.properties: cannot read the properties file: file does not exist",
		"env:druid_announcer_segmentsPerNode: druid.announcer.segmentsPerNode: expected an integer of at least 1, got 0",
		`flag:--set: druid.sidecar.http.pprof: expected true or false, got "maybe"`,
		"druid.host: not set; this command announces the node and needs its address (set druid.host, druid_host or --set druid.host=…)",
		// RequireSegmentCache says nothing more: druid.segmentCache.locations already has its problem.
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	var p Problem
	if !errors.As(err, &p) || p.Key != "druid.zk.service.host" {
		t.Errorf("errors.As(Problem) = %+v", p)
	}
}

func TestRequirementKey(t *testing.T) {
	if RequireHost.Key() != "druid.host" {
		t.Error(RequireHost.Key())
	}
}
