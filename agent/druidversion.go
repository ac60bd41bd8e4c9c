package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
)

// druidVersionTimeout bounds each read of the Coordinator's version: a cluster whose Coordinator is not up yet must
// not hold the Historical back, which then starts with the defaults that need no version.
const druidVersionTimeout = 10 * time.Second

// druidVersionPeriod is how often a running serve asks the Coordinator leader for its version again. Nothing
// watches the leader (the Coordinator client finds it on demand), and a Coordinator upgraded in place comes back at
// the same address, so the leader is found afresh and its /status read at every period: one latch or ConfigMap
// read and one small GET a minute, and a rolling upgrade's last step is seen within a minute. Tests shorten it.
var druidVersionPeriod = time.Minute

// druidVersion is what serve knows of the cluster's Druid version and the defaults it applied from it, from start
// (applyDruidVersion) to shutdown (watchDruidVersion), whose one goroutine changes it after start.
type druidVersion struct {
	log hclog.Logger
	// base is the configuration before any version's defaults: each version's are applied to a copy of it.
	base configs.Config

	mu      sync.Mutex
	version string // "" while unknown
	source  string // "config" (druid.sidecar.druidVersion) or "coordinator"
	leader  string // the leader the version was last read from
	major   int    // -1 while unknown
	// What is in force, which only a live change (stopping znodes) moves after start.
	skipSegs, serverAnn, zkQueue bool

	info *prometheus.GaugeVec
}

// applyDruidVersion settles the defaults that depend on the cluster's Druid version (configs.ApplyDruidMajor)
// before anything is announced, from the leader Coordinator's /status when druid.sidecar.druidVersion does not
// give it, and returns what watch needs to follow it afterwards (nil when no default depends on it). When it cannot
// be read, one warning says so and the version-free defaults stay.
func (a *Agent) applyDruidVersion(ctx context.Context) *druidVersion {
	cfg := a.cfg
	d := &druidVersion{log: a.log.Named("druidversion"), base: *cfg, major: -1,
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "druid_sidecar_druid_version_info",
			Help: "1 for the cluster's Druid version in force (from druid.sidecar.druidVersion, or the Coordinator " +
				"leader's /status, read at start and again every minute while serve runs); no series while unknown.",
		}, []string{"version", "source"})}
	if a.reg != nil {
		if err := a.reg.Register(d.info); err != nil {
			d.log.Warn("the Druid version gauge cannot be registered", "error", err)
		}
	}
	d.inForce(cfg)
	if cfg.Sidecar.DruidVersion != "" {
		// Applied by the configuration's loader already.
		d.set(cfg.Sidecar.DruidVersion, "config", "")
		return nil
	}
	if !cfg.VersionDecides() {
		return nil
	}
	c, err := a.coordinatorClient()
	if err != nil {
		d.log.Warn("the cluster's Druid version is unknown: segment znodes are written and the ZooKeeper load queue is "+
			"not read unless configured; set "+configs.KeyDruidVersion+" to choose", "error", err)
		return d
	}
	version, err := readDruidVersion(ctx, c)
	if err != nil {
		d.log.Warn("the cluster's Druid version is unknown: segment znodes are written and the ZooKeeper load queue is "+
			"not read unless configured; set "+configs.KeyDruidVersion+" to choose", "error", err)
		return d
	}
	major, err := configs.DruidMajor(version)
	if err != nil {
		d.log.Warn("the Coordinator's version cannot be read: the version-free defaults stay; set "+configs.KeyDruidVersion,
			"error", err)
		return d
	}
	applied := *cfg
	changed := applied.ApplyDruidMajor(major)
	a.cfg = &applied
	d.inForce(&applied)
	d.set(version, "coordinator", c.Leader())
	d.major = major
	d.log.Info("the cluster's Druid version, from the Coordinator leader", "version", version, "defaults", changed)
	return d
}

// coordinatorClient is the client of the leader Coordinator found as the configuration says
// (druid.sidecar.coordinator.url, or discovery: its leader latch or ConfigMap), made on first use and shared; start
// closes it at shutdown. Each call bounds its own requests (readDruidVersion within druidVersionTimeout).
func (a *Agent) coordinatorClient() (*coordinator.Client, error) {
	a.coordOnce.Do(func() {
		a.coord, a.coordErr = coordinator.New(a.cfg, coordinator.Options{Logger: a.log.Named("coordinator")})
	})
	return a.coord, a.coordErr
}

// readDruidVersion asks the leader Coordinator for its version, within druidVersionTimeout.
func readDruidVersion(ctx context.Context, c *coordinator.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, druidVersionTimeout)
	defer cancel()
	v, err := c.DruidVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the Coordinator leader's %s: %w", coordinator.StatusPath, err)
	}
	return v, nil
}

// inForce records the version-dependent settings of cfg as the ones in force.
func (d *druidVersion) inForce(cfg *configs.Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skipSegs = !cfg.ZK.Enabled || cfg.Announcer.SkipSegmentAnnouncementOnZK
	d.serverAnn = cfg.ZK.Enabled && cfg.Sidecar.LegacyServerAnnouncement
	d.zkQueue = cfg.Sidecar.ZKLoadQueue
}

