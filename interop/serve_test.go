package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/realdruid"
)

// TestServeAsHistorical: `serve`, beside examples/upstream, is a Historical of a real Druid cluster. Data ingested
// by the real Indexer is assigned to it by the real Coordinator over HTTP; it pulls the real index.zip from S3; the
// Broker's view (sys.segments, sys.server_segments) shows it on serve's host and the Coordinator's load status
// reaches 100 %; a native query sent to the Broker is answered by the upstream through serve's proxy; a rule
// change drops a segment; after SIGTERM the Coordinator and the Broker see the server leave, and a restart serves
// again from the cache without a pull.
func TestServeAsHistorical(t *testing.T) {
	serveAsHistorical(t, realdruid.Up(t))
}

// TestServeAsHistoricalZooKeeper is TestServeAsHistorical with the ZooKeeper protocol of Druid 29 and older: the
// Coordinator's load queue in ZooKeeper (CuratorLoadQueuePeon) and the Broker's and Coordinator's view from the
// batch segment znodes. Druid 30 removed that load queue, so only older releases run it.
func TestServeAsHistoricalZooKeeper(t *testing.T) {
	if major, _, _ := strings.Cut(realdruid.Version(), "."); atoi(major) >= 30 {
		t.Skipf("Druid %s has no ZooKeeper load queue (removed in 30.0)", realdruid.Version())
	}
	c := realdruid.UpWith(t, "druid.coordinator.loadqueuepeon.type=curator", "druid.serverview.type=batch")
	serveAsHistorical(t, c, "druid.sidecar.zkLoadQueue=true")
}

