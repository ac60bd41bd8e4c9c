package main

// Process-level tests of `druid-sidecar serve`: the binary runs as a child process on the real ZooKeeper and S3
// (through internal/zkproxy and internal/faultproxy where a fault is injected), and is driven only as Druid drives a
// Historical: a Coordinator's HttpLoadQueuePeon posting changeRequests, a Broker's ChangeRequestHttpSyncer
// long-polling the inventory with Smile, and reads of the znodes a Coordinator or Broker would read. The
// unit-level cases of the load engine are in package loadqueue; these prove the same behaviour survives the
// process, its configuration, its signals and its crashes. They share the prefix TestServeE2E.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/faultproxy"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// onlyKnown is a Broker check: the node never lists a segment the Coordinator did not ask it to load.
func onlyKnown(segs ...*segments.DataSegment) func(map[segments.SegmentID]*segments.DataSegment) string {
	known := map[segments.SegmentID]bool{}
	for _, s := range segs {
		known[s.ID()] = true
	}
	return func(view map[segments.SegmentID]*segments.DataSegment) string {
		for id := range view {
			if !known[id] {
				return fmt.Sprintf("the node lists %s, which it was never asked to load", id)
			}
		}
		return ""
	}
}

// neverLost is a Broker check for runs without drops: onlyKnown, and a segment once listed stays listed.
func neverLost(segs ...*segments.DataSegment) func(map[segments.SegmentID]*segments.DataSegment) string {
	known := onlyKnown(segs...)
	seen := map[segments.SegmentID]bool{}
	return func(view map[segments.SegmentID]*segments.DataSegment) string {
		if v := known(view); v != "" {
			return v
		}
		for id := range seen {
			if view[id] == nil {
				return fmt.Sprintf("%s was listed and is no longer, though it was never dropped", id)
			}
		}
		for id := range view {
			seen[id] = true
		}
		return ""
	}
}

func noViolations(t *testing.T, b *broker) {
	t.Helper()
	for _, v := range b.Violations() {
		t.Errorf("the Broker's view was wrong %s", v)
	}
}

// TestServeE2EResendsWhileLoadIsSlow holds every S3 GET for 1.5 s while the Coordinator holds its batches 400 ms:
// it gets 204s and PENDING answers and resends the same requests many times. Each load must run once and be
// answered SUCCESS exactly once, and be in the Broker's view by the time it is.
func TestServeE2EResendsWhileLoadIsSlow(t *testing.T) {
	n := newE2ENode(t, nodeOpts{})
	var segs []*segments.DataSegment
	for day := range 4 {
		segs = append(segs, n.PutSegment("slow", day, 64<<10))
	}
	n.S3.Add(faultproxy.Rule{Method: http.MethodGet, Fault: faultproxy.Fault{Delay: 1500 * time.Millisecond}})
	n.StartReady()
	b := n.watchInventory(neverLost(segs...))

	peon, rec := n.coordinator(2, 400*time.Millisecond)
	// The SUCCESS→inventory coupling (trap 5): when a SUCCESS arrives, a new Broker's full sync already lists it.
	var couplingMu sync.Mutex
	var coupling []string
	checked := 0
	rec.afterOK = func(body []byte) {
		answers, err := parseAnswers(body)
		if err != nil {
			t.Error(err)
			return
		}
		var loaded []string
		for _, a := range answers {
			if a.Key.Action == segments.ActionLoad && a.State == "SUCCESS" {
				loaded = append(loaded, a.Key.ID.String())
			}
		}
		if len(loaded) == 0 {
			return
		}
		listed := n.fullSync(t)
		couplingMu.Lock()
		defer couplingMu.Unlock()
		checked += len(loaded)
		for _, id := range loaded {
			if !slices.Contains(listed, id) {
				coupling = append(coupling, id)
			}
		}
	}
	for _, s := range segs {
		peon.Load(s)
	}
	drain(t, peon, 40*time.Second)
	for _, id := range coupling {
		t.Errorf("the load of %s was answered SUCCESS before the inventory listed it", id)
	}
	if checked != len(segs) {
		t.Errorf("%d SUCCESS answers were checked against the inventory, want %d", checked, len(segs))
	}
	for _, s := range segs {
		if st := mustResult(t, peon, segments.ActionLoad, s); st.State != "SUCCESS" || modeOf(st) != "NORMAL" {
			t.Errorf("load of %s: %s (loadingMode %s, cause %s), want SUCCESS in NORMAL mode", s.ID(), st.State, modeOf(st), causeOf(st))
		}
	}
	seen := rec.statesSeen(t)
	pending := 0
	for _, s := range segs {
		st := seen[druidpeer.PeonKey{Action: segments.ActionLoad, ID: s.ID()}]
		pending += st["PENDING"]
		if st["SUCCESS"] != 1 || st["FAILED"] != 0 {
			t.Errorf("load of %s was answered %v over all resends, want SUCCESS exactly once", s.ID(), st)
		}
	}
	stats := peon.Stats()
	t.Logf("Coordinator: %d posts, %d answered 204, %d answered 200 with %d PENDING entries", stats.Posts, stats.NoContent, stats.OK, pending)
	if stats.NoContent+pending < len(segs) {
		t.Errorf("the Coordinator saw %d 204s and %d PENDING entries: the loads were not slow enough to test resends", stats.NoContent, pending)
	}
	if got := n.MustMetric(`druid_sidecar_segment_loads_total{result="success"}`); got != float64(len(segs)) {
		t.Errorf("the node ran %v successful loads for %d segments resent %d times, want one each", got, len(segs), stats.Posts)
	}
	for _, s := range segs {
		if g := n.S3Gets(e2eS3Key(s)); g != 1 {
			t.Errorf("%s was read from S3 %d times, want once", s.ID(), g)
		}
	}
	b.WaitIDs(t, 5*time.Second, segs...)
	noViolations(t, b)
}

