package metadata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// This file is test support: it writes Druid's own DDL and rows, for this package's tests, the audit tests and a
// sandbox: on PostgreSQL here, on MySQL in mysql_ddl.go. The statements are those of SQLMetadataConnector, with each
// connector's payload type, quote and collation (ddlDialect); like Druid, table names go in unquoted, so PostgreSQL
// folds them to lower case.

// Variant is a column set of the segments table, as Druid versions left it.
type Variant int

const (
	// VariantCurrent is a table created by Druid 31 or later: used_status_last_updated NOT NULL, then
	// upgraded_from_segment_id added by ALTER, and the current indexes.
	VariantCurrent Variant = iota
	// VariantSchema is VariantCurrent with druid.centralizedDatasourceSchema.enabled: schema_fingerprint and
	// num_rows as well (Druid 30+).
	VariantSchema
	// Variant022 is a table as Druid 0.22 to 27 created it: id to payload only, indexes on dataSource and used.
	Variant022
	// VariantUpgraded is a Variant022 table after an upgrade to Druid 31+: used_status_last_updated and
	// upgraded_from_segment_id added by ALTER as nullable columns, so old rows hold NULL.
	VariantUpgraded
)

func (v Variant) String() string {
	switch v {
	case VariantCurrent:
		return "current"
	case VariantSchema:
		return "current+schema"
	case Variant022:
		return "0.22"
	case VariantUpgraded:
		return "0.22-upgraded"
	}
	return fmt.Sprintf("Variant(%d)", int(v))
}

// Variants lists every Variant, for table-driven tests.
var Variants = []Variant{VariantCurrent, VariantSchema, Variant022, VariantUpgraded}

// ddlDialect is what a connector puts in Druid's DDL: the payload column type, the quote around "end" and the
// collation of the dataSource columns (PostgreSQLConnector's and MySQLConnector's values).
type ddlDialect struct{ payload, quote, collation string }

var (
	postgresDDL = ddlDialect{payload: "BYTEA", quote: `"`}
	mysqlDDL    = ddlDialect{payload: "LONGBLOB", quote: "`", collation: "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"}
)

// createStatements are the statements that create the segments table (in the variant's column set) and the rules
// table, named as tables says.
func (d ddlDialect) createStatements(tables configs.MetadataTables, v Variant) ([]string, error) {
	seg, rules := tables.Segments(), tables.Rules()
	end := d.quote + "end" + d.quote
	var stmts []string
	switch v {
	case VariantCurrent, VariantSchema:
		extra := ""
		if v == VariantSchema {
			extra = "schema_fingerprint VARCHAR(255),num_rows BIGINT,"
		}
		stmts = append(stmts,
			"CREATE TABLE "+seg+" (id VARCHAR(255) NOT NULL,dataSource VARCHAR(255) "+d.collation+" NOT NULL,created_date VARCHAR(255) NOT NULL,"+
				"start VARCHAR(255) NOT NULL,"+end+" VARCHAR(255) NOT NULL,partitioned BOOLEAN NOT NULL,version VARCHAR(255) NOT NULL,"+
				"used BOOLEAN NOT NULL,payload "+d.payload+" NOT NULL,used_status_last_updated VARCHAR(255) NOT NULL,"+extra+"PRIMARY KEY (id))",
			"CREATE INDEX idx_"+seg+"_used ON "+seg+"(used)",
			"CREATE INDEX idx_"+seg+"_datasource_used_end_start ON "+seg+"(dataSource, used, "+end+", start)",
			"ALTER TABLE "+seg+" ADD upgraded_from_segment_id VARCHAR(255)",
			"CREATE INDEX idx_"+seg+"_datasource_upgraded_from_segment_id ON "+seg+"(dataSource, upgraded_from_segment_id)",
		)
	case Variant022, VariantUpgraded:
		stmts = append(stmts,
			"CREATE TABLE "+seg+" (\n  id VARCHAR(255) NOT NULL,\n  dataSource VARCHAR(255) "+d.collation+" NOT NULL,\n  created_date VARCHAR(255) NOT NULL,\n"+
				"  start VARCHAR(255) NOT NULL,\n  "+end+" VARCHAR(255) NOT NULL,\n  partitioned BOOLEAN NOT NULL,\n"+
				"  version VARCHAR(255) NOT NULL,\n  used BOOLEAN NOT NULL,\n  payload "+d.payload+" NOT NULL,\n  PRIMARY KEY (id)\n)",
			"CREATE INDEX idx_"+seg+"_datasource ON "+seg+"(dataSource)",
			"CREATE INDEX idx_"+seg+"_used ON "+seg+"(used)",
		)
		if v == VariantUpgraded {
			stmts = append(stmts,
				"ALTER TABLE "+seg+" ADD used_status_last_updated VARCHAR(255)",
				"ALTER TABLE "+seg+" ADD upgraded_from_segment_id VARCHAR(255)",
			)
		}
	default:
		return nil, fmt.Errorf("unknown variant %v", v)
	}
	return append(stmts,
		"CREATE TABLE "+rules+" (\n  id VARCHAR(255) NOT NULL,\n  dataSource VARCHAR(255) "+d.collation+" NOT NULL,\n  version VARCHAR(255) NOT NULL,\n"+
			"  payload "+d.payload+" NOT NULL,\n  PRIMARY KEY (id)\n)",
		"CREATE INDEX idx_"+rules+"_datasource ON "+rules+"(dataSource)",
	), nil
}

