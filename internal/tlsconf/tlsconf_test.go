package tlsconf_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf/tlsconftest"
)

// serveHealth serves /status/health over TLS with cfg on 127.0.0.1, as serve's TLS port does, until the test ends.
func serveHealth(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	return serveHealthAt(t, cfg, "127.0.0.1:0")
}

func serveHealthAt(t *testing.T, cfg *tls.Config, addr string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "true")
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// health is what a Coordinator's or Broker's call of /status/health over TLS sees, with the outbound configuration
// of tc: the body and the subject organization of the certificate the server presented.
func health(t *testing.T, tc configs.TLSClientConfig, base string) (string, string, error) {
	t.Helper()
	cfg, err := tlsconf.Client(tc)
	if err != nil {
		t.Fatalf("tlsconf.Client: %v", err)
	}
	client := &http.Client{Transport: tlsconf.Transport(http.DefaultTransport.(*http.Transport), cfg), Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status/health", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	org := ""
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 && len(resp.TLS.PeerCertificates[0].Subject.Organization) > 0 {
		org = resp.TLS.PeerCertificates[0].Subject.Organization[0]
	}
	return string(b), org, nil
}

// TestKeytoolStores: key stores and trust stores made by keytool, of both types, serve and trust as Druid's
// configuration says; certAlias picks the entry presented; a JKS key under its own password needs keyManagerPassword.
func TestKeytoolStores(t *testing.T) {
	for _, typ := range []string{"JKS", "PKCS12"} {
		t.Run(typ, func(t *testing.T) {
			dir := t.TempDir()
			ks := filepath.Join(dir, "keystore."+strings.ToLower(typ))
			ts := filepath.Join(dir, "truststore."+strings.ToLower(typ))
			keyPass := "storepass1"
			if typ == "JKS" {
				keyPass = "keypass22" // JKS keeps each key under a password of its own; PKCS12 under the store's
			}
			tlsconftest.GenKeyPair(t, ks, typ, "storepass1", "server", keyPass)
			tlsconftest.GenKeyPair(t, ks, typ, "storepass1", "other", keyPass)
			tlsconftest.TrustCert(t, ks, typ, "storepass1", "server", ts, typ, "trustpass1")

			sc := configs.TLSServerConfig{KeyStorePath: ks, KeyStoreType: typ, CertAlias: "server",
				KeyStorePassword: configs.NewSecret("storepass1")}
			if typ == "JKS" {
				sc.KeyManagerPassword = configs.NewSecret(keyPass)
			}
			cfg, err := tlsconf.Server(sc)
			if err != nil {
				t.Fatalf("tlsconf.Server: %v", err)
			}
			base := serveHealth(t, cfg)
			tc := configs.TLSClientConfig{TrustStorePath: ts, TrustStoreType: typ, TrustStorePassword: configs.NewSecret("trustpass1"), ValidateHostnames: true}
			body, org, err := health(t, tc, base)
			if err != nil || body != "true" {
				t.Fatalf("GET /status/health over TLS: %q, %v", body, err)
			}
			if org != "druid-sidecar test server" {
				t.Errorf("presented the certificate of %q, want certAlias server's", org)
			}

			// The other alias is not trusted: a client of the trust store refuses it.
			sc.CertAlias = "OTHER" // aliases compare without case, as in Java
			cfg, err = tlsconf.Server(sc)
			if err != nil {
				t.Fatalf("tlsconf.Server(certAlias=OTHER): %v", err)
			}
			if _, _, err := health(t, tc, serveHealth(t, cfg)); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("a certificate outside the trust store was accepted (err %v)", err)
			}

			// Without certAlias, two key entries are ambiguous.
			sc.CertAlias = ""
			if _, err := tlsconf.Server(sc); err == nil || !strings.Contains(err.Error(), configs.KeyTLSCertAlias) {
				t.Errorf("two entries without certAlias: %v, want an error naming %s", err, configs.KeyTLSCertAlias)
			}
			sc.CertAlias = "nosuch"
			if _, err := tlsconf.Server(sc); err == nil || !strings.Contains(err.Error(), "other, server") {
				t.Errorf("an unknown certAlias: %v, want the aliases listed", err)
			}
		})
	}
}

// TestWrongPasswords: a wrong password is an error naming its key and the file, for both store types and both
// stores, and never the password.
func TestWrongPasswords(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []string{"JKS", "PKCS12"} {
		ks := filepath.Join(dir, "ks."+typ)
		ts := filepath.Join(dir, "ts."+typ)
		tlsconftest.GenKeyPair(t, ks, typ, "rightpass", "server", "rightpass")
		tlsconftest.TrustCert(t, ks, typ, "rightpass", "server", ts, typ, "rightpass")
		_, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: ks, KeyStoreType: typ, KeyStorePassword: configs.NewSecret("wrongpass")})
		checkNames(t, err, configs.KeyTLSKeyStorePassword, ks)
		_, err = tlsconf.Client(configs.TLSClientConfig{TrustStorePath: ts, TrustStoreType: typ, TrustStorePassword: configs.NewSecret("wrongpass"), ValidateHostnames: true})
		checkNames(t, err, configs.KeyTLSTrustStorePassword, ts)
	}
	// A JKS key under a password of its own, without keyManagerPassword.
	ks := filepath.Join(dir, "ownkeypass.jks")
	tlsconftest.GenKeyPair(t, ks, "JKS", "storepass", "server", "keypass22")
	_, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: ks, KeyStorePassword: configs.NewSecret("storepass")})
	checkNames(t, err, configs.KeyTLSKeyManagerPassword, ks)

	_, err = tlsconf.Server(configs.TLSServerConfig{KeyStorePath: filepath.Join(dir, "missing.p12")})
	checkNames(t, err, configs.KeyTLSKeyStorePath, "missing.p12")
	_, err = tlsconf.Server(configs.TLSServerConfig{KeyStorePath: ks, KeyStoreType: "BKS"})
	checkNames(t, err, configs.KeyTLSKeyStoreType, "BKS")
	_, err = tlsconf.Server(configs.TLSServerConfig{})
	checkNames(t, err, configs.KeyTLSKeyStorePath, "druid.enableTlsPort")
}

