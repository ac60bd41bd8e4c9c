package configs

import (
	"testing"
	"time"
)

func TestISOPeriod(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"PT15M", 15 * time.Minute, "PT15M"},
		{"PT1H", time.Hour, "PT1H"},
		{"P1D", 24 * time.Hour, "P1D"},
		{"P1W", 7 * 24 * time.Hour, "P7D"},
		{"P1DT2H3M4.5S", 26*time.Hour + 3*time.Minute + 4500*time.Millisecond, "P1DT2H3M4.5S"},
		{"pt30s", 30 * time.Second, "PT30S"},
		{"PT0,25S", 250 * time.Millisecond, "PT0.25S"},
		{"PT90M", 90 * time.Minute, "PT1H30M"},
	}
	for _, tt := range tests {
		got, err := parseISOPeriod(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseISOPeriod(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := formatISOPeriod(got); s != tt.out {
			t.Errorf("formatISOPeriod(%v) = %q, want %q", got, s, tt.out)
		}
	}
	for _, bad := range []string{"", "P", "PT", "15m", "P1Y", "P2M", "PT1.5M", "P1DT", "PT1H1H", "PT1M1H", "P1D1W", "PT-1S", "P1.S", "PT1S2", "P99999999999999W"} {
		if got, err := parseISOPeriod(bad); err == nil {
			t.Errorf("parseISOPeriod(%q) = %v, want an error", bad, got)
		}
	}
}
