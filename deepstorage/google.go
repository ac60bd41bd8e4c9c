package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
)

// GoogleOptions say how to reach Google Cloud Storage. Druid's google extension authenticates with Google's
// Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, GKE's workload identity, the VM's service
// account), and so do pulls; only reading is asked for (the devstorage.read_only scope).
type GoogleOptions struct {
	// Endpoint is the base URL of a server speaking the Cloud Storage JSON API in Google's stead, such as
	// fake-gcs-server (http://127.0.0.1:4443); requests to it are not authenticated. Empty means Google's own
	// endpoint, or the emulator STORAGE_EMULATOR_HOST names, as Google's client libraries do.
	Endpoint string
	// ListPageSize is the objects of a listing's page (druid.google.maxListingLength); 0 means 1024, Druid's.
	ListPageSize int
	// HTTPClient, when set, carries every request as it is (no authentication is added). The default is the same
	// HTTP/1.1 client with a large connection pool as for S3, under Google's credentials.
	HTTPClient *http.Client
}

// googleStore reads Google Cloud Storage through the official client (cloud.google.com/go/storage).
type googleStore struct {
	client   *storage.Client
	pageSize int
	// compressed reads objects as stored even when they carry Content-Encoding: gzip (Google's XML API; the JSON
	// API, which emulators are read through, refuses the header that asks for it).
	compressed bool
}

func newGoogleStore(o GoogleOptions) (store, error) {
	ctx := context.Background()
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("STORAGE_EMULATOR_HOST")
	}
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	opts := []option.ClientOption{
		// Pulls retry themselves, resuming cut transfers; the client's own retries would multiply theirs.
		storage.WithDisabledClientMetrics(),
	}
	hc := o.HTTPClient
	switch {
	case hc != nil:
	case endpoint != "":
		hc = &http.Client{Transport: defaultHTTPClient().GetTransport(), CheckRedirect: noRedirects}
	default:
		// Google's credentials over the HTTP/1.1 transport, so that parallel ranged reads get connections of their
		// own rather than streams of one HTTP/2 connection.
		tr, err := htransport.NewTransport(ctx, defaultHTTPClient().GetTransport(), option.WithScopes(storage.ScopeReadOnly))
		if err != nil {
			return nil, fmt.Errorf("no Google credentials for Cloud Storage (set GOOGLE_APPLICATION_CREDENTIALS, or "+
				"run with a workload identity or service account): %w", err)
		}
		hc = &http.Client{Transport: tr, CheckRedirect: noRedirects}
	}
	opts = append(opts, option.WithHTTPClient(hc))
	if endpoint != "" {
		// Reads through the JSON API (…/o/<object>?alt=media), which emulators route by path, not the XML API they
		// route by host name (which a proxy in front of them changes).
		opts = append(opts, option.WithEndpoint(strings.TrimRight(endpoint, "/")+"/storage/v1/"),
			option.WithoutAuthentication(), storage.WithJSONReads())
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("making the Cloud Storage client: %w", err)
	}
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	pageSize := o.ListPageSize
	if pageSize <= 0 {
		pageSize = 1024
	}
	return &googleStore{client: client, pageSize: pageSize, compressed: endpoint == ""}, nil
}

// noRedirects hands a redirect back as the answer instead of following it.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// read uses a ranged reader. An object's version is its generation: reads after the first are conditional on it
// (ifGenerationMatch), so that a replaced object fails with 412 instead of mixing two objects' bytes. The bytes
// are read as stored (ReadCompressed), never decompressed on the way, so that ranges and sizes are the object's.
func (g *googleStore) read(ctx context.Context, loc location, start, end int64, etag string) (reply, error) {
	o := g.client.Bucket(loc.bucket).Object(loc.key).ReadCompressed(g.compressed)
	if etag != "" {
		gen, err := strconv.ParseInt(etag, 10, 64)
		if err != nil {
			return reply{}, fmt.Errorf("%s: generation %q is not a number", loc, etag)
		}
		o = o.If(storage.Conditions{GenerationMatch: gen})
	}
	length := int64(-1)
	if end >= 0 {
		length = end - start + 1
	}
	r, err := o.NewRangeReader(ctx, start, length)
	if err != nil {
		return reply{}, err
	}
	rep := reply{body: r, length: r.Remain(), etag: strconv.FormatInt(r.Attrs.Generation, 10)}
	if (start > 0 || end >= 0) && r.Remain() > 0 {
		first := r.Attrs.StartOffset
		rep.contentRange = fmt.Sprintf("bytes %d-%d/%d", first, first+r.Remain()-1, r.Attrs.Size)
	}
	return rep, nil
}

func (g *googleStore) list(ctx context.Context, loc location, token string, pageSize int) ([]listed, string, error) {
	if pageSize <= 0 {
		pageSize = g.pageSize
	}
	q := &storage.Query{Prefix: loc.key}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "Generation"}); err != nil {
		return nil, "", err
	}
	var attrs []*storage.ObjectAttrs
	next, err := iterator.NewPager(g.client.Bucket(loc.bucket).Objects(ctx, q), pageSize, token).NextPage(&attrs)
	if err != nil {
		return nil, "", err
	}
	objs := make([]listed, 0, len(attrs))
	for _, a := range attrs {
		objs = append(objs, listed{Object: Object{Key: a.Name, Size: a.Size, LastModified: a.Updated},
			etag: strconv.FormatInt(a.Generation, 10)})
	}
	return objs, next, nil
}

// classifyGoogle reads an answer of Cloud Storage (its client's sentinel errors, or an HTTP status); nil when no
// answer arrived.
func classifyGoogle(loc location, err error) *storeError {
	status, message := 0, ""
	var gerr *googleapi.Error
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return &storeError{short: "404", status: http.StatusNotFound, err: err, kind: ErrNotFound,
			msg: fmt.Sprintf("%s: bucket %q does not exist (404): check the bucket in the load spec", loc, loc.bucket)}
	case errors.Is(err, storage.ErrObjectNotExist):
		status = http.StatusNotFound
	case errors.As(err, &gerr):
		status, message = gerr.Code, gerr.Message
	}
	if status == 0 {
		return nil
	}
	return statusError(loc, err, status, "", message, false,
		"Google's credentials (GOOGLE_APPLICATION_CREDENTIALS, the workload identity or service account)")
}
