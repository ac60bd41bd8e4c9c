package loadqueue

import (
	"bufio"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// The engine's metrics. They are kept here and written in the Prometheus text exposition format by WriteMetrics,
// because the module does not yet carry client_golang's dependencies (go.sum); once it does, a Collector over
// the same values is a few lines. No metric has a segment id label.
type metrics struct {
	loadOK, loadFail atomic.Int64
	dropOK, dropFail atomic.Int64
	pulledBytes      atomic.Int64
	queued           atomic.Int64 // loads submitted and not finished
	waiting          atomic.Int64 // loads waiting for a thread of their pool

	mu      sync.Mutex
	buckets []float64 // upper bounds, seconds
	counts  []uint64  // per bucket (not cumulative)
	sum     float64
	count   uint64
}

var loadDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}

func newMetrics() *metrics {
	return &metrics{buckets: loadDurationBuckets, counts: make([]uint64, len(loadDurationBuckets)+1)}
}

func (m *metrics) loads(ok bool) {
	if ok {
		m.loadOK.Add(1)
	} else {
		m.loadFail.Add(1)
	}
}

func (m *metrics) drops(ok bool) {
	if ok {
		m.dropOK.Add(1)
	} else {
		m.dropFail.Add(1)
	}
}

func (m *metrics) observeLoad(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(m.buckets) && s > m.buckets[i] {
		i++
	}
	m.mu.Lock()
	m.counts[i]++
	m.sum += s
	m.count++
	m.mu.Unlock()
}

// Metrics is a snapshot of the engine's counters.
type Metrics struct {
	LoadsSucceeded, LoadsFailed int64
	DropsSucceeded, DropsFailed int64
	BytesPulled                 int64
	// QueueDepth is the loads submitted and not finished; Waiting those of them waiting for a thread.
	QueueDepth, Waiting int64
	// LoadsTimed and LoadSeconds are the count and sum of the load duration histogram (successful loads).
	LoadsTimed  uint64
	LoadSeconds float64
}

// Metrics returns a snapshot of the engine's counters.
func (e *Engine) Metrics() Metrics {
	m := e.metrics
	m.mu.Lock()
	defer m.mu.Unlock()
	return Metrics{
		LoadsSucceeded: m.loadOK.Load(), LoadsFailed: m.loadFail.Load(),
		DropsSucceeded: m.dropOK.Load(), DropsFailed: m.dropFail.Load(),
		BytesPulled: m.pulledBytes.Load(), QueueDepth: m.queued.Load(), Waiting: m.waiting.Load(),
		LoadsTimed: m.count, LoadSeconds: m.sum,
	}
}

// WriteMetrics writes the engine's metrics in the Prometheus text exposition format (version 0.0.4):
// druid_sidecar_segment_loads_total{result}, druid_sidecar_segment_drops_total{result},
// druid_sidecar_segment_pulled_bytes_total, druid_sidecar_segment_load_duration_seconds (histogram),
// druid_sidecar_load_queue_depth and druid_sidecar_load_queue_waiting.
func (e *Engine) WriteMetrics(w io.Writer) error {
	m := e.metrics
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("# HELP druid_sidecar_segment_loads_total Segment loads finished, by result.\n# TYPE druid_sidecar_segment_loads_total counter\n")
	p("druid_sidecar_segment_loads_total{result=\"success\"} %d\ndruid_sidecar_segment_loads_total{result=\"failure\"} %d\n", m.loadOK.Load(), m.loadFail.Load())
	p("# HELP druid_sidecar_segment_drops_total Segment drops finished, by result.\n# TYPE druid_sidecar_segment_drops_total counter\n")
	p("druid_sidecar_segment_drops_total{result=\"success\"} %d\ndruid_sidecar_segment_drops_total{result=\"failure\"} %d\n", m.dropOK.Load(), m.dropFail.Load())
	p("# HELP druid_sidecar_segment_pulled_bytes_total Bytes of segment files pulled from deep storage.\n# TYPE druid_sidecar_segment_pulled_bytes_total counter\n")
	p("druid_sidecar_segment_pulled_bytes_total %d\n", m.pulledBytes.Load())
	p("# HELP druid_sidecar_load_queue_depth Loads submitted and not finished.\n# TYPE druid_sidecar_load_queue_depth gauge\n")
	p("druid_sidecar_load_queue_depth %d\n", m.queued.Load())
	p("# HELP druid_sidecar_load_queue_waiting Loads waiting for a loading thread.\n# TYPE druid_sidecar_load_queue_waiting gauge\n")
	p("druid_sidecar_load_queue_waiting %d\n", m.waiting.Load())
	p("# HELP druid_sidecar_segment_load_duration_seconds Duration of successful segment loads.\n# TYPE druid_sidecar_segment_load_duration_seconds histogram\n")
	m.mu.Lock()
	var cum uint64
	for i, b := range m.buckets {
		cum += m.counts[i]
		p("druid_sidecar_segment_load_duration_seconds_bucket{le=\"%g\"} %d\n", b, cum)
	}
	cum += m.counts[len(m.buckets)]
	p("druid_sidecar_segment_load_duration_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	p("druid_sidecar_segment_load_duration_seconds_sum %g\ndruid_sidecar_segment_load_duration_seconds_count %d\n", m.sum, m.count)
	m.mu.Unlock()
	return bw.Flush()
}
