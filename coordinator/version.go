package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// StatusPath is Druid's StatusResource, which every Druid process serves: its "version" is the release it runs.
const StatusPath = "/status"

// DruidVersion returns the version the leader Coordinator's /status reports ("29.0.1"), the cluster's Druid
// version as far as a data server is concerned: the Coordinator is the one that sends it loads.
func (c *Client) DruidVersion(ctx context.Context) (string, error) {
	resp, cancel, err := c.get(ctx, StatusPath)
	if err != nil {
		return "", err
	}
	defer drainCoordinator(resp, cancel)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the Coordinator answered GET %s with HTTP %d", StatusPath, resp.StatusCode)
	}
	var st struct {
		Version *string `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return "", fmt.Errorf("reading the Coordinator's %s: %w", StatusPath, err)
	}
	// A Druid run from its build tree has no jar manifest and reports a null version.
	if st.Version == nil || *st.Version == "" {
		return "", fmt.Errorf("the Coordinator's %s reports no version", StatusPath)
	}
	return *st.Version, nil
}

// ForgetLeader drops the leader found last, so that the next call finds it again through the configuration's way
// (the leader latch or ConfigMap; druid.sidecar.coordinator.url gives the same URL again): for a caller that must see
// a new leader even while the old one still answers, as a non-leader Coordinator answers /status.
func (c *Client) ForgetLeader() {
	c.mu.Lock()
	c.leader = ""
	c.mu.Unlock()
}
