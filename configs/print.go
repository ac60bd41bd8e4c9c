package configs

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// Entry is one key of the resolved configuration, for `config print`.
type Entry struct {
	Key string
	// Value is the value after interpolation, or the default. A secret's non-empty value is "<redacted>".
	Value  string
	Origin Origin
	// Secret is set for password keys and for keys Druid hides (druid.server.hiddenProperties).
	Secret bool
	// Known is set for keys druid-sidecar reads; the others are druid.* keys seen in a source and left to Druid.
	Known bool
}

// defaultHidden are the substrings of key names whose values are never shown, whatever
// druid.server.hiddenProperties says: Druid's default list.
var defaultHidden = []string{"druid.s3.accessKey", "druid.s3.secretKey", "druid.metadata.storage.connector.password",
	"password", "key", "token", "pwd"}

// Entries returns every key druid-sidecar reads, with its value and where it came from, and every other druid.*
// key found in a source, sorted by key.
func (c *Config) Entries() []Entry { return slices.Clone(c.entries) }

func (l *loader) entries(c *Config, resolved map[string]string) []Entry {
	hidden := append(slices.Clone(defaultHidden), c.Server.hiddenProperties...)
	isHidden := func(key string) bool {
		lk := strings.ToLower(key)
		for _, h := range hidden {
			if h != "" && strings.Contains(lk, strings.ToLower(h)) {
				return true
			}
		}
		return false
	}
	var out []Entry
	for i := range registry {
		k := &registry[i]
		e := Entry{Key: k.name, Secret: k.secret || isHidden(k.name), Known: true}
		if rv, set := l.values[k.name]; set {
			e.Value, e.Origin = resolved[k.name], rv.origin
		} else {
			e.Value = k.kind.get(c)
		}
		out = append(out, e)
	}
	for key, rv := range l.values {
		if _, known := keysByName[key]; known || !strings.HasPrefix(key, "druid.") || strings.HasPrefix(key, "druid.sidecar.") {
			continue
		}
		out = append(out, Entry{Key: key, Value: resolved[key], Origin: rv.origin, Secret: isHidden(key)})
	}
	for i := range out {
		switch {
		case out[i].Secret && out[i].Value != "":
			out[i].Value = redacted
		case looksLikeURI(out[i].Value):
			// A JDBC URI's password, sslpassword and other credential parameters, or a URL's user:password@.
			out[i].Value = redactURI(out[i].Value, isHidden)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// FormatProperties renders entries as a Java properties file: each key=value line follows a comment naming its
// origin, so the output reads back as the same configuration (secrets aside).
func FormatProperties(entries []Entry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString("# ")
		b.WriteString(e.Origin.String())
		if !e.Known {
			b.WriteString(" (not read by druid-sidecar)")
		}
		b.WriteByte('\n')
		b.WriteString(escapeProperty(e.Key, true))
		b.WriteByte('=')
		b.WriteString(escapeProperty(e.Value, false))
		b.WriteByte('\n')
	}
	return b.String()
}

// FormatJSON renders entries as a JSON array of {"key","value","origin","secret","known"} objects.
func FormatJSON(entries []Entry) ([]byte, error) {
	type jsonEntry struct {
		Key    string `json:"key"`
		Value  string `json:"value"`
		Origin string `json:"origin"`
		Secret bool   `json:"secret"`
		Known  bool   `json:"known"`
	}
	out := make([]jsonEntry, len(entries))
	for i, e := range entries {
		out[i] = jsonEntry{Key: e.Key, Value: e.Value, Origin: e.Origin.String(), Secret: e.Secret, Known: e.Known}
		if e.Secret && e.Value != "" {
			out[i].Value = redacted
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Key describes a key druid-sidecar reads.
type Key struct {
	Name string
	// Default is the default as written in configuration, or a description of how it derives from other keys
	// ("<base>/announcements"); "" when there is none.
	Default string
	Type    string
	Secret  bool
	Doc     string
}

// Keys lists every key druid-sidecar reads, in registry order (grouped by subsystem).
func Keys() []Key {
	out := make([]Key, len(registry))
	for i, k := range registry {
		out[i] = Key{Name: k.name, Default: k.def, Type: k.kind.typeName(), Secret: k.secret, Doc: k.doc}
	}
	return out
}

// MarkdownTable renders Keys as the README's markdown table.
func MarkdownTable() string {
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	var b strings.Builder
	b.WriteString("| Key | Default | Type | Description |\n|---|---|---|---|\n")
	for _, k := range Keys() {
		def := ""
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		typ := k.Type
		if k.Secret {
			typ += " (secret)"
		}
		b.WriteString("| `" + k.Name + "` | " + cell(def) + " | " + cell(typ) + " | " + cell(k.Doc) + " |\n")
	}
	return b.String()
}
