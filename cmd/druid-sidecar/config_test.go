package main

import (
	"strings"
	"testing"
)

// TestConfigPrintHidesURICredentials: `config print`, in both formats, shows where the metadata store is and none
// of the credentials its JDBC URI carries, given in a properties file or in the Druid image's environment.
func TestConfigPrintHidesURICredentials(t *testing.T) {
	const uri = "jdbc:postgresql://db:5432/druid?sslmode=verify-full&sslpassword=ssl-secret&password=uri-secret&user=druid"
	for _, format := range []string{"properties", "json"} {
		code, stdout, stderr := runCLI(t, []string{"druid_metadata_storage_connector_connectURI=" + uri},
			"config", "print", "--format", format)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, code, stderr)
		}
		if !strings.Contains(stdout, "jdbc:postgresql://db:5432/druid?sslmode=verify-full&sslpassword=<redacted>") {
			t.Errorf("%s: the URI is not shown redacted:\n%s", format, stdout)
		}
		for _, secret := range []string{"ssl-secret", "uri-secret"} {
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("%s: %q shows", format, secret)
			}
		}
	}
}

// TestConfigurationErrorsExit2: each command that reads the configuration refuses a malformed S3 endpoint, a
// malformed metadata connectURI and a druid.host with control characters before doing anything, with exit 2 and
// one line naming the key and where its value came from.
func TestConfigurationErrorsExit2(t *testing.T) {
	loc := `druid_segmentCache_locations=[{"path":"` + t.TempDir() + `"}]`
	for _, tc := range []struct {
		env  string
		want string
	}{
		{"druid_s3_endpoint_url=http:/nope", "env:druid_s3_endpoint_url: druid.s3.endpoint.url: expected an S3 endpoint"},
		{"druid_metadata_storage_connector_connectURI=postgres:/nope",
			`env:druid_metadata_storage_connector_connectURI: druid.metadata.storage.connector.connectURI: expected a JDBC URI such as jdbc:postgresql://db:5432/druid?sslmode=require, got "postgres:/nope"`},
		{"druid_host=10.0.0.5\x1b[2J", `env:druid_host: druid.host: holds a control character`},
	} {
		for _, args := range [][]string{{"config", "print"}, {"serve"}, {"audit"}, {"cluster"}, {"cache", "ls"}} {
			// The case's variable comes last and wins over the sound values before it.
			environ := []string{loc, "druid_host=127.0.0.1", "druid_metadata_storage_connector_connectURI=jdbc:postgresql://127.0.0.1:1/druid", tc.env}
			code, stdout, stderr := runCLI(t, environ, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != exitBadInput || len(lines) != 1 || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("%v with %q: exit %d, stdout %q, stderr:\n%s", args, tc.env, code, stdout, stderr)
			}
			if strings.ContainsRune(stderr, '\x1b') {
				t.Errorf("%v with %q: stderr holds the raw escape", args, tc.env)
			}
		}
	}
}

// TestPortDisagreementWarns: druid.port and druid.plaintextPort that disagree load, with a warning that says which
// one the node listens on.
func TestPortDisagreementWarns(t *testing.T) {
	code, stdout, stderr := runCLI(t, []string{"druid_port=8083", "druid_plaintextPort=8084"}, "config", "print")
	if code != exitOK || !strings.Contains(stdout, "druid.plaintextPort=8084") ||
		!strings.Contains(stderr, "configuration warning: env:druid_port: druid.port: 8083 is ignored: druid.plaintextPort=8084") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
