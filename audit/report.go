package audit

import (
	"time"
)

// The report's types are a stable format: `audit --format json` writes a Report as it is, docs/audit.md documents
// every field, and the HTML renderer reads the same values. Fields are added, never renamed or removed; a change
// that would break a reader bumps ReportVersion.

// ReportVersion is the Report's format version, written as "reportVersion".
const ReportVersion = 1

// Kind is the kind of a finding. The values are stable: alerts, dashboards and scripts match them.
type Kind string

// The finding kinds, in the order of their severity (worst first, as Kinds lists them).
const (
	// KindUnavailable is a used, not overshadowed segment that a load or broadcast rule expects on some tier and no
	// reachable data server serves: queries over its interval miss its data.
	KindUnavailable Kind = "unavailable"
	// KindMissingInDeepStorage is a used segment whose deep-storage object (or, for an unzipped segment, any object
	// under its prefix) is absent: no server can load it again.
	KindMissingInDeepStorage Kind = "missing_in_deep_storage"
	// KindUnderReplicated is a segment served on a tier by fewer servers than its rule asks for.
	KindUnderReplicated Kind = "under_replicated"
	// KindServedOnlyByTask is a used segment a load rule expects on Historicals that only ingestion tasks (or
	// Brokers) serve, past the grace period: queries see it, and Druid counts it available, but it has not been
	// handed off, and it is gone from queries when they stop.
	KindServedOnlyByTask Kind = "served_only_by_task"
	// KindUnknownServed is a segment a data server serves that the metadata store does not have at all.
	KindUnknownServed Kind = "unknown_served"
	// KindUnusedServed is a segment a data server serves that the metadata store marks unused.
	KindUnusedServed Kind = "unused_served"
	// KindStaleReplica is a replica whose partial-load fingerprint is not the one its rule asks for (a different
	// or no fingerprint under a partial-load rule, or one under a plain load rule): the Coordinator does not count it
	// toward the partial rule, or reverts it, and reloads it in place.
	KindStaleReplica Kind = "stale_replica"
	// KindOvershadowedServed is a used segment that newer versions overshadow completely, still served, where the
	// newer versions are served too: Brokers no longer query it.
	KindOvershadowedServed Kind = "overshadowed_served"
	// KindOverReplicated is a segment served on a tier by more servers than its rule asks for (including tiers its
	// rule does not name, and segments a drop rule applies to).
	KindOverReplicated Kind = "over_replicated"
	// KindCacheDrift is one data server disagreeing with itself: its cache directories, its info_dir and what it
	// announces (see Drift).
	KindCacheDrift Kind = "cache_drift"
	// KindOrphanInDeepStorage is an object under the deep-storage prefix that no segment row, used or unused,
	// references: storage paid for and never read.
	KindOrphanInDeepStorage Kind = "orphan_in_deep_storage"
)

// Kinds lists every kind, worst first: the order findings are sorted in.
var Kinds = []Kind{
	KindUnavailable, KindMissingInDeepStorage, KindUnderReplicated, KindServedOnlyByTask, KindUnknownServed,
	KindUnusedServed, KindStaleReplica, KindOvershadowedServed, KindOverReplicated, KindCacheDrift, KindOrphanInDeepStorage,
}

// Rank is the kind's position in Kinds (0 is the worst); an unknown kind ranks after every known one.
func (k Kind) Rank() int {
	for i, known := range Kinds {
		if k == known {
			return i
		}
	}
	return len(Kinds)
}

// Severity is how urgent a kind of finding is.
type Severity string

// The severities.
const (
	// SeverityCritical: data is unqueryable now, or cannot be loaded again.
	SeverityCritical Severity = "critical"
	// SeverityWarning: queries may miss data when one more server goes, or may return data that should be gone.
	SeverityWarning Severity = "warning"
	// SeverityNotice: wasted disk, memory or storage; nothing a query notices.
	SeverityNotice Severity = "notice"
)

// Severity returns the kind's severity.
func (k Kind) Severity() Severity {
	switch k {
	case KindUnavailable, KindMissingInDeepStorage:
		return SeverityCritical
	case KindUnderReplicated, KindServedOnlyByTask, KindUnknownServed, KindUnusedServed:
		return SeverityWarning
	}
	return SeverityNotice
}

