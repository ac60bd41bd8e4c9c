package loadqueue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The defaults of Options.MaxRequestBytes and Options.MaxInflightBytes.
const (
	// DefaultMaxRequestBytes bounds one changeRequests body. A Coordinator's batch is numLoadingThreads requests
	// (or its batchSize) of a few kilobytes each, far below it.
	DefaultMaxRequestBytes = 16 << 20
	// DefaultMaxInflightBytes bounds the memory the changeRequests bodies being read or held take together.
	DefaultMaxInflightBytes = 64 << 20
)

// requestWeight is what one decoded change request costs beyond the bytes of its JSON: the DataSegment, the status
// cache entry, the engine's op and the map entries that index them (about 850 bytes measured, rounded up), and
// 16 bytes per dimension, metric or projection name (a string header; the names share their JSON string's bytes).
const (
	requestWeight = 1 << 10
	nameWeight    = 16
)

// budgetStep is how much a body of unknown length takes from the budget at a time as it is read.
const budgetStep = 256 << 10

// errBudget is the failure to take from the budget: other requests hold it all.
var errBudget = errors.New("the changeRequests bodies being read take the whole budget")

// budget is the memory that changeRequests bodies may hold at once, in bytes: what is read of them and what their
// decoded requests weigh, until their responses are written. A request that would go beyond it is refused at
// once (503) rather than made to wait, so that it holds neither a connection nor memory.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

// take takes n bytes from the budget, or nothing if they are not there.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.limit-b.used {
		return false
	}
	b.used += n
	return true
}

// inUse is what is taken.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// hold is one request's share of the budget.
type hold struct {
	b    *budget
	held int64
}

// grow takes n more bytes for the request.
func (h *hold) grow(n int64) error {
	if n <= 0 {
		return nil
	}
	if !h.b.take(n) {
		return errBudget
	}
	h.held += n
	return nil
}

func (h *hold) release() {
	h.b.give(h.held)
	h.held = 0
}

// budgetReader is a request body that takes from the request's share of the budget each byte before it reads it.
// err keeps the first error of the body itself (too large, cut off, over the budget), as opposed to what is wrong
// with the JSON.
type budgetReader struct {
	r       io.Reader
	h       *hold
	limit   int64 // bytes the body may take: one more than it may have, which tells it is too large
	read    int64 // bytes read
	covered int64 // bytes of reading taken from the budget
	err     error
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if room := br.limit - br.read; room > 0 && int64(len(p)) > room {
		p = p[:room]
	}
	if need := br.read + int64(len(p)) - br.covered; need > 0 {
		// A step at a time, or what is needed when the budget has less than a step left.
		step := max(need, budgetStep)
		err := br.h.grow(step)
		if err != nil && step > need {
			step, err = need, br.h.grow(need)
		}
		if err == nil {
			br.covered += step
		} else if br.covered > br.read {
			p = p[:br.covered-br.read] // what the share still covers
		} else {
			br.err = err
			return 0, err
		}
	}
	n, err := br.r.Read(p)
	br.read += int64(n)
	if err != nil && err != io.EOF && br.err == nil {
		br.err = err
	}
	return n, err
}

// requestCost is what a decoded change request weighs in the budget beyond its JSON.
func requestCost(req *segments.ChangeRequest) int64 {
	n := int64(requestWeight)
	if s := req.Segment; s != nil {
		names := len(s.Dimensions) + len(s.Metrics)
		if s.Projections != nil {
			names += len(*s.Projections)
		}
		n += int64(names) * nameWeight
	}
	return n
}

// listDecoder reads a JSON array of change requests as it arrives, one element at a time into a buffer it reuses,
// so that a body is never held whole: what stays is the decoded requests.
type listDecoder struct {
	r   *bufio.Reader
	off int64  // bytes consumed
	buf []byte // the element being read
}

func newListDecoder(r io.Reader) *listDecoder {
	return &listDecoder{r: bufio.NewReaderSize(r, 32<<10)}
}

