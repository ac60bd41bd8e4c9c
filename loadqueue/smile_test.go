package loadqueue

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// smileBody is a change request list as a Smile client sends it.
func smileBody(t *testing.T, listJSON string) string {
	t.Helper()
	b, err := jackson.JSONToSmile(nil, []byte(listJSON))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// postUntilDone posts body until an answer says 200 (a first answer may be 204 while the load runs).
func postUntilDone(t *testing.T, r *rig, body string, hdr ...string) (string, http.Header) {
	t.Helper()
	for range 20 {
		code, b, h := post(t, r.srv.URL, "?timeout=5000", body, hdr...)
		if code == http.StatusOK {
			return b, h
		}
		if code != http.StatusNoContent {
			t.Fatalf("%d %q", code, b)
		}
	}
	t.Fatal("no 200 in 20 tries")
	return "", nil
}

// A client that sends its change requests as Smile (Content-Type application/x-jackson-smile, which Java's
// SegmentListerResource consumes beside JSON) has them loaded; the answer's format is its Accept header's, as
// Java's: Smile when it asks for Smile, JSON otherwise. A list of two shares names between its requests, which
// the Smile decoder resolves.
func TestSmileRequestBodies(t *testing.T) {
	r := newRig(t, rigOpts{})
	one, two := tombstone(t, "smilebody", 0), tombstone(t, "smilebody", 1)
	body := smileBody(t, reqJSON(t, load(one), load(two)))

	// As a Coordinator does, the list is sent again until both requests are answered done.
	var js []byte
	for deadline := time.Now().Add(10 * time.Second); strings.Count(string(js), `"state":"SUCCESS"`) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("both loads not done within 10 s: %s", js)
		}
		b, hdr := postUntilDone(t, r, body, "Content-Type", druidpeer.SmileType, "Accept", druidpeer.SmileType)
		if hdr.Get("Content-Type") != druidpeer.SmileType {
			t.Fatalf("answer's content type %q, want Smile", hdr.Get("Content-Type"))
		}
		var err error
		if js, err = jackson.SmileToJSON([]byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(js), `"dataSource":"smilebody"`) {
		t.Fatalf("Smile answer: %s", js)
	}
	for _, s := range []segments.SegmentID{one.ID(), two.ID()} {
		if !r.ann.has(s) {
			t.Errorf("%s is not announced", s)
		}
	}

	b, hdr := postUntilDone(t, r, smileBody(t, reqJSON(t, drop(one))), "Content-Type", druidpeer.SmileType+"; charset=UTF-8",
		"Accept", "application/json")
	if ct := hdr.Get("Content-Type"); ct != "application/json" || !strings.HasPrefix(b, `[{"request":{"action":"drop"`) {
		t.Fatalf("a Smile body asking for JSON: %q %s", ct, b)
	}
}

// A Smile body is bounded as a JSON one: over the request maximum it is refused with 413 and starts nothing.
func TestSmileRequestBodyTooLarge(t *testing.T) {
	r := newRig(t, rigOpts{maxRequest: 256})
	var reqs []string
	for day := range 8 {
		reqs = append(reqs, reqJSON(t, load(tombstone(t, "big", day))))
	}
	list := "[" + strings.Join(trimBrackets(reqs), ",") + "]"
	code, b, _ := post(t, r.srv.URL, "?timeout=100", smileBody(t, list), "Content-Type", druidpeer.SmileType)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %q, want 413", code, b)
	}
	if n := r.puller.pulls.Load(); n != 0 {
		t.Fatalf("a refused list started %d loads", n)
	}
}

func trimBrackets(lists []string) []string {
	out := make([]string, len(lists))
	for i, l := range lists {
		out[i] = strings.TrimSuffix(strings.TrimPrefix(l, "["), "]")
	}
	return out
}
