package configs

import (
	"os"
	"reflect"
	"testing"

	"github.com/magiconair/properties"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []property
	}{
		{"separators", "a=1\nb:2\nc 3\nd\t \t4\ne = 5\nf : 6\ng\n", []property{
			{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}, {"d", "4", 4}, {"e", "5", 5}, {"f", "6", 6}, {"g", "", 7}}},
		{"comments and blank lines", "# comment\n! also a comment\n   # indented comment\n\n  \t\nkey=value # not a comment\n",
			[]property{{"key", "value # not a comment", 6}}},
		{"trailing blanks are kept, leading ones dropped", "key=   value  \n", []property{{"key", "value  ", 1}}},
		{"continuation", "key=a,\\\n    b,\\\n\tc\nnext=1\n", []property{{"key", "a,b,c", 1}, {"next", "1", 4}}},
		{"continuation after CRLF", "key=a\\\r\n  b\r\nnext=1\r\n", []property{{"key", "ab", 1}, {"next", "1", 3}}},
		{"continuation after CR", "key=a\\\r  b\rnext=1", []property{{"key", "ab", 1}, {"next", "1", 3}}},
		{"even backslashes do not continue", "key=a\\\\\nnext=1\n", []property{{"key", `a\`, 1}, {"next", "1", 2}}},
		{"a continued line starting with # is text", "key=a\\\n# b\n", []property{{"key", "a# b", 1}}},
		{"a comment does not continue", "# a\\\nkey=1\n", []property{{"key", "1", 2}}},
		{"an empty continuation line ends the value", "key=a\\\n\nnext=1\n", []property{{"key", "a", 1}, {"next", "1", 3}}},
		{"key broken across lines", "ke\\\n  y=v\n", []property{{"key", "v", 1}}},
		{"backslash at end of file is dropped", "key=a\\", []property{{"key", "a", 1}}},
		{"escapes", `key=tab\there\nnl \u00e9\:\=\\ \q`, []property{{"key", "tab\there\nnl é:=\\ q", 1}}},
		{"escaped separators in keys", `a\=b\:c\ d=v`, []property{{"a=b:c d", "v", 1}}},
		{"duplicate keys keep both occurrences", "k=1\nk=2\n", []property{{"k", "1", 1}, {"k", "2", 2}}},
		{"empty key is skipped", "=orphan\n:x\nk=v\n", []property{{"k", "v", 3}}},
		{"UTF-8 and BOM", "\xef\xbb\xbfdruid.server.tier=热\n", []property{{"druid.server.tier", "热", 1}}},
		{"JSON with continuation", "l=[{\"path\":\"/a\"},\\\n   {\"path\":\"/b\"}]\n", []property{{"l", `[{"path":"/a"},{"path":"/b"}]`, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := parseProperties([]byte(tt.in))
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	got, errs := parseProperties([]byte("a=1\nb=\\u12\nc=3\n"))
	if len(got) != 2 || len(errs) != 1 || errs[0].line != 2 || errs[0].msg != "invalid unicode literal" {
		t.Errorf("got %v, errors %v", got, errs)
	}
}

// TestParsePropertiesAgreesWithMagiconair: on files without the corner cases magiconair reads differently, the
// line-by-line reading gives what magiconair gives for the whole file.
func TestParsePropertiesAgreesWithMagiconair(t *testing.T) {
	for _, path := range historicalFiles {
		whole, err := (&properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}).LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, errs := parseProperties(data)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		if len(got) != whole.Len() {
			t.Errorf("%s: %d keys, magiconair %d", path, len(got), whole.Len())
		}
		for _, p := range got {
			if v, _ := whole.Get(p.key); v != p.value {
				t.Errorf("%s: %s = %q, magiconair %q", path, p.key, p.value, v)
			}
		}
	}
}

func TestEscapePropertyRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", " leading", "#hash", "!bang", "a=b:c", "tab\tnl\ncr\rff\f", `back\slash`, "é ü", "\x01ctl"} {
		line := escapeProperty(s, true) + "=" + escapeProperty(s, false)
		got, errs := parseProperties([]byte(line))
		if len(errs) != 0 || len(got) != 1 || got[0].key != s || got[0].value != s {
			t.Errorf("%q: wrote %q, read %+v %v", s, line, got, errs)
		}
	}
}
