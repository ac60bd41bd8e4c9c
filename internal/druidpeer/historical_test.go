package druidpeer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// histLoc is one segment cache location of a test Historical; maxSize 0 leaves it unset.
type histLoc struct {
	path    string
	maxSize int64
}

func historicalConfig(t *testing.T, layout configs.CacheLayout, locs ...histLoc) *configs.Config {
	t.Helper()
	type jl struct {
		Path    string `json:"path"`
		MaxSize int64  `json:"maxSize,omitempty"`
	}
	var items []jl
	for _, l := range locs {
		items = append(items, jl{Path: l.path, MaxSize: l.maxSize})
	}
	raw, _ := json.Marshal(items)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		"druid.segmentCache.locations=" + string(raw), "druid.sidecar.cacheLayout=" + string(layout)}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// countingTransport counts the GETs sent to S3.
type countingTransport struct {
	gets atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.gets.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func countingClient(b testenv.S3Bucket) (*s3.Client, *countingTransport) {
	ct := &countingTransport{}
	return s3.New(s3.Options{
		Region: b.Region, BaseEndpoint: aws.String(b.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(b.AccessKey, b.SecretKey, ""),
		HTTPClient:  &http.Client{Transport: ct},
	}), ct
}

// putSegment writes a small index.zip segment to the bucket and returns its DataSegment.
func putSegment(t *testing.T, b testenv.S3Bucket, dataSource string, day, partition int) *segments.DataSegment {
	t.Helper()
	data, size, err := sandbox.IndexZip(uint64(day*100+partition+1), 20_000)
	if err != nil {
		t.Fatal(err)
	}
	seg := sandbox.Segment(dataSource, day, partition, 0, b.Bucket, "druid/segments", size)
	b.Put(t, sandbox.Key("druid/segments", seg.ID()), data)
	return seg
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestJavaHistoricalLoadAndDrop(t *testing.T) {
	b := testenv.S3(t)
	client, counter := countingClient(b)
	seg := putSegment(t, b, "wiki", 0, 1)
	ctx := context.Background()
	for _, layout := range []configs.CacheLayout{configs.FlatLayout, configs.NestedLayout} {
		t.Run(string(layout), func(t *testing.T) {
			loc := t.TempDir()
			var steps []druidpeer.HistoricalStep
			h, err := druidpeer.NewJavaHistorical(historicalConfig(t, layout, histLoc{path: loc}), druidpeer.HistoricalOptions{
				S3:   client,
				Hook: func(s druidpeer.HistoricalStep, _ segments.SegmentID) { steps = append(steps, s) },
			})
			if err != nil {
				t.Fatal(err)
			}
			before := counter.gets.Load()
			m, err := h.Load(ctx, seg)
			if err != nil {
				t.Fatal(err)
			}
			if n := counter.gets.Load() - before; n != 1 {
				t.Errorf("the pull sent %d GETs, want one single stream", n)
			}
			want := filepath.Join(loc, seg.ID().String())
			if layout == configs.NestedLayout {
				want = filepath.Join(loc, "wiki", "2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z", "2025-10-01T12:00:00.000Z", "1")
			}
			if m.Dir != want || m.Reused || !m.Match() {
				t.Fatalf("mount %+v, want a fresh pull into %s matching deep storage", m, want)
			}
			wantSteps := "find-existing mkdir marker pull unmark mount write-info"
			if got := joinSteps(steps); got != wantSteps {
				t.Errorf("steps %q, want %q", got, wantSteps)
			}
			if _, err := os.Stat(filepath.Join(m.Dir, segcache.DownloadStartMarker)); !os.IsNotExist(err) {
				t.Error("the marker is still there")
			}
			info, err := os.ReadFile(filepath.Join(loc, "info_dir", seg.ID().String()))
			if err != nil {
				t.Fatal(err)
			}
			if js, _ := seg.AppendJSON(nil); string(info) != string(js) {
				t.Errorf("info file %s, want %s", info, js)
			}
			if err := h.CheckOwnership(); err != nil {
				t.Fatal(err)
			}
			if err := h.Drop(seg); err != nil {
				t.Fatal(err)
			}
			// Nothing but the empty info_dir (and __drop in the flat layout) is left: the nested parents are pruned.
			for _, e := range listTree(t, loc) {
				if e != "info_dir" && e != segcache.DropDir {
					t.Errorf("left after the drop: %s", e)
				}
			}
		})
	}
}

func joinSteps(steps []druidpeer.HistoricalStep) string {
	var s []string
	for _, st := range steps {
		s = append(s, string(st))
	}
	return strings.Join(s, " ")
}

// TestJavaHistoricalUsesWhatItFinds checks the cases section 13 turns on: a directory without a marker is mounted
// as it is (the mount check, not the Historical, sees wrong bytes), one with a marker is pulled again, and a
// directory whose reservation fails is deleted by a 35+ Historical but kept by a 34 one.
func TestJavaHistoricalUsesWhatItFinds(t *testing.T) {
	b := testenv.S3(t)
	client, _ := countingClient(b)
	seg := putSegment(t, b, "wiki", 1, 0)
	ctx := context.Background()
	// A plausible directory with the segment's shape but other bytes.
	impostor := func(dir string, marker bool) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"version.bin": "\x00\x00\x00\x09", "meta.smoosh": "v1,2147483647,1\n", "00000.smoosh": "not the data"}
		if marker {
			files[segcache.DownloadStartMarker] = ""
		}
		for n, c := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	loc := t.TempDir()
	h, err := druidpeer.NewJavaHistorical(historicalConfig(t, configs.FlatLayout, histLoc{path: loc}), druidpeer.HistoricalOptions{S3: client})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(loc, seg.ID().String())
	impostor(dir, false)
	m, err := h.Load(ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Reused || m.Match() {
		t.Fatalf("mount %+v: want the directory used as it is, and the mount check to flag its bytes", m)
	}
	if err := h.Drop(seg); err != nil {
		t.Fatal(err)
	}
	impostor(dir, true)
	if err := h.CheckOwnership(); err == nil || !strings.Contains(err.Error(), segcache.DownloadStartMarker) {
		t.Fatalf("CheckOwnership = %v, want the foreign marker reported", err)
	}
	m, err = h.Load(ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Reused || !m.Match() {
		t.Fatalf("mount %+v: want a directory with a marker pulled again", m)
	}
	if err := h.Drop(seg); err != nil {
		t.Fatal(err)
	}

	// Reservations: maxSize below the segment's size.
	for _, layout := range []configs.CacheLayout{configs.FlatLayout, configs.NestedLayout} {
		t.Run("no room "+string(layout), func(t *testing.T) {
			loc := t.TempDir()
			h, err := druidpeer.NewJavaHistorical(historicalConfig(t, layout, histLoc{path: loc, maxSize: seg.Size - 1}),
				druidpeer.HistoricalOptions{S3: client})
			if err != nil {
				t.Fatal(err)
			}
			rel := seg.ID().String()
			if layout == configs.NestedLayout {
				rel = filepath.Join("wiki", "2025-01-02T00:00:00.000Z_2025-01-03T00:00:00.000Z", "2025-10-01T12:00:00.000Z", "0")
			}
			impostor(filepath.Join(loc, rel), false)
			m, err := h.Load(ctx, seg)
			if layout == configs.FlatLayout {
				if err == nil {
					t.Fatalf("Load = %+v, want a failure: no location can reserve the segment", m)
				}
				if _, err := os.Stat(filepath.Join(loc, rel)); !os.IsNotExist(err) {
					t.Fatal("a directory whose reservation failed was kept")
				}
				return
			}
			if err != nil || !m.Reused {
				t.Fatalf("Load = %+v, %v: want the directory accounted past maxSize and used", m, err)
			}
		})
	}
}

func TestJavaHistoricalOwnership(t *testing.T) {
	loc := t.TempDir()
	h, err := druidpeer.NewJavaHistorical(historicalConfig(t, configs.FlatLayout, histLoc{path: loc}), druidpeer.HistoricalOptions{S3: &s3.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckOwnership(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(loc, "info_dir", "x"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.CheckOwnership(); err == nil || !strings.Contains(err.Error(), "info file") {
		t.Fatalf("CheckOwnership = %v, want the foreign info file reported", err)
	}
}
