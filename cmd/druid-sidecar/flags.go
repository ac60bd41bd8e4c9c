package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"

	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
)

// stringList is a repeatable string flag (--properties a --properties b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlagSet builds a command's flag set whose -h prints the command's usage to the command's stderr.
func newFlagSet(name, usage string, env *environment) *flag.FlagSet {
	fs := flag.NewFlagSet("druid-sidecar "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: druid-sidecar %s [flags] %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// exitCodeForParse maps a flag parsing error to an exit status: -h is a success, anything else bad input.
func exitCodeForParse(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitBadInput
}

// commonFlags are the flags of every command that reads the Druid configuration.
type commonFlags struct {
	properties stringList
	sets       stringList
	logFormat  string
	logLevel   string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.properties, "properties", "a Druid runtime.properties `file`; repeatable, later files override earlier ones")
	fs.Var(&c.sets, "set", "override one property, as `key=value`; repeatable, overrides files and druid_* environment variables")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
}

// logger builds the process logger: readable text (coloured on a terminal) or one JSON object per line. Every line
// goes through safetext's Logger: names read from the cluster are made printable and capped, and a message
// repeated faster than a few a second is counted rather than written (a 100,000-load batch that fails does not
// write 100,000 lines). run writes the pending counts when the command returns.
func (c *commonFlags) logger(w io.Writer) (hclog.Logger, error) {
	level := hclog.LevelFromString(c.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("--log-level %q: expected trace, debug, info, warn or error", c.logLevel)
	}
	opts := &hclog.LoggerOptions{Name: "druid-sidecar", Level: level, Output: w}
	switch c.logFormat {
	case "json":
		opts.JSONFormat = true
	case "text":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			opts.Color = hclog.AutoColor
		}
	default:
		return nil, fmt.Errorf("--log-format %q: expected text or json", c.logFormat)
	}
	l := safetext.NewLogger(hclog.New(opts), safetext.LoggerOptions{})
	builtLoggers.Lock()
	builtLoggers.m[w] = append(builtLoggers.m[w], l)
	builtLoggers.Unlock()
	return l, nil
}

// builtLoggers are the loggers built for each output (a command's stderr), for flushLoggers.
var builtLoggers = struct {
	sync.Mutex
	m map[io.Writer][]*safetext.Logger
}{m: map[io.Writer][]*safetext.Logger{}}

// flushLoggers writes the pending counts of the loggers built for w and forgets them.
func flushLoggers(w io.Writer) {
	builtLoggers.Lock()
	ls := builtLoggers.m[w]
	delete(builtLoggers.m, w)
	builtLoggers.Unlock()
	for _, l := range ls {
		l.Flush()
	}
}

// parseArgs parses a command's flags, refuses positional arguments, and checks --format against the formats the
// command knows. It reports what is wrong and returns false with the exit status to use.
func parseArgs(env *environment, name string, fs *flag.FlagSet, args []string, format *string, formats ...string) (bool, int) {
	if err := fs.Parse(args); err != nil {
		return false, exitCodeForParse(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "druid-sidecar %s: unexpected argument %q\n", name, fs.Arg(0))
		return false, exitBadInput
	}
	if format != nil && !slices.Contains(formats, *format) {
		fmt.Fprintf(env.stderr, "druid-sidecar %s: --format %q: expected %s\n", name, *format, strings.Join(formats, " or "))
		return false, exitBadInput
	}
	return true, exitOK
}
