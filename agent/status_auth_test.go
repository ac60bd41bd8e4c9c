package agent

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestStatusEndpointsAsJavaSecuresThem: with druid.sidecar.internalAuth, an operator's curl without the internal
// credentials gets 401 from every status endpoint Java puts behind StateResourceFilter or ConfigResourceFilter
// (and from the profiles), while probes keep /status/health and readiness; with the credentials,
// /status/properties answers and shows no credential of the metadata store's JDBC URI.
func TestStatusEndpointsAsJavaSecuresThem(t *testing.T) {
	z := testenv.ZooKeeper(t)
	const user, pass = "druid_system", "internal-pass"
	const uri = "jdbc:postgresql://127.0.0.1:5432/druid?sslmode=verify-full&sslpassword=ssl-secret&password=uri-secret"
	cfg := loadConfig(t, "druid.host=127.0.0.1", "druid.bindOnHost=true", "druid.plaintextPort="+strconv.Itoa(freePort(t)),
		"druid.zk.service.host="+z.ConnectString,
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, t.TempDir()),
		"druid.sidecar.internalAuth=true", "druid.escalator.type=basic", "druid.sidecar.http.pprof=true",
		"druid.escalator.internalClientUsername="+user, "druid.escalator.internalClientPassword="+pass,
		"druid.metadata.storage.type=postgresql", "druid.metadata.storage.connector.connectURI="+uri)
	r := start(t, cfg)

	get := func(path, u, p string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", r.url+path, nil)
		if u != "" {
			req.SetBasicAuth(u, p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{StatusPath, PropertiesPath, SelfDiscoveredPath, SelfDiscoveredStatePath, LoadStatusPath,
		"/debug/pprof/cmdline"} {
		if code, _ := get(path, "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
		if code, _ := get(path, user, "wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: %d, want 401", path, code)
		}
		if code, _ := get(path, user, pass); code == http.StatusUnauthorized {
			t.Errorf("GET %s with the internal credentials: 401", path)
		}
	}
	for _, path := range []string{HealthPath, ReadyPath, ReadinessPath, MetricsPath} {
		if code, _ := get(path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s without credentials: %d, want 200", path, code)
		}
	}
	code, body := get(PropertiesPath, user, pass)
	if code != http.StatusOK || !strings.Contains(body, "sslmode=verify-full") {
		t.Fatalf("/status/properties: %d %s", code, body)
	}
	for _, secret := range []string{"ssl-secret", "uri-secret", pass} {
		if strings.Contains(body, secret) {
			t.Errorf("/status/properties shows %q: %s", secret, body)
		}
	}
}
