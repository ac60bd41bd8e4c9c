package agent

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/loadqueue"
)

// rawClient sees the bytes on the wire: Go's transport would otherwise ask for gzip itself and inflate the answer.
var rawClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// rawDo sends req and returns the answer with its body read as sent.
func rawDo(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v (% x)", err, b[:min(len(b), 16)])
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The gzip handler against clients as Druid's Jetty sees them: small answers compressed (minGzipSize 0) for GET and
// POST when Accept-Encoding names gzip, never for other methods, q=0 or without the header; answers that carry
// their own Content-Encoding or an image pass as they are; every GET and POST answer says Vary; a gzip request
// body is inflated.
func TestGzipHandlerAsJetty(t *testing.T) {
	srv := httptest.NewServer(gzipHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/encoded":
			w.Header().Set("Content-Encoding", "br")
			io.WriteString(w, "already")
		case "/image":
			w.Header().Set("Content-Type", "image/png")
			io.WriteString(w, "png")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%s|%s", r.Header.Get("Content-Encoding"), b)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "true")
		}
	})))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, accept string
		gzip                 bool
		want                 string
	}{
		{"GET", "/", "gzip", true, "true"},
		{"POST", "/", "deflate, gzip;q=0.5", true, "true"},
		{"GET", "/", "x-gzip", true, "true"},
		{"GET", "/", "", false, "true"},
		{"GET", "/", "gzip;q=0", false, "true"},
		{"GET", "/", "br", false, "true"},
		{"DELETE", "/", "gzip", false, "true"},
		{"PUT", "/", "gzip", false, "true"},
		{"GET", "/encoded", "gzip", false, "already"},
		{"GET", "/image", "gzip", false, "png"},
		{"GET", "/empty", "gzip", false, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Encoding", tc.accept)
		}
		resp, b := rawDo(t, req)
		name := tc.method + " " + tc.path + " Accept-Encoding: " + tc.accept
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzip {
			t.Errorf("%s: Content-Encoding %q", name, resp.Header.Get("Content-Encoding"))
			continue
		}
		if tc.gzip {
			b = gunzip(t, b)
		}
		if string(b) != tc.want {
			t.Errorf("%s: body %q, want %q", name, b, tc.want)
		}
		if vary := resp.Header.Get("Vary"); (tc.method == "GET" || tc.method == "POST") != (vary == "Accept-Encoding") {
			t.Errorf("%s: Vary %q", name, vary)
		}
	}

	req, _ := http.NewRequest("POST", srv.URL+"/echo", bytes.NewReader(gzipped(t, []byte(`[{"action":"drop"}]`))))
	req.Header.Set("Content-Encoding", "gzip")
	if resp, b := rawDo(t, req); resp.StatusCode != 200 || string(b) != `|[{"action":"drop"}]` {
		t.Errorf("a gzip request body: %d %q", resp.StatusCode, b)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/echo", strings.NewReader("plain"))
	req.Header.Set("Content-Encoding", "gzip")
	if resp, _ := rawDo(t, req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a request body that says gzip and is not: %d", resp.StatusCode)
	}
}

// A streamed answer (a query the proxy passes on as it comes) reaches the client part by part through the gzip
// handler: what is flushed is readable before the handler goes on.
func TestGzipHandlerFlushesStreamedAnswers(t *testing.T) {
	next := make(chan struct{})
	srv := httptest.NewServer(gzipHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"part":1}`)
		http.NewResponseController(w).Flush()
		select {
		case <-next:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, `,{"part":2}]`)
	})))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len(`[{"part":1}`))
	if _, err := io.ReadFull(zr, first); err != nil || string(first) != `[{"part":1}` {
		t.Fatalf("the first part before the second was written: %q %v", first, err)
	}
	close(next)
	rest, err := io.ReadAll(zr)
	if err != nil || string(rest) != `,{"part":2}]` {
		t.Fatalf("the rest: %q %v", rest, err)
	}
}

// A Druid 37+ Broker or Coordinator (Accept-Encoding: gzip, as Druid's HTTP client sends it) gets serve's inventory
// long-poll and changeRequests replies gzip-compressed, can send a gzip request body, and reads /status/ready as
// true once the node is announced.
func TestServeAnswersGzipAndReady(t *testing.T) {
	z := testenv.ZooKeeper(t)
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()))
	r := start(t, cfg)

	req, _ := http.NewRequest("GET", r.url+ReadyPath, nil)
	if resp, b := rawDo(t, req); resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "true" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s once announced: %d %q %q", ReadyPath, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}

	req, _ = http.NewRequest("GET", r.url+inventory.Path+"?counter=-1&hash=0&timeout=1000", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, b := rawDo(t, req)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("inventory: %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	var snap struct {
		Counter  struct{ Counter int64 } `json:"counter"`
		Requests []json.RawMessage       `json:"requests"`
	}
	if err := json.Unmarshal(gunzip(t, b), &snap); err != nil {
		t.Fatalf("inventory: %v", err)
	}

	// A drop of a segment the node does not have, gzip both ways; the reply is the request's status list.
	batch := loadBatch(1)
	batch = bytes.Replace(batch, []byte(`"action":"load"`), []byte(`"action":"drop"`), 1)
	req, _ = http.NewRequest("POST", r.url+loadqueue.ChangeRequestsPath+"?timeout=5000", bytes.NewReader(gzipped(t, batch)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, b = rawDo(t, req)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("changeRequests: %d, Content-Encoding %q: %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), b)
	}
	var statuses []struct {
		Request struct{ Action string } `json:"request"`
		Status  struct{ State string }  `json:"status"`
	}
	if err := json.Unmarshal(gunzip(t, b), &statuses); err != nil || len(statuses) != 1 || statuses[0].Request.Action != "drop" {
		t.Fatalf("changeRequests reply: %v %+v", err, statuses)
	}
}
