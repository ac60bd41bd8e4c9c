package metadata

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
)

const upHelp = "1 while the metadata store of the type (druid.metadata.storage.type) can be used: the latest " +
	"connection was made and not broken; 0 when it could not be made or broke (refused, unreachable, credentials " +
	"or database refused); absent until the first connection attempt."

var upDesc = prometheus.NewDesc("druid_sidecar_metadata_store_up", upHelp, []string{"type"}, nil)

// health is the up gauge of each type of metadata store, set by every Store.
type health struct {
	mu sync.Mutex
	up map[string]bool
}

func newHealth() *health { return &health{up: map[string]bool{}} }

func (h *health) set(typ string, up bool) {
	h.mu.Lock()
	h.up[typ] = up
	h.mu.Unlock()
}

func (h *health) collector() promx.Collector {
	return promx.Collector{Descs: []*prometheus.Desc{upDesc}, Scrape: func(ch chan<- prometheus.Metric) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, typ := range []string{"postgresql", "mysql"} {
			if up, known := h.up[typ]; known {
				promx.Gauge(ch, upDesc, promx.Bool(up), typ)
			}
		}
	}}
}

// processHealth is every Store's: stores are opened per audit run and by the companion's fallback, and a registry
// takes a collector once, so the gauge is the process's rather than one Store's.
var processHealth = newHealth()

// Collector returns the collector of druid_sidecar_metadata_store_up{type}, which every Store of the process
// sets. Register it once per registry.
func Collector() prometheus.Collector { return processHealth.collector() }
