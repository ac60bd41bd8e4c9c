package safetext

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The defaults of LoggerOptions.
const (
	DefaultMaxValueBytes = 2048
	DefaultBurst         = 20
	DefaultWindow        = 10 * time.Second
)

// maxKeys bounds the messages counted at once; lines of further messages share one count.
const maxKeys = 1024

// LoggerOptions bound what a Logger writes.
type LoggerOptions struct {
	// MaxValueBytes caps the message and each value a line quotes (Cap keeps their start and end); 0 means
	// DefaultMaxValueBytes.
	MaxValueBytes int
	// Burst is how many lines of one message (same logger name and level) at Info, Warn or Error are written per
	// Window; the lines beyond are counted, and when the window ends one more line of that message says how many
	// were left out and carries the last one's values. 0 means DefaultBurst; a negative Burst writes every line.
	// Debug and Trace lines, which an operator turns on to see everything, are never left out.
	Burst int
	// Window is the period Burst counts over; 0 means DefaultWindow.
	Window time.Duration
}

// Logger is an hclog.Logger that writes what a hostile cluster cannot amplify: the message and every value
// made Printable (one record is one line, with no terminal escape) and capped to MaxValueBytes, and repeated
// lines counted rather than written (a batch of 100,000 failing loads writes Burst lines and a count, not 100,000
// lines). Loggers derived with Named, With or ResetNamed share the counts.
type Logger struct {
	hclog.Logger
	lim *limiter
}

// NewLogger wraps l.
func NewLogger(l hclog.Logger, o LoggerOptions) *Logger {
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	return &Logger{Logger: l, lim: &limiter{opts: o, entries: map[string]*entry{}}}
}

// limiter counts the lines of each message in the current window; it is shared by every derived Logger.
type limiter struct {
	opts LoggerOptions

	mu      sync.Mutex
	entries map[string]*entry
}

// entry is one message's count in the current window.
type entry struct {
	log        *Logger
	level      hclog.Level
	msg        string
	written    int
	suppressed int
	last       []any // the values of the last line left out
	timer      *time.Timer
}

// Log writes a line unless its message already had Burst lines in this window.
func (l *Logger) Log(level hclog.Level, msg string, args ...any) {
	if level < l.GetLevel() {
		return
	}
	// The count comes first: a line left out costs no formatting of its values.
	msg = l.text(msg)
	if level < hclog.Info || l.lim.opts.Burst < 0 || l.lim.admit(l, level, msg, args) {
		l.Logger.Log(level, msg, l.values(args)...)
	}
}

// Trace writes a Trace line (never left out).
func (l *Logger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }

// Debug writes a Debug line (never left out).
func (l *Logger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }

// Info writes an Info line.
func (l *Logger) Info(msg string, args ...any) { l.Log(hclog.Info, msg, args...) }

// Warn writes a Warn line.
func (l *Logger) Warn(msg string, args ...any) { l.Log(hclog.Warn, msg, args...) }

