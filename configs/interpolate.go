package configs

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// lookups is what ${...} and password providers can read.
type lookups struct {
	env      map[string]string // the environment, from LoadOptions.Environ
	sys      map[string]string // stand-ins for Java system properties: --set values and a few JVM ones
	readFile func(string) ([]byte, error)
}

const (
	maxExpansion = 1 << 20 // bytes one value may expand to
	maxNesting   = 32
)

// interpolate expands Druid's ${...} references in s the way Druid's JsonConfigurator does with commons-text's
// StringSubstitutor (interpolator with the env, sys and file lookups, substitution in variable names on, undefined
// variables an error):
//
//   - ${env:NAME} is an environment variable, ${sys:NAME} a system property (see LoadOptions), and
//     ${file:CHARSET:PATH} the whole content of a file, trailing newline included.
//   - ${X:-DEFAULT} gives a default used when X is not set; a set but empty X gives "". A file that cannot be read
//     is an error even with a default, as in Druid.
//   - The text inside ${...} is expanded first, so ${file:UTF-8:${env:DIR}/x} works; as in Druid this also expands
//     a default eagerly: ${env:A:-${env:B}} fails when B is unset even if A is set.
//   - A value that was looked up is expanded again; a reference to itself is an error.
//   - $${ is a literal ${ (the $ escapes); a $ elsewhere is just a $.
//   - A ${ without its closing } is an error here, whereas Druid leaves it as literal text.
func (lk *lookups) interpolate(s string) (string, error) {
	ip := interpolator{lk: lk}
	return ip.substitute(s, nil, 0)
}

type interpolator struct {
	lk       *lookups
	produced int
}

func (ip *interpolator) substitute(s string, prior []string, depth int) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	if depth > maxNesting {
		return "", fmt.Errorf("${...} references nest more than %d deep", maxNesting)
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		j += i
		if j > 0 && s[j-1] == '$' { // $${ is a literal ${
			b.WriteString(s[i : j-1])
			b.WriteString("${")
			i = j + 2
			continue
		}
		b.WriteString(s[i:j])
		end := closingBrace(s, j+2)
		if end < 0 {
			return "", fmt.Errorf(`unterminated "${" at offset %d: close it with "}" or write "$${" for a literal "${"`, j)
		}
		v, err := ip.variable(s[j+2:end], prior, depth)
		if err != nil {
			return "", err
		}
		ip.produced += len(v)
		if ip.produced > maxExpansion {
			return "", fmt.Errorf("${...} references expand to more than %d bytes", maxExpansion)
		}
		b.WriteString(v)
		i = end + 1
	}
	return b.String(), nil
}

// closingBrace finds the } that closes a ${ whose text starts at from, counting nested ${ as StringSubstitutor does
// (a bare { does not nest). It returns -1 when there is none.
func closingBrace(s string, from int) int {
	nested := 0
	for k := from; k < len(s); k++ {
		switch {
		case strings.HasPrefix(s[k:], "${"):
			nested++
			k++
		case s[k] == '}':
			if nested == 0 {
				return k
			}
			nested--
		}
	}
	return -1
}

// variable resolves the text between ${ and }.
func (ip *interpolator) variable(expr string, prior []string, depth int) (string, error) {
	expr, err := ip.substitute(expr, nil, depth+1)
	if err != nil {
		return "", err
	}
	name, def, hasDef := strings.Cut(expr, ":-")
	if slices.Contains(prior, name) {
		return "", fmt.Errorf("${%s} refers to itself (%s → %s)", name, strings.Join(prior, " → "), name)
	}
	v, found, err := ip.lk.lookup(name)
	if err != nil {
		return "", err
	}
	if !found {
		if !hasDef {
			return "", ip.lk.undefined(name)
		}
		v = def
	}
	v, err = ip.substitute(v, append(slices.Clip(prior), name), depth+1)
	if err != nil {
		return "", fmt.Errorf("in the value of ${%s}: %w", name, err)
	}
	return v, nil
}

func (lk *lookups) lookup(name string) (value string, found bool, err error) {
	prefix, key, ok := strings.Cut(name, ":")
	if !ok {
		return "", false, nil
	}
	switch strings.ToLower(prefix) {
	case "env":
		v, ok := lk.env[key]
		return v, ok, nil
	case "sys":
		v, ok := lk.sys[key]
		return v, ok, nil
	case "file":
		charset, path, ok := strings.Cut(key, ":")
		if !ok {
			return "", false, fmt.Errorf("${file:%s}: expected ${file:CHARSET:PATH} such as ${file:UTF-8:/etc/druid/secret}", key)
		}
		data, err := lk.readFile(path)
		if err != nil {
			return "", false, fmt.Errorf("${file:%s}: cannot read the file: %w", key, err)
		}
		s, err := decodeCharset(charset, data)
		if err != nil {
			return "", false, fmt.Errorf("${file:%s}: %w", key, err)
		}
		return s, true, nil
	default:
		return "", false, nil
	}
}

func (lk *lookups) undefined(name string) error {
	prefix, key, ok := strings.Cut(name, ":")
	switch {
	case !ok:
		return fmt.Errorf("${%s} cannot be resolved: Druid interpolates only ${env:…}, ${sys:…} and ${file:…} "+
			"(write $${%s} for a literal ${%s})", name, name, name)
	case strings.EqualFold(prefix, "env"):
		return fmt.Errorf("${%s}: environment variable %s is not set and no default is given (write ${%s:-default})",
			name, key, name)
	case strings.EqualFold(prefix, "sys"):
		return fmt.Errorf("${%s}: system property %s is not set and no default is given "+
			"(druid-sidecar has no JVM: give it with --set %s=… or write ${%s:-default})", name, key, key, name)
	default:
		return fmt.Errorf("${%s} cannot be resolved: unknown lookup %q (Druid interpolates only ${env:…}, ${sys:…} "+
			"and ${file:…})", name, prefix)
	}
}

// decodeCharset decodes file content for ${file:CHARSET:PATH}. Invalid UTF-8 becomes U+FFFD, as in Java.
func decodeCharset(charset string, data []byte) (string, error) {
	switch strings.ToUpper(charset) {
	case "UTF-8", "UTF8":
		return strings.ToValidUTF8(string(data), string(utf8.RuneError)), nil
	case "US-ASCII", "ASCII":
		runes := make([]rune, len(data))
		for i, c := range data {
			if c >= 0x80 {
				runes[i] = utf8.RuneError
			} else {
				runes[i] = rune(c)
			}
		}
		return string(runes), nil
	case "ISO-8859-1", "ISO8859-1", "ISO_8859_1", "LATIN1":
		runes := make([]rune, len(data))
		for i, c := range data {
			runes[i] = rune(c)
		}
		return string(runes), nil
	default:
		return "", fmt.Errorf("unsupported charset %q: use UTF-8, US-ASCII or ISO-8859-1", charset)
	}
}
