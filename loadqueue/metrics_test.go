package loadqueue

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func TestMetrics(t *testing.T) {
	r := newRig(t, rigOpts{})
	ok1, ok2 := r.s3Segment("metricsds", 0, 3000), r.s3Segment("metricsds", 1, 5000)
	_, size := indexZip(t, 2000)
	missing := segment(t, "metricsds", 2, `{"type":"s3_zip","bucket":"`+r.bucket.Bucket+`","key":"druid/segments/metricsds/absent/index.zip"}`, size)
	p := r.peon(3)
	p.Load(ok1)
	p.Load(ok2)
	p.Load(missing)
	drain(t, p)
	p.Drop(ok1)
	drain(t, p)
	if st := result(t, p, segments.ActionLoad, missing); st.State != "FAILED" {
		t.Fatalf("load of a missing object: %+v", st)
	}
	if st := result(t, p, segments.ActionDrop, ok1); st.State != "SUCCESS" {
		t.Fatalf("drop: %+v %s", st, cause(st))
	}

	// The failed load may run more than once: when the Coordinator stand-in resends it while it is still PENDING
	// and the attempt fails in between, the resend finds FAILED and retries it, as Druid's status cache does.
	if n := testutil.ToFloat64(r.eng.metrics.loadFail); n < 1 {
		t.Errorf(`druid_sidecar_segment_loads_total{result="failure"} = %v, want at least 1`, n)
	}
	want := `
# HELP druid_sidecar_segment_drops_total Segment drops finished, by result.
# TYPE druid_sidecar_segment_drops_total counter
druid_sidecar_segment_drops_total{result="failure"} 0
druid_sidecar_segment_drops_total{result="success"} 1
# HELP druid_sidecar_load_queue_depth Loads submitted and not finished.
# TYPE druid_sidecar_load_queue_depth gauge
druid_sidecar_load_queue_depth 0
# HELP druid_sidecar_load_queue_waiting Loads waiting for a loading thread.
# TYPE druid_sidecar_load_queue_waiting gauge
druid_sidecar_load_queue_waiting 0
`
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want),
		"druid_sidecar_segment_drops_total",
		"druid_sidecar_load_queue_depth", "druid_sidecar_load_queue_waiting"); err != nil {
		t.Error(err)
	}
	if n := testutil.ToFloat64(r.eng.metrics.loadOK); n != 2 {
		t.Errorf(`druid_sidecar_segment_loads_total{result="success"} = %v, want 2`, n)
	}
	if n := testutil.ToFloat64(r.eng.metrics.pulledBytes); n <= 0 {
		t.Errorf("druid_sidecar_segment_pulled_bytes_total = %v", n)
	}
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, mf := range mfs {
		if mf.GetName() == "druid_sidecar_segment_load_duration_seconds" {
			seen = true
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 2 || h.GetSampleSum() <= 0 || len(h.GetBucket()) != len(loadDurationBuckets) {
				t.Errorf("druid_sidecar_segment_load_duration_seconds: %v", h)
			}
		}
	}
	if !seen {
		t.Error("druid_sidecar_segment_load_duration_seconds is not exposed")
	}
	if n, err := testutil.GatherAndCount(r.reg); err != nil || n != 8 {
		t.Errorf("%d series (%v), want 8", n, err)
	}
	metricstest.NoSegmentLabels(t, r.reg, []*segments.DataSegment{ok1, ok2, missing})

	// A registry that already holds an engine's metrics refuses a second engine's, and New says so.
	_, err = New(Options{Cache: r.cache, Puller: r.puller, Announcer: r.ann, Registerer: r.reg})
	if err == nil || !strings.Contains(err.Error(), "registering the metrics") {
		t.Errorf("New with a registry already holding an engine's metrics: %v", err)
	}
}
