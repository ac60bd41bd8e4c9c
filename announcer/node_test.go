package announcer

import (
	"os"
	"path/filepath"
	"testing"
)

// The legacy announcement is compared with a hand-written file that follows Java's bytes (druid-protocol.md 2.1).
func TestServerMetadataMatchesJava(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "announcement_historical.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := serverMetadataJSON(zktConfig(t, "127.0.0.1:2181")); string(got) != string(want) {
		t.Errorf("announcement_historical.json:\n got %s\nwant %s", got, want)
	}
}
