package configs

import (
	"strings"
	"testing"
)

func TestDruidMajor(t *testing.T) {
	for in, want := range map[string]int{"29.0.0": 29, "38.0.0-SNAPSHOT": 38, "0.22.1": 22, " 37 ": 37, "24.0.2": 24} {
		if got, err := DruidMajor(in); err != nil || got != want {
			t.Errorf("DruidMajor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "latest", "-1.0", "0.x"} {
		if got, err := DruidMajor(in); err == nil {
			t.Errorf("DruidMajor(%q) = %d, want an error", in, got)
		}
	}
}

// TestDruidVersionDefaults: the ZooKeeper load queue, the segment znodes and the legacy server announcement follow
// the Druid version, whether configured or read from the Coordinator later, and a key set by the operator always
// wins.
func TestDruidVersionDefaults(t *testing.T) {
	const skip, queue, server = KeySkipSegmentsOnZK, KeyZKLoadQueue, KeyLegacyServerAnnouncement
	for _, tc := range []struct {
		sets                []string
		major               int // applied after loading, as the version read from the Coordinator; 0 for none
		wantSkip, wantQueue bool
		noServer            bool // no legacy server announcement
		wantDecides         bool
	}{
		{sets: nil, wantDecides: true},
		{sets: []string{KeyDruidVersion + "=29.0.0"}, wantQueue: true},
		{sets: []string{KeyDruidVersion + "=0.22.1"}, wantQueue: true},
		{sets: []string{KeyDruidVersion + "=37.0.0"}},
		{sets: []string{KeyDruidVersion + "=38.0.0"}, wantSkip: true, noServer: true},
		{sets: []string{KeyDruidVersion + "=38.0.0", skip + "=false"}, noServer: true},
		{sets: []string{KeyDruidVersion + "=38.0.0", server + "=true"}, wantSkip: true},
		{sets: []string{KeyDruidVersion + "=37.0.0", server + "=false"}, noServer: true},
		{sets: []string{KeyDruidVersion + "=29.0.0", queue + "=false"}},
		{sets: []string{KeyDruidVersion + "=37.0.0", queue + "=TRUE"}, wantQueue: true},
		{sets: []string{KeyDruidVersion + "=29.0.0", "druid.zk.service.enabled=false"}, wantSkip: true},
		{sets: nil, major: 29, wantQueue: true, wantDecides: true},
		{sets: nil, major: 38, wantSkip: true, noServer: true, wantDecides: true},
		{sets: []string{skip + "=false"}, major: 38, noServer: true, wantDecides: true},
		{sets: []string{skip + "=true", queue + "=false"}, major: 29, wantSkip: true, wantDecides: true},
		{sets: []string{skip + "=true", queue + "=false", server + "=TRUE"}, major: 38, wantSkip: true},
		{sets: []string{queue + "=auto", "druid.zk.service.enabled=false"}, major: 29, wantSkip: true},
	} {
		c, err := Load(LoadOptions{Environ: []string{}, Sets: tc.sets})
		if err != nil {
			t.Fatalf("%v: %v", tc.sets, err)
		}
		if got := c.VersionDecides(); got != tc.wantDecides {
			t.Errorf("%v: VersionDecides %v, want %v", tc.sets, got, tc.wantDecides)
		}
		if tc.major != 0 {
			c.ApplyDruidMajor(tc.major)
		}
		if c.Announcer.SkipSegmentAnnouncementOnZK != tc.wantSkip || c.Sidecar.ZKLoadQueue != tc.wantQueue ||
			c.Sidecar.LegacyServerAnnouncement == tc.noServer {
			t.Errorf("%v then %d: skipSegmentAnnouncementOnZk %v, zkLoadQueue %v, legacyServerAnnouncement %v; want %v, %v, %v",
				tc.sets, tc.major, c.Announcer.SkipSegmentAnnouncementOnZK, c.Sidecar.ZKLoadQueue,
				c.Sidecar.LegacyServerAnnouncement, tc.wantSkip, tc.wantQueue, !tc.noServer)
		}
	}
}

func TestDruidVersionRefused(t *testing.T) {
	for _, set := range []string{KeyDruidVersion + "=latest", KeyZKLoadQueue + "=maybe", KeyLegacyServerAnnouncement + "=yes"} {
		_, err := Load(LoadOptions{Environ: []string{}, Sets: []string{set}})
		if key, _, _ := strings.Cut(set, "="); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v, want one naming %s", set, err, key)
		}
	}
}
