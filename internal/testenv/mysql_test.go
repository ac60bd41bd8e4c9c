package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

func TestMariaDB(t *testing.T) {
	t.Parallel()
	a, b := MariaDB(t), MariaDB(t)
	if a.Database == b.Database || !strings.HasPrefix(a.Database, "dst_testmariadb_") {
		t.Fatalf("databases %q and %q are not fresh and distinct", a.Database, b.Database)
	}
	if want := fmt.Sprintf("jdbc:mysql://%s:%d/%s", a.Host, a.Port, a.Database); a.JDBCURI != want {
		t.Errorf("JDBCURI = %q, want %q", a.JDBCURI, want)
	}
	ctx := context.Background()
	da, db := a.DB(t), b.DB(t)
	var name, charset string
	if err := da.QueryRowContext(ctx, "SELECT DATABASE(), @@character_set_database").Scan(&name, &charset); err != nil ||
		name != a.Database || charset != "utf8mb4" {
		t.Fatalf("connected to %q (charset %q, %v), want %q in utf8mb4", name, charset, err, a.Database)
	}
	if _, err := da.ExecContext(ctx, "CREATE TABLE druid_segments (id VARCHAR(255) PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() "+
		"AND table_name = 'druid_segments'").Scan(&n); err != nil || n != 0 {
		t.Errorf("b sees a's table: %d %v", n, err)
	}

	// Cleanup drops the database even while a connection to it holds a transaction open on one of its tables.
	var inner MySQL
	var held *sql.Tx
	leaked, err := sql.Open("mysql", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("cleanup", func(t *testing.T) {
		inner = MariaDB(t)
		if leaked, err = sql.Open("mysql", inner.DSN); err != nil {
			t.Fatal(err)
		}
		if _, err := leaked.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		if held, err = leaked.BeginTx(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := held.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	})
	defer leaked.Close()
	defer held.Rollback()
	if err := da.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", inner.Database).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s after its test: count=%d err=%v; want it dropped", inner.Database, n, err)
	}
}
