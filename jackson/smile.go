package jackson

// Smile encoder for the HTTP segment inventory.
//
// Brokers and Coordinators long-poll GET /druid-internal/v1/segments with Accept: application/x-jackson-smile
// and read the body with Jackson's SmileParser, which by default refuses a body without the Smile header
// (docs: druid-protocol.md 4.1 and trap 2). This file writes Smile as specified in
// FasterXML/smile-format-specification (smile-specification.md, 1.0.4) and, wherever the specification leaves a
// choice, exactly as Jackson's own SmileGenerator with its default features does, so that Jackson reads back
// the same token stream it would read from the equivalent JSON (smile_interop_test.go checks this against the
// real Jackson parser).
//
// Every unexported package-level identifier in this file starts with "smile", because other files of this
// package are written independently.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Header: ":)\n" and the version/flags byte. Version 0 with only the "shared property names" bit (0x01) set is
// what Jackson's generator writes by default: shared names on, shared string values off, no raw binary.
const smileHeader = ":)\n\x01"

// Value-mode tokens.
const (
	smileTokEmptyString = 0x20 // ""
	smileTokNull        = 0x21
	smileTokFalse       = 0x22
	smileTokTrue        = 0x23
	smileTokInt32       = 0x24 // zigzag VInt, 1-5 bytes
	smileTokInt64       = 0x25 // zigzag VInt, 5-10 bytes
	smileTokBigInteger  = 0x26 // unsigned VInt byte length, then 7-bit encoded two's complement bytes
	smileTokFloat64     = 0x29 // 64 bits in ten 7-bit bytes, right-aligned
	smileTokTinyASCII   = 0x40 // + (length-1), lengths 1-32; 0x60 + (length-33) continues it for 33-64
	smileTokTinyUnicode = 0x80 // + (length-2), byte lengths 2-33; 0xA0 + (length-34) continues it up to 65
	smileTokSmallInt    = 0xC0 // + zigzag value, -16..15
	smileTokLongASCII   = 0xE0 // bytes, then smileEndOfString
	smileTokLongUnicode = 0xE4 // bytes, then smileEndOfString
	smileTokStartArray  = 0xF8
	smileTokEndArray    = 0xF9
	smileTokStartObject = 0xFA
	smileTokEndObject   = 0xFB // only in key mode
	smileEndOfString    = 0xFC // never part of valid UTF-8, so it can terminate variable-length strings
)

// Key-mode tokens.
const (
	smileKeyEmpty      = 0x20 // the empty name ""
	smileKeyLongRef    = 0x30 // 0x30-0x33: two-byte back-reference, 10-bit index 64-1023
	smileKeyLong       = 0x34 // name bytes, then smileEndOfString
	smileKeyShortRef   = 0x40 // 0x40-0x7F: one-byte back-reference, index 0-63
	smileKeyShortASCII = 0x80 // + (length-1), ASCII names of 1-64 bytes
	smileKeyShortUTF8  = 0xC0 // + (length-2), non-ASCII names of 2-56 bytes
)

// Length limits, as Jackson's SmileConstants has them.
const (
	smileMaxShortValueBytes    = 64   // longer value strings use the 0xE0/0xE4 ... 0xFC forms
	smileMaxShortASCIIKeyBytes = 64   // longer ASCII names use 0x34 ... 0xFC
	smileMaxShortUTF8KeyBytes  = 56   // the specification allows 57 (0xF7) but Jackson writes at most 56; we follow Jackson
	smileMaxSharedNames        = 1024 // the 10-bit back-reference space
	smileSmallIntMin           = -16
	smileSmallIntMax           = 15
)

// smileFlushThreshold is the buffered size above which a SmileWriter with an io.Writer hands its buffer on: big
// enough that a socket sees few small writes, small enough that a 100,000-segment snapshot is not held in memory.
const smileFlushThreshold = 32 << 10

// Container states on a SmileWriter's stack.
const (
	smileCtxObjectKey   byte = iota + 1 // inside an object, a key or the end of the object must come next
	smileCtxObjectValue                 // inside an object, a key was written and its value must come next
	smileCtxArray                       // inside an array
)

