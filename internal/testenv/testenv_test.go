package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/go-zookeeper/zk"
	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/internal/zkproxy"
)

func TestParseEnv(t *testing.T) {
	in := "# comment\n\nexport A='x?y=1'\nexport B=\"two words\"\nC=plain\nexport D=\n"
	got, err := parseEnv(bufio.NewScanner(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "x?y=1", "B": "two words", "C": "plain", "D": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseEnv = %v, want %v", got, want)
	}
	if _, err := parseEnv(bufio.NewScanner(strings.NewReader("export nonsense\n"))); err == nil {
		t.Error("parseEnv accepted a line without =")
	}
}

func TestUniqueName(t *testing.T) {
	t.Run("Sub test/With:Odd#Chars", func(t *testing.T) {
		a := uniqueName(t, "dst-", '-', true, 63)
		b := uniqueName(t, "dst-", '-', true, 63)
		if a == b {
			t.Errorf("two names are equal: %s", a)
		}
		for _, n := range []string{a, b} {
			if len(n) > 63 || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || strings.Contains(n, "--") {
				t.Errorf("%q is not a valid bucket name", n)
			}
			if !strings.HasPrefix(n, "dst-testuniquename-sub-test-with-odd-chars-") {
				t.Errorf("%q does not carry the test's name", n)
			}
		}
	})
	long := uniqueName(t, "dst_", '_', true, 20)
	if len(long) > 20 || !strings.HasPrefix(long, "dst_testuni") {
		t.Errorf("truncated name %q", long)
	}
}

func TestZooKeeper(t *testing.T) {
	t.Parallel()
	a, b := ZooKeeper(t), ZooKeeper(t)
	if a.Chroot == b.Chroot || !strings.HasPrefix(a.Chroot, zkRoot+"/TestZooKeeper-") {
		t.Fatalf("chroots %q and %q are not fresh and distinct", a.Chroot, b.Chroot)
	}
	if want := strings.Join(a.Servers, ",") + a.Chroot; a.ConnectString != want {
		t.Errorf("ConnectString = %q, want %q", a.ConnectString, want)
	}
	if a.Path("/x/y") != a.Chroot+"/x/y" || a.Path("x") != a.Chroot+"/x" || a.Path("/") != a.Chroot {
		t.Errorf("Path: %q %q %q", a.Path("/x/y"), a.Path("x"), a.Path("/"))
	}

	conn := a.Conn(t)
	for _, z := range []ZK{a, b} {
		children, _, err := conn.Children(z.Chroot)
		if err != nil || len(children) != 0 {
			t.Fatalf("chroot %s: children %v, %v; want it to exist, empty", z.Chroot, children, err)
		}
	}
	if _, err := conn.Create(a.Path("/x"), []byte("a"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := conn.Exists(b.Path("/x")); err != nil || ok {
		t.Errorf("b sees a's node: %v %v", ok, err)
	}

	// Cleanup deletes the chroot with everything below it, ephemeral nodes included.
	var inner ZK
	t.Run("cleanup", func(t *testing.T) {
		inner = ZooKeeper(t)
		c := inner.Conn(t)
		for _, p := range []string{"/a", "/a/b", "/a/b/c"} {
			if _, err := c.Create(inner.Path(p), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Create(inner.Path("/a/eph"), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	})
	if ok, _, err := conn.Exists(inner.Chroot); err != nil || ok {
		t.Errorf("chroot %s after its test: exists=%v err=%v; want it deleted", inner.Chroot, ok, err)
	}
}

// TestWaitSessionExpired: while its client is connected a session stays listed and the wait fails at its deadline;
// cut off by a proxy, the session is expired by the server after its timeout and the wait returns.
func TestWaitSessionExpired(t *testing.T) {
	t.Parallel()
	z := ZooKeeper(t)
	px, err := zkproxy.New(z.Servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	conn, err := zkConnect(t, defaultLimits, []string{px.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	sid := conn.SessionID()

	f := runFake(t, func(tb testing.TB) { z.WaitSessionExpired(tb, sid, 300*time.Millisecond) })
	if !strings.Contains(f.fatal, "not expired within 300ms") {
		t.Errorf("waiting for a live session: %q, want a failure at the deadline", f.fatal)
	}
	px.Cut()
	took := z.WaitSessionExpired(t, sid, 20*time.Second)
	t.Logf("session 0x%x expired %v after the cut (session timeout %v)", sid, took.Round(time.Millisecond), zkSessionTimeout)
	// The server hears nothing from the cut client for a whole timeout; its last ping was at most a third of one ago.
	if took < zkSessionTimeout/2 {
		t.Errorf("the session was taken for expired %v after the cut, before its timeout of %v could pass", took, zkSessionTimeout)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	a, b := Postgres(t), Postgres(t)
	if a.Database == b.Database || !strings.HasPrefix(a.Database, "dst_testpostgres_") {
		t.Fatalf("databases %q and %q are not fresh and distinct", a.Database, b.Database)
	}
	if want := fmt.Sprintf("jdbc:postgresql://%s:%d/%s", a.Host, a.Port, a.Database); a.JDBCURI != want {
		t.Errorf("JDBCURI = %q, want %q", a.JDBCURI, want)
	}
	if !strings.Contains(a.ConnString, "/"+a.Database+"?") || a.User == "" || a.Host == "" || a.Port == 0 {
		t.Errorf("incomplete %+v", a)
	}
	ctx := context.Background()
	ca, cb := a.Conn(t), b.Conn(t)
	var db string
	if err := ca.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != a.Database {
		t.Fatalf("connected to %q (%v), want %q", db, err, a.Database)
	}
	if _, err := ca.Exec(ctx, "CREATE TABLE druid_segments (id text PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := cb.QueryRow(ctx, "SELECT to_regclass('druid_segments') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Errorf("b sees a's table: %v %v", exists, err)
	}

	// Cleanup drops the database even while a connection to it is open.
	var inner PG
	var leaked *pgx.Conn
	t.Run("cleanup", func(t *testing.T) {
		inner = Postgres(t)
		var err error
		if leaked, err = pgx.Connect(ctx, inner.ConnString); err != nil {
			t.Fatal(err)
		}
	})
	defer leaked.Close(ctx)
	var n int
	if err := ca.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", inner.Database).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s after its test: count=%d err=%v; want it dropped", inner.Database, n, err)
	}
}

func TestS3(t *testing.T) {
	t.Parallel()
	a, b := S3(t), S3(t)
	if a.Bucket == b.Bucket || !strings.HasPrefix(a.Bucket, "dst-tests3-") {
		t.Fatalf("buckets %q and %q are not fresh and distinct", a.Bucket, b.Bucket)
	}
	ctx := context.Background()
	a.Put(t, "segments/wiki/index.zip", []byte("PK\x03\x04 payload"))
	c := a.Client(t)
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String("segments/wiki/index.zip")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(body) != "PK\x03\x04 payload" {
		t.Errorf("got %q back", body)
	}
	list, err := b.Client(t).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket)})
	if err != nil || len(list.Contents) != 0 {
		t.Errorf("b lists %d objects (%v), want none", len(list.Contents), err)
	}

	// Cleanup empties the bucket, unfinished multipart uploads included, and deletes it.
	var inner S3Bucket
	t.Run("cleanup", func(t *testing.T) {
		inner = S3(t)
		for i := range 3 {
			inner.Put(t, fmt.Sprintf("dir/obj-%d", i), bytes.Repeat([]byte{'x'}, 1000*i))
		}
		if _, err := inner.Client(t).CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(inner.Bucket), Key: aws.String("unfinished"),
		}); err != nil {
			t.Fatal(err)
		}
	})
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(inner.Bucket)})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadBucket %s after its test: %v; want NotFound", inner.Bucket, err)
	}
}

