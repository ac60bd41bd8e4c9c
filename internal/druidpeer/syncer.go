// Package druidpeer is test support: it plays a Druid Broker or Coordinator against a segment server's inventory
// (GET /druid-internal/v1/segments), as Druid's ChangeRequestHttpSyncer and HttpServerInventoryView do, so that
// tests and the sandbox can check what a real cluster would see. It is not part of the sidecar.
//
// Client behaviour reproduced (druid-protocol.md 4.1; Druid: ChangeRequestHttpSyncer):
//   - the first request, and the first after a reset, sends counter=-1&timeout=…; later ones echo the counter and
//     hash of the last 200 response;
//   - headers Accept and Content-Type are application/x-jackson-smile, and the body must be Smile with its
//     header (a JSON body is a failure, as Druid's Smile mapper rejects it);
//   - the HTTP read timeout is the server timeout plus 5 s;
//   - a 200 without reset after counter=-1 is a full sync that replaces the replica; later 200s are deltas
//     ("load" adds, "drop" removes); a reset forgets the counter and polls again at once with counter=-1;
//   - 204 counts as success without change and polls again at once;
//   - any other status, transport or parse error counts a consecutive failure, and the next poll waits
//     min(2 min, RetryUtils.nextRetrySleepMillis(failures)) (1 s × 2^(n-1) capped at 60 s, with ±20 % Gaussian fuzz);
//     a later 200 clears the count (a 204 does not, as in Druid).
package druidpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Defaults, as a Broker or Coordinator has them.
const (
	SmileType            = "application/x-jackson-smile"
	DefaultPath          = "/druid-internal/v1/segments"
	DefaultServerTimeout = 240 * time.Second // HttpServerInventoryViewConfig.serverTimeout PT4M
	HTTPTimeoutExtra     = 5 * time.Second   // ChangeRequestHttpSyncer.HTTP_TIMEOUT_EXTRA_MS
	DefaultMaxBackoff    = 2 * time.Minute   // ChangeRequestHttpSyncer.MAX_RETRY_BACKOFF
	DefaultBaseBackoff   = time.Second       // RetryUtils.BASE_SLEEP_MILLIS
	retryMaxSleep        = 60 * time.Second  // RetryUtils.MAX_SLEEP_MILLIS
)

// Kind classifies one poll.
type Kind int

// The outcomes of a poll.
const (
	Failure   Kind = iota // transport error, unexpected status or unreadable body
	FullSync              // 200 answering counter=-1: the replica was replaced
	Delta                 // 200 answering a counter: the changes were applied
	Reset                 // 200 with resetCounter: the counter was forgotten
	NoContent             // 204: nothing changed before the server's timeout
)

func (k Kind) String() string {
	return [...]string{"failure", "full sync", "delta", "reset", "no content"}[k]
}

// Response is what one poll received and how it was read.
type Response struct {
	Kind        Kind
	Status      int    // HTTP status, 0 on a transport error
	ContentType string // the response's Content-Type
	Body        []byte // the raw body
	JSON        []byte // the body as JSON: the body itself, or its Smile decoded by SmileToJSON
	RequestURL  string
	Counter     *inventory.Counter       // the counter of a 200 without reset
	ResetCause  string                   // the cause of a reset
	Requests    []segments.ChangeRequest // the requests of a full sync or delta
	Err         error                    // why a Failure failed
}

// Config sets up a Syncer; zero values take the defaults above.
type Config struct {
	// URL is the server's base URL, such as http://127.0.0.1:8083.
	URL string
	// Path defaults to DefaultPath.
	Path string
	// ServerTimeout is the timeout parameter sent (in ms); the HTTP read timeout is ServerTimeout+HTTPTimeoutExtra.
	ServerTimeout time.Duration
	// JSON asks for JSON (Accept: application/json) instead of Smile, as no Druid process does; for tests.
	JSON bool
	// Client defaults to a client of its own.
	Client *http.Client
	// BaseBackoff and MaxBackoff shape the retry delays (tests shorten them).
	BaseBackoff, MaxBackoff time.Duration
}

