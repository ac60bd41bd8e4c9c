package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestSeedingTwice: seeding again writes no object and leaves the metadata store as the first seeding left it,
// even after a row was changed by hand.
func TestSeedingTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := testenv.S3(t)
	pg := testenv.Postgres(t)
	c := S3Client(b.Endpoint, b.Region, b.AccessKey, b.SecretKey)
	if err := EnsureBucket(ctx, c, b.Bucket); err != nil {
		t.Fatalf("the bucket exists already: %v", err)
	}
	sets := []Dataset{{DataSource: "wikipedia", Days: 2, Partitions: 2}, {DataSource: "koalas", Days: 1, Partitions: 1, TombstoneDays: []int{1}}}
	segs, err := PutSegments(ctx, c, b.Bucket, "base", sets, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 6 || !segs[5].IsTombstone() || segs[5].DataSource != "koalas" {
		t.Fatalf("seeded %d segments, the last %v; want 4 of wikipedia, 1 of koalas and its tombstone", len(segs), segs[len(segs)-1].ID())
	}
	modified := func() map[string]time.Time {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]time.Time{}
		for _, o := range out.Contents {
			m[aws.ToString(o.Key)] = aws.ToTime(o.LastModified)
		}
		return m
	}
	before := modified()
	if len(before) != 5 {
		t.Fatalf("%d objects in the bucket, want 5 (no object for a tombstone)", len(before))
	}
	// LastModified has a resolution of a second: a rewrite is told apart once the clock has left the second of
	// the newest object (the S3 server runs on this machine's clock).
	var newest time.Time
	for _, v := range before {
		if v.After(newest) {
			newest = v
		}
	}
	time.Sleep(time.Until(newest.Truncate(time.Second).Add(time.Second)))
	again, err := PutSegments(ctx, c, b.Bucket, "base", sets, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range modified() {
		if !v.Equal(before[k]) {
			t.Errorf("%s was written again", k)
		}
	}
	for i := range segs {
		if segs[i].ID() != again[i].ID() || segs[i].Size != again[i].Size {
			t.Errorf("segment %d differs the second time: %v, %v", i, segs[i].ID(), again[i].ID())
		}
	}

	conn := pg.Conn(t)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	tables := cfg.Metadata.Tables
	count := func(q string) int {
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 2 {
		if err := SeedMetadata(ctx, conn, tables, segs, OneReplicaDefaultRules()); err != nil {
			t.Fatalf("seeding %d: %v", i+1, err)
		}
		if n := count("SELECT count(*) FROM druid_segments WHERE used"); n != len(segs) {
			t.Errorf("seeding %d: %d used rows, want %d", i+1, n, len(segs))
		}
		if n := count("SELECT count(*) FROM druid_rules"); n != 1 {
			t.Errorf("seeding %d: %d rules rows, want 1", i+1, n)
		}
		if _, err := conn.Exec(ctx, "UPDATE druid_segments SET used = false"); err != nil {
			t.Fatal(err)
		}
	}
}