// curatorProbe is a real Curator/Jackson/Joda peer: through the chroot of its connect string it registers a
// service with x-discovery, takes a LeaderLatch, sees a node of its own through PathChildrenCache and writes a
// Smile document holding a Joda time.
const curatorProbe = `
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.recipes.cache.*;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.*;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.smile.SmileFactory;
import org.joda.time.*;

public class Probe {
  public static void main(String[] args) throws Exception {
    CuratorFramework c = CuratorFrameworkFactory.newClient(args[0], 4000, 4000, new ExponentialBackoffRetry(100, 3));
    c.start();
    if (!c.blockUntilConnected(10, TimeUnit.SECONDS)) throw new RuntimeException("no connection to " + args[0]);
    CountDownLatch seen = new CountDownLatch(1);
    PathChildrenCache cache = new PathChildrenCache(c, "/announcements", true);
    cache.getListenable().addListener((client, ev) -> {
      if (ev.getType() == PathChildrenCacheEvent.Type.CHILD_ADDED) seen.countDown();
    });
    cache.start();
    ObjectMapper smile = new ObjectMapper(new SmileFactory());
    String time = new DateTime(2024, 1, 1, 0, 0, DateTimeZone.UTC).plusDays(1).toString();
    c.create().creatingParentsIfNeeded().forPath("/announcements/probe", smile.writeValueAsBytes(Map.of("time", time)));
    if (!seen.await(10, TimeUnit.SECONDS)) throw new RuntimeException("PathChildrenCache saw nothing");
    LeaderLatch latch = new LeaderLatch(c, "/leader", "probe");
    latch.start();
    if (!latch.await(10, TimeUnit.SECONDS)) throw new RuntimeException("LeaderLatch: not leader");
    ServiceDiscovery<Void> sd = ServiceDiscoveryBuilder.builder(Void.class).client(c).basePath("/discovery").build();
    sd.start();
    sd.registerService(ServiceInstance.<Void>builder().name("druid:broker").address("127.0.0.1").port(8082).build());
    System.out.println("ok");
    // Ephemeral nodes go with the session; the persistent ones stay for the Go side to read.
    sd.close(); latch.close(); cache.close(); c.close();
  }
}
`

