package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func coordinatorConfig(t *testing.T, sets ...string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startCoordinatorAPI(t *testing.T, opts druidpeer.CoordinatorAPIOptions) *druidpeer.CoordinatorAPI {
	t.Helper()
	c, err := druidpeer.NewCoordinatorAPI(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// coordSegment is a segment of dataSource ds with the given version and partition, on day 1 of 2025 + day.
func coordSegment(t *testing.T, ds, version string, day, partition int) *segments.DataSegment {
	t.Helper()
	start := time.Date(2025, 1, 1+day, 0, 0, 0, 0, time.UTC)
	js := `{"dataSource":"` + ds + `","interval":"` + start.Format("2006-01-02T15:04:05.000Z") + "/" +
		start.AddDate(0, 0, 1).Format("2006-01-02T15:04:05.000Z") + `","version":"` + version +
		`","loadSpec":{"type":"s3_zip","bucket":"b","key":"k/index.zip"},"dimensions":"a,b","metrics":"m",` +
		`"shardSpec":{"type":"numbered","partitionNum":` + itoa(partition) + `,"partitions":0},"binaryVersion":9,"size":1234}`
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return seg
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func ids(segs ...*segments.DataSegment) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.ID().String()
	}
	return out
}

func TestCoordinatorLoadQueueInOrderForOneServer(t *testing.T) {
	api := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	a := []*segments.DataSegment{
		coordSegment(t, "wiki", "v3", 9, 0), coordSegment(t, "wiki", "v3", 2, 1), coordSegment(t, "wiki", "v3", 5, 0),
	}
	other := coordSegment(t, "other", "v1", 0, 0)
	api.Load("127.0.0.5:8083", a...)
	api.Drop("127.0.0.5:8083", other.ID())
	api.Load("127.0.0.6:8083", other)
	c, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+api.URL()+"/"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	load, drop, err := c.LoadQueue(ctx, "127.0.0.5:8083")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(load, ids(a...)) || !slices.Equal(drop, ids(other)) {
		t.Fatalf("load %v drop %v, want %v and %v", load, drop, ids(a...), ids(other))
	}
	load, drop, err = c.LoadQueue(ctx, "127.0.0.7:8083")
	if err != nil || len(load) != 0 || len(drop) != 0 {
		t.Fatalf("a server without a queue: %v %v %v", load, drop, err)
	}
	if c.Leader() != api.URL() {
		t.Errorf("Leader() = %q, want %q", c.Leader(), api.URL())
	}
	// A server the Coordinator lists with an empty queue is told apart from one it does not list, which comes with
	// the names it does list, those on the same port first.
	api.Remove("127.0.0.8:9000")
	if q, err := c.Queue(ctx, "127.0.0.8:9000"); err != nil || !q.Listed || len(q.ToLoad) != 0 || q.Servers != 3 {
		t.Errorf("a listed server with an empty queue: %+v %v", q, err)
	}
	q, err := c.Queue(ctx, "historical-0.historical:8083")
	if err != nil || q.Listed || q.Servers != 3 || !slices.Equal(q.Others, []string{"127.0.0.5:8083", "127.0.0.6:8083", "127.0.0.8:9000"}) {
		t.Errorf("an unlisted server: %+v %v", q, err)
	}
}

func TestDecodeLoadQueueRefusesWhatIsNotOne(t *testing.T) {
	for _, body := range []string{`[]`, `{"x":`, `{"s":{"segmentsToLoad":"no"}}`, ``} {
		if _, _, err := decodeLoadQueue(strings.NewReader(body), "s"); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

// TestCoordinatorSegmentByAmbiguousID finds segments whose ids read several ways (trap 13): a dataSource with an
// underscore followed by a timestamp, a version ending in _<n>, and a decoy dataSource that is a prefix of the other.
func TestCoordinatorSegmentByAmbiguousID(t *testing.T) {
	api := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	tricky := []*segments.DataSegment{
		coordSegment(t, "foo_2025-01-01T00:00:00.000Z_bar", "v_7", 3, 0),
		coordSegment(t, "foo", "2025-03-01T00:00:00.000Z", 1, 4),
		coordSegment(t, "foo_bar", "2025-03-01T00:00:00.000Z_9", 1, 0), // Druid's first reading is partition 9
	}
	api.AddSegments(tricky...)
	c, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+api.URL()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, want := range tricky {
		got, err := c.SegmentByID(ctx, want.ID().String())
		if err != nil {
			t.Fatalf("%s: %v", want.ID(), err)
		}
		if got.ID() != want.ID() || string(got.LoadSpec) != string(want.LoadSpec) {
			t.Errorf("%s: got %s", want.ID(), got.ID())
		}
	}
	_, err = c.SegmentByID(ctx, coordSegment(t, "foo", "gone", 1, 0).ID().String())
	if !errors.Is(err, ErrSegmentNotFound) {
		t.Errorf("unknown segment: %v, want ErrSegmentNotFound", err)
	}
	if _, err := c.SegmentByID(ctx, "not-an-id"); !errors.Is(err, ErrSegmentNotFound) || !strings.Contains(err.Error(), "not a segment id") {
		t.Errorf("not an id: %v", err)
	}
}

func TestCoordinatorBasicAuth(t *testing.T) {
	api := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{Username: "druid_system", Password: "s3cr:et"})
	seg := coordSegment(t, "wiki", "v1", 0, 0)
	api.Load("127.0.0.5:8083", seg)
	url := "druid.sidecar.coordinator.url=" + api.URL()
	ctx := context.Background()

	good, err := New(coordinatorConfig(t, url, "druid.escalator.type=basic",
		"druid.escalator.internalClientUsername=druid_system", "druid.escalator.internalClientPassword=s3cr:et"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if load, _, err := good.LoadQueue(ctx, "127.0.0.5:8083"); err != nil || len(load) != 1 {
		t.Fatalf("with credentials: %v %v", load, err)
	}
	if _, err := good.SegmentByID(ctx, seg.ID().String()); err != nil {
		t.Fatalf("with credentials: %v", err)
	}

	wrong, err := New(coordinatorConfig(t, url, "druid.escalator.type=basic",
		"druid.escalator.internalClientUsername=druid_system", "druid.escalator.internalClientPassword=nope"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = wrong.LoadQueue(ctx, "127.0.0.5:8083")
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "druid.escalator") {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "nope") {
		t.Fatalf("the error shows the password: %v", err)
	}
	none, err := New(coordinatorConfig(t, url), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := none.LoadQueue(ctx, "127.0.0.5:8083"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("no credentials: %v", err)
	}
	if _, err := New(coordinatorConfig(t, url, "druid.escalator.type=kerberos"), Options{}); err == nil {
		t.Fatal("an escalator type it cannot speak was accepted")
	}
}

// TestCoordinatorRedirectKeepsCredentials: a non-leader redirects to the leader; the client follows with the
// credentials (Go's own redirect would drop them on the way to another host) and remembers the new leader.
func TestCoordinatorRedirectKeepsCredentials(t *testing.T) {
	opts := druidpeer.CoordinatorAPIOptions{Username: "u", Password: "p"}
	leader, follower := startCoordinatorAPI(t, opts), startCoordinatorAPI(t, opts)
	// Different hosts, so that Go would drop the credentials: the leader is reached as localhost.
	leaderURL := strings.Replace(leader.URL(), "127.0.0.1", "localhost", 1)
	follower.RedirectTo(leaderURL)
	seg := coordSegment(t, "wiki", "v1", 0, 0)
	leader.Load("127.0.0.5:8083", seg)
	c, err := New(coordinatorConfig(t, "druid.sidecar.coordinator.url="+follower.URL(),
		"druid.escalator.type=basic", "druid.escalator.internalClientUsername=u", "druid.escalator.internalClientPassword=p"),
		Options{})
	if err != nil {
		t.Fatal(err)
	}
	load, _, err := c.LoadQueue(context.Background(), "127.0.0.5:8083")
	if err != nil || !slices.Equal(load, ids(seg)) {
		t.Fatalf("through the redirect: %v %v", load, err)
	}
	if c.Leader() != leaderURL {
		t.Errorf("Leader() = %q, want %q", c.Leader(), leaderURL)
	}
	if n := follower.Count(LoadQueuePath); n != 1 {
		t.Errorf("the follower got %d requests, want 1", n)
	}
}

// TestCoordinatorLeaderFromZooKeeperLatch finds the leader as Druid does, from the lowest sequence of the
// _COORDINATOR latch (not the lowest name), and finds the next one when the leader fails and its latch node goes.
func TestCoordinatorLeaderFromZooKeeperLatch(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	first, second := startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{}), startCoordinatorAPI(t, druidpeer.CoordinatorAPIOptions{})
	seg := coordSegment(t, "wiki", "v1", 0, 0)
	first.Load("127.0.0.5:8083", seg)
	second.Load("127.0.0.5:8083", seg, coordSegment(t, "wiki", "v1", 1, 0))
	latch := z.Path("/druid/coordinator/_COORDINATOR")
	for _, p := range []string{"/druid", "/druid/coordinator", "/druid/coordinator/_COORDINATOR"} {
		if _, err := conn.Create(z.Path(p), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// By name the second sorts first ("_c_0…" < "_c_f…"); by sequence the first leads.
	firstNode := latch + "/_c_ffffffff-0000-0000-0000-000000000000-latch-0000000001"
	if _, err := conn.Create(firstNode, []byte(first.URL()), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create(latch+"/_c_00000000-0000-0000-0000-000000000000-latch-0000000002", []byte(second.URL()), 0,
		zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c, err := New(coordinatorConfig(t, "druid.zk.service.host="+z.ConnectString), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	load, _, err := c.LoadQueue(ctx, "127.0.0.5:8083")
	if err != nil || len(load) != 1 || c.Leader() != first.URL() {
		t.Fatalf("first leader: %v %v, leader %s", load, err, c.Leader())
	}
	// The leader dies: it answers 503 and its latch node goes; the next call moves to the second.
	first.Fail(http.StatusServiceUnavailable)
	if err := conn.Delete(firstNode, -1); err != nil {
		t.Fatal(err)
	}
	load, _, err = c.LoadQueue(ctx, "127.0.0.5:8083")
	if err != nil || len(load) != 2 || c.Leader() != second.URL() {
		t.Fatalf("after failover: %v %v, leader %s", load, err, c.Leader())
	}
	// Both gone: the error says what to check.
	second.Fail(http.StatusServiceUnavailable)
	children, _, _ := conn.Children(latch)
	for _, ch := range children {
		conn.Delete(latch+"/"+ch, -1)
	}
	_, _, err = c.LoadQueue(ctx, "127.0.0.5:8083")
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "no Coordinator holds the leader latch") {
		t.Fatalf("no leader: %v", err)
	}
}

func TestCoordinatorClientNeedsAWayToTheCoordinator(t *testing.T) {
	_, err := New(coordinatorConfig(t, "druid.zk.service.enabled=false"), Options{})
	if err == nil || !strings.Contains(err.Error(), "druid.sidecar.coordinator.url") {
		t.Fatalf("error %v", err)
	}
}
