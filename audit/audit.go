// Package audit cross-checks what a Druid cluster serves against its metadata store and its deep storage, and one
// data server's cache against what it announces.
//
// Run is the cluster audit behind `druid-sidecar audit`:
//
//  1. the segments table is streamed once, used and unused rows alike, keeping per used segment only what the
//     audit needs (its id, interval, size, shard spec when it is not a plain numbered one, and where its object is
//     when deep storage is listed) and per unused row its id's hash (and its object directory's, when listed);
//     the payloads are summarized (segments.SummaryReader), not parsed whole, but for the dataSources whose
//     partial-load rules decide from a segment's layout;
//  2. overshadowing is decided per dataSource as Druid's timeline decides it (metadata.NewTimeline), and the rules
//     (metadata.LoadRules with druid.manager.rules.defaultRule, evaluated at the audit's start, the Coordinator's
//     tier aliases resolved) give each used, not overshadowed segment its expected replicas per tier, and for a
//     partial-load rule the fingerprint its replicas must announce (decided as each row is read, from its layout);
//  3. every data server of internal discovery (roles HISTORICAL, PEON, INDEXER, BROKER with a dataNodeService) is
//     read: its HTTP inventory when it answers, else its batch znodes; a server answering neither is unreachable,
//     and segments it may hold are not counted as lost. Replicas count as the Coordinator's SegmentReplicaCountMap
//     counts them: on managed Historicals (clones are not), tasks' and Brokers' apart; where an overshadowed
//     segment is served, the timeline of what is served (the Brokers') is built too;
//  4. deep storage (S3 at druid.storage.bucket/baseKey) is listed, page by page, to find the used segments whose
//     object is gone and the objects no row references;
//  5. each dataSource is evaluated, producing the findings (kinds in report.go) and its summary.
//
// Drift and ReadNode compare one node's cache directories, info_dir and inventory; NewPeriodic runs that, with the
// node's served segments checked against the metadata store, inside `serve`, and exports the findings as metrics.
//
// What the audit assumes of Druid is documented in docs/audit.md.
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Options tune Run. Every field is optional.
type Options struct {
	// DataSources limits the audit to these dataSources (and deep storage to their prefixes); empty means all.
	DataSources []string
	// SkipDeepStorage leaves deep storage out: no missing or orphan findings.
	SkipDeepStorage bool
	// Progress, when set, is called as the audit advances: the phase ("metadata", "timelines", "servers",
	// "deep storage", "evaluation"), what is done and the total (0 when not known). Calls come from one goroutine
	// at a time.
	Progress func(phase string, done, total int64)
	// Logger; nil discards.
	Logger hclog.Logger
	// Now is the clock; the audit's reference time (rules, grace) is its value at the start. nil means time.Now.
	Now func() time.Time
	// MaxFindings bounds Report.Findings (the worst are kept; totals count all); 0 means 100000, negative means
	// no bound.
	MaxFindings int
	// Grace: segments marked used, and objects written, within this long before the audit are not reported as
	// unavailable, under-replicated or orphaned, since a load or a publish may be under way. 0 means 15 minutes
	// (the Coordinator's load timeout), negative means none.
	Grace time.Duration
	// ServerTimeout bounds the reading of one data server's inventory; 0 means 2 minutes.
	ServerTimeout time.Duration
	// HTTPClient reads the inventories; nil means a client with a 5 s connect timeout.
	HTTPClient *http.Client
	// ServerConcurrency is how many servers are read at once; 0 means 8.
	ServerConcurrency int
}

// DefaultMaxFindings is Options.MaxFindings when it is 0.
const DefaultMaxFindings = 100000

// DefaultGrace is Options.Grace when it is 0.
const DefaultGrace = 15 * time.Minute

// dataRoles are the internal-discovery roles whose nodes announce a dataNodeService, the only ones Druid's server
// view reads segments from.
var dataRoles = []string{"HISTORICAL", "PEON", "INDEXER", "BROKER"}

// The record flags.
const (
	flagOvershadowed uint8 = 1 << iota
	flagTombstone
	flagRecent  // marked used within the grace period
	flagInScope // its object lies under the listed deep-storage prefix
	flagFound   // its object was listed
	flagKeyRel  // object holds the key relative to the default directory (defaultKey without "index.zip")
	// flagBrokerShadowed: overshadowed, and overshadowed in the timeline of the served segments too (Brokers').
	flagBrokerShadowed
	// flagOlderServed: not served, and an older version still served overlaps it, visible in the Brokers' timeline.
	flagOlderServed
)

// How a record keeps its shard spec: the kinds Druid's timeline treats alike by partition number and core
// partition count are rebuilt from those two numbers, the rest is kept whole.
const (
	shardNumbered  uint8 = iota // numbered, hashed, single and range with numCorePartitions: NumberedShardSpec(partition, cores)
	shardLinear                 // LinearShardSpec(partition)
	shardNone                   // NoneShardSpec()
	shardTombstone              // TombstoneShardSpec()
	shardWhole                  // record.shard
)

// record is what the audit keeps of one used segment: 64 bytes, so that a million fit a modest heap.
// The DataSegment itself (loadSpec, dimensions, metrics) is dropped as soon as its row is read.
type record struct {
	ds        int32
	flags     uint8
	shardKind uint8
	partition int32
	cores     int32 // the core partition count of a shardNumbered spec
	iv        segments.Interval
	version   string              // shared by consecutive rows of the same version
	shard     *segments.ShardSpec // the shard spec of shardWhole, else nil
	size      int64
}

// objectRef is where a record's object is, kept (in run.objects) only for the records whose object the listing of
// deep storage covers: the only ones that can be found missing, the one finding that names the object.
type objectRef struct {
	keyHash uint64 // hash of its object (bucket/key, or bucket/prefix/ when unzipped)
	// object is where the segment's object is when not at defaultKey: "s3://bucket/key", or with flagKeyRel the
	// key's rest after defaultKey's directory (a unique-path UUID directory and the file name). "" at defaultKey.
	object string
}

