//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// buildSidecar builds cmd/druid-sidecar into the test's directory.
func buildSidecar(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "druid-sidecar")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/druid-sidecar")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/druid-sidecar: %v\n%s", err, out)
	}
	return bin
}

// TestSandbox runs the sandbox twice on fresh services, as `make sandbox` with SANDBOX_EXIT=1 would: the first run
// loads every seeded segment; the second finds a serve left running by an earlier sandbox, stops it, and has every
// segment served from the cache at once.
func TestSandbox(t *testing.T) {
	zk := testenv.ZooKeeper(t)
	pg := testenv.Postgres(t)
	s3 := testenv.S3(t)
	stateDir := t.TempDir()
	// The two builds at once: linking is most of this test's time on a busy machine. run finds the upstream
	// built and up to date.
	start := time.Now()
	upBuilt := make(chan error, 1)
	go func() { upBuilt <- buildUpstream(context.Background(), filepath.Join(stateDir, "bin", "upstream")) }()
	bin := buildSidecar(t)
	if err := <-upBuilt; err != nil {
		t.Fatal(err)
	}
	t.Logf("druid-sidecar and the example upstream built in %.1fs", time.Since(start).Seconds())
	o := options{
		stateDir: stateDir, bin: bin,
		zk: strings.Join(zk.Servers, ","), zkChroot: zk.Chroot,
		pgURL: pg.ConnString, database: pg.Database,
		s3Endpoint: s3.Endpoint, s3Region: s3.Region, s3AccessKey: s3.AccessKey, s3SecretKey: s3.SecretKey,
		bucket: s3.Bucket, baseKey: "druid/segments",
		port: 0, columnBytes: 32 << 10, exit: true, timeout: 90 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var first *session
	o.afterLoad = func(ctx context.Context, s *session) error {
		first = s
		checkServed(t, s)
		if p := s.result.Progress; p.Loads != len(s.seeded) || p.Loaded != len(s.seeded) || p.AlreadyServed != 0 {
			t.Errorf("first run: %+v, want every segment loaded", p)
		}
		// The first command the sandbox suggests names both leaders (the stand-in's) and serve's own version.
		out, err := exec.CommandContext(ctx, bin, "cluster", "--properties", s.propsPath).CombinedOutput()
		leaders := regexp.MustCompile(`Coordinator leader: (http://127\.0\.0\.1:\d+)\nOverlord leader: +(http://\S+)\n`).FindSubmatch(out)
		if err != nil || leaders == nil || string(leaders[1]) != string(leaders[2]) ||
			!regexp.MustCompile(`(?m)^HISTORICAL +127\.0\.0\.1:\d+ +druid/historical +druid-sidecar/`).Match(out) {
			t.Errorf("cluster (%v):\n%s", err, out)
		}
		return nil
	}
	var out bytes.Buffer
	start = time.Now()
	if err := run(ctx, o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("first run, %.1fs:\n%s", time.Since(start).Seconds(), out.String())
	if first == nil {
		t.Fatal("run returned without loading")
	}
	if len(first.seeded) != 9 {
		t.Errorf("%d segments seeded, want 9 (wikipedia 3×2, koalas 2×1 and a tombstone)", len(first.seeded))
	}
	for _, want := range []string{"cluster --properties", "/metrics | grep druid_sidecar", `"queryType":"timeBoundary"`,
		"/druid-internal/v1/segments?counter=-1&timeout="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not show %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(o.stateDir, "serve.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve.pid is still there after the run (%v)", err)
	}

	// A serve left running, as when an earlier sandbox was killed: same configuration, same cache.
	stale := exec.Command(bin, "serve", "--properties", first.propsPath, "--set", "druid.sidecar.upstream=")
	stale.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := stale.Start(); err != nil {
		t.Fatal(err)
	}
	staleDone := make(chan struct{}) // closed once the stale serve has exited
	go func() {
		_ = stale.Wait()
		close(staleDone)
	}()
	t.Cleanup(func() {
		_ = stale.Process.Kill()
		<-staleDone
	})
	if err := os.WriteFile(filepath.Join(o.stateDir, "serve.pid"), []byte(strconv.Itoa(stale.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitOK(t, first.serveURL+"/druid/historical/v1/readiness", staleDone)

	var second *session
	o.afterLoad = func(ctx context.Context, s *session) error {
		second = s
		checkServed(t, s)
		if p := s.result.Progress; p.Loads != 0 || p.AlreadyServed != len(s.seeded) {
			t.Errorf("second run: %+v, want every segment served from the cache", p)
		}
		return nil
	}
	out.Reset()
	start = time.Now()
	if err := run(ctx, o, &out); err != nil {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}
	t.Logf("second run, %.1fs:\n%s", time.Since(start).Seconds(), out.String())
	if second == nil {
		t.Fatal("the second run returned without loading")
	}
	if !strings.Contains(out.String(), "stopping the serve left running by an earlier sandbox (pid "+strconv.Itoa(stale.Process.Pid)+")") {
		t.Error("the second run does not say it stopped the stale serve")
	}
	select {
	case <-staleDone:
	default:
		t.Error("the stale serve still runs after the second run")
	}
}

// checkServed checks, while serve runs, that every seeded segment is loaded, in the Broker's view and in serve's
// inventory, and that a query through serve reaches the upstream.
func checkServed(t *testing.T, s *session) {
	t.Helper()
	if !s.result.Progress.Done {
		t.Errorf("loading not done: %+v", s.result.Progress)
	}
	inv := servedSegments(t, s.serveURL)
	for _, seg := range s.seeded {
		if s.result.Broker[seg.ID()] == nil {
			t.Errorf("%s is not in the Broker's view", seg.ID())
		}
		if !inv[seg.ID()] {
			t.Errorf("%s is not in serve's inventory", seg.ID())
		}
	}
	if len(inv) != len(s.seeded) {
		t.Errorf("serve's inventory has %d segments, %d were seeded", len(inv), len(s.seeded))
	}
	if q := s.query; q.err != nil || q.status != http.StatusOK || !strings.Contains(q.body, `"minTime":"2025-01-01T00:00:00.000Z"`) {
		t.Errorf("timeBoundary through serve: %d %s (%v); want 200 with wikipedia's first instant from the upstream", q.status, q.body, q.err)
	}
}

// servedSegments reads serve's segment inventory as JSON, a full snapshot.
func servedSegments(t *testing.T, serveURL string) map[segments.SegmentID]bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, serveURL+"/druid-internal/v1/segments?counter=-1&timeout=1000", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inventory: HTTP %d %s", resp.StatusCode, body)
	}
	out := map[segments.SegmentID]bool{}
	if _, err := inventory.Decode(bytes.NewReader(body), func(r *segments.ChangeRequest, _ []byte) error {
		if r.Action == segments.ActionLoad {
			out[r.Segment.ID()] = true
		}
		return nil
	}); err != nil {
		t.Fatalf("inventory: %v\n%s", err, body)
	}
	return out
}

// waitOK waits until url answers 200, failing the test if exited is closed first or 30 s pass.
func waitOK(t *testing.T, url string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("the process exited before %s answered", url)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not answer 200 within 30 s", url)
}

// TestStopStaleLeavesOthersAlone: a pid file whose process is not the sandbox's (the pid was reused) is removed,
// and the process is not signalled.
func TestStopStaleLeavesOthersAlone(t *testing.T) {
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- other.Wait() }()
	defer func() {
		_ = other.Process.Kill()
		<-done
	}()
	pidFile := filepath.Join(t.TempDir(), "serve.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(other.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := stopStale(pidFile, "/nowhere/runtime.properties", "serve", &printer{w: &out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pid file is still there (%v)", err)
	}
	select {
	case err := <-done:
		done <- err
		t.Fatalf("the unrelated process was stopped: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if out.Len() != 0 {
		t.Errorf("printed %q for a process that is not the sandbox's", out.String())
	}
}

func TestPropertiesResolve(t *testing.T) {
	o := options{zk: "127.0.0.1:1", zkChroot: "/sb", bucket: "b", baseKey: "k", s3AccessKey: "a", s3SecretKey: `s\cret`,
		s3Endpoint: "http://127.0.0.1:2", s3Region: "us-east-1"}
	props, err := properties(o, 1234, `/tmp/cache dir/"q"`, "postgres://u:pw@127.0.0.1:3/sandbox?sslmode=disable", "http://127.0.0.1:4")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "runtime.properties")
	if err := os.WriteFile(path, props, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadProps(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, props)
	}
	if cfg.Node.HostAndPortToUse() != "127.0.0.1:1234" || cfg.ZK.Service.Host != "127.0.0.1:1/sb" ||
		cfg.Metadata.ConnectURI != "jdbc:postgresql://127.0.0.1:3/sandbox" || cfg.Sidecar.Upstream != "http://127.0.0.1:4" ||
		cfg.S3.SecretKey.Reveal() != `s\cret` || cfg.Metadata.Password.Reveal() != "pw" {
		t.Errorf("the configuration read back differs:\n%s", props)
	}
	locs := cfg.SegmentCache.Locations()
	if len(locs) != 1 || locs[0].Path != `/tmp/cache dir/"q"` {
		t.Errorf("segment cache locations %+v", locs)
	}
	if !slices.Contains(strings.Split(string(props), "\n"), "druid.bindOnHost=true") {
		t.Error("serve does not bind to 127.0.0.1 only")
	}
}
