package metadata

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// mysqlDB is a MySQL (or MariaDB) metadata store, reached through go-sql-driver/mysql, its hosts tried in the URI's
// order as Connector/J's failover does.
type mysqlDB struct{ connector *failover }

// quietLogger drops the driver's own log lines: every failure reaches the caller as an error already.
var quietLogger = mysql.Logger(log.New(io.Discard, "", 0))

func openMySQL(cfg *configs.Config) (database, string, string, []string, error) {
	cfgs, notes, err := cfg.Metadata.MySQLConfigs(cfg.MySQLSSL)
	if err != nil {
		return nil, "", "", nil, err
	}
	f := &failover{}
	var hosts []string
	for _, c := range cfgs {
		c.Logger = quietLogger
		conn, err := mysql.NewConnector(c)
		if err != nil {
			return nil, "", "", nil, err
		}
		f.addrs, f.connectors = append(f.addrs, c.Addr), append(f.connectors, conn)
		hosts = append(hosts, c.Addr)
	}
	return mysqlDB{f}, describeHosts("MySQL", hosts, cfgs[0].DBName), cfgs[0].Passwd, notes, nil
}

// failover connects to the first host that answers.
type failover struct {
	addrs      []string
	connectors []driver.Connector
}

func (f *failover) Connect(ctx context.Context) (driver.Conn, error) {
	var errs []error
	for i, c := range f.connectors {
		conn, err := c.Connect(ctx)
		if err == nil {
			return conn, nil
		}
		if len(f.connectors) > 1 {
			err = fmt.Errorf("%s: %w", f.addrs[i], err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (f *failover) Driver() driver.Driver { return mysql.MySQLDriver{} }

// connect opens a pool of one connection: database/sql replaces it when it breaks, and the Store's semaphore keeps
// it to one operation at a time.
func (m mysqlDB) connect(ctx context.Context) (conn, error) {
	db := sql.OpenDB(m.connector)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return myConn{db}, nil
}

type myConn struct{ db *sql.DB }

// placeholders turns PostgreSQL's $n placeholders, outside quotes, into MySQL's ?. The arguments must be in the
// order their placeholders appear, as every statement of this package writes them.
func placeholders(q string) string {
	if !strings.Contains(q, "$") {
		return q
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			for i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
				i++
			}
			b.WriteByte('?')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (m myConn) Query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := m.db.QueryContext(ctx, placeholders(q), args...)
	if err != nil {
		return nil, err
	}
	return myRows{r}, nil
}

func (m myConn) QueryRow(ctx context.Context, q string, args ...any) row {
	return myRow{m.db.QueryRowContext(ctx, placeholders(q), args...)}
}

func (m myConn) broken() bool                { return false }
func (m myConn) close(context.Context) error { return m.db.Close() }

func (m myConn) anyOf(column string, n int, values []string) (string, []any) {
	if len(values) == 0 {
		return "FALSE", nil
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return column + " IN (?" + strings.Repeat(", ?", len(values)-1) + ")", args
}

// tableColumns asks SHOW COLUMNS, which resolves the name exactly as a query does (case-sensitive or not as the
// server's lower_case_table_names says, in the connection's database unless it names one).
func (m myConn) tableColumns(ctx context.Context, table string) (map[string]bool, error) {
	r, err := m.db.QueryContext(ctx, "SHOW COLUMNS FROM "+table)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1146 { // ER_NO_SUCH_TABLE
			return nil, fmt.Errorf("table %s: %w", table, errNoTable)
		}
		return nil, err
	}
	defer r.Close()
	names, err := r.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.RawBytes, len(names))
	dest := make([]any, len(names))
	for i := range vals {
		dest[i] = &vals[i]
	}
	cols := map[string]bool{}
	for r.Next() {
		if err := r.Scan(dest...); err != nil {
			return nil, err
		}
		cols[strings.ToLower(string(vals[0]))] = true // Field; MySQL column names are case-insensitive
	}
	return cols, r.Err()
}

type myRows struct{ *sql.Rows }

func (r myRows) Close() { _ = r.Rows.Close() }

type myRow struct{ r *sql.Row }

func (r myRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return noRows{}
	}
	return err
}

// noRows is "no row" as both drivers name it.
type noRows struct{}

func (noRows) Error() string        { return "no rows in result set" }
func (noRows) Is(target error) bool { return target == pgx.ErrNoRows || target == sql.ErrNoRows }

func (m myConn) segmentRows(ctx context.Context, q string, args []any, cols *segmentColumns) (segmentRows, error) {
	r, err := m.db.QueryContext(ctx, placeholders(q), args...)
	if err != nil {
		return nil, err
	}
	s := &mySegmentRows{Rows: r, cols: cols}
	// The scan targets are made once: raw bytes point into the driver's buffer (no copy of a payload), the
	// optional columns hold NULL as nil.
	s.dest = []any{&s.id, &s.dataSource, &s.used, &s.payload}
	for _, c := range []struct {
		has bool
		to  any
	}{{cols.usedStatusLastUpdated, &s.usedStatus}, {cols.schemaFingerprint, &s.fingerprint},
		{cols.numRows, &s.numRows}, {cols.upgradedFromSegmentID, &s.upgradedFrom}} {
		if c.has {
			s.dest = append(s.dest, c.to)
		}
	}
	return s, nil
}

type mySegmentRows struct {
	*sql.Rows
	cols                                  *segmentColumns
	dest                                  []any
	id, dataSource, payload               sql.RawBytes
	used                                  sql.NullBool
	usedStatus, fingerprint, upgradedFrom sql.RawBytes
	numRows                               sql.NullInt64
}

func (r *mySegmentRows) Close() { _ = r.Rows.Close() }

func (r *mySegmentRows) decode(row *SegmentRow, intern map[string]string) ([]byte, error) {
	if err := r.Scan(r.dest...); err != nil {
		return nil, err
	}
	if r.id == nil || r.dataSource == nil || !r.used.Valid || r.payload == nil {
		return nil, fmt.Errorf("a row has NULL in id, datasource, used or payload (id %q)", r.id)
	}
	fillSegmentRow(row, r.id, r.dataSource, r.used.Bool, intern)
	row.UsedStatusLastUpdated = string(r.usedStatus)
	row.SchemaFingerprint = string(r.fingerprint)
	row.NumRows, row.HasNumRows = r.numRows.Int64, r.numRows.Valid
	row.UpgradedFromSegmentID = string(r.upgradedFrom)
	return r.payload, nil
}
