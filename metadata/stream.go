package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	// Segment is the payload column parsed as a DataSegment. It is a new value for every row and may be kept. It is
	// nil when Summary is set.
	Segment *segments.DataSegment
	// Summary is, for the rows StreamOptions.Summarize picks, what a segments.SummaryReader reads of the payload,
	// instead of Segment; it is valid only during the call (its LoadSpec lies in the driver's buffer).
	Summary *segments.Summary

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
	// OrderNone delivers rows in the order the database reads them, the fastest (a sequential scan, no sort).
	OrderNone Order = iota
	// OrderByID delivers rows by ascending id in the column's collation (MySQL's is usually case-insensitive), which
	// both databases read from the primary key index without sorting.
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
	// Summarize, when set, picks by dataSource column the rows whose payload is only summarized (SegmentRow.Summary)
	// rather than parsed whole: a reader of millions of rows that needs their ids, sizes and load specs saves the
	// rest. A payload the summary reader does not take is parsed whole (Segment set, or BadPayload), so the rows
	// read are the same either way.
	Summarize func(dataSource string) bool
}

// segmentColumns is what the segments table has, detected once per Store.
type segmentColumns struct {
	usedStatusLastUpdated, schemaFingerprint, numRows, upgradedFromSegmentID bool
}

var requiredSegmentColumns = []string{"id", "datasource", "used", "payload"}

func detectSegmentColumns(ctx context.Context, c conn, table string) (*segmentColumns, error) {
	cols, err := c.tableColumns(ctx, table)
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
func segmentsQuery(c conn, table string, cols *segmentColumns, opts *StreamOptions) (string, []any) {
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
	// The table name goes in unquoted, as Druid writes it, so the database resolves it the same way.
	b.WriteString(" FROM " + table)
	var conds []string
	var args []any
	if !opts.IncludeUnused {
		conds = append(conds, "used = true")
	}
	if len(opts.DataSources) > 0 {
		cond, a := c.anyOf("datasource", 1, opts.DataSources)
		args = append(args, a...)
		conds = append(conds, cond)
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	if opts.Order == OrderByID {
		b.WriteString(" ORDER BY id")
	}
	return b.String(), args
}

// StreamSegments reads the segments table and calls fn for each row, as the database sends it: no more than one row
// is held at a time (besides the driver's read buffer), so a table of millions of rows needs no more memory than
// one row.
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
	query, args := segmentsQuery(s.conn, s.tables.Segments(), cols, &opts)
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.conn.segmentRows(qctx, query, args, cols)
	if err != nil {
		return s.wrap("reading the segments table", err)
	}
	finished := false
	defer func() {
		if !finished {
			// Closing the rows would read the rest of the result; cancelling the query ends it at once (the driver
			// then closes the connection, and the next call opens another).
			cancel()
		}
		rows.Close()
	}()

	var (
		row     SegmentRow
		intern  = map[string]string{} // dataSource names: few, repeated on every row
		summary segments.Summary
		sr      = segments.NewSummaryReader()
	)
	for rows.Next() {
		payload, err := rows.decode(&row, intern)
		if err != nil {
			return s.wrap("reading the segments table", err)
		}
		if opts.Summarize != nil && opts.Summarize(row.DataSource) && sr.Read(payload, &summary) == nil {
			row.Summary = &summary
			if err := fn(&row); err != nil {
				return err
			}
			continue
		}
		seg := new(segments.DataSegment)
		if err := seg.UnmarshalJSON(payload); err != nil {
			err = fmt.Errorf("segment %s: payload: %w", row.ID, err)
			if opts.BadPayload == nil {
				return s.wrap("reading the segments table", err)
			}
			if err := opts.BadPayload(row.ID, payload, err); err != nil {
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

// fillSegmentRow resets row to the required columns of a row; dataSource names, few and repeated on every row,
// are interned.
func fillSegmentRow(row *SegmentRow, id, dataSource []byte, used bool, intern map[string]string) {
	*row = SegmentRow{ID: string(id), Used: used}
	ds, ok := intern[string(dataSource)]
	if !ok {
		ds = string(dataSource)
		intern[ds] = ds
	}
	row.DataSource = ds
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
