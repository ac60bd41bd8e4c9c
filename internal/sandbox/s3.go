package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Version is the version of every seeded segment and tombstone: one publish of each dataSource.
const Version = "2025-10-01T12:00:00.000Z"

// Dataset is the shape of one seeded dataSource: Days daily intervals from 2025-01-01, Partitions numbered segments
// in each, then one tombstone for each day listed in TombstoneDays (days counted from 2025-01-01 too, normally
// after the data days: an interval whose data was replaced by nothing, as a REPLACE ingestion leaves it).
type Dataset struct {
	DataSource    string
	Days          int
	Partitions    int
	TombstoneDays []int
}

// S3Client returns a client of the S3 server at endpoint with path-style addressing and static credentials, which
// the local S3 servers need. It sends checksums only where S3 requires them, as Druid's own client does.
func S3Client(endpoint, region, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(endpoint),
		Region:                     region,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// EnsureBucket creates bucket unless it already exists.
func EnsureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("creating bucket %s at %s: %w", bucket, endpointOf(c), err)
		}
	}
	return nil
}

func endpointOf(c *s3.Client) string {
	if e := c.Options().BaseEndpoint; e != nil {
		return *e
	}
	return "the S3 endpoint"
}

// PutSegments writes the segments of each dataset to bucket, each index.zip where Druid's S3 pusher puts it under
// baseKey (see Key), with columnBytes of column data per segment, and returns their DataSegments in the order
// written, tombstones (which have nothing in deep storage) after each dataset's data. The archives are the same
// bytes on every call, and an object of the right size already in the bucket is left alone, so seeding twice
// writes nothing the second time.
func PutSegments(ctx context.Context, c *s3.Client, bucket, baseKey string, datasets []Dataset, columnBytes int) ([]*segments.DataSegment, error) {
	var out []*segments.DataSegment
	for i, ds := range datasets {
		for day := range ds.Days {
			for p := range ds.Partitions {
				// The first dataset's seeds are those `seed` always used, so its archives keep their bytes.
				data, size, err := IndexZip(uint64(i*1_000_000+day*1000+p), columnBytes)
				if err != nil {
					return nil, err
				}
				seg := Segment(ds.DataSource, day, p, ds.Partitions, bucket, baseKey, size)
				key := Key(baseKey, seg.ID())
				if err := putOnce(ctx, c, bucket, key, data); err != nil {
					return nil, err
				}
				out = append(out, seg)
			}
		}
		for _, day := range ds.TombstoneDays {
			out = append(out, Tombstone(ds.DataSource, day))
		}
	}
	return out, nil
}

// putOnce writes data to s3://bucket/key unless an object of the same length is there: the archives are
// deterministic, so the length stands for the content.
func putOnce(ctx context.Context, c *s3.Client, bucket, key string, data []byte) error {
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil && aws.ToInt64(head.ContentLength) == int64(len(data)) {
		return nil
	}
	// Any other answer (not found, another size, an error of the HEAD itself) leads to the PUT, whose error says
	// what is wrong if something is.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		return fmt.Errorf("writing s3://%s/%s at %s: %w", bucket, key, endpointOf(c), err)
	}
	return nil
}

// Tombstone is the tombstone of dataSource for day (days since 2025-01-01), as Druid's TombstoneHelper publishes
// it, at Version.
func Tombstone(dataSource string, day int) *segments.DataSegment {
	t := segments.NewTombstone(dataSource, DayInterval(day), Version)
	return &t
}
