package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PG is a fresh, empty PostgreSQL database of the test's own.
type PG struct {
	ConnString string // postgres://user@host:port/database?sslmode=disable
	JDBCURI    string // jdbc:postgresql://host:port/database, as druid.metadata.storage.connector.connectURI
	User       string
	Password   string // empty: the local server trusts loopback connections
	Database   string
	Host       string
	Port       int
}

// Postgres creates a fresh database for the test and drops it (WITH (FORCE), so open connections do not keep
// it) when the test ends.
func Postgres(t testing.TB) PG {
	t.Helper()
	Integration(t)
	return postgresAt(t, defaultLimits, setting(t, "PostgreSQL", EnvPG))
}

func postgresAt(t testing.TB, lim limits, adminURL string) PG {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" || u.Host == "" {
		t.Fatalf("testenv: PostgreSQL: %s=%q is not a postgres://user@host:port/database URL (%v).\n\tfix: %s.",
			EnvPG, adminURL, err, fix)
	}
	pg := PG{Host: u.Hostname(), Port: 5432, User: u.User.Username()}
	pg.Password, _ = u.User.Password()
	if p := u.Port(); p != "" {
		if pg.Port, err = strconv.Atoi(p); err != nil {
			t.Fatalf("testenv: PostgreSQL: %s=%q has a bad port.\n\tfix: %s.", EnvPG, adminURL, fix)
		}
	}
	addr := net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port))
	dialCheck(t, lim, "PostgreSQL", addr)

	pg.Database = uniqueName(t, "dst_", '_', true, 63)
	db := pgx.Identifier{pg.Database}.Sanitize()
	if err := pgAdmin(lim, adminURL, "CREATE DATABASE "+db); err != nil {
		fail(t, "PostgreSQL", addr, "creating database "+pg.Database, err)
	}
	t.Cleanup(func() {
		if err := pgAdmin(lim, adminURL, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: PostgreSQL at %s: dropping the test's database %s: %v", addr, pg.Database, err)
		}
	})

	dbURL := *u
	dbURL.Path = "/" + pg.Database
	dbURL.RawPath = ""
	pg.ConnString = dbURL.String()
	pg.JDBCURI = fmt.Sprintf("jdbc:postgresql://%s/%s", addr, pg.Database)
	return pg
}

// Conn returns a connection to the test's database, closed when the test ends.
func (pg PG) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	addr := net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port))
	ctx, cancel := context.WithTimeout(context.Background(), defaultLimits.op)
	defer cancel()
	conn, err := pgConnect(ctx, defaultLimits, pg.ConnString)
	if err != nil {
		fail(t, "PostgreSQL", addr, "connecting to database "+pg.Database, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), defaultLimits.op)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// pgAdmin runs one statement on the administrative database, within lim.op.
func pgAdmin(lim limits, adminURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lim.op)
	defer cancel()
	conn, err := pgConnect(ctx, lim, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func pgConnect(ctx context.Context, lim limits, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = lim.dial
	return pgx.ConnectConfig(ctx, cfg)
}
