package loadqueue

import (
	"bufio"
	"container/list"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The HTTP paths the handler serves.
const (
	ChangeRequestsPath   = "/druid-internal/v1/segments/changeRequests"
	LoadCapabilitiesPath = "/druid-internal/v1/segments/loadCapabilities"
	smileType            = "application/x-jackson-smile"
)

// key identifies a change request in the status cache: Druid's DataSegmentChangeRequest equality, the action and
// the segment id.
type key struct {
	action segments.Action
	id     segments.SegmentID
}

// entry is a status cache entry: the state of one request's work.
type entry struct {
	key     key
	status  segments.ChangeStatus
	waiters []chan struct{} // held batches to wake when the work ends
	elem    *list.Element   // position in the LRU; nil once evicted
}

// handler serves changeRequests and loadCapabilities, with Druid's per-request status cache (an LRU of
// StatusQueueMaxSize entries).
type handler struct {
	e          *Engine
	mux        *http.ServeMux
	maxRequest int64   // bytes of one body
	budget     *budget // of the bodies being read or held

	mu      sync.Mutex
	entries map[key]*entry
	lru     *list.List // front: most recently used
}

func newHandler(e *Engine, maxRequest, maxInflight int64) *handler {
	h := &handler{e: e, entries: map[key]*entry{}, lru: list.New(), mux: http.NewServeMux(),
		maxRequest: maxRequest, budget: &budget{limit: maxInflight}}
	h.mux.HandleFunc(ChangeRequestsPath, h.changeRequests)
	h.mux.HandleFunc(LoadCapabilitiesPath, h.loadCapabilities)
	return h
}

// Handler serves POST /druid-internal/v1/segments/changeRequests and GET
// /druid-internal/v1/segments/loadCapabilities (druid-protocol.md 4.2 and 4.3); mount it at the root of the data
// server's HTTP server, or at those two paths.
func (e *Engine) Handler() http.Handler { return e.http.mux }

func (h *handler) loadCapabilities(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "loadCapabilities takes GET")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"numLoadingThreads":%d,"numTurboLoadingThreads":%d}`, h.e.NumLoadingThreads(), h.e.NumTurboThreads())
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// parseQuery reads timeout (required, positive milliseconds) and loadingMode (optional, NORMAL by default).
func parseQuery(r *http.Request) (time.Duration, segments.LoadingMode, error) {
	q := r.URL.Query()
	raw := q.Get("timeout")
	if raw == "" {
		return 0, "", errors.New("the timeout query parameter is missing: give the longest time to hold the response, in milliseconds, e.g. ?timeout=300000")
	}
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("the timeout query parameter %q is not a whole number of milliseconds", raw)
	}
	if ms <= 0 {
		return 0, "", fmt.Errorf("the timeout query parameter must be positive, got %d", ms)
	}
	if ms > int64(24*time.Hour/time.Millisecond) {
		ms = int64(24 * time.Hour / time.Millisecond)
	}
	mode := segments.NormalLoading
	if v, ok := q["loadingMode"]; ok && len(v) > 0 && v[0] != "" {
		switch segments.LoadingMode(v[0]) {
		case segments.NormalLoading, segments.TurboLoading:
			mode = segments.LoadingMode(v[0])
		default:
			return 0, "", fmt.Errorf("the loadingMode query parameter %q is unknown; expected NORMAL or TURBO", v[0])
		}
	}
	return time.Duration(ms) * time.Millisecond, mode, nil
}

// changeRequests is SegmentListerResource.applyDataSegmentChangeRequests with SegmentLoadDropHandler.processBatch.
func (h *handler) changeRequests(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, "changeRequests takes POST")
		return
	}
	if h.e.isStopping() {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "druid-sidecar is shutting down and takes no new load or drop requests")
		return
	}
	timeout, mode, err := parseQuery(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Coordinators send JSON (HttpLoadQueuePeon); Java's resource consumes Smile too, and so does this one.
	smileBody := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == smileType:
			smileBody = true
		case err != nil || (mt != "application/json" && mt != "text/plain"):
			httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("changeRequests reads a JSON or Smile body "+
				"(Content-Type application/json or %s), not %q", smileType, ct))
			return
		}
	}
	share := &hold{b: h.budget} // held until the response is written
	defer share.release()
	batch, keys, status, err := h.readBatch(w, r, share, smileBody)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		if status != http.StatusBadRequest {
			w.Header().Set("Connection", "close") // the rest of the body is not read
		}
		httpError(w, status, err.Error())
		return
	}
	// The answer's format is the Accept header's, whatever the body's, as SegmentListerResource picks it.
	smile := r.Header.Get("Accept") == smileType

	// One deadline for the whole request: every wait below shares it, so the answer comes at the timeout whatever
	// is still pending (a drop behind a stuck hook included), as Java's does.
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	entries, err := h.start(batch, keys, mode)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	// Hold until the drops are done (a drop is answered in the call that asked for it) and something is done.
	wake := make(chan struct{}, 1)
	h.register(entries, wake)
	defer h.unregister(entries, wake)
hold:
	for h.pendingDrops(entries) || !h.anyDone(entries) {
		select {
		case <-wake:
		case <-deadline.C:
			break hold
		case <-r.Context().Done():
			return
		case <-h.e.stopCh:
			break hold
		}
	}
	if !h.anyDone(entries) && !h.e.isStopping() {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.respond(w, smile, batch, entries)
}

// readBatch decodes the body as it arrives, within the request's maximum and the handler's budget, and returns
// the batch with its duplicates collapsed (the first occurrence of each action and segment kept), or an error with
// the status to answer: 413 for a body over the maximum, 503 when the budget is taken, 400 for anything else.
// What is read and decoded is taken from the budget as share. A Smile body (smileBody) is read whole and decoded
// as its JSON.
func (h *handler) readBatch(w http.ResponseWriter, r *http.Request, share *hold, smileBody bool) ([]*segments.ChangeRequest, []key, int, error) {
	tooLarge := fmt.Errorf("the change request list is larger than %d bytes (druid.sidecar.http.changeRequests.maxRequestBytes)", h.maxRequest)
	if r.ContentLength > h.maxRequest {
		return nil, nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	busy := fmt.Errorf("the change request lists being read take the whole memory budget of %d bytes "+
		"(druid.sidecar.http.changeRequests.maxInflightBytes); nothing in this list was started, send it again later", h.budget.limit)
	body := &budgetReader{r: http.MaxBytesReader(w, r.Body, h.maxRequest), h: share, limit: h.maxRequest + 1}
	if r.ContentLength > 0 {
		// Its length is known: all of it or nothing, before reading a byte.
		if share.grow(r.ContentLength) != nil {
			return nil, nil, http.StatusServiceUnavailable, busy
		}
		body.covered = r.ContentLength
	}
	var batch []*segments.ChangeRequest
	var keys []key
	seen := map[key]bool{}
	var list io.Reader = body
	if smileBody {
		list = smileList(body, share)
	}
	err := newListDecoder(list).decode(func(i int, req segments.ChangeRequest) error {
		if err := checkRequest(req); err != nil {
			return fmt.Errorf("change request %d of the list: %v; nothing in the list was started", i, err)
		}
		k := key{req.Action, req.Segment.ID()}
		if seen[k] {
			return nil
		}
		if err := share.grow(requestCost(&req)); err != nil {
			return err
		}
		seen[k] = true
		batch = append(batch, &req)
		keys = append(keys, k)
		return nil
	})
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return batch, keys, 0, nil
	case errors.As(body.err, &tooBig):
		return nil, nil, http.StatusRequestEntityTooLarge, tooLarge
	case errors.Is(err, errBudget):
		return nil, nil, http.StatusServiceUnavailable, busy
	case body.err != nil:
		return nil, nil, http.StatusBadRequest, fmt.Errorf("reading the change request list: %w", body.err)
	}
	return nil, nil, http.StatusBadRequest, err
}

// start looks up each request in the status cache and starts the work of those with no entry or a FAILED one.
func (h *handler) start(batch []*segments.ChangeRequest, keys []key, mode segments.LoadingMode) ([]*entry, error) {
	entries := make([]*entry, len(batch))
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, k := range keys {
		en := h.entries[k]
		if en != nil && en.status.State != segments.ChangeFailed {
			h.lru.MoveToFront(en.elem)
			entries[i] = en
			continue
		}
		if en != nil {
			h.evictLocked(en)
		}
		en = &entry{key: k, status: segments.ChangeStatus{State: segments.ChangePending}}
		if k.action == segments.ActionLoad {
			en.status.LoadingMode = mode
		}
		err := h.e.submit(*batch[i], mode, func(s segments.ChangeStatus) { h.finish(en, s) })
		if err != nil {
			return nil, err
		}
		en.elem = h.lru.PushFront(en)
		h.entries[k] = en
		for h.lru.Len() > h.e.statusMax {
			h.evictLocked(h.lru.Back().Value.(*entry))
		}
		entries[i] = en
	}
	return entries, nil
}

func (h *handler) evictLocked(en *entry) {
	if en.elem != nil {
		h.lru.Remove(en.elem)
		en.elem = nil
		if h.entries[en.key] == en {
			delete(h.entries, en.key)
		}
	}
}

// finish records the outcome of an entry's work and wakes the batches holding it.
func (h *handler) finish(en *entry, s segments.ChangeStatus) {
	h.mu.Lock()
	en.status = s
	waiters := slices.Clone(en.waiters)
	h.mu.Unlock()
	for _, w := range waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

func (h *handler) register(entries []*entry, wake chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, en := range entries {
		en.waiters = append(en.waiters, wake)
	}
}

func (h *handler) unregister(entries []*entry, wake chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, en := range entries {
		for i, w := range en.waiters {
			if w == wake {
				en.waiters = append(en.waiters[:i], en.waiters[i+1:]...)
				break
			}
		}
	}
}

func (h *handler) pendingDrops(entries []*entry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, en := range entries {
		if en.key.action == segments.ActionDrop && en.status.State == segments.ChangePending {
			return true
		}
	}
	return false
}

func (h *handler) anyDone(entries []*entry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, en := range entries {
		if en.status.State != segments.ChangePending {
			return true
		}
	}
	return false
}

// respond writes the batch's statuses and evicts the completed entries from the status cache.
func (h *handler) respond(w http.ResponseWriter, smile bool, batch []*segments.ChangeRequest, entries []*entry) {
	statuses := make([]segments.ChangeStatus, len(entries))
	h.mu.Lock()
	for i, en := range entries {
		statuses[i] = en.status
		if en.status.State != segments.ChangePending {
			h.evictLocked(en)
		}
	}
	h.mu.Unlock()
	// Each result is written as it is made, so that the response of a large batch is never held whole, except in
	// Smile, whose encoder takes a whole document (Coordinators ask for JSON).
	var out []byte
	var bw *bufio.Writer
	if smile {
		out = make([]byte, 0, 512*len(batch))
	} else {
		w.Header().Set("Content-Type", "application/json")
		bw = bufio.NewWriterSize(w, 32<<10)
	}
	out = append(out, '[')
	for i, req := range batch {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"request":`...)
		var err error
		if out, err = req.AppendJSON(out); err != nil {
			// Cannot happen for a request that was parsed; end the response rather than half-write it.
			h.e.log.Error("writing a changeRequests response", "error", err)
			panic(http.ErrAbortHandler)
		}
		out = segments.AppendChangeStatus(append(out, `,"status":`...), statuses[i])
		out = append(out, '}')
		if bw != nil {
			bw.Write(out)
			out = out[:0]
		}
	}
	out = append(out, ']')
	if bw != nil {
		bw.Write(out)
		bw.Flush()
		return
	}
	enc, err := jackson.JSONToSmile(nil, out)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "writing the response as Smile: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", smileType)
	w.Write(enc)
}

func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}
