// Package coordinator is the client of a Druid Coordinator's load queue and metadata API, as a Druid process
// calls them: the companion reads what the Coordinator queues for its Java Historical and the segments it names.
package coordinator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The Coordinator API paths a Client reads (druid-protocol.md 13).
const (
	// LoadQueuePath lists every server's queued loads and drops by segment id.
	LoadQueuePath = "/druid/coordinator/v1/loadqueue"
	// MetadataPath is the prefix of the metadata API; a segment is at
	// <prefix>/datasources/{dataSource}/segments/{segmentId}.
	MetadataPath = "/druid/coordinator/v1/metadata"
)

// ErrSegmentNotFound is what Client.Segment and SegmentByID return (wrapped) when the Coordinator knows
// no used segment by that id: it was dropped from the metadata store, or the id names another dataSource.
var ErrSegmentNotFound = errors.New("the Coordinator knows no such segment")

// ErrRefused is what a request the Coordinator refused for its credentials (HTTP 401 or 403) matches
// with errors.Is.
var ErrRefused = errors.New("the Coordinator refused the request's credentials")

// DefaultTimeout bounds one request to the Coordinator when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// maxSegmentBody bounds the body of one DataSegment: a segment with thousands of dimensions is tens of kilobytes,
// so anything near this bound is not a DataSegment.
const maxSegmentBody = 16 << 20

// Options are a Client's collaborators; every field is optional.
type Options struct {
	// Logger; nil discards.
	Logger hclog.Logger
	// HTTPClient carries the requests; nil means a client of its own. Its redirect policy is replaced: the client
	// follows a non-leader Coordinator's redirect itself so that the credentials go along.
	HTTPClient *http.Client
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
	// Leader finds the leader's base URL (scheme://host:port). nil means the configuration's way:
	// druid.sidecar.coordinator.url when set, else the leader through discovery: the latch in ZooKeeper, or the leader
	// ConfigMap with druid.discovery.type=k8s.
	Leader func(ctx context.Context) (string, error)
}

// Client reads the leader Coordinator's load queue and metadata API, as a Druid process does: with the
// escalator's basic-auth credentials when druid.escalator.type is basic, and finding the leader again after any
// failure (a Coordinator that lost the leadership answers with a redirect or an error, and the latch moves on).
// It only reads. Its methods are safe for concurrent use.
type Client struct {
	log     hclog.Logger
	client  *http.Client
	timeout time.Duration
	auth    string // the Authorization header, "" for none
	find    func(ctx context.Context) (string, error)
	fixed   bool // the leader comes from druid.sidecar.coordinator.url: no other to find
	cfg     *configs.Config

	mu     sync.Mutex
	leader string              // the last leader found; "" until found or after a failure
	disc   discovery.Discovery // opened on first use
	closed bool
}

// New checks that cfg says how to reach the Coordinator and returns the client; nothing is
// contacted yet. Its errors are configuration errors.
func New(cfg *configs.Config, opts Options) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("coordinator client: no configuration")
	}
	c := &Client{log: opts.Logger, timeout: opts.Timeout, cfg: cfg}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch cfg.Escalator.Type {
	case "", "noop":
	case "basic":
		cred := cfg.Escalator.InternalClientUsername + ":" + cfg.Escalator.InternalClientPassword.Reveal()
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	default:
		return nil, fmt.Errorf("druid.escalator.type=%s: the Coordinator can only be called without credentials (noop) "+
			"or with basic auth (basic)", cfg.Escalator.Type)
	}
	// A private copy of the client, so that the redirect policy below is not imposed on the caller's.
	client := &http.Client{}
	if opts.HTTPClient != nil {
		*client = *opts.HTTPClient
	} else if tc, err := tlsconf.Client(cfg.TLS.Client); err != nil {
		return nil, err
	} else {
		// An https:// Coordinator is checked against druid.client.https.*, as Druid's own clients are.
		client.Transport = tlsconf.Transport(http.DefaultTransport.(*http.Transport), tc)
	}
	// A non-leader Coordinator redirects leader-only calls to the leader; Go would drop the Authorization header on
	// the way to another host, so the redirect is taken here as the news of a new leader and followed with it.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = client
	switch {
	case opts.Leader != nil:
		c.find = opts.Leader
	case cfg.Sidecar.CoordinatorURL != "":
		u := strings.TrimRight(cfg.Sidecar.CoordinatorURL, "/")
		c.fixed = true
		c.find = func(context.Context) (string, error) { return u, nil }
	case cfg.Discovery.Type == configs.DiscoveryK8s || cfg.ZK.Enabled:
		c.find = c.discoveryLeader
	default:
		return nil, errors.New("druid.sidecar.coordinator.url is not set and druid.zk.service.enabled is false: there is " +
			"no way to find the Coordinator; set druid.sidecar.coordinator.url, or druid.discovery.type=k8s on Kubernetes")
	}
	return c, nil
}

