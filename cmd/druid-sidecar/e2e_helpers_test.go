package main

// Support for the process-level tests and benchmarks of `druid-sidecar serve` (serve_e2e_test.go,
// serve_bench_test.go): the binary is built once per test run, each node runs it as a child process on the real
// local services, and the node is driven only as Druid drives a Historical: a Coordinator's load queue
// (druidpeer.LoadPeon), a Broker's inventory sync (druidpeer.Syncer) and ZooKeeper reads.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/internal/zkproxy"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// e2eBaseKey is the S3 key prefix the tests' segments are pushed under, as druid.storage.baseKey would be.
const e2eBaseKey = "druid/segments"

// The binary is built on first use, so that runs that need no child process (-short, -run of other tests) do not
// pay for the build; TestMain removes it after the run.
var (
	e2eBuildOnce sync.Once
	e2eBuildDir  string
	e2eBinary    string
	e2eBuildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBuildDir != "" {
		os.RemoveAll(e2eBuildDir)
	}
	os.Exit(code)
}

// e2eRaceBuild reports whether this test binary was built with -race: the child is then built with it too, so that
// a data race in serve fails the test that ran into it.
func e2eRaceBuild() bool {
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

// serveBinary returns the path of a druid-sidecar binary built from this package's source.
func serveBinary(t testing.TB) string {
	t.Helper()
	testenv.Integration(t)
	e2eBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "druid-sidecar-e2e-")
		if err != nil {
			e2eBuildErr = err
			return
		}
		e2eBuildDir = dir
		// go test puts its own toolchain first in PATH, so "go" is the one that built this test.
		goTool, err := exec.LookPath("go")
		if err != nil {
			e2eBuildErr = fmt.Errorf("no go command in PATH to build druid-sidecar with: %w", err)
			return
		}
		args := []string{"build", "-o", filepath.Join(dir, "druid-sidecar")}
		if e2eRaceBuild() {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool, append(args, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			e2eBuildErr = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
			return
		}
		e2eBinary = filepath.Join(dir, "druid-sidecar")
	})
	if e2eBuildErr != nil {
		t.Fatalf("building druid-sidecar for the end-to-end tests: %v", e2eBuildErr)
	}
	return e2eBinary
}

// e2eChildEnv is the environment of a child process: this one's, without the druid_* variables the configuration
// would read and the AWS_* ones the S3 client would, so that only the node's properties file configures it.
func e2eChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "druid_") || strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "GORACE=") {
			continue
		}
		env = append(env, kv)
	}
	// A race report ends the child at once with status 66, which no test expects.
	return append(env, "GORACE=halt_on_error=1")
}

// e2eFreePort returns a loopback port that was free a moment ago: the child must listen on the port it announces,
// so it cannot take port 0.
func e2eFreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// nodeOpts shape an e2eNode.
type nodeOpts struct {
	// zkProxy puts a zkproxy between the node and ZooKeeper (session-loss faults).
	zkProxy bool
	// directS3 lets the node reach S3 without the fault proxy (benchmarks).
	directS3 bool
	// sets are extra key=value properties, after the defaults.
	sets []string
	// logLevel of the child; "" is debug.
	logLevel string
}

// e2eNode is one data server's setting: its ZooKeeper chroot, S3 bucket, cache directory, port and properties
// file. Several processes may run on it one after another (a restart over the same cache).
type e2eNode struct {
	t       testing.TB
	ZK      testenv.ZK
	Conn    *zk.Conn // direct to ZooKeeper, never through the proxy
	Bucket  testenv.S3Bucket
	S3      *faultproxy.Proxy // between the node and S3; nil with directS3
	ZKProxy *zkproxy.Proxy    // nil without zkProxy
	Cache   string            // the segment cache location
	Port    int
	Name    string // host:port, the node's identity in ZooKeeper
	URL     string
	Props   string // the properties file
	opts    nodeOpts

	zkConnect, s3URL string // what the node is told: through the proxies or not
}