// shardSpec returns the record's shard spec, or one the timeline treats exactly alike; numbered specs are taken
// from cache, keyed by partition and cores.
func (rec *record) shardSpec(cache map[[2]int32]segments.ShardSpec) segments.ShardSpec {
	switch rec.shardKind {
	case shardLinear:
		return segments.LinearShardSpec(int(rec.partition))
	case shardNone:
		return segments.NoneShardSpec()
	case shardTombstone:
		return segments.TombstoneShardSpec()
	case shardWhole:
		return *rec.shard
	}
	key := [2]int32{rec.partition, rec.cores}
	ss, ok := cache[key]
	if !ok {
		ss = segments.NumberedShardSpec(int(rec.partition), int(rec.cores))
		cache[key] = ss
	}
	return ss
}

// compactShard decides how a record keeps a shard spec.
func (rec *record) compactShard(ss segments.ShardSpec) {
	switch ss.Type() {
	case segments.ShardTypeNumbered, segments.ShardTypeHashed:
		rec.shardKind, rec.cores = shardNumbered, int32(ss.NumCorePartitions())
		return
	case segments.ShardTypeSingle, segments.ShardTypeRange:
		if ss.NumCorePartitions() >= 0 {
			rec.shardKind, rec.cores = shardNumbered, int32(ss.NumCorePartitions())
			return
		}
	case segments.ShardTypeLinear:
		rec.shardKind = shardLinear
		return
	case segments.ShardTypeNone:
		rec.shardKind = shardNone
		return
	case segments.ShardTypeTombstone:
		rec.shardKind = shardTombstone
		return
	}
	rec.shardKind, rec.shard = shardWhole, &ss
}

func (rec *record) id(ds string) segments.SegmentID {
	return segments.SegmentID{DataSource: ds, Interval: rec.iv, Version: rec.version, PartitionNum: int(rec.partition)}
}

// server is one data server being audited.
type server struct {
	rep  ServerReport
	node discovery.Node
	tier int // index into run.tiers
	// replicas: a managed replication target (historical or bridge, not a clone), whose replicas count toward load
	// rules as the Coordinator counts them.
	replicas bool
	realtime bool // a task (indexer-executor, realtime): announces segments still being built
	// clone: a clone Historical (cloneServers), which the Coordinator neither counts nor manages.
	clone bool
	// decommissioning: in decommissioningNodes; broadcast rules no longer expect segments on it.
	decommissioning bool
	reachable       bool
	recs            []int32  // the used records it serves, sorted
	fps             []string // the fingerprint each of recs is announced with; nil when none has one
}

// fpOf returns the fingerprint the server announces record i with, "" for none (or when it does not hold it).
func (s *server) fpOf(i int32) string {
	if s.fps == nil {
		return ""
	}
	if k, ok := slices.BinarySearch(s.recs, i); ok {
		return s.fps[k]
	}
	return ""
}

// extra is a served segment the used records do not have.
type extra struct {
	servers []int
	size    int64
}

// run is one audit in progress.
type run struct {
	cfg   *configs.Config
	opts  Options
	log   hclog.Logger
	start time.Time
	now   segments.Instant
	grace time.Duration
	seed  maphash.Seed

	dsNames     []string
	dsIndex     map[string]int32
	lastVersion string // the previous row's version, shared with the next row's when equal

	recs     []record
	byID     map[uint64]int32   // id hash -> record
	byIDMore map[uint64][]int32 // further records of a colliding hash
	unused   map[uint64]struct{}
	unusedN  int
	badRows  int

	// Deep storage.
	bucket, prefix string // what is listed: the bucket as a URL prefix (s3://b/, gs://b/, azure://c/), and a key prefix
	store          deepstorage.Bucket
	// home and homePrefix are where the configured deep storage pushes segments (as bucket and prefix above),
	// whether or not it is listed; set by setHome.
	home, homePrefix string
	scopes           []string // the prefixes listed (one per filtered dataSource, or the storage prefix)
	usedKeys         map[uint64]struct{}
	refDirs          map[uint64]struct{} // directories of every row's object, used or unused
	found            map[uint64]struct{}
	outOfScope       int               // used segments whose S3 object is outside the listed prefixes
	s3URLs           map[string]string // the s3://bucket/ of each bucket name load specs give
	objects          []objectRef       // by record, up to the last whose object the listing covers; nil for none
	notS3            int               // used segments, tombstones aside, whose load spec names no S3 object

	rules     *metadata.RuleSet
	dyn       *metadata.DynamicConfig
	ev        *metadata.Evaluator
	dsPartial []bool // per dataSource: some rule it runs is a partial-load rule
	// decided holds the decisions of the records whose dataSource runs partial-load rules, taken from each row's
	// layout as it is read; the other records are decided from their interval when evaluated.
	decided  map[int32]metadata.Decision
	expanded map[*metadata.Rule]map[string]int // each load rule's tiers with the aliases resolved
	// undecided counts, per dataSource and reason, the records whose partial-load decision cannot be told.
	undecided map[[2]string]int
	// shadowClusters are the clusters of overlapping records (per dataSource) in which some record is overshadowed:
	// where the Brokers' timeline of served segments is built.
	shadowClusters [][]int32

	tiers     []string
	tierIndex map[string]int
	servers   []*server
	// counts holds, per record i and tier t (counts[i*len(tiers)+t]), the replicas on managed replication targets
	// that count toward its rule: every one for a plain load, the ones announcing the requested fingerprint for a
	// partial load.
	counts []uint16
	// stale holds, by the same index, the replicas announced with a fingerprint the rule does not ask for (under a
	// partial load they are not in counts; under a plain load they are, and the Coordinator reverts them).
	stale   map[int64]uint16
	served  []uint16 // reachable servers of any type holding record i
	nonHist []uint16 // reachable task and Broker servers holding record i (Druid's loadedNonHistorical)
	bcast   []uint16 // reachable managed servers, not decommissioning, holding record i (broadcast replicas)
	extras  map[segments.SegmentID]*extra

	findings *collector
	details  map[string]string
	report   *Report
	warnings []string
}