// createTables runs the dialect's statements for the tables and variant through exec.
func (d ddlDialect) createTables(tables configs.MetadataTables, v Variant, exec func(string) error) error {
	stmts, err := d.createStatements(tables, v)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := exec(st); err != nil {
			return fmt.Errorf("creating Druid's tables: %s: %w", st, err)
		}
	}
	return nil
}

// CreateTables creates the segments table (in the variant's column set) and the rules table, named as tables says.
func CreateTables(ctx context.Context, conn *pgx.Conn, tables configs.MetadataTables, v Variant) error {
	return postgresDDL.createTables(tables, v, func(st string) error {
		_, err := conn.Exec(ctx, st)
		return err
	})
}

// SegmentRecord is one row to write to the segments table.
type SegmentRecord struct {
	// Segment gives id, dataSource, start, end and version, and the payload unless Payload is set.
	Segment *segments.DataSegment
	// Payload, when not nil, is written as the payload instead of Segment's JSON (to store exact or broken bytes).
	Payload []byte
	// Used is the used column.
	Used bool
	// CreatedDate is created_date; zero means now. UsedStatusLastUpdated defaults to CreatedDate.
	CreatedDate           time.Time
	UsedStatusLastUpdated time.Time
	// NullUsedStatus writes NULL in used_status_last_updated (rows from before an upgrade); the column must allow it.
	NullUsedStatus bool
	// UpgradedFromSegmentID, SchemaFingerprint and NumRows fill the optional columns; ""/nil write NULL.
	UpgradedFromSegmentID string
	SchemaFingerprint     string
	NumRows               *int64
}

// columns returns the column names (unquoted: "end" needs the dialect's quote in a statement) and values of the
// record for a table with the given optional columns.
func (r *SegmentRecord) columns(cols *segmentColumns) ([]string, []any, error) {
	s := r.Segment
	payload := r.Payload
	if payload == nil {
		var err error
		if payload, err = s.AppendJSON(nil); err != nil {
			return nil, nil, err
		}
	}
	created := r.CreatedDate
	if created.IsZero() {
		created = time.Now()
	}
	iso := func(t time.Time) string { return segments.InstantOf(t).String() }
	names := []string{"id", "dataSource", "created_date", "start", "end", "partitioned", "version", "used", "payload"}
	vals := []any{s.ID().String(), s.DataSource, iso(created), s.Interval.Start.String(), s.Interval.End.String(), true,
		s.Version, r.Used, payload}
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	if cols.usedStatusLastUpdated {
		var v any
		if !r.NullUsedStatus {
			t := r.UsedStatusLastUpdated
			if t.IsZero() {
				t = created
			}
			v = iso(t)
		}
		names, vals = append(names, "used_status_last_updated"), append(vals, v)
	}
	if cols.upgradedFromSegmentID {
		names, vals = append(names, "upgraded_from_segment_id"), append(vals, nullable(r.UpgradedFromSegmentID))
	}
	if cols.schemaFingerprint {
		names, vals = append(names, "schema_fingerprint"), append(vals, nullable(r.SchemaFingerprint))
	}
	if cols.numRows {
		var v any
		if r.NumRows != nil {
			v = *r.NumRows
		}
		names, vals = append(names, "num_rows"), append(vals, v)
	}
	return names, vals, nil
}

// InsertSegment writes segment rows, with the columns the table has, in one transaction.
func InsertSegment(ctx context.Context, conn *pgx.Conn, tables configs.MetadataTables, recs ...SegmentRecord) error {
	cols, err := detectSegmentColumns(ctx, pgConn{conn}, tables.Segments())
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for i := range recs {
			names, vals, err := recs[i].columns(cols)
			if err != nil {
				return fmt.Errorf("segment %s: %w", recs[i].Segment.ID(), err)
			}
			if _, err := tx.Exec(ctx, postgresDDL.insertStatement(tables.Segments(), names, 1), vals...); err != nil {
				return fmt.Errorf("inserting segment %s: %w", recs[i].Segment.ID(), err)
			}
		}
		return nil
	})
}

