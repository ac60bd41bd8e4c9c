package announcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"github.com/druid-sidecar/druid-sidecar/zookeeper"
)

// zktConfig is a configuration announcing 127.0.0.x:8083 to the ZooKeeper at connect (servers and chroot), with
// short session timeouts; sets override.
func zktConfig(t testing.TB, connect string, sets ...string) *configs.Config {
	t.Helper()
	all := append([]string{
		"druid.host=127.0.0.7",
		"druid.plaintextPort=8083",
		"druid.zk.service.host=" + connect,
		"druid.zk.service.sessionTimeoutMs=2000",
		"druid.zk.service.connectionTimeoutMs=2000",
		"druid.server.maxSize=300000000000",
		"druid.sidecar.version=36.0.0",
	}, sets...)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: all, NumCPU: 2})
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	return cfg
}

// zktSegments makes n distinct segments of dataSource, realistic in size (about 400 bytes of JSON each).
func zktSegments(t testing.TB, dataSource string, n int) []*segments.DataSegment {
	t.Helper()
	out := make([]*segments.DataSegment, n)
	bv := 9
	for i := range n {
		day := segments.UnixMilli(int64(1735689600000) + int64(i/4)*86400000)
		out[i] = &segments.DataSegment{
			DataSource: dataSource,
			Interval:   segments.Interval{Start: day, End: day + 86400000},
			Version:    "2025-10-01T12:00:00.000Z",
			LoadSpec: json.RawMessage(fmt.Sprintf(`{"type":"s3_zip","bucket":"druid-segments","key":"druid/segments/%s/%d/index.zip"}`,
				dataSource, i)),
			Dimensions:    []string{"country", "city", "device", "browser"},
			Metrics:       []string{"count", "bytes_sum"},
			ShardSpec:     segments.NumberedShardSpec(i%4, 4),
			BinaryVersion: &bv,
			Size:          int64(1000 + i),
		}
	}
	return out
}

// zktConnect opens a plain go-zookeeper session to servers, closed when the test ends.
func zktConnect(t testing.TB, servers ...string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(servers, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(zktNoLog{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatalf("no ZooKeeper session with %v within 15 s", servers)
		}
	}
}

type zktNoLog struct{}

func (zktNoLog) Printf(string, ...any) {}

// zktHistory records what the announcer passes to the segment history.
type zktHistory struct {
	mu        sync.Mutex
	loads     []*segments.DataSegment
	requests  []segments.ChangeRequest
	drops     []*segments.DataSegment
	loadCalls int
}

func (h *zktHistory) AnnounceLoads(loads []segments.ChangeRequest) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range loads {
		h.loads = append(h.loads, r.Segment)
	}
	h.requests = append(h.requests, loads...)
	h.loadCalls++
	return nil
}

func (h *zktHistory) Unannounce(segs []*segments.DataSegment) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drops = append(h.drops, segs...)
	return nil
}

// zktState is what a checker reads of one announcer's znodes.
type zktState struct {
	conn   *zk.Conn
	root   string // the chroot as an absolute prefix ("" for none)
	cfg    *configs.Config
	a      *Announcer
	served bool
}

func (s zktState) abs(p string) string { return s.root + p }

