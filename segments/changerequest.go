package segments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

// Action is the "action" type id of a Druid DataSegmentChangeRequest.
type Action string

// The actions of DataSegmentChangeRequest's subtypes.
const (
	// ActionLoad asks a data server to load and announce the segment (SegmentChangeRequestLoad).
	ActionLoad Action = "load"
	// ActionDrop asks a data server to unannounce and later delete the segment (SegmentChangeRequestDrop).
	ActionDrop Action = "drop"
	// ActionNoop is the old ZooKeeper load queue's no-op request, {"action":"noop"}. The Coordinator never sends it
	// over HTTP, where Druid's own handler cannot answer it.
	ActionNoop Action = "noop"
	// ActionSchema is SegmentSchemasChangeRequest, which only realtime tasks put in their segment change history.
	// It is decoded so that such a history can be read, but callers must treat it as unsupported: its body is kept
	// only as raw JSON (see SchemaPayload).
	ActionSchema Action = "schema"
)

// ChangeRequest is one element of the list the Coordinator POSTs to /druid-internal/v1/segments/changeRequests, and of
// the segment change history a data server serves: the action, then for load and drop the segment's members
// unwrapped at the top level, {"action":"load","dataSource":…,…,"identifier":…}.
type ChangeRequest struct {
	// Action is the kind of request.
	Action Action
	// Segment is the segment of a load or drop request, and nil for the other actions.
	Segment *DataSegment
	// Fingerprint and LoadedBytes are the optional members of a load request (Druid 38+): a data server's load
	// announcement carries the fingerprint of the partial-load rule it satisfies and the bytes it holds (see
	// LoadAnnouncement); the Coordinator's requests leave both out. nil omits the member, as Java's NON_NULL does.
	// They are ignored for other actions.
	Fingerprint *string
	LoadedBytes *int64

	// schema holds a schema request's members other than "action", comma-separated, as received.
	schema []byte
}

// SchemaPayload returns, for a schema request, a JSON object of its members other than "action" (normally
// {"segmentSchemas":{…}}), and nil for other actions.
func (r *ChangeRequest) SchemaPayload() json.RawMessage {
	if r.Action != ActionSchema {
		return nil
	}
	out := make([]byte, 0, len(r.schema)+2)
	out = append(out, '{')
	out = append(out, r.schema...)
	return append(out, '}')
}

// MarshalJSON writes the request as Jackson writes it: the "action" type id first, then for a load its
// "fingerprint" and "loadedBytes" when set (SegmentChangeRequestLoad's creator properties, which Jackson writes
// before the unwrapped segment), then for load and drop the 10 members of the segment in DataSegment order (11
// members in all, unknown segment members and the two optional ones aside).
func (r ChangeRequest) MarshalJSON() ([]byte, error) {
	n := 32
	if r.Segment != nil {
		n += r.Segment.sizeHint()
	}
	return r.AppendJSON(make([]byte, 0, n))
}

