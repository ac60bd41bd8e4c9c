package jackson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON reader and writer the DataSegment codec is built on. encoding/json cannot keep the
// order of unknown members or the exact bytes of nested values while also being fast, and its string escaping differs
// from Jackson's, so the codec scans the top-level object itself and keeps nested values as validated raw bytes.

// MaxDepth bounds nesting so that hostile input cannot exhaust the stack; Druid payloads nest a few levels.
const MaxDepth = 10000

// ErrTooDeep is returned for input nested deeper than MaxDepth.
var ErrTooDeep = errors.New("JSON nests too deeply")

// SyntaxError describes malformed JSON at a byte offset.
func SyntaxError(data []byte, pos int, what string) error {
	if pos >= len(data) {
		return fmt.Errorf("malformed JSON: unexpected end of input, expected %s", what)
	}
	return fmt.Errorf("malformed JSON at offset %d: expected %s, found %s", pos, what, strconv.Quote(string(data[pos:min(len(data), pos+16)])))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the offset of the first byte at or after pos that is not JSON whitespace.
func SkipSpace(data []byte, pos int) int {
	for pos < len(data) && isSpace(data[pos]) {
		pos++
	}
	return pos
}

// ScanString checks the JSON string starting at data[pos] == '"' and returns the offset after its closing quote and
// whether it contains escapes. Control characters must be escaped; UTF-8 validity is checked by the caller.
func ScanString(data []byte, pos int) (end int, escaped bool, err error) {
	i := pos + 1
	for i < len(data) {
		// Eight bytes at a time up to the first special one: an audit scans gigabytes of segment JSON in strings,
		// which byte by byte took a fifth of its CPU.
		if i+8 <= len(data) {
			m := stringSpecialMask(binary.LittleEndian.Uint64(data[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
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
			n, fault := checkEscape(data, i)
			switch fault {
			case escapeIncomplete:
				return 0, false, SyntaxError(data, i+1, "an escape sequence")
			case escapeShortHex:
				return 0, false, SyntaxError(data, len(data), "four hex digits")
			case escapeBadHex:
				return 0, false, SyntaxError(data, i, `four hex digits after \u`)
			case escapeUnknown:
				return 0, false, SyntaxError(data, i, "a valid escape sequence")
			}
			i += n
		default:
			return 0, false, SyntaxError(data, i, "an escaped control character")
		}
	}
	return 0, false, SyntaxError(data, len(data), `the closing '"' of a string`)
}

// stringSpecialMask has the high bit of the lowest special byte of the eight in w set (the bytes stringSpecial
// marks: '"', '\\' and those below 0x20), and is 0 when none is special. It is the classic "has a zero byte" test
// on w^'"' and w^'\\' and "has a byte below n" on w: each is exact for the word as a whole, and its lowest set bit
// is that of the lowest such byte (a borrow only flags bytes above a true hit), so the first special byte is found
// without a byte loop.
func stringSpecialMask(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := w^('"'*ones), w^('\\'*ones)
	return ((w-0x20*ones)&^w | (q-ones)&^q | (bs-ones)&^bs) & highs
}

// stringSpecial marks the bytes that end the fast path of ScanString: '"', '\\' and control characters.
var stringSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// The string and number rules of RFC 8259 below are the only copy: the JSON scanner above and the Smile transcoder
// (smile.go) both use them and differ only in how they word an error.

// An escapeFault tells what is wrong with an escape sequence.
type escapeFault uint8

const (
	escapeOK         escapeFault = iota
	escapeIncomplete             // the input ends right after the backslash
	escapeShortHex               // the input ends within the four hex digits of \u
	escapeBadHex                 // a non-hex byte among the four digits of \u
	escapeUnknown                // the backslash is followed by a byte that starts no escape
)

// checkEscape checks the escape sequence at data[j] == '\\' and returns its length.
func checkEscape(data []byte, j int) (int, escapeFault) {
	if j+1 >= len(data) {
		return 0, escapeIncomplete
	}
	switch data[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, escapeOK
	case 'u':
		if j+6 > len(data) {
			return 0, escapeShortHex
		}
		if _, ok := hex4(data, j+2); !ok {
			return 0, escapeBadHex
		}
		return 6, escapeOK
	}
	return 0, escapeUnknown
}

// appendEscape appends the character that the escape sequence at data[j] (already checked) stands for and returns
// the offset after it. A \u high surrogate followed by a \u low surrogate is one character; any other escaped
// surrogate becomes U+FFFD, as encoding/json does: Java would keep it, but it cannot be written as valid UTF-8.
func appendEscape(out, data []byte, j int) ([]byte, int) {
	switch e := data[j+1]; e {
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
		r, _ := hex4(data, j+2)
		j += 6
		if utf16.IsSurrogate(r) {
			pair := utf8.RuneError
			if j+1 < len(data) && data[j] == '\\' && data[j+1] == 'u' {
				if r2, ok := hex4(data, j+2); ok {
					pair = utf16.DecodeRune(r, r2)
				}
			}
			if r = pair; r != utf8.RuneError {
				j += 6
			}
		}
		return utf8.AppendRune(out, r), j
	default: // '"', '\\' and '/' stand for themselves.
		out = append(out, e)
	}
	return out, j + 2
}

// hex4 decodes the four hexadecimal digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if len(data)-i < 4 {
		return -1, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case isDigit(c):
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// DecodeString returns the value of a scanned JSON string (raw includes the quotes). A lone UTF-16 surrogate escape
// becomes U+FFFD, as encoding/json does.
func DecodeString(raw []byte, escaped bool) string {
	body := raw[1 : len(raw)-1]
	if !escaped {
		return string(body)
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		if c := body[i]; c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		out, i = appendEscape(out, body, i)
	}
	return string(out)
}

// A numberFault names the digit an RFC 8259 number lacks.
type numberFault uint8

const (
	numberOK         numberFault = iota
	numberNoDigit                // no digit where the number (after an optional '-') starts
	numberNoFraction             // no digit after the decimal point
	numberNoExponent             // no digit in the exponent
)

// scanNumberSyntax checks the RFC 8259 number at data[pos]. It returns the offset after it, the offset after its
// integer part and whether it is an integer (no fraction or exponent); on a fault, end is where a digit was due.
func scanNumberSyntax(data []byte, pos int) (end, intEnd int, integer bool, fault numberFault) {
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
		return i, 0, false, numberNoDigit
	}
	intEnd, integer = i, true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return i, 0, false, numberNoFraction
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
			return i, 0, false, numberNoExponent
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, intEnd, integer, numberOK
}

// ScanNumber checks an RFC 8259 number at data[pos] and returns the offset after it and whether it is an integer
// (no fraction or exponent).
func ScanNumber(data []byte, pos int) (end int, integer bool, err error) {
	end, _, integer, fault := scanNumberSyntax(data, pos)
	switch fault {
	case numberNoDigit:
		return 0, false, SyntaxError(data, end, "a digit")
	case numberNoFraction:
		return 0, false, SyntaxError(data, end, "a digit after the decimal point")
	case numberNoExponent:
		return 0, false, SyntaxError(data, end, "a digit in the exponent")
	}
	return end, integer, nil
}

// ScanValue checks the JSON value starting at data[pos] (no leading space) and returns the offset after it and
// whether it contains insignificant whitespace that a compact writer such as Jackson would not have written.
func ScanValue(data []byte, pos, depth int) (end int, spaced bool, err error) {
	if pos >= len(data) {
		return 0, false, SyntaxError(data, pos, "a value")
	}
	switch c := data[pos]; c {
	case '"':
		end, _, err = ScanString(data, pos)
		return end, false, err
	case '{', '[':
		if depth >= MaxDepth {
			return 0, false, ErrTooDeep
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i := pos + 1
		j := SkipSpace(data, i)
		spaced = j != i
		if j < len(data) && data[j] == closer {
			return j + 1, spaced, nil
		}
		for {
			i = j
			if c == '{' {
				if i >= len(data) || data[i] != '"' {
					return 0, false, SyntaxError(data, i, "a member name")
				}
				if i, _, err = ScanString(data, i); err != nil {
					return 0, false, err
				}
				j = SkipSpace(data, i)
				spaced = spaced || j != i
				if j >= len(data) || data[j] != ':' {
					return 0, false, SyntaxError(data, j, "':'")
				}
				i = j + 1
				j = SkipSpace(data, i)
				spaced = spaced || j != i
				i = j
			}
			var inner bool
			if i, inner, err = ScanValue(data, i, depth+1); err != nil {
				return 0, false, err
			}
			j = SkipSpace(data, i)
			spaced = spaced || inner || j != i
			if j < len(data) && data[j] == ',' {
				i = j + 1
				j = SkipSpace(data, i)
				spaced = spaced || j != i
				continue
			}
			if j < len(data) && data[j] == closer {
				return j + 1, spaced, nil
			}
			return 0, false, SyntaxError(data, j, fmt.Sprintf("',' or '%c'", closer))
		}
	case 't':
		return ScanLiteral(data, pos, "true")
	case 'f':
		return ScanLiteral(data, pos, "false")
	case 'n':
		return ScanLiteral(data, pos, "null")
	default:
		end, _, err = ScanNumber(data, pos)
		return end, false, err
	}
}

func ScanLiteral(data []byte, pos int, lit string) (int, bool, error) {
	if len(data)-pos >= len(lit) && string(data[pos:pos+len(lit)]) == lit {
		return pos + len(lit), false, nil
	}
	return 0, false, SyntaxError(data, pos, "a value")
}

// OwnRaw returns a private copy of a validated raw value, without insignificant whitespace when spaced is set, so
// that it is written compactly as Jackson would write it while every other byte stays as received.
func OwnRaw(raw []byte, spaced bool) []byte {
	if !spaced {
		return append([]byte(nil), raw...)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '"':
			end, _, _ := ScanString(raw, i)
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
	start := SkipSpace(raw, 0)
	end, spaced, err := ScanValue(raw, start, 0)
	if err != nil {
		return false, err
	}
	if SkipSpace(raw, end) != len(raw) {
		return false, SyntaxError(raw, SkipSpace(raw, end), "the end of the value")
	}
	if !utf8.Valid(raw) {
		return false, errors.New("the JSON is not valid UTF-8")
	}
	return spaced || start != 0 || end != len(raw), nil
}

// AppendRaw appends a caller-supplied raw value after validating it, compacting it if needed.
func AppendRaw(dst, raw []byte) ([]byte, error) {
	spaced, err := checkRaw(raw)
	if err != nil {
		return dst, err
	}
	if !spaced {
		return append(dst, raw...), nil
	}
	return append(dst, OwnRaw(raw[SkipSpace(raw, 0):], true)...), nil
}

// AppendJSONString appends s as a JSON string escaped exactly as Jackson's default generator escapes it: '"' and
// '\\' with a backslash, \b \t \n \f \r in their short forms, other control characters as \u00XX with upper-case hex,
// and everything else (non-ASCII, '/', '<', '>', '&', U+2028) unescaped. Invalid UTF-8, which a Java string cannot
// hold, is replaced by U+FFFD so that the output is always valid JSON. Every payload druid-sidecar writes for Druid uses
// it, so that all of them escape as a Java node would.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped appends the body of AppendJSONString's output, without the quotes.
func AppendEscaped(dst []byte, s string) []byte {
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

// DecodeStandaloneString decodes a complete JSON document that must be a string or null.
func DecodeStandaloneString(data []byte) (s string, isNull bool, err error) {
	start := SkipSpace(data, 0)
	if start < len(data) && data[start] == 'n' {
		end, _, err := ScanLiteral(data, start, "null")
		if err != nil || SkipSpace(data, end) != len(data) {
			return "", false, SyntaxError(data, start, "a JSON string")
		}
		return "", true, nil
	}
	if start >= len(data) || data[start] != '"' {
		return "", false, SyntaxError(data, start, "a JSON string")
	}
	end, escaped, err := ScanString(data, start)
	if err != nil {
		return "", false, err
	}
	if SkipSpace(data, end) != len(data) {
		return "", false, SyntaxError(data, SkipSpace(data, end), "the end of the value")
	}
	if !utf8.Valid(data[start:end]) {
		return "", false, errors.New("the JSON string is not valid UTF-8")
	}
	return DecodeString(data[start:end], escaped), false, nil
}

// ParseInt parses a scanned JSON integer token into an int64, reporting values that do not fit.
func ParseInt(tok []byte) (int64, bool) {
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
