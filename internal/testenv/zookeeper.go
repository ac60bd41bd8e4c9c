package testenv

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkRoot holds every test's chroot.
const zkRoot = "/druid-sidecar-tests"

// zkSessionTimeout of the helper's own connections; the server (tickTime=500) accepts 1s..10s.
const zkSessionTimeout = 4 * time.Second

// ZK is a fresh, empty znode of ZooKeeper that a test uses as its root.
type ZK struct {
	Servers []string // host:port of each server
	Chroot  string   // the test's root znode, e.g. /druid-sidecar-tests/TestAnnounce-1f2e3d4c
	// ConnectString is the servers joined with commas, then Chroot: what Druid's druid.zk.service.host (and
	// Curator) accepts, e.g. 127.0.0.1:22181/druid-sidecar-tests/TestAnnounce-1f2e3d4c.
	ConnectString string
}

// ZooKeeper creates a fresh chroot znode for the test and deletes it, with everything below it, when the test
// ends.
func ZooKeeper(t testing.TB) ZK {
	t.Helper()
	Integration(t)
	servers := strings.Split(setting(t, "ZooKeeper", EnvZK), ",")
	return zooKeeperAt(t, defaultLimits, servers)
}

func zooKeeperAt(t testing.TB, lim limits, servers []string) ZK {
	t.Helper()
	z := ZK{Servers: servers, Chroot: zkRoot + "/" + uniqueName(t, "", '-', false, 80)}
	z.ConnectString = strings.Join(servers, ",") + z.Chroot
	addr := strings.Join(servers, ",")

	conn, err := zkConnect(t, lim, servers)
	if err != nil {
		fail(t, "ZooKeeper", addr, "connecting", err)
	}
	defer conn.Close()
	err = zkDo(lim, func() error {
		if _, err := conn.Create(zkRoot, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		_, err := conn.Create(z.Chroot, nil, 0, zk.WorldACL(zk.PermAll))
		return err
	})
	if err != nil {
		fail(t, "ZooKeeper", addr, "creating the test's chroot "+z.Chroot, err)
	}

	t.Cleanup(func() {
		// A connection of its own: the test may have broken or expired any other.
		conn, err := zkConnect(t, lim, servers)
		if err != nil {
			t.Errorf("testenv: ZooKeeper at %s: deleting the test's chroot %s: %v", addr, z.Chroot, err)
			return
		}
		defer conn.Close()
		if err := zkDo(lim, func() error { return zkDeleteTree(conn, z.Chroot) }); err != nil {
			t.Errorf("testenv: ZooKeeper at %s: deleting the test's chroot %s: %v", addr, z.Chroot, err)
		}
	})
	return z
}

// Path is p below the test's chroot: Path("/loadQueue/x") is Chroot+"/loadQueue/x"; Path("") and Path("/") are
// Chroot itself. Connections from Conn see the whole tree (go-zookeeper has no chroot), so prefix every path.
func (z ZK) Path(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return z.Chroot
	}
	return z.Chroot + "/" + p
}

// Conn returns a go-zookeeper connection with an established session, closed when the test ends. It is NOT
// confined to the chroot (go-zookeeper does not support one): build every path with z.Path.
func (z ZK) Conn(t testing.TB) *zk.Conn {
	t.Helper()
	conn, err := zkConnect(t, defaultLimits, z.Servers)
	if err != nil {
		fail(t, "ZooKeeper", strings.Join(z.Servers, ","), "connecting", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// zkConnect connects and waits, at most lim.op, for a session.
func zkConnect(t testing.TB, lim limits, servers []string) (*zk.Conn, error) {
	var dialErr error
	for _, s := range servers {
		c, err := netDial(s, lim.dial)
		if err == nil {
			_ = c.Close()
			dialErr = nil
			break
		}
		dialErr = errors.Join(dialErr, err)
	}
	if dialErr != nil {
		return nil, fmt.Errorf("unreachable: %w", dialErr)
	}
	lg := &zkLog{}
	conn, events, err := zk.Connect(servers, zkSessionTimeout, zk.WithLogger(lg))
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(lim.op)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil, fmt.Errorf("connection closed before a session was established%s", lg.last())
			}
			if ev.State == zk.StateHasSession {
				return conn, nil
			}
			if ev.State == zk.StateAuthFailed {
				conn.Close()
				return nil, fmt.Errorf("authentication failed%s", lg.last())
			}
		case <-timer.C:
			conn.Close()
			return nil, fmt.Errorf("no session within %v%s", lim.op, lg.last())
		}
	}
}

// zkDo runs f, which makes requests on a go-zookeeper connection, and gives up after lim.op: go-zookeeper's
// requests have no deadline of their own.
func zkDo(lim limits, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(lim.op):
		return fmt.Errorf("no answer within %v", lim.op)
	}
}

// zkDeleteTree deletes p and everything below it; nodes that vanish meanwhile are fine, and nodes that appear
// meanwhile (a test's goroutine still writing) are retried a few times.
func zkDeleteTree(conn *zk.Conn, p string) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = zkDeleteOnce(conn, p); !errors.Is(err, zk.ErrNotEmpty) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

func zkDeleteOnce(conn *zk.Conn, p string) error {
	children, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", p, err)
	}
	for _, c := range children {
		if err := zkDeleteOnce(conn, p+"/"+c); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("deleting %s: %w", p, err)
	}
	return nil
}

// zkLog keeps go-zookeeper's log lines (it logs every connect) for error messages instead of printing them.
type zkLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *zkLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 5 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *zkLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return " (go-zookeeper: " + strings.Join(l.lines, "; ") + ")"
}
