package deepstorage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// location is one object (or prefix) of deep storage: its scheme ("s3", "gs" for Google Cloud Storage, "azure"
// for Azure Blob Storage, as Druid writes their URIs), its bucket (an Azure container) and its key (a blob name).
type location struct{ scheme, bucket, key string }

func (l location) String() string { return l.scheme + "://" + l.bucket + "/" + l.key }

// at is the object of the same bucket under another key.
func (l location) at(key string) location {
	l.key = key
	return l
}

// service names the location's deep storage in messages.
func (l location) service() string {
	switch l.scheme {
	case schemeGoogle:
		return "Google Cloud Storage"
	case schemeAzure:
		return "Azure Blob Storage"
	}
	return "S3"
}

// ErrNotFound matches (errors.Is) a pull whose object, bucket or local path does not exist.
var ErrNotFound = errors.New("not found in deep storage")

// ErrAccessDenied matches (errors.Is) a pull that deep storage refused (HTTP 403).
var ErrAccessDenied = errors.New("access denied by deep storage")

// storeError is a failed request or transfer of deep storage (S3, Google Cloud Storage, Azure), phrased for an
// operator.
type storeError struct {
	msg string
	// short is the cause alone ("503 SlowDown", "connection reset"), for "gave up after N attempts: <short>".
	short     string
	retryable bool
	status    int // the HTTP status, 0 if none arrived
	// changed is a 412 on If-Match: the object was replaced during the pull; the whole pull may start over.
	changed bool
	kind    error // ErrNotFound, ErrAccessDenied or nil
	err     error
}

func (e *storeError) Error() string { return e.msg }

func (e *storeError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// errStalled is the cause of a request canceled because its response stopped arriving.
var errStalled = errors.New("stalled")

// throttleCodes are S3 error codes that ask the client to slow down or try again.
var throttleCodes = map[string]bool{
	"SlowDown": true, "Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"TooManyRequests": true, "RequestThrottled": true, "ServiceUnavailable": true, "InternalError": true,
	"RequestTimeout": true, "OperationAborted": true,
}

// classify turns an error of a deep storage call, or of reading a response body, into a storeError: the store's
// own answer (an HTTP status and error code) as the store's classifier reads it, else a network failure. stall is
// the stall timeout, for the message of a stalled transfer.
func classify(loc location, err error, stall time.Duration) *storeError {
	var se *storeError
	if errors.As(err, &se) {
		return se
	}
	var answered *storeError
	switch loc.scheme {
	case schemeGoogle:
		answered = classifyGoogle(loc, err)
	case schemeAzure:
		answered = classifyAzure(loc, err)
	default:
		answered = classifyS3(loc, err)
	}
	if answered != nil {
		return answered
	}
	return classifyNetwork(loc, err, stall)
}

// classifyS3 reads an S3 answer (status and error code); nil when no answer arrived.
func classifyS3(loc location, err error) *storeError {
	status, code, message := 0, "", ""
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code, message = api.ErrorCode(), api.ErrorMessage()
	}
	if status != 0 {
		short := strconv.Itoa(status)
		if code != "" {
			short += " " + code
		}
		e := &storeError{short: short, err: err, status: status}
		switch {
		case code == "NoSuchBucket":
			e.kind = ErrNotFound
			e.msg = fmt.Sprintf("%s: bucket %q does not exist (%s): check the bucket in the load spec and the S3 "+
				"endpoint (druid.s3.endpoint.url)", loc, loc.bucket, short)
		case code == "NoSuchKey" || code == "NotFound" || (status == http.StatusNotFound && code == ""):
			e.kind = ErrNotFound
			e.msg = fmt.Sprintf("%s does not exist (%s)", loc, short)
		case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound": // the latter: Versity's gateway
			e.kind = ErrAccessDenied
			e.msg = fmt.Sprintf("the S3 server does not know the access key used to read %s: check druid.s3.accessKey "+
				"(%s)", loc, short)
		case code == "SignatureDoesNotMatch":
			e.kind = ErrAccessDenied
			e.msg = fmt.Sprintf("the S3 server rejected the signature of the request for %s: check druid.s3.secretKey "+
				"(%s)", loc, short)
		case status == http.StatusMovedPermanently || code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed":
			e.msg = fmt.Sprintf("%s: the bucket is in another region than the one requests are signed for: set the "+
				"region (druid.s3.endpoint.signingRegion or AWS_REGION) (%s)", loc, short)
		default:
			return statusError(loc, err, status, code, message, throttleCodes[code],
				"druid.s3.accessKey/secretKey or the pod's IAM role")
		}
		return e
	}
	return nil
}

