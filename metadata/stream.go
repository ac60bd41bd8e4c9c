package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// SegmentRow is one row of the segments table.
type SegmentRow struct {
	// ID is the id column, SegmentId.toString() of the segment.
	ID string
	// DataSource is the dataSource column.
	DataSource string
	// Used is the used column.
	Used bool
	// Segment is the payload column parsed as a DataSegment. It is a new value for every row and may be kept.
	Segment *segments.DataSegment

	// The optional columns: "" (or HasNumRows false) when the table lacks the column or the row holds NULL.

	// UsedStatusLastUpdated is used_status_last_updated (Druid 28+), an ISO UTC timestamp.
	UsedStatusLastUpdated string
	// SchemaFingerprint is schema_fingerprint (Druid 30+, with druid.centralizedDatasourceSchema.enabled).
	SchemaFingerprint string
	// NumRows is num_rows (Druid 30+, like SchemaFingerprint); HasNumRows says whether it was there.
	NumRows    int64
	HasNumRows bool
	// UpgradedFromSegmentID is upgraded_from_segment_id (Druid 31+): the segment a concurrent replace copied.
	UpgradedFromSegmentID string
}

// Order is the order in which StreamSegments delivers rows.
type Order int

const (
	// OrderNone delivers rows in the order PostgreSQL reads them, the fastest (a sequential scan, no sort).
	OrderNone Order = iota
	// OrderByID delivers rows by ascending id in the column's collation, which PostgreSQL reads from the primary key
	// index without sorting.
	OrderByID
)

// StreamOptions select the rows StreamSegments reads.
type StreamOptions struct {
	// DataSources limits the rows to these dataSources; empty means all.
	DataSources []string
	// IncludeUnused adds the rows with used = false.
	IncludeUnused bool
	// Order is the delivery order.
	Order Order
	// BadPayload, when set, is called for a row whose payload is not a valid DataSegment instead of ending the
	// stream; its error (if any) ends the stream. The payload bytes are only valid during the call.
	BadPayload func(id string, payload []byte, err error) error
}

// segmentColumns is what the segments table has, detected once per Store.
type segmentColumns struct {
	usedStatusLastUpdated, schemaFingerprint, numRows, upgradedFromSegmentID bool
}

var requiredSegmentColumns = []string{"id", "datasource", "used", "payload"}