// Finding is one thing the audit found wrong, about one segment (on one tier, for replica counts) or one
// deep-storage object.
type Finding struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// DataSource is the segment's dataSource; for an orphaned object, the dataSource its key names (Druid's
	// pusher writes <baseKey>/<dataSource>/…), "" when the key has no such form.
	DataSource string `json:"dataSource"`
	// SegmentID is SegmentId.toString(); "" for an orphaned object.
	SegmentID string `json:"segmentId"`
	// Interval is the segment's interval (start/end, ISO UTC); for an orphaned object, the interval its key names,
	// if any.
	Interval string `json:"interval"`
	// Tier is the tier a replica count is about; "" when the finding is not about one tier (unavailable counts
	// every tier, a broadcast rule every server).
	Tier string `json:"tier"`
	// ExpectedReplicas and ActualReplicas are the replica counts the finding compares: on Tier, or in all tiers
	// when Tier is "". For kinds that are not about replicas, ExpectedReplicas is 0 and ActualReplicas counts the
	// servers serving the segment.
	ExpectedReplicas int `json:"expectedReplicas"`
	ActualReplicas   int `json:"actualReplicas"`
	// Servers are the servers (host:port) serving the segment that the finding is about, sorted; empty when none.
	Servers []string `json:"servers"`
	// Object is the deep-storage object (s3://bucket/key) of missing and orphan findings, "" otherwise.
	Object string `json:"object"`
	// Bytes is the segment's size, or the orphaned object's.
	Bytes int64 `json:"bytes"`
	// Detail says what is wrong and why the audit thinks so, in a sentence.
	Detail string `json:"detail"`
}

// Source is where the audit read a data server's segments from.
type Source string

// The sources of a server's segments.
const (
	// SourceHTTP is the server's own inventory, GET /druid-internal/v1/segments?counter=-1, as Brokers read it.
	SourceHTTP Source = "http"
	// SourceZooKeeper is the server's batch znodes under druid.zk.paths.liveSegmentsPath, read when its HTTP
	// inventory could not be.
	SourceZooKeeper Source = "zookeeper"
	// SourceUnreachable means neither answered: the server's segments are unknown, and the audit does not count
	// them as lost.
	SourceUnreachable Source = "unreachable"
)

// Report is the outcome of one audit.
type Report struct {
	// ReportVersion is the format version, ReportVersion.
	ReportVersion int `json:"reportVersion"`
	// GeneratedAt is when the audit started; rules were evaluated at this time.
	GeneratedAt time.Time `json:"generatedAt"`
	// DurationSeconds is how long the audit took.
	DurationSeconds float64 `json:"durationSeconds"`
	// Inputs are what was audited.
	Inputs Inputs `json:"inputs"`
	// Servers are the data servers found in internal discovery, sorted by name.
	Servers []ServerReport `json:"servers"`
	// DataSources summarise each dataSource, sorted by name.
	DataSources []DataSourceSummary `json:"dataSources"`
	// Findings are the findings, worst first (by Kinds order, then dataSource, newest interval first, segment id,
	// tier); at most Options.MaxFindings of them, the worst ones. Totals count all of them.
	Findings []Finding `json:"findings"`
	// FindingsOmitted is how many findings were left out of Findings by the limit.
	FindingsOmitted int `json:"findingsOmitted"`
	// Totals add up the dataSources, servers and findings.
	Totals Totals `json:"totals"`
	// Warnings are problems that did not stop the audit but limit what it could check (rules that do not parse,
	// unreadable segment rows, segments stored outside the listed prefix), one sentence each.
	Warnings []string `json:"warnings"`
}

