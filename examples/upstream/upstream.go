package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// Segment is what the server keeps of a segment the hook announced: the DataSegment members a segment server
// needs (druid-sidecar sends them exactly as Druid writes them; unknown members are ignored) and its directory.
type Segment struct {
	ID         string          `json:"identifier"`
	DataSource string          `json:"dataSource"`
	Interval   string          `json:"interval"` // ISO-8601 start/end, as Druid writes it
	Version    string          `json:"version"`
	Size       int64           `json:"size"`
	LoadSpec   map[string]any  `json:"loadSpec"`
	ShardSpec  json.RawMessage `json:"shardSpec"` // {"type":…,"partitionNum":N,…}
	Directory  string          `json:"-"`
}

// Server is a minimal segment server behind druid-sidecar: it implements the hook contract (docs/upstream.md) by
// keeping the set of loaded segments and their directories, and answers /status/health and a few JSON queries
// from that set. It reads no segment data; a real server maps the files it is given.
type Server struct {
	logf func(string, ...any)
	mux  *http.ServeMux

	mu   sync.Mutex
	segs map[string]*Segment // by id
}

// NewServer returns a Server with no segments; logf receives one line per load, drop and refused request.
func NewServer(logf func(string, ...any)) *Server {
	s := &Server{logf: logf, mux: http.NewServeMux(), segs: map[string]*Segment{}}
	s.mux.HandleFunc("POST /druid-sidecar/v1/segments/load", s.load)
	s.mux.HandleFunc("POST /druid-sidecar/v1/segments/drop", s.drop)
	s.mux.HandleFunc("GET /druid-sidecar/v1/segments", s.list)
	s.mux.HandleFunc("GET /status/health", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, true) })
	s.mux.HandleFunc("POST /druid/v2/{$}", s.query)
	s.mux.HandleFunc("DELETE /druid/v2/{queryId}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted) // queries here finish at once: there is nothing to cancel
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Segments returns the loaded segments' directories by segment id.
func (s *Server) Segments() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.segs))
	for id, seg := range s.segs {
		out[id] = seg.Directory
	}
	return out
}

// hookRequest is the body of both hooks; drops have no directory.
type hookRequest struct {
	Segment   *Segment `json:"segment"`
	Directory string   `json:"directory"`
}

func readHook(w http.ResponseWriter, r *http.Request) (*hookRequest, bool) {
	var req hookRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Segment == nil || req.Segment.ID == "" {
		httpError(w, 400, "Bad Request", fmt.Sprintf("the body is not {\"segment\":{…DataSegment…}}: %v", err))
		return nil, false
	}
	return &req, true
}

// load checks that the directory holds the segment's files, then serves it. Loading a loaded segment succeeds
// (the contract asks for idempotency: the agent re-sends loads after a restart and after a lost answer).
func (s *Server) load(w http.ResponseWriter, r *http.Request) {
	req, ok := readHook(w, r)
	if !ok {
		return
	}
	seg := req.Segment
	if err := checkDirectory(seg, req.Directory); err != nil {
		s.logf("refused segment %s: %v", seg.ID, err)
		httpError(w, http.StatusUnprocessableEntity, "Unprocessable Entity", err.Error())
		return
	}
	seg.Directory = req.Directory
	s.mu.Lock()
	s.segs[seg.ID] = seg
	s.mu.Unlock()
	s.logf("loaded segment %s from %s", seg.ID, seg.Directory)
	w.WriteHeader(http.StatusOK)
}

// drop forgets the segment; dropping an unknown segment succeeds too.
func (s *Server) drop(w http.ResponseWriter, r *http.Request) {
	req, ok := readHook(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.segs, req.Segment.ID)
	s.mu.Unlock()
	s.logf("dropped segment %s", req.Segment.ID)
	w.WriteHeader(http.StatusOK)
}

var smooshChunk = regexp.MustCompile(`^[0-9]{5}\.smoosh$`)

// checkDirectory looks for what Druid's index.zip holds: version.bin, meta.smoosh and at least one 00000.smoosh
// (a tombstone has only factory.json, which is not checked here).
func checkDirectory(seg *Segment, dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("the directory %q is not an absolute path", dir)
	}
	if seg.LoadSpec["type"] == "tombstone" || strings.Contains(string(seg.ShardSpec), `"tombstone"`) {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading the segment directory: %w", err)
	}
	have := map[string]bool{}
	chunks := 0
	for _, e := range entries {
		have[e.Name()] = true
		if smooshChunk.MatchString(e.Name()) {
			chunks++
		}
	}
	for _, name := range []string{"version.bin", "meta.smoosh"} {
		if !have[name] {
			return fmt.Errorf("%s lacks %s", dir, name)
		}
	}
	if chunks == 0 {
		return fmt.Errorf("%s has no 00000.smoosh", dir)
	}
	return nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for id, dir := range s.Segments() {
		out = append(out, map[string]any{"id": id, "directory": dir})
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	writeJSON(w, 200, out)
}

