package deepstorage

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// Integration tests against the local S3 server (scripts/services.sh), some through a fault-injecting proxy.

// druidKey is a key as Druid's S3 pusher writes it: colons and all.
const druidKey = "druid/segments/wiki/2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z/2025-01-02T03:04:05.678Z/0/"

type testLogWriter struct {
	mu sync.Mutex
	t  testing.TB
	// lines keeps what was logged, for tests that check a retry was logged.
	lines []string
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, string(p))
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (w *testLogWriter) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// s3Options are Options for the test's bucket, with short backoffs and a logger writing to the test's log.
func s3Options(t testing.TB, b testenv.S3Bucket) (Options, *testLogWriter) {
	w := &testLogWriter{t: t}
	return Options{
		S3: S3Options{Endpoint: b.Endpoint, Region: b.Region, AccessKey: b.AccessKey, SecretKey: b.SecretKey,
			PathStyle: true},
		Logger:     hclog.New(&hclog.LoggerOptions{Name: "deepstorage", Output: w, Level: hclog.Debug}),
		Backoff:    5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
	}, w
}

// proxied routes the options through a fault proxy in front of the bucket's server.
func proxied(t testing.TB, opts Options) (Options, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.New(opts.S3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	opts.S3.Endpoint = p.URL()
	return opts, p
}

func pullInto(t *testing.T, p *Puller, spec LoadSpec, max int64) (Result, string, error) {
	t.Helper()
	root, dir := newRoot(t)
	res, err := p.Pull(context.Background(), spec, root, max)
	return res, dir, err
}

func checkFiles(t *testing.T, dir string, files []file) {
	t.Helper()
	if got := readDir(t, dir); !reflect.DeepEqual(got, want(files)) {
		var names []string
		for n, b := range got {
			names = append(names, fmt.Sprintf("%s (%d bytes)", n, len(b)))
		}
		t.Errorf("the segment directory holds %v, not the segment's %d files", names, len(files))
	}
}

func gets(p *faultproxy.Proxy) []faultproxy.Record {
	var out []faultproxy.Record
	for _, r := range p.Requests() {
		if r.Method == http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func TestS3Zip(t *testing.T) {
	b := testenv.S3(t)
	files := segmentFiles(3<<20, 11)
	archive := goZip(t, files...)
	b.Put(t, druidKey+"index.zip", archive)
	java, err := os.ReadFile("testdata/java-index.zip")
	if err != nil {
		t.Fatal(err)
	}
	b.Put(t, "java/index.zip", java)

	for _, strategy := range []Strategy{Auto, StreamSingle, StreamRanged, SpoolSingle, SpoolRanged} {
		t.Run(strategy.String(), func(t *testing.T) {
			opts, _ := s3Options(t, b)
			opts.Download = Download{Strategy: strategy, PartSize: 256 << 10, Concurrency: 4}
			p := newPuller(t, opts)
			spec := S3Zip{Bucket: b.Bucket, Key: druidKey + "index.zip", Schema: "s3n"}
			res, dir, err := pullInto(t, p, spec, 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, files)
			if res.Downloaded != int64(len(archive)) || res.Bytes != int64(3<<20+4+29+31) || len(res.Files) != 4 {
				t.Errorf("result = %d files, %d bytes, %d downloaded (archive %d)", len(res.Files), res.Bytes,
					res.Downloaded, len(archive))
			}
			if _, err := os.ReadDir(dir); err != nil {
				t.Fatal(err)
			}
			// The Java-written archive too.
			_, dir, err = pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: "java/index.zip"}, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if names := tree(t, dir); !reflect.DeepEqual(names, []string{"00000.smoosh", "factory.json", "meta.smoosh", "version.bin"}) {
				t.Errorf("java archive: %q", names)
			}
		})
	}
}

func TestS3ZipNotStreamable(t *testing.T) {
	b := testenv.S3(t)
	h := &zip.FileHeader{Name: "00000.smoosh", Method: zip.Store}
	archive := goZipHeader(t, h, make([]byte, 600<<10), file{"version.bin", []byte{0, 0, 0, 9}})
	b.Put(t, "ds/0/index.zip", archive)
	for _, strategy := range []Strategy{Auto, StreamSingle, StreamRanged} {
		t.Run(strategy.String(), func(t *testing.T) {
			opts, _ := s3Options(t, b)
			opts.Download = Download{Strategy: strategy, PartSize: 256 << 10}
			_, dir, err := pullInto(t, newPuller(t, opts), S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, []file{{"00000.smoosh", make([]byte, 600<<10)}, {"version.bin", []byte{0, 0, 0, 9}}})
		})
	}
}

func TestS3Gz(t *testing.T) {
	b := testenv.S3(t)
	data := segmentFiles(1<<20, 5)[0].data
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data[:1000])
	zw.Close()
	zw = gzip.NewWriter(&gz) // a second member, as concatenated gzip files have
	zw.Write(data[1000:])
	zw.Close()
	b.Put(t, druidKey+"00000.smoosh.gz", gz.Bytes())
	for _, strategy := range []Strategy{Auto, StreamSingle} {
		t.Run(strategy.String(), func(t *testing.T) {
			opts, _ := s3Options(t, b)
			opts.Download = Download{Strategy: strategy, PartSize: 128 << 10}
			_, dir, err := pullInto(t, newPuller(t, opts), S3Zip{Bucket: b.Bucket, Key: druidKey + "00000.smoosh.gz"}, 2<<20)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, []file{{"00000.smoosh", data}})
		})
	}
	t.Run("corrupt", func(t *testing.T) {
		bad := bytes.Clone(gz.Bytes())
		bad[len(bad)-6] ^= 1 // the last member's CRC
		b.Put(t, "bad/x.gz", bad)
		opts, _ := s3Options(t, b)
		_, _, err := pullInto(t, newPuller(t, opts), S3Zip{Bucket: b.Bucket, Key: "bad/x.gz"}, 2<<20)
		if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), "s3://"+b.Bucket+"/bad/x.gz is not a usable segment archive") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestS3Prefix(t *testing.T) {
	b := testenv.S3(t)
	files := segmentFiles(700<<10, 9)
	files = append(files, file{"empty.bin", []byte{}})
	b.Put(t, druidKey, nil) // a "directory" marker, as consoles create
	for _, f := range files {
		b.Put(t, druidKey+f.name, f.data)
	}
	b.Put(t, "druid/segments/wiki/other/version.bin", []byte{0, 0, 0, 9}) // not under the prefix
	opts, _ := s3Options(t, b)
	opts.Download.PartSize = 256 << 10 // the chunk comes in 3 ranged GETs
	p := newPuller(t, opts)
	p.listPageSize = 2 // and the listing in 3 pages
	res, dir, err := pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: druidKey}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files)
	if len(res.Files) != 5 {
		t.Errorf("result lists %q", res.Files)
	}

	t.Run("too large", func(t *testing.T) {
		_, _, err := pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: druidKey}, 100<<10)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "in 5 objects, more than the 102400 allowed") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nested", func(t *testing.T) {
		b.Put(t, "nested/0/sub/x", []byte("x"))
		b.Put(t, "nested/0/version.bin", []byte{0, 0, 0, 9})
		_, _, err := pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: "nested/0/"}, 1<<20)
		if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), "below a subdirectory") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		_, _, err := pullInto(t, p, S3Zip{Bucket: b.Bucket, Key: "nothing/here/"}, 1<<20)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no object has that prefix") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestS3Errors(t *testing.T) {
	b := testenv.S3(t)
	b.Put(t, "ds/0/index.zip", goZip(t, segmentFiles(1000, 1)...))
	b.Put(t, "ds/0/index.tar", []byte("x"))
	random := make([]byte, 3<<20)
	rand.Read(random)
	b.Put(t, "big/index.zip", goZip(t, file{"00000.smoosh", random}))
	base, _ := s3Options(t, b)
	loc := func(key string) string { return "s3://" + b.Bucket + "/" + key }

	cases := []struct {
		name   string
		opts   func(Options) Options
		spec   S3Zip
		is     error
		msg    string
		faults []faultproxy.Rule
		gets   int
	}{
		{name: "missing key", spec: S3Zip{Bucket: b.Bucket, Key: "ds/1/index.zip"}, is: ErrNotFound,
			msg: loc("ds/1/index.zip") + " does not exist (404 NoSuchKey)", gets: 1},
		{name: "missing bucket", spec: S3Zip{Bucket: b.Bucket + "-gone", Key: "ds/0/index.zip"}, is: ErrNotFound,
			msg: `bucket "` + b.Bucket + `-gone" does not exist (404 NoSuchBucket)`, gets: 1},
		{name: "wrong secret key", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}, is: ErrAccessDenied,
			opts: func(o Options) Options { o.S3.SecretKey = "wrong"; return o },
			msg:  "rejected the signature of the request for " + loc("ds/0/index.zip") + ": check druid.s3.secretKey (403 SignatureDoesNotMatch)", gets: 1},
		{name: "unknown access key", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}, is: ErrAccessDenied,
			opts: func(o Options) Options { o.S3.AccessKey = "nobody"; return o },
			msg:  "does not know the access key used to read " + loc("ds/0/index.zip") + ": check druid.s3.accessKey (", gets: 1}, // Versity answers 404 XAdminUserNotFound, S3 403 InvalidAccessKeyId
		{name: "access denied", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}, is: ErrAccessDenied,
			faults: []faultproxy.Rule{{Fault: faultproxy.Fault{Status: 403}}},
			msg:    "access denied reading " + loc("ds/0/index.zip") + ": check druid.s3.accessKey/secretKey or the pod's IAM role (403 AccessDenied)", gets: 1},
		{name: "throttled to the end", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"},
			faults: []faultproxy.Rule{{Fault: faultproxy.Fault{Status: 503}}},
			msg:    loc("ds/0/index.zip") + ": gave up after 3 attempts: 503 SlowDown", gets: 3},
		{name: "server errors, 5 retries", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"},
			opts:   func(o Options) Options { o.Retries = 5; return o },
			faults: []faultproxy.Rule{{Fault: faultproxy.Fault{Status: 500}}},
			msg:    loc("ds/0/index.zip") + ": gave up after 6 attempts: 500 InternalError", gets: 6},
		{name: "no retries", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"},
			opts:   func(o Options) Options { o.Retries = -1; return o },
			faults: []faultproxy.Rule{{Fault: faultproxy.Fault{Status: 503}}},
			msg:    loc("ds/0/index.zip") + ": S3 answered 503 SlowDown", gets: 1},
		{name: "unknown key form", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.tar"}, is: ErrInvalidArchive,
			msg: loc("ds/0/index.tar") + ": the key ends neither in .zip, .gz nor /", gets: 0},
		{name: "object larger than the segment", spec: S3Zip{Bucket: b.Bucket, Key: "big/index.zip"}, is: ErrTooLarge,
			opts: func(o Options) Options { o.Download.PartSize = 64 << 10; return o },
			msg:  loc("big/index.zip") + " is not a usable segment archive: it holds 3146", gets: 1},
		{name: "contents larger than the segment", spec: S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}, is: ErrTooLarge,
			msg: loc("ds/0/index.zip") + " is not a usable segment archive: its files add up to more than the 100 bytes allowed", gets: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := base
			if c.opts != nil {
				opts = c.opts(opts)
			}
			opts, proxy := proxied(t, opts)
			proxy.Add(c.faults...)
			max := int64(1 << 20)
			if c.spec.Key == "ds/0/index.zip" && c.is == ErrTooLarge {
				max = 100
			}
			root, dir := newRoot(t)
			_, err := newPuller(t, opts).Pull(context.Background(), c.spec, root, max)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), strings.ReplaceAll(c.msg, b.Endpoint, proxy.URL())) {
				t.Errorf("err = %v\nwant %v saying %q", err, c.is, c.msg)
			}
			if n := len(gets(proxy)); n != c.gets {
				t.Errorf("%d GET requests, want %d: %+v", n, c.gets, proxy.Requests())
			}
			if names := tree(t, dir); len(names) != 0 {
				t.Errorf("a failed pull left %q", names)
			}
		})
	}
}

