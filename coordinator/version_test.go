package coordinator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
)

// TestDruidVersion reads /status of Coordinators of Druid 29, 37 and 38, one without a version (run from its build
// tree), a non-leader that redirects to the leader, and one nothing answers for.
func TestDruidVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(url string) (string, error) {
		c, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+url), Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.DruidVersion(ctx)
	}
	for _, want := range []string{"29.0.0", "37.0.0", "38.0.0"} {
		coord := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
		coord.SetVersion(want)
		if got, err := read(coord.URL()); err != nil || got != want {
			t.Errorf("version %q, %v; want %q", got, err, want)
		}
	}

	leader := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	leader.SetVersion("38.0.0")
	follower := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	follower.RedirectTo(leader.URL())
	if got, err := read(follower.URL()); err != nil || got != "38.0.0" {
		t.Errorf("through a redirect: version %q, %v; want the leader's 38.0.0", got, err)
	}

	none := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	if got, err := read(none.URL()); err == nil || !strings.Contains(err.Error(), "no version") {
		t.Errorf("without a version: %q, %v; want an error saying so", got, err)
	}

	gone := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	gone.Close()
	if got, err := read(gone.URL()); err == nil {
		t.Errorf("unreachable: version %q, want an error", got)
	}
}
