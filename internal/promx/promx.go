// Package promx makes a package's metrics one prometheus.Collector, so that registering them is all or nothing and
// no package writes its own Describe and Collect.
package promx

import "github.com/prometheus/client_golang/prometheus"

// Collector is a prometheus.Collector made of collectors kept up to date as things happen (counters, gauges,
// histograms and their vectors) and of metrics read at scrape time (Scrape, which sends metrics of Descs only).
// Embed it in a package's metrics struct, or return one from a function over the state Scrape reads.
type Collector struct {
	// Collectors are described and collected as they are.
	Collectors []prometheus.Collector
	// Descs are the descriptions of the metrics Scrape sends: all of them, even those it leaves out at times (a
	// series that does not apply yet, such as an audit's before the first one ran).
	Descs []*prometheus.Desc
	// Scrape, when set, sends the metrics read at scrape time.
	Scrape func(ch chan<- prometheus.Metric)
}

// New is a Collector of cs.
func New(cs ...prometheus.Collector) Collector { return Collector{Collectors: cs} }

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, col := range c.Collectors {
		col.Describe(ch)
	}
	for _, d := range c.Descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for _, col := range c.Collectors {
		col.Collect(ch)
	}
	if c.Scrape != nil {
		c.Scrape(ch)
	}
}

// Gauge sends a gauge's value read at scrape time.
func Gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labelValues ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labelValues...)
}

// Counter sends a counter's value read at scrape time.
func Counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labelValues ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labelValues...)
}

// Bool is a gauge's value for a condition: 1 when it holds, 0 otherwise (an up gauge's).
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