// A SmileWriter streams Smile-encoded values to an io.Writer without building a tree first, for the segment
// inventory's Smile responses. The document starts with the 4-byte header; call the Write methods in document
// order (WriteStartObject, WriteKey, a value, ..., WriteEndObject) and finish with Close.
//
// The Write methods return nothing: the first misuse (a value where a key is due, an unbalanced end, ...) or
// write error is kept and every later call does nothing; Err, Flush and Close report it. Output is buffered and
// handed to the io.Writer in chunks of about 32 KiB, so an error can surface after earlier parts of the document
// were already written: a caller must then abandon the whole response. A SmileWriter is not safe for concurrent
// use.
//
// Several root values may follow each other, as Smile and Jackson allow; the inventory writes exactly one.
type SmileWriter struct {
	out     io.Writer
	buf     []byte
	err     error
	stack   []byte         // one smileCtx* per open container
	names   smileNameTable // the shared property-name table, mirrored from what the parser will build
	scratch []byte         // decoded JSON strings that contain escapes
	roots   int            // root values started
}

// NewSmileWriter returns a SmileWriter that writes one Smile document, header included, to w.
func NewSmileWriter(w io.Writer) *SmileWriter {
	sw := &SmileWriter{}
	sw.Reset(w)
	return sw
}

// Reset discards any unflushed output and error and starts a new document (with its header) on out, reusing the
// writer's buffers, so a pooled SmileWriter serves many responses.
func (w *SmileWriter) Reset(out io.Writer) {
	w.out = out
	w.buf = append(w.buf[:0], smileHeader...)
	w.err = nil
	w.stack = w.stack[:0]
	w.names.reset()
	w.roots = 0
}

// Err returns the first error the writer met, or nil.
func (w *SmileWriter) Err() error { return w.err }

// Flush writes the buffered output to the underlying io.Writer and returns the writer's first error. It may be
// called in the middle of a document, for example before flushing an HTTP response.
func (w *SmileWriter) Flush() error {
	if w.err == nil && w.out != nil && len(w.buf) > 0 {
		w.flushBuffer()
	}
	return w.err
}

// Close checks that the document is complete (at least one root value, every container closed) and flushes it.
// It does not close the underlying io.Writer and writes no end-of-content marker (0xFF), as Jackson does not.
func (w *SmileWriter) Close() error {
	if w.err == nil {
		switch {
		case len(w.stack) > 0:
			w.err = fmt.Errorf("smile writer: Close called with %d object or array still open", len(w.stack))
		case w.roots == 0:
			w.err = errors.New("smile writer: Close called before any value was written")
		}
	}
	return w.Flush()
}

// WriteStartObject starts an object; write its members with WriteKey and a value each, then WriteEndObject.
func (w *SmileWriter) WriteStartObject() {
	if w.beforeValue("WriteStartObject") {
		w.buf = append(w.buf, smileTokStartObject)
		w.stack = append(w.stack, smileCtxObjectKey)
		w.maybeFlush()
	}
}

// WriteEndObject ends the innermost object.
func (w *SmileWriter) WriteEndObject() {
	if w.err != nil {
		return
	}
	n := len(w.stack)
	if n == 0 || w.stack[n-1] != smileCtxObjectKey {
		w.misuse("WriteEndObject")
		return
	}
	w.stack = w.stack[:n-1]
	w.buf = append(w.buf, smileTokEndObject)
	w.maybeFlush()
}

// WriteStartArray starts an array; write its elements, then WriteEndArray.
func (w *SmileWriter) WriteStartArray() {
	if w.beforeValue("WriteStartArray") {
		w.buf = append(w.buf, smileTokStartArray)
		w.stack = append(w.stack, smileCtxArray)
		w.maybeFlush()
	}
}

// WriteEndArray ends the innermost array.
func (w *SmileWriter) WriteEndArray() {
	if w.err != nil {
		return
	}
	n := len(w.stack)
	if n == 0 || w.stack[n-1] != smileCtxArray {
		w.misuse("WriteEndArray")
		return
	}
	w.stack = w.stack[:n-1]
	w.buf = append(w.buf, smileTokEndArray)
	w.maybeFlush()
}

// WriteKey writes the name of the next member of the innermost object. A name written before (since the last
// reset of the 1024-entry shared-name table) becomes a one- or two-byte back-reference. Invalid UTF-8 is
// replaced byte by byte with U+FFFD, as encoding/json does, because Jackson cannot decode it.
func (w *SmileWriter) WriteKey(name string) {
	if w.err != nil {
		return
	}
	n := len(w.stack)
	if n == 0 || w.stack[n-1] != smileCtxObjectKey {
		w.misuse("WriteKey")
		return
	}
	w.stack[n-1] = smileCtxObjectValue
	if name == "" {
		w.buf = append(w.buf, smileKeyEmpty)
		return
	}
	if ix, ok := w.names.index[name]; ok {
		w.buf = smileAppendKeyRef(w.buf, int(ix))
		return
	}
	ascii, valid := smileCheckUTF8(name)
	if !valid {
		name = smileToValidUTF8(name)
		ascii = false
		if ix, ok := w.names.index[name]; ok {
			w.buf = smileAppendKeyRef(w.buf, int(ix))
			return
		}
	}
	w.buf = smileAppendKeyLiteral(w.buf, name, ascii)
	w.names.add(name)
	w.maybeFlush()
}

