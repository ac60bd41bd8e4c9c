package loadqueue

import (
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

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The HTTP paths the handler serves.
const (
	ChangeRequestsPath   = "/druid-internal/v1/segments/changeRequests"
	LoadCapabilitiesPath = "/druid-internal/v1/segments/loadCapabilities"
	smileType            = "application/x-jackson-smile"
	maxBodyBytes         = 64 << 20
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
	status  Status
	waiters []chan struct{} // held batches to wake when the work ends
	elem    *list.Element   // position in the LRU; nil once evicted
}

// handler serves changeRequests and loadCapabilities, with Druid's per-request status cache (an LRU of
// StatusQueueMaxSize entries).
type handler struct {
	e   *Engine
	mux *http.ServeMux

	mu      sync.Mutex
	entries map[key]*entry
	lru     *list.List // front: most recently used
}

func newHandler(e *Engine) *handler {
	h := &handler{e: e, entries: map[key]*entry{}, lru: list.New(), mux: http.NewServeMux()}
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
func parseQuery(r *http.Request) (time.Duration, LoadingMode, error) {
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
	mode := Normal
	if v, ok := q["loadingMode"]; ok && len(v) > 0 && v[0] != "" {
		switch LoadingMode(v[0]) {
		case Normal, Turbo:
			mode = LoadingMode(v[0])
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
	// Coordinators send JSON (HttpLoadQueuePeon); Smile request bodies are not read (see the package notes).
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == smileType:
			httpError(w, http.StatusUnsupportedMediaType, "changeRequests reads JSON bodies only (Content-Type application/json), as Druid Coordinators send them; a Smile body is not supported")
			return
		case err != nil || (mt != "application/json" && mt != "text/plain"):
			httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("changeRequests reads a JSON body (Content-Type application/json), not %q", ct))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the change request list is larger than %d bytes", maxBodyBytes))
			return
		}
		httpError(w, http.StatusBadRequest, "reading the change request list: "+err.Error())
		return
	}
	reqs, err := segments.ParseChangeRequests(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	for i := range reqs {
		if err := checkRequest(reqs[i]); err != nil {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("change request %d of the list: %v; nothing in the list was started", i, err))
			return
		}
	}
	smile := r.Header.Get("Accept") == smileType

	// Collapse duplicates, keeping the first occurrence of each (action, segment).
	batch := make([]*segments.ChangeRequest, 0, len(reqs))
	keys := make([]key, 0, len(reqs))
	seen := make(map[key]bool, len(reqs))
	for i := range reqs {
		k := key{reqs[i].Action, reqs[i].Segment.ID()}
		if !seen[k] {
			seen[k] = true
			batch = append(batch, &reqs[i])
			keys = append(keys, k)
		}
	}

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

// start looks up each request in the status cache and starts the work of those with no entry or a FAILED one.
func (h *handler) start(batch []*segments.ChangeRequest, keys []key, mode LoadingMode) ([]*entry, error) {
	entries := make([]*entry, len(batch))
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, k := range keys {
		en := h.entries[k]
		if en != nil && en.status.State != Failed {
			h.lru.MoveToFront(en.elem)
			entries[i] = en
			continue
		}
		if en != nil {
			h.evictLocked(en)
		}
		en = &entry{key: k, status: Status{State: Pending}}
		if k.action == segments.ActionLoad {
			en.status.LoadingMode = mode
		}
		err := h.e.submit(*batch[i], mode, func(s Status) { h.finish(en, s) })
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
func (h *handler) finish(en *entry, s Status) {
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
		if en.key.action == segments.ActionDrop && en.status.State == Pending {
			return true
		}
	}
	return false
}

func (h *handler) anyDone(entries []*entry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, en := range entries {
		if en.status.State != Pending {
			return true
		}
	}
	return false
}

// respond writes the batch's statuses and evicts the completed entries from the status cache.
func (h *handler) respond(w http.ResponseWriter, smile bool, batch []*segments.ChangeRequest, entries []*entry) {
	statuses := make([]Status, len(entries))
	h.mu.Lock()
	for i, en := range entries {
		statuses[i] = en.status
		if en.status.State != Pending {
			h.evictLocked(en)
		}
	}
	h.mu.Unlock()
	out := make([]byte, 0, 512*len(batch))
	out = append(out, '[')
	for i, req := range batch {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"request":`...)
		var err error
		if out, err = req.AppendJSON(out); err != nil {
			// Cannot happen for a request that was parsed; answer rather than half-write.
			httpError(w, http.StatusInternalServerError, "writing the response: "+err.Error())
			return
		}
		out = appendStatus(append(out, `,"status":`...), statuses[i])
		out = append(out, '}')
	}
	out = append(out, ']')
	if smile {
		enc, err := announcer.JSONToSmile(nil, out)
		if err != nil {
			httpError(w, http.StatusInternalServerError, "writing the response as Smile: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", smileType)
		w.Write(enc)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// appendStatus writes a SegmentChangeStatus as Jackson does: state, failureCause, loadingMode.
func appendStatus(dst []byte, s Status) []byte {
	dst = append(dst, `{"state":"`...)
	dst = append(dst, s.State...)
	dst = append(dst, `","failureCause":`...)
	if s.State == Failed {
		dst = segments.AppendJSONString(dst, s.FailureCause)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"loadingMode":`...)
	if s.LoadingMode == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, s.LoadingMode...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}
