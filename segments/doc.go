// Package segments holds Apache Druid's segment model as it travels between Druid processes: the DataSegment JSON,
// Druid's (Joda) time and interval formats, the SegmentId string and its ambiguous parsing, shard specs, and the
// load/drop change requests the Coordinator sends.
//
// Every wire form here is meant to be byte-identical to what Druid's Jackson ObjectMapper writes, because other
// Druid processes compare, hash and store these bytes:
//
//   - DataSegment keys come in Jackson's creator order: dataSource, interval, version, loadSpec, dimensions, metrics,
//     projections (omitted when null), shardSpec, lastCompactionState (omitted when null), binaryVersion, size and the
//     read-only identifier.
//   - Strings are escaped the way Jackson escapes them: only '"', '\\' and control characters; non-ASCII text, '/',
//     '<', '>' and '&' are written as they are.
//   - Instants are always written as UTC "yyyy-MM-ddTHH:mm:ss.SSSZ", including years beyond 9999 and before 0.
//   - Opaque sub-documents (loadSpec, shardSpec, lastCompactionState and fields this package does not know) keep the
//     bytes they arrived with, less any insignificant whitespace (which Jackson never writes), so a payload written by
//     Druid is re-written byte for byte.
//
// MarshalJSON and the AppendJSON methods produce these bytes. encoding/json's Marshal re-escapes '<', '>', '&',
// U+2028 and U+2029 in the output of MarshalJSON methods, so a DataSegment nested in a value encoded with json.Marshal
// no longer matches Java; use a json.Encoder with SetEscapeHTML(false), or AppendJSON, where bytes matter.
//
// Readers report every problem they find, each naming the member and the value, in sentences such as
// `segment interval: invalid interval "2025-13-01/2025-13-02": start "2025-13-01": month 13 is out of range [1, 12]`.
//
// The authority for every rule is Druid's Java source (DataSegment, SegmentId, Intervals, the ShardSpec classes) and
// Joda-Time's ISODateTimeFormat; the package reimplements their documented behaviour without sharing their code.
package segments
