package segments

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func ms(t *testing.T, y int, mo time.Month, d, h, mi, s, milli int) Instant {
	t.Helper()
	return Instant(time.Date(y, mo, d, h, mi, s, milli*1e6, time.UTC).UnixMilli())
}

func TestInstantString(t *testing.T) {
	tests := []struct {
		in   Instant
		want string
	}{
		{0, "1970-01-01T00:00:00.000Z"},
		{-1, "1969-12-31T23:59:59.999Z"},
		{1, "1970-01-01T00:00:00.001Z"},
		{1735787045678, "2025-01-02T03:04:05.678Z"},
		{Eternity.Start, "-146136543-09-08T08:23:32.096Z"},
		{Eternity.End, "146140482-04-24T15:36:27.903Z"},
		{MinInstant, "-292275054-01-01T00:00:00.000Z"},
		{MaxInstant, "292278993-12-31T23:59:59.999Z"},
		{ms(t, 0, 1, 1, 0, 0, 0, 0), "0000-01-01T00:00:00.000Z"},
		{ms(t, -1, 12, 31, 23, 59, 59, 999), "-0001-12-31T23:59:59.999Z"},
		{ms(t, -12, 3, 4, 5, 6, 7, 8), "-0012-03-04T05:06:07.008Z"},
		{ms(t, 9999, 12, 31, 23, 59, 59, 999), "9999-12-31T23:59:59.999Z"},
		{ms(t, 10000, 1, 1, 0, 0, 0, 0), "10000-01-01T00:00:00.000Z"},
		{ms(t, 2024, 2, 29, 12, 0, 0, 5), "2024-02-29T12:00:00.005Z"},
		{ms(t, 999, 1, 1, 0, 0, 0, 0), "0999-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Instant(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

// TestInstantStringMatchesGo compares with time.Format, which the protocol notes found to match Java's output even for
// extreme years.
func TestInstantStringMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		v := Instant(r.Int64N(int64(Eternity.End)*2) - int64(Eternity.End))
		if i%2 == 0 {
			v = Instant(r.Int64N(400 * 365 * millisPerDay))
		}
		if got, want := v.String(), v.Time().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Fatalf("Instant(%d).String() = %q, time.Format gives %q", int64(v), got, want)
		}
	}
}

func TestInstantRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	values := []Instant{MinInstant, MaxInstant, Eternity.Start, Eternity.End, 0, -1}
	for i := 0; i < 20000; i++ {
		values = append(values, Instant(r.Int64N(int64(MaxInstant))*2-int64(MaxInstant)))
	}
	for _, v := range values {
		s := v.String()
		if got, err := ParseStrictInstant(s); err != nil || got != v {
			t.Fatalf("ParseStrictInstant(%q) = %d, %v; want %d", s, got, err, v)
		}
		if got, err := ParseInstant(s); err != nil || got != v {
			t.Fatalf("ParseInstant(%q) = %d, %v; want %d", s, got, err, v)
		}
	}
}

