package segments

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// Summary is what a SummaryReader reads of a DataSegment's JSON, or of a change request's (the segment's members
// beside "action"): what identifies the segment, its size and where it is, for readers of millions of segments (a
// data server's inventory, the segments table) that need no more.
type Summary struct {
	// Action is the first "action" member's string (a change request's type id, as Jackson takes the first), ""
	// when there is none.
	Action string
	// DataSource, Interval, Version, ShardSpec and Size are read as DataSegment.UnmarshalJSON reads them.
	DataSource string
	Interval   Interval
	Version    string
	ShardSpec  ShardSpec
	Size       int64
	// LoadSpec is the loadSpec member as received (nil for null or missing); it aliases the input.
	LoadSpec json.RawMessage
	// Fingerprint is a load request's "fingerprint" (Druid 38+), "" when null or missing.
	Fingerprint string
}

// ID returns the segment's id.
func (s *Summary) ID() SegmentID {
	return SegmentID{DataSource: s.DataSource, Interval: s.Interval, Version: s.Version, PartitionNum: s.ShardSpec.PartitionNum()}
}

// ErrNotSummarized is what SummaryReader.Read returns for a document DataSegment.UnmarshalJSON (or
// ChangeRequest.UnmarshalJSON) refuses, or may refuse: the reader does not say why, the whole parse does.
var ErrNotSummarized = errors.New("the segment JSON is not one the summary reader accepts; parse it whole to learn why")

// SummaryReader reads Summaries. It accepts no document DataSegment.UnmarshalJSON refuses (nor, for a change
// request's members, ChangeRequest.UnmarshalJSON), and refuses a few odd ones the whole parse accepts (see Read),
// which callers then parse whole. It costs a fraction of the whole parse: the members it does not keep (dimensions,
// metrics, lastCompactionState, ...) are checked for their JSON kind and not decoded, and the values that repeat
// from one segment to the next (dataSources, intervals, shard specs) are decoded once and shared. Not safe for
// concurrent use.
type SummaryReader struct {
	dataSources map[string]string
	intervals   map[string]Interval
	shards      map[string]ShardSpec
}

// summaryCacheMax bounds each of a SummaryReader's caches; a full one is emptied and refilled, so a table of
// distinct values costs a map's churn, never its growth.
const summaryCacheMax = 1 << 14

// NewSummaryReader returns a reader with empty caches.
func NewSummaryReader() *SummaryReader {
	return &SummaryReader{dataSources: map[string]string{}, intervals: map[string]Interval{}, shards: map[string]ShardSpec{}}
}

// Read reads data (a DataSegment's JSON object, or a change request's) into s. It returns ErrNotSummarized for a
// document the whole parse refuses, and for some it accepts (members of the wrong kind that a DataSegment keeps as
// unknown ones, such as a numeric "fingerprint"; JSON null), so that a caller parses those whole.
func (r *SummaryReader) Read(data []byte, s *Summary) error {
	start := jackson.SkipSpace(data, 0)
	n, err := r.ReadPrefix(data[start:], s)
	if err != nil || jackson.SkipSpace(data, start+n) != len(data) {
		return ErrNotSummarized
	}
	return nil
}

