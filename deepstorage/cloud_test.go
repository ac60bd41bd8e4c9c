package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// The same pulls, faults and listings against the Google Cloud Storage and Azure Blob Storage emulators of
// scripts/services.sh (fake-gcs-server, Azurite), as a Historical of a cluster on GKE or AKS meets them: the
// transfers are the ones S3 uses, so what is checked here is that each store's answers read the same.

// cloud is one emulator with a fresh bucket of the test's own.
type cloud struct {
	name string
	// bucket is the test's bucket (an Azure container).
	bucket string
	// endpoint is the emulator's URL, which the options carry.
	endpoint string
	put      func(t testing.TB, key string, data []byte)
	// spec is a load spec of the key in the test's bucket (or in another one).
	spec func(bucket, key string) LoadSpec
	// options for a puller of the emulator at endpoint (the emulator's own, or a fault proxy's).
	options func(endpoint string) Options
	// conditional reports a read made conditional on the object's version.
	conditional func(*http.Request) bool
	scheme      string
}

func (c cloud) url(key string) string { return c.scheme + "://" + c.bucket + "/" + key }

func clouds(t testing.TB) []cloud {
	return []cloud{googleCloud(t), azureCloud(t)}
}

func googleCloud(t testing.TB) cloud {
	b := testenv.GCS(t)
	return cloud{name: "google", bucket: b.Bucket, endpoint: b.Endpoint, put: b.Put, scheme: schemeGoogle,
		spec: func(bucket, key string) LoadSpec { return Google{Bucket: bucket, Path: key} },
		options: func(endpoint string) Options {
			return cloudOptions(t, Options{Google: GoogleOptions{Endpoint: endpoint}})
		},
		conditional: func(r *http.Request) bool {
			return r.URL.Query().Has("ifGenerationMatch") || r.Header.Get("X-Goog-If-Generation-Match") != ""
		}}
}

func azureCloud(t testing.TB) cloud {
	c := testenv.Azure(t)
	account := c.Endpoint[strings.LastIndexByte(c.Endpoint, '/'):]
	host := strings.TrimSuffix(c.Endpoint, account)
	return cloud{name: "azure", bucket: c.Container, endpoint: host, put: c.Put, scheme: schemeAzure,
		spec: func(container, key string) LoadSpec { return Azure{Container: container, BlobPath: key} },
		options: func(endpoint string) Options {
			return cloudOptions(t, Options{Azure: AzureOptions{Endpoint: endpoint + account, Account: c.Account, Key: c.Key}})
		},
		conditional: func(r *http.Request) bool { return r.Header.Get("If-Match") != "" }}
}

// cloudOptions adds short backoffs and the test's log to options.
func cloudOptions(t testing.TB, o Options) Options {
	o.Logger = hclog.New(&hclog.LoggerOptions{Name: "deepstorage", Output: &testLogWriter{t: t}, Level: hclog.Debug})
	o.Backoff, o.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	return o
}

// proxy puts a fault proxy in front of the emulator.
func (c cloud) proxy(t testing.TB) (Options, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.New(c.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return c.options(p.URL()), p
}

func TestCloudZip(t *testing.T) {
	for _, c := range clouds(t) {
		t.Run(c.name, func(t *testing.T) {
			files := segmentFiles(3<<20, 11)
			archive := goZip(t, files...)
			key := "druid/segments/wiki/20250101T000000.000Z_20250102T000000.000Z/2025-01-02T03_04_05.678Z/0/index.zip"
			c.put(t, key, archive)
			for _, strategy := range []Strategy{Auto, StreamSingle, StreamRanged, SpoolSingle, SpoolRanged} {
				t.Run(strategy.String(), func(t *testing.T) {
					opts, proxy := c.proxy(t)
					opts.Download = Download{Strategy: strategy, PartSize: 256 << 10, Concurrency: 4}
					res, dir, err := pullInto(t, newPuller(t, opts), c.spec(c.bucket, key), 4<<20)
					if err != nil {
						t.Fatal(err)
					}
					checkFiles(t, dir, files)
					if res.Downloaded != int64(len(archive)) || len(res.Files) != 4 {
						t.Errorf("result = %d files, %d downloaded (archive %d)", len(res.Files), res.Downloaded, len(archive))
					}
					reads := gets(proxy)
					ranged := 0
					for _, r := range reads {
						if r.Range != "" {
							ranged++
						}
					}
					switch strategy {
					case StreamSingle, SpoolSingle:
						if len(reads) != 1 || ranged != 0 {
							t.Errorf("want one plain read: %+v", reads)
						}
					default: // 13 parts of 256 KiB
						if ranged != len(reads) || len(reads) != int((int64(len(archive))+(256<<10)-1)/(256<<10)) {
							t.Errorf("want one ranged read per part: %+v", reads)
						}
					}
				})
			}
		})
	}
}

func TestCloudPrefix(t *testing.T) {
	for _, c := range clouds(t) {
		t.Run(c.name, func(t *testing.T) {
			prefix := "druid/segments/wiki/x/v/0/"
			files := append(segmentFiles(700<<10, 9), file{"empty.bin", []byte{}})
			for _, f := range files {
				c.put(t, prefix+f.name, f.data)
			}
			c.put(t, "druid/segments/wiki/x/v/1/version.bin", []byte{0, 0, 0, 9}) // not under the prefix
			opts, _ := c.proxy(t)
			opts.Download.PartSize = 256 << 10 // the chunk comes in 3 ranged reads
			p := newPuller(t, opts)
			p.listPageSize = 2 // and the listing in 3 pages
			res, dir, err := pullInto(t, p, c.spec(c.bucket, prefix), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, files)
			if len(res.Files) != 5 {
				t.Errorf("result lists %q", res.Files)
			}
			_, _, err = pullInto(t, p, c.spec(c.bucket, prefix), 100<<10)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "in 5 objects, more than the 102400 allowed") {
				t.Errorf("too large: err = %v", err)
			}
			c.put(t, "nested/0/sub/x", []byte("x"))
			c.put(t, "nested/0/version.bin", []byte{0, 0, 0, 9})
			_, _, err = pullInto(t, p, c.spec(c.bucket, "nested/0/"), 1<<20)
			if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), c.url("nested/0/sub/x")+", below a subdirectory") {
				t.Errorf("nested: err = %v", err)
			}
			_, _, err = pullInto(t, p, c.spec(c.bucket, "nothing/here/"), 1<<20)
			if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), c.url("nothing/here/")+" does not exist: no object has that prefix") {
				t.Errorf("empty: err = %v", err)
			}
		})
	}
}

