package deepstorage

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// Two ways to unpack a segment archive, with the same rules (flat, named safely, each name once, regular files
// only, bounded by the sink):
//
//   - unzipStream reads the archive front to back, as it arrives from the network: local file headers, the data
//     (DEFLATE ends by itself, so data descriptors are fine: that is what Java's ZipOutputStream writes), then the
//     central directory, which must agree with what was read (names, order, offsets, CRCs, sizes, no symlinks or
//     directories in the external attributes). Zip64 sizes and records are understood.
//   - unzipAt reads a file or buffer with random access through archive/zip, for the archives a stream cannot
//     read: STORED entries whose sizes only come after their data (Go's zip.Writer makes those; Java refuses to
//     write them, and its ZipInputStream cannot read them either).

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigDescriptor = 0x08074b50
	sigEnd        = 0x06054b50
	sigEnd64      = 0x06064b50
	sigLocator64  = 0x07064b50
	max32         = 0xffffffff
	zip64ExtraID  = 0x0001
	flagEncrypted = 0x1
	flagDataDesc  = 0x8
)

// errNotStreamable means the archive must be read with random access (unzipAt); nothing is wrong with it.
var errNotStreamable = errors.New("the archive has a STORED entry whose size follows its data; it cannot be unpacked as a stream")

type zipEntry struct {
	name         string
	offset       int64
	method       uint16
	crc          uint32
	csize, usize uint64
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type zipStreamer struct {
	cr      *countingReader
	br      *bufio.Reader
	sink    *sink
	entries []zipEntry
	inflate io.ReadCloser
	buf     []byte
}

// unzipStream unpacks the zip archive read from r into s.
func unzipStream(r io.Reader, s *sink) error {
	cr := &countingReader{r: r}
	z := &zipStreamer{cr: cr, br: bufio.NewReaderSize(cr, 256<<10), sink: s, buf: make([]byte, 256<<10)}
	for {
		off := z.pos()
		sig, err := z.u32()
		if err != nil {
			if errors.Is(err, io.EOF) && off == 0 {
				return invalidf("it is empty, not a zip archive")
			}
			return truncated(err, "before its central directory")
		}
		switch sig {
		case sigLocal:
			if err := z.entry(off); err != nil {
				return err
			}
		case sigCentral:
			if len(z.entries) == 0 {
				return invalidf("the archive holds no files")
			}
			return z.central()
		case sigEnd:
			if len(z.entries) == 0 {
				return invalidf("the archive holds no files")
			}
			return invalidf("the archive has no central directory")
		default:
			if off == 0 {
				return invalidf("it is not a zip archive (it starts with bytes %08x)", bswap(sig))
			}
			return invalidf("the archive is corrupt: unexpected bytes %08x at offset %d", bswap(sig), off)
		}
	}
}

func bswap(v uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return binary.BigEndian.Uint32(b[:])
}

// pos is the offset in the archive of the next byte to parse.
func (z *zipStreamer) pos() int64 { return z.cr.n - int64(z.br.Buffered()) }

func (z *zipStreamer) u32() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(z.br, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

func (z *zipStreamer) bytes(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(z.br, b)
	return b, err
}

// entry reads one local file header (its signature already read), the entry's data and its data descriptor.
func (z *zipStreamer) entry(off int64) error {
	h, err := z.bytes(26)
	if err != nil {
		return truncated(err, "inside a file header")
	}
	flags := binary.LittleEndian.Uint16(h[2:])
	method := binary.LittleEndian.Uint16(h[4:])
	crc := binary.LittleEndian.Uint32(h[10:])
	csize := uint64(binary.LittleEndian.Uint32(h[14:]))
	usize := uint64(binary.LittleEndian.Uint32(h[18:]))
	nameB, err := z.bytes(int(binary.LittleEndian.Uint16(h[22:])))
	if err != nil {
		return truncated(err, "inside a file header")
	}
	extra, err := z.bytes(int(binary.LittleEndian.Uint16(h[24:])))
	if err != nil {
		return truncated(err, "inside a file header")
	}
	name := string(nameB)
	zip64 := false
	if f, ok := zip64Fields(extra); ok {
		zip64 = true
		// A local header's zip64 field holds the uncompressed then the compressed size.
		if usize == max32 && len(f) >= 8 {
			usize, f = binary.LittleEndian.Uint64(f), f[8:]
		}
		if csize == max32 && len(f) >= 8 {
			csize = binary.LittleEndian.Uint64(f)
		}
	}
	if flags&flagEncrypted != 0 {
		return invalidf("entry %q is encrypted", name)
	}
	hasDD := flags&flagDataDesc != 0
	switch method {
	case zip.Deflate:
	case zip.Store:
		if hasDD && csize == 0 && usize == 0 {
			return errNotStreamable
		}
		if csize != usize {
			return invalidf("stored entry %q has a compressed size (%d) unlike its size (%d)", name, csize, usize)
		}
	default:
		return invalidf("entry %q uses compression method %d; only stored and deflated entries can be read", name, method)
	}

	if usize > uint64(max(z.sink.max-z.sink.written.Load(), 0)) {
		// The header says so before a byte is written; a lying header is caught by the count below.
		return z.sink.tooLarge()
	}
	f, err := z.sink.create(name)
	if err != nil {
		return err
	}
	start := z.pos()
	var src io.Reader
	if method == zip.Deflate {
		if z.inflate == nil {
			z.inflate = flate.NewReader(z.br) // z.br is an io.ByteReader: inflating never reads past the data
		} else if err := z.inflate.(flate.Resetter).Reset(z.br, nil); err != nil {
			return err
		}
		src = z.inflate
	} else {
		src = io.LimitReader(z.br, int64(csize))
	}
	n, got, rerr, werr := copyData(f, src, z.buf)
	if err := f.Close(); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	what := fmt.Sprintf("entry %q", name)
	if rerr != nil {
		return dataError(rerr, what)
	}
	consumed := uint64(z.pos() - start)
	if method == zip.Store && uint64(n) != csize {
		return truncated(io.ErrUnexpectedEOF, "inside "+what)
	}
	if hasDD {
		if crc, csize, usize, err = z.descriptor(name, zip64, consumed, uint64(n)); err != nil {
			return err
		}
	}
	if csize != consumed || usize != uint64(n) {
		return invalidf("entry %q has %d bytes (%d compressed) where its header says %d (%d compressed)",
			name, n, consumed, usize, csize)
	}
	if crc != got {
		return crcError(what, crc, got)
	}
	z.entries = append(z.entries, zipEntry{name: name, offset: off, method: method, crc: crc, csize: csize, usize: usize})
	return nil
}

// descriptor reads the data descriptor after an entry's data. Its signature is optional and its sizes are 4 or 8
// bytes wide; Java writes 8-byte sizes only when a size passes 4 GiB, without announcing it, so the reading that
// matches the data and is followed by the next header's signature wins.
func (z *zipStreamer) descriptor(name string, zip64 bool, csize, usize uint64) (uint32, uint64, uint64, error) {
	b, _ := z.br.Peek(4 + 4 + 16 + 4)
	type reading struct {
		sig, wide bool
	}
	best, bestLen := -1, 0
	var crc uint32
	for i, r := range []reading{{true, false}, {true, true}, {false, false}, {false, true}} {
		if !r.wide && (zip64 || csize >= max32 || usize >= max32) {
			continue
		}
		p := b
		l := 0
		if r.sig {
			if len(p) < 4 || binary.LittleEndian.Uint32(p) != sigDescriptor {
				continue
			}
			p, l = p[4:], 4
		}
		var c, u uint64
		switch {
		case r.wide && len(p) >= 20:
			c, u, l = binary.LittleEndian.Uint64(p[4:]), binary.LittleEndian.Uint64(p[12:]), l+20
		case !r.wide && len(p) >= 12:
			c, u, l = uint64(binary.LittleEndian.Uint32(p[4:])), uint64(binary.LittleEndian.Uint32(p[8:])), l+12
		default:
			continue
		}
		if c != csize || u != usize {
			continue
		}
		next := b[l:]
		followed := len(next) >= 4 && (binary.LittleEndian.Uint32(next) == sigLocal ||
			binary.LittleEndian.Uint32(next) == sigCentral)
		if best < 0 || followed {
			best, bestLen, crc = i, l, binary.LittleEndian.Uint32(p)
		}
		if followed {
			break
		}
	}
	if best < 0 {
		if len(b) < 12 {
			return 0, 0, 0, truncated(io.ErrUnexpectedEOF, fmt.Sprintf("the data descriptor of entry %q", name))
		}
		return 0, 0, 0, invalidf("the data descriptor of entry %q does not match its data (%d bytes, %d compressed)",
			name, usize, csize)
	}
	if _, err := z.br.Discard(bestLen); err != nil {
		return 0, 0, 0, truncated(err, fmt.Sprintf("the data descriptor of entry %q", name))
	}
	return crc, csize, usize, nil
}

// central reads the central directory (the first header's signature already read) and the end records, checking
// that they describe exactly the entries unpacked, then drains what follows.
func (z *zipStreamer) central() error {
	cdStart := z.pos() - 4
	i := 0
	for {
		h, err := z.bytes(42)
		if err != nil {
			return truncated(err, "inside its central directory")
		}
		madeBy := binary.LittleEndian.Uint16(h[0:])
		method := binary.LittleEndian.Uint16(h[6:])
		crc := binary.LittleEndian.Uint32(h[12:])
		csize := uint64(binary.LittleEndian.Uint32(h[16:]))
		usize := uint64(binary.LittleEndian.Uint32(h[20:]))
		nameLen := int(binary.LittleEndian.Uint16(h[24:]))
		extraLen := int(binary.LittleEndian.Uint16(h[26:]))
		commentLen := int(binary.LittleEndian.Uint16(h[28:]))
		extAttr := binary.LittleEndian.Uint32(h[34:])
		offset := uint64(binary.LittleEndian.Uint32(h[38:]))
		rest, err := z.bytes(nameLen + extraLen + commentLen)
		if err != nil {
			return truncated(err, "inside its central directory")
		}
		name := string(rest[:nameLen])
		if f, ok := zip64Fields(rest[nameLen : nameLen+extraLen]); ok {
			// In the central directory only the fields whose 32-bit value is all ones are present, in this order.
			for _, v := range []*uint64{&usize, &csize, &offset} {
				if *v == max32 && len(f) >= 8 {
					*v, f = binary.LittleEndian.Uint64(f), f[8:]
				}
			}
		}
		if i >= len(z.entries) {
			return invalidf("its central directory lists %q, which is not among the archive's entries", name)
		}
		e := z.entries[i]
		switch {
		case name != e.name:
			return invalidf("its central directory names entry %d %q, but the archive holds %q there", i+1, name, e.name)
		case crc != e.crc || csize != e.csize || usize != e.usize || method != e.method:
			return invalidf("its central directory disagrees with entry %q (CRC, sizes or method)", name)
		case offset != uint64(e.offset):
			return invalidf("its central directory places entry %q at offset %d, but it is at %d", name, offset, e.offset)
		}
		if err := checkAttrs(name, madeBy, extAttr); err != nil {
			return err
		}
		i++
		sig, err := z.u32()
		if err != nil {
			return truncated(err, "inside its central directory")
		}
		if sig == sigCentral {
			continue
		}
		if i != len(z.entries) {
			return invalidf("its central directory omits entry %q", z.entries[i].name)
		}
		return z.end(sig, cdStart, z.pos()-4)
	}
}

// end reads the end records after the central directory, which must point at it, and requires the archive to
// stop there: a reader that finds the directory from the end (archive/zip, unzip) must see the same archive.
func (z *zipStreamer) end(sig uint32, cdStart, cdEnd int64) error {
	cdSize, cdOffset, entries := uint64(cdEnd-cdStart), uint64(cdStart), uint64(len(z.entries))
	var end64 int64 = -1
	if sig == sigEnd64 {
		end64 = cdEnd
		b, err := z.bytes(8)
		if err != nil {
			return truncated(err, "inside its zip64 end record")
		}
		size := binary.LittleEndian.Uint64(b)
		if size < 44 || size > 1<<16 {
			return invalidf("its zip64 end record claims %d bytes", size)
		}
		r, err := z.bytes(int(size))
		if err != nil {
			return truncated(err, "inside its zip64 end record")
		}
		if binary.LittleEndian.Uint64(r[20:]) != entries || binary.LittleEndian.Uint64(r[28:]) != cdSize ||
			binary.LittleEndian.Uint64(r[36:]) != cdOffset {
			return invalidf("its zip64 end record does not describe its central directory")
		}
		if sig, err = z.u32(); err != nil {
			return truncated(err, "after its zip64 end record")
		}
	}
	if sig == sigLocator64 {
		b, err := z.bytes(16)
		if err != nil {
			return truncated(err, "inside its zip64 end locator")
		}
		if end64 < 0 || binary.LittleEndian.Uint64(b[4:]) != uint64(end64) {
			return invalidf("its zip64 end locator does not point at its zip64 end record")
		}
		if sig, err = z.u32(); err != nil {
			return truncated(err, "after its zip64 end locator")
		}
	}
	if sig != sigEnd {
		return invalidf("its central directory is not followed by an end record (bytes %08x)", bswap(sig))
	}
	h, err := z.bytes(18)
	if err != nil {
		return truncated(err, "inside its end record")
	}
	n16 := uint64(binary.LittleEndian.Uint16(h[6:]))
	size32 := uint64(binary.LittleEndian.Uint32(h[8:]))
	off32 := uint64(binary.LittleEndian.Uint32(h[12:]))
	matches := func(v, actual, allOnes uint64) bool { return v == actual || (end64 >= 0 && v == allOnes) }
	if !matches(n16, entries, 0xffff) || !matches(size32, cdSize, max32) || !matches(off32, cdOffset, max32) {
		return invalidf("its end record does not describe its central directory")
	}
	if _, err := z.br.Discard(int(binary.LittleEndian.Uint16(h[16:]))); err != nil {
		return truncated(err, "inside its comment")
	}
	// Nothing may follow. Read a little to tell, which also lets an HTTP connection be reused.
	n, err := io.CopyN(io.Discard, z.br, 1<<10)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if n > 0 {
		return invalidf("bytes follow the end of the archive")
	}
	return nil
}

// zip64Fields finds the zip64 extended information in an extra field.
func zip64Fields(extra []byte) ([]byte, bool) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		size := int(binary.LittleEndian.Uint16(extra[2:]))
		if size > len(extra)-4 {
			return nil, false
		}
		if id == zip64ExtraID {
			return extra[4 : 4+size], true
		}
		extra = extra[4+size:]
	}
	return nil, false
}

