package segcache

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/internal/promx"
)

var (
	cacheMaxBytesDesc = prometheus.NewDesc("druid_sidecar_segment_cache_max_bytes",
		"The location's maxSize (Druid's segment/max); the filesystem's size when no maxSize is configured.",
		[]string{"location"}, nil)
	cacheUsedBytesDesc = prometheus.NewDesc("druid_sidecar_segment_cache_used_bytes",
		"Bytes accounted to the location: loaded segments, loads in progress and files awaiting deletion (Druid's segment/used).",
		[]string{"location"}, nil)
	cacheSegmentsDesc = prometheus.NewDesc("druid_sidecar_segment_cache_segments",
		"Segments loaded or loading in the location (Druid's segment/count).",
		[]string{"location"}, nil)
	cacheFreeBytesDesc = prometheus.NewDesc("druid_sidecar_segment_cache_free_bytes",
		"Bytes the location can still take: below maxSize and within the filesystem's free space less freeSpacePercent.",
		[]string{"location"}, nil)
	cacheProblemsDesc = prometheus.NewDesc("druid_sidecar_segment_cache_problems", cacheProblemsDescHelp,
		[]string{"kind"}, nil)
)

const cacheProblemsDescHelp = "Problems the last check of the cache (the startup's, or cache verify's) found and left " +
	"in place, by kind: directories without an info file (orphaned), partial or corrupt segments (not announced, " +
	"pulled again at their next load), segments over a location's maxSize, entries that could not be read."

// problemKinds are the label values of druid_sidecar_segment_cache_problems, always exported (0 when none).
var problemKinds = []ProblemKind{ProblemPartial, ProblemCorrupt, ProblemMissing, ProblemOrphaned, ProblemOverLimit,
	ProblemTrash, ProblemReadError}

// cacheCollector reads a Cache's locations at scrape time (CacheOptions.Registerer). The location label is the
// configured path, a handful of values; no metric names a segment.
func cacheCollector(c *Cache) promx.Collector {
	return promx.Collector{Descs: []*prometheus.Desc{cacheMaxBytesDesc, cacheUsedBytesDesc, cacheSegmentsDesc,
		cacheFreeBytesDesc, cacheProblemsDesc}, Scrape: c.scrapeMetrics}
}

func (c *Cache) scrapeMetrics(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	for _, k := range problemKinds {
		promx.Gauge(ch, cacheProblemsDesc, float64(c.left[k]), string(k))
	}
	c.mu.Unlock()
	for _, l := range c.locs {
		ds, err := l.statfs(l.path)
		diskKnown := err == nil
		l.mu.Lock()
		used, count, inflight := l.used, l.count, l.inflight
		l.mu.Unlock()

		limited := l.maxSize != math.MaxInt64
		maxBytes, haveMax := float64(l.maxSize), limited
		if !limited && diskKnown {
			maxBytes, haveMax = float64(ds.Total), true
		}
		// The room reserve would find now (roomLocked), except that the filesystem bounds it even without
		// freeSpacePercent.
		free, haveFree := l.maxSize-used, limited
		if diskKnown {
			keep := uint64(math.Ceil(float64(ds.Total) * l.freeSpacePercent / 100))
			disk := int64(min(ds.Free, math.MaxInt64)) - inflight - int64(min(keep, math.MaxInt64))
			free, haveFree = min(free, disk), true
		}

		if haveMax {
			promx.Gauge(ch, cacheMaxBytesDesc, maxBytes, l.path)
		}
		promx.Gauge(ch, cacheUsedBytesDesc, float64(used), l.path)
		promx.Gauge(ch, cacheSegmentsDesc, float64(count), l.path)
		if haveFree {
			promx.Gauge(ch, cacheFreeBytesDesc, float64(max(free, 0)), l.path)
		}
	}
}
