package lifecycle

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The default registry serves deep storage's series beside the runtime's, as a scrape of serve or the companion
// finds them before the first pull (the metadata store's up gauge is absent until a store is opened).
func TestDefaultRegistryHasDeepStorage(t *testing.T) {
	reg := Options{}.WithDefaults().Registerer
	n, err := testutil.GatherAndCount(reg, "druid_sidecar_deep_storage_requests_total", "go_goroutines")
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("the default registry gathers %d series of deep storage's requests and the runtime's goroutines", n)
	}
}
