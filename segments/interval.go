package segments

import (
	"fmt"
	"math"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// Interval is a half-open UTC interval [Start, End), as Joda's Interval in Druid's UTC ISO chronology.
type Interval struct {
	// Start is the first instant inside the interval.
	Start Instant
	// End is the first instant after the interval; it is never before Start in a parsed interval.
	End Instant
}

// Eternity is Druid's Intervals.ETERNITY: from Long.MIN_VALUE/2 to Long.MAX_VALUE/2 milliseconds, written as
// -146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z.
var Eternity = Interval{Start: math.MinInt64 / 2, End: math.MaxInt64 / 2}

// ParseInterval parses an interval the way Druid's Intervals.fromString does for a segment's "interval" field.
//
// Druid first tries "start/end" with both ends in the strict form (ParseStrictInstant), then falls back to Joda's
// Interval(String, ISOChronology.getInstanceUTC()), which splits at the first '/' and reads each side with
// ParseInstant or, when it starts with 'P', as an ISO period (for example "P1D/2025-01-02" or
// "2025-01-01T00:00Z/PT6H"). The fallback accepts everything the fast path does and gives the same instants, so this
// function simply parses with the fallback's rules. Offsets are converted to UTC; End may equal Start but not precede
// it.
//
// Periods are supported in the ISO standard form that Joda's ISOPeriodFormat.standard() reads: "P" followed by
// optional years, months, weeks and days, then "T" and optional hours, minutes and seconds (seconds may carry up to
// nine fraction digits); each number may have a sign. Years and months move the calendar date and clamp the day to
// the target month, as Joda does.
func ParseInterval(s string) (Interval, error) {
	// The common shape, two strict instants, is parsed without the general machinery.
	if slash := strings.IndexByte(s, '/'); slash > 0 && slash < len(s)-1 {
		start, r1 := parseStrict(s[:slash])
		end, r2 := parseStrict(s[slash+1:])
		if r1 == "" && r2 == "" && end >= start {
			return Interval{Start: Instant(start), End: Instant(end)}, nil
		}
	}
	iv, reason := parseIntervalGeneral(s)
	if reason != "" {
		return Interval{}, &TimeError{Kind: "interval", Input: s, Reason: reason}
	}
	return iv, nil
}

func parseIntervalGeneral(s string) (Interval, string) {
	slash := strings.IndexByte(s, '/')
	if slash < 0 {
		return Interval{}, `it needs a "/" between its start and its end`
	}
	left, right := s[:slash], s[slash+1:]
	if left == "" {
		return Interval{}, "the start is empty"
	}
	if right == "" {
		return Interval{}, "the end is empty"
	}
	isPeriod := func(t string) bool { return t[0] == 'P' || t[0] == 'p' }
	var iv Interval
	switch {
	case isPeriod(left) && isPeriod(right):
		return Interval{}, "it is composed of two periods and has no instant"
	case isPeriod(left):
		per, err := parsePeriod(left)
		if err != "" {
			return Interval{}, "start " + QuoteShort(left) + ": " + err
		}
		end, err2 := ParseInstant(right)
		if err2 != nil {
			return Interval{}, "end " + QuoteShort(right) + ": " + err2.(*TimeError).Reason
		}
		start, ok := per.addTo(int64(end), -1)
		if !ok {
			return Interval{}, "the start falls outside the years Druid can represent"
		}
		iv = Interval{Start: Instant(start), End: end}
	default:
		start, err := ParseInstant(left)
		if err != nil {
			return Interval{}, "start " + QuoteShort(left) + ": " + err.(*TimeError).Reason
		}
		if isPeriod(right) {
			per, perr := parsePeriod(right)
			if perr != "" {
				return Interval{}, "end " + QuoteShort(right) + ": " + perr
			}
			end, ok := per.addTo(int64(start), 1)
			if !ok {
				return Interval{}, "the end falls outside the years Druid can represent"
			}
			iv = Interval{Start: start, End: Instant(end)}
		} else {
			end, err := ParseInstant(right)
			if err != nil {
				return Interval{}, "end " + QuoteShort(right) + ": " + err.(*TimeError).Reason
			}
			iv = Interval{Start: start, End: end}
		}
	}
	if iv.End < iv.Start {
		return Interval{}, fmt.Sprintf("the end %s is before the start %s", iv.End, iv.Start)
	}
	return iv, ""
}

// String returns "start/end" with both instants in Instant.String form, as Joda's Interval.toString() writes a UTC
// interval.
func (i Interval) String() string {
	return string(i.AppendFormat(make([]byte, 0, 64)))
}

// AppendFormat appends the String form of the interval to dst and returns the extended slice.
func (i Interval) AppendFormat(dst []byte) []byte {
	dst = i.Start.AppendFormat(dst)
	dst = append(dst, '/')
	return i.End.AppendFormat(dst)
}

// Contains reports whether t lies in the interval: Start <= t < End.
func (i Interval) Contains(t Instant) bool { return i.Start <= t && t < i.End }

// ContainsInterval reports whether o lies entirely in the interval, with Joda's rule: o must start inside the
// interval (so an empty interval at i.End is not contained) and end no later than i.End.
func (i Interval) ContainsInterval(o Interval) bool {
	return i.Start <= o.Start && o.Start < i.End && o.End <= i.End
}

// Overlaps reports whether the intervals share at least one millisecond, with Joda's rule (abutting intervals do not
// overlap, and an empty interval overlaps nothing at its own ends).
func (i Interval) Overlaps(o Interval) bool { return i.Start < o.End && o.Start < i.End }

// Duration returns End - Start in milliseconds.
func (i Interval) Duration() int64 { return int64(i.End) - int64(i.Start) }

// IsEmpty reports whether Start equals End.
func (i Interval) IsEmpty() bool { return i.Start == i.End }

// MarshalJSON writes the interval as a JSON string in its String form.
func (i Interval) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 66)
	b = append(b, '"')
	b = i.AppendFormat(b)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a JSON string with ParseInterval; JSON null leaves the interval unchanged.
