package loadqueue

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// announcedLoad is the load request the inventory announces for id, and its JSON, as a Coordinator reads them.
func announcedLoad(t *testing.T, inv *inventory.Inventory, id segments.SegmentID) (segments.ChangeRequest, []byte) {
	t.Helper()
	srv := httptest.NewServer(inv)
	defer srv.Close()
	loads, err := druidpeer.AnnouncedLoads(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := loads[id]
	if !ok {
		t.Fatalf("segment %s is not announced", id)
	}
	return a.Request, a.JSON
}

// A Druid 38+ Coordinator under a partial-load rule sends the segment's load spec wrapped. The server loads the
// delegate in full (S3's "rangeable" flag and all), announces the wrapper's fingerprint with loadedBytes = size so
// that the rule counts the replica, keeps the wrapper in info_dir, and after a restart announces the same bytes.
func TestPartialLoadRequest(t *testing.T) {
	r := newRig(t, rigOpts{})
	plain := r.s3Segment("wiki", 1, 4000)
	const fingerprint = "v1:0123456789abcdef"
	wrapper := `{"type":"partialFullSegment","delegate":` + strings.TrimSuffix(string(plain.LoadSpec), "}") +
		`,"rangeable":true},"fingerprint":"` + fingerprint + `"}`
	seg := segment(t, "wiki", 1, wrapper, plain.Size)

	peon := r.peon(1)
	peon.Load(seg)
	drain(t, peon)
	if st := result(t, peon, segments.ActionLoad, seg); st.State != "SUCCESS" {
		t.Fatalf("wrapped load: %s (%s)", st.State, cause(st))
	}
	if n := r.puller.pulls.Load(); n != 1 {
		t.Fatalf("%d pulls, want 1", n)
	}
	got, raw := announcedLoad(t, r.ann.inv, seg.ID())
	// The Coordinator counts a replica toward a partial-load rule when its announced fingerprint is the one it asked
	// for; a plain replica, or another fingerprint, is stale and reloaded.
	if got.Fingerprint == nil || *got.Fingerprint != fingerprint || got.LoadedBytes == nil || *got.LoadedBytes != seg.Size {
		t.Fatalf("announced fingerprint %v, loadedBytes %v; want %q, %d", got.Fingerprint, got.LoadedBytes, fingerprint, seg.Size)
	}
	if string(got.Segment.LoadSpec) != wrapper {
		t.Errorf("announced load spec %s, want the wrapper as sent %s", got.Segment.LoadSpec, wrapper)
	}

	// A repeat of the request (a Coordinator whose view had not synced yet) pulls nothing and changes nothing.
	before := r.ann.inv.Snapshot().Counter
	again := r.peon(1)
	again.Load(seg)
	drain(t, again)
	if st := result(t, again, segments.ActionLoad, seg); st.State != "SUCCESS" {
		t.Fatalf("repeated load: %s (%s)", st.State, cause(st))
	}
	if n := r.puller.pulls.Load(); n != 1 || r.ann.inv.Snapshot().Counter != before {
		t.Fatalf("repeated load: %d pulls, inventory counter %v → %v; want 1 pull and no change", n, before, r.ann.inv.Snapshot().Counter)
	}

	// info_dir keeps the wrapper, as Druid's storeInfoFile writes the segment it was asked to load.
	info, err := os.ReadFile(filepath.Join(r.cfg.SegmentCache.InfoDir, seg.ID().String()))
	if err != nil {
		t.Fatal(err)
	}
	var stored segments.DataSegment
	if err := stored.UnmarshalJSON(info); err != nil {
		t.Fatal(err)
	}
	if string(stored.LoadSpec) != wrapper {
		t.Errorf("info_dir holds load spec %s, want the wrapper %s", stored.LoadSpec, wrapper)
	}

	// Restart: the engine stops, and a new cache over the same location and info_dir bootstraps the segment; serve
	// announces what it bootstraps, which gives the same request, byte for byte.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r.cache.Close()
	cache, err := segcache.NewCache(r.cfg, segcache.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	boot, _, err := cache.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(boot) != 1 || boot[0].ID() != seg.ID() {
		t.Fatalf("bootstrap gave %d segments, want %s", len(boot), seg.ID())
	}
	inv := inventory.New()
	if err := inv.Announce(boot); err != nil {
		t.Fatal(err)
	}
	if _, after := announcedLoad(t, inv, seg.ID()); !bytes.Equal(after, raw) {
		t.Errorf("after a restart the announcement is\n%s\nbefore it was\n%s", after, raw)
	}
}

// The Coordinator's partial-load reconciliation asks a server whose replica is stale (a plain one, or one of
// another rule's fingerprint) to load the segment again with the new wrapper ("additive reload"). The files are
// reused; the announcement and info_dir take the new wrapper, or the Coordinator would ask again and again.
func TestPartialLoadRuleChange(t *testing.T) {
	r := newRig(t, rigOpts{})
	plain := r.s3Segment("wiki", 2, 3000)
	wrap := func(fp string) *segments.DataSegment {
		return segment(t, "wiki", 2, `{"type":"partialProjection","delegate":`+string(plain.LoadSpec)+`,"projections":["p"],"fingerprint":"`+fp+`"}`, plain.Size)
	}
	for i, step := range []struct {
		seg         *segments.DataSegment
		fingerprint string // "" for a plain announcement
	}{
		{plain, ""},
		{wrap("v1:aaaa"), "v1:aaaa"},
		{wrap("v1:aaaa"), "v1:aaaa"},
		{wrap("v1:bbbb"), "v1:bbbb"},
		{plain, ""},
	} {
		p := r.peon(1)
		p.Load(step.seg)
		drain(t, p)
		if st := result(t, p, segments.ActionLoad, step.seg); st.State != "SUCCESS" {
			t.Fatalf("step %d: %s (%s)", i, st.State, cause(st))
		}
		got, _ := announcedLoad(t, r.ann.inv, step.seg.ID())
		if fp, _ := segments.AnnouncedFingerprint(step.seg); (got.Fingerprint == nil) != (step.fingerprint == "") ||
			(got.Fingerprint != nil && *got.Fingerprint != fp) || string(got.Segment.LoadSpec) != string(step.seg.LoadSpec) {
			t.Fatalf("step %d: announced fingerprint %v with load spec %s; want %q with %s", i, got.Fingerprint, got.Segment.LoadSpec, step.fingerprint, step.seg.LoadSpec)
		}
		info, err := os.ReadFile(filepath.Join(r.cfg.SegmentCache.InfoDir, step.seg.ID().String()))
		if err != nil {
			t.Fatal(err)
		}
		var stored segments.DataSegment
		if err := stored.UnmarshalJSON(info); err != nil || string(stored.LoadSpec) != string(step.seg.LoadSpec) {
			t.Fatalf("step %d: info_dir holds load spec %s (%v), want %s", i, stored.LoadSpec, err, step.seg.LoadSpec)
		}
	}
	if n := r.puller.pulls.Load(); n != 1 {
		t.Errorf("%d pulls, want 1: a change of rule reuses the files", n)
	}
}
