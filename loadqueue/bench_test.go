package loadqueue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// BenchmarkChangeRequests measures a Coordinator's changeRequests round trip for one tombstone load (held until
// SUCCESS: pull, cache info file, inventory announcement), against a plain POST round trip to a no-op handler in the
// same run. Reports p50 and p99 of both.
func BenchmarkChangeRequests(b *testing.B) {
	dir := b.TempDir()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2,
		Sets: []string{fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, dir)}})
	if err != nil {
		b.Fatal(err)
	}
	cache, err := segcache.NewCache(cfg, segcache.CacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	if _, _, err := cache.Bootstrap(context.Background()); err != nil {
		b.Fatal(err)
	}
	dp, err := deepstorage.New(deepstorage.Options{S3: deepstorage.S3Options{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", AccessKey: "a", SecretKey: "b"}})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := New(Options{Cache: cache, Puller: dp, Announcer: &invAnnouncer{inv: inventory.New()},
		NumLoadingThreads: 4, NumTurboThreads: 4})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(eng.Handler())
	defer srv.Close()
	defer eng.Stop(context.Background())
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	defer noop.Close()
	client := &http.Client{}
	roundTrip := func(url string, body []byte) string {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("HTTP %d %s", resp.StatusCode, out)
		}
		return string(out)
	}
	var lat, base []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		seg := tombstone(b, "bench", i)
		body, _ := segments.AppendChangeRequests(nil, []segments.ChangeRequest{load(seg)})
		start := time.Now()
		for !strings.Contains(roundTrip(srv.URL+ChangeRequestsPath+"?timeout=10000", body), `"SUCCESS"`) {
		}
		lat = append(lat, time.Since(start))
		start = time.Now()
		roundTrip(noop.URL+ChangeRequestsPath+"?timeout=10000", body)
		base = append(base, time.Since(start))
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds())
	}
	b.ReportMetric(pct(lat, 0.50), "p50-µs")
	b.ReportMetric(pct(lat, 0.99), "p99-µs")
	b.ReportMetric(pct(base, 0.50), "baseline-p50-µs")
	b.ReportMetric(pct(base, 0.99), "baseline-p99-µs")
}
