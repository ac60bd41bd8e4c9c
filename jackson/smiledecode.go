package jackson

// The Smile decoder: it turns a Smile document (what a Druid Broker or Coordinator receives from a segment
// inventory, or what Jackson's SmileGenerator writes) into the equivalent JSON, so that the JSON readers of package
// segments can read it. `audit` reads the inventories of data servers with it, asking for Smile as Brokers and
// Coordinators do; the tests' Druid peers read druid-sidecar's own inventory with it. It follows FasterXML's
// smile-specification.md 1.0.4 and, where the specification leaves a choice, Jackson's SmileParser (shared-name table
// reset at 1024 entries, long names shared too). It is deliberately small and strict; it is not tuned for speed.
//
// Every unexported package-level identifier in this file starts with "smileReader", because other files of this
// package are written independently.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// SmileSignature is the start of every Smile document that Jackson's parser accepts by default: the header's
// first three bytes, before the version and flags byte.
const SmileSignature = ":)\n"

// SmileToJSON decodes the single Smile document in data, which must start with the Smile header (as Druid's
// Smile mapper requires), into compact JSON written as Jackson writes JSON: keys in document order, strings with
// only '"', '\\' and control characters escaped, integers in decimal and floating-point numbers in Go's shortest
// form. An optional end marker (0xFF) may follow the root value; anything else is an error, as is a NaN or
// infinity (JSON cannot carry them).
func SmileToJSON(data []byte) ([]byte, error) {
	if len(data) < 4 || string(data[:3]) != SmileSignature {
		return nil, errors.New("smile: input does not start with the Smile header \":)\\n\"")
	}
	flags := data[3]
	if flags>>4 != 0 {
		return nil, fmt.Errorf("smile: header version %d is not supported (only 0)", flags>>4)
	}
	d := smileReader{data: data, pos: 4, sharedNames: flags&1 != 0, sharedValues: flags&2 != 0}
	out, err := d.value(nil, 0)
	if err != nil {
		return nil, err
	}
	if d.pos < len(d.data) && d.data[d.pos] == 0xFF {
		d.pos++
	}
	if d.pos != len(d.data) {
		return nil, fmt.Errorf("smile: %d bytes follow the root value at offset %d", len(d.data)-d.pos, d.pos)
	}
	return out, nil
}

type smileReader struct {
	data         []byte
	pos          int
	sharedNames  bool
	sharedValues bool
	names        []string
	values       []string
}

const smileReaderMaxShared = 1024

