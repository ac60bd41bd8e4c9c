package loadqueue

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// decodeAll runs the streaming decoder over data, read one byte at a time when slow (so that every element
// crosses buffer boundaries).
func decodeAll(data []byte, slow bool) ([]segments.ChangeRequest, error) {
	var r io.Reader = bytes.NewReader(data)
	if slow {
		r = iotest.OneByteReader(r)
	}
	var out []segments.ChangeRequest
	err := newListDecoder(r).decode(func(_ int, req segments.ChangeRequest) error {
		out = append(out, req)
		return nil
	})
	return out, err
}

// The streaming decoder takes what segments.ParseChangeRequests takes, and decodes it to the same requests.
func FuzzListDecoder(f *testing.F) {
	seg := `{"action":"load","dataSource":"wiki","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v","loadSpec":{"type":"tombstone","x":"]}\"["},"dimensions":"a,b","metrics":"","shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},"binaryVersion":9,"size":1}`
	for _, s := range []string{
		"[" + seg + "]", " [ " + seg + " , " + seg + " ] ", "[" + seg + ",null]", "[" + seg + "] x", "[]", "null", "nul",
		"[", "[" + seg, "[" + seg + ",", `[{"action":"noop"}]`, `["x"]`, `[1]`, `[true]`, `{"action":"load"}`, "",
		`[{"action":"drop","dataSource":"d","interval":"2025-01-01/2025-01-02","version":"v"}]`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, slow bool) {
		want, werr := segments.ParseChangeRequests(data)
		got, gerr := decodeAll(data, slow)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: ParseChangeRequests error %v, the streaming decoder's %v", data, werr, gerr)
		}
		if werr != nil {
			return
		}
		wj, err := segments.AppendChangeRequests(nil, want)
		if err != nil {
			return // a noop or schema request with nothing to write back
		}
		gj, err := segments.AppendChangeRequests(nil, got)
		if err != nil || !bytes.Equal(wj, gj) {
			t.Fatalf("%q:\nParseChangeRequests %s\nstreaming decoder   %s (%v)", data, wj, gj, err)
		}
	})
}

// slowBody is a request body whose first part is sent at once and whose rest waits until release is closed.
type slowBody struct {
	first   io.Reader
	release chan struct{}
	rest    io.Reader
}

func (b *slowBody) Read(p []byte) (int, error) {
	if n, err := b.first.Read(p); err != io.EOF {
		return n, err
	}
	<-b.release
	return b.rest.Read(p)
}

// The body limits: one body over the maximum gets 413, whether its length is announced or not; a body that would
// take the budget beyond its limit gets 503, with the key to raise in both messages; the budget comes back once the
// responses are written.
func TestChangeRequestsBodyLimits(t *testing.T) {
	const maxRequest, maxInflight = 64 << 10, 96 << 10
	r := newRig(t, rigOpts{maxRequest: maxRequest, maxInflight: maxInflight})
	big := reqJSON(t, load(tombstone(t, "big", 0)))
	big = big[:len(big)-1] + strings.Repeat(" ", maxRequest) + "]"

	code, b, _ := post(t, r.srv.URL, "?timeout=100", big)
	if code != 413 || !strings.Contains(b, "druid.sidecar.http.changeRequests.maxRequestBytes") {
		t.Fatalf("a body over the maximum, its length announced: %d %s", code, b)
	}
	code, b, _ = postReader(t, r.srv.URL, "?timeout=100", io.MultiReader(strings.NewReader(big)))
	if code != 413 {
		t.Fatalf("a body over the maximum, its length not announced: %d %s", code, b)
	}

	// One body holds 48 KiB of the budget while it is read: another of 60 KiB does not fit, a small one does.
	held := reqJSON(t, load(tombstone(t, "held", 0)))
	held = held[:len(held)-1] + strings.Repeat(" ", 48<<10) + "]"
	slow := &slowBody{first: strings.NewReader(held[:100]), release: make(chan struct{}), rest: strings.NewReader(held[100:])}
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+ChangeRequestsPath+"?timeout=5000", slow)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(held))
	req.Header.Set("Content-Type", "application/json")
	heldDone := make(chan error, 1)
	go func() {
		resp, err := testClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		heldDone <- err
	}()
	waitUntil(t, 10*time.Second, "the slow body's share taken", func() bool { return r.eng.http.budget.inUse() >= 48<<10 })
	over := reqJSON(t, load(tombstone(t, "over", 0)))
	over = over[:len(over)-1] + strings.Repeat(" ", 60<<10) + "]"
	code, b, hdr := post(t, r.srv.URL, "?timeout=100", over)
	if code != 503 || !strings.Contains(b, "druid.sidecar.http.changeRequests.maxInflightBytes") || hdr.Get("Retry-After") == "" {
		t.Fatalf("a body beyond the budget: %d %s %v", code, b, hdr)
	}
	t.Logf("%d %s", code, strings.TrimSpace(b))
	if code, b, _ := post(t, r.srv.URL, "?timeout=5000", reqJSON(t, load(tombstone(t, "small", 0)))); code != 200 {
		t.Fatalf("a small body beside it: %d %s", code, b)
	}
	close(slow.release)
	if err := <-heldDone; err != nil {
		t.Fatalf("the slow body: %v", err)
	}
	if n := r.eng.http.budget.inUse(); n != 0 {
		t.Fatalf("%d bytes of the budget still taken after every response", n)
	}
}

// A list that is small on the wire but heavy once decoded (thousands of one-letter dimension names) is weighed as
// decoded, not as read.
func TestChangeRequestsWeighedAsDecoded(t *testing.T) {
	r := newRig(t, rigOpts{maxRequest: 1 << 20, maxInflight: 1 << 20})
	var reqs []segments.ChangeRequest
	dims := strings.Repeat("a,", 2000)
	for i := range 40 {
		s := tombstone(t, "heavy", i)
		s.Dimensions = strings.Split(dims, ",")
		reqs = append(reqs, load(s))
	}
	body := reqJSON(t, reqs...)
	code, b, _ := post(t, r.srv.URL, "?timeout=100", body)
	if code != 503 {
		t.Fatalf("%d bytes on the wire, %d dimension names: %d %s", len(body), 40*2000, code, b)
	}
	if n := r.eng.http.budget.inUse(); n != 0 {
		t.Fatalf("%d bytes of the budget still taken", n)
	}
}