// TestServeE2ELoadDropLoad loads a segment, drops it and loads it again within the drop delay: the drop is answered
// at once and unannounces; the reload takes the files back without pulling again, and the delayed deletion of the
// first drop does not remove them.
func TestServeE2ELoadDropLoad(t *testing.T) {
	const dropDelay = 3 * time.Second
	n := newE2ENode(t, nodeOpts{sets: []string{fmt.Sprintf("druid.segmentCache.dropSegmentDelayMillis=%d", dropDelay.Milliseconds())}})
	s := n.PutSegment("ldl", 0, 32<<10)
	n.StartReady()
	b := n.watchInventory(onlyKnown(s))
	peon, _ := n.coordinator(2, 5*time.Second)
	dir := filepath.Join(n.Cache, s.ID().String())

	peon.Load(s)
	drain(t, peon, 20*time.Second)
	if st := mustResult(t, peon, segments.ActionLoad, s); st.State != "SUCCESS" {
		t.Fatalf("first load: %s %s", st.State, causeOf(st))
	}
	b.WaitIDs(t, 5*time.Second, s)
	pulls := n.S3Gets(e2eS3Key(s))

	dropped := time.Now()
	peon.Drop(s)
	drain(t, peon, 5*time.Second)
	if st := mustResult(t, peon, segments.ActionDrop, s); st.State != "SUCCESS" || st.LoadingMode != nil {
		t.Fatalf("drop: %s (loadingMode %s, cause %s), want SUCCESS with a null loadingMode", st.State, modeOf(st), causeOf(st))
	}
	b.WaitIDs(t, 5*time.Second)
	if ids := n.zkSegmentIDs(t); len(ids) != 0 {
		t.Errorf("after the drop the batch znodes still announce %v", ids)
	}
	if _, err := os.Stat(filepath.Join(dir, "version.bin")); err != nil {
		t.Errorf("the dropped segment's files are gone before the drop delay: %v", err)
	}

	peon.Load(s)
	drain(t, peon, 10*time.Second)
	if st := mustResult(t, peon, segments.ActionLoad, s); st.State != "SUCCESS" {
		t.Fatalf("reload: %s %s", st.State, causeOf(st))
	}
	if since := time.Since(dropped); since >= dropDelay {
		t.Fatalf("the reload came %v after the drop, not within the drop delay of %v: the test machine is too slow for this case", since, dropDelay)
	}
	b.WaitIDs(t, 5*time.Second, s)
	if got := n.S3Gets(e2eS3Key(s)); got != pulls {
		t.Errorf("the reload within the drop delay read S3 again (%d GETs, %d before)", got, pulls)
	}
	n.waitZKSegmentIDs(t, s.ID().String())

	// Past the first drop's delay: its deletion must not have taken the reloaded segment.
	time.Sleep(time.Until(dropped.Add(dropDelay + time.Second)))
	if _, err := os.Stat(filepath.Join(dir, "version.bin")); err != nil {
		t.Errorf("the reloaded segment's files were deleted by the first drop's delayed deletion: %v", err)
	}
	if ids := n.InfoDirIDs(); !slices.Equal(ids, []string{s.ID().String()}) {
		t.Errorf("info_dir holds %v after the reload, want the segment", ids)
	}
	if ids := n.fullSync(t); !slices.Equal(ids, []string{s.ID().String()}) {
		t.Errorf("a Broker's full sync lists %v after the reload", ids)
	}
	if got := n.VerifyCache(); got != 1 {
		t.Errorf("cache verify counts %d complete segments, want 1", got)
	}
	noViolations(t, b)
}

