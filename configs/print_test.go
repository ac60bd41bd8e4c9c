package configs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	type holder struct {
		Pwd Secret
		P   *Secret
	}
	h := holder{Pwd: s, P: &s}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	js, _ := json.Marshal(h)
	out = append(out, string(js), fmt.Sprint(s), fmt.Sprintln(h))
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "pwd", s)
	out = append(out, logged.String())
	for _, o := range out {
		if strings.Contains(o, "hunter2") || strings.Contains(o, "68756e74657232") {
			t.Errorf("secret leaks: %s", o)
		}
	}
	if s.Reveal() != "hunter2" || s.IsZero() || !NewSecret("").IsZero() {
		t.Error("Reveal/IsZero")
	}
}

func TestPasswordProviders(t *testing.T) {
	lk := &lookups{env: map[string]string{"PW": "from-env", "EMPTY": ""}}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{" padded ", " padded "},
		{`{"type":"default","password":"p"}`, "p"},
		{`{"password":"no-type"}`, "no-type"},
		{`{"type":"default"}`, ""},
		{`{"type":"environment","variable":"PW"}`, "from-env"},
		{`{"type":"environment","variable":"EMPTY"}`, ""},
		{`{not json`, `{not json`}, // Druid uses a value that is not JSON as the password itself
		{`[1,2]`, `[1,2]`},
	}
	for _, tt := range tests {
		got, err := parsePassword(tt.in, lk)
		if err != nil || got.Reveal() != tt.want {
			t.Errorf("parsePassword(%q) = %q, %v; want %q", tt.in, got.Reveal(), err, tt.want)
		}
	}
	for _, bad := range []string{`{"type":"environment","variable":"NOPE"}`, `{"type":"environment","variable":3}`, `{"type":1}`, `{"type":"mapString"}`} {
		if _, err := parsePassword(bad, lk); err == nil {
			t.Errorf("parsePassword(%q) succeeds", bad)
		}
	}
}

func TestEntriesRedaction(t *testing.T) {
	c, err := Load(LoadOptions{Environ: []string{"TOKEN=tok"}, Sets: []string{
		`druid.server.hiddenProperties=["internal"]`,
		"druid.metadata.storage.connector.connectURI=jdbc:postgresql://db/druid?user=u&password=uri-secret&ssl=true",
		"druid.auth.basic.internalSecret=hidden-by-config",
		"druid.emitter.http.authToken=${env:TOKEN}",
		"druid.emitter.http.recipientBaseUrl=http://127.0.0.1",
		"druid.zk.service.pwd=",
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	for _, e := range c.Entries() {
		got[e.Key] = e
	}
	for key, want := range map[string]string{
		"druid.metadata.storage.connector.connectURI": "jdbc:postgresql://db/druid?user=u&password=<redacted>&ssl=true",
		"druid.auth.basic.internalSecret":             "<redacted>",
		"druid.emitter.http.authToken":                "<redacted>",
		"druid.emitter.http.recipientBaseUrl":         "http://127.0.0.1",
		"druid.zk.service.pwd":                        "",
		"druid.metadata.storage.connector.password":   "",
	} {
		if got[key].Value != want {
			t.Errorf("%s = %q, want %q", key, got[key].Value, want)
		}
	}
	if !got["druid.zk.service.pwd"].Secret || got["druid.emitter.http.recipientBaseUrl"].Secret {
		t.Error("secret flags")
	}
}

func TestFormats(t *testing.T) {
	entries := []Entry{
		{Key: "druid.host", Value: "127.0.0.5", Origin: Origin{Kind: FromEnv, Name: "druid_host"}, Known: true},
		{Key: "druid.s3.secretKey", Value: "<redacted>", Origin: Origin{Kind: FromFile, Path: "conf/c.properties", Line: 7}, Secret: true, Known: true},
		{Key: "druid.x", Value: " lead\\ing\n#", Origin: Origin{Kind: FromFlag}},
		{Key: "druid.server.tier", Value: "_default_tier", Known: true},
	}
	wantProps := "# env:druid_host\ndruid.host=127.0.0.5\n" +
		"# file:conf/c.properties:7\ndruid.s3.secretKey=<redacted>\n" +
		"# flag:--set (not read by druid-sidecar)\ndruid.x=\\ lead\\\\ing\\n#\n" +
		"# default\ndruid.server.tier=_default_tier\n"
	if got := FormatProperties(entries); got != wantProps {
		t.Errorf("properties:\n%s\nwant:\n%s", got, wantProps)
	}
	js, err := FormatJSON(entries[:2])
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `[
  {
    "key": "druid.host",
    "value": "127.0.0.5",
    "origin": "env:druid_host",
    "secret": false,
    "known": true
  },
  {
    "key": "druid.s3.secretKey",
    "value": "<redacted>",
    "origin": "file:conf/c.properties:7",
    "secret": true,
    "known": true
  }
]
`
	if string(js) != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", js, wantJSON)
	}
}

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range registry {
		if seen[k.name] {
			t.Errorf("%s declared twice", k.name)
		}
		seen[k.name] = true
		if !strings.HasPrefix(k.name, "druid.") || k.doc == "" || k.kind == nil {
			t.Errorf("%s: incomplete declaration", k.name)
		}
		if k.derive == nil && k.def != "" {
			var c Config
			if err := k.kind.set(&c, k.def, &lookups{}); err != nil {
				t.Errorf("%s: default %q does not parse: %v", k.name, k.def, err)
			} else if got := k.kind.get(&c); got != k.def && !strings.HasPrefix(k.def, "[") {
				t.Errorf("%s: default %q renders as %q", k.name, k.def, got)
			}
		}
		if k.secret && !strings.HasSuffix(k.kind.typeName(), "password") {
			t.Errorf("%s: secret but not a password", k.name)
		}
	}
	table := MarkdownTable()
	if lines := strings.Count(table, "\n"); lines != len(registry)+2 {
		t.Errorf("table has %d lines for %d keys", lines, len(registry))
	}
	for _, want := range []string{
		"| `druid.segmentCache.locationSelector.strategy` | `leastBytesUsed` | leastBytesUsed\\|roundRobin\\|random\\|mostAvailableSize | How a location is chosen for a new segment. |\n",
		"| `druid.metadata.storage.connector.password` |  | password (secret) | Metadata store password, or a password provider. |\n",
		"| `druid.zk.paths.announcementsPath` | `<base>/announcements` | ZooKeeper path |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("markdown table lacks %q", want)
		}
	}
}

func TestProblemIsOneLine(t *testing.T) {
	p := Problem{Key: "druid.x", Origin: Origin{Kind: FromFile, Path: "f", Line: 2}, Msg: "bad\nvalue"}
	if got := p.Error(); got != `file:f:2: druid.x: bad\nvalue` {
		t.Errorf("Error() = %q", got)
	}
}
