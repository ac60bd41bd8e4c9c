package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf"
	"github.com/druid-sidecar/druid-sidecar/internal/tlsconf/tlsconftest"
)

// TestServeOverTLS: serve with druid.enableTlsPort and a key store made by keytool (JKS, then PKCS12 with the
// plaintext port off) answers /status/health over TLS with certAlias's certificate to a client of the trust store,
// as a Coordinator with druid.client.https.* calls it, and announces the TLS port as its identity.
func TestServeOverTLS(t *testing.T) {
	z := testenv.ZooKeeper(t)
	conn := z.Conn(t)
	for _, tc := range []struct {
		typ   string
		plain bool
	}{{"JKS", true}, {"PKCS12", false}} {
		t.Run(tc.typ, func(t *testing.T) {
			ks, ts := tlsconftest.ServerStores(t, tc.typ)
			plainPort, tlsPort := freePort(t), freePort(t)
			sets := []string{"druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort=" + strconv.Itoa(plainPort),
				"druid.enablePlaintextPort=" + strconv.FormatBool(tc.plain), "druid.enableTlsPort=true", "druid.tlsPort=" + strconv.Itoa(tlsPort),
				"druid.zk.service.host=" + z.ConnectString, "druid.zk.service.compress=false",
				fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":"1g"}]`, t.TempDir()),
				"druid.server.https.keyStorePath=" + ks, "druid.server.https.keyStoreType=" + tc.typ,
				// The password through Druid's environment password provider, as operators keep it out of files.
				`druid.server.https.keyStorePassword={"type":"environment","variable":"KS_PASSWORD"}`,
				"druid.server.https.certAlias=server",
				"druid.client.https.trustStorePath=" + ts, "druid.client.https.trustStoreType=" + tc.typ,
				"druid.client.https.trustStorePassword=trustpass1"}
			cfg, err := configs.Load(configs.LoadOptions{Environ: []string{"KS_PASSWORD=storepass1"}, Sets: sets})
			if err != nil {
				t.Fatal(err)
			}
			r := start(t, cfg)
			if got := r.a.Addr().(*net.TCPAddr).Port; got != tlsPort {
				t.Errorf("Addr is port %d, want the TLS port %d", got, tlsPort)
			}

			client := tlsconftest.Client(t, cfg.TLS.Client)
			body, org := tlsconftest.Get(t, client, "https://127.0.0.1:"+strconv.Itoa(tlsPort)+HealthPath)
			if strings.TrimSpace(body) != "true" || org != "druid-sidecar test server" {
				t.Errorf("%s over TLS: %q from the certificate of %q, want true from certAlias server's", HealthPath, body, org)
			}
			// Java's own TLS stack, set up as Druid's clients are (TLSv1.2 only), completes the handshake too.
			healthURL := "https://127.0.0.1:" + strconv.Itoa(tlsPort) + HealthPath
			if out := javaTLSHealth(t, healthURL, ts, tc.typ, "trustpass1"); !strings.HasPrefix(out, "200 true TLS_") {
				t.Errorf("Java's GET %s: %q, want 200 true over TLS", healthURL, out)
			}
			plainURL := "http://127.0.0.1:" + strconv.Itoa(plainPort) + HealthPath
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(plainURL)
			if tc.plain && (err != nil || resp.StatusCode != 200) {
				t.Errorf("the plaintext port beside TLS: %v", err)
			}
			if !tc.plain && err == nil {
				t.Errorf("druid.enablePlaintextPort=false, yet %s answers %d", plainURL, resp.StatusCode)
			}
			if resp != nil {
				resp.Body.Close()
			}

			// The announcement: the TLS host:port is the znode's name, and DruidNode carries tlsPort and
			// enableTlsPort, from which a Broker or Coordinator builds its https:// URL.
			path := z.Path("/druid/internal-discovery/HISTORICAL/127.0.0.1:" + strconv.Itoa(tlsPort))
			data, _, err := conn.Get(path)
			if err != nil {
				t.Fatalf("discovery znode %s: %v", path, err)
			}
			var node struct {
				DruidNode struct {
					PlaintextPort       int  `json:"plaintextPort"`
					TLSPort             int  `json:"tlsPort"`
					EnablePlaintextPort bool `json:"enablePlaintextPort"`
					EnableTLSPort       bool `json:"enableTlsPort"`
				} `json:"druidNode"`
			}
			if err := json.Unmarshal(data, &node); err != nil {
				t.Fatalf("discovery znode %s: %v: %s", path, err, data)
			}
			wantPlain := -1
			if tc.plain {
				wantPlain = plainPort
			}
			if n := node.DruidNode; n.TLSPort != tlsPort || !n.EnableTLSPort || n.PlaintextPort != wantPlain || n.EnablePlaintextPort != tc.plain {
				t.Errorf("announced DruidNode %+v, want tlsPort %d enabled and plaintextPort %d", n, tlsPort, wantPlain)
			}
			if err := r.stop(t); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// TestNewRefusesWrongKeyStorePassword: a key store the password does not open is a configuration error naming
// the key and the file, before anything is opened.
func TestNewRefusesWrongKeyStorePassword(t *testing.T) {
	dir := t.TempDir()
	ks := filepath.Join(dir, "server.p12")
	tlsconftest.GenKeyPair(t, ks, "PKCS12", "storepass1", "server", "storepass1")
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.enableTlsPort=true",
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, dir),
		"druid.server.https.keyStorePath="+ks, "druid.server.https.keyStorePassword=not-it")
	_, err := New(cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), configs.KeyTLSKeyStorePassword) || !strings.Contains(err.Error(), ks) {
		t.Errorf("New: %v, want an error naming %s and %s", err, configs.KeyTLSKeyStorePassword, ks)
	}
}

// TestUpstreamOverTLS: an https:// upstream whose certificate a private CA signed is probed trusting
// druid.client.https.*, and refused without it.
func TestUpstreamOverTLS(t *testing.T) {
	url, trust := tlsconftest.StartServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != UpstreamHealthPath {
			http.NotFound(w, r)
		}
	}))
	clientTLS, err := tlsconf.Client(trust)
	if err != nil {
		t.Fatal(err)
	}
	for _, trusted := range []bool{true, false} {
		opts := UpstreamOptions{}
		if trusted {
			opts.TLS = clientTLS
		}
		up, err := NewUpstream(url, opts)
		if err != nil {
			t.Fatal(err)
		}
		err = up.Probe(context.Background())
		up.transport.CloseIdleConnections()
		if trusted && err != nil {
			t.Errorf("the probe trusting the trust store: %v", err)
		}
		if !trusted && (err == nil || !strings.Contains(err.Error(), "certificate")) {
			t.Errorf("the probe without the trust store: %v, want a certificate error", err)
		}
	}
}

// javaTLSHealth runs testdata/TLSHealth.java, a JSSE client of url trusting the trust store, and returns what it
// printed: status, body and cipher suite. Without java the test skips, and fails under CI=true.
func javaTLSHealth(t *testing.T, url, trustStore, typ, pass string) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("java is not on PATH: %v", err)
		}
		t.Skipf("java is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, java, filepath.Join("testdata", "TLSHealth.java"), url, trustStore, typ, pass).CombinedOutput()
	if err != nil {
		t.Fatalf("java TLSHealth.java %s: %v\n%s", url, err, out)
	}
	return strings.TrimSpace(string(out))
}