// Run audits the cluster cfg describes. It fails, with an error naming what and where, when the metadata store,
// ZooKeeper or (unless skipped) deep storage cannot be read; a data server that cannot be read is reported in the
// Report instead.
func Run(ctx context.Context, cfg *configs.Config, opts Options) (*Report, error) {
	if cfg == nil {
		return nil, errors.New("audit: no configuration")
	}
	nowFn := opts.Now
	if nowFn == nil {
		nowFn = time.Now
	}
	r := newRun(cfg, opts, nowFn())
	if r.report.Inputs.DefaultRulesDataSource == "" {
		// Druid's SQLMetadataRuleManager refuses to start on an empty one.
		return nil, fmt.Errorf("%s is empty; the Coordinator refuses that, and the audit cannot tell which rules apply by default", metadata.DefaultRuleKey)
	}

	// Every input is opened first, so that an unreachable one fails the audit before any long work.
	store, err := metadata.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = store.Close(cctx)
	}()
	zctx, cancel := context.WithTimeout(ctx, max(cfg.ZK.Service.ConnectionTimeout, time.Second))
	// The ZooKeeper client logs every failed connection attempt; the audit reports the outcome itself, so those
	// lines are shown only when debugging.
	zlog := hclog.NewNullLogger()
	if r.log.IsDebug() {
		zlog = r.log.Named("zk")
	}
	reader, err := announcer.NewClusterReader(zctx, cfg, zlog)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", discovery.Where(cfg), err)
	}
	defer reader.Close()
	puller, err := r.openDeepStorage()
	if err != nil {
		return nil, err
	}

	rules, err := store.LoadRules(ctx, r.report.Inputs.DefaultRulesDataSource)
	if err != nil {
		// A row that does not parse fails the Coordinator's whole poll: it keeps applying the rules of its previous
		// poll, which no reader of the table can know. Deciding from the other rows would be a guess.
		return nil, fmt.Errorf("%w; the Coordinator's poll of the rules table fails while such a row is the newest of its dataSource, and it keeps applying the rules it read before: fix or replace the row", err)
	}
	dyn, found, err := store.LoadDynamicConfig(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.setRules(rules, dyn, found); err != nil {
		return nil, err
	}
	if err := r.readMetadata(ctx, store); err != nil {
		return nil, err
	}
	r.overshadow(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.readServers(ctx, reader); err != nil {
		return nil, err
	}
	r.brokerView()
	if puller != nil {
		if err := r.listDeepStorage(ctx, puller); err != nil {
			return nil, err
		}
	}
	r.evaluate()
	r.finish(nowFn)
	return r.report, nil
}

// newRun prepares an audit started at start: what Run does before it reads anything.
func newRun(cfg *configs.Config, opts Options, start time.Time) *run {
	r := &run{
		cfg: cfg, opts: opts, log: opts.Logger, start: start, seed: maphash.MakeSeed(),
		dsIndex: map[string]int32{}, byID: map[uint64]int32{},
		byIDMore: map[uint64][]int32{}, unused: map[uint64]struct{}{}, usedKeys: map[uint64]struct{}{},
		refDirs: map[uint64]struct{}{}, found: map[uint64]struct{}{},
		tierIndex: map[string]int{}, extras: map[segments.SegmentID]*extra{}, details: map[string]string{},
		decided: map[int32]metadata.Decision{}, expanded: map[*metadata.Rule]map[string]int{},
		undecided: map[[2]string]int{}, stale: map[int64]uint16{},
	}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	r.now = segments.InstantOf(r.start)
	switch {
	case opts.Grace == 0:
		r.grace = DefaultGrace
	case opts.Grace > 0:
		r.grace = opts.Grace
	}
	maxFindings := opts.MaxFindings
	if maxFindings == 0 {
		maxFindings = DefaultMaxFindings
	}
	r.findings = newCollector(maxFindings)
	r.report = &Report{ReportVersion: ReportVersion, GeneratedAt: r.start.UTC(), Inputs: Inputs{
		SegmentsTable: cfg.Metadata.Tables.Segments(), RulesTable: cfg.Metadata.Tables.Rules(),
		ZooKeeper: cfg.ZK.Service.Host, DataSourceFilter: slices.Clone(opts.DataSources),
		GraceSeconds: r.grace.Seconds(), RuleVersions: map[string]string{},
		DefaultRulesDataSource: cfg.Metadata.DefaultRule, TierAliases: map[string][]string{}, CloneServers: map[string]string{},
		DecommissioningServers: []string{},
	}}
	if r.report.Inputs.DataSourceFilter == nil {
		r.report.Inputs.DataSourceFilter = []string{}
	}
	r.report.Inputs.MetadataStore = describeMetadataStore(cfg)
	return r
}

// setRules takes the rules and the Coordinator's dynamic configuration (found: read from its row) the audit decides
// with, at its start.
func (r *run) setRules(rules *metadata.RuleSet, dyn *metadata.DynamicConfig, found bool) error {
	ev, err := rules.At(r.now)
	if err != nil {
		return fmt.Errorf("evaluating the rules at %s: %w", r.now, err)
	}
	r.rules, r.ev, r.dyn = rules, ev, dyn
	in := &r.report.Inputs
	for ds, v := range rules.Versions {
		in.RuleVersions[ds] = v
	}
	in.DynamicConfig = "none: the config table has no " + metadata.DynamicConfigKey + " row, so Druid's defaults apply"
	if found {
		in.DynamicConfig = "the " + metadata.DynamicConfigKey + " row of " + r.cfg.Metadata.Tables.Config()
	}
	for alias, tiers := range dyn.HistoricalTierAliases {
		in.TierAliases[alias] = slices.Sorted(slices.Values(tiers))
	}
	maps.Copy(in.CloneServers, dyn.CloneServers)
	in.DecommissioningServers = slices.Sorted(slices.Values(dyn.DecommissioningNodes))
	if in.DecommissioningServers == nil {
		in.DecommissioningServers = []string{}
	}
	return nil
}

func (r *run) progress(phase string, done, total int64) {
	if r.opts.Progress != nil {
		r.opts.Progress(phase, done, total)
	}
}

func (r *run) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.Warn(msg)
	r.warnings = append(r.warnings, msg)
}

// describeMetadataStore names the metadata store (PostgreSQL or MySQL) as operators know it, without credentials.
func describeMetadataStore(cfg *configs.Config) string { return metadata.Describe(cfg) }

// setHome sets where the configured deep storage pushes segments: S3, Google Cloud Storage or Azure Blob Storage
// (druid.storage.type), else S3's keys as before, which only name objects in findings.
func (r *run) setHome() {
	if b, prefix, ok, _ := deepstorage.StorageOf(r.cfg); ok {
		r.home, r.homePrefix = b.URL(""), prefix
		return
	}
	r.home, r.homePrefix = "s3://"+r.cfg.Storage.Bucket+"/", deepstorage.StoragePrefix(r.cfg.Storage.BaseKey)
}

