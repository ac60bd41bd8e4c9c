// Package audittest builds, on the local services, a Druid cluster state with known defects for the audit's tests:
// Druid's tables and payloads in a fresh PostgreSQL database, data servers announced in a fresh ZooKeeper chroot
// (one serving its inventory over HTTP, one only in batch znodes, one unreachable), and segment objects in a fresh
// S3 bucket.
//
// It is test support: import it from _test.go files only.
package audittest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf/tlsconftest"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// BaseKey is druid.storage.baseKey of the cluster.
const BaseKey = "druid/segments"

// The servers' addresses: loopback addresses of their own, so that their names differ.
const (
	HostHTTP        = "127.0.0.71" // hot tier, inventory over HTTP
	HostZooKeeper   = "127.0.0.72" // hot tier, batch znodes only (nothing listens on its port)
	HostUnreachable = "127.0.0.73" // cold tier, neither (it skips ZooKeeper segment announcements)
)

// Cluster is the built cluster state.
type Cluster struct {
	ZK     testenv.ZK
	PG     testenv.PG
	S3     testenv.S3Bucket
	Config *configs.Config
	// Sets are the --set arguments of Config, for the command line.
	Sets []string
	// Servers are the announced servers' names (host:port), by host constant.
	Servers map[string]string
	// Planted maps each planted finding to what identifies it: a segment id, or for orphans the object.
	Planted []Planted
	// Unverified are the segments only an unreachable server could hold.
	Unverified []string
}

// Planted is one defect the cluster has on purpose.
type Planted struct {
	Kind       string
	DataSource string
	SegmentID  string // "" for an orphan
	Object     string // for missing and orphan findings
	Tier       string
	Expected   int
	Actual     int
	Servers    []string
}

// Options choose what is built.
type Options struct {
	// Healthy builds a cluster without defects: two hot servers, the segments on both, every object in place.
	Healthy bool
	// Druid38 adds, to the cluster with defects, what a 2026 Coordinator decides by (see addDruid38): a partial-load
	// rule and a server announcing fingerprints, a tier alias over two tiers, a clone Historical and an ingestion
	// task, read from the Coordinator's dynamic configuration in the config table.
	Druid38 bool
	// TLS makes HostHTTP a TLS-only server (druid.enableTlsPort, druid.enablePlaintextPort=false) whose certificate
	// a test CA signed, and Config trusts that CA through druid.client.https.*.
	TLS bool
}

// The hosts Druid38 adds.
const (
	HostPartial = "127.0.0.76" // hot tier, announces the metrics segments with fingerprints
	HostWarmA   = "127.0.0.77" // warm-a tier, one of the alias warm's
	HostWarmB   = "127.0.0.78" // warm-b tier
	HostClone   = "127.0.0.79" // hot tier, a clone of HostHTTP
	HostTask    = "127.0.0.80" // an ingestion task (PEON, indexer-executor)
)

// FingerprintDailyAB is the fingerprint of Druid's globProjection matcher for the projections daily_a and daily_b.
const FingerprintDailyAB = "v1:5b6d4fb937eecf7f"

var oldVersion = "2025-10-01T12:00:00.000Z"

