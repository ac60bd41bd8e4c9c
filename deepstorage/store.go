package deepstorage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// The stores: S3, Google Cloud Storage and Azure Blob Storage are read by the same transfers (a stream resumed
// where it breaks, parts fetched ahead in parallel ranged reads, retries with backoff, listing page by page); a
// store only issues one request at a time and, through classify, says what its errors mean.

// The schemes of locations, as Druid writes deep storage URIs (CloudObjectLocation): s3://, gs://, azure://.
const (
	schemeS3     = "s3"
	schemeGoogle = "gs"
	schemeAzure  = "azure"
)

// store is one deep storage service.
type store interface {
	// read issues one read of bytes [start, end] of loc (end < 0: to the end; start == 0 and end < 0: the whole
	// object), conditional on etag (the version an earlier reply gave) when it is set.
	read(ctx context.Context, loc location, start, end int64, etag string) (reply, error)
	// list returns one page of the objects whose key starts with loc.key, in key order, and the token of the next
	// page ("" after the last). pageSize 0 means the store's default.
	list(ctx context.Context, loc location, token string, pageSize int) ([]listed, string, error)
}

// reply is what a read answered: the body and what its headers said.
type reply struct {
	body io.ReadCloser
	// contentRange is "bytes first-last/total" when the read was ranged and the range honoured; "" otherwise.
	contentRange string
	// length is the body's length, -1 when the store did not say.
	length int64
	// etag is the object's version, which later reads of the same transfer are made conditional on.
	etag string
}

// listed is an object of a listing with its version.
type listed struct {
	Object
	etag string
}

// lazyStore makes its store the first time a location of its scheme is read: Google's client looks for
// credentials when it is made and Azure's needs an account, which a deployment on another store has neither of.
type lazyStore struct {
	once  sync.Once
	build func() (store, error)
	st    store
	err   error
}

func (l *lazyStore) get() (store, error) {
	l.once.Do(func() { l.st, l.err = l.build() })
	return l.st, l.err
}

// storeOf is the store of a location. A store that cannot be made (no credentials, no account) fails every read
// of its scheme with that reason, never retried.
func (p *Puller) storeOf(loc location) (store, error) {
	var l *lazyStore
	switch loc.scheme {
	case schemeGoogle:
		l = p.google
	case schemeAzure:
		l = p.azure
	default:
		return s3Store{p.client}, nil
	}
	st, err := l.get()
	if err != nil {
		return nil, &storeError{msg: "reading " + loc.String() + ": " + err.Error(), err: err}
	}
	return st, nil
}

// listPages calls fn with each page of the objects under loc.key (a prefix), each page's request retried as a
// pull's requests are (throttling, 5xx, broken connections). An error from fn ends the listing as it is.
func (p *Puller) listPages(ctx context.Context, loc location, fn func([]listed) error) error {
	st, err := p.storeOf(loc)
	if err != nil {
		return err
	}
	token := ""
	for {
		var objs []listed
		var next string
		r := retrier{p: p, loc: loc}
		for {
			objs, next, err = st.list(ctx, loc, token, p.listPageSize)
			p.metrics.request(ctx, backendOf(loc), err, err == nil || p.answered(loc, err))
			if err == nil {
				break
			}
			if err = r.failed(ctx, err); err != nil {
				return err
			}
		}
		if err := fn(objs); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// statusError phrases a store's HTTP answer: not found, refused, changed, empty, worth retrying (a throttling or
// server error status, or a store's error code that says so: retry), or another failure. code is the store's error
// code, if any; credentials says what to check on 401 and 403.
func statusError(loc location, err error, status int, code, message string, retry bool, credentials string) *storeError {
	short := strconv.Itoa(status)
	if code != "" {
		short += " " + code
	}
	e := &storeError{short: short, err: err, status: status}
	switch {
	case status == http.StatusNotFound:
		e.kind = ErrNotFound
		e.msg = fmt.Sprintf("%s does not exist (%s)", loc, short)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.kind = ErrAccessDenied
		e.msg = fmt.Sprintf("access denied reading %s: check %s (%s)", loc, credentials, short)
	case status == http.StatusRequestedRangeNotSatisfiable:
		e.msg = fmt.Sprintf("%s is empty (%s)", loc, short)
	case status == http.StatusPreconditionFailed:
		e.changed = true
		e.msg = fmt.Sprintf("%s changed while it was being downloaded (%s)", loc, short)
	case retry || retryableStatus(status):
		e.retryable = true
		e.msg = fmt.Sprintf("%s: %s answered %s", loc, loc.service(), short)
		if message != "" {
			e.msg += ": " + message
		}
	default:
		e.msg = fmt.Sprintf("reading %s failed (%s)", loc, short)
		if message != "" {
			e.msg += ": " + message
		}
	}
	return e
}
