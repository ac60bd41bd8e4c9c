package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/agent"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// serve runs s on 127.0.0.1:0 until the test ends and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func post(t *testing.T, url, contentType, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// segmentDir writes the files of a segment directory.
func segmentDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func hookBody(t *testing.T, seg *segments.DataSegment, dir string) string {
	t.Helper()
	js, err := seg.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		return `{"segment":` + string(js) + `}`
	}
	d, _ := json.Marshal(dir)
	return `{"segment":` + string(js) + `,"directory":` + string(d) + `}`
}

func TestServerHooksAndQueries(t *testing.T) {
	s := NewServer(t.Logf)
	url := serve(t, s)
	seg0 := sandbox.Segment("wikipedia", 0, 0, 1, "bucket", "base", 3)
	seg1 := sandbox.Segment("wikipedia", 1, 0, 1, "bucket", "base", 3)
	other := sandbox.Segment("koalas", 0, 0, 1, "bucket", "base", 3)
	tomb := segments.NewTombstone("wikipedia", segments.Interval{Start: 1735689600000 + 5*86400000, End: 1735689600000 + 6*86400000}, "v1")
	full := segmentDir(t, "version.bin", "meta.smoosh", "00000.smoosh")

	for _, tc := range []struct {
		name, body string
		want       int
		msg        string
	}{
		{"complete", hookBody(t, seg0, full), 200, ""},
		{"again", hookBody(t, seg0, full), 200, ""}, // idempotent
		{"other", hookBody(t, seg1, full), 200, ""},
		{"other dataSource", hookBody(t, other, full), 200, ""},
		{"tombstone", hookBody(t, &tomb, segmentDir(t, "factory.json")), 200, ""},
		{"no meta.smoosh", hookBody(t, seg1, segmentDir(t, "version.bin", "00000.smoosh")), 422, "lacks meta.smoosh"},
		{"no chunk", hookBody(t, seg1, segmentDir(t, "version.bin", "meta.smoosh")), 422, "no 00000.smoosh"},
		{"relative", hookBody(t, seg1, "relative/dir"), 422, "not an absolute path"},
		{"missing", hookBody(t, seg1, filepath.Join(full, "nope")), 422, "reading the segment directory"},
		{"not JSON", `{"segment":`, 400, "the body is not"},
	} {
		code, _, body := post(t, url+"/druid-sidecar/v1/segments/load", "application/json", tc.body)
		if code != tc.want || !strings.Contains(body, tc.msg) {
			t.Errorf("load %s: %d %s, want %d %q", tc.name, code, body, tc.want, tc.msg)
		}
	}
	if got := s.Segments(); len(got) != 4 || got[seg0.ID().String()] != full {
		t.Errorf("loaded segments %v", got)
	}

	// Queries see the loaded segments of their dataSource.
	code, h, body := post(t, url+"/druid/v2/", "application/json", `{"queryType":"timeBoundary","dataSource":"wikipedia"}`)
	if want := `[{"result":{"maxTime":"2025-01-06T23:59:59.999Z","minTime":"2025-01-01T00:00:00.000Z"},"timestamp":"2025-01-01T00:00:00.000Z"}]`; code != 200 || strings.TrimSpace(body) != want {
		t.Errorf("timeBoundary: %d %s, want %s", code, body, want)
	}
	if h.Get("X-Druid-Response-Context") != `{"missingSegments":[]}` {
		t.Errorf("X-Druid-Response-Context %q", h.Get("X-Druid-Response-Context"))
	}
	code, h, body = post(t, url+"/druid/v2/", "application/json", fmt.Sprintf(
		`{"queryType":"segmentMetadata","dataSource":{"type":"table","name":"wikipedia"},"intervals":{"type":"segments","segments":[`+
			`{"itvl":%q,"ver":%q,"part":0},{"itvl":%q,"ver":"gone","part":0}]}}`,
		seg0.Interval.String(), seg0.Version, seg1.Interval.String()))
	var rows []map[string]any
	if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil || len(rows) != 1 || rows[0]["id"] != seg0.ID().String() || rows[0]["size"] != 3.0 {
		t.Errorf("segmentMetadata of named segments: %d %s", code, body)
	}
	if want := fmt.Sprintf(`{"missingSegments":[{"itvl":%q,"ver":"gone","part":0}]}`, seg1.Interval.String()); h.Get("X-Druid-Response-Context") != want {
		t.Errorf("X-Druid-Response-Context %s, want %s", h.Get("X-Druid-Response-Context"), want)
	}
	code, _, body = post(t, url+"/druid/v2/", "application/json", `{"queryType":"scan","dataSource":"wikipedia"}`)
	var e map[string]string
	if err := json.Unmarshal([]byte(body), &e); code != 400 || err != nil || e["error"] != "Unsupported operation" || !strings.Contains(e["errorMessage"], "scan") {
		t.Errorf("scan: %d %s", code, body)
	}
	// A Broker's query comes as Smile and is answered in Smile, an error too.
	smileQuery := func(q string) (int, http.Header, string) {
		t.Helper()
		b, err := jackson.JSONToSmile(nil, []byte(q))
		if err != nil {
			t.Fatal(err)
		}
		code, h, body := post(t, url+"/druid/v2/", "application/x-jackson-smile", string(b))
		if ct := h.Get("Content-Type"); ct != "application/x-jackson-smile" {
			t.Fatalf("a Smile query answered as %q, want application/x-jackson-smile: %q", ct, body)
		}
		j, err := jackson.SmileToJSON([]byte(body))
		if err != nil {
			t.Fatalf("the answer to a Smile query is not Smile: %v: %q", err, body)
		}
		return code, h, string(j)
	}
	code, h, body = smileQuery(fmt.Sprintf(`{"queryType":"segmentMetadata","dataSource":{"type":"table","name":"wikipedia"},"intervals":{"type":"segments","segments":[{"itvl":%q,"ver":%q,"part":0}]}}`,
		seg0.Interval.String(), seg0.Version))
	rows = nil
	if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil || len(rows) != 1 || rows[0]["id"] != seg0.ID().String() {
		t.Errorf("segmentMetadata in Smile: %d %s", code, body)
	}
	if h.Get("X-Druid-Response-Context") != `{"missingSegments":[]}` {
		t.Errorf("X-Druid-Response-Context of a Smile query: %s", h.Get("X-Druid-Response-Context"))
	}
	code, _, body = smileQuery(`{"queryType":"scan","dataSource":"wikipedia"}`)
	e = nil
	if err := json.Unmarshal([]byte(body), &e); code != 400 || err != nil || e["error"] != "Unsupported operation" {
		t.Errorf("scan in Smile: %d %s", code, body)
	}
	code, _, body = smileQuery(`"not a query"`)
	if code != 400 || !strings.Contains(body, "Bad Request") {
		t.Errorf("a Smile string as a query: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, url+"/druid/v2/some-query", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Errorf("DELETE: %v %v", resp, err)
	}

	// Drops, of a loaded and of an unknown segment, succeed.
	for _, seg := range []*segments.DataSegment{seg0, seg0} {
		if code, _, body := post(t, url+"/druid-sidecar/v1/segments/drop", "application/json", hookBody(t, seg, "")); code != 200 {
			t.Errorf("drop: %d %s", code, body)
		}
	}
	if got := s.Segments(); len(got) != 3 || got[seg0.ID().String()] != "" {
		t.Errorf("after the drop: %v", got)
	}
	if code, body := httpGet(t, url+"/status/health"); code != 200 || strings.TrimSpace(body) != "true" {
		t.Errorf("/status/health: %d %q", code, body)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWithAgent runs the real agent (ZooKeeper, S3) in front of this server: a Coordinator's loads reach it with
// the segments' directories, queries sent to the agent are answered by it, a drop reaches it, and a restarted agent
// hands a fresh server the cached segments.
func TestWithAgent(t *testing.T) {
	z := testenv.ZooKeeper(t)
	b := testenv.S3(t)
	cacheDir := t.TempDir()
	var segs []*segments.DataSegment
	for day := range 2 {
		data, size, err := sandbox.IndexZip(uint64(day+1), 2048)
		if err != nil {
			t.Fatal(err)
		}
		s := sandbox.Segment("wikipedia", day, 0, 1, b.Bucket, "druid", size)
		b.Put(t, sandbox.Key("druid", s.ID()), data)
		segs = append(segs, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(upstream string) (string, func()) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{
			"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort=" + strconv.Itoa(port),
			"druid.zk.service.host=" + z.ConnectString,
			fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, cacheDir),
			"druid.s3.endpoint.url=" + b.Endpoint, "druid.s3.enablePathStyleAccess=true",
			"druid.s3.accessKey=" + b.AccessKey, "druid.s3.secretKey=" + b.SecretKey, "druid.s3.endpoint.signingRegion=" + b.Region,
			"druid.sidecar.upstream=" + upstream,
		}})
		if err != nil {
			t.Fatal(err)
		}
		a, err := agent.New(cfg, agent.Options{ShutdownTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(actx) }()
		select {
		case <-a.Ready():
		case err := <-done:
			t.Fatalf("the agent stopped during startup: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("the agent did not start within 20 s")
		}
		return "http://" + cfg.Node.HostAndPort(), func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("the agent's Run: %v", err)
			}
		}
	}

	server := NewServer(t.Logf)
	agentURL, stop := run(serve(t, server))
	peon := &druidpeer.LoadPeon{URL: agentURL, BatchSize: 2, HostTimeout: 10 * time.Second, RepeatDelay: 100 * time.Millisecond}
	for _, s := range segs {
		peon.Load(s)
	}
	if err := peon.Drain(ctx); err != nil {
		t.Fatalf("loads: %v", err)
	}
	for _, s := range segs {
		if st, ok := peon.Result(segments.ActionLoad, s.ID()); !ok || st.State != "SUCCESS" {
			t.Errorf("load %s: %+v", s.ID(), st)
		}
		if dir := server.Segments()[s.ID().String()]; dir != filepath.Join(cacheDir, s.ID().String()) {
			t.Errorf("the server has %s in %q", s.ID(), dir)
		}
	}
	code, _, body := post(t, agentURL+agent.QueryPath, "application/json", `{"queryType":"timeBoundary","dataSource":"wikipedia"}`)
	if !strings.Contains(body, `"minTime":"2025-01-01T00:00:00.000Z"`) || !strings.Contains(body, `"maxTime":"2025-01-02T23:59:59.999Z"`) || code != 200 {
		t.Errorf("timeBoundary through the agent: %d %s", code, body)
	}
	peon.Drop(segs[0])
	if err := peon.Drain(ctx); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if got := server.Segments(); len(got) != 1 || got[segs[1].ID().String()] == "" {
		t.Errorf("after the drop the server has %v", got)
	}
	stop()

	// A restarted agent in front of a fresh server: the cached segment reaches the server during startup.
	fresh := NewServer(t.Logf)
	agentURL, stop = run(serve(t, fresh))
	defer stop()
	if got := fresh.Segments(); len(got) != 1 || got[segs[1].ID().String()] != filepath.Join(cacheDir, segs[1].ID().String()) {
		t.Errorf("after the restart the fresh server has %v", got)
	}
	code, _, body = post(t, agentURL+agent.QueryPath, "application/json", `{"queryType":"segmentMetadata","dataSource":"wikipedia"}`)
	if code != 200 || !strings.Contains(body, segs[1].ID().String()) || strings.Contains(body, segs[0].ID().String()) {
		t.Errorf("segmentMetadata after the restart: %d %s", code, body)
	}
}