// openDeepStorage makes the puller that lists deep storage, or nil (with the reason in the report) when deep
// storage is skipped or is not an object store (s3, google, azure).
func (r *run) openDeepStorage() (*deepstorage.Puller, error) {
	st := r.cfg.Storage
	in := &r.report.Inputs
	b, prefix, ok, err := deepstorage.StorageOf(r.cfg)
	switch {
	case r.opts.SkipDeepStorage:
		in.DeepStorage = "not checked: skipped"
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("deep storage: %w; set it, or pass --skip-deep-storage", err)
	case !ok:
		in.DeepStorage = fmt.Sprintf("not checked: druid.storage.type is %q; only s3, google and azure deep storage are audited", st.Type)
		return nil, nil
	}
	r.store, r.bucket, r.prefix = b, b.URL(""), prefix
	if len(r.opts.DataSources) > 0 {
		for _, ds := range r.opts.DataSources {
			r.scopes = append(r.scopes, r.prefix+ds+"/")
		}
	} else {
		r.scopes = []string{r.prefix}
	}
	in.DeepStorage = r.bucket + r.prefix
	in.DeepStorageChecked = true
	opts := deepstorage.OptionsFromConfig(r.cfg)
	opts.Logger = r.log.Named("deepstorage")
	p, err := deepstorage.New(opts)
	if err != nil {
		return nil, fmt.Errorf("deep storage at %s: %w", in.DeepStorage, err)
	}
	return p, nil
}

// inScope reports whether an object is under one of the listed prefixes, so its absence from the listing means it
// is missing.
func (r *run) inScope(bucket, key string) bool {
	if r.bucket == "" || bucket != r.bucket {
		return false
	}
	for _, p := range r.scopes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (r *run) hashString(parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	for i, p := range parts {
		if i > 0 {
			h.WriteByte('/')
		}
		h.WriteString(p)
	}
	if v := h.Sum64(); v != 0 {
		return v
	}
	return 1 // 0 means "no object"
}

// hashID hashes a segment id by its fields, not its text: formatting two instants for each of millions of ids
// cost more than the rest of their lookup.
func (r *run) hashID(id segments.SegmentID) uint64 {
	return maphash.Comparable(r.seed, id)
}

func (r *run) dsOf(name string) int32 {
	if i, ok := r.dsIndex[name]; ok {
		return i
	}
	i := int32(len(r.dsNames))
	r.dsNames = append(r.dsNames, name)
	r.dsIndex[name] = i
	r.dsPartial = append(r.dsPartial, r.rules.HasPartial(name))
	return i
}

// shareVersion returns v, or the previous row's equal version: the partitions of one interval and version are
// usually written, and read back, together. (A map of every version would cost more than it saves when versions
// are mostly distinct.)
func (r *run) shareVersion(v string) string {
	if v == r.lastVersion {
		return r.lastVersion
	}
	r.lastVersion = v
	return v
}

// readMetadata streams the segments table, used and unused rows, into records and hashes.
func (r *run) readMetadata(ctx context.Context, store *metadata.Store) error {
	var total int64
	if len(r.opts.DataSources) == 0 {
		// For progress, and to size the records at once (growing them by doubling would need up to twice the
		// memory at the moment of the copy). A failure here is not worth failing the audit for.
		total, _ = store.CountSegments(ctx, true)
		if used, err := store.CountSegments(ctx, false); err == nil && used > 0 {
			// A little room for rows marked used meanwhile.
			r.recs = make([]record, 0, used+used/100+16)
			// The id index too: a map grown by doubling holds its old and new tables at once.
			r.byID = make(map[uint64]int32, cap(r.recs))
		}
	}
	var done int64
	for _, ds := range r.opts.DataSources {
		r.dsOf(ds) // filtered dataSources are summarised even when they have no segments
	}
	opts := metadata.StreamOptions{DataSources: r.opts.DataSources, IncludeUnused: true,
		BadPayload: func(id string, _ []byte, err error) error {
			r.badRows++
			if r.badRows <= 10 {
				r.warn("segment row %s cannot be read and is left out: %v", id, err)
			}
			return nil
		}}
	// Only the dataSources running partial-load rules need whole segments (their layouts); the rest are summarized.
	partial := map[string]bool{}
	opts.Summarize = func(ds string) bool {
		p, ok := partial[ds]
		if !ok {
			p = r.rules.HasPartial(ds)
			partial[ds] = p
		}
		return !p
	}
	err := store.StreamSegments(ctx, opts, func(row *metadata.SegmentRow) error {
		if done++; done%10000 == 0 {
			r.progress("metadata", done, total)
		}
		r.addRow(row)
		return nil
	})
	r.progress("metadata", done, total)
	if err != nil {
		return err
	}
	if r.badRows > 10 {
		r.warn("%d segment rows in all cannot be read and are left out", r.badRows)
	}
	if r.notS3 > 0 {
		r.warn("%d used segments have no load spec of an object store (local, hdfs, or unreadable) and were not checked in deep storage", r.notS3)
	}
	if r.outOfScope > 0 {
		r.warn("%d used segments are stored outside %s%s and were not checked in deep storage", r.outOfScope,
			r.bucket, r.prefix)
	}
	r.log.Debug("read the segments table", "used", len(r.recs), "unused", r.unusedN)
	return nil
}

// addRow takes one row of the segments table: a record of a used row, the hashes of an unused one. Rows come
// summarized (row.Summary) unless their dataSource runs partial-load rules, which decide from the whole segment.
func (r *run) addRow(row *metadata.SegmentRow) {
	var seg segments.Summary
	if row.Summary != nil {
		seg = *row.Summary
	} else {
		seg = row.Segment.Summary()
	}
	tombstone := seg.ShardSpec.Type() == segments.ShardTypeTombstone
	// Where the object is matters only to the listing of deep storage: without one, the load spec is not read.
	// The object's directory counts as referenced whether the row is used or not: kill tasks delete unused
	// segments' objects, and until then they are not orphans.
	bucket, key, hasObject := "", "", false
	if r.bucket != "" && !tombstone && len(seg.LoadSpec) > 0 {
		bucket, key, hasObject = r.locate(seg.LoadSpec)
	}
	if hasObject {
		r.refDirs[r.hashString(bucket, deepstorage.KeyDir(key))] = struct{}{}
	}
	if row.Used && !hasObject && !tombstone && r.bucket != "" {
		r.notS3++
	}
	if !row.Used {
		r.unused[r.hashID(seg.ID())] = struct{}{}
		r.unusedN++
		return
	}
	rec := record{
		ds: r.dsOf(row.DataSource), partition: int32(seg.ShardSpec.PartitionNum()), iv: seg.Interval,
		version: r.shareVersion(seg.Version), size: seg.Size,
	}
	rec.compactShard(seg.ShardSpec)
	if tombstone {
		rec.flags |= flagTombstone
	}
	if r.grace > 0 && row.UsedStatusLastUpdated != "" {
		if t, err := segments.ParseInstant(row.UsedStatusLastUpdated); err == nil && r.now-t < segments.Instant(r.grace.Milliseconds()) {
			rec.flags |= flagRecent
		}
	}
	switch {
	case hasObject && !r.inScope(bucket, key):
		r.outOfScope++
	case hasObject:
		rec.flags |= flagInScope
	}
	i := int32(len(r.recs))
	r.recs = append(r.recs, rec)
	if rec.flags&flagInScope != 0 {
		r.addObject(i, seg.ID(), bucket, key)
	}
	if r.dsPartial[rec.ds] {
		// A partial-load rule decides from the segment's projections and cluster groups, which the record does not
		// keep: the decision is taken now, at the audit's start like every other.
		r.decided[i] = r.ev.EvaluateLayout(row.DataSource, seg.Interval, metadata.LayoutOf(row.Segment))
	}
	h := r.hashID(seg.ID())
	if _, dup := r.byID[h]; dup {
		r.byIDMore[h] = append(r.byIDMore[h], i)
	} else {
		r.byID[h] = i
	}
}

// addObject keeps where record i's object is (see objectRef); run.objects grows with the records from the first
// record whose object the listing covers.
func (r *run) addObject(i int32, id segments.SegmentID, bucket, key string) {
	if r.objects == nil {
		r.objects = make([]objectRef, 0, cap(r.recs))
	}
	for len(r.objects) <= int(i) {
		r.objects = append(r.objects, objectRef{})
	}
	ref := &r.objects[i]
	ref.keyHash = r.hashString(bucket, key)
	r.usedKeys[ref.keyHash] = struct{}{}
	if r.home == "" {
		r.setHome()
	}
	def := defaultKey(r.homePrefix, id)
	dir := def[:len(def)-len(defaultFile)]
	switch {
	case bucket != r.home:
		ref.object = bucket + key
	case key == def:
	case strings.HasPrefix(key, dir):
		// A copy: a substring would keep the whole key alive.
		ref.object = strings.Clone(key[len(dir):])
		r.recs[i].flags |= flagKeyRel
	default:
		ref.object = bucket + key
	}
}

// defaultKey is where Druid's S3 and Google pushers put a segment without unique paths:
// <prefix><dataSource>/<start>_<end>/<version>/<partitionNum>/index.zip (S3Utils.constructSegmentPath with
// DataSegmentPusher.getDefaultStorageDir), prefix being the storage prefix (baseKey/). Records keep their
// object's key only when it differs (Azure's pusher writes another form: its records keep their whole key).
func defaultKey(prefix string, id segments.SegmentID) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(id.DataSource)
	b.WriteByte('/')
	b.WriteString(id.Interval.Start.String())
	b.WriteByte('_')
	b.WriteString(id.Interval.End.String())
	b.WriteByte('/')
	b.WriteString(id.Version)
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(id.PartitionNum))
	b.WriteString("/" + defaultFile)
	return b.String()
}

