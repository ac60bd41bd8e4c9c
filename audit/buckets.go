package audit

import (
	"fmt"
	"sort"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The availability chart of a dataSource: its expected segments bucketed by time, at the finest granularity (day,
// week, month, year, or several years) that gives no more than maxBuckets buckets over the dataSource's span.

const maxBuckets = 400

// bucketEntry is one expected segment, as the buckets need it.
type bucketEntry struct {
	iv    segments.Interval
	size  int64
	state evalState
}

// granularity cuts time into buckets: floor gives the start of the bucket holding an instant, next the start of the
// following one.
type granularity struct {
	name  string
	floor func(segments.Instant) segments.Instant
	next  func(segments.Instant) segments.Instant
	// approx is the bucket width in milliseconds, to choose a granularity (months and years vary).
	approx int64
}

const msDay = 86400000

var (
	granularityDay = granularity{name: "day", approx: msDay,
		floor: func(t segments.Instant) segments.Instant { return segments.Instant(floorDiv(int64(t), msDay) * msDay) },
		next:  func(t segments.Instant) segments.Instant { return t + msDay }}
	// Weeks start on Monday, as ISO weeks (and Druid's P1W granularity) do; 1970-01-01 was a Thursday.
	granularityWeek = granularity{name: "week", approx: 7 * msDay,
		floor: func(t segments.Instant) segments.Instant {
			return segments.Instant(floorDiv(int64(t)+3*msDay, 7*msDay)*7*msDay - 3*msDay)
		},
		next: func(t segments.Instant) segments.Instant { return t + 7*msDay }}
	granularityMonth = granularity{name: "month", approx: 30 * msDay,
		floor: func(t segments.Instant) segments.Instant {
			u := t.Time()
			return segments.InstantOf(time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC))
		},
		next: func(t segments.Instant) segments.Instant { return segments.InstantOf(t.Time().AddDate(0, 1, 0)) }}
)

// granularityYears is a bucket of n calendar years, aligned on multiples of n.
func granularityYears(n int) granularity {
	name := "year"
	if n > 1 {
		name = fmt.Sprintf("%d years", n)
	}
	return granularity{name: name, approx: int64(n) * 365 * msDay,
		floor: func(t segments.Instant) segments.Instant {
			y := t.Time().Year()
			y -= ((y % n) + n) % n
			return segments.InstantOf(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC))
		},
		next: func(t segments.Instant) segments.Instant { return segments.InstantOf(t.Time().AddDate(n, 0, 0)) }}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// chartMin and chartMax clip intervals for the chart: ETERNITY and other unbounded intervals would otherwise
// stretch it over millions of years.
var (
	chartMin = segments.InstantOf(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC))
	chartMax = segments.InstantOf(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
)

func clip(iv segments.Interval) (segments.Interval, bool) {
	iv.Start = max(iv.Start, chartMin)
	iv.End = min(iv.End, chartMax)
	return iv, iv.Start < iv.End
}

// buckets returns the granularity and the non-empty buckets of the entries, oldest first.
func buckets(entries []bucketEntry) (string, []IntervalBucket) {
	if len(entries) == 0 {
		return granularityDay.name, []IntervalBucket{}
	}
	lo, hi := chartMax, chartMin
	for _, e := range entries {
		if iv, ok := clip(e.iv); ok {
			lo, hi = min(lo, iv.Start), max(hi, iv.End)
		}
	}
	if lo >= hi {
		return granularityDay.name, []IntervalBucket{}
	}
	g := granularityDay
	span := int64(hi - lo)
	for _, cand := range []granularity{granularityDay, granularityWeek, granularityMonth, granularityYears(1)} {
		g = cand
		if span/cand.approx < maxBuckets {
			break
		}
	}
	if span/g.approx >= maxBuckets {
		years := int(span/(365*msDay))/maxBuckets + 1
		g = granularityYears(years)
	}
	byStart := map[segments.Instant]*IntervalBucket{}
	for _, e := range entries {
		iv, ok := clip(e.iv)
		if !ok {
			continue
		}
		for b := g.floor(iv.Start); b < iv.End; b = g.next(b) {
			bk := byStart[b]
			if bk == nil {
				end := g.next(b)
				bk = &IntervalBucket{Interval: segments.Interval{Start: b, End: end}.String(), Start: b.Time(), End: end.Time()}
				byStart[b] = bk
			}
			bk.ExpectedSegments++
			bk.ExpectedBytes += e.size
			if e.state.available {
				bk.AvailableSegments++
				bk.AvailableBytes += e.size
			}
			if e.state.full {
				bk.FullyReplicatedSegments++
			}
		}
	}
	out := make([]IntervalBucket, 0, len(byStart))
	for _, b := range byStart {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return g.name, out
}