// WriteString writes a string value. Invalid UTF-8 is replaced byte by byte with U+FFFD, as encoding/json does.
// Values are never back-referenced: the header announces that shared string values are off, as Jackson's
// default does, so the parser keeps no table for them.
func (w *SmileWriter) WriteString(s string) {
	if !w.beforeValue("WriteString") {
		return
	}
	ascii, valid := smileCheckUTF8(s)
	if !valid {
		s = smileToValidUTF8(s)
		ascii = false
	}
	w.buf = smileAppendString(w.buf, s, ascii)
	w.maybeFlush()
}

// WriteInt64 writes an integer: values from -16 to 15 in one byte, other values of the int32 range as a 32-bit
// integer and the rest as a 64-bit integer. That is what Jackson's writeNumber(long) does, and it makes Jackson
// report the same number type (INT or LONG) it reports for the same number in JSON.
func (w *SmileWriter) WriteInt64(v int64) {
	if w.beforeValue("WriteInt64") {
		w.buf = smileAppendInt(w.buf, v)
		w.maybeFlush()
	}
}

// WriteFloat64 writes a 64-bit IEEE double (token 0x29), bit for bit, so NaN and the infinities survive (JSON
// cannot carry them, Smile can). Jackson reads it as a DOUBLE.
func (w *SmileWriter) WriteFloat64(f float64) {
	if w.beforeValue("WriteFloat64") {
		w.buf = smileAppendFloat64(w.buf, f)
		w.maybeFlush()
	}
}

// WriteBool writes true or false.
func (w *SmileWriter) WriteBool(b bool) {
	if w.beforeValue("WriteBool") {
		if b {
			w.buf = append(w.buf, smileTokTrue)
		} else {
			w.buf = append(w.buf, smileTokFalse)
		}
		w.maybeFlush()
	}
}

// WriteNull writes null.
func (w *SmileWriter) WriteNull() {
	if w.beforeValue("WriteNull") {
		w.buf = append(w.buf, smileTokNull)
		w.maybeFlush()
	}
}

// WriteJSON transcodes one JSON value (for example a DataSegment's stored JSON) into Smile at the current
// position, without building a tree. Numbers follow Jackson's reading of JSON: integers that fit int32 become
// int32, those that fit int64 become int64, larger ones a BigInteger, and numbers with a fraction or exponent a
// double. Strings are decoded as encoding/json decodes them. Invalid JSON yields a *SmileJSONError naming the
// byte offset in raw; like every error it is kept, so the document is lost.
func (w *SmileWriter) WriteJSON(raw []byte) error {
	if !w.beforeValue("WriteJSON") {
		return w.err
	}
	if err := w.transcode(raw, false); err != nil {
		w.err = err
		return err
	}
	w.maybeFlush()
	return nil
}

// WriteJSONMembers transcodes the members of the JSON object obj into the innermost open object, as if each of
// its keys and values had been written here. The inventory needs this because Druid writes a change request as
// {"action":"load", <the DataSegment's own members>} (@JsonUnwrapped). Errors are as for WriteJSON.
func (w *SmileWriter) WriteJSONMembers(obj []byte) error {
	if w.err != nil {
		return w.err
	}
	if n := len(w.stack); n == 0 || w.stack[n-1] != smileCtxObjectKey {
		w.misuse("WriteJSONMembers")
		return w.err
	}
	if err := w.transcode(obj, true); err != nil {
		w.err = err
		return err
	}
	w.maybeFlush()
	return nil
}

// JSONToSmile appends to dst the Smile document (header included) for the single JSON value in data, which may
// be surrounded by JSON whitespace, and returns the extended slice. Numbers and strings are handled as by
// WriteJSON. On invalid JSON it returns dst (whose spare capacity may have been written to) and a
// *SmileJSONError.
func JSONToSmile(dst []byte, data []byte) ([]byte, error) {
	w := SmileWriter{buf: append(dst, smileHeader...), roots: 1}
	if err := w.transcode(data, false); err != nil {
		return dst, err
	}
	return w.buf, nil
}