// checkAttrs refuses entries whose external attributes say they are not regular files.
func checkAttrs(name string, madeBy uint16, ext uint32) error {
	switch madeBy >> 8 {
	case 3, 19: // Unix, OS X: the high 16 bits are the st_mode
		switch mode := ext >> 16; mode & 0xf000 {
		case 0, 0x8000:
		case 0xa000:
			return invalidf("entry %q is a symbolic link", name)
		case 0x4000:
			return invalidf("entry %q is a directory; segment archives are flat", name)
		default:
			return invalidf("entry %q is a special file (mode %o)", name, mode)
		}
	}
	if ext&0x10 != 0 { // MS-DOS directory attribute
		return invalidf("entry %q is a directory; segment archives are flat", name)
	}
	return nil
}

// unzipAt unpacks a zip archive with random access, through archive/zip.
func unzipAt(r io.ReaderAt, size int64, s *sink) error {
	zr, err := zip.NewReader(boundedReaderAt{r: r, size: size}, size)
	if err == nil {
		// The same inflater as the streaming path, rather than archive/zip's compress/flate (see inflate).
		zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
	}
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are checked by the sink
		if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, io.EOF) {
			return invalidf("it is not a readable zip archive (%v)", err)
		}
		return err
	}
	if len(zr.File) == 0 {
		return invalidf("the archive holds no files")
	}
	// archive/zip reads no entry past its declared size, so declared sizes adding up to more than the bound fail
	// the pull before a byte is written.
	var declared uint64
	for _, zf := range zr.File {
		if declared += zf.UncompressedSize64; declared > uint64(s.max) || declared < zf.UncompressedSize64 {
			return s.tooLarge()
		}
	}
	buf := make([]byte, 256<<10)
	for _, zf := range zr.File {
		name := zf.Name
		mode := zf.Mode()
		switch {
		case zf.Flags&flagEncrypted != 0:
			return invalidf("entry %q is encrypted", name)
		case mode&fs.ModeSymlink != 0:
			return invalidf("entry %q is a symbolic link", name)
		case mode.IsDir():
			return invalidf("entry %q is a directory; segment archives are flat", name)
		case !mode.IsRegular():
			return invalidf("entry %q is a special file (mode %v)", name, mode)
		case zf.Method != zip.Store && zf.Method != zip.Deflate:
			return invalidf("entry %q uses compression method %d; only stored and deflated entries can be read", name, zf.Method)
		}
		f, err := s.create(name)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("entry %q", name)
		rc, err := zf.Open()
		if err != nil {
			f.Close()
			return dataError(err, what)
		}
		_, _, rerr, werr := copyData(f, rc, buf)
		rc.Close()
		if err := f.Close(); err != nil && werr == nil {
			werr = err
		}
		if werr != nil {
			return werr
		}
		if rerr != nil {
			return dataError(rerr, what)
		}
	}
	return nil
}

