package druidpeer

// CoordinatorAPI plays the read side of a leader Coordinator's HTTP API that a companion uses
// (druid-protocol.md 13):
//   - GET /druid/coordinator/v1/loadqueue: {"<server>": {"segmentsToLoad": [id, ...], "segmentsToDrop": [...]}},
//     from queues the test sets; ?simple gives counts and sizes as Druid does;
//   - GET /druid/coordinator/v1/metadata/datasources/{ds}/segments/{id}: the used segment's DataSegment JSON, trying
//     every reading of the id with that dataSource as Druid's MetadataResource does, 404 when none matches;
//   - POST /druid/coordinator/v1/metadata/bootstrapSegments: the bootstrap (broadcast) segments SetBootstrapSegments
//     gave, a JSON array of DataSegment (empty before, as a Coordinator without broadcast rules answers);
//   - GET /druid/coordinator/v1/leader and /isLeader;
//   - GET /status: StatusResource's answer, its version the one SetVersion gave (null before).
// With a user set every request must carry that basic-auth user and password (401 otherwise, 403 for a wrong
// password), as with Druid's basic authenticator. A test can also turn it into a non-leader that redirects every
// call (307) to the leader, or make it fail with 503.

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// CoordinatorAPIOptions configure a CoordinatorAPI; the zero value serves without authentication.
type CoordinatorAPIOptions struct {
	// Username and Password, when Username is set, are the basic-auth credentials every request must carry.
	Username, Password string
}

// CoordinatorAPIRequest is one request the stand-in answered.
type CoordinatorAPIRequest struct {
	Path   string // the URL path, unescaped
	Query  string
	Status int
}

// CoordinatorAPI is a running Coordinator stand-in on 127.0.0.1. Its methods are safe for concurrent use.
type CoordinatorAPI struct {
	opts CoordinatorAPIOptions
	ln   net.Listener
	srv  *http.Server

	mu         sync.Mutex
	queues     map[string]*apiQueue
	segs       map[segments.SegmentID]*segments.DataSegment
	bootstrap  []*segments.DataSegment
	redirectTo string
	failStatus int
	version    string
	requests   []CoordinatorAPIRequest
}

type apiQueue struct{ load, drop []segments.SegmentID }

