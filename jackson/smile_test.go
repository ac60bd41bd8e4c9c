package jackson_test

// Unit tests, fuzz target and benchmarks of the Smile encoder (smile.go). The byte sequences in
// TestSmileTokenBytes were worked out by hand from smile-specification.md 1.0.4 (and Jackson's SmileGenerator
// where the specification leaves a choice); smile_interop_test.go checks the same encoder against the real
// Jackson parser. Helper names start with "smile" because other files of this package are written separately.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/druid-sidecar/druid-sidecar/jackson"
)

const smileTestHeader = "3a290a01" // ":)\n" and flags 0x01 (shared names on, shared values off, no raw binary)

func smileHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func smileRepeatHex(b byte, n int) string { return strings.Repeat(fmt.Sprintf("%02x", b), n) }

// smileWrite runs build on a fresh writer and returns the Smile document.
func smileWrite(t testing.TB, build func(w *jackson.SmileWriter)) []byte {
	t.Helper()
	var out bytes.Buffer
	w := jackson.NewSmileWriter(&out)
	build(w)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out.Bytes()
}

func TestSmileTokenBytes(t *testing.T) {
	long65 := strings.Repeat("a", 65)
	uni64 := strings.Repeat("é", 32) // 64 bytes
	uni66 := strings.Repeat("é", 33) // 66 bytes
	tests := []struct {
		name  string
		json  string // an equivalent JSON document, checked through JSONToSmile too ("" for none)
		build func(w *jackson.SmileWriter)
		want  string // hex after the header
	}{
		// Literals and structure (0x20-0x23, 0xF8-0xFB).
		{"null", "null", func(w *jackson.SmileWriter) { w.WriteNull() }, "21"},
		{"false", "false", func(w *jackson.SmileWriter) { w.WriteBool(false) }, "22"},
		{"true", "true", func(w *jackson.SmileWriter) { w.WriteBool(true) }, "23"},
		{"empty object", "{}", func(w *jackson.SmileWriter) { w.WriteStartObject(); w.WriteEndObject() }, "fa fb"},
		{"empty array", "[]", func(w *jackson.SmileWriter) { w.WriteStartArray(); w.WriteEndArray() }, "f8 f9"},
		{"nested", `[[],{}]`, func(w *jackson.SmileWriter) {
			w.WriteStartArray()
			w.WriteStartArray()
			w.WriteEndArray()
			w.WriteStartObject()
			w.WriteEndObject()
			w.WriteEndArray()
		}, "f8 f8 f9 fa fb f9"},

		// Small ints 0xC0-0xDF: zigzag in the 5 low bits.
		{"int 0", "0", func(w *jackson.SmileWriter) { w.WriteInt64(0) }, "c0"},
		{"int -0 from JSON", "-0", func(w *jackson.SmileWriter) { w.WriteInt64(0) }, "c0"},
		{"int -1", "-1", func(w *jackson.SmileWriter) { w.WriteInt64(-1) }, "c1"},
		{"int 1", "1", func(w *jackson.SmileWriter) { w.WriteInt64(1) }, "c2"},
		{"int 15", "15", func(w *jackson.SmileWriter) { w.WriteInt64(15) }, "de"},
		{"int -16", "-16", func(w *jackson.SmileWriter) { w.WriteInt64(-16) }, "df"},
		// 32-bit ints 0x24: zigzag VInt, 7-bit groups, last byte 0x80 | 6 bits.
		{"int 16", "16", func(w *jackson.SmileWriter) { w.WriteInt64(16) }, "24 a0"},    // zz 32
		{"int -17", "-17", func(w *jackson.SmileWriter) { w.WriteInt64(-17) }, "24 a1"}, // zz 33
		{"int 31", "31", func(w *jackson.SmileWriter) { w.WriteInt64(31) }, "24 be"},    // zz 62
		{"int 32", "32", func(w *jackson.SmileWriter) { w.WriteInt64(32) }, "24 01 80"}, // zz 64 = 1<<6
		{"int 100", "100", func(w *jackson.SmileWriter) { w.WriteInt64(100) }, "24 03 88"},
		{"int -100", "-100", func(w *jackson.SmileWriter) { w.WriteInt64(-100) }, "24 03 87"},
		{"int max int32", "2147483647", func(w *jackson.SmileWriter) { w.WriteInt64(math.MaxInt32) }, "24 1f 7f 7f 7f be"},
		{"int min int32", "-2147483648", func(w *jackson.SmileWriter) { w.WriteInt64(math.MinInt32) }, "24 1f 7f 7f 7f bf"},
		// 64-bit ints 0x25, only outside the int32 range.
		{"long 2^31", "2147483648", func(w *jackson.SmileWriter) { w.WriteInt64(1 << 31) }, "25 20 00 00 00 80"},
		{"long -2^31-1", "-2147483649", func(w *jackson.SmileWriter) { w.WriteInt64(-1<<31 - 1) }, "25 20 00 00 00 81"},
		{"long max int64", "9223372036854775807", func(w *jackson.SmileWriter) { w.WriteInt64(math.MaxInt64) },
			"25 03" + smileRepeatHex(0x7f, 8) + "be"},
		{"long min int64", "-9223372036854775808", func(w *jackson.SmileWriter) { w.WriteInt64(math.MinInt64) },
			"25 03" + smileRepeatHex(0x7f, 8) + "bf"},
		// BigInteger 0x26: unsigned VInt length of toByteArray(), then 7-bit groups (last group right-aligned).
		{"bigint 2^63", "9223372036854775808", nil, "26 89 00 20 00 00 00 00 00 00 00 00 00"},
		{"bigint -2^63-1", "-9223372036854775809", nil, "26 89 7f 5f 7f 7f 7f 7f 7f 7f 7f 7f 03"},

		// Doubles 0x29: 64 bits right-aligned in 10 bytes of 7 bits.
		{"double 1.0", "1.0", func(w *jackson.SmileWriter) { w.WriteFloat64(1) }, "29 00 3f 78 00 00 00 00 00 00 00"},
		{"double -2.5", "-2.5", func(w *jackson.SmileWriter) { w.WriteFloat64(-2.5) }, "29 01 40 02 00 00 00 00 00 00 00"},
		{"double 0", "0e0", func(w *jackson.SmileWriter) { w.WriteFloat64(0) }, "29" + smileRepeatHex(0, 10)},
		{"double -0", "-0.0", func(w *jackson.SmileWriter) { w.WriteFloat64(math.Copysign(0, -1)) }, "29 01" + smileRepeatHex(0, 9)},
		{"double +Inf from overflow", "1e400", func(w *jackson.SmileWriter) { w.WriteFloat64(math.Inf(1)) }, "29 00 7f 78 00 00 00 00 00 00 00"},

		// String values.
		{"empty string", `""`, func(w *jackson.SmileWriter) { w.WriteString("") }, "20"},
		{"tiny ascii 1", `"a"`, func(w *jackson.SmileWriter) { w.WriteString("a") }, "40 61"},
		{"tiny ascii 32", `"` + strings.Repeat("a", 32) + `"`, func(w *jackson.SmileWriter) { w.WriteString(strings.Repeat("a", 32)) },
			"5f" + smileRepeatHex('a', 32)},
		{"short ascii 33", `"` + strings.Repeat("a", 33) + `"`, func(w *jackson.SmileWriter) { w.WriteString(strings.Repeat("a", 33)) },
			"60" + smileRepeatHex('a', 33)},
		{"short ascii 64", `"` + strings.Repeat("a", 64) + `"`, func(w *jackson.SmileWriter) { w.WriteString(strings.Repeat("a", 64)) },
			"7f" + smileRepeatHex('a', 64)},
		{"long ascii 65", `"` + long65 + `"`, func(w *jackson.SmileWriter) { w.WriteString(long65) }, "e0" + smileRepeatHex('a', 65) + "fc"},
		{"tiny unicode 2 bytes", `"é"`, func(w *jackson.SmileWriter) { w.WriteString("é") }, "80 c3 a9"},
		{"tiny unicode 3 bytes", `"€"`, func(w *jackson.SmileWriter) { w.WriteString("€") }, "81 e2 82 ac"},
		{"tiny unicode 4 bytes (non-BMP)", `"😀"`, func(w *jackson.SmileWriter) { w.WriteString("😀") }, "82 f0 9f 98 80"},
		{"escaped surrogate pair", `"\ud83d\ude00"`, func(w *jackson.SmileWriter) { w.WriteString("😀") }, "82 f0 9f 98 80"},
		{"short unicode 64 bytes", `"` + uni64 + `"`, func(w *jackson.SmileWriter) { w.WriteString(uni64) },
			"be" + strings.Repeat("c3a9", 32)},
		{"long unicode 66 bytes", `"` + uni66 + `"`, func(w *jackson.SmileWriter) { w.WriteString(uni66) },
			"e4" + strings.Repeat("c3a9", 33) + "fc"},
		{"escapes", `"\"\\\/\b\f\n\r\t\u0000"`, func(w *jackson.SmileWriter) { w.WriteString("\"\\/\b\f\n\r\t\x00") },
			"48 22 5c 2f 08 0c 0a 0d 09 00"},
		{"invalid UTF-8 becomes U+FFFD", "\"a\xffb\"", func(w *jackson.SmileWriter) { w.WriteString("a\xffb") }, "83 61 ef bf bd 62"},
		{"lone surrogate escape becomes U+FFFD", `"\ud800x"`, func(w *jackson.SmileWriter) { w.WriteString("\uFFFDx") }, "82 ef bf bd 78"},

		// Keys.
		{"short ascii key", `{"a":1}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey("a")
			w.WriteInt64(1)
			w.WriteEndObject()
		}, "fa 80 61 c2 fb"},
		{"empty key is 0x20 and never shared", `{"":1,"":2}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey("")
			w.WriteInt64(1)
			w.WriteKey("")
			w.WriteInt64(2)
			w.WriteEndObject()
		}, "fa 20 c2 20 c4 fb"},
		{"ascii key 64 bytes", `{"` + strings.Repeat("k", 64) + `":null}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey(strings.Repeat("k", 64))
			w.WriteNull()
			w.WriteEndObject()
		}, "fa bf" + smileRepeatHex('k', 64) + "21 fb"},
		{"ascii key 65 bytes is long", `{"` + strings.Repeat("k", 65) + `":null}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey(strings.Repeat("k", 65))
			w.WriteNull()
			w.WriteEndObject()
		}, "fa 34" + smileRepeatHex('k', 65) + "fc 21 fb"},
		{"unicode key", `{"é":true}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey("é")
			w.WriteBool(true)
			w.WriteEndObject()
		}, "fa c0 c3 a9 23 fb"},
		{"unicode key 56 bytes", `{"` + strings.Repeat("é", 28) + `":true}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey(strings.Repeat("é", 28))
			w.WriteBool(true)
			w.WriteEndObject()
		}, "fa f6" + strings.Repeat("c3a9", 28) + "23 fb"},
		{"unicode key 57 bytes is long", `{"x` + strings.Repeat("é", 28) + `":true}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey("x" + strings.Repeat("é", 28))
			w.WriteBool(true)
			w.WriteEndObject()
		}, "fa 34 78" + strings.Repeat("c3a9", 28) + "fc 23 fb"},
		// Shared names: a repeated key becomes a one-byte reference 0x40 + index.
		{"shared key reference", `[{"a":1,"bb":2},{"bb":3,"a":4}]`, func(w *jackson.SmileWriter) {
			w.WriteStartArray()
			w.WriteStartObject()
			w.WriteKey("a")
			w.WriteInt64(1)
			w.WriteKey("bb")
			w.WriteInt64(2)
			w.WriteEndObject()
			w.WriteStartObject()
			w.WriteKey("bb")
			w.WriteInt64(3)
			w.WriteKey("a")
			w.WriteInt64(4)
			w.WriteEndObject()
			w.WriteEndArray()
		}, "f8 fa 80 61 c2 81 62 62 c4 fb fa 41 c6 40 c8 fb f9"},
		// A long (0x34) name takes a table slot too, as in Jackson: "b" is index 1, not 0.
		{"long key takes a slot", `{"` + strings.Repeat("k", 65) + `":1,"b":2,"b":3}`, func(w *jackson.SmileWriter) {
			w.WriteStartObject()
			w.WriteKey(strings.Repeat("k", 65))
			w.WriteInt64(1)
			w.WriteKey("b")
			w.WriteInt64(2)
			w.WriteKey("b")
			w.WriteInt64(3)
			w.WriteEndObject()
		}, "fa 34" + smileRepeatHex('k', 65) + "fc c2 80 62 c4 41 c6 fb"},
		{"several root values", "", func(w *jackson.SmileWriter) { w.WriteInt64(1); w.WriteString("x") }, "c2 40 78"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := smileHex(t, smileTestHeader+tc.want)
			if tc.build != nil {
				if got := smileWrite(t, tc.build); !bytes.Equal(got, want) {
					t.Errorf("SmileWriter wrote\n\t% x\nwant\n\t% x", got, want)
				}
			}
			if tc.json != "" {
				got, err := jackson.JSONToSmile(nil, []byte(tc.json))
				if err != nil {
					t.Fatalf("JSONToSmile(%s): %v", tc.json, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("JSONToSmile(%s) =\n\t% x\nwant\n\t% x", tc.json, got, want)
				}
			}
			if _, err := smileDecodeTokens(want); err != nil {
				t.Errorf("the test decoder rejects the expected bytes: %v", err)
			}
		})
	}
}

// TestSmileSharedNameTable follows the 1024-entry table through two-byte references, the indices Jackson never
// references (low byte 0xFE/0xFF) and the reset when the table is full.
func TestSmileSharedNameTable(t *testing.T) {
	key := func(i int) string { return fmt.Sprintf("k%04d", i) } // 5 ASCII bytes: token 0x84
	doc := smileWrite(t, func(w *jackson.SmileWriter) {
		w.WriteStartArray()
		for round := 0; round < 2; round++ { // names 0-299, then all of them again
			w.WriteStartObject()
			for i := 0; i < 300; i++ {
				w.WriteKey(key(i))
				w.WriteNull()
			}
			w.WriteEndObject()
		}
		w.WriteStartObject() // 254 and 255 were written again in round 2, at slots 300 and 301
		w.WriteKey(key(254))
		w.WriteNull()
		w.WriteKey(key(255))
		w.WriteNull()
		w.WriteEndObject()
		w.WriteStartObject() // fill the table: slots 302-1023
		for i := 300; i < 1022; i++ {
			w.WriteKey(key(i))
			w.WriteNull()
		}
		w.WriteKey("new") // the 1025th slot: the table is emptied and "new" is index 0
		w.WriteNull()
		w.WriteKey("new")
		w.WriteNull()
		w.WriteKey(key(5)) // forgotten by the reset: in full again, index 1
		w.WriteNull()
		w.WriteKey(key(5))
		w.WriteNull()
		w.WriteEndObject()
		w.WriteEndArray()
	})
	d, err := smileDecode(doc)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	forms := d.keyForms
	want := map[int]string{
		0:         "lit",  // k0000, index 0
		300:       "40",   // round 2: k0000 → index 0
		363:       "7f",   // k0063 → index 63, the last one-byte reference
		364:       "3040", // k0064 → two bytes
		553:       "30fd", // k0253
		554:       "lit",  // k0254: index 254 ends in 0xFE, never referenced
		555:       "lit",  // k0255: index 255 ends in 0xFF
		556:       "3100", // k0256
		599:       "312b", // k0299
		600:       "312c", // k0254 again: now index 300
		601:       "312d", // k0255: index 301
		602:       "lit",  // k0300
		602 + 721: "lit",  // k1021, index 1023: the table is full
		602 + 722: "lit",  // "new": reset, index 0
		602 + 723: "40",   // "new"
		602 + 724: "lit",  // k0005 in full, index 1
		602 + 725: "41",   // k0005
	}
	if len(forms) != 602+726 {
		t.Fatalf("decoded %d keys, want %d", len(forms), 602+726)
	}
	for i, f := range want {
		if forms[i] != f {
			t.Errorf("key #%d written as %s, want %s", i, forms[i], f)
		}
	}
}

func TestSmileWriterMisuse(t *testing.T) {
	tests := []struct {
		name  string
		build func(w *jackson.SmileWriter)
		want  string
	}{
		{"key outside object", func(w *jackson.SmileWriter) { w.WriteKey("a") }, "WriteKey called where no object or array is open"},
		{"key in array", func(w *jackson.SmileWriter) { w.WriteStartArray(); w.WriteKey("a") }, "WriteKey called where an array element"},
		{"value without key", func(w *jackson.SmileWriter) { w.WriteStartObject(); w.WriteInt64(1) }, "WriteInt64 called where an object key"},
		{"two keys", func(w *jackson.SmileWriter) { w.WriteStartObject(); w.WriteKey("a"); w.WriteKey("b") }, "WriteKey called where the value of the last key is due"},
		{"end object after key", func(w *jackson.SmileWriter) { w.WriteStartObject(); w.WriteKey("a"); w.WriteEndObject() }, "WriteEndObject called where the value"},
		{"end array in object", func(w *jackson.SmileWriter) { w.WriteStartObject(); w.WriteEndArray() }, "WriteEndArray called where an object key"},
		{"end object at root", func(w *jackson.SmileWriter) { w.WriteNull(); w.WriteEndObject() }, "WriteEndObject called where no object"},
		{"unclosed", func(w *jackson.SmileWriter) { w.WriteStartArray() }, "Close called with 1 object or array still open"},
		{"nothing written", func(w *jackson.SmileWriter) {}, "Close called before any value was written"},
		{"members outside object", func(w *jackson.SmileWriter) { _ = w.WriteJSONMembers([]byte(`{}`)) }, "WriteJSONMembers called where no object"},
		{"JSON where a key is due", func(w *jackson.SmileWriter) { w.WriteStartObject(); _ = w.WriteJSON([]byte(`1`)) }, "WriteJSON called where an object key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := jackson.NewSmileWriter(&out)
			tc.build(w)
			err := w.Close()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Close() = %v, want an error containing %q", err, tc.want)
			}
			// The error is sticky: later calls do nothing and report it again.
			w.WriteNull()
			if err2 := w.Flush(); err2 != err {
				t.Errorf("Flush after the error = %v, want the first error %v", err2, err)
			}
			if out.Len() != 0 {
				t.Errorf("%d bytes reached the io.Writer of a failed small document", out.Len())
			}
		})
	}
}

func TestSmileJSONErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		want   string
	}{
		{``, 0, "unexpected end of input: expected a value"},
		{`   `, 3, "unexpected end of input: expected a value"},
		{`{"a":1,}`, 7, `expected '"' to start an object key, found '}'`},
		{`[1,2`, 4, "unexpected end of input: an object or array is not closed"},
		{`{"a" 1}`, 5, "expected ':' after an object key, found '1'"},
		{`01`, 1, "unexpected '1' after the JSON value"},
		{`{"a":1}{}`, 7, "unexpected '{' after the JSON value"},
		{`[1]]`, 3, "unexpected ']' after the JSON value"},
		{`"abc`, 4, "the string starting at byte offset 0 is not terminated"},
		{"[\"a\x01\"]", 3, "control character 0x01 in a string must be escaped"},
		{`"\u12"`, 1, `invalid \u escape`},
		{`"\x"`, 1, `invalid escape 'x' in a string`},
		{`"\`, 2, "unexpected end of input: a string escape is incomplete"},
		{`tru`, 0, "invalid literal, expected true"},
		{`[nul]`, 1, "invalid literal, expected null"},
		{`-`, 1, "unexpected end of input: expected a digit in a number"},
		{`-a`, 1, "expected a digit in a number"},
		{`1.`, 2, "expected a digit after the decimal point"},
		{`1.e5`, 2, "expected a digit after the decimal point"},
		{`1e+`, 3, "expected a digit in the exponent"},
		{`+1`, 0, "expected a value, found '+'"},
		{`.5`, 0, "expected a value, found '.'"},
		{`[,1]`, 1, "expected a value, found ','"},
		{`{"a":1 "b":2}`, 7, `expected ',' or '}' after an object member, found '"'`},
		{`[1 2]`, 3, "expected ',' or ']' after an array element, found '2'"},
		{"\xef\xbb\xbf1", 0, "expected a value, found byte 0xef"},
		{`{1:2}`, 1, `expected '"' to start an object key, found '1'`},
		{`NaN`, 0, "expected a value, found 'N'"},
	}
	for _, tc := range tests {
		if json.Valid([]byte(tc.in)) {
			t.Errorf("test input %q is valid JSON to encoding/json", tc.in)
		}
		_, err := jackson.JSONToSmile(nil, []byte(tc.in))
		var se *jackson.SmileJSONError
		if !errors.As(err, &se) {
			t.Errorf("JSONToSmile(%q) error = %v, want a *SmileJSONError", tc.in, err)
			continue
		}
		if se.Offset != tc.offset || !strings.Contains(se.Error(), tc.want) {
			t.Errorf("JSONToSmile(%q) = %q at offset %d, want %q at offset %d", tc.in, se.Error(), se.Offset, tc.want, tc.offset)
		}
		if !strings.Contains(se.Error(), fmt.Sprintf("byte offset %d", tc.offset)) {
			t.Errorf("error %q does not name the offset", se.Error())
		}
	}
	// Through the writer the error is returned and kept.
	var out bytes.Buffer
	w := jackson.NewSmileWriter(&out)
	w.WriteStartArray()
	err := w.WriteJSON([]byte(`{"a":tru}`))
	var se *jackson.SmileJSONError
	if !errors.As(err, &se) || se.Offset != 5 {
		t.Fatalf("WriteJSON error = %v, want a *SmileJSONError at offset 5", err)
	}
	if w.Err() != err || w.Close() != err {
		t.Errorf("the WriteJSON error is not kept: Err() = %v", w.Err())
	}
}

// smileRoundTripDocs are JSON documents covering every token type; the fuzz target starts from them too.
var smileRoundTripDocs = []string{
	`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `15`, `-16`, `16`, `-17`, `2147483647`, `-2147483648`,
	`2147483648`, `-2147483649`, `9223372036854775807`, `-9223372036854775808`, `9223372036854775808`,
	`-9223372036854775809`, `123456789012345678901234567890123456789012345678901234567890`,
	`-340282366920938463463374607431768211456`, `18446744073709551615`, `18446744073709551616`,
	`0.0`, `-0.0`, `1.5`, `-2.5e-3`, `1e308`, `1.7976931348623157e308`, `5e-324`, `1e400`, `-1e400`, `1e-400`,
	`3.141592653589793`, `1E2`, `0.1`, `100000000000000000000000.0`,
	`""`, `"a"`, `"é"`, `"€"`, `"😀"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`,
	`"\u0000\u001f"`, `"tab\there"`, "\"bad\xff\xfeutf8\"", "\"\xed\xa0\x80\"", `"\/\\\""`,
	`[]`, `{}`, `[[]]`, `[{}]`, `{"":""}`, `{"a":{"a":{"a":[1,2,[3,[4]]]}}}`,
	`{"é":1,"😀":2,"":3,"a":4,"é":5}`,
	` { "a" : [ 1 , 2 ] , "b" : { } } `,
	`{"dataSource":"wikipedia","interval":"2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z","version":"2024-01-01T00:00:00.000Z","loadSpec":{"type":"s3_zip","bucket":"druid","key":"segments/wikipedia/index.zip","S3Schema":"s3n"},"dimensions":"channel,cityName","metrics":"count,added","shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},"binaryVersion":9,"size":4821547,"identifier":"wikipedia_2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z_2024-01-01T00:00:00.000Z"}`,
	`["` + strings.Repeat("x", 64) + `","` + strings.Repeat("x", 65) + `","` + strings.Repeat("ü", 32) + `","` + strings.Repeat("ü", 33) + `"]`,
	`{"` + strings.Repeat("k", 64) + `":1,"` + strings.Repeat("k", 65) + `":2,"` + strings.Repeat("k", 64) + `":3,"` + strings.Repeat("k", 65) + `":4}`,
}

func TestSmileRoundTrip(t *testing.T) {
	docs := append([]string(nil), smileRoundTripDocs...)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		docs = append(docs, string(smileRandomJSON(rng, 4)))
	}
	docs = append(docs, string(smileSnapshotJSON(1500, true))) // over 1024 distinct names: the table resets
	for i, doc := range docs {
		smileCheckRoundTrip(t, []byte(doc))
		// The scanner and the writer API (driven by encoding/json.Decoder) must produce the same bytes.
		got, _ := jackson.JSONToSmile(nil, []byte(doc))
		ref, err := smileTranscodeWithDecoder([]byte(doc))
		if err != nil {
			t.Fatalf("doc %d: reference transcoder: %v", i, err)
		}
		if !bytes.Equal(got, ref) {
			t.Errorf("doc %d (%.80s): JSONToSmile and the writer API differ:\n\t% x\n\t% x", i, doc, got, ref)
		}
	}
}

