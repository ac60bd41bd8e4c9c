package configs

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
)

// uriKind is a string key holding a URI that check validates. Its errors quote the value with its credentials
// redacted (a JDBC URI may carry a password).
func uriKind(name string, check func(string) error, ptr func(*Config) *string) kind {
	return quotedText(name, check, func(raw string) string { return quoteValue(redactURI(raw, isDefaultHidden)) }, ptr)
}

// isDefaultHidden is the hidden-key test with Druid's default list, for messages written before
// druid.server.hiddenProperties is known.
func isDefaultHidden(name string) bool {
	lower := strings.ToLower(name)
	for _, h := range defaultHidden {
		if strings.Contains(lower, strings.ToLower(h)) {
			return true
		}
	}
	return false
}

var jdbcSubprotocol = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+._-]*$`)

// checkConnectURI refuses a metadata connectURI no JDBC driver would take, whatever the store: not jdbc:<driver>:…
// (postgres:/nope), or with control characters. A PostgreSQL URI is read as the PostgreSQL driver reads it (hosts,
// ports, sslmode and the other parameters druid-sidecar maps) and a MySQL one must have its //; a URI for another
// store is not read further, since only `audit` and the companion's fallback use the metadata store and they
// report an unsupported one themselves.
func checkConnectURI(s string) error {
	if s == "" {
		return nil
	}
	bad := fmt.Errorf("expected a JDBC URI such as %s", jdbcExample)
	rest, ok := strings.CutPrefix(s, "jdbc:")
	sub, tail, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || !jdbcSubprotocol.MatchString(sub) || tail == "" || !safetext.IsPrintable(s) {
		return bad
	}
	switch sub {
	case "postgresql":
		j, err := parseJDBC(s)
		if err != nil {
			return err
		}
		if _, _, _, err := j.libpqSettings(MetadataConfig{}); err != nil {
			return err
		}
	case "mysql", "mariadb", "mysql+srv":
		u, err := parseMySQLJDBC(s)
		if err != nil {
			return err
		}
		for i := range u.hosts {
			if _, err := u.settings(i, MetadataConfig{}, MySQLSSLConfig{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkS3Endpoint refuses a druid.s3.endpoint.url the S3 client could not use: it is http(s)://host[:port][/path],
// or host[:port] which takes druid.s3.protocol's scheme.
func checkS3Endpoint(s string) error {
	if s == "" {
		return nil
	}
	bad := errors.New("expected an S3 endpoint such as https://s3.us-east-1.amazonaws.com, http://127.0.0.1:9000 or " +
		"minio:9000 (http or https, a host, an optional port)")
	full := s
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/?#") {
			return bad
		}
		full = "https://" + s
	}
	u, err := url.Parse(full)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.RawQuery != "" ||
		u.Fragment != "" || strings.ContainsAny(s, " ") || !safetext.IsPrintable(s) {
		return bad
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad
		}
	}
	return nil
}

// k8sResourceName is Druid's K8sDiscoveryConfig pattern for the cluster identifier, which names ConfigMaps and is a
// label value.
var k8sResourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

// checkK8sClusterIdentifier refuses a druid.discovery.k8s.clusterIdentifier Druid refuses; empty is checked with
// druid.discovery.type, which alone makes it required.
func checkK8sClusterIdentifier(s string) error {
	if s == "" || k8sResourceName.MatchString(s) {
		return nil
	}
	return fmt.Errorf("expected lower-case letters, digits and '-', starting and ending with a letter or digit (%s), "+
		"as it names Kubernetes ConfigMaps", k8sResourceName)
}
