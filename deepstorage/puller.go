package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/go-hclog"
)

// S3Options say how to reach S3 (or an S3-compatible server).
type S3Options struct {
	// Endpoint is the server's URL (http:// or https://); empty means AWS's own endpoint for the region.
	Endpoint string
	// Region signs requests; empty means the default AWS configuration's (AWS_REGION, ~/.aws/config), else
	// us-east-1.
	Region string
	// AccessKey and SecretKey (and SessionToken, if any) are static credentials; when both are empty the default
	// AWS credential chain is used (environment, shared files, web identity, the EC2/ECS/EKS role).
	AccessKey, SecretKey, SessionToken string
	// PathStyle addresses buckets as http://endpoint/bucket/key instead of http://bucket.endpoint/key
	// (druid.s3.enablePathStyleAccess); S3-compatible servers usually need it.
	PathStyle bool
	// HTTPClient, when set, carries every request. The default is an HTTP/1.1 client with a large connection pool.
	HTTPClient *http.Client
}

// Strategy is how an archive (.zip or .gz) is downloaded and unpacked.
type Strategy int

const (
	// Auto is StreamRanged, chosen by measurement (bench_test.go): as cheap in CPU as StreamSingle, faster
	// wherever a connection's bandwidth is the limit (S3's 85 MB/s), and no disk beyond the segment's own files.
	// An object no larger than PartSize is a single GET.
	Auto Strategy = iota
	// StreamSingle unpacks one GET as it arrives, as Druid's Java puller does.
	StreamSingle
	// StreamRanged unpacks the object as it arrives: the first part from the first GET's stream, while the next
	// Concurrency parts are fetched ahead with parallel ranged GETs into memory.
	StreamRanged
	// SpoolSingle downloads one GET into a temporary file, then unpacks it with random access.
	SpoolSingle
	// SpoolRanged downloads parts in parallel into a temporary file, then unpacks it with random access.
	SpoolRanged
)