// smileCheckRoundTrip encodes data with JSONToSmile and checks that the strict test decoder reads the token
// stream encoding/json reads from data.
func smileCheckRoundTrip(t testing.TB, data []byte) {
	t.Helper()
	out, err := jackson.JSONToSmile([]byte("prefix"), data)
	if err != nil {
		t.Fatalf("JSONToSmile(%.200q): %v", data, err)
	}
	if string(out[:6]) != "prefix" {
		t.Fatalf("JSONToSmile overwrote dst")
	}
	got, err := smileDecodeTokens(out[6:])
	if err != nil {
		t.Fatalf("decoding JSONToSmile(%.200q): %v\n\t% x", data, err, out[6:])
	}
	want, err := smileJSONTokens(data)
	if err != nil {
		t.Fatalf("encoding/json rejects %.200q: %v", data, err)
	}
	if d := smileDiffTokens(got, want); d != "" {
		t.Fatalf("JSONToSmile(%.200q) decodes differently: %s", data, d)
	}
}

func smileDiffTokens(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("token #%d is %.200s, want %.200s", i, g, w)
		}
	}
	return ""
}

func TestSmileWriteJSONMembersAndStreaming(t *testing.T) {
	segments := smileSegmentsJSON(5000, true)
	// The handler's way: the envelope through the API, each request's members from the stored JSON.
	var streamed smileCountingWriter
	w := jackson.NewSmileWriter(&streamed)
	smileWriteSnapshotMembers(t, w, segments)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if streamed.writes < 2 || streamed.maxWrite > 64<<10 {
		t.Errorf("%d writes of at most %d bytes: output is not streamed in bounded chunks", streamed.writes, streamed.maxWrite)
	}
	// The same document from its JSON text.
	whole, err := jackson.JSONToSmile(nil, smileSnapshotEnvelope(segments))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(streamed.Bytes(), whole) {
		t.Fatalf("streamed document (%d bytes) differs from JSONToSmile (%d bytes)", streamed.Len(), len(whole))
	}
	// Reset reuses the writer for a new document, header and name table included.
	w.Reset(&streamed)
	streamed.Reset()
	w.WriteStartObject()
	if err := w.WriteJSONMembers([]byte(`{"dataSource":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteJSONMembers([]byte(` { } `)); err != nil {
		t.Fatal(err)
	}
	w.WriteEndObject()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if want := smileHex(t, smileTestHeader+"fa 89 64 61 74 61 53 6f 75 72 63 65 40 78 fb"); !bytes.Equal(streamed.Bytes(), want) {
		t.Errorf("after Reset: % x, want % x", streamed.Bytes(), want)
	}
	// WriteJSONMembers wants an object.
	w.Reset(io.Discard)
	w.WriteStartObject()
	if err := w.WriteJSONMembers([]byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "expected a JSON object") {
		t.Errorf("WriteJSONMembers([1]) = %v", err)
	}
}

type smileCountingWriter struct {
	bytes.Buffer
	writes, maxWrite int
}

func (c *smileCountingWriter) Write(p []byte) (int, error) {
	c.writes++
	c.maxWrite = max(c.maxWrite, len(p))
	return c.Buffer.Write(p)
}

type smileFailingWriter struct{}

var errSmileTestDiskFull = errors.New("disk full")

func (smileFailingWriter) Write([]byte) (int, error) { return 0, errSmileTestDiskFull }

func TestSmileWriterWriteError(t *testing.T) {
	w := jackson.NewSmileWriter(smileFailingWriter{})
	w.WriteStartArray()
	for i := 0; i < 10000; i++ {
		w.WriteString("a string that is long enough to fill the buffer quickly")
	}
	if err := w.Err(); !errors.Is(err, errSmileTestDiskFull) {
		t.Fatalf("Err() = %v, want the write error", err)
	}
	w.WriteEndArray()
	if err := w.Close(); !errors.Is(err, errSmileTestDiskFull) || !strings.Contains(err.Error(), "writing the Smile document") {
		t.Errorf("Close() = %v", err)
	}
}

func TestSmileWriterSanitizesKeys(t *testing.T) {
	got := smileWrite(t, func(w *jackson.SmileWriter) {
		w.WriteStartObject()
		w.WriteKey("a\xff")
		w.WriteInt64(1)
		w.WriteKey("a\uFFFD") // the same name once sanitized: a reference
		w.WriteInt64(2)
		w.WriteEndObject()
	})
	if want := smileHex(t, smileTestHeader+"fa c2 61 ef bf bd c2 40 c4 fb"); !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
}

func FuzzJSONToSmile(f *testing.F) {
	for _, doc := range smileRoundTripDocs {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`{"a":[1,{"b":null}],"c":"d"}`))
	f.Add([]byte("[\"\\ud83d\\ude00\", \"\xf0\x9f\x98\x80\", 1e5, -0.5]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := jackson.JSONToSmile(nil, data)
		valid := json.Valid(data)
		if err != nil {
			var se *jackson.SmileJSONError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(data) {
				t.Fatalf("JSONToSmile(%q): error %v has no valid offset", data, err)
			}
			if valid {
				t.Fatalf("JSONToSmile rejects valid JSON %q: %v", data, err)
			}
			return
		}
		if !valid {
			var v any
			if err := json.Unmarshal(data, &v); err != nil && strings.Contains(err.Error(), "exceeded max depth") {
				return // encoding/json limits nesting to 10000; we do not
			}
			t.Fatalf("JSONToSmile accepts invalid JSON %q", data)
		}
		got, err := smileDecodeTokens(out)
		if err != nil {
			t.Fatalf("decoding JSONToSmile(%q): %v\n\t% x", data, err, out)
		}
		want, err := smileJSONTokens(data)
		if err != nil {
			t.Fatalf("encoding/json tokens of %q: %v", data, err)
		}
		if d := smileDiffTokens(got, want); d != "" {
			t.Fatalf("JSONToSmile(%q) decodes differently: %s", data, d)
		}
	})
}

// --- a strict Smile decoder, for tests only ---

// smileDecoded is a decoded document: canonical tokens and, per key, how it was written ("lit" for a name in
// full, else the hex of the back-reference).
type smileDecoded struct {
	tokens   []string
	keyForms []string
}

type smileTestDecoder struct {
	data  []byte
	pos   int
	names []string // the shared-name table, kept as Jackson's parser keeps it
	out   smileDecoded
}

// smileDecodeTokens decodes a whole Smile document into canonical tokens: "{", "}", "[", "]", "K:<quoted name>",
// "S:<quoted string>", "I32:<n>", "I64:<n>", "BIG:<n>", "D:<IEEE bits>", "true", "false", "null".
func smileDecodeTokens(doc []byte) ([]string, error) {
	d, err := smileDecode(doc)
	if err != nil {
		return nil, err
	}
	return d.tokens, nil
}

// smileDecode decodes strictly: besides what the specification requires, it rejects anything our encoder (or
// Jackson's generator) would not write, such as a non-minimal number form, a name written in full while it
// could have been referenced, or a short-string token whose bytes are not as announced.
func smileDecode(doc []byte) (*smileDecoded, error) {
	if len(doc) < 4 || string(doc[:3]) != ":)\n" {
		return nil, errors.New("no Smile header")
	}
	if doc[3] != 0x01 {
		return nil, fmt.Errorf("header flags 0x%02x, want 0x01", doc[3])
	}
	d := &smileTestDecoder{data: doc, pos: 4}
	if d.pos == len(doc) {
		return nil, errors.New("no value after the header")
	}
	for d.pos < len(doc) {
		if err := d.value(); err != nil {
			return nil, fmt.Errorf("at byte %d: %w", d.pos, err)
		}
	}
	return &d.out, nil
}

func (d *smileTestDecoder) next() (byte, error) {
	if d.pos >= len(d.data) {
		return 0, io.ErrUnexpectedEOF
	}
	d.pos++
	return d.data[d.pos-1], nil
}

func (d *smileTestDecoder) take(n int) ([]byte, error) {
	if len(d.data)-d.pos < n {
		return nil, io.ErrUnexpectedEOF
	}
	d.pos += n
	return d.data[d.pos-n : d.pos], nil
}

func (d *smileTestDecoder) untilEnd() ([]byte, error) {
	i := bytes.IndexByte(d.data[d.pos:], 0xFC)
	if i < 0 {
		return nil, errors.New("long string without end marker 0xFC")
	}
	s := d.data[d.pos : d.pos+i]
	d.pos += i + 1
	return s, nil
}

func (d *smileTestDecoder) emit(tok string) { d.out.tokens = append(d.out.tokens, tok) }

// vint reads a VInt of at most maxBytes bytes, requiring the shortest form.
func (d *smileTestDecoder) vint(maxBytes int) (uint64, error) {
	var v uint64
	for n := 1; ; n++ {
		b, err := d.next()
		if err != nil {
			return 0, err
		}
		if n > maxBytes {
			return 0, fmt.Errorf("VInt longer than %d bytes", maxBytes)
		}
		if n == 1 && b == 0x00 {
			return 0, errors.New("VInt with a leading zero group")
		}
		if b&0x80 != 0 {
			if b&0x40 != 0 {
				return 0, fmt.Errorf("VInt last byte 0x%02x has bit 6 set", b)
			}
			if v>>58 != 0 {
				return 0, errors.New("VInt overflows 64 bits")
			}
			return v<<6 | uint64(b&0x3F), nil
		}
		if v>>57 != 0 {
			return 0, errors.New("VInt overflows 64 bits")
		}
		v = v<<7 | uint64(b)
	}
}

func smileUnzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// read7Bit reads n raw bytes in Jackson's 7-bit encoding.
func (d *smileTestDecoder) read7Bit(n int) ([]byte, error) {
	var raw []byte
	for n > 0 {
		k := min(n, 7)
		var v uint64
		for i := 0; i < k; i++ {
			b, err := d.next()
			if err != nil || b >= 0x80 {
				return nil, fmt.Errorf("bad 7-bit byte 0x%02x (%v)", b, err)
			}
			v = v<<7 | uint64(b)
		}
		last, err := d.next()
		if err != nil || int(last) >= 1<<(8*k-7*k) {
			return nil, fmt.Errorf("bad last 7-bit byte 0x%02x for %d bytes (%v)", last, k, err)
		}
		v = v<<(8*k-7*k) | uint64(last)
		for i := k - 1; i >= 0; i-- {
			raw = append(raw, byte(v>>(8*i)))
		}
		n -= k
	}
	return raw, nil
}

func (d *smileTestDecoder) value() error {
	b, err := d.next()
	if err != nil {
		return err
	}
	switch {
	case b == 0x20:
		d.emit(`S:""`)
	case b == 0x21:
		d.emit("null")
	case b == 0x22:
		d.emit("false")
	case b == 0x23:
		d.emit("true")
	case b == 0x24:
		u, err := d.vint(5)
		if err != nil {
			return err
		}
		v := smileUnzigzag(u)
		if u < 32 || v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("int32 token for %d", v)
		}
		d.emit(fmt.Sprintf("I32:%d", v))
	case b == 0x25:
		u, err := d.vint(10)
		if err != nil {
			return err
		}
		v := smileUnzigzag(u)
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return fmt.Errorf("int64 token for %d", v)
		}
		d.emit(fmt.Sprintf("I64:%d", v))
	case b == 0x26:
		n, err := d.vint(5)
		if err != nil || n == 0 {
			return fmt.Errorf("bad BigInteger length %d (%v)", n, err)
		}
		raw, err := d.read7Bit(int(n))
		if err != nil {
			return err
		}
		if len(raw) > 1 && (raw[0] == 0 && raw[1] < 0x80 || raw[0] == 0xFF && raw[1] >= 0x80) {
			return fmt.Errorf("BigInteger bytes % x are not minimal", raw)
		}
		x := new(big.Int).SetBytes(raw)
		if raw[0] >= 0x80 {
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
		}
		if x.IsInt64() {
			return fmt.Errorf("BigInteger token for %s", x)
		}
		d.emit("BIG:" + x.String())
	case b == 0x29:
		raw, err := d.take(10)
		if err != nil {
			return err
		}
		if raw[0] > 1 {
			return errors.New("double's first byte has more than the sign bit")
		}
		var bits uint64
		for _, c := range raw {
			if c >= 0x80 {
				return errors.New("double byte with the high bit set")
			}
			bits = bits<<7 | uint64(c)
		}
		d.emit(smileDoubleToken(math.Float64frombits(bits)))
	case b >= 0x40 && b <= 0x7F: // tiny and short ASCII, 1-64 bytes
		s, err := d.take(int(b) - 0x3F)
		if err != nil {
			return err
		}
		if !smileIsASCII(s) {
			return fmt.Errorf("ASCII string token with non-ASCII bytes %q", s)
		}
		d.emit("S:" + strconv.Quote(string(s)))
	case b >= 0x80 && b <= 0xBF: // tiny and short Unicode, 2-65 bytes
		n := int(b) - 0x7E
		s, err := d.take(n)
		if err != nil {
			return err
		}
		if n > 64 || !utf8.Valid(s) || smileIsASCII(s) {
			return fmt.Errorf("bad short Unicode string %q (token 0x%02x)", s, b)
		}
		d.emit("S:" + strconv.Quote(string(s)))
	case b >= 0xC0 && b <= 0xDF:
		d.emit(fmt.Sprintf("I32:%d", smileUnzigzag(uint64(b&0x1F))))
	case b == 0xE0 || b == 0xE4:
		s, err := d.untilEnd()
		if err != nil {
			return err
		}
		if len(s) <= 64 || !utf8.Valid(s) || (b == 0xE0) != smileIsASCII(s) {
			return fmt.Errorf("bad long string (token 0x%02x, %d bytes)", b, len(s))
		}
		d.emit("S:" + strconv.Quote(string(s)))
	case b == 0xF8:
		d.emit("[")
		for {
			if d.pos < len(d.data) && d.data[d.pos] == 0xF9 {
				d.pos++
				d.emit("]")
				return nil
			}
			if err := d.value(); err != nil {
				return err
			}
		}
	case b == 0xFA:
		d.emit("{")
		return d.object()
	default:
		return fmt.Errorf("unexpected value token 0x%02x", b)
	}
	return nil
}

func (d *smileTestDecoder) object() error {
	for {
		start := d.pos
		b, err := d.next()
		if err != nil {
			return err
		}
		var name string
		form := "lit"
		switch {
		case b == 0xFB:
			d.emit("}")
			return nil
		case b == 0x20:
			name = ""
		case b >= 0x30 && b <= 0x33:
			lo, err := d.next()
			if err != nil {
				return err
			}
			ix := int(b&3)<<8 | int(lo)
			if ix < 64 || ix >= len(d.names) || ix&0xFF >= 0xFE {
				return fmt.Errorf("bad long name reference %d (table has %d)", ix, len(d.names))
			}
			name = d.names[ix]
			form = hex.EncodeToString(d.data[start:d.pos])
		case b >= 0x40 && b <= 0x7F:
			ix := int(b - 0x40)
			if ix >= len(d.names) {
				return fmt.Errorf("bad short name reference %d (table has %d)", ix, len(d.names))
			}
			name = d.names[ix]
			form = hex.EncodeToString(d.data[start:d.pos])
		default:
			var s []byte
			switch {
			case b == 0x34:
				if s, err = d.untilEnd(); err != nil {
					return err
				}
				if smileIsASCII(s) && len(s) <= 64 || !smileIsASCII(s) && len(s) <= 56 {
					return fmt.Errorf("long name token for the short name %q", s)
				}
			case b >= 0x80 && b <= 0xBF:
				if s, err = d.take(int(b) - 0x7F); err != nil {
					return err
				}
				if !smileIsASCII(s) {
					return fmt.Errorf("ASCII name token with non-ASCII bytes %q", s)
				}
			case b >= 0xC0 && b <= 0xF7:
				if s, err = d.take(int(b) - 0xBE); err != nil {
					return err
				}
				if len(s) > 56 || smileIsASCII(s) {
					return fmt.Errorf("bad short Unicode name %q (token 0x%02x)", s, b)
				}
			default:
				return fmt.Errorf("unexpected key token 0x%02x", b)
			}
			if !utf8.Valid(s) {
				return fmt.Errorf("name %q is not UTF-8", s)
			}
			name = string(s)
			for ix, n := range d.names {
				if n == name && ix&0xFF < 0xFE {
					return fmt.Errorf("name %q written in full although it is shared name %d", name, ix)
				}
			}
			if len(d.names) == 1024 { // Jackson's parser: a full table is emptied before the next name
				d.names = d.names[:0]
			}
			d.names = append(d.names, name)
		}
		d.emit("K:" + strconv.Quote(name))
		d.out.keyForms = append(d.out.keyForms, form)
		if err := d.value(); err != nil {
			return err
		}
	}
}

func smileIsASCII(s []byte) bool {
	for _, c := range s {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func smileDoubleToken(f float64) string {
	return fmt.Sprintf("D:%v/%016x", f, math.Float64bits(f))
}

// smileNumberToken is the canonical token of a JSON number as Jackson types it.
func smileNumberToken(lit string) string {
	if strings.ContainsAny(lit, ".eE") {
		f, _ := strconv.ParseFloat(lit, 64) // ±Inf on overflow, as Java's Double.parseDouble
		return smileDoubleToken(f)
	}
	x, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return "bad number " + lit
	}
	switch {
	case !x.IsInt64():
		return "BIG:" + x.String()
	case x.Int64() >= math.MinInt32 && x.Int64() <= math.MaxInt32:
		return "I32:" + x.String()
	default:
		return "I64:" + x.String()
	}
}

// smileJSONTokens reads data with encoding/json into canonical tokens.
func smileJSONTokens(data []byte) ([]string, error) {
	var toks []string
	err := smileWalkJSON(data, func(kind byte, s string) {
		switch kind {
		case 'K':
			toks = append(toks, "K:"+strconv.Quote(s))
		case 'S':
			toks = append(toks, "S:"+strconv.Quote(s))
		case 'N':
			toks = append(toks, smileNumberToken(s))
		default:
			toks = append(toks, s)
		}
	})
	return toks, err
}

// smileWalkJSON walks data with encoding/json.Decoder.Token, calling fn with 'K' and a key, 'S' and a string,
// 'N' and a number literal, or 0 and one of "{", "}", "[", "]", "true", "false", "null".
func smileWalkJSON(data []byte, fn func(kind byte, s string)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// One entry per open container: 'k' an object whose next token is a key, 'v' an object whose next token is
	// a value, 'a' an array.
	var stack []byte
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:top]
			fn(0, d.String())
			continue
		}
		if top >= 0 {
			switch stack[top] {
			case 'k':
				stack[top] = 'v'
				fn('K', tok.(string))
				continue
			case 'v':
				stack[top] = 'k'
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			fn(0, v.String())
			if v == '{' {
				stack = append(stack, 'k')
			} else {
				stack = append(stack, 'a')
			}
		case string:
			fn('S', v)
		case json.Number:
			fn('N', string(v))
		case bool:
			fn(0, strconv.FormatBool(v))
		case nil:
			fn(0, "null")
		}
	}
}

// smileTranscodeWithDecoder is the obvious alternative to the hand-written scanner: encoding/json.Decoder.Token
// driving the SmileWriter API. Tests compare bytes with it; BenchmarkSmileTranscode compares speed.
func smileTranscodeWithDecoder(data []byte) ([]byte, error) {
	var out bytes.Buffer
	w := jackson.NewSmileWriter(&out)
	err := smileWalkJSON(data, func(kind byte, s string) {
		switch kind {
		case 'K':
			w.WriteKey(s)
		case 'S':
			w.WriteString(s)
		case 'N':
			if strings.ContainsAny(s, ".eE") {
				f, _ := strconv.ParseFloat(s, 64)
				w.WriteFloat64(f)
			} else if v, err := strconv.ParseInt(s, 10, 64); err == nil {
				w.WriteInt64(v)
			} else {
				_ = w.WriteJSON([]byte(s)) // beyond int64: the API has no BigInteger method
			}
		default:
			switch s {
			case "{":
				w.WriteStartObject()
			case "}":
				w.WriteEndObject()
			case "[":
				w.WriteStartArray()
			case "]":
				w.WriteEndArray()
			case "true", "false":
				w.WriteBool(s == "true")
			case "null":
				w.WriteNull()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// --- generated documents ---

// smileRandomJSON returns a random JSON value: keys from a small pool (so names are shared) plus unique ones,
// strings of every length class, numbers of every type.
func smileRandomJSON(rng *rand.Rand, depth int) []byte {
	var b bytes.Buffer
	smileRandomValue(rng, &b, depth)
	return b.Bytes()
}

var smileRandomPieces = []string{"a", "é", "€", "😀", "\U0010FFFF", "\\u0000", "\\u001f", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", "x", "yz", " "}

func smileRandomString(rng *rand.Rand) string {
	var s strings.Builder
	n := []int{0, 1, 5, 20, 40, 70}[rng.IntN(6)]
	for range n {
		s.WriteString(smileRandomPieces[rng.IntN(len(smileRandomPieces))])
	}
	return s.String()
}

func smileRandomValue(rng *rand.Rand, b *bytes.Buffer, depth int) {
	k := rng.IntN(10)
	if depth <= 0 {
		k = 2 + rng.IntN(8)
	}
	switch k {
	case 0:
		b.WriteByte('{')
		for i := range rng.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			if rng.IntN(3) == 0 {
				fmt.Fprintf(b, `"%s":`, smileRandomString(rng))
			} else {
				fmt.Fprintf(b, `"key%d":`, rng.IntN(20))
			}
			smileRandomValue(rng, b, depth-1)
		}
		b.WriteByte('}')
	case 1:
		b.WriteByte('[')
		for i := range rng.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			smileRandomValue(rng, b, depth-1)
		}
		b.WriteByte(']')
	case 2, 3:
		fmt.Fprintf(b, `"%s"`, smileRandomString(rng))
	case 4:
		fmt.Fprintf(b, "%d", rng.Int64()>>rng.IntN(64))
	case 5:
		fmt.Fprintf(b, "%d", -(rng.Int64() >> rng.IntN(64)))
	case 6:
		fmt.Fprintf(b, "%d%09d", rng.Int64(), rng.IntN(1e9)) // beyond int64
	case 7:
		f := strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)), 'g', -1, 64)
		if !strings.ContainsAny(f, "e.") {
			f += []string{".0", "e1", "E-2"}[rng.IntN(3)]
		}
		b.WriteString(f)
	case 8:
		b.WriteString([]string{"true", "false", "null"}[rng.IntN(3)])
	default:
		fmt.Fprintf(b, "%d", rng.IntN(64)-32)
	}
}

// smileSegmentsJSON returns n DataSegment JSON documents shaped like Druid's. With extra set, they also carry
// what makes the shared-name table work hard: a key unique to each segment (so 2000 segments overflow the
// 1024-entry table and reset it), long ASCII and Unicode keys, empty keys, non-BMP strings and doubles.
func smileSegmentsJSON(n int, extra bool) [][]byte {
	segs := make([][]byte, n)
	var b bytes.Buffer
	for i := range segs {
		b.Reset()
		day := i % 365
		start := fmt.Sprintf("2024-%02d-%02dT%02d:00:00.000Z", 1+day/31%12, 1+day%28, i%24)
		end := fmt.Sprintf("2024-%02d-%02dT%02d:59:59.999Z", 1+day/31%12, 1+day%28, i%24)
		ds := []string{"wikipedia", "metrics-prod", "clickstream", "wikipédia-ß", "日志"}[i%5]
		version := fmt.Sprintf("2024-06-%02dT12:34:56.%03dZ", 1+i%28, i%1000)
		id := fmt.Sprintf("%s_%s_%s_%s_%d", ds, start, end, version, i%7)
		fmt.Fprintf(&b, `{"dataSource":%s,"interval":"%s/%s","version":%s,`, smileQ(ds), start, end, smileQ(version))
		fmt.Fprintf(&b, `"loadSpec":{"type":"s3_zip","bucket":"druid-deep-storage","key":"druid/segments/%s/%s_%s/%s/%d/index.zip","S3Schema":"s3n"},`, ds, start, end, version, i%7)
		b.WriteString(`"dimensions":"channel,cityName,comment,countryIsoCode,countryName,isAnonymous,isMinor,isNew,isRobot,isUnpatrolled,namespace,page,regionIsoCode,regionName,user",`)
		b.WriteString(`"metrics":"count,sum_added,sum_commentLength,sum_deleted,sum_delta,sum_deltaBucket",`)
		if i%3 == 0 {
			fmt.Fprintf(&b, `"shardSpec":{"type":"numbered","partitionNum":%d,"partitions":7},`, i%7)
		} else {
			fmt.Fprintf(&b, `"shardSpec":{"type":"range","dimensions":["countryName"],"start":%s,"end":null,"partitionNum":%d,"numCorePartitions":7},`, smileQ([]string{"", "Brazil", "Österreich"}[i%3]), i%7)
		}
		if i%4 == 0 {
			b.WriteString(`"lastCompactionState":{"partitionsSpec":{"type":"dynamic","maxRowsPerSegment":5000000,"maxTotalRows":null},` +
				`"dimensionsSpec":{"dimensions":[{"type":"string","name":"channel","multiValueHandling":"SORTED_ARRAY","createBitmapIndex":true}]},` +
				`"metricsSpec":[{"type":"longSum","name":"sum_added","fieldName":"added"}],"transformSpec":{"filter":null},` +
				`"indexSpec":{"bitmap":{"type":"roaring"},"dimensionCompression":"lz4","metricCompression":"lz4","longEncoding":"longs"},` +
				`"granularitySpec":{"type":"uniform","segmentGranularity":"HOUR","queryGranularity":{"type":"none"},"rollup":false,"intervals":[]}},`)
		}
		if extra {
			fmt.Fprintf(&b, `"tuning":{"seg-%06d-key":%d,"freeSpacePercent":%g,"ratio":%g,"":%s,"note":"%s"},`,
				i, i, float64(i%100)+0.25, 1/float64(i+1), smileQ("😀 non-BMP \U0001F600 and \U0010FFFF"),
				strings.Repeat("long string ", 1+i%10))
			if i%7 == 0 {
				fmt.Fprintf(&b, `"%s":%d,"%s":true,`, strings.Repeat("very-long-property-name-", 3)+strconv.Itoa(i%3),
					int64(i)<<33, strings.Repeat("ünïcödé-", 4)+strconv.Itoa(i%2))
			}
		}
		fmt.Fprintf(&b, `"binaryVersion":9,"size":%d,"identifier":%s}`, int64(i)*7919*1031+int64(i%3)<<31, smileQ(id))
		segs[i] = bytes.Clone(b.Bytes())
	}
	return segs
}

// smileQ quotes s as a JSON string.
func smileQ(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// smileSnapshotEnvelope wraps segments into a ChangeRequestsSnapshot JSON with one load request each.
func smileSnapshotEnvelope(segments [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resetCounter":false,"resetCause":null,"counter":{"counter":1234567,"hash":1730000000123},"requests":[`)
	for i, seg := range segments {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"action":"load",`)
		b.Write(seg[1:])
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func smileSnapshotJSON(n int, extra bool) []byte {
	return smileSnapshotEnvelope(smileSegmentsJSON(n, extra))
}

// smileWriteSnapshotMembers writes the snapshot the way the inventory handler will: the envelope through the
// API and each request as {"action":"load", <members of the stored DataSegment JSON>}.
func smileWriteSnapshotMembers(t testing.TB, w *jackson.SmileWriter, segments [][]byte) {
	w.WriteStartObject()
	w.WriteKey("resetCounter")
	w.WriteBool(false)
	w.WriteKey("resetCause")
	w.WriteNull()
	w.WriteKey("counter")
	w.WriteStartObject()
	w.WriteKey("counter")
	w.WriteInt64(1234567)
	w.WriteKey("hash")
	w.WriteInt64(1730000000123)
	w.WriteEndObject()
	w.WriteKey("requests")
	w.WriteStartArray()
	for _, seg := range segments {
		w.WriteStartObject()
		w.WriteKey("action")
		w.WriteString("load")
		if err := w.WriteJSONMembers(seg); err != nil {
			t.Fatal(err)
		}
		w.WriteEndObject()
	}
	w.WriteEndArray()
	w.WriteEndObject()
}

// --- benchmarks: go test -run='^$' -bench=Smile ./announcer ---

// smileBenchSegment is a DataSegment as a Go value, for the typed-API and encoding/json benchmarks.
type smileBenchSegment struct {
	DataSource    string              `json:"dataSource"`
	Interval      string              `json:"interval"`
	Version       string              `json:"version"`
	LoadSpec      smileBenchLoadSpec  `json:"loadSpec"`
	Dimensions    string              `json:"dimensions"`
	Metrics       string              `json:"metrics"`
	ShardSpec     smileBenchShardSpec `json:"shardSpec"`
	BinaryVersion int                 `json:"binaryVersion"`
	Size          int64               `json:"size"`
	Identifier    string              `json:"identifier"`
}

type smileBenchLoadSpec struct {
	Type     string `json:"type"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	S3Schema string `json:"S3Schema"`
}

type smileBenchShardSpec struct {
	Type         string `json:"type"`
	PartitionNum int    `json:"partitionNum"`
	Partitions   int    `json:"partitions"`
}

type smileBenchRequest struct {
	Action string `json:"action"`
	smileBenchSegment
}

type smileBenchSnapshot struct {
	ResetCounter bool    `json:"resetCounter"`
	ResetCause   *string `json:"resetCause"`
	Counter      struct {
		Counter int64 `json:"counter"`
		Hash    int64 `json:"hash"`
	} `json:"counter"`
	Requests []smileBenchRequest `json:"requests"`
}

const smileBenchSegments = 100_000

var smileBench struct {
	once     sync.Once
	snapshot smileBenchSnapshot
	raw      [][]byte // each segment's JSON, as the handler would keep it
	json     []byte   // the whole snapshot as JSON
}

func smileBenchData(b *testing.B) {
	b.Helper()
	smileBench.once.Do(func() {
		s := &smileBench.snapshot
		s.Counter.Counter, s.Counter.Hash = 1234567, 1730000000123
		for _, raw := range smileSegmentsJSON(smileBenchSegments, false) {
			var seg smileBenchSegment
			if err := json.Unmarshal(raw, &seg); err != nil {
				panic(err)
			}
			if seg.ShardSpec.Type != "numbered" { // keep the typed model simple: numbered shards only
				seg.ShardSpec = smileBenchShardSpec{Type: "numbered", PartitionNum: seg.ShardSpec.PartitionNum, Partitions: 7}
			}
			s.Requests = append(s.Requests, smileBenchRequest{Action: "load", smileBenchSegment: seg})
			segJSON, err := json.Marshal(seg)
			if err != nil {
				panic(err)
			}
			smileBench.raw = append(smileBench.raw, segJSON)
		}
		var err error
		if smileBench.json, err = json.Marshal(s); err != nil {
			panic(err)
		}
	})
}

func smileWriteTypedSnapshot(w *jackson.SmileWriter, s *smileBenchSnapshot) {
	w.WriteStartObject()
	w.WriteKey("resetCounter")
	w.WriteBool(s.ResetCounter)
	w.WriteKey("resetCause")
	w.WriteNull()
	w.WriteKey("counter")
	w.WriteStartObject()
	w.WriteKey("counter")
	w.WriteInt64(s.Counter.Counter)
	w.WriteKey("hash")
	w.WriteInt64(s.Counter.Hash)
	w.WriteEndObject()
	w.WriteKey("requests")
	w.WriteStartArray()
	for i := range s.Requests {
		r := &s.Requests[i]
		w.WriteStartObject()
		w.WriteKey("action")
		w.WriteString(r.Action)
		w.WriteKey("dataSource")
		w.WriteString(r.DataSource)
		w.WriteKey("interval")
		w.WriteString(r.Interval)
		w.WriteKey("version")
		w.WriteString(r.Version)
		w.WriteKey("loadSpec")
		w.WriteStartObject()
		w.WriteKey("type")
		w.WriteString(r.LoadSpec.Type)
		w.WriteKey("bucket")
		w.WriteString(r.LoadSpec.Bucket)
		w.WriteKey("key")
		w.WriteString(r.LoadSpec.Key)
		w.WriteKey("S3Schema")
		w.WriteString(r.LoadSpec.S3Schema)
		w.WriteEndObject()
		w.WriteKey("dimensions")
		w.WriteString(r.Dimensions)
		w.WriteKey("metrics")
		w.WriteString(r.Metrics)
		w.WriteKey("shardSpec")
		w.WriteStartObject()
		w.WriteKey("type")
		w.WriteString(r.ShardSpec.Type)
		w.WriteKey("partitionNum")
		w.WriteInt64(int64(r.ShardSpec.PartitionNum))
		w.WriteKey("partitions")
		w.WriteInt64(int64(r.ShardSpec.Partitions))
		w.WriteEndObject()
		w.WriteKey("binaryVersion")
		w.WriteInt64(int64(r.BinaryVersion))
		w.WriteKey("size")
		w.WriteInt64(r.Size)
		w.WriteKey("identifier")
		w.WriteString(r.Identifier)
		w.WriteEndObject()
	}
	w.WriteEndArray()
	w.WriteEndObject()
}

type smileByteCounter struct{ n int }

func (c *smileByteCounter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// BenchmarkSmileSnapshot encodes a 100,000-segment ChangeRequestsSnapshot four ways and reports the document
// size: encoding/json of Go values (the JSON body Druid would reject), the SmileWriter API from the same Go
// values, and the handler's likely path, WriteJSONMembers over each segment's stored JSON, against the JSON
// equivalent of that path (concatenating the stored JSON).
func BenchmarkSmileSnapshot(b *testing.B) {
	smileBenchData(b)
	s := &smileBench.snapshot
	b.Run("json-marshal", func(b *testing.B) {
		var out []byte
		for b.Loop() {
			var err error
			if out, err = json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(out)), "bytes/doc")
	})
	b.Run("smile-writer", func(b *testing.B) {
		var c smileByteCounter
		w := jackson.NewSmileWriter(&c)
		for b.Loop() {
			c.n = 0
			w.Reset(&c)
			smileWriteTypedSnapshot(w, s)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c.n), "bytes/doc")
	})
	b.Run("json-raw-concat", func(b *testing.B) {
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			out.WriteString(`{"resetCounter":false,"resetCause":null,"counter":{"counter":1234567,"hash":1730000000123},"requests":[`)
			for i, raw := range smileBench.raw {
				if i > 0 {
					out.WriteByte(',')
				}
				out.WriteString(`{"action":"load",`)
				out.Write(raw[1:])
			}
			out.WriteString("]}")
		}
		b.ReportMetric(float64(out.Len()), "bytes/doc")
	})
	b.Run("smile-json-members", func(b *testing.B) {
		var c smileByteCounter
		w := jackson.NewSmileWriter(&c)
		for b.Loop() {
			c.n = 0
			w.Reset(&c)
			smileWriteSnapshotMembers(b, w, smileBench.raw)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c.n), "bytes/doc")
	})
}

// BenchmarkSmileTranscode compares the hand-written JSON scanner (JSONToSmile) with encoding/json.Decoder.Token
// driving the SmileWriter API, on the whole 100,000-segment snapshot JSON.
func BenchmarkSmileTranscode(b *testing.B) {
	smileBenchData(b)
	data := smileBench.json
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var out []byte
		for b.Loop() {
			var err error
			if out, err = jackson.JSONToSmile(out[:0], data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(out)), "bytes/doc")
	})
	b.Run("decoder-token", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var out []byte
		for b.Loop() {
			var err error
			if out, err = smileTranscodeWithDecoder(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(out)), "bytes/doc")
	})
}
