package druidpeer

// LoadPeon plays a Druid Coordinator's HttpLoadQueuePeon against a data server's
// POST /druid-internal/v1/segments/changeRequests (druid-protocol.md 4.2):
//   - requests are queued and sent in batches of at most BatchSize, JSON with Content-Type and Accept
//     application/json, ?timeout=<host timeout ms>&loadingMode=…;
//   - on 200 each entry of the response is matched to its queue entry by the action and the segment inside
//     "request"; SUCCESS and FAILED complete it, PENDING leaves it queued, so it is re-sent in a later batch;
//   - 204 means nothing finished: the batch is re-sent at once;
//   - any other status, a transport error or an unparseable body is recorded and the loop waits RepeatDelay.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// PeonStatus is a SegmentChangeStatus as the Coordinator reads it.
type PeonStatus struct {
	State        string  `json:"state"`
	FailureCause *string `json:"failureCause"`
	LoadingMode  *string `json:"loadingMode"`
}

// PeonKey identifies a queued request: its action and segment id.
type PeonKey struct {
	Action segments.Action
	ID     segments.SegmentID
}

// LoadPeon is a Coordinator's load queue for one server. Its methods are safe for concurrent use.
type LoadPeon struct {
	URL         string        // the server's base URL, http://host:port
	Client      *http.Client  // nil: a client with HostTimeout + 5 s
	BatchSize   int           // 0: 1
	HostTimeout time.Duration // the timeout parameter; 0: 5 min
	LoadingMode string        // "" sends no loadingMode
	RepeatDelay time.Duration // wait after an error; 0: 1 min

	mu      sync.Mutex
	queue   []segments.ChangeRequest
	results map[PeonKey]PeonStatus
	stats   PeonStats
}

// PeonStats count what the peon saw.
type PeonStats struct {
	Posts, OK, NoContent, Errors int
	LastError                    string
	LastBody                     []byte // the last 200 body
}

func (p *LoadPeon) init() {
	if p.results == nil {
		p.results = map[PeonKey]PeonStatus{}
	}
}

// Enqueue adds requests to the queue (a request already queued stays once).
func (p *LoadPeon) Enqueue(reqs ...segments.ChangeRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	for _, r := range reqs {
		k := PeonKey{r.Action, r.Segment.ID()}
		delete(p.results, k)
		dup := false
		for _, q := range p.queue {
			if q.Action == r.Action && q.Segment.ID() == k.ID {
				dup = true
			}
		}
		if !dup {
			p.queue = append(p.queue, r)
		}
	}
}

// Load and Drop enqueue a load or a drop of seg.
func (p *LoadPeon) Load(seg *segments.DataSegment) {
	p.Enqueue(segments.ChangeRequest{Action: segments.ActionLoad, Segment: seg})
}

// Drop enqueues a drop of seg.
func (p *LoadPeon) Drop(seg *segments.DataSegment) {
	p.Enqueue(segments.ChangeRequest{Action: segments.ActionDrop, Segment: seg})
}

// Result returns the final status of a completed request.
func (p *LoadPeon) Result(action segments.Action, id segments.SegmentID) (PeonStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.results[PeonKey{action, id}]
	return s, ok
}

// Stats returns the counters.
func (p *LoadPeon) Stats() PeonStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Queued is the number of requests not completed.
func (p *LoadPeon) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Drain sends batches until the queue is empty or ctx ends.
func (p *LoadPeon) Drain(ctx context.Context) error {
	for {
		p.mu.Lock()
		p.init()
		n := len(p.queue)
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		if _, err := p.Send(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			delay := p.RepeatDelay
			if delay == 0 {
				delay = time.Minute
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// Send sends one batch (the first BatchSize queued requests) and handles the answer; it returns the HTTP status.
func (p *LoadPeon) Send(ctx context.Context) (int, error) {
	p.mu.Lock()
	p.init()
	size := max(1, p.BatchSize)
	batch := append([]segments.ChangeRequest(nil), p.queue[:min(size, len(p.queue))]...)
	p.stats.Posts++
	p.mu.Unlock()
	if len(batch) == 0 {
		return 0, nil
	}
	body, err := segments.AppendChangeRequests(nil, batch)
	if err != nil {
		return 0, err
	}
	timeout := p.HostTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	u := p.URL + "/druid-internal/v1/segments/changeRequests?timeout=" + strconv.FormatInt(timeout.Milliseconds(), 10)
	if p.LoadingMode != "" {
		u += "&loadingMode=" + p.LoadingMode
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: timeout + HTTPTimeoutExtra}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, p.fail(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, p.fail(err)
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		p.mu.Lock()
		p.stats.NoContent++
		p.mu.Unlock()
		if len(data) != 0 {
			return resp.StatusCode, p.fail(fmt.Errorf("204 with a body of %d bytes", len(data)))
		}
		return resp.StatusCode, nil
	case http.StatusOK:
	default:
		return resp.StatusCode, p.fail(fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data)))
	}
	var items []struct {
		Request json.RawMessage `json:"request"`
		Status  *PeonStatus     `json:"status"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return resp.StatusCode, p.fail(fmt.Errorf("unparseable 200 body: %w", err))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.OK++
	p.stats.LastBody = data
	for _, it := range items {
		var r segments.ChangeRequest
		if err := r.UnmarshalJSON(it.Request); err != nil || r.Segment == nil || it.Status == nil {
			p.stats.Errors++
			p.stats.LastError = fmt.Sprintf("bad response entry %s", it.Request)
			continue
		}
		if it.Status.State == "PENDING" {
			continue
		}
		k := PeonKey{r.Action, r.Segment.ID()}
		for i, q := range p.queue {
			if q.Action == k.Action && q.Segment.ID() == k.ID {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				p.results[k] = *it.Status
				break
			}
		}
	}
	return resp.StatusCode, nil
}

func (p *LoadPeon) fail(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Errors++
	p.stats.LastError = err.Error()
	return err
}