func (s Strategy) String() string {
	switch s {
	case Auto:
		return "auto"
	case StreamSingle:
		return "stream-single"
	case StreamRanged:
		return "stream-ranged"
	case SpoolSingle:
		return "spool-single"
	case SpoolRanged:
		return "spool-ranged"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// Download tunes transfers.
type Download struct {
	// Strategy for archives; the zero value is Auto.
	Strategy Strategy
	// PartSize is the size of a ranged GET; 0 means 8 MiB.
	PartSize int64
	// Concurrency is how many ranged GETs one pull runs at once (and, for StreamRanged, how many parts it fetches
	// ahead into memory); 0 means 4.
	Concurrency int
	// Memory bounds the part buffers of all pulls together (StreamRanged); 0 means 256 MiB. When it runs short,
	// pulls fetch fewer parts ahead.
	Memory int64
}

// Options configure a Puller. The zero value of every field is a sensible default.
type Options struct {
	S3     S3Options
	Google GoogleOptions
	Azure  AzureOptions
	Logger hclog.Logger
	// PullTimeout bounds one Pull whatever its progress (druid.sidecar.pull.timeout); 0 or a negative value means
	// no bound but the caller's context, as in Druid: a large segment on slow storage must be able to finish, and
	// a transfer that stops moving is cut by StallTimeout instead.
	PullTimeout time.Duration
	// Retries is how many times a failed request is tried again (throttling, 5xx, a broken or stalled connection;
	// never a 403 or a 404). 0 means 2, so 3 attempts in all, as Druid's puller; a negative value means none.
	Retries int
	// Backoff is the first retry's wait ceiling, doubled at each retry up to MaxBackoff; each wait is random below
	// its ceiling (full jitter). 0 means 200 ms and 10 s.
	Backoff, MaxBackoff time.Duration
	// StallTimeout cuts (and retries) a request whose response stops arriving for this long
	// (druid.sidecar.pull.stallTimeout); 0 means 30 s.
	StallTimeout time.Duration
	// MaxFiles bounds the files of one segment; 0 means 10000 (a segment has a handful).
	MaxFiles int
	Download Download
}

// Puller pulls segments from deep storage into a segment directory. It is safe for concurrent use: pulls share
// one client of each store and its connections.
type Puller struct {
	client        *s3.Client
	google, azure *lazyStore
	azureSuffix   string // the blob endpoint's host suffix, cut off Hadoop-style blob paths
	log           hclog.Logger
	pullTimeout   time.Duration
	attempts      int
	backoffBase   time.Duration
	backoffMax    time.Duration
	stallTimeout  time.Duration
	maxFiles      int
	strategy      Strategy
	partSize      int64
	concurrency   int
	buffers       *bufferPool
	metrics       *metrics // processMetrics; tests give a Puller its own
	listPageSize  int      // tests: the objects of a listing's page (0: the store's default)
	progressReset int64    // bytes a transfer receives between two failures to start its count of attempts afresh
}

// New makes a Puller. Nothing is contacted yet: a wrong endpoint or credentials show in the first pull's error.
func New(opts Options) (*Puller, error) {
	client, err := newS3Client(opts.S3)
	if err != nil {
		return nil, err
	}
	p := &Puller{
		client:        client,
		google:        &lazyStore{build: func() (store, error) { return newGoogleStore(opts.Google) }},
		azure:         &lazyStore{build: func() (store, error) { return newAzureStore(opts.Azure) }},
		azureSuffix:   opts.Azure.blobSuffix(),
		log:           opts.Logger,
		pullTimeout:   opts.PullTimeout,
		attempts:      3,
		backoffBase:   defaultDuration(opts.Backoff, 200*time.Millisecond),
		backoffMax:    defaultDuration(opts.MaxBackoff, 10*time.Second),
		stallTimeout:  defaultDuration(opts.StallTimeout, 30*time.Second),
		maxFiles:      opts.MaxFiles,
		strategy:      opts.Download.Strategy,
		partSize:      opts.Download.PartSize,
		concurrency:   opts.Download.Concurrency,
		progressReset: 1 << 20,
		metrics:       processMetrics,
	}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	switch {
	case opts.Retries > 0:
		p.attempts = opts.Retries + 1
	case opts.Retries < 0:
		p.attempts = 1
	}
	if p.maxFiles <= 0 {
		p.maxFiles = 10000
	}
	if p.partSize <= 0 {
		p.partSize = 8 << 20
	}
	if p.concurrency <= 0 {
		p.concurrency = 4
	}
	memory := opts.Download.Memory
	if memory <= 0 {
		memory = 256 << 20
	}
	p.buffers = newBufferPool(p.partSize, int(max(1, memory/p.partSize)))
	if p.strategy < Auto || p.strategy > SpoolRanged {
		return nil, fmt.Errorf("unknown download strategy %v", p.strategy)
	}
	return p, nil
}

func defaultDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Result is what a pull wrote.
type Result struct {
	// Files are the names of the files written into the directory, in the order they were written.
	Files []string
	// Bytes is their total size (uncompressed).
	Bytes int64
	// Downloaded is how many bytes came from deep storage (retried bytes included).
	Downloaded int64
}

// pull is one Pull in progress.
type pull struct {
	p          *Puller
	ctx        context.Context
	root       *os.Root
	sink       *sink
	downloaded atomic.Int64
}

// Pull fetches a segment's files into dir, the segment's directory, and returns the files written. Every file is
// created through dir, never outside it, and never over a file already there (such as Druid's downloadStartMarker,
// which the caller may have put there first). The files must add up to no more than maxBytes (what the segment's
// cache location can give it; math.MaxInt64 for no bound): a larger archive fails before anything is written when
// its headers say so, and otherwise as soon as its bytes pass the bound, whatever its headers claim.
//
// When a pull fails, the files it created are removed again, so dir is as it was given; the error says what
// went wrong, with the object, in words an operator can act on. errors.Is matches ErrNotFound, ErrAccessDenied,
// ErrInvalidArchive, ErrTooLarge and ErrUnsupportedLoadSpec where they apply, and context.DeadlineExceeded or
// context.Canceled when the pull ran out of time or was canceled; cancellation stops transfers at once.
func (p *Puller) Pull(ctx context.Context, spec LoadSpec, dir *os.Root, maxBytes int64) (Result, error) {
	return p.pull(ctx, spec, dir, maxBytes, false)
}

// pull is Pull; with writeback, each file's bytes are handed to the disk as they are written (startWriteback), for
// a caller that makes the files durable next.
func (p *Puller) pull(ctx context.Context, spec LoadSpec, dir *os.Root, maxBytes int64, writeback bool) (Result, error) {
	if spec == nil || dir == nil {
		return Result{}, errors.New("deepstorage: Pull needs a load spec and a directory")
	}
	caller := ctx // a pull that runs out of its own time failed; only the caller's end makes it canceled
	if p.pullTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, p.pullTimeout, timeoutError{p.pullTimeout})
		defer cancel()
	}
	pl := &pull{p: p, ctx: ctx, root: dir, sink: newSink(dir, maxBytes, p.maxFiles)}
	pl.sink.writeback = writeback
	if maxBytes <= 0 {
		if _, ok := spec.(Tombstone); !ok {
			return Result{}, fmt.Errorf("%s: no bytes allowed for the segment (maxBytes %d)", spec, maxBytes)
		}
	}
	start := time.Now()
	res, err := pl.runAll(spec)
	if backend := specBackend(spec); backend != "" {
		p.metrics.duration.WithLabelValues(backend, outcome(caller, err)).Observe(time.Since(start).Seconds())
		if backend == backendLocal {
			// A local pull is its one request; the file system answered unless reading it failed below the
			// segment's own problems (not found, an unusable archive, too large).
			var ke *kindError
			p.metrics.request(caller, backend, err, err == nil || errors.As(err, &ke))
			p.metrics.bytes[backend].Add(float64(res.Bytes))
		}
	}
	if err != nil {
		return Result{}, err
	}
	d := time.Since(start)
	p.log.Debug("pulled segment", "from", spec.String(), "files", len(res.Files), "bytes", res.Bytes,
		"downloaded", res.Downloaded, "duration", d, "MBps", float64(res.Downloaded)/1e6/max(d.Seconds(), 1e-9))
	return res, nil
}

