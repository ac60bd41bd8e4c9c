package druidpeer_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/agent"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// metadataFixture is a fresh database with Druid's tables, a seeding connection and a Store on it.
type metadataFixture struct {
	pg    testenv.PG
	conn  *pgx.Conn
	store *metadata.Store
	sets  []string
}

func newMetadataFixture(t *testing.T) *metadataFixture {
	t.Helper()
	pg := testenv.Postgres(t)
	f := &metadataFixture{pg: pg, conn: pg.Conn(t), sets: []string{
		"druid.metadata.storage.type=postgresql",
		"druid.metadata.storage.connector.connectURI=" + pg.JDBCURI,
		"druid.metadata.storage.connector.user=" + pg.User,
	}}
	if pg.Password != "" {
		f.sets = append(f.sets, "druid.metadata.storage.connector.password="+pg.Password)
	}
	cfg := loadTestConfig(t, f.sets...)
	if err := metadata.CreateTables(testCtx(t), f.conn, cfg.Metadata.Tables, metadata.VariantCurrent); err != nil {
		t.Fatal(err)
	}
	st, err := metadata.Open(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	f.store = st
	return f
}

func (f *metadataFixture) seed(t *testing.T, segs []*segments.DataSegment, rules ...sandbox.Rules) {
	t.Helper()
	tables := loadTestConfig(t, f.sets...).Metadata.Tables
	if err := sandbox.SeedMetadata(testCtx(t), f.conn, tables, segs, rules...); err != nil {
		t.Fatal(err)
	}
}

func loadTestConfig(t *testing.T, sets ...string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets, NumCPU: 2})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func rules(ds, payload string) sandbox.Rules {
	return sandbox.Rules{DataSource: ds, Version: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Payload: []byte(payload)}
}

// daySegment is sandbox.Segment at version, in local deep storage at loadPath.
func daySegment(ds string, day, p, n int, version, loadPath string) *segments.DataSegment {
	s := sandbox.Segment(ds, day, p, n, "", "", 100)
	s.Version = version
	s.LoadSpec, _ = json.Marshal(map[string]string{"type": "local", "path": loadPath})
	return s
}