// insertStatement is INSERT INTO table (names) VALUES (…), with rows rows of placeholders ($n on PostgreSQL, ? on
// MySQL).
func (d ddlDialect) insertStatement(table string, names []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (")
	for j, n := range names {
		if j > 0 {
			b.WriteString(", ")
		}
		if n == "end" {
			n = d.quote + n + d.quote
		}
		b.WriteString(n)
	}
	b.WriteString(") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range names {
			if j > 0 {
				b.WriteString(", ")
			}
			if d == postgresDDL {
				fmt.Fprintf(&b, "$%d", r*len(names)+j+1)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// CopySegments writes n rows with COPY FROM, asking record for each in turn (a record is not kept after it is
// written, so n can be millions). It returns the number of rows written.
func CopySegments(ctx context.Context, conn *pgx.Conn, tables configs.MetadataTables, n int,
	record func(i int) (SegmentRecord, error)) (int64, error) {
	cols, err := detectSegmentColumns(ctx, pgConn{conn}, tables.Segments())
	if err != nil {
		return 0, err
	}
	names := cols.recordNames()
	for i, name := range names {
		names[i] = lowerASCII(name) // CopyFrom quotes identifiers itself, as they are stored
	}
	src := &recordSource{n: n, record: record, cols: cols}
	count, err := conn.CopyFrom(ctx, pgx.Identifier(strings.Split(lowerASCII(tables.Segments()), ".")), names, src)
	if err != nil {
		return count, fmt.Errorf("copying segments into %s: %w", tables.Segments(), err)
	}
	return count, nil
}

// recordNames are the columns a record fills in a table with cols.
func (cols *segmentColumns) recordNames() []string {
	probe := SegmentRecord{Segment: &segments.DataSegment{DataSource: "x"}, Payload: []byte{}}
	names, _, _ := probe.columns(cols)
	return names
}

type recordSource struct {
	n, i   int
	record func(int) (SegmentRecord, error)
	cols   *segmentColumns
	vals   []any
	err    error
}

func (s *recordSource) Next() bool {
	if s.err != nil || s.i >= s.n {
		return false
	}
	rec, err := s.record(s.i)
	s.i++
	if err == nil {
		_, s.vals, err = rec.columns(s.cols)
	}
	s.err = err
	return err == nil
}

func (s *recordSource) Values() ([]any, error) { return s.vals, nil }
func (s *recordSource) Err() error             { return s.err }

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// InsertRules writes a rules row as SQLMetadataRuleManager.overrideRule does: id "<dataSource>_<version>", the
// version an ISO timestamp (the audit time), the payload a JSON array of rules.
func InsertRules(ctx context.Context, conn *pgx.Conn, tables configs.MetadataTables, dataSource string, version time.Time,
	payload []byte) error {
	_, err := conn.Exec(ctx, postgresDDL.insertStatement(tables.Rules(), rulesColumns, 1), rulesRow(dataSource, version, payload)...)
	return rulesError(dataSource, err)
}

// rulesColumns and rulesRow are a row of the rules table as InsertRules writes it.
var rulesColumns = []string{"id", "dataSource", "version", "payload"}

func rulesRow(dataSource string, version time.Time, payload []byte) []any {
	v := segments.InstantOf(version).String()
	return []any{dataSource + "_" + v, dataSource, v, payload}
}

func rulesError(dataSource string, err error) error {
	if err != nil {
		return fmt.Errorf("inserting rules of %s: %w", dataSource, err)
	}
	return nil
}

// ProductionShapedRecord is row i of a production-shaped segments table, for benchmarks: 20 dataSources of hourly
// segments in 4 hashed partitions, S3 load specs with a unique-path directory, 16 dimensions and 5 metrics, every
// 50th row unused. Versions differ per row, so no version ever completes a partition set and overshadows another.
func ProductionShapedRecord(i int) (SegmentRecord, error) {
	const partitions = 4
	part := i % partitions
	hourIdx := i / partitions
	ds := fmt.Sprintf("wikipedia_edits_%02d", hourIdx%20)
	start := segments.Instant(int64(1640995200000) + int64(hourIdx/20)*3600_000)
	iv := segments.Interval{Start: start, End: start + 3600_000}
	version := (start + 86400_000 + segments.Instant(i%997)).String()
	key := fmt.Sprintf("druid/segments/%s/%s_%s/%s/%d/%08x-5b1d-4d0a-8f4e-%012x/index.zip",
		ds, iv.Start, iv.End, version, part, i*2654435761&0xffffffff, i)
	s := &segments.DataSegment{
		DataSource: ds, Interval: iv, Version: version,
		LoadSpec: []byte(`{"type":"s3_zip","bucket":"druid-deep-storage","key":"` + key + `","S3Schema":"s3n"}`),
		Dimensions: []string{"channel", "cityName", "comment", "countryIsoCode", "countryName", "isAnonymous", "isMinor",
			"isNew", "isRobot", "isUnpatrolled", "metroCode", "namespace", "page", "regionIsoCode", "regionName", "user"},
		Metrics:       []string{"count", "sum_added", "sum_deleted", "sum_delta", "sum_metroCode"},
		ShardSpec:     segments.HashedShardSpec(part, partitions, part, partitions, []string{"page"}, "murmur3_32_abs"),
		BinaryVersion: new(9),
		Size:          int64(4_000_000 + i%1_000_000),
	}
	return SegmentRecord{Segment: s, Used: i%50 != 0, CreatedDate: iv.End.Time()}, nil
}
