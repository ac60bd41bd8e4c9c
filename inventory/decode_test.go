package inventory_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// decodeLoad is a load request as a Druid data server writes it in its inventory.
const decodeLoad = `{"action":"load","dataSource":"wiki","interval":"2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",` +
	`"version":"v1","loadSpec":{"type":"local","path":"/x"},"dimensions":"","metrics":"",` +
	`"shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},"binaryVersion":9,"size":10,` +
	`"identifier":"wiki_2024-01-01T00:00:00.000Z_2024-01-02T00:00:00.000Z_v1"}`

// TestDecode reads the documents a Druid data server's inventory answers, as a Broker's syncer reads them.
func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      inventory.Reply
		seen      int
		cause     bool // a resetCause is given
		err       string
	}{
		{name: "full", doc: `{"resetCounter":false,"resetCause":null,"counter":{"counter":3,"hash":7},"requests":[` + decodeLoad + `,` + decodeLoad + `]}`,
			want: inventory.Reply{Counter: &inventory.Counter{Counter: 3, Hash: 7}, Requests: 2}, seen: 2},
		{name: "members in another order, unknown ones skipped", doc: `{"requests":[],"extra":{"a":[1]},"counter":{"hash":7,"counter":3}}`,
			want: inventory.Reply{Counter: &inventory.Counter{Counter: 3, Hash: 7}, Requests: 0}},
		{name: "reset", doc: `{"resetCounter":true,"resetCause":"counter[x] > last counter[y]","counter":null,"requests":null}`,
			want: inventory.Reply{ResetCounter: true, Requests: -1}, cause: true},
		{name: "the requests of a reset are not handed over", doc: `{"resetCounter":true,"requests":[` + decodeLoad + `]}`,
			want: inventory.Reply{ResetCounter: true, Requests: 1}},
		{name: "no requests", doc: `{"resetCounter":false,"counter":{"counter":1,"hash":2}}`,
			want: inventory.Reply{Counter: &inventory.Counter{Counter: 1, Hash: 2}, Requests: -1}},
		{name: "not an object", doc: `[]`, err: "not a segment inventory snapshot"},
		{name: "requests not an array", doc: `{"requests":{}}`, err: "requests are not an array"},
		{name: "null request", doc: `{"requests":[null]}`, err: "request 0 of the snapshot is null"},
		{name: "bad request", doc: `{"requests":[{"action":"load"}]}`, err: "request 0 of the snapshot"},
		{name: "truncated", doc: `{"requests":[` + decodeLoad, err: "reading the snapshot's requests"},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen := 0
			got, err := inventory.Decode(strings.NewReader(c.doc), func(req *segments.ChangeRequest, raw []byte) error {
				if req.Action != segments.ActionLoad || req.Segment == nil || !strings.HasPrefix(string(raw), `{"action":"load"`) {
					t.Errorf("request %d: %+v from %s", seen, req, raw)
				}
				seen++
				return nil
			})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if seen != c.seen {
				t.Errorf("%d requests handed over, want %d", seen, c.seen)
			}
			if (got.ResetCause != nil) != c.cause || got.ResetCounter != c.want.ResetCounter || got.Requests != c.want.Requests ||
				(got.Counter == nil) != (c.want.Counter == nil) || (got.Counter != nil && *got.Counter != *c.want.Counter) {
				t.Errorf("reply %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestDecodeStopsOnCallbackError: the callback's error ends the decoding and comes back as it is.
func TestDecodeStopsOnCallbackError(t *testing.T) {
	stop := errors.New("enough")
	calls := 0
	_, err := inventory.Decode(strings.NewReader(`{"requests":[`+decodeLoad+`,`+decodeLoad+`]}`), func(*segments.ChangeRequest, []byte) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("error %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// TestDecodeLoads reads the same documents as TestDecode with DecodeLoads, whose replies and errors must be
// Decode's, and a snapshot large enough to cross the read buffer many times, fed a byte at a time and whole: the
// ids, sizes and fingerprints handed over are the whole parse's.
func TestDecodeLoads(t *testing.T) {
	docs := []string{
		`{"resetCounter":false,"resetCause":null,"counter":{"counter":3,"hash":7},"requests":[` + decodeLoad + `,` + decodeLoad + `]}`,
		`{"requests":[],"extra":{"a":[1]},"counter":{"hash":7,"counter":3}}`,
		`{"resetCounter":true,"resetCause":"counter[x] > last counter[y]","counter":null,"requests":null}`,
		`{"resetCounter":true,"requests":[` + decodeLoad + `]}`,
		`{"resetCounter":false,"counter":{"counter":1,"hash":2}}`,
		`[]`, `{"requests":{}}`, `{"requests":[null]}`, `{"requests":[{"action":"load"}]}`, `{"requests":[` + decodeLoad,
		`{"requests":[{"action":"bogus","dataSource":"d","interval":"2025-01-01/P1D","version":"v"}]}`,
		`{"requests":[{"action":"schema","segmentSchemas":{}},{"action":"drop","dataSource":"d","interval":"2025-01-01/P1D","version":"v"}]}`,
		`{"requests":[{"action":"load","fingerprint":1,"dataSource":"d","interval":"2025-01-01/P1D","version":"v"}]}`,
		` { "requests" : [ ` + decodeLoad + ` , ` + decodeLoad + ` ] , "counter" : { "counter" : 1 , "hash" : 2 } } `,
	}
	var big strings.Builder
	big.WriteString(`{"counter":{"counter":1,"hash":2},"requests":[`)
	for i := range 3000 {
		if i > 0 {
			big.WriteString(",")
		}
		fp := ""
		if i%7 == 0 {
			fp = fmt.Sprintf(`"fingerprint":"v1:%d",`, i)
		}
		fmt.Fprintf(&big, `{"action":"load",%s"dataSource":"ds%d","interval":"2025-01-%02dT00:00:00.000Z/2025-01-%02dT00:00:00.000Z",`+
			`"version":"v%d","loadSpec":{"type":"s3_zip","bucket":"b","key":"k/%d/index.zip"},"dimensions":"a,b","metrics":"",`+
			`"shardSpec":{"type":"numbered","partitionNum":%d,"partitions":0},"binaryVersion":9,"size":%d}`,
			fp, i%3, i%28+1, i%28+2, i, i, i%5, i*10)
	}
	big.WriteString(`]}`)
	docs = append(docs, big.String())
	type load struct {
		id   segments.SegmentID
		size int64
		fp   string
	}
	for k, doc := range docs {
		var want []load
		wantReply, wantErr := inventory.Decode(strings.NewReader(doc), func(req *segments.ChangeRequest, _ []byte) error {
			if req.Action == segments.ActionLoad {
				fp := ""
				if req.Fingerprint != nil {
					fp = *req.Fingerprint
				}
				want = append(want, load{req.Segment.ID(), req.Segment.Size, fp})
			}
			return nil
		})
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(doc)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			var got []load
			reply, err := inventory.DecodeLoads(r, func(id segments.SegmentID, size int64, fp string) error {
				got = append(got, load{id, size, fp})
				return nil
			})
			if (err == nil) != (wantErr == nil) || err != nil && !strings.Contains(err.Error(), strings.SplitN(wantErr.Error(), ":", 2)[0]) {
				t.Fatalf("document %d (one byte at a time: %v): error %v, Decode's %v", k, oneByte, err, wantErr)
			}
			if err != nil {
				continue
			}
			if !sameReply(reply, wantReply) || !slices.Equal(got, want) {
				t.Fatalf("document %d (one byte at a time: %v): %v and %d loads, Decode's %v and %d", k, oneByte, reply, len(got), wantReply, len(want))
			}
		}
	}
}

// sameReply compares replies by value.
func sameReply(a, b inventory.Reply) bool {
	return a.ResetCounter == b.ResetCounter && a.Requests == b.Requests &&
		(a.ResetCause == nil) == (b.ResetCause == nil) && (a.ResetCause == nil || *a.ResetCause == *b.ResetCause) &&
		(a.Counter == nil) == (b.Counter == nil) && (a.Counter == nil || *a.Counter == *b.Counter)
}
