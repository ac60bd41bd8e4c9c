package configs

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func testLookups() *lookups {
	files := map[string]string{
		"/run/secrets/db":   "from-file\n",
		"/etc/latin1":       "caf\xe9",
		"/etc/locations":    `[{"path":"/x"}]`,
		"/etc/indirect":     "${env:HOME}/x",
		"/etc/bad-utf8":     "a\xffb",
		"/conf/prod/secret": "prod",
	}
	return &lookups{
		env: map[string]string{"HOME": "/home/druid", "EMPTY": "", "DIR": "/etc", "ENVNAME": "prod",
			"LOOP": "${env:LOOP}", "DOLLAR": "$", "KEY": "HOME"},
		sys: map[string]string{"java.io.tmpdir": "/tmp", "tier": "hot"},
		readFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		},
	}
}

func TestInterpolate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"${env:HOME}/segments", "/home/druid/segments"},
		{"${ENV:HOME}", "/home/druid"}, // the lookup prefix is case-insensitive
		{"${env:MISSING:-/tmp/x}", "/tmp/x"},
		{"${env:EMPTY:-unused}", ""}, // set but empty: no default, unlike a shell's :-
		{"${env:MISSING:-}", ""},
		{"${env:MISSING:-a:-b}", "a:-b"},
		{"${sys:java.io.tmpdir}/druid", "/tmp/druid"},
		{"${sys:tier}", "hot"},
		{"${file:UTF-8:/run/secrets/db}", "from-file\n"}, // the whole file, newline included, as in Druid
		{"${file:utf8:/run/secrets/db}", "from-file\n"},
		{"${file:ISO-8859-1:/etc/latin1}", "café"},
		{"${file:UTF-8:/etc/bad-utf8}", "a\uFFFDb"},
		{"${file:UTF-8:${env:DIR}/locations}", `[{"path":"/x"}]`},
		{"${file:UTF-8:/etc/indirect}", "/home/druid/x"}, // looked-up values are interpolated again
		{"${file:UTF-8:/conf/${env:ENVNAME}/secret}", "prod"},
		{"${env:${env:KEY}}", "/home/druid"},
		{"$${env:HOME}", "${env:HOME}"},
		{"$$${env:HOME}", "$${env:HOME}"},
		{"$${a${env:ENVNAME}}", "${aprod}"}, // an escaped ${ still has its inner references expanded, as in Druid
		{"price: $5 and $$5", "price: $5 and $$5"},
		{"${env:DOLLAR}{x}", "${x}"},
		{"a${env:HOME}b${env:ENVNAME}c", "a/home/druidbprodc"},
		{"{}} ${env:ENVNAME}}", "{}} prod}"},
	}
	for _, tt := range tests {
		got, err := testLookups().interpolate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("interpolate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestInterpolateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"${env:NOPE}", "${env:NOPE}: environment variable NOPE is not set and no default is given (write ${env:NOPE:-default})"},
		{"${env:HOME", `unterminated "${" at offset 0: close it with "}" or write "$${" for a literal "${"`},
		{"x ${env:A:-${env:B}", `unterminated "${" at offset 2: close it with "}" or write "$${" for a literal "${"`},
		{"${env:LOOP}", "in the value of ${env:LOOP}: ${env:LOOP} refers to itself (env:LOOP → env:LOOP)"},
		{"${env:HOME:-${env:NOPE}}", "${env:NOPE}: environment variable NOPE is not set and no default is given (write ${env:NOPE:-default})"},
		{"${file:UTF-8:/missing}", "${file:UTF-8:/missing}: cannot read the file: file does not exist"},
		{"${file:UTF-8:/missing:-fallback}", "${file:UTF-8:/missing}: cannot read the file: file does not exist"},
		{"${file:EBCDIC:/etc/latin1}", `${file:EBCDIC:/etc/latin1}: unsupported charset "EBCDIC": use UTF-8, US-ASCII or ISO-8859-1`},
		{"${const:java.lang.Integer.MAX_VALUE}", `${const:java.lang.Integer.MAX_VALUE} cannot be resolved: unknown lookup "const" (Druid interpolates only ${env:…}, ${sys:…} and ${file:…})`},
	}
	for _, tt := range tests {
		got, err := testLookups().interpolate(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("interpolate(%q) = %q, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestInterpolateLimits(t *testing.T) {
	lk := testLookups()
	// Each level doubles the text: 2^25 bytes would come out without the limit.
	for i := range 25 {
		lk.env["L"+string(rune('a'+i))] = "${env:L" + string(rune('a'+i+1)) + "}${env:L" + string(rune('a'+i+1)) + "}"
	}
	lk.env["Lz"] = "x"
	if _, err := lk.interpolate("${env:La}"); err == nil || !strings.Contains(err.Error(), "expand to more than") {
		t.Errorf("exponential expansion: %v", err)
	}
	deep := strings.Repeat("${env:X:-", 40) + strings.Repeat("}", 40)
	if _, err := lk.interpolate(deep); err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Errorf("deep nesting: %v", err)
	}
}

func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{"${env:HOME}", "$${x}", "${env:A:-${env:B:-c}}", "${file:UTF-8:/etc/indirect}", "${", "}${", "$$$", "${env:LOOP}", "${sys:tier}x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := testLookups().interpolate(s)
		again, err2 := testLookups().interpolate(s)
		if got != again || (err == nil) != (err2 == nil) {
			t.Fatalf("%q: two runs differ: %q %v / %q %v", s, got, err, again, err2)
		}
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && !strings.ContainsAny(s, "\n") {
				t.Errorf("%q: error spans lines: %v", s, err)
			}
			return
		}
		if !strings.Contains(s, "${") && got != s {
			t.Errorf("%q has no reference but became %q", s, got)
		}
		if len(got) > maxExpansion+len(s) {
			t.Errorf("%q expanded to %d bytes", s, len(got))
		}
	})
}

func TestUndefinedIsNotAnIOError(t *testing.T) {
	_, err := testLookups().interpolate("${env:NOPE}")
	if errors.Is(err, os.ErrNotExist) {
		t.Error("an unset variable reads as a missing file")
	}
}
