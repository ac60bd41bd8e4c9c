package loadqueue

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
)

var loadDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}

// metrics are the engine's collectors; Options.Registerer receives them as one Collector. No metric has a segment
// id label: result is "success" or "failure".
//
//   - druid_sidecar_segment_loads_total{result}, druid_sidecar_segment_drops_total{result}: loads and drops finished;
//   - druid_sidecar_segment_pulled_bytes_total: bytes of segment files pulled from deep storage;
//   - druid_sidecar_segment_load_duration_seconds: histogram of successful loads;
//   - druid_sidecar_load_queue_depth: loads submitted and not finished (Druid's segment/loadQueue/count);
//   - druid_sidecar_load_queue_waiting: those of them waiting for a thread of their pool.
type metrics struct {
	promx.Collector
	loadOK, loadFail prometheus.Counter
	dropOK, dropFail prometheus.Counter
	pulledBytes      prometheus.Counter
	loadDuration     prometheus.Histogram
	queued           prometheus.Gauge
	waiting          prometheus.Gauge
}

func newMetrics() *metrics {
	loads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "druid_sidecar_segment_loads_total", Help: "Segment loads finished, by result.",
	}, []string{"result"})
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "druid_sidecar_segment_drops_total", Help: "Segment drops finished, by result.",
	}, []string{"result"})
	m := &metrics{
		loadOK: loads.WithLabelValues("success"), loadFail: loads.WithLabelValues("failure"),
		dropOK: drops.WithLabelValues("success"), dropFail: drops.WithLabelValues("failure"),
		pulledBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "druid_sidecar_segment_pulled_bytes_total", Help: "Bytes of segment files pulled from deep storage.",
		}),
		loadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "druid_sidecar_segment_load_duration_seconds", Help: "Duration of successful segment loads.",
			Buckets: loadDurationBuckets,
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "druid_sidecar_load_queue_depth", Help: "Loads submitted and not finished.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "druid_sidecar_load_queue_waiting", Help: "Loads waiting for a loading thread.",
		}),
	}
	m.Collector = promx.New(loads, drops, m.pulledBytes, m.loadDuration, m.queued, m.waiting)
	return m
}

func (m *metrics) loads(ok bool) {
	if ok {
		m.loadOK.Inc()
	} else {
		m.loadFail.Inc()
	}
}

func (m *metrics) drops(ok bool) {
	if ok {
		m.dropOK.Inc()
	} else {
		m.dropFail.Inc()
	}
}
