package configs

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/magiconair/properties"
)

// property is one key=value read from a properties file, with the line its logical line starts on.
type property struct {
	key, value string
	line       int
}

// parseProperties reads a Java .properties file the way java.util.Properties.load(Reader) does.
//
// The logical lines are found here (Java's LineReader): natural lines end at \n, \r or \r\n; blank lines and lines
// whose first non-blank character is # or ! are skipped; a line ending in an odd number of backslashes continues on
// the next one, whose leading blanks are dropped. Each logical line is then handed to magiconair/properties, with its
// own ${} expansion disabled, which splits key from value (=, : or blanks) and decodes the escapes (\t \n \f \r
// \uXXXX, any other \c is c). Doing the line work here keeps the line number of every key, even of a key given
// twice, and fixes three places where magiconair on a whole file reads differently from Java: a continuation after a
// \r\n line end, a key broken across lines, and a backslash at the very end of the file (Java drops it).
//
// Java would keep a UTF-8 byte-order mark as part of the first key; it is dropped here.
func parseProperties(data []byte) ([]property, []lineError) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var (
		props []property
		errs  []lineError
	)
	for _, ll := range logicalLines(string(data)) {
		if ll.text == "" || ll.text[0] == '=' || ll.text[0] == ':' {
			continue // an empty key: Java accepts it, but it is never a druid.* key
		}
		p, err := (&properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}).LoadBytes([]byte(ll.text))
		if err != nil {
			errs = append(errs, lineError{line: ll.line, msg: strings.TrimPrefix(err.Error(), "properties: Line 1: ")})
			continue
		}
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			props = append(props, property{key: k, value: v, line: ll.line})
		}
	}
	return props, errs
}

type lineError struct {
	line int
	msg  string
}

type logicalLine struct {
	text string // never empty, no leading blanks, continuations joined
	line int    // 1-based number of the natural line it starts on
}

// logicalLines splits a properties file into Java's logical lines.
func logicalLines(s string) []logicalLine {
	var (
		out   []logicalLine
		cur   strings.Builder
		open  bool // cur continues on the next natural line
		start int
	)
	for i, natural := range naturalLines(s) {
		t := strings.TrimLeft(natural, " \t\f")
		if !open {
			if t == "" || t[0] == '#' || t[0] == '!' {
				continue
			}
			start = i + 1
		}
		backslashes := len(t) - len(strings.TrimRight(t, `\`))
		if backslashes%2 == 1 {
			cur.WriteString(t[:len(t)-1])
			open = true
			continue
		}
		cur.WriteString(t)
		out = append(out, logicalLine{text: cur.String(), line: start})
		cur.Reset()
		open = false
	}
	if open { // a backslash on the last line: Java drops it
		out = append(out, logicalLine{text: cur.String(), line: start})
	}
	return out
}

// naturalLines splits s at \r\n, \r and \n.
func naturalLines(s string) []string {
	var lines []string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			return append(lines, s)
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
}

// escapeProperty writes s so that a Java properties reader gives back s; key selects the stricter key escaping.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case (r == '=' || r == ':') && key:
			b.WriteByte('\\')
			b.WriteRune(r)
		case (r == '#' || r == '!') && i == 0:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
