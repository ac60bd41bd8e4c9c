package announcer

import (
	"slices"
	"strconv"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The node role and server type a segment server announces: only HISTORICAL (with serverType historical) is both
// scanned for dataNodeService by Druid's HTTP server view and a replication target for the Coordinator.
const (
	historicalRole       = "HISTORICAL" // the internal-discovery path segment (NodeRole.toString())
	historicalNodeType   = "historical" // DiscoveryDruidNode.nodeType (NodeRole's JSON name)
	historicalServerType = "historical" // ServerType's JSON text
)

// discoveryNodeJSON is the DiscoveryDruidNode a Java Historical writes at
// <base>/internal-discovery/HISTORICAL/<host:port>, byte for byte in Jackson's order (druid-protocol.md 2.2):
// druidNode (with labels before version, as Druid 36+ writes them), nodeType, services, startTime.
//
// labels is always written, as null when there are none: Druid 36+ writes exactly that, and every older reader
// ignores an unknown member (FAIL_ON_UNKNOWN_PROPERTIES=false), so one form serves every version.
//
// services holds only dataNodeService, with Java's duplicate "type" (the subtype id first, then the server type,
// which pre-0.23 readers need). lookupNodeService is left out: announcing it would make the Coordinator push
// lookups to /druid/listen/v1/lookups, which druid-sidecar does not serve.
func discoveryNodeJSON(cfg *configs.Config, startTime time.Time, labels map[string]string) []byte {
	plain, tls := cfg.Node.AnnouncedPorts()
	b := make([]byte, 0, 512)
	b = append(b, `{"druidNode":{"service":`...)
	b = jackson.AppendJSONString(b, cfg.Node.Service)
	b = append(b, `,"host":`...)
	b = jackson.AppendJSONString(b, cfg.Node.Host)
	b = append(b, `,"bindOnHost":`...)
	b = strconv.AppendBool(b, cfg.Node.BindOnHost)
	b = append(b, `,"plaintextPort":`...)
	b = strconv.AppendInt(b, int64(plain), 10)
	b = append(b, `,"port":-1,"tlsPort":`...)
	b = strconv.AppendInt(b, int64(tls), 10)
	b = append(b, `,"enablePlaintextPort":`...)
	b = strconv.AppendBool(b, cfg.Node.EnablePlaintextPort)
	b = append(b, `,"enableTlsPort":`...)
	b = strconv.AppendBool(b, cfg.Node.EnableTLSPort)
	b = append(b, `,"labels":`...)
	if labels == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jackson.AppendJSONString(b, k)
			b = append(b, ':')
			b = jackson.AppendJSONString(b, labels[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"version":`...)
	b = jackson.AppendJSONString(b, cfg.Sidecar.Version)
	b = append(b, `},"nodeType":"`+historicalNodeType+`","services":{"dataNodeService":{"type":"dataNodeService","tier":`...)
	b = jackson.AppendJSONString(b, cfg.Server.Tier)
	b = append(b, `,"maxSize":`...)
	b = strconv.AppendInt(b, int64(cfg.Server.MaxSize), 10)
	b = append(b, `,"type":"`+historicalServerType+`","serverType":"`+historicalServerType+`","priority":`...)
	b = strconv.AppendInt(b, int64(cfg.Server.Priority), 10)
	b = append(b, `}},"startTime":"`...)
	b = segments.InstantOf(startTime).AppendFormat(b)
	b = append(b, `"}`...)
	return b
}

// serverMetadataJSON is the DruidServerMetadata of the legacy announcement at <announcementsPath>/<host:port>
// (druid-protocol.md 2.1).
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
	b = append(b, `,"type":"`+historicalServerType+`","tier":`...)
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
