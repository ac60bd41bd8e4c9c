package configs

import (
	"math"
	"strconv"
	"testing"
)

func TestParseHumanBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1024", 1024},
		{"300g", 300_000_000_000},
		{"300G", 300_000_000_000},
		{" 10k ", 10_000},
		{"1m", 1_000_000},
		{"2t", 2_000_000_000_000},
		{"1p", 1_000_000_000_000_000},
		{"1ki", 1024},
		{"1KiB", 1024},
		{"280Gi", 280 << 30},
		{"3mi", 3 << 20},
		{"1ti", 1 << 40},
		{"1PIB", 1 << 50},
		{"+5k", 5000},
		{"9223372036854775807", math.MaxInt64},
		{"8191pi", 8191 << 50},
	}
	for _, tt := range tests {
		got, err := ParseHumanBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseHumanBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", " ", "12zz", "1.2t", "-1", "-1k", "k", "ki", "kib", "1kb", "1 k", "100b", "1e9",
		"0x10", "9223372036854775808", "9223372036854776k", "8192pi", "1,000", "++1", "１２"} {
		if got, err := ParseHumanBytes(bad); err == nil {
			t.Errorf("ParseHumanBytes(%q) = %d, want an error", bad, got)
		}
	}
}

func FuzzParseHumanBytes(f *testing.F) {
	for _, s := range []string{"300g", "1KiB", "1.2t", "-1", "9223372036854775807", "8pi", " 7 ", "+1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseHumanBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q = %d", s, n)
		}
		if back, err := ParseHumanBytes(strconv.FormatInt(n, 10)); err != nil || back != n {
			t.Fatalf("%q = %d, which reads back as %d, %v", s, n, back, err)
		}
		if back, err := ParseHumanBytes(ByteSize(n).String()); err != nil || back != n {
			t.Fatalf("ByteSize(%d).String() reads back as %d, %v", n, back, err)
		}
	})
}
