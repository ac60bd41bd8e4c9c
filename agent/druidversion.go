package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/coordinator"
)

// druidVersionTimeout bounds the start's read of the Coordinator's version: a cluster whose Coordinator is not up
// yet must not hold the Historical back, which then starts with the defaults that need no version.
const druidVersionTimeout = 10 * time.Second

// applyDruidVersion settles the defaults that depend on the cluster's Druid version (configs.ApplyDruidMajor)
// before anything is announced, from the leader Coordinator's /status when druid.sidecar.druidVersion does not
// give it. It is read once, at start: the announcer's znodes and the load queue's reader are set up from it, and
// a leader change within one cluster does not change its version but during an upgrade, which restarts the
// Historicals too. When it cannot be read, one warning says so and the version-free defaults stay.
func (a *Agent) applyDruidVersion(ctx context.Context) {
	if !a.cfg.VersionDecides() {
		return
	}
	version, err := a.readDruidVersion(ctx)
	if err != nil {
		a.log.Warn("the cluster's Druid version is unknown: segment znodes are written and the ZooKeeper load queue is "+
			"not read unless configured; set "+configs.KeyDruidVersion+" to choose", "error", err)
		return
	}
	major, err := configs.DruidMajor(version)
	if err != nil {
		a.log.Warn("the Coordinator's version cannot be read: the version-free defaults stay; set "+configs.KeyDruidVersion,
			"error", err)
		return
	}
	cfg := *a.cfg
	changed := cfg.ApplyDruidMajor(major)
	a.cfg = &cfg
	a.log.Info("the cluster's Druid version, from the Coordinator leader", "version", version, "defaults", changed)
}

// readDruidVersion asks the leader Coordinator found as the configuration says (druid.sidecar.coordinator.url, or
// its leader latch) for its version, within druidVersionTimeout.
func (a *Agent) readDruidVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, druidVersionTimeout)
	defer cancel()
	c, err := coordinator.New(a.cfg, coordinator.Options{Logger: a.log.Named("coordinator"), Timeout: druidVersionTimeout})
	if err != nil {
		return "", err
	}
	defer c.Close()
	v, err := c.DruidVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the Coordinator leader's %s: %w", coordinator.StatusPath, err)
	}
	return v, nil
}