func detectSegmentColumns(ctx context.Context, conn *pgx.Conn, table string) (*segmentColumns, error) {
	cols, err := tableColumns(ctx, conn, table)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, c := range requiredSegmentColumns {
		if !cols[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("table %s lacks the column(s) %s of Druid's segments table", table, strings.Join(missing, ", "))
	}
	return &segmentColumns{
		usedStatusLastUpdated: cols["used_status_last_updated"],
		schemaFingerprint:     cols["schema_fingerprint"],
		numRows:               cols["num_rows"],
		upgradedFromSegmentID: cols["upgraded_from_segment_id"],
	}, nil
}

// segmentColumnsOf returns the detected columns, detecting them on first use.
func (s *Store) segmentColumnsOf(ctx context.Context) (*segmentColumns, error) {
	s.colsMu.Lock()
	defer s.colsMu.Unlock()
	if s.cols != nil {
		return s.cols, nil
	}
	cols, err := detectSegmentColumns(ctx, s.conn, s.tables.Segments())
	if err != nil {
		if errors.Is(err, errNoTable) {
			return nil, s.wrap("reading the segments table", fmt.Errorf(
				"%w (is druid.metadata.storage.tables.segments or .base right, and has a Coordinator or Overlord created it?)", err))
		}
		return nil, s.wrap("reading the columns of the segments table", err)
	}
	s.cols = cols
	return cols, nil
}

// segmentsQuery builds the SELECT for the options and the detected columns. The column positions are fixed:
// id, datasource, used, payload, then each optional column that exists, in the segmentColumns field order.
func segmentsQuery(table string, cols *segmentColumns, opts *StreamOptions) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT id, datasource, used, payload")
	if cols.usedStatusLastUpdated {
		b.WriteString(", used_status_last_updated")
	}
	if cols.schemaFingerprint {
		b.WriteString(", schema_fingerprint")
	}
	if cols.numRows {
		b.WriteString(", num_rows")
	}
	if cols.upgradedFromSegmentID {
		b.WriteString(", upgraded_from_segment_id")
	}
	// The table name goes in unquoted, as Druid writes it, so PostgreSQL folds it the same way.
	b.WriteString(" FROM " + table)
	var conds []string
	var args []any
	if !opts.IncludeUnused {
		conds = append(conds, "used = true")
	}
	if len(opts.DataSources) > 0 {
		args = append(args, opts.DataSources)
		conds = append(conds, "datasource = ANY($1)")
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	if opts.Order == OrderByID {
		b.WriteString(" ORDER BY id")
	}
	return b.String(), args
}

// StreamSegments reads the segments table and calls fn for each row, as PostgreSQL sends it: no more than one row is
// held at a time (besides pgx's read buffer), so a table of millions of rows needs no more memory than one row.
// The *SegmentRow passed to fn is reused for the next row; its Segment is not, and may be kept. An error from fn
// ends the stream and is returned as it is.
//
// The columns are detected once per Store, so every column set from Druid 0.22 (no used_status_last_updated) to
// 36 is read; the bounds in start and "end" are not read at all (the payload's interval is authoritative, and
// ETERNITY bounds do not compare as strings).
func (s *Store) StreamSegments(ctx context.Context, opts StreamOptions, fn func(*SegmentRow) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	cols, err := s.segmentColumnsOf(ctx)
	if err != nil {
		return err
	}
	query, args := segmentsQuery(s.tables.Segments(), cols, &opts)
	// Binary results throughout: bytea arrives as the raw payload bytes (no hex text to decode) and every value is
	// read straight from pgx's buffer.
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.conn.Query(qctx, query, append([]any{pgx.QueryResultFormats{pgx.BinaryFormatCode}}, args...)...)
	if err != nil {
		return s.wrap("reading the segments table", err)
	}
	finished := false
	defer func() {
		if !finished {
			// Closing the rows would read the rest of the result; cancelling the query ends it at once (pgx then
			// closes the connection, and the next call opens another).
			cancel()
		}
		rows.Close()
	}()

	var (
		row    SegmentRow
		intern = map[string]string{} // dataSource names: few, repeated on every row
	)
	for rows.Next() {
		vals := rows.RawValues()
		if err := decodeSegmentRow(&row, vals, cols, intern); err != nil {
			return s.wrap("reading the segments table", err)
		}
		seg := new(segments.DataSegment)
		if err := seg.UnmarshalJSON(vals[3]); err != nil {
			err = fmt.Errorf("segment %s: payload: %w", row.ID, err)
			if opts.BadPayload == nil {
				return s.wrap("reading the segments table", err)
			}
			if err := opts.BadPayload(row.ID, vals[3], err); err != nil {
				return err
			}
			continue
		}
		row.Segment = seg
		if err := fn(&row); err != nil {
			return err
		}
	}
	finished = true
	if err := rows.Err(); err != nil {
		return s.wrap("reading the segments table", err)
	}
	return nil
}

// decodeSegmentRow fills row from binary-format column values.
func decodeSegmentRow(row *SegmentRow, vals [][]byte, cols *segmentColumns, intern map[string]string) error {
	if vals[0] == nil || vals[1] == nil || vals[2] == nil || vals[3] == nil {
		return fmt.Errorf("a row has NULL in id, datasource, used or payload (id %q)", vals[0])
	}
	if len(vals[2]) != 1 {
		return fmt.Errorf("segment %s: used is not a boolean", vals[0])
	}
	*row = SegmentRow{ID: string(vals[0]), Used: vals[2][0] != 0}
	ds, ok := intern[string(vals[1])]
	if !ok {
		ds = string(vals[1])
		intern[ds] = ds
	}
	row.DataSource = ds
	i := 4
	text := func() string {
		v := vals[i]
		i++
		if v == nil {
			return ""
		}
		return string(v)
	}
	if cols.usedStatusLastUpdated {
		row.UsedStatusLastUpdated = text()
	}
	if cols.schemaFingerprint {
		row.SchemaFingerprint = text()
	}
	if cols.numRows {
		v := vals[i]
		i++
		if v != nil {
			if len(v) != 8 {
				return fmt.Errorf("segment %s: num_rows is not a bigint", row.ID)
			}
			row.NumRows, row.HasNumRows = int64(binary.BigEndian.Uint64(v)), true
		}
	}
	if cols.upgradedFromSegmentID {
		row.UpgradedFromSegmentID = text()
	}
	return nil
}

// CountSegments returns the number of used (or all) rows of the segments table, for progress reports.
func (s *Store) CountSegments(ctx context.Context, includeUnused bool) (int64, error) {
	if err := s.acquire(ctx); err != nil {
		return 0, err
	}
	defer s.release()
	q := "SELECT count(*) FROM " + s.tables.Segments()
	if !includeUnused {
		q += " WHERE used = true"
	}
	var n int64
	if err := s.conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, s.wrap("counting the segments table", err)
	}
	return n, nil
}