// Close releases the discovery (ZooKeeper session or Kubernetes client) used to find the leader, if one was opened.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.disc != nil {
		c.disc.Close()
		c.disc = nil
	}
	return nil
}

// Leader is the leader's base URL as last found, "" when it is not known (before the first call, or after a
// failure).
func (c *Client) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// discoveryLeader reads the Coordinator leader through discovery (the leader latch in ZooKeeper, or the leader
// ConfigMap with druid.discovery.type=k8s), opening it on first use.
func (c *Client) discoveryLeader(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return "", errors.New("the Coordinator client is closed")
	}
	r := c.disc
	c.mu.Unlock()
	k8s := c.cfg.Discovery.Type == configs.DiscoveryK8s
	where := "ZooKeeper " + c.cfg.ZK.Service.Host
	if k8s {
		where = "the Kubernetes ConfigMap " + c.cfg.Discovery.K8s.ClusterIdentifier + "-leaderelection-coordinator"
	}
	if r == nil {
		cctx, cancel := context.WithTimeout(ctx, c.cfg.ZK.Service.ConnectionTimeout)
		nr, err := discovery.Open(cctx, c.cfg, c.log)
		cancel()
		if err != nil {
			return "", fmt.Errorf("connecting to %s to find the Coordinator leader: %w", where, err)
		}
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			nr.Close()
			return "", errors.New("the Coordinator client is closed")
		case c.disc != nil: // another call connected meanwhile
			nr.Close()
		default:
			c.disc = nr
		}
		r = c.disc
		c.mu.Unlock()
	}
	l, err := r.CoordinatorLeader(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the Coordinator leader from %s: %w", where, err)
	}
	if l == nil || l.URL == "" {
		if k8s {
			return "", fmt.Errorf("no Coordinator holds the leadership in %s: is a Coordinator running?", where)
		}
		return "", fmt.Errorf("no Coordinator holds the leader latch %s/_COORDINATOR in %s: is a Coordinator running?",
			c.cfg.ZK.Paths.Coordinator, where)
	}
	return strings.TrimRight(l.URL, "/"), nil
}

// leaderURL returns the known leader or finds it.
func (c *Client) leaderURL(ctx context.Context) (string, error) {
	c.mu.Lock()
	l := c.leader
	c.mu.Unlock()
	if l != "" {
		return l, nil
	}
	l, err := c.find(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.leader = l
	c.mu.Unlock()
	return l, nil
}

// forget drops the leader that just failed, so that the next call finds it again.
func (c *Client) forget(failed string) {
	c.mu.Lock()
	if c.leader == failed {
		c.leader = ""
	}
	c.mu.Unlock()
}

// setLeader records a leader learnt from a redirect.
func (c *Client) setLeader(l string) {
	c.mu.Lock()
	c.leader = l
	c.mu.Unlock()
}

// statusError is an unexpected answer from the Coordinator.
type statusError struct {
	method string // "" is GET
	url    string
	status int
	body   string
}

func (e *statusError) Is(target error) bool {
	return target == ErrRefused && (e.status == http.StatusUnauthorized || e.status == http.StatusForbidden)
}

func (e *statusError) Error() string {
	method := e.method
	if method == "" {
		method = http.MethodGet
	}
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("the Coordinator refused %s %s (HTTP %d %s): the request needs read access to the cluster "+
			"state and the dataSource; check druid.escalator.type=basic, druid.escalator.internalClientUsername and "+
			"internalClientPassword", method, e.url, e.status, e.body)
	}
	return fmt.Sprintf("the Coordinator answered %s %s with HTTP %d: %s", method, e.url, e.status, e.body)
}

// get sends GET path to the leader; see request.
func (c *Client) get(ctx context.Context, path string) (*http.Response, context.CancelFunc, error) {
	return c.request(ctx, http.MethodGet, path)
}