func TestSandboxCoordinatorPlan(t *testing.T) {
	f := newMetadataFixture(t)
	old := daySegment("a", 0, 0, 1, "2025-01-01T00:00:00.000Z", "/x")
	newer := daySegment("a", 0, 0, 1, "2025-02-01T00:00:00.000Z", "/x")
	a1 := daySegment("a", 1, 0, 2, "2025-01-01T00:00:00.000Z", "/x")
	a1b := daySegment("a", 1, 1, 2, "2025-01-01T00:00:00.000Z", "/x")
	dropped := daySegment("b", 0, 0, 1, "2025-01-01T00:00:00.000Z", "/x")
	hot := daySegment("c", 0, 0, 1, "2025-01-01T00:00:00.000Z", "/x")
	broadcast := daySegment("d", 5, 0, 1, "2025-01-01T00:00:00.000Z", "/x")
	tomb := sandbox.Tombstone("a", 3)
	f.seed(t, []*segments.DataSegment{old, newer, a1, a1b, dropped, hot, broadcast, tomb},
		sandbox.OneReplicaDefaultRules(),
		rules("b", `[{"type":"dropForever"}]`),
		rules("c", `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`),
		rules("d", `[{"type":"broadcastForever"}]`))

	c := &druidpeer.SandboxCoordinator{Store: f.store}
	plan, err := c.Plan(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Used != 8 {
		t.Errorf("Used = %d, want 8", plan.Used)
	}
	// The most recent interval first: d day 5, the tombstone (day 3), a day 1 (both partitions), a day 0.
	var got []string
	for _, s := range plan.Wanted {
		got = append(got, s.ID().String())
	}
	want := []string{broadcast.ID().String(), tomb.ID().String(), a1.ID().String(), a1b.ID().String(), newer.ID().String()}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Wanted =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for id, reason := range map[segments.SegmentID]string{
		old.ID():     "overshadowed",
		dropped.ID(): "rule 0 of b drops it",
		hot.ID():     "rule 0 of c puts no replica in tier _default_tier",
	} {
		if plan.Skipped[id] != reason {
			t.Errorf("Skipped[%s] = %q, want %q", id, plan.Skipped[id], reason)
		}
	}
	if len(plan.Skipped) != 3 {
		t.Errorf("Skipped = %v, want 3 entries", plan.Skipped)
	}

	// In tier hot, only c and the broadcast segment belong on the server.
	c.Tier = "hot"
	if plan, err = c.Plan(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(plan.Wanted) != 2 || plan.Wanted[0].ID() != broadcast.ID() || plan.Wanted[1].ID() != hot.ID() {
		t.Errorf("in tier hot, Wanted = %v", plan.Wanted)
	}
}

// TestSandboxCoordinatorRun drives a real data server (the agent, with local deep storage) through loads, drops
// and a failed load, and checks what the Broker's view shows after each.
func TestSandboxCoordinatorRun(t *testing.T) {
	f := newMetadataFixture(t)
	zk := testenv.ZooKeeper(t)
	deep := t.TempDir()
	var segs []*segments.DataSegment
	for day := range 3 {
		data, size, err := sandbox.IndexZip(uint64(day), 8<<10)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(deep, strconv.Itoa(day), "index.zip")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s := daySegment("w", day, 0, 1, sandbox.Version, path)
		s.Size = size
		segs = append(segs, s)
	}
	segs = append(segs, sandbox.Tombstone("w", 3))
	f.seed(t, segs, sandbox.OneReplicaDefaultRules())

	port := freePort(t)
	cfg := loadTestConfig(t,
		"druid.host=127.0.0.1", "druid.plaintextPort="+strconv.Itoa(port), "druid.bindOnHost=true",
		"druid.zk.service.host="+zk.ConnectString, "druid.zk.service.sessionTimeoutMs=4000",
		`druid.segmentCache.locations=[{"path":"`+t.TempDir()+`","maxSize":"1g"}]`,
		"druid.segmentCache.numLoadingThreads=2", "druid.storage.type=local")
	a, err := agent.New(cfg, agent.Options{ShutdownTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("the agent stopped during startup: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not start within 20 s")
	}

	coord := func() *druidpeer.SandboxCoordinator {
		return &druidpeer.SandboxCoordinator{Store: f.store, ServerURL: "http://127.0.0.1:" + strconv.Itoa(port),
			RepeatDelay: 200 * time.Millisecond, ServerTimeout: 5 * time.Second}
	}
	var reports int
	c := coord()
	c.Progress = func(druidpeer.SandboxProgress) { reports++ }
	res, err := c.Run(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Progress; !p.Done || p.Loads != 4 || p.Loaded != 4 || p.AlreadyServed != 0 || p.Visible != 4 || p.Drops != 0 {
		t.Fatalf("first run: %+v", p)
	}
	if res.BatchSize != 2 {
		t.Errorf("BatchSize = %d, want numLoadingThreads 2 from loadCapabilities", res.BatchSize)
	}
	for _, s := range segs {
		if res.Broker[s.ID()] == nil {
			t.Errorf("%s is not in the Broker's view", s.ID())
		}
	}
	if reports == 0 {
		t.Error("Progress was never called")
	}

	// A segment marked unused is dropped; the others are served already and not sent again.
	if _, err := f.conn.Exec(testCtx(t), "UPDATE druid_segments SET used = false WHERE id = $1", segs[0].ID().String()); err != nil {
		t.Fatal(err)
	}
	if res, err = coord().Run(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if p := res.Progress; !p.Done || p.Loads != 0 || p.AlreadyServed != 3 || p.Drops != 1 || p.Dropped != 1 || p.Visible != 3 || p.Unwanted != 0 {
		t.Fatalf("after marking %s unused: %+v", segs[0].ID(), p)
	}
	if res.Broker[segs[0].ID()] != nil {
		t.Errorf("%s is still in the Broker's view after its drop", segs[0].ID())
	}

	// A load that fails ends Run with the segment and the server's cause.
	missing := daySegment("w", 9, 0, 1, sandbox.Version, filepath.Join(deep, "missing", "index.zip"))
	if err := metadata.InsertSegment(testCtx(t), f.conn, loadTestConfig(t, f.sets...).Metadata.Tables,
		metadata.SegmentRecord{Segment: missing, Used: true}); err != nil {
		t.Fatal(err)
	}
	res, err = coord().Run(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "load "+missing.ID().String()) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Run with a segment missing from deep storage: %v, want its failure", err)
	}
	if len(res.Progress.Failed) != 1 {
		t.Errorf("Failed = %v, want one entry", res.Progress.Failed)
	}
}

func TestSandboxLoadCapabilitiesFallback(t *testing.T) {
	// A data server older than Druid 33 has no such endpoint.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	loading, turbo, found, err := druidpeer.SandboxLoadCapabilities(testCtx(t), nil, srv.URL)
	if err != nil || found || loading != 1 || turbo != 1 {
		t.Fatalf("a server without loadCapabilities: %d, %d, %v, %v; want batches of 1 as the Coordinator falls back", loading, turbo, found, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