// ReadPrefix is Read of the JSON object data starts with (no leading space), whatever follows it: it returns the
// object's length. Its error is ErrNotSummarized for an object it does not accept and for data that ends within the
// object alike.
func (r *SummaryReader) ReadPrefix(data []byte, s *Summary) (int, error) {
	*s = Summary{}
	it, err := newObjectIter(data, 0, 0)
	if err != nil {
		return 0, ErrNotSummarized
	}
	var haveDataSource, haveInterval, haveVersion, haveAction bool
	var m member
	for {
		ok, err := it.next(&m)
		if err != nil {
			return 0, ErrNotSummarized
		}
		if !ok {
			break
		}
		v := m.value
		switch string(m.name) {
		case "dataSource":
			if haveDataSource = v[0] == '"'; !haveDataSource && v[0] != 'n' {
				return 0, ErrNotSummarized
			}
			s.DataSource = ""
			if haveDataSource {
				s.DataSource = r.dataSource(v)
			}
		case "interval":
			if haveInterval = v[0] == '"'; !haveInterval && v[0] != 'n' {
				return 0, ErrNotSummarized
			}
			if haveInterval {
				if s.Interval, err = r.interval(v); err != nil {
					return 0, ErrNotSummarized
				}
			}
		case "version":
			if haveVersion = v[0] == '"'; !haveVersion && v[0] != 'n' {
				return 0, ErrNotSummarized
			}
			s.Version = ""
			if haveVersion {
				s.Version = jackson.DecodeString(v, bytes.IndexByte(v, '\\') >= 0)
			}
		case "loadSpec":
			if v[0] != '{' && v[0] != 'n' {
				return 0, ErrNotSummarized
			}
			s.LoadSpec = nil
			if v[0] == '{' {
				s.LoadSpec = v
			}
		case "lastCompactionState":
			if v[0] != '{' && v[0] != 'n' {
				return 0, ErrNotSummarized
			}
		case "dimensions", "metrics", "projections":
			if v[0] != '"' && v[0] != 'n' {
				return 0, ErrNotSummarized
			}
		case "shardSpec":
			if s.ShardSpec, err = r.shardSpec(v, m.spaced); err != nil {
				return 0, ErrNotSummarized
			}
		case "binaryVersion":
			if v[0] != 'n' {
				if n, ok := integerValue(v); !ok || !checkInt32(n) {
					return 0, ErrNotSummarized
				}
			}
		case "size":
			s.Size = 0
			if v[0] != 'n' {
				n, ok := integerValue(v)
				if !ok || n < 0 {
					return 0, ErrNotSummarized
				}
				s.Size = n
			}
		case "fingerprint":
			switch v[0] {
			case '"':
				s.Fingerprint = jackson.DecodeString(v, bytes.IndexByte(v, '\\') >= 0)
			case 'n':
				s.Fingerprint = ""
			default:
				return 0, ErrNotSummarized
			}
		case "loadedBytes":
			if v[0] != 'n' {
				if _, ok := integerValue(v); !ok {
					return 0, ErrNotSummarized
				}
			}
		case "action":
			if !haveAction {
				if v[0] != '"' {
					return 0, ErrNotSummarized
				}
				s.Action, haveAction = jackson.DecodeString(v, bytes.IndexByte(v, '\\') >= 0), true
			}
		}
	}
	if !haveDataSource || s.DataSource == "" || !haveInterval || !haveVersion || !utf8.Valid(data[:it.pos]) {
		return 0, ErrNotSummarized
	}
	return it.pos, nil
}

// dataSource decodes a dataSource string token, shared with the previous segments of that dataSource.
func (r *SummaryReader) dataSource(tok []byte) string {
	ds, _ := cached(r.dataSources, tok, func() (string, error) {
		return jackson.DecodeString(tok, bytes.IndexByte(tok, '\\') >= 0), nil
	})
	return ds
}

// interval parses an interval string token, once for every segment of that interval.
func (r *SummaryReader) interval(tok []byte) (Interval, error) {
	return cached(r.intervals, tok, func() (Interval, error) {
		return ParseInterval(jackson.DecodeString(tok, bytes.IndexByte(tok, '\\') >= 0))
	})
}

// shardSpec parses a shard spec value, once for every segment with those very bytes (the partitions of one
// interval share a few).
func (r *SummaryReader) shardSpec(v []byte, spaced bool) (ShardSpec, error) {
	return cached(r.shards, v, func() (ShardSpec, error) { return parseShardSpecValue(v, spaced) })
}

// cached returns cache's value for the bytes raw, or builds it and keeps it unless building it failed; a full cache
// is emptied first.
func cached[V any](cache map[string]V, raw []byte, build func() (V, error)) (V, error) {
	if v, ok := cache[string(raw)]; ok {
		return v, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	if len(cache) >= summaryCacheMax {
		clear(cache)
	}
	cache[string(raw)] = v
	return v, nil
}

// Summary returns what a SummaryReader would read of the segment's JSON (no action, no fingerprint).
func (s *DataSegment) Summary() Summary {
	return Summary{DataSource: s.DataSource, Interval: s.Interval, Version: s.Version, ShardSpec: s.ShardSpec, Size: s.Size,
		LoadSpec: s.LoadSpec}
}
