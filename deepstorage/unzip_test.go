package deepstorage

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// extract runs one extractor on archive into a fresh segment directory and returns the error and the directory.
func extract(t *testing.T, stream bool, archive []byte, max int64) (error, string) {
	t.Helper()
	root, dir := newRoot(t)
	s := newSink(root, max, 100)
	var err error
	if stream {
		err = unzipStream(bytes.NewReader(archive), s)
	} else {
		err = unzipAt(bytes.NewReader(archive), int64(len(archive)), s)
	}
	// Whatever happened, nothing exists beside the segment directory, and inside it only flat regular files.
	parent := filepath.Dir(dir)
	for _, p := range tree(t, parent) {
		if p == "segment/" {
			continue
		}
		name, ok := strings.CutPrefix(p, "segment/")
		if !ok || strings.ContainsAny(name, "/@") {
			t.Errorf("extraction left %q in %s", p, parent)
		}
	}
	return err, dir
}

var extractors = []struct {
	name   string
	stream bool
}{{"stream", true}, {"random-access", false}}

func want(files []file) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range files {
		m[f.name] = f.data
	}
	return m
}

func TestUnzipJavaArchive(t *testing.T) {
	archive, err := os.ReadFile("testdata/java-index.zip")
	if err != nil {
		t.Fatal(err)
	}
	smoosh := make([]byte, 300000)
	x := uint64(1)
	for i := range smoosh {
		x = x*6364136223846793005 + 1442695040888963407
		if i%7 == 0 {
			smoosh[i] = byte(x >> 56)
		} else {
			smoosh[i] = byte(i / 1000)
		}
	}
	expected := want([]file{
		{"00000.smoosh", smoosh},
		{"factory.json", []byte(`{"type":"mMapSegmentFactory"}`)},
		{"meta.smoosh", []byte("v1,2147483647,1\n__time,0,0,1200\nindex.drd,0,1200,300000\n")},
		{"version.bin", []byte{0, 0, 0, 9}},
	})
	for _, x := range extractors {
		t.Run(x.name, func(t *testing.T) {
			err, dir := extract(t, x.stream, archive, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if got := readDir(t, dir); !reflect.DeepEqual(got, expected) {
				t.Errorf("unpacked %d files, not the ones Java packed", len(got))
			}
		})
	}
}

func TestUnzipShapes(t *testing.T) {
	files := segmentFiles(200_000, 1)
	raw := func(mod func(*rawEntry), o rawOpts) []byte {
		var es []rawEntry
		for _, f := range files {
			e := rawEntry{name: f.name, data: f.data}
			mod(&e)
			es = append(es, e)
		}
		return rawZip(t, es, o)
	}
	cases := map[string][]byte{
		"archive/zip writer (data descriptors)": goZip(t, files...),
		"sizes in local headers":                raw(func(e *rawEntry) {}, rawOpts{}),
		"stored entries":                        raw(func(e *rawEntry) { e.method = zip.Store }, rawOpts{}),
		"data descriptors with signature":       raw(func(e *rawEntry) { e.dd = true }, rawOpts{}),
		"data descriptors without signature":    raw(func(e *rawEntry) { e.dd, e.noDDSig = true, true }, rawOpts{}),
		"8-byte data descriptors (Java, >4GiB)": raw(func(e *rawEntry) { e.dd, e.wideDD = true, true }, rawOpts{}),
		"8-byte descriptors without signature":  raw(func(e *rawEntry) { e.dd, e.wideDD, e.noDDSig = true, true, true }, rawOpts{}),
		"zip64 local headers":                   raw(func(e *rawEntry) { e.zip64Local = true }, rawOpts{zip64End: true}),
		"zip64 end records":                     raw(func(e *rawEntry) { e.dd = true }, rawOpts{zip64End: true}),
		"comment":                               raw(func(e *rawEntry) { e.dd = true }, rawOpts{comment: "made by hand"}),
		"MS-DOS attributes":                     raw(func(e *rawEntry) { e.madeBy, e.extAttr = 20, 0x20 }, rawOpts{}),
	}
	for name, archive := range cases {
		for _, x := range extractors {
			t.Run(name+"/"+x.name, func(t *testing.T) {
				err, dir := extract(t, x.stream, archive, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if got := readDir(t, dir); !reflect.DeepEqual(got, want(files)) {
					t.Errorf("unpacked %d files, not the ones packed", len(got))
				}
			})
		}
	}
}

func TestUnzipRefuses(t *testing.T) {
	ok := file{"version.bin", []byte{0, 0, 0, 9}}
	symlink := &zip.FileHeader{Name: "link", Method: zip.Deflate}
	symlink.SetMode(fs.ModeSymlink | 0o777)
	dirHeader := &zip.FileHeader{Name: "sub/"}
	dirHeader.SetMode(fs.ModeDir | 0o755)
	hidden := rawZip(t, []rawEntry{{name: "aaaa.bin", data: []byte("x")}, {name: "bbbb.bin", data: []byte("y")}}, rawOpts{})
	// Make the central directory's second name differ from the local header's.
	i := bytes.LastIndex(hidden, []byte("bbbb.bin"))
	copy(hidden[i:], "cccc.bin")

	cases := []struct {
		name    string
		archive []byte
		msg     string // in the error of both extractors
	}{
		{"zip slip", goZip(t, ok, file{"../x", []byte("evil")}), `entry "../x" climbs out of the segment directory`},
		{"deep zip slip", goZip(t, file{"a/../../x", []byte("evil")}), `climbs out of the segment directory`},
		{"absolute path", goZip(t, file{"/etc/x", []byte("evil")}), `entry "/etc/x" is an absolute path`},
		{"backslash", goZip(t, file{`..\x`, []byte("evil")}), `contains a backslash`},
		{"nested", goZip(t, file{"sub/x", []byte("x")}), `is inside a directory`},
		{"directory entry", goZipHeader(t, dirHeader, nil), `is a directory`},
		{"symlink", goZipHeader(t, symlink, []byte("/etc/passwd")), `entry "link" is a symbolic link`},
		{"duplicate", goZip(t, ok, file{"meta.smoosh", nil}, ok), `entry "version.bin" appears twice`},
		{"control character", goZip(t, file{"a\nb", nil}), `contains a control character`},
		{"empty name", goZip(t, file{"", []byte("x")}), `has an empty name`},
		{"unknown method", rawZip(t, []rawEntry{{name: "x", data: []byte("xx"), method: 12}}, rawOpts{}), `compression method 12`},
		{"no entries", goZip(t), `holds no files`},
	}
	for _, c := range cases {
		for _, x := range extractors {
			t.Run(c.name+"/"+x.name, func(t *testing.T) {
				err, _ := extract(t, x.stream, c.archive, 1<<20)
				if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), c.msg) {
					t.Errorf("err = %v, want ErrInvalidArchive saying %q", err, c.msg)
				}
			})
		}
	}
	t.Run("trailing bytes (stream)", func(t *testing.T) {
		archive := append(goZip(t, ok), "junk"...)
		err, _ := extract(t, true, archive, 1<<20)
		if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), "bytes follow the end of the archive") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("central directory disagrees (stream)", func(t *testing.T) {
		err, _ := extract(t, true, hidden, 1<<20)
		if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), "central directory names entry 2") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestUnzipKeepsExistingFiles(t *testing.T) {
	root, dir := newRoot(t)
	if err := os.WriteFile(filepath.Join(dir, "downloadStartMarker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSink(root, 1<<20, 100)
	err := unzipStream(bytes.NewReader(goZip(t, file{"downloadStartMarker", []byte("x")})), s)
	if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), "would replace a file already in") {
		t.Fatalf("err = %v", err)
	}
	if err := s.removeAll(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); !reflect.DeepEqual(got, []string{"downloadStartMarker"}) {
		t.Errorf("directory holds %q, want the caller's marker alone", got)
	}
}

func TestUnzipCorrupt(t *testing.T) {
	random := make([]byte, 100_000)
	x := uint64(7)
	for i := range random {
		x = x*6364136223846793005 + 1442695040888963407
		random[i] = byte(x >> 56)
	}
	files := []file{{"00000.smoosh", random}, {"version.bin", []byte{0, 0, 0, 9}}}
	good := goZip(t, files...)

	// Incompressible data is stored in DEFLATE's stored blocks: a flipped byte there keeps the DEFLATE stream
	// valid and changes the contents, so only the CRC tells.
	crcBad := bytes.Clone(good)
	crcBad[30+len("00000.smoosh")+50_000] ^= 0xff
	for _, x := range extractors {
		t.Run("crc/"+x.name, func(t *testing.T) {
			err, _ := extract(t, x.stream, crcBad, 1<<20)
			if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), `entry "00000.smoosh" fails its CRC-32 check`) {
				t.Errorf("err = %v", err)
			}
		})
	}

	// Bad DEFLATE data.
	deflateBad := goZip(t, file{"meta.smoosh", bytes.Repeat([]byte("v1,2147483647,1\n"), 1000)})
	deflateBad[30+len("meta.smoosh")] = 0xff // an invalid block type
	for _, x := range extractors {
		t.Run("deflate/"+x.name, func(t *testing.T) {
			err, _ := extract(t, x.stream, deflateBad, 1<<20)
			if !errors.Is(err, ErrInvalidArchive) || !strings.Contains(err.Error(), `meta.smoosh`) {
				t.Errorf("err = %v", err)
			}
		})
	}

	// Truncated anywhere: always an invalid archive, never a success or another error.
	for _, x := range extractors {
		t.Run("truncated/"+x.name, func(t *testing.T) {
			for n := 0; n < len(good); n += 1 + n/3 {
				err, _ := extract(t, x.stream, good[:n], 1<<20)
				if !errors.Is(err, ErrInvalidArchive) {
					t.Fatalf("cut at %d of %d bytes: err = %v, want ErrInvalidArchive", n, len(good), err)
				}
			}
			err, _ := extract(t, x.stream, good[:len(good)-1], 1<<20)
			if !errors.Is(err, ErrInvalidArchive) {
				t.Fatalf("cut 1 byte short: err = %v", err)
			}
		})
	}
	t.Run("truncated/stream message", func(t *testing.T) {
		err, _ := extract(t, true, good[:60_000], 1<<20)
		if err == nil || !strings.Contains(err.Error(), `the archive is truncated: it ends inside entry "00000.smoosh"`) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestUnzipBomb(t *testing.T) {
	comp, usize, crc := zerosBomb(t, 1)
	t.Logf("1 GiB of zeros in %d compressed bytes", len(comp))
	const max = 10 << 20
	cases := map[string][]byte{
		"honest headers":           rawZip(t, []rawEntry{{name: "00000.smoosh", comp: comp, usize: usize, crc: crc}}, rawOpts{}),
		"data descriptor":          rawZip(t, []rawEntry{{name: "00000.smoosh", comp: comp, usize: usize, crc: crc, dd: true}}, rawOpts{}),
		"headers claim 100 B":      rawZip(t, []rawEntry{{name: "00000.smoosh", comp: comp, usize: usize, crc: crc, lieUsize: 100}}, rawOpts{}),
		"many entries, 6 MiB each": goZip(t, file{"a", make([]byte, 6<<20)}, file{"b", make([]byte, 6<<20)}),
	}
	for name, archive := range cases {
		for _, x := range extractors {
			t.Run(name+"/"+x.name, func(t *testing.T) {
				start := time.Now()
				err, dir := extract(t, x.stream, archive, max)
				if name == "headers claim 100 B" && !x.stream {
					// archive/zip stops at the declared size; either way nothing large is written.
					if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalidArchive) {
						t.Errorf("err = %v", err)
					}
				} else if !errors.Is(err, ErrTooLarge) {
					t.Errorf("err = %v, want ErrTooLarge", err)
				}
				var total int64
				for _, b := range readDir(t, dir) {
					total += int64(len(b))
				}
				if total > max {
					t.Errorf("%d bytes written, more than the %d allowed", total, max)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("refusing the bomb took %v", d)
				}
			})
		}
	}
}

func TestUnzipNotStreamable(t *testing.T) {
	// archive/zip writes STORED entries with their sizes after the data: only random access can read that.
	h := &zip.FileHeader{Name: "00000.smoosh", Method: zip.Store}
	archive := goZipHeader(t, h, []byte("stored data"), file{"version.bin", []byte{0, 0, 0, 9}})
	if err, _ := extract(t, true, archive, 1<<20); !errors.Is(err, errNotStreamable) {
		t.Errorf("stream: err = %v, want errNotStreamable", err)
	}
	err, dir := extract(t, false, archive, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := readDir(t, dir); string(got["00000.smoosh"]) != "stored data" || len(got) != 2 {
		t.Errorf("got %q", got)
	}
}

func TestUnzipEmptyInput(t *testing.T) {
	for _, x := range extractors {
		err, _ := extract(t, x.stream, nil, 1<<20)
		if !errors.Is(err, ErrInvalidArchive) {
			t.Errorf("%s: err = %v", x.name, err)
		}
		err, _ = extract(t, x.stream, []byte("this is not a zip archive at all, just text"), 1<<20)
		if !errors.Is(err, ErrInvalidArchive) {
			t.Errorf("%s: err = %v", x.name, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"version.bin", "meta.smoosh", "00000.smoosh", "factory.json", "druid.segment",
		".hidden", "a..b", "..a", "x:y"} {
		if err := checkName(name); err != nil {
			t.Errorf("checkName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../a", "a/..", "a/../b", "/a", "a/b", "a/", `a\b`, "a\x00b",
		"a\x7f", string([]byte{0xff, 0xfe}), strings.Repeat("a", 256)} {
		if err := checkName(name); err == nil {
			t.Errorf("checkName(%q) = nil, want an error", name)
		}
	}
}

// TestUnzipRefusesDeclaredSizesFirst: an archive whose headers declare more than the bound fails before a byte is
// written, streamed (sizes in the local headers) or read with random access (the central directory).
func TestUnzipRefusesDeclaredSizesFirst(t *testing.T) {
	archive := rawZip(t, []rawEntry{{name: "version.bin", data: []byte{0, 0, 0, 9}}, {name: "00000.smoosh", data: make([]byte, 3<<20)}}, rawOpts{})
	for _, x := range extractors {
		t.Run(x.name, func(t *testing.T) {
			err, dir := extract(t, x.stream, archive, 1<<20)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			for name, data := range readDir(t, dir) {
				if len(data) > 4 {
					t.Errorf("%s: %d bytes written before the refusal", name, len(data))
				}
			}
		})
	}
}