// NewCoordinatorAPI starts the stand-in on a free port of 127.0.0.1. Close stops it.
func NewCoordinatorAPI(opts CoordinatorAPIOptions) (*CoordinatorAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &CoordinatorAPI{opts: opts, ln: ln, queues: map[string]*apiQueue{},
		segs: map[segments.SegmentID]*segments.DataSegment{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /druid/coordinator/v1/loadqueue", c.loadQueue)
	mux.HandleFunc("GET /druid/coordinator/v1/metadata/datasources/{ds}/segments/{id}", c.segment)
	mux.HandleFunc("POST /druid/coordinator/v1/metadata/bootstrapSegments", c.bootstrapSegments)
	mux.HandleFunc("GET /druid/coordinator/v1/leader", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(c.URL()))
	})
	mux.HandleFunc("GET /druid/coordinator/v1/isLeader", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"leader":true}`))
	})
	mux.HandleFunc("GET /status", c.status)
	c.srv = &http.Server{Handler: c.wrap(mux)}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// URL is the stand-in's base URL, http://127.0.0.1:<port>.
func (c *CoordinatorAPI) URL() string { return "http://" + c.ln.Addr().String() }

// Close stops the server.
func (c *CoordinatorAPI) Close() error { return c.srv.Close() }

// AddSegments makes segments used segments of the metadata API.
func (c *CoordinatorAPI) AddSegments(segs ...*segments.DataSegment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range segs {
		c.segs[s.ID()] = s
	}
}

// Load appends loads of segs to server's queue (each segment once) and makes them used segments.
func (c *CoordinatorAPI) Load(server string, segs ...*segments.DataSegment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue(server)
	for _, s := range segs {
		c.segs[s.ID()] = s
		if !slices.Contains(q.load, s.ID()) {
			q.load = append(q.load, s.ID())
		}
	}
}

// Drop appends drops of ids to server's queue.
func (c *CoordinatorAPI) Drop(server string, ids ...segments.SegmentID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue(server)
	for _, id := range ids {
		if !slices.Contains(q.drop, id) {
			q.drop = append(q.drop, id)
		}
	}
}

// Remove takes ids out of server's queue, loads and drops, as the Coordinator does when a request completes, times
// out or is canceled.
func (c *CoordinatorAPI) Remove(server string, ids ...segments.SegmentID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue(server)
	del := func(list []segments.SegmentID) []segments.SegmentID {
		return slices.DeleteFunc(list, func(id segments.SegmentID) bool { return slices.Contains(ids, id) })
	}
	q.load, q.drop = del(q.load), del(q.drop)
}

// Queue returns server's queued loads and drops, in order.
func (c *CoordinatorAPI) Queue(server string) (load, drop []segments.SegmentID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queues[server]
	if q == nil {
		return nil, nil
	}
	return slices.Clone(q.load), slices.Clone(q.drop)
}

func (c *CoordinatorAPI) queue(server string) *apiQueue {
	q := c.queues[server]
	if q == nil {
		q = &apiQueue{}
		c.queues[server] = q
	}
	return q
}

// RedirectTo makes the stand-in a non-leader that answers every request with a 307 to the same path on leader
// (a base URL); "" makes it the leader again.
func (c *CoordinatorAPI) RedirectTo(leader string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redirectTo = strings.TrimRight(leader, "/")
}

// SetVersion sets the version /status reports, as a Coordinator of that Druid release does; "" reports null, as
// a Druid run without its jars' manifest does.
func (c *CoordinatorAPI) SetVersion(v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version = v
}

func (c *CoordinatorAPI) status(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	var version *string
	if c.version != "" {
		v := c.version
		version = &v
	}
	c.mu.Unlock()
	// StatusResource.Status: the version, the loaded extensions and the JVM's memory.
	writeAPIJSON(w, map[string]any{"version": version, "modules": []any{},
		"memory": map[string]int64{"maxMemory": 1 << 30, "totalMemory": 1 << 29, "freeMemory": 1 << 28, "usedMemory": 1 << 28, "directMemory": 1 << 30}})
}

// Fail makes every request answer status (503 for a Coordinator that is starting or has no leader); 0 stops it.
func (c *CoordinatorAPI) Fail(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failStatus = status
}

// Requests returns the requests answered so far, in order.
func (c *CoordinatorAPI) Requests() []CoordinatorAPIRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// Count is how many requests went to a path starting with prefix.
func (c *CoordinatorAPI) Count(prefix string) int {
	n := 0
	for _, r := range c.Requests() {
		if strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// wrap checks credentials, redirects or fails as the test asked, and records every request.
func (c *CoordinatorAPI) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			c.mu.Lock()
			c.requests = append(c.requests, CoordinatorAPIRequest{Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
			c.mu.Unlock()
		}()
		if c.opts.Username != "" {
			user, pass, ok := r.BasicAuth()
			switch {
			case !ok:
				rec.Header().Set("WWW-Authenticate", `Basic realm="druid"`)
				http.Error(rec, "Unauthorized", http.StatusUnauthorized)
				return
			case subtle.ConstantTimeCompare([]byte(user), []byte(c.opts.Username)) != 1 ||
				subtle.ConstantTimeCompare([]byte(pass), []byte(c.opts.Password)) != 1:
				http.Error(rec, "Forbidden", http.StatusForbidden)
				return
			}
		}
		c.mu.Lock()
		redirect, fail := c.redirectTo, c.failStatus
		c.mu.Unlock()
		if fail != 0 {
			http.Error(rec, "the Coordinator stand-in was told to fail", fail)
			return
		}
		if redirect != "" {
			target := redirect + r.URL.RequestURI()
			rec.Header().Set("Location", target)
			rec.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		h.ServeHTTP(rec, r)
	})
}

func writeAPIJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (c *CoordinatorAPI) loadQueue(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, simple := r.URL.Query()["simple"]; simple {
		out := map[string]map[string]int64{}
		for server, q := range c.queues {
			var loadBytes, dropBytes int64
			for _, id := range q.load {
				if s := c.segs[id]; s != nil {
					loadBytes += s.Size
				}
			}
			for _, id := range q.drop {
				if s := c.segs[id]; s != nil {
					dropBytes += s.Size
				}
			}
			out[server] = map[string]int64{"segmentsToLoad": int64(len(q.load)), "segmentsToDrop": int64(len(q.drop)),
				"segmentsToLoadSize": loadBytes, "segmentsToDropSize": dropBytes}
		}
		writeAPIJSON(w, out)
		return
	}
	type lists struct {
		SegmentsToLoad []string `json:"segmentsToLoad"`
		SegmentsToDrop []string `json:"segmentsToDrop"`
	}
	out := map[string]lists{}
	for server, q := range c.queues {
		l := lists{SegmentsToLoad: []string{}, SegmentsToDrop: []string{}}
		for _, id := range q.load {
			l.SegmentsToLoad = append(l.SegmentsToLoad, id.String())
		}
		for _, id := range q.drop {
			l.SegmentsToDrop = append(l.SegmentsToDrop, id.String())
		}
		out[server] = l
	}
	writeAPIJSON(w, out)
}

func (c *CoordinatorAPI) segment(w http.ResponseWriter, r *http.Request) {
	ds, id := r.PathValue("ds"), r.PathValue("id")
	c.mu.Lock()
	known := false
	for sid := range c.segs {
		if sid.DataSource == ds {
			known = true
			break
		}
	}
	var found *segments.DataSegment
	if known {
		for _, reading := range segments.ParseSegmentIDWithDataSource(ds, id) {
			if s := c.segs[reading]; s != nil {
				found = s
				break
			}
		}
	}
	c.mu.Unlock()
	if found == nil {
		// Druid answers an unknown dataSource or segment with an empty 404.
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, err := found.AppendJSON(nil)
	if err != nil {
		http.Error(w, errors.Join(errors.New("the stand-in could not write the segment"), err).Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
