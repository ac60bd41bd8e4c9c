package configs

import (
	"errors"
	"strings"
	"testing"
)

// loadFile loads one properties file with the given content, as a Historical's runtime.properties.
func loadFile(t *testing.T, content string, keepGoing bool) (*Config, error) {
	t.Helper()
	return Load(LoadOptions{Environ: []string{}, PropertiesFiles: []string{"/etc/druid/runtime.properties"}, KeepGoing: keepGoing,
		ReadFile: func(string) ([]byte, error) { return []byte(content), nil }})
}

// problemLine loads one property on line 2 of a file and returns the single problem reported, or "".
func problemLine(t *testing.T, key, value string) string {
	t.Helper()
	_, err := loadFile(t, "# a Historical\n"+key+"="+value+"\n", false)
	if err == nil {
		return ""
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.Problems) != 1 {
		t.Fatalf("%s=%q: %v", key, value, err)
	}
	return errs.Problems[0].Error()
}

func TestS3EndpointChecked(t *testing.T) {
	for _, ok := range []string{"", "https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:9000", "127.0.0.1:9000",
		"minio:9000", "s3.example.com", "http://[::1]:9000", "https://minio.example.com/"} {
		if p := problemLine(t, "druid.s3.endpoint.url", ok); p != "" {
			t.Errorf("%q refused: %s", ok, p)
		}
	}
	for _, bad := range []string{"http:/nope", "ftp://minio:9000", "http://", "http://minio:99999", "http://minio:port",
		"minio 9000", "https://minio:9000?x=1", "minio:9000/path", "http://mi\x1bnio:9000", "https://u:pw-secret@:9000"} {
		p := problemLine(t, "druid.s3.endpoint.url", bad)
		if !strings.HasPrefix(p, "file:/etc/druid/runtime.properties:2: druid.s3.endpoint.url: expected an S3 endpoint") {
			t.Errorf("%q: problem %q", bad, p)
		}
		if strings.Contains(p, "pw-secret") || strings.ContainsRune(p, '\x1b') {
			t.Errorf("%q: the problem quotes what it must not: %q", bad, p)
		}
	}
}

func TestConnectURIChecked(t *testing.T) {
	for _, ok := range []string{"", "jdbc:postgresql://db:5432/druid?sslmode=require", "jdbc:postgresql:druid",
		"jdbc:postgresql://db1,db2:5433/druid?targetServerType=primary", "jdbc:mysql://db:3306/druid",
		"jdbc:mysql:loadbalance://db1,db2/druid", "jdbc:derby://localhost:1527/var/druid/metadata.db;create=true",
		"jdbc:sqlserver://db:1433;databaseName=druid"} {
		if p := problemLine(t, connectURIKey, ok); p != "" {
			t.Errorf("%q refused: %s", ok, p)
		}
	}
	for bad, want := range map[string]string{
		"postgres:/nope":                                  "expected a JDBC URI such as jdbc:postgresql://db:5432/druid?sslmode=require, got \"postgres:/nope\"",
		"postgresql://db/druid":                           "expected a JDBC URI",
		"jdbc:postgresql://db:port/druid":                 `bad host:port "db:port"`,
		"jdbc:postgresql://db:5432":                       "expected a / after the host and port",
		"jdbc:postgresql://db/druid?sslmode=strict":       "sslmode=strict: expected one of",
		"jdbc:postgresql://u:pw-secret@db/druid":          "a user:password@ before the host",
		"jdbc:postgresql://db/druid?password=pw-secret%z": "bad %-escape in the value of parameter password",
		"jdbc:mysql:/nope":                                "expected a MySQL JDBC URI",
		"jdbc::x":                                         "expected a JDBC URI",
		"jdbc:postgresql://db/dr\x1buid":                  "expected a JDBC URI",
	} {
		p := problemLine(t, connectURIKey, bad)
		if !strings.HasPrefix(p, "file:/etc/druid/runtime.properties:2: "+connectURIKey+": ") || !strings.Contains(p, want) {
			t.Errorf("%q: problem %q, want one naming the key, its origin and %q", bad, p, want)
		}
		if strings.Contains(p, "pw-secret") {
			t.Errorf("%q: the problem quotes the password: %q", bad, p)
		}
	}
}

