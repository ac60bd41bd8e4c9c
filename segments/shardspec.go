package segments

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// Shard spec type names, the "type" values of Druid's ShardSpec.Type that appear in published segments.
const (
	ShardTypeNone              = "none"
	ShardTypeNumbered          = "numbered"
	ShardTypeLinear            = "linear"
	ShardTypeHashed            = "hashed"
	ShardTypeSingle            = "single"
	ShardTypeRange             = "range"
	ShardTypeNumberedOverwrite = "numbered_overwrite"
	ShardTypeTombstone         = "tombstone"
)

// Druid's partition id spaces (PartitionIds.java): root-generation partitions use [0, 32768), the overwriting
// segments of segment locking use [32768, 65536), and an atomic update group size of -1 means "not known yet".
const (
	rootGenEndPartitionID        = 32768
	nonRootGenStartPartitionID   = 32768
	nonRootGenEndPartitionID     = 65536
	unknownAtomicUpdateGroupSize = -1
	unknownNumCorePartitions     = -1
)

// ShardSpec is a segment's shard spec: the JSON object exactly as it was received (without insignificant
// whitespace), plus the values this package reads from it.
//
// A ShardSpec is an immutable value, so its parsed view can never disagree with the bytes it writes. Keeping the bytes
// matters because Java writes some kinds in an order no schema describes (the "single" kind goes through a HashMap)
// and newer Druid versions add fields; both are re-written unchanged.
//
// The zero ShardSpec stands for a missing or null "shardSpec", which Druid reads as NumberedShardSpec(0, 1) and writes
// as {"type":"numbered","partitionNum":0,"partitions":1}; all methods behave accordingly.
type ShardSpec struct {
	typ                   string
	partitionNum          int
	numCorePartitions     int
	startRootPartitionID  int
	endRootPartitionID    int
	minorVersion          int
	atomicUpdateGroupSize int
	raw                   []byte
}

// defaultShardSpec is what Druid substitutes for a missing shard spec.
var defaultShardSpec = NumberedShardSpec(0, 1)

func (s *ShardSpec) effective() *ShardSpec {
	if s.raw == nil {
		return &defaultShardSpec
	}
	return s
}

// Type returns the "type" of the shard spec, such as ShardTypeNumbered.
func (s ShardSpec) Type() string { return s.effective().typ }

// PartitionNum returns the partition number that goes into the SegmentId: "partitionNum" for most kinds,
// "partitionId" for numbered_overwrite, and 0 for none and tombstone.
func (s ShardSpec) PartitionNum() int { return s.effective().partitionNum }

// NumCorePartitions returns the size of the core partition set: "partitions" for numbered, hashed and tombstone (0),
// "numCorePartitions" for single and range (-1 when unknown), and 0 for linear, none and numbered_overwrite.
func (s ShardSpec) NumCorePartitions() int { return s.effective().numCorePartitions }

// StartRootPartitionID returns the first root partition the segment's atomic update group covers; for every kind but
// numbered_overwrite it is PartitionNum().
func (s ShardSpec) StartRootPartitionID() int { return s.effective().startRootPartitionID }

// EndRootPartitionID returns the root partition after the last one the segment's atomic update group covers; for every
// kind but numbered_overwrite it is PartitionNum()+1.
func (s ShardSpec) EndRootPartitionID() int { return s.effective().endRootPartitionID }

// MinorVersion returns the minor version of the atomic update group, which is 0 for every kind but numbered_overwrite.
func (s ShardSpec) MinorVersion() int { return s.effective().minorVersion }

// AtomicUpdateGroupSize returns the number of segments in the atomic update group, which is 1 for every kind but
// numbered_overwrite (where -1 means unknown).
func (s ShardSpec) AtomicUpdateGroupSize() int { return s.effective().atomicUpdateGroupSize }

// IsKnownType reports whether the type is one this package validates (the eight published kinds); other types are
// accepted and re-written unchanged, with the partition number read from "partitionNum" or else "partitionId".
func (s ShardSpec) IsKnownType() bool {
	switch s.Type() {
	case ShardTypeNone, ShardTypeNumbered, ShardTypeLinear, ShardTypeHashed, ShardTypeSingle, ShardTypeRange,
		ShardTypeNumberedOverwrite, ShardTypeTombstone:
		return true
	}
	return false
}

