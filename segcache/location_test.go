package segcache

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// TestOpenLocations is the one way the cache and the prefetcher open locations: an infoDir that is a location is
// refused by both (the configuration refuses it first; this guards a caller that builds its own), and an infoDir
// inside a location reserves its first component.
func TestOpenLocations(t *testing.T) {
	loc := t.TempDir()
	locs := []configs.StorageLocation{{Path: loc + "/", MaxSize: 1000}}
	if got, _, err := openLocations(locs, loc, statfs); err == nil || got != nil || !strings.Contains(err.Error(), "location itself") {
		t.Errorf("infoDir = location: %v, %v", got, err)
	}
	got, reserved, err := openLocations(locs, filepath.Join(loc, "state", "info"), statfs)
	if err != nil {
		t.Fatal(err)
	}
	defer got[0].root.Close()
	if got[0].path != loc || !slices.Equal(reserved, []string{"state"}) {
		t.Errorf("path %s, reserved %v", got[0].path, reserved)
	}
}

// TestPullBoundKeepsTheReservation: a segment accounted without a check after a load reserved (a dropped directory
// taken back, as Load's revive does) may push the location past maxSize; the load still may write what it reserved
// (before, its bound fell to 0 and it failed with "no bytes allowed", seen once in TestCacheSurvivesKill9).
func TestPullBoundKeepsTheReservation(t *testing.T) {
	locs, _, err := openLocations([]configs.StorageLocation{{Path: t.TempDir(), MaxSize: 100}}, filepath.Join(t.TempDir(), "info"), statfs)
	if err != nil {
		t.Fatal(err)
	}
	l := locs[0]
	if err := l.reserve(60); err != nil {
		t.Fatal(err)
	}
	if got := l.pullBound(60); got != 100 {
		t.Errorf("bound with 40 bytes of room: %d, want 100", got)
	}
	l.account(70, true) // 130 of 100 used
	if got := l.pullBound(60); got != 60 {
		t.Errorf("bound past maxSize: %d, want the reservation, 60", got)
	}
}
