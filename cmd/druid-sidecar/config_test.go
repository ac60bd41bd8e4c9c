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
