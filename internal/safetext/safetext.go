// Package safetext makes text read from the cluster safe to show: names of dataSources, hosts and tiers, segment
// ids and error messages come from other processes (or from whoever can publish a segment), and a terminal or a
// log must neither obey the escape sequences they may hold nor take a megabyte of them.
package safetext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every character that could act on a terminal or break a line written as an escape:
// C0 and C1 control characters (ESC, CR, LF, TAB, BEL, DEL, CSI…) as \x1b, \r, \n, \t or \u009b, the Unicode
// line and paragraph separators and bidirectional overrides (which reorder what is shown) as \u2028 or \u202e,
// and each byte of invalid UTF-8 as \xff. Everything else, accents and CJK included, is kept. s is returned as is
// when there is nothing to escape. Every text output of druid-sidecar writes names read from the cluster through
// it (the HTML report escapes them, JSON encodes them).
func Printable(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i >= 0 {
		b.WriteString(s[:i]) // the run of safe text before the next character to escape, in one copy
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(r)|0x100, 16)[1:])
		default:
			b.WriteString(`\u`)
			b.WriteString(strconv.FormatUint(uint64(r)|0x10000, 16)[1:])
		}
		s = s[i+size:]
		i = firstUnsafe(s)
	}
	b.WriteString(s)
	return b.String()
}

// IsPrintable reports whether Printable would return s unchanged.
func IsPrintable(s string) bool { return firstUnsafe(s) < 0 }

// firstUnsafe is the byte offset of the first character Printable escapes, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

func unsafeRune(r rune) bool {
	// Bidi_Control lies between U+061C and U+2069; the range test spares most text the table lookup.
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		(r >= 0x61c && r <= 0x2069 && unicode.Is(unicode.Bidi_Control, r))
}

// Cap shortens s to at most limit bytes (and at least 64) by cutting out its middle, which keeps both the start of
// a name or an error chain and its innermost cause, and says how long s was: "start…[cut, 1048576 bytes in
// all]…end". It never splits a UTF-8 sequence.
func Cap(s string, limit int) string {
	limit = max(limit, 64)
	if len(s) <= limit {
		return s
	}
	marker := "…[cut, " + strconv.Itoa(len(s)) + " bytes in all]…"
	keep := limit - len(marker)
	head := keep * 3 / 4
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	start := len(s) - (keep - keep*3/4)
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return s[:head] + marker + s[start:]
}
