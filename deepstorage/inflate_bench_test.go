package deepstorage

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// BenchmarkInflate compares the inflater the unzipper uses (klauspost/compress/flate) with the standard
// library's, on the same 64 MB of segment-like data deflated as Java's ZipOutputStream does (level 6). Inflating
// is the CPU cost of every pull once the network is fast, so this is what the choice of library buys.
func BenchmarkInflate(b *testing.B) {
	raw := segmentLikeData(64 << 20)
	var z bytes.Buffer
	w, _ := stdflate.NewWriter(&z, 6)
	_, _ = w.Write(raw)
	_ = w.Close()
	compressed := z.Bytes()
	for _, tc := range []struct {
		name string
		open func(io.Reader) io.ReadCloser
	}{
		{"stdlib", stdflate.NewReader},
		{"klauspost", flate.NewReader},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				r := tc.open(bytes.NewReader(compressed))
				n, err := io.Copy(io.Discard, r)
				if err != nil || n != int64(len(raw)) {
					b.Fatalf("inflated %d bytes, %v", n, err)
				}
			}
		})
	}
}

// segmentLikeData is compressible the way column data is: runs of repeated small values and some noise.
func segmentLikeData(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]byte, 0, n)
	for len(out) < n {
		v := byte(r.IntN(16))
		for range 1 + r.IntN(24) {
			out = append(out, v, byte(r.IntN(4)))
		}
	}
	return out[:n]
}
