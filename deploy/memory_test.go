package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// companionPeakRSS is the companion's peak resident memory measured by BenchmarkCompanionRefillMemory: 200
// segments of 40 MiB (five 8 MiB parts each, so that the 256 MiB part-buffer pool of the S3 puller fills) refilled
// by 8 prefetch threads, the binary built as the Dockerfile builds it and run with GOMEMLIMIT from the manifest's
// memory limit (1 GiB). The pool's buffers stay live once warm, and the heap grows to twice what is live between
// collections: 512 MiB. The manifests' memory request must hold it with a quarter to spare.
const companionPeakRSS = 512 << 20

// TestCompanionMemoryRequest keeps the companion's memory request and limit, in every manifest, above what it was
// measured to use, and GOMEMLIMIT set from the limit.
func TestCompanionMemoryRequest(t *testing.T) {
	pods := map[string]*corev1.PodSpec{}
	sts := only[*appsv1.StatefulSet](t, decodeFile(t, filepath.Join("kubernetes", "historical-companion.yaml")))
	pods["kubernetes/historical-companion.yaml"] = &sts.Spec.Template.Spec
	patch := only[*appsv1.StatefulSet](t, decodeFile(t, filepath.Join(operatorDir, "companion-sidecar.yaml")))
	pods[operatorDir+"/companion-sidecar.yaml"] = &patch.Spec.Template.Spec
	for name, spec := range pods {
		c := container(t, spec, "druid-sidecar")
		req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
		if req.Value() < companionPeakRSS*5/4 {
			t.Errorf("%s: druid-sidecar requests %s, less than its measured peak (%d MiB) and a quarter", name, req.String(), companionPeakRSS>>20)
		}
		if lim.Cmp(req) < 0 {
			t.Errorf("%s: druid-sidecar's memory limit %s is below its request %s", name, lim.String(), req.String())
		}
		checkGoMemLimit(t, name, c)
	}
}

// checkGoMemLimit checks that GOMEMLIMIT is the container's own memory limit, through the downward API.
func checkGoMemLimit(t *testing.T, where string, c *corev1.Container) {
	t.Helper()
	own := c.DeepCopy()
	own.EnvFrom = nil // GOMEMLIMIT is set by name; ConfigMaps are not needed to read it
	env := kubeletEnv(t, own, nil)
	want := c.Resources.Limits[corev1.ResourceMemory]
	if want.IsZero() {
		t.Errorf("%s: %s has no memory limit for GOMEMLIMIT to follow", where, c.Name)
		return
	}
	got := env["GOMEMLIMIT"]
	if got != fmt.Sprintf("%dMiB", want.Value()>>20) {
		t.Errorf("%s: %s: GOMEMLIMIT=%q, want its memory limit %s as the Go runtime reads it (%dMiB)", where, c.Name, got,
			want.String(), want.Value()>>20)
	}
}