// runAll runs the pull, again from the start as often as the object changes under it (within the attempts).
func (pl *pull) runAll(spec LoadSpec) (Result, error) {
	p, ctx := pl.p, pl.ctx
	err := pl.run(spec)
	for attempt := 1; err != nil && attempt < p.attempts && shouldRestart(err) && ctx.Err() == nil; attempt++ {
		p.log.Warn("pulling again from the start", "segment", spec.String(), "cause", err)
		p.metrics.retries.WithLabelValues(specBackend(spec)).Inc()
		if rerr := pl.sink.removeAll(); rerr != nil {
			return Result{}, errors.Join(err, fmt.Errorf("emptying the segment directory for a retry: %w", rerr))
		}
		err = pl.run(spec)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			err = ctxError(ctx, spec.String())
		}
		if rerr := pl.sink.removeAll(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the files of the failed pull: %w", rerr))
		}
		return Result{}, err
	}
	res := pl.sink.result()
	res.Downloaded = pl.downloaded.Load()
	return res, nil
}

// received counts bytes of a body read from loc.
func (pl *pull) received(loc location, n int64) {
	pl.downloaded.Add(n)
	pl.p.metrics.bytes[backendOf(loc)].Add(float64(n))
}

// shouldRestart says whether a failed pull starts over: when the object changed under it.
func shouldRestart(err error) bool {
	var se *storeError
	return errors.As(err, &se) && se.changed
}

func (pl *pull) run(spec LoadSpec) error {
	switch s := spec.(type) {
	case S3Zip:
		return pl.object(s.location())
	case Google:
		return pl.object(s.location())
	case Azure:
		return pl.object(s.locationWith(pl.p.azureSuffix))
	case Local:
		return pl.local(s.Path)
	case Tombstone:
		return pl.tombstone()
	}
	return &UnsupportedTypeError{Type: spec.Type()}
}

// tombstoneFactory is what a Java Historical writes for a tombstone (TombstoneLoadSpec).
const tombstoneFactory = `{"type":"tombstoneSegmentFactory"}`

func (pl *pull) tombstone() error {
	pl.sink.max = int64(len(tombstoneFactory)) // a tombstone's declared size is 1; its file is fixed
	f, err := pl.sink.create("factory.json")
	if err != nil {
		return fmt.Errorf("tombstone: %w", err)
	}
	_, werr := io.WriteString(f, tombstoneFactory)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("tombstone: %w", err)
	}
	return nil
}

