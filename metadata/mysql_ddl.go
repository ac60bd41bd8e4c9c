package metadata

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// The MySQL counterparts of ddl.go's test support, with MySQLConnector's DDL: LONGBLOB payloads, `end` in
// backticks, the dataSource columns in utf8mb4_bin, the other columns in the database's character set.

// CreateMySQLTables creates the segments table (in the variant's column set) and the rules table on MySQL.
func CreateMySQLTables(ctx context.Context, db *sql.DB, tables configs.MetadataTables, v Variant) error {
	return mysqlDDL.createTables(tables, v, func(st string) error {
		_, err := db.ExecContext(ctx, st)
		return err
	})
}

// InsertMySQLSegments writes segment rows, with the columns the table has, in one transaction.
func InsertMySQLSegments(ctx context.Context, db *sql.DB, tables configs.MetadataTables, recs ...SegmentRecord) error {
	i := 0
	_, err := LoadMySQLSegments(ctx, db, tables, len(recs), func(int) (SegmentRecord, error) {
		i++
		return recs[i-1], nil
	})
	return err
}

// mysqlBatch is the number of rows of one multi-row INSERT: 13 columns stay far below the 65,535 placeholders of a
// statement, and a batch of production-shaped rows is about 2 MB.
const mysqlBatch = 1000

// LoadMySQLSegments writes n rows in multi-row INSERTs of one transaction, asking record for each in turn (a record
// is not kept after its batch is written, so n can be millions). It returns the number of rows written.
func LoadMySQLSegments(ctx context.Context, db *sql.DB, tables configs.MetadataTables, n int,
	record func(i int) (SegmentRecord, error)) (int64, error) {
	cols, err := detectSegmentColumns(ctx, myConn{db}, tables.Segments())
	if err != nil {
		return 0, err
	}
	names := cols.recordNames()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var written int64
	args := make([]any, 0, mysqlBatch*len(names))
	for start := 0; start < n; start += mysqlBatch {
		rows := min(mysqlBatch, n-start)
		args = args[:0]
		for i := start; i < start+rows; i++ {
			rec, err := record(i)
			if err != nil {
				return written, err
			}
			_, vals, err := rec.columns(cols)
			if err != nil {
				return written, fmt.Errorf("segment %s: %w", rec.Segment.ID(), err)
			}
			args = append(args, vals...)
		}
		if _, err := tx.ExecContext(ctx, mysqlDDL.insertStatement(tables.Segments(), names, rows), args...); err != nil {
			return written, fmt.Errorf("inserting segments into %s: %w", tables.Segments(), err)
		}
		written += int64(rows)
	}
	return written, tx.Commit()
}

// InsertMySQLRules writes a rules row as InsertRules does.
func InsertMySQLRules(ctx context.Context, db *sql.DB, tables configs.MetadataTables, dataSource string, version time.Time,
	payload []byte) error {
	_, err := db.ExecContext(ctx, mysqlDDL.insertStatement(tables.Rules(), rulesColumns, 1), rulesRow(dataSource, version, payload)...)
	return rulesError(dataSource, err)
}
