package druidpeer_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
)

func TestDruidpeerSmileVectors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		smile []byte
		want  string
	}{
		// Hand-assembled from smile-specification.md, independent of our encoder.
		{"small ints", []byte(":)\n\x00\xf8\xc0\xc1\xdf\xde\xf9"), `[0,-1,-16,15]`},
		{"int32 vint", []byte(":)\n\x00\xf8\x24\x80\x24\x02\xa1\xf9"), `[0,-81]`}, // zigzag 0; zigzag 161 -> -81
		{"int64 max", append([]byte(":)\n\x00\x25"), 0x03, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0xbe), "9223372036854775807"},
		{"float64 1.5", append([]byte(":)\n\x00\x29"), sevenBit(math.Float64bits(1.5), 10)...), "1.5"},
		{"float32 0.25", append([]byte(":)\n\x00\x28"), sevenBit(uint64(math.Float32bits(0.25)), 5)...), "0.25"},
		{"BigInteger 2^64", append([]byte(":)\n\x00\x26\x89"), sevenBitBytes([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})...), "18446744073709551616"},
		{"BigInteger -1", append([]byte(":)\n\x00\x26\x81"), sevenBitBytes([]byte{0xff})...), "-1"},
		{"strings", []byte(":)\n\x00\xf8\x20\x40a\x80\xc3\xa9\xe0abc\xfc\xe4\xc3\xa9\xfc\xf9"), `["","a","é","abc","é"]`},
		{"shared names", []byte(":)\n\x01\xf8\xfa\x80a\xc0\xfb\xfa\x40\xc1\xfb\xf9"), `[{"a":0},{"a":-1}]`},
		{"long and empty names", []byte(":)\n\x01\xfa\x34long\xfc\x21\x20\x21\x40\x21\xfb"), `{"long":null,"":null,"long":null}`},
		{"shared values", []byte(":)\n\x03\xf8\x41ab\x01\xec\x00\xf9"), `["ab","ab","ab"]`},
		{"escapes", []byte(":)\n\x00\x44a\"\\\n\x01"), `"a\"\\\n\u0001"`},
		{"end marker", []byte(":)\n\x00\x21\xff"), "null"},
	} {
		got, err := druidpeer.SmileToJSON(tc.smile)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{[]byte(`{"a":1}`), []byte(":)\n\x00"), []byte(":)\n\x00\x21\x21"), []byte(":)\n\x00\x41a"), []byte(":)\n\x00\xfa\x40\x21\xfb")} {
		if got, err := druidpeer.SmileToJSON(bad); err == nil {
			t.Errorf("% x: decoded to %s, want an error", bad, got)
		}
	}
}

// sevenBit writes the low 7·n bits of v in n bytes of 7 bits, most significant first.
func sevenBit(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = byte(v & 0x7f)
		v >>= 7
	}
	return out
}

// sevenBitBytes encodes raw bytes as the specification's 7-bit binary (groups of 7 bytes in 8, tail r in r+1).
func sevenBitBytes(raw []byte) []byte {
	var out []byte
	for len(raw) >= 7 {
		var acc uint64
		for _, b := range raw[:7] {
			acc = acc<<8 | uint64(b)
		}
		out = append(out, sevenBit(acc, 8)...)
		raw = raw[7:]
	}
	if r := len(raw); r > 0 {
		var acc uint64
		for _, b := range raw {
			acc = acc<<8 | uint64(b)
		}
		out = append(out, sevenBit(acc>>r, r)...)
		out = append(out, byte(acc&(1<<r-1)))
	}
	return out
}

