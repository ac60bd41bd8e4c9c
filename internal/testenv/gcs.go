package testenv

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// The Google Cloud Storage emulator's variable, as printed by `scripts/services.sh env`.
const EnvGCSEndpoint = "DRUID_SIDECAR_TEST_GCS_ENDPOINT" // http://host:port of fake-gcs-server

// GCSBucket is a fresh, empty bucket of the test's own on the local Google Cloud Storage emulator
// (fake-gcs-server), which takes unauthenticated requests.
type GCSBucket struct {
	Endpoint string // http://host:port: the JSON API is under /storage/v1/
	Bucket   string
}

// GCS creates a fresh bucket for the test and, when the test ends, deletes its objects and the bucket.
func GCS(t testing.TB) GCSBucket {
	t.Helper()
	Integration(t)
	return gcsAt(t, defaultLimits, GCSBucket{Endpoint: setting(t, "GCS emulator", EnvGCSEndpoint)})
}

func gcsAt(t testing.TB, lim limits, b GCSBucket) GCSBucket {
	t.Helper()
	u, err := url.Parse(b.Endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		t.Fatalf("testenv: GCS emulator: %s=%q is not an http://host:port endpoint (%v).\n\tfix: %s.", EnvGCSEndpoint,
			b.Endpoint, err, fix)
	}
	dialCheck(t, lim, "GCS emulator", u.Host)
	b.Bucket = uniqueName(t, "dst-", '-', true, 63)
	client := b.client(t, lim)
	ctx, cancel := context.WithTimeout(context.Background(), lim.op)
	defer cancel()
	if err := client.Bucket(b.Bucket).Create(ctx, "druid-sidecar-test", nil); err != nil {
		fail(t, "GCS emulator", b.Endpoint, "creating bucket "+b.Bucket, err)
	}
	t.Cleanup(func() {
		if err := gcsDeleteBucket(client, lim, b.Bucket); err != nil {
			t.Errorf("testenv: GCS emulator at %s: removing the test's bucket %s: %v", b.Endpoint, b.Bucket, err)
		}
		client.Close()
	})
	return b
}

// Client returns a client of the emulator, closed when the test ends.
func (b GCSBucket) Client(t testing.TB) *storage.Client {
	t.Helper()
	c := b.client(t, defaultLimits)
	t.Cleanup(func() { c.Close() })
	return c
}

func (b GCSBucket) client(t testing.TB, lim limits) *storage.Client {
	t.Helper()
	transport := emulatorTransport(lim)
	c, err := storage.NewClient(context.Background(), option.WithEndpoint(b.Endpoint+"/storage/v1/"),
		option.WithoutAuthentication(), option.WithHTTPClient(&http.Client{Transport: transport}),
		storage.WithDisabledClientMetrics())
	if err != nil {
		fail(t, "GCS emulator", b.Endpoint, "making a client", err)
	}
	return c
}

// Put stores body under name in the test's bucket.
func (b GCSBucket) Put(t testing.TB, name string, body []byte) {
	t.Helper()
	c := b.client(t, defaultLimits)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*defaultLimits.op)
	defer cancel()
	w := c.Bucket(b.Bucket).Object(name).NewWriter(ctx)
	w.ChunkSize = 0 // one request: the emulator's uploads are in memory anyway
	_, werr := w.Write(body)
	if err := errors.Join(werr, w.Close()); err != nil {
		fail(t, "GCS emulator", b.Endpoint, "putting gs://"+b.Bucket+"/"+name, err)
	}
}

// gcsDeleteBucket deletes every object and then the bucket; a bucket that is already gone is fine.
func gcsDeleteBucket(c *storage.Client, lim limits, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*lim.op)
	defer cancel()
	it := c.Bucket(bucket).Objects(ctx, nil)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if errors.Is(err, storage.ErrBucketNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Bucket(bucket).Object(a.Name).Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
			return err
		}
	}
	if err := c.Bucket(bucket).Delete(ctx); err != nil && !errors.Is(err, storage.ErrBucketNotExist) {
		return err
	}
	return nil
}

// emulatorTransport is an HTTP transport for an emulator's client, within the limits.
func emulatorTransport(lim limits) *http.Transport {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: lim.dial, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = 3 * lim.op
	transport.MaxIdleConnsPerHost = 64
	return transport
}
