package inventory

// Reading an inventory's answer as the other side does: Druid's ChangeRequestHttpSyncer (in Brokers and
// Coordinators) reads a ChangeRequestsSnapshot, the document inventoryWrite writes. The audit and the test peers
// read every inventory through Decode.

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Reply is a ChangeRequestsSnapshot, apart from its requests, which Decode hands over one at a time.
type Reply struct {
	// ResetCounter tells the client to forget its counter and ask for a full snapshot again; ResetCause says why
	// (nil when the member is null or missing).
	ResetCounter bool
	ResetCause   *string
	// Counter is what the client echoes in its next poll; nil when the member is null or missing, as in a reset.
	Counter *Counter
	// Requests is the number of requests, or -1 when the member is null or missing.
	Requests int
}

// Decode reads one JSON ChangeRequestsSnapshot from r as it streams in (a Smile body is turned into JSON first,
// with jackson.SmileToJSON), members in any order and unknown ones skipped, as Jackson binds it. It calls each, in
// order, for every request with the request and its JSON, which is valid only during the call; each's error ends
// the decoding and is returned as it is. The requests of a reset are not handed over, as Druid's syncer ignores
// them. A null request is an error: Druid's syncer would fail on it.
func Decode(r io.Reader, each func(req *segments.ChangeRequest, raw []byte) error) (Reply, error) {
	reply := Reply{Requests: -1}
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return reply, fmt.Errorf("the response is not a segment inventory snapshot (a JSON object): %v", errOr(err, t))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return reply, fmt.Errorf("reading the snapshot: %w", err)
		}
		key, _ := t.(string)
		switch key {
		case "resetCounter":
			err = dec.Decode(&reply.ResetCounter)
		case "resetCause":
			err = dec.Decode(&reply.ResetCause)
		case "counter":
			err = dec.Decode(&reply.Counter)
		case "requests":
			if reply.Requests, err = decodeRequests(dec, reply.ResetCounter, each); err != nil {
				return reply, err
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return reply, fmt.Errorf("reading the snapshot's %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return reply, fmt.Errorf("reading the snapshot: %w", err)
	}
	return reply, nil
}

// decodeRequests reads the requests array (or null, which gives -1) and returns how many it holds.
func decodeRequests(dec *json.Decoder, reset bool, each func(*segments.ChangeRequest, []byte) error) (int, error) {
	t, err := dec.Token()
	if err == nil && t == nil {
		return -1, nil
	}
	if err != nil || t != json.Delim('[') {
		return 0, fmt.Errorf("the snapshot's requests are not an array: %v", errOr(err, t))
	}
	var raw json.RawMessage
	n := 0
	for ; dec.More(); n++ {
		raw = raw[:0]
		if err := dec.Decode(&raw); err != nil {
			return 0, fmt.Errorf("reading request %d of the snapshot: %w", n, err)
		}
		var cr segments.ChangeRequest
		if err := cr.UnmarshalJSON(raw); err != nil {
			return 0, fmt.Errorf("request %d of the snapshot: %w", n, err)
		}
		if cr.Action == "" {
			return 0, fmt.Errorf("request %d of the snapshot is null", n)
		}
		if !reset {
			if err := each(&cr, raw); err != nil {
				return 0, err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return 0, fmt.Errorf("reading the snapshot's requests: %w", err)
	}
	return n, nil
}

func errOr(err error, t json.Token) any {
	if err != nil {
		return err
	}
	return fmt.Sprintf("found %v", t)
}
