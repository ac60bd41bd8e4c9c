package companion

import (
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
)

// ports settles where the companion serves, as serve does with the Historical's keys: with druid.enableTlsPort its
// HTTPS port (druid.sidecar.companion.tlsPort) with the server key store's certificate (druid.server.https.*),
// and its HTTP port beside it unless druid.enablePlaintextPort=false. A key store that cannot be read is a
// configuration problem like any other (on /status, in the log and in druid_sidecar_config_problems), and the
// companion then serves HTTP alone, whatever enablePlaintextPort says: it must never keep the Historical from
// starting, and a port that answers keeps its startup probe passing.
func (c *Companion) ports(cfg *configs.Config) {
	c.plainListen = c.listen
	if !cfg.Node.EnableTLSPort {
		return
	}
	tc, err := tlsconf.Server(cfg.TLS.Server)
	if err != nil {
		line := fmt.Sprintf("%v: the companion serves HTTP only, on druid.sidecar.companion.port", err)
		c.problems = append(c.problems, line)
		c.metrics.configProblems.Set(float64(len(c.problems)))
		return
	}
	host, _, _ := net.SplitHostPort(c.listen)
	c.tls = tc
	c.listen = net.JoinHostPort(host, strconv.Itoa(cfg.Sidecar.CompanionTLSPort))
	if !cfg.Node.EnablePlaintextPort {
		c.plainListen = ""
	}
}

// serveHTTP listens on the ports settled by ports and serves srv on each.
func (c *Companion) serveHTTP(srv *http.Server) (*lifecycle.Server, error) {
	if c.tls == nil {
		s, err := lifecycle.Listen(c.plainListen, srv)
		if err != nil {
			return nil, fmt.Errorf("%w (druid.sidecar.companion.port, druid.bindOnHost)", err)
		}
		return s, nil
	}
	s, err := lifecycle.ListenTLS(c.listen, c.tls.Clone(), c.plainListen, srv)
	if err != nil {
		return nil, fmt.Errorf("%w (druid.sidecar.companion.tlsPort, druid.sidecar.companion.port, druid.bindOnHost)", err)
	}
	return s, nil
}