// SmileJSONError reports invalid JSON given to WriteJSON, WriteJSONMembers or JSONToSmile.
type SmileJSONError struct {
	Offset int    // byte offset in the input at which the problem was found
	Reason string // what was wrong there
}

func (e *SmileJSONError) Error() string {
	return fmt.Sprintf("cannot encode JSON as Smile: invalid JSON at byte offset %d: %s", e.Offset, e.Reason)
}

// beforeValue checks that a value may be written now and moves an object from "value due" back to "key due".
func (w *SmileWriter) beforeValue(op string) bool {
	if w.err != nil {
		return false
	}
	if n := len(w.stack); n > 0 {
		switch w.stack[n-1] {
		case smileCtxObjectKey:
			w.misuse(op)
			return false
		case smileCtxObjectValue:
			w.stack[n-1] = smileCtxObjectKey
		}
	} else {
		w.roots++
	}
	return true
}

// misuse records a call made in the wrong place, naming what the document needed there.
func (w *SmileWriter) misuse(op string) {
	var want string
	if n := len(w.stack); n == 0 {
		want = "no object or array is open"
	} else {
		switch w.stack[n-1] {
		case smileCtxObjectKey:
			want = "an object key (WriteKey) or WriteEndObject is due"
		case smileCtxObjectValue:
			want = "the value of the last key is due"
		default:
			want = "an array element or WriteEndArray is due"
		}
	}
	w.err = fmt.Errorf("smile writer: %s called where %s", op, want)
}

func (w *SmileWriter) maybeFlush() {
	if w.out != nil && len(w.buf) >= smileFlushThreshold {
		w.flushBuffer()
	}
}

func (w *SmileWriter) flushBuffer() {
	if _, err := w.out.Write(w.buf); err != nil {
		w.err = fmt.Errorf("writing the Smile document: %w", err)
		return
	}
	w.buf = w.buf[:0]
}

// smileNameTable mirrors the parser's table of shared property names. The specification: every name written in
// full is appended; when the table already holds 1024 names it is emptied first, and indices count from the
// start of the table, not backwards. Two details follow Jackson rather than the letter of the specification,
// because Jackson's parser is what reads our output:
//   - Names longer than 64 bytes (token 0x34) are appended as well. The specification's 64-byte limit is stated
//     for shared string values; Jackson's generator and parser (since at least 2.7, unchanged in 2.18) both add
//     long names to the name table, so skipping them would shift every later index the parser resolves.
//   - An index whose low byte is 0xFE or 0xFF is never referenced (the name is written in full again, taking a
//     new slot), as Jackson's generator avoids those bytes in back-references; the parser still counts the slot.
//
// The empty name has its own token and never enters the table, in Jackson's generator and parser alike.
type smileNameTable struct {
	index map[string]uint16 // referenceable names → their index
	count int               // slots used since the last reset
}

func (t *smileNameTable) add(name string) {
	if t.count == smileMaxSharedNames {
		clear(t.index)
		t.count = 0
	}
	if t.count&0xFF < 0xFE {
		if t.index == nil {
			t.index = make(map[string]uint16, 64)
		}
		t.index[name] = uint16(t.count)
	}
	t.count++
}

func (t *smileNameTable) reset() {
	clear(t.index)
	t.count = 0
}

// smileAppendKeyRef appends a back-reference to shared name ix: one byte below 64, else two bytes (0x30 | the
// index's two high bits, then its low byte), because the two-byte form must not be used for 0-63.
func smileAppendKeyRef(buf []byte, ix int) []byte {
	if ix < 64 {
		return append(buf, smileKeyShortRef+byte(ix))
	}
	return append(buf, smileKeyLongRef|byte(ix>>8), byte(ix))
}

// smileAppendKeyLiteral writes a non-empty name in full. Jackson's choice, followed here: ASCII names of up to 64
// bytes and other names of up to 56 bytes get a length-prefixed token, longer ones 0x34 ... 0xFC.
func smileAppendKeyLiteral[T string | []byte](buf []byte, name T, ascii bool) []byte {
	n := len(name)
	switch {
	case ascii && n <= smileMaxShortASCIIKeyBytes:
		buf = append(buf, smileKeyShortASCII+byte(n-1))
		return append(buf, name...)
	case !ascii && n <= smileMaxShortUTF8KeyBytes:
		buf = append(buf, smileKeyShortUTF8+byte(n-2))
		return append(buf, name...)
	default:
		buf = append(buf, smileKeyLong)
		buf = append(buf, name...)
		return append(buf, smileEndOfString)
	}
}

