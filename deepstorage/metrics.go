package deepstorage

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
)

// The backend label's values: the deep storage services (druid.storage.type's names).
const (
	backendS3     = "s3"
	backendGoogle = "google"
	backendAzure  = "azure"
	backendLocal  = "local"
)

var backends = []string{backendS3, backendGoogle, backendAzure, backendLocal}

// The outcome label's values. A request or pull cut by its caller (a canceled load, a shutdown) is "canceled": it
// says nothing about the store.
const (
	outcomeSuccess  = "success"
	outcomeFailure  = "failure"
	outcomeCanceled = "canceled"
)

var pullDurationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}

var upDesc = prometheus.NewDesc("druid_sidecar_deep_storage_up", upHelp, []string{"backend"}, nil)

const upHelp = "1 while the latest request to the backend got an answer from it (the object, or a refusal such as not found or " +
	"access denied), 0 when it got none (no connection, a stall, throttling, a server error, no credentials); " +
	"absent until the first request."

// metrics are deep storage's collectors, by backend; no label names an object or a segment:
//
//   - druid_sidecar_deep_storage_requests_total{backend,outcome}: requests sent (one read or listing page of an
//     object store; one pull of local deep storage);
//   - druid_sidecar_deep_storage_retries_total{backend}: requests tried again, and pulls started over because the
//     object changed;
//   - druid_sidecar_deep_storage_read_bytes_total{backend}: bytes received (retried bytes included; for local deep
//     storage, the segment files written);
//   - druid_sidecar_deep_storage_pull_duration_seconds{backend,outcome}: pulls, from the first request to the last
//     file written;
//   - druid_sidecar_deep_storage_up{backend}.
type metrics struct {
	promx.Collector
	requests *prometheus.CounterVec
	retries  *prometheus.CounterVec
	bytes    map[string]prometheus.Counter // resolved once: it is added to on every read of a body
	duration *prometheus.HistogramVec

	mu sync.Mutex
	up map[string]bool
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "druid_sidecar_deep_storage_requests_total",
			Help: "Requests to deep storage (a read or a listing page; a pull of local deep storage), by backend and outcome."},
			[]string{"backend", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "druid_sidecar_deep_storage_retries_total",
			Help: "Deep storage requests tried again after a failure, and pulls started over because the object changed."},
			[]string{"backend"}),
		bytes: map[string]prometheus.Counter{},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "druid_sidecar_deep_storage_pull_duration_seconds",
			Help: "Duration of segment pulls from deep storage, by backend and outcome.", Buckets: pullDurationBuckets},
			[]string{"backend", "outcome"}),
		up: map[string]bool{},
	}
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "druid_sidecar_deep_storage_read_bytes_total",
		Help: "Bytes received from deep storage (retried bytes included; local deep storage: the files written)."},
		[]string{"backend"})
	// Every backend's counters exist from the start, so that rate() and absent() behave before the first pull.
	for _, b := range backends {
		m.requests.WithLabelValues(b, outcomeSuccess)
		m.requests.WithLabelValues(b, outcomeFailure)
		m.retries.WithLabelValues(b)
		m.bytes[b] = bytes.WithLabelValues(b)
	}
	m.Collector = promx.Collector{Collectors: []prometheus.Collector{m.requests, m.retries, bytes, m.duration},
		Descs: []*prometheus.Desc{upDesc}, Scrape: m.scrapeUp}
	return m
}

func (m *metrics) scrapeUp(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range backends {
		if up, known := m.up[b]; known {
			promx.Gauge(ch, upDesc, promx.Bool(up), b)
		}
	}
}

// processMetrics are every Puller's: pullers are made per command and per audit run, and a registry takes a
// collector once, so the series are the process's rather than one Puller's.
var processMetrics = newMetrics()

// Collector returns the collector of deep storage's metrics, which every Puller of the process counts into
// (described on metrics above). Register it once per registry.
func Collector() prometheus.Collector { return processMetrics }

// outcome names how something ended: canceled when its context ended, whatever error that caused.
func outcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return outcomeSuccess
	case ctx.Err() != nil:
		return outcomeCanceled
	}
	return outcomeFailure
}

// request counts a request to a backend and sets its up gauge: up when it got an answer (answered), and left as
// it was when the caller canceled it.
func (m *metrics) request(ctx context.Context, backend string, err error, answered bool) {
	o := outcome(ctx, err)
	m.requests.WithLabelValues(backend, o).Inc()
	if o != outcomeCanceled {
		m.setUp(backend, answered)
	}
}

func (m *metrics) setUp(backend string, up bool) {
	m.mu.Lock()
	m.up[backend] = up
	m.mu.Unlock()
}

// backendOf is the backend label of a location.
func backendOf(loc location) string {
	switch loc.scheme {
	case schemeGoogle:
		return backendGoogle
	case schemeAzure:
		return backendAzure
	}
	return backendS3
}

// specBackend is the backend label of a load spec; "" for a tombstone, which reads no deep storage.
func specBackend(spec LoadSpec) string {
	switch spec.(type) {
	case S3Zip:
		return backendS3
	case Google:
		return backendGoogle
	case Azure:
		return backendAzure
	case Local:
		return backendLocal
	}
	return ""
}