// TestDruidpeerSmileRoundTrip decodes what announcer's encoder writes: documents in Jackson's compact JSON form
// must come back byte for byte, including past the 1024-entry shared-name table.
func TestDruidpeerSmileRoundTrip(t *testing.T) {
	var many strings.Builder
	many.WriteString(`[`)
	for i := 0; i < 2500; i++ {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `{"key%d":%d,"common":"v","a-very-long-property-name-that-needs-more-than-sixty-four-bytes-to-write-%d":true}`, i%1500, i*1000003, i%3)
	}
	many.WriteString(`]`)
	for _, doc := range []string{
		`{"resetCounter":false,"resetCause":null,"counter":{"counter":42,"hash":1795445688865},"requests":[]}`,
		`{"resetCounter":true,"resetCause":"counter[Counter{counter=1, hash=2}] > last counter[Counter{counter=0, hash=3}]","counter":null,"requests":null}`,
		`[1,-1,15,-16,16,-17,2147483647,-2147483648,2147483648,-9223372036854775808,123456789012345678901234567890,-98765432109876543210]`,
		`["","x","é","日本語の文字列","` + strings.Repeat("a", 64) + `","` + strings.Repeat("b", 65) + `","` + strings.Repeat("é", 40) + `","tab\tquote\"back\\slash\u0001"]`,
		`{"日本":{"":[]},"nested":[[[{}]]],"f":0.1,"g":-2.5E-10}`,
		many.String(),
	} {
		smile, err := announcer.JSONToSmile(nil, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		got, err := druidpeer.SmileToJSON(smile)
		if err != nil {
			t.Fatalf("%.60s: %v", doc, err)
		}
		want := strings.Replace(doc, "-2.5E-10", "-2.5e-10", 1)
		if string(got) != want {
			t.Errorf("round trip:\n got %.300s\nwant %.300s", got, want)
		}
	}
}

func TestDruidpeerBackoff(t *testing.T) {
	s := druidpeer.New(druidpeer.Config{URL: "http://127.0.0.1:1"})
	for n, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 7: 60 * time.Second, 30: 60 * time.Second} {
		for i := 0; i < 200; i++ {
			if d := s.Backoff(n); d < 0 || d > 2*base || d > druidpeer.DefaultMaxBackoff {
				t.Fatalf("Backoff(%d) = %v, want within [0, %v]", n, d, 2*base)
			}
		}
	}
}

// TestDruidpeerRunRetries checks the client loop: failures back off, a 200 clears them, a JSON answer to a
// Smile request is a failure (Druid's Smile mapper rejects it), and 204 re-polls at once.
func TestDruidpeerRunRetries(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.Header.Get("Accept") != druidpeer.SmileType || r.Header.Get("Content-Type") != druidpeer.SmileType {
			t.Errorf("request %d: Accept %q, Content-Type %q", n, r.Header.Get("Accept"), r.Header.Get("Content-Type"))
		}
		switch {
		case n <= 2:
			http.Error(w, "boom", 500)
		case n == 3:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"resetCounter":false,"resetCause":null,"counter":{"counter":0,"hash":1},"requests":[]}`))
		case n == 4:
			smile, _ := announcer.JSONToSmile(nil, []byte(`{"resetCounter":false,"resetCause":null,"counter":{"counter":0,"hash":1},"requests":[]}`))
			_, _ = w.Write(smile)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	s := druidpeer.New(druidpeer.Config{URL: srv.URL, ServerTimeout: time.Second, BaseBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	started := time.Now()
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 8 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	elapsed := time.Since(started)
	st := s.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.Failures != 3 || st.FullSyncs != 1 || st.NoContents < 3 || st.ConsecutiveFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Three failures back off about 20+40+80 ms (±20 % each, per Gaussian fuzz); the 204s follow at once.
	if elapsed < 50*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("run took %v", elapsed)
	}
	if queries[0] != "counter=-1&timeout=1000" || queries[4] != "counter=0&hash=1&timeout=1000" {
		t.Fatalf("queries %q", queries[:5])
	}
	if r := s.Last(); r == nil || (r.Kind != druidpeer.NoContent && r.Kind != druidpeer.Failure) {
		t.Fatalf("last response %+v", r)
	}
	if !bytes.Contains([]byte(fmt.Sprint(queries)), []byte("hash=1")) {
		t.Fatal("the counter was not echoed")
	}
}
