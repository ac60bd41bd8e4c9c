package coordinator

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf/tlsconftest"
)

// TestCoordinatorOverTLS: an https:// Coordinator whose certificate a private CA signed is called trusting
// druid.client.https.trustStorePath, and refused without it, as Druid's clients do.
func TestCoordinatorOverTLS(t *testing.T) {
	url, trust := tlsconftest.StartServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != LoadQueuePath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"127.0.0.5:8083":{"segmentsToLoad":[],"segmentsToDrop":[]}}`))
	}))

	for _, trusted := range []bool{true, false} {
		sets := []string{"druid.sidecar.coordinator.url=" + url}
		if trusted {
			sets = append(sets, "druid.client.https.trustStorePath="+trust.TrustStorePath, "druid.client.https.trustStorePassword="+trust.TrustStorePassword.Reveal())
		}
		c, err := New(coordinatorConfig(t, sets...), Options{})
		if err != nil {
			t.Fatal(err)
		}
		q, err := c.Queue(context.Background(), "127.0.0.5:8083")
		c.Close()
		switch {
		case trusted && (err != nil || !q.Listed):
			t.Errorf("with the trust store: %+v, %v", q, err)
		case !trusted && (err == nil || !strings.Contains(err.Error(), "certificate")):
			t.Errorf("without the trust store: %+v, %v, want a certificate error", q, err)
		}
	}

	// A trust store that cannot be read is a configuration error of New, naming the key.
	_, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+url, "druid.client.https.trustStorePath="+trust.TrustStorePath,
		"druid.client.https.trustStorePassword=wrong"), Options{})
	if err == nil || !strings.Contains(err.Error(), configs.KeyTLSTrustStorePassword) {
		t.Errorf("New with a wrong trust store password: %v", err)
	}
}
