package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestPeriodicAuditReportsDrift runs serve with druid.sidecar.audit.period and plants a segment directory that no
// load wrote (on disk, never announced): the node's audit exports it as cache_drift, and nothing before that.
func TestPeriodicAuditReportsDrift(t *testing.T) {
	z := testenv.ZooKeeper(t)
	cacheDir := t.TempDir()
	port := freePort(t)
	cfg := loadConfig(t,
		"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(port),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, cacheDir),
		"druid.sidecar.audit.period=PT0.2S")
	r := start(t, cfg)

	success := `druid_sidecar_audit_last_run_success`
	waitMetric := func(series, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, ok := metricValue(t, r.url, series)
			if ok && v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %q (present %v), want %s", series, v, ok, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitMetric(success, "1")
	if v, ok := metricValue(t, r.url, `druid_sidecar_audit_findings{dataSource="wikipedia",kind="cache_drift"}`); ok && v != "0" {
		t.Fatalf("a clean node reports drift: %s", v)
	}

	seg := sandbox.Segment("wikipedia", 0, 0, 1, "bucket", "druid/segments", 1)
	dir := filepath.Join(cacheDir, seg.ID().String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version.bin"), []byte{0, 0, 0, 9}, 0o644); err != nil {
		t.Fatal(err)
	}
	waitMetric(`druid_sidecar_audit_findings{dataSource="wikipedia",kind="cache_drift"}`, "1")
}
