// Package tlsconftest makes the key stores of TLS tests: with the JDK's keytool (JKS and PKCS12, as an operator
// makes them for Druid) and with Go (a CA and a leaf, in PKCS12).
package tlsconftest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
)

// Keytool is the JDK's keytool; a test without it skips, and fails under CI=true, where the JDK is expected.
func Keytool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("keytool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("keytool (the JDK's) is not on PATH: %v", err)
		}
		t.Skipf("keytool (the JDK's) is not on PATH: %v", err)
	}
	return p
}

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(Keytool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("keytool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// GenKeyPair adds a self-signed key entry for 127.0.0.1 under alias to the store at path (made when missing), of
// storeType JKS or PKCS12, as an operator would: keytool -genkeypair.
func GenKeyPair(t testing.TB, path, storeType, storePass, alias, keyPass string) {
	t.Helper()
	run(t, "-genkeypair", "-noprompt", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1",
		"-dname", "CN=127.0.0.1, O=druid-sidecar test "+alias, "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
		"-keystore", path, "-storetype", storeType, "-storepass", storePass, "-keypass", keyPass)
}

// TrustCert exports alias's certificate from the key store at from and imports it as a trusted certificate entry
// into the trust store at to: keytool -exportcert, then -importcert.
func TrustCert(t testing.TB, from, fromType, fromPass, alias, to, toType, toPass string) {
	t.Helper()
	pem := filepath.Join(t.TempDir(), alias+".pem")
	run(t, "-exportcert", "-rfc", "-alias", alias, "-keystore", from, "-storetype", fromType, "-storepass", fromPass, "-file", pem)
	run(t, "-importcert", "-noprompt", "-alias", alias, "-file", pem, "-keystore", to, "-storetype", toType, "-storepass", toPass)
}

// GoPKI is a CA and a leaf certificate for 127.0.0.1 it signed, made by Go, written as PKCS12 files: KeyStore (the
// leaf's key and chain) and TrustStore (the CA as a trusted certificate entry).
type GoPKI struct {
	CA, Leaf             *x509.Certificate
	KeyStore, TrustStore string
}

// NewGoPKI makes the CA, the leaf and both stores in dir, each under password. The leaf names 127.0.0.1,
// localhost and the extra addresses given.
func NewGoPKI(t testing.TB, dir, password string, extraIPs ...string) GoPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "druid-sidecar test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	for _, ip := range extraIPs {
		ips = append(ips, net.ParseIP(ip))
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: ips,
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	ks, err := pkcs12.Modern.Encode(leafKey, leaf, []*x509.Certificate{ca}, password)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca}, password)
	if err != nil {
		t.Fatal(err)
	}
	p := GoPKI{CA: ca, Leaf: leaf, KeyStore: filepath.Join(dir, "go-keystore.p12"), TrustStore: filepath.Join(dir, "go-truststore.p12")}
	for path, b := range map[string][]byte{p.KeyStore: ks, p.TrustStore: ts} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// StartServer serves h over TLS on 127.0.0.1 with the leaf of a Go-made PKI until the test ends, and returns its
// https:// URL and the druid.client.https.* configuration that trusts it.
func StartServer(t testing.TB, h http.Handler) (string, configs.TLSClientConfig) {
	t.Helper()
	pki := NewGoPKI(t, t.TempDir(), "trustpass")
	cfg, err := tlsconf.Server(configs.TLSServerConfig{KeyStorePath: pki.KeyStore, KeyStorePassword: configs.NewSecret("trustpass")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, configs.TLSClientConfig{TrustStorePath: pki.TrustStore, TrustStorePassword: configs.NewSecret("trustpass"), ValidateHostnames: true}
}

// Client is an HTTP client trusting what c trusts, as a Druid process's clients are set up from
// druid.client.https.*.
func Client(t testing.TB, c configs.TLSClientConfig) *http.Client {
	t.Helper()
	tc, err := tlsconf.Client(c)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tlsconf.Transport(http.DefaultTransport.(*http.Transport), tc), Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	return client
}

// Get GETs url over TLS and returns the body and the organization of the certificate the server presented.
func Get(t testing.TB, client *http.Client, url string) (body, org string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("GET %s: not over TLS", url)
	}
	if o := resp.TLS.PeerCertificates[0].Subject.Organization; len(o) > 0 {
		org = o[0]
	}
	return string(b), org
}

// ServerStores makes with keytool, in a directory of the test's, a key store of type typ holding two key pairs
// ("other", then "server", which certAlias picks; store and key password storepass1) and a trust store of the same
// type trusting the server's certificate (password trustpass1): a Druid server's and its clients' stores.
func ServerStores(t testing.TB, typ string) (keyStore, trustStore string) {
	t.Helper()
	dir := t.TempDir()
	keyStore, trustStore = filepath.Join(dir, "server.ks"), filepath.Join(dir, "trust.ks")
	GenKeyPair(t, keyStore, typ, "storepass1", "other", "storepass1")
	GenKeyPair(t, keyStore, typ, "storepass1", "server", "storepass1")
	TrustCert(t, keyStore, typ, "storepass1", "server", trustStore, typ, "trustpass1")
	return keyStore, trustStore
}
