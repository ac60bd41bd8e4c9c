package configs

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes, written in configuration as Druid's human-readable bytes.
type ByteSize int64

// String renders the size as a plain number of bytes, which every Druid version reads back.
func (b ByteSize) String() string { return strconv.FormatInt(int64(b), 10) }

// FormatHumanBytes renders n for people: "812 B", "4.9 MB", "1.2 GB" (decimal units, one decimal), the one format of
// every report and listing.
func FormatHumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("kMGTPE"[exp]) + "B"
}

// errHumanBytes is the one message for every malformed size: what a size looks like.
var errHumanBytes = errors.New("expected a size in bytes such as 300000000000, 300g or 280Gi " +
	"(k, m, g, t, p are powers of 1000; ki, mi, gi, ti, pi and kib … pib powers of 1024; whole numbers only)")

// ParseHumanBytes reads Druid's human-readable bytes (HumanReadableBytes): a whole number, optionally followed by
// a case-insensitive unit. k, m, g, t and p are decimal (300g = 300,000,000,000); ki, mi, gi, ti and pi, also
// written kib … pib, are binary (1ki = 1024). Surrounding whitespace is ignored; fractions ("1.2t"), negative
// numbers, a space before the unit and values beyond int64 are errors.
//
// Unlike Druid, "0k" is accepted as 0 (Druid's overflow check rejects a zero with a unit).
func ParseHumanBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, errHumanBytes
	}
	if t[0] == '-' {
		return 0, errors.New("expected a size in bytes, got a negative number")
	}
	digits, mult := t, int64(1)
	if u := unitSuffix(t); u != "" {
		digits = t[:len(t)-len(u)]
		mult = unitMultiplier(u)
	}
	digits = strings.TrimPrefix(digits, "+") // Java's Long.parseLong accepts one leading '+'
	if digits == "" {
		return 0, errHumanBytes
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, errHumanBytes
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, errors.New("expected a size in bytes that fits in a 64-bit integer")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("expected a size in bytes that fits in a 64-bit integer")
	}
	return n * mult, nil
}

// unitSuffix returns the unit at the end of a lower-case size, or "" when it ends in a digit or no unit matches.
func unitSuffix(t string) string {
	for _, u := range []string{"kib", "mib", "gib", "tib", "pib", "ki", "mi", "gi", "ti", "pi", "k", "m", "g", "t", "p"} {
		if strings.HasSuffix(t, u) {
			return u
		}
	}
	return ""
}

func unitMultiplier(u string) int64 {
	pow := strings.IndexByte("kmgtp", u[0]) + 1
	base := int64(1000)
	if len(u) > 1 {
		base = 1024
	}
	m := int64(1)
	for range pow {
		m *= base
	}
	return m
}
