package segments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// DataSegment is the metadata of one Druid segment, as Druid's DataSegment class reads and writes it in JSON.
//
// The JSON form is described in the package comment: MarshalJSON writes it byte for byte as Druid does, and
// UnmarshalJSON reads what Druid writes (its rules are listed there). Members this package does not know, such as
// fields added by a newer Druid, are kept with the bytes they arrived with and written back in the same place,
// although Druid itself would drop them.
type DataSegment struct {
	// DataSource is the table the segment belongs to; it must not be empty.
	DataSource string
	// Interval is the time chunk the segment covers.
	Interval Interval
	// Version is the segment version, usually an ISO timestamp; concurrent-append segments use the epoch.
	Version string
	// LoadSpec tells a data server how to fetch the segment from deep storage: a JSON object, or nil for JSON null.
	// It is kept as received; a value set by a caller is validated and compacted when written.
	LoadSpec json.RawMessage
	// Dimensions lists the dimension columns; on the wire it is one comma-joined string, so names containing ','
	// cannot round-trip (as in Druid). Empty names are dropped when reading.
	Dimensions []string
	// Metrics lists the metric columns, comma-joined on the wire like Dimensions.
	Metrics []string
	// Projections lists the segment's projections (Druid 35+), comma-joined on the wire. nil means "not
	// projection-aware" and omits the member; a pointer to an empty slice means "aware, none" and writes "".
	Projections *[]string
	// ShardSpec is the segment's shard spec; the zero value stands for Druid's default numbered 0/1 spec.
	ShardSpec ShardSpec
	// LastCompactionState is the compaction state of compacted segments as a JSON object, or nil to omit the member
	// (Historicals prune it). It is kept as received; a value set by a caller is validated and compacted when written.
	LastCompactionState json.RawMessage
	// BinaryVersion is the segment format version (9 for V9 segments), or nil for JSON null (tombstones).
	BinaryVersion *int
	// Size is the total uncompressed size of the segment files in bytes; it must not be negative.
	Size int64

	// extra holds unknown members in input order, each tagged with the known member it followed.
	extra []extraMember
}

// Slots of the known members in the order Druid writes them. An unknown member is written after the known member
// that preceded it in the input, or first (slotStart) when none did.
const (
	slotStart = iota
	slotDataSource
	slotInterval
	slotVersion
	slotLoadSpec
	slotDimensions
	slotMetrics
	slotProjections
	slotShardSpec
	slotLastCompactionState
	slotBinaryVersion
	slotSize
	slotIdentifier
)

// extraMember is an unknown member kept verbatim.
type extraMember struct {
	after int    // the slot it follows
	name  string // the decoded member name
	raw   []byte // `"name":value` exactly as received, without insignificant whitespace
}

// TombstoneLoadSpec returns the loadSpec Druid gives tombstones: {"path":null,"type":"tombstone"} (built in a
// HashMap, so "path" comes first).
func TombstoneLoadSpec() json.RawMessage {
	return json.RawMessage(`{"path":null,"type":"tombstone"}`)
}

// NewTombstone returns a tombstone segment as Druid's TombstoneHelper publishes it: a tombstone shard spec and load
// spec, no dimensions or metrics, a null binaryVersion and size 1.
func NewTombstone(dataSource string, interval Interval, version string) DataSegment {
	return DataSegment{
		DataSource: dataSource, Interval: interval, Version: version, LoadSpec: TombstoneLoadSpec(),
		ShardSpec: TombstoneShardSpec(), Size: 1,
	}
}

// ID returns the segment's id: dataSource, interval, version and the shard spec's partition number.
func (s *DataSegment) ID() SegmentID {
	return SegmentID{DataSource: s.DataSource, Interval: s.Interval, Version: s.Version, PartitionNum: s.ShardSpec.PartitionNum()}
}

// IsTombstone reports whether the segment is a tombstone, which Druid decides by its shard spec type.
func (s *DataSegment) IsTombstone() bool { return s.ShardSpec.Type() == ShardTypeTombstone }

// UnknownFields returns the names of the members that were kept because this package does not know them, in input
// order.
func (s *DataSegment) UnknownFields() []string {
	names := make([]string, len(s.extra))
	for i, e := range s.extra {
		names[i] = e.name
	}
	return names
}

// MarshalJSON writes the segment exactly as Druid's Jackson ObjectMapper does; see AppendJSON.
func (s DataSegment) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(make([]byte, 0, s.sizeHint()))
}

// AppendJSON appends the JSON form of the segment to dst: the members in Druid's order, "projections" and
// "lastCompactionState" only when not nil, a null loadSpec and binaryVersion written as null, the read-only
// "identifier" computed from ID(), and unknown members after the member they followed when read. It fails only when
// a caller-supplied LoadSpec or LastCompactionState is not a JSON object (or null).
func (s *DataSegment) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	dst, err := s.appendMembers(dst, false, false)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

