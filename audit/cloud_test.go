package audit

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// The healthy cluster's segments moved to Google Cloud Storage and to Azure Blob Storage (the emulators of
// scripts/services.sh), their rows' load specs rewritten as Druid's google and azure pushers write them: the audit
// lists the bucket (container), finds every used segment's object, and reports an object nobody references and
// a segment whose object is gone, named gs:// and azure://.
func TestRunCloudDeepStorage(t *testing.T) {
	gcs := testenv.GCS(t)
	az := testenv.Azure(t)
	for _, c := range []struct {
		name, scheme, bucket string
		loadSpec             string // a regexp replacement of an s3_zip load spec; \1 is the quoted key
		put                  func(t testing.TB, key string, data []byte)
		sets                 []string
	}{
		{name: "google", scheme: "gs", bucket: gcs.Bucket, put: gcs.Put,
			loadSpec: `"type":"google","bucket":"` + gcs.Bucket + `","path":\1`,
			sets: []string{"druid.storage.type=google", "druid.google.bucket=" + gcs.Bucket,
				"druid.google.prefix=" + audittest.BaseKey, "druid.sidecar.google.endpoint=" + gcs.Endpoint}},
		{name: "azure", scheme: "azure", bucket: az.Container, put: az.Put,
			loadSpec: `"type":"azure","containerName":"` + az.Container + `","blobPath":\1`,
			sets: []string{"druid.storage.type=azure", "druid.azure.container=" + az.Container,
				"druid.azure.prefix=" + audittest.BaseKey, "druid.azure.account=" + az.Account, "druid.azure.key=" + az.Key,
				"druid.sidecar.azure.endpoint=" + az.Endpoint}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := audittest.New(t, audittest.Options{Healthy: true})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			conn := cl.PG.Conn(t)
			table := cl.Config.Metadata.Tables.Segments()
			rows, err := conn.Query(ctx, `SELECT convert_from(payload, 'UTF8') FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for rows.Next() {
				var payload string
				if err := rows.Scan(&payload); err != nil {
					t.Fatal(err)
				}
				if _, rest, ok := strings.Cut(payload, `"key":"`); ok { // a tombstone has none
					key, _, _ := strings.Cut(rest, `"`)
					keys = append(keys, key)
				}
			}
			if rows.Close(); rows.Err() != nil || len(keys) < 2 {
				t.Fatalf("segment rows: %q, %v", keys, rows.Err())
			}
			// The objects, copied from S3 as they are.
			s3c := cl.S3.Client(t)
			for _, key := range keys {
				out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cl.S3.Bucket), Key: aws.String(key)})
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				c.put(t, key, data)
			}
			if _, err := conn.Exec(ctx, `UPDATE `+table+` SET payload = convert_to(regexp_replace(convert_from(payload, 'UTF8'), `+
				`'"type":"s3_zip","bucket":"[^"]*","key":("[^"]*"),"S3Schema":"s3n"', $1), 'UTF8')`, c.loadSpec); err != nil {
				t.Fatal(err)
			}
			cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: append(append([]string{}, cl.Sets...), c.sets...)})
			if err != nil {
				t.Fatal(err)
			}
			cl.Config = cfg
			rep := runAudit(t, cl, Options{})
			url := func(key string) string { return c.scheme + "://" + c.bucket + "/" + key }
			if !rep.Clean() || rep.Totals.DeepStorageObjects != int64(len(keys)) || !rep.Inputs.DeepStorageChecked ||
				rep.Inputs.DeepStorage != url(audittest.BaseKey+"/") {
				t.Fatalf("moved cluster: %+v %+v %+v", rep.Inputs, rep.Totals, rep.Findings)
			}

			// An object nobody references, and a segment whose object is gone (kept out of its directory).
			orphan := audittest.BaseKey + "/wiki/2020-01-01T00:00:00.000Z_2020-01-02T00:00:00.000Z/v/0/index.zip"
			c.put(t, orphan, []byte("not referenced"))
			if _, err := conn.Exec(ctx, `UPDATE `+table+` SET payload = convert_to(replace(convert_from(payload, 'UTF8'), $1, $2), 'UTF8')`,
				keys[0], keys[0]+".gone"); err != nil {
				t.Fatal(err)
			}
			rep = runAudit(t, cl, Options{})
			var got []string
			for _, f := range rep.Findings {
				got = append(got, fmt.Sprintf("%s %s", f.Kind, f.Object))
			}
			want := []string{fmt.Sprintf("%s %s", KindMissingInDeepStorage, url(keys[0]+".gone")),
				fmt.Sprintf("%s %s", KindOrphanInDeepStorage, url(orphan))}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("findings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
