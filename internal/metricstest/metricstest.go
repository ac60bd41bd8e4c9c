// Package metricstest holds checks that tests of every metrics-exporting package share. Import it from _test.go
// files only.
package metricstest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// NoSegmentLabels fails the test if g's metrics do not gather, or if any label value could be a segment id or
// names the dataSource of one of segs: segment-level labels would give Prometheus one series per segment.
func NoSegmentLabels(t testing.TB, g prometheus.Gatherer, segs []*segments.DataSegment) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				if len(segments.PossibleSegmentIDs(v)) > 0 {
					t.Errorf("%s{%s=%q}: the label value looks like a segment id", mf.GetName(), lp.GetName(), v)
				}
				for _, s := range segs {
					if strings.Contains(v, s.DataSource) {
						t.Errorf("%s{%s=%q}: the label value names a segment", mf.GetName(), lp.GetName(), v)
					}
				}
			}
		}
	}
}

// Registers fails the test unless c registers in a pedantic registry (every metric described, each once) and
// gathers there.
func Registers(t testing.TB, c prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	return reg
}

// Gauge fails the test unless g's gauge name, described by help, has exactly the series given in the text
// exposition format ("name{label=\"value\"} 1\n" lines); no series means the gauge must be absent.
func Gauge(t testing.TB, g prometheus.Gatherer, name, help, series string) {
	t.Helper()
	want := ""
	if series != "" {
		want = "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n" + series
	}
	if err := testutil.GatherAndCompare(g, strings.NewReader(want), name); err != nil {
		t.Error(err)
	}
}
