package configs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
)

// kind is how a key's value is read, stored in a Config and rendered back.
type kind interface {
	// typeName names the type in the README table.
	typeName() string
	// set parses raw (already interpolated) and stores it in c. Its error says what was expected and never
	// quotes the value of a secret.
	set(c *Config, raw string, lk *lookups) error
	// get renders the stored value; secrets render as "<redacted>" unless empty.
	get(c *Config) string
}

// field is the kind of a key stored in one field of type T.
type field[T any] struct {
	name   string
	parse  func(raw string, lk *lookups) (T, error)
	format func(T) string
	ptr    func(*Config) *T
}

func (f field[T]) typeName() string { return f.name }

func (f field[T]) set(c *Config, raw string, lk *lookups) error {
	v, err := f.parse(raw, lk)
	if err != nil {
		return err
	}
	*f.ptr(c) = v
	return nil
}

func (f field[T]) get(c *Config) string { return f.format(*f.ptr(c)) }

func str(ptr func(*Config) *string) kind {
	return text("string", func(s string) error { return nil }, ptr)
}

// text is a string kind: the value, trimmed, must pass check, whose error is completed with the value.
func text(name string, check func(string) error, ptr func(*Config) *string) kind {
	return quotedText(name, check, quoteValue, ptr)
}

// quotedText is text whose errors quote the value with quote.
func quotedText(name string, check func(string) error, quote func(string) string, ptr func(*Config) *string) kind {
	return field[string]{
		name: name,
		parse: func(raw string, _ *lookups) (string, error) {
			s := strings.TrimSpace(raw)
			if err := check(s); err != nil {
				return "", fmt.Errorf("%w, got %s", err, quote(raw))
			}
			return s, nil
		},
		format: func(v string) string { return v },
		ptr:    ptr,
	}
}

func boolean(ptr func(*Config) *bool) kind {
	return field[bool]{
		name: "bool",
		parse: func(raw string, _ *lookups) (bool, error) {
			switch strings.ToLower(strings.TrimSpace(raw)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
			return false, fmt.Errorf("expected true or false, got %s", quoteValue(raw))
		},
		format: strconv.FormatBool,
		ptr:    ptr,
	}
}

// integer is an int in [lo, hi].
func integer(lo, hi int, ptr func(*Config) *int) kind {
	return field[int]{
		name:   intTypeName(lo, hi),
		parse:  func(raw string, _ *lookups) (int, error) { return parseInt(raw, lo, hi, "an integer") },
		format: strconv.Itoa,
		ptr:    ptr,
	}
}

func port(ptr func(*Config) *int) kind {
	return field[int]{
		name:   "port",
		parse:  func(raw string, _ *lookups) (int, error) { return parseInt(raw, 1, 65535, "a port number") },
		format: strconv.Itoa,
		ptr:    ptr,
	}
}

func int64Range(lo, hi int, ptr func(*Config) *int64) kind {
	return field[int64]{
		name: intTypeName(lo, hi),
		parse: func(raw string, _ *lookups) (int64, error) {
			n, err := parseInt(raw, lo, hi, "an integer")
			return int64(n), err
		},
		format: func(v int64) string { return strconv.FormatInt(v, 10) },
		ptr:    ptr,
	}
}

// millis is a whole number of milliseconds, at least lo, stored as a Duration.
func millis(lo int, ptr func(*Config) *time.Duration) kind {
	return field[time.Duration]{
		name: "milliseconds",
		parse: func(raw string, _ *lookups) (time.Duration, error) {
			n, err := parseInt(raw, lo, math.MaxInt32, "a number of milliseconds")
			return time.Duration(n) * time.Millisecond, err
		},
		format: func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) },
		ptr:    ptr,
	}
}

func byteSize(ptr func(*Config) *ByteSize) kind {
	return field[ByteSize]{
		name: "bytes",
		parse: func(raw string, _ *lookups) (ByteSize, error) {
			n, err := ParseHumanBytes(raw)
			if err != nil {
				return 0, fmt.Errorf("%w, got %s", err, quoteValue(raw))
			}
			return ByteSize(n), nil
		},
		format: ByteSize.String,
		ptr:    ptr,
	}
}

// oneOf is a string that must be one of choices (case-sensitive, as Druid's type names are).
func oneOf[T ~string](ptr func(*Config) *T, choices ...T) kind {
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = string(c)
	}
	return field[T]{
		name: strings.Join(names, "|"),
		parse: func(raw string, _ *lookups) (T, error) {
			v := T(strings.TrimSpace(raw))
			if !slices.Contains(choices, v) {
				return "", fmt.Errorf("expected one of %s; got %s", strings.Join(names, ", "), quoteValue(raw))
			}
			return v, nil
		},
		format: func(v T) string { return string(v) },
		ptr:    ptr,
	}
}

