package metadata

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// postgres is a PostgreSQL metadata store, reached through pgx.
type postgres struct{ cfg *pgx.ConnConfig }

func openPostgres(cfg *configs.Config) (database, string, string, []string, error) {
	pgcfg, notes, err := cfg.Metadata.PgxConfig()
	if err != nil {
		return nil, "", "", nil, err
	}
	hosts := []string{net.JoinHostPort(pgcfg.Host, strconv.Itoa(int(pgcfg.Port)))}
	for _, fb := range pgcfg.Fallbacks {
		hosts = append(hosts, net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port))))
	}
	return postgres{pgcfg}, describeHosts("PostgreSQL", hosts, pgcfg.Database), pgcfg.Password, notes, nil
}

func (p postgres) connect(ctx context.Context) (conn, error) {
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return nil, err
	}
	return pgConn{c}, nil
}

// pgConn is a pgx connection. Its queries ask for binary results throughout: bytea arrives as the raw payload bytes
// (no hex text to decode) and every value is read straight from pgx's buffer.
type pgConn struct{ c *pgx.Conn }

func (p pgConn) Query(ctx context.Context, sql string, args ...any) (rows, error) {
	return p.c.Query(ctx, sql, args...)
}

func (p pgConn) QueryRow(ctx context.Context, sql string, args ...any) row {
	return p.c.QueryRow(ctx, sql, args...)
}

func (p pgConn) broken() bool                    { return p.c.IsClosed() }
func (p pgConn) close(ctx context.Context) error { return p.c.Close(ctx) }

func (p pgConn) anyOf(column string, n int, values []string) (string, []any) {
	return fmt.Sprintf("%s = ANY($%d)", column, n), []any{values}
}

// tableColumns resolves the name as PostgreSQL does in a query: an unquoted name folds to lower case and is looked
// up on the search_path, as in the statements Druid itself runs (to_regclass does exactly that, where
// information_schema would need the folding and the schema redone by hand).
func (p pgConn) tableColumns(ctx context.Context, table string) (map[string]bool, error) {
	var exists bool
	if err := p.c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("table %s: %w", table, errNoTable)
	}
	rows, err := p.c.Query(ctx, `SELECT attname FROM pg_catalog.pg_attribute
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

func (p pgConn) segmentRows(ctx context.Context, sql string, args []any, cols *segmentColumns) (segmentRows, error) {
	r, err := p.c.Query(ctx, sql, append([]any{pgx.QueryResultFormats{pgx.BinaryFormatCode}}, args...)...)
	if err != nil {
		return nil, err
	}
	return &pgSegmentRows{Rows: r, cols: cols}, nil
}

type pgSegmentRows struct {
	pgx.Rows
	cols *segmentColumns
}

// decode reads binary-format values: a boolean is one byte, a bigint eight big-endian bytes.
func (r *pgSegmentRows) decode(row *SegmentRow, intern map[string]string) ([]byte, error) {
	vals := r.RawValues()
	if vals[0] == nil || vals[1] == nil || vals[2] == nil || vals[3] == nil {
		return nil, fmt.Errorf("a row has NULL in id, datasource, used or payload (id %q)", vals[0])
	}
	if len(vals[2]) != 1 {
		return nil, fmt.Errorf("segment %s: used is not a boolean", vals[0])
	}
	fillSegmentRow(row, vals[0], vals[1], vals[2][0] != 0, intern)
	i := 4
	text := func() string {
		v := vals[i]
		i++
		return string(v) // "" for NULL
	}
	if r.cols.usedStatusLastUpdated {
		row.UsedStatusLastUpdated = text()
	}
	if r.cols.schemaFingerprint {
		row.SchemaFingerprint = text()
	}
	if r.cols.numRows {
		v := vals[i]
		i++
		if v != nil {
			if len(v) != 8 {
				return nil, fmt.Errorf("segment %s: num_rows is not a bigint", row.ID)
			}
			row.NumRows, row.HasNumRows = int64(binary.BigEndian.Uint64(v)), true
		}
	}
	if r.cols.upgradedFromSegmentID {
		row.UpgradedFromSegmentID = text()
	}
	return vals[3], nil
}
