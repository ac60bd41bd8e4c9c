package announcer

import (
	"github.com/prometheus/client_golang/prometheus"

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
type collector struct{ a *Announcer }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- announcedSegmentsDesc
	ch <- zkConnectedDesc
	ch <- zkReconnectsDesc
	ch <- zkReconnectSecondsDesc
	ch <- zkExpiriesDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.a.mu.Lock()
	n := len(c.a.segs)
	c.a.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(announcedSegmentsDesc, prometheus.GaugeValue, float64(n))
	if c.a.zk == nil {
		return
	}
	s := c.a.zk.Stats()
	up := 0.0
	if s.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(zkConnectedDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(zkReconnectsDesc, prometheus.CounterValue, float64(s.Reconnects))
	ch <- prometheus.MustNewConstMetric(zkExpiriesDesc, prometheus.CounterValue, float64(s.Expiries))
	buckets := make(map[float64]uint64, len(zookeeper.ReconnectBuckets))
	for i, b := range zookeeper.ReconnectBuckets {
		buckets[b] = s.ReconnectSeconds[i]
	}
	ch <- prometheus.MustNewConstHistogram(zkReconnectSecondsDesc, s.ReconnectSecondsCount, s.ReconnectSecondsSum, buckets)
}
