package loadqueue

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// invAnnouncer announces into the HTTP inventory only, standing in for the ZooKeeper Announcer.
type invAnnouncer struct {
	inv   *inventory.Inventory
	delay time.Duration
	fail  atomic.Pointer[error] // when set, AnnounceSegments fails with it
}

func (a *invAnnouncer) AnnounceSegments(_ context.Context, segs ...*segments.DataSegment) error {
	if err := a.fail.Load(); err != nil {
		return *err
	}
	time.Sleep(a.delay)
	return a.inv.Announce(segs)
}

func (a *invAnnouncer) UnannounceSegments(_ context.Context, segs ...*segments.DataSegment) error {
	return a.inv.Unannounce(segs)
}

func (a *invAnnouncer) has(id segments.SegmentID) bool {
	return slices.Contains(a.inv.Snapshot().IDs, id)
}

// zkStalled is the ZooKeeper announcer while ZooKeeper does not answer: AnnounceSegments waits for it (until its
// context ends), QueueSegments records in the inventory at once and leaves the znode queued.
type zkStalled struct{ *invAnnouncer }

func (a zkStalled) AnnounceSegments(ctx context.Context, _ ...*segments.DataSegment) error {
	<-ctx.Done()
	return ctx.Err()
}

func (a zkStalled) QueueSegments(segs ...*segments.DataSegment) error { return a.inv.Announce(segs) }

// countPuller counts pulls that reach deep storage.
type countPuller struct {
	p     segcache.Puller
	pulls atomic.Int64
}

func (c *countPuller) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	c.pulls.Add(1)
	return c.p.PullSegment(ctx, seg, dir, maxBytes)
}

type rig struct {
	t      *testing.T
	bucket testBucket
	eng    *Engine
	ann    *invAnnouncer
	puller *countPuller
	cache  *segcache.Cache
	cfg    *configs.Config
	srv    *httptest.Server
	dir    string
	reg    *prometheus.Registry // the engine's metrics, alone in a fresh registry
}

type rigOpts struct {
	endpoint  string // S3 endpoint override (a fault proxy); the rig then needs the S3 server even under -short
	noStorage bool   // no deep storage at all: S3 at a port nothing listens on, and no bucket
	threads   int
	hook      Hook
	statusMax int
	sets      []string
	delay     time.Duration   // wrap the puller with a delay
	block     <-chan struct{} // when set, pulls wait until it is closed
	zkStalled bool            // the announcer is a QueueingAnnouncer whose ZooKeeper never answers (zkStalled)

	maxRequest, maxInflight int64 // the changeRequests body limits
}

// newRig runs the engine on a fresh cache. Its deep storage is a bucket of the local S3 server, or, under -short,
// one in memory: what the engine does with a puller and an announcer needs no S3 to be tested.
func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	dir := t.TempDir()
	sets := append([]string{
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, dir),
		"druid.segmentCache.dropSegmentDelayMillis=60000",
	}, o.sets...)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets, NumCPU: 2})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := segcache.NewCache(cfg, segcache.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	if _, _, err := cache.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b testBucket
	var inner segcache.Puller
	switch {
	case o.noStorage:
		b, inner = noBucket(t)
	case testing.Short() && o.endpoint == "":
		b, inner = newMemBucket(t)
	default:
		b, inner = s3Bucket(t, o.endpoint)
	}
	if o.delay > 0 || o.block != nil {
		p, wait := inner, afterChan(o.delay)
		if o.block != nil {
			wait = func() <-chan struct{} { return o.block }
		}
		inner = segcache.PullerFunc(func(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
			select {
			case <-wait():
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			return p.PullSegment(ctx, seg, dir, maxBytes)
		})
	}
	r := &rig{t: t, bucket: b, cache: cache, cfg: cfg, dir: dir, puller: &countPuller{p: inner},
		ann: &invAnnouncer{inv: inventory.New()}, reg: prometheus.NewPedanticRegistry()}
	threads := o.threads
	if threads == 0 {
		threads = 2
	}
	var ann Announcer = r.ann
	if o.zkStalled {
		ann = zkStalled{r.ann}
	}
	r.eng, err = New(Options{Cache: cache, Puller: r.puller, Announcer: ann, Hook: o.hook,
		NumLoadingThreads: threads, NumTurboThreads: threads * 2, StatusQueueMaxSize: o.statusMax, Registerer: r.reg,
		MaxRequestBytes: o.maxRequest, MaxInflightBytes: o.maxInflight})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(r.eng.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.eng.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		r.srv.Close()
	})
	return r
}

