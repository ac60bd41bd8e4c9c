package inventory_test

// Benchmarks of the inventory, each with a baseline in the same run:
//   - a full snapshot of 100,000 segments in Smile and in JSON, served to a discarding ResponseWriter; baselines:
//     encoding/json marshalling the same change-request bytes (as json.RawMessage) in the same envelope, and
//     JSONToSmile transcoding the finished JSON document in one call;
//   - the delay from Announce to a parked long-poll (real loopback HTTP, Smile) having read the delta, p50 and p99;
//     baseline: a plain channel handoff to a blocked goroutine. Run with -benchtime=10000x for 10,000 changes.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// invDiscard is an http.ResponseWriter that counts and drops the body.
type invDiscard struct {
	h      http.Header
	n      int64
	status int
}

func (d *invDiscard) Header() http.Header         { return d.h }
func (d *invDiscard) WriteHeader(status int)      { d.status = status }
func (d *invDiscard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

const invBenchSegments = 100_000

func BenchmarkInventorySnapshot(b *testing.B) {
	inv := inventory.New()
	segs := invSegments(0, invBenchSegments)
	if err := inv.Announce(segs); err != nil {
		b.Fatal(err)
	}
	reqs := make([]json.RawMessage, len(segs))
	for i, s := range segs {
		r := segments.ChangeRequest{Action: segments.ActionLoad, Segment: s}
		reqs[i], _ = r.AppendJSON(nil)
	}
	c := inv.Snapshot().Counter
	type envelope struct {
		ResetCounter bool              `json:"resetCounter"`
		ResetCause   *string           `json:"resetCause"`
		Counter      map[string]int64  `json:"counter"`
		Requests     []json.RawMessage `json:"requests"`
	}
	env := envelope{Counter: map[string]int64{"counter": c.Counter, "hash": c.Hash}, Requests: reqs}
	jsonDoc, err := json.Marshal(env)
	if err != nil {
		b.Fatal(err)
	}
	serve := func(b *testing.B, accept string) {
		req := httptest.NewRequest(http.MethodGet, inventory.Path+"?counter=-1&timeout=1000", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		var n int64
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			w := &invDiscard{h: http.Header{}}
			inv.ServeHTTP(w, req)
			if w.status != 200 {
				b.Fatalf("status %d", w.status)
			}
			n = w.n
		}
		b.ReportMetric(float64(n), "bytes/response")
	}
	b.Run("smile", func(b *testing.B) { serve(b, inventory.SmileType) })
	b.Run("json", func(b *testing.B) { serve(b, "") })
	b.Run("baseline-encoding-json", func(b *testing.B) {
		var n int
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			out, err := json.Marshal(env)
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		b.ReportMetric(float64(n), "bytes/response")
	})
	b.Run("baseline-JSONToSmile-whole-document", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var err error
			if buf, err = jackson.JSONToSmile(buf[:0], jsonDoc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/response")
	})
}

func invReportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100])/1e3, "p99-µs")
}

func BenchmarkInventoryParkedDelay(b *testing.B) {
	b.Run("announce-to-parked-poll", func(b *testing.B) {
		inv := inventory.New()
		srv := httptest.NewServer(inv)
		defer srv.Close()
		client := srv.Client()
		segs := invSegments(0, b.N)
		delays := make([]time.Duration, 0, b.N)
		type result struct {
			at  time.Time
			err error
		}
		done := make(chan result)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c := inv.Snapshot().Counter
			go func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+inventory.Path+fmt.Sprintf("?counter=%d&hash=%d&timeout=30000", c.Counter, c.Hash), nil)
				req.Header.Set("Accept", inventory.SmileType)
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				done <- result{time.Now(), err}
			}()
			for inv.Parked() == 0 {
				runtime.Gosched()
			}
			t0 := time.Now()
			if err := inv.Announce(segs[i : i+1]); err != nil {
				b.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				b.Fatal(r.err)
			}
			delays = append(delays, r.at.Sub(t0))
		}
		b.StopTimer()
		invReportPercentiles(b, delays)
	})
	b.Run("baseline-channel-handoff", func(b *testing.B) {
		delays := make([]time.Duration, 0, b.N)
		ch := make(chan struct{})
		done := make(chan time.Time)
		ready := make(chan struct{})
		go func() {
			for {
				ready <- struct{}{}
				if _, ok := <-ch; !ok {
					return
				}
				done <- time.Now()
			}
		}()
		for i := 0; i < b.N; i++ {
			<-ready
			runtime.Gosched() // let the receiver block on ch, as the parked poll blocks in select
			t0 := time.Now()
			ch <- struct{}{}
			delays = append(delays, (<-done).Sub(t0))
		}
		<-ready
		close(ch)
		invReportPercentiles(b, delays)
	})
}
