package segments

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON reader and writer the DataSegment codec is built on. encoding/json cannot keep the
// order of unknown members or the exact bytes of nested values while also being fast, and its string escaping differs
// from Jackson's, so the codec scans the top-level object itself and keeps nested values as validated raw bytes.

// maxJSONDepth bounds nesting so that hostile input cannot exhaust the stack; Druid payloads nest a few levels.
const maxJSONDepth = 10000

// errJSONTooDeep is returned for input nested deeper than maxJSONDepth.
var errJSONTooDeep = errors.New("JSON nests too deeply")

// syntaxError describes malformed JSON at a byte offset.
func syntaxError(data []byte, pos int, what string) error {
	if pos >= len(data) {
		return fmt.Errorf("malformed JSON: unexpected end of input, expected %s", what)
	}
	return fmt.Errorf("malformed JSON at offset %d: expected %s, found %s", pos, what, QuoteShort(string(data[pos:min(len(data), pos+16)])))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, pos int) int {
	for pos < len(data) && isSpace(data[pos]) {
		pos++
	}
	return pos
}

// scanString checks the JSON string starting at data[pos] == '"' and returns the offset after its closing quote and
// whether it contains escapes. Control characters must be escaped; UTF-8 validity is checked by the caller.
func scanString(data []byte, pos int) (end int, escaped bool, err error) {
	i := pos + 1
	for i < len(data) {
		c := data[i]
		if !stringSpecial[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, false, syntaxError(data, i+1, "an escape sequence")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, false, syntaxError(data, len(data), "four hex digits")
				}
				for _, h := range data[i+2 : i+6] {
					if !isHex(h) {
						return 0, false, syntaxError(data, i, `four hex digits after \u`)
					}
				}
				i += 6
			default:
				return 0, false, syntaxError(data, i, "a valid escape sequence")
			}
		default:
			return 0, false, syntaxError(data, i, "an escaped control character")
		}
	}
	return 0, false, syntaxError(data, len(data), `the closing '"' of a string`)
}