// faultStallTimeout is the stall timeout of the fault tests: short, so that a stalled transfer is cut quickly, but
// long enough that an unfaulted answer of the local S3 server is never taken for a stall on a loaded 2-core machine
// with -race (500 ms was, with the load average near 20).
const faultStallTimeout = 2 * time.Second

func TestS3Faults(t *testing.T) {
	b := testenv.S3(t)
	files := segmentFiles(2<<20, 21)
	archive := goZip(t, files...)
	b.Put(t, "ds/0/index.zip", archive)
	spec := S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}
	base, _ := s3Options(t, b)
	base.StallTimeout = faultStallTimeout
	stalled := fmt.Sprintf("no data arrived for %v", faultStallTimeout)

	cases := []struct {
		name          string
		strategy      Strategy
		progressReset int64
		faults        []faultproxy.Rule
		check         func(t *testing.T, gets []faultproxy.Record, log *testLogWriter)
	}{
		{name: "503 burst then success", strategy: StreamSingle,
			faults: []faultproxy.Rule{{Times: 2, Fault: faultproxy.Fault{Status: 503}}},
			check: func(t *testing.T, gets []faultproxy.Record, log *testLogWriter) {
				if len(gets) != 3 || gets[2].Status != 200 {
					t.Errorf("requests: %+v", gets)
				}
				if !log.contains("retrying S3 request") || !log.contains("503 SlowDown") {
					t.Error("the retries were not logged")
				}
			}},
		{name: "500 and 429 then success", strategy: Auto,
			faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{Status: 500}}, {Times: 1, Fault: faultproxy.Fault{Status: 429}}}},
		{name: "connection cut mid-body, resumed", strategy: StreamSingle,
			faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{CutAfter: 300_000}}},
			check: func(t *testing.T, gets []faultproxy.Record, _ *testLogWriter) {
				if len(gets) != 2 || gets[1].Range != "bytes=300000-" {
					t.Errorf("want the second GET to resume at byte 300000: %+v", gets)
				}
			}},
		{name: "connection reset mid-body, resumed", strategy: StreamSingle,
			faults: []faultproxy.Rule{{Times: 2, Fault: faultproxy.Fault{CutAfter: 100_000, Reset: true}}}},
		{name: "parts cut and throttled", strategy: StreamRanged,
			faults: []faultproxy.Rule{
				{Times: 1, Ranged: faultproxy.Ranged(true), Fault: faultproxy.Fault{CutAfter: 50_000}},
				{Times: 1, Ranged: faultproxy.Ranged(true), Fault: faultproxy.Fault{Status: 503}},
			}},
		{name: "spooled parts cut", strategy: SpoolRanged,
			faults: []faultproxy.Rule{{Times: 2, Ranged: faultproxy.Ranged(true), Fault: faultproxy.Fault{CutAfter: 10_000, Reset: true}}}},
		{name: "cut again and again, progressing", strategy: StreamSingle, progressReset: 100_000,
			faults: []faultproxy.Rule{{Times: 6, Fault: faultproxy.Fault{CutAfter: 150_000}}},
			check: func(t *testing.T, gets []faultproxy.Record, _ *testLogWriter) {
				if len(gets) != 7 {
					t.Errorf("want 6 cut GETs and a last one: %+v", gets)
				}
			}},
		{name: "slow body", strategy: StreamSingle,
			faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{BodyRate: 8 << 20}}},
			check: func(t *testing.T, gets []faultproxy.Record, _ *testLogWriter) {
				if len(gets) != 1 {
					t.Errorf("a slow but steady body was retried: %+v", gets)
				}
			}},
		{name: "stalled body", strategy: StreamSingle,
			faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{BodyRate: 100}}},
			check: func(t *testing.T, gets []faultproxy.Record, log *testLogWriter) {
				if len(gets) != 2 || !log.contains(stalled) {
					t.Errorf("want one stalled GET, then a resumed one: %+v", gets)
				}
			}},
		{name: "slow headers", strategy: Auto,
			// Held well past the stall timeout; the proxy lets go as soon as the puller cuts the request.
			faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{Delay: 4 * faultStallTimeout}}},
			check: func(t *testing.T, gets []faultproxy.Record, log *testLogWriter) {
				if !log.contains(stalled) {
					t.Error("a request without an answer was not cut")
				}
			}},
		{name: "object replaced during the pull", strategy: StreamRanged,
			faults: []faultproxy.Rule{{Times: 1, Ranged: faultproxy.Ranged(true), Match: func(r *http.Request) bool {
				return r.Header.Get("If-Match") != ""
			}, Fault: faultproxy.Fault{Status: 412}}},
			check: func(t *testing.T, gets []faultproxy.Record, log *testLogWriter) {
				if !log.contains("pulling again from the start") {
					t.Error("a 412 did not restart the pull")
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, log := s3Options(t, b)
			opts.StallTimeout = base.StallTimeout
			opts.Download = Download{Strategy: c.strategy, PartSize: 512 << 10, Concurrency: 3}
			opts, proxy := proxied(t, opts)
			proxy.Add(c.faults...)
			p := newPuller(t, opts)
			if c.progressReset > 0 {
				p.progressReset = c.progressReset
			}
			res, dir, err := pullInto(t, p, spec, 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, files)
			if res.Downloaded < int64(len(archive)) {
				t.Errorf("downloaded %d bytes of a %d-byte archive", res.Downloaded, len(archive))
			}
			if c.check != nil {
				c.check(t, gets(proxy), log)
			}
		})
	}
}

