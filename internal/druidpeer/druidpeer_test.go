package druidpeer_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/jackson"
)

func TestDruidpeerBackoff(t *testing.T) {
	s := druidpeer.New(druidpeer.Config{URL: "http://127.0.0.1:1"})
	for n, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 7: 60 * time.Second, 30: 60 * time.Second} {
		for i := 0; i < 200; i++ {
			if d := s.Backoff(n); d < 0 || d > 2*base || d > druidpeer.DefaultMaxBackoff {
				t.Fatalf("Backoff(%d) = %v, want within [0, %v]", n, d, 2*base)
			}
		}
	}
}

// TestDruidpeerRunRetries checks the client loop: failures back off, a 200 clears them, a JSON answer to a
// Smile request is a failure (Druid's Smile mapper rejects it), and 204 re-polls at once.
func TestDruidpeerRunRetries(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.Header.Get("Accept") != druidpeer.SmileType || r.Header.Get("Content-Type") != druidpeer.SmileType {
			t.Errorf("request %d: Accept %q, Content-Type %q", n, r.Header.Get("Accept"), r.Header.Get("Content-Type"))
		}
		switch {
		case n <= 2:
			http.Error(w, "boom", 500)
		case n == 3:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"resetCounter":false,"resetCause":null,"counter":{"counter":0,"hash":1},"requests":[]}`))
		case n == 4:
			smile, _ := jackson.JSONToSmile(nil, []byte(`{"resetCounter":false,"resetCause":null,"counter":{"counter":0,"hash":1},"requests":[]}`))
			_, _ = w.Write(smile)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	s := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: time.Second, BaseBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	started := time.Now()
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 8 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	elapsed := time.Since(started)
	st := s.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.Failures != 3 || st.FullSyncs != 1 || st.NoContents < 3 || st.ConsecutiveFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Three failures back off about 20+40+80 ms (±20 % each, per Gaussian fuzz); the 204s follow at once.
	if elapsed < 50*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("run took %v", elapsed)
	}
	if queries[0] != "counter=-1&timeout=1000" || queries[4] != "counter=0&hash=1&timeout=1000" {
		t.Fatalf("queries %q", queries[:5])
	}
	if r := s.Last(); r == nil || (r.Kind != druidpeer.NoContent && r.Kind != druidpeer.Failure) {
		t.Fatalf("last response %+v", r)
	}
	if !bytes.Contains([]byte(fmt.Sprint(queries)), []byte("hash=1")) {
		t.Fatal("the counter was not echoed")
	}
}