// New builds the cluster; everything is removed when the test ends.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{ZK: testenv.ZooKeeper(t), PG: testenv.Postgres(t), S3: testenv.S3(t), Servers: map[string]string{}}
	c.Sets = []string{
		"druid.zk.service.host=" + c.ZK.ConnectString,
		"druid.zk.service.sessionTimeoutMs=4000",
		"druid.zk.service.connectionTimeoutMs=5000",
		"druid.metadata.storage.type=postgresql",
		"druid.metadata.storage.connector.connectURI=" + c.PG.JDBCURI,
		"druid.metadata.storage.connector.user=" + c.PG.User,
		"druid.storage.type=s3",
		"druid.storage.bucket=" + c.S3.Bucket,
		"druid.storage.baseKey=" + BaseKey,
		"druid.s3.endpoint.url=" + c.S3.Endpoint,
		"druid.s3.endpoint.signingRegion=" + c.S3.Region,
		"druid.s3.enablePathStyleAccess=true",
		"druid.s3.accessKey=" + c.S3.AccessKey,
		"druid.s3.secretKey=" + c.S3.SecretKey,
	}
	if c.PG.Password != "" {
		c.Sets = append(c.Sets, "druid.metadata.storage.connector.password="+c.PG.Password)
	}
	var pki tlsconftest.GoPKI
	if opts.TLS {
		pki = tlsconftest.NewGoPKI(t, t.TempDir(), "trustpass", HostHTTP)
		c.Sets = append(c.Sets, "druid.client.https.trustStorePath="+pki.TrustStore, "druid.client.https.trustStorePassword=trustpass")
	}
	c.Config = load(t, c.Sets)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := c.PG.Conn(t)
	tables := c.Config.Metadata.Tables
	if err := metadata.CreateTables(ctx, conn, tables, metadata.VariantCurrent); err != nil {
		t.Fatal(err)
	}
	rules := func(ds, payload string) {
		t.Helper()
		if err := metadata.InsertRules(ctx, conn, tables, ds, time.Now().Add(-time.Hour), []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	rules("_default", `[{"tieredReplicants":{"hot":2},"type":"loadForever"}]`)

	// The segments; each is announced by the servers listed, inserted (used unless said otherwise) and stored.
	type plan struct {
		seg     *segments.DataSegment
		servers []string // hosts
		row     string   // "used", "unused", "none"
		object  bool
	}
	seg := func(ds string, day int) *segments.DataSegment {
		return sandbox.Segment(ds, day, 0, 1, c.S3.Bucket, BaseKey, 0)
	}
	newer := func(s *segments.DataSegment, version string) *segments.DataSegment {
		n := *s
		n.Version = version
		n.LoadSpec = json.RawMessage(fmt.Sprintf(`{"type":"s3_zip","bucket":%q,"key":%q,"S3Schema":"s3n"}`,
			c.S3.Bucket, sandbox.Key(BaseKey, n.ID())))
		return &n
	}
	hot := []string{HostHTTP, HostZooKeeper}
	var plans []plan
	if opts.Healthy {
		plans = []plan{
			{seg("wiki", 0), hot, "used", true},
			{seg("wiki", 1), hot, "used", true},
			{tombstone("wiki", 2), hot, "used", false},
		}
	} else {
		rules("events", `[{"tieredReplicants":{"hot":1},"type":"loadForever"}]`)
		rules("logs", `[{"tieredReplicants":{"cold":1},"type":"loadForever"}]`)
		w7old := seg("wiki", 7)
		plans = []plan{
			{seg("wiki", 0), hot, "used", true},                      // healthy
			{seg("wiki", 1), nil, "used", true},                      // unavailable
			{seg("wiki", 2), []string{HostHTTP}, "used", true},       // under_replicated (hot 1 of 2)
			{seg("wiki", 4), hot, "used", false},                     // missing_in_deep_storage
			{seg("wiki", 5), []string{HostHTTP}, "unused", true},     // unused_served
			{seg("wiki", 6), []string{HostZooKeeper}, "none", false}, // unknown_served
			{w7old, []string{HostHTTP}, "used", true},                // overshadowed_served
			{newer(w7old, "2025-11-01T00:00:00.000Z"), hot, "used", true},
			{tombstone("wiki", 9), hot, "used", false}, // healthy tombstone: no object expected
			{seg("events", 0), hot, "used", true},      // over_replicated (hot 2 of 1)
			{seg("logs", 0), nil, "used", true},        // only the unreachable cold server could hold it
		}
	}

	// Rows and objects.
	created := time.Now().Add(-time.Hour)
	var recs []metadata.SegmentRecord
	for i, p := range plans {
		if p.object {
			zip, size, err := sandbox.IndexZip(uint64(i+1), 1000)
			if err != nil {
				t.Fatal(err)
			}
			p.seg.Size = size
			c.S3.Put(t, sandbox.Key(BaseKey, p.seg.ID()), zip)
		}
		if p.row != "none" {
			recs = append(recs, metadata.SegmentRecord{Segment: p.seg, Used: p.row == "used", CreatedDate: created})
		}
	}
	if err := metadata.InsertSegment(ctx, conn, tables, recs...); err != nil {
		t.Fatal(err)
	}
	var orphanKey string
	if !opts.Healthy {
		orphan := seg("wiki", 20)
		orphanKey = sandbox.Key(BaseKey, orphan.ID())
		c.S3.Put(t, orphanKey, []byte("not referenced"))
	}

	// Servers.
	announce := func(host, tier string, http bool, sets ...string) string {
		t.Helper()
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		inv := inventory.New()
		if http {
			mux := newMux(inv)
			srv := httptest.NewUnstartedServer(mux)
			srv.Listener.Close()
			srv.Listener = l
			if opts.TLS && host == HostHTTP {
				srv.TLS = serverTLS(t, pki)
				srv.StartTLS()
				sets = append(sets, "druid.enableTlsPort=true", "druid.tlsPort="+strconv.Itoa(port), "druid.enablePlaintextPort=false")
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
		} else {
			l.Close() // nothing answers on the port
		}
		cfg := load(t, append(append([]string{"druid.host=" + host, "druid.plaintextPort=" + strconv.Itoa(port),
			"druid.server.tier=" + tier, "druid.server.maxSize=10000000000"}, c.Sets...), sets...))
		a, err := announcer.New(cfg, announcer.WithInventory(inv))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Stop(ctx)
		})
		var mine []*segments.DataSegment
		for _, p := range plans {
			for _, h := range p.servers {
				if h == host {
					mine = append(mine, p.seg)
				}
			}
		}
		if len(mine) > 0 {
			if err := a.AnnounceSegments(ctx, mine...); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.AnnounceNode(ctx); err != nil {
			t.Fatal(err)
		}
		name := net.JoinHostPort(host, strconv.Itoa(port))
		c.Servers[host] = name
		return name
	}
	a := announce(HostHTTP, "hot", true)
	b := announce(HostZooKeeper, "hot", false)
	if opts.Healthy {
		return c
	}
	announce(HostUnreachable, "cold", false, "druid.announcer.skipSegmentAnnouncementOnZk=true")
	if opts.Druid38 {
		defer c.addDruid38(t, ctx, plans[2].seg)
	}

	id := func(i int) string { return plans[i].seg.ID().String() }
	obj := func(key string) string { return "s3://" + c.S3.Bucket + "/" + key }
	c.Planted = []Planted{
		{Kind: "unavailable", DataSource: "wiki", SegmentID: id(1), Expected: 2, Servers: []string{}},
		{Kind: "under_replicated", DataSource: "wiki", SegmentID: id(2), Tier: "hot", Expected: 2, Actual: 1, Servers: []string{a}},
		{Kind: "missing_in_deep_storage", DataSource: "wiki", SegmentID: id(3), Object: obj(sandbox.Key(BaseKey, plans[3].seg.ID())),
			Actual: 2, Servers: sorted(a, b)},
		{Kind: "unused_served", DataSource: "wiki", SegmentID: id(4), Actual: 1, Servers: []string{a}},
		{Kind: "unknown_served", DataSource: "wiki", SegmentID: id(5), Actual: 1, Servers: []string{b}},
		{Kind: "overshadowed_served", DataSource: "wiki", SegmentID: id(6), Actual: 1, Servers: []string{a}},
		{Kind: "over_replicated", DataSource: "events", SegmentID: id(9), Tier: "hot", Expected: 1, Actual: 2, Servers: sorted(a, b)},
		{Kind: "orphan_in_deep_storage", DataSource: "wiki", Object: obj(orphanKey), Servers: []string{}},
	}
	c.Unverified = []string{id(10)}
	return c
}

func sorted(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}

func tombstone(ds string, day int) *segments.DataSegment {
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000)
	s := segments.NewTombstone(ds, segments.Interval{Start: start, End: start + 86400000}, oldVersion)
	return &s
}

