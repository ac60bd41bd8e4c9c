package configs

import (
	"fmt"
	"strconv"
	"strings"
)

// Switch is an on/off key that may also be left to druid-sidecar: auto, true or false.
type Switch string

// The values of a Switch.
const (
	SwitchAuto Switch = "auto"
	SwitchOn   Switch = "true"
	SwitchOff  Switch = "false"
)

// The keys the messages about the Druid version name.
const (
	KeyDruidVersion             = "druid.sidecar.druidVersion"
	KeyLegacyServerAnnouncement = "druid.sidecar.legacyServerAnnouncement"
	KeyZKLoadQueue              = "druid.sidecar.zkLoadQueue"
	KeySkipSegmentsOnZK         = "druid.announcer.skipSegmentAnnouncementOnZk"
)

// The Druid releases whose ZooKeeper behaviour differs (druid-protocol.md 5, 11 and 14).
const (
	// LastZKLoadQueueMajor is the last Druid whose Coordinator may send loads through the ZooKeeper load queue:
	// 30.0 removed druid.coordinator.loadqueuepeon.type and its curator peon with it.
	LastZKLoadQueueMajor = 29
	// NoZKSegmentsMajor is the first Druid that reads no segment znodes: 38 removed ZooKeeper segment announcement
	// and the batch server view (#19377), keeping only internal discovery and the leader latches in ZooKeeper. The
	// same change removed the legacy server announcement (CuratorDataSegmentServerAnnouncer, announcementsPath).
	NoZKSegmentsMajor = 38
)

// switchKind reads a Switch, its words in any case as Jackson reads a boolean.
func switchKind(ptr func(*Config) *Switch) kind {
	return field[Switch]{
		name: "auto|true|false",
		parse: func(raw string, _ *lookups) (Switch, error) {
			v := Switch(strings.ToLower(strings.TrimSpace(raw)))
			if v != SwitchAuto && v != SwitchOn && v != SwitchOff {
				return "", fmt.Errorf("expected auto, true or false, got %s", quoteValue(raw))
			}
			return v, nil
		},
		format: func(v Switch) string { return string(v) },
		ptr:    ptr,
	}
}

// DruidMajor reads the release line of a Druid version as /status reports it ("29.0.1", "38.0.0-SNAPSHOT"): its
// first number, or its second for the 0.x releases before 24.0 ("0.22.1" is 22).
func DruidMajor(version string) (int, error) {
	parts := strings.SplitN(strings.TrimSpace(version), ".", 3)
	major, err := strconv.Atoi(parts[0])
	if err == nil && major == 0 && len(parts) > 1 {
		major, err = strconv.Atoi(parts[1])
	}
	if err != nil || major < 0 {
		return 0, fmt.Errorf("not a Druid version: %s (expected one such as 29.0.0 or 0.22.1)", quoteValue(version))
	}
	return major, nil
}

// ApplyDruidMajor sets the defaults that depend on the cluster's Druid release line: with 38 and later no segment
// znodes are written unless druid.announcer.skipSegmentAnnouncementOnZk was set, nor the legacy server
// announcement unless druid.sidecar.legacyServerAnnouncement was, and druid.sidecar.zkLoadQueue=auto reads the
// ZooKeeper load queue up to 29. It returns what it changed, for the log.
func (c *Config) ApplyDruidMajor(major int) []string {
	var changed []string
	if c.Announcer.skipOnZKByDefault && major >= NoZKSegmentsMajor && !c.Announcer.SkipSegmentAnnouncementOnZK {
		c.Announcer.SkipSegmentAnnouncementOnZK = true
		changed = append(changed, KeySkipSegmentsOnZK+"=true")
	}
	if c.Sidecar.LegacyServerAnnouncementMode == SwitchAuto && major >= NoZKSegmentsMajor && c.Sidecar.LegacyServerAnnouncement {
		c.Sidecar.LegacyServerAnnouncement = false
		changed = append(changed, KeyLegacyServerAnnouncement+"=false")
	}
	// A Coordinator up to 29 whose load queue peon is curator writes its loads to the queue; one with the http
	// peon never does, so reading the queue costs it nothing, as a Java Historical up to 30 always watched it.
	// Knowing the version is enough: /status/properties could tell the peon type, but only for versions this
	// already turns the queue on for.
	if c.Sidecar.ZKLoadQueueMode == SwitchAuto && c.ZK.Enabled && major <= LastZKLoadQueueMajor && !c.Sidecar.ZKLoadQueue {
		c.Sidecar.ZKLoadQueue = true
		changed = append(changed, KeyZKLoadQueue+"=true")
	}
	return changed
}

// resolveDruidVersion sets druid.sidecar.zkLoadQueue and legacyServerAnnouncement from their modes (auto: the
// version-free defaults, off and on) and, when druid.sidecar.druidVersion is set, applies that version's defaults at
// once; without it they wait for the version read from the Coordinator.
func (l *loader) resolveDruidVersion(c *Config, origin func(string) (Origin, int)) {
	c.Sidecar.ZKLoadQueue = c.Sidecar.ZKLoadQueueMode == SwitchOn
	c.Sidecar.LegacyServerAnnouncement = c.Sidecar.LegacyServerAnnouncementMode != SwitchOff
	if c.Sidecar.DruidVersion == "" {
		return
	}
	major, err := DruidMajor(c.Sidecar.DruidVersion)
	if err != nil {
		o, ord := origin(KeyDruidVersion)
		l.probs.add(Problem{Key: KeyDruidVersion, Origin: o, order: ord, Msg: err.Error()})
		return
	}
	c.ApplyDruidMajor(major)
}

// VersionDecides reports whether a default still waits for the cluster's Druid version: ZooKeeper is in use,
// druid.sidecar.druidVersion is not set, and druid.sidecar.zkLoadQueue or legacyServerAnnouncement is auto or
// druid.announcer.skipSegmentAnnouncementOnZk is unset.
func (c *Config) VersionDecides() bool {
	return c.ZK.Enabled && c.Sidecar.DruidVersion == "" && (c.Sidecar.ZKLoadQueueMode == SwitchAuto ||
		c.Sidecar.LegacyServerAnnouncementMode == SwitchAuto || c.Announcer.skipOnZKByDefault)
}