// set records the version and where it was read, and turns the gauge's series to it.
func (d *druidVersion) set(version, source, leader string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.version, d.source, d.leader = version, source, leader
	d.info.Reset()
	d.info.WithLabelValues(version, source).Set(1)
}

// watchDruidVersion follows the Coordinator leader's version until the shutdown (its stop is pushed on stops):
// every druidVersionPeriod it finds the leader again and reads its /status, and acts on a release line whose
// defaults differ from those in force (follow). Nothing is watched when no default depends on the version.
func (a *Agent) watchDruidVersion(d *druidVersion, ann *announcer.Announcer, stops *lifecycle.Stops) {
	if d == nil {
		return
	}
	c, err := a.coordinatorClient()
	if err != nil {
		d.log.Warn("the Coordinator's version will not be followed", "error", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	period := druidVersionPeriod
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			c.ForgetLeader()
			version, err := readDruidVersion(ctx, c)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Debug("the Coordinator's version could not be read again; what is in force stays", "error", err)
				}
				continue
			}
			d.follow(ctx, version, c.Leader(), ann)
		}
	}()
	stops.Push("Druid version watch", func(context.Context) error { cancel(); <-done; return nil })
}

// follow takes the version read from the Coordinator leader. When its release line implies other defaults than
// those in force, it acts as Druid's rolling-upgrade order allows. Druid upgrades the Historicals first and the
// Coordinator last (downgrades go the other way), so a Coordinator that turns 38 means every Broker is 38 already:
// nothing reads segment znodes or the legacy server announcement any more, and they are deleted at once, while the
// node stays announced. Everything else waits for a restart, which reads the version again at start: writing every
// served segment back into ZooKeeper (a Coordinator downgraded below 38) is what a start does, and the ZooKeeper
// load queue's reader (a Coordinator of 29 or older, whose curator load peon writes to it) is set up at start. One
// warning names the key that would apply it without a restart. A queue read under a Coordinator of 30 or later
// costs nothing (none writes to it), so that is only noted.
func (d *druidVersion) follow(ctx context.Context, version, leader string, ann *announcer.Announcer) {
	d.mu.Lock()
	prevVersion, prevLeader, prevMajor := d.version, d.leader, d.major
	skipSegs, serverAnn, zkQueue := d.skipSegs, d.serverAnn, d.zkQueue
	d.mu.Unlock()
	if leader != prevLeader && prevLeader != "" {
		d.log.Info("the Coordinator leader changed", "leader", leader, "was", prevLeader, "version", version)
	}
	if version == prevVersion {
		return
	}
	d.set(version, "coordinator", leader)
	major, err := configs.DruidMajor(version)
	if err != nil {
		d.log.Warn("the Coordinator's version cannot be read: what is in force stays", "version", version, "error", err)
		return
	}
	if major == prevMajor {
		return // the same release line: the same defaults
	}
	d.mu.Lock()
	d.major = major
	d.mu.Unlock()
	implied := d.base
	implied.ApplyDruidMajor(major)
	wantSkip := !implied.ZK.Enabled || implied.Announcer.SkipSegmentAnnouncementOnZK
	wantServer := implied.ZK.Enabled && implied.Sidecar.LegacyServerAnnouncement
	log := d.log.With("version", version, "was", prevVersion, "leader", leader)

	stopSegs, stopServer := !skipSegs && wantSkip, serverAnn && !wantServer
	if stopSegs || stopServer {
		if err := ann.StopLegacyZNodes(ctx, stopSegs, stopServer); err != nil {
			log.Warn("the Coordinator no longer reads segment znodes nor the legacy server announcement, but they "+
				"could not all be deleted yet (ZooKeeper keeps being asked)", "error", err)
		} else {
			log.Info("the Coordinator is now of a Druid that reads no segment znodes nor legacy server announcement, "+
				"as every Broker before it in a rolling upgrade: they are deleted and no longer written",
				"segmentZNodes", stopSegs, "serverAnnouncement", stopServer)
		}
		d.mu.Lock()
		d.skipSegs, d.serverAnn = skipSegs || stopSegs, serverAnn && !stopServer
		d.mu.Unlock()
	}

	var keys []string
	if skipSegs && !wantSkip {
		keys = append(keys, configs.KeySkipSegmentsOnZK+"=false")
	}
	if !serverAnn && wantServer {
		keys = append(keys, configs.KeyLegacyServerAnnouncement+"=true")
	}
	if !zkQueue && implied.Sidecar.ZKLoadQueue {
		keys = append(keys, configs.KeyZKLoadQueue+"=true")
	}
	if len(keys) > 0 {
		log.Warn("the Coordinator's Druid version implies other defaults than those in force, which need a restart: "+
			"restart serve, which reads the version again and applies them (to keep them whatever the version, set "+
			strings.Join(keys, " and ")+")", "keys", keys)
	}
	if zkQueue && !implied.Sidecar.ZKLoadQueue {
		log.Info("the ZooKeeper load queue stays read until a restart; a Coordinator of this version never writes to it")
	}
}
