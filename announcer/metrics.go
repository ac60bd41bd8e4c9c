package announcer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

var (
	zkConnectedDesc = prometheus.NewDesc("druid_sidecar_zk_connected",
		"1 while the ZooKeeper client has a session, 0 otherwise (ZooKeeper's up gauge; Druid's zk/connected).", nil, nil)
	zkReconnectsDesc = prometheus.NewDesc("druid_sidecar_zk_reconnects_total",
		"ZooKeeper sessions regained after a loss (the first session is not one).", nil, nil)
	zkReconnectSecondsDesc = prometheus.NewDesc("druid_sidecar_zk_reconnect_seconds",
		"How long each loss of the ZooKeeper session lasted (Druid's zk/reconnect/time).", nil, nil)
	zkExpiriesDesc = prometheus.NewDesc("druid_sidecar_zk_session_expiries_total",
		"ZooKeeper sessions the server expired; every ephemeral znode is re-created in the next session.", nil, nil)
	announcedSegmentsDesc = prometheus.NewDesc("druid_sidecar_announced_segments",
		"Segments announced (to the segment inventory and, when enabled, ZooKeeper).", nil, nil)
)

// collector reads the Announcer's state at scrape time; it keeps no copy of it. The ZooKeeper series are absent
// when ZooKeeper is disabled (druid.zk.service.enabled=false): a zk_connected of 0 would page someone for nothing.
func collector(a *Announcer) promx.Collector {
	return promx.Collector{Descs: []*prometheus.Desc{announcedSegmentsDesc, zkConnectedDesc, zkReconnectsDesc,
		zkReconnectSecondsDesc, zkExpiriesDesc}, Scrape: a.scrapeMetrics}
}

func (a *Announcer) scrapeMetrics(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	n := len(a.segs)
	a.mu.Unlock()
	promx.Gauge(ch, announcedSegmentsDesc, float64(n))
	if a.zk == nil {
		return
	}
	s := a.zk.Stats()
	promx.Gauge(ch, zkConnectedDesc, promx.Bool(s.Connected))
	promx.Counter(ch, zkReconnectsDesc, float64(s.Reconnects))
	promx.Counter(ch, zkExpiriesDesc, float64(s.Expiries))
	buckets := make(map[float64]uint64, len(zookeeper.ReconnectBuckets))
	for i, b := range zookeeper.ReconnectBuckets {
		buckets[b] = s.ReconnectSeconds[i]
	}
	ch <- prometheus.MustNewConstHistogram(zkReconnectSecondsDesc, s.ReconnectSecondsCount, s.ReconnectSecondsSum, buckets)
}
