package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Store is a connection to Druid's metadata store, PostgreSQL or MySQL (MariaDB). It holds one connection, opened
// again when it breaks, and runs one operation at a time: a call waits (or gives up with its context) while another
// one runs. The callback of StreamSegments must therefore not call the Store.
type Store struct {
	db       database
	typ      string  // druid.metadata.storage.type: postgresql or mysql
	health   *health // processHealth; tests give a Store its own
	tables   configs.MetadataTables
	where    string // "PostgreSQL at host:port, database db", for error messages
	password string // to keep it out of error messages
	notes    []string

	sem  chan struct{} // a one-slot semaphore: the holder owns conn
	conn conn

	colsMu sync.Mutex
	cols   *segmentColumns // detected once, on the first read of the segments table
}

// database is what differs between the stores before a connection exists.
type database interface {
	// connect opens a connection and proves it works.
	connect(ctx context.Context) (conn, error)
}

// conn is one connection to the store. Statements are written once for both databases: table names unquoted, as
// Druid writes them, and placeholders as PostgreSQL's $1, $2… in the order of args (the MySQL connection turns
// them into ?).
type conn interface {
	Query(ctx context.Context, sql string, args ...any) (rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) row
	// segmentRows runs the segments query, whose columns segmentsQuery lays out.
	segmentRows(ctx context.Context, sql string, args []any, cols *segmentColumns) (segmentRows, error)
	// tableColumns returns the columns of a table (lower case) as the database resolves its name in a query, or an
	// error wrapping errNoTable.
	tableColumns(ctx context.Context, table string) (map[string]bool, error)
	// anyOf is the condition "column is one of values" and its arguments, numbered from $n.
	anyOf(column string, n int, values []string) (string, []any)
	broken() bool
	close(ctx context.Context) error
}

// rows are the rows of Query; Close ends them (reading no more than it must).
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// row is the row of QueryRow. Its Scan reports no row with an error that errors.Is matches to both pgx.ErrNoRows
// and sql.ErrNoRows, whatever the database.
type row interface {
	Scan(dest ...any) error
}

// segmentRows are the rows of the segments query.
type segmentRows interface {
	Next() bool
	// decode fills row from the current row (all but Segment) and returns its payload, valid until Next.
	decode(row *SegmentRow, intern map[string]string) ([]byte, error)
	Err() error
	Close()
}

// Notes are the remarks made about the JDBC URI (parameters the Go driver has no equivalent for).
func (s *Store) Notes() []string { return s.notes }

// Open connects to the metadata store that cfg.Metadata describes: druid.metadata.storage.type postgresql (the
// JDBC URI and credentials translated by configs.MetadataConfig.PgxConfig) or mysql (MySQLConfigs, with
// druid.metadata.mysql.ssl.*). Another type is a configs.Problem naming druid.metadata.storage.type.
func Open(ctx context.Context, cfg *configs.Config) (*Store, error) {
	return open(ctx, cfg, processHealth)
}

func open(ctx context.Context, cfg *configs.Config, h *health) (*Store, error) {
	var (
		db       database
		where    string
		password string
		notes    []string
		err      error
	)
	if cfg.Metadata.Type == "mysql" {
		db, where, password, notes, err = openMySQL(cfg)
	} else {
		// PgxConfig refuses every type but postgresql with a configs.Problem naming druid.metadata.storage.type.
		db, where, password, notes, err = openPostgres(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("metadata store: %w", err)
	}
	s := &Store{
		db:       db,
		typ:      cfg.Metadata.Type,
		health:   h,
		tables:   cfg.Metadata.Tables,
		where:    where,
		password: password,
		sem:      make(chan struct{}, 1),
		notes:    notes,
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	s.release()
	return s, nil
}

// Describe names the metadata store cfg points at as operators know it, without credentials: "PostgreSQL at
// host:port, database druid", "MySQL at host:port,host:port, database druid", or the type and why it cannot be read.
func Describe(cfg *configs.Config) string {
	var where string
	var err error
	if cfg.Metadata.Type == "mysql" {
		_, where, _, _, err = openMySQL(cfg)
	} else {
		_, where, _, _, err = openPostgres(cfg)
	}
	if err != nil {
		return cfg.Metadata.Type + " (" + err.Error() + ")"
	}
	return where
}

// describeHosts joins host:port names, each once, for error messages.
func describeHosts(kind string, hosts []string, db string) string {
	var uniq []string
	for _, h := range hosts {
		if len(uniq) == 0 || uniq[len(uniq)-1] != h {
			uniq = append(uniq, h)
		}
	}
	return fmt.Sprintf("%s at %s, database %s", kind, strings.Join(uniq, ","), db)
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
	err := s.conn.close(ctx)
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
	if s.conn != nil && !s.conn.broken() {
		return nil
	}
	if s.conn != nil {
		_ = s.conn.close(ctx)
		s.conn = nil
	}
	c, err := s.db.connect(ctx)
	if err != nil {
		if ctx.Err() == nil { // a caller that gave up says nothing about the store
			s.health.set(s.typ, false)
		}
		s.release()
		return s.wrap("connecting", err)
	}
	s.conn = c
	s.health.set(s.typ, true)
	return nil
}

// release gives the connection back, and the up gauge whether it broke during the operation.
func (s *Store) release() {
	if s.conn != nil && s.conn.broken() {
		s.health.set(s.typ, false)
	}
	<-s.sem
}

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

// tableExists reports whether the table is in the database, as a query would resolve its name. The caller holds
// the connection.
func (s *Store) tableExists(ctx context.Context, table string) (bool, error) {
	_, err := s.conn.tableColumns(ctx, table)
	switch {
	case errors.Is(err, errNoTable):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