func newE2ENode(t testing.TB, o nodeOpts) *e2eNode {
	t.Helper()
	n := &e2eNode{t: t, ZK: testenv.ZooKeeper(t), Bucket: testenv.S3(t), Cache: filepath.Join(t.TempDir(), "segment-cache"),
		Port: e2eFreePort(t), opts: o}
	n.Conn = n.ZK.Conn(t)
	n.Name = "127.0.0.1:" + strconv.Itoa(n.Port)
	n.URL = "http://" + n.Name
	zkConnect := n.ZK.ConnectString
	if o.zkProxy {
		p, err := zkproxy.New(n.ZK.Servers[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		n.ZKProxy = p
		zkConnect = p.Addr() + n.ZK.Chroot
	}
	s3URL := n.Bucket.Endpoint
	if !o.directS3 {
		p, err := faultproxy.New(n.Bucket.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		n.S3 = p
		s3URL = p.URL()
	}
	n.zkConnect, n.s3URL = zkConnect, s3URL
	n.Props = filepath.Join(t.TempDir(), "runtime.properties")
	n.writeProps()
	return n
}

// writeProps writes the node's properties file: its identity, ZooKeeper, S3 and cache, then nodeOpts.sets.
func (n *e2eNode) writeProps() {
	props := []string{
		"druid.host=127.0.0.1",
		"druid.bindOnHost=true",
		"druid.plaintextPort=" + strconv.Itoa(n.Port),
		"druid.zk.service.host=" + n.zkConnect,
		// Short, so that an expiry or a killed process's leftovers pass in seconds; the test server's tickTime of
		// 500 ms allows 1 s to 10 s.
		"druid.zk.service.sessionTimeoutMs=2000",
		"druid.zk.service.connectionTimeoutMs=2000",
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"20g"}]`, n.Cache),
		"druid.segmentCache.dropSegmentDelayMillis=2000",
		"druid.segmentCache.numLoadingThreads=2",
		"druid.storage.type=s3",
		"druid.storage.bucket=" + n.Bucket.Bucket,
		"druid.storage.baseKey=" + e2eBaseKey,
		"druid.s3.endpoint.url=" + n.s3URL,
		"druid.s3.endpoint.signingRegion=" + n.Bucket.Region,
		"druid.s3.enablePathStyleAccess=true",
		"druid.s3.accessKey=" + n.Bucket.AccessKey,
		"druid.s3.secretKey=" + n.Bucket.SecretKey,
	}
	props = append(props, n.opts.sets...)
	if err := os.WriteFile(n.Props, []byte(strings.Join(props, "\n")+"\n"), 0o600); err != nil {
		n.t.Fatal(err)
	}
}

// SetCache moves the node to another (new) segment cache location, for the next process started.
func (n *e2eNode) SetCache(dir string) {
	n.Cache = dir
	n.writeProps()
}

// Path is p below the node's chroot.
func (n *e2eNode) Path(p string) string { return n.ZK.Path(p) }

// DiscoveryPath is the node's internal-discovery znode.
func (n *e2eNode) DiscoveryPath() string {
	return n.Path("druid/internal-discovery/HISTORICAL/" + n.Name)
}

// BatchDir is the parent of the node's batch segment znodes.
func (n *e2eNode) BatchDir() string { return n.Path("druid/segments/" + n.Name) }

// LoadQueueDir is the node's ZooKeeper load queue.
func (n *e2eNode) LoadQueueDir() string { return n.Path("druid/loadQueue/" + n.Name) }

// InfoDir is the cache's info_dir.
func (n *e2eNode) InfoDir() string { return filepath.Join(n.Cache, "info_dir") }

// serveProc is one running `druid-sidecar serve`.
type serveProc struct {
	t      testing.TB
	node   *e2eNode
	cmd    *exec.Cmd
	stderr *lockedBuffer
	start  time.Time
	done   chan struct{}
	state  *os.ProcessState // set before done is closed
}

// Start runs `druid-sidecar serve --properties <node's file>` and returns at once; Ready waits for it. The process
// is killed when the test ends if it still runs, and its log is shown if the test failed.
func (n *e2eNode) Start() *serveProc {
	t := n.t
	t.Helper()
	level := n.opts.logLevel
	if level == "" {
		level = "debug"
	}
	cmd := exec.Command(serveBinary(t), "serve", "--properties", n.Props, "--log-level", level)
	cmd.Env = e2eChildEnv()
	p := &serveProc{t: t, node: n, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting druid-sidecar serve: %v", err)
	}
	go func() {
		cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		p.checkLog()
		if t.Failed() {
			t.Logf("log of druid-sidecar serve (pid %d), last 12 KiB:\n%s", cmd.Process.Pid, tail(p.stderr.String(), 12<<10))
		}
	})
	return p
}

// StartReady is Start, then Ready.
func (n *e2eNode) StartReady() *serveProc {
	n.t.Helper()
	p := n.Start()
	p.Ready(30 * time.Second)
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// checkLog fails the test on a data race or a panic of the child.
func (p *serveProc) checkLog() {
	log := p.stderr.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
		if strings.Contains(log, bad) {
			p.t.Errorf("druid-sidecar serve (pid %d) reported %q", p.cmd.Process.Pid, strings.TrimSpace(bad))
		}
	}
}

// Exited reports whether the process has ended.
func (p *serveProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Ready waits until the node is announced to internal discovery (its /status/selfDiscovered/status says so), as a
// Broker or Coordinator would first see it, and fails the test if the process exits or the time passes first.
func (p *serveProc) Ready(timeout time.Duration) time.Duration {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(p.node.URL + "/status/selfDiscovered/status")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"selfDiscovered":true`) {
				return time.Since(p.start)
			}
		}
		if p.Exited() {
			p.t.Fatalf("druid-sidecar serve exited (%v) before it was ready", p.state)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("druid-sidecar serve was not announced within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig to the process.
func (p *serveProc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("sending %v to druid-sidecar serve: %v", sig, err)
	}
}

// Wait waits for the process to exit and returns its exit status (-1 when a signal ended it) and how long it took;
// it fails the test after timeout.
func (p *serveProc) Wait(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	select {
	case <-p.done:
		return p.state.ExitCode(), time.Since(start)
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("druid-sidecar serve did not exit within %v", timeout)
		return 0, 0
	}
}

// Stop sends SIGTERM and fails the test unless the process exits with status 0 within 30 s (the agent's
// shutdown deadline).
func (p *serveProc) Stop() time.Duration {
	p.t.Helper()
	p.Signal(syscall.SIGTERM)
	code, took := p.Wait(35 * time.Second)
	if code != exitOK {
		p.t.Fatalf("druid-sidecar serve exited with %d after SIGTERM, want 0", code)
	}
	return took
}

// Kill9 kills the process with SIGKILL and waits for it.
func (p *serveProc) Kill9() {
	p.t.Helper()
	p.Signal(syscall.SIGKILL)
	p.Wait(10 * time.Second)
}

// Metric returns the value of one series of the node's /metrics (such as
// `druid_sidecar_segment_loads_total{result="success"}`), and false when the node does not expose it.
func (n *e2eNode) Metric(series string) (float64, bool) {
	n.t.Helper()
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		n.t.Fatalf("reading /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// MustMetric is Metric, failing the test when the series is absent.
func (n *e2eNode) MustMetric(series string) float64 {
	n.t.Helper()
	v, ok := n.Metric(series)
	if !ok {
		n.t.Fatalf("/metrics has no series %s", series)
	}
	return v
}

// runBinary runs the built binary with args (a CLI command other than serve) and returns its exit status and
// output.
func runBinary(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(serveBinary(t), args...)
	cmd.Env = e2eChildEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running druid-sidecar %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// VerifyCache runs `druid-sidecar cache verify` on the node's cache and fails the test unless it finds no problem.
// It returns the number of complete segments it reports.
func (n *e2eNode) VerifyCache() int {
	n.t.Helper()
	code, stdout, stderr := runBinary(n.t, "cache", "verify", "--properties", n.Props)
	if code != exitOK || !strings.Contains(stdout, "; 0 problems") {
		n.t.Fatalf("druid-sidecar cache verify: exit %d, want 0 with no problem:\n%s%s", code, stdout, stderr)
	}
	var segs int
	fmt.Sscanf(stdout[strings.LastIndex(strings.TrimSpace(stdout), "\n")+1:], "%d complete segments", &segs)
	return segs
}

// InfoDirIDs lists the names in info_dir (segment ids), without dot-files (temporary files of an atomic write).
func (n *e2eNode) InfoDirIDs() []string {
	n.t.Helper()
	des, err := os.ReadDir(n.InfoDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		n.t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") {
			out = append(out, de.Name())
		}
	}
	sort.Strings(out)
	return out
}

// CacheFiles lists the regular files of the cache location (relative paths), info_dir excluded.
func (n *e2eNode) CacheFiles() []string {
	n.t.Helper()
	var out []string
	filepath.WalkDir(n.Cache, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(n.Cache, p)
		if d.IsDir() && rel == "info_dir" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// e2eSegmentZip builds the index.zip of a segment of dataSource for day (days since 2025-01-01) with chunk bytes of
// column data, and its DataSegment (an s3_zip loadSpec in the node's bucket).
func (n *e2eNode) e2eSegmentZip(dataSource string, day, chunk int) ([]byte, *segments.DataSegment) {
	n.t.Helper()
	z, err := e2eIndexZip(chunk)
	if err != nil {
		n.t.Fatal(err)
	}
	return z.data, sandbox.Segment(dataSource, day, 0, 1, n.Bucket.Bucket, e2eBaseKey, z.size)
}

type e2eZip struct {
	data []byte
	size int64
}

var (
	e2eZipsMu sync.Mutex
	e2eZips   = map[int]e2eZip{}
)

// e2eIndexZip returns an index.zip with chunk bytes of column data, built once per size: under -race building one
// takes about a second per 256 KiB, and segments that differ only in their interval may share their files.
func e2eIndexZip(chunk int) (e2eZip, error) {
	e2eZipsMu.Lock()
	defer e2eZipsMu.Unlock()
	if z, ok := e2eZips[chunk]; ok {
		return z, nil
	}
	data, size, err := sandbox.IndexZip(uint64(chunk), chunk)
	if err != nil {
		return e2eZip{}, err
	}
	e2eZips[chunk] = e2eZip{data, size}
	return e2eZips[chunk], nil
}

// PutSegment pushes a segment to S3 in Druid's index.zip layout, where Druid's S3 pusher puts it, and returns its
// DataSegment.
func (n *e2eNode) PutSegment(dataSource string, day, chunk int) *segments.DataSegment {
	n.t.Helper()
	data, s := n.e2eSegmentZip(dataSource, day, chunk)
	n.Bucket.Put(n.t, e2eS3Key(s), data)
	return s
}

// e2eS3Key is where PutSegment stored a segment.
func e2eS3Key(s *segments.DataSegment) string { return sandbox.Key(e2eBaseKey, s.ID()) }

// e2eTombstone is a tombstone of dataSource for day.
func e2eTombstone(dataSource string, day int) *segments.DataSegment {
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000)
	s := segments.NewTombstone(dataSource, segments.Interval{Start: start, End: start + 86400000}, "2025-10-01T12:00:00.000Z")
	return &s
}

// S3Gets counts the GET requests the S3 proxy forwarded or answered for the key.
func (n *e2eNode) S3Gets(key string) int {
	c := 0
	for _, r := range n.S3.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/"+key) {
			c++
		}
	}
	return c
}

// ---- the Coordinator ---------------------------------------------------------------------------------------------

// recorder keeps every 200 body the Coordinator's peon receives, to count what the node answered per request.
type recorder struct {
	base http.RoundTripper
	// afterOK, when set, sees each 200 body before the peon does.
	afterOK func(body []byte)
	mu      sync.Mutex
	oks     [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.oks = append(r.oks, body)
	r.mu.Unlock()
	if r.afterOK != nil {
		r.afterOK(body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// peonAnswer is one entry of a changeRequests response: the request it answers and its state.
type peonAnswer struct {
	Key   druidpeer.PeonKey
	State string
}

// parseAnswers reads a changeRequests 200 body as the Coordinator does, matching each entry by the request echoed.
func parseAnswers(body []byte) ([]peonAnswer, error) {
	var items []struct {
		Request json.RawMessage      `json:"request"`
		Status  druidpeer.PeonStatus `json:"status"`
	}
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("a changeRequests response is not a JSON list: %w\n%s", err, body)
	}
	out := make([]peonAnswer, len(items))
	for i, it := range items {
		var cr segments.ChangeRequest
		if err := cr.UnmarshalJSON(it.Request); err != nil {
			return nil, fmt.Errorf("a changeRequests response entry does not echo its request: %w\n%s", err, it.Request)
		}
		out[i] = peonAnswer{Key: druidpeer.PeonKey{Action: cr.Action, ID: cr.Segment.ID()}, State: it.Status.State}
	}
	return out, nil
}

// statesSeen counts, over every recorded response, the states each (action, segment) was answered with.
func (r *recorder) statesSeen(t testing.TB) map[druidpeer.PeonKey]map[string]int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[druidpeer.PeonKey]map[string]int{}
	for _, body := range r.oks {
		answers, err := parseAnswers(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range answers {
			if out[a.Key] == nil {
				out[a.Key] = map[string]int{}
			}
			out[a.Key][a.State]++
		}
	}
	return out
}

// coordinator is a Coordinator's load queue for the node (HttpLoadQueuePeon): batches of batch requests (the
// node's numLoadingThreads, as a 33+ Coordinator takes it from loadCapabilities), each held at most hostTimeout.
func (n *e2eNode) coordinator(batch int, hostTimeout time.Duration) (*druidpeer.LoadPeon, *recorder) {
	rec := &recorder{base: &http.Transport{MaxIdleConnsPerHost: 8}}
	return &druidpeer.LoadPeon{URL: n.URL, BatchSize: batch, HostTimeout: hostTimeout, RepeatDelay: 100 * time.Millisecond,
		Client: &http.Client{Transport: rec, Timeout: hostTimeout + druidpeer.HTTPTimeoutExtra}}, rec
}

// drain sends the peon's queue until it is empty, failing the test after timeout.
func drain(t testing.TB, p *druidpeer.LoadPeon, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("the Coordinator's load queue did not drain within %v: %v (%d still queued, stats %+v)", timeout, err, p.Queued(), p.Stats())
	}
}

// mustResult returns the final status of a request, failing the test when it has none.
func mustResult(t testing.TB, p *druidpeer.LoadPeon, action segments.Action, s *segments.DataSegment) druidpeer.PeonStatus {
	t.Helper()
	st, ok := p.Result(action, s.ID())
	if !ok {
		t.Fatalf("the Coordinator has no result for %s of %s", action, s.ID())
	}
	return st
}

func causeOf(s druidpeer.PeonStatus) string {
	if s.FailureCause == nil {
		return "<null>"
	}
	return *s.FailureCause
}

func modeOf(s druidpeer.PeonStatus) string {
	if s.LoadingMode == nil {
		return "<null>"
	}
	return *s.LoadingMode
}

// ---- the Broker --------------------------------------------------------------------------------------------------

// broker is a Broker's view of the node: a Syncer polling in the background, as ChangeRequestHttpSyncer does, with
// a check run on the replica after every poll; violations are kept for the test to report.
type broker struct {
	*druidpeer.Syncer
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	violations []string
	kinds      []druidpeer.Kind
}

// watchInventory starts a Broker's sync of the node. check, when not nil, sees the replica after every poll and
// returns "" or what is wrong with it.
func (n *e2eNode) watchInventory(check func(map[segments.SegmentID]*segments.DataSegment) string) *broker {
	s := druidpeer.New(druidpeer.Config{URL: n.URL, ServerTimeout: 2 * time.Second, BaseBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	b := &broker{Syncer: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for ctx.Err() == nil {
			resp, err := s.Poll(ctx)
			if ctx.Err() != nil {
				return
			}
			b.mu.Lock()
			b.kinds = append(b.kinds, resp.Kind)
			b.mu.Unlock()
			if check != nil && resp.Kind != druidpeer.Failure {
				if v := check(s.Segments()); v != "" {
					b.mu.Lock()
					b.violations = append(b.violations, fmt.Sprintf("after a %v poll: %s", resp.Kind, v))
					b.mu.Unlock()
				}
			}
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(s.Backoff(s.Stats().ConsecutiveFailures)):
				}
			}
		}
	}()
	n.t.Cleanup(b.Stop)
	return b
}

// Stop ends the sync.
func (b *broker) Stop() {
	b.cancel()
	<-b.done
}

// Violations are what the check found wrong so far.
func (b *broker) Violations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.violations)
}

// Kinds are the outcomes of the polls so far.
func (b *broker) Kinds() []druidpeer.Kind {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.kinds)
}

// WaitIDs waits until the replica holds exactly want, failing the test after timeout.
func (b *broker) WaitIDs(t testing.TB, timeout time.Duration, want ...*segments.DataSegment) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	wantIDs := idStrings(want)
	err := b.WaitFor(ctx, func(segs map[segments.SegmentID]*segments.DataSegment, _ *inventory.Counter) bool {
		return slices.Equal(replicaIDs(segs), wantIDs)
	})
	if err != nil {
		t.Fatalf("the Broker's view of the node is not the %d segments expected within %v:\n got %v\nwant %v",
			len(want), timeout, replicaIDs(b.Segments()), wantIDs)
	}
}

func idStrings(segs []*segments.DataSegment) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.ID().String()
	}
	sort.Strings(out)
	return out
}

func replicaIDs(segs map[segments.SegmentID]*segments.DataSegment) []string {
	out := make([]string, 0, len(segs))
	for id := range segs {
		out = append(out, id.String())
	}
	sort.Strings(out)
	return out
}

// fullSync is a new Broker's first look at the node: counter=-1, the whole inventory.
func (n *e2eNode) fullSync(t testing.TB) []string {
	t.Helper()
	s := druidpeer.New(druidpeer.Config{URL: n.URL, ServerTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := s.Poll(ctx)
	if err != nil || resp.Kind != druidpeer.FullSync {
		t.Fatalf("a Broker's full sync of the node: %v (%v)", err, resp.Kind)
	}
	return replicaIDs(s.Segments())
}

// ---- ZooKeeper ---------------------------------------------------------------------------------------------------

// zkNode is one znode's raw data and owner.
type zkNode struct {
	Data  []byte
	Owner int64 // the session owning an ephemeral znode
}

// decodeZNode gunzips announcement data when it is gzip (Druid's default), as Druid's readers do.
func decodeZNode(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// Batches reads the node's batch segment znodes: name to raw data and owner. Absent is an empty map.
func (n *e2eNode) Batches() (map[string]zkNode, error) {
	names, _, err := n.Conn.Children(n.BatchDir())
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]zkNode{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", n.BatchDir(), err)
	}
	out := make(map[string]zkNode, len(names))
	for _, name := range names {
		data, st, err := n.Conn.Get(n.BatchDir() + "/" + name)
		if errors.Is(err, zk.ErrNoNode) {
			continue // removed while reading: the caller retries
		}
		if err != nil {
			return nil, fmt.Errorf("reading batch znode %s: %w", name, err)
		}
		out[name] = zkNode{Data: data, Owner: st.EphemeralOwner}
	}
	return out, nil
}

// batchSegmentIDs decodes batch znodes into the segment ids they announce, sorted, with duplicates kept (a segment
// announced twice is an error the caller sees as a repeat).
func batchSegmentIDs(batches map[string]zkNode) ([]string, error) {
	var out []string
	for name, b := range batches {
		raw, err := decodeZNode(b.Data)
		if err != nil {
			return nil, fmt.Errorf("batch znode %s: %w", name, err)
		}
		var segs []segments.DataSegment
		if err := json.Unmarshal(raw, &segs); err != nil {
			return nil, fmt.Errorf("batch znode %s is not a JSON array of DataSegment: %w", name, err)
		}
		for i := range segs {
			out = append(out, segs[i].ID().String())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Discovery reads the node's internal-discovery znode; ok is false when it does not exist.
func (n *e2eNode) Discovery() (zkNode, bool) {
	n.t.Helper()
	data, st, err := n.Conn.Get(n.DiscoveryPath())
	if errors.Is(err, zk.ErrNoNode) {
		return zkNode{}, false
	}
	if err != nil {
		n.t.Fatalf("reading %s: %v", n.DiscoveryPath(), err)
	}
	return zkNode{Data: data, Owner: st.EphemeralOwner}, true
}

// eventually retries check every 50 ms until it returns nil, and fails the test with its last error after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