// smileAppendString writes a string value: "" as 0x20; up to 64 bytes with a length-prefixed token (the ASCII
// tokens say "bytes are characters", the Unicode ones cover any UTF-8); longer strings as 0xE0 (all ASCII) or
// 0xE4 followed by the bytes and 0xFC. The short Unicode form could reach 65 bytes, but Jackson stops at 64, as
// do we.
func smileAppendString[T string | []byte](buf []byte, s T, ascii bool) []byte {
	n := len(s)
	switch {
	case n == 0:
		return append(buf, smileTokEmptyString)
	case n <= smileMaxShortValueBytes && ascii:
		buf = append(buf, smileTokTinyASCII+byte(n-1))
		return append(buf, s...)
	case n <= smileMaxShortValueBytes:
		buf = append(buf, smileTokTinyUnicode+byte(n-2))
		return append(buf, s...)
	case ascii:
		buf = append(buf, smileTokLongASCII)
	default:
		buf = append(buf, smileTokLongUnicode)
	}
	buf = append(buf, s...)
	return append(buf, smileEndOfString)
}

// smileAppendInt writes v in the smallest of the small-int, int32 and int64 forms that holds it. Zigzag maps
// 0, -1, 1, -2, ... to 0, 1, 2, 3, ...; the value is the same whether computed on 32 or 64 bits.
func smileAppendInt(buf []byte, v int64) []byte {
	zz := uint64(v<<1) ^ uint64(v>>63)
	switch {
	case v >= smileSmallIntMin && v <= smileSmallIntMax:
		return append(buf, smileTokSmallInt+byte(zz))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return smileAppendVInt(append(buf, smileTokInt32), zz)
	default:
		return smileAppendVInt(append(buf, smileTokInt64), zz)
	}
}

// smileAppendVInt writes u as a Smile VInt: big-endian groups of 7 bits in bytes with the high bit clear, then a
// last byte with the high bit set holding the 6 lowest bits (bit 6 clear, so the byte is never 0xC0-0xFF). It
// uses the fewest bytes, as Jackson does; a value needing 33 or more bits therefore takes at least 5 bytes,
// which Jackson's parser requires of the int64 form.
func smileAppendVInt(buf []byte, u uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = 0x80 | byte(u&0x3F)
	for u >>= 6; u != 0; u >>= 7 {
		i--
		tmp[i] = byte(u & 0x7F)
	}
	return append(buf, tmp[i:]...)
}

// smileAppendFloat64 writes a double: token 0x29, then its 64 IEEE bits right-aligned in ten 7-bit bytes (the
// first byte carries only the sign bit), as Jackson's writeNumber(double) does with doubleToRawLongBits.
func smileAppendFloat64(buf []byte, f float64) []byte {
	b := math.Float64bits(f)
	return append(buf, smileTokFloat64,
		byte(b>>63), byte(b>>56)&0x7F, byte(b>>49)&0x7F, byte(b>>42)&0x7F, byte(b>>35)&0x7F,
		byte(b>>28)&0x7F, byte(b>>21)&0x7F, byte(b>>14)&0x7F, byte(b>>7)&0x7F, byte(b)&0x7F)
}

// smileAppendBigInteger writes an integer beyond int64 as Jackson's writeNumber(BigInteger) does: token 0x26,
// the byte length of Java's BigInteger.toByteArray() as an unsigned (not zigzagged) VInt, then those bytes in
// 7-bit encoding.
func smileAppendBigInteger(buf []byte, x *big.Int) []byte {
	raw := smileJavaBigIntegerBytes(x)
	buf = smileAppendVInt(append(buf, smileTokBigInteger), uint64(len(raw)))
	return smileAppend7Bit(buf, raw)
}

// smileJavaBigIntegerBytes returns what Java's BigInteger.toByteArray returns: the shortest big-endian two's
// complement form that keeps a sign bit, bitLength()/8+1 bytes.
func smileJavaBigIntegerBytes(x *big.Int) []byte {
	bitLen := x.BitLen()
	if x.Sign() < 0 {
		bitLen = new(big.Int).Sub(new(big.Int).Neg(x), big.NewInt(1)).BitLen() // Java's bitLength of a negative
	}
	n := bitLen/8 + 1
	v := new(big.Int).Set(x)
	if x.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n))) // 2^(8n) + x: the two's complement bits
	}
	return v.FillBytes(make([]byte, n))
}