func TestParseInstant(t *testing.T) {
	base := ms(t, 2025, 1, 2, 3, 4, 5, 678)
	tests := []struct {
		in   string
		want Instant
	}{
		// The strict form and its variants.
		{"2025-01-02T03:04:05.678Z", base},
		{"2025-01-02t03:04:05.678z", base},
		{"2025-01-02T03:04:05.678+00:00", base},
		{"2025-01-02T08:34:05.678+05:30", base},
		{"2025-01-02T08:34:05.678+0530", base},
		{"2025-01-01T19:04:05.678-08", base},
		{"2025-01-02T03:04:05.678-00:00:00.000", base},
		{"2025-01-02T03:04:06.678+00:00:01", base},
		{"2025-01-02T03:04:05.679+00:00:00.001", base},
		{"2025-01-02T03:04:05.6789Z", base},
		{"2025-01-02T03:04:05.678999999Z", base},
		{"2025-1-2T3:4:5.678Z", base},
		{"+2025-01-02T03:04:05.678Z", base},
		{"2025-01-02T03:04:05,678Z", base},
		// Less precision.
		{"2025-01-02T03:04:05Z", base - 678},
		{"2025-01-02T03:04:05", base - 678},
		{"2025-01-02T03:04", base - 5678},
		{"2025-01-02T03", base - 4*60000 - 5678},
		{"2025-01-02T", ms(t, 2025, 1, 2, 0, 0, 0, 0)},
		{"2025-01-02TZ", ms(t, 2025, 1, 2, 0, 0, 0, 0)},
		{"2025-01-02T+01:00", ms(t, 2025, 1, 1, 23, 0, 0, 0)},
		{"2025-01-02", ms(t, 2025, 1, 2, 0, 0, 0, 0)},
		{"2025-01", ms(t, 2025, 1, 1, 0, 0, 0, 0)},
		{"2025", ms(t, 2025, 1, 1, 0, 0, 0, 0)},
		{"-0001", ms(t, -1, 1, 1, 0, 0, 0, 0)},
		// Fractions of the hour and minute.
		{"2025-01-02T03.5Z", ms(t, 2025, 1, 2, 3, 30, 0, 0)},
		{"2025-01-02T03:04,25Z", ms(t, 2025, 1, 2, 3, 4, 15, 0)},
		{"2025-01-02T03.0000001Z", ms(t, 2025, 1, 2, 3, 0, 0, 0)},
		{"2025-01-02T03.000001Z", ms(t, 2025, 1, 2, 3, 0, 0, 3)},
		// Ordinal and week dates, and a time alone.
		{"2025-002", ms(t, 2025, 1, 2, 0, 0, 0, 0)},
		{"2024-366T12Z", ms(t, 2024, 12, 31, 12, 0, 0, 0)},
		{"2025-W01-4", ms(t, 2025, 1, 2, 0, 0, 0, 0)},
		{"2025-w01", ms(t, 2024, 12, 30, 0, 0, 0, 0)},
		{"2020-W53-7T10:00Z", ms(t, 2021, 1, 3, 10, 0, 0, 0)},
		{"T10:30Z", 10*millisPerHour + 30*millisPerMinute},
		{"t10:30-01:00", 11*millisPerHour + 30*millisPerMinute},
		// Extremes.
		{"-146136543-09-08T08:23:32.096Z", Eternity.Start},
		{"146140482-04-24T15:36:27.903Z", Eternity.End},
		{"-292275054-01-01T00:00:00.000Z", MinInstant},
		{"292278993-12-31T23:59:59.999Z", MaxInstant},
	}
	for _, tt := range tests {
		got, err := ParseInstant(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseInstant(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseInstantErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `invalid instant "": the text is empty`},
		{"2025-13-01T00:00:00.000Z", "month 13 is out of range [1, 12]"},
		{"2025-00-01", "month 0 is out of range [1, 12]"},
		{"2025-02-29", "day of month 29 is out of range [1, 28]"},
		{"2024-02-30", "day of month 30 is out of range [1, 29]"},
		{"2025-01-01T24:00", "hour 24 is out of range [0, 23]"},
		{"2025-01-01T23:60", "minute 60 is out of range [0, 59]"},
		{"2025-01-01T23:59:60", "second 60 is out of range [0, 59]"},
		{"2025-365T00Z", ""},
		{"2025-366", "day of year 366 is out of range [1, 365]"},
		{"2025-W53", "week of weekyear 53 is out of range [1, 52]"},
		{"2025-W01-8", "day of week 8 is out of range [1, 7]"},
		{"999999999-01-01", "year 999999999 is out of range [-292275054, 292278993]"},
		{"1234567890-01-01", `malformed at offset 9 ("0-01-01")`},
		{"-292275054-01-01T00:00:00.000+01:00", "outside the years Druid can represent"},
		{"2025-01-01Z", `malformed at offset 10 ("Z")`},
		{"2025-01-01T00:00:00.000Zx", `malformed at offset 24 ("x")`},
		{"2025-01-01T00:00:00.0000000000Z", "malformed at offset 29"},
		{"2025-01-01T00:00+24:00", "malformed at offset 17"},
		{"2025-01-01T00:00+1", "malformed at offset 17"},
		{" 2025", "malformed at offset 0"},
		{"2025-", "the text ends too early"},
		{"T", "the text ends too early"},
		{"-", "malformed at offset 0"},
	}
	for _, tt := range tests {
		_, err := ParseInstant(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ParseInstant(%q) failed: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseInstant(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestParseStrictInstant(t *testing.T) {
	good := map[string]Instant{
		"2025-01-02T03:04:05.678Z":      ms(t, 2025, 1, 2, 3, 4, 5, 678),
		"2025-01-02T03:04:05.6Z":        ms(t, 2025, 1, 2, 3, 4, 5, 600),
		"2025-1-2T3:4:5.678Z":           ms(t, 2025, 1, 2, 3, 4, 5, 678),
		"2025-01-02T03:04:05.678+01:00": ms(t, 2025, 1, 2, 2, 4, 5, 678),
		"2025-01-02T03:04:05.678-0100":  ms(t, 2025, 1, 2, 4, 4, 5, 678),
		"2025-01-02T03:04:05.678+01":    ms(t, 2025, 1, 2, 2, 4, 5, 678),
		"-0001-01-02T03:04:05.678Z":     ms(t, -1, 1, 2, 3, 4, 5, 678),
	}
	for in, want := range good {
		if got, err := ParseStrictInstant(in); err != nil || got != want {
			t.Errorf("ParseStrictInstant(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"2025-01-02T03:04:05Z":          `expected "." and milliseconds at offset 19`,
		"2025-01-02T03:04:05.678":       `the text ends where "Z" or an offset such as "+05:30" was expected`,
		"2025-01-02":                    `the text ends where "T" was expected`,
		"2025-01-02T03:04":              `the text ends where ":" was expected`,
		"2025-01-02T03:04:05.678Z ":     `unexpected " " after the offset`,
		"2025-01-02 03:04:05.678Z":      `expected "T" at offset 10`,
		"2025-02-30T03:04:05.678Z":      "day of month 30 is out of range [1, 28]",
		"x":                             "expected a year of 1-9 digits",
		"2025-01-02T03:04:05.678+25:00": "expected \"Z\" or an offset",
	}
	for in, want := range bad {
		_, err := ParseStrictInstant(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStrictInstant(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestInstantTextAndTime(t *testing.T) {
	var v Instant
	if err := v.UnmarshalText([]byte("2025-01-02")); err != nil {
		t.Fatal(err)
	}
	b, _ := v.MarshalText()
	wantEq(t, "MarshalText", string(b), "2025-01-02T00:00:00.000Z")
	wantEq(t, "Time", v.Time(), time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC))
	wantEq(t, "InstantOf", InstantOf(time.Date(2025, 1, 2, 0, 0, 0, 999999, time.UTC)), v)
	wantEq(t, "UnixMilli", UnixMilli(v.Time().UnixMilli()), v)
	if err := v.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
	wantEq(t, "Eternity", Eternity.Start, Instant(math.MinInt64/2))
}

func TestCalendarHelpers(t *testing.T) {
	// daysFromCivil and civilFromDays agree with each other and with the time package across a wide range.
	for days := int64(-800000); days <= 800000; days += 7 {
		y, m, d := civilFromDays(days)
		if back := daysFromCivil(y, m, d); back != days {
			t.Fatalf("daysFromCivil(civilFromDays(%d)) = %d", days, back)
		}
		want := time.Unix(days*86400, 0).UTC()
		if int(y) != want.Year() || time.Month(m) != want.Month() || int(d) != want.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %v", days, y, m, d, want)
		}
		if got, want := isoDayOfWeek(days), int64((int(want.Weekday())+6)%7+1); got != want {
			t.Fatalf("isoDayOfWeek(%d) = %d, want %d", days, got, want)
		}
	}
	// ISO weeks per year, checked against the time package.
	for y := int64(1900); y < 2100; y++ {
		_, w := time.Date(int(y), 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek()
		if got := weeksInWeekyear(y); got != int64(w) {
			t.Errorf("weeksInWeekyear(%d) = %d, want %d", y, got, w)
		}
	}
}
