// Command seed writes segments in Druid's index.zip layout to an S3 bucket, laid out as Druid's S3 pusher lays
// them out, and prints each segment's DataSegment JSON on a line of its own (what druid_segments.payload holds and
// what `druid-sidecar cache pull -` reads). The demo and the sandbox use it; it talks only to the endpoint given.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
)

func main() {
	endpoint := flag.String("endpoint", os.Getenv("DRUID_SIDECAR_TEST_S3_ENDPOINT"), "S3 endpoint URL")
	region := flag.String("region", "us-east-1", "S3 region")
	bucket := flag.String("bucket", "demo-segments", "bucket, created when missing")
	baseKey := flag.String("base-key", "druid/segments", "druid.storage.baseKey")
	dataSource := flag.String("datasource", "wikipedia", "dataSource of the segments")
	days := flag.Int("days", 3, "number of daily intervals")
	partitions := flag.Int("partitions", 2, "segments per interval")
	chunk := flag.Int("column-bytes", 4<<20, "bytes of column data per segment")
	flag.Parse()
	if err := seed(*endpoint, *region, *bucket, *baseKey, *dataSource, *days, *partitions, *chunk); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
}

func seed(endpoint, region, bucket, baseKey, dataSource string, days, partitions, chunk int) error {
	if endpoint == "" {
		return errors.New("no S3 endpoint: pass --endpoint or set DRUID_SIDECAR_TEST_S3_ENDPOINT (scripts/services.sh env)")
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       region,
		UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("DRUID_SIDECAR_TEST_S3_ACCESS_KEY"),
			os.Getenv("DRUID_SIDECAR_TEST_S3_SECRET_KEY"), ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("creating bucket %s at %s: %w", bucket, endpoint, err)
		}
	}
	for day := range days {
		for p := range partitions {
			data, size, err := sandbox.IndexZip(uint64(day*1000+p), chunk)
			if err != nil {
				return err
			}
			seg := sandbox.Segment(dataSource, day, p, partitions, bucket, baseKey, size)
			key := sandbox.Key(baseKey, seg.ID())
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Body: bytes.NewReader(data)}); err != nil {
				return fmt.Errorf("writing s3://%s/%s: %w", bucket, key, err)
			}
			line, err := seg.AppendJSON(nil)
			if err != nil {
				return err
			}
			fmt.Printf("%s\n", line)
		}
	}
	return nil
}
