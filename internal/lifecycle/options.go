// Package lifecycle holds what serve (package agent) and the companion share as long-running processes: their
// options, the HTTP helpers of their status endpoints and their server, and the ordered list of what to stop at
// shutdown.
package lifecycle

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/metadata"
)

// DefaultShutdownTimeout bounds the whole shutdown; work still running when it passes is canceled.
const DefaultShutdownTimeout = 30 * time.Second

// Registry is where a process's metrics are registered and what /metrics serves; *prometheus.Registry is one.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Options are a process's collaborators; every field is optional.
type Options struct {
	// Logger; nil discards.
	Logger hclog.Logger
	// Registerer receives every metric and is served on /metrics. nil means a fresh registry with the Go runtime
	// and process collectors, and deep storage's and the metadata store's (deepstorage.Collector,
	// metadata.Collector).
	Registerer Registry
	// Version is the build's version, shown by /status; "" means "unknown".
	Version string
	// ShutdownTimeout bounds the shutdown after ctx ends; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// WithDefaults fills what o leaves out, the same way for serve and companion.
func (o Options) WithDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Registerer == nil {
		r := prometheus.NewRegistry()
		// Deep storage's and the metadata store's series are the process's, as the runtime's are: every puller
		// and store of the process counts into them.
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			deepstorage.Collector(), metadata.Collector())
		o.Registerer = r
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o
}

// DescribeLocations lists the segment cache's location paths for messages, comma-separated.
func DescribeLocations(cfg *configs.Config) string {
	locs := cfg.SegmentCache.Locations()
	s := ""
	for i, l := range locs {
		if i > 0 {
			s += ", "
		}
		s += l.Path
	}
	return s
}
