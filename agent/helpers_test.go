package agent

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
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
