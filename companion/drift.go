package companion

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
)

// Once runs the drift watch a single time and returns its findings. Copies a companion placed and the Historical
// has not claimed yet are left out when prefetching is configured (the prefetcher's ledger on disk names them, also
// those of a companion running beside this process); otherwise they would show as "on disk but never announced".
func (c *Companion) Once(ctx context.Context) ([]audit.Finding, error) {
	if c.driftOff != "" {
		return nil, errors.New("the drift watch cannot run: " + c.driftOff)
	}
	var ignore func(string) bool
	if c.pf != nil {
		own := map[string]bool{}
		for _, pc := range c.pf.Unclaimed() {
			own[pc.Segment.ID().String()] = true
		}
		ignore = func(id string) bool { return own[id] }
	}
	return c.drift(ctx, ignore)
}

// readDrift is the drift watch's reading: the Historical's cache directories, info_dir and inventory.
func (c *Companion) readDrift(ctx context.Context, ignore func(id string) bool) ([]audit.Finding, error) {
	st, err := audit.ReadNode(ctx, c.cfg, c.inventoryURL)
	if err != nil {
		return nil, fmt.Errorf("reading the Historical %s (cache %s, inventory %s): %w", c.server, lifecycle.DescribeLocations(c.cfg),
			c.inventoryURL, err)
	}
	return audit.Drift(st, c.now(), c.loadTimeout(), ignore), nil
}

// The drift watch.

func (c *Companion) driftLoop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Sidecar.DriftPeriod)
	defer tick.Stop()
	last := -1
	for {
		findings, err := c.drift(ctx, c.placedUnclaimed)
		if ctx.Err() != nil {
			return
		}
		now := c.now()
		c.metrics.driftLast.Set(float64(now.UnixMilli()) / 1000)
		if err != nil {
			c.metrics.driftUp.Set(0)
			c.log.Warn("the drift watch cannot read the Historical", "error", err)
		} else {
			c.metrics.driftUp.Set(1)
			c.metrics.setDrift(findings)
			if len(findings) != last {
				if len(findings) > 0 {
					c.log.Warn("the Historical's cache, info_dir and inventory disagree", "findings", len(findings),
						"first", describeFinding(findings[0]))
				} else if last > 0 {
					c.log.Info("the Historical's cache, info_dir and inventory agree again")
				}
				last = len(findings)
			}
		}
		c.publish(func(s *snapshot) {
			s.Drift.LastRun = now.UTC().Format(time.RFC3339Nano)
			if err != nil {
				s.Drift.Error = err.Error()
				return
			}
			s.Drift.Error, s.Drift.Findings = "", findings
			if s.Drift.Findings == nil {
				s.Drift.Findings = []audit.Finding{}
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func describeFinding(f audit.Finding) string {
	return f.SegmentID + ": " + f.Detail
}

// problemLabel maps a drift finding's detail to a metric label of a fixed set, so that no label ever carries a
// segment id whatever the detail says.
func problemLabel(detail string) string {
	switch {
	case strings.HasPrefix(detail, audit.DriftAnnouncedMissing):
		return "announced_missing_on_disk"
	case strings.HasPrefix(detail, audit.DriftNeverAnnounced):
		return "on_disk_not_announced"
	case strings.HasPrefix(detail, audit.DriftMarkerStale):
		return "stale_download_marker"
	case strings.HasPrefix(detail, audit.DriftInfoWithoutFiles):
		return "info_dir_without_files"
	}
	return "other"
}

// problemLabels are the label values of druid_sidecar_drift_findings, always exported (0 when none).
var problemLabels = []string{"announced_missing_on_disk", "on_disk_not_announced", "stale_download_marker",
	"info_dir_without_files", "other"}