// boundedReaderAt refuses reads outside the archive as a problem of the archive (archive/zip follows offsets from
// its headers), and lets only genuine read errors through as they are.
type boundedReaderAt struct {
	r    io.ReaderAt
	size int64
}

func (b boundedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > b.size {
		return 0, invalidf("its headers point outside the archive (offset %d of %d bytes)", off, b.size)
	}
	if int64(len(p)) > b.size-off {
		n, err := b.r.ReadAt(p[:b.size-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return b.r.ReadAt(p, off)
}

// gunzip unpacks gzip data (one or more members) into one file.
func gunzip(r io.Reader, s *sink, name string) error {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 256<<10))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return invalidf("it is empty, not gzip data")
		}
		return dataError(err, "the gzip data")
	}
	f, err := s.create(name)
	if err != nil {
		return err
	}
	_, _, rerr, werr := copyData(f, zr, make([]byte, 256<<10))
	if err := f.Close(); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	if rerr != nil {
		return dataError(rerr, "the gzip data")
	}
	return nil
}

// copyData copies src to dst and computes the CRC-32 of what passed; read and write errors come back apart.
func copyData(dst io.Writer, src io.Reader, buf []byte) (n int64, crc uint32, rerr, werr error) {
	for {
		nr, er := src.Read(buf)
		if nr > 0 {
			crc = crc32.Update(crc, crc32.IEEETable, buf[:nr])
			nw, ew := dst.Write(buf[:nr])
			n += int64(nw)
			if ew != nil {
				return n, crc, nil, ew
			}
		}
		if er == io.EOF {
			return n, crc, nil, nil
		}
		if er != nil {
			return n, crc, er, nil
		}
	}
}