// retryableStatus says whether an HTTP status asks the client to try again later: throttling and server errors.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// classifyNetwork explains an error without an answer from the store: the network, a stall, TLS.
func classifyNetwork(loc location, err error, stall time.Duration) *storeError {
	e := &storeError{err: err, retryable: true}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.Is(err, errStalled):
		e.short = fmt.Sprintf("no data arrived for %v", stall)
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid):
		e.retryable = false
		e.msg = fmt.Sprintf("reading %s: the %s endpoint's TLS certificate is not trusted: %v", loc, loc.service(), err)
		return e
	case errors.Is(err, syscall.ECONNRESET):
		e.short = "the connection was reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.short = "the " + loc.service() + " endpoint refused the connection"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		e.short = "the connection closed before the whole response arrived"
	case errors.As(err, &netErr) && netErr.Timeout():
		e.short = "the network timed out"
	default:
		e.short = innermost(err).Error()
	}
	e.msg = fmt.Sprintf("reading %s: %s", loc, e.short)
	return e
}

// innermost is the deepest error of a chain of single wraps (the SDK's own wrapping says little to an operator).
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// answered says whether a failed request got an answer from its store: a refusal (not found, access denied, a
// changed or empty object) proves the store works; a connection error, a stall, throttling or a server error does not.
func answered(se *storeError) bool { return se.status != 0 && !se.retryable }

func (p *Puller) answered(loc location, err error) bool {
	return answered(classify(loc, err, p.stallTimeout))
}

// gaveUp is the error of a request that failed every attempt.
func gaveUp(loc location, attempts int, last *storeError) *storeError {
	return &storeError{
		msg:   fmt.Sprintf("%s: gave up after %d attempts: %s", loc, attempts, last.short),
		short: last.short, kind: last.kind, err: last,
	}
}

// retrier counts the failures of one request (a GET, a part of one, a page of a listing) and waits between them.
// A transfer that keeps moving (Puller.progressReset bytes since its last failure) starts its count afresh, so a
// long download over a flaky link is resumed for as long as the pull's timeout allows.
type retrier struct {
	p        *Puller
	loc      location
	fails    int
	progress int64
}

// moved counts bytes received since the last failure.
func (r *retrier) moved(n int64) { r.progress += n }

// failed decides what to do after err: nil means try again (after a backoff it has waited), otherwise the error
// to return.
func (r *retrier) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx, r.loc.String())
	}
	se := classify(r.loc, err, r.p.stallTimeout)
	if !answered(se) {
		// A body broken or stalled after a good answer, or a store that cannot be made: no answer either.
		r.p.metrics.setUp(backendOf(r.loc), false)
	}
	if !se.retryable {
		return se
	}
	if r.progress >= r.p.progressReset {
		r.fails = 0
	}
	r.progress = 0
	r.fails++
	if r.fails >= r.p.attempts {
		if r.p.attempts == 1 {
			return se
		}
		return gaveUp(r.loc, r.fails, se)
	}
	r.p.metrics.retries.WithLabelValues(backendOf(r.loc)).Inc()
	d := r.p.backoff(r.fails)
	r.p.log.Warn("retrying "+r.loc.service()+" request", "object", r.loc.String(), "attempt", r.fails, "attempts", r.p.attempts,
		"wait", d, "cause", se.short)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, r.loc.String())
	}
}

