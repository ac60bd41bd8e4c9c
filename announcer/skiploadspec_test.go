package announcer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/inventory"
)

// With druid.announcer.skipLoadSpec=true the inventory carries no load spec, yet a segment loaded through a
// partial-load wrapper is still announced with the wrapper's fingerprint and loadedBytes = size, as a Druid 38
// Coordinator reads the inventory (Smile); without them it would count the replica as stale and reload it. A
// plain segment has neither field.
func TestSkipLoadSpecKeepsTheFingerprint(t *testing.T) {
	cfg := zktConfig(t, "127.0.0.1:1", "druid.zk.service.enabled=false", "druid.announcer.skipLoadSpec=true")
	inv := inventory.New()
	defer inv.Stop()
	a, err := New(cfg, WithInventory(inv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := zktCtx(t, 10*time.Second)
	defer a.Stop(ctx)
	segs := zktSegments(t, "skipls", 2)
	wrapped := *segs[0]
	wrapped.LoadSpec = json.RawMessage(`{"type":"partialFullSegment","fingerprint":"v1:ab12","delegate":` +
		string(segs[0].LoadSpec) + `}`)
	if err := a.AnnounceSegments(ctx, &wrapped, segs[1]); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(inv)
	defer srv.Close()
	loads, err := druidpeer.AnnouncedLoads(ctx, &http.Client{Timeout: 5 * time.Second}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	w, p := loads[wrapped.ID()], loads[segs[1].ID()]
	if w.Request.Segment == nil || p.Request.Segment == nil {
		t.Fatalf("announced: %v", loads)
	}
	if !bytes.Contains(w.JSON, []byte(`"loadSpec":null`)) || !bytes.Contains(p.JSON, []byte(`"loadSpec":null`)) {
		t.Errorf("skipLoadSpec announced a load spec:\n%s\n%s", w.JSON, p.JSON)
	}
	if f, l := w.Request.Fingerprint, w.Request.LoadedBytes; f == nil || *f != "v1:ab12" || l == nil || *l != wrapped.Size {
		t.Errorf("the wrapped segment is announced without the wrapper's fingerprint and loadedBytes = size: %s", w.JSON)
	}
	if p.Request.Fingerprint != nil || p.Request.LoadedBytes != nil {
		t.Errorf("a plain segment is announced with partial-load fields: %s", p.JSON)
	}
}
