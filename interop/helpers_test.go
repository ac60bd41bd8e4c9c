package interop

// Support for the interop tests: the druid-sidecar and example upstream binaries, built once per run, and a
// `serve` node configured as an operator would configure a Historical joining the real cluster: the cluster's
// common properties, its own port, tier and segment cache, and the upstream beside it.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/realdruid"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

func TestMain(m *testing.M) {
	defer func() {
		if buildDir != "" {
			os.RemoveAll(buildDir)
		}
	}()
	realdruid.Main(m)
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries returns the paths of druid-sidecar and of examples/upstream, built from this checkout (with -race when
// this test binary was, so that a data race in serve fails the test that ran into it).
func binaries(t testing.TB) (sidecar, upstream string) {
	t.Helper()
	testenv.Integration(t)
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "druid-sidecar-interop-"); buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go") // go test puts its own toolchain first in PATH
		if err != nil {
			buildErr = fmt.Errorf("no go command in PATH: %w", err)
			return
		}
		for _, b := range []struct{ out, pkg string }{{"druid-sidecar", "../cmd/druid-sidecar"}, {"upstream", "../examples/upstream"}} {
			args := []string{"build", "-o", filepath.Join(buildDir, b.out)}
			if raceBuild() {
				args = append(args, "-race")
			}
			out, err := exec.Command(goTool, append(args, b.pkg)...).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go %s %s: %w\n%s", strings.Join(args, " "), b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binaries: %v", buildErr)
	}
	return filepath.Join(buildDir, "druid-sidecar"), filepath.Join(buildDir, "upstream")
}

func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// childEnv is this process's environment without what would configure a child besides its properties file.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "druid_") || strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "GORACE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GORACE=halt_on_error=1")
}