// Raw returns the JSON bytes of the shard spec. The caller must not modify them.
func (s ShardSpec) Raw() []byte { return s.effective().raw }

// Equal reports whether two shard specs have the same JSON bytes.
func (s ShardSpec) Equal(o ShardSpec) bool { return bytes.Equal(s.Raw(), o.Raw()) }

// String returns the JSON form.
func (s ShardSpec) String() string { return string(s.Raw()) }

// MarshalJSON returns the JSON bytes of the shard spec.
func (s ShardSpec) MarshalJSON() ([]byte, error) { return append([]byte(nil), s.Raw()...), nil }

// UnmarshalJSON parses a shard spec with ParseShardSpec; JSON null gives the zero (default) ShardSpec, as in Druid.
func (s *ShardSpec) UnmarshalJSON(data []byte) error {
	v, err := ParseShardSpec(data)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseShardSpec reads a shard spec JSON object, or null for the default numbered 0/1 spec.
//
// The published kinds are checked as Druid's constructors check them (for example a numbered partitionNum must not be
// negative and a numbered_overwrite partitionId must lie in [32768, 65536)); numeric fields must be JSON integers,
// and missing or null ones default as Jackson defaults Java primitives (to 0). A kind this package does not know is
// accepted: Druid does not let extensions add kinds, so an unknown one comes from a newer Druid, and refusing it would
// make every load of such a segment fail.
func ParseShardSpec(data []byte) (ShardSpec, error) {
	if !utf8.Valid(data) {
		return ShardSpec{}, errors.New("invalid shard spec: the JSON is not valid UTF-8")
	}
	start := jackson.SkipSpace(data, 0)
	end, spaced, err := jackson.ScanValue(data, start, 0)
	if err != nil {
		return ShardSpec{}, fmt.Errorf("invalid shard spec: %w", err)
	}
	if jackson.SkipSpace(data, end) != len(data) {
		return ShardSpec{}, fmt.Errorf("invalid shard spec: %w", jackson.SyntaxError(data, jackson.SkipSpace(data, end), "the end of the value"))
	}
	return parseShardSpecValue(data[start:end], spaced)
}

// parseShardSpecValue parses a validated JSON value and takes a private copy of its bytes.
func parseShardSpecValue(raw []byte, spaced bool) (ShardSpec, error) {
	switch raw[0] {
	case 'n':
		return ShardSpec{}, nil
	case '{':
	default:
		return ShardSpec{}, fmt.Errorf("invalid shard spec %s: it must be a JSON object", shorten(string(raw)))
	}
	// The members are few; collect the ones any kind reads, the last of duplicates winning as in Jackson, except for
	// the type id, where Jackson takes the first.
	var typ []byte
	var vals shardMembers
	it, err := newObjectIter(raw, 0, 0)
	if err == nil {
		var m member
		var ok bool
		for ok, err = it.next(&m); ok && err == nil; ok, err = it.next(&m) {
			if string(m.name) == "type" {
				if typ == nil {
					typ = m.value
				}
			} else if i := shardMemberIndex(m.name); i >= 0 {
				vals[i] = m.value
			}
		}
	}
	if err != nil {
		return ShardSpec{}, fmt.Errorf("invalid shard spec: %w", err)
	}
	if typ == nil {
		return ShardSpec{}, errors.New(`invalid shard spec: it has no "type"`)
	}
	if typ[0] != '"' {
		return ShardSpec{}, fmt.Errorf("invalid shard spec: type %s must be a JSON string", shorten(string(typ)))
	}
	s := ShardSpec{typ: internShardType(typ)}
	bad := func(format string, args ...any) (ShardSpec, error) {
		return ShardSpec{}, fmt.Errorf("invalid %s shard spec: %s", s.typ, fmt.Sprintf(format, args...))
	}
	// intField reads an int-valued member; absent and null read as def (Jackson's default for a Java int).
	intField := func(name string, bits int, def int, required bool) (int, error) {
		v := vals.get(name)
		if v == nil || v[0] == 'n' {
			if required {
				return 0, fmt.Errorf("invalid %s shard spec: %s is required", s.typ, name)
			}
			return def, nil
		}
		if v[0] != '-' && !isDigit(v[0]) {
			return 0, fmt.Errorf("invalid %s shard spec: %s %s must be a JSON integer", s.typ, name, shorten(string(v)))
		}
		_, integer, _ := jackson.ScanNumber(v, 0)
		n, fits := jackson.ParseInt(v)
		if !integer || !fits || n < -(1<<(bits-1)) || n >= 1<<(bits-1) {
			return 0, fmt.Errorf("invalid %s shard spec: %s %s must be an integer that fits in %d bits", s.typ, name, v, bits)
		}
		return int(n), nil
	}
	kindOf := func(name string, want byte, what string) error {
		if v := vals.get(name); v != nil && v[0] != 'n' && v[0] != want {
			return fmt.Errorf("invalid %s shard spec: %s %s must be %s or null", s.typ, name, shorten(string(v)), what)
		}
		return nil
	}
	var errs []error
	get := func(name string, bits, def int, required bool) int {
		n, err := intField(name, bits, def, required)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	switch s.typ {
	case ShardTypeNone:
		// NoneShardSpec is a singleton: partition 0, no core partitions.
	case ShardTypeTombstone:
		// TombstoneShardSpec has no creator properties; its partition and core partition count are always 0.
	case ShardTypeNumbered, ShardTypeHashed:
		s.partitionNum = get("partitionNum", 32, 0, false)
		s.numCorePartitions = get("partitions", 32, 0, false)
		if s.typ == ShardTypeHashed {
			get("bucketId", 32, 0, false)
			get("numBuckets", 32, 0, false)
			errs = append(errs, kindOf("partitionDimensions", '[', "a JSON array"),
				kindOf("partitionFunction", '"', "a JSON string"))
		}
	case ShardTypeLinear:
		s.partitionNum = get("partitionNum", 32, 0, true)
	case ShardTypeSingle:
		s.partitionNum = get("partitionNum", 32, 0, false)
		s.numCorePartitions = get("numCorePartitions", 32, unknownNumCorePartitions, false)
		if v := vals.get("dimension"); v == nil || v[0] != '"' {
			errs = append(errs, fmt.Errorf("invalid %s shard spec: dimension must be a JSON string", s.typ))
		}
		errs = append(errs, kindOf("start", '"', "a JSON string"), kindOf("end", '"', "a JSON string"))
	case ShardTypeRange:
		s.partitionNum = get("partitionNum", 32, 0, false)
		s.numCorePartitions = get("numCorePartitions", 32, unknownNumCorePartitions, false)
		if v := vals.get("dimensions"); v == nil || v[0] != '[' || isEmptyArray(v) {
			errs = append(errs, fmt.Errorf("invalid %s shard spec: dimensions must be a non-empty JSON array", s.typ))
		}
		errs = append(errs, kindOf("start", '[', "a JSON array"), kindOf("end", '[', "a JSON array"))
	case ShardTypeNumberedOverwrite:
		s.partitionNum = get("partitionId", 32, 0, false)
		s.startRootPartitionID = get("startRootPartitionId", 32, 0, false)
		s.endRootPartitionID = get("endRootPartitionId", 32, 0, false)
		s.minorVersion = get("minorVersion", 16, 0, false)
		s.atomicUpdateGroupSize = get("atomicUpdateGroupSize", 16, 0, false)
	default:
		// An unknown kind: read the partition number leniently and keep everything else as it is.
		if vals.get("partitionNum") != nil {
			s.partitionNum = get("partitionNum", 32, 0, false)
		} else {
			s.partitionNum = get("partitionId", 32, 0, false)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ShardSpec{}, err
	}
	// Druid's constructor preconditions.
	switch s.typ {
	case ShardTypeNumbered, ShardTypeHashed, ShardTypeSingle, ShardTypeRange:
		if s.partitionNum < 0 {
			return bad("partitionNum %d must not be negative", s.partitionNum)
		}
		if (s.typ == ShardTypeNumbered || s.typ == ShardTypeHashed) && s.numCorePartitions < 0 {
			return bad("partitions %d must not be negative", s.numCorePartitions)
		}
	case ShardTypeNumberedOverwrite:
		if s.partitionNum < nonRootGenStartPartitionID || s.partitionNum >= nonRootGenEndPartitionID {
			return bad("partitionId %d must be in [%d, %d)", s.partitionNum, nonRootGenStartPartitionID, nonRootGenEndPartitionID)
		}
		if s.startRootPartitionID < 0 || s.startRootPartitionID >= rootGenEndPartitionID {
			return bad("startRootPartitionId %d must be in [0, %d)", s.startRootPartitionID, rootGenEndPartitionID)
		}
		if s.endRootPartitionID < 0 || s.endRootPartitionID >= rootGenEndPartitionID {
			return bad("endRootPartitionId %d must be in [0, %d)", s.endRootPartitionID, rootGenEndPartitionID)
		}
		if s.minorVersion <= 0 {
			return bad("minorVersion %d must be positive", s.minorVersion)
		}
		if s.atomicUpdateGroupSize <= 0 && s.atomicUpdateGroupSize != unknownAtomicUpdateGroupSize {
			return bad("atomicUpdateGroupSize %d must be positive or %d (unknown)", s.atomicUpdateGroupSize, unknownAtomicUpdateGroupSize)
		}
	}
	if s.typ != ShardTypeNumberedOverwrite {
		s.startRootPartitionID, s.endRootPartitionID = s.partitionNum, s.partitionNum+1
		s.minorVersion, s.atomicUpdateGroupSize = 0, 1
	}
	s.raw = jackson.OwnRaw(raw, spaced)
	return s, nil
}

// shardMemberNames are the shard spec members any kind reads.
var shardMemberNames = [...]string{
	"partitionNum", "partitions", "partitionId", "startRootPartitionId", "endRootPartitionId", "minorVersion",
	"atomicUpdateGroupSize", "numCorePartitions", "bucketId", "numBuckets", "dimension", "dimensions",
	"partitionDimensions", "partitionFunction", "start", "end",
}

// shardMembers holds the raw values of shardMemberNames, nil when absent.
type shardMembers [len(shardMemberNames)][]byte

func shardMemberIndex(name []byte) int {
	for i, n := range shardMemberNames {
		if string(name) == n {
			return i
		}
	}
	return -1
}

func (v *shardMembers) get(name string) []byte { return v[shardMemberIndex([]byte(name))] }

// isEmptyArray reports whether a validated array value has no elements.
func isEmptyArray(v []byte) bool { return v[jackson.SkipSpace(v, 1)] == ']' }

// internShardType returns the decoded type, sharing the constant strings of the known kinds.
func internShardType(raw []byte) string {
	switch string(raw[1 : len(raw)-1]) {
	case ShardTypeNumbered:
		return ShardTypeNumbered
	case ShardTypeLinear:
		return ShardTypeLinear
	case ShardTypeHashed:
		return ShardTypeHashed
	case ShardTypeSingle:
		return ShardTypeSingle
	case ShardTypeRange:
		return ShardTypeRange
	case ShardTypeNumberedOverwrite:
		return ShardTypeNumberedOverwrite
	case ShardTypeTombstone:
		return ShardTypeTombstone
	case ShardTypeNone:
		return ShardTypeNone
	}
	return jackson.DecodeString(raw, bytes.IndexByte(raw, '\\') >= 0)
}

// NumberedShardSpec returns {"type":"numbered","partitionNum":p,"partitions":n}; n is the core partition count.
// Like the other constructors it does not validate its arguments; ParseShardSpec applies Druid's checks.
func NumberedShardSpec(partitionNum, partitions int) ShardSpec {
	b := []byte(`{"type":"numbered","partitionNum":`)
	b = strconv.AppendInt(b, int64(partitionNum), 10)
	b = append(b, `,"partitions":`...)
	b = strconv.AppendInt(b, int64(partitions), 10)
	b = append(b, '}')
	return newShardSpec(ShardTypeNumbered, partitionNum, partitions, b)
}

// LinearShardSpec returns {"type":"linear","partitionNum":p}.
func LinearShardSpec(partitionNum int) ShardSpec {
	b := []byte(`{"type":"linear","partitionNum":`)
	b = strconv.AppendInt(b, int64(partitionNum), 10)
	b = append(b, '}')
	return newShardSpec(ShardTypeLinear, partitionNum, 0, b)
}

// NoneShardSpec returns {"type":"none"}, the deprecated single-segment-per-interval kind.
func NoneShardSpec() ShardSpec {
	return newShardSpec(ShardTypeNone, 0, 0, []byte(`{"type":"none"}`))
}

// TombstoneShardSpec returns {"type":"tombstone","partitionNum":0,"partitions":0}.
func TombstoneShardSpec() ShardSpec {
	return newShardSpec(ShardTypeTombstone, 0, 0, []byte(`{"type":"tombstone","partitionNum":0,"partitions":0}`))
}

// HashedShardSpec returns a hashed shard spec in Java's key order: partitionNum, partitions, bucketId, numBuckets,
// partitionDimensions and partitionFunction (written as null when empty; Druid writes "murmur3_32_abs").
func HashedShardSpec(partitionNum, partitions, bucketID, numBuckets int, partitionDimensions []string, partitionFunction string) ShardSpec {
	b := []byte(`{"type":"hashed","partitionNum":`)
	b = strconv.AppendInt(b, int64(partitionNum), 10)
	b = append(b, `,"partitions":`...)
	b = strconv.AppendInt(b, int64(partitions), 10)
	b = append(b, `,"bucketId":`...)
	b = strconv.AppendInt(b, int64(bucketID), 10)
	b = append(b, `,"numBuckets":`...)
	b = strconv.AppendInt(b, int64(numBuckets), 10)
	b = append(b, `,"partitionDimensions":`...)
	b = appendStringArray(b, partitionDimensions, false)
	b = append(b, `,"partitionFunction":`...)
	b = appendNullableString(b, partitionFunction, partitionFunction != "")
	b = append(b, '}')
	return newShardSpec(ShardTypeHashed, partitionNum, partitions, b)
}

// SingleDimensionShardSpec returns a "single" shard spec in the order Java's HashMap gives its keys: start, end,
// dimension, partitionNum, numCorePartitions. A nil start or end is written as null (an open range end).
func SingleDimensionShardSpec(dimension string, start, end *string, partitionNum, numCorePartitions int) ShardSpec {
	b := []byte(`{"type":"single","start":`)
	b = appendStringPtr(b, start)
	b = append(b, `,"end":`...)
	b = appendStringPtr(b, end)
	b = append(b, `,"dimension":`...)
	b = jackson.AppendJSONString(b, dimension)
	b = append(b, `,"partitionNum":`...)
	b = strconv.AppendInt(b, int64(partitionNum), 10)
	b = append(b, `,"numCorePartitions":`...)
	b = strconv.AppendInt(b, int64(numCorePartitions), 10)
	b = append(b, '}')
	return newShardSpec(ShardTypeSingle, partitionNum, numCorePartitions, b)
}

// RangeShardSpec returns a "range" shard spec: dimensions, start, end, partitionNum, numCorePartitions. A nil start or
// end is written as null (an open range end).
func RangeShardSpec(dimensions, start, end []string, partitionNum, numCorePartitions int) ShardSpec {
	b := []byte(`{"type":"range","dimensions":`)
	b = appendStringArray(b, dimensions, false)
	b = append(b, `,"start":`...)
	b = appendStringArray(b, start, true)
	b = append(b, `,"end":`...)
	b = appendStringArray(b, end, true)
	b = append(b, `,"partitionNum":`...)
	b = strconv.AppendInt(b, int64(partitionNum), 10)
	b = append(b, `,"numCorePartitions":`...)
	b = strconv.AppendInt(b, int64(numCorePartitions), 10)
	b = append(b, '}')
	return newShardSpec(ShardTypeRange, partitionNum, numCorePartitions, b)
}

// NumberedOverwriteShardSpec returns the shard spec of a segment written by an overwriting task with segment locking:
// {"type":"numbered_overwrite","partitionId":…,"startRootPartitionId":…,"endRootPartitionId":…,"minorVersion":…,
// "atomicUpdateGroupSize":…}. Note "partitionId", not "partitionNum".
func NumberedOverwriteShardSpec(partitionID, startRootPartitionID, endRootPartitionID int, minorVersion, atomicUpdateGroupSize int16) ShardSpec {
	b := []byte(`{"type":"numbered_overwrite","partitionId":`)
	b = strconv.AppendInt(b, int64(partitionID), 10)
	b = append(b, `,"startRootPartitionId":`...)
	b = strconv.AppendInt(b, int64(startRootPartitionID), 10)
	b = append(b, `,"endRootPartitionId":`...)
	b = strconv.AppendInt(b, int64(endRootPartitionID), 10)
	b = append(b, `,"minorVersion":`...)
	b = strconv.AppendInt(b, int64(minorVersion), 10)
	b = append(b, `,"atomicUpdateGroupSize":`...)
	b = strconv.AppendInt(b, int64(atomicUpdateGroupSize), 10)
	b = append(b, '}')
	return ShardSpec{
		typ: ShardTypeNumberedOverwrite, partitionNum: partitionID, startRootPartitionID: startRootPartitionID,
		endRootPartitionID: endRootPartitionID, minorVersion: int(minorVersion),
		atomicUpdateGroupSize: int(atomicUpdateGroupSize), raw: b,
	}
}

func newShardSpec(typ string, partitionNum, numCore int, raw []byte) ShardSpec {
	return ShardSpec{
		typ: typ, partitionNum: partitionNum, numCorePartitions: numCore,
		startRootPartitionID: partitionNum, endRootPartitionID: partitionNum + 1, atomicUpdateGroupSize: 1, raw: raw,
	}
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jackson.AppendJSONString(b, *s)
}

func appendNullableString(b []byte, s string, present bool) []byte {
	if !present {
		return append(b, "null"...)
	}
	return jackson.AppendJSONString(b, s)
}

// appendStringArray writes a JSON array of strings; a nil slice is null when nilIsNull is set and [] otherwise.
func appendStringArray(b []byte, ss []string, nilIsNull bool) []byte {
	if ss == nil && nilIsNull {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jackson.AppendJSONString(b, s)
	}
	return append(b, ']')
}

// member is one name/value pair of a scanned JSON object.
type member struct {
	// rawName is the member name as received, quotes and escapes included.
	rawName []byte
	// name is the decoded member name; it aliases the input when the name has no escapes.
	name []byte
	// value is the raw value as received.
	value []byte
	// spaced reports insignificant whitespace inside value.
	spaced bool
}

// objectIter walks the members of a JSON object in order without allocating.
type objectIter struct {
	data  []byte
	pos   int
	depth int
	first bool
	done  bool
}

// newObjectIter starts iterating the object at data[pos], which must be '{'.
func newObjectIter(data []byte, pos, depth int) (objectIter, error) {
	if pos >= len(data) || data[pos] != '{' {
		return objectIter{}, jackson.SyntaxError(data, pos, "a JSON object")
	}
	if depth >= jackson.MaxDepth {
		return objectIter{}, jackson.ErrTooDeep
	}
	return objectIter{data: data, pos: jackson.SkipSpace(data, pos+1), depth: depth, first: true}, nil
}

// next fills m with the next member and reports false after the last one; it.pos is then the offset after the
// object.
func (it *objectIter) next(m *member) (bool, error) {
	data, i := it.data, it.pos
	if it.done {
		return false, nil
	}
	if it.first {
		it.first = false
		if i < len(data) && data[i] == '}' {
			it.done, it.pos = true, i+1
			return false, nil
		}
	} else {
		switch {
		case i < len(data) && data[i] == ',':
			i = jackson.SkipSpace(data, i+1)
		case i < len(data) && data[i] == '}':
			it.done, it.pos = true, i+1
			return false, nil
		default:
			return false, jackson.SyntaxError(data, i, "',' or '}'")
		}
	}
	if i >= len(data) || data[i] != '"' {
		return false, jackson.SyntaxError(data, i, "a member name")
	}
	end, escaped, err := jackson.ScanString(data, i)
	if err != nil {
		return false, err
	}
	m.rawName = data[i:end]
	if escaped {
		m.name = []byte(jackson.DecodeString(m.rawName, true))
	} else {
		m.name = m.rawName[1 : len(m.rawName)-1]
	}
	i = jackson.SkipSpace(data, end)
	if i >= len(data) || data[i] != ':' {
		return false, jackson.SyntaxError(data, i, "':'")
	}
	i = jackson.SkipSpace(data, i+1)
	end, spaced, err := jackson.ScanValue(data, i, it.depth+1)
	if err != nil {
		return false, err
	}
	m.value, m.spaced = data[i:end], spaced
	it.pos = jackson.SkipSpace(data, end)
	return true, nil
}

// checkInt32 reports whether v fits a Java int.
func checkInt32(v int64) bool { return v >= math.MinInt32 && v <= math.MaxInt32 }
