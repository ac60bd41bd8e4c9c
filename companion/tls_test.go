package companion

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/lifecycle"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf/tlsconftest"
)

// TestCompanionOverTLS: beside a Historical with druid.enableTlsPort and a key store made by keytool (JKS with the
// plaintext port beside it, PKCS12 without), the companion answers its probes and /status on its TLS port with
// certAlias's certificate to a client of the trust store, as a kubelet or an operator's curl reaches it, and on its
// HTTP port only while druid.enablePlaintextPort holds. A key store it cannot open is a configuration problem on
// /status, and the companion serves HTTP on its port all the same, so that the Historical still starts.
func TestCompanionOverTLS(t *testing.T) {
	for _, tc := range []struct {
		name, typ string
		plain     bool
		badPass   bool
	}{{"JKS", "JKS", true, false}, {"PKCS12", "PKCS12", false, false}, {"wrong password", "PKCS12", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ks, ts := tlsconftest.ServerStores(t, tc.typ)
			pass := "storepass1"
			if tc.badPass {
				pass = "not-the-password"
			}
			port, tlsPort := freePort(t), freePort(t)
			cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, KeepGoing: true, Sets: []string{
				"druid.host=127.0.0.1", "druid.plaintextPort=" + strconv.Itoa(freePort(t)), "druid.tlsPort=" + strconv.Itoa(freePort(t)),
				"druid.enableTlsPort=true", "druid.enablePlaintextPort=" + strconv.FormatBool(tc.plain),
				"druid.zk.service.enabled=false", fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
				"druid.sidecar.companion.port=" + strconv.Itoa(port), "druid.sidecar.companion.tlsPort=" + strconv.Itoa(tlsPort),
				"druid.sidecar.coordinator.url=http://127.0.0.1:1", "druid.sidecar.prefetch.maxBytes=0",
				"druid.server.https.keyStorePath=" + ks, "druid.server.https.keyStoreType=" + tc.typ,
				"druid.server.https.keyStorePassword=" + pass, "druid.server.https.certAlias=server",
				"druid.client.https.trustStorePath=" + ts, "druid.client.https.trustStoreType=" + tc.typ,
				"druid.client.https.trustStorePassword=trustpass1"}})
			if err != nil {
				t.Fatal(err)
			}
			rc := (&rig{t: t}).start(cfg)
			plainURL := "http://127.0.0.1:" + strconv.Itoa(port)
			tlsURL := "https://127.0.0.1:" + strconv.Itoa(tlsPort)

			if tc.badPass {
				rc.url = plainURL
				if code, _ := httpGet(t, plainURL+lifecycle.HealthPath); code != http.StatusOK {
					t.Errorf("a key store that cannot be opened: %s on the HTTP port answers %d, want 200", lifecycle.HealthPath, code)
				}
				if s := rc.status(t); len(s.ConfigurationProblems) != 1 ||
					!strings.Contains(s.ConfigurationProblems[0], configs.KeyTLSKeyStorePassword) {
					t.Errorf("/status configurationProblems %q, want one naming %s", s.ConfigurationProblems, configs.KeyTLSKeyStorePassword)
				}
				return
			}

			client := tlsconftest.Client(t, cfg.TLS.Client)
			for _, p := range []string{lifecycle.HealthPath, lifecycle.StatusPath} {
				body, org := tlsconftest.Get(t, client, tlsURL+p)
				if org != "druid-sidecar test server" || (p == lifecycle.HealthPath && strings.TrimSpace(body) != "true") {
					t.Errorf("%s over TLS: %q from the certificate of %q, want certAlias server's", p, body, org)
				}
			}
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(plainURL + lifecycle.HealthPath)
			if resp != nil {
				resp.Body.Close()
			}
			if tc.plain && (err != nil || resp.StatusCode != http.StatusOK) {
				t.Errorf("the HTTP port beside TLS: %v", err)
			}
			if !tc.plain && err == nil {
				t.Errorf("druid.enablePlaintextPort=false, yet %s answers %d", plainURL, resp.StatusCode)
			}
		})
	}
}
