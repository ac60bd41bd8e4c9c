package deepstorage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCloudPull measures pulls from the Google Cloud Storage and Azure Blob Storage emulators of
// scripts/services.sh (fake-gcs-server, Azurite) against a raw read of the same objects in the same run, as
// BenchmarkPull does for S3: 4 archives of 32 MB, pulled one after the other.
//
//	raw           one GET of each object to io.Discard: what the emulator serves to a plain client
//	raw-ranged    the object's 8 MiB parts read in parallel (4 at a time) to io.Discard
//	stream-single one GET unpacked as it arrives, as Druid's Java pullers do
//	auto          the default: the first part unpacked as it arrives while the next parts are read ahead in
//	              parallel ranged reads
//
// The emulators run on the same 2 cores as the benchmark, so the figures compare the modes with each other, not
// with a cloud. Run with go test -run '^$' -bench BenchmarkCloudPull -benchtime 3x ./deepstorage
func BenchmarkCloudPull(b *testing.B) {
	const count, size = 4, 32 << 20
	archive := benchArchive(b, size)
	for _, env := range []func(testing.TB) cloud{googleCloud, azureCloud} {
		c := env(b)
		b.Run(c.name, func(b *testing.B) {
			keys := make([]string, count)
			for i := range keys {
				keys[i] = fmt.Sprintf("bench/%d/index.zip", i)
				c.put(b, keys[i], archive)
			}
			base := benchDir(b)
			for _, m := range []struct {
				name     string
				strategy Strategy
				raw      int // 0: pull; 1: one GET to io.Discard; 2: parallel ranged GETs to io.Discard
			}{{"raw", Auto, 1}, {"raw-ranged", Auto, 2}, {"stream-single", StreamSingle, 0}, {"auto", Auto, 0}} {
				b.Run(m.name, func(b *testing.B) {
					opts := c.options(c.endpoint)
					opts.Logger = nil
					opts.Download.Strategy = m.strategy
					p := newPuller(b, opts)
					b.SetBytes(int64(len(archive) * count))
					for b.Loop() {
						for i, key := range keys {
							spec := c.spec(c.bucket, key)
							if m.raw > 0 {
								loc := location{scheme: c.scheme, bucket: c.bucket, key: key}
								if n, err := rawGetAt(p, loc, m.raw == 2); err != nil || n != int64(len(archive)) {
									b.Fatalf("raw read of %s: %d bytes, %v", loc, n, err)
								}
								continue
							}
							dir := filepath.Join(base, fmt.Sprint(i))
							if err := os.MkdirAll(dir, 0o755); err != nil {
								b.Fatal(err)
							}
							root, err := os.OpenRoot(dir)
							if err != nil {
								b.Fatal(err)
							}
							_, err = p.Pull(context.Background(), spec, root, 1<<30)
							root.Close()
							if err != nil {
								b.Fatal(err)
							}
							if err := os.RemoveAll(dir); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			}
		})
	}
}