// Stats counts poll outcomes.
type Stats struct {
	Polls, FullSyncs, Deltas, Resets, NoContents, Failures int
	ConsecutiveFailures                                    int
}

// Syncer keeps a replica of one server's announced segments. Poll and Run must not be called concurrently; the
// accessors are safe at any time.
type Syncer struct {
	cfg Config

	mu      sync.Mutex
	counter *inventory.Counter
	segs    map[segments.SegmentID]*segments.DataSegment
	stats   Stats
	last    *Response
	changed chan struct{} // closed and replaced after every poll
}

// New returns a Syncer that has not polled yet.
func New(cfg Config) *Syncer {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.ServerTimeout <= 0 {
		cfg.ServerTimeout = DefaultServerTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = DefaultBaseBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	return &Syncer{cfg: cfg, segs: map[segments.SegmentID]*segments.DataSegment{}, changed: make(chan struct{})}
}

// RequestURL returns the URL of the next poll.
func (s *Syncer) RequestURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestURLLocked()
}

func (s *Syncer) requestURLLocked() string {
	timeout := strconv.FormatInt(s.cfg.ServerTimeout.Milliseconds(), 10)
	if s.counter == nil {
		return s.cfg.URL + s.cfg.Path + "?counter=-1&timeout=" + timeout
	}
	return s.cfg.URL + s.cfg.Path + "?counter=" + strconv.FormatInt(s.counter.Counter, 10) +
		"&hash=" + strconv.FormatInt(s.counter.Hash, 10) + "&timeout=" + timeout
}

// Poll makes one request and applies its answer to the replica. The error is non-nil exactly for a Failure.
func (s *Syncer) Poll(ctx context.Context) (*Response, error) {
	s.mu.Lock()
	u := s.requestURLLocked()
	full := s.counter == nil
	s.mu.Unlock()
	resp := s.fetch(ctx, u, full)
	if resp.Kind == Failure && ctx.Err() != nil {
		return resp, resp.Err // the caller gave up: no failure of the server
	}
	s.mu.Lock()
	s.stats.Polls++
	switch resp.Kind {
	case Failure:
		s.stats.Failures++
		s.stats.ConsecutiveFailures++
	case NoContent:
		s.stats.NoContents++
	case Reset:
		s.stats.Resets++
		s.counter = nil
	case FullSync, Delta:
		if resp.Kind == FullSync {
			s.stats.FullSyncs++
			s.segs = make(map[segments.SegmentID]*segments.DataSegment, len(resp.Requests))
		} else {
			s.stats.Deltas++
		}
		for i := range resp.Requests {
			r := &resp.Requests[i]
			switch r.Action {
			case segments.ActionLoad:
				s.segs[r.Segment.ID()] = r.Segment
			case segments.ActionDrop:
				delete(s.segs, r.Segment.ID())
			}
		}
		c := *resp.Counter
		s.counter = &c
		s.stats.ConsecutiveFailures = 0
	}
	s.last = resp
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return resp, resp.Err
}