func TestS3Cancel(t *testing.T) {
	b := testenv.S3(t)
	archive := goZip(t, segmentFiles(8<<20, 4)...)
	b.Put(t, "ds/0/index.zip", archive)
	spec := S3Zip{Bucket: b.Bucket, Key: "ds/0/index.zip"}

	for _, strategy := range []Strategy{StreamSingle, StreamRanged, SpoolRanged} {
		t.Run(strategy.String(), func(t *testing.T) {
			opts, _ := s3Options(t, b)
			opts.Download = Download{Strategy: strategy, PartSize: 1 << 20}
			opts, proxy := proxied(t, opts)
			proxy.SetConnRate(1 << 20) // 1 MiB/s per connection: the pull would take seconds
			p := newPuller(t, opts)
			root, dir := newRoot(t)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(500*time.Millisecond, cancel)
			start := time.Now()
			_, err := p.Pull(ctx, spec, root, 16<<20)
			d := time.Since(start)
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "pull canceled") {
				t.Errorf("err = %v, want a canceled pull", err)
			}
			if d > 1500*time.Millisecond {
				t.Errorf("the pull returned %v after it started, %v after it was canceled", d, d-500*time.Millisecond)
			}
			if names := tree(t, dir); len(names) != 0 {
				t.Errorf("a canceled pull left %q", names)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		opts, _ := s3Options(t, b)
		opts.PullTimeout = 400 * time.Millisecond
		opts, proxy := proxied(t, opts)
		proxy.SetConnRate(1 << 20)
		root, _ := newRoot(t)
		start := time.Now()
		_, err := newPuller(t, opts).Pull(context.Background(), spec, root, 16<<20)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "s3://"+b.Bucket+"/ds/0/index.zip: the pull did not finish within its 400ms timeout") {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("a pull with a 400ms timeout returned after %v", d)
		}
	})
}