func TestHostWithControlCharactersRefused(t *testing.T) {
	for _, bad := range []string{"10.0.0.5\x1b[2J", "histo\rrical-0", "a\nb", "host\u202e"} {
		// The Druid image's environment can carry a CR or LF inside a value; a properties line cannot.
		_, err := Load(LoadOptions{Environ: []string{"druid_host=" + bad}})
		if err == nil || !strings.HasPrefix(err.Error(), "env:druid_host: druid.host: holds a control character") ||
			strings.ContainsAny(err.Error(), "\x1b\r\n\u202e") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if p := problemLine(t, "druid.host", "10.0.0.5\\u001b[2J"); !strings.HasPrefix(p,
		"file:/etc/druid/runtime.properties:2: druid.host: holds a control character") {
		t.Errorf("an escaped ESC in a properties file: %q", p)
	}
	// What surrounds the value (a CRLF file, a trailing space) is not part of it, as in Java.
	c, err := Load(LoadOptions{Environ: []string{"druid_host=10.0.0.5\r"}})
	if err != nil || c.Node.Host != "10.0.0.5" {
		t.Errorf("druid_host with a trailing CR: %v, %q", err, c.Node.Host)
	}
}

func TestPortAndPlaintextPortDisagree(t *testing.T) {
	c, err := loadFile(t, "druid.port=8083\ndruid.plaintextPort=8084\n", false)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(c.Warnings(), "\n")
	if c.Node.PlaintextPort != 8084 || !strings.Contains(w, "file:/etc/druid/runtime.properties:1: druid.port: 8083 is ignored: druid.plaintextPort=8084") {
		t.Errorf("plaintextPort %d, warnings %q", c.Node.PlaintextPort, w)
	}
	for _, agree := range []string{"druid.port=8084\ndruid.plaintextPort=8084\n", "druid.port=8085\n", "druid.plaintextPort=8085\n"} {
		c, err := loadFile(t, agree, false)
		if err != nil || len(c.Warnings()) != 0 {
			t.Errorf("%q: %v, warnings %q", agree, err, c.Warnings())
		}
	}
}

// TestKeepGoing: a load that keeps going returns a usable Config with each refused value at its default (derived
// defaults derived) and every problem listed, as the companion needs to run without what they affect.
func TestKeepGoing(t *testing.T) {
	c, err := loadFile(t, "druid.segmentCache.numLoadingThreads=lots\ndruid.s3.endpoint.url=http:/nope\n"+
		"druid.sidecar.companion.port=0\ndruid.server.tier=hot\n", true)
	if err == nil || c == nil {
		t.Fatalf("KeepGoing: %v, %v", c, err)
	}
	if c.SegmentCache.NumLoadingThreads < 1 || c.SegmentCache.NumBootstrapThreads < 1 || c.S3.EndpointURL != "" ||
		c.Sidecar.CompanionPort != 9083 || c.Server.Tier != "hot" {
		t.Errorf("refused values not at their defaults: %+v %+v %+v", c.SegmentCache, c.S3, c.Sidecar)
	}
	var keys []string
	for _, p := range c.Problems() {
		keys = append(keys, p.Key)
	}
	if got := strings.Join(keys, ","); got != "druid.segmentCache.numLoadingThreads,druid.s3.endpoint.url,druid.sidecar.companion.port" {
		t.Errorf("problems about %s", got)
	}
	if c, err := loadFile(t, "druid.server.tier=hot\n", true); err != nil || len(c.Problems()) != 0 {
		t.Errorf("a clean KeepGoing load: %v, %v", err, c.Problems())
	}
	if c, err := loadFile(t, "druid.s3.endpoint.url=http:/nope\n", false); c != nil || err == nil {
		t.Errorf("without KeepGoing: %v, %v", c, err)
	}
}