// backoff is exponential with full jitter: a random wait between 0 and min(max, base·2^(n-1)).
func (p *Puller) backoff(n int) time.Duration {
	ceiling := p.backoffBase << min(n-1, 30)
	if ceiling <= 0 || ceiling > p.backoffMax {
		ceiling = p.backoffMax
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// timeoutError is the cause of a pull's context when Options.PullTimeout runs out.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string {
	return fmt.Sprintf("the pull did not finish within its %v timeout", e.d)
}
func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// ctxError explains why a pull's context ended.
func ctxError(ctx context.Context, what string) error {
	cause := context.Cause(ctx)
	if errors.As(cause, new(timeoutError)) {
		return fmt.Errorf("%s: %w", what, cause)
	}
	return fmt.Errorf("%s: pull canceled: %w", what, cause)
}

// newS3Client builds the client every pull shares.
func newS3Client(o S3Options) (*s3.Client, error) {
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return nil, errors.New("S3 credentials need both an access key and a secret key (druid.s3.accessKey, " +
			"druid.s3.secretKey), or neither to use the default AWS credential chain")
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("S3 endpoint %q is not an http:// or https:// URL", o.Endpoint)
		}
	}
	loadOpts := []func(*config.LoadOptions) error{
		// The SDK's client, so that AWS_CA_BUNDLE and the like still apply to it.
		config.WithHTTPClient(defaultHTTPClient()),
		// Pulls retry themselves (with resumption of cut transfers); the SDK's own retries would multiply them.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.AccessKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
		// Archives carry CRC-32s of their own; whole-object checksums are asked for where they are the only check.
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		so.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// defaultHTTPClient is HTTP/1.1 only: parallel ranged GETs need connections of their own (S3 caps each one at
// about 85 MB/s), which HTTP/2 would multiplex onto one. Redirects are not followed (an S3 301 says the bucket is
// in another region, and is reported as such).
func defaultHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.MaxIdleConns = 512
		tr.MaxIdleConnsPerHost = 256
		tr.IdleConnTimeout = 90 * time.Second
		tr.DisableCompression = true
		tr.ReadBufferSize = 64 << 10
		tr.WriteBufferSize = 64 << 10
	}).WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 10 * time.Second
	})
}

// object is what a GET said about the object: its size and version.
type object struct {
	size int64
	etag string
}