// request sends method path (without a body) to the leader and returns the response of status 200 or 404 for the
// caller to read; any other answer is an error. A failure (no answer, a redirect, a 5xx) makes the client find the
// leader again, and the request is sent once more when that gives another leader.
func (c *Client) request(ctx context.Context, method, path string) (*http.Response, context.CancelFunc, error) {
	var lastErr error
	tried := map[string]bool{}
	for attempt := 0; attempt < 3; attempt++ {
		base, err := c.leaderURL(ctx)
		if err != nil {
			if lastErr != nil {
				return nil, nil, errors.Join(lastErr, err)
			}
			return nil, nil, err
		}
		if tried[base] {
			break // the leader found again is the one that just failed
		}
		tried[base] = true
		resp, cancel, err := c.send(ctx, method, base+path)
		if err != nil {
			lastErr = err
			c.forget(base)
			if ctx.Err() != nil {
				return nil, nil, err
			}
			continue
		}
		switch {
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound:
			return resp, cancel, nil
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, lerr := resp.Location()
			drainCoordinator(resp, cancel)
			if lerr != nil {
				lastErr = fmt.Errorf("the Coordinator at %s redirected %s %s without a usable Location: %w", base, method, path, lerr)
				c.forget(base)
				continue
			}
			// The redirect names the leader; the next attempt goes there with the credentials.
			leader := loc.Scheme + "://" + loc.Host
			c.log.Debug("the Coordinator redirected to the leader", "from", base, "to", leader)
			lastErr = fmt.Errorf("the Coordinator at %s is not the leader and redirected to %s", base, leader)
			c.setLeader(leader)
			continue
		}
		body := readSnippet(resp)
		drainCoordinator(resp, cancel)
		serr := &statusError{method: method, url: base + path, status: resp.StatusCode, body: body}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
			resp.StatusCode == http.StatusBadRequest {
			return nil, nil, serr // another leader would answer the same
		}
		lastErr = serr
		c.forget(base)
	}
	return nil, nil, lastErr
}

// send makes one request, bounded by the client's timeout until the body is read (the caller calls cancel).
func (c *Client) send(ctx context.Context, method, u string) (*http.Response, context.CancelFunc, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	req, err := http.NewRequestWithContext(rctx, method, u, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("the Coordinator URL %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("calling the Coordinator (%s %s): %w", method, u, err)
	}
	return resp, cancel, nil
}

func drainCoordinator(resp *http.Response, cancel context.CancelFunc) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	cancel()
}

// readSnippet reads the start of an error body, for the message.
func readSnippet(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(no body)"
	}
	return s
}

// LoadQueue returns the segment ids the Coordinator has queued for server (its hostAndPortToUse), in queue order:
// the loads and the drops. The lists include requests already sent to the server and not yet answered. A server
// the Coordinator does not list has empty lists; Queue tells it apart from an empty queue.
func (c *Client) LoadQueue(ctx context.Context, server string) (toLoad, toDrop []string, err error) {
	q, err := c.Queue(ctx, server)
	return q.ToLoad, q.ToDrop, err
}

// ServerQueue is one server's entry in the Coordinator's load queue listing.
type ServerQueue struct {
	ToLoad, ToDrop []string
	// Listed says whether the listing has the server at all. The leader keeps a queue for every segment server it
	// discovered, empty or not (a peon per server, made at each Coordinator run), so an unlisted server is one the
	// Coordinator does not know by that name: not discovered yet, or announced under another host name.
	Listed bool
	// Servers is how many servers the listing has; Others names up to MaxOtherServers of them, those on the
	// server's port first, to show what the Coordinator calls the servers when server is not listed.
	Servers int
	Others  []string
}

// MaxOtherServers bounds ServerQueue.Others: enough to spot a name mismatch, few enough for a log line.
const MaxOtherServers = 5

