package metadata

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Store is a connection to Druid's metadata store. It holds one PostgreSQL connection, opened again when it breaks,
// and runs one operation at a time: a call waits (or gives up with its context) while another one runs. The callback
// of StreamSegments must therefore not call the Store.
type Store struct {
	pgcfg    *pgx.ConnConfig
	tables   configs.MetadataTables
	where    string // "PostgreSQL at host:port, database db", for error messages
	password string // to keep it out of error messages
	notes    []string

	sem  chan struct{} // a one-slot semaphore: the holder owns conn
	conn *pgx.Conn

	colsMu sync.Mutex
	cols   *segmentColumns // detected once, on the first read of the segments table
}

// Notes are the remarks PgxConfig made about the JDBC URI (parameters pgx has no equivalent for).
func (s *Store) Notes() []string { return s.notes }

// Open connects to the metadata store that cfg.Metadata describes. Only druid.metadata.storage.type=postgresql is
// supported; the JDBC URI and credentials are translated by configs.MetadataConfig.PgxConfig.
func Open(ctx context.Context, cfg *configs.Config) (*Store, error) {
	m := cfg.Metadata
	// PgxConfig refuses every type but postgresql with a configs.Problem naming druid.metadata.storage.type.
	pgcfg, notes, err := m.PgxConfig()
	if err != nil {
		return nil, fmt.Errorf("metadata store: %w", err)
	}
	s := &Store{
		pgcfg:    pgcfg,
		tables:   m.Tables,
		where:    describe(pgcfg),
		password: pgcfg.Password,
		sem:      make(chan struct{}, 1),
		notes:    notes,
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	s.release()
	return s, nil
}

// describe names the server and database the way operators know them: host:port (every host of a multi-host URI)
// and the database name.
func describe(c *pgx.ConnConfig) string {
	hosts := []string{net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))}
	for _, fb := range c.Fallbacks {
		hp := net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port)))
		if hp != hosts[len(hosts)-1] {
			hosts = append(hosts, hp)
		}
	}
	return fmt.Sprintf("PostgreSQL at %s, database %s", strings.Join(hosts, ","), c.Database)
}

// Close closes the connection.
func (s *Store) Close(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer s.release()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(ctx)
	s.conn = nil
	return s.wrap("closing the connection", err)
}

// acquire takes the connection for one operation, connecting when there is none or the last one broke.
func (s *Store) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for the connection: %w", s.where, ctx.Err())
	}
	if s.conn != nil && !s.conn.IsClosed() {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.pgcfg)
	if err != nil {
		s.release()
		return s.wrap("connecting", err)
	}
	s.conn = conn
	return nil
}

func (s *Store) release() { <-s.sem }

// wrap makes err a sentence naming the server, the database and what was being done, with the password (should a
// driver ever quote it) blanked out.
func (s *Store) wrap(doing string, err error) error {
	if err == nil {
		return nil
	}
	return &storeError{where: s.where, doing: doing, err: err, password: s.password}
}

type storeError struct {
	where, doing, password string
	err                    error
}

func (e *storeError) Error() string {
	msg := e.err.Error()
	if e.password != "" {
		msg = strings.ReplaceAll(msg, e.password, "<redacted>")
	}
	return e.where + ": " + e.doing + ": " + msg
}

func (e *storeError) Unwrap() error { return e.err }

// errNoTable reports a configured table that is not in the database.
var errNoTable = errors.New("no such table")

// tableColumns returns the columns of a table as PostgreSQL resolves its name in a query: an unquoted name folds to
// lower case and is looked up on the search_path, as in the statements Druid itself runs (to_regclass does exactly
// that, where information_schema would need the folding and the schema redone by hand).
func tableColumns(ctx context.Context, conn *pgx.Conn, table string) (map[string]bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("table %s: %w", table, errNoTable)
	}
	rows, err := conn.Query(ctx, `SELECT attname FROM pg_catalog.pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, table)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	cols := make(map[string]bool, len(names))
	for _, n := range names {
		cols[n] = true
	}
	return cols, nil
}