// Inputs describe the cluster state the audit read.
type Inputs struct {
	// MetadataStore is "PostgreSQL at host:port, database name".
	MetadataStore string `json:"metadataStore"`
	// SegmentsTable and RulesTable are the tables read.
	SegmentsTable string `json:"segmentsTable"`
	RulesTable    string `json:"rulesTable"`
	// ZooKeeper is druid.zk.service.host (servers and chroot).
	ZooKeeper string `json:"zooKeeper"`
	// DeepStorage is the location listed, s3://bucket/baseKey/, or why it was not checked.
	DeepStorage string `json:"deepStorage"`
	// DeepStorageChecked says whether deep storage was listed (missing and orphan findings need it).
	DeepStorageChecked bool `json:"deepStorageChecked"`
	// DataSourceFilter lists the dataSources audited; empty means all.
	DataSourceFilter []string `json:"dataSourceFilter"`
	// GraceSeconds is the grace period: segments marked used, and objects written, more recently than this are
	// not reported as unavailable, under-replicated or orphaned (a load or a publish may still be under way).
	GraceSeconds float64 `json:"graceSeconds"`
	// RuleVersions maps each dataSource with rules (the default rules under their dataSource) to its rules' version.
	RuleVersions map[string]string `json:"ruleVersions"`
	// DefaultRulesDataSource is druid.manager.rules.defaultRule: the dataSource whose rules apply after every
	// dataSource's own.
	DefaultRulesDataSource string `json:"defaultRulesDataSource"`
	// DynamicConfig says where the Coordinator's dynamic configuration was read: the config table's row, or that
	// there is none (Druid's defaults then apply).
	DynamicConfig string `json:"dynamicConfig"`
	// TierAliases are its historicalTierAliases: a virtual tier → the real tiers a rule naming it asks for.
	TierAliases map[string][]string `json:"tierAliases"`
	// CloneServers are its cloneServers: a clone Historical → the Historical it copies.
	CloneServers map[string]string `json:"cloneServers"`
	// DecommissioningServers are its decommissioningNodes.
	DecommissioningServers []string `json:"decommissioningServers"`
}

// ServerReport is one data server.
type ServerReport struct {
	// Name is the server's host:port, its identity in Druid.
	Name string `json:"name"`
	// Role is its internal-discovery role: HISTORICAL, PEON, INDEXER or BROKER.
	Role string `json:"role"`
	// ServerType is the dataNodeService's serverType: historical, bridge, indexer-executor, realtime or broker.
	ServerType string `json:"serverType"`
	// Tier is the dataNodeService's tier.
	Tier string `json:"tier"`
	// MaxSize is the dataNodeService's maxSize.
	MaxSize int64 `json:"maxSize"`
	// Source is where its segments were read from.
	Source Source `json:"source"`
	// Segments and Bytes count the distinct segments it serves (0 when unreachable).
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
	// Error says why its HTTP inventory (and, when unreachable, its batch znodes) could not be read; "" when the
	// HTTP inventory was read.
	Error string `json:"error"`
	// CloneOf is, for a clone Historical (the dynamic configuration's cloneServers), the server it copies; "" for
	// every other server. Clones count as no replica.
	CloneOf string `json:"cloneOf"`
	// Decommissioning says the server is in the dynamic configuration's decommissioningNodes.
	Decommissioning bool `json:"decommissioning"`
	// PartialSegments counts the segments it announces with a partial-load fingerprint.
	PartialSegments int `json:"partialSegments"`
}

// DataSourceSummary is the state of one dataSource.
type DataSourceSummary struct {
	DataSource string `json:"dataSource"`
	// UsedSegments and UsedBytes count the used segments in the metadata store.
	UsedSegments int   `json:"usedSegments"`
	UsedBytes    int64 `json:"usedBytes"`
	// OvershadowedSegments are used segments that newer versions overshadow (expected nowhere).
	OvershadowedSegments int `json:"overshadowedSegments"`
	// ExpectedSegments are the used, not overshadowed segments a load or broadcast rule applies to.
	ExpectedSegments int `json:"expectedSegments"`
	// AvailableSegments of those are served by at least one reachable server that Druid counts: a managed
	// Historical (not a clone), an ingestion task or a Broker.
	AvailableSegments int `json:"availableSegments"`
	// TaskServedSegments of those are served only by ingestion tasks (or Brokers), not yet by a Historical.
	TaskServedSegments int `json:"taskServedSegments"`
	// UnavailableSegments are reported as unavailable findings.
	UnavailableSegments int `json:"unavailableSegments"`
	// UnverifiedSegments could be held only by unreachable servers: served by no reachable one (or by too few on
	// a tier), on tiers where unreachable servers could make up the difference. They are not findings.
	UnverifiedSegments int `json:"unverifiedSegments"`
	// LoadingSegments were marked used within the grace period and are not served (fully) yet; not findings.
	LoadingSegments int `json:"loadingSegments"`
	// UnderReplicatedSegments, OverReplicatedSegments and StaleReplicaSegments count segments with at least one
	// such finding.
	UnderReplicatedSegments int `json:"underReplicatedSegments"`
	OverReplicatedSegments  int `json:"overReplicatedSegments"`
	StaleReplicaSegments    int `json:"staleReplicaSegments"`
	// PartialLoadSegments are the expected segments whose rule sends partial loads (a fingerprint to announce).
	PartialLoadSegments int `json:"partialLoadSegments"`
	// UndecidedSegments are used segments whose partial-load rule's choice the audit cannot tell (the warnings say
	// why); every replica of them counts, whatever its fingerprint.
	UndecidedSegments int `json:"undecidedSegments"`
	// DroppedSegments are used segments a drop rule applies to (the Coordinator marks them unused).
	DroppedSegments int `json:"droppedSegments"`
	// NoRuleSegments are used segments no rule applies to (the Coordinator leaves them alone).
	NoRuleSegments int `json:"noRuleSegments"`
	// FindingsByKind counts the findings of the dataSource by kind (kinds without findings are left out).
	FindingsByKind map[Kind]int `json:"findingsByKind"`
	// Granularity is the width of the Availability buckets: "day", "week", "month", "year" or "<n> years".
	Granularity string `json:"granularity"`
	// Availability is the expected segments bucketed by time, oldest first, for an availability chart. A segment
	// counts in every bucket its interval overlaps; buckets without segments are left out.
	Availability []IntervalBucket `json:"availability"`
}