func TestCloudErrors(t *testing.T) {
	for _, c := range clouds(t) {
		t.Run(c.name, func(t *testing.T) {
			c.put(t, "ds/0/index.zip", goZip(t, segmentFiles(1000, 1)...))
			c.put(t, "ds/0/empty.zip", nil)
			c.put(t, "ds/0/index.gz", []byte("not a zip"))
			cases := []struct {
				name   string
				spec   LoadSpec
				max    int64
				is     error
				msg    string
				faults []faultproxy.Rule
				reads  int
			}{
				{name: "missing object", spec: c.spec(c.bucket, "ds/1/index.zip"), is: ErrNotFound,
					msg: c.url("ds/1/index.zip") + " does not exist (404", reads: 1},
				{name: "missing bucket", spec: c.spec(c.bucket+"-gone", "ds/0/index.zip"), is: ErrNotFound,
					msg: " does not exist (404", reads: 1},
				{name: "access denied", spec: c.spec(c.bucket, "ds/0/index.zip"), is: ErrAccessDenied,
					faults: []faultproxy.Rule{{Fault: faultproxy.Fault{Status: 403}}},
					msg:    "access denied reading " + c.url("ds/0/index.zip") + ": check ", reads: 1},
				{name: "throttled to the end", spec: c.spec(c.bucket, "ds/0/index.zip"),
					faults: []faultproxy.Rule{{Fault: faultproxy.Fault{Status: 503}}},
					msg:    c.url("ds/0/index.zip") + ": gave up after 3 attempts: 503", reads: 3},
				{name: "empty object", spec: c.spec(c.bucket, "ds/0/empty.zip"), is: ErrInvalidArchive,
					msg: c.url("ds/0/empty.zip") + " is not a usable segment archive", reads: 1},
				{name: "not an archive", spec: c.spec(c.bucket, "ds/0/index.gz"), is: ErrInvalidArchive,
					msg: c.url("ds/0/index.gz") + " is not a usable segment archive", reads: 1},
				{name: "contents larger than the segment", spec: c.spec(c.bucket, "ds/0/index.zip"), max: 100,
					is: ErrTooLarge, msg: "its files add up to more than the 100 bytes allowed", reads: 1},
			}
			for _, k := range cases {
				t.Run(k.name, func(t *testing.T) {
					opts, proxy := c.proxy(t)
					proxy.Add(k.faults...)
					max := k.max
					if max == 0 {
						max = 1 << 20
					}
					root, dir := newRoot(t)
					_, err := newPuller(t, opts).Pull(context.Background(), k.spec, root, max)
					if err == nil || (k.is != nil && !errors.Is(err, k.is)) || !strings.Contains(err.Error(), k.msg) {
						t.Errorf("err = %v\nwant %v saying %q", err, k.is, k.msg)
					}
					if n := len(gets(proxy)); n != k.reads {
						t.Errorf("%d reads, want %d: %+v", n, k.reads, proxy.Requests())
					}
					if names := tree(t, dir); len(names) != 0 {
						t.Errorf("a failed pull left %q", names)
					}
				})
			}
		})
	}
}

