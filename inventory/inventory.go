package inventory

// The HTTP segment inventory: GET /druid-internal/v1/segments?counter=&hash=&timeout=, which every Broker and
// Coordinator long-polls to keep its view of the segments this server announces (druid-protocol.md 4.1, 10,
// traps 2-4; Druid: SegmentListerResource.getSegments, BatchDataSegmentAnnouncer.getSegmentChangesSince,
// ChangeRequestHistory, ChangeRequestsSnapshot).
//
// Unexported package-level identifiers of this file start with "inventory", because other files of this package
// are written independently.

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Path is where Druid serves the inventory; mount Inventory there (GET only).
const Path = "/druid-internal/v1/segments"

// SmileType is the media type that selects a Smile response when it is the whole Accept header, as
// Brokers and Coordinators send it. Any other Accept header gets JSON.
const SmileType = "application/x-jackson-smile"

// The messages and reset causes of Druid's resource, kept verbatim because operators grep Druid's logs for them.
const (
	inventoryMsgShuttingDown    = "Server is shutting down."
	inventoryMsgTimeoutPositive = "timeout must be positive."
)

// inventoryFlushSize is the buffer between a serialized snapshot and the connection.
const inventoryFlushSize = 32 << 10

// Inventory is the set of segments this server announces together with the history of its changes, and serves
// both to Brokers and Coordinators as Druid's segment inventory (an http.Handler for Path).
//
// The announcer calls Announce and Unannounce for every segment it announces or unannounces, whether or not it
// writes ZooKeeper (druid-protocol.md 3.1): the HTTP inventory is fed even when ZooKeeper announcement is skipped.
// Segments are keyed by their SegmentID. Each segment's change-request JSON is built once, when it is announced,
// and kept, so a full snapshot of 100,000 segments is a copy of those bytes (or their Smile transcoding), never a
// re-marshal.
//
// All methods are safe for concurrent use.
type Inventory struct {
	mu      sync.Mutex
	byID    map[segments.SegmentID]*inventorySegment
	list    []*inventorySegment // the same segments, unordered, for snapshots
	history *History
	changed chan struct{} // closed, and replaced, whenever changes are recorded: wakes the parked polls
	stopped chan struct{} // closed by Stop
	stop    sync.Once
	parked  atomic.Int64 // polls waiting for a change, for tests and metrics
}

// inventorySegment is one announced segment.
type inventorySegment struct {
	request []byte // {"action":"load",…}: immutable, shared with the history's load entry
	index   int    // position in Inventory.list
}

// New returns an empty inventory whose history counter starts at {0, process start ms}.
func New() *Inventory {
	return newInventory(historyProcessStart)
}

