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