func (s *DataSegment) sizeHint() int {
	n := 256 + 2*len(s.DataSource) + 2*len(s.Version) + len(s.LoadSpec) + len(s.ShardSpec.Raw()) + len(s.LastCompactionState)
	for _, d := range s.Dimensions {
		n += len(d) + 1
	}
	for _, m := range s.Metrics {
		n += len(m) + 1
	}
	for _, e := range s.extra {
		n += len(e.raw) + 1
	}
	return n
}

// appendMembers writes the members without the braces. In a change request (inChangeRequest) the caller has already
// written the "action" member, so the first member needs a comma too, and unknown members named "action", which
// would collide with it, are left out; so are unknown "fingerprint" and "loadedBytes" members when the caller has
// written the load request's own (loadFields).
func (s *DataSegment) appendMembers(dst []byte, inChangeRequest, loadFields bool) ([]byte, error) {
	needComma := inChangeRequest
	key := func(dst []byte, k string) []byte {
		if needComma {
			dst = append(dst, ',')
		}
		needComma = true
		dst = append(dst, '"')
		dst = append(dst, k...)
		return append(dst, '"', ':')
	}
	extras := func(dst []byte, slot int) []byte {
		for i := range s.extra {
			e := &s.extra[i]
			if e.after == slot && !(inChangeRequest && e.name == "action") && !(loadFields && (e.name == "fingerprint" || e.name == "loadedBytes")) {
				if needComma {
					dst = append(dst, ',')
				}
				needComma = true
				dst = append(dst, e.raw...)
			}
		}
		return dst
	}
	var err error
	dst = extras(dst, slotStart)
	dst = jackson.AppendJSONString(key(dst, "dataSource"), s.DataSource)
	dst = extras(dst, slotDataSource)
	dst = key(dst, "interval")
	dst = append(dst, '"')
	dst = append(s.Interval.AppendFormat(dst), '"')
	dst = extras(dst, slotInterval)
	dst = jackson.AppendJSONString(key(dst, "version"), s.Version)
	dst = extras(dst, slotVersion)
	dst = key(dst, "loadSpec")
	if s.LoadSpec == nil {
		dst = append(dst, "null"...)
	} else if dst, err = appendObjectRaw(dst, s.LoadSpec, "loadSpec"); err != nil {
		return nil, err
	}
	dst = extras(dst, slotLoadSpec)
	dst = appendCommaList(key(dst, "dimensions"), s.Dimensions)
	dst = extras(dst, slotDimensions)
	dst = appendCommaList(key(dst, "metrics"), s.Metrics)
	dst = extras(dst, slotMetrics)
	if s.Projections != nil {
		dst = appendCommaList(key(dst, "projections"), *s.Projections)
	}
	dst = extras(dst, slotProjections)
	dst = append(key(dst, "shardSpec"), s.ShardSpec.Raw()...)
	dst = extras(dst, slotShardSpec)
	if s.LastCompactionState != nil && !isJSONNull(s.LastCompactionState) {
		if dst, err = appendObjectRaw(key(dst, "lastCompactionState"), s.LastCompactionState, "lastCompactionState"); err != nil {
			return nil, err
		}
	}
	dst = extras(dst, slotLastCompactionState)
	dst = key(dst, "binaryVersion")
	if s.BinaryVersion == nil {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, int64(*s.BinaryVersion), 10)
	}
	dst = extras(dst, slotBinaryVersion)
	dst = strconv.AppendInt(key(dst, "size"), s.Size, 10)
	dst = extras(dst, slotSize)
	// The identifier is SegmentId.toString() written as one JSON string.
	dst = append(key(dst, "identifier"), '"')
	dst = jackson.AppendEscaped(dst, s.DataSource)
	dst = append(dst, '_')
	dst = s.Interval.Start.AppendFormat(dst)
	dst = append(dst, '_')
	dst = s.Interval.End.AppendFormat(dst)
	dst = append(dst, '_')
	dst = jackson.AppendEscaped(dst, s.Version)
	if p := s.ShardSpec.PartitionNum(); p != 0 {
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(p), 10)
	}
	dst = append(dst, '"')
	return extras(dst, slotIdentifier), nil
}

// isJSONNull reports whether raw is the literal null, allowing surrounding whitespace.
func isJSONNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// appendObjectRaw appends a caller-supplied raw value that must be a JSON object (or null), validated and compacted.
func appendObjectRaw(dst, raw []byte, field string) ([]byte, error) {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != 'n') {
		return nil, fmt.Errorf("segment %s %s: it must be a JSON object or null", field, shorten(string(raw)))
	}
	out, err := jackson.AppendRaw(dst, raw)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", field, err)
	}
	return out, nil
}