// query answers timeBoundary and segmentMetadata from the segments' metadata; others are not supported. A Broker
// sends its queries as Smile and reads the answer with the mapper of the request's format, so a Smile query is
// decoded with the project's Smile codec and answered (errors too) in Smile; a JSON query is answered in JSON.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	a := answerer{w: w, smile: strings.Contains(r.Header.Get("Content-Type"), "smile")}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && a.smile {
		body, err = jackson.SmileToJSON(body)
	}
	var q struct {
		QueryType  string          `json:"queryType"`
		DataSource json.RawMessage `json:"dataSource"` // "name" or {"type":"table","name":"…"}
		// A Broker names the segments it wants from this server: {"type":"segments","segments":[{itvl,ver,part}]}.
		Intervals struct {
			Type     string       `json:"type"`
			Segments []descriptor `json:"segments"`
		} `json:"intervals"`
	}
	if err == nil {
		err = json.Unmarshal(body, &q)
	}
	if err != nil {
		a.error(400, "Bad Request", "the body is not a JSON or Smile query: "+err.Error())
		return
	}
	var table struct{ Name string }
	if json.Unmarshal(q.DataSource, &table.Name) != nil {
		json.Unmarshal(q.DataSource, &table)
	}
	var segs []*Segment
	missing := []descriptor{}
	s.mu.Lock()
	if q.Intervals.Type == "segments" {
		// Only the segments asked for; those not here go back in missingSegments, so the Broker asks elsewhere.
		for _, d := range q.Intervals.Segments {
			if seg := s.find(table.Name, d); seg != nil {
				segs = append(segs, seg)
			} else {
				missing = append(missing, d)
			}
		}
	} else {
		for _, seg := range s.segs {
			if seg.DataSource == table.Name {
				segs = append(segs, seg)
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(segs, func(a, b *Segment) int { return strings.Compare(a.ID, b.ID) })
	respCtx, _ := json.Marshal(map[string]any{"missingSegments": missing})
	w.Header().Set("X-Druid-Response-Context", string(respCtx))
	switch q.QueryType {
	case "timeBoundary":
		a.write(200, timeBoundary(segs))
	case "segmentMetadata":
		rows := []map[string]any{}
		for _, seg := range segs {
			rows = append(rows, map[string]any{"id": seg.ID, "intervals": []string{seg.Interval}, "columns": map[string]any{},
				"size": seg.Size, "numRows": 0, "aggregators": nil, "timestampSpec": nil, "queryGranularity": nil, "rollup": nil})
		}
		a.write(200, rows)
	default:
		a.error(400, "Unsupported operation", fmt.Sprintf("queryType %q is not supported by this example; it answers timeBoundary and segmentMetadata", q.QueryType))
	}
}

// descriptor is Druid's SegmentDescriptor: a segment's interval, version and partition number.
type descriptor struct {
	Interval  string `json:"itvl"`
	Version   string `json:"ver"`
	Partition int    `json:"part"`
}

// find returns the loaded segment that d describes, or nil. s.mu is held.
func (s *Server) find(dataSource string, d descriptor) *Segment {
	for _, seg := range s.segs {
		var shard struct{ PartitionNum int }
		json.Unmarshal(seg.ShardSpec, &shard) // absent means 0, as in Druid
		if seg.DataSource == dataSource && seg.Interval == d.Interval && seg.Version == d.Version && shard.PartitionNum == d.Partition {
			return seg
		}
	}
	return nil
}

// timeBoundary is one row with the earliest start and the last millisecond of the latest end, or none.
func timeBoundary(segs []*Segment) []map[string]any {
	var lo, hi time.Time
	for _, seg := range segs {
		start, end, ok := strings.Cut(seg.Interval, "/")
		a, err1 := time.Parse(time.RFC3339Nano, start)
		b, err2 := time.Parse(time.RFC3339Nano, end)
		if !ok || err1 != nil || err2 != nil {
			continue // ETERNITY's years do not fit time.Time's format; a real server reads its data instead
		}
		if lo.IsZero() || a.Before(lo) {
			lo = a
		}
		if hi.IsZero() || b.After(hi) {
			hi = b
		}
	}
	if lo.IsZero() {
		return []map[string]any{}
	}
	const layout = "2006-01-02T15:04:05.000Z"
	return []map[string]any{{"timestamp": lo.UTC().Format(layout), "result": map[string]string{
		"minTime": lo.UTC().Format(layout), "maxTime": hi.Add(-time.Millisecond).UTC().Format(layout)}}}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// answerer writes a query's answer in the query's format: Smile when it came as Smile, else JSON.
type answerer struct {
	w     http.ResponseWriter
	smile bool
}

func (a answerer) write(code int, v any) {
	if !a.smile {
		writeJSON(a.w, code, v)
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		b, err = jackson.JSONToSmile(nil, b)
	}
	if err != nil { // values built here always encode; a failure is a bug, said plainly rather than in Smile
		http.Error(a.w, "encoding the answer as Smile: "+err.Error(), http.StatusInternalServerError)
		return
	}
	a.w.Header().Set("Content-Type", "application/x-jackson-smile")
	a.w.WriteHeader(code)
	a.w.Write(b)
}

func (a answerer) error(code int, errorCode, msg string) { a.write(code, druidError(errorCode, msg)) }

// httpError writes a Druid-style error, which the agent quotes in a failed load and a Broker reads from a query.
func httpError(w http.ResponseWriter, code int, errorCode, msg string) {
	writeJSON(w, code, druidError(errorCode, msg))
}

func druidError(errorCode, msg string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{"error": errorCode, "errorMessage": msg, "errorClass": "example.UpstreamError", "host": host}
}
