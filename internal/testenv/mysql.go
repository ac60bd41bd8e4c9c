package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// EnvMySQL is the mysql://user:password@host:port/ URL of an account that may create and drop databases, as
// `scripts/services.sh env` prints it (the services' MariaDB).
const EnvMySQL = "DRUID_SIDECAR_TEST_MYSQL"

// MySQL is a fresh, empty MySQL (MariaDB) database of the test's own, created with the utf8mb4 character set as
// Druid's documentation creates its metadata database.
type MySQL struct {
	DSN      string // the Go driver's DSN of the test database: user:password@tcp(host:port)/database
	JDBCURI  string // jdbc:mysql://host:port/database, as druid.metadata.storage.connector.connectURI
	User     string
	Password string
	Database string
	Host     string
	Port     int
}

// MariaDB creates a fresh database for the test on the services' MariaDB and drops it when the test ends, after
// ending the connections still using it (as PostgreSQL's DROP DATABASE WITH (FORCE) does).
func MariaDB(t testing.TB) MySQL {
	t.Helper()
	Integration(t)
	return mysqlAt(t, defaultLimits, setting(t, "MariaDB", EnvMySQL))
}

func mysqlAt(t testing.TB, lim limits, adminURL string) MySQL {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme != "mysql" || u.Host == "" {
		t.Fatalf("testenv: MariaDB: %s=%q is not a mysql://user:password@host:port/ URL (%v).\n\tfix: %s.",
			EnvMySQL, adminURL, err, fix)
	}
	m := MySQL{Host: u.Hostname(), Port: 3306, User: u.User.Username()}
	m.Password, _ = u.User.Password()
	if p := u.Port(); p != "" {
		if m.Port, err = strconv.Atoi(p); err != nil {
			t.Fatalf("testenv: MariaDB: %s=%q has a bad port.\n\tfix: %s.", EnvMySQL, adminURL, fix)
		}
	}
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	dialCheck(t, lim, "MariaDB", addr)

	m.Database = uniqueName(t, "dst_", '_', true, 64)
	admin := m.config("")
	admin.Timeout, admin.ReadTimeout, admin.WriteTimeout = lim.dial, lim.op, lim.op
	if err := myAdmin(lim, admin, "CREATE DATABASE `"+m.Database+"` CHARACTER SET utf8mb4"); err != nil {
		fail(t, "MariaDB", addr, "creating database "+m.Database, err)
	}
	t.Cleanup(func() {
		if err := myDropDatabase(lim, admin, m.Database); err != nil {
			t.Errorf("testenv: MariaDB at %s: dropping the test's database %s: %v", addr, m.Database, err)
		}
	})
	m.DSN = m.config(m.Database).FormatDSN()
	m.JDBCURI = fmt.Sprintf("jdbc:mysql://%s/%s", addr, m.Database)
	return m
}

// config is the driver's configuration for the account on database db ("" for none).
func (m MySQL) config(db string) *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.DBName = m.User, m.Password, "tcp", db
	c.Addr = net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	c.Logger = mysql.Logger(log.New(io.Discard, "", 0)) // the failures reach the test as errors already
	return c
}

// DB returns a connection pool on the test's database, closed when the test ends.
func (m MySQL) DB(t testing.TB) *sql.DB {
	t.Helper()
	c, err := mysql.NewConnector(m.config(m.Database))
	if err != nil {
		t.Fatalf("testenv: MariaDB: %v", err)
	}
	db := sql.OpenDB(c)
	ctx, cancel := context.WithTimeout(context.Background(), defaultLimits.op)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		fail(t, "MariaDB", net.JoinHostPort(m.Host, strconv.Itoa(m.Port)), "connecting to database "+m.Database, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// myAdmin runs statements on one connection without a database, within lim.op.
func myAdmin(lim limits, cfg *mysql.Config, stmts ...string) error {
	return withMyConn(lim, cfg, func(ctx context.Context, conn *sql.Conn) error {
		for _, st := range stmts {
			if _, err := conn.ExecContext(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
}

// myDropDatabase ends the other connections using the database (a query or transaction left open would hold a
// metadata lock that makes DROP DATABASE wait), then drops it.
func myDropDatabase(lim limits, cfg *mysql.Config, name string) error {
	return withMyConn(lim, cfg, func(ctx context.Context, conn *sql.Conn) error {
		if err := killConnections(ctx, conn, name); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		return err
	})
}

// KillConnections ends every connection using the test's database but those DB(t) is about to make: what a
// server restart or a network cut does to a client, for tests of how it recovers.
func (m MySQL) KillConnections(t testing.TB) {
	t.Helper()
	cfg := m.config("")
	err := withMyConn(defaultLimits, cfg, func(ctx context.Context, conn *sql.Conn) error {
		return killConnections(ctx, conn, m.Database)
	})
	if err != nil {
		fail(t, "MariaDB", cfg.Addr, "ending the connections to "+m.Database, err)
	}
}

// killConnections ends the connections whose current database is name, but conn's.
func killConnections(ctx context.Context, conn *sql.Conn, name string) error {
	rows, err := conn.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", name)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, id := range ids {
		// A connection that ended meanwhile is "Unknown thread id" (1094): gone, as wanted.
		if _, err := conn.ExecContext(ctx, "KILL "+strconv.FormatInt(id, 10)); err != nil && !isMySQLError(err, 1094) {
			return err
		}
	}
	return nil
}

// withMyConn runs fn on one new connection, all within lim.op.
func withMyConn(lim limits, cfg *mysql.Config, fn func(context.Context, *sql.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), lim.op)
	defer cancel()
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(ctx, conn)
}

func isMySQLError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// Client runs MariaDB's own command-line client on the test's database, reading the query's result row by row
// (--quick: nothing buffered), tab-separated without column names, into stdout; the password goes in MYSQL_PWD,
// off the command line. It is the plain read benchmarks compare with.
func (m MySQL) Client(tb testing.TB, query string, stdout io.Writer) {
	tb.Helper()
	client, err := exec.LookPath("mariadb")
	if err != nil {
		tb.Fatalf("testenv: MariaDB: the mariadb client is not on PATH (%v).\n\tfix: %s.", err, fix)
	}
	cmd := exec.Command(client, "--no-defaults", "--quick", "--batch", "--skip-column-names", "--protocol=TCP",
		"-h", m.Host, "-P", strconv.Itoa(m.Port), "-u", m.User, "-D", m.Database, "-e", query)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+m.Password)
	cmd.Stdout = stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("testenv: MariaDB: mariadb -e %q: %v: %s", query, err, stderr.String())
	}
}
