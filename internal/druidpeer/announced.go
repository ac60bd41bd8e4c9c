package druidpeer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Announced is one load request of a data server's inventory and its JSON, as a Coordinator reads it.
type Announced struct {
	Request segments.ChangeRequest
	JSON    []byte
}

// AnnouncedLoads reads a data server's segment inventory as a Druid 38 Coordinator's HttpServerInventoryView does
// (a full snapshot, in Smile) and returns its load requests by segment id: what the Coordinator's partial-load
// rules compare (fingerprint and loadedBytes) beside the segment.
func AnnouncedLoads(ctx context.Context, client *http.Client, serverURL string) (map[segments.SegmentID]Announced, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serverURL+inventory.Path+"?counter=-1&timeout=1000", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", inventory.SmileType)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the inventory answered %s: %.200s", resp.Status, body)
	}
	js, err := jackson.SmileToJSON(body)
	if err != nil {
		return nil, fmt.Errorf("the inventory's Smile: %w", err)
	}
	out := map[segments.SegmentID]Announced{}
	if _, err := inventory.Decode(bytes.NewReader(js), func(r *segments.ChangeRequest, doc []byte) error {
		if r.Action == segments.ActionLoad {
			out[r.Segment.ID()] = Announced{Request: *r, JSON: bytes.Clone(doc)}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading the inventory: %w", err)
	}
	return out, nil
}
