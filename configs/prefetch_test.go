package configs

import "testing"

func TestPrefetchMaxBytes(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want ByteSize
	}{
		{"", PrefetchWindowAuto},
		{"druid.sidecar.prefetch.maxBytes=auto", PrefetchWindowAuto},
		{"druid.sidecar.prefetch.maxBytes=0", 0},
		{"druid.sidecar.prefetch.maxBytes=2g", 2_000_000_000},
	} {
		var sets []string
		if tc.set != "" {
			sets = []string{tc.set}
		}
		c, err := Load(LoadOptions{Environ: []string{}, NumCPU: 2, Sets: sets})
		if err != nil {
			t.Fatalf("%q: %v", tc.set, err)
		}
		if c.Sidecar.PrefetchMaxBytes != tc.want {
			t.Errorf("%q: maxBytes = %d, want %d", tc.set, c.Sidecar.PrefetchMaxBytes, tc.want)
		}
	}
	if _, err := Load(LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{"druid.sidecar.prefetch.maxBytes=-1"}}); err == nil {
		t.Error("a negative window was accepted")
	}
}
