// Command seed writes segments in Druid's index.zip layout to an S3 bucket, laid out as Druid's S3 pusher lays
// them out, and prints each segment's DataSegment JSON on a line of its own (what druid_segments.payload holds and
// what `druid-sidecar cache pull -` reads). The demo uses it; it talks only to the endpoint given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

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
	client := sandbox.S3Client(endpoint, region, os.Getenv("DRUID_SIDECAR_TEST_S3_ACCESS_KEY"),
		os.Getenv("DRUID_SIDECAR_TEST_S3_SECRET_KEY"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := sandbox.EnsureBucket(ctx, client, bucket); err != nil {
		return err
	}
	segs, err := sandbox.PutSegments(ctx, client, bucket, baseKey,
		[]sandbox.Dataset{{DataSource: dataSource, Days: days, Partitions: partitions}}, chunk)
	if err != nil {
		return err
	}
	for _, seg := range segs {
		line, err := seg.AppendJSON(nil)
		if err != nil {
			return err
		}
		fmt.Printf("%s\n", line)
	}
	return nil
}
