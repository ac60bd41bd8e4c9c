package inventory

// Reading an inventory's answer as the other side does: Druid's ChangeRequestHttpSyncer (in Brokers and
// Coordinators) reads a ChangeRequestsSnapshot, the document inventoryWrite writes. The audit and the test peers
// read every inventory through Decode.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Reply is a ChangeRequestsSnapshot, apart from its requests, which Decode hands over one at a time.
type Reply struct {
	// ResetCounter tells the client to forget its counter and ask for a full snapshot again; ResetCause says why
	// (nil when the member is null or missing).
	ResetCounter bool
	ResetCause   *string
	// Counter is what the client echoes in its next poll; nil when the member is null or missing, as in a reset.
	Counter *Counter
	// Requests is the number of requests, or -1 when the member is null or missing.
	Requests int
}

// Decode reads one JSON ChangeRequestsSnapshot from r as it streams in (a Smile body is turned into JSON first,
// with jackson.SmileToJSON), members in any order and unknown ones skipped, as Jackson binds it. It calls each, in
// order, for every request with the request and its JSON, which is valid only during the call; each's error ends
// the decoding and is returned as it is. The requests of a reset are not handed over, as Druid's syncer ignores
// them. A null request is an error: Druid's syncer would fail on it.
func Decode(r io.Reader, each func(req *segments.ChangeRequest, raw []byte) error) (Reply, error) {
	return decode(r, func(s *stream, n int, reset bool) error {
		raw, err := s.value()
		if err != nil {
			return fmt.Errorf("reading request %d of the snapshot: %w", n, err)
		}
		var cr segments.ChangeRequest
		if err := requestOf(raw, n, &cr); err != nil || reset {
			return err
		}
		return each(&cr, raw)
	})
}

// DecodeLoads is Decode for a reader of whole inventories, such as the audit: of each load request it hands over
// only the segment's id, its size and the fingerprint it is announced with ("" for a plain load), read with a
// segments.SummaryReader (a request it does not summarize is parsed whole, and refused as Decode refuses it), so
// that millions of segments cost a scan of their JSON rather than millions of DataSegments. The id's strings are
// the caller's to keep. Other requests are counted and skipped.
func DecodeLoads(r io.Reader, each func(id segments.SegmentID, size int64, fingerprint string) error) (Reply, error) {
	sr := segments.NewSummaryReader()
	var sum segments.Summary
	return decode(r, func(s *stream, n int, reset bool) error {
		if _, err := s.peek(); err != nil {
			return fmt.Errorf("reading request %d of the snapshot: %w", n, err)
		}
		// Loads and drops are summarized; any other action (noop, schema, or one Druid does not know) is parsed whole.
		if k, err := sr.ReadPrefix(s.buf[s.pos:], &sum); err == nil && (sum.Action == string(segments.ActionLoad) || sum.Action == string(segments.ActionDrop)) {
			s.pos += k
		} else {
			// Not summarized, or not whole in the buffer: read and parse it whole.
			raw, err := s.value()
			if err != nil {
				return fmt.Errorf("reading request %d of the snapshot: %w", n, err)
			}
			var cr segments.ChangeRequest
			if err := requestOf(raw, n, &cr); err != nil {
				return err
			}
			if cr.Action != segments.ActionLoad || cr.Segment == nil {
				return nil
			}
			sum = cr.Segment.Summary()
			sum.Action = string(cr.Action)
			if cr.Fingerprint != nil {
				sum.Fingerprint = *cr.Fingerprint
			}
		}
		if reset || segments.Action(sum.Action) != segments.ActionLoad {
			return nil
		}
		return each(sum.ID(), sum.Size, sum.Fingerprint)
	})
}

// requestOf parses request n of a snapshot whole.
func requestOf(raw []byte, n int, cr *segments.ChangeRequest) error {
	if err := cr.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("request %d of the snapshot: %w", n, err)
	}
	if cr.Action == "" {
		return fmt.Errorf("request %d of the snapshot is null", n)
	}
	return nil
}

// decode walks a snapshot's members, and calls request for every element of its requests array (n counts them,
// reset tells whether a resetCounter came first), which must consume the element from s.
func decode(r io.Reader, request func(s *stream, n int, reset bool) error) (Reply, error) {
	reply := Reply{Requests: -1}
	s := &stream{r: r, buf: make([]byte, 0, 256<<10)}
	if c, err := s.peek(); err != nil || c != '{' {
		return reply, fmt.Errorf("the response is not a segment inventory snapshot (a JSON object): %v", s.found(err))
	}
	s.pos++
	for first := true; ; first = false {
		c, err := s.peek()
		if err != nil {
			return reply, fmt.Errorf("reading the snapshot: %w", err)
		}
		if c == '}' {
			s.pos++
			break
		}
		if !first {
			if c != ',' {
				return reply, fmt.Errorf("reading the snapshot: expected ',' or '}', found %v", s.found(nil))
			}
			s.pos++
		}
		key, err := s.name()
		if err != nil {
			return reply, fmt.Errorf("reading the snapshot: %w", err)
		}
		if key == "requests" {
			if reply.Requests, err = decodeRequests(s, reply.ResetCounter, request); err != nil {
				return reply, err
			}
			continue
		}
		raw, err := s.value()
		if err == nil {
			switch key {
			case "resetCounter":
				err = json.Unmarshal(raw, &reply.ResetCounter)
			case "resetCause":
				err = json.Unmarshal(raw, &reply.ResetCause)
			case "counter":
				err = json.Unmarshal(raw, &reply.Counter)
			}
		}
		if err != nil {
			return reply, fmt.Errorf("reading the snapshot's %q: %w", key, err)
		}
	}
	return reply, nil
}

