package segments

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// SegmentID identifies a segment, as Druid's SegmentId: equality, hashing and ordering of segments everywhere in Druid
// use these four values only. Keep SegmentIDs structured; their string form is ambiguous to parse (see
// ParseSegmentIDWithDataSource).
type SegmentID struct {
	// DataSource is the table name; it is never empty in a valid id.
	DataSource string
	// Interval is the time chunk the segment covers.
	Interval Interval
	// Version is the segment version, usually an ISO timestamp.
	Version string
	// PartitionNum is the shard spec's partition number.
	PartitionNum int
}

// String returns SegmentId.toString(): dataSource_start_end_version, followed by _partitionNum only when the
// partition number is not 0.
func (id SegmentID) String() string {
	// Build the instants on the stack and the result in one allocation.
	var tmp [96]byte
	mid := append(id.Interval.Start.AppendFormat(tmp[:0]), '_')
	mid = id.Interval.End.AppendFormat(mid)
	var b strings.Builder
	b.Grow(len(id.DataSource) + len(mid) + len(id.Version) + 14)
	b.WriteString(id.DataSource)
	b.WriteByte('_')
	b.Write(mid)
	b.WriteByte('_')
	b.WriteString(id.Version)
	if id.PartitionNum != 0 {
		b.WriteByte('_')
		b.Write(strconv.AppendInt(tmp[:0], int64(id.PartitionNum), 10))
	}
	return b.String()
}

// AppendFormat appends the String form to dst and returns the extended slice.
func (id SegmentID) AppendFormat(dst []byte) []byte {
	dst = append(dst, id.DataSource...)
	dst = append(dst, '_')
	dst = id.Interval.Start.AppendFormat(dst)
	dst = append(dst, '_')
	dst = id.Interval.End.AppendFormat(dst)
	dst = append(dst, '_')
	dst = append(dst, id.Version...)
	if id.PartitionNum != 0 {
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(id.PartitionNum), 10)
	}
	return dst
}

// Compare orders ids as SegmentId.compareTo does: by dataSource, interval start, interval end, version and partition
// number. Strings compare as Java compares them, by UTF-16 code units.
func (id SegmentID) Compare(o SegmentID) int {
	if c := compareJavaStrings(id.DataSource, o.DataSource); c != 0 {
		return c
	}
	if c := compareInt(int64(id.Interval.Start), int64(o.Interval.Start)); c != 0 {
		return c
	}
	if c := compareInt(int64(id.Interval.End), int64(o.Interval.End)); c != 0 {
		return c
	}
	if c := compareJavaStrings(id.Version, o.Version); c != 0 {
		return c
	}
	return compareInt(int64(id.PartitionNum), int64(o.PartitionNum))
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareJavaStrings compares like String.compareTo. UTF-8 byte order equals code point order, which differs from
// UTF-16 order only between supplementary characters (surrogate pairs, 0xD800-0xDFFF) and U+E000-U+FFFF.
func compareJavaStrings(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return compareInt(int64(len(a)), int64(len(b)))
	}
	// Back up to the start of the differing characters and compare their first UTF-16 code units.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	return compareInt(int64(firstUTF16Unit(ra)), int64(firstUTF16Unit(rb)))
}

func firstUTF16Unit(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}

// ParseSegmentIDWithDataSource returns every reading of id as a segment id of dataSource, exactly as Druid's
// SegmentId.iteratePossibleParsingsWithDataSource does, and nil when there is none.
//
// id must start with dataSource followed by '_'. The rest is split at every '_' into at least three parts; the first
// two must be strict instants (ParseStrictInstant) with start before end. When there are more than three parts and
// the last one is a positive int, there are two readings: first (a) with that partition number and the parts between
// as the version, then (b) with partition 0 and a version that ends in "_<n>". Otherwise the single reading has
// partition 0 and everything after the end as its version. Druid's SegmentId.tryParse returns the first reading.
//
// Readings may be wrong when the dataSource or version contains '_' followed by timestamp-like text; carry ids
// structurally whenever possible.
func ParseSegmentIDWithDataSource(dataSource, id string) []SegmentID {
	if dataSource == "" || len(id) <= len(dataSource) || !strings.HasPrefix(id, dataSource) || id[len(dataSource)] != '_' {
		return nil
	}
	rest := id[len(dataSource)+1:]
	// The first two parts are the instants.
	i1 := strings.IndexByte(rest, '_')
	if i1 < 0 {
		return nil
	}
	i2 := strings.IndexByte(rest[i1+1:], '_')
	if i2 < 0 {
		return nil
	}
	i2 += i1 + 1
	start, r1 := parseStrict(rest[:i1])
	if r1 != "" {
		return nil
	}
	end, r2 := parseStrict(rest[i1+1 : i2])
	if r2 != "" || start >= end {
		return nil
	}
	interval := Interval{Start: Instant(start), End: Instant(end)}
	tail := rest[i2+1:] // The version, possibly followed by "_" and a partition number.
	last := strings.LastIndexByte(tail, '_')
	if last < 0 {
		// Exactly three parts: no partition number.
		return []SegmentID{{DataSource: dataSource, Interval: interval, Version: tail}}
	}
	readings := make([]SegmentID, 0, 2)
	if n, ok := javaTryParseInt(tail[last+1:]); ok && n > 0 {
		readings = append(readings, SegmentID{DataSource: dataSource, Interval: interval, Version: tail[:last], PartitionNum: n})
	}
	return append(readings, SegmentID{DataSource: dataSource, Interval: interval, Version: tail})
}

