package segments

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustInterval(t *testing.T, s string) Interval {
	t.Helper()
	iv, err := ParseInterval(s)
	if err != nil {
		t.Fatalf("ParseInterval(%q): %v", s, err)
	}
	return iv
}

func TestParseInterval(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z", "2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z"},
		{"-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z", "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z"},
		{"2025-01-01T00:00:00.000+05:30/2025-01-01T01:00:00.000+0530", "2024-12-31T18:30:00.000Z/2024-12-31T19:30:00.000Z"},
		{"2025-01-01T00:00:00Z/2025-01-02T00:00:00Z", "2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z"},
		{"2025-01-01/2025-01-02", "2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z"},
		{"2025/2026", "2025-01-01T00:00:00.000Z/2026-01-01T00:00:00.000Z"},
		{"2025-01-01/2025-01-01", "2025-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z"},
		// Periods, as Joda's StringConverter reads them.
		{"2022-01-01T12:00:00.000Z/PT6H", "2022-01-01T12:00:00.000Z/2022-01-01T18:00:00.000Z"},
		{"P1D/2025-01-02", "2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z"},
		{"2025-01-31/P1M", "2025-01-31T00:00:00.000Z/2025-02-28T00:00:00.000Z"},
		{"2024-02-29/P1Y1M", "2024-02-29T00:00:00.000Z/2025-03-28T00:00:00.000Z"},
		{"p1m/2025-03-31", "2025-02-28T00:00:00.000Z/2025-03-31T00:00:00.000Z"},
		{"2025-01-01/P1Y2M3W4DT5H6M7.89S", "2025-01-01T00:00:00.000Z/2026-03-26T05:06:07.890Z"},
		{"2025-01-01/pt-1s", ""}, // end before start
		{"2025-01-01/P0D", "2025-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		iv, err := ParseInterval(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseInterval(%q) = %v, want an error", tt.in, iv)
			}
			continue
		}
		if err != nil || iv.String() != tt.want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %s", tt.in, iv, err, tt.want)
		}
	}
}

func TestParseIntervalErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2025-01-01", `invalid interval "2025-01-01": it needs a "/" between its start and its end`},
		{"/2025-01-01", "the start is empty"},
		{"2025-01-01/", "the end is empty"},
		{"P1D/P1D", "composed of two periods"},
		{"2025-01-02/2025-01-01", "the end 2025-01-01T00:00:00.000Z is before the start 2025-01-02T00:00:00.000Z"},
		{"2025-13-01/2025-12-01", `start "2025-13-01": month 13 is out of range [1, 12]`},
		{"2025-01-01/2025-01-01/2025-01-02", `end "2025-01-01/2025-01-02": malformed at offset 10 ("/2025-01-02")`},
		{"2025-01-01/P", `end "P": the period has no fields`},
		{"2025-01-01/P1X", `unexpected unit 'X'`},
		{"2025-01-01/PT", `"T" must be followed by hours, minutes or seconds`},
		{"2025-01-01/P1.5D", "only seconds may have a fraction"},
		{"2025-01-01/P1D1Y", `unexpected "1Y" at offset 3`},
		{"2025-01-01/P999999999Y", "the end falls outside the years Druid can represent"},
		{"P999999999Y/2025-01-01", "the start falls outside the years Druid can represent"},
	}
	for _, tt := range tests {
		_, err := ParseInterval(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseInterval(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestIntervalRelations(t *testing.T) {
	day1 := mustInterval(t, "2025-01-01/2025-01-02")
	day2 := mustInterval(t, "2025-01-02/2025-01-03")
	both := mustInterval(t, "2025-01-01/2025-01-03")
	empty := mustInterval(t, "2025-01-02/2025-01-02")
	tests := []struct {
		name      string
		a, b      Interval
		overlaps  bool
		aContainB bool
	}{
		{"abutting", day1, day2, false, false},
		{"inner", both, day2, true, true},
		{"outer", day2, both, true, false},
		{"same", day1, day1, true, true},
		{"empty at the end", day1, empty, false, false},
		{"empty at the start", day2, empty, false, true},
		{"eternity", Eternity, day1, true, true},
	}
	for _, tt := range tests {
		if got := tt.a.Overlaps(tt.b); got != tt.overlaps {
			t.Errorf("%s: Overlaps = %v, want %v", tt.name, got, tt.overlaps)
		}
		if got := tt.a.ContainsInterval(tt.b); got != tt.aContainB {
			t.Errorf("%s: ContainsInterval = %v, want %v", tt.name, got, tt.aContainB)
		}
	}
	wantEq(t, "Contains(start)", day1.Contains(day1.Start), true)
	wantEq(t, "Contains(end)", day1.Contains(day1.End), false)
	wantEq(t, "Duration", day1.Duration(), int64(millisPerDay))
	wantEq(t, "IsEmpty", empty.IsEmpty(), true)
}

func TestIntervalJSON(t *testing.T) {
	var v struct {
		I Interval  `json:"i"`
		P *Interval `json:"p"`
	}
	if err := json.Unmarshal([]byte(`{"i":"2025-01-01/P1D","p":null}`), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "json", string(b), `{"i":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","p":null}`)
	for _, bad := range []string{`{"i":5}`, `{"i":"x"}`, `{"i":"2025-01-01/2025-01-02\ud800"}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
	var iv Interval
	if err := iv.UnmarshalText([]byte("2025-01-01/2025-01-02")); err != nil {
		t.Fatal(err)
	}
	txt, _ := iv.MarshalText()
	wantEq(t, "MarshalText", string(txt), "2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z")
	wantEq(t, "Eternity", Eternity.String(), "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z")
}
