package audit

import (
	"context"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func driftSegment(ds string, day int) *segments.DataSegment {
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000)
	bv := 9
	return &segments.DataSegment{DataSource: ds, Interval: segments.Interval{Start: start, End: start + 86400000},
		Version: "2025-10-01T12:00:00.000Z", LoadSpec: []byte(`{"type":"local","path":"/x/index.zip"}`),
		ShardSpec: segments.NumberedShardSpec(0, 1), BinaryVersion: &bv, Size: 10}
}

// serveInventory serves an inventory announcing segs on 127.0.0.1 and returns its base URL.
func serveInventory(t *testing.T, segs ...*segments.DataSegment) string {
	t.Helper()
	inv := inventory.New()
	if err := inv.Announce(segs); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(inv)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func cacheConfig(t *testing.T, layout string, locs ...string) *configs.Config {
	t.Helper()
	var parts []string
	for _, l := range locs {
		parts = append(parts, `{"path":"`+l+`"}`)
	}
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		"druid.segmentCache.locations=[" + strings.Join(parts, ",") + "]", "druid.sidecar.cacheLayout=" + layout,
		"druid.host=127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func touch(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every path under dirs with its size and modification time, to prove a reader changed nothing.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := de.Info()
			if err != nil {
				return err
			}
			out[p] = fi.ModTime().String() + " " + fi.Mode().String()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Drift reports each of its four disagreements where they were planted in a flat cache of two locations, and
// nothing for healthy segments, downloads in progress, ignored segments and names that are not segments; ReadNode
// changes nothing on disk.
func TestDriftFlat(t *testing.T) {
	loc1, loc2 := t.TempDir(), t.TempDir()
	cfg := cacheConfig(t, "flat", loc1, loc2)
	info := mkdir(t, cfg.SegmentCache.InfoDir)
	now := time.Now()
	seg := func(day int) *segments.DataSegment { return driftSegment("wiki", day) }
	id := func(day int) string { return seg(day).ID().String() }

	// 0: healthy in loc1; 1: announced, no directory; 2: stale marker; 3: marker of a download in progress;
	// 4: info_dir entry only; 5: directory never announced; 6: healthy in loc2; 7: announced, no directory, ignored.
	mkdir(t, loc1, id(0))
	touch(t, filepath.Join(info, id(0)), now)
	mkdir(t, loc1, id(2))
	touch(t, filepath.Join(loc1, id(2), segcache.DownloadStartMarker), now.Add(-time.Hour))
	mkdir(t, loc2, id(3))
	touch(t, filepath.Join(loc2, id(3), segcache.DownloadStartMarker), now.Add(-time.Minute))
	touch(t, filepath.Join(info, id(4)), now)
	mkdir(t, loc2, id(5))
	mkdir(t, loc2, id(6))
	touch(t, filepath.Join(info, id(6)), now)
	// Not segments: staging, trash, the filesystem's own, a file, a name that is no segment id, a temporary info file.
	mkdir(t, loc1, segcache.PrefetchDir, id(8)+".1234")
	mkdir(t, loc1, segcache.DropDir, id(9))
	mkdir(t, loc1, "lost+found")
	mkdir(t, loc1, "not-a-segment")
	touch(t, filepath.Join(loc1, id(10)), now)
	touch(t, filepath.Join(info, "."+id(11)+".abcd"), now)

	url := serveInventory(t, seg(0), seg(1), seg(6), seg(7))
	before := snapshot(t, loc1, loc2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := ReadNode(ctx, cfg, url)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, loc1, loc2); len(after) != len(before) {
		t.Fatalf("ReadNode changed the cache: %d paths before, %d after", len(before), len(after))
	} else {
		for p, v := range before {
			if after[p] != v {
				t.Errorf("ReadNode changed %s", p)
			}
		}
	}
	if len(s.OnDisk) != 5 || !s.OnDisk[id(2)].Marker || s.OnDisk[id(0)].Marker || s.OnDisk[id(6)].Dir != filepath.Join(loc2, id(6)) {
		t.Errorf("OnDisk: %+v", s.OnDisk)
	}
	if len(s.InfoDir) != 3 || len(s.Announced) != 4 {
		t.Errorf("InfoDir %v, Announced %v", s.InfoDir, s.Announced)
	}

	got := Drift(s, now, 0, func(name string) bool { return name == id(7) })
	want := map[string]string{id(1): DriftAnnouncedMissing, id(2): DriftMarkerStale, id(4): DriftInfoWithoutFiles,
		id(5): DriftNeverAnnounced}
	if len(got) != len(want) {
		t.Errorf("%d findings, want %d: %+v", len(got), len(want), got)
	}
	for _, f := range got {
		if f.Kind != KindCacheDrift || !strings.HasPrefix(f.Detail, want[f.SegmentID]) || f.DataSource != "wiki" ||
			!strings.HasPrefix(f.Interval, "2025-01-0") {
			t.Errorf("finding %+v; want detail %q", f, want[f.SegmentID])
		}
	}
	// A longer load timeout makes the stale marker a download in progress; without an inventory, nothing is
	// known to be announced, so only the info_dir entry without files remains.
	if got := Drift(s, now, 2*time.Hour, func(name string) bool { return name == id(7) }); len(got) != 3 {
		t.Errorf("with a 2 h load timeout: %+v", got)
	}
	s2, err := ReadNode(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := Drift(s2, now, 0, nil); len(got) != 2 || got[0].Detail[:len(DriftMarkerStale)] != DriftMarkerStale ||
		got[1].Detail != DriftInfoWithoutFiles {
		t.Errorf("without an inventory: %+v", got)
	}
}

// The nested layout of Druid 34 and older is read from its directories, which name the dataSource structurally.
func TestDriftNested(t *testing.T) {
	loc := t.TempDir()
	cfg := cacheConfig(t, "nested", loc)
	info := mkdir(t, cfg.SegmentCache.InfoDir)
	a, b := driftSegment("my_ds", 0), driftSegment("my_ds", 1)
	b.ShardSpec = segments.NumberedShardSpec(3, 4)
	nested := func(s *segments.DataSegment) string {
		id := s.ID()
		return filepath.Join(loc, id.DataSource, id.Interval.Start.String()+"_"+id.Interval.End.String(), id.Version,
			strconv.Itoa(id.PartitionNum))
	}
	mkdir(t, nested(a))
	touch(t, filepath.Join(info, a.ID().String()), time.Now())
	mkdir(t, nested(b))
	mkdir(t, loc, "my_ds", "not-an-interval", "v", "0")
	mkdir(t, loc, "my_ds", "2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z", "v", "x")
	url := serveInventory(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := ReadNode(ctx, cfg, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.OnDisk) != 2 || s.OnDisk[b.ID().String()].Dir != nested(b) {
		t.Fatalf("OnDisk: %+v", s.OnDisk)
	}
	got := Drift(s, time.Now(), 0, nil)
	if len(got) != 1 || got[0].SegmentID != b.ID().String() || got[0].DataSource != "my_ds" ||
		!strings.HasPrefix(got[0].Detail, DriftNeverAnnounced) {
		t.Fatalf("findings: %+v", got)
	}
}

// ReadNode fails, naming the inventory, when the inventory cannot be read: a partial view would invent drift.
func TestReadNodeInventoryUnreachable(t *testing.T) {
	loc := t.TempDir()
	cfg := cacheConfig(t, "flat", loc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = ReadNode(ctx, cfg, "http://"+addr)
	if err == nil || !strings.Contains(err.Error(), "reading the node's segment inventory") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("error: %v", err)
	}
	// A server that is not an inventory.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := ReadNode(ctx, cfg, srv.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}
	if _, err := ReadNode(ctx, cfg, "ftp://x"); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}
