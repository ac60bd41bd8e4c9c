// Package audittest builds, on the local services, a Druid cluster state with known defects for the audit's tests:
// Druid's tables and payloads in a fresh PostgreSQL database, data servers announced in a fresh ZooKeeper chroot
// (one serving its inventory over HTTP, one only in batch znodes, one unreachable), and segment objects in a fresh
// S3 bucket.
//
// It is test support: import it from _test.go files only.
package audittest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
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
}

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
		inv := announcer.NewInventory()
		if http {
			mux := newMux(inv)
			srv := httptest.NewUnstartedServer(mux)
			srv.Listener.Close()
			srv.Listener = l
			srv.Start()
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

func newMux(inv *announcer.Inventory) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(announcer.InventoryPath, inv)
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