// defaultFile is the archive's name in defaultKey.
const defaultFile = "index.zip"

// objectOf returns the record's object as s3://bucket/key (gs://, azure://).
func (r *run) objectOf(i int32) string {
	rec := &r.recs[i]
	if r.home == "" {
		r.setHome()
	}
	def := defaultKey(r.homePrefix, rec.id(r.dsNames[rec.ds]))
	object := r.objects[i].object
	switch {
	case rec.flags&flagKeyRel != 0:
		return r.home + def[:len(def)-len(defaultFile)] + object
	case object != "":
		return object
	}
	return r.home + def
}

// lookup finds the used record of a segment id, or -1.
func (r *run) lookup(id segments.SegmentID) int32 {
	h := r.hashID(id)
	match := func(i int32) bool {
		rec := &r.recs[i]
		return r.dsNames[rec.ds] == id.DataSource && rec.iv == id.Interval && rec.version == id.Version &&
			int(rec.partition) == id.PartitionNum
	}
	if i, ok := r.byID[h]; ok {
		if match(i) {
			return i
		}
		for _, j := range r.byIDMore[h] {
			if match(j) {
				return j
			}
		}
	}
	return -1
}

// byDataSource groups the record indexes by dataSource, in dataSource order.
func (r *run) byDataSource() [][]int32 {
	groups := make([][]int32, len(r.dsNames))
	for i := range r.recs {
		ds := r.recs[i].ds
		groups[ds] = append(groups[ds], int32(i))
	}
	return groups
}

// overshadow flags the overshadowed records. A segment can only be overshadowed by segments whose intervals
// overlap it, so each dataSource is cut into clusters of overlapping intervals, and only a cluster holding more than
// one version (or segment-lock shard specs, whose minor versions overshadow within one version) gets a timeline:
// the light DataSegments a timeline needs live only while their cluster is processed, however large the dataSource.
func (r *run) overshadow(ctx context.Context) {
	groups := r.byDataSource()
	cache := map[[2]int32]segments.ShardSpec{}
	for d, idxs := range groups {
		if ctx.Err() != nil {
			return
		}
		r.progress("timelines", int64(d), int64(len(groups)))
		slices.SortFunc(idxs, func(a, b int32) int {
			ra, rb := &r.recs[a], &r.recs[b]
			if c := cmp.Compare(ra.iv.Start, rb.iv.Start); c != 0 {
				return c
			}
			return cmp.Compare(ra.iv.End, rb.iv.End)
		})
		for start := 0; start < len(idxs); {
			end, hi := start+1, r.recs[idxs[start]].iv.End
			mixed := r.recs[idxs[start]].shardKind == shardWhole
			for ; end < len(idxs) && r.recs[idxs[end]].iv.Start < hi; end++ {
				rec := &r.recs[idxs[end]]
				hi = max(hi, rec.iv.End)
				mixed = mixed || rec.version != r.recs[idxs[start]].version || rec.shardKind == shardWhole
			}
			if mixed {
				r.overshadowCluster(r.dsNames[d], idxs[start:end], cache)
			}
			start = end
		}
	}
	r.progress("timelines", int64(len(groups)), int64(len(groups)))
}

