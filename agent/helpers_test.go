package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "agent-test", Level: hclog.Debug, Output: testWriter{t}})
}

func TestNewRefusesWhatItCannotServe(t *testing.T) {
	loc := `druid.segmentCache.locations=[{"path":"` + t.TempDir() + `"}]`
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{loc}, "druid.host is not set"},
		{[]string{"druid.host=127.0.0.1"}, "druid.segmentCache.locations is empty"},
		{[]string{"druid.host=127.0.0.1", loc, "druid.enableTlsPort=true"}, "druid.enableTlsPort=true"},
	} {
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: tc.sets})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: New error %v, want %q", tc.sets, err, tc.want)
		}
	}
}

// startAgent is start with a hook to adjust the Agent between New and Run (a shorter probe period, say).
func startAgent(t *testing.T, cfg *configs.Config, adjust func(*Agent)) *running {
	t.Helper()
	a, err := New(cfg, Options{Logger: testLogger(t), Version: "test", ShutdownTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{a: a, url: "http://" + cfg.Node.HostAndPort(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	select {
	case <-a.Ready():
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run returned during startup: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not announce itself within 20 s")
	}
	return r
}

// metricValue returns the value of the sample of /metrics whose line starts with series (name and labels, as
// exposed), and whether there is one.
func metricValue(t *testing.T, url, series string) (string, bool) {
	t.Helper()
	_, body := httpGet(t, url+MetricsPath)
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v, true
		}
	}
	return "", false
}

// putDailySegments writes n small wikipedia segments, one a day, in Druid's index.zip layout to bucket b under
// druid/segments, and returns their DataSegments.
func putDailySegments(t *testing.T, b testenv.S3Bucket, n int) []*segments.DataSegment {
	t.Helper()
	const baseKey = "druid/segments"
	var segs []*segments.DataSegment
	for day := range n {
		data, size, err := sandbox.IndexZip(uint64(day+1), 4096)
		if err != nil {
			t.Fatal(err)
		}
		s := sandbox.Segment("wikipedia", day, 0, 1, b.Bucket, baseKey, size)
		b.Put(t, sandbox.Key(baseKey, s.ID()), data)
		segs = append(segs, s)
	}
	return segs
}
