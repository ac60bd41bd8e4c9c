package jackson

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestStringSpecialMask holds the eight-byte test of ScanString to the byte table: it finds the first special
// byte of every byte value at every position among fillers of each kind, and of random words, which mix several
// special bytes.
func TestStringSpecialMask(t *testing.T) {
	want := func(w [8]byte) int { // the index of the first special byte, 8 for none
		for i, c := range w {
			if stringSpecial[c] {
				return i
			}
		}
		return 8
	}
	check := func(w [8]byte) {
		t.Helper()
		m := stringSpecialMask(binary.LittleEndian.Uint64(w[:]))
		if got := bits.TrailingZeros64(m) / 8; got != want(w) {
			t.Fatalf("stringSpecialMask(% x) = %#x: first special byte %d, want %d", w, m, got, want(w))
		}
	}
	for _, fill := range []byte{'a', ' ', 0x21, '!', '#', '[', ']', 0x7f, 0x80, 0xc3, 0xff} {
		for pos := range 8 {
			for c := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(c)
				check(w)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		check(w)
	}
}

// TestScanStringAcrossWords puts the closing quote, an escape and a control character at every offset of strings
// longer than a word, so that the eight-byte path hands over to the byte path at each position.
func TestScanStringAcrossWords(t *testing.T) {
	for n := range 40 {
		body := make([]byte, n)
		for i := range body {
			body[i] = 'a' + byte(i%26)
		}
		data := append(append([]byte{'"'}, body...), '"', ',')
		if end, esc, err := ScanString(data, 0); err != nil || end != n+2 || esc {
			t.Fatalf("%q: end %d escaped %v err %v, want %d false nil", data, end, esc, err, n+2)
		}
		if n == 0 {
			continue
		}
		for at := range n {
			withEsc := append([]byte{'"'}, body[:at]...)
			withEsc = append(withEsc, '\\', 'n')
			withEsc = append(append(withEsc, body[at:]...), '"')
			if end, esc, err := ScanString(withEsc, 0); err != nil || end != len(withEsc) || !esc {
				t.Fatalf("%q: end %d escaped %v err %v, want %d true nil", withEsc, end, esc, err, len(withEsc))
			}
			withCtl := append([]byte{'"'}, body...)
			withCtl[1+at] = 0x1f
			withCtl = append(withCtl, '"')
			if _, _, err := ScanString(withCtl, 0); err == nil {
				t.Fatalf("%q: a raw control character at %d was accepted", withCtl, at)
			}
		}
		if _, _, err := ScanString(append([]byte{'"'}, body...), 0); err == nil {
			t.Fatalf("an unterminated string of %d bytes was accepted", n)
		}
	}
}
