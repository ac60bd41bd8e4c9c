package audit

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
)

var (
	findingsDesc = prometheus.NewDesc("druid_sidecar_audit_findings",
		"Findings of the latest successful audit, by kind and dataSource (kinds without findings have no series).",
		[]string{"kind", "dataSource"}, nil)
	lastRunDesc = prometheus.NewDesc("druid_sidecar_audit_last_run_timestamp_seconds",
		"When the latest audit ran (Unix time), whether or not it succeeded.", nil, nil)
	lastRunDurationDesc = prometheus.NewDesc("druid_sidecar_audit_last_run_duration_seconds",
		"How long the latest audit took.", nil, nil)
	lastRunSuccessDesc = prometheus.NewDesc("druid_sidecar_audit_last_run_success",
		"1 if the latest audit could read everything it needed, 0 if it failed (its findings are then the previous run's).", nil, nil)
)

// Metrics exports the latest audit's outcome to Prometheus: druid_sidecar_audit_findings{kind,dataSource},
// druid_sidecar_audit_last_run_timestamp_seconds, druid_sidecar_audit_last_run_duration_seconds and
// druid_sidecar_audit_last_run_success. A dataSource label has one value per dataSource, a bounded set; no label
// ever names a segment. Register it with a prometheus.Registerer; it is safe for concurrent use.
type Metrics struct {
	promx.Collector
	mu      sync.Mutex
	counts  map[[2]string]int
	ran     bool
	at      time.Time
	took    time.Duration
	success bool
}

// NewMetrics returns a collector with no audit observed yet (it exports nothing until Observe).
func NewMetrics() *Metrics {
	m := &Metrics{counts: map[[2]string]int{}}
	m.Collector = promx.Collector{Descs: []*prometheus.Desc{findingsDesc, lastRunDesc, lastRunDurationDesc, lastRunSuccessDesc},
		Scrape: m.scrape}
	return m
}

// Observe records one audit: when it ran, how long it took, and its findings, or the error that stopped it (the
// findings exported then stay those of the last successful audit).
func (m *Metrics) Observe(findings []Finding, at time.Time, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ran, m.at, m.took, m.success = true, at, took, err == nil
	if err != nil {
		return
	}
	m.counts = map[[2]string]int{}
	for _, f := range findings {
		m.counts[[2]string{string(f.Kind), f.DataSource}]++
	}
}

// scrape sends the latest audit's metrics, none before the first.
func (m *Metrics) scrape(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ran {
		return
	}
	keys := make([][2]string, 0, len(m.counts))
	for k := range m.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		promx.Gauge(ch, findingsDesc, float64(m.counts[k]), k[0], k[1])
	}
	promx.Gauge(ch, lastRunDesc, float64(m.at.UnixNano())/1e9)
	promx.Gauge(ch, lastRunDurationDesc, m.took.Seconds())
	promx.Gauge(ch, lastRunSuccessDesc, promx.Bool(m.success))
}