// decodeRequests reads the requests array (or null, which gives -1) and returns how many it holds.
func decodeRequests(s *stream, reset bool, request func(*stream, int, bool) error) (int, error) {
	c, err := s.peek()
	if err == nil && c == 'n' {
		if _, err := s.value(); err != nil {
			return 0, fmt.Errorf("the snapshot's requests are not an array: %w", err)
		}
		return -1, nil
	}
	if err != nil || c != '[' {
		return 0, fmt.Errorf("the snapshot's requests are not an array: %v", s.found(err))
	}
	s.pos++
	n := 0
	for ; ; n++ {
		c, err := s.peek()
		if err != nil {
			return 0, fmt.Errorf("reading the snapshot's requests: %w", err)
		}
		if c == ']' {
			s.pos++
			return n, nil
		}
		if n > 0 {
			if c != ',' {
				return 0, fmt.Errorf("reading the snapshot's requests: expected ',' or ']', found %v", s.found(nil))
			}
			s.pos++
		}
		if err := request(s, n, reset); err != nil {
			return 0, err
		}
	}
}

// maxRequestBytes bounds one value of a snapshot (a request is about a kilobyte): a broken or hostile server
// cannot make the reader buffer its whole answer.
const maxRequestBytes = 64 << 20

// stream is a JSON document read through a buffer that holds at least the value being read.
type stream struct {
	r   io.Reader
	buf []byte // buf[pos:] is read and not consumed
	pos int
	eof bool
	err error // the read error that ended the input, io.ErrUnexpectedEOF for a plain end
}

// fill reads more input, keeping buf[pos:], until the buffer is full or the input ends (so that a value cut short
// is scanned again a few times at most, however little each read gives); false when nothing more came.
func (s *stream) fill() bool {
	if s.eof {
		return false
	}
	if s.pos > 0 {
		s.buf = s.buf[:copy(s.buf, s.buf[s.pos:])]
		s.pos = 0
	}
	if len(s.buf) == cap(s.buf) {
		s.buf = append(s.buf, make([]byte, cap(s.buf))...)[:len(s.buf)]
	}
	start := len(s.buf)
	for len(s.buf) < cap(s.buf) {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.eof, s.err = true, err
			if err == io.EOF {
				s.err = io.ErrUnexpectedEOF
			}
			break
		}
	}
	return len(s.buf) > start
}

// peek skips whitespace and returns the next byte, without consuming it.
func (s *stream) peek() (byte, error) {
	for {
		s.pos = jackson.SkipSpace(s.buf, s.pos)
		if s.pos < len(s.buf) {
			return s.buf[s.pos], nil
		}
		if !s.fill() {
			return 0, s.err
		}
	}
}

// value consumes the next JSON value, checked, and returns it; it is valid until the next call.
func (s *stream) value() ([]byte, error) {
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	for {
		end, _, err := jackson.ScanValue(s.buf, s.pos, 1)
		// A value ending with the buffer may go on (a number, or a literal cut short): it is whole only at the end
		// of the input. A value that does not scan may be cut short too, until the input ends or it is too large.
		switch {
		case err == nil && (end < len(s.buf) || s.eof):
			v := s.buf[s.pos:end]
			s.pos = end
			return v, nil
		case err != nil && (s.eof || len(s.buf)-s.pos > maxRequestBytes):
			return nil, err
		}
		s.fill()
	}
}

// name consumes a member name and the colon after it.
func (s *stream) name() (string, error) {
	if c, err := s.peek(); err != nil || c != '"' {
		return "", fmt.Errorf("expected a member name, found %v", s.found(err))
	}
	raw, err := s.value()
	if err != nil {
		return "", err
	}
	name := jackson.DecodeString(raw, bytes.IndexByte(raw, '\\') >= 0)
	if c, err := s.peek(); err != nil || c != ':' {
		return "", fmt.Errorf("expected ':' after %q, found %v", name, s.found(err))
	}
	s.pos++
	return name, nil
}

// found describes what the stream holds at its position, or err.
func (s *stream) found(err error) any {
	if err != nil {
		return err
	}
	return fmt.Sprintf("found %q", s.buf[s.pos:min(len(s.buf), s.pos+16)])
}
