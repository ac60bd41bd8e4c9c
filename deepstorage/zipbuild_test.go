package deepstorage

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Test helpers: archives built in Go, either with archive/zip (what most tools write) or byte by byte (rawZip),
// for the shapes archive/zip cannot be made to write: Java's 8-byte data descriptors without a zip64 field, zip64
// records on small archives, lying headers, hand-made DEFLATE bombs.

type file struct {
	name string
	data []byte
}

// goZip writes files with archive/zip: DEFLATED, streamed with data descriptors, like Java's ZipOutputStream.
func goZip(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		fw, err := w.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// goZipHeader writes one entry with a header of the caller's (a symlink, a directory, a STORED entry).
func goZipHeader(t testing.TB, h *zip.FileHeader, data []byte, more ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	fw, err := w.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	for _, f := range more {
		fw, err := w.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type rawEntry struct {
	name   string
	data   []byte // uncompressed contents; compressed here unless comp is set
	method uint16 // zip.Deflate (the default) or zip.Store

	comp  []byte // ready DEFLATE data (then usize and crc describe it)
	usize uint64
	crc   uint32

	dd         bool // sizes and CRC in a data descriptor after the data (zeros in the local header)
	noDDSig    bool // a data descriptor without its optional signature
	wideDD     bool // 8-byte sizes in the data descriptor, with no zip64 field in the local header (as Java)
	zip64Local bool // sizes 0xffffffff in the local header, the real ones in a zip64 extra field
	lieUsize   int64

	madeBy  uint16
	extAttr uint32
}

type rawOpts struct {
	zip64End bool // zip64 end record and locator, and all-ones counts and offsets in the end record
	comment  string
	trailing []byte
}

func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// rawZip writes an archive byte by byte.
func rawZip(t testing.TB, entries []rawEntry, o rawOpts) []byte {
	t.Helper()
	le16 := func(b *bytes.Buffer, v uint16) { binary.Write(b, binary.LittleEndian, v) }
	le32 := func(b *bytes.Buffer, v uint32) { binary.Write(b, binary.LittleEndian, v) }
	le64 := func(b *bytes.Buffer, v uint64) { binary.Write(b, binary.LittleEndian, v) }
	var out, cd bytes.Buffer
	for _, e := range entries {
		if e.method == 0 && e.comp == nil && e.data != nil {
			e.method = zip.Deflate
		}
		comp := e.comp
		usize, crc := e.usize, e.crc
		if comp == nil {
			usize, crc = uint64(len(e.data)), crc32.ChecksumIEEE(e.data)
			if e.method == zip.Deflate {
				comp = deflate(t, e.data)
			} else {
				comp = e.data
			}
		} else {
			e.method = zip.Deflate
		}
		hdrUsize := usize
		if e.lieUsize != 0 {
			hdrUsize = uint64(e.lieUsize)
		}
		csize := uint64(len(comp))
		offset := uint64(out.Len())
		var flags uint16
		if e.dd {
			flags |= flagDataDesc
		}
		// local header
		le32(&out, sigLocal)
		le16(&out, 45)
		le16(&out, flags)
		le16(&out, e.method)
		le16(&out, 0)
		le16(&out, 0x21)
		var extra bytes.Buffer
		switch {
		case e.dd:
			le32(&out, 0)
			le32(&out, 0)
			le32(&out, 0)
		case e.zip64Local:
			le32(&out, crc)
			le32(&out, max32)
			le32(&out, max32)
			le16(&extra, zip64ExtraID)
			le16(&extra, 16)
			le64(&extra, hdrUsize)
			le64(&extra, csize)
		default:
			le32(&out, crc)
			le32(&out, uint32(csize))
			le32(&out, uint32(hdrUsize))
		}
		le16(&out, uint16(len(e.name)))
		le16(&out, uint16(extra.Len()))
		out.WriteString(e.name)
		out.Write(extra.Bytes())
		out.Write(comp)
		if e.dd {
			if !e.noDDSig {
				le32(&out, sigDescriptor)
			}
			le32(&out, crc)
			if e.wideDD {
				le64(&out, csize)
				le64(&out, hdrUsize)
			} else {
				le32(&out, uint32(csize))
				le32(&out, uint32(hdrUsize))
			}
		}
		// central directory header
		le32(&cd, sigCentral)
		madeBy := e.madeBy
		if madeBy == 0 {
			madeBy = 3<<8 | 45
		}
		extAttr := e.extAttr
		if extAttr == 0 {
			extAttr = 0o100644 << 16
		}
		le16(&cd, madeBy)
		le16(&cd, 45)
		le16(&cd, flags)
		le16(&cd, e.method)
		le16(&cd, 0)
		le16(&cd, 0x21)
		le32(&cd, crc)
		var cdExtra bytes.Buffer
		if e.zip64Local || e.wideDD || o.zip64End {
			le32(&cd, max32)
			le32(&cd, max32)
			le16(&cdExtra, zip64ExtraID)
			le16(&cdExtra, 24)
			le64(&cdExtra, hdrUsize)
			le64(&cdExtra, csize)
			le64(&cdExtra, offset)
		} else {
			le32(&cd, uint32(csize))
			le32(&cd, uint32(hdrUsize))
		}
		le16(&cd, uint16(len(e.name)))
		le16(&cd, uint16(cdExtra.Len()))
		le16(&cd, 0)
		le16(&cd, 0)
		le16(&cd, 0)
		le32(&cd, extAttr)
		if cdExtra.Len() > 0 {
			le32(&cd, max32)
		} else {
			le32(&cd, uint32(offset))
		}
		cd.WriteString(e.name)
		cd.Write(cdExtra.Bytes())
	}
	cdOffset := uint64(out.Len())
	out.Write(cd.Bytes())
	n := uint64(len(entries))
	if o.zip64End {
		end64 := uint64(out.Len())
		le32(&out, sigEnd64)
		le64(&out, 44)
		le16(&out, 45)
		le16(&out, 45)
		le32(&out, 0)
		le32(&out, 0)
		le64(&out, n)
		le64(&out, n)
		le64(&out, uint64(cd.Len()))
		le64(&out, cdOffset)
		le32(&out, sigLocator64)
		le32(&out, 0)
		le64(&out, end64)
		le32(&out, 1)
	}
	le32(&out, sigEnd)
	le16(&out, 0)
	le16(&out, 0)
	if o.zip64End {
		le16(&out, 0xffff)
		le16(&out, 0xffff)
		le32(&out, max32)
		le32(&out, max32)
	} else {
		le16(&out, uint16(n))
		le16(&out, uint16(n))
		le32(&out, uint32(cd.Len()))
		le32(&out, uint32(cdOffset))
	}
	le16(&out, uint16(len(o.comment)))
	out.WriteString(o.comment)
	out.Write(o.trailing)
	return out.Bytes()
}

// zerosBomb is DEFLATE data for gib GiB of zeros, built from one compressed MiB repeated (so that building it
// costs nothing), and the CRC-32 of those zeros.
func zerosBomb(t testing.TB, gib int) ([]byte, uint64, uint32) {
	t.Helper()
	zeros := make([]byte, 1<<20)
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(zeros)
	w.Flush() // a sync flush: the blocks so far end byte-aligned and are not final
	mib := append([]byte(nil), b.Bytes()...)
	var out bytes.Buffer
	var crc uint32
	for range gib << 10 {
		out.Write(mib)
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	out.Write([]byte{0x01, 0x00, 0x00, 0xff, 0xff}) // an empty final stored block
	return out.Bytes(), uint64(gib) << 30, crc
}

// newRoot makes an empty segment directory inside a fresh parent, so a test can check that nothing was written
// beside it.
func newRoot(t testing.TB) (*os.Root, string) {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "segment")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

// tree lists every path under dir (relative, sorted), with "/" after directories and "@" after symlinks.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			rel += "@"
		case d.IsDir():
			rel += "/"
		}
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

// readDir reads every file of dir.
func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = b
	}
	return got
}

// segmentFiles is a plausible v9 segment: version.bin, meta.smoosh, a smoosh chunk of size bytes (partly
// compressible, as LZ4-compressed columns are), factory.json.
func segmentFiles(size int, seed uint64) []file {
	chunk := make([]byte, size)
	x := seed | 1
	for i := range chunk {
		x = x*6364136223846793005 + 1442695040888963407
		if i%3 == 0 {
			chunk[i] = byte(x >> 56)
		} else {
			chunk[i] = byte(i >> 10)
		}
	}
	return []file{
		{"00000.smoosh", chunk},
		{"factory.json", []byte(`{"type":"mMapSegmentFactory"}`)},
		{"meta.smoosh", []byte("v1,2147483647,1\n__time,0,0,100\n")},
		{"version.bin", []byte{0, 0, 0, 9}},
	}
}