// overshadowCluster builds the timeline of one cluster of overlapping segments.
func (r *run) overshadowCluster(ds string, idxs []int32, cache map[[2]int32]segments.ShardSpec) {
	light := make([]*segments.DataSegment, len(idxs))
	for k, i := range idxs {
		rec := &r.recs[i]
		light[k] = &segments.DataSegment{DataSource: ds, Interval: rec.iv, Version: rec.version, ShardSpec: rec.shardSpec(cache)}
	}
	tl := metadata.NewTimeline(light)
	shadowed := false
	for k, i := range idxs {
		if tl.IsOvershadowed(light[k]) {
			r.recs[i].flags |= flagOvershadowed
			shadowed = true
		}
	}
	if shadowed {
		r.shadowClusters = append(r.shadowClusters, slices.Clone(idxs))
	}
}

// brokerView decides, where an overshadowed segment is served, what the Brokers' timeline makes of it. Brokers
// build their timeline from the served segments, not from the used ones: an overshadowed segment stays visible to
// them until the segments overshadowing it are served, and until then the Coordinator keeps it used too
// (MarkOvershadowedSegmentsAsUnused only counts overshadowing segments that are loaded). Clones count only when a
// query asks for them (cloneQueryMode), so they are left out.
func (r *run) brokerView() {
	cache := map[[2]int32]segments.ShardSpec{}
	for _, idxs := range r.shadowClusters {
		ds := r.dsNames[r.recs[idxs[0]].ds]
		var light []*segments.DataSegment
		var which []int32
		for _, i := range idxs {
			if r.queryable(i) {
				rec := &r.recs[i]
				light = append(light, &segments.DataSegment{DataSource: ds, Interval: rec.iv, Version: rec.version, ShardSpec: rec.shardSpec(cache)})
				which = append(which, i)
			}
		}
		tl := metadata.NewTimeline(light)
		var visible []int32
		for k, i := range which {
			switch {
			case !tl.IsOvershadowed(light[k]):
				visible = append(visible, i)
			case r.recs[i].flags&flagOvershadowed != 0:
				r.recs[i].flags |= flagBrokerShadowed
			}
		}
		for _, i := range idxs {
			rec := &r.recs[i]
			if rec.flags&flagOvershadowed != 0 || r.queryable(i) {
				continue
			}
			for _, v := range visible {
				if old := &r.recs[v]; old.version < rec.version && old.iv.Overlaps(rec.iv) {
					rec.flags |= flagOlderServed
					break
				}
			}
		}
	}
}

// queryable reports whether a server Brokers query by default serves record i: any reachable one but a clone.
func (r *run) queryable(i int32) bool {
	n := int(r.served[i])
	if n == 0 {
		return false
	}
	for _, s := range r.servers {
		if s.clone && s.reachable {
			if _, ok := slices.BinarySearch(s.recs, i); ok {
				n--
			}
		}
	}
	return n > 0
}

// serverResult is what reading one server gave: each segment it announces is looked up as it is read, so that only
// a record index is kept of the used ones.
type serverResult struct {
	source Source
	err    string
	held   []heldRec            // the used records it announces, in its order
	fps    []string             // the fingerprints its records are announced with, each once; held's fp is 1 + an index
	fpOf   map[string]int32     // each fingerprint's held fp
	others []segments.SegmentID // the segments no used row describes, in its order
	sizes  []int64              // their sizes
}

// heldRec is a used record a server announces, with the fingerprint it announces it with (0 for none, else 1 + its
// index in fps): eight bytes for each of the hundreds of thousands a server may hold.
type heldRec struct {
	i, fp int32
}

// add takes one segment the server announces.
func (res *serverResult) add(r *run, id segments.SegmentID, size int64, fp string) {
	if i := r.lookup(id); i >= 0 {
		h := heldRec{i: i}
		if fp != "" {
			if h.fp = res.fpOf[fp]; h.fp == 0 {
				if res.fpOf == nil {
					res.fpOf = map[string]int32{}
				}
				res.fps = append(res.fps, fp)
				h.fp = int32(len(res.fps))
				res.fpOf[fp] = h.fp
			}
		}
		res.held = append(res.held, h)
		return
	}
	res.others = append(res.others, id)
	res.sizes = append(res.sizes, size)
}

