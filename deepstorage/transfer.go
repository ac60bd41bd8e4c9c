package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// The transfers: a single GET read front to back (resumed with a ranged GET where the connection breaks), and
// byte ranges fetched in parallel, either reassembled in order in memory (partsReader) or written at their offsets
// (into a spool file, or straight into a segment file of the prefix form). Every request retries on its own.

// streamReader reads an object (or its first bytes, up to end) front to back with one GET, resuming it (Range
// from where it broke, If-Match its ETag) when the connection breaks or stalls.
type streamReader struct {
	pl     *pull
	loc    location
	r      retrier
	body   io.ReadCloser
	obj    object // size -1 until the first response
	end    int64  // the last byte wanted; -1: to the end of the object
	stop   int64  // the offset where reading ends, once the size is known
	off    int64
	err    error
	opened bool
}

// newStream reads the whole object with a plain GET.
func (pl *pull) newStream(loc location) *streamReader {
	return &streamReader{pl: pl, loc: loc, r: retrier{p: pl.p, loc: loc}, obj: object{size: -1}, end: -1}
}

// openStream issues the first GET of an object for its first part (a ranged GET, which tells the object's size),
// and returns a reader of that part: the whole object when it is no longer than a part. An empty object reads as
// empty.
func (pl *pull) openStream(loc location) (*streamReader, error) {
	s := pl.newStream(loc)
	s.end = pl.p.partSize - 1
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open issues the next GET (with retries), from the current offset.
func (s *streamReader) open() error {
	for {
		body, obj, err := s.pl.p.get(s.pl.ctx, s.loc, s.off, s.end, s.obj.etag)
		if err == nil {
			if s.opened && obj.size != s.obj.size {
				body.Close()
				return &storeError{msg: fmt.Sprintf("%s changed while it was being downloaded (its size went from %d to "+
					"%d)", s.loc, s.obj.size, obj.size), changed: true}
			}
			s.obj, s.body, s.opened = obj, body, true
			s.stop = obj.size
			if s.end >= 0 && s.end+1 < obj.size {
				s.stop = s.end + 1
			}
			return nil
		}
		if !s.opened && s.off == 0 && s.end >= 0 && isStatus(s.loc, err, http.StatusRequestedRangeNotSatisfiable) {
			s.obj, s.opened, s.stop = object{size: 0}, true, 0 // a ranged GET of an empty object
			return nil
		}
		if err = s.r.failed(s.pl.ctx, err); err != nil {
			return err
		}
	}
}

func isStatus(loc location, err error, status int) bool {
	return classify(loc, err, 0).status == status
}

func (s *streamReader) Read(b []byte) (int, error) {
	for {
		if s.err != nil {
			return 0, s.err
		}
		if s.body == nil {
			if s.opened && s.off >= s.stop {
				return 0, io.EOF
			}
			if s.err = s.open(); s.err != nil {
				return 0, s.err
			}
			if s.body == nil {
				continue
			}
		}
		n, err := s.body.Read(b)
		s.off += int64(n)
		s.r.moved(int64(n))
		s.pl.received(s.loc, int64(n))
		if err == nil {
			return n, nil
		}
		s.body.Close()
		s.body = nil
		if err == io.EOF {
			if s.off == s.stop {
				return n, io.EOF
			}
			err = io.ErrUnexpectedEOF
		}
		if s.err = s.r.failed(s.pl.ctx, err); s.err != nil && n == 0 {
			return 0, s.err
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (s *streamReader) Close() error {
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	return nil
}

// fetchRange downloads bytes [start, start+n) of an object, in order, into w, or straight into the n bytes of into
// when it is not nil, resuming where a connection breaks.
func (pl *pull) fetchRange(ctx context.Context, loc location, etag string, start, n int64, w io.Writer, into []byte,
	buf []byte) error {
	r := retrier{p: pl.p, loc: loc}
	var got int64
	for got < n {
		body, _, err := pl.p.get(ctx, loc, start+got, start+n-1, etag)
		if err == nil {
			var m int64
			var werr error
			if into != nil {
				m, err = readRange(into[got:], body)
			} else {
				m, err, werr = copyRange(w, body, n-got, buf)
			}
			body.Close()
			got += m
			r.moved(m)
			pl.received(loc, m)
			if werr != nil {
				return werr
			}
		}
		if err != nil {
			if err = r.failed(ctx, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// readRange reads a response body of exactly len(dst) bytes into dst, then its end, so that the connection can be
// reused. A body that ends early is an unexpected EOF.
func readRange(dst []byte, src io.Reader) (int64, error) {
	n, err := io.ReadFull(src, dst)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return int64(n), err
	}
	return int64(n), readEnd(src, int64(len(dst)))
}

// readEnd checks that a body holds nothing after the n bytes asked for.
func readEnd(src io.Reader, n int64) error {
	var one [1]byte
	nr, err := src.Read(one[:])
	if nr > 0 {
		return fmt.Errorf("the response holds more than the %d bytes asked for", n)
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

// copyRange copies n bytes from a response body, then reads its end. Read and write errors come back apart.
func copyRange(dst io.Writer, src io.Reader, n int64, buf []byte) (written int64, rerr, werr error) {
	for written < n {
		b := buf
		if int64(len(b)) > n-written {
			b = b[:n-written]
		}
		nr, er := src.Read(b)
		if nr > 0 {
			nw, ew := dst.Write(b[:nr])
			written += int64(nw)
			if ew != nil {
				return written, nil, ew
			}
		}
		if er == io.EOF && written < n {
			return written, io.ErrUnexpectedEOF, nil
		}
		if er != nil && er != io.EOF {
			return written, er, nil
		}
	}
	return written, readEnd(src, n), nil
}

// bufferPool hands out part buffers: at most a fixed number at once across all pulls (the memory bound), reused
// rather than left to the garbage collector.
type bufferPool struct {
	size  int64
	slots chan struct{}
	free  chan []byte
}

func newBufferPool(size int64, n int) *bufferPool {
	return &bufferPool{size: size, slots: make(chan struct{}, n), free: make(chan []byte, n)}
}

// get waits for a buffer.
func (bp *bufferPool) get(ctx context.Context) ([]byte, error) {
	select {
	case bp.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	select {
	case b := <-bp.free:
		return b, nil
	default:
		return make([]byte, bp.size), nil
	}
}

func (bp *bufferPool) put(b []byte) {
	select {
	case bp.free <- b[:cap(b)]:
	default:
	}
	<-bp.slots
}

// partsReader reads an object front to back: its first part from the first GET's stream, the others fetched
// ahead in parallel (up to Concurrency of them, and no more than the buffer pool allows across pulls), each into a
// buffer of its own.
type partsReader struct {
	pl       *pull
	loc      location
	obj      object
	first    *streamReader
	ctx      context.Context
	cancel   context.CancelCauseFunc
	parts    []*part
	cur, off int
	window   chan struct{}
	wg       sync.WaitGroup
}

type part struct {
	done chan struct{}
	buf  []byte
	err  error
}

var errClosed = errors.New("reader closed")

// newPartsReader reads first (the object's first part) and starts fetching the other parts.
func (pl *pull) newPartsReader(first *streamReader) *partsReader {
	ctx, cancel := context.WithCancelCause(pl.ctx)
	obj, ps := first.obj, pl.p.partSize
	n := int((obj.size + ps - 1) / ps)
	r := &partsReader{pl: pl, loc: first.loc, obj: obj, first: first, ctx: ctx, cancel: cancel,
		parts: make([]*part, n), window: make(chan struct{}, pl.p.concurrency)}
	for i := range r.parts {
		r.parts[i] = &part{done: make(chan struct{})}
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for i := 1; i < n; i++ {
			// Slots and buffers are taken in part order, so the part being read always has its own.
			select {
			case r.window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			buf, err := pl.p.buffers.get(ctx)
			if err != nil {
				return
			}
			r.wg.Add(1)
			go r.fetch(i, buf)
		}
	}()
	return r
}

func (r *partsReader) fetch(i int, buf []byte) {
	defer r.wg.Done()
	p := r.parts[i]
	ps := r.pl.p.partSize
	start := int64(i) * ps
	buf = buf[:min(ps, r.obj.size-start)]
	err := r.pl.fetchRange(r.ctx, r.loc, r.obj.etag, start, int64(len(buf)), nil, buf, nil)
	if err != nil {
		r.pl.p.buffers.put(buf)
		p.err = err
		r.cancel(err)
	} else {
		p.buf = buf
	}
	close(p.done)
}

func (r *partsReader) Read(b []byte) (int, error) {
	for {
		if r.cur == 0 {
			n, err := r.first.Read(b)
			if err == io.EOF {
				r.first.Close()
				r.cur = 1
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		if r.cur >= len(r.parts) {
			return 0, io.EOF
		}
		p := r.parts[r.cur]
		select {
		case <-p.done:
		case <-r.ctx.Done():
			select {
			case <-p.done:
			default:
				return 0, r.failure()
			}
		}
		if p.err != nil {
			return 0, r.failure()
		}
		if r.off < len(p.buf) {
			n := copy(b, p.buf[r.off:])
			r.off += n
			return n, nil
		}
		r.pl.p.buffers.put(p.buf)
		p.buf = nil
		<-r.window
		r.cur++
		r.off = 0
	}
}

// failure is the first error of a part, or why the pull's context ended.
func (r *partsReader) failure() error {
	if r.pl.ctx.Err() != nil {
		return ctxError(r.pl.ctx, r.loc.String())
	}
	return context.Cause(r.ctx)
}

func (r *partsReader) Close() error {
	r.first.Close()
	r.cancel(errClosed)
	r.wg.Wait()
	for _, p := range r.parts {
		if p.buf != nil {
			r.pl.p.buffers.put(p.buf)
			p.buf = nil
		}
	}
	return nil
}

// rangeJob is a byte range of an object to write at the same offset of w.
type rangeJob struct {
	loc      location
	etag     string
	start, n int64
	w        io.WriterAt
}

// fetchAll runs the jobs on Concurrency workers; the first error stops the others. what names the transfer in
// the error of a canceled pull.
func (pl *pull) fetchAll(what string, jobs []rangeJob) error {
	ctx, cancel := context.WithCancelCause(pl.ctx)
	defer cancel(nil)
	next := make(chan rangeJob)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(pl.p.concurrency, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for j := range next {
				err := pl.fetchRange(ctx, j.loc, j.etag, j.start, j.n, io.NewOffsetWriter(j.w, j.start), nil, buf)
				if err != nil {
					once.Do(func() { first = err })
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if pl.ctx.Err() != nil {
		return ctxError(pl.ctx, what)
	}
	return first
}