// password is a Druid PasswordProvider: a plain string, or {"type":"default","password":…} or
// {"type":"environment","variable":…}.
func password(ptr func(*Config) *Secret) kind {
	return field[Secret]{
		name:  "password",
		parse: parsePassword,
		format: func(s Secret) string {
			if s.IsZero() {
				return ""
			}
			return redacted
		},
		ptr: ptr,
	}
}

// zkPath is an absolute ZooKeeper path.
func zkPath(ptr func(*Config) *string) kind {
	return text("ZooKeeper path", func(p string) error {
		if msg := checkZKPath(p); msg != "" {
			return errors.New(msg)
		}
		return nil
	}, ptr)
}

// checkZKPath returns what is wrong with an absolute ZooKeeper path, or "".
func checkZKPath(p string) string {
	const want = "expected an absolute ZooKeeper path such as /druid/announcements"
	if !strings.HasPrefix(p, "/") {
		return want
	}
	if p == "/" {
		return ""
	}
	if strings.HasSuffix(p, "/") {
		return want + " (no trailing /)"
	}
	for part := range strings.SplitSeq(p[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return want + " (no empty, . or .. parts)"
		}
	}
	return ""
}

// zkConnect is druid.zk.service.host: host:port[,host:port…][/chroot].
func zkConnect(ptr func(*Config) *string) kind {
	return text("host:port[,…][/chroot]", func(s string) error {
		_, _, err := splitZKConnect(s)
		return err
	}, ptr)
}

// httpURL is an absolute http or https URL, or "".
func httpURL(ptr func(*Config) *string) kind {
	return text("URL", func(s string) error {
		if s == "" {
			return nil
		}
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("expected an http:// or https:// URL such as http://127.0.0.1:8083")
		}
		return nil
	}, ptr)
}

// period is an ISO-8601 period of fixed length (PT15M, P1D), or "" for none.
func period(ptr func(*Config) *time.Duration) kind {
	return field[time.Duration]{
		name: "ISO-8601 period",
		parse: func(raw string, _ *lookups) (time.Duration, error) {
			s := strings.TrimSpace(raw)
			if s == "" {
				return 0, nil
			}
			d, err := parseISOPeriod(s)
			if err != nil {
				return 0, fmt.Errorf("%w, got %s", err, quoteValue(raw))
			}
			return d, nil
		},
		format: formatISOPeriod,
		ptr:    ptr,
	}
}

// hostKind is druid.host: a host name or address, with an optional :port that is split off.
type hostKind struct{}

func (hostKind) typeName() string { return "host[:port]" }

func (hostKind) get(c *Config) string { return c.Node.Host }

func (hostKind) set(c *Config, raw string, _ *lookups) error {
	if !safetext.IsPrintable(strings.TrimSpace(raw)) {
		// The host is announced to the whole cluster and printed by every tool that lists nodes.
		return fmt.Errorf("holds a control character; expected a host name or IP address such as 10.0.0.5, got %s", quoteValue(raw))
	}
	host, port, err := splitHostPort(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%w, got %s", err, quoteValue(raw))
	}
	c.Node.Host, c.hostPort = host, port
	return nil
}

// splitHostPort reads druid.host the way Guava's HostAndPort.fromString does: "[v6]:port", "[v6]", "host:port",
// or a host with no or several colons (a bare IPv6 address).
func splitHostPort(s string) (host string, port int, err error) {
	bad := errors.New("expected a host name or IP address, optionally with :port, such as 10.0.0.5 or 10.0.0.5:8083")
	if s == "" || strings.ContainsAny(s, " \t/") {
		return "", 0, bad
	}
	portText := ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, bad
		}
		host, portText = s[1:end], s[end+1:]
		if portText != "" {
			if portText[0] != ':' {
				return "", 0, bad
			}
			portText = portText[1:]
		}
	case strings.Count(s, ":") == 1:
		host, portText, _ = strings.Cut(s, ":")
	default:
		host = s
	}
	if host == "" {
		return "", 0, bad
	}
	if portText == "" {
		return host, 0, nil
	}
	p, err := strconv.Atoi(portText)
	if err != nil || p < 1 || p > 65535 || portText[0] == '+' {
		return "", 0, bad
	}
	return host, p, nil
}

// locationsKind is druid.segmentCache.locations, a JSON array.
type locationsKind struct{}

func (locationsKind) typeName() string { return "JSON array" }

func (locationsKind) get(c *Config) string {
	type loc struct {
		Path             string   `json:"path"`
		MaxSize          int64    `json:"maxSize"`
		FreeSpacePercent *float64 `json:"freeSpacePercent,omitempty"`
	}
	out := make([]loc, len(c.SegmentCache.locations))
	for i, l := range c.SegmentCache.locations {
		out[i] = loc{Path: l.Path, MaxSize: int64(l.MaxSize)}
		if l.FreeSpacePercent != 0 {
			out[i].FreeSpacePercent = &l.FreeSpacePercent
		}
	}
	return jsonText(out)
}