// zkSegmentIDs are the segment ids the node's batch znodes announce, read directly from ZooKeeper.
func (n *e2eNode) zkSegmentIDs(t testing.TB) []string {
	t.Helper()
	batches, err := n.Batches()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := batchSegmentIDs(batches)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// waitZKSegmentIDs waits until the node's batch znodes announce exactly ids: a load answers SUCCESS once the
// inventory lists it, and its znode is written right after, as Java's announcer writes it in the background.
func (n *e2eNode) waitZKSegmentIDs(t testing.TB, ids ...string) {
	t.Helper()
	eventually(t, 5*time.Second, "the batch znodes announcing "+strings.Join(ids, ", "), func() error {
		if got := n.zkSegmentIDs(t); !slices.Equal(got, ids) {
			return fmt.Errorf("they announce %v", got)
		}
		return nil
	})
}

// TestServeE2ETombstoneUnsupportedCorrupt: a tombstone loads without touching S3; a loadSpec of a type the node
// cannot pull and an index.zip cut in half fail with a cause that says so, and leave nothing behind.
func TestServeE2ETombstoneUnsupportedCorrupt(t *testing.T) {
	n := newE2ENode(t, nodeOpts{})
	tomb := e2eTombstone("tomb", 3)
	_, hdfs := n.e2eSegmentZip("hdfs", 4, 1024)
	hdfs.LoadSpec = json.RawMessage(`{"type":"hdfs","path":"hdfs://127.0.0.1:8020/druid/segments/hdfs/index.zip"}`)
	data, corrupt := n.e2eSegmentZip("corrupt", 5, 64<<10)
	n.Bucket.Put(t, e2eS3Key(corrupt), data[:len(data)/2]) // no central directory, a deflate stream cut short
	n.StartReady()
	b := n.watchInventory(onlyKnown(tomb))
	peon, _ := n.coordinator(2, 5*time.Second)

	// The three cases run in turn on one node (the node's helpers report through this test, not subtests).
	{ // a tombstone
		before := len(n.S3.Requests())
		peon.Load(tomb)
		drain(t, peon, 10*time.Second)
		if st := mustResult(t, peon, segments.ActionLoad, tomb); st.State != "SUCCESS" {
			t.Fatalf("tombstone load: %s %s", st.State, causeOf(st))
		}
		if after := len(n.S3.Requests()); after != before {
			t.Errorf("the tombstone's load sent %d requests to S3, want none", after-before)
		}
		b.WaitIDs(t, 5*time.Second, tomb)
		n.waitZKSegmentIDs(t, tomb.ID().String())
	}
	{ // an unsupported loadSpec
		peon.Load(hdfs)
		drain(t, peon, 10*time.Second)
		st := mustResult(t, peon, segments.ActionLoad, hdfs)
		if st.State != "FAILED" || !strings.Contains(causeOf(st), "hdfs") {
			t.Fatalf("load of an hdfs segment: %s with cause %q, want FAILED naming the type", st.State, causeOf(st))
		}
		t.Logf("failureCause: %s", causeOf(st))
		n.assertNothingOf(t, hdfs)
	}
	{ // a corrupt index.zip
		peon.Load(corrupt)
		drain(t, peon, 20*time.Second)
		st := mustResult(t, peon, segments.ActionLoad, corrupt)
		if st.State != "FAILED" || causeOf(st) == "<null>" {
			t.Fatalf("load of a truncated index.zip: %s with cause %q, want FAILED with a cause", st.State, causeOf(st))
		}
		t.Logf("failureCause: %s", causeOf(st))
		n.assertNothingOf(t, corrupt)
	}
	b.WaitIDs(t, 5*time.Second, tomb)
	if got := n.VerifyCache(); got != 1 {
		t.Errorf("cache verify counts %d complete segments, want the tombstone", got)
	}
	noViolations(t, b)
}

// assertNothingOf checks that a failed load left no trace: no file of the segment in the cache (its directory, a
// download in progress, a drop in progress), no info_dir entry, no announcement.
func (n *e2eNode) assertNothingOf(t *testing.T, s *segments.DataSegment) {
	t.Helper()
	id := s.ID().String()
	for _, f := range n.CacheFiles() {
		if strings.Contains(f, id) || strings.HasPrefix(f, segcache.DropDir+string(filepath.Separator)) {
			t.Errorf("the failed load of %s left %s in the cache", id, f)
		}
	}
	filepath.WalkDir(n.Cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.Contains(d.Name(), id) {
			t.Errorf("the failed load of %s left the directory %s", id, p)
		}
		return nil
	})
	if slices.Contains(n.InfoDirIDs(), id) {
		t.Errorf("the failed load of %s left its info_dir entry", id)
	}
	if slices.Contains(n.fullSync(t), id) {
		t.Errorf("the failed load of %s is in the inventory", id)
	}
	if slices.Contains(n.zkSegmentIDs(t), id) {
		t.Errorf("the failed load of %s is announced in ZooKeeper", id)
	}
}

