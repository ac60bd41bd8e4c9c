package deepstorage

import (
	"strings"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// OptionsFromConfig maps druid.s3.* and druid.sidecar.pull.* to a Puller's options: the one place the server
// (package agent) and the command line build deep storage from the configuration. An endpoint without a scheme
// takes druid.s3.protocol's (https by default), as Druid's S3 client does. The caller sets Logger.
func OptionsFromConfig(cfg *configs.Config) Options {
	endpoint := cfg.S3.EndpointURL
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		proto := cfg.S3.Protocol
		if proto == "" {
			proto = "https"
		}
		endpoint = proto + "://" + endpoint
	}
	return Options{
		S3: S3Options{
			Endpoint:  endpoint,
			Region:    cfg.S3.EndpointSigningRegion,
			AccessKey: cfg.S3.AccessKey.Reveal(),
			SecretKey: cfg.S3.SecretKey.Reveal(),
			PathStyle: cfg.S3.EnablePathStyleAccess,
		},
		StallTimeout: cfg.Sidecar.PullStallTimeout,
		PullTimeout:  cfg.Sidecar.PullTimeout,
	}
}