// smileAppend7Bit writes data 7 bits per byte, as Jackson's _write7BitBinaryWithLength does: every 7 input bytes
// become 8 output bytes; a final group of n < 7 bytes becomes n bytes of 7 bits followed by one byte holding the
// remaining n bits in its low bits (Jackson right-aligns this last byte, and its parser expects that).
func smileAppend7Bit(buf []byte, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), 7)
		var v uint64
		for _, b := range data[:n] {
			v = v<<8 | uint64(b)
		}
		bits := 8 * n
		for k := 1; k <= n; k++ {
			buf = append(buf, byte(v>>(bits-7*k))&0x7F)
		}
		buf = append(buf, byte(v&(1<<(bits-7*n)-1)))
		data = data[n:]
	}
	return buf
}

// smileCheckUTF8 reports whether s is all ASCII and whether it is valid UTF-8.
func smileCheckUTF8(s string) (ascii, valid bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false, utf8.ValidString(s[i:])
		}
	}
	return true, true
}

// smileToValidUTF8 replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD, one replacement
// per byte, which is what encoding/json does when it marshals or unmarshals such a string.
func smileToValidUTF8(s string) string {
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return string(out)
}

// JSON transcoding: a hand-written scanner that emits Smile tokens as it goes. It is several times faster than
// driving the writer from encoding/json.Decoder.Token (see BenchmarkSmileTranscode), allocates only for names
// entering the shared-name table and for numbers too large for int64, and accepts exactly the JSON that
// encoding/json accepts (RFC 8259, any bytes in strings), apart from encoding/json's nesting limit of 10000:
// nesting is bounded only by memory here.

// States of the transcoder's loop.
const (
	smileJSONValue = iota // a value must come next
	smileJSONAfter        // a value has just ended
	smileJSONKey          // an object key must come next
)

// smileJSONPlain marks the bytes that stand for themselves inside a JSON string: printable ASCII except '"' and
// '\\'.
var smileJSONPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// transcode writes the Smile tokens of the JSON value in data (or, with members set, of the members of the JSON
// object in data, without its braces) to w.buf, using w.stack for the containers it opens.
func (w *SmileWriter) transcode(data []byte, members bool) error {
	base := len(w.stack)
	buf := w.buf
	i := 0
	state := smileJSONValue
	if members {
		i = SkipSpace(data, 0)
		if i >= len(data) || data[i] != '{' {
			return smileJSONErr(data, i, "expected a JSON object")
		}
		w.stack = append(w.stack, smileCtxObjectKey)
		state = smileJSONKey
		if i = SkipSpace(data, i+1); i < len(data) && data[i] == '}' {
			w.stack = w.stack[:base]
			i++
			state = smileJSONAfter
		}
	}
	for {
		switch state {
		case smileJSONValue:
			i = SkipSpace(data, i)
			if i >= len(data) {
				return smileJSONErr(data, i, "expected a value")
			}
			state = smileJSONAfter
			switch c := data[i]; c {
			case '{':
				buf = append(buf, smileTokStartObject)
				if i = SkipSpace(data, i+1); i < len(data) && data[i] == '}' {
					buf = append(buf, smileTokEndObject)
					i++
				} else {
					w.stack = append(w.stack, smileCtxObjectKey)
					state = smileJSONKey
				}
			case '[':
				buf = append(buf, smileTokStartArray)
				if i = SkipSpace(data, i+1); i < len(data) && data[i] == ']' {
					buf = append(buf, smileTokEndArray)
					i++
				} else {
					w.stack = append(w.stack, smileCtxArray)
					state = smileJSONValue
				}
			case '"':
				s, ascii, next, err := w.scanJSONString(data, i)
				if err != nil {
					return err
				}
				buf = smileAppendString(buf, s, ascii)
				i = next
			case 't':
				if len(data)-i < 4 || string(data[i:i+4]) != "true" {
					return smileJSONErr(data, i, "invalid literal, expected true")
				}
				buf = append(buf, smileTokTrue)
				i += 4
			case 'f':
				if len(data)-i < 5 || string(data[i:i+5]) != "false" {
					return smileJSONErr(data, i, "invalid literal, expected false")
				}
				buf = append(buf, smileTokFalse)
				i += 5
			case 'n':
				if len(data)-i < 4 || string(data[i:i+4]) != "null" {
					return smileJSONErr(data, i, "invalid literal, expected null")
				}
				buf = append(buf, smileTokNull)
				i += 4
			default:
				if c != '-' && (c < '0' || c > '9') {
					return smileJSONErr(data, i, "expected a value, found "+smileDescribeByte(c))
				}
				var err error
				if buf, i, err = smileAppendJSONNumber(buf, data, i); err != nil {
					return err
				}
			}

		case smileJSONAfter:
			if len(w.stack) == base {
				if i = SkipSpace(data, i); i < len(data) {
					return smileJSONErr(data, i, "unexpected "+smileDescribeByte(data[i])+" after the JSON value")
				}
				w.buf = buf
				return nil
			}
			if i = SkipSpace(data, i); i >= len(data) {
				return smileJSONErr(data, i, "an object or array is not closed")
			}
			c := data[i]
			i++
			top := len(w.stack) - 1
			if w.stack[top] == smileCtxArray {
				switch c {
				case ',':
					state = smileJSONValue
				case ']':
					w.stack = w.stack[:top]
					buf = append(buf, smileTokEndArray)
				default:
					return smileJSONErr(data, i-1, "expected ',' or ']' after an array element, found "+smileDescribeByte(c))
				}
			} else {
				switch c {
				case ',':
					state = smileJSONKey
				case '}':
					w.stack = w.stack[:top]
					if !members || top != base {
						buf = append(buf, smileTokEndObject)
					}
				default:
					return smileJSONErr(data, i-1, "expected ',' or '}' after an object member, found "+smileDescribeByte(c))
				}
			}
			if w.out != nil && len(buf) >= smileFlushThreshold {
				w.buf = buf
				if w.flushBuffer(); w.err != nil {
					return w.err
				}
				buf = w.buf
			}

		case smileJSONKey:
			if i = SkipSpace(data, i); i >= len(data) || data[i] != '"' {
				if i >= len(data) {
					return smileJSONErr(data, i, "expected an object key")
				}
				return smileJSONErr(data, i, "expected '\"' to start an object key, found "+smileDescribeByte(data[i]))
			}
			s, ascii, next, err := w.scanJSONString(data, i)
			if err != nil {
				return err
			}
			buf = w.appendKeyBytes(buf, s, ascii)
			if i = SkipSpace(data, next); i >= len(data) || data[i] != ':' {
				if i >= len(data) {
					return smileJSONErr(data, i, "expected ':' after an object key")
				}
				return smileJSONErr(data, i, "expected ':' after an object key, found "+smileDescribeByte(data[i]))
			}
			i++
			state = smileJSONValue
		}
	}
}

