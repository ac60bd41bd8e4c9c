package metadata

import (
	"context"
	"database/sql"
	"fmt"
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
	cfg    *configs.Config
	store  *Store
	tables configs.MetadataTables
	db     testDB // the seeding side, on either database

	// PostgreSQL's, set by newFixture only.
	pg   testenv.PG
	conn *pgx.Conn
}

// stores are the metadata stores every store test runs against.
var stores = []string{"postgresql", "mysql"}

// testDB is a test's own connection to the store's database, to seed it and look at it as Druid would.
type testDB interface {
	createTables(ctx context.Context, tables configs.MetadataTables, v Variant) error
	insertSegments(ctx context.Context, tables configs.MetadataTables, recs ...SegmentRecord) error
	insertRules(ctx context.Context, tables configs.MetadataTables, dataSource string, version time.Time, payload []byte) error
	bulkLoad(ctx context.Context, tables configs.MetadataTables, n int, record func(int) (SegmentRecord, error)) (int64, error)
	// exec runs a statement written with ? placeholders.
	exec(ctx context.Context, q string, args ...any) error
	// queryRow runs a query written with ? placeholders and scans its one row.
	queryRow(ctx context.Context, q string, args []any, dest ...any) error
	// killOthers ends every other connection to the test's database (the Store's).
	killOthers(t testing.TB)
}

type pgTestDB struct {
	pg   testenv.PG
	conn *pgx.Conn
}

func (d pgTestDB) createTables(ctx context.Context, tables configs.MetadataTables, v Variant) error {
	return CreateTables(ctx, d.conn, tables, v)
}
func (d pgTestDB) insertSegments(ctx context.Context, tables configs.MetadataTables, recs ...SegmentRecord) error {
	return InsertSegment(ctx, d.conn, tables, recs...)
}
func (d pgTestDB) insertRules(ctx context.Context, tables configs.MetadataTables, ds string, v time.Time, p []byte) error {
	return InsertRules(ctx, d.conn, tables, ds, v, p)
}
func (d pgTestDB) bulkLoad(ctx context.Context, tables configs.MetadataTables, n int, rec func(int) (SegmentRecord, error)) (int64, error) {
	return CopySegments(ctx, d.conn, tables, n, rec)
}
func (d pgTestDB) exec(ctx context.Context, q string, args ...any) error {
	_, err := d.conn.Exec(ctx, dollars(q), args...)
	return err
}
func (d pgTestDB) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return d.conn.QueryRow(ctx, dollars(q), args...).Scan(dest...)
}
func (d pgTestDB) killOthers(t testing.TB) {
	err := d.exec(testCtx(t), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()", d.pg.Database)
	if err != nil {
		t.Fatal(err)
	}
}

// dollars turns ? placeholders into PostgreSQL's $n.
func dollars(q string) string {
	out, n := []byte{}, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, fmt.Sprintf("$%d", n)...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

type myTestDB struct {
	my testenv.MySQL
	db *sql.DB
}

func (d myTestDB) createTables(ctx context.Context, tables configs.MetadataTables, v Variant) error {
	return CreateMySQLTables(ctx, d.db, tables, v)
}
func (d myTestDB) insertSegments(ctx context.Context, tables configs.MetadataTables, recs ...SegmentRecord) error {
	return InsertMySQLSegments(ctx, d.db, tables, recs...)
}
func (d myTestDB) insertRules(ctx context.Context, tables configs.MetadataTables, ds string, v time.Time, p []byte) error {
	return InsertMySQLRules(ctx, d.db, tables, ds, v, p)
}
func (d myTestDB) bulkLoad(ctx context.Context, tables configs.MetadataTables, n int, rec func(int) (SegmentRecord, error)) (int64, error) {
	return LoadMySQLSegments(ctx, d.db, tables, n, rec)
}
func (d myTestDB) exec(ctx context.Context, q string, args ...any) error {
	_, err := d.db.ExecContext(ctx, q, args...)
	return err
}
func (d myTestDB) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return d.db.QueryRowContext(ctx, q, args...).Scan(dest...)
}
func (d myTestDB) killOthers(t testing.TB) { d.my.KillConnections(t) }

// loadStoreConfig builds a Config for a fresh test database of the store kind, plus extra --set values.
func loadStoreConfig(t testing.TB, kind string, sets ...string) (*configs.Config, testDB) {
	t.Helper()
	if kind == "postgresql" {
		pg := testenv.Postgres(t)
		return loadConfig(t, pg, sets...), pgTestDB{pg, pg.Conn(t)}
	}
	my := testenv.MariaDB(t)
	all := append([]string{
		"druid.metadata.storage.type=mysql",
		"druid.metadata.storage.connector.connectURI=" + my.JDBCURI,
		"druid.metadata.storage.connector.user=" + my.User,
		"druid.metadata.storage.connector.password=" + my.Password,
	}, sets...)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: all, NumCPU: 2})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, myTestDB{my, my.DB(t)}
}

// newFixture is a PostgreSQL fixture (its pg and conn set).
func newFixture(t testing.TB, v Variant, sets ...string) *fixture {
	t.Helper()
	f := newStoreFixture(t, "postgresql", v, sets...)
	pdb := f.db.(pgTestDB)
	f.pg, f.conn = pdb.pg, pdb.conn
	return f
}

// newStoreFixture is a fixture on the store kind, "postgresql" or "mysql".
func newStoreFixture(t testing.TB, kind string, v Variant, sets ...string) *fixture {
	t.Helper()
	ctx := testCtx(t)
	f := &fixture{}
	f.cfg, f.db = loadStoreConfig(t, kind, sets...)
	f.tables = f.cfg.Metadata.Tables
	if err := f.db.createTables(ctx, f.tables, v); err != nil {
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

// forEachStore runs the test on each store.
func forEachStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
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
