package promx

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A Collector of a counter and a scrape-time gauge registers as one, passes a pedantic registry's checks (every
// metric described, each once), and sends Scrape's metrics only when there are some.
func TestCollector(t *testing.T) {
	events := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_events_total", Help: "Events."})
	upDesc := prometheus.NewDesc("test_up", "1 while up.", []string{"store"}, nil)
	var state atomic.Int32 // 0: nothing known, 1: up, 2: down
	c := Collector{Collectors: []prometheus.Collector{events}, Descs: []*prometheus.Desc{upDesc},
		Scrape: func(ch chan<- prometheus.Metric) {
			if s := state.Load(); s != 0 {
				Gauge(ch, upDesc, Bool(s == 1), "s3")
			}
		}}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(New(events)); err == nil {
		t.Error("a second collector of the same counter registered")
	}
	events.Inc()
	const head = "# HELP test_events_total Events.\n# TYPE test_events_total counter\ntest_events_total 1\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head), "test_events_total", "test_up"); err != nil {
		t.Error(err)
	}
	state.Store(2)
	want := head + "# HELP test_up 1 while up.\n# TYPE test_up gauge\ntest_up{store=\"s3\"} 0\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "test_events_total", "test_up"); err != nil {
		t.Error(err)
	}
}

func TestCounter(t *testing.T) {
	d := prometheus.NewDesc("test_seen_total", "Seen.", nil, nil)
	c := Collector{Descs: []*prometheus.Desc{d}, Scrape: func(ch chan<- prometheus.Metric) { Counter(ch, d, 3) }}
	if got := testutil.ToFloat64(c); got != 3 {
		t.Errorf("test_seen_total = %v, want 3", got)
	}
}
