package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// BootstrapSegmentsPath is the Coordinator's list of bootstrap (broadcast) segments, which a data server asks for
// with a POST without a body at startup (CoordinatorClient.fetchBootstrapSegments, Druid 30+).
const BootstrapSegmentsPath = MetadataPath + "/bootstrapSegments"

// Druid's Coordinator client makes 6 attempts, waiting from 100 ms and doubling, on transport errors and on
// HTTP 500, 502, 503 and 504 (StandardRetryPolicy); BootstrapSegments does as much.
const (
	bootstrapAttempts  = 6
	bootstrapFirstWait = 100 * time.Millisecond
)

// BootstrapSegments returns the bootstrap segments the leader Coordinator determines (those of its broadcast
// rules), loadSpec included, as SegmentCacheBootstrapper fetches them: POST BootstrapSegmentsPath, answered with a
// JSON array of DataSegment. A Coordinator whose duties have not run yet answers 503, and is asked again, as Druid's
// client retries it. When no leader can be found at all the error comes at once: Druid's client would wait for one a
// few seconds, but the Coordinator assigns broadcast segments through the load queue anyway once it leads.
func (c *Client) BootstrapSegments(ctx context.Context) ([]*segments.DataSegment, error) {
	wait := bootstrapFirstWait
	var err error
	for attempt := 1; ; attempt++ {
		var segs []*segments.DataSegment
		var retry bool
		segs, retry, err = c.bootstrapSegmentsOnce(ctx)
		if err == nil || !retry || attempt == bootstrapAttempts {
			return segs, err
		}
		c.log.Debug("asking the Coordinator for bootstrap segments again", "attempt", attempt, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

// bootstrapSegmentsOnce makes one request (through request's leader changes) and says whether a failure is worth
// another attempt: an answer of the Coordinator's (a 5xx or no answer), not a missing leader or a refusal.
func (c *Client) bootstrapSegmentsOnce(ctx context.Context) (segs []*segments.DataSegment, retry bool, err error) {
	if _, err := c.leaderURL(ctx); err != nil {
		return nil, false, err // no leader to ask
	}
	resp, cancel, err := c.request(ctx, http.MethodPost, BootstrapSegmentsPath)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) {
			retry = se.status == 500 || se.status == 502 || se.status == 503 || se.status == 504
		} else {
			retry = ctx.Err() == nil // no answer
		}
		return nil, retry, err
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		// Druid before 30 has no such endpoint: there are then no bootstrap segments to ask for.
		return nil, false, fmt.Errorf("the Coordinator at %s has no %s (a Druid release before 30): %s",
			resp.Request.URL.Host, BootstrapSegmentsPath, readSnippet(resp))
	}
	dec := json.NewDecoder(resp.Body)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, false, fmt.Errorf("the Coordinator's %s answer is not a JSON array (%v)", BootstrapSegmentsPath, errOrToken(err, t))
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, isTransport(err), fmt.Errorf("reading the Coordinator's %s answer: %w", BootstrapSegmentsPath, err)
		}
		seg := new(segments.DataSegment)
		if err := seg.UnmarshalJSON(raw); err != nil {
			return nil, false, fmt.Errorf("the Coordinator's %s answer holds something that is not a DataSegment: %w",
				BootstrapSegmentsPath, err)
		}
		segs = append(segs, seg)
	}
	if _, err := dec.Token(); err != nil {
		return nil, isTransport(err), fmt.Errorf("reading the Coordinator's %s answer: %w", BootstrapSegmentsPath, err)
	}
	return segs, false, nil
}

// isTransport tells an I/O failure (no answer, a cut body) from a malformed answer.
func isTransport(err error) bool {
	var se *statusError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return !errors.As(err, &se) && !errors.As(err, &syn) && !errors.As(err, &typ)
}

func errOrToken(err error, t json.Token) any {
	if err != nil {
		return err
	}
	return t
}
