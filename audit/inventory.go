package audit

// Reading a data server's segments: its HTTP inventory (GET /druid-internal/v1/segments?counter=-1, the full
// snapshot a Broker asks for first), else its batch znodes.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// maxInventoryBytes bounds an inventory response. A Smile body is decoded whole, so the bound keeps a broken or
// hostile server from exhausting memory; 2 GiB is some 4 million segments of Java's Smile.
const maxInventoryBytes = 2 << 30

// defaultServerTimeout bounds the reading of one server's inventory; a snapshot of 100,000 segments is some
// 50 MB, which takes seconds even on a slow link.
const defaultServerTimeout = 2 * time.Minute

// inventoryClient reads segment inventories over HTTP.
type inventoryClient struct {
	http       *http.Client
	user, pass string // the escalator's basic-auth credentials, "" for none
	timeout    time.Duration
}

func newInventoryClient(cfg *configs.Config, client *http.Client, timeout time.Duration) *inventoryClient {
	if timeout <= 0 {
		timeout = defaultServerTimeout
	}
	if client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		// A server that does not answer the connection is unreachable: fail over to its batch znodes quickly.
		transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		transport.ResponseHeaderTimeout = timeout
		client = &http.Client{Transport: transport}
	}
	c := &inventoryClient{http: client, timeout: timeout}
	// Internal calls carry the escalator's credentials when Druid security is on, as every Druid process's do.
	if cfg != nil && cfg.Escalator.Type == "basic" {
		c.user, c.pass = cfg.Escalator.InternalClientUsername, cfg.Escalator.InternalClientPassword.Reveal()
	}
	return c
}

// inventoryURL completes u into the full-snapshot request: the inventory path when u has no path, and counter=-1
// (a snapshot, answered at once) with a positive timeout, which Druid requires even then.
func inventoryURL(u string, timeout time.Duration) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", fmt.Errorf("inventory URL %q: expected http://host:port[%s]", u, inventory.Path)
	}
	if p.Path == "" || p.Path == "/" {
		p.Path = inventory.Path
	}
	q := p.Query()
	q.Set("counter", "-1")
	if q.Get("timeout") == "" {
		q.Set("timeout", strconv.FormatInt(max(timeout.Milliseconds(), 1), 10))
	}
	p.RawQuery = q.Encode()
	return p.String(), nil
}

// serverURL is the base URL of a discovered node: plaintext when it has a plaintext port, else TLS.
func serverURL(n discovery.Node) (string, error) {
	switch {
	case n.PlaintextPort > 0:
		return "http://" + net.JoinHostPort(n.Host, strconv.Itoa(n.PlaintextPort)), nil
	case n.TLSPort > 0:
		return "https://" + net.JoinHostPort(n.Host, strconv.Itoa(n.TLSPort)), nil
	}
	return "", errors.New("it announces neither a plaintext nor a TLS port")
}

// fetch reads the full snapshot of the inventory at rawURL and calls fn for every segment it announces. It asks for
// Smile, as Brokers and Coordinators do (so the audit sees what they see), and reads JSON as well: a body starting
// with the Smile header is Smile, anything else JSON. A JSON body is decoded as it streams in; a Smile one is read
// whole, bounded by maxInventoryBytes, and decoded to JSON first.
func (c *inventoryClient) fetch(ctx context.Context, rawURL string, fn announced) error {
	u, err := inventoryURL(rawURL, c.timeout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	// JSON, not Smile: a JSON snapshot is decoded as it streams in, where a Smile one has to be held whole and
	// transcoded first (a Historical's Accept check is an exact match, so it answers JSON to this). A server that
	// answers Smile anyway is still read, below.
	req.Header.Set("Accept", "application/json")
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// net/http repeats the method and URL in its error; say them once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("GET %s answered %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
	}
	body := bufio.NewReaderSize(io.LimitReader(resp.Body, maxInventoryBytes+1), 64<<10)
	var in io.Reader = body
	if head, _ := body.Peek(3); string(head) == jackson.SmileSignature {
		raw, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("GET %s: reading the response: %w", u, err)
		}
		if len(raw) > maxInventoryBytes {
			return fmt.Errorf("GET %s: the response is larger than %d bytes", u, maxInventoryBytes)
		}
		js, err := jackson.SmileToJSON(raw)
		if err != nil {
			return fmt.Errorf("GET %s: the Smile response cannot be read: %w", u, err)
		}
		in = bytes.NewReader(js)
	}
	if err := decodeSnapshot(in, fn); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// announced is called for every segment of an inventory, with the partial-load fingerprint it is announced with
// ("" for a plain load).
type announced func(id segments.SegmentID, size int64, fingerprint string)

// decodeSnapshot reads a full ChangeRequestsSnapshot and calls fn for the segment of every "load" request (a full
// snapshot holds nothing else but, from realtime tasks, "schema" requests, which are skipped). Only each segment's
// id, size and fingerprint are read: a data server announces hundreds of thousands.
func decodeSnapshot(r io.Reader, fn announced) error {
	reply, err := inventory.DecodeLoads(r, func(id segments.SegmentID, size int64, fp string) error {
		fn(id, size, fp)
		return nil
	})
	switch {
	case err != nil:
		return err
	case reply.ResetCounter:
		return errors.New("the server answered a full-snapshot request with a counter reset")
	case reply.Requests < 0:
		return errors.New("the snapshot has no requests")
	}
	return nil
}
