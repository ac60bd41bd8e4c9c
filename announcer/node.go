package announcer

import (
	"strconv"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// serverMetadataJSON is the DruidServerMetadata of the legacy announcement at <announcementsPath>/<host:port>
// (druid-protocol.md 2.1). storageSize comes after maxSize as Druid 37+ writes it (its creator's order): the sum of
// the segment cache locations' maxSize, which a 37+ reader takes as maxSize when missing; older readers ignore it.
// deploymentGroup is left out, as Java leaves it out when unset.
func serverMetadataJSON(cfg *configs.Config) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"name":`...)
	b = jackson.AppendJSONString(b, cfg.Node.HostAndPortToUse())
	b = append(b, `,"host":`...)
	b = appendNullableString(b, cfg.Node.HostAndPort())
	b = append(b, `,"hostAndTlsPort":`...)
	b = appendNullableString(b, cfg.Node.HostAndTLSPort())
	b = append(b, `,"maxSize":`...)
	b = strconv.AppendInt(b, int64(cfg.Server.MaxSize), 10)
	b = append(b, `,"storageSize":`...)
	b = strconv.AppendInt(b, int64(cfg.SegmentCache.CombinedMaxSize()), 10)
	b = append(b, `,"type":"`+discovery.ServerTypeHistorical+`","tier":`...)
	b = jackson.AppendJSONString(b, cfg.Server.Tier)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(cfg.Server.Priority), 10)
	b = append(b, '}')
	return b
}

func appendNullableString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jackson.AppendJSONString(b, s)
}
