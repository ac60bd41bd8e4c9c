package segments

import (
	"strconv"
	"time"
)

// Instant is a UTC instant in milliseconds since the epoch, as Druid (Joda) keeps it.
//
// Druid compares instants by their milliseconds and always writes them in UTC, so an Instant carries no zone.
type Instant int64

// MinInstant and MaxInstant bound the instants that ParseInstant and ParseStrictInstant return: the first and the
// last millisecond of the years Joda's ISO chronology accepts (-292275054 and 292278993). Every Instant in this range
// formats to a string both parsers read back; Druid's ETERNITY bounds lie well inside it.
const (
	MinInstant Instant = -9223372017043200000 // -292275054-01-01T00:00:00.000Z
	MaxInstant Instant = 9223372017129599999  // 292278993-12-31T23:59:59.999Z
)

const (
	millisPerSecond = 1000
	millisPerMinute = 60 * millisPerSecond
	millisPerHour   = 60 * millisPerMinute
	millisPerDay    = 24 * millisPerHour

	// minYear and maxYear are the year bounds of Joda's ISOChronology; Joda rejects years outside them.
	minYear = -292275054
	maxYear = 292278993
)

// UnixMilli returns the Instant for a count of milliseconds since 1970-01-01T00:00:00Z.
func UnixMilli(ms int64) Instant { return Instant(ms) }

// InstantOf returns the Instant of a time.Time, truncated to the millisecond as Druid keeps it.
func InstantOf(t time.Time) Instant { return Instant(t.UnixMilli()) }

// Time returns the instant as a time.Time in UTC.
func (t Instant) Time() time.Time { return time.UnixMilli(int64(t)).UTC() }

// String returns the instant as Joda's DateTime.toString() writes it in UTC: "yyyy-MM-ddTHH:mm:ss.SSSZ", always with
// milliseconds and a literal Z. Years beyond 9999 are written with all their digits and years before 0 with a leading
// '-' and at least four digits, exactly as Java does (ETERNITY is -146136543-09-08T08:23:32.096Z/
// 146140482-04-24T15:36:27.903Z).
func (t Instant) String() string {
	return string(t.AppendFormat(make([]byte, 0, 32)))
}

// AppendFormat appends the String form of the instant to dst and returns the extended slice.
func (t Instant) AppendFormat(dst []byte) []byte {
	ms := int64(t)
	days := floorDiv(ms, millisPerDay)
	msOfDay := ms - days*millisPerDay
	y, m, d := civilFromDays(days)

	// Joda pads the year to at least four digits and puts the sign in front of the padding ("-0001").
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	if y < 1000 {
		dst = append(dst, "000"[:4-decimalWidth(y)]...)
	}
	dst = strconv.AppendInt(dst, y, 10)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, msOfDay/millisPerHour)
	dst = append(dst, ':')
	dst = append2(dst, msOfDay/millisPerMinute%60)
	dst = append(dst, ':')
	dst = append2(dst, msOfDay/millisPerSecond%60)
	dst = append(dst, '.')
	frac := msOfDay % millisPerSecond
	dst = append(dst, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return append(dst, 'Z')
}

// MarshalText implements encoding.TextMarshaler with the String form.
func (t Instant) MarshalText() ([]byte, error) { return t.AppendFormat(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseInstant, which accepts every form Druid accepts.
func (t *Instant) UnmarshalText(text []byte) error {
	v, err := ParseInstant(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// decimalWidth returns the number of decimal digits of a non-negative y below 1000 (0 counts as one digit).
func decimalWidth(y int64) int {
	switch {
	case y >= 100:
		return 3
	case y >= 10:
		return 2
	default:
		return 1
	}
}

// append2 appends v (0-99) as two digits.
func append2(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// floorDiv divides rounding towards negative infinity, which calendar arithmetic on pre-1970 instants needs.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (year 0 exists, as in Joda's ISO
// chronology). It is Howard Hinnant's era-based algorithm, exact for every int64 instant.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func isLeapYear(y int64) bool {
	return y%4 == 0 && (y%100 != 0 || y%400 == 0)
}

func daysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeapYear(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

func daysInYear(y int64) int64 {
	if isLeapYear(y) {
		return 366
	}
	return 365
}

// isoWeek1Monday returns the day number of the Monday that starts ISO week 1 of weekyear y: the week holding
// January 4th, which is Joda's rule for the ISO chronology (minimum four days in the first week).
func isoWeek1Monday(y int64) int64 {
	jan4 := daysFromCivil(y, 1, 4)
	return jan4 - isoDayOfWeek(jan4) + 1
}

// isoDayOfWeek returns 1 for Monday through 7 for Sunday; day 0 (1970-01-01) was a Thursday.
func isoDayOfWeek(days int64) int64 {
	return days + 3 - floorDiv(days+3, 7)*7 + 1
}

func weeksInWeekyear(y int64) int64 {
	return (isoWeek1Monday(y+1) - isoWeek1Monday(y)) / 7
}