// IntervalBucket is one time bucket of a dataSource's availability.
type IntervalBucket struct {
	// Interval is the bucket, start/end in ISO UTC; Start and End are the same bounds.
	Interval string    `json:"interval"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// ExpectedSegments and ExpectedBytes are the expected segments overlapping the bucket.
	ExpectedSegments int   `json:"expectedSegments"`
	ExpectedBytes    int64 `json:"expectedBytes"`
	// AvailableSegments and AvailableBytes are those served by at least one reachable server.
	AvailableSegments int   `json:"availableSegments"`
	AvailableBytes    int64 `json:"availableBytes"`
	// FullyReplicatedSegments are those served with every replica their rule asks for.
	FullyReplicatedSegments int `json:"fullyReplicatedSegments"`
}

// Totals add up a report.
type Totals struct {
	DataSources          int   `json:"dataSources"`
	UsedSegments         int   `json:"usedSegments"`
	UsedBytes            int64 `json:"usedBytes"`
	UnusedSegments       int   `json:"unusedSegments"`
	OvershadowedSegments int   `json:"overshadowedSegments"`
	ExpectedSegments     int   `json:"expectedSegments"`
	AvailableSegments    int   `json:"availableSegments"`
	UnavailableSegments  int   `json:"unavailableSegments"`
	UnverifiedSegments   int   `json:"unverifiedSegments"`
	LoadingSegments      int   `json:"loadingSegments"`
	UnderReplicated      int   `json:"underReplicatedSegments"`
	OverReplicated       int   `json:"overReplicatedSegments"`
	TaskServedSegments   int   `json:"taskServedSegments"`
	StaleReplicaSegments int   `json:"staleReplicaSegments"`
	PartialLoadSegments  int   `json:"partialLoadSegments"`
	UndecidedSegments    int   `json:"undecidedSegments"`
	// Servers counts the data servers; UnreachableServers those whose segments could not be read.
	Servers            int `json:"servers"`
	UnreachableServers int `json:"unreachableServers"`
	// DeepStorageObjects and DeepStorageBytes count the objects listed under the storage prefix.
	DeepStorageObjects int64 `json:"deepStorageObjects"`
	DeepStorageBytes   int64 `json:"deepStorageBytes"`
	// OrphanBytes is the size of the orphaned objects.
	OrphanBytes int64 `json:"orphanBytes"`
	// RecentUnreferencedObjects are objects no segment references yet that were written within the grace period
	// (a task may be about to publish them); not findings.
	RecentUnreferencedObjects int `json:"recentUnreferencedObjects"`
	// UnreadableSegmentRows are rows of the segments table whose payload is not a DataSegment; they are left out.
	UnreadableSegmentRows int `json:"unreadableSegmentRows"`
	// Findings counts every finding, FindingsByKind by kind (kinds without findings are left out).
	Findings       int          `json:"findings"`
	FindingsByKind map[Kind]int `json:"findingsByKind"`
}

// Clean reports whether the audit found nothing to act on: no finding and no unreachable server.
func (r *Report) Clean() bool {
	return r.Totals.Findings == 0 && r.Totals.UnreachableServers == 0
}