func TestJavaClasspath(t *testing.T) {
	t.Parallel()
	cp := JavaClasspath(t)
	z := ZooKeeper(t)
	src := filepath.Join(t.TempDir(), "Probe.java")
	if err := os.WriteFile(src, []byte(curatorProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", cp, src, z.ConnectString).CombinedOutput()
	// javac's notes (deprecated API) may come first; the probe's last word is "ok".
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); err != nil || lines[len(lines)-1] != "ok" {
		t.Fatalf("Curator probe with -cp %s: %v\n%s", cp, err, out)
	}
	conn := z.Conn(t)
	data, _, err := conn.Get(z.Path("/announcements/probe"))
	if err != nil {
		t.Fatalf("the node Curator wrote through the chroot: %v", err)
	}
	if !bytes.HasPrefix(data, []byte(":)\n")) || !bytes.Contains(data, []byte("2024-01-02T00:00:00.000Z")) {
		t.Errorf("node data %q is not Smile holding the Joda time", data)
	}
	for _, p := range []string{"/leader", "/discovery/druid:broker"} {
		if ok, _, err := conn.Exists(z.Path(p)); err != nil || !ok {
			t.Errorf("%s: exists=%v err=%v", z.Path(p), ok, err)
		}
	}
}

// fakeTB records how a helper ends a test: Fatal, Skip and FailNow end only the helper's goroutine.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	skipped  bool
	cleanups []func()
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any)                 { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) FailNow()                          { f.Fatalf("FailNow") }
func (f *fakeTB) Errorf(format string, args ...any) { f.TB.Logf("fake Errorf: "+format, args...) }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = true
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any)  { f.Skipf("") }
func (f *fakeTB) SkipNow()          { f.Skipf("") }
func (f *fakeTB) Cleanup(fn func()) { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
func runFake(t *testing.T, helper func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); helper(f) }()
	<-done
	f.runCleanups()
	return f
}

// TestUnavailableServiceFails checks the policy: a refused or silent service fails the test within seconds,
// naming the service, the address and the fix; it never skips.
func TestUnavailableServiceFails(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	silent := func() string { // accepts connections and never answers
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		return l.Addr().String()
	}()
	lim := limits{dial: 500 * time.Millisecond, op: time.Second}
	for _, tc := range []struct {
		name, service, addr string
		helper              func(testing.TB)
	}{
		{"zk-refused", "ZooKeeper", refused, func(tb testing.TB) { zooKeeperAt(tb, lim, []string{refused}) }},
		{"zk-silent", "ZooKeeper", silent, func(tb testing.TB) { zooKeeperAt(tb, lim, []string{silent}) }},
		{"pg-refused", "PostgreSQL", refused, func(tb testing.TB) { postgresAt(tb, lim, "postgres://postgres@"+refused+"/postgres") }},
		{"pg-silent", "PostgreSQL", silent, func(tb testing.TB) { postgresAt(tb, lim, "postgres://postgres@"+silent+"/postgres") }},
		{"mysql-refused", "MariaDB", refused, func(tb testing.TB) { mysqlAt(tb, lim, "mysql://druid:pw@"+refused+"/") }},
		{"mysql-silent", "MariaDB", silent, func(tb testing.TB) { mysqlAt(tb, lim, "mysql://druid:pw@"+silent+"/") }},
		{"s3-refused", "S3", refused, func(tb testing.TB) {
			s3At(tb, lim, S3Bucket{Endpoint: "http://" + refused, AccessKey: "a", SecretKey: "s", Region: "us-east-1"})
		}},
		{"s3-silent", "S3", silent, func(tb testing.TB) {
			s3At(tb, lim, S3Bucket{Endpoint: "http://" + silent, AccessKey: "a", SecretKey: "s", Region: "us-east-1"})
		}},
		{"setting-missing", "Nothing", EnvZK + "_NOT_SET", func(tb testing.TB) { setting(tb, "Nothing", EnvZK+"_NOT_SET") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			f := runFake(t, tc.helper)
			took := time.Since(start)
			if f.skipped || f.fatal == "" {
				t.Fatalf("skipped=%v fatal=%q; want the test failed", f.skipped, f.fatal)
			}
			for _, want := range []string{tc.service, tc.addr, "scripts/services.sh up"} {
				if !strings.Contains(f.fatal, want) {
					t.Errorf("message does not name %q:\n%s", want, f.fatal)
				}
			}
			if took > 3*lim.op {
				t.Errorf("took %v to fail", took)
			}
			t.Logf("failed after %v with: %s", took.Round(time.Millisecond), f.fatal)
		})
	}
}
