package segments

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// TimeError reports a time, period or interval text that Druid would not accept, with the reason in words.
type TimeError struct {
	// Kind names what was being parsed: "instant", "strict instant", "period" or "interval".
	Kind string
	// Input is the complete text that was rejected.
	Input string
	// Reason says what is wrong, for example "month 13 is out of range [1, 12]".
	Reason string
}

// Error returns a sentence naming the kind, the input and the reason.
func (e *TimeError) Error() string {
	return "invalid " + e.Kind + " " + QuoteShort(e.Input) + ": " + e.Reason
}

// QuoteShort quotes s for an error message, eliding the middle of very long inputs so that a hostile payload cannot
// make an error message huge.
func QuoteShort(s string) string { return strconv.Quote(shorten(s)) }

// shorten elides the middle of texts longer than 120 bytes, cutting at character boundaries.
func shorten(s string) string {
	const limit = 120
	if len(s) <= limit {
		return s
	}
	head, tail := limit/2, len(s)-limit/2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + "…" + s[tail:]
}

// ParseInstant parses an instant the way Druid parses each end of an interval: with Joda's
// ISODateTimeFormat.dateTimeParser() in the UTC ISO chronology, converting any offset to UTC.
//
// The grammar, as Joda implements it:
//
//	instant   = "T" time [offset] | date ["T" [time] [offset]]
//	date      = year ["-" MM ["-" dd]] | year "-W" ww ["-" e] | year "-" DDD
//	time      = HH [":" mm [":" ss [frac] | frac] | frac]   (a fraction belongs to the field before it)
//	frac      = ("." | ",") 1-9 digits
//	offset    = "Z" | ("+" | "-") hh [[":"] mm [[":"] ss [[".", ","] SSS]]]
//	year      = ["+" | "-"] 1-9 digits
//
// Joda enforces no minimum digit count when parsing, so "2025-1-2T3:4:5Z" is accepted; letters are case-insensitive;
// a missing date is 1970-01-01 and missing fields are zero. Field values are then checked against the calendar
// (month 1-12, day within its month, hour 0-23, ...), years against Joda's range, and the result must lie within
// [MinInstant, MaxInstant] so that it can be formatted and read back.
func ParseInstant(s string) (Instant, error) {
	p := lenientParser{s: s}
	var f timeFields
	end, ok := p.instant(0, &f)
	if !ok || end != len(s) {
		return 0, &TimeError{Kind: "instant", Input: s, Reason: malformed(s, max(p.failAt, end))}
	}
	ms, reason := f.millis()
	if reason != "" {
		return 0, &TimeError{Kind: "instant", Input: s, Reason: reason}
	}
	return Instant(ms), nil
}

// ParseStrictInstant parses the strict form that Druid's SegmentId parsing and the fast path of Intervals.fromString
// use: Joda's ISODateTimeFormat.dateTime(), "year-MM-ddTHH:mm:ss.SSS" followed by "Z" or an offset. The
// fraction (1-9 digits, truncated to milliseconds) and the offset are required; as in Joda, the other numeric fields
// may have fewer digits than the pattern shows.
func ParseStrictInstant(s string) (Instant, error) {
	ms, reason := parseStrict(s)
	if reason != "" {
		return 0, &TimeError{Kind: "strict instant", Input: s, Reason: reason}
	}
	return Instant(ms), nil
}

// malformed describes where a parse stopped, like Joda's "is malformed at" / "is too short" messages.
func malformed(s string, at int) string {
	if at >= len(s) {
		if len(s) == 0 {
			return "the text is empty"
		}
		return "the text ends too early"
	}
	return fmt.Sprintf("malformed at offset %d (%s)", at, QuoteShort(s[at:]))
}

// Date kinds of timeFields.
const (
	dateNone    = iota // time only: the date is 1970-01-01
	dateYMD            // year [month [day]]
	dateWeek           // weekyear, week [day of week]
	dateOrdinal        // year, day of year
)