func newMux(inv *inventory.Inventory) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(inventory.Path, inv)
	return mux
}

func load(t testing.TB, sets []string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets, NumCPU: 2})
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	return cfg
}

// addDruid38 adds the Druid38 state. Its days are counted back from today, as period rules are evaluated at the
// audit's start:
//   - metrics: the loadPartialByPeriod rule (P30D, hot 1, globProjection daily_*), then dropForever. HostPartial
//     announces one segment with the requested fingerprint (healthy) and one plainly (stale_replica);
//   - traffic: a load rule on the alias warm, which the dynamic configuration maps to warm-a and warm-b, each with a
//     server holding the segment (healthy: no under- or over-replication on the real tiers);
//   - HostClone, a clone of HostHTTP, holds wiki's under-replicated segment, which stays under-replicated (a clone is
//     no replica);
//   - tasks: a segment only the ingestion task HostTask serves (served_only_by_task).
func (c *Cluster) addDruid38(t testing.TB, ctx context.Context, underReplicated *segments.DataSegment) {
	t.Helper()
	today := int(time.Since(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	conn := c.PG.Conn(t)
	tables := c.Config.Metadata.Tables
	rules := func(ds, payload string) {
		t.Helper()
		if err := metadata.InsertRules(ctx, conn, tables, ds, time.Now().Add(-time.Hour), []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	rules("metrics", `[{"type":"loadPartialByPeriod","period":"P30D","tieredReplicants":{"hot":1},"matcher":{"type":"globProjection","patterns":["daily_*"]}},{"type":"dropForever"}]`)
	rules("traffic", `[{"type":"loadForever","tieredReplicants":{"warm":1}}]`)
	rules("tasks", `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`)

	seg := func(ds string, day int, projections ...string) *segments.DataSegment {
		s := sandbox.Segment(ds, day, 0, 1, c.S3.Bucket, BaseKey, 0)
		if projections != nil {
			s.Projections = &projections
		}
		zip, size, err := sandbox.IndexZip(uint64(day), 1000)
		if err != nil {
			t.Fatal(err)
		}
		s.Size = size
		c.S3.Put(t, sandbox.Key(BaseKey, s.ID()), zip)
		return s
	}
	matching := seg("metrics", today-2, "daily_a", "daily_b")
	stale := seg("metrics", today-3, "daily_a", "daily_b")
	traffic := seg("traffic", today-2)
	task := seg("tasks", today-2)
	var recs []metadata.SegmentRecord
	for _, s := range []*segments.DataSegment{matching, stale, traffic, task} {
		recs = append(recs, metadata.SegmentRecord{Segment: s, Used: true, CreatedDate: time.Now().Add(-time.Hour)})
	}
	if err := metadata.InsertSegment(ctx, conn, tables, recs...); err != nil {
		t.Fatal(err)
	}

	partial := c.serveRaw(t, ctx, HostPartial, "HISTORICAL", "historical", "hot", map[*segments.DataSegment]string{matching: FingerprintDailyAB, stale: ""})
	c.serveRaw(t, ctx, HostWarmA, "HISTORICAL", "historical", "warm-a", map[*segments.DataSegment]string{traffic: ""})
	c.serveRaw(t, ctx, HostWarmB, "HISTORICAL", "historical", "warm-b", map[*segments.DataSegment]string{traffic: ""})
	clone := c.serveRaw(t, ctx, HostClone, "HISTORICAL", "historical", "hot", map[*segments.DataSegment]string{underReplicated: ""})
	taskServer := c.serveRaw(t, ctx, HostTask, "PEON", "indexer-executor", "_default_tier", map[*segments.DataSegment]string{task: ""})

	// The Coordinator's dynamic configuration, in the config table as Druid creates it.
	if _, err := conn.Exec(ctx, "CREATE TABLE "+tables.Config()+" (name VARCHAR(255) NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY(name))"); err != nil {
		t.Fatal(err)
	}
	dyn := fmt.Sprintf(`{"historicalTierAliases":{"warm":["warm-a","warm-b"]},"cloneServers":{%q:%q}}`, clone, c.Servers[HostHTTP])
	if _, err := conn.Exec(ctx, "INSERT INTO "+tables.Config()+" (name, payload) VALUES ($1, $2)", metadata.DynamicConfigKey, []byte(dyn)); err != nil {
		t.Fatal(err)
	}
	c.Planted = append(c.Planted,
		Planted{Kind: "stale_replica", DataSource: "metrics", SegmentID: stale.ID().String(), Tier: "hot", Expected: 1, Actual: 0, Servers: []string{partial}},
		Planted{Kind: "served_only_by_task", DataSource: "tasks", SegmentID: task.ID().String(), Expected: 1, Actual: 1, Servers: []string{taskServer}},
	)
}

// serveRaw announces a data server of the role and server type in internal discovery, serving over HTTP an
// inventory of the segments given, each with its announced fingerprint ("" for a plain load), and returns its name.
func (c *Cluster) serveRaw(t testing.TB, ctx context.Context, host, role, serverType, tier string, segs map[*segments.DataSegment]string) string {
	t.Helper()
	var reqs [][]byte
	for s, fp := range segs {
		cr := segments.ChangeRequest{Action: segments.ActionLoad, Segment: s}
		js, err := cr.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if fp != "" {
			js = append(js[:len(js)-1], fmt.Sprintf(`,"fingerprint":%q,"loadedBytes":%d}`, fp, s.Size)...)
		}
		reqs = append(reqs, js)
	}
	body := `{"resetCounter":false,"resetCause":null,"counter":{"counter":1,"hash":1},"requests":[` + string(bytes.Join(reqs, []byte(","))) + `]}`
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(inventory.Path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	port := l.Addr().(*net.TCPAddr).Port
	name := net.JoinHostPort(host, strconv.Itoa(port))
	node := fmt.Sprintf(`{"druidNode":{"service":"druid/%s","host":%q,"bindOnHost":false,"plaintextPort":%d,"port":-1,"tlsPort":-1,`+
		`"enablePlaintextPort":true,"enableTlsPort":false},"nodeType":%q,"services":{"dataNodeService":{"type":"dataNodeService",`+
		`"tier":%q,"maxSize":10000000000,"type":%q,"serverType":%q,"priority":0}},"startTime":"2026-01-01T00:00:00.000Z"}`,
		serverType, host, port, strings.ToLower(role), tier, serverType, serverType)
	conn := c.ZK.Conn(t)
	path := c.ZK.Path(c.Config.ZK.Paths.InternalDiscovery + "/" + role + "/" + name)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for k := 1; k < len(parts); k++ {
		if _, err := conn.Create("/"+strings.Join(parts[:k], "/"), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	if _, err := conn.Create(path, []byte(node), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Servers[host] = name
	return name
}

// serverTLS is the TLS configuration of a server presenting pki's leaf.
func serverTLS(t testing.TB, pki tlsconftest.GoPKI) *tls.Config {
	t.Helper()
	cfg, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: pki.KeyStore, KeyStorePassword: configs.NewSecret("trustpass")})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