// fetch performs the request and classifies the answer; it does not touch the replica.
func (s *Syncer) fetch(ctx context.Context, u string, full bool) *Response {
	resp := &Response{Kind: Failure, RequestURL: u}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ServerTimeout+HTTPTimeoutExtra)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		resp.Err = err
		return resp
	}
	accept := SmileType
	if s.cfg.JSON {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Content-Type", accept)
	hr, err := s.cfg.Client.Do(req)
	if err != nil {
		resp.Err = fmt.Errorf("sync request %s: %w", u, err)
		return resp
	}
	defer hr.Body.Close()
	resp.Status = hr.StatusCode
	resp.ContentType = hr.Header.Get("Content-Type")
	resp.Body, err = io.ReadAll(hr.Body)
	if err != nil {
		resp.Err = fmt.Errorf("reading the sync response of %s: %w", u, err)
		return resp
	}
	switch hr.StatusCode {
	case http.StatusNoContent:
		resp.Kind = NoContent
		return resp
	case http.StatusOK:
	default:
		resp.Err = fmt.Errorf("received sync response [%d] from %s: %s", hr.StatusCode, u, bytes.TrimSpace(resp.Body))
		return resp
	}
	if accept == SmileType {
		if resp.JSON, err = jackson.SmileToJSON(resp.Body); err != nil {
			resp.Err = fmt.Errorf("reading the Smile sync response of %s: %w", u, err)
			return resp
		}
	} else {
		resp.JSON = resp.Body
	}
	resp.Requests = []segments.ChangeRequest{}
	reply, err := inventory.Decode(bytes.NewReader(resp.JSON), func(cr *segments.ChangeRequest, _ []byte) error {
		resp.Requests = append(resp.Requests, *cr)
		return nil
	})
	if err != nil {
		resp.Requests = nil
		resp.Err = fmt.Errorf("reading the sync response of %s as a ChangeRequestsSnapshot: %w", u, err)
		return resp
	}
	if reply.ResetCounter {
		resp.Requests = nil
		if reply.ResetCause == nil {
			resp.Err = errors.New("NULL resetCause when resetCounter is true")
			return resp
		}
		resp.Kind, resp.ResetCause = Reset, *reply.ResetCause
		return resp
	}
	if reply.Counter == nil {
		resp.Requests = nil
		resp.Err = fmt.Errorf("sync response of %s has no counter", u)
		return resp
	}
	if reply.Requests < 0 {
		resp.Requests = nil
		resp.Err = fmt.Errorf("sync response of %s has no requests list", u)
		return resp
	}
	resp.Counter = reply.Counter
	if full {
		resp.Kind = FullSync
	} else {
		resp.Kind = Delta
	}
	return resp
}

// Run polls until ctx ends, as the syncer's executor does: at once after a 200, 204 or reset, after a backoff
// while failures are consecutive. It returns ctx's error.
func (s *Syncer) Run(ctx context.Context) error {
	for {
		_, _ = s.Poll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n := s.Stats().ConsecutiveFailures; n > 0 {
			t := time.NewTimer(s.Backoff(n))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// Backoff returns the delay before the poll that follows n consecutive failures: RetryUtils.nextRetrySleepMillis
// (base × 2^(n-1), at most 60 s, times a fuzz factor 1+0.2·N(0,1) clamped to [0, 2]) capped at MaxBackoff.
func (s *Syncer) Backoff(n int) time.Duration {
	base := float64(s.cfg.BaseBackoff) * math.Pow(2, float64(n-1))
	fuzz := math.Min(math.Max(1+0.2*rand.NormFloat64(), 0), 2)
	d := time.Duration(math.Min(float64(retryMaxSleep), base) * fuzz)
	return min(d, s.cfg.MaxBackoff)
}

// Counter returns the counter the next poll echoes, and false before the first sync or after a reset.
func (s *Syncer) Counter() (inventory.Counter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter == nil {
		return inventory.Counter{}, false
	}
	return *s.counter, true
}

// Segments returns a copy of the replica.
func (s *Syncer) Segments() map[segments.SegmentID]*segments.DataSegment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[segments.SegmentID]*segments.DataSegment, len(s.segs))
	for k, v := range s.segs {
		out[k] = v
	}
	return out
}

// Stats returns the poll counts so far.
func (s *Syncer) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Last returns the last poll's response, or nil.
func (s *Syncer) Last() *Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// WaitFor blocks until cond, evaluated on the replica after each poll (and once at the start), holds, or ctx
// ends. cond must not keep the map.
func (s *Syncer) WaitFor(ctx context.Context, cond func(segs map[segments.SegmentID]*segments.DataSegment, counter *inventory.Counter) bool) error {
	for {
		s.mu.Lock()
		ok := cond(s.segs, s.counter)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("druid peer: waiting for the replica: %w", ctx.Err())
		}
	}
}

// Query builds the query of an inventory request by hand, for tests that send odd ones.
func Query(counter, hash, timeout string) string {
	v := url.Values{}
	if counter != "" {
		v.Set("counter", counter)
	}
	if hash != "" {
		v.Set("hash", hash)
	}
	if timeout != "" {
		v.Set("timeout", timeout)
	}
	return v.Encode()
}