// Error writes an Error line.
func (l *Logger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

// With returns a Logger whose lines carry args, capped.
func (l *Logger) With(args ...any) hclog.Logger {
	return &Logger{Logger: l.Logger.With(l.values(args)...), lim: l.lim}
}

// Named returns a sub-logger sharing the counts.
func (l *Logger) Named(name string) hclog.Logger {
	return &Logger{Logger: l.Logger.Named(name), lim: l.lim}
}

// ResetNamed returns a logger of that name sharing the counts.
func (l *Logger) ResetNamed(name string) hclog.Logger {
	return &Logger{Logger: l.Logger.ResetNamed(name), lim: l.lim}
}

// StandardLogger returns a standard library logger writing through l (an http.Server's ErrorLog, say).
func (l *Logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer whose lines go through l, at the level their [ERROR], [WARN]… prefix says when
// opts.InferLevels is set, at Info otherwise.
func (l *Logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return stdWriter{l: l, opts: *opts}
}

type stdWriter struct {
	l    *Logger
	opts hclog.StandardLoggerOptions
}

func (w stdWriter) Write(p []byte) (int, error) {
	s := string(bytes.TrimRight(p, " \t\n"))
	level := hclog.Info
	if w.opts.ForceLevel != hclog.NoLevel {
		level = w.opts.ForceLevel
	}
	if w.opts.InferLevels || w.opts.ForceLevel != hclog.NoLevel {
		for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
			prefix := "[" + strings.ToUpper(lv.String()) + "]"
			if rest, ok := strings.CutPrefix(s, prefix); ok {
				s = strings.TrimSpace(rest)
				if w.opts.ForceLevel == hclog.NoLevel {
					level = lv
				}
				break
			}
		}
	}
	w.l.Log(level, s)
	return len(p), nil
}

// Flush writes the count of every message left out so far now, instead of at the end of its window; a process
// calls it before it exits.
func (l *Logger) Flush() {
	l.lim.mu.Lock()
	var ended []*entry
	for key, e := range l.lim.entries {
		e.timer.Stop()
		delete(l.lim.entries, key)
		ended = append(ended, e)
	}
	l.lim.mu.Unlock()
	for _, e := range ended {
		l.lim.summary(e)
	}
}

// admit counts a line and says whether to write it. The first line of a message in a window starts the window's
// timer, which writes the count of what was left out when it fires.
func (lm *limiter) admit(lg *Logger, level hclog.Level, msg string, args []any) bool {
	key := lg.Name() + "\x00" + level.String() + "\x00" + msg
	lm.mu.Lock()
	defer lm.mu.Unlock()
	e := lm.entries[key]
	if e == nil && len(lm.entries) >= maxKeys {
		// Too many different messages at once (they are mostly constants, so something generates them): they
		// share one count, under the message that overflowed first.
		key = "\x00overflow"
		e = lm.entries[key]
	}
	if e == nil {
		e = &entry{log: lg, level: level, msg: msg}
		lm.entries[key] = e
		e.timer = time.AfterFunc(lm.opts.Window, func() {
			lm.mu.Lock()
			if lm.entries[key] != e {
				lm.mu.Unlock()
				return // flushed already
			}
			delete(lm.entries, key)
			lm.mu.Unlock()
			lm.summary(e)
		})
	}
	if e.written < lm.opts.Burst {
		e.written++
		return true
	}
	e.suppressed++
	e.last = args
	return false
}

// summary writes the line that says how many lines of e's message were left out, with the last one's values.
func (lm *limiter) summary(e *entry) {
	if e.suppressed == 0 {
		return
	}
	args := append(e.log.values(e.last), "suppressed", e.suppressed, "suppressedWithin", lm.opts.Window.String())
	e.log.Logger.Log(e.level, e.msg, args...)
}

// text is s made printable and capped.
func (l *Logger) text(s string) string {
	limit := l.lim.opts.MaxValueBytes
	return Cap(Printable(Cap(s, limit)), limit)
}

// values caps every value of args; numbers, booleans, durations and times are kept as they are, so that the JSON
// format keeps their types, and so are values whose text is short and printable.
func (l *Logger) values(args []any) []any {
	if len(args) == 0 {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = l.value(a)
	}
	return out
}

func (l *Logger) value(v any) any {
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64,
		time.Duration, time.Time, hclog.Hex, hclog.Octal, hclog.Binary, hclog.CapturedStacktrace:
		return v
	case string:
		return l.text(x)
	case hclog.Quote:
		return hclog.Quote(l.text(string(x)))
	case error:
		return l.text(x.Error())
	case fmt.Stringer:
		return l.text(x.String())
	case hclog.Format:
		if len(x) > 0 {
			if f, ok := x[0].(string); ok {
				return l.text(fmt.Sprintf(f, x[1:]...))
			}
		}
		return l.text(fmt.Sprint(x...))
	case []string:
		const maxItems = 20
		n := min(len(x), maxItems)
		items := make([]string, n, n+1)
		for i := range n {
			items[i] = l.text(x[i])
		}
		if len(x) > n {
			items = append(items, fmt.Sprintf("… %d more", len(x)-n))
		}
		return items
	}
	if s := fmt.Sprintf("%v", v); len(s) > l.lim.opts.MaxValueBytes || !IsPrintable(s) {
		return l.text(s)
	}
	return v
}
