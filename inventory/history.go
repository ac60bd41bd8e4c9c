package inventory

// The segment change history behind the HTTP inventory (druid-protocol.md 4.1, traps 4): Druid's
// ChangeRequestHistory, a ring of the last 1000 load/drop change requests, each stamped with a (counter, hash)
// pair that clients echo back to ask for the changes after it.
//
// Unexported package-level identifiers of this file start with "history", because other files of this package
// are written independently.

import (
	"fmt"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// HistorySize is the number of changes a History keeps, as Druid's ChangeRequestHistory (MAX_SIZE). A client
// whose counter is HistorySize or more changes behind is told to reset, even if all the changes it misses are
// still held, because the entry at its own counter is needed to check its hash.
const HistorySize = 1000

// historyProcessStart is the hash of the empty history's counter: the wall-clock milliseconds at which this
// process loaded the package, as Druid's Counter.ZERO takes System.currentTimeMillis() when its class loads. A
// restarted process has a different value, so a client still holding counter 0 of the old process is reset.
var historyProcessStart = time.Now().UnixMilli()

// Counter is Druid's ChangeRequestHistory.Counter: the position of a change in the history and a hash that
// ties it to this very history. Its JSON form is {"counter":N,"hash":H}, in that order.
type Counter struct {
	Counter int64 `json:"counter"`
	Hash    int64 `json:"hash"`
}

// String returns the form Druid's Counter.toString() gives, which Druid puts into reset causes:
// Counter{counter=N, hash=H}.
func (c Counter) String() string {
	return fmt.Sprintf("Counter{counter=%d, hash=%d}", c.Counter, c.Hash)
}

// Change is one recorded change.
type Change struct {
	// Counter is the position of the change; its hash is the wall clock at recording (see History.Record).
	Counter Counter
	// Action is segments.ActionLoad or segments.ActionDrop.
	Action segments.Action
	// ID is the segment's id.
	ID segments.SegmentID
	// Request is the change request's JSON, {"action":"load",…the segment's members…}, exactly as
	// segments.ChangeRequest.AppendJSON writes it. It is shared, never modified: callers must not write to it.
	Request []byte
}

// History is a ring of the last HistorySize changes. It is not safe for concurrent use; Inventory guards
// its own.
//
// Hashes: Druid stamps each change with System.currentTimeMillis(), so changes recorded within one millisecond
// share a hash, and a wall clock stepped back by NTP can repeat an older hash. Record uses the wall-clock
// milliseconds too, but never less than the previous hash plus one: hashes strictly increase, so within a process
// each (counter, hash) pair names exactly one change whatever the clock does, and a hash is still "about the time
// of recording". Clients validate by equality only (they echo what they got), so either scheme is correct; ours
// costs that a burst (a 100,000-segment bootstrap) runs the hashes ahead of the clock by up to one millisecond
// per change, which nobody can observe except as a number.
type History struct {
	ring  [HistorySize]Change
	head  int // index of the oldest change
	n     int // changes held, at most HistorySize
	zero  Counter
	last  Counter
	clock func() int64 // wall-clock milliseconds
}

// NewHistory returns an empty history whose counter is {0, zeroHash}. Inventory passes the process start
// time, as Druid does; a different zeroHash per history simulates a restarted process.
func NewHistory(zeroHash int64) *History {
	h := &History{zero: Counter{Counter: 0, Hash: zeroHash}, clock: historyWallMillis}
	h.last = h.zero
	return h
}

func historyWallMillis() int64 { return time.Now().UnixMilli() }

// Last returns the counter of the newest change, or {0, zeroHash} when nothing was recorded yet.
func (h *History) Last() Counter { return h.last }

// Len returns the number of changes held (at most HistorySize).
func (h *History) Len() int { return h.n }

// Record appends a change, dropping the oldest one when the ring is full, and returns its counter: the previous
// counter plus one, with hash = max(wall-clock ms, previous hash + 1).
func (h *History) Record(action segments.Action, id segments.SegmentID, request []byte) Counter {
	return h.recordAt(h.clock(), action, id, request)
}

// recordAt is Record with the wall clock read as now: the changes of one bulk announcement share one reading.
func (h *History) recordAt(now int64, action segments.Action, id segments.SegmentID, request []byte) Counter {
	hash := now
	if hash <= h.last.Hash {
		hash = h.last.Hash + 1
	}
	c := Counter{Counter: h.last.Counter + 1, Hash: hash}
	i := h.head + h.n
	if h.n == HistorySize {
		h.head = (h.head + 1) % HistorySize
	} else {
		h.n++
	}
	h.ring[i%HistorySize] = Change{Counter: c, Action: action, ID: id, Request: request}
	h.last = c
	return c
}

// at returns the i-th held change, 0 being the oldest.
func (h *History) at(i int) *Change { return &h.ring[(h.head+i)%HistorySize] }

// Since returns the changes after c and the counter of the last one, decided as Druid's
// ChangeRequestHistory.getRequestsSinceWithoutWait decides:
//   - c equals Last() (counter and hash): no changes and Last(); the caller parks the request until Record;
//   - c.Counter equals Last().Counter with another hash, c is ahead of Last(), c is HistorySize or more changes
//     behind, or the change at c.Counter has another hash (counter 0 is checked against the empty history's
//     counter): a non-empty resetCause, worded as Druid words it;
//   - otherwise every change after c, oldest first, and Last().
//
// A negative counter asks for a full snapshot, which the history cannot give: it yields a reset cause too.
// The returned slice is new; the Request bytes in it are shared.
func (h *History) Since(c Counter) (changes []Change, last Counter, resetCause string) {
	last = h.last
	switch {
	case c.Counter < 0:
		return nil, last, fmt.Sprintf("counter[%s] must be >= 0", c)
	case c.Counter == last.Counter:
		if c != last {
			return nil, last, fmt.Sprintf("counter[%s] failed to match with [%s]", c, last)
		}
		return nil, last, ""
	case c.Counter > last.Counter:
		return nil, last, fmt.Sprintf("counter[%s] > last counter[%s]", c, last)
	case last.Counter-c.Counter >= HistorySize:
		return nil, last, fmt.Sprintf("can't serve request, not enough history is kept. given counter [%s] and current last counter [%s]", c, last)
	}
	// c.Counter is in [last-HistorySize+1, last-1], and the ring holds counters last-n+1 .. last.
	first := int(c.Counter - last.Counter + int64(h.n)) // index of the first change after c
	var match Counter
	switch {
	case first > 0:
		match = h.at(first - 1).Counter
	case c.Counter == 0 && first == 0:
		match = h.zero
	default:
		// Cannot happen while counters start at 0 and every change is kept until HistorySize are held.
		return nil, last, fmt.Sprintf("counter[%s] failed to match with [%s]", c, last)
	}
	if match != c {
		return nil, last, fmt.Sprintf("counter[%s] failed to match with [%s]", c, last)
	}
	changes = make([]Change, 0, h.n-first)
	for i := first; i < h.n; i++ {
		changes = append(changes, *h.at(i))
	}
	return changes, last, ""
}
