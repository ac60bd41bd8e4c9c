package jackson_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

func TestSmileToJSONVectors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		smile []byte
		want  string
	}{
		// Hand-assembled from smile-specification.md, independent of our encoder.
		{"small ints", []byte(":)\n\x00\xf8\xc0\xc1\xdf\xde\xf9"), `[0,-1,-16,15]`},
		{"int32 vint", []byte(":)\n\x00\xf8\x24\x80\x24\x02\xa1\xf9"), `[0,-81]`}, // zigzag 0; zigzag 161 -> -81
		{"int64 max", append([]byte(":)\n\x00\x25"), 0x03, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0xbe), "9223372036854775807"},
		{"float64 1.5", append([]byte(":)\n\x00\x29"), smileReaderTest7(math.Float64bits(1.5), 10)...), "1.5"},
		{"float32 0.25", append([]byte(":)\n\x00\x28"), smileReaderTest7(uint64(math.Float32bits(0.25)), 5)...), "0.25"},
		{"BigInteger 2^64", append([]byte(":)\n\x00\x26\x89"), smileReaderTestBytes([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})...), "18446744073709551616"},
		{"BigInteger -1", append([]byte(":)\n\x00\x26\x81"), smileReaderTestBytes([]byte{0xff})...), "-1"},
		{"strings", []byte(":)\n\x00\xf8\x20\x40a\x80\xc3\xa9\xe0abc\xfc\xe4\xc3\xa9\xfc\xf9"), `["","a","é","abc","é"]`},
		{"shared names", []byte(":)\n\x01\xf8\xfa\x80a\xc0\xfb\xfa\x40\xc1\xfb\xf9"), `[{"a":0},{"a":-1}]`},
		{"long and empty names", []byte(":)\n\x01\xfa\x34long\xfc\x21\x20\x21\x40\x21\xfb"), `{"long":null,"":null,"long":null}`},
		{"shared values", []byte(":)\n\x03\xf8\x41ab\x01\xec\x00\xf9"), `["ab","ab","ab"]`},
		{"escapes", []byte(":)\n\x00\x44a\"\\\n\x01"), `"a\"\\\n\u0001"`},
		{"end marker", []byte(":)\n\x00\x21\xff"), "null"},
	} {
		got, err := jackson.SmileToJSON(tc.smile)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{[]byte(`{"a":1}`), []byte(":)\n\x00"), []byte(":)\n\x00\x21\x21"), []byte(":)\n\x00\x41a"), []byte(":)\n\x00\xfa\x40\x21\xfb")} {
		if got, err := jackson.SmileToJSON(bad); err == nil {
			t.Errorf("% x: decoded to %s, want an error", bad, got)
		}
	}
}

// smileReaderTest7 writes the low 7·n bits of v in n bytes of 7 bits, most significant first.
func smileReaderTest7(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = byte(v & 0x7f)
		v >>= 7
	}
	return out
}

// smileReaderTestBytes encodes raw bytes as the specification's 7-bit binary (groups of 7 bytes in 8, tail r in r+1).
func smileReaderTestBytes(raw []byte) []byte {
	var out []byte
	for len(raw) >= 7 {
		var acc uint64
		for _, b := range raw[:7] {
			acc = acc<<8 | uint64(b)
		}
		out = append(out, smileReaderTest7(acc, 8)...)
		raw = raw[7:]
	}
	if r := len(raw); r > 0 {
		var acc uint64
		for _, b := range raw {
			acc = acc<<8 | uint64(b)
		}
		out = append(out, smileReaderTest7(acc>>r, r)...)
		out = append(out, byte(acc&(1<<r-1)))
	}
	return out
}

// TestSmileToJSONRoundTrip decodes what announcer's encoder writes: documents in Jackson's compact JSON form
// must come back byte for byte, including past the 1024-entry shared-name table.
func TestSmileToJSONRoundTrip(t *testing.T) {
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
		smile, err := jackson.JSONToSmile(nil, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		got, err := jackson.SmileToJSON(smile)
		if err != nil {
			t.Fatalf("%.60s: %v", doc, err)
		}
		want := strings.Replace(doc, "-2.5E-10", "-2.5e-10", 1)
		if string(got) != want {
			t.Errorf("round trip:\n got %.300s\nwant %.300s", got, want)
		}
	}
}

// FuzzSmileToJSON feeds the decoder arbitrary bytes behind a Smile header: it must never panic nor allocate more than
// the input can describe, and whatever it accepts must be JSON that encodes back to Smile.
func FuzzSmileToJSON(f *testing.F) {
	for _, doc := range []string{`{"a":[1,2.5,"x",null,true]}`, `{"resetCounter":false,"counter":{"counter":1,"hash":2},"requests":[]}`} {
		s, err := jackson.JSONToSmile(nil, []byte(doc))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add([]byte(":)\n\x00\x26\x89"))
	f.Add([]byte(":)\n\x03\xf8\x41ab\x01\xec\x00\xf9"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := jackson.SmileToJSON(data)
		if err != nil {
			return
		}
		if _, err := jackson.JSONToSmile(nil, out); err != nil {
			t.Fatalf("% x decoded to %s, which is not JSON: %v", data, out, err)
		}
	})
}