// timeFields holds the fields of one parsed instant before they are checked and combined, like Joda's
// DateTimeParserBucket.
type timeFields struct {
	kind                 int
	year, month, day     int64 // month and day are 1 when absent
	week, dayOfWeek      int64 // dayOfWeek is 1 (Monday) when absent
	dayOfYear            int64
	hour, minute, second int64
	fracMillis           int64 // milliseconds contributed by a fraction of the last time field
	offset               int64 // milliseconds east of UTC
}

// millis checks each field in the order Joda sets them (largest unit first) and returns the UTC milliseconds, or a
// reason naming the first field out of range.
func (f *timeFields) millis() (int64, string) {
	var days int64
	switch f.kind {
	case dateNone:
		days = 0
	case dateYMD:
		if r := checkRange("year", f.year, minYear, maxYear); r != "" {
			return 0, r
		}
		month, day := f.month, f.day
		if r := checkRange("month", month, 1, 12); r != "" {
			return 0, r
		}
		if r := checkRange("day of month", day, 1, daysInMonth(f.year, month)); r != "" {
			return 0, r
		}
		days = daysFromCivil(f.year, month, day)
	case dateWeek:
		if r := checkRange("weekyear", f.year, minYear, maxYear); r != "" {
			return 0, r
		}
		if r := checkRange("week of weekyear", f.week, 1, weeksInWeekyear(f.year)); r != "" {
			return 0, r
		}
		dow := f.dayOfWeek
		if r := checkRange("day of week", dow, 1, 7); r != "" {
			return 0, r
		}
		days = isoWeek1Monday(f.year) + (f.week-1)*7 + dow - 1
	case dateOrdinal:
		if r := checkRange("year", f.year, minYear, maxYear); r != "" {
			return 0, r
		}
		if r := checkRange("day of year", f.dayOfYear, 1, daysInYear(f.year)); r != "" {
			return 0, r
		}
		days = daysFromCivil(f.year, 1, 1) + f.dayOfYear - 1
	}
	if r := checkRange("hour", f.hour, 0, 23); r != "" {
		return 0, r
	}
	if r := checkRange("minute", f.minute, 0, 59); r != "" {
		return 0, r
	}
	if r := checkRange("second", f.second, 0, 59); r != "" {
		return 0, r
	}
	// With the year bounded as above none of these products or sums can overflow int64.
	ms := days*millisPerDay + f.hour*millisPerHour + f.minute*millisPerMinute + f.second*millisPerSecond +
		f.fracMillis - f.offset
	// Joda would accept an offset that pushes the first or last day of its year range over the edge, but the result
	// could not be parsed back once formatted in UTC, so it is refused here.
	if ms < int64(MinInstant) || ms > int64(MaxInstant) {
		return 0, "the instant falls outside the years Druid can represent [-292275054, 292278993] once converted to UTC"
	}
	return ms, ""
}

