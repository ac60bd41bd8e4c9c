package deepstorage

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// metered gives p metrics of its own, in a pedantic registry of their own, so that the test reads its pulls only.
func metered(t *testing.T, p *Puller) (*metrics, *prometheus.Registry) {
	t.Helper()
	p.metrics = newMetrics()
	return p.metrics, metricstest.Registers(t, p.metrics)
}

// pulls is the count of the pull duration histogram's series for backend and outcome.
func pulls(t *testing.T, reg prometheus.Gatherer, backend, outcome string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "druid_sidecar_deep_storage_pull_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["backend"] == backend && labels["outcome"] == outcome {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func checkUp(t *testing.T, reg prometheus.Gatherer, series string) {
	t.Helper()
	metricstest.Gauge(t, reg, "druid_sidecar_deep_storage_up", upHelp, series)
}

// As a Prometheus server scraping a Historical sees deep storage: a pull through a 503 counts the retried
// request, its bytes and its duration; a missing object is a failed pull from a store that is up; a store that
// refuses connections is down. No label names a segment or its object.
func TestMetricsS3(t *testing.T) {
	b := testenv.S3(t)
	files := segmentFiles(1<<20, 5)
	archive := goZip(t, files...)
	b.Put(t, "metricsds/0/index.zip", archive)
	opts, _ := s3Options(t, b)
	opts, proxy := proxied(t, opts)
	proxy.Add(faultproxy.Rule{Times: 1, Fault: faultproxy.Fault{Status: 503}})
	p := newPuller(t, opts)
	m, reg := metered(t, p)
	checkUp(t, reg, "")

	res, dir, err := pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: "metricsds/0/index.zip"}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files)
	if n := testutil.ToFloat64(m.requests.WithLabelValues(backendS3, outcomeFailure)); n != 1 {
		t.Errorf(`requests_total{backend="s3",outcome="failure"} = %v, want 1 (the 503)`, n)
	}
	if n := testutil.ToFloat64(m.requests.WithLabelValues(backendS3, outcomeSuccess)); n < 1 {
		t.Errorf(`requests_total{backend="s3",outcome="success"} = %v, want at least 1`, n)
	}
	if n := testutil.ToFloat64(m.retries.WithLabelValues(backendS3)); n != 1 {
		t.Errorf(`retries_total{backend="s3"} = %v, want 1`, n)
	}
	if n := testutil.ToFloat64(m.bytes[backendS3]); n != float64(res.Downloaded) || n < float64(len(archive)) {
		t.Errorf(`read_bytes_total{backend="s3"} = %v, want the %d bytes downloaded (the archive has %d)`, n, res.Downloaded, len(archive))
	}
	if n := pulls(t, reg, backendS3, outcomeSuccess); n != 1 {
		t.Errorf(`pull_duration_seconds_count{backend="s3",outcome="success"} = %d, want 1`, n)
	}
	checkUp(t, reg, "druid_sidecar_deep_storage_up{backend=\"s3\"} 1\n")

	// A 404 is an answer: the pull failed, the store is up.
	_, _, err = pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: "metricsds/1/index.zip"}, 1<<30)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("pulling a missing object: %v", err)
	}
	if n := pulls(t, reg, backendS3, outcomeFailure); n != 1 {
		t.Errorf(`pull_duration_seconds_count{backend="s3",outcome="failure"} = %d, want 1`, n)
	}
	checkUp(t, reg, "druid_sidecar_deep_storage_up{backend=\"s3\"} 1\n")

	// An endpoint nobody listens on: down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	opts.S3.Endpoint, opts.Retries = closed, -1
	down := newPuller(t, opts)
	down.metrics = m
	if _, _, err := pullInto(t, down, S3Zip{Bucket: b.Bucket, Key: "metricsds/0/index.zip"}, 1<<30); err == nil {
		t.Fatal("a pull from a closed port succeeded")
	}
	checkUp(t, reg, "druid_sidecar_deep_storage_up{backend=\"s3\"} 0\n")

	// A canceled pull says nothing about the store.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	root, _ := newRoot(t)
	if _, err := p.Pull(ctx, S3Zip{Bucket: b.Bucket, Key: "metricsds/0/index.zip"}, root, 1<<30); err == nil {
		t.Fatal("a canceled pull succeeded")
	}
	checkUp(t, reg, "druid_sidecar_deep_storage_up{backend=\"s3\"} 0\n")
	if n := pulls(t, reg, backendS3, outcomeCanceled); n != 1 {
		t.Errorf(`pull_duration_seconds_count{backend="s3",outcome="canceled"} = %d, want 1`, n)
	}

	seg := segments.DataSegment{DataSource: "metricsds"}
	metricstest.NoSegmentLabels(t, reg, []*segments.DataSegment{&seg})
}

// Local deep storage: one request per pull, the files' bytes, and a missing path is an answer (the file system
// works; the segment is not there).
func TestMetricsLocal(t *testing.T) {
	files := segmentFiles(10_000, 7)
	src := filepath.Join(t.TempDir(), "index.zip")
	if err := os.WriteFile(src, goZip(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPuller(t, Options{})
	m, reg := metered(t, p)
	res, _, err := pullInto(t, p, Local{Path: src}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pullInto(t, p, Local{Path: src + ".absent.zip"}, 1<<30); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pulling a missing file: %v", err)
	}
	if _, _, err := pullInto(t, p, Tombstone{}, 1); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(m.requests.WithLabelValues(backendLocal, outcomeSuccess)); n != 1 {
		t.Errorf(`requests_total{backend="local",outcome="success"} = %v, want 1`, n)
	}
	if n := testutil.ToFloat64(m.requests.WithLabelValues(backendLocal, outcomeFailure)); n != 1 {
		t.Errorf(`requests_total{backend="local",outcome="failure"} = %v, want 1`, n)
	}
	if n := testutil.ToFloat64(m.bytes[backendLocal]); n != float64(res.Bytes) {
		t.Errorf(`read_bytes_total{backend="local"} = %v, want %d`, n, res.Bytes)
	}
	checkUp(t, reg, "druid_sidecar_deep_storage_up{backend=\"local\"} 1\n")
	if got := testutil.CollectAndCount(m, "druid_sidecar_deep_storage_pull_duration_seconds"); got != 2 {
		t.Errorf("pull duration series: %d, want 2 (a tombstone reads no deep storage)", got)
	}
}

// The process's collector registers once per registry.
func TestCollectorRegisters(t *testing.T) { metricstest.Registers(t, Collector()) }
