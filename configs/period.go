package configs

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

var errPeriod = errors.New("expected an ISO-8601 period such as PT15M, PT1H or P1D")

// parseISOPeriod reads an ISO-8601 period of fixed length, as Joda's standard period format writes it:
// P[nW][nD][T[nH][nM][n[.f]S]]. Years and months have no fixed length and are refused; only seconds take a fraction.
func parseISOPeriod(s string) (time.Duration, error) {
	u := strings.ToUpper(s)
	if len(u) < 2 || u[0] != 'P' {
		return 0, errPeriod
	}
	const (
		dateUnits = "YMWD"
		timeUnits = "HMS"
	)
	var (
		total    time.Duration
		inTime   bool
		lastUnit = -1 // index in the current designator list, to enforce their order
	)
	rest := u[1:]
	for rest != "" {
		if rest[0] == 'T' {
			if inTime || len(rest) == 1 {
				return 0, errPeriod
			}
			inTime, lastUnit, rest = true, -1, rest[1:]
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, errPeriod
		}
		number, unit := strings.ReplaceAll(rest[:i], ",", "."), rest[i]
		rest = rest[i+1:]
		units := dateUnits
		if inTime {
			units = timeUnits
		}
		idx := strings.IndexByte(units, unit)
		if idx < 0 || idx <= lastUnit {
			return 0, errPeriod
		}
		lastUnit = idx
		if !inTime && (unit == 'Y' || unit == 'M') {
			return 0, errors.New("expected an ISO-8601 period of fixed length such as PT15M or P1D (years and months vary in length)")
		}
		var scale time.Duration
		switch {
		case !inTime && unit == 'W':
			scale = 7 * 24 * time.Hour
		case !inTime && unit == 'D':
			scale = 24 * time.Hour
		case unit == 'H':
			scale = time.Hour
		case unit == 'M':
			scale = time.Minute
		default:
			scale = time.Second
		}
		d, err := scaled(number, scale, unit == 'S')
		if err != nil {
			return 0, err
		}
		if total > math.MaxInt64-d {
			return 0, errors.New("expected an ISO-8601 period shorter than 292 years")
		}
		total += d
	}
	return total, nil
}

func scaled(number string, scale time.Duration, fractionOK bool) (time.Duration, error) {
	whole, frac, hasFrac := strings.Cut(number, ".")
	if whole == "" || strings.Contains(frac, ".") || (hasFrac && (!fractionOK || frac == "")) {
		return 0, errPeriod
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n > math.MaxInt64/int64(scale) {
		return 0, errors.New("expected an ISO-8601 period shorter than 292 years")
	}
	d := time.Duration(n) * scale
	if hasFrac {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		d += time.Duration(ns)
	}
	return d, nil
}

// formatISOPeriod writes d as an ISO-8601 period (P1DT2H3M4.5S); 0 is "".
func formatISOPeriod(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('P')
	if days := d / (24 * time.Hour); days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "D")
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if h := d / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "H")
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "M")
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}