// freePort is a loopback port that was free a moment ago: a node must listen on the port it announces.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// uniqueName is prefix and 8 random hex digits: datasources and tiers of one run never meet another's.
func uniqueName(prefix string) string { return fmt.Sprintf("%s%08x", prefix, rand.Uint32()) }

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a child process that is killed when the test ends, its output shown if the test failed.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// startProc starts args; its stdout goes to stdout when not nil (closed when it exits), else with stderr to the
// kept output.
func startProc(t testing.TB, name string, stdout io.WriteCloser, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, cmd: exec.Command(args[0], args[1:]...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = childEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		if stdout != nil {
			stdout.Close()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
		for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if strings.Contains(p.out.String(), bad) {
				t.Errorf("%s (pid %d) reported %q", name, p.cmd.Process.Pid, strings.TrimSpace(bad))
			}
		}
		if t.Failed() {
			out := p.out.String()
			if len(out) > 16<<10 {
				out = "…" + out[len(out)-16<<10:]
			}
			t.Logf("output of %s (pid %d), last 16 KiB:\n%s", name, p.cmd.Process.Pid, out)
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and fails the test unless the process exits with status 0 within timeout.
func (p *proc) stop(timeout time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM to %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within %v of SIGTERM", p.name, timeout)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("%s exited with %d after SIGTERM, want 0", p.name, code)
	}
	return time.Since(start)
}

// upstream is a running examples/upstream: the local segment server beside serve.
type upstream struct {
	*proc
	URL string
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	_, bin := binaries(t)
	// The first line says where it listens; the rest is kept for the failure log.
	pr, pw := io.Pipe()
	p := startProc(t, "examples/upstream", pw, bin, "-listen", "127.0.0.1:0")
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(p.out, pr)
	}()
	select {
	case l := <-line:
		url, ok := strings.CutPrefix(l, "listening on ")
		if !ok {
			t.Fatalf("examples/upstream printed %q, want \"listening on http://ADDR\"", l)
		}
		return &upstream{proc: p, URL: url}
	case <-time.After(30 * time.Second):
		t.Fatal("examples/upstream did not say where it listens within 30s")
		return nil
	}
}

// Segments lists the ids of the segments the upstream holds (its load hook was called, its drop hook not since).
func (u *upstream) Segments(t testing.TB) []string {
	t.Helper()
	code, b := realdruid.Do(t, "GET", u.URL+"/druid-sidecar/v1/segments", nil)
	if code != 200 {
		t.Fatalf("upstream's segment list: HTTP %d: %s", code, b)
	}
	var list []struct{ ID string }
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("upstream's segment list: %v: %s", err, b)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	sort.Strings(ids)
	return ids
}

// serveNode is one Historical played by `druid-sidecar serve` in the real cluster: its properties file, port,
// tier and segment cache, and S3 reached through a proxy that counts its requests.
type serveNode struct {
	t     testing.TB
	c     *realdruid.Cluster
	Host  string // host:port, its name in the cluster
	URL   string
	Tier  string
	Cache string
	Props string
	S3    *faultproxy.Proxy
}

func newServeNode(t testing.TB, c *realdruid.Cluster, tier, upstreamURL string, extra ...string) *serveNode {
	t.Helper()
	port := freePort(t)
	n := &serveNode{t: t, c: c, Host: "127.0.0.1:" + strconv.Itoa(port), Tier: tier,
		Cache: filepath.Join(t.TempDir(), "segment-cache"), Props: filepath.Join(t.TempDir(), "runtime.properties")}
	n.URL = "http://" + n.Host
	p, err := faultproxy.New(c.S3Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	n.S3 = p
	var props []string
	for _, kv := range c.CommonProperties() {
		if strings.HasPrefix(kv, "druid.s3.endpoint.url=") {
			kv = "druid.s3.endpoint.url=" + p.URL() // through the counting proxy
		}
		props = append(props, kv)
	}
	props = append(props,
		"druid.service=druid/historical",
		"druid.host=127.0.0.1",
		"druid.plaintextPort="+strconv.Itoa(port),
		"druid.server.tier="+tier,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, n.Cache),
		"druid.segmentCache.dropSegmentDelayMillis=1000",
		"druid.sidecar.upstream="+upstreamURL,
	)
	props = append(props, extra...)
	if err := os.WriteFile(n.Props, []byte(strings.Join(props, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// Start runs `druid-sidecar serve` on the node's properties and waits until it is announced.
func (n *serveNode) Start() *proc {
	n.t.Helper()
	bin, _ := binaries(n.t)
	p := startProc(n.t, "druid-sidecar serve "+n.Host, nil, bin, "serve", "--properties", n.Props, "--log-level", "debug")
	realdruid.WaitFor(n.t, "serve "+n.Host+" discoverable", 60*time.Second, func() (bool, string) {
		if p.exited() {
			n.t.Fatalf("druid-sidecar serve exited (%v) before it was announced", p.cmd.ProcessState)
		}
		resp, err := http.Get(n.URL + "/status/selfDiscovered/status")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && bytes.Contains(b, []byte(`"selfDiscovered":true`)), string(b)
	})
	return p
}

// S3Gets counts the GETs the node sent to S3 since the proxy was last reset.
func (n *serveNode) S3Gets() int {
	var gets int
	for _, r := range n.S3.Requests() {
		if r.Method == http.MethodGet {
			gets++
		}
	}
	return gets
}

// Metric is the value of a series of the node's /metrics (0 when it is not exposed yet, as a counter never
// incremented is not).
func (n *serveNode) Metric(t testing.TB, series string) float64 {
	t.Helper()
	code, b := realdruid.Do(t, "GET", n.URL+"/metrics", nil)
	if code != 200 {
		t.Fatalf("serve's /metrics: HTTP %d", code)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("serve's /metrics: %q", line)
			}
			return f
		}
	}
	return 0
}

// CachedSegments lists the segment ids in the cache's info_dir (temporary dot-files aside).
func (n *serveNode) CachedSegments() []string {
	n.t.Helper()
	des, err := os.ReadDir(filepath.Join(n.Cache, "info_dir"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		n.t.Fatal(err)
	}
	var ids []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") {
			ids = append(ids, de.Name())
		}
	}
	sort.Strings(ids)
	return ids
}

// runCLI runs a druid-sidecar command other than serve and returns its exit status and output.
func runCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	bin, _ := binaries(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running druid-sidecar %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func ids(segs []realdruid.Segment) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.ID
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
