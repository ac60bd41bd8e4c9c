package audit

import (
	"testing"

	"github.com/druid-sidecar/druid-sidecar/audit/audittest"
)

// TestRunReadsTLSOnlyServer: a data server announcing only a TLS port has its inventory read over HTTPS, trusting
// druid.client.https.*, as a Broker configured so reads it; without the trust store it is not read over HTTP.
func TestRunReadsTLSOnlyServer(t *testing.T) {
	c := audittest.New(t, audittest.Options{Healthy: true, TLS: true})
	name := c.Servers[audittest.HostHTTP]
	source := func(rep *Report) Source {
		for _, s := range rep.Servers {
			if s.Name == name {
				return s.Source
			}
		}
		return ""
	}
	rep := runAudit(t, c, Options{})
	if !rep.Clean() || source(rep) != SourceHTTP {
		t.Fatalf("TLS-only server %s: read from %q, clean %v, %+v", name, source(rep), rep.Clean(), rep.Findings)
	}
	cfg := *c.Config // a Config is plain values: a copy is another configuration
	cfg.TLS.Client.TrustStorePath = ""
	untrusting := *c
	untrusting.Config = &cfg
	if got := source(runAudit(t, &untrusting, Options{})); got == SourceHTTP {
		t.Errorf("without the trust store, %s was still read over HTTPS", name)
	}
}
