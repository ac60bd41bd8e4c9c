package deepstorage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// benchLoadingThreads is the number of segments pulled at a time in BenchmarkPullVsAWSCLI: the
// druid.segmentCache.numLoadingThreads of the example configuration, and the unzip parallelism of the baseline.
const benchLoadingThreads = 4

// BenchmarkPullVsAWSCLI compares, on the same objects of the local S3 server in the same run:
//
//	druid-sidecar:     Pull of every archive, benchLoadingThreads at a time, unpacked into a directory each;
//	aws-s3-cp+unzip:   what users reach for: `aws s3 cp --recursive` of the set (its own parallel transfers), then
//	                   `unzip` of every archive, benchLoadingThreads at a time;
//	raw:               one GET of every archive to io.Discard, benchLoadingThreads at a time (the ceiling).
//
// MB/s is archive bytes per second. make bench installs the AWS CLI (Debian's awscli) when it is missing.
func BenchmarkPullVsAWSCLI(b *testing.B) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		b.Fatal("the AWS CLI is not installed (make bench installs Debian's awscli): ", err)
	}
	unzipCmd, err := exec.LookPath("unzip")
	if err != nil {
		b.Fatal("unzip is not installed: ", err)
	}
	bucket := testenv.S3(b)
	sets := benchSets
	archiveBytes := map[string]int64{}
	for name, archive := range benchUpload(b, bucket, sets) {
		archiveBytes[name] = int64(len(archive))
	}
	for _, s := range sets {
		archiveBytes[s.name] *= int64(s.count)
	}
	base := benchDir(b)
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID="+bucket.AccessKey, "AWS_SECRET_ACCESS_KEY="+bucket.SecretKey,
		"AWS_DEFAULT_REGION="+bucket.Region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	for _, s := range sets {
		b.Run(s.name+"/druid-sidecar", func(b *testing.B) {
			opts, _ := s3Options(b, bucket)
			opts.Logger = nil
			p := newPuller(b, opts)
			b.SetBytes(archiveBytes[s.name])
			var out atomic.Int64
			for b.Loop() {
				benchLoads(b, p, bucket.Bucket, s.name, s.count, benchLoadingThreads, 0, base, &out)
			}
		})
		b.Run(s.name+"/aws-s3-cp+unzip", func(b *testing.B) {
			b.SetBytes(archiveBytes[s.name])
			for b.Loop() {
				dl := filepath.Join(base, "download")
				cp := exec.Command(awsCLI, "s3", "cp", "--recursive", "--quiet", "--endpoint-url", bucket.Endpoint,
					"s3://"+bucket.Bucket+"/"+s.name+"/", dl)
				cp.Env = env
				if out, err := cp.CombinedOutput(); err != nil {
					b.Fatalf("aws s3 cp: %v: %s", err, out)
				}
				if err := os.MkdirAll(filepath.Join(base, "seg"), 0o755); err != nil { // unzip -d makes one level only
					b.Fatal(err)
				}
				jobs := make(chan int)
				errs := make(chan error, s.count)
				var wg sync.WaitGroup
				for range benchLoadingThreads {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range jobs {
							src := filepath.Join(dl, fmt.Sprint(i), "index.zip")
							if out, err := exec.Command(unzipCmd, "-q", "-o", src, "-d", filepath.Join(base, "seg", fmt.Sprint(i))).CombinedOutput(); err != nil {
								errs <- fmt.Errorf("unzip %s: %v: %s", src, err, out)
							}
						}
					}()
				}
				for i := range s.count {
					jobs <- i
				}
				close(jobs)
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dl)
				os.RemoveAll(filepath.Join(base, "seg"))
				b.StartTimer()
			}
		})
		b.Run(s.name+"/raw", func(b *testing.B) {
			opts, _ := s3Options(b, bucket)
			opts.Logger = nil
			p := newPuller(b, opts)
			b.SetBytes(archiveBytes[s.name])
			var out atomic.Int64
			for b.Loop() {
				benchLoads(b, p, bucket.Bucket, s.name, s.count, benchLoadingThreads, 1, base, &out)
			}
		})
	}
}
