package safetext

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// syncBuffer is a bytes.Buffer the window's timer may write to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestLogger(json bool, o LoggerOptions) (*Logger, *syncBuffer) {
	var buf syncBuffer
	inner := hclog.New(&hclog.LoggerOptions{Name: "druid-sidecar", Level: hclog.Info, Output: &buf, JSONFormat: json})
	return NewLogger(inner, o), &buf
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// TestLogAmplification: a Coordinator's batch of 100,000 loads of a segment whose dataSource is 1 MB long, each
// failing, writes Burst lines of a few KiB and one count, not 100,000 lines of a megabyte.
func TestLogAmplification(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			l, buf := newTestLogger(format == "json", LoggerOptions{Window: time.Hour})
			id := strings.Repeat("d", 1<<20) + "_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_v1"
			err := errors.New("pulling s3://bucket/" + strings.Repeat("d", 1<<20) + "/index.zip: connection refused")
			log := l.Named("loadqueue")
			for range 100_000 {
				log.Warn("segment load failed", "segment", id, "error", err)
			}
			l.Flush()
			out := lines(buf.String())
			if len(out) != DefaultBurst+1 {
				t.Fatalf("%d lines for 100,000 failures, want %d", len(out), DefaultBurst+1)
			}
			for i, line := range out {
				if len(line) > 3*DefaultMaxValueBytes {
					t.Errorf("line %d has %d bytes", i+1, len(line))
				}
			}
			last := out[len(out)-1]
			if !strings.Contains(last, "suppressed") || !strings.Contains(last, "99980") ||
				!strings.Contains(last, "connection refused") || !strings.Contains(last, "_v1") {
				t.Errorf("the count line: %.300s…", last)
			}
			if format == "json" {
				for _, line := range out {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("not JSON: %v: %.200s", err, line)
					}
				}
			}
		})
	}
}

// TestLoggerNeutralizesNames: a name with terminal escapes and line breaks, in the message or a value, in text or
// JSON, comes out as one line without a control character.
func TestLoggerNeutralizesNames(t *testing.T) {
	hostile := "wiki\x1b[2J\x1b]0;pwned\x07\r\n2026-01-01T00:00:00Z [ERROR] forged\u202e"
	for _, format := range []string{"text", "json"} {
		l, buf := newTestLogger(format == "json", LoggerOptions{})
		l.Warn("dropping "+hostile, "dataSource", hostile, "tier", hclog.Quote(hostile), "list", []string{hostile},
			"fmt", hclog.Fmt("%s!", hostile), "n", 3)
		l.With("server", hostile).Error("x")
		l.Flush()
		out := lines(buf.String())
		if len(out) != 2 {
			t.Fatalf("%s: %d lines: %q", format, len(out), buf.String())
		}
		for _, line := range out {
			if !IsPrintable(line) || strings.Contains(line, "\x1b") {
				t.Errorf("%s: %q", format, line)
			}
			if !strings.Contains(line, `wiki\x1b[2J`) && !strings.Contains(line, `wiki\\x1b[2J`) {
				t.Errorf("%s: the name is not shown escaped: %q", format, line)
			}
		}
		if format == "json" && !strings.Contains(out[0], `"n":3`) {
			t.Errorf("a number lost its type: %s", out[0])
		}
	}
}

// TestLoggerCountsPerMessage: each message (per logger name and level) has its own count; Debug is never left out;
// a window's count is written when the window ends, without Flush.
func TestLoggerCountsPerMessage(t *testing.T) {
	var buf syncBuffer
	inner := hclog.New(&hclog.LoggerOptions{Name: "x", Level: hclog.Debug, Output: &buf})
	l := NewLogger(inner, LoggerOptions{Burst: 2, Window: 50 * time.Millisecond})
	for range 5 {
		l.Warn("a")
		l.Warn("b")
		l.Named("sub").Warn("a")
		l.Error("a")
		l.Debug("a")
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(buf.String(), "suppressed=3") < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the window's counts were not written within 10 s:\n%s", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	out := buf.String()
	if n := strings.Count(out, "[DEBUG]"); n != 5 {
		t.Errorf("%d Debug lines, want 5", n)
	}
	if n := len(lines(out)); n != 4*3+5 {
		t.Errorf("%d lines, want %d:\n%s", n, 4*3+5, out)
	}
	// A new window writes again.
	l.Warn("a")
	if n := strings.Count(buf.String(), "[WARN]  x: a"); n != 4 {
		t.Errorf("%d lines of a after the window, want 4", n)
	}
}

// TestLoggerStandardWriter: what an http.Server writes to its ErrorLog goes through the caps too.
func TestLoggerStandardWriter(t *testing.T) {
	l, buf := newTestLogger(false, LoggerOptions{})
	std := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	std.Printf("[ERROR] http: TLS handshake error from %s", strings.Repeat("\x1b", 1<<20))
	out := buf.String()
	if len(out) > 3*DefaultMaxValueBytes || !strings.Contains(out, "[ERROR]") || strings.Contains(out, "\x1b") {
		t.Errorf("%d bytes: %.200q", len(out), out)
	}
}