// Queue reads server's entry in the leader Coordinator's load queue listing.
func (c *Client) Queue(ctx context.Context, server string) (ServerQueue, error) {
	resp, cancel, err := c.get(ctx, LoadQueuePath)
	if err != nil {
		return ServerQueue{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ServerQueue{}, &statusError{url: resp.Request.URL.String(), status: resp.StatusCode, body: readSnippet(resp)}
	}
	q, err := decodeServerQueue(resp.Body, server)
	if err != nil {
		if ctx.Err() != nil {
			return ServerQueue{}, ctx.Err()
		}
		return ServerQueue{}, fmt.Errorf("reading the Coordinator's load queue from %s: %w", resp.Request.URL, err)
	}
	return q, nil
}

// decodeLoadQueue is decodeServerQueue's lists.
func decodeLoadQueue(r io.Reader, server string) (toLoad, toDrop []string, err error) {
	q, err := decodeServerQueue(r, server)
	return q.ToLoad, q.ToDrop, err
}

// decodeServerQueue reads {"<server>": {"segmentsToLoad": [...], "segmentsToDrop": [...]}, ...} as it streams in
// and keeps only server's lists and a few other names: with a hundred servers and long queues the whole answer is
// large.
func decodeServerQueue(r io.Reader, server string) (ServerQueue, error) {
	var q ServerQueue
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil {
		return ServerQueue{}, err
	} else if t != json.Delim('{') {
		return ServerQueue{}, fmt.Errorf("expected a JSON object of servers, got %v", t)
	}
	_, port, _ := net.SplitHostPort(server)
	var samePort, otherPort []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ServerQueue{}, err
		}
		name, _ := t.(string)
		q.Servers++
		if name != server {
			if _, p, _ := net.SplitHostPort(name); p == port && port != "" {
				if len(samePort) < MaxOtherServers {
					samePort = append(samePort, name)
				}
			} else if len(otherPort) < MaxOtherServers {
				otherPort = append(otherPort, name)
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return ServerQueue{}, err
			}
			continue
		}
		var lists struct {
			SegmentsToLoad []string `json:"segmentsToLoad"`
			SegmentsToDrop []string `json:"segmentsToDrop"`
		}
		if err := dec.Decode(&lists); err != nil {
			return ServerQueue{}, fmt.Errorf("the queue of %s: %w", server, err)
		}
		q.ToLoad, q.ToDrop, q.Listed = lists.SegmentsToLoad, lists.SegmentsToDrop, true
	}
	if _, err := dec.Token(); err != nil {
		return ServerQueue{}, err
	}
	q.Others = append(samePort, otherPort...)
	q.Others = q.Others[:min(MaxOtherServers, len(q.Others))]
	return q, nil
}

// Segment returns the used segment id of dataSource as the Coordinator's metadata API has it, with its loadSpec.
// It wraps ErrSegmentNotFound when the Coordinator knows none, or answers with a segment of another id (the
// Coordinator tries every reading of the id; only the exact one is taken).
func (c *Client) Segment(ctx context.Context, dataSource, id string) (*segments.DataSegment, error) {
	if dataSource == "" || id == "" {
		return nil, fmt.Errorf("segment %q of dataSource %q: both are needed to ask the Coordinator", id, dataSource)
	}
	path := MetadataPath + "/datasources/" + url.PathEscape(dataSource) + "/segments/" + url.PathEscape(id)
	resp, cancel, err := c.get(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", id, err)
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("segment %s of dataSource %s: %w", id, dataSource, ErrSegmentNotFound)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSegmentBody+1))
	if err != nil {
		return nil, fmt.Errorf("segment %s: reading the Coordinator's answer from %s: %w", id, resp.Request.URL, err)
	}
	if len(body) > maxSegmentBody {
		return nil, fmt.Errorf("segment %s: the Coordinator's answer from %s is larger than %d bytes, not a DataSegment",
			id, resp.Request.URL, maxSegmentBody)
	}
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON(body); err != nil {
		return nil, fmt.Errorf("segment %s: the Coordinator's answer from %s is not a DataSegment: %w", id, resp.Request.URL, err)
	}
	if got := seg.ID().String(); got != id {
		return nil, fmt.Errorf("segment %s of dataSource %s: the Coordinator answered with %s instead: %w",
			id, dataSource, got, ErrSegmentNotFound)
	}
	return seg, nil
}

// SegmentByID finds a segment from its id alone, as the load queue lists it: a SegmentId string cannot be parsed
// unambiguously (trap 13: '_' in dataSource names and versions), so each dataSource that some reading of the id
// gives is asked in turn, Druid's most probable one first, until one has the segment with exactly this id.
func (c *Client) SegmentByID(ctx context.Context, id string) (*segments.DataSegment, error) {
	seen := map[string]bool{}
	var notFound error
	for _, r := range segments.PossibleSegmentIDs(id) {
		if seen[r.DataSource] {
			continue
		}
		seen[r.DataSource] = true
		seg, err := c.Segment(ctx, r.DataSource, id)
		if err == nil {
			return seg, nil
		}
		if !errors.Is(err, ErrSegmentNotFound) {
			return nil, err
		}
		notFound = err
	}
	if notFound == nil {
		return nil, fmt.Errorf("%q is not a segment id (no reading gives a dataSource, an interval and a version): %w",
			id, ErrSegmentNotFound)
	}
	return nil, fmt.Errorf("segment %s: no dataSource its id can be read with (%d tried) has it: %w", id, len(seen),
		ErrSegmentNotFound)
}
