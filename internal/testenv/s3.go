package testenv

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Bucket is a fresh, empty bucket of the test's own on the local S3 server, which needs path-style addressing.
type S3Bucket struct {
	Endpoint  string // http://host:port (druid.s3.endpoint.url, with druid.s3.enablePathStyleAccess=true)
	AccessKey string
	SecretKey string
	Region    string
	Bucket    string
}

// S3 creates a fresh bucket for the test and, when the test ends, empties it (objects and unfinished multipart
// uploads) and deletes it.
func S3(t testing.TB) S3Bucket {
	t.Helper()
	Integration(t)
	cfg := S3Bucket{
		Endpoint:  setting(t, "S3", EnvS3Endpoint),
		AccessKey: setting(t, "S3", EnvS3AccessKey),
		SecretKey: setting(t, "S3", EnvS3SecretKey),
		Region:    setting(t, "S3", EnvS3Region),
	}
	return s3At(t, defaultLimits, cfg)
}

func s3At(t testing.TB, lim limits, s S3Bucket) S3Bucket {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		t.Fatalf("testenv: S3: %s=%q is not an http://host:port endpoint (%v).\n\tfix: %s.", EnvS3Endpoint, s.Endpoint, err, fix)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	dialCheck(t, lim, "S3", host)

	s.Bucket = uniqueName(t, "dst-", '-', true, 63)
	client := s.client(lim)
	ctx, cancel := context.WithTimeout(context.Background(), lim.op)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		fail(t, "S3", s.Endpoint, "creating bucket "+s.Bucket, err)
	}
	t.Cleanup(func() {
		if err := s3DeleteBucket(client, lim, s.Bucket); err != nil {
			t.Errorf("testenv: S3 at %s: removing the test's bucket %s: %v", s.Endpoint, s.Bucket, err)
		}
	})
	return s
}

// Client returns an S3 client for the endpoint with path-style addressing and the root credentials. It sends
// checksums only where S3 requires them, as Druid's own client does.
func (s S3Bucket) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s.client(defaultLimits)
}

func (s S3Bucket) client(lim limits) *s3.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: lim.dial, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = 3 * lim.op
	transport.MaxIdleConnsPerHost = 64
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: transport},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Put stores body under key in the test's bucket.
func (s S3Bucket) Put(t testing.TB, key string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*defaultLimits.op)
	defer cancel()
	_, err := s.client(defaultLimits).PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		fail(t, "S3", s.Endpoint, "putting s3://"+s.Bucket+"/"+key, err)
	}
}

// s3DeleteBucket aborts unfinished multipart uploads, deletes every object and then the bucket; a bucket that is
// already gone is fine. Each request has lim.op.
func s3DeleteBucket(c *s3.Client, lim limits, bucket string) error {
	call := func(f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), lim.op)
		defer cancel()
		return f(ctx)
	}
	var nsb *types.NoSuchBucket
	uploads := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for uploads.HasMorePages() {
		var page *s3.ListMultipartUploadsOutput
		err := call(func(ctx context.Context) (err error) { page, err = uploads.NextPage(ctx); return err })
		if errors.As(err, &nsb) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, up := range page.Uploads {
			err := call(func(ctx context.Context) error {
				_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: up.Key, UploadId: up.UploadId})
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	objects := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for objects.HasMorePages() {
		var page *s3.ListObjectsV2Output
		if err := call(func(ctx context.Context) (err error) { page, err = objects.NextPage(ctx); return err }); err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		var out *s3.DeleteObjectsOutput
		err := call(func(ctx context.Context) (err error) {
			out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			return err
		})
		if err != nil {
			return err
		}
		var errs []error
		for _, e := range out.Errors {
			errs = append(errs, errors.New("deleting "+aws.ToString(e.Key)+": "+aws.ToString(e.Code)+" "+aws.ToString(e.Message)))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return call(func(ctx context.Context) error {
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		return err
	})
}
