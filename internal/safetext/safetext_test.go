package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"wikipedia", "wikipedia"},
		{"données_東京 2025", "données_東京 2025"},
		{"a\x1b[2J\x1b]0;owned\x07b", `a\x1b[2J\x1b]0;owned\x07b`},
		{"line\r\nforged [ERROR]", `line\r\nforged [ERROR]`},
		{"tab\there", `tab\there`},
		{"del\x7f nul\x00", `del\x7f nul\x00`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"isolate \u2066x\u2069", `isolate \u2066x\u2069`},
		{"sep \u2028 \u2029", `sep \u2028 \u2029`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"", ""},
	} {
		got := Printable(tc.in)
		if got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if IsPrintable(tc.in) != (got == tc.in) {
			t.Errorf("IsPrintable(%q) = %v", tc.in, IsPrintable(tc.in))
		}
		if !IsPrintable(got) || !utf8.ValidString(got) {
			t.Errorf("Printable(%q) = %q still holds what it escapes", tc.in, got)
		}
	}
}

func TestCap(t *testing.T) {
	if got := Cap("short", 100); got != "short" {
		t.Errorf("Cap of a short string: %q", got)
	}
	long := "ds_" + strings.Repeat("é", 500_000) + "_the_end"
	got := Cap(long, 1024)
	if len(got) > 1024 || !strings.HasPrefix(got, "ds_") || !strings.HasSuffix(got, "_the_end") ||
		!strings.Contains(got, "[cut, 1000011 bytes in all]") || !utf8.ValidString(got) {
		t.Errorf("Cap: %d bytes, valid %v: %.80q … %.80q", len(got), utf8.ValidString(got), got, got[max(0, len(got)-80):])
	}
	if got := Cap(strings.Repeat("x", 1000), 1); len(got) > 64 {
		t.Errorf("Cap to less than 64 bytes gives %d bytes", len(got))
	}
}
