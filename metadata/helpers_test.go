package metadata

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// loadConfig builds a Config for the test database plus extra --set values.
func loadConfig(t testing.TB, pg testenv.PG, sets ...string) *configs.Config {
	t.Helper()
	all := []string{
		"druid.metadata.storage.type=postgresql",
		"druid.metadata.storage.connector.connectURI=" + pg.JDBCURI,
		"druid.metadata.storage.connector.user=" + pg.User,
	}
	if pg.Password != "" {
		all = append(all, "druid.metadata.storage.connector.password="+pg.Password)
	}
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: append(all, sets...), NumCPU: 2})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fixture is a test database with Druid's tables in one variant, a Store on it and a seeding connection.
type fixture struct {
	pg     testenv.PG
	cfg    *configs.Config
	conn   *pgx.Conn
	store  *Store
	tables configs.MetadataTables
}

func newFixture(t testing.TB, v Variant, sets ...string) *fixture {
	t.Helper()
	ctx := testCtx(t)
	pg := testenv.Postgres(t)
	f := &fixture{pg: pg, cfg: loadConfig(t, pg, sets...), conn: pg.Conn(t)}
	f.tables = f.cfg.Metadata.Tables
	if err := CreateTables(ctx, f.conn, f.tables, v); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	f.store = st
	return f
}

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "payloads", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return b
}

func parseSegment(t testing.TB, payload []byte) *segments.DataSegment {
	t.Helper()
	s := new(segments.DataSegment)
	if err := s.UnmarshalJSON(payload); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustInterval(t testing.TB, s string) segments.Interval {
	t.Helper()
	iv, err := segments.ParseInterval(s)
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

func mustInstant(t testing.TB, s string) segments.Instant {
	t.Helper()
	i, err := segments.ParseInstant(s)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// numbered builds a numbered segment of dataSource "ds".
func numbered(t testing.TB, interval, version string, partitionNum, partitions int) *segments.DataSegment {
	t.Helper()
	return &segments.DataSegment{
		DataSource: "ds", Interval: mustInterval(t, interval), Version: version,
		LoadSpec:  []byte(`{"type":"local","path":"/tmp/` + strconv.Itoa(partitionNum) + `"}`),
		ShardSpec: segments.NumberedShardSpec(partitionNum, partitions), Size: 100,
	}
}