// javaTryParseInt mirrors Guava's Ints.tryParse: an optional '-', one or more ASCII digits, no '+', and a value that
// fits a Java int.
func javaTryParseInt(s string) (int, bool) {
	digits := s
	if strings.HasPrefix(digits, "-") {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// PossibleSegmentIDs returns every reading of id as a segment id when its dataSource is not known, in the order of
// Druid's SegmentId.iterateAllPossibleParsings, followed by the readings Druid misses.
//
// Druid first guesses the dataSource as the text before the first "_" that precedes a timestamp-like match of
// yyyy-MM-ddTHH:mm:ss.SSS followed by Z or ±hh:mm (a heuristic that fails, for example, for ETERNITY, whose years
// are not four digits). It then tries every shorter or longer prefix of '_'-separated parts as the dataSource, but
// stops one part short, so an id with no partition number and an unguessable dataSource has no reading in Druid.
// This function appends the readings of that last prefix, so that every id String produces is found.
func PossibleSegmentIDs(id string) []SegmentID {
	var readings []SegmentID
	probable := mostProbableDataSource(id)
	if probable != "" {
		readings = append(readings, ParseSegmentIDWithDataSource(probable, id)...)
	}
	// Every prefix of parts that leaves at least three parts for start, end and version.
	var prefixEnds []int
	for i := 0; i < len(id); i++ {
		if id[i] == '_' {
			prefixEnds = append(prefixEnds, i)
		}
	}
	// With n parts there are n-1 underscores; Druid tries prefixes of 1..n-4 parts, this function also n-3.
	parts := len(prefixEnds) + 1
	for k := 1; k <= parts-3; k++ {
		ds := id[:prefixEnds[k-1]]
		if len(ds) == len(probable) {
			continue
		}
		readings = append(readings, ParseSegmentIDWithDataSource(ds, id)...)
	}
	return readings
}

// mostProbableDataSource mirrors SegmentId.tryExtractMostProbableDataSource: the text before the first match of
// DateTimes.COMMON_DATE_TIME_PATTERN that is directly preceded by '_', or "" when there is none. Matches are found
// left to right without overlapping, as java.util.regex.Matcher.find does.
func mostProbableDataSource(id string) string {
	for i := 0; i < len(id); {
		n := commonDateTimeMatch(id[i:])
		if n == 0 {
			i++
			continue
		}
		// Java would throw for a match at offset 0 (charAt(-1)); treating it as "not preceded by '_'" is the
		// sensible reading.
		if i > 0 && id[i-1] == '_' {
			return id[:i-1]
		}
		i += n
	}
	return ""
}

// commonDateTimeMatch returns the length of a match of
// [0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}(Z|[+\-][0-9]{2}(:[0-9]{2}))
// at the start of s, or 0.
func commonDateTimeMatch(s string) int {
	const shape = "dddd-1d-3dT2d:5d:5d.ddd"
	if len(s) < len(shape)+1 {
		return 0
	}
	for i := 0; i < len(shape); i++ {
		c := s[i]
		ok := false
		switch shape[i] {
		case 'd':
			ok = isDigit(c)
		case '1':
			ok = c == '0' || c == '1'
		case '2':
			ok = c >= '0' && c <= '2'
		case '3':
			ok = c >= '0' && c <= '3'
		case '5':
			ok = c >= '0' && c <= '5'
		default:
			ok = c == shape[i]
		}
		if !ok {
			return 0
		}
	}
	rest := s[len(shape):]
	switch {
	case rest[0] == 'Z':
		return len(shape) + 1
	case (rest[0] == '+' || rest[0] == '-') && len(rest) >= 6 && isDigit(rest[1]) && isDigit(rest[2]) &&
		rest[3] == ':' && isDigit(rest[4]) && isDigit(rest[5]):
		return len(shape) + 6
	}
	return 0
}