func (i *Interval) UnmarshalJSON(data []byte) error {
	s, isNull, err := jackson.DecodeStandaloneString(data)
	if err != nil {
		return fmt.Errorf("interval: %w", err)
	}
	if isNull {
		return nil
	}
	v, err := ParseInterval(s)
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with the String form.
func (i Interval) MarshalText() ([]byte, error) { return i.AppendFormat(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseInterval.
func (i *Interval) UnmarshalText(text []byte) error {
	v, err := ParseInterval(string(text))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// isoPeriod is a parsed ISO period in Joda's standard period type.
type isoPeriod struct {
	years, months, weeks, days, hours, minutes, seconds, millis int64
}

// parsePeriod reads "P[nY][nM][nW][nD][T[nH][nM][n[.fff]S]]" (letters in any case, numbers with an optional sign)
// and returns a reason when the text is not such a period.
func parsePeriod(s string) (isoPeriod, string) {
	var per isoPeriod
	pos := 1 // The caller checked the leading 'P'.
	fields := 0
	readNumber := func() (v int64, frac int64, hasFrac bool, ok bool) {
		start := pos
		neg := false
		if pos < len(s) && (s[pos] == '-' || s[pos] == '+') {
			neg = s[pos] == '-'
			pos++
		}
		v, end, ok := unsigned(s, pos, 10)
		if !ok || v > math.MaxInt32 {
			pos = start
			return 0, 0, false, false
		}
		pos = end
		if pos < len(s) && (s[pos] == '.' || s[pos] == ',') {
			if ms, fEnd, fok := fraction(s, pos+1, millisPerSecond); fok {
				frac, hasFrac, pos = ms, true, fEnd
			}
		}
		if neg {
			v, frac = -v, -frac
		}
		return v, frac, hasFrac, true
	}
	// Each unit letter may appear once, in this order; "M" means months before "T" and minutes after it.
	dateUnits := []struct {
		letter byte
		dst    *int64
	}{{'Y', &per.years}, {'M', &per.months}, {'W', &per.weeks}, {'D', &per.days}}
	timeUnits := []struct {
		letter byte
		dst    *int64
	}{{'H', &per.hours}, {'M', &per.minutes}, {'S', &per.seconds}}
	upper := func(c byte) byte {
		if c >= 'a' && c <= 'z' {
			return c - 'a' + 'A'
		}
		return c
	}
	readUnits := func(units []struct {
		letter byte
		dst    *int64
	}) string {
		for len(units) > 0 && pos < len(s) && upper(s[pos]) != 'T' {
			save := pos
			v, frac, hasFrac, ok := readNumber()
			if !ok || pos >= len(s) {
				return "expected a number followed by a unit letter at offset " + fmt.Sprint(save)
			}
			letter := upper(s[pos])
			for len(units) > 0 && units[0].letter != letter {
				units = units[1:]
			}
			if len(units) == 0 {
				return fmt.Sprintf("unexpected unit %q at offset %d", s[pos], pos)
			}
			if hasFrac && letter != 'S' {
				return fmt.Sprintf("only seconds may have a fraction, at offset %d", save)
			}
			*units[0].dst = v
			if letter == 'S' {
				per.millis = frac
			}
			units = units[1:]
			pos++
			fields++
		}
		return ""
	}
	if r := readUnits(dateUnits); r != "" {
		return per, r
	}
	if pos < len(s) && upper(s[pos]) == 'T' {
		pos++
		before := fields
		if r := readUnits(timeUnits); r != "" {
			return per, r
		}
		if fields == before {
			return per, `"T" must be followed by hours, minutes or seconds`
		}
	}
	if pos != len(s) {
		return per, fmt.Sprintf("unexpected %s at offset %d", QuoteShort(s[pos:]), pos)
	}
	if fields == 0 {
		return per, "the period has no fields"
	}
	return per, ""
}

// addTo adds the period, multiplied by sign (1 or -1), to the UTC instant ms in Joda's field order (years, months,
// weeks, days, hours, minutes, seconds, milliseconds). It reports false when the result leaves
// [MinInstant, MaxInstant].
func (per isoPeriod) addTo(ms int64, sign int64) (int64, bool) {
	if per.years != 0 || per.months != 0 {
		days := floorDiv(ms, millisPerDay)
		msOfDay := ms - days*millisPerDay
		y, m, d := civilFromDays(days)
		// Joda adds the years and clamps the day (29 February) before it adds the months and clamps again.
		y += per.years * sign
		if y < minYear || y > maxYear {
			return 0, false
		}
		d = min(d, daysInMonth(y, m))
		months := y*12 + (m - 1) + per.months*sign
		y, m = floorDiv(months, 12), months-floorDiv(months, 12)*12+1
		if y < minYear || y > maxYear {
			return 0, false
		}
		d = min(d, daysInMonth(y, m))
		ms = daysFromCivil(y, m, d)*millisPerDay + msOfDay
	}
	// Each term is at most 2^31 units of at most a week, so the products fit; the sums are checked.
	for _, term := range []int64{
		per.weeks * 7 * millisPerDay, per.days * millisPerDay, per.hours * millisPerHour,
		per.minutes * millisPerMinute, per.seconds * millisPerSecond, per.millis,
	} {
		term *= sign
		if (term > 0 && ms > math.MaxInt64-term) || (term < 0 && ms < math.MinInt64-term) {
			return 0, false
		}
		ms += term
	}
	if ms < int64(MinInstant) || ms > int64(MaxInstant) {
		return 0, false
	}
	return ms, true
}
