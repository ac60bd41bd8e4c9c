package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/loadqueue"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func loadConfig(t *testing.T, sets ...string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets,
		Require: []configs.Requirement{configs.RequireHost, configs.RequireSegmentCache}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is an agent started by start; stop cancels it and waits for Run's result.
type running struct {
	a      *Agent
	url    string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg *configs.Config) *running {
	t.Helper()
	return startAgent(t, cfg, nil)
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of the cancel")
		return nil
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeLoadRestart(t *testing.T) {
	z := testenv.ZooKeeper(t)
	b := testenv.S3(t)
	cacheDir := t.TempDir()
	segs := putDailySegments(t, b, 3)
	config := func(port int, s3Endpoint string) *configs.Config {
		return loadConfig(t,
			"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(port),
			"druid.zk.service.host="+z.ConnectString,
			fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, cacheDir),
			"druid.s3.endpoint.url="+s3Endpoint, "druid.s3.enablePathStyleAccess=true",
			"druid.s3.accessKey="+b.AccessKey, "druid.s3.secretKey="+b.SecretKey,
			"druid.s3.endpoint.signingRegion="+b.Region)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := z.Conn(t)

	// First run: an empty cache; a Coordinator loads three segments from S3.
	port := freePort(t)
	cfg := config(port, b.Endpoint)
	r := start(t, cfg)
	if code, body := httpGet(t, r.url+HealthPath); code != 200 || strings.TrimSpace(body) != "true" {
		t.Errorf("%s: %d %q", HealthPath, code, body)
	}
	if code, _ := httpGet(t, r.url+ReadinessPath); code != 200 {
		t.Errorf("%s: %d, want 200", ReadinessPath, code)
	}
	if code, body := httpGet(t, r.url+LoadStatusPath); code != 200 || strings.TrimSpace(body) != `{"cacheInitialized":true}` {
		t.Errorf("%s: %d %q", LoadStatusPath, code, body)
	}
	if code, body := httpGet(t, r.url+SelfDiscoveredStatePath); code != 200 || strings.TrimSpace(body) != `{"selfDiscovered":true}` {
		t.Errorf("%s: %d %q", SelfDiscoveredStatePath, code, body)
	}
	code, body := httpGet(t, r.url+PropertiesPath)
	var props map[string]string
	if err := json.Unmarshal([]byte(body), &props); code != 200 || err != nil {
		t.Fatalf("%s: %d %v %q", PropertiesPath, code, err, body)
	}
	if props["druid.s3.secretKey"] != "<redacted>" || props["druid.host"] != "127.0.0.1" || strings.Contains(body, b.SecretKey) {
		t.Errorf("%s: secretKey %q, host %q", PropertiesPath, props["druid.s3.secretKey"], props["druid.host"])
	}
	if code, body := httpGet(t, r.url+StatusPath); code != 200 || !strings.Contains(body, `"version":"test"`) {
		t.Errorf("%s: %d %q", StatusPath, code, body)
	}
	if code, _ := httpGet(t, r.url+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof is off but /debug/pprof/ answers %d", code)
	}
	discovery := z.Path("/druid/internal-discovery/HISTORICAL/" + cfg.Node.HostAndPort())
	if ok, _, err := conn.Exists(discovery); err != nil || !ok {
		t.Fatalf("discovery znode %s: exists %v, %v", discovery, ok, err)
	}

	peon := &druidpeer.LoadPeon{URL: r.url, BatchSize: 3, HostTimeout: 10 * time.Second, RepeatDelay: 100 * time.Millisecond}
	for _, s := range segs {
		peon.Load(s)
	}
	if err := peon.Drain(ctx); err != nil {
		t.Fatalf("the Coordinator's load queue did not drain: %v (%+v)", err, peon.Stats())
	}
	for _, s := range segs {
		if st, ok := peon.Result(segments.ActionLoad, s.ID()); !ok || st.State != "SUCCESS" {
			t.Errorf("load %s: %+v (found %v)", s.ID(), st, ok)
		}
	}
	broker := druidpeer.New(druidpeer.Config{URL: r.url, ServerTimeout: 2 * time.Second})
	if resp, err := broker.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync || len(broker.Segments()) != 3 {
		t.Fatalf("Broker full sync: %v, %+v, %d segments", err, resp, len(broker.Segments()))
	}
	if ct := broker.Last().ContentType; ct != "application/x-jackson-smile" {
		t.Errorf("inventory Content-Type %q, want Smile", ct)
	}
	if _, body := httpGet(t, r.url+MetricsPath); !strings.Contains(body, `druid_sidecar_segment_loads_total{result="success"} 3`) {
		t.Errorf("/metrics lacks 3 successful loads:\n%s", grepLines(body, "druid_sidecar_segment_loads"))
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if ok, _, err := conn.Exists(discovery); err != nil || ok {
		t.Fatalf("discovery znode after shutdown: exists %v, %v", ok, err)
	}

	// Second run on the same cache, with deep storage unreachable: bootstrap announces the three segments
	// from the cache alone.
	cfg2 := config(freePort(t), "http://127.0.0.1:1")
	r2 := start(t, cfg2)
	broker2 := druidpeer.New(druidpeer.Config{URL: r2.url, ServerTimeout: 2 * time.Second})
	if resp, err := broker2.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync {
		t.Fatalf("Broker full sync after restart: %v, %+v", err, resp)
	}
	got := broker2.Segments()
	for _, s := range segs {
		if got[s.ID()] == nil {
			t.Errorf("after restart the inventory lacks %s", s.ID())
		}
	}
	if len(got) != 3 {
		t.Errorf("after restart the inventory has %d segments, want 3", len(got))
	}
	if _, body := httpGet(t, r2.url+MetricsPath); !strings.Contains(body, `druid_sidecar_segment_loads_total{result="success"} 0`) {
		t.Errorf("after restart segments were loaded again:\n%s", grepLines(body, "druid_sidecar_segment_loads"))
	}
	discovery2 := z.Path("/druid/internal-discovery/HISTORICAL/" + cfg2.Node.HostAndPort())
	if ok, _, err := conn.Exists(discovery2); err != nil || !ok {
		t.Fatalf("discovery znode %s after restart: exists %v, %v", discovery2, ok, err)
	}
	if err := r2.stop(t); err != nil {
		t.Fatalf("second Run after cancel: %v", err)
	}
	if ok, _, err := conn.Exists(discovery2); err != nil || ok {
		t.Fatalf("discovery znode after the second shutdown: exists %v, %v", ok, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// serveBinary builds serve without the race detector, whatever this test binary was built with, so that its
// memory is what an operator's process uses.
func serveBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "druid-sidecar")
	// go test puts its own toolchain first in PATH, so "go" is the one that built this test.
	if out, err := exec.Command("go", "build", "-o", path, "../cmd/druid-sidecar").CombinedOutput(); err != nil {
		t.Fatalf("building druid-sidecar: go build: %v\n%s", err, out)
	}
	return path
}

// procStatus reads a field of /proc/<pid>/status given in kB (VmHWM, VmRSS), in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s of /proc/%d/status: %q", field, pid, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// startServeProcess runs `druid-sidecar serve` as a child with the given properties (beside its identity,
// ZooKeeper and a cache) and waits until it is ready; it is killed when the test ends.
func startServeProcess(t *testing.T, sets ...string) (url string, pid int) {
	t.Helper()
	testenv.Integration(t)
	bin := serveBinary(t)
	z := testenv.ZooKeeper(t)
	port := freePort(t)
	dir := t.TempDir()
	props := append([]string{
		"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort=" + strconv.Itoa(port),
		"druid.zk.service.host=" + z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, filepath.Join(dir, "cache")),
		"druid.storage.type=local", "druid.storage.storageDirectory=" + filepath.Join(dir, "deep"),
	}, sets...)
	file := filepath.Join(dir, "runtime.properties")
	if err := os.WriteFile(file, []byte(strings.Join(props, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--properties", file, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "druid_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("log of druid-sidecar serve, last 8 KiB:\n%s", log[max(0, len(log)-8<<10):])
		}
	})
	url = "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + ReadinessPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, cmd.Process.Pid
			}
		}
		select {
		case <-exited:
			t.Fatalf("druid-sidecar serve exited during startup: %v", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("druid-sidecar serve was not ready within 30 s")
		}
	}
}