// object pulls an object store's load spec: a prefix of files (a key ending in "/"), an archive, or a gzipped
// file (S3 only). Druid's Google and Azure pullers unzip whatever else the path names, so they do too.
func (pl *pull) object(loc location) error {
	switch {
	case strings.HasSuffix(loc.key, "/"):
		return pl.prefix(loc)
	case strings.HasSuffix(loc.key, ".gz") && loc.scheme == schemeS3:
		name := strings.TrimSuffix(path.Base(loc.key), ".gz")
		return pl.wrapArchive(loc.String(), pl.gz(loc, name))
	case strings.HasSuffix(loc.key, ".zip") || loc.scheme != schemeS3:
		return pl.wrapArchive(loc.String(), pl.zip(loc))
	}
	return &kindError{kind: ErrInvalidArchive, msg: fmt.Sprintf("%s: the key ends neither in .zip, .gz nor / "+
		"(Druid writes index.zip, or a prefix with druid.storage.zip=false), so there is no way to load it", loc)}
}

// wrapArchive puts the location in front of an error about an archive's contents.
func (pl *pull) wrapArchive(where string, err error) error {
	if err == nil {
		return nil
	}
	var ke *kindError
	if errors.As(err, &ke) {
		return &kindError{kind: ke.kind, msg: fmt.Sprintf("%s is not a usable segment archive: %s", where, ke.msg)}
	}
	var se *storeError
	if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}

// limitSlack is how much larger than maxBytes a compressed object may be and still hold no more than maxBytes
// (DEFLATE and zip headers add a little to incompressible data). It saturates: maxBytes may be math.MaxInt64 (a
// location without maxSize), where adding the slack would wrap around to a negative bound that refuses everything.
func limitSlack(maxBytes int64) int64 {
	slack := maxBytes/100 + 1<<20
	if maxBytes > math.MaxInt64-slack {
		return math.MaxInt64
	}
	return maxBytes + slack
}

func (pl *pull) checkObjectSize(size int64) error {
	if size > limitSlack(pl.sink.max) {
		return &kindError{kind: ErrTooLarge, msg: fmt.Sprintf("it holds %d bytes, more than the %d allowed for the "+
			"segment (the room its cache location has, plus margin)", size, pl.sink.max)}
	}
	return nil
}

func (pl *pull) zip(loc location) error {
	switch pl.p.strategy {
	case SpoolSingle:
		return pl.spooled(loc, false)
	case SpoolRanged:
		return pl.spooled(loc, true)
	}
	r, err := pl.reader(loc)
	if err != nil {
		return err
	}
	err = unzipStream(r, pl.sink)
	r.Close()
	if errors.Is(err, errNotStreamable) {
		return pl.spooled(loc, pl.p.strategy != StreamSingle)
	}
	return err
}

// reader reads an object front to back, the way the strategy says: one GET (StreamSingle), or a first ranged GET
// followed, past the first part, by parts fetched ahead in parallel (Auto, StreamRanged).
func (pl *pull) reader(loc location) (io.ReadCloser, error) {
	if pl.p.strategy == StreamSingle {
		return pl.newStream(loc), nil
	}
	s, err := pl.openStream(loc)
	if err != nil {
		return nil, err
	}
	if err := pl.checkObjectSize(s.obj.size); err != nil {
		s.Close()
		return nil, err
	}
	if s.obj.size <= pl.p.partSize {
		return s, nil
	}
	return pl.newPartsReader(s), nil
}

