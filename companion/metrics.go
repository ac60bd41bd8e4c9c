package companion

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/internal/promx"
)

// Metrics. No label carries a segment id or a dataSource.

var leadTimeBuckets = []float64{0.5, 1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200}

// metrics are the companion's collectors:
//
//   - druid_sidecar_prefetch_placed_total: segments prefetched and placed in the cache;
//   - druid_sidecar_prefetch_claimed_total: placed copies the Historical claimed (its info_dir entry appeared);
//   - druid_sidecar_prefetch_discarded_total{reason}: lost_race (the Historical had begun its own copy first),
//     unclaimed (out of the queue for longer than the claim timeout, removed), vanished (the Historical removed
//     the copy before claiming it: its reservation or mount failed) or leaked (the Historical loaded the segment
//     into another location; the copy was removed);
//   - druid_sidecar_prefetch_raced_total: placed copies the Historical downloaded over (the mount race);
//   - druid_sidecar_prefetch_already_present_total: queued segments found already in the cache;
//   - druid_sidecar_prefetch_failures_total, druid_sidecar_prefetch_canceled_total: failed pulls, and pulls canceled
//     because the segment left the queue;
//   - druid_sidecar_prefetch_bytes_total: bytes of the copies placed;
//   - druid_sidecar_prefetch_lead_time_seconds: histogram of placed-to-claimed time;
//   - druid_sidecar_prefetch_queue_segments: the Historical's segmentsToLoad at the last read;
//   - druid_sidecar_prefetch_window_segments, druid_sidecar_prefetch_window_bytes, druid_sidecar_prefetch_pulling:
//     the window in use (pulls plus unclaimed copies) and the pulls in flight;
//   - druid_sidecar_coordinator_up: 1 when the last load-queue read succeeded;
//   - druid_sidecar_server_listed: 1 when the last load-queue read listed the Historical under the companion's
//     server name (0 before a read and while the Coordinator does not know it by that name);
//   - druid_sidecar_drift_findings{problem}, druid_sidecar_drift_up, druid_sidecar_drift_last_run_timestamp_seconds;
//   - druid_sidecar_config_problems: problems in the configuration, each turning off what it affects;
//   - druid_sidecar_companion_enabled{feature}: 1 when prefetch, or drift, runs.
type metrics struct {
	placed, claimed, present, failures, canceled prometheus.Counter
	discardedLostRace, discardedUnclaimed        prometheus.Counter
	discardedVanished, discardedLeaked, raced    prometheus.Counter
	bytes                                        prometheus.Counter
	leadTime                                     prometheus.Histogram
	queue, windowSegments, windowBytes, pulling  prometheus.Gauge
	coordinatorUp, serverListed                  prometheus.Gauge
	driftFindings                                *prometheus.GaugeVec
	driftUp, driftLast                           prometheus.Gauge
	configProblems                               prometheus.Gauge
	enabled                                      *prometheus.GaugeVec
	// Collector registers every metric above as one collector.
	promx.Collector
}

func newMetrics() *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	discarded := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "druid_sidecar_prefetch_discarded_total",
		Help: "Prefetched copies lost: lost_race (the Historical began its own first), unclaimed (out of the queue past the claim timeout, removed), vanished (removed by the Historical before it claimed them) or leaked (the Historical loaded the segment into another location; the copy was removed)."},
		[]string{"reason"})
	m := &metrics{
		placed:             counter("druid_sidecar_prefetch_placed_total", "Segments prefetched and placed in the Historical's cache."),
		claimed:            counter("druid_sidecar_prefetch_claimed_total", "Prefetched copies the Historical claimed (its info_dir entry appeared)."),
		present:            counter("druid_sidecar_prefetch_already_present_total", "Queued segments found already in the cache, not prefetched."),
		failures:           counter("druid_sidecar_prefetch_failures_total", "Prefetch pulls that failed."),
		canceled:           counter("druid_sidecar_prefetch_canceled_total", "Prefetch pulls canceled because the segment left the load queue."),
		discardedLostRace:  discarded.WithLabelValues("lost_race"),
		discardedUnclaimed: discarded.WithLabelValues("unclaimed"),
		discardedVanished:  discarded.WithLabelValues("vanished"),
		discardedLeaked:    discarded.WithLabelValues("leaked"),
		raced:              counter("druid_sidecar_prefetch_raced_total", "Prefetched copies the Historical downloaded over: they landed between its existence check and its own directory (harmless, wasted)."),
		bytes:              counter("druid_sidecar_prefetch_bytes_total", "Bytes of the segment copies placed."),
		leadTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "druid_sidecar_prefetch_lead_time_seconds",
			Help: "Time from placing a prefetched copy to the Historical claiming it.", Buckets: leadTimeBuckets}),
		queue:          gauge("druid_sidecar_prefetch_queue_segments", "Segments in the Historical's load queue at the last read."),
		windowSegments: gauge("druid_sidecar_prefetch_window_segments", "Segments in the prefetch window: pulls in flight plus unclaimed copies."),
		windowBytes:    gauge("druid_sidecar_prefetch_window_bytes", "Bytes in the prefetch window: pulls in flight plus unclaimed copies."),
		pulling:        gauge("druid_sidecar_prefetch_pulling", "Prefetch pulls in flight."),
		coordinatorUp:  gauge("druid_sidecar_coordinator_up", "1 when the last read of the Coordinator's load queue succeeded."),
		serverListed: gauge("druid_sidecar_server_listed",
			"1 when the Coordinator's load queue lists the Historical under the companion's druid.host:port; 0 means nothing can be prefetched (/status says why)."),
		driftFindings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "druid_sidecar_drift_findings",
			Help: "Disagreements between the Historical's cache, info_dir and inventory at the last drift check, by problem."},
			[]string{"problem"}),
		driftUp:   gauge("druid_sidecar_drift_up", "1 when the last drift check could read the Historical."),
		driftLast: gauge("druid_sidecar_drift_last_run_timestamp_seconds", "When the last drift check ran."),
		configProblems: gauge("druid_sidecar_config_problems",
			"Problems in the configuration; the companion runs without what each affects (/status lists them)."),
		enabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "druid_sidecar_companion_enabled",
			Help: "1 when the feature (prefetch, drift) runs, 0 when it is off (/status says why)."}, []string{"feature"}),
	}
	for _, p := range problemLabels {
		m.driftFindings.WithLabelValues(p)
	}
	m.Collector = promx.New(m.placed, m.claimed, m.present, m.failures, m.canceled, discarded, m.raced, m.bytes, m.leadTime,
		m.queue, m.windowSegments, m.windowBytes, m.pulling, m.coordinatorUp, m.serverListed, m.driftFindings, m.driftUp, m.driftLast,
		m.configProblems, m.enabled)
	return m
}

func (m *metrics) setDrift(findings []audit.Finding) {
	counts := map[string]int{}
	for _, f := range findings {
		counts[problemLabel(f.Detail)]++
	}
	for _, p := range problemLabels {
		m.driftFindings.WithLabelValues(p).Set(float64(counts[p]))
	}
}