func (d *smileReader) errorf(format string, args ...any) error {
	return fmt.Errorf("smile: at offset %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *smileReader) byte() (byte, error) {
	if d.pos >= len(d.data) {
		return 0, d.errorf("unexpected end of input")
	}
	b := d.data[d.pos]
	d.pos++
	return b, nil
}

func (d *smileReader) take(n int) ([]byte, error) {
	if n < 0 || len(d.data)-d.pos < n {
		return nil, d.errorf("unexpected end of input: %d more bytes needed", n)
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

// untilEnd returns the bytes up to the next 0xFC end-of-string marker and skips the marker.
func (d *smileReader) untilEnd() ([]byte, error) {
	for i := d.pos; i < len(d.data); i++ {
		if d.data[i] == 0xFC {
			b := d.data[d.pos:i]
			d.pos = i + 1
			return b, nil
		}
	}
	return nil, d.errorf("string without its 0xFC end marker")
}

// vint reads an unsigned variable-length integer: 7 bits per byte, the last byte flagged by its top bit and
// holding 6 bits.
func (d *smileReader) vint() (uint64, error) {
	var v uint64
	for i := 0; i < 11; i++ {
		b, err := d.byte()
		if err != nil {
			return 0, err
		}
		if b&0x80 != 0 {
			return v<<6 | uint64(b&0x3F), nil
		}
		v = v<<7 | uint64(b)
	}
	return 0, d.errorf("variable-length integer is too long")
}

func smileReaderZigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// fixed7 reads n bytes of 7 bits each into one number (float32: 5 bytes, float64: 10 bytes).
func (d *smileReader) fixed7(n int) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range b {
		if c&0x80 != 0 {
			return 0, d.errorf("byte 0x%02x in 7-bit encoded data", c)
		}
		v = v<<7 | uint64(c)
	}
	return v, nil
}

// bytes7 reads n raw bytes stored as 7-bit groups: every 7 bytes take 8, a tail of r bytes takes r+1 (the last
// holding r bits, right-aligned).
func (d *smileReader) bytes7(n uint64) ([]byte, error) {
	// A length the rest of the input cannot hold is refused before anything is allocated: the length comes from
	// the input, and a hostile one must not make the decoder allocate (or overflow an int).
	if rest := uint64(len(d.data) - d.pos); n > rest/8*7+7 {
		return nil, d.errorf("binary value of %d bytes, longer than the rest of the input can hold", n)
	}
	out := make([]byte, 0, n)
	for uint64(len(out))+7 <= n {
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		var acc uint64
		for _, c := range b {
			acc = acc<<7 | uint64(c&0x7F)
		}
		for i := 6; i >= 0; i-- {
			out = append(out, byte(acc>>(8*i)))
		}
	}
	if r := int(n) - len(out); r > 0 {
		b, err := d.take(r + 1)
		if err != nil {
			return nil, err
		}
		var acc uint64
		for _, c := range b[:r] {
			acc = acc<<7 | uint64(c&0x7F)
		}
		acc = acc<<r | uint64(b[r]&(1<<r-1))
		for i := r - 1; i >= 0; i-- {
			out = append(out, byte(acc>>(8*i)))
		}
	}
	return out, nil
}

func smileReaderAddShared(table []string, s string) []string {
	if len(table) >= smileReaderMaxShared {
		table = table[:0]
	}
	return append(table, s)
}

func (d *smileReader) sharedValue(ix int) (string, error) {
	if !d.sharedValues || ix >= len(d.values) {
		return "", d.errorf("reference to shared string value %d, of %d known (shared values %v)", ix, len(d.values), d.sharedValues)
	}
	return d.values[ix], nil
}

func (d *smileReader) text(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", d.errorf("string is not valid UTF-8")
	}
	return string(b), nil
}

// value decodes one value and appends its JSON to out.
func (d *smileReader) value(out []byte, depth int) ([]byte, error) {
	if depth > 1000 {
		return nil, d.errorf("nesting deeper than 1000")
	}
	t, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch {
	case t == 0x00:
		return nil, d.errorf("invalid token 0x00")
	case t < 0x20: // short shared value reference
		s, err := d.sharedValue(int(t) - 1)
		if err != nil {
			return nil, err
		}
		return AppendJSONString(out, s), nil
	case t == 0x20:
		return append(out, `""`...), nil
	case t == 0x21:
		return append(out, "null"...), nil
	case t == 0x22:
		return append(out, "false"...), nil
	case t == 0x23:
		return append(out, "true"...), nil
	case t == 0x24 || t == 0x25:
		v, err := d.vint()
		if err != nil {
			return nil, err
		}
		n := smileReaderZigzag(v)
		if t == 0x24 && (n < math.MinInt32 || n > math.MaxInt32) {
			return nil, d.errorf("32-bit integer %d out of range", n)
		}
		return strconv.AppendInt(out, n, 10), nil
	case t == 0x26: // BigInteger
		n, err := d.vint()
		if err != nil {
			return nil, err
		}
		raw, err := d.bytes7(n)
		if err != nil {
			return nil, err
		}
		return append(out, smileReaderTwosComplement(raw).String()...), nil
	case t == 0x28: // float32
		v, err := d.fixed7(5)
		if err != nil {
			return nil, err
		}
		return smileReaderAppendFloat(out, float64(math.Float32frombits(uint32(v))), 32, d)
	case t == 0x29: // float64
		v, err := d.fixed7(10)
		if err != nil {
			return nil, err
		}
		return smileReaderAppendFloat(out, math.Float64frombits(v), 64, d)
	case t == 0x2A: // BigDecimal: zigzag scale, byte length, 7-bit bytes of the unscaled value
		sv, err := d.vint()
		if err != nil {
			return nil, err
		}
		n, err := d.vint()
		if err != nil {
			return nil, err
		}
		raw, err := d.bytes7(n)
		if err != nil {
			return nil, err
		}
		unscaled := smileReaderTwosComplement(raw).String()
		return append(out, unscaled+"E"+strconv.FormatInt(-smileReaderZigzag(sv), 10)...), nil
	case t < 0x40:
		return nil, d.errorf("reserved token 0x%02x", t)
	case t < 0xC0: // tiny/short ASCII (0x40-0x7F) and Unicode (0x80-0xBF) strings
		var n int
		switch {
		case t < 0x60:
			n = int(t&0x1F) + 1
		case t < 0x80:
			n = int(t&0x1F) + 33
		case t < 0xA0:
			n = int(t&0x1F) + 2
		default:
			n = int(t&0x1F) + 34
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		s, err := d.text(b)
		if err != nil {
			return nil, err
		}
		if d.sharedValues {
			d.values = smileReaderAddShared(d.values, s)
		}
		return AppendJSONString(out, s), nil
	case t < 0xE0: // small int
		return strconv.AppendInt(out, smileReaderZigzag(uint64(t&0x1F)), 10), nil
	case t == 0xE0 || t == 0xE4: // long ASCII / Unicode
		b, err := d.untilEnd()
		if err != nil {
			return nil, err
		}
		s, err := d.text(b)
		if err != nil {
			return nil, err
		}
		return AppendJSONString(out, s), nil
	case t == 0xE8: // 7-bit binary, written as base64 like Jackson's JSON generator
		n, err := d.vint()
		if err != nil {
			return nil, err
		}
		raw, err := d.bytes7(n)
		if err != nil {
			return nil, err
		}
		return AppendJSONString(out, base64.StdEncoding.EncodeToString(raw)), nil
	case t >= 0xEC && t <= 0xEF: // long shared value reference
		lo, err := d.byte()
		if err != nil {
			return nil, err
		}
		s, err := d.sharedValue(int(t&3)<<8 | int(lo))
		if err != nil {
			return nil, err
		}
		return AppendJSONString(out, s), nil
	case t == 0xF8:
		out = append(out, '[')
		for first := true; ; first = false {
			if d.pos < len(d.data) && d.data[d.pos] == 0xF9 {
				d.pos++
				return append(out, ']'), nil
			}
			if !first {
				out = append(out, ',')
			}
			if out, err = d.value(out, depth+1); err != nil {
				return nil, err
			}
		}
	case t == 0xFA:
		out = append(out, '{')
		for first := true; ; first = false {
			k, err := d.byte()
			if err != nil {
				return nil, err
			}
			if k == 0xFB {
				return append(out, '}'), nil
			}
			if !first {
				out = append(out, ',')
			}
			name, err := d.key(k)
			if err != nil {
				return nil, err
			}
			out = append(AppendJSONString(out, name), ':')
			if out, err = d.value(out, depth+1); err != nil {
				return nil, err
			}
		}
	case t == 0xFD: // raw binary
		n, err := d.vint()
		if err != nil {
			return nil, err
		}
		raw, err := d.take(int(n))
		if err != nil {
			return nil, err
		}
		return AppendJSONString(out, base64.StdEncoding.EncodeToString(raw)), nil
	}
	return nil, d.errorf("unexpected token 0x%02x where a value is due", t)
}

// key decodes an object key whose first byte k was read.
func (d *smileReader) key(k byte) (string, error) {
	var b []byte
	var err error
	switch {
	case k == 0x20:
		return "", nil
	case k >= 0x30 && k <= 0x33:
		lo, err := d.byte()
		if err != nil {
			return "", err
		}
		return d.sharedName(int(k&3)<<8 | int(lo))
	case k == 0x34:
		b, err = d.untilEnd()
	case k >= 0x40 && k <= 0x7F:
		return d.sharedName(int(k & 0x3F))
	case k >= 0x80 && k <= 0xBF:
		b, err = d.take(int(k&0x3F) + 1)
	case k >= 0xC0 && k <= 0xF7:
		b, err = d.take(int(k&0x3F) + 2)
	default:
		return "", d.errorf("unexpected token 0x%02x where an object key is due", k)
	}
	if err != nil {
		return "", err
	}
	s, err := d.text(b)
	if err != nil {
		return "", err
	}
	if d.sharedNames {
		d.names = smileReaderAddShared(d.names, s)
	}
	return s, nil
}

func (d *smileReader) sharedName(ix int) (string, error) {
	if !d.sharedNames || ix >= len(d.names) {
		return "", d.errorf("reference to shared name %d, of %d known (shared names %v)", ix, len(d.names), d.sharedNames)
	}
	return d.names[ix], nil
}

// twosComplement reads big-endian two's complement bytes, as Java's BigInteger(byte[]).
func smileReaderTwosComplement(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

func smileReaderAppendFloat(out []byte, f float64, bits int, d *smileReader) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, d.errorf("%v cannot be written as JSON", f)
	}
	return strconv.AppendFloat(out, f, 'g', -1, bits), nil
}