// s3Bucket is a fresh bucket of the local S3 server and a puller of it, through endpoint when it is set.
func s3Bucket(t *testing.T, endpoint string) (testBucket, segcache.Puller) {
	t.Helper()
	b := testenv.S3(t)
	if endpoint == "" {
		endpoint = b.Endpoint
	}
	dp, err := deepstorage.New(deepstorage.Options{
		S3:      deepstorage.S3Options{Endpoint: endpoint, Region: b.Region, AccessKey: b.AccessKey, SecretKey: b.SecretKey, PathStyle: true},
		Retries: -1, StallTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return testBucket{Bucket: b.Bucket, Endpoint: b.Endpoint, s3: &b}, dp
}

// noBucket is no deep storage: a puller of an S3 endpoint nothing listens on, and a bucket that takes no object.
func noBucket(t *testing.T) (testBucket, segcache.Puller) {
	t.Helper()
	const nowhere = "http://127.0.0.1:1"
	dp, err := deepstorage.New(deepstorage.Options{S3: deepstorage.S3Options{Endpoint: nowhere, Region: "us-east-1",
		AccessKey: "none", SecretKey: "none", PathStyle: true}, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return testBucket{Bucket: "none", Endpoint: nowhere}, dp
}

// afterChan returns a function giving, on each call, a channel closed d from then.
func afterChan(d time.Duration) func() <-chan struct{} {
	return func() <-chan struct{} {
		ch := make(chan struct{})
		time.AfterFunc(d, func() { close(ch) })
		return ch
	}
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) peon(batch int) *druidpeer.LoadPeon {
	return &druidpeer.LoadPeon{URL: r.srv.URL, BatchSize: batch, HostTimeout: 10 * time.Second, RepeatDelay: 50 * time.Millisecond}
}

// indexZip builds a v9 index.zip and returns it with the total size of its files.
func indexZip(t testing.TB, payload int) ([]byte, int64) {
	t.Helper()
	chunk := bytes.Repeat([]byte("druid-segment-data"), payload/18+1)[:payload]
	meta := fmt.Sprintf("v1,2147483647,1\n__time,0,0,%d\n", len(chunk))
	version := binary.BigEndian.AppendUint32(nil, 9)
	files := []struct {
		name string
		data []byte
	}{{"version.bin", version}, {"meta.smoosh", []byte(meta)}, {"00000.smoosh", chunk}, {"factory.json", []byte(`{"type":"mMapSegmentFactory"}`)}}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var total int64
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
		total += int64(len(f.data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), total
}

// segment builds a DataSegment on day (from 2025-01-01) with the given load spec and size.
func segment(t testing.TB, ds string, day int, loadSpec string, size int64) *segments.DataSegment {
	t.Helper()
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000)
	iv := segments.Interval{Start: start, End: start + 86400000}
	js := fmt.Sprintf(`{"dataSource":%q,"interval":%q,"version":"2025-02-01T00:00:00.000Z","loadSpec":%s,`+
		`"dimensions":"a,b","metrics":"count","shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},"binaryVersion":9,"size":%d}`,
		ds, iv.String(), loadSpec, size)
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return seg
}

// s3Segment puts an index.zip in the bucket and returns its segment.
func (r *rig) s3Segment(ds string, day, payload int) *segments.DataSegment {
	r.t.Helper()
	data, size := indexZip(r.t, payload)
	key := fmt.Sprintf("druid/segments/%s/%d/0/index.zip", ds, day)
	r.bucket.Put(r.t, key, data)
	spec, _ := json.Marshal(map[string]string{"type": "s3_zip", "bucket": r.bucket.Bucket, "key": key})
	return segment(r.t, ds, day, string(spec), size)
}

func tombstone(t testing.TB, ds string, day int) *segments.DataSegment {
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000)
	seg := segments.NewTombstone(ds, segments.Interval{Start: start, End: start + 86400000}, "2025-02-01T00:00:00.000Z")
	return &seg
}

func drain(t *testing.T, p *druidpeer.LoadPeon) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("draining the load queue: %v (stats %+v)", err, p.Stats())
	}
}

func result(t *testing.T, p *druidpeer.LoadPeon, action segments.Action, seg *segments.DataSegment) druidpeer.PeonStatus {
	t.Helper()
	s, ok := p.Result(action, seg.ID())
	if !ok {
		t.Fatalf("no result for %s %s", action, seg.ID())
	}
	return s
}

func cause(s druidpeer.PeonStatus) string {
	if s.FailureCause == nil {
		return "<null>"
	}
	return *s.FailureCause
}

// cached reports whether the cache lists the segment as loaded (a dropped one's files wait for the drop delay).
func (r *rig) cached(id segments.SegmentID) bool {
	for _, c := range r.cache.List() {
		if c.Segment.ID() == id && c.State == "loaded" {
			return true
		}
	}
	return false
}

// The ZooKeeper announcer must satisfy the engine's interface, and queue a load's znode.
var _ QueueingAnnouncer = (*announcer.Announcer)(nil)

// pending reports whether the handler's status cache holds a PENDING entry for the request.
func (r *rig) pending(action segments.Action, seg *segments.DataSegment) bool {
	h := r.eng.http
	h.mu.Lock()
	defer h.mu.Unlock()
	en := h.entries[key{action, seg.ID()}]
	return en != nil && en.status.State == segments.ChangePending
}