func checkRange(field string, v, lo, hi int64) string {
	if v < lo || v > hi {
		return fmt.Sprintf("%s %d is out of range [%d, %d]", field, v, lo, hi)
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// unsigned parses 1 to maxDigits ASCII digits at pos, as Joda's unsigned number parsers do (the minimum printed
// width is not enforced on parsing).
func unsigned(s string, pos, maxDigits int) (v int64, end int, ok bool) {
	end = pos
	for end < len(s) && end-pos < maxDigits && isDigit(s[end]) {
		v = v*10 + int64(s[end]-'0')
		end++
	}
	return v, end, end > pos
}

// signedYear parses a year as Joda's appendYear(4, 9) does: an optional '+' or '-' that must be followed by a digit,
// then 1 to 9 digits.
func signedYear(s string, pos int) (v int64, end int, ok bool) {
	neg := false
	if pos < len(s) && (s[pos] == '-' || s[pos] == '+') {
		if pos+1 >= len(s) || !isDigit(s[pos+1]) {
			return 0, pos, false
		}
		neg = s[pos] == '-'
		pos++
	}
	v, end, ok = unsigned(s, pos, 9)
	if neg {
		v = -v
	}
	return v, end, ok
}

// fraction parses 1 to 9 digits as a fraction of a unit of unitMillis milliseconds, truncating to whole
// milliseconds with the same integer steps as Joda's Fraction parser.
func fraction(s string, pos int, unitMillis int64) (ms int64, end int, ok bool) {
	n := unitMillis * 10
	var value int64
	end = pos
	for end < len(s) && end-pos < 9 && isDigit(s[end]) {
		n /= 10
		value += int64(s[end]-'0') * n
		end++
	}
	if end == pos {
		return 0, pos, false
	}
	return value / 10, end, true
}

func digitCount(s string, pos, limit int) int {
	n := 0
	for pos+n < len(s) && n < limit && isDigit(s[pos+n]) {
		n++
	}
	return n
}

// offset parses a zone offset as Joda's TimeZoneOffset parser does for appendTimeZoneOffset("Z", true, 2, 4): "Z" (any
// case), or a sign and hh, then optionally mm, ss and up to three fraction digits, with ':' (and '.' or ',' before
// the fraction) either used throughout or not at all. It returns the offset in milliseconds east of UTC.
func offset(s string, pos int) (off int64, end int, ok bool) {
	if pos < len(s) && (s[pos] == 'Z' || s[pos] == 'z') {
		return 0, pos + 1, true
	}
	if len(s)-pos <= 1 {
		return 0, pos, false
	}
	neg := false
	switch s[pos] {
	case '-':
		neg = true
	case '+':
	default:
		return 0, pos, false
	}
	pos++
	if digitCount(s, pos, 2) < 2 {
		return 0, pos, false
	}
	hours := int64(s[pos]-'0')*10 + int64(s[pos+1]-'0')
	if hours > 23 {
		return 0, pos, false
	}
	off = hours * millisPerHour
	pos += 2
	sign := func(v int64) int64 {
		if neg {
			return -v
		}
		return v
	}
	if pos >= len(s) {
		return sign(off), pos, true
	}
	separators := false
	switch c := s[pos]; {
	case c == ':':
		separators = true
		pos++
	case isDigit(c):
	default:
		return sign(off), pos, true
	}
	// Minutes.
	n := digitCount(s, pos, 2)
	if n == 0 && !separators {
		return sign(off), pos, true
	} else if n < 2 {
		return 0, pos, false
	}
	minutes := int64(s[pos]-'0')*10 + int64(s[pos+1]-'0')
	if minutes > 59 {
		return 0, pos, false
	}
	off += minutes * millisPerMinute
	pos += 2
	if pos >= len(s) {
		return sign(off), pos, true
	}
	// Seconds.
	if separators {
		if s[pos] != ':' {
			return sign(off), pos, true
		}
		pos++
	}
	n = digitCount(s, pos, 2)
	if n == 0 && !separators {
		return sign(off), pos, true
	} else if n < 2 {
		return 0, pos, false
	}
	seconds := int64(s[pos]-'0')*10 + int64(s[pos+1]-'0')
	if seconds > 59 {
		return 0, pos, false
	}
	off += seconds * millisPerSecond
	pos += 2
	if pos >= len(s) {
		return sign(off), pos, true
	}
	// Milliseconds.
	if separators {
		if s[pos] != '.' && s[pos] != ',' {
			return sign(off), pos, true
		}
		pos++
	}
	n = digitCount(s, pos, 3)
	if n == 0 && !separators {
		return sign(off), pos, true
	} else if n < 1 {
		return 0, pos, false
	}
	scale := int64(100)
	for i := 0; i < n; i++ {
		off += int64(s[pos]-'0') * scale
		scale /= 10
		pos++
	}
	return sign(off), pos, true
}

// lenientParser implements Joda's ISODateTimeFormat.dateTimeParser(). Joda's alternatives ("MatchingParser") keep the
// alternative that reaches furthest, the first one on a tie, and never backtrack once chosen; optional parts are
// alternatives with an empty choice. The methods below follow that structure: each returns the position after what
// it matched and whether it matched, writing fields only into the timeFields it is given.
type lenientParser struct {
	s      string
	failAt int // the furthest position at which a part failed, for error messages
}

func (p *lenientParser) fail(pos int) (int, bool) {
	p.failAt = max(p.failAt, pos)
	return pos, false
}

func (p *lenientParser) literal(pos int, c byte) bool {
	if pos < len(p.s) && (p.s[pos] == c || (c >= 'A' && c <= 'Z' && p.s[pos] == c+'a'-'A')) {
		return true
	}
	p.failAt = max(p.failAt, pos)
	return false
}

func (p *lenientParser) instant(pos int, f *timeFields) (int, bool) {
	if pos < len(p.s) && (p.s[pos] == 'T' || p.s[pos] == 't') {
		// "T" time [offset]: a time with the date 1970-01-01.
		f.kind = dateNone
		end, ok := p.timeElement(pos+1, f)
		if !ok {
			return end, false
		}
		return p.optionalOffset(end, f), true
	}
	end, ok := p.dateElement(pos, f)
	if !ok {
		return end, false
	}
	// Optional "T" [time] [offset]; a date may not carry an offset without the "T".
	if !p.literal(end, 'T') {
		return end, true
	}
	g := *f
	afterT := end + 1
	if e, ok := p.timeElement(afterT, &g); ok {
		afterT = e
	} else {
		g = *f
	}
	afterT = p.optionalOffset(afterT, &g)
	*f = g
	return afterT, true
}

func (p *lenientParser) optionalOffset(pos int, f *timeFields) int {
	off, end, ok := offset(p.s, pos)
	if !ok {
		p.failAt = max(p.failAt, end)
		return pos
	}
	f.offset = off
	return end
}

// dateElement picks the longest of the calendar, week and ordinal date forms, the calendar form on a tie.
func (p *lenientParser) dateElement(pos int, f *timeFields) (int, bool) {
	best, bestEnd := timeFields{}, -1
	try := func(parse func(int, *timeFields) (int, bool)) {
		g := *f
		if end, ok := parse(pos, &g); ok && end > bestEnd {
			best, bestEnd = g, end
		}
	}
	try(p.calendarDate)
	try(p.weekDate)
	try(p.ordinalDate)
	if bestEnd < 0 {
		return p.fail(pos)
	}
	*f = best
	return bestEnd, true
}

func (p *lenientParser) calendarDate(pos int, f *timeFields) (int, bool) {
	y, end, ok := signedYear(p.s, pos)
	if !ok {
		return p.fail(pos)
	}
	f.kind, f.year, f.month, f.day = dateYMD, y, 1, 1
	// Optional "-" MM, itself followed by an optional "-" dd.
	if !p.literal(end, '-') {
		return end, true
	}
	m, mEnd, ok := unsigned(p.s, end+1, 2)
	if !ok {
		p.failAt = max(p.failAt, end+1)
		return end, true
	}
	f.month, end = m, mEnd
	if !p.literal(end, '-') {
		return end, true
	}
	d, dEnd, ok := unsigned(p.s, end+1, 2)
	if !ok {
		p.failAt = max(p.failAt, end+1)
		return end, true
	}
	f.day = d
	return dEnd, true
}

func (p *lenientParser) weekDate(pos int, f *timeFields) (int, bool) {
	y, end, ok := signedYear(p.s, pos)
	if !ok {
		return p.fail(pos)
	}
	if !p.literal(end, '-') || !p.literal(end+1, 'W') {
		return p.fail(end)
	}
	w, end, ok := unsigned(p.s, end+2, 2)
	if !ok {
		return p.fail(end)
	}
	f.kind, f.year, f.week, f.dayOfWeek = dateWeek, y, w, 1
	if !p.literal(end, '-') {
		return end, true
	}
	d, dEnd, ok := unsigned(p.s, end+1, 1)
	if !ok {
		p.failAt = max(p.failAt, end+1)
		return end, true
	}
	f.dayOfWeek = d
	return dEnd, true
}

func (p *lenientParser) ordinalDate(pos int, f *timeFields) (int, bool) {
	y, end, ok := signedYear(p.s, pos)
	if !ok {
		return p.fail(pos)
	}
	if !p.literal(end, '-') {
		return p.fail(end)
	}
	d, end, ok := unsigned(p.s, end+1, 3)
	if !ok {
		return p.fail(end)
	}
	f.kind, f.year, f.dayOfYear = dateOrdinal, y, d
	return end, true
}

// timeElement parses HH, then either ":" mm (with an optional ":" ss and fraction, or a fraction of the minute) or a
// fraction of the hour.
func (p *lenientParser) timeElement(pos int, f *timeFields) (int, bool) {
	h, end, ok := unsigned(p.s, pos, 2)
	if !ok {
		return p.fail(pos)
	}
	f.hour, f.minute, f.second, f.fracMillis = h, 0, 0, 0
	if end >= len(p.s) {
		return end, true
	}
	switch p.s[end] {
	case ':':
		m, mEnd, ok := unsigned(p.s, end+1, 2)
		if !ok {
			p.failAt = max(p.failAt, end+1)
			return end, true
		}
		f.minute, end = m, mEnd
		if end >= len(p.s) {
			return end, true
		}
		switch p.s[end] {
		case ':':
			sec, sEnd, ok := unsigned(p.s, end+1, 2)
			if !ok {
				p.failAt = max(p.failAt, end+1)
				return end, true
			}
			f.second, end = sec, sEnd
			if end < len(p.s) && (p.s[end] == '.' || p.s[end] == ',') {
				if ms, fEnd, ok := fraction(p.s, end+1, millisPerSecond); ok {
					f.fracMillis, end = ms, fEnd
				} else {
					p.failAt = max(p.failAt, end+1)
				}
			}
			return end, true
		case '.', ',':
			if ms, fEnd, ok := fraction(p.s, end+1, millisPerMinute); ok {
				f.fracMillis, end = ms, fEnd
			} else {
				p.failAt = max(p.failAt, end+1)
			}
			return end, true
		}
		return end, true
	case '.', ',':
		if ms, fEnd, ok := fraction(p.s, end+1, millisPerHour); ok {
			f.fracMillis, end = ms, fEnd
		} else {
			p.failAt = max(p.failAt, end+1)
		}
		return end, true
	}
	return end, true
}

// parseStrict implements ISODateTimeFormat.dateTime() and returns the UTC milliseconds or a reason.
func parseStrict(s string) (int64, string) {
	var f timeFields
	f.kind = dateYMD
	pos := 0
	expect := func(c byte, what string) string {
		if pos < len(s) && (s[pos] == c || (c >= 'A' && c <= 'Z' && s[pos] == c+'a'-'A')) {
			pos++
			return ""
		}
		return expected(s, pos, what)
	}
	number := func(dst *int64, maxDigits int, what string) string {
		v, end, ok := unsigned(s, pos, maxDigits)
		if !ok {
			return expected(s, pos, what)
		}
		*dst, pos = v, end
		return ""
	}
	y, end, ok := signedYear(s, 0)
	if !ok {
		return 0, expected(s, 0, "a year of 1-9 digits with an optional sign")
	}
	f.year, pos = y, end
	for _, step := range []func() string{
		func() string { return expect('-', `"-"`) },
		func() string { return number(&f.month, 2, "a month") },
		func() string { return expect('-', `"-"`) },
		func() string { return number(&f.day, 2, "a day of month") },
		func() string { return expect('T', `"T"`) },
		func() string { return number(&f.hour, 2, "an hour") },
		func() string { return expect(':', `":"`) },
		func() string { return number(&f.minute, 2, "a minute") },
		func() string { return expect(':', `":"`) },
		func() string { return number(&f.second, 2, "a second") },
		func() string { return expect('.', `"." and milliseconds`) },
	} {
		if r := step(); r != "" {
			return 0, r
		}
	}
	ms, end, ok := fraction(s, pos, millisPerSecond)
	if !ok {
		return 0, expected(s, pos, "1-9 fraction digits")
	}
	f.fracMillis, pos = ms, end
	off, end, ok := offset(s, pos)
	if !ok {
		return 0, expected(s, pos, `"Z" or an offset such as "+05:30"`)
	}
	f.offset, pos = off, end
	if pos != len(s) {
		return 0, fmt.Sprintf("unexpected %s after the offset", QuoteShort(s[pos:]))
	}
	return f.millis()
}

func expected(s string, pos int, what string) string {
	if pos >= len(s) {
		return "the text ends where " + what + " was expected"
	}
	return fmt.Sprintf("expected %s at offset %d, found %s", what, pos, QuoteShort(s[pos:]))
}