// decode calls each for every request of the list, in order; an error of each ends the decoding with it. The
// errors say what is wrong and where, as segments.ParseChangeRequests's do.
func (d *listDecoder) decode(each func(i int, req segments.ChangeRequest) error) error {
	c, err := d.nextByte()
	switch {
	case err == io.EOF:
		return errors.New("change request list: malformed JSON: unexpected end of input, expected a JSON array")
	case err != nil:
		return err
	case c == 'n':
		if rest, err := d.peek(3); err == nil && string(rest) == "ull" {
			return errors.New("change request list is null")
		}
		fallthrough
	case c != '[':
		return d.syntaxError(c, "a JSON array")
	}
	for i := 0; ; i++ {
		c, err := d.nextByte()
		if err != nil {
			return d.endError(err, "a change request")
		}
		if c == ']' && i == 0 {
			if err := d.end(); err != nil {
				return err
			}
			return errors.New("change request list is empty")
		}
		if err := d.element(c); err != nil {
			return err
		}
		var req segments.ChangeRequest
		if err := req.UnmarshalJSON(d.buf); err != nil {
			return fmt.Errorf("change request %d of the list: %w", i, err)
		}
		if req.Action == "" {
			return fmt.Errorf("change request %d of the list is null", i)
		}
		if err := each(i, req); err != nil {
			return err
		}
		switch c, err := d.nextByte(); {
		case err != nil:
			return d.endError(err, "',' or ']'")
		case c == ']':
			return d.end()
		case c != ',':
			return d.syntaxError(c, "',' or ']'")
		}
	}
}

// nextByte consumes the next byte that is not JSON whitespace.
func (d *listDecoder) nextByte() (byte, error) {
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, err
		}
		d.off++
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

func (d *listDecoder) peek(n int) ([]byte, error) { return d.r.Peek(n) }

// end checks that nothing but whitespace follows the list.
func (d *listDecoder) end() error {
	c, err := d.nextByte()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return d.syntaxError(c, "the end of the input")
}

// element reads one JSON value whose first byte c was consumed into d.buf. It only finds where the value ends
// (strings, escapes and nesting); the change request's own decoder checks the rest.
func (d *listDecoder) element(c byte) error {
	d.buf = append(d.buf[:0], c)
	depth, inString, escaped := 0, false, false
	switch c {
	case '{', '[':
		depth = 1
	case '"':
		inString = true
	default:
		// A literal or a number: it ends before the next delimiter.
		for {
			p, err := d.peek(1)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			switch p[0] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return nil
			}
			d.r.ReadByte()
			d.off++
			d.buf = append(d.buf, p[0])
		}
	}
	for {
		chunk, err := d.r.Peek(max(1, d.r.Buffered()))
		if len(chunk) == 0 {
			return d.endError(err, "the rest of a change request")
		}
		n, done := len(chunk), false
	scan:
		for i, b := range chunk {
			switch {
			case escaped:
				escaped = false
			case inString:
				if b == '\\' {
					escaped = true
				} else if b == '"' {
					inString = false
					if depth == 0 {
						n, done = i+1, true
						break scan
					}
				}
			case b == '"':
				inString = true
			case b == '{' || b == '[':
				depth++
			case b == '}' || b == ']':
				depth--
				if depth == 0 {
					n, done = i+1, true
					break scan
				}
			}
		}
		d.buf = append(d.buf, chunk[:n]...)
		d.r.Discard(n)
		d.off += int64(n)
		if done {
			return nil
		}
	}
}

// endError is the error of a read that ended early: the body's own error (too large, over the budget, cut off),
// or a syntax error at the end of the input.
func (d *listDecoder) endError(err error, what string) error {
	if err == io.EOF {
		return fmt.Errorf("change request list: malformed JSON: unexpected end of input, expected %s", what)
	}
	return err
}

func (d *listDecoder) syntaxError(c byte, what string) error {
	found := []byte{c}
	if rest, _ := d.peek(15); len(rest) > 0 {
		found = append(found, rest...)
	}
	return fmt.Errorf("change request list: malformed JSON at offset %d: expected %s, found %s", d.off-1, what, strconv.Quote(string(found)))
}

// smileList reads a Smile change request list whole (its encoding has no element boundaries to stream on: names
// and values may refer back to any earlier one) and returns its JSON, which the list decoder then reads as it reads
// a JSON body. The JSON is taken from the budget too, beside the Smile bytes the body reader took. What goes wrong
// (the body's own error, malformed Smile, the budget) is what the returned reader's first Read returns.
func smileList(body io.Reader, share *hold) io.Reader {
	data, err := io.ReadAll(body)
	if err != nil {
		return errReader{err}
	}
	js, err := jackson.SmileToJSON(data)
	if err != nil {
		return errReader{fmt.Errorf("change request list: malformed Smile: %w", err)}
	}
	if err := share.grow(int64(len(js))); err != nil {
		return errReader{err}
	}
	return bytes.NewReader(js)
}

// errReader is a reader that fails with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