// AppendJSON appends the JSON form of the request to dst; see MarshalJSON.
func (r *ChangeRequest) AppendJSON(dst []byte) ([]byte, error) {
	switch r.Action {
	case ActionLoad, ActionDrop:
		if r.Segment == nil {
			return nil, fmt.Errorf("%s change request has no segment", r.Action)
		}
		dst = r.appendHead(dst)
		dst, err := r.Segment.appendMembers(dst, true, r.Action == ActionLoad && (r.Fingerprint != nil || r.LoadedBytes != nil))
		if err != nil {
			return nil, fmt.Errorf("%s change request: %w", r.Action, err)
		}
		return append(dst, '}'), nil
	case ActionNoop:
		return append(dst, `{"action":"noop"}`...), nil
	case ActionSchema:
		dst = append(dst, `{"action":"schema"`...)
		if len(r.schema) > 0 {
			dst = append(dst, ',')
			dst = append(dst, r.schema...)
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("change request action %s is unknown; Druid knows load, drop, noop and schema", QuoteShort(string(r.Action)))
}

// AppendJSONWithSegment is AppendJSON for a load or drop request whose segment's own JSON (what
// Segment.AppendJSON wrote) is at hand: the segment's members are copied from segJSON instead of being serialized a
// second time, so that an announcement serializes each segment once for its batch znode and its inventory entry.
// A segment with an unknown member that the request would leave out ("action", or a load's "fingerprint" and
// "loadedBytes") is serialized again, as AppendJSON does.
func (r *ChangeRequest) AppendJSONWithSegment(dst, segJSON []byte) ([]byte, error) {
	if (r.Action != ActionLoad && r.Action != ActionDrop) || r.Segment == nil || len(segJSON) < 3 || segJSON[0] != '{' {
		return r.AppendJSON(dst)
	}
	for i := range r.Segment.extra {
		switch r.Segment.extra[i].name {
		case "action", "fingerprint", "loadedBytes":
			return r.AppendJSON(dst)
		}
	}
	return append(append(r.appendHead(dst), ','), segJSON[1:]...), nil
}

// appendHead writes a load or drop request's members before the segment's, after the opening brace: the action,
// then a load's fingerprint and loadedBytes when set.
func (r *ChangeRequest) appendHead(dst []byte) []byte {
	dst = append(dst, `{"action":"`...)
	dst = append(dst, r.Action...)
	dst = append(dst, '"')
	if r.Action == ActionLoad {
		if r.Fingerprint != nil {
			dst = jackson.AppendJSONString(append(dst, `,"fingerprint":`...), *r.Fingerprint)
		}
		if r.LoadedBytes != nil {
			dst = strconv.AppendInt(append(dst, `,"loadedBytes":`...), *r.LoadedBytes, 10)
		}
	}
	return dst
}

// UnmarshalJSON reads a change request; JSON null leaves it unchanged.
//
// The "action" member may appear anywhere, as Jackson buffers members until it finds the type id; the first one
// counts. A missing action or one Druid does not define is an error that names it. For load and drop the other members
// are read as a DataSegment (see DataSegment.UnmarshalJSON), and errors name the action and the bad member. A noop
// request keeps no members, as Druid's has none.
func (r *ChangeRequest) UnmarshalJSON(data []byte) error {
	var seg DataSegment
	action, fieldErr, err := seg.decodeMembers(data, true)
	if err != nil {
		return fmt.Errorf("change request: %w", err)
	}
	if action == nil {
		if t := bytes.TrimSpace(data); bytes.Equal(t, []byte("null")) {
			return nil
		}
		return errors.New(`change request has no "action"`)
	}
	if action.value[0] != '"' {
		return fmt.Errorf("change request action %s must be a JSON string", shorten(string(action.value)))
	}
	name := Action(jackson.DecodeString(action.value, bytes.IndexByte(action.value, '\\') >= 0))
	switch name {
	case ActionLoad, ActionDrop:
		if fieldErr != nil {
			return fmt.Errorf("%s change request: %w", name, fieldErr)
		}
		*r = ChangeRequest{Action: name, Segment: &seg}
		if name == ActionLoad {
			if err := r.takeLoadMembers(); err != nil {
				return fmt.Errorf("load change request: %w", err)
			}
		}
	case ActionNoop:
		*r = ChangeRequest{Action: name}
	case ActionSchema:
		*r = ChangeRequest{Action: name, schema: schemaMembers(data)}
	default:
		return fmt.Errorf("change request action %s is unknown; Druid sends load, drop, noop and schema", QuoteShort(string(name)))
	}
	return nil
}

// takeLoadMembers moves a load request's "fingerprint" and "loadedBytes" from the segment's unknown members into
// the request, as Jackson binds them to SegmentChangeRequestLoad and not to the unwrapped DataSegment; the last of
// a repeated member counts, as in Jackson. null leaves the field nil.
func (r *ChangeRequest) takeLoadMembers() error {
	seg := r.Segment
	kept := seg.extra[:0]
	for _, e := range seg.extra {
		var value []byte
		switch e.name {
		case "fingerprint", "loadedBytes":
			value = bytes.TrimSpace(e.raw[bytes.IndexByte(e.raw[1:], '"')+3:])
		default:
			kept = append(kept, e)
			continue
		}
		if isJSONNull(value) {
			if e.name == "fingerprint" {
				r.Fingerprint = nil
			} else {
				r.LoadedBytes = nil
			}
			continue
		}
		if e.name == "fingerprint" {
			if value[0] != '"' {
				return fmt.Errorf("fingerprint %s: it must be a JSON string or null", shorten(string(value)))
			}
			fp := jackson.DecodeString(value, bytes.IndexByte(value, '\\') >= 0)
			r.Fingerprint = &fp
			continue
		}
		n, ok := integerValue(value)
		if !ok {
			return fmt.Errorf("loadedBytes %s: it must be an integer that fits a Java long, or null", shorten(string(value)))
		}
		r.LoadedBytes = &n
	}
	clear(seg.extra[len(kept):])
	seg.extra = kept
	return nil
}

// schemaMembers returns the members of an already validated object other than its first "action", comma-separated
// and without insignificant whitespace.
func schemaMembers(data []byte) []byte {
	it, err := newObjectIter(data, jackson.SkipSpace(data, 0), 0)
	if err != nil {
		return nil
	}
	var out []byte
	var m member
	skippedAction := false
	for {
		ok, err := it.next(&m)
		if err != nil || !ok {
			return out
		}
		if !skippedAction && string(m.name) == "action" {
			skippedAction = true
			continue
		}
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, m.rawName...)
		out = append(out, ':')
		out = append(out, jackson.OwnRaw(m.value, m.spaced)...)
	}
}

// ParseChangeRequests reads the body of a changeRequests POST: a JSON array of change requests. Druid answers 400
// to an empty or null list, so both are errors here too; an error names the position of the bad request.
func ParseChangeRequests(data []byte) ([]ChangeRequest, error) {
	start := jackson.SkipSpace(data, 0)
	if start >= len(data) || data[start] != '[' {
		if isJSONNull(data) {
			return nil, errors.New("change request list is null")
		}
		return nil, fmt.Errorf("change request list: %w", jackson.SyntaxError(data, start, "a JSON array"))
	}
	var out []ChangeRequest
	i := jackson.SkipSpace(data, start+1)
	if i < len(data) && data[i] == ']' {
		if jackson.SkipSpace(data, i+1) != len(data) {
			return nil, fmt.Errorf("change request list: %w", jackson.SyntaxError(data, jackson.SkipSpace(data, i+1), "the end of the input"))
		}
		return nil, errors.New("change request list is empty")
	}
	for {
		end, _, err := jackson.ScanValue(data, i, 1)
		if err != nil {
			return nil, fmt.Errorf("change request list: %w", err)
		}
		var r ChangeRequest
		if err := r.UnmarshalJSON(data[i:end]); err != nil {
			return nil, fmt.Errorf("change request %d of the list: %w", len(out), err)
		}
		if r.Action == "" {
			return nil, fmt.Errorf("change request %d of the list is null", len(out))
		}
		out = append(out, r)
		i = jackson.SkipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = jackson.SkipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == ']' {
			if jackson.SkipSpace(data, i+1) != len(data) {
				return nil, fmt.Errorf("change request list: %w", jackson.SyntaxError(data, jackson.SkipSpace(data, i+1), "the end of the input"))
			}
			return out, nil
		}
		return nil, fmt.Errorf("change request list: %w", jackson.SyntaxError(data, i, "',' or ']'"))
	}
}

// AppendChangeRequests appends a JSON array of the requests to dst, as Jackson writes a list: no spaces.
func AppendChangeRequests(dst []byte, reqs []ChangeRequest) ([]byte, error) {
	dst = append(dst, '[')
	for i := range reqs {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = reqs[i].AppendJSON(dst); err != nil {
			return nil, fmt.Errorf("change request %d of the list: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}