// readServers reads internal discovery and every data server's segments.
func (r *run) readServers(ctx context.Context, reader *announcer.ClusterReader) error {
	nodes, err := reader.Nodes(ctx, dataRoles...)
	if err != nil {
		if nodes == nil {
			return fmt.Errorf("%s: reading internal discovery: %w", discovery.Where(r.cfg), err)
		}
		r.warn("some internal-discovery nodes cannot be read: %v", err)
	}
	r.addServers(nodes)
	client := newInventoryClient(r.cfg, r.opts.HTTPClient, r.opts.ServerTimeout)
	if t, ok := client.http.Transport.(*http.Transport); ok && r.opts.HTTPClient == nil {
		// The inventories of TLS-only servers are read trusting druid.client.https.*, as Druid's own clients do;
		// the transport is the client's own, made just above.
		tc, err := tlsconf.Client(r.cfg.TLS.Client)
		if err != nil {
			return err
		}
		if tc != nil {
			t.TLSClientConfig = tc
		}
	}
	conc := r.opts.ServerConcurrency
	if conc <= 0 {
		conc = 8
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	r.progress("servers", 0, int64(len(r.servers)))
	for i, s := range r.servers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := r.readServer(ctx, client, reader, s)
			mu.Lock()
			defer mu.Unlock()
			r.apply(i, res)
			done++
			r.progress("servers", int64(done), int64(len(r.servers)))
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// addServers takes the data servers of internal discovery (the nodes announcing a dataNodeService), with what the
// dynamic configuration says of them, and makes room for their replica counts.
func (r *run) addServers(nodes []discovery.Node) {
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.DataNode == nil || seen[n.Name] {
			continue
		}
		seen[n.Name] = true
		st := n.DataNode.ServerType
		s := &server{node: n, rep: ServerReport{Name: n.Name, Role: n.Role, ServerType: st, Tier: n.DataNode.Tier,
			MaxSize: n.DataNode.MaxSize}}
		historical := st == "historical" || st == "bridge"
		// cloneServers names clone Historicals by host:port, as they announce themselves; the Coordinator leaves
		// them out of its managed servers (DruidCluster.getManagedHistoricals, getAllManagedServers).
		if source, ok := r.dyn.CloneServers[n.Name]; ok && historical {
			s.clone, s.rep.CloneOf = true, source
		}
		s.replicas = historical && !s.clone
		s.realtime = st == "indexer-executor" || st == "realtime"
		s.decommissioning = slices.Contains(r.dyn.DecommissioningNodes, n.Name)
		s.rep.Decommissioning = s.decommissioning
		s.tier = r.tierOf(n.DataNode.Tier)
		r.servers = append(r.servers, s)
	}
	sort.Slice(r.servers, func(i, j int) bool { return r.servers[i].rep.Name < r.servers[j].rep.Name })
	// Each server's segments are counted as soon as they are read, and dropped: only one list per reader is held
	// at a time, not every server's.
	r.counts = make([]uint16, len(r.recs)*len(r.tiers))
	r.served = make([]uint16, len(r.recs))
	r.nonHist = make([]uint16, len(r.recs))
	r.bcast = make([]uint16, len(r.recs))
}

// apply counts what one server serves: replicas of used records, and the segments no used row describes.
func (r *run) apply(si int, res *serverResult) {
	s := r.servers[si]
	s.rep.Source, s.rep.Error = res.source, res.err
	s.reachable = res.source != SourceUnreachable
	for k, id := range res.others {
		s.rep.Segments++
		s.rep.Bytes += res.sizes[k]
		// Tasks announce the segments they are still building, which no row describes yet.
		if s.realtime || !r.wanted(id.DataSource) {
			continue
		}
		e := r.extras[id]
		if e == nil {
			e = &extra{size: res.sizes[k]}
			r.extras[id] = e
		}
		if n := len(e.servers); n > 0 && e.servers[n-1] == si {
			s.rep.Segments-- // announced twice (in two batch znodes)
			s.rep.Bytes -= res.sizes[k]
			continue
		}
		e.servers = append(e.servers, si)
	}
	hs := res.held
	// A segment announced twice by one server (in two batch znodes) is one replica.
	slices.SortStableFunc(hs, func(a, b heldRec) int { return cmp.Compare(a.i, b.i) })
	hs = slices.CompactFunc(hs, func(a, b heldRec) bool { return a.i == b.i })
	s.recs = make([]int32, len(hs))
	for k, h := range hs {
		s.recs[k] = h.i
		if h.fp != 0 {
			if s.fps == nil {
				s.fps = make([]string, len(hs))
			}
			s.fps[k] = res.fps[h.fp-1]
			s.rep.PartialSegments++
		}
	}
	T := len(r.tiers)
	inc := func(c *uint16) {
		if *c < 65535 {
			*c++
		}
	}
	for k, i := range s.recs {
		s.rep.Segments++
		s.rep.Bytes += r.recs[i].size
		inc(&r.served[i])
		switch {
		case s.replicas:
			fp := ""
			if s.fps != nil {
				fp = s.fps[k]
			}
			counted, stale := r.replicaOf(i, fp)
			if counted {
				inc(&r.counts[int(i)*T+s.tier])
			}
			if stale {
				c := r.stale[int64(i)*int64(T)+int64(s.tier)]
				inc(&c)
				r.stale[int64(i)*int64(T)+int64(s.tier)] = c
			}
		case !s.clone:
			inc(&r.nonHist[i]) // a task or a Broker: Druid counts it for availability, not as a replica
		}
		if !s.clone && !s.decommissioning {
			inc(&r.bcast[i])
		}
	}
	r.log.Debug("read data server", "server", s.rep.Name, "source", s.rep.Source, "segments", s.rep.Segments)
}

// replicaOf says how a replica of record i on a managed Historical announced with fingerprint fp counts, as the
// Coordinator's partial-load reconciliation classifies it (PartialSegmentStatusInTier): under a partial load only a
// replica announcing the requested fingerprint counts, any other is stale; under a plain load every replica counts,
// and one announcing a fingerprint is stale too (the Coordinator reloads it in place to release the partial load).
// When the audit cannot tell what the rule asks, every replica counts.
func (r *run) replicaOf(i int32, fp string) (counted, stale bool) {
	want := ""
	if r.dsPartial[r.recs[i].ds] {
		d := r.decided[i]
		switch {
		case d.Undecided != "":
			return true, false
		case d.Profile != nil:
			want = d.Profile.Fingerprint
			return fp == want, fp != want
		}
	}
	return true, fp != want
}

// wanted reports whether a dataSource is audited.
func (r *run) wanted(ds string) bool {
	return len(r.opts.DataSources) == 0 || slices.Contains(r.opts.DataSources, ds)
}

func (r *run) tierOf(name string) int {
	if i, ok := r.tierIndex[name]; ok {
		return i
	}
	i := len(r.tiers)
	r.tiers = append(r.tiers, name)
	r.tierIndex[name] = i
	return i
}

// readServer reads one server's segments: its HTTP inventory, else its batch znodes.
func (r *run) readServer(ctx context.Context, client *inventoryClient, reader *announcer.ClusterReader, s *server) *serverResult {
	res := &serverResult{source: SourceHTTP}
	base, err := serverURL(s.node)
	if err == nil {
		err = client.fetch(ctx, base, func(id segments.SegmentID, size int64, fp string) {
			res.add(r, id, size, fp)
		})
	}
	if err == nil {
		return res
	}
	httpErr := err
	res.held, res.fps, res.fpOf, res.others, res.sizes = nil, nil, nil, nil, nil
	inv, zerr := reader.SegmentInventory(ctx, s.rep.Name)
	switch {
	case zerr == nil && len(inv) == 1 && len(inv[0].Batches) > 0:
		res.source, res.err = SourceZooKeeper, "HTTP inventory: "+httpErr.Error()
		for _, seg := range inv[0].Segments() {
			res.add(r, seg.ID(), seg.Size, "")
		}
	case zerr != nil:
		res.source, res.err = SourceUnreachable, "HTTP inventory: "+httpErr.Error()+"; batch znodes: "+zerr.Error()
	default:
		// No batch znode: the server skips ZooKeeper announcements, or serves nothing. Either way its segments are
		// not known, so it is not taken to serve none.
		res.source, res.err = SourceUnreachable, "HTTP inventory: "+httpErr.Error()+"; no batch znodes in ZooKeeper"
	}
	return res
}

// listDeepStorage lists the storage prefix (or the filtered dataSources' prefixes), marking the used records whose
// object is there and reporting the objects no row references.
func (r *run) listDeepStorage(ctx context.Context, p *deepstorage.Puller) error {
	var n int64
	t := &r.report.Totals
	for _, scope := range r.scopes {
		err := p.ListBucket(ctx, r.store, scope, func(o deepstorage.Object) error {
			if n++; n%10000 == 0 {
				r.progress("deep storage", n, 0)
			}
			t.DeepStorageObjects++
			t.DeepStorageBytes += o.Size
			dir := deepstorage.KeyDir(o.Key)
			if h := r.hashString(r.bucket, o.Key); r.has(r.usedKeys, h) {
				r.found[h] = struct{}{}
			}
			hd := r.hashString(r.bucket, dir)
			if r.has(r.usedKeys, hd) { // an unzipped segment's prefix
				r.found[hd] = struct{}{}
			}
			if r.has(r.refDirs, hd) {
				return nil
			}
			if r.grace > 0 && !o.LastModified.IsZero() && r.start.Sub(o.LastModified) < r.grace {
				t.RecentUnreferencedObjects++
				return nil
			}
			t.OrphanBytes += o.Size
			r.addOrphan(o)
			return nil
		})
		if err != nil {
			return fmt.Errorf("deep storage: %w", err)
		}
	}
	r.progress("deep storage", n, n)
	for i := range r.recs {
		rec := &r.recs[i]
		if rec.flags&flagInScope != 0 && r.has(r.found, r.objects[i].keyHash) {
			rec.flags |= flagFound
		}
	}
	return nil
}

func (r *run) has(m map[uint64]struct{}, h uint64) bool {
	_, ok := m[h]
	return ok
}

// addOrphan reports an object nobody references, naming the dataSource and interval its key names when it has
// Druid's pusher's form <prefix><dataSource>/<start>_<end>/….
func (r *run) addOrphan(o deepstorage.Object) {
	f := Finding{Kind: KindOrphanInDeepStorage, Object: r.bucket + o.Key, Bytes: o.Size}
	var start segments.Instant
	rest := strings.TrimPrefix(o.Key, r.prefix)
	if parts := strings.SplitN(rest, "/", 3); len(parts) == 3 {
		f.DataSource = parts[0]
		if iv, ok := nestedInterval(parts[1]); ok {
			f.Interval, start = iv.String(), iv.Start
		}
	}
	f.Detail = "no segment row, used or unused, references this object or its directory"
	r.add(f, start, nil)
}

// add hands a finding to the collector; fill, when set, completes it (its servers) only if it is kept.
func (r *run) add(f Finding, start segments.Instant, fill func(*Finding)) {
	f.Severity = f.Kind.Severity()
	// Details repeat (one rule, one tier), and up to 100,000 findings are kept: they share one copy.
	if d, ok := r.details[f.Detail]; ok {
		f.Detail = d
	} else if len(r.details) < 10000 {
		r.details[f.Detail] = f.Detail
	}
	r.findings.add(f, start, fill)
}

// serversOf returns the names of the reachable servers serving record i, optionally only those of one tier that
// are replication targets.
func (r *run) serversOf(i int32, tier int) []string {
	return r.serversWhere(i, func(s *server) bool { return tier < 0 || (s.replicas && s.tier == tier) })
}

// serversWhere returns the names of the reachable servers serving record i that keep accepts, sorted.
func (r *run) serversWhere(i int32, keep func(*server) bool) []string {
	var out []string
	for _, s := range r.servers {
		if !s.reachable || !keep(s) {
			continue
		}
		if _, ok := slices.BinarySearch(s.recs, i); ok {
			out = append(out, s.rep.Name)
		}
	}
	return out
}

// finish sorts what is left and fills the totals.
func (r *run) finish(now func() time.Time) {
	rep := r.report
	rep.Findings, rep.FindingsOmitted = r.findings.sorted()
	t := &rep.Totals
	t.Findings = r.findings.total
	t.FindingsByKind = r.findings.byKind
	t.UnusedSegments = r.unusedN
	rep.Servers = make([]ServerReport, len(r.servers))
	for i, s := range r.servers {
		rep.Servers[i] = s.rep
		if !s.reachable {
			t.UnreachableServers++
		}
	}
	t.Servers = len(r.servers)
	for _, d := range rep.DataSources {
		t.DataSources++
		t.UsedSegments += d.UsedSegments
		t.UsedBytes += d.UsedBytes
		t.OvershadowedSegments += d.OvershadowedSegments
		t.ExpectedSegments += d.ExpectedSegments
		t.AvailableSegments += d.AvailableSegments
		t.UnavailableSegments += d.UnavailableSegments
		t.UnverifiedSegments += d.UnverifiedSegments
		t.LoadingSegments += d.LoadingSegments
		t.UnderReplicated += d.UnderReplicatedSegments
		t.OverReplicated += d.OverReplicatedSegments
		t.TaskServedSegments += d.TaskServedSegments
		t.StaleReplicaSegments += d.StaleReplicaSegments
		t.PartialLoadSegments += d.PartialLoadSegments
		t.UndecidedSegments += d.UndecidedSegments
	}
	if r.badRows > 0 {
		t.UnreadableSegmentRows = r.badRows
	}
	rep.Warnings = r.warnings
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	rep.DurationSeconds = now().Sub(r.start).Seconds()
}