// dataError turns a decompression error into a sentence about the archive; other errors (the network's, the
// context's) pass through unchanged.
func dataError(err error, what string) error {
	var corrupt flate.CorruptInputError
	var transfer *storeError
	var known *kindError
	switch {
	case errors.As(err, &transfer), errors.As(err, &known):
		return err
	case errors.As(err, &corrupt):
		return invalidf("%s is corrupt: bad DEFLATE data at byte %d", what, int64(corrupt))
	case errors.Is(err, zip.ErrChecksum), errors.Is(err, gzip.ErrChecksum):
		return invalidf("%s fails its CRC-32 check: the archive is corrupt", what)
	case errors.Is(err, zip.ErrFormat), errors.Is(err, zip.ErrAlgorithm), errors.Is(err, gzip.ErrHeader):
		return invalidf("%s is corrupt (%v)", what, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return truncated(err, "inside "+what)
	}
	return err
}

// truncated is the error of an archive that ends too early; other read errors pass through unchanged.
func truncated(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		var transfer *storeError
		if !errors.As(err, &transfer) {
			return invalidf("the archive is truncated: it ends %s", where)
		}
	}
	return err
}

func crcError(what string, want, got uint32) error {
	return invalidf("%s fails its CRC-32 check (the archive says %08x, the data gives %08x): the archive is corrupt",
		what, want, got)
}
