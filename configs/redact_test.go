package configs

import (
	"strings"
	"testing"
)

// TestConnectURICredentialsRedacted: every credential a PostgreSQL or MySQL JDBC URI can carry is hidden in
// Entries (what `config print` and /status/properties show), and what locates the database stays readable.
func TestConnectURICredentialsRedacted(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want string
	}{
		{"jdbc:postgresql://db:5432/druid?sslmode=verify-full&sslkey=/k.pem&sslpassword=S1&password=S2&user=druid",
			"jdbc:postgresql://db:5432/druid?sslmode=verify-full&sslkey=<redacted>&sslpassword=<redacted>&password=<redacted>&user=druid"},
		{"jdbc:postgresql://db/druid?PASSWORD=S1&SslPassword=S2&pass%77ord=S3",
			"jdbc:postgresql://db/druid?PASSWORD=<redacted>&SslPassword=<redacted>&pass%77ord=<redacted>"},
		{"jdbc:postgresql://db/druid?options=-c%20a=b,c&oauthToken=S1&clientSecret=S2&keyPassphrase=S3",
			"jdbc:postgresql://db/druid?options=-c%20a=b,c&oauthToken=<redacted>&clientSecret=<redacted>&keyPassphrase=<redacted>"},
		{"jdbc:mysql://druid:S1@db:3306/druid?useSSL=true&trustCertificateKeyStorePassword=S2&clientCertificateKeyStorePassword=S3",
			"jdbc:mysql://druid:<redacted>@db:3306/druid?useSSL=true&trustCertificateKeyStorePassword=<redacted>&clientCertificateKeyStorePassword=<redacted>"},
		{"jdbc:mysql://u1:S1@db1:3306,u2:S2@db2:3306/druid?password1=S3&password2=S4&password3=S5",
			"jdbc:mysql://u1:<redacted>@db1:3306,u2:<redacted>@db2:3306/druid?password1=<redacted>&password2=<redacted>&password3=<redacted>"},
		{"jdbc:mysql://(host=db,port=3306,user=druid,password=S1)/druid",
			"jdbc:mysql://(host=db,port=3306,user=druid,password=<redacted>)/druid"},
		{"jdbc:mysql://address=(host=db)(port=3306)(password=S1)(user=druid)/druid",
			"jdbc:mysql://address=(host=db)(port=3306)(password=<redacted>)(user=druid)/druid"},
		{"jdbc:mysql://db/druid?password=S1&passwd=S2", "jdbc:mysql://db/druid?password=<redacted>&passwd=<redacted>"},
		{"jdbc:derby://localhost:1527//var/druid/metadata.db;create=true;password=S1",
			"jdbc:derby://localhost:1527//var/druid/metadata.db;create=true;password=<redacted>"},
		{"jdbc:postgresql://db/druid?password=S1&password=S2", "jdbc:postgresql://db/druid?password=<redacted>&password=<redacted>"},
		{"jdbc:postgresql://db/druid?password=", "jdbc:postgresql://db/druid?password="},
		{"jdbc:postgresql://db:5432/druid?sslmode=require", "jdbc:postgresql://db:5432/druid?sslmode=require"},
	} {
		c, err := Load(LoadOptions{Environ: []string{}, Sets: []string{
			"druid.metadata.storage.type=mysql", "druid.metadata.storage.connector.connectURI=" + tc.uri}})
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		var got string
		for _, e := range c.Entries() {
			if e.Key == connectURIKey {
				got = e.Value
			}
		}
		if got != tc.want {
			t.Errorf("%s\n shown as %s\n     want %s", tc.uri, got, tc.want)
		}
		for _, s := range []string{"S1", "S2", "S3", "S4", "S5"} {
			if strings.Contains(got, s) {
				t.Errorf("%s: secret %s shows in %s", tc.uri, s, got)
			}
		}
	}
}

// TestURLCredentialsRedactedInAnyKey: a user:password@ or a credential parameter in any URL-valued key, including
// keys druid-sidecar does not read, is hidden too.
func TestURLCredentialsRedactedInAnyKey(t *testing.T) {
	c, err := Load(LoadOptions{Environ: []string{}, Sets: []string{
		"druid.s3.endpoint.url=https://minio:S1@127.0.0.1:9000",
		"druid.emitter.http.recipientBaseUrl=http://emit:S2@127.0.0.1/events?sig=x&access_token=S3",
		"druid.some.list=[\"http://127.0.0.1/a\",\"http://127.0.0.1/b\"]",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"druid.s3.endpoint.url":               "https://minio:<redacted>@127.0.0.1:9000",
		"druid.emitter.http.recipientBaseUrl": "http://emit:<redacted>@127.0.0.1/events?sig=x&access_token=<redacted>",
		"druid.some.list":                     `["http://127.0.0.1/a","http://127.0.0.1/b"]`,
	}
	for _, e := range c.Entries() {
		if w, ok := want[e.Key]; ok && e.Value != w {
			t.Errorf("%s shown as %s, want %s", e.Key, e.Value, w)
		}
	}
}

// TestJDBCErrorsDoNotQuoteCredentials: what the metadata connector reports about a URI it cannot use never quotes
// a user:password@ or a parameter's value.
func TestJDBCErrorsDoNotQuoteCredentials(t *testing.T) {
	for _, uri := range []string{
		"jdbc:postgresql://druid:S1@db:5432/druid",
		"jdbc:postgresql://db:5432/druid?password=S1%zz",
	} {
		m := MetadataConfig{Type: "postgresql", ConnectURI: uri}
		_, _, err := m.PgxConfig()
		if err == nil || strings.Contains(err.Error(), "S1") {
			t.Errorf("%s: error %v", uri, err)
		}
	}
}