func checkNames(t *testing.T, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one naming %v", words)
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %s", err, w)
		}
	}
	if strings.Contains(err.Error(), "wrongpass") || strings.Contains(err.Error(), "rightpass") {
		t.Errorf("error %q quotes a password", err)
	}
}

// TestGoMadeChain: a leaf signed by a CA, with the chain in a PKCS12 key store made by Go, is trusted through the
// CA alone; Go's default roots do not trust it, and validateHostnames=false still checks the chain.
func TestGoMadeChain(t *testing.T) {
	p := tlsconftest.NewGoPKI(t, t.TempDir(), "gopass")
	cfg, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: p.KeyStore, KeyStorePassword: configs.NewSecret("gopass")})
	if err != nil {
		t.Fatalf("tlsconf.Server: %v", err)
	}
	if n := len(cfg.Certificates[0].Certificate); n != 2 {
		t.Errorf("the presented chain has %d certificates, want the leaf and its CA", n)
	}
	base := serveHealth(t, cfg)
	trust := configs.TLSClientConfig{TrustStorePath: p.TrustStore, TrustStorePassword: configs.NewSecret("gopass"), ValidateHostnames: true}
	if body, _, err := health(t, trust, base); err != nil || body != "true" {
		t.Fatalf("GET /status/health through the CA: %q, %v", body, err)
	}
	if _, _, err := health(t, configs.TLSClientConfig{ValidateHostnames: true}, base); err == nil {
		t.Error("the system's roots trusted the test CA")
	}
	// A server at 127.0.0.2 with the certificate of 127.0.0.1: refused for the name, unless validateHostnames=false,
	// which still refuses a chain no trusted root signed.
	wrongName := serveHealthAt(t, cfg, "127.0.0.2:0")
	if _, _, err := health(t, trust, wrongName); err == nil || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Errorf("a certificate for 127.0.0.1 was accepted from 127.0.0.2 (err %v)", err)
	}
	trust.ValidateHostnames = false
	if body, _, err := health(t, trust, wrongName); err != nil || body != "true" {
		t.Errorf("validateHostnames=false refused a trusted certificate for another name: %q, %v", body, err)
	}
	if _, _, err := health(t, configs.TLSClientConfig{ValidateHostnames: false}, base); err == nil {
		t.Error("validateHostnames=false accepted a certificate no trusted root signed")
	}
}

// TestPKCS12KeyStoreWithTrustedCA: a PKCS12 key store into which keytool imported a CA as a trusted certificate
// entry beside the key (a common operator step) still serves the key's certificate, named by certAlias.
func TestPKCS12KeyStoreWithTrustedCA(t *testing.T) {
	dir := t.TempDir()
	ks, other := filepath.Join(dir, "server.p12"), filepath.Join(dir, "ca.p12")
	tlsconftest.GenKeyPair(t, ks, "PKCS12", "storepass1", "server", "storepass1")
	tlsconftest.GenKeyPair(t, other, "PKCS12", "storepass1", "ca", "storepass1")
	tlsconftest.TrustCert(t, other, "PKCS12", "storepass1", "ca", ks, "PKCS12", "storepass1")
	cfg, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: ks, CertAlias: "server", KeyStorePassword: configs.NewSecret("storepass1")})
	if err != nil {
		t.Fatalf("tlsconf.Server: %v", err)
	}
	if org := cfg.Certificates[0].Leaf.Subject.Organization; len(org) != 1 || org[0] != "druid-sidecar test server" {
		t.Errorf("presents %v, want the key's certificate", org)
	}
	_, err = tlsconf.Server(configs.TLSServerConfig{KeyStorePath: ks, KeyStorePassword: configs.NewSecret("wrongpass")})
	checkNames(t, err, configs.KeyTLSKeyStorePassword, ks)
}

// TestKeyStoreAsTrustStore: a key store given as the trust store trusts its key entries' certificates, as Java's
// trust managers do (Druid's TLS docs use one store for both).
func TestKeyStoreAsTrustStore(t *testing.T) {
	for _, typ := range []string{"JKS", "PKCS12"} {
		ks := filepath.Join(t.TempDir(), "both."+typ)
		tlsconftest.GenKeyPair(t, ks, typ, "storepass1", "server", "storepass1")
		cfg, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: ks, KeyStorePassword: configs.NewSecret("storepass1")})
		if err != nil {
			t.Fatalf("%s: tlsconf.Server: %v", typ, err)
		}
		tc := configs.TLSClientConfig{TrustStorePath: ks, TrustStorePassword: configs.NewSecret("storepass1"), ValidateHostnames: true}
		if body, _, err := health(t, tc, serveHealth(t, cfg)); err != nil || body != "true" {
			t.Errorf("%s: GET /status/health trusting the key store: %q, %v", typ, body, err)
		}
	}
}