func TestS3Tombstone(t *testing.T) {
	// A tombstone needs no deep storage: a Puller pointed at nothing loads it.
	p := newPuller(t, Options{S3: S3Options{Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"}})
	root, dir := newRoot(t)
	if _, err := p.Pull(context.Background(), Tombstone{}, root, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "factory.json")); err != nil {
		t.Error(err)
	}
}

// TestPullWithoutBound pulls with maxBytes math.MaxInt64, the bound of a segment of size 0 in a location without
// maxSize: the margin added to the bound must not wrap around and refuse every archive.
func TestPullWithoutBound(t *testing.T) {
	b := testenv.S3(t)
	files := segmentFiles(1<<20, 5)
	archive := goZip(t, files...)
	b.Put(t, druidKey+"index.zip", archive)
	local := filepath.Join(t.TempDir(), "index.zip")
	if err := os.WriteFile(local, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []Strategy{Auto, StreamSingle, SpoolRanged} {
		opts, _ := s3Options(t, b)
		opts.Download = Download{Strategy: strategy, PartSize: 256 << 10}
		p := newPuller(t, opts)
		for _, spec := range []LoadSpec{S3Zip{Bucket: b.Bucket, Key: druidKey + "index.zip"}, Local{Path: local}} {
			_, dir, err := pullInto(t, p, spec, math.MaxInt64)
			if err != nil {
				t.Fatalf("%v %s: %v", strategy, spec, err)
			}
			checkFiles(t, dir, files)
		}
	}
}

// deadlineRecorder is a transport that notes whether any request's context carried a deadline.
type deadlineRecorder struct {
	next     http.RoundTripper
	deadline atomic.Bool
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := r.Context().Deadline(); ok {
		d.deadline.Store(true)
	}
	return d.next.RoundTrip(r)
}

// TestPullHasNoTimeLimitByDefault: a pull is bounded by its stall timeout only, as Druid's has no overall limit (a
// large segment on slow storage must finish); Options.PullTimeout sets one when asked.
func TestPullHasNoTimeLimitByDefault(t *testing.T) {
	b := testenv.S3(t)
	b.Put(t, druidKey+"index.zip", goZip(t, segmentFiles(1<<20, 3)...))
	for _, limit := range []time.Duration{0, time.Hour} {
		opts, _ := s3Options(t, b)
		rec := &deadlineRecorder{next: http.DefaultTransport}
		opts.S3.HTTPClient = &http.Client{Transport: rec}
		opts.PullTimeout = limit
		if _, _, err := pullInto(t, newPuller(t, opts), S3Zip{Bucket: b.Bucket, Key: druidKey + "index.zip"}, 4<<20); err != nil {
			t.Fatal(err)
		}
		if got := rec.deadline.Load(); got != (limit > 0) {
			t.Errorf("PullTimeout %v: a request had a deadline: %v", limit, got)
		}
	}
}