// BenchmarkCompanionRefillMemory measures the companion's peak resident memory (VmHWM) while it refills a cache:
// COMPANION_MEM_SEGMENTS segments (200) of COMPANION_MEM_SEGMENT_MB MiB (40) queued for the Historical by a
// Coordinator stand-in, pulled from the local S3 server by the druid-sidecar binary, built with the Dockerfile's
// flags and run with the environment of kubernetes/historical-companion.yaml's druid-sidecar (GOMEMLIMIT from its
// memory limit) and 8 prefetch threads, the default. The figure goes into companionPeakRSS. COMPANION_MEM_GOMEMLIMIT
// (e.g. 400MiB,off) runs the refill again with each of those GOMEMLIMIT values, to see what a tighter limit costs.
//
//	go test ./deploy -run '^$' -bench CompanionRefillMemory -benchtime 1x
func BenchmarkCompanionRefillMemory(b *testing.B) {
	n := benchEnvInt(b, "COMPANION_MEM_SEGMENTS", 200)
	mb := benchEnvInt(b, "COMPANION_MEM_SEGMENT_MB", 40)
	bucket := testenv.S3(b)
	bin := filepath.Join(b.TempDir(), "druid-sidecar")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/druid-sidecar")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building druid-sidecar: %v\n%s", err, out)
	}
	sts := only[*appsv1.StatefulSet](b, decodeFile(b, filepath.Join("kubernetes", "historical-companion.yaml")))
	side := container(b, &sts.Spec.Template.Spec, "druid-sidecar")
	limits := []string{kubeletEnv(b, side, nil)["GOMEMLIMIT"]}
	if v := os.Getenv("COMPANION_MEM_GOMEMLIMIT"); v != "" {
		limits = append(limits, strings.Split(v, ",")...)
	}

	const baseKey = "druid/segments"
	segs := uploadSegments(b, bucket, baseKey, n, mb<<20)
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	api, err := druidpeer.NewCoordinatorAPI(druidpeer.CoordinatorAPIOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()
	const server = "127.0.0.1:18083" // the Historical's name; nothing needs to listen there with the drift watch off
	cache := b.TempDir()
	port := freeBenchPort(b)

	for i := range b.N * len(limits) {
		gomemlimit := limits[i%len(limits)]
		// A fresh cache and a full queue each time: nothing placed before, no ledger to adopt.
		api.Remove(server, ids(segs)...)
		if err := os.RemoveAll(cache); err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(cache, 0o755); err != nil {
			b.Fatal(err)
		}
		api.Load(server, segs...)
		cmd := exec.Command(bin, "companion", "--log-level", "warn",
			"--set", "druid.host=127.0.0.1", "--set", "druid.plaintextPort=18083",
			"--set", "druid.zk.service.enabled=false", "--set", "druid.sidecar.coordinator.url="+api.URL(),
			"--set", fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":%d}]`, cache, 2*total),
			"--set", "druid.s3.endpoint.url="+bucket.Endpoint, "--set", "druid.s3.enablePathStyleAccess=true",
			"--set", "druid.s3.accessKey="+bucket.AccessKey, "--set", "druid.s3.secretKey="+bucket.SecretKey,
			"--set", "druid.s3.endpoint.signingRegion="+bucket.Region,
			"--set", "druid.sidecar.prefetch.maxBytes="+strconv.FormatInt(2*total, 10),
			"--set", "druid.sidecar.prefetch.maxSegments="+strconv.Itoa(n),
			"--set", "druid.sidecar.prefetch.pollPeriod=PT0.2S", "--set", "druid.sidecar.drift.period=",
			"--set", "druid.sidecar.companion.port="+strconv.Itoa(port))
		cmd.Env = []string{"GOMEMLIMIT=" + gomemlimit, "HOME=" + b.TempDir()}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var maxRSS atomic.Int64
		stopSampling := make(chan struct{})
		var sampling sync.WaitGroup
		sampling.Go(func() {
			for {
				if v := procStatusKB(cmd.Process.Pid, "VmRSS"); v > maxRSS.Load() {
					maxRSS.Store(v)
				}
				select {
				case <-stopSampling:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
		placed, err := waitPlaced(fmt.Sprintf("http://127.0.0.1:%d/status", port), n, 30*time.Minute)
		peak := procStatusKB(cmd.Process.Pid, "VmHWM")
		took := time.Since(start)
		close(stopSampling)
		sampling.Wait()
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if err != nil {
			b.Fatalf("%v (%d placed); the companion's log:\n%s", err, placed, stderr.String())
		}
		if i < len(limits) && i == 0 {
			b.ReportMetric(float64(peak)/1024, "MiB-peak-rss")
		}
		b.Logf("%d segments of %d MiB (%.1f GB) refilled in %s with GOMEMLIMIT=%s: peak RSS (VmHWM) %d MiB, highest "+
			"sampled VmRSS %d MiB", n, mb, float64(total)/1e9, took.Round(time.Second), gomemlimit, peak/1024,
			maxRSS.Load()/1024)
	}
	os.RemoveAll(cache)
}

// waitPlaced polls the companion's /status until it has placed n segments, and returns how many it placed.
func waitPlaced(url string, n int, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	placed := 0
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			var s struct {
				Prefetch struct {
					Totals struct {
						Placed int `json:"placed"`
					} `json:"totals"`
				} `json:"prefetch"`
			}
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if err == nil {
				placed = s.Prefetch.Totals.Placed
				if placed >= n {
					return placed, nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return placed, fmt.Errorf("the companion did not place %d segments within %s", n, limit)
}

// procStatusKB reads a kB field of /proc/<pid>/status, 0 when it cannot.
func procStatusKB(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// uploadSegments puts n segments of size bytes of random column data (incompressible, as Druid's compressed
// columns are) under baseKey.
func uploadSegments(b *testing.B, bucket testenv.S3Bucket, baseKey string, n, size int) []*segments.DataSegment {
	b.Helper()
	client := bucket.Client(b)
	segs := make([]*segments.DataSegment, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			chunk := make([]byte, size)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				rng := rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), 7})
				rng.Read(chunk)
				data, total, err := sandbox.IndexZipOf(chunk, true)
				if err != nil {
					errs[i] = err
					return
				}
				s := sandbox.Segment("wikipedia", i, 0, 1, bucket.Bucket, baseKey, total)
				_, errs[i] = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket.Bucket),
					Key: aws.String(sandbox.Key(baseKey, s.ID())), Body: bytes.NewReader(data)})
				segs[i] = s
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("uploading segment %d: %v", i, err)
		}
	}
	return segs
}

func ids(segs []*segments.DataSegment) []segments.SegmentID {
	out := make([]segments.SegmentID, len(segs))
	for i, s := range segs {
		out[i] = s.ID()
	}
	return out
}

func benchEnvInt(b *testing.B, env string, def int) int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: expected a positive integer", env, v)
	}
	return n
}

func freeBenchPort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
