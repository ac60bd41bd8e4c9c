package segments

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestChangeRequestGoldenRoundTrip(t *testing.T) {
	for name, input := range readGolden(t, "changerequests/*.json") {
		t.Run(name, func(t *testing.T) {
			var r ChangeRequest
			if err := json.Unmarshal(input, &r); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			got, err := r.MarshalJSON()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(got, input) {
				t.Errorf("re-serialization differs:\n got: %s\nwant: %s", got, input)
			}
			switch r.Action {
			case ActionLoad, ActionDrop:
				if r.Segment == nil {
					t.Fatal("no segment")
				}
				// The request is the action followed by the segment's members.
				seg := mustMarshal(t, *r.Segment)
				if want := `{"action":"` + string(r.Action) + `",` + string(seg[1:]); want != string(input) {
					t.Errorf("request is not the action plus the segment:\n%s\n%s", want, input)
				}
				var keys map[string]json.RawMessage
				if err := json.Unmarshal(input, &keys); err != nil {
					t.Fatal(err)
				}
				// The action and the 10 segment members, plus the optional and unknown ones.
				want := 11 + len(r.Segment.UnknownFields())
				if r.Segment.Projections != nil {
					want++
				}
				if r.Segment.LastCompactionState != nil {
					want++
				}
				if len(keys) != want {
					t.Errorf("%d members, want %d", len(keys), want)
				}
			case ActionNoop, ActionSchema:
				if r.Segment != nil {
					t.Errorf("%s request has a segment", r.Action)
				}
			}
		})
	}
}

func TestChangeRequestForms(t *testing.T) {
	golden := readGolden(t, "segments/tombstone.json")["tombstone"]
	tests := []struct {
		name, in, want string
		action         Action
	}{
		{"action last", `{` + string(golden[1:len(golden)-1]) + `,"action":"drop"}`, `{"action":"drop",` + string(golden[1:]), ActionDrop},
		{"second action dropped", `{"action":"load",` + string(golden[1:len(golden)-1]) + `,"action":"drop"}`, `{"action":"load",` + string(golden[1:]), ActionLoad},
		{"noop with extras", `{"action":"noop","dataSource":"x"}`, `{"action":"noop"}`, ActionNoop},
		{"noop spaced", " { \"action\" : \"noop\" } ", `{"action":"noop"}`, ActionNoop},
		{"schema spaced", `{"segmentSchemas": {"a": [1, 2]}, "action":"schema"}`, `{"action":"schema","segmentSchemas":{"a":[1,2]}}`, ActionSchema},
		{"escaped action", `{"action":"no\u006fp"}`, `{"action":"noop"}`, ActionNoop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r ChangeRequest
			if err := r.UnmarshalJSON([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			wantEq(t, "Action", r.Action, tt.action)
			got, err := r.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			wantEq(t, "JSON", string(got), tt.want)
		})
	}
	var r ChangeRequest
	if err := r.UnmarshalJSON([]byte(`{"action":"schema","segmentSchemas":{"x":1}}`)); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "SchemaPayload", string(r.SchemaPayload()), `{"segmentSchemas":{"x":1}}`)
	if err := r.UnmarshalJSON([]byte(`null`)); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "after null", r.Action, ActionSchema)
}

func TestChangeRequestErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown action", `{"action":"reload","dataSource":"x"}`, `change request action "reload" is unknown; Druid sends load, drop, noop and schema`},
		{"missing action", `{"dataSource":"x"}`, `change request has no "action"`},
		{"action not a string", `{"action":1}`, "change request action 1 must be a JSON string"},
		{"bad segment", `{"action":"load","dataSource":"x","interval":"2025-01-01/2024-01-01","version":"v"}`,
			`load change request: segment interval: invalid interval "2025-01-01/2024-01-01": the end`},
		{"missing segment members", `{"action":"drop"}`, "drop change request: segment dataSource is missing"},
		{"syntax", `{"action":"load",}`, "change request: segment JSON: malformed JSON at offset 17: expected a member name"},
		{"not an object", `"load"`, "change request: segment JSON: malformed JSON at offset 0: expected a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r ChangeRequest
			err := r.UnmarshalJSON([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	for _, r := range []ChangeRequest{{Action: ActionLoad}, {Action: "bogus"}, {}} {
		if _, err := r.MarshalJSON(); err == nil {
			t.Errorf("MarshalJSON(%+v) succeeded", r)
		}
	}
}

func TestChangeRequestList(t *testing.T) {
	golden := readGolden(t, "changerequests/*.json")
	body := "[" + string(golden["load"]) + "," + string(golden["drop"]) + "," + string(golden["load_tombstone"]) + "]"
	reqs, err := ParseChangeRequests([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "len", len(reqs), 3)
	wantEq(t, "second action", reqs[1].Action, ActionDrop)
	wantEq(t, "third is a tombstone", reqs[2].Segment.IsTombstone(), true)
	out, err := AppendChangeRequests(nil, reqs)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "re-serialized list", string(out), body)

	// encoding/json reads the same list.
	var viaStdlib []ChangeRequest
	if err := json.Unmarshal([]byte(body), &viaStdlib); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "stdlib len", len(viaStdlib), 3)

	for in, want := range map[string]string{
		``:                                   "change request list: malformed JSON: unexpected end of input, expected a JSON array",
		`null`:                               "change request list is null",
		` [ ] `:                              "change request list is empty",
		`[{"action":"noop"},null]`:           "change request 1 of the list is null",
		`[{"action":"noop"},{"x"}]`:          "change request list: malformed JSON at offset 23",
		`[{"action":"noop"}] x`:              "expected the end of the input",
		`[{"action":"noop"}`:                 "expected ',' or ']'",
		`[{"action":"noop"},{"action":"x"}]`: `change request 1 of the list: change request action "x" is unknown`,
	} {
		if _, err := ParseChangeRequests([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseChangeRequests(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
	if _, err := AppendChangeRequests(nil, []ChangeRequest{{Action: ActionLoad}}); err == nil {
		t.Error("AppendChangeRequests accepted a load request without a segment")
	}
}

// TestChangeRequestWithSegmentJSON checks that a request built from its segment's JSON is byte for byte the one
// AppendJSON serializes, for every golden segment, with and without a load's fingerprint, and for unknown members
// the request leaves out.
func TestChangeRequestWithSegmentJSON(t *testing.T) {
	inputs := readGolden(t, "segments/*.json")
	base := string(inputs["numbered"])
	for _, member := range []string{`"action":"drop"`, `"fingerprint":"x"`, `"loadedBytes":7`, `"other":1`} {
		inputs["unknown "+member] = []byte(`{` + member + `,` + base[1:])
	}
	fp, loaded := "fp-1", int64(42)
	for name, input := range inputs {
		var s DataSegment
		if err := json.Unmarshal(input, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		segJSON, err := s.AppendJSON(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range []ChangeRequest{
			{Action: ActionLoad, Segment: &s},
			{Action: ActionLoad, Segment: &s, Fingerprint: &fp, LoadedBytes: &loaded},
			{Action: ActionDrop, Segment: &s},
		} {
			want, err := r.AppendJSON([]byte("prefix"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got, err := r.AppendJSONWithSegment([]byte("prefix"), segJSON)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s, %s: built from the segment's JSON (%v):\n got: %s\nwant: %s", name, r.Action, err, got, want)
			}
		}
	}
}
