package segments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// PartialLoadTypePrefix begins the "type" of every partial-load wrapper (Druid 38+, PartialLoadSpec.TYPE_PREFIX):
// partialFullSegment, partialProjection, partialClusterGroup, and the ones later releases add.
const PartialLoadTypePrefix = "partial"

// PartialLoadSpec is a partial-load wrapper: the load spec a Druid 38+ Coordinator sends under a partial-load rule.
// Its top-level "fingerprint" names the rule's request and "delegate" is the real load spec; the rest of the wrapper
// (projections, cluster groups, …) says which part to load. Druid recognizes a wrapper by this shape alone, without
// a list of subtypes (PartialLoadSpec.detectPartialLoadSpec), and so does ParsePartialLoadSpec.
type PartialLoadSpec struct {
	// Type is the wrapper's "type", which starts with PartialLoadTypePrefix.
	Type string
	// Fingerprint is the wrapper's "fingerprint", which a load announcement repeats.
	Fingerprint string
	// Delegate is the wrapped load spec, a JSON object as received.
	Delegate json.RawMessage
}

// ParsePartialLoadSpec reads a segment's load spec as a partial-load wrapper. partial reports whether its "type"
// is a string starting with PartialLoadTypePrefix (Druid's hasPartialTypePrefix); err is then non-nil when the
// wrapper lacks a string "fingerprint" or an object "delegate" (a malformed wrapper, which Druid cannot load either).
// A load spec that is not a JSON object, or has another type, gives partial false and no error.
func ParsePartialLoadSpec(loadSpec json.RawMessage) (spec PartialLoadSpec, partial bool, err error) {
	t := bytes.TrimSpace(loadSpec)
	// Only a spec that holds the prefix is decoded: the common plain spec costs a byte search, not a JSON parse.
	if len(t) == 0 || t[0] != '{' || !bytes.Contains(t, []byte(`"`+PartialLoadTypePrefix)) {
		return PartialLoadSpec{}, false, nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(t, &fields) != nil {
		return PartialLoadSpec{}, false, nil
	}
	typ, ok := jsonString(fields["type"])
	if !ok || !strings.HasPrefix(typ, PartialLoadTypePrefix) {
		return PartialLoadSpec{}, false, nil
	}
	spec.Type = typ
	fp, fpOK := jsonString(fields["fingerprint"])
	delegate := bytes.TrimSpace(fields["delegate"])
	if !fpOK || len(delegate) == 0 || delegate[0] != '{' {
		return spec, true, fmt.Errorf("partial-load wrapper %s is malformed: it needs a string \"fingerprint\" and an object \"delegate\", and has fingerprint %s and delegate %s",
			QuoteShort(typ), shorten(orMissing(fields["fingerprint"])), shorten(orMissing(fields["delegate"])))
	}
	spec.Fingerprint, spec.Delegate = fp, json.RawMessage(delegate)
	return spec, true, nil
}

// jsonString decodes a JSON string value; null, a missing value and other kinds give false.
func jsonString(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	return jackson.DecodeString(v, bytes.IndexByte(v, '\\') >= 0), true
}

func orMissing(v json.RawMessage) string {
	if v == nil {
		return "(missing)"
	}
	return string(v)
}

// LoadAnnouncement is the load change request a data server announces for a segment it serves, as Druid's
// SegmentChangeRequestLoad.forAnnouncement builds it for a segment loaded in full: a segment whose load spec is a
// well-formed partial-load wrapper (loaded through its delegate) carries the wrapper's fingerprint and loadedBytes
// equal to its size, so that the Coordinator counts the replica toward its partial-load rule instead of reloading
// it; any other segment, a malformed wrapper included, gives a plain load request without either field.
func LoadAnnouncement(seg *DataSegment) ChangeRequest {
	r := ChangeRequest{Action: ActionLoad, Segment: seg}
	if fp, ok := AnnouncedFingerprint(seg); ok {
		size := seg.Size
		r.Fingerprint, r.LoadedBytes = &fp, &size
	}
	return r
}

// AnnouncedFingerprint is the fingerprint LoadAnnouncement gives seg: its load spec's when that is a well-formed
// partial-load wrapper, and false otherwise (nil included).
func AnnouncedFingerprint(seg *DataSegment) (string, bool) {
	if seg == nil {
		return "", false
	}
	p, partial, err := ParsePartialLoadSpec(seg.LoadSpec)
	return p.Fingerprint, partial && err == nil
}

// SameAnnouncedFingerprint reports whether two copies of a segment are announced with the same partial-load
// fingerprint (or both with none).
func SameAnnouncedFingerprint(a, b *DataSegment) bool {
	fa, oka := AnnouncedFingerprint(a)
	fb, okb := AnnouncedFingerprint(b)
	return oka == okb && fa == fb
}