// get issues one GET of bytes [start, end] (end < 0: to the end; start == 0 and end < 0: no Range header),
// conditional on etag when set, to the location's store. The body is cut if no byte arrives for the stall timeout.
// It returns the body positioned at start, with the object's size and version (ETag, or GCS generation).
func (p *Puller) get(ctx context.Context, loc location, start, end int64, etag string) (io.ReadCloser, object, error) {
	st, err := p.storeOf(loc)
	if err != nil {
		return nil, object{}, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(p.stallTimeout, func() { cancel(errStalled) })
	rep, err := st.read(rctx, loc, start, end, etag)
	if err != nil {
		timer.Stop()
		if context.Cause(rctx) == errStalled && ctx.Err() == nil {
			err = fmt.Errorf("waiting for the response: %w", errStalled)
		}
		cancel(nil)
		p.metrics.request(ctx, backendOf(loc), err, p.answered(loc, err))
		return nil, object{}, err
	}
	p.metrics.request(ctx, backendOf(loc), nil, true)
	b := &body{rc: rep.body, ctx: rctx, parent: ctx, cancel: cancel, timer: timer, stall: p.stallTimeout}
	obj := object{etag: rep.etag, size: -1}
	ranged := start > 0 || end >= 0
	if cr := rep.contentRange; cr != "" {
		first, last, total, ok := parseContentRange(cr)
		if !ok || first != start || (end >= 0 && last > end) || last-first+1 != rep.length {
			b.Close()
			return nil, object{}, &storeError{msg: fmt.Sprintf("%s: the %s server answered a request for bytes %s "+
				"with Content-Range %q", loc, loc.service(), httpRange(start, end), cr)}
		}
		obj.size = total
	} else {
		if rep.length < 0 {
			b.Close()
			return nil, object{}, &storeError{msg: fmt.Sprintf("%s: the %s server did not say how long the object is",
				loc, loc.service())}
		}
		obj.size = rep.length
		if ranged {
			// The server ignored the Range header and sent the whole object: skip to start, stop at end.
			if _, err := io.CopyN(io.Discard, b, start); err != nil {
				b.Close()
				return nil, object{}, err
			}
			if end >= 0 {
				b.limit = end - start + 1
			}
		}
	}
	return b, obj, nil
}

// httpRange is the Range header of bytes [start, end] (end < 0: to the end); "" for the whole object.
func httpRange(start, end int64) string {
	if start <= 0 && end < 0 {
		return ""
	}
	r := fmt.Sprintf("bytes=%d-", start)
	if end >= 0 {
		r += strconv.FormatInt(end, 10)
	}
	return r
}

// s3Store reads S3 through the SDK's client.
type s3Store struct{ client *s3.Client }

func (s s3Store) read(ctx context.Context, loc location, start, end int64, etag string) (reply, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(loc.bucket), Key: aws.String(loc.key)}
	if r := httpRange(start, end); r != "" {
		in.Range = aws.String(r)
	}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return reply{}, err
	}
	rep := reply{body: out.Body, contentRange: aws.ToString(out.ContentRange), etag: aws.ToString(out.ETag), length: -1}
	if out.ContentLength != nil {
		rep.length = *out.ContentLength
	}
	return rep, nil
}

func (s s3Store) list(ctx context.Context, loc location, token string, pageSize int) ([]listed, string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(loc.bucket)}
	if loc.key != "" {
		in.Prefix = aws.String(loc.key)
	}
	if pageSize > 0 {
		in.MaxKeys = aws.Int32(int32(min(pageSize, math.MaxInt32)))
	}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, "", err
	}
	objs := make([]listed, 0, len(out.Contents))
	for _, o := range out.Contents {
		objs = append(objs, listed{Object: Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size),
			LastModified: aws.ToTime(o.LastModified)}, etag: aws.ToString(o.ETag)})
	}
	if !aws.ToBool(out.IsTruncated) {
		return objs, "", nil
	}
	next := aws.ToString(out.NextContinuationToken)
	if next == "" {
		// A truncated page without a token cannot be continued; stopping silently would pass an incomplete
		// listing off as the whole prefix.
		return nil, "", &storeError{msg: fmt.Sprintf("listing %s: the S3 server said the listing is truncated but "+
			"gave no continuation token", loc)}
	}
	return objs, next, nil
}

// parseContentRange reads "bytes first-last/total".
func parseContentRange(s string) (first, last, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// body is a response body whose request is canceled when no byte arrives for the stall timeout.
type body struct {
	rc     io.ReadCloser
	limit  int64           // bytes left to read when a server sent more than the range asked for; 0: no limit
	ctx    context.Context // the request's
	parent context.Context // the pull's
	cancel context.CancelCauseFunc
	timer  *time.Timer
	stall  time.Duration
}

func (b *body) Read(p []byte) (int, error) {
	if b.limit < 0 {
		return 0, io.EOF
	}
	if b.limit > 0 && int64(len(p)) > b.limit {
		p = p[:b.limit]
	}
	n, err := b.rc.Read(p)
	if b.limit > 0 {
		if b.limit -= int64(n); b.limit == 0 {
			b.limit, err = -1, io.EOF
		}
	}
	if n > 0 {
		b.timer.Reset(b.stall)
	}
	if err != nil && err != io.EOF && context.Cause(b.ctx) == errStalled && b.parent.Err() == nil {
		err = fmt.Errorf("reading the response: %w", errStalled)
	}
	return n, err
}

func (b *body) Close() error {
	b.timer.Stop()
	b.cancel(nil)
	return b.rc.Close()
}
