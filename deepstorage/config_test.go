package deepstorage

import (
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

func TestOptionsFromConfig(t *testing.T) {
	for _, tc := range []struct {
		sets     []string
		endpoint string
	}{
		{nil, ""},
		{[]string{"druid.s3.endpoint.url=s3.example.com:9000"}, "https://s3.example.com:9000"},
		{[]string{"druid.s3.endpoint.url=127.0.0.1:9000", "druid.s3.protocol=http"}, "http://127.0.0.1:9000"},
		{[]string{"druid.s3.endpoint.url=http://127.0.0.1:9000", "druid.s3.protocol=https"}, "http://127.0.0.1:9000"},
	} {
		sets := append([]string{"druid.s3.accessKey=AK", "druid.s3.secretKey=SK", "druid.s3.enablePathStyleAccess=true",
			"druid.s3.endpoint.signingRegion=eu-west-1"}, tc.sets...)
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets})
		if err != nil {
			t.Fatal(err)
		}
		o := OptionsFromConfig(cfg)
		want := S3Options{Endpoint: tc.endpoint, Region: "eu-west-1", AccessKey: "AK", SecretKey: "SK", PathStyle: true}
		if o.S3 != want {
			t.Errorf("%v: S3 options %+v, want %+v", tc.sets, o.S3, want)
		}
		if o.StallTimeout != 30*time.Second || o.PullTimeout != 0 {
			t.Errorf("%v: stall timeout %v and pull timeout %v, want 30s and none", tc.sets, o.StallTimeout, o.PullTimeout)
		}
	}
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: []string{"druid.sidecar.pull.stallTimeout=PT2M",
		"druid.sidecar.pull.timeout=PT6H"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := OptionsFromConfig(cfg); o.StallTimeout != 2*time.Minute || o.PullTimeout != 6*time.Hour {
		t.Errorf("stall timeout %v and pull timeout %v, want 2m and 6h", o.StallTimeout, o.PullTimeout)
	}
}