// spooled downloads the object into an unnamed temporary file in the segment directory, then unpacks it.
func (pl *pull) spooled(loc location, ranged bool) error {
	if err := pl.sink.removeAll(); err != nil {
		return err
	}
	f, err := createSpool(pl.root)
	if err != nil {
		return err
	}
	defer f.Close()
	var s *streamReader
	if ranged {
		if s, err = pl.openStream(loc); err != nil {
			return err
		}
		if err := pl.checkObjectSize(s.obj.size); err != nil {
			s.Close()
			return err
		}
	} else {
		s = pl.newStream(loc)
	}
	// The first GET (the whole object, or its first part) is copied as it comes; further parts in parallel.
	n, err := io.Copy(f, s)
	s.Close()
	if err != nil {
		var se *storeError
		if errors.As(err, &se) || pl.ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("writing the download's temporary file: %w", err)
	}
	size := n
	if ranged && s.obj.size > n {
		size = s.obj.size
		var jobs []rangeJob
		for start := n; start < size; start += pl.p.partSize {
			jobs = append(jobs, rangeJob{loc: loc, etag: s.obj.etag, start: start, n: min(pl.p.partSize, size-start), w: f})
		}
		if err := pl.fetchAll(loc.String(), jobs); err != nil {
			return err
		}
	}
	if size == 0 {
		return invalidf("the object is empty")
	}
	return unzipAt(f, size, pl.sink)
}

// createSpool makes a temporary file in the segment directory and unlinks it at once: it takes no name a segment
// file could want, and vanishes by itself if the process dies. (The directory's downloadStartMarker already makes
// a crash mid-pull harmless; this just leaves nothing behind.)
func createSpool(root *os.Root) (*os.File, error) {
	for range 10 {
		name := fmt.Sprintf(".druid-sidecar-download-%016x", rand.Uint64())
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("creating the download's temporary file: %w", err)
		}
		if err := root.Remove(name); err != nil {
			f.Close()
			return nil, fmt.Errorf("unlinking the download's temporary file: %w", err)
		}
		return f, nil
	}
	return nil, errors.New("creating the download's temporary file: every name tried exists")
}

func (pl *pull) gz(loc location, name string) error {
	if name == "" {
		return invalidf("the key's file name is only .gz")
	}
	r, err := pl.reader(loc)
	if err != nil {
		return err
	}
	defer r.Close()
	return gunzip(r, pl.sink, name)
}

// prefix pulls a segment stored unzipped (Druid 35+, druid.storage.zip=false): every object under the prefix is
// one file, named after the rest of its key.
func (pl *pull) prefix(loc location) error {
	type obj struct {
		name, key, etag string
		size            int64
	}
	var objs []obj
	var total int64
	err := pl.p.listPages(pl.ctx, loc, func(page []listed) error {
		for _, o := range page {
			name := strings.TrimPrefix(o.Key, loc.key)
			if name == "" {
				continue // a "directory" marker object
			}
			if strings.Contains(name, "/") {
				return &kindError{kind: ErrInvalidArchive, msg: fmt.Sprintf("%s holds %s, below a subdirectory: "+
					"Druid stores an unzipped segment's files flat under its prefix", loc, loc.at(o.Key))}
			}
			if len(objs) >= pl.p.maxFiles {
				return &kindError{kind: ErrInvalidArchive, msg: fmt.Sprintf("%s holds more than %d objects "+
					"(a segment has a handful of files): it is not one segment's prefix", loc, pl.p.maxFiles)}
			}
			objs = append(objs, obj{name: name, key: o.Key, etag: o.etag, size: o.Size})
			total += o.Size
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return &kindError{kind: ErrNotFound, msg: fmt.Sprintf("%s does not exist: no object has that prefix", loc)}
	}
	if total > pl.sink.max {
		return &kindError{kind: ErrTooLarge, msg: fmt.Sprintf("%s holds %d bytes in %d objects, more than the %d "+
			"allowed for the segment (the room its cache location has)", loc, total, len(objs), pl.sink.max)}
	}
	var jobs []rangeJob
	var files []*sinkFile
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, o := range objs {
		f, err := pl.sink.create(o.name)
		if err != nil {
			return pl.wrapArchive(loc.String(), err)
		}
		files = append(files, f)
		ol := loc.at(o.key)
		for start := int64(0); start < o.size; start += pl.p.partSize {
			jobs = append(jobs, rangeJob{loc: ol, etag: o.etag, start: start, n: min(pl.p.partSize, o.size-start), w: f})
		}
	}
	if err := pl.fetchAll(loc.String(), jobs); err != nil {
		return pl.wrapArchive(loc.String(), err)
	}
	var errs []error
	for _, f := range files {
		errs = append(errs, f.Close())
	}
	files = nil
	return errors.Join(errs...)
}
