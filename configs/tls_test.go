package configs

import "testing"

// TestTLSKeys: Druid's TLS keys load into Config.TLS with Druid's defaults, their passwords through password
// providers, and never print.
func TestTLSKeys(t *testing.T) {
	c, err := Load(LoadOptions{Environ: []string{"KS_PW=from-env"}, Sets: []string{
		"druid.enableTlsPort=true",
		"druid.server.https.keyStorePath=/etc/druid/server.jks", "druid.server.https.keyStoreType=jks",
		`druid.server.https.keyStorePassword={"type":"environment","variable":"KS_PW"}`,
		`druid.server.https.keyManagerPassword={"type":"default","password":"key-pw"}`,
		"druid.server.https.certAlias=druid",
		"druid.client.https.trustStorePath=/etc/druid/trust.p12", "druid.client.https.trustStorePassword=trust-pw",
	}})
	if err != nil {
		t.Fatal(err)
	}
	s, cl := c.TLS.Server, c.TLS.Client
	if s.KeyStorePath != "/etc/druid/server.jks" || s.KeyStoreType != "jks" || s.CertAlias != "druid" ||
		s.KeyStorePassword.Reveal() != "from-env" || s.KeyManagerPassword.Reveal() != "key-pw" {
		t.Errorf("server: %+v (passwords %q, %q)", s, s.KeyStorePassword.Reveal(), s.KeyManagerPassword.Reveal())
	}
	if cl.TrustStorePath != "/etc/druid/trust.p12" || cl.TrustStoreType != "" || cl.TrustStorePassword.Reveal() != "trust-pw" || !cl.ValidateHostnames {
		t.Errorf("client: %+v", cl)
	}
	for _, e := range c.Entries() {
		switch e.Key {
		case KeyTLSKeyStorePassword, KeyTLSKeyManagerPassword, KeyTLSTrustStorePassword:
			if !e.Secret || e.Value != redacted {
				t.Errorf("%s prints as %q (secret %v)", e.Key, e.Value, e.Secret)
			}
		}
	}
	c, err = Load(LoadOptions{Environ: []string{}, Sets: []string{"druid.client.https.validateHostnames=false"}})
	if err != nil || c.TLS.Client.ValidateHostnames {
		t.Errorf("validateHostnames=false: %v, %v", c.TLS.Client.ValidateHostnames, err)
	}
}
