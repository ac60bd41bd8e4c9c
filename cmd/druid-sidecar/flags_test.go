package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestCommandLoggerBoundsWhatTheClusterSends: the logger every command builds writes a Coordinator's batch of
// 100,000 failing loads of a segment with a 1 MB dataSource name holding escape sequences as a few short, printable
// lines and a count, in both formats, once the command returns.
func TestCommandLoggerBoundsWhatTheClusterSends(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		common := commonFlags{logFormat: format, logLevel: "info"}
		log, err := common.logger(&buf)
		if err != nil {
			t.Fatal(err)
		}
		id := "\x1b]0;pwned\x07" + strings.Repeat("w", 1<<20) + "_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_v1"
		lq, cause := log.Named("loadqueue"), errors.New("no such key: "+id)
		for range 100_000 {
			lq.Warn("segment load failed", "segment", id, "error", cause)
		}
		flushLoggers(&buf)
		out := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		if len(out) > 30 || buf.Len() > 200<<10 || strings.ContainsAny(buf.String(), "\x1b\x07") {
			t.Errorf("%s: %d lines, %d bytes, raw escapes %v", format, len(out), buf.Len(), strings.ContainsAny(buf.String(), "\x1b\x07"))
		}
		if last := out[len(out)-1]; !strings.Contains(last, "suppressed") {
			t.Errorf("%s: no count of the lines left out: %.200s", format, last)
		}
	}
}
