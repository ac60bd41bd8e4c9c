package coordinator

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
)

// A starting data server asks the leader for its bootstrap (broadcast) segments with a POST, as Druid's
// CoordinatorClient does, and gets them with their load specs (a partial-load wrapper kept as it is); a
// Coordinator without broadcast rules answers an empty list.
func TestBootstrapSegments(t *testing.T) {
	api := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{Username: "druid_system", Password: "s3cr3t"})
	c, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+api.URL(), "druid.escalator.type=basic",
		"druid.escalator.internalClientUsername=druid_system", "druid.escalator.internalClientPassword=s3cr3t"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if segs, err := c.BootstrapSegments(ctx); err != nil || len(segs) != 0 {
		t.Fatalf("without broadcast rules: %v (%v)", segs, err)
	}
	lookup := coordSegment(t, "lookup_countries", "v1", 0, 0)
	wrapped := coordSegment(t, "dim_users", "v2", 1, 0)
	wrapped.LoadSpec = json.RawMessage(`{"type":"partialFullSegment","fingerprint":"v1:ff","delegate":` +
		string(wrapped.LoadSpec) + `}`)
	api.SetBootstrapSegments(lookup, wrapped)
	segs, err := c.BootstrapSegments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].ID() != lookup.ID() || segs[1].ID() != wrapped.ID() ||
		string(segs[1].LoadSpec) != string(wrapped.LoadSpec) {
		t.Fatalf("bootstrap segments %v", segs)
	}
	if n := api.Count(BootstrapSegmentsPath); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// A Coordinator whose duties have not run yet answers 503: it is asked 6 times with a growing wait, as Druid's
// StandardRetryPolicy does, and the error says what it answered.
func TestBootstrapSegmentsRetriesUnavailable(t *testing.T) {
	api := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	c, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+api.URL()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	api.Fail(http.StatusServiceUnavailable)
	segs, err := c.BootstrapSegments(ctx)
	if err == nil || segs != nil {
		t.Fatalf("got %v, want an error", segs)
	}
	if n := api.Count(BootstrapSegmentsPath); n != bootstrapAttempts {
		t.Errorf("%d requests, want %d: %v", n, bootstrapAttempts, err)
	}
	t.Log(err)
}
