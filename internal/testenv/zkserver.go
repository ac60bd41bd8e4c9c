package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ZKServer is a private ZooKeeper server for one test (Debian's ZooKeeper jars, java ZooKeeperServerMain) with
// its own data directory and loopback port and tickTime=500, so sessions of 1 to 10 s are accepted. A test that
// stops or restarts a server uses this one, never the shared server of scripts/services.sh.
type ZKServer struct {
	Addr string // 127.0.0.1:port, the same across restarts

	t       testing.TB
	dir     string
	logPath string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
}

// zkServerJars are what ZooKeeperServerMain needs, as scripts/services.sh runs it.
var zkServerJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar"}

// ZooKeeperServer starts a private server and stops it when the test ends. The test fails if java or a jar is
// missing or the server does not answer within 30 s.
func ZooKeeperServer(t testing.TB) *ZKServer {
	t.Helper()
	Integration(t)
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("testenv: private ZooKeeper: %v.\n\tfix: install a Java runtime (Java 17); %s.", err, fix)
	}
	for _, j := range zkServerJars {
		if _, err := os.Stat(filepath.Join("/usr/share/java", j)); err != nil {
			t.Fatalf("testenv: private ZooKeeper: %v.\n\tfix: %s (it installs Debian's zookeeper).", err, fix)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: private ZooKeeper: finding a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	s := &ZKServer{Addr: "127.0.0.1:" + strconv.Itoa(port), t: t, dir: dir, logPath: filepath.Join(dir, "zookeeper.log")}
	cfg := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\nforceSync=no\n",
		filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Start starts the server (again) on the same port and data directory and waits until it answers ruok.
func (s *ZKServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	cp := make([]string, len(zkServerJars))
	for i, j := range zkServerJars {
		cp[i] = filepath.Join("/usr/share/java", j)
	}
	cmd := exec.Command("java", "-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.jmx.log4j.disable=true", "-cp", strings.Join(cp, ":"),
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(s.dir, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testenv: private ZooKeeper: starting java: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for !zkRuok(s.Addr) {
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("testenv: private ZooKeeper on %s exited at start:\n%s", s.Addr, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testenv: private ZooKeeper on %s does not answer ruok after 30 s:\n%s", s.Addr, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL, as a crash) and waits until it has exited. Its data directory stays, so Start
// brings back the same tree and sessions.
func (s *ZKServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the server, waits for down, and starts it again.
func (s *ZKServer) Restart(down time.Duration) {
	s.t.Helper()
	s.Stop()
	time.Sleep(down)
	s.Start()
}

func (s *ZKServer) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// zkRuok reports whether a ZooKeeper server at addr answers the ruok four-letter word with imok.
func zkRuok(addr string) bool {
	answer, _ := zkFourLetterWord(addr, "ruok")
	return answer == "imok"
}