func newInventory(zeroHash int64) *Inventory {
	return &Inventory{
		byID:    make(map[segments.SegmentID]*inventorySegment),
		history: NewHistory(zeroHash),
		changed: make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// Announce adds segments to the inventory and records a "load" change for each one that was not announced yet;
// a segment whose id is already announced (or repeated within segs) records nothing, as in Druid. Pass the
// segments as they are to be announced, that is after the druid.announcer.skip* transforms: their JSON is what
// snapshots and load entries carry. Each is announced as segments.LoadAnnouncement builds it from the segment given;
// a caller that strips load specs (skipLoadSpec) uses AnnounceLoads, so that the fingerprint survives.
//
// It fails, changing nothing, only when a segment cannot be serialized (a caller-built LoadSpec or
// LastCompactionState that is not a JSON object).
func (inv *Inventory) Announce(segs []*segments.DataSegment) error {
	loads := make([]segments.ChangeRequest, len(segs))
	for i, s := range segs {
		loads[i] = segments.LoadAnnouncement(s)
	}
	return inv.AnnounceLoads(loads)
}

// AnnounceLoads is Announce for load announcements already built: each request's Segment is the copy to announce,
// and its fingerprint and loadedBytes are the ones segments.LoadAnnouncement gave the segment as loaded, before
// druid.announcer.skipLoadSpec took the partial-load wrapper away with its load spec (without them a Druid 38+
// Coordinator would count the replica as stale and load it again and again). Requests whose action is not load are
// an error.
func (inv *Inventory) AnnounceLoads(loads []segments.ChangeRequest) error {
	if len(loads) == 0 {
		return nil
	}
	reqs := make([][]byte, len(loads))
	for i, r := range loads {
		if r.Action != segments.ActionLoad || r.Segment == nil {
			return fmt.Errorf("cannot announce request %d of %d: it is not the load of a segment", i, len(loads))
		}
		b, err := r.AppendJSON(nil)
		if err != nil {
			return fmt.Errorf("cannot record the load of segment %s in the inventory: %w", r.Segment.ID(), err)
		}
		reqs[i] = b
	}
	return inv.AnnounceLoadsJSON(loads, reqs)
}

// AnnounceLoadsJSON is AnnounceLoads with each request's JSON already built (reqs[i] holds what loads[i].AppendJSON
// writes, and is kept, unchanged, from then on): the announcer builds them from the segment JSON it writes to
// ZooKeeper, so that an announced segment is serialized once.
func (inv *Inventory) AnnounceLoadsJSON(loads []segments.ChangeRequest, reqs [][]byte) error {
	if len(reqs) != len(loads) {
		return fmt.Errorf("cannot announce %d requests with %d bodies", len(loads), len(reqs))
	}
	for i, r := range loads {
		if r.Action != segments.ActionLoad || r.Segment == nil {
			return fmt.Errorf("cannot announce request %d of %d: it is not the load of a segment", i, len(loads))
		}
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if len(inv.byID) == 0 && len(loads) > 1 {
		// A bootstrap: sized once instead of grown (and rehashed) a dozen times on the way to 100,000.
		inv.byID = make(map[segments.SegmentID]*inventorySegment, len(loads))
	}
	inv.list = slices.Grow(inv.list, len(loads))
	// The entries come in one block and the changes share one reading of the clock: a bulk announcement records
	// 100,000 of each at once.
	block := make([]inventorySegment, len(loads))
	now := inv.history.clock()
	recorded := false
	for i, r := range loads {
		id := r.Segment.ID()
		if _, ok := inv.byID[id]; ok {
			continue
		}
		e := &block[i]
		*e = inventorySegment{request: reqs[i], index: len(inv.list)}
		inv.byID[id] = e
		inv.list = append(inv.list, e)
		inv.history.recordAt(now, segments.ActionLoad, id, reqs[i])
		recorded = true
	}
	if recorded {
		inv.wakeLocked()
	}
	return nil
}

// Unannounce removes segments from the inventory and records a "drop" change for each one that was announced; an
// absent one records nothing. Pass each segment as it was before the skip* transforms: as in Druid, the drop
// entry carries the untransformed segment (only its id selects what is removed).
//
// It fails, changing nothing, only when a segment cannot be serialized.
func (inv *Inventory) Unannounce(segs []*segments.DataSegment) error {
	if len(segs) == 0 {
		return nil
	}
	reqs, err := dropRequests(segs)
	if err != nil {
		return err
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	recorded := false
	for i, s := range segs {
		id := s.ID()
		e, ok := inv.byID[id]
		if !ok {
			continue
		}
		delete(inv.byID, id)
		last := len(inv.list) - 1
		moved := inv.list[last]
		inv.list[e.index] = moved
		moved.index = e.index
		inv.list[last] = nil
		inv.list = inv.list[:last]
		inv.history.Record(segments.ActionDrop, id, reqs[i])
		recorded = true
	}
	if recorded {
		inv.wakeLocked()
	}
	return nil
}

// dropRequests serializes one drop request per segment.
func dropRequests(segs []*segments.DataSegment) ([][]byte, error) {
	reqs := make([][]byte, len(segs))
	for i, s := range segs {
		if s == nil {
			return nil, fmt.Errorf("cannot drop segment %d of %d: it is nil", i, len(segs))
		}
		r := segments.ChangeRequest{Action: segments.ActionDrop, Segment: s}
		b, err := r.AppendJSON(nil)
		if err != nil {
			return nil, fmt.Errorf("cannot record the drop of segment %s in the inventory: %w", s.ID(), err)
		}
		reqs[i] = b
	}
	return reqs, nil
}

// wakeLocked releases every poll parked on the counter that was current before the changes just recorded.
func (inv *Inventory) wakeLocked() {
	close(inv.changed)
	inv.changed = make(chan struct{})
}

// Snapshot is the announced set at one point of the history.
type Snapshot struct {
	// Counter is the history's last counter: the one a full-sync response carries.
	Counter Counter
	// IDs lists the announced segments, in no particular order.
	IDs []segments.SegmentID
}

// Snapshot returns the announced segment ids and the matching counter.
func (inv *Inventory) Snapshot() Snapshot {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	ids := make([]segments.SegmentID, 0, len(inv.byID))
	for id := range inv.byID {
		ids = append(ids, id)
	}
	return Snapshot{Counter: inv.history.Last(), IDs: ids}
}

// Len returns the number of announced segments.
func (inv *Inventory) Len() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return len(inv.list)
}

// Parked returns the number of polls waiting for a change.
func (inv *Inventory) Parked() int { return int(inv.parked.Load()) }

// Stop ends serving, as Druid's announcer stops its change history at shutdown (druid-protocol.md 10): every
// parked poll and every later one is answered 500 "Server is shutting down.". Announce and Unannounce keep
// working. Stop is idempotent.
func (inv *Inventory) Stop() {
	inv.stop.Do(func() { close(inv.stopped) })
}

func (inv *Inventory) isStopped() bool {
	select {
	case <-inv.stopped:
		return true
	default:
		return false
	}
}

// ServeHTTP answers GET Path?counter=&hash=&timeout= as Druid's SegmentListerResource.getSegments does:
//   - timeout (ms) missing, unparseable or not positive: 400; counter and hash default to 0, unparseable: 400;
//     another method than GET: 405; after Stop: 500 "Server is shutting down.".
//   - counter < 0: 200 with a full snapshot, every announced segment as a "load" request, and the last counter.
//   - counter and hash equal to the last counter: the request parks until a change is recorded (200 with the
//     changes), the timeout passes (204, no body), the client goes away, or Stop (500).
//   - a counter Since rejects: 200 with {"resetCounter":true,"resetCause":…,"counter":null,"requests":null}.
//   - otherwise: 200 with the changes after counter.
//
// The body is Smile (Content-Type application/x-jackson-smile) when the Accept header is exactly
// SmileType, else JSON (application/json). Snapshots are streamed.
func (inv *Inventory) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, fmt.Sprintf("method %s is not allowed; the segment inventory answers GET only", r.Method), http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	counter, err := inventoryLongParam(q.Get("counter"), "counter")
	if err == nil {
		var hash, timeout int64
		if hash, err = inventoryLongParam(q.Get("hash"), "hash"); err == nil {
			if timeout, err = inventoryLongParam(q.Get("timeout"), "timeout"); err == nil && timeout <= 0 {
				err = errors.New(inventoryMsgTimeoutPositive)
			}
			if err == nil {
				inv.serve(w, r, Counter{Counter: counter, Hash: hash}, timeout)
				return
			}
		}
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// inventoryLongParam reads a Java long query parameter; missing is 0, as JAX-RS gives a primitive.
func inventoryLongParam(v, name string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("query parameter %s=%q is not a whole number (a Java long)", name, v)
	}
	return n, nil
}

func (inv *Inventory) serve(w http.ResponseWriter, r *http.Request, c Counter, timeoutMS int64) {
	smile := r.Header.Get("Accept") == SmileType
	var timer *time.Timer
	for {
		if inv.isStopped() {
			http.Error(w, inventoryMsgShuttingDown, http.StatusInternalServerError)
			return
		}
		inv.mu.Lock()
		if c.Counter < 0 {
			// Copy the pointers only (8 bytes a segment); the request bytes are immutable.
			list := slices.Clone(inv.list)
			last := inv.history.Last()
			inv.mu.Unlock()
			inventoryWrite(w, smile, last, "", len(list), func(i int) []byte { return list[i].request })
			return
		}
		changes, last, cause := inv.history.Since(c)
		if cause != "" || len(changes) > 0 {
			inv.mu.Unlock()
			inventoryWrite(w, smile, last, cause, len(changes), func(i int) []byte { return changes[i].Request })
			return
		}
		// c is the last counter: park until it is not.
		changed := inv.changed
		inv.mu.Unlock()
		if timer == nil {
			d := time.Duration(math.MaxInt64)
			if timeoutMS < int64(d/time.Millisecond) {
				d = time.Duration(timeoutMS) * time.Millisecond
			}
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		inv.parked.Add(1)
		select {
		case <-changed:
			inv.parked.Add(-1)
		case <-inv.stopped:
			inv.parked.Add(-1)
		case <-timer.C:
			inv.parked.Add(-1)
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			inv.parked.Add(-1)
			return
		}
	}
}

// inventoryWrite writes a ChangeRequestsSnapshot: a reset when cause is not empty, else a success with last and
// the n requests request(0) … request(n-1). Key order is Jackson's for ChangeRequestsSnapshot (its @JsonCreator order: resetCounter,
// resetCause, counter, requests) and for Counter (counter, hash). A write error means the client is gone; the
// rest of the response is dropped.
func inventoryWrite(w http.ResponseWriter, smile bool, last Counter, cause string, n int, request func(int) []byte) {
	if smile {
		w.Header().Set("Content-Type", SmileType)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(http.StatusOK)
	if smile {
		sw := inventorySmileWriters.Get().(*jackson.SmileWriter)
		defer inventorySmileWriters.Put(sw)
		sw.Reset(w)
		sw.WriteStartObject()
		sw.WriteKey("resetCounter")
		sw.WriteBool(cause != "")
		sw.WriteKey("resetCause")
		if cause != "" {
			sw.WriteString(cause)
		} else {
			sw.WriteNull()
		}
		sw.WriteKey("counter")
		if cause != "" {
			sw.WriteNull()
			sw.WriteKey("requests")
			sw.WriteNull()
		} else {
			sw.WriteStartObject()
			sw.WriteKey("counter")
			sw.WriteInt64(last.Counter)
			sw.WriteKey("hash")
			sw.WriteInt64(last.Hash)
			sw.WriteEndObject()
			sw.WriteKey("requests")
			sw.WriteStartArray()
			for i := 0; i < n; i++ {
				if sw.WriteJSON(request(i)) != nil {
					break
				}
			}
			sw.WriteEndArray()
		}
		sw.WriteEndObject()
		_ = sw.Close()
		sw.Reset(nil)
		return
	}
	if cause != "" {
		b := append([]byte(nil), `{"resetCounter":true,"resetCause":`...)
		b = jackson.AppendJSONString(b, cause)
		b = append(b, `,"counter":null,"requests":null}`...)
		_, _ = w.Write(b)
		return
	}
	bw := bufio.NewWriterSize(w, inventoryFlushSize)
	head := append(make([]byte, 0, 96), `{"resetCounter":false,"resetCause":null,"counter":{"counter":`...)
	head = strconv.AppendInt(head, last.Counter, 10)
	head = append(head, `,"hash":`...)
	head = strconv.AppendInt(head, last.Hash, 10)
	head = append(head, `},"requests":[`...)
	_, err := bw.Write(head)
	for i := 0; i < n && err == nil; i++ {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, err = bw.Write(request(i))
	}
	if err == nil {
		_, _ = bw.WriteString("]}")
		_ = bw.Flush()
	}
}

var inventorySmileWriters = sync.Pool{New: func() any { return jackson.NewSmileWriter(nil) }}