// appendCommaList writes a list as Druid's CommaListJoinSerializer does: one JSON string of the items joined by ','.
func appendCommaList(dst []byte, items []string) []byte {
	dst = append(dst, '"')
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jackson.AppendEscaped(dst, item)
	}
	return append(dst, '"')
}

// splitCommaList reads a comma-joined list as Druid does: split at every ',' and drop empty items.
func splitCommaList(s string) []string {
	if s == "" {
		return nil
	}
	out := make([]string, 0, strings.Count(s, ",")+1)
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			break
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		s = s[i+1:]
	}
	if s != "" {
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// UnmarshalJSON reads a segment as Druid's DataSegment creator does; JSON null leaves the segment unchanged.
//
// Rules, with Druid's behaviour where it matters:
//   - dataSource, interval and version are required strings; dataSource must not be empty; the interval is parsed
//     with ParseInterval.
//   - loadSpec and lastCompactionState must be objects or null and are kept as received.
//   - dimensions, metrics and projections must be strings or null; they are split at ',' dropping empty items. A
//     null or missing projections stays nil.
//   - shardSpec is parsed with ParseShardSpec; a missing or null one is Druid's numbered 0/1 default.
//   - binaryVersion must be an integer that fits a Java int, or null.
//   - size must be a non-negative integer that fits a Java long; null or missing reads as 0, as Jackson reads a Java
//     long.
//   - identifier is ignored: the id is always computed from the other members.
//   - When a member appears twice, the last one wins, as in Jackson.
//   - Unknown members are kept (Druid drops them) and written back after the known member they followed, so any
//     payload in Druid's order, even one from a newer Druid with members this package does not know, is re-written
//     byte for byte.
//
// Values are checked more strictly than Jackson checks them: Jackson would coerce, for example, a number given for
// version into a string, but Druid never writes such payloads and accepting them would hide a broken producer.
// Every bad member is reported, each in an error that names the member and its value.
func (s *DataSegment) UnmarshalJSON(data []byte) error {
	_, fieldErr, err := s.decodeMembers(data, false)
	if err != nil {
		return err
	}
	return fieldErr
}

// decodeMembers reads a segment and returns JSON syntax problems in err and member problems in fieldErr. Inside a
// change request (inChangeRequest) the first "action" member is returned instead of being kept, and later ones are
// dropped, as Jackson consumes the first type id and ignores the rest as unknown properties.
func (s *DataSegment) decodeMembers(data []byte, inChangeRequest bool) (action *member, fieldErr, err error) {
	if !utf8.Valid(data) {
		return nil, nil, errors.New("segment JSON is not valid UTF-8")
	}
	start := jackson.SkipSpace(data, 0)
	if start < len(data) && data[start] == 'n' {
		if end, _, err := jackson.ScanLiteral(data, start, "null"); err == nil && jackson.SkipSpace(data, end) == len(data) {
			return nil, nil, nil
		}
	}
	it, err := newObjectIter(data, start, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("segment JSON: %w", err)
	}
	*s = DataSegment{}
	var errs []error
	var badFields uint32 // bit i is set when a member error was reported for slot i
	bad := func(field string, value []byte, format string, args ...any) {
		badFields |= 1 << slotOf[field]
		errs = append(errs, fmt.Errorf("segment %s %s: %s", field, shorten(string(value)), fmt.Sprintf(format, args...)))
	}
	// stringValue returns the decoded string, or false for null; other kinds are reported.
	stringValue := func(field string, v []byte) (string, bool) {
		switch v[0] {
		case '"':
			return jackson.DecodeString(v, bytes.IndexByte(v, '\\') >= 0), true
		case 'n':
			return "", false
		}
		bad(field, v, "it must be a JSON string")
		return "", false
	}
	objectValue := func(field string, m *member) json.RawMessage {
		switch m.value[0] {
		case '{':
			return jackson.OwnRaw(m.value, m.spaced)
		case 'n':
			return nil
		}
		bad(field, m.value, "it must be a JSON object or null")
		return nil
	}
	var seenDataSource, seenInterval, seenVersion bool
	anchor := slotStart
	var m member
	for {
		ok, err := it.next(&m)
		if err != nil {
			return nil, nil, fmt.Errorf("segment JSON: %w", err)
		}
		if !ok {
			break
		}
		v := m.value
		slot := anchor
		switch string(m.name) {
		case "dataSource":
			slot = slotDataSource
			ds, ok := stringValue("dataSource", v)
			s.DataSource, seenDataSource = ds, ok
		case "interval":
			slot = slotInterval
			if str, ok := stringValue("interval", v); ok {
				iv, err := ParseInterval(str)
				if err != nil {
					badFields |= 1 << slotInterval
					errs = append(errs, fmt.Errorf("segment interval: %w", err))
				}
				s.Interval, seenInterval = iv, err == nil
			} else {
				seenInterval = false
			}
		case "version":
			slot = slotVersion
			s.Version, seenVersion = stringValue("version", v)
		case "loadSpec":
			slot = slotLoadSpec
			s.LoadSpec = objectValue("loadSpec", &m)
		case "dimensions":
			slot = slotDimensions
			str, _ := stringValue("dimensions", v)
			s.Dimensions = splitCommaList(str)
		case "metrics":
			slot = slotMetrics
			str, _ := stringValue("metrics", v)
			s.Metrics = splitCommaList(str)
		case "projections":
			slot = slotProjections
			s.Projections = nil
			if str, ok := stringValue("projections", v); ok {
				p := splitCommaList(str)
				s.Projections = &p
			}
		case "shardSpec":
			slot = slotShardSpec
			spec, err := parseShardSpecValue(v, m.spaced)
			if err != nil {
				errs = append(errs, fmt.Errorf("segment shardSpec: %w", err))
			}
			s.ShardSpec = spec
		case "lastCompactionState":
			slot = slotLastCompactionState
			s.LastCompactionState = objectValue("lastCompactionState", &m)
		case "binaryVersion":
			slot = slotBinaryVersion
			s.BinaryVersion = nil
			if v[0] != 'n' {
				n, ok := integerValue(v)
				if !ok || !checkInt32(n) {
					bad("binaryVersion", v, "it must be an integer that fits a Java int, or null")
				} else {
					bv := int(n)
					s.BinaryVersion = &bv
				}
			}
		case "size":
			slot = slotSize
			s.Size = 0
			if v[0] != 'n' {
				n, ok := integerValue(v)
				switch {
				case !ok:
					bad("size", v, "it must be an integer that fits a Java long")
				case n < 0:
					bad("size", v, "it must not be negative")
				default:
					s.Size = n
				}
			}
		case "identifier":
			slot = slotIdentifier
		case "action":
			if inChangeRequest {
				if action == nil {
					a := m
					action = &a
				}
				continue
			}
			s.addExtra(anchor, &m)
		default:
			s.addExtra(anchor, &m)
		}
		anchor = slot
	}
	if jackson.SkipSpace(data, it.pos) != len(data) {
		return nil, nil, fmt.Errorf("segment JSON: %w", jackson.SyntaxError(data, jackson.SkipSpace(data, it.pos), "the end of the input"))
	}
	// Druid's SegmentId requires a non-empty dataSource and non-null interval and version.
	if (!seenDataSource || s.DataSource == "") && badFields&(1<<slotDataSource) == 0 {
		errs = append(errs, errors.New("segment dataSource is missing, null or empty"))
	}
	if !seenInterval && badFields&(1<<slotInterval) == 0 {
		errs = append(errs, errors.New("segment interval is missing or null"))
	}
	if !seenVersion && badFields&(1<<slotVersion) == 0 {
		errs = append(errs, errors.New("segment version is missing or null"))
	}
	return action, errors.Join(errs...), nil
}

// slotOf maps the known member names to their slots.
var slotOf = map[string]int{
	"dataSource": slotDataSource, "interval": slotInterval, "version": slotVersion, "loadSpec": slotLoadSpec,
	"dimensions": slotDimensions, "metrics": slotMetrics, "projections": slotProjections, "shardSpec": slotShardSpec,
	"lastCompactionState": slotLastCompactionState, "binaryVersion": slotBinaryVersion, "size": slotSize,
	"identifier": slotIdentifier,
}

func (s *DataSegment) addExtra(after int, m *member) {
	raw := make([]byte, 0, len(m.rawName)+1+len(m.value))
	raw = append(raw, m.rawName...)
	raw = append(raw, ':')
	if m.spaced {
		raw = append(raw, jackson.OwnRaw(m.value, true)...)
	} else {
		raw = append(raw, m.value...)
	}
	s.extra = append(s.extra, extraMember{after: after, name: string(m.name), raw: raw})
}

// integerValue parses a JSON value that must be an integer token.
func integerValue(v []byte) (int64, bool) {
	if v[0] != '-' && !isDigit(v[0]) {
		return 0, false
	}
	if _, integer, err := jackson.ScanNumber(v, 0); err != nil || !integer {
		return 0, false
	}
	return jackson.ParseInt(v)
}
