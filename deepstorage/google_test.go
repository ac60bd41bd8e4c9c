package deepstorage

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// STORAGE_EMULATOR_HOST, which Google's client libraries read, points pulls at an emulator as an endpoint does.
func TestGoogleEmulatorHost(t *testing.T) {
	b := testenv.GCS(t)
	files := segmentFiles(10<<10, 5)
	b.Put(t, "druid/wiki/x/0/index.zip", goZip(t, files...))
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(b.Endpoint, "http://"))
	_, dir, err := pullInto(t, newPuller(t, cloudOptions(t, Options{})), Google{Bucket: b.Bucket, Path: "druid/wiki/x/0/index.zip"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files)
}

// Without Google credentials, a google load spec fails naming what to set; nothing is contacted.
func TestGoogleNoCredentials(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	_, _, err := pullInto(t, newPuller(t, cloudOptions(t, Options{Retries: -1})), Google{Bucket: "b", Path: "p/index.zip"}, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "reading gs://b/p/index.zip: no Google credentials for Cloud Storage "+
		"(set GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("err = %v", err)
	}
}
