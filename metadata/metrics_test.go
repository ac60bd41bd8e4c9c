package metadata

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/metricstest"
)

func checkUp(t *testing.T, reg prometheus.Gatherer, series string) {
	t.Helper()
	metricstest.Gauge(t, reg, "druid_sidecar_metadata_store_up", upHelp, series)
}

// The up gauge as a Prometheus server scraping the audit sees it: absent before the first connection, 1 for each
// store type a connection was made to, 0 for one that refused it; a caller that gave up changes nothing.
func TestMetadataStoreUp(t *testing.T) {
	h := newHealth()
	reg := metricstest.Registers(t, h.collector())
	checkUp(t, reg, "")
	for _, kind := range stores {
		cfg, _ := loadStoreConfig(t, kind)
		st, err := open(testCtx(t), cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	checkUp(t, reg, "druid_sidecar_metadata_store_up{type=\"mysql\"} 1\ndruid_sidecar_metadata_store_up{type=\"postgresql\"} 1\n")

	refused, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		"druid.metadata.storage.type=postgresql",
		"druid.metadata.storage.connector.connectURI=jdbc:postgresql://127.0.0.1:1/druid_meta?connectTimeout=2",
		"druid.metadata.storage.connector.user=druid",
	}})
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := open(canceled, refused, h); err == nil {
		t.Fatal("Open succeeded with a canceled context")
	}
	checkUp(t, reg, "druid_sidecar_metadata_store_up{type=\"mysql\"} 1\ndruid_sidecar_metadata_store_up{type=\"postgresql\"} 1\n")
	if _, err := open(testCtx(t), refused, h); err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	checkUp(t, reg, "druid_sidecar_metadata_store_up{type=\"mysql\"} 1\ndruid_sidecar_metadata_store_up{type=\"postgresql\"} 0\n")
	metricstest.NoSegmentLabels(t, reg, nil)
}

// The process's collector registers once per registry.
func TestCollectorRegisters(t *testing.T) { metricstest.Registers(t, Collector()) }
