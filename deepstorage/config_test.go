package deepstorage

import (
	"strings"
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

// The google and azure keys as Druid's extensions name them, Druid's defaults, and the deprecated endpointSuffix
// winning over storageAccountEndpointSuffix.
func TestOptionsFromConfigCloud(t *testing.T) {
	load := func(sets ...string) *configs.Config {
		t.Helper()
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, Sets: sets})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	o := OptionsFromConfig(load())
	if (o.Google != GoogleOptions{ListPageSize: 1024}) || (o.Azure != AzureOptions{Protocol: "https",
		EndpointSuffix: "blob.core.windows.net", ListPageSize: 1024}) || o.Retries != 0 {
		t.Errorf("defaults: google %+v, azure %+v, retries %d", o.Google, o.Azure, o.Retries)
	}
	o = OptionsFromConfig(load("druid.storage.type=azure", "druid.azure.account=acct", "druid.azure.key=a2V5",
		"druid.azure.sharedAccessStorageToken=sv=1&sig=x", "druid.azure.endpointSuffix=core.chinacloudapi.cn",
		"druid.azure.storageAccountEndpointSuffix=blob.core.windows.net", "druid.azure.maxTries=5",
		"druid.azure.maxListingLength=10", "druid.sidecar.azure.endpoint=http://127.0.0.1:10000/acct",
		"druid.google.maxListingLength=7", "druid.sidecar.google.endpoint=http://127.0.0.1:4443"))
	want := AzureOptions{Account: "acct", Key: "a2V5", SAS: "sv=1&sig=x", Protocol: "https",
		EndpointSuffix: "blob.core.chinacloudapi.cn", Endpoint: "http://127.0.0.1:10000/acct", ListPageSize: 10}
	if o.Azure != want || o.Retries != 4 || (o.Google != GoogleOptions{Endpoint: "http://127.0.0.1:4443", ListPageSize: 7}) {
		t.Errorf("azure %+v (retries %d), want %+v; google %+v", o.Azure, o.Retries, want, o.Google)
	}
	if o := OptionsFromConfig(load("druid.storage.type=azure", "druid.azure.maxTries=1")); o.Retries != -1 {
		t.Errorf("maxTries=1: retries %d, want none (-1)", o.Retries)
	}

	for _, c := range []struct {
		sets   []string
		bucket Bucket
		prefix string
		ok     bool
		err    string
	}{
		{[]string{"druid.storage.type=s3", "druid.storage.bucket=b", "druid.storage.baseKey=druid/segments"}, Bucket{"s3", "b"}, "druid/segments/", true, ""},
		{[]string{"druid.storage.type=google", "druid.google.bucket=g", "druid.google.prefix=druid"}, Bucket{"gs", "g"}, "druid/", true, ""},
		{[]string{"druid.storage.type=google", "druid.google.bucket=g"}, Bucket{"gs", "g"}, "", true, ""},
		{[]string{"druid.storage.type=azure", "druid.azure.container=c", "druid.azure.prefix=druid/"}, Bucket{"azure", "c"}, "druid/", true, ""},
		{[]string{"druid.storage.type=azure"}, Bucket{}, "", false, "druid.azure.container is empty"},
		{[]string{"druid.storage.type=hdfs"}, Bucket{}, "", false, ""},
	} {
		b, prefix, ok, err := StorageOf(load(c.sets...))
		if b != c.bucket || prefix != c.prefix || ok != c.ok || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: %v %q %v %v", c.sets, b, prefix, ok, err)
		}
	}
}
