package configs

import (
	"encoding/json"
	"math"
	"path/filepath"
	"time"
)

// keyDef declares one key. The registry below is the only place a key is declared: it drives defaults, parsing
// and validation, the unknown druid.sidecar.* check, `config print` and the README table.
type keyDef struct {
	name string
	// def is the default as written in configuration, parsed with kind like any other value; "" leaves the
	// field's zero value. When derive is set, def only documents the derived default.
	def string
	// derive computes the default from other keys; it runs, in registry order, for keys no source set.
	derive func(c *Config, numCPU int)
	kind   kind
	secret bool
	doc    string
	// warn is noted in Config.Warnings when a source sets the key.
	warn string
}

const maxInt = math.MaxInt32

// registry lists every key druid-sidecar reads. Adding a key is one line here plus a field in Config.
// A derived default may depend only on keys listed before it.
var registry = []keyDef{
	// DruidNode (@Self), with a Historical's defaults.
	{name: "druid.service", def: "druid/historical", kind: str(func(c *Config) *string { return &c.Node.Service }), doc: "Service name announced in DruidNode."},
	{name: "druid.host", kind: hostKind{}, doc: "Host or IP address to announce. A `:port` suffix is split off and used as `druid.plaintextPort` when that is not set. Druid falls back to the local host name; druid-sidecar has no default and `serve` requires it."},
	{name: "druid.bindOnHost", def: "false", kind: boolean(func(c *Config) *bool { return &c.Node.BindOnHost }), doc: "Listen on `druid.host` only (announced in DruidNode)."},
	{name: "druid.port", kind: port(func(c *Config) *int { return &c.Node.LegacyPort }), doc: "Deprecated alias of `druid.plaintextPort`, used when that is not set (as Druid's DruidNode does; druid-operator writes only this key)."},
	{name: "druid.plaintextPort", def: "8083", kind: port(func(c *Config) *int { return &c.Node.PlaintextPort }), doc: "HTTP port. The default is a Historical's, since druid-sidecar stands in for one."},
	{name: "druid.tlsPort", def: "8283", kind: port(func(c *Config) *int { return &c.Node.TLSPort }), doc: "HTTPS port (a Historical's default)."},
	{name: "druid.enablePlaintextPort", def: "true", kind: boolean(func(c *Config) *bool { return &c.Node.EnablePlaintextPort }), doc: "Serve and announce the plaintext port."},
	{name: "druid.enableTlsPort", def: "false", kind: boolean(func(c *Config) *bool { return &c.Node.EnableTLSPort }), doc: "Serve and announce the TLS port; the TLS host:port then is the node's identity."},

	// TLS (TLSServerConfig; the simple-client-sslcontext extension's SSLClientConfig).
	{name: KeyTLSKeyStorePath, kind: str(func(c *Config) *string { return &c.TLS.Server.KeyStorePath }), doc: "Key store (JKS or PKCS12) holding the key and certificate chain the TLS port (`druid.enableTlsPort`) presents; required with it."},
	{name: KeyTLSKeyStoreType, kind: str(func(c *Config) *string { return &c.TLS.Server.KeyStoreType }), doc: "`JKS` or `PKCS12`; empty means Java's default, PKCS12. As in Java, a JKS store declared PKCS12 (or the reverse) is read too."},
	{name: KeyTLSKeyStorePassword, kind: password(func(c *Config) *Secret { return &c.TLS.Server.KeyStorePassword }), secret: true, doc: "Password of the key store, or a password provider."},
	{name: KeyTLSCertAlias, kind: str(func(c *Config) *string { return &c.TLS.Server.CertAlias }), doc: "Alias of the key entry to present; empty takes the store's only key entry (an error when it has several)."},
	{name: KeyTLSKeyManagerPassword, kind: password(func(c *Config) *Secret { return &c.TLS.Server.KeyManagerPassword }), secret: true, doc: "Password of the key entry of a JKS store, or a password provider; empty means the key store's password. A PKCS12 store keeps its keys under the store's password, as keytool writes them."},
	{name: KeyTLSTrustStorePath, kind: str(func(c *Config) *string { return &c.TLS.Client.TrustStorePath }), doc: "Trust store (JKS or PKCS12) that every outbound HTTPS call (Coordinator, inventories, upstream) checks servers against: its trusted certificate entries and the certificate of each key entry, as Java's trust managers take them; empty trusts the system's roots."},
	{name: KeyTLSTrustStoreType, kind: str(func(c *Config) *string { return &c.TLS.Client.TrustStoreType }), doc: "`JKS` or `PKCS12`; empty means Java's default, PKCS12."},
	{name: KeyTLSTrustStorePassword, kind: password(func(c *Config) *Secret { return &c.TLS.Client.TrustStorePassword }), secret: true, doc: "Password of the trust store, or a password provider."},
	{name: "druid.client.https.validateHostnames", def: "true", kind: boolean(func(c *Config) *bool { return &c.TLS.Client.ValidateHostnames }), doc: "Check that an HTTPS server's certificate names the host called."},

	// ZooKeeper (CuratorConfig, ZkEnablementConfig, ZkPathsConfig).
	{name: "druid.zk.service.enabled", def: "true", kind: boolean(func(c *Config) *bool { return &c.ZK.Enabled }), doc: "Use ZooKeeper at all. When false, segment announcements skip ZooKeeper and discovery must be another type."},
	{name: "druid.zk.service.host", def: "localhost", kind: zkConnect(func(c *Config) *string { return &c.ZK.Service.Host }), doc: "ZooKeeper connect string: `host:port[,host:port…][/chroot]`."},
	{name: "druid.zk.service.sessionTimeoutMs", def: "30000", kind: millis(0, func(c *Config) *time.Duration { return &c.ZK.Service.SessionTimeout }), doc: "ZooKeeper session timeout."},
	{name: "druid.zk.service.connectionTimeoutMs", def: "15000", kind: millis(0, func(c *Config) *time.Duration { return &c.ZK.Service.ConnectionTimeout }), doc: "ZooKeeper connection timeout."},
	{name: "druid.zk.service.compress", def: "true", kind: boolean(func(c *Config) *bool { return &c.ZK.Service.Compress }), doc: "Gzip announcement znodes (readers accept both)."},
	{name: "druid.zk.service.acl", def: "false", kind: boolean(func(c *Config) *bool { return &c.ZK.Service.ACL }), doc: "Create znodes with CREATOR_ALL_ACL."},
	{name: "druid.zk.service.user", kind: str(func(c *Config) *string { return &c.ZK.Service.User }), doc: "ZooKeeper user; authentication is used only when user and pwd are both set."},
	{name: "druid.zk.service.pwd", kind: password(func(c *Config) *Secret { return &c.ZK.Service.Pwd }), secret: true, doc: "ZooKeeper password, or a password provider."},
	{name: "druid.zk.service.authScheme", def: "digest", kind: str(func(c *Config) *string { return &c.ZK.Service.AuthScheme }), doc: "ZooKeeper authentication scheme."},
	{name: "druid.zk.service.maxZkRetries", def: "29", kind: integer(0, 29, func(c *Config) *int { return &c.ZK.Service.MaxRetries }), doc: "Connection retries (bounded exponential backoff, 1 s to 45 s)."},
	{name: "druid.zk.paths.base", def: "druid", kind: str(func(c *Config) *string { return &c.ZK.Paths.Base }), doc: "Base of every ZooKeeper path below (`druid` and `/druid` are the same)."},
	{name: "druid.zk.paths.announcementsPath", def: "<base>/announcements", derive: func(c *Config, _ int) { c.ZK.Paths.Announcements = makeZKPath(c.ZK.Paths.Base, "announcements") }, kind: zkPath(func(c *Config) *string { return &c.ZK.Paths.Announcements }), doc: "Legacy server announcements (DruidServerMetadata)."},
	{name: "druid.zk.paths.liveSegmentsPath", def: "<base>/segments", derive: func(c *Config, _ int) { c.ZK.Paths.LiveSegments = makeZKPath(c.ZK.Paths.Base, "segments") }, kind: zkPath(func(c *Config) *string { return &c.ZK.Paths.LiveSegments }), doc: "Batch segment announcements."},
	{name: "druid.zk.paths.coordinatorPath", def: "<base>/coordinator", derive: func(c *Config, _ int) { c.ZK.Paths.Coordinator = makeZKPath(c.ZK.Paths.Base, "coordinator") }, kind: zkPath(func(c *Config) *string { return &c.ZK.Paths.Coordinator }), doc: "Coordinator leader latch."},
	{name: "druid.zk.paths.servedSegmentsPath", def: "<base>/servedSegments", derive: func(c *Config, _ int) { c.ZK.Paths.ServedSegments = makeZKPath(c.ZK.Paths.Base, "servedSegments") }, kind: zkPath(func(c *Config) *string { return &c.ZK.Paths.ServedSegments }), doc: "Legacy per-segment announcements (`druid.sidecar.announceServedSegments`); the key was removed from Druid in 31.0.", warn: "removed from Druid in 31.0; only druid-sidecar's legacy announcements use it"},
	{name: "druid.zk.paths.loadQueuePath", def: "<base>/loadQueue", derive: func(c *Config, _ int) { c.ZK.Paths.LoadQueue = makeZKPath(c.ZK.Paths.Base, "loadQueue") }, kind: zkPath(func(c *Config) *string { return &c.ZK.Paths.LoadQueue }), doc: "ZooKeeper load queue (`druid.sidecar.zkLoadQueue`); the key was removed from Druid in 31.0.", warn: "removed from Druid in 31.0; only druid-sidecar's ZooKeeper load queue uses it"},

	// DruidServerConfig.
	{name: "druid.server.tier", def: "_default_tier", kind: str(func(c *Config) *string { return &c.Server.Tier }), doc: "Tier announced for this server."},
	{name: "druid.server.priority", def: "0", kind: integer(math.MinInt32, maxInt, func(c *Config) *int { return &c.Server.Priority }), doc: "Priority announced for this server."},
	{name: "druid.server.maxSize", def: "0", kind: byteSize(func(c *Config) *ByteSize { return &c.Server.MaxSize }), doc: "Bytes of segments this server holds; 0 means the sum of the segment cache locations' maxSize."},
	// Druid's ServerConfig (Jetty).
	{name: "druid.server.http.maxIdleTime", def: "PT5M", kind: period(func(c *Config) *time.Duration { return &c.Server.HTTPMaxIdleTime }), doc: "How long an idle HTTP connection is kept open; empty for ever."},
	{name: "druid.server.http.maxRequestHeaderSize", def: "8192", kind: integer(1, maxInt, func(c *Config) *int { return &c.Server.HTTPMaxRequestHeaderSize }), doc: "Bytes of an HTTP request's line and headers (431 beyond); druid-sidecar cannot enforce less than 4097."},
	{name: "druid.server.http.unannouncePropagationDelay", kind: period(func(c *Config) *time.Duration { return &c.Server.HTTPUnannouncePropagationDelay }), doc: "How long `serve` keeps answering HTTP after unannouncing the node at shutdown, for Brokers to stop routing queries to it; `gracefulShutdownTimeout` counts from its end. Empty or PT0S (the default, as in Druid) closes HTTP once the shutdown's other steps are done."},
	{name: "druid.server.http.gracefulShutdownTimeout", kind: period(func(c *Config) *time.Duration { return &c.Server.HTTPGracefulShutdownTimeout }), doc: "How long `serve`'s HTTP server waits for requests in flight at shutdown before closing their connections. Empty or PT0S (the default, as in Druid) waits for them within the 30 s shutdown timeout, where Druid's Jetty would close them at once."},
	{name: "druid.server.hiddenProperties", def: jsonText(defaultHidden), kind: stringList(func(c *Config) *[]string { return &c.Server.hiddenProperties }), doc: "Keys containing any of these (case-insensitive) are shown as `<redacted>`; the defaults are always hidden too."},

	// SegmentLoaderConfig.
	{name: "druid.segmentCache.locations", def: "[]", kind: locationsKind{}, doc: "Segment cache locations: `[{\"path\":\"/mnt/segments\",\"maxSize\":\"300g\",\"freeSpacePercent\":1.0}]`. maxSize is human-readable bytes, Long.MAX when omitted. `serve` requires at least one."},
	{name: "druid.segmentCache.locationSelector.strategy", def: string(LeastBytesUsed), kind: oneOf(func(c *Config) *LocationSelectorStrategy { return &c.SegmentCache.LocationSelector }, LeastBytesUsed, RoundRobin, Random, MostAvailableSize), doc: "How a location is chosen for a new segment."},
	{name: "druid.segmentCache.numLoadingThreads", def: "max(1, processors/6)", derive: func(c *Config, cpu int) { c.SegmentCache.NumLoadingThreads = max(1, cpu/6) }, kind: integer(1, maxInt, func(c *Config) *int { return &c.SegmentCache.NumLoadingThreads }), doc: "Parallel segment loads; also the Coordinator's batch size for this server. Processors are counted as the JVM counts them: the CPU affinity mask bounded by the container's CPU quota (cgroup v1 or v2), rounded up."},
	{name: "druid.segmentCache.numBootstrapThreads", def: "numLoadingThreads", derive: func(c *Config, _ int) { c.SegmentCache.NumBootstrapThreads = c.SegmentCache.NumLoadingThreads }, kind: integer(1, maxInt, func(c *Config) *int { return &c.SegmentCache.NumBootstrapThreads }), doc: "Parallel loads at startup and in turbo loading mode."},
	{name: "druid.segmentCache.dropSegmentDelayMillis", def: "30000", kind: millis(0, func(c *Config) *time.Duration { return &c.SegmentCache.DropSegmentDelay }), doc: "Delay between unannouncing a dropped segment and deleting its files."},
	{name: "druid.segmentCache.infoDir", def: "<first location>/info_dir", derive: func(c *Config, _ int) {
		if len(c.SegmentCache.locations) > 0 {
			c.SegmentCache.InfoDir = filepath.Join(c.SegmentCache.locations[0].Path, "info_dir")
		}
	}, kind: str(func(c *Config) *string { return &c.SegmentCache.InfoDir }), doc: "Directory of the restart state (one DataSegment JSON file per cached segment)."},
	{name: "druid.segmentCache.statusQueueMaxSize", def: "100", kind: integer(0, maxInt, func(c *Config) *int { return &c.SegmentCache.StatusQueueMaxSize }), doc: "Load/drop results remembered for the Coordinator."},
	{name: "druid.segmentCache.announceIntervalMillis", def: "0", kind: millis(0, func(c *Config) *time.Duration { return &c.SegmentCache.AnnounceInterval }), doc: "During bootstrap, announce in batches every N ms; 0 announces once at the end."},
	{name: "druid.segmentCache.deleteOnRemove", def: "true", kind: boolean(func(c *Config) *bool { return &c.SegmentCache.DeleteOnRemove }), doc: "Delete a dropped segment's files; when false they stay (their info_dir entry goes and they no longer count against the location), and a later load of the segment re-uses them."},
	{name: "druid.segmentCache.lazyLoadOnStart", def: "false", kind: boolean(func(c *Config) *bool { return &c.SegmentCache.LazyLoadOnStart }), doc: "Load column metadata of cached segments lazily at startup."},
	{name: "druid.segmentCache.virtualStorage", def: "false", kind: boolean(func(c *Config) *bool { return &c.SegmentCache.VirtualStorage }), doc: "Druid 35+'s experimental on-demand loading; prefetching is pointless with it."},

	// BatchDataSegmentAnnouncerConfig.
	{name: "druid.announcer.segmentsPerNode", def: "50", kind: integer(1, maxInt, func(c *Config) *int { return &c.Announcer.SegmentsPerNode }), doc: "Segments per batch announcement znode."},
	{name: "druid.announcer.maxBytesPerNode", def: "524288", kind: int64Range(1024, 1048576, func(c *Config) *int64 { return &c.Announcer.MaxBytesPerNode }), doc: "Uncompressed JSON bytes per batch announcement znode."},
	{name: "druid.announcer.skipDimensionsAndMetrics", def: "false", kind: boolean(func(c *Config) *bool { return &c.Announcer.SkipDimensionsAndMetrics }), doc: "Announce segments without dimensions and metrics (ZooKeeper and HTTP)."},
	{name: "druid.announcer.skipLoadSpec", def: "false", kind: boolean(func(c *Config) *bool { return &c.Announcer.SkipLoadSpec }), doc: "Announce segments without loadSpec (ZooKeeper and HTTP)."},
	{name: "druid.announcer.skipSegmentAnnouncementOnZk", def: "false (true with Druid 38+)", derive: func(c *Config, _ int) { c.Announcer.skipOnZKByDefault = true }, kind: boolean(func(c *Config) *bool { return &c.Announcer.SkipSegmentAnnouncementOnZK }), doc: "Announce segments over HTTP only; forced on when ZooKeeper is disabled. Unset, it is true when the Druid version (`druid.sidecar.druidVersion`) is 38 or later, which reads no segment znodes."},

	// Deep storage.
	{name: "druid.storage.type", def: "local", kind: str(func(c *Config) *string { return &c.Storage.Type }), doc: "Deep storage type: local, s3, …"},
	{name: "druid.storage.bucket", kind: str(func(c *Config) *string { return &c.Storage.Bucket }), doc: "S3 bucket of deep storage."},
	{name: "druid.storage.baseKey", kind: str(func(c *Config) *string { return &c.Storage.BaseKey }), doc: "S3 key prefix of deep storage (shown redacted: Druid hides keys containing \"key\")."},
	{name: "druid.storage.storageDirectory", def: "/tmp/druid/localStorage", kind: str(func(c *Config) *string { return &c.Storage.StorageDirectory }), doc: "Directory of local deep storage."},
	{name: "druid.storage.useS3aSchema", def: "false", kind: boolean(func(c *Config) *bool { return &c.Storage.UseS3aSchema }), doc: "Pushed S3 load specs say s3a instead of s3n."},
	{name: "druid.storage.zip", def: "true", kind: boolean(func(c *Config) *bool { return &c.Storage.Zip }), doc: "Segments are pushed as index.zip (Druid 35+ can push unzipped)."},

	// druid.s3.* (AWSCredentialsConfig, AWSEndpointConfig, AWSClientConfig).
	{name: "druid.s3.accessKey", kind: password(func(c *Config) *Secret { return &c.S3.AccessKey }), secret: true, doc: "S3 access key, or a password provider; empty uses the AWS default credential chain."},
	{name: "druid.s3.secretKey", kind: password(func(c *Config) *Secret { return &c.S3.SecretKey }), secret: true, doc: "S3 secret key, or a password provider."},
	{name: "druid.s3.endpoint.url", kind: uriKind("URL", checkS3Endpoint, func(c *Config) *string { return &c.S3.EndpointURL }), doc: "S3 endpoint, for S3-compatible stores."},
	{name: "druid.s3.endpoint.signingRegion", kind: str(func(c *Config) *string { return &c.S3.EndpointSigningRegion }), doc: "Region used to sign requests to the endpoint."},
	{name: "druid.s3.protocol", def: "https", kind: str(func(c *Config) *string { return &c.S3.Protocol }), doc: "Protocol used when the endpoint URL has no scheme."},
	{name: "druid.s3.enablePathStyleAccess", def: "false", kind: boolean(func(c *Config) *bool { return &c.S3.EnablePathStyleAccess }), doc: "Path-style bucket addressing (most S3-compatible stores need it)."},
	{name: "druid.s3.disableChunkedEncoding", def: "false", kind: boolean(func(c *Config) *bool { return &c.S3.DisableChunkedEncoding }), doc: "Disable chunked encoding of uploads."},
	{name: "druid.s3.forceGlobalBucketAccessEnabled", def: "false", kind: boolean(func(c *Config) *bool { return &c.S3.ForceGlobalBucketAccessEnabled }), doc: "Access buckets in any region."},

	// druid.google.* (GoogleAccountConfig, GoogleInputDataConfig): Google Application Default Credentials authenticate.
	{name: "druid.google.bucket", kind: str(func(c *Config) *string { return &c.Google.Bucket }), doc: "Google Cloud Storage bucket of deep storage (`druid.storage.type=google`)."},
	{name: "druid.google.prefix", kind: str(func(c *Config) *string { return &c.Google.Prefix }), doc: "Path prefix of deep storage in the bucket."},
	{name: "druid.google.maxListingLength", def: "1024", kind: integer(1, maxInt, func(c *Config) *int { return &c.Google.MaxListingLength }), doc: "Objects per page of a listing (`audit`, unzipped segments)."},

	// druid.azure.* (AzureAccountConfig, AzureDataSegmentConfig, AzureInputDataConfig).
	{name: "druid.azure.account", kind: str(func(c *Config) *string { return &c.Azure.Account }), doc: "Azure storage account of deep storage (`druid.storage.type=azure`)."},
	{name: "druid.azure.key", kind: password(func(c *Config) *Secret { return &c.Azure.Key }), secret: true, doc: "The storage account's shared key, or a password provider; used when set."},
	{name: "druid.azure.sharedAccessStorageToken", kind: password(func(c *Config) *Secret { return &c.Azure.SharedAccessStorageToken }), secret: true, doc: "A shared access signature (the query string), used when `druid.azure.key` is empty."},
	{name: "druid.azure.useAzureCredentialsChain", def: "false", kind: boolean(func(c *Config) *bool { return &c.Azure.UseAzureCredentialsChain }), doc: "Azure's default credential chain; not supported by druid-sidecar (set a key or a shared access signature)."},
	{name: "druid.azure.protocol", def: "https", kind: str(func(c *Config) *string { return &c.Azure.Protocol }), doc: "Scheme of the blob endpoint `<protocol>://<account>.<storageAccountEndpointSuffix>`."},
	{name: "druid.azure.storageAccountEndpointSuffix", def: "blob.core.windows.net", kind: str(func(c *Config) *string { return &c.Azure.StorageAccountEndpointSuffix }), doc: "Host suffix of the account's blob endpoint (another Azure cloud's, such as blob.core.chinacloudapi.cn)."},
	{name: "druid.azure.endpointSuffix", kind: str(func(c *Config) *string { return &c.Azure.EndpointSuffix }), doc: "Deprecated: the blob endpoint is `blob.<endpointSuffix>`; wins over `storageAccountEndpointSuffix` when set, as in Druid."},
	{name: "druid.azure.maxTries", def: "3", kind: integer(1, maxInt, func(c *Config) *int { return &c.Azure.MaxTries }), doc: "Attempts of each Azure request of a pull when deep storage is azure."},
	{name: "druid.azure.container", kind: str(func(c *Config) *string { return &c.Azure.Container }), doc: "Container of deep storage."},
	{name: "druid.azure.prefix", kind: str(func(c *Config) *string { return &c.Azure.Prefix }), doc: "Path prefix of deep storage in the container."},
	{name: "druid.azure.maxListingLength", def: "1024", kind: integer(1, 5000, func(c *Config) *int { return &c.Azure.MaxListingLength }), doc: "Blobs per page of a listing (`audit`, unzipped segments)."},

	// Metadata store (MetadataStorageConnectorConfig, MetadataStorageTablesConfig).
	{name: "druid.metadata.storage.type", def: "derby", kind: str(func(c *Config) *string { return &c.Metadata.Type }), doc: "Metadata store type; druid-sidecar reads postgresql and mysql (MySQL and MariaDB)."},
	{name: "druid.metadata.storage.connector.connectURI", kind: uriKind("JDBC URI", checkConnectURI, func(c *Config) *string { return &c.Metadata.ConnectURI }), doc: "JDBC URI, e.g. `jdbc:postgresql://db:5432/druid?sslmode=require` or `jdbc:mysql://db:3306/druid` (`jdbc:mariadb:` too)."},
	{name: "druid.metadata.storage.connector.user", kind: str(func(c *Config) *string { return &c.Metadata.User }), doc: "Metadata store user."},
	{name: "druid.metadata.storage.connector.password", kind: password(func(c *Config) *Secret { return &c.Metadata.Password }), secret: true, doc: "Metadata store password, or a password provider."},
	{name: "druid.metadata.storage.tables.base", def: "druid", kind: str(func(c *Config) *string { return &c.Metadata.Tables.Base }), doc: "Prefix of every metadata table name."},
	tableKey(tableSegments, "segments", "segments"),
	tableKey(tableRules, "rules", "rules"),
	tableKey(tableConfig, "config", "config"),
	tableKey(tableDataSource, "dataSource", "dataSource"),
	tableKey(tablePendingSegments, "pendingSegments", "pendingSegments"),
	tableKey(tableUpgradeSegments, "upgradeSegments", "upgradeSegments"),
	tableKey(tableTasks, "tasks", "tasks"),
	tableKey(tableTaskLock, "taskLock", "tasklocks"),
	tableKey(tableAudit, "audit", "audit"),
	tableKey(tableSupervisors, "supervisors", "supervisors"),
	tableKey(tableSegmentSchemas, "segmentSchemas", "segmentSchemas"),

	// MySQL metadata store TLS (MySQLConnectorSslConfig), handed to the driver as its default connection properties.
	{name: "druid.metadata.mysql.ssl.useSSL", def: "false", kind: boolean(func(c *Config) *bool { return &c.MySQLSSL.UseSSL }), doc: "Encrypt the MySQL connection (without checking the server's certificate unless `verifyServerCertificate`)."},
	{name: "druid.metadata.mysql.ssl.verifyServerCertificate", def: "false", kind: boolean(func(c *Config) *bool { return &c.MySQLSSL.VerifyServerCertificate }), doc: "Check the MySQL server's certificate chain against the trust store (not its host name; `sslMode=VERIFY_IDENTITY` in the URI does)."},
	{name: "druid.metadata.mysql.ssl.trustCertificateKeyStoreUrl", kind: str(func(c *Config) *string { return &c.MySQLSSL.TrustCertificateKeyStoreURL }), doc: "Path of the CA certificates the MySQL server's certificate is checked against; druid-sidecar reads a PEM file (empty: the system's)."},
	{name: "druid.metadata.mysql.ssl.trustCertificateKeyStoreType", kind: str(func(c *Config) *string { return &c.MySQLSSL.TrustCertificateKeyStoreType }), doc: "Type of the trust store (JKS, PKCS12); druid-sidecar reads PEM whatever it says."},
	{name: "druid.metadata.mysql.ssl.trustCertificateKeyStorePassword", kind: password(func(c *Config) *Secret { return &c.MySQLSSL.TrustCertificateKeyStorePassword }), secret: true, doc: "Password of the trust store, or a password provider (a PEM file has none)."},
	{name: "druid.metadata.mysql.ssl.clientCertificateKeyStoreUrl", kind: str(func(c *Config) *string { return &c.MySQLSSL.ClientCertificateKeyStoreURL }), doc: "Path of the client certificate and key presented to the MySQL server; druid-sidecar reads a PEM file with the chain and an unencrypted key."},
	{name: "druid.metadata.mysql.ssl.clientCertificateKeyStoreType", kind: str(func(c *Config) *string { return &c.MySQLSSL.ClientCertificateKeyStoreType }), doc: "Type of the client key store (JKS, PKCS12); druid-sidecar reads PEM whatever it says."},
	{name: "druid.metadata.mysql.ssl.clientCertificateKeyStorePassword", kind: password(func(c *Config) *Secret { return &c.MySQLSSL.ClientCertificateKeyStorePassword }), secret: true, doc: "Password of the client key store, or a password provider (an unencrypted PEM key has none)."},
	{name: "druid.metadata.mysql.ssl.enabledSSLCipherSuites", kind: stringList(func(c *Config) *[]string { return &c.MySQLSSL.enabledSSLCipherSuites }), doc: "Cipher suites allowed for TLS 1.2 and older (IANA names); empty for Go's defaults."},
	{name: "druid.metadata.mysql.ssl.enabledTLSProtocols", kind: stringList(func(c *Config) *[]string { return &c.MySQLSSL.enabledTLSProtocols }), doc: "TLS versions allowed (TLSv1 to TLSv1.3); empty for Go's defaults."},
	{name: "druid.manager.rules.defaultRule", def: "_default", kind: str(func(c *Config) *string { return &c.Metadata.DefaultRule }), doc: "The dataSource whose rules apply after every dataSource's own (the Coordinator's setting; `audit` reads it)."},

	// Discovery, lookups, escalator.
	{name: "druid.discovery.type", def: DiscoveryCurator, kind: oneOf(func(c *Config) *string { return &c.Discovery.Type }, DiscoveryCurator, DiscoveryK8s), doc: "Node discovery: curator (ZooKeeper) or k8s (pod labels and annotations, leader ConfigMaps, as druid-kubernetes-extensions); any other type is refused."},
	{name: "druid.discovery.k8s.clusterIdentifier", kind: text("Kubernetes name", checkK8sClusterIdentifier, func(c *Config) *string { return &c.Discovery.K8s.ClusterIdentifier }), doc: "The Druid cluster's name in its pods' labels and leader ConfigMaps (`[a-z0-9][a-z0-9-]*[a-z0-9]`); required with druid.discovery.type=k8s."},
	{name: "druid.discovery.k8s.podNameEnvKey", def: "POD_NAME", kind: str(func(c *Config) *string { return &c.Discovery.K8s.PodNameEnvKey }), doc: "Environment variable holding the name of this node's pod, which `serve` patches to announce itself."},
	{name: "druid.discovery.k8s.podNamespaceEnvKey", def: "POD_NAMESPACE", kind: str(func(c *Config) *string { return &c.Discovery.K8s.PodNamespaceEnvKey }), doc: "Environment variable holding the namespace of this node's pod, where every pod of the cluster is looked for."},
	{name: "druid.discovery.k8s.coordinatorLeaderElectionConfigMapNamespace", kind: str(func(c *Config) *string { return &c.Discovery.K8s.CoordinatorLeaderNamespace }), doc: "Namespace of the ConfigMap `<clusterIdentifier>-leaderelection-coordinator`; empty for the pod's."},
	{name: "druid.discovery.k8s.overlordLeaderElectionConfigMapNamespace", kind: str(func(c *Config) *string { return &c.Discovery.K8s.OverlordLeaderNamespace }), doc: "Namespace of the ConfigMap `<clusterIdentifier>-leaderelection-overlord`; empty for the pod's."},
	{name: "druid.lookup.lookupTier", def: "__default", kind: str(func(c *Config) *string { return &c.Lookup.LookupTier }), doc: "Lookup tier announced in the lookupNodeService."},
	{name: "druid.escalator.type", def: "noop", kind: str(func(c *Config) *string { return &c.Escalator.Type }), doc: "Escalator for calls to other Druid processes: noop or basic."},
	{name: "druid.escalator.internalClientUsername", kind: str(func(c *Config) *string { return &c.Escalator.InternalClientUsername }), doc: "Basic-auth user for internal calls (druid.escalator.type=basic)."},
	{name: "druid.escalator.internalClientPassword", kind: password(func(c *Config) *Secret { return &c.Escalator.InternalClientPassword }), secret: true, doc: "Basic-auth password for internal calls, or a password provider."},

	// druid-sidecar's own keys.
	{name: "druid.sidecar.version", def: "druid-sidecar/<version>", derive: func(c *Config, _ int) { c.Sidecar.Version = BuildVersion }, kind: str(func(c *Config) *string { return &c.Sidecar.Version }), doc: "`version` announced in DruidNode: by default druid-sidecar's own, as Druid 35+ announces its jar version."},
	{name: "druid.sidecar.cacheLayout", def: string(FlatLayout), kind: oneOf(func(c *Config) *CacheLayout { return &c.Sidecar.CacheLayout }, FlatLayout, NestedLayout), doc: "Segment cache layout: flat `<location>/<segmentId>` (Druid 35+) or nested `<location>/<dataSource>/<interval>/<version>/<partition>` (Druid 34 and older)."},
	{name: "druid.sidecar.zkLoadQueue", def: "auto", kind: switchKind(func(c *Config) *Switch { return &c.Sidecar.ZKLoadQueueMode }), doc: "Also take load/drop requests from the ZooKeeper load queue, where a Coordinator up to 29 whose `druid.coordinator.loadqueuepeon.type` is curator sends them. auto: on with ZooKeeper when the Druid version (`druid.sidecar.druidVersion`) is 29 or older, off when it is later or unknown."},
	{name: KeyLegacyServerAnnouncement, def: "auto", kind: switchKind(func(c *Config) *Switch { return &c.Sidecar.LegacyServerAnnouncementMode }), doc: "Write the legacy server announcement, the znode `druid.zk.paths.announcementsPath`/<host:port> holding the DruidServerMetadata, which Druid up to 37 writes and ZooKeeper-based server views read. auto: written with ZooKeeper unless the Druid version (`druid.sidecar.druidVersion`) is 38 or later, which neither writes nor reads it (#19377)."},
	{name: KeyDruidVersion, kind: str(func(c *Config) *string { return &c.Sidecar.DruidVersion }), doc: "Druid version of the cluster (e.g. `29.0.1`), which picks the defaults of `druid.sidecar.zkLoadQueue`, `druid.announcer.skipSegmentAnnouncementOnZk` and `druid.sidecar.legacyServerAnnouncement`. Empty: `serve` reads the `version` of the Coordinator leader's `/status` at start (`druid.sidecar.coordinator.url` or discovery; when that cannot be read within 10 s the three keep their version-free defaults, off, false and on, and a warning says so) and again every minute while it runs (`druid_sidecar_druid_version_info`): a Coordinator that turns 38 has segment znodes and the legacy server announcement deleted at once, as Druid's rolling upgrade has upgraded every Broker before it; any other change is one warning naming the key, applied at the next start."},
	{name: "druid.sidecar.announceServedSegments", def: "false", kind: boolean(func(c *Config) *bool { return &c.Sidecar.AnnounceServedSegments }), doc: "Also announce each segment under servedSegmentsPath (legacy per-segment znodes)."},
	{name: "druid.sidecar.upstream", kind: httpURL(func(c *Config) *string { return &c.Sidecar.Upstream }), doc: "URL of the segment server served beside (`serve`); empty for none."},
	{name: "druid.sidecar.audit.period", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.AuditPeriod }), doc: "Run the audit every period (ISO-8601, e.g. PT15M); empty turns periodic audits off."},
	{name: "druid.sidecar.coordinator.url", kind: httpURL(func(c *Config) *string { return &c.Sidecar.CoordinatorURL }), doc: "Coordinator URL; empty finds the leader through discovery."},
	{name: "druid.sidecar.prefetch.maxBytes", def: "auto", kind: prefetchWindow(func(c *Config) *ByteSize { return &c.Sidecar.PrefetchMaxBytes }), doc: "Bytes of segments prefetched ahead of a Java Historical; auto sizes each location's window from its disk (free bytes less what the Historical may still load below maxSize, less the free space it keeps), 0 turns prefetching off."},
	{name: "druid.sidecar.prefetch.maxSegments", def: "10", kind: integer(0, maxInt, func(c *Config) *int { return &c.Sidecar.PrefetchMaxSegments }), doc: "Segments prefetched ahead at most."},
	{name: "druid.sidecar.upstream.hookTimeout", def: "PT5M", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.UpstreamHookTimeout }), doc: "How long a load or drop hook call to the upstream may take before the request fails."},
	{name: "druid.sidecar.internalAuth", def: "false", kind: boolean(func(c *Config) *bool { return &c.Sidecar.InternalAuth }), doc: "Require the escalator's basic-auth credentials (`druid.escalator.*`) on /druid-internal/*, and on /status, /status/properties, /status/selfDiscovered, /druid/historical/v1/loadstatus and /debug/pprof/ as Java secures them, for clusters with Druid security on; /status/health, readiness and /metrics stay open."},
	{name: "druid.sidecar.companion.tlsPort", def: "9283", kind: integer(1, 65535, func(c *Config) *int { return &c.Sidecar.CompanionTLSPort }), doc: "HTTPS port of `companion`, served with druid.enableTlsPort and the server key store (druid.server.https.*) as the Historical's druid.tlsPort is; its HTTP port stays open beside it unless druid.enablePlaintextPort=false."},
	{name: "druid.sidecar.companion.port", def: "9083", kind: integer(1, 65535, func(c *Config) *int { return &c.Sidecar.CompanionPort }), doc: "HTTP port of `companion` (/status/health, /status, /metrics), beside the Historical's own port (8083) and clear of its TLS port (8283)."},
	{name: "druid.sidecar.prefetch.threads", def: "8", kind: integer(1, 256, func(c *Config) *int { return &c.Sidecar.PrefetchThreads }), doc: "Segments `companion` pulls at once."},
	{name: "druid.sidecar.prefetch.pollPeriod", def: "PT5S", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.PrefetchPollPeriod }), doc: "How often `companion` reads the Coordinator's load queue."},
	{name: "druid.sidecar.prefetch.claimTimeout", def: "PT15M", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.PrefetchClaimTimeout }), doc: "How long a prefetched copy that left the load queue stays unclaimed before removal (the Coordinator's load timeout)."},
	{name: "druid.sidecar.drift.period", def: "PT1M", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.DriftPeriod }), doc: "How often `companion` compares the Historical's cache, info_dir and inventory; empty turns the drift watch off."},
	{name: "druid.sidecar.rolloutGate", def: "false", kind: boolean(func(c *Config) *bool { return &c.Sidecar.RolloutGate }), doc: "Serve the rollout gate on `companion`'s port (/status/rollout), a readiness probe that turns ready once the Coordinator knows the Historical, its load queue is empty and its tier has no unavailable or under-replicated segments, then stays ready; refused under druid.discovery.type=k8s unless druid.sidecar.nativeSidecar is set."},
	{name: "druid.sidecar.nativeSidecar", def: "false", kind: boolean(func(c *Config) *bool { return &c.Sidecar.NativeSidecar }), doc: "`companion` runs as a Kubernetes native sidecar (an init container with restartPolicy Always), whose readiness Druid's Kubernetes discovery does not read: the rollout gate may then run under druid.discovery.type=k8s."},
	{name: "druid.sidecar.http.pprof", def: "false", kind: boolean(func(c *Config) *bool { return &c.Sidecar.HTTPPprof }), doc: "Serve /debug/pprof/ on the HTTP port."},
	{name: "druid.sidecar.http.readHeaderTimeout", def: "PT30S", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.HTTPReadHeaderTimeout }), doc: "How long a client may take to send an HTTP request's line and headers; empty for no limit."},
	{name: "druid.sidecar.http.bodyReadTimeout", def: "PT30S", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.HTTPBodyReadTimeout }), doc: "How long a client may take to send an HTTP request's body, once its headers are read; empty for no limit."},
	{name: "druid.sidecar.http.writeTimeout", def: "PT1M", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.HTTPWriteTimeout }), doc: "How long a response may take to write, except on the requests that hold their response: the inventory long-poll, changeRequests (up to its `timeout`), /druid/v2 queries and /debug/pprof; empty for no limit."},
	{name: "druid.sidecar.http.changeRequests.maxRequestBytes", def: "16777216", kind: byteSize(func(c *Config) *ByteSize { return &c.Sidecar.ChangeRequestsMaxRequestBytes }), doc: "Largest changeRequests body (413 beyond; a Coordinator's batch takes a few kilobytes); at most `maxInflightBytes`. 0 means the default."},
	{name: "druid.sidecar.http.changeRequests.maxInflightBytes", def: "67108864", kind: byteSize(func(c *Config) *ByteSize { return &c.Sidecar.ChangeRequestsMaxInflightBytes }), doc: "Memory the changeRequests bodies being read or answered may take together, their decoded requests included; a request beyond it gets 503 with Retry-After. 0 means the default."},
	{name: "druid.sidecar.pull.stallTimeout", def: "PT30S", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.PullStallTimeout }), doc: "How long a deep storage transfer may go without receiving a byte before it is cut and resumed (3 attempts); a pull has no other time limit unless `druid.sidecar.pull.timeout` is set."},
	{name: "druid.sidecar.google.endpoint", kind: httpURL(func(c *Config) *string { return &c.Google.Endpoint }), doc: "A Cloud Storage JSON API server in Google's stead, such as the fake-gcs-server emulator; its requests are not authenticated. Empty: Google's (or `STORAGE_EMULATOR_HOST`)."},
	{name: "druid.sidecar.azure.endpoint", kind: httpURL(func(c *Config) *string { return &c.Azure.Endpoint }), doc: "The blob service's URL in the account's stead, such as Azurite's `http://127.0.0.1:10000/devstoreaccount1`. Empty: `<protocol>://<account>.<storageAccountEndpointSuffix>`."},
	{name: "druid.sidecar.pull.timeout", kind: period(func(c *Config) *time.Duration { return &c.Sidecar.PullTimeout }), doc: "Longest time one segment pull may take however it progresses; empty (the default) sets none, as in Druid, so that a large segment on slow storage finishes."},
}

// tableKey declares druid.metadata.storage.tables.<key>, by default <base>_<suffix>.
func tableKey(t tableName, key, suffix string) keyDef {
	return keyDef{
		name:   "druid.metadata.storage.tables." + key,
		def:    "<base>_" + suffix,
		derive: func(c *Config, _ int) { c.Metadata.Tables.names[t] = c.Metadata.Tables.Base + "_" + suffix },
		kind:   str(func(c *Config) *string { return &c.Metadata.Tables.names[t] }),
		doc:    "Name of the " + key + " table.",
	}
}

// makeZKPath joins a base and a child the way Curator's ZKPaths.makePath does: one leading /, no trailing /.
func makeZKPath(base, child string) string {
	p := base
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	for len(child) > 0 && child[0] == '/' {
		child = child[1:]
	}
	if child == "" {
		if p == "" {
			return "/"
		}
		return p
	}
	return p + "/" + child
}

// keysByName indexes the registry.
var keysByName = func() map[string]*keyDef {
	m := make(map[string]*keyDef, len(registry))
	for i := range registry {
		m[registry[i].name] = &registry[i]
	}
	return m
}()

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
