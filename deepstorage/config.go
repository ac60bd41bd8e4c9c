package deepstorage

import (
	"fmt"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// OptionsFromConfig maps druid.s3.*, druid.google.*, druid.azure.* and druid.sidecar.pull.* to a Puller's options:
// the one place the server (package agent) and the command line build deep storage from the configuration. An S3
// endpoint without a scheme takes druid.s3.protocol's (https by default), as Druid's S3 client does. Every store is
// configured whatever druid.storage.type says, since a cluster's segments may have been pushed to another store
// before a migration; druid.azure.maxTries sets the attempts of each request when deep storage is azure. The
// caller sets Logger.
func OptionsFromConfig(cfg *configs.Config) Options {
	endpoint := cfg.S3.EndpointURL
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		proto := cfg.S3.Protocol
		if proto == "" {
			proto = "https"
		}
		endpoint = proto + "://" + endpoint
	}
	az := cfg.Azure
	suffix := az.StorageAccountEndpointSuffix
	if az.EndpointSuffix != "" {
		suffix = "blob." + az.EndpointSuffix // the deprecated key wins, as in Druid's AzureAccountConfig
	}
	o := Options{
		S3: S3Options{
			Endpoint:  endpoint,
			Region:    cfg.S3.EndpointSigningRegion,
			AccessKey: cfg.S3.AccessKey.Reveal(),
			SecretKey: cfg.S3.SecretKey.Reveal(),
			PathStyle: cfg.S3.EnablePathStyleAccess,
		},
		Google: GoogleOptions{Endpoint: cfg.Google.Endpoint, ListPageSize: cfg.Google.MaxListingLength},
		Azure: AzureOptions{
			Account:          az.Account,
			Key:              az.Key.Reveal(),
			SAS:              az.SharedAccessStorageToken.Reveal(),
			CredentialsChain: az.UseAzureCredentialsChain,
			Protocol:         az.Protocol,
			EndpointSuffix:   suffix,
			Endpoint:         az.Endpoint,
			ListPageSize:     az.MaxListingLength,
		},
		StallTimeout: cfg.Sidecar.PullStallTimeout,
		PullTimeout:  cfg.Sidecar.PullTimeout,
	}
	if cfg.Storage.Type == "azure" && az.MaxTries > 0 {
		o.Retries = az.MaxTries - 1
		if o.Retries == 0 {
			o.Retries = -1 // one attempt
		}
	}
	return o
}

// StorageOf says where the configuration's deep storage pushes segments, for the audit's listing: the bucket of
// druid.storage.bucket (s3), druid.google.bucket (google) or druid.azure.container (azure), and the key prefix
// every segment's objects are under ("" for the whole bucket). ok is false for other types (local, hdfs, …).
func StorageOf(cfg *configs.Config) (b Bucket, prefix string, ok bool, err error) {
	switch cfg.Storage.Type {
	case "s3":
		b, prefix = Bucket{Scheme: schemeS3, Name: cfg.Storage.Bucket}, StoragePrefix(cfg.Storage.BaseKey)
	case "google":
		// GoogleDataSegmentPusher.buildPath: <prefix>/<path> when the prefix is set.
		b, prefix = Bucket{Scheme: schemeGoogle, Name: cfg.Google.Bucket}, StoragePrefix(cfg.Google.Prefix)
	case "azure":
		// AzureDataSegmentPusher joins the prefix without its trailing slash and the path with one "/".
		b = Bucket{Scheme: schemeAzure, Name: cfg.Azure.Container}
		if p := strings.TrimSuffix(cfg.Azure.Prefix, "/"); p != "" {
			prefix = p + "/"
		}
	default:
		return Bucket{}, "", false, nil
	}
	if b.Name == "" {
		key := map[string]string{"s3": "druid.storage.bucket", "google": "druid.google.bucket", "azure": "druid.azure.container"}[cfg.Storage.Type]
		return Bucket{}, "", false, fmt.Errorf("druid.storage.type is %s but %s is empty", cfg.Storage.Type, key)
	}
	return b, prefix, true, nil
}