// TestServeE2ES3DownThenUp: while S3 answers 503 to every GET the load fails, with S3's answer in the cause and
// nothing left behind; once S3 is back, the Coordinator's next send of the same load succeeds.
func TestServeE2ES3DownThenUp(t *testing.T) {
	n := newE2ENode(t, nodeOpts{})
	s := n.PutSegment("flaky", 0, 64<<10)
	n.S3.Add(faultproxy.Rule{Method: http.MethodGet, Fault: faultproxy.Fault{Status: http.StatusServiceUnavailable}})
	n.StartReady()
	b := n.watchInventory(onlyKnown(s))
	peon, _ := n.coordinator(2, 10*time.Second)

	peon.Load(s)
	drain(t, peon, 30*time.Second)
	st := mustResult(t, peon, segments.ActionLoad, s)
	if st.State != "FAILED" || !strings.Contains(causeOf(st), "503") && !strings.Contains(causeOf(st), "SlowDown") {
		t.Fatalf("load while S3 is down: %s with cause %q, want FAILED naming S3's 503 SlowDown", st.State, causeOf(st))
	}
	t.Logf("failureCause while S3 is down: %s", causeOf(st))
	n.assertNothingOf(t, s)

	n.S3.Reset()
	peon.Load(s)
	drain(t, peon, 20*time.Second)
	if st := mustResult(t, peon, segments.ActionLoad, s); st.State != "SUCCESS" {
		t.Fatalf("load once S3 is back: %s %s", st.State, causeOf(st))
	}
	b.WaitIDs(t, 5*time.Second, s)
	if got := n.MustMetric(`druid_sidecar_segment_loads_total{result="failure"}`); got != 1 {
		t.Errorf("druid_sidecar_segment_loads_total{result=\"failure\"} = %v, want 1", got)
	}
	noViolations(t, b)
}

// TestServeE2EZKSessionExpiry cuts the node off ZooKeeper for longer than its session timeout while the Coordinator
// loads segments. The loads finish once ZooKeeper is back; the discovery znode and every batch znode written before
// the cut are back with the same bytes, owned by the new session, the segments loaded meanwhile are announced once
// each, and the Broker's view (HTTP, not cut) was never wrong.
func TestServeE2EZKSessionExpiry(t *testing.T) {
	n := newE2ENode(t, nodeOpts{zkProxy: true, sets: []string{
		// Two segments a znode, so that the first four fill two znodes and the loads during the cut need new ones:
		// the znodes from before the cut must then come back byte for byte.
		"druid.announcer.segmentsPerNode=2",
	}})
	var before, during []*segments.DataSegment
	for day := range 4 {
		before = append(before, n.PutSegment("expiry", day, 16<<10))
		during = append(during, n.PutSegment("expiry", 10+day, 16<<10))
	}
	all := append(slices.Clone(before), during...)
	n.StartReady()
	b := n.watchInventory(neverLost(all...))
	peon, _ := n.coordinator(2, 500*time.Millisecond)

	for _, s := range before {
		peon.Load(s)
	}
	drain(t, peon, 20*time.Second)
	var disc zkNode
	var batches map[string]zkNode
	eventually(t, 5*time.Second, "the four segments in ZooKeeper", func() error {
		var ok bool
		if disc, ok = n.Discovery(); !ok {
			return errors.New("no discovery znode")
		}
		var err error
		if batches, err = n.Batches(); err != nil {
			return err
		}
		ids, err := batchSegmentIDs(batches)
		if err != nil {
			return err
		}
		if !slices.Equal(ids, idStrings(before)) {
			return fmt.Errorf("batch znodes announce %v", ids)
		}
		return nil
	})
	if len(batches) != 2 {
		t.Fatalf("%d batch znodes for 4 segments at 2 a znode, want 2", len(batches))
	}

	n.ZKProxy.Cut()
	cutAt := time.Now()
	drained := make(chan error, 1)
	for _, s := range during {
		peon.Load(s)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		drained <- peon.Drain(ctx)
	}()
	// Healed only once ZooKeeper has expired the node's session (2 s timeout), so that the node must start anew.
	n.ZK.WaitSessionExpired(t, disc.Owner, 15*time.Second)
	n.ZKProxy.Heal()
	if err := <-drained; err != nil {
		t.Fatalf("the loads during the session loss did not finish: %v (stats %+v)", err, peon.Stats())
	}
	t.Logf("loads during the cut finished %v after it began", time.Since(cutAt).Round(time.Millisecond))
	for _, s := range during {
		if st := mustResult(t, peon, segments.ActionLoad, s); st.State != "SUCCESS" {
			t.Errorf("load of %s during the session loss: %s %s", s.ID(), st.State, causeOf(st))
		}
	}
	took := eventually(t, 10*time.Second, "ZooKeeper back to the node's state", func() error {
		d, ok := n.Discovery()
		switch {
		case !ok:
			return errors.New("no discovery znode")
		case string(d.Data) != string(disc.Data):
			return fmt.Errorf("the discovery znode holds other bytes than before the session loss")
		case d.Owner == disc.Owner:
			return fmt.Errorf("the discovery znode is still owned by the old session 0x%x", d.Owner)
		}
		now, err := n.Batches()
		if err != nil {
			return err
		}
		for name, old := range batches {
			if string(now[name].Data) != string(old.Data) {
				return fmt.Errorf("batch znode %s is not back with the same bytes", name)
			}
		}
		for name, z := range now {
			if z.Owner != d.Owner {
				return fmt.Errorf("batch znode %s is owned by session 0x%x, not the node's 0x%x", name, z.Owner, d.Owner)
			}
		}
		ids, err := batchSegmentIDs(now)
		if err != nil {
			return err
		}
		if !slices.Equal(ids, idStrings(all)) {
			return fmt.Errorf("batch znodes announce %v, want each of the 8 segments once", ids)
		}
		return nil
	})
	t.Logf("ZooKeeper matched %v after the loads finished", took.Round(time.Millisecond))
	if got := n.MustMetric("druid_sidecar_zk_session_expiries_total"); got < 1 {
		t.Errorf("druid_sidecar_zk_session_expiries_total = %v: the session did not expire, the test proves nothing", got)
	}
	b.WaitIDs(t, 5*time.Second, all...)
	noViolations(t, b)
	if st := b.Stats(); st.Resets != 0 || st.Failures != 0 {
		t.Errorf("the Broker's sync saw %d resets and %d failures during a ZooKeeper session loss, want none", st.Resets, st.Failures)
	}
}