func (locationsKind) set(c *Config, raw string, _ *lookups) error {
	locs, err := parseLocations(raw)
	if err != nil {
		return err
	}
	c.SegmentCache.locations = locs
	return nil
}

const locationsExample = `[{"path":"/mnt/segments","maxSize":"300g"}]`

func parseLocations(raw string) ([]StorageLocation, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		return nil, fmt.Errorf("expected a JSON array of locations such as %s: %s", locationsExample, jsonError(raw, err))
	}
	locs := make([]StorageLocation, 0, len(items))
	for i, item := range items {
		at := fmt.Sprintf("location %d", i)
		var l StorageLocation
		if p, ok := item["path"]; !ok || json.Unmarshal(p, &l.Path) != nil || strings.TrimSpace(l.Path) == "" {
			return nil, fmt.Errorf("%s: expected a \"path\" string such as %s", at, locationsExample)
		}
		l.Path = filepath.Clean(l.Path)
		l.MaxSize = math.MaxInt64
		if m, ok := item["maxSize"]; ok && string(m) != "null" {
			n, err := parseJSONBytes(m)
			if err != nil {
				return nil, fmt.Errorf("%s: maxSize: %w, got %s", at, err, m)
			}
			if n <= 0 {
				return nil, fmt.Errorf("%s: maxSize must be positive, got %s", at, m)
			}
			l.MaxSize = ByteSize(n)
		}
		if f, ok := item["freeSpacePercent"]; ok && string(f) != "null" {
			if json.Unmarshal(f, &l.FreeSpacePercent) != nil || l.FreeSpacePercent < 0 || l.FreeSpacePercent > 100 {
				return nil, fmt.Errorf("%s: freeSpacePercent: expected a number from 0 to 100, got %s", at, f)
			}
		}
		locs = append(locs, l)
	}
	return locs, nil
}

// parseJSONBytes reads a size given as a JSON integer or a human-readable string.
func parseJSONBytes(m json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(m, &s) == nil {
		return ParseHumanBytes(s)
	}
	n, err := strconv.ParseInt(string(m), 10, 64)
	if err != nil {
		return 0, errHumanBytes
	}
	return n, nil
}

// stringList is a JSON array of strings.
func stringList(ptr func(*Config) *[]string) kind {
	return field[[]string]{
		name: "JSON array of strings",
		parse: func(raw string, _ *lookups) ([]string, error) {
			var v []string
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return nil, fmt.Errorf(`expected a JSON array of strings such as ["password","token"]: %s`, jsonError(raw, err))
			}
			return v, nil
		},
		format: func(v []string) string { return jsonText(v) },
		ptr:    ptr,
	}
}

// jsonError describes a JSON syntax error with its 1-based column.
func jsonError(raw string, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset < int64(len(raw)) {
		return fmt.Sprintf("%s at column %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := "value"
		switch te.Type.Kind() {
		case reflect.Slice, reflect.Array:
			want = "array"
		case reflect.Map, reflect.Struct:
			want = "object"
		case reflect.String:
			want = "string"
		}
		return fmt.Sprintf("found a JSON %s where %s belongs", te.Value, article(want))
	}
	return err.Error()
}

func parseInt(raw string, lo, hi int, what string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return 0, fmt.Errorf("expected %s%s, got %s", what, rangeText(lo, hi), quoteValue(raw))
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("expected %s%s, got %d", what, rangeText(lo, hi), n)
	}
	return n, nil
}

func rangeText(lo, hi int) string {
	switch {
	case hi >= math.MaxInt32 && lo <= math.MinInt32:
		return ""
	case hi >= math.MaxInt32:
		return fmt.Sprintf(" of at least %d", lo)
	default:
		return fmt.Sprintf(" between %d and %d", lo, hi)
	}
}

func intTypeName(lo, hi int) string {
	switch {
	case hi >= math.MaxInt32 && lo <= math.MinInt32:
		return "int"
	case hi >= math.MaxInt32:
		return fmt.Sprintf("int ≥ %d", lo)
	default:
		return fmt.Sprintf("int %d…%d", lo, hi)
	}
}

// quoteValue quotes a value for an error message, shortened so a long JSON value stays on one readable line.
func quoteValue(raw string) string {
	if raw == "" {
		return "an empty value"
	}
	const limit = 60
	if len(raw) > limit {
		cut := limit
		for cut > 0 && !isRuneStart(raw[cut]) {
			cut--
		}
		return strconv.Quote(raw[:cut]) + "…"
	}
	return strconv.Quote(raw)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func article(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
