package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/metadata"
)

// `audit` reads a MySQL metadata store as it reads PostgreSQL: the planted cluster's druid_segments and druid_rules
// rows, copied as they are into MariaDB under MySQLConnector's DDL, give the same findings and totals.
func TestAuditCommandOnMariaDB(t *testing.T) {
	c := audittest.New(t, audittest.Options{})
	ctx := context.Background()
	my := testenv.MariaDB(t)
	db := my.DB(t)
	tables := c.Config.Metadata.Tables
	if err := metadata.CreateMySQLTables(ctx, db, tables, metadata.VariantCurrent); err != nil {
		t.Fatal(err)
	}
	pg := c.PG.Conn(t)
	copyRows(t, pg, db, tables.Segments(), []string{"id", "dataSource", "created_date", "start", "end", "partitioned",
		"version", "used", "payload", "used_status_last_updated", "upgraded_from_segment_id"})
	copyRows(t, pg, db, tables.Rules(), []string{"id", "dataSource", "version", "payload"})

	report := func(sets []string) audit.Report {
		t.Helper()
		code, stdout, stderr := runCLI(t, []string{}, auditArgs(sets, "--format", "json", "--grace", "0")...)
		if code != exitFailure {
			t.Fatalf("exit %d, want 1 (the planted findings): %s", code, stderr)
		}
		var rep audit.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("the JSON report does not parse: %v\n%s", err, stdout)
		}
		return rep
	}
	onPG := report(c.Sets)
	onMySQL := report(append(slices.Clone(c.Sets), "druid.metadata.storage.type=mysql",
		"druid.metadata.storage.connector.connectURI="+my.JDBCURI, "druid.metadata.storage.connector.user="+my.User,
		"druid.metadata.storage.connector.password="+my.Password))

	if !strings.HasPrefix(onMySQL.Inputs.MetadataStore, "MySQL at "+my.Host) ||
		!strings.HasSuffix(onMySQL.Inputs.MetadataStore, "database "+my.Database) {
		t.Errorf("metadata store named %q", onMySQL.Inputs.MetadataStore)
	}
	if !reflect.DeepEqual(onMySQL.Totals, onPG.Totals) {
		t.Errorf("totals on MariaDB %+v, on PostgreSQL %+v", onMySQL.Totals, onPG.Totals)
	}
	key := func(rep audit.Report) []string {
		var out []string
		for _, f := range rep.Findings {
			out = append(out, string(f.Kind)+" "+f.SegmentID+" "+f.Tier)
		}
		slices.Sort(out)
		return out
	}
	if got, want := key(onMySQL), key(onPG); !slices.Equal(got, want) || len(got) != len(c.Planted) {
		t.Errorf("findings on MariaDB:\n%s\non PostgreSQL:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// copyRows copies a table's rows from PostgreSQL into the same table on MySQL, byte for byte.
func copyRows(t *testing.T, from *pgx.Conn, to *sql.DB, table string, cols []string) {
	t.Helper()
	ctx := context.Background()
	pgCols, myCols := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		pgCols[i], myCols[i] = c, c
		if c == "end" {
			pgCols[i], myCols[i] = `"end"`, "`end`"
		}
	}
	rows, err := from.Query(ctx, "SELECT "+strings.Join(pgCols, ", ")+" FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	insert := "INSERT INTO " + table + " (" + strings.Join(myCols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
	n := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := to.ExecContext(ctx, insert, vals...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		n++
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("%s: %d rows copied, %v", table, n, err)
	}
}