// loadBatch is a JSON list of load requests of about size bytes, for segments of a deep storage type the node
// does not know (their loads fail at once, pulling nothing).
func loadBatch(size int) []byte {
	body := []byte{'['}
	for day := 0; day == 0 || len(body) < size; day++ {
		if day > 0 {
			body = append(body, ',')
		}
		start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
		body = fmt.Appendf(body, `{"action":"load","dataSource":"wikipedia","interval":"%s/%s","version":"2025-01-01T00:00:00.000Z",`+
			`"loadSpec":{"type":"hdfs","path":"hdfs://namenode/druid/segments/wikipedia/%d/index.zip"},`+
			`"dimensions":"channel,cityName,comment,countryIsoCode,countryName,isAnonymous,isMinor,isNew,isRobot,isUnpatrolled,namespace,page,regionIsoCode,regionName,user",`+
			`"metrics":"count,added,deleted,delta","shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},"binaryVersion":9,"size":4096}`,
			start.Format("2006-01-02T15:04:05.000Z"), start.AddDate(0, 0, 1).Format("2006-01-02T15:04:05.000Z"), day)
	}
	return append(body, ']')
}

// lengthless hides a reader's length, so that the request body is sent chunked.
type lengthless struct{ io.Reader }

// 16 clients post 60 MB change request lists at once, first of unannounced length (read until the maximum or the
// budget stops them), then announced; then 16 lists just under the maximum, which the budget admits a few at a
// time. serve's peak resident memory stays under 256 MB, and it answers its health check all along and a
// Coordinator's batch after.
func TestServeMemoryUnderHugeChangeRequests(t *testing.T) {
	url, pid := startServeProcess(t)
	base := procStatus(t, pid, "VmRSS")

	healthy := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				healthy <- nil
				return
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := client.Get(url + HealthPath)
			if err != nil {
				healthy <- fmt.Errorf("health check during the flood: %w", err)
				return
			}
			resp.Body.Close()
		}
	}()

	flood := func(body []byte, chunked bool) map[string]int {
		outcomes := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				var r io.Reader = bytes.NewReader(body)
				if chunked {
					r = lengthless{r}
				}
				req, _ := http.NewRequest(http.MethodPost, url+loadqueue.ChangeRequestsPath+"?timeout=1000", r)
				req.Header.Set("Content-Type", "application/json")
				outcome := ""
				resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
				if err != nil {
					outcome = "connection closed before the answer was read"
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					outcome = strconv.Itoa(resp.StatusCode)
				}
				mu.Lock()
				outcomes[outcome]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return outcomes
	}
	huge := loadBatch(60_000_000)
	chunked := flood(huge, true)
	announced := flood(huge, false)
	peakHuge := procStatus(t, pid, "VmHWM")
	admissible := flood(loadBatch(loadqueue.DefaultMaxRequestBytes-1<<20), false)
	close(stop)
	if err := <-healthy; err != nil {
		t.Error(err)
	}
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("16 × 60 MB lists, chunked: %v; with their length: %v; 16 × 15 MiB lists: %v", chunked, announced, admissible)
	t.Logf("serve's resident memory: %.1f MB before, %.1f MB at its peak under the 60 MB lists, %.1f MB at its peak",
		float64(base)/1e6, float64(peakHuge)/1e6, float64(peak)/1e6)
	for outcome := range chunked {
		if outcome == "200" || outcome == "204" {
			t.Errorf("a 60 MB list was taken: %v", chunked)
		}
	}
	if admissible["200"]+admissible["204"] == 0 {
		// On a loaded machine the rejected floods may still hold the budget while these arrive; a Coordinator
		// resends after a 503, and so does this test, until a list under the maximum is taken.
		list := loadBatch(loadqueue.DefaultMaxRequestBytes - 1<<20)
		deadline := time.Now().Add(60 * time.Second)
		for taken := false; !taken; {
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Post(url+loadqueue.ChangeRequestsPath+"?timeout=1000", "application/json", bytes.NewReader(list))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				taken = resp.StatusCode == 200 || resp.StatusCode == 204
			}
			if !taken && time.Now().After(deadline) {
				t.Fatalf("no list under the maximum was taken, at once (%v) or resent for 60 s (last: %v)", admissible, err)
			}
			if !taken {
				time.Sleep(500 * time.Millisecond) // a Coordinator's resend interval is longer; this only paces retries
			}
		}
	}
	if peak >= 256e6 {
		t.Errorf("peak resident memory %.1f MB, want under 256 MB", float64(peak)/1e6)
	}
	// The budget is whole again: a Coordinator's batch is answered (a drop, which no load queued before holds up).
	batch := bytes.Replace(loadBatch(1), []byte(`"action":"load"`), []byte(`"action":"drop"`), 1)
	resp, err := http.Post(url+loadqueue.ChangeRequestsPath+"?timeout=5000", "application/json", bytes.NewReader(batch))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"state":"SUCCESS"`) {
		t.Fatalf("a Coordinator's batch after the flood: %d %s", resp.StatusCode, b)
	}
}

// rawRequest opens a connection to addr and writes req on it; the connection is closed when the test ends.
func rawRequest(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkClosed reads c until the server closes it, and checks that it does so no sooner than after and within 10 s.
func checkClosed(t *testing.T, c net.Conn, what string, after time.Duration) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("%s: the server kept the connection open for 10 s", what)
	} else if d := time.Since(start); d < after {
		t.Errorf("%s: closed after %v, before %v", what, d, after)
	}
}

// serve cuts off clients that are slow to send their headers or body, or idle, and refuses headers over Druid's
// limit (8 KiB by default): each from the configuration.
func TestServeCutsOffSlowAndIdleClients(t *testing.T) {
	z := testenv.ZooKeeper(t)
	port := freePort(t)
	r := start(t, loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(port),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.http.readHeaderTimeout=PT1S", "druid.sidecar.http.bodyReadTimeout=PT1S",
		"druid.server.http.maxIdleTime=PT1S"))
	addr := "127.0.0.1:" + strconv.Itoa(port)

	// Headers never finished.
	c := rawRequest(t, addr, "GET /status HTTP/1.1\r\nHost: x\r\n")
	checkClosed(t, c, "a request whose headers never end", 500*time.Millisecond)

	// Headers over the limit, and just under it.
	for _, tc := range []struct {
		size int
		code int
	}{{10 << 10, http.StatusRequestHeaderFieldsTooLarge}, {7 << 10, http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, r.url+HealthPath, nil)
		req.Header.Set("X-Padding", strings.Repeat("p", tc.size))
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("a %d-byte header: %d, want %d", tc.size, resp.StatusCode, tc.code)
		}
	}

	// Idle after a request.
	c = rawRequest(t, addr, "GET "+HealthPath+" HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health on a raw connection: %v %v", resp, err)
	}
	checkClosed(t, c, "an idle connection", 500*time.Millisecond)

	// 100 clients trickling a body a byte at a time.
	var wg sync.WaitGroup
	cut := make(chan time.Duration, 100)
	for range 100 {
		c := rawRequest(t, addr, "POST "+loadqueue.ChangeRequestsPath+"?timeout=300000 HTTP/1.1\r\nHost: x\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
		wg.Go(func() {
			start := time.Now()
			closed := make(chan struct{})
			go func() {
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-closed:
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte{' '}); err != nil {
						return
					}
				}
			}()
			c.SetReadDeadline(start.Add(10 * time.Second))
			io.Copy(io.Discard, c)
			cut <- time.Since(start)
			close(closed)
		})
	}
	wg.Wait()
	close(cut)
	var longest time.Duration
	for d := range cut {
		longest = max(longest, d)
	}
	t.Logf("100 trickling clients cut off, the last after %v", longest)
	if longest > 8*time.Second {
		t.Errorf("a trickling client stayed %v", longest)
	}
	if code, _ := httpGet(t, r.url+HealthPath); code != 200 {
		t.Errorf("health after the trickling clients: %d", code)
	}
}

// testClient bounds every request of a test.
var testClient = &http.Client{Timeout: 30 * time.Second}

// Responses get a write deadline, except those that hold by design, whose connections may have carried an earlier
// request with one; and a body's read deadline ends with the body, not during the response held after it.
func TestHTTPWriteDeadlines(t *testing.T) {
	cfg := loadConfig(t, "druid.host=127.0.0.1", fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.http.writeTimeout=PT1S", "druid.sidecar.http.bodyReadTimeout=PT1S")
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const hold = 1500 * time.Millisecond // longer than both deadlines
	writeErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc(StatusPath, func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	})
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "true") })
	held := func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "held")
	}
	mux.HandleFunc(inventory.Path, held)
	mux.HandleFunc(loadqueue.ChangeRequestsPath, held)
	mux.HandleFunc(QueryPath, held)
	srv := a.httpServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()

	// A client that does not read a large response.
	rawRequest(t, ln.Addr().String(), "GET "+StatusPath+" HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-writeErr:
		t.Logf("the unread response ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a response nobody reads was still being written after 10 s")
	}

	// One connection: a quick request with a write deadline, then each held response.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
	for _, path := range []string{inventory.Path, loadqueue.ChangeRequestsPath, QueryPath + "?pretty"} {
		resp, err := client.Get(url + HealthPath)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resp, err = client.Post(url+path, "application/json", strings.NewReader(`[]`))
		if err != nil {
			t.Fatalf("%s held %v on a connection with a deadline behind it: %v", path, hold, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "held" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
		}
	}
}