// check compares ZooKeeper with what is announced: the discovery node and legacy announcement (when node), and
// exactly want in the batch znodes — none missing, none twice, none stale — every znode owned by the announcer's
// current session, holding the bytes it announces, under maxBytesPerNode and segmentsPerNode.
func (s zktState) check(node bool, want []*segments.DataSegment) error {
	sid := s.a.zk.ZK().SessionID()
	if sid == 0 {
		return errors.New("the announcer has no session")
	}
	var errs []error
	name := s.cfg.Node.HostAndPortToUse()
	for _, n := range []struct {
		path string
		raw  []byte
	}{
		{path.Join(s.cfg.ZK.Paths.InternalDiscovery, discovery.RoleHistorical, name), s.a.node.(*discovery.ZooKeeperAnnouncer).Data()},
		{path.Join(s.cfg.ZK.Paths.Announcements, name), s.a.serverData},
	} {
		data, stat, err := s.conn.Get(s.abs(n.path))
		switch {
		case !node && errors.Is(err, zk.ErrNoNode):
		case !node && err == nil:
			errs = append(errs, fmt.Errorf("%s exists after UnannounceNode", n.path))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", n.path, err))
		case stat.EphemeralOwner != sid:
			errs = append(errs, fmt.Errorf("%s is owned by session 0x%x, not ours 0x%x", n.path, stat.EphemeralOwner, sid))
		default:
			raw, err := zookeeper.DecodeZNode(data)
			if err != nil || string(raw) != string(n.raw) {
				errs = append(errs, fmt.Errorf("%s holds %q (%v), want %q", n.path, raw, err, n.raw))
			}
		}
	}
	wantJSON := map[string]string{}
	for _, seg := range want {
		js, err := s.a.transform(seg).AppendJSON(nil)
		if err != nil {
			return err
		}
		wantJSON[seg.ID().String()] = string(js)
	}
	dir := path.Join(s.cfg.ZK.Paths.LiveSegments, name)
	batches, _, err := s.conn.Children(s.abs(dir))
	if err != nil && !(errors.Is(err, zk.ErrNoNode) && len(want) == 0) {
		return errors.Join(append(errs, fmt.Errorf("listing %s: %w", dir, err))...)
	}
	seen := map[string]string{}
	for _, b := range batches {
		data, stat, err := s.conn.Get(s.abs(dir + "/" + b))
		if errors.Is(err, zk.ErrNoNode) {
			errs = append(errs, fmt.Errorf("batch %s vanished while reading", b))
			continue
		}
		if err != nil {
			return err
		}
		if stat.EphemeralOwner != sid {
			errs = append(errs, fmt.Errorf("batch %s is owned by session 0x%x, not ours 0x%x (stale)", b, stat.EphemeralOwner, sid))
		}
		raw, err := zookeeper.DecodeZNode(data)
		if err != nil {
			return err
		}
		if len(raw) >= int(s.cfg.Announcer.MaxBytesPerNode) {
			errs = append(errs, fmt.Errorf("batch %s holds %d bytes, not under maxBytesPerNode %d", b, len(raw), s.cfg.Announcer.MaxBytesPerNode))
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("batch %s: %w", b, err)
		}
		if len(items) == 0 || len(items) > s.cfg.Announcer.SegmentsPerNode {
			errs = append(errs, fmt.Errorf("batch %s holds %d segments (segmentsPerNode %d)", b, len(items), s.cfg.Announcer.SegmentsPerNode))
		}
		for _, it := range items {
			var seg segments.DataSegment
			if err := json.Unmarshal(it, &seg); err != nil {
				return fmt.Errorf("batch %s: %w", b, err)
			}
			id := seg.ID().String()
			if prev, dup := seen[id]; dup {
				errs = append(errs, fmt.Errorf("segment %s is announced twice (%s and %s)", id, prev, b))
			}
			seen[id] = b
			if w, ok := wantJSON[id]; !ok {
				errs = append(errs, fmt.Errorf("segment %s is announced in %s (version %d, mzxid 0x%x, czxid 0x%x) but should not be", id, b, stat.Version, stat.Mzxid, stat.Czxid))
			} else if w != string(it) {
				errs = append(errs, fmt.Errorf("segment %s in %s is %s, want %s", id, b, it, w))
			}
		}
	}
	var missing []string
	for id := range wantJSON {
		if _, ok := seen[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		errs = append(errs, fmt.Errorf("%d segments are missing, e.g. %s", len(missing), missing[0]))
	}
	if s.served {
		sdir := path.Join(s.cfg.ZK.Paths.ServedSegments, name)
		kids, _, err := s.conn.Children(s.abs(sdir))
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		got := map[string]bool{}
		for _, k := range kids {
			got[k] = true
		}
		for id := range wantJSON {
			if !got[id] {
				errs = append(errs, fmt.Errorf("served segment %s is missing", id))
			}
		}
		if len(kids) != len(wantJSON) {
			errs = append(errs, fmt.Errorf("%d served segment znodes, want %d", len(kids), len(wantJSON)))
		}
	}
	return errors.Join(errs...)
}

// eventually polls check until it passes or d elapses, and returns how long it took.
func (s zktState) eventually(t testing.TB, d time.Duration, node bool, want []*segments.DataSegment) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < d {
		if err = s.check(node, want); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after %v ZooKeeper still differs from what is announced: %v", d, err)
	return 0
}

// zktWaitSession waits until the announcer's client has a session other than old.
func zktWaitSession(t testing.TB, a *Announcer, old int64, d time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if sid := a.zk.ZK().SessionID(); sid != 0 && sid != old && a.zk.ZK().State() == zk.StateHasSession {
			return sid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no new ZooKeeper session (old 0x%x) within %v", old, d)
	return 0
}

func zktStop(t testing.TB, a *Announcer) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
}

func zktCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// hostOf is the 127.0.0.x of a test: every host a test announces is a loopback address.
func hostOf(i int) string { return "127.0.0." + strconv.Itoa(i) }

// zktDeleteTree deletes p and everything below it.
func zktDeleteTree(t testing.TB, conn *zk.Conn, p string) {
	kids, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return
	}
	if err != nil {
		t.Errorf("listing %s: %v", p, err)
		return
	}
	for _, k := range kids {
		zktDeleteTree(t, conn, p+"/"+k)
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("deleting %s: %v", p, err)
	}
}