func serveAsHistorical(t *testing.T, c *realdruid.Cluster, serveProps ...string) {
	up := startUpstream(t)
	// A tier of its own, and rules that load only there: no other server of the cluster takes these segments, and
	// serve takes no other test's.
	tier := uniqueName("interop_serve_")
	ds := uniqueName("interop_serve_")
	c.SetRules(t, ds, realdruid.LoadForever(map[string]int{tier: 1}))

	// A real Broker queries data servers in Smile, which serve passes through and the example upstream reads.
	n := newServeNode(t, c, tier, up.URL, serveProps...)
	serve := n.Start()

	segs := c.Ingest(t, ds, []realdruid.Row{
		{"ts": "2025-01-01T01:00:00Z", "page": "a", "user": "u1", "added": 3},
		{"ts": "2025-01-01T02:00:00Z", "page": "b", "user": "u2", "added": 4},
		{"ts": "2025-01-02T01:00:00Z", "page": "c", "user": "u1", "added": 5},
	})
	want := ids(segs)
	if len(want) != 2 {
		t.Fatalf("the Indexer published %d segments, want 2 (one a day): %v", len(want), want)
	}
	for _, s := range segs {
		var ls struct{ Type, Bucket, Key, Path string }
		json.Unmarshal(s.LoadSpec, &ls)
		switch {
		case c.Storage == "s3" && (ls.Type != "s3_zip" || ls.Bucket != c.Bucket || !strings.HasSuffix(ls.Key, "/index.zip")):
			t.Fatalf("segment %s has loadSpec %s, want an s3_zip index.zip in %s", s.ID, s.LoadSpec, c.Bucket)
		// The local pusher writes index.zip, or (by default in newer Druid) the unzipped files in index/.
		case c.Storage == "local" && (ls.Type != "local" || !strings.HasPrefix(ls.Path, c.StorageDir+"/") ||
			!strings.HasSuffix(ls.Path, "/index.zip") && !strings.HasSuffix(ls.Path, "/index/")):
			t.Fatalf("segment %s has loadSpec %s, want a local index.zip or index/ under %s", s.ID, s.LoadSpec, c.StorageDir)
		}
	}

	// The Coordinator assigns them to serve, the only server of the tier, and sees them served.
	took := realdruid.WaitFor(t, "the Coordinator sees both segments on "+n.Host, 2*time.Minute, func() (bool, string) {
		got := c.ServerSegments(t, n.Host)
		return equal(got, want), fmt.Sprintf("%v", got)
	})
	t.Logf("assigned and loaded %d segments in %v", len(want), took.Round(time.Millisecond))
	if s, ok := c.Server(t, n.Host); !ok || s.Tier != tier || s.Type != "historical" {
		t.Errorf("the Coordinator lists serve as %+v (seen: %v), want type historical in tier %s", s, ok, tier)
	}
	realdruid.WaitFor(t, "load status 100%", time.Minute, func() (bool, string) {
		v, ok := c.LoadStatus(t, ds)
		return ok && v == 100, fmt.Sprintf("%v (listed: %v)", v, ok)
	})
	if gets := n.S3Gets(); c.Storage == "s3" && gets == 0 {
		t.Errorf("serve loaded %d segments without a GET to S3", len(want))
	}
	if pulled := n.Metric(t, "druid_sidecar_segment_pulled_bytes_total"); pulled == 0 {
		t.Errorf("serve loaded %d segments and pulled no byte from deep storage", len(want))
	}
	if got := n.CachedSegments(); !equal(got, want) {
		t.Errorf("info_dir lists %v, want %v", got, want)
	}
	for _, id := range want {
		if got := filesUnder(t, n.Cache, id); !containsAll(got, "version.bin", "meta.smoosh", "00000.smoosh", "factory.json") {
			t.Errorf("the cache holds %v for %s, want the files of Druid's index.zip", got, id)
		}
	}
	if got := up.Segments(t); !equal(got, want) {
		t.Errorf("the upstream was told of %v, want %v", got, want)
	}

	// The Broker's view: every segment available, on serve's host.
	realdruid.WaitFor(t, "sys.server_segments lists serve's segments", time.Minute, func() (bool, string) {
		rows := c.SQL(t, "SELECT server, segment_id FROM sys.server_segments WHERE segment_id LIKE ? ORDER BY segment_id", ds+"%")
		var got []string
		for _, r := range rows {
			if r["server"] == n.Host {
				got = append(got, r["segment_id"].(string))
			}
		}
		return equal(got, want), fmt.Sprintf("%v", rows)
	})
	rows := c.SQL(t, "SELECT segment_id, is_available, is_published, num_replicas FROM sys.segments WHERE datasource = ? ORDER BY segment_id", ds)
	if len(rows) != len(want) {
		t.Fatalf("sys.segments has %d rows for %s, want %d: %v", len(rows), ds, len(want), rows)
	}
	for _, r := range rows {
		if r["is_available"] != float64(1) || r["is_published"] != float64(1) || r["num_replicas"] != float64(1) {
			t.Errorf("sys.segments: %v, want available, published, 1 replica", r)
		}
	}

	// A native query to the Broker reaches the upstream through serve's proxy. The example upstream answers
	// timeBoundary from the segments' intervals (midnight to the last millisecond), not from the rows (01:00):
	// that answer can only have come from it.
	code, body := c.Native(t, map[string]any{"queryType": "timeBoundary", "dataSource": ds})
	wantAnswer := `[{"timestamp":"2025-01-01T00:00:00.000Z","result":{"minTime":"2025-01-01T00:00:00.000Z","maxTime":"2025-01-02T23:59:59.999Z"}}]`
	if code != 200 || !jsonEqual(body, wantAnswer) {
		t.Errorf("timeBoundary through the Broker: HTTP %d %s, want 200 %s", code, body, wantAnswer)
	}

	// A rule change: the first day is dropped (and marked unused), the second stays.
	c.SetRules(t, ds, map[string]any{"type": "dropByInterval", "interval": "2025-01-01/2025-01-02"},
		realdruid.LoadForever(map[string]int{tier: 1}))
	kept := want[1:]
	took = realdruid.WaitFor(t, "the Coordinator drops the first day from serve", time.Minute, func() (bool, string) {
		got := c.ServerSegments(t, n.Host)
		return equal(got, kept), fmt.Sprintf("%v", got)
	})
	t.Logf("dropped in %v", took.Round(time.Millisecond))
	realdruid.WaitFor(t, "the upstream told of the drop, the cache without it", 30*time.Second, func() (bool, string) {
		u, cached := up.Segments(t), n.CachedSegments()
		return equal(u, kept) && equal(cached, kept), fmt.Sprintf("upstream %v, info_dir %v", u, cached)
	})

	// SIGTERM: the server leaves the cluster.
	stopped := serve.stop(40 * time.Second)
	t.Logf("serve stopped in %v", stopped.Round(time.Millisecond))
	realdruid.WaitFor(t, "the Coordinator sees serve leave", time.Minute, func() (bool, string) {
		_, ok := c.Server(t, n.Host)
		return !ok, "still listed"
	})
	realdruid.WaitFor(t, "the Broker sees serve leave", time.Minute, func() (bool, string) {
		rows := c.SQL(t, "SELECT server FROM sys.server_segments WHERE server = ?", n.Host)
		return len(rows) == 0, fmt.Sprintf("%d rows", len(rows))
	})

	// The restart serves the kept segment again from the cache: announced as the node starts, no pull.
	n.S3.Reset()
	n.Start()
	realdruid.WaitFor(t, "the Coordinator sees the restarted serve with its segment", time.Minute, func() (bool, string) {
		got := c.ServerSegments(t, n.Host)
		return equal(got, kept), fmt.Sprintf("%v", got)
	})
	realdruid.WaitFor(t, "load status 100% after the restart", time.Minute, func() (bool, string) {
		v, ok := c.LoadStatus(t, ds)
		return ok && v == 100, fmt.Sprintf("%v (listed: %v)", v, ok)
	})
	if gets := n.S3Gets(); gets != 0 {
		t.Errorf("the restarted serve sent %d GETs to S3; its segment was complete in the cache", gets)
	}
	if pulled := n.Metric(t, "druid_sidecar_segment_pulled_bytes_total"); pulled != 0 {
		t.Errorf("the restarted serve pulled %v bytes from deep storage; its segment was complete in the cache", pulled)
	}
	code, body = c.Native(t, map[string]any{"queryType": "timeBoundary", "dataSource": ds})
	wantAnswer = `[{"timestamp":"2025-01-02T00:00:00.000Z","result":{"minTime":"2025-01-02T00:00:00.000Z","maxTime":"2025-01-02T23:59:59.999Z"}}]`
	if code != 200 || !jsonEqual(body, wantAnswer) {
		t.Errorf("timeBoundary through the Broker after the restart: HTTP %d %s, want 200 %s", code, body, wantAnswer)
	}
}

// filesUnder lists the names of the regular files below the cache directory of segment id, wherever the layout
// puts it (flat or nested).
func filesUnder(t testing.TB, cache, id string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "info_dir") {
			return nil
		}
		if rel, _ := filepath.Rel(cache, p); strings.Contains(rel, segmentDirHint(id)) {
			out = append(out, d.Name())
		}
		return nil
	})
	return out
}

// segmentDirHint is a part of every cache path of segment id in either layout: its datasource.
func segmentDirHint(id string) string {
	ds, _, _ := strings.Cut(id, "_2025")
	return ds
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// jsonEqual reports whether got is the JSON value want, whatever the order of object members.
func jsonEqual(got []byte, want string) bool {
	var a, b any
	return json.Unmarshal(got, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && reflect.DeepEqual(a, b)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