// TestServeE2EKill9DuringLoads kills the node with SIGKILL while S3 is slow and loads are half done, then starts it
// again over the same cache: no half segment survives (cache verify finds nothing), the restarted node lists
// exactly the segments whose info_dir entries existed, without pulling them again, and the Coordinator's resends
// load the rest.
func TestServeE2EKill9DuringLoads(t *testing.T) {
	n := newE2ENode(t, nodeOpts{sets: []string{"druid.segmentCache.numLoadingThreads=3"}})
	var segs []*segments.DataSegment
	for day := range 9 {
		segs = append(segs, n.PutSegment("kill", day, 64<<10))
	}
	// About 14 KB a zip at 10 KB/s: over a second a load, so that a kill lands in the middle of some.
	n.S3.Add(faultproxy.Rule{Method: http.MethodGet, Fault: faultproxy.Fault{BodyRate: 10_000}})
	p := n.StartReady()
	b := n.watchInventory(onlyKnown(segs...))
	peon, _ := n.coordinator(3, time.Second)
	for _, s := range segs {
		peon.Load(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan error, 1)
	go func() { drained <- peon.Drain(ctx) }()
	// The kill comes once three loads are done and the next ones are pulling (their download markers exist).
	eventually(t, 30*time.Second, "three loads done and more in progress", func() error {
		if done := len(segs) - peon.Queued(); done < 3 {
			return fmt.Errorf("%d done", done)
		}
		if n.downloadMarkers() == 0 {
			return errors.New("no download in progress")
		}
		return nil
	})
	p.Kill9()
	cancel()
	<-drained
	var succeeded []string
	for _, s := range segs {
		if st, ok := peon.Result(segments.ActionLoad, s.ID()); ok && st.State == "SUCCESS" {
			succeeded = append(succeeded, s.ID().String())
		}
	}
	infos := n.InfoDirIDs()
	markers := n.downloadMarkers()
	t.Logf("killed with %d loads answered SUCCESS, %d info_dir entries, %d downloads in progress", len(succeeded), len(infos), markers)
	if markers == 0 {
		t.Fatal("no download was in progress at the kill: the test proves nothing about half segments")
	}
	for _, id := range succeeded {
		if !slices.Contains(infos, id) {
			t.Errorf("%s was answered SUCCESS but has no info_dir entry after the kill", id)
		}
	}

	n.S3.Reset() // S3 at full speed, and count only the restarted node's requests
	n.StartReady()
	if got := n.fullSync(t); !slices.Equal(got, infos) {
		t.Errorf("after the restart a Broker's full sync lists\n%v\nwant the info_dir entries\n%v", got, infos)
	}
	// As in Druid, the restart leaves the downloads the kill cut short in place, marked partial, for the segment's
	// next load to replace.
	partial := map[string]bool{}
	for _, f := range n.CacheFiles() {
		if seg, name, _ := strings.Cut(f, string(filepath.Separator)); name == segcache.DownloadStartMarker {
			partial[seg] = true
		}
	}
	for _, f := range n.CacheFiles() {
		if seg, _, _ := strings.Cut(f, string(filepath.Separator)); !slices.Contains(infos, seg) && !partial[seg] {
			t.Errorf("after the restart the cache holds %s, which is neither part of a complete segment nor of a partial one", f)
		}
	}
	b.WaitIDs(t, 10*time.Second, segsWithIDs(segs, infos)...)
	eventually(t, 10*time.Second, "the Broker's sync reset by the restarted node", func() error {
		if !slices.Contains(b.Kinds(), druidpeer.Reset) {
			return fmt.Errorf("polls: %v", b.Kinds())
		}
		return nil
	})

	drain(t, peon, 30*time.Second)
	for _, s := range segs {
		if st := mustResult(t, peon, segments.ActionLoad, s); st.State != "SUCCESS" {
			t.Errorf("load of %s after the restart: %s %s", s.ID(), st.State, causeOf(st))
		}
		if slices.Contains(infos, s.ID().String()) && n.S3Gets(e2eS3Key(s)) != 0 {
			t.Errorf("%s was complete in the cache before the restart and was pulled again", s.ID())
		}
	}
	b.WaitIDs(t, 10*time.Second, segs...)
	// Every partial download was replaced by its segment's load.
	if n.downloadMarkers() != 0 {
		t.Errorf("a download marker is left once every load is done: %v", n.CacheFiles())
	}
	if got := n.VerifyCache(); got != len(segs) {
		t.Errorf("cache verify counts %d complete segments once every load is done, want %d", got, len(segs))
	}
	// The killed process's session ends at its timeout (2 s), and with it its batch znodes.
	eventually(t, 10*time.Second, "ZooKeeper announcing each segment once, from the new session", func() error {
		d, ok := n.Discovery()
		if !ok {
			return errors.New("no discovery znode")
		}
		batches, err := n.Batches()
		if err != nil {
			return err
		}
		for name, z := range batches {
			if z.Owner != d.Owner {
				return fmt.Errorf("batch znode %s is owned by session 0x%x, not the node's 0x%x", name, z.Owner, d.Owner)
			}
		}
		ids, err := batchSegmentIDs(batches)
		if err != nil {
			return err
		}
		if !slices.Equal(ids, idStrings(segs)) {
			return fmt.Errorf("batch znodes announce %v", ids)
		}
		return nil
	})
	noViolations(t, b)
}

// downloadMarkers counts the segment directories of the cache with a download in progress.
func (n *e2eNode) downloadMarkers() int {
	markers := 0
	for _, f := range n.CacheFiles() {
		if filepath.Base(f) == segcache.DownloadStartMarker {
			markers++
		}
	}
	return markers
}

// segsWithIDs returns the segments whose ids are in ids.
func segsWithIDs(segs []*segments.DataSegment, ids []string) []*segments.DataSegment {
	var out []*segments.DataSegment
	for _, s := range segs {
		if slices.Contains(ids, s.ID().String()) {
			out = append(out, s)
		}
	}
	return out
}

// TestServeE2ESigtermDuringParkedPoll sends SIGTERM while a Broker's inventory poll is parked. As a Java Historical
// stops (druid-protocol.md 10), the discovery znode goes first, then the parked poll is answered 500 "Server is
// shutting down." (Druid's answer once its change history is stopped), and the process exits 0 within the
// shutdown deadline, its ephemeral znodes gone with its session.
func TestServeE2ESigtermDuringParkedPoll(t *testing.T) {
	n := newE2ENode(t, nodeOpts{})
	tomb := e2eTombstone("term", 0)
	p := n.StartReady()
	peon, _ := n.coordinator(1, 5*time.Second)
	peon.Load(tomb)
	drain(t, peon, 10*time.Second)

	s := druidpeer.New(druidpeer.Config{URL: n.URL, ServerTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if resp, err := s.Poll(ctx); err != nil || resp.Kind != druidpeer.FullSync || len(s.Segments()) != 1 {
		t.Fatalf("the Broker's first sync: %v %v, %d segments", err, resp.Kind, len(s.Segments()))
	}
	type answer struct {
		resp      *druidpeer.Response
		at        time.Time
		discovery bool // whether the discovery znode existed when the answer arrived
	}
	answered := make(chan answer, 1)
	go func() {
		resp, _ := s.Poll(ctx)
		ok, _, err := n.Conn.Exists(n.DiscoveryPath())
		answered <- answer{resp: resp, at: time.Now(), discovery: ok || err != nil}
	}()
	select {
	case a := <-answered:
		t.Fatalf("the Broker's poll was answered (%v, %d) instead of parking", a.resp.Kind, a.resp.Status)
	case <-time.After(500 * time.Millisecond):
	}
	exists, _, watch, err := n.Conn.ExistsW(n.DiscoveryPath())
	if err != nil || !exists {
		t.Fatalf("the discovery znode before SIGTERM: exists %v, %v", exists, err)
	}

	termAt := time.Now()
	p.Signal(syscall.SIGTERM)
	var a answer
	select {
	case a = <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the parked poll was not answered within 30 s of SIGTERM")
	}
	var deletedAt time.Time
	select {
	case ev := <-watch:
		if ev.Type != zk.EventNodeDeleted {
			t.Errorf("the discovery znode's watch fired %v, want its deletion", ev.Type)
		}
		deletedAt = time.Now()
	case <-time.After(10 * time.Second):
		t.Error("the discovery znode was not deleted within 10 s of SIGTERM")
	}
	code, _ := p.Wait(35 * time.Second)
	exited := time.Since(termAt)
	t.Logf("after SIGTERM: discovery znode deleted at +%v, parked poll answered at +%v (%d %q), exit %d at +%v",
		deletedAt.Sub(termAt).Round(time.Millisecond), a.at.Sub(termAt).Round(time.Millisecond), a.resp.Status,
		strings.TrimSpace(string(a.resp.Body)), code, exited.Round(time.Millisecond))
	if a.discovery {
		t.Error("the parked poll was answered while the discovery znode still existed: a Broker could re-sync a node that is going away")
	}
	switch {
	case a.resp.Status == http.StatusInternalServerError && strings.Contains(string(a.resp.Body), "Server is shutting down."):
	case a.resp.Kind == druidpeer.NoContent:
	default:
		t.Errorf("the parked poll got %d %q, want 500 \"Server is shutting down.\" (or a 204)", a.resp.Status, a.resp.Body)
	}
	if code != exitOK {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if exited > 30*time.Second {
		t.Errorf("the process took %v to exit, more than its 30 s shutdown deadline", exited)
	}
	if batches, err := n.Batches(); err != nil || len(batches) != 0 {
		t.Errorf("after the exit %d batch znodes remain (%v), want none: they die with the session", len(batches), err)
	}
}

// TestServeE2EZKLoadQueue drives the node through the ZooKeeper load queue of Coordinators up to 29
// (druid.sidecar.zkLoadQueue=true, druid-protocol.md 5): the Coordinator creates one ephemeral, uncompressed znode
// of a change request per segment under loadQueue/<host:port>, and the node deletes each when it is done.
func TestServeE2EZKLoadQueue(t *testing.T) {
	t.Run("kill -9 during loads", func(t *testing.T) {
		n := newE2ENode(t, nodeOpts{sets: []string{"druid.sidecar.zkLoadQueue=true", "druid.segmentCache.numLoadingThreads=3"}})
		var segs []*segments.DataSegment
		for day := range 9 {
			segs = append(segs, n.PutSegment("zkqueue", day, 64<<10))
		}
		n.S3.Add(faultproxy.Rule{Method: http.MethodGet, Fault: faultproxy.Fault{BodyRate: 10_000}})
		p := n.StartReady()
		n.waitLoadQueueDir(t)
		for _, s := range segs {
			n.enqueueZK(t, segments.ChangeRequest{Action: segments.ActionLoad, Segment: s})
		}
		eventually(t, 30*time.Second, "three znodes of the load queue done and more loads in progress", func() error {
			if left := n.loadQueue(t); len(left) > len(segs)-3 {
				return fmt.Errorf("%d left", len(left))
			}
			if n.downloadMarkers() == 0 {
				return errors.New("no download in progress")
			}
			return nil
		})
		p.Kill9()
		left := n.loadQueue(t)
		infos := n.InfoDirIDs()
		t.Logf("killed with %d znodes left in the load queue and %d info_dir entries", len(left), len(infos))
		for _, s := range segs {
			if !slices.Contains(left, s.ID().String()) && !slices.Contains(infos, s.ID().String()) {
				t.Errorf("%s left the load queue without being loaded", s.ID())
			}
		}
		n.S3.Reset()
		n.StartReady()
		// The restarted node reads the load queue as soon as it is discoverable and S3 is fast again, so a Broker's
		// first sync may already list segments loaded since: it must list every segment complete at the kill, and
		// none without an info_dir entry (read after the sync, since an entry is written before its announcement).
		synced := n.fullSync(t)
		cached := n.InfoDirIDs()
		t.Logf("after the restart the first full sync lists %d segments, info_dir then holds %d", len(synced), len(cached))
		for _, id := range infos {
			if !slices.Contains(synced, id) {
				t.Errorf("%s was complete in the cache at the kill; the restarted node's first full sync does not list it", id)
			}
		}
		for _, id := range synced {
			if !slices.Contains(cached, id) {
				t.Errorf("the restarted node's first full sync lists %s, which has no info_dir entry", id)
			}
		}
		eventually(t, 30*time.Second, "the load queue emptied after the restart", func() error {
			if left := n.loadQueue(t); len(left) > 0 {
				return fmt.Errorf("%d znodes left: %v", len(left), left)
			}
			return nil
		})
		eventually(t, 10*time.Second, "every segment of the queue in the inventory", func() error {
			if got := n.fullSync(t); !slices.Equal(got, idStrings(segs)) {
				return fmt.Errorf("the inventory lists %v", got)
			}
			return nil
		})
		if got := n.InfoDirIDs(); !slices.Equal(got, idStrings(segs)) {
			t.Errorf("info_dir holds %v, want every segment of the queue", got)
		}
		for _, id := range infos {
			if gets := n.S3Gets(e2eS3Key(segsWithIDs(segs, []string{id})[0])); gets != 0 {
				t.Errorf("%s was complete in the cache before the restart and was pulled again", id)
			}
		}
		if got := n.VerifyCache(); got != len(segs) {
			t.Errorf("cache verify counts %d complete segments, want %d", got, len(segs))
		}
		// The downloads the kill cut short were cleared or completed: every file belongs to a loaded segment.
		for _, f := range n.CacheFiles() {
			if seg, _, _ := strings.Cut(f, string(filepath.Separator)); !slices.Contains(idStrings(segs), seg) || filepath.Base(f) == segcache.DownloadStartMarker {
				t.Errorf("once every load is done the cache holds %s, which is not part of a complete segment", f)
			}
		}
	})
	t.Run("malformed znode removed, next executed", func(t *testing.T) {
		n := newE2ENode(t, nodeOpts{sets: []string{"druid.sidecar.zkLoadQueue=true"}})
		s := n.PutSegment("zkqueue", 0, 16<<10)
		n.StartReady()
		n.waitLoadQueueDir(t)
		bad := n.LoadQueueDir() + "/not-a-change-request"
		if _, err := n.Conn.Create(bad, []byte(`{"action":"load","dataSource":`), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		n.enqueueZK(t, segments.ChangeRequest{Action: segments.ActionLoad, Segment: s})
		eventually(t, 15*time.Second, "the load queue emptied", func() error {
			if left := n.loadQueue(t); len(left) > 0 {
				return fmt.Errorf("%d znodes left: %v", len(left), left)
			}
			return nil
		})
		eventually(t, 5*time.Second, "the segment after the malformed znode loaded", func() error {
			if got := n.fullSync(t); !slices.Equal(got, []string{s.ID().String()}) {
				return fmt.Errorf("the inventory lists %v", got)
			}
			return nil
		})
		if got := n.MustMetric("druid_sidecar_zk_load_queue_malformed_total"); got != 1 {
			t.Errorf("druid_sidecar_zk_load_queue_malformed_total = %v, want 1", got)
		}
	})
}

// waitLoadQueueDir waits for the node to create its load-queue parent, as ZkCoordinator.start() ensured it: the
// Coordinator creates entries without parents.
func (n *e2eNode) waitLoadQueueDir(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "the node's load queue "+n.LoadQueueDir(), func() error {
		ok, _, err := n.Conn.Exists(n.LoadQueueDir())
		if err == nil && !ok {
			err = errors.New("it does not exist")
		}
		return err
	})
}

// enqueueZK writes a change request into the node's load queue as CuratorLoadQueuePeon did: an ephemeral znode of
// the Coordinator's session named after the segment id, holding the request's JSON uncompressed.
func (n *e2eNode) enqueueZK(t *testing.T, req segments.ChangeRequest) {
	t.Helper()
	data, err := req.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Conn.Create(n.LoadQueueDir()+"/"+req.Segment.ID().String(), data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("enqueueing %s %s in ZooKeeper: %v", req.Action, req.Segment.ID(), err)
	}
}

// loadQueue lists the znodes left in the node's load queue.
func (n *e2eNode) loadQueue(t *testing.T) []string {
	t.Helper()
	names, _, err := n.Conn.Children(n.LoadQueueDir())
	if err != nil {
		t.Fatalf("listing %s: %v", n.LoadQueueDir(), err)
	}
	sort.Strings(names)
	return names
}
