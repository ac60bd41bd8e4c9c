package faultproxy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
)

// upstream serves /obj (size bytes, with Range support) and echoes the Host header it received on /host.
func upstream(t *testing.T, size int) (*httptest.Server, []byte) {
	t.Helper()
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/host":
			_, _ = io.WriteString(w, r.Host)
		default:
			http.ServeContent(w, r, "obj", time.Time{}, bytes.NewReader(body))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, body
}

func start(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestForwardsAndKeepsHost(t *testing.T) {
	srv, body := upstream(t, 100_000)
	p := start(t, srv.URL)

	resp, got, err := get(t, p.URL()+"/obj")
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("plain GET through the proxy: status %v, %d bytes, err %v", resp, len(got), err)
	}
	_, host, err := get(t, p.URL()+"/host")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(p.URL(), "http://"); string(host) != want {
		t.Errorf("upstream saw Host %q, want the proxy's %q (signatures cover the host)", host, want)
	}
	resp, got, err = get(t, p.URL()+"/obj", "Range", "bytes=10-19")
	if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, body[10:20]) {
		t.Fatalf("ranged GET: %v %q %v", resp.StatusCode, got, err)
	}
	recs := p.Requests()
	if len(recs) != 3 || recs[2].Range != "bytes=10-19" || recs[2].Status != 206 || recs[0].Rule != -1 {
		t.Errorf("records = %+v", recs)
	}
}

func TestStatusBurstThenPass(t *testing.T) {
	srv, body := upstream(t, 1000)
	p := start(t, srv.URL)
	p.Add(faultproxy.Rule{Method: http.MethodGet, PathContains: "/obj", Times: 2, Fault: faultproxy.Fault{Status: 503}})

	for i := 0; i < 2; i++ {
		resp, got, err := get(t, p.URL()+"/obj")
		if err != nil || resp.StatusCode != 503 || !strings.Contains(string(got), "<Code>SlowDown</Code>") {
			t.Fatalf("request %d: %v %q %v", i, resp.StatusCode, got, err)
		}
	}
	resp, got, err := get(t, p.URL()+"/obj")
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("after the burst: %v %d bytes %v", resp.StatusCode, len(got), err)
	}
	recs := p.Requests()
	if recs[0].Rule != 0 || recs[1].Rule != 0 || recs[2].Rule != -1 || recs[0].Status != 503 {
		t.Errorf("records = %+v", recs)
	}
}

func TestRangedMatcher(t *testing.T) {
	srv, _ := upstream(t, 1000)
	p := start(t, srv.URL)
	p.Add(faultproxy.Rule{Ranged: faultproxy.Ranged(true), Fault: faultproxy.Fault{Status: 500}})
	if resp, _, _ := get(t, p.URL()+"/obj"); resp.StatusCode != 200 {
		t.Errorf("unranged GET got %d, want it forwarded", resp.StatusCode)
	}
	if resp, b, _ := get(t, p.URL()+"/obj", "Range", "bytes=0-1"); resp.StatusCode != 500 || !strings.Contains(string(b), "InternalError") {
		t.Errorf("ranged GET got %d %q, want the injected 500", resp.StatusCode, b)
	}
}

func TestCutMidBody(t *testing.T) {
	srv, body := upstream(t, 1<<20)
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			p := start(t, srv.URL)
			p.Add(faultproxy.Rule{Times: 1, Fault: faultproxy.Fault{CutAfter: 300_000, Reset: reset}})
			_, got, err := get(t, p.URL()+"/obj")
			if err == nil {
				t.Fatalf("read the whole body (%d bytes) through a cut connection", len(got))
			}
			if !reset && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want unexpected EOF", err)
			}
			if len(got) > 300_000 || !bytes.Equal(got, body[:len(got)]) {
				t.Errorf("got %d bytes before the cut, want at most 300000 of the right ones", len(got))
			}
			// The rule is used up: the next request goes through.
			if _, got, err := get(t, p.URL()+"/obj"); err != nil || len(got) != len(body) {
				t.Errorf("after the cut: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestCutAfterHeaders(t *testing.T) {
	srv, _ := upstream(t, 1000)
	p := start(t, srv.URL)
	p.Add(faultproxy.Rule{Fault: faultproxy.Fault{CutAfter: -1}})
	resp, got, err := get(t, p.URL()+"/obj")
	if err == nil {
		t.Fatalf("no error; status %v, %d bytes", resp.StatusCode, len(got))
	}
}

func TestDelay(t *testing.T) {
	srv, _ := upstream(t, 10)
	p := start(t, srv.URL)
	p.Add(faultproxy.Rule{Times: 1, Fault: faultproxy.Fault{Delay: 300 * time.Millisecond}})
	t0 := time.Now()
	if _, _, err := get(t, p.URL()+"/obj"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("delayed request answered after %v", d)
	}
}

func TestBandwidth(t *testing.T) {
	const size = 2 << 20
	srv, body := upstream(t, size)

	t.Run("per connection", func(t *testing.T) {
		p := start(t, srv.URL)
		p.SetConnRate(4 << 20) // 2 MiB at 4 MiB/s: about 0.5 s
		t0 := time.Now()
		_, got, err := get(t, p.URL()+"/obj")
		d := time.Since(t0)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		if d < 400*time.Millisecond || d > 3*time.Second {
			t.Errorf("2 MiB at 4 MiB/s took %v, want about 0.5 s", d)
		}
	})
	t.Run("per response", func(t *testing.T) {
		p := start(t, srv.URL)
		p.Add(faultproxy.Rule{Fault: faultproxy.Fault{BodyRate: 8 << 20}}) // about 0.25 s
		t0 := time.Now()
		_, got, err := get(t, p.URL()+"/obj")
		d := time.Since(t0)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		if d < 200*time.Millisecond || d > 3*time.Second {
			t.Errorf("2 MiB at 8 MiB/s took %v, want about 0.25 s", d)
		}
	})
}

func TestRejectsBadTarget(t *testing.T) {
	if _, err := faultproxy.New("127.0.0.1:9000"); err == nil {
		t.Error("a target without scheme was accepted")
	}
}