// appendKeyBytes is WriteKey's encoding for a name decoded from JSON (valid UTF-8). The map lookup with
// string(name) does not allocate; only a name entering the table is copied.
func (w *SmileWriter) appendKeyBytes(buf []byte, name []byte, ascii bool) []byte {
	if len(name) == 0 {
		return append(buf, smileKeyEmpty)
	}
	if ix, ok := w.names.index[string(name)]; ok {
		return smileAppendKeyRef(buf, int(ix))
	}
	buf = smileAppendKeyLiteral(buf, name, ascii)
	w.names.add(string(name))
	return buf
}

// scanJSONString decodes the JSON string starting at data[i] (a '"'). It returns the decoded bytes (a sub-slice
// of data when the string has no escapes and is valid UTF-8, else w.scratch), whether they are all ASCII, and
// the offset after the closing quote.
func (w *SmileWriter) scanJSONString(data []byte, i int) (s []byte, ascii bool, next int, err error) {
	j := i + 1
	ascii = true
	for j < len(data) {
		// Eight bytes at a time while none is special (below 0x20, '"', '\\' or 0x80 and above): long strings
		// such as a segment's dimensions and identifier dominate the inventory.
		for j+8 <= len(data) && !smileHasSpecial(binary.LittleEndian.Uint64(data[j:])) {
			j += 8
		}
		if j >= len(data) {
			break
		}
		c := data[j]
		if smileJSONPlain[c] {
			j++
			continue
		}
		if c == '"' {
			return data[i+1 : j], ascii, j + 1, nil
		}
		if c < utf8.RuneSelf {
			break // an escape or a control character
		}
		r, size := utf8.DecodeRune(data[j:])
		if r == utf8.RuneError && size == 1 {
			break // invalid UTF-8: needs replacing
		}
		ascii = false
		j += size
	}
	return w.scanJSONStringSlow(data, i, j, ascii)
}

// smileHasSpecial reports whether any of the eight bytes in x is below 0x20, '"', '\\' or at least 0x80
// (the classic "has zero byte" and "has byte less than n" tricks; a false positive only costs the byte loop).
func smileHasSpecial(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (lo * '"')
	backslash := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(quote-lo)&^quote|(backslash-lo)&^backslash|x)&hi != 0
}