// stringSpecial marks the bytes that end the fast path of scanString: '"', '\\' and control characters.
var stringSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case isDigit(c):
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// decodeString returns the value of a scanned JSON string (raw includes the quotes). A lone UTF-16 surrogate escape
// becomes U+FFFD, as encoding/json does; Java would keep it, but it cannot be written as valid UTF-8.
func decodeString(raw []byte, escaped bool) string {
	body := raw[1 : len(raw)-1]
	if !escaped {
		return string(body)
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch body[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hexValue(body[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hexValue(body[i+2:i+6])); r2 != utf8.RuneError {
						out = utf8.AppendRune(out, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\' and '/' stand for themselves.
			out = append(out, body[i+1])
		}
		i += 2
	}
	return string(out)
}

// scanNumber checks an RFC 8259 number at data[pos] and returns the offset after it and whether it is an integer
// (no fraction or exponent).
func scanNumber(data []byte, pos int) (end int, integer bool, err error) {
	i := pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return 0, false, syntaxError(data, i, "a digit")
	}
	integer = true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return 0, false, syntaxError(data, i, "a digit after the decimal point")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return 0, false, syntaxError(data, i, "a digit in the exponent")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, integer, nil
}

// scanValue checks the JSON value starting at data[pos] (no leading space) and returns the offset after it and
// whether it contains insignificant whitespace that a compact writer such as Jackson would not have written.
func scanValue(data []byte, pos, depth int) (end int, spaced bool, err error) {
	if pos >= len(data) {
		return 0, false, syntaxError(data, pos, "a value")
	}
	switch c := data[pos]; c {
	case '"':
		end, _, err = scanString(data, pos)
		return end, false, err
	case '{', '[':
		if depth >= maxJSONDepth {
			return 0, false, errJSONTooDeep
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i := pos + 1
		j := skipSpace(data, i)
		spaced = j != i
		if j < len(data) && data[j] == closer {
			return j + 1, spaced, nil
		}
		for {
			i = j
			if c == '{' {
				if i >= len(data) || data[i] != '"' {
					return 0, false, syntaxError(data, i, "a member name")
				}
				if i, _, err = scanString(data, i); err != nil {
					return 0, false, err
				}
				j = skipSpace(data, i)
				spaced = spaced || j != i
				if j >= len(data) || data[j] != ':' {
					return 0, false, syntaxError(data, j, "':'")
				}
				i = j + 1
				j = skipSpace(data, i)
				spaced = spaced || j != i
				i = j
			}
			var inner bool
			if i, inner, err = scanValue(data, i, depth+1); err != nil {
				return 0, false, err
			}
			j = skipSpace(data, i)
			spaced = spaced || inner || j != i
			if j < len(data) && data[j] == ',' {
				i = j + 1
				j = skipSpace(data, i)
				spaced = spaced || j != i
				continue
			}
			if j < len(data) && data[j] == closer {
				return j + 1, spaced, nil
			}
			return 0, false, syntaxError(data, j, fmt.Sprintf("',' or '%c'", closer))
		}
	case 't':
		return scanLiteral(data, pos, "true")
	case 'f':
		return scanLiteral(data, pos, "false")
	case 'n':
		return scanLiteral(data, pos, "null")
	default:
		end, _, err = scanNumber(data, pos)
		return end, false, err
	}
}

func scanLiteral(data []byte, pos int, lit string) (int, bool, error) {
	if len(data)-pos >= len(lit) && string(data[pos:pos+len(lit)]) == lit {
		return pos + len(lit), false, nil
	}
	return 0, false, syntaxError(data, pos, "a value")
}

// ownRaw returns a private copy of a validated raw value, without insignificant whitespace when spaced is set, so
// that it is written compactly as Jackson would write it while every other byte stays as received.
func ownRaw(raw []byte, spaced bool) []byte {
	if !spaced {
		return append([]byte(nil), raw...)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '"':
			end, _, _ := scanString(raw, i)
			out = append(out, raw[i:end]...)
			i = end
		case isSpace(c):
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}

// checkRaw validates a raw JSON value supplied by a caller and reports whether it must be compacted.
func checkRaw(raw []byte) (spaced bool, err error) {
	start := skipSpace(raw, 0)
	end, spaced, err := scanValue(raw, start, 0)
	if err != nil {
		return false, err
	}
	if skipSpace(raw, end) != len(raw) {
		return false, syntaxError(raw, skipSpace(raw, end), "the end of the value")
	}
	if !utf8.Valid(raw) {
		return false, errors.New("the JSON is not valid UTF-8")
	}
	return spaced || start != 0 || end != len(raw), nil
}

// appendRaw appends a caller-supplied raw value after validating it, compacting it if needed.
func appendRaw(dst, raw []byte) ([]byte, error) {
	spaced, err := checkRaw(raw)
	if err != nil {
		return dst, err
	}
	if !spaced {
		return append(dst, raw...), nil
	}
	return append(dst, ownRaw(raw[skipSpace(raw, 0):], true)...), nil
}

// AppendJSONString appends s as a JSON string escaped exactly as Jackson's default generator escapes it: '"' and
// '\\' with a backslash, \b \t \n \f \r in their short forms, other control characters as \u00XX with upper-case hex,
// and everything else (non-ASCII, '/', '<', '>', '&', U+2028) unescaped. Invalid UTF-8, which a Java string cannot
// hold, is replaced by U+FFFD so that the output is always valid JSON. Every payload druid-sidecar writes for Druid uses
// it, so that all of them escape as a Java node would.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the body of AppendJSONString's output, without the quotes.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			const hex = "0123456789ABCDEF"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// decodeStandaloneString decodes a complete JSON document that must be a string or null.
func decodeStandaloneString(data []byte) (s string, isNull bool, err error) {
	start := skipSpace(data, 0)
	if start < len(data) && data[start] == 'n' {
		end, _, err := scanLiteral(data, start, "null")
		if err != nil || skipSpace(data, end) != len(data) {
			return "", false, syntaxError(data, start, "a JSON string")
		}
		return "", true, nil
	}
	if start >= len(data) || data[start] != '"' {
		return "", false, syntaxError(data, start, "a JSON string")
	}
	end, escaped, err := scanString(data, start)
	if err != nil {
		return "", false, err
	}
	if skipSpace(data, end) != len(data) {
		return "", false, syntaxError(data, skipSpace(data, end), "the end of the value")
	}
	if !utf8.Valid(data[start:end]) {
		return "", false, errors.New("the JSON string is not valid UTF-8")
	}
	return decodeString(data[start:end], escaped), false, nil
}

// parseJSONInt parses a scanned JSON integer token into an int64, reporting values that do not fit.
func parseJSONInt(tok []byte) (int64, bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	var v uint64
	for _, c := range tok {
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -int64(v), true // For v == 1<<63 this wraps to math.MinInt64, which is the intended value.
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