func TestCloudFaults(t *testing.T) {
	for _, c := range clouds(t) {
		t.Run(c.name, func(t *testing.T) {
			files := segmentFiles(2<<20, 21)
			c.put(t, "ds/0/index.zip", goZip(t, files...))
			spec := c.spec(c.bucket, "ds/0/index.zip")
			cases := []struct {
				name     string
				strategy Strategy
				faults   []faultproxy.Rule
				check    func(t *testing.T, reads []faultproxy.Record)
			}{
				{name: "503 burst then success", strategy: StreamSingle,
					faults: []faultproxy.Rule{{Times: 2, Fault: faultproxy.Fault{Status: 503}}},
					check: func(t *testing.T, reads []faultproxy.Record) {
						if len(reads) != 3 || reads[2].Status != 200 {
							t.Errorf("requests: %+v", reads)
						}
					}},
				{name: "connection cut mid-body, resumed", strategy: StreamSingle,
					faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{CutAfter: 300_000}}},
					check: func(t *testing.T, reads []faultproxy.Record) {
						if len(reads) != 2 || reads[1].Range != "bytes=300000-" {
							t.Errorf("want the second read to resume at byte 300000: %+v", reads)
						}
					}},
				{name: "parts cut and throttled", strategy: StreamRanged,
					faults: []faultproxy.Rule{
						{Times: 1, Ranged: faultproxy.Ranged(true), Fault: faultproxy.Fault{CutAfter: 50_000, Reset: true}},
						{Times: 1, Ranged: faultproxy.Ranged(true), Fault: faultproxy.Fault{Status: 500}},
					}},
				{name: "stalled body", strategy: StreamSingle,
					faults: []faultproxy.Rule{{Times: 1, Fault: faultproxy.Fault{BodyRate: 100}}},
					check: func(t *testing.T, reads []faultproxy.Record) {
						if len(reads) != 2 {
							t.Errorf("want one stalled read, then a resumed one: %+v", reads)
						}
					}},
				{name: "object replaced during the pull", strategy: StreamRanged,
					faults: []faultproxy.Rule{{Times: 1, Ranged: faultproxy.Ranged(true), Match: c.conditional,
						Fault: faultproxy.Fault{Status: 412}}},
					check: func(t *testing.T, reads []faultproxy.Record) {
						if !slices.ContainsFunc(reads, func(r faultproxy.Record) bool { return r.Status == 412 }) {
							t.Errorf("no read was conditional on the object's version: %+v", reads)
						}
					}},
			}
			for _, k := range cases {
				t.Run(k.name, func(t *testing.T) {
					opts, proxy := c.proxy(t)
					// Short, so that a stalled transfer is cut quickly, yet long enough that an answer of an emulator on a
					// loaded 2-core machine under -race is never taken for a stall.
					opts.StallTimeout = 2 * time.Second
					opts.Download = Download{Strategy: k.strategy, PartSize: 512 << 10, Concurrency: 3}
					proxy.Add(k.faults...)
					_, dir, err := pullInto(t, newPuller(t, opts), spec, 4<<20)
					if err != nil {
						t.Fatal(err)
					}
					checkFiles(t, dir, files)
					if k.check != nil {
						k.check(t, gets(proxy))
					}
				})
			}
		})
	}
}

// The audit's listing: every object under a prefix across pages, in key order, a failed page retried.
func TestCloudList(t *testing.T) {
	for _, c := range clouds(t) {
		t.Run(c.name, func(t *testing.T) {
			var want []string
			for i := range 7 {
				key := fmt.Sprintf("druid/wiki/%02d/index.zip", i)
				c.put(t, key, []byte(strings.Repeat("x", i)))
				want = append(want, key)
			}
			c.put(t, "elsewhere/index.zip", []byte("y"))
			opts, proxy := c.proxy(t)
			p := newPuller(t, opts)
			p.listPageSize = 3
			proxy.Add(faultproxy.Rule{Method: http.MethodGet, Times: 1, Match: func(r *http.Request) bool {
				q := r.URL.Query()
				return q.Has("pageToken") || q.Has("marker")
			}, Fault: faultproxy.Fault{Status: 503}})
			var got []string
			var size int64
			start := time.Now().Add(-time.Hour)
			err := p.ListBucket(context.Background(), Bucket{Scheme: c.scheme, Name: c.bucket}, "druid/", func(o Object) error {
				got = append(got, o.Key)
				size += o.Size
				if o.LastModified.Before(start) {
					t.Errorf("%s: last modified %v", o.Key, o.LastModified)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || size != 21 {
				t.Errorf("listed %q (%d bytes), want %q", got, size, want)
			}
			failed := 0
			for _, r := range proxy.Requests() {
				if r.Status == 503 {
					failed++
				}
			}
			if failed != 1 {
				t.Errorf("%d failed pages, want 1 (retried): %+v", failed, proxy.Requests())
			}
			err = p.ListBucket(context.Background(), Bucket{Scheme: c.scheme, Name: c.bucket + "-gone"}, "", func(Object) error { return nil })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("a missing bucket: err = %v", err)
			}
		})
	}
}