// scanJSONStringSlow continues scanJSONString from data[j], copying into w.scratch. Escapes and invalid UTF-8
// are decoded exactly as encoding/json decodes them: a valid \uD8xx\uDCxx pair is one character, any other
// escaped surrogate becomes U+FFFD, and each byte that is not part of valid UTF-8 becomes U+FFFD.
func (w *SmileWriter) scanJSONStringSlow(data []byte, i, j int, ascii bool) ([]byte, bool, int, error) {
	out := append(w.scratch[:0], data[i+1:j]...)
	defer func() { w.scratch = out[:0] }()
	for j < len(data) {
		c := data[j]
		switch {
		case c == '"':
			return out, ascii, j + 1, nil
		case c == '\\':
			switch _, fault := checkEscape(data, j); fault {
			case escapeIncomplete:
				return nil, false, 0, smileJSONErr(data, j+1, "a string escape is incomplete")
			case escapeShortHex, escapeBadHex:
				return nil, false, 0, smileJSONErr(data, j, `invalid \u escape: four hexadecimal digits must follow`)
			case escapeUnknown:
				return nil, false, 0, smileJSONErr(data, j, "invalid escape "+smileDescribeByte(data[j+1])+" in a string")
			}
			n := len(out)
			if out, j = appendEscape(out, data, j); out[n] >= utf8.RuneSelf {
				ascii = false
			}
		case c < 0x20:
			return nil, false, 0, smileJSONErr(data, j, fmt.Sprintf("control character 0x%02x in a string must be escaped", c))
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, data[j:j+size]...)
			}
			ascii = false
			j += size
		}
	}
	return nil, false, 0, smileJSONErr(data, len(data), fmt.Sprintf("the string starting at byte offset %d is not terminated", i))
}

// smileAppendJSONNumber transcodes the JSON number starting at data[i] and returns the offset after it.
// Integers keep their exact value and get the type Jackson's JSON parser gives them (int, long, BigInteger);
// numbers with a fraction or exponent become doubles, as Jackson (without USE_BIG_DECIMAL_FOR_FLOATS, which Druid
// does not set) reads them. strconv.ParseFloat rounds correctly, like Java's Double.parseDouble, and both turn
// a magnitude beyond float64 into an infinity and a tiny one into zero; ParseFloat's ErrRange for the former is
// therefore accepted so that we encode what Jackson would have read from the JSON.
func smileAppendJSONNumber(buf []byte, data []byte, i int) ([]byte, int, error) {
	start := i
	neg := data[i] == '-'
	digits := start
	if neg {
		digits++
	}
	i, intEnd, integer, fault := scanNumberSyntax(data, start)
	switch fault {
	case numberNoDigit:
		return buf, i, smileJSONErr(data, i, "expected a digit in a number")
	case numberNoFraction:
		return buf, i, smileJSONErr(data, i, "expected a digit after the decimal point")
	case numberNoExponent:
		return buf, i, smileJSONErr(data, i, "expected a digit in the exponent")
	}
	if !integer {
		f, err := strconv.ParseFloat(string(data[start:i]), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return buf, i, smileJSONErr(data, start, "invalid number: "+err.Error())
		}
		return smileAppendFloat64(buf, f), i, nil
	}
	// Up to 19 digits fit a uint64 (10^19-1 < 2^64); JSON forbids leading zeros, so 20 or more digits are always
	// beyond int64.
	if n := intEnd - digits; n <= 19 {
		var u uint64
		for _, c := range data[digits:intEnd] {
			u = u*10 + uint64(c-'0')
		}
		switch {
		case !neg && u <= math.MaxInt64:
			return smileAppendInt(buf, int64(u)), i, nil
		case neg && u <= 1<<63:
			return smileAppendInt(buf, -int64(u)), i, nil // -int64(1<<63) wraps to MinInt64, the right value
		}
	}
	x, ok := new(big.Int).SetString(string(data[start:intEnd]), 10)
	if !ok {
		return buf, i, smileJSONErr(data, start, "invalid integer")
	}
	return smileAppendBigInteger(buf, x), i, nil
}

// smileJSONErr builds the error for a problem at data[offset]; at the end of data it says so.
func smileJSONErr(data []byte, offset int, reason string) error {
	if offset >= len(data) {
		reason = "unexpected end of input: " + reason
	}
	return &SmileJSONError{Offset: offset, Reason: reason}
}

func smileDescribeByte(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
