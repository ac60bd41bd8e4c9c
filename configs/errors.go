package configs

import (
	"sort"
	"strconv"
	"strings"
)

// OriginKind says which kind of source gave a key its value.
type OriginKind int

// The sources of a value, from the weakest to the strongest.
const (
	// FromDefault is Druid's (or druid-sidecar's) default, or a value derived from other keys.
	FromDefault OriginKind = iota
	// FromFile is a --properties file.
	FromFile
	// FromEnv is an environment variable in the Druid Docker image convention (druid_zk_service_host).
	FromEnv
	// FromFlag is a --set key=value flag.
	FromFlag
)

// Origin is where a value came from.
type Origin struct {
	Kind OriginKind
	// Path is the properties file (FromFile).
	Path string
	// Line is the 1-based line in Path where the logical line holding the key starts (FromFile);
	// 0 when the problem concerns the whole file.
	Line int
	// Name is the environment variable (FromEnv).
	Name string
}

// String renders the origin the way `config print` and error messages show it:
// "default", "file:PATH:LINE", "env:NAME" or "flag:--set".
func (o Origin) String() string {
	switch o.Kind {
	case FromFile:
		if o.Line > 0 {
			return "file:" + o.Path + ":" + strconv.Itoa(o.Line)
		}
		return "file:" + o.Path
	case FromEnv:
		return "env:" + o.Name
	case FromFlag:
		return "flag:--set"
	default:
		return "default"
	}
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Key is the property concerned, or "" for a problem with a whole file or flag.
	Key string
	// Origin is where the offending value came from; the zero Origin (FromDefault) when the problem
	// is a missing or inconsistent value rather than a bad one.
	Origin Origin
	// Msg says what was expected. It never contains the value of a secret.
	Msg string

	order int // position of the offending value among all values read, for a stable report
}

// Error renders the problem as one line: "ORIGIN: KEY: MSG", leaving out the parts that are empty.
func (p Problem) Error() string {
	var b strings.Builder
	if p.Origin.Kind != FromDefault {
		b.WriteString(p.Origin.String())
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(b.String())
}

// Errors is every problem found by Load, reported at once.
type Errors struct {
	Problems []Problem
}

// Error renders one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives each problem as an error, so errors.As finds a Problem.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems collects problems in the order values were read; problems without a value (missing keys,
// cross-key checks) come last, in the order they were found.
type problems struct {
	list []Problem
	next int
}

func (ps *problems) add(p Problem) {
	if p.order == 0 {
		ps.next++
		p.order = 1<<30 + ps.next
	}
	ps.list = append(ps.list, p)
}

// about reports whether a problem concerns key already.
func (ps *problems) about(key string) bool {
	for _, p := range ps.list {
		if p.Key == key {
			return true
		}
	}
	return false
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	sorted := append([]Problem(nil), ps.list...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].order < sorted[j].order })
	return &Errors{Problems: sorted}
}
