package deepstorage

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
)

// FuzzUnzip feeds arbitrary bytes to both extractors: neither may panic, write outside the segment directory,
// write anything but flat regular files, or write more than allowed; and where both succeed they must agree.
func FuzzUnzip(f *testing.F) {
	files := []file{{"version.bin", []byte{0, 0, 0, 9}}, {"meta.smoosh", []byte("v1,2147483647,1\n")}}
	f.Add(goZip(f, files...))
	f.Add(goZip(f, file{"../x", []byte("evil")}))
	f.Add(goZip(f, files[0], files[0]))
	symlink := &zip.FileHeader{Name: "link"}
	symlink.SetMode(fs.ModeSymlink | 0o777)
	f.Add(goZipHeader(f, symlink, []byte("/etc/passwd")))
	f.Add(goZipHeader(f, &zip.FileHeader{Name: "stored", Method: zip.Store}, []byte("stored")))
	for _, e := range []rawEntry{{dd: true, wideDD: true}, {zip64Local: true}, {dd: true, noDDSig: true}, {method: zip.Store}} {
		e.name, e.data = "00000.smoosh", bytes.Repeat([]byte("abc"), 100)
		f.Add(rawZip(f, []rawEntry{e}, rawOpts{zip64End: e.zip64Local}))
	}
	const max = 1 << 20
	// One base directory for every run, in memory where there is a tmpfs: t.TempDir per run costs enough to make
	// the fuzzer crawl.
	base := f.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "deepstorage-fuzz-"); err == nil {
		base = shm
		f.Cleanup(func() { os.RemoveAll(shm) })
	}
	var runs atomic.Int64
	f.Fuzz(func(t *testing.T, archive []byte) {
		var results [2]map[string][]byte
		var errs [2]error
		for i, stream := range []bool{true, false} {
			parent := filepath.Join(base, strconv.FormatInt(runs.Add(1), 10))
			dir := filepath.Join(parent, "segment")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(parent)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			s := newSink(root, max, 100)
			if stream {
				errs[i] = unzipStream(bytes.NewReader(archive), s)
			} else {
				errs[i] = unzipAt(bytes.NewReader(archive), int64(len(archive)), s)
			}
			root.Close()
			if errs[i] != nil && errs[i].Error() == "" {
				t.Fatal("an error without a message")
			}
			if errs[i] != nil && !errors.Is(errs[i], ErrInvalidArchive) && !errors.Is(errs[i], ErrTooLarge) &&
				!errors.Is(errs[i], errNotStreamable) {
				t.Fatalf("stream=%v: an error that is neither ErrInvalidArchive nor ErrTooLarge: %v", stream, errs[i])
			}
			if top, _ := os.ReadDir(parent); len(top) != 1 {
				t.Fatalf("stream=%v: %d entries beside the segment directory", stream, len(top)-1)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			results[i] = map[string][]byte{}
			var total int64
			for _, e := range entries {
				if !e.Type().IsRegular() {
					t.Fatalf("stream=%v: %q is not a regular file (%v)", stream, e.Name(), e.Type())
				}
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				total += int64(len(b))
				results[i][e.Name()] = b
			}
			if total > max {
				t.Fatalf("stream=%v: wrote %d bytes, more than %d", stream, total, max)
			}
		}
		if errs[0] == nil && errs[1] == nil {
			if len(results[0]) != len(results[1]) {
				t.Fatalf("the extractors disagree: %d files and %d files", len(results[0]), len(results[1]))
			}
			for name, b := range results[0] {
				if !bytes.Equal(b, results[1][name]) {
					t.Fatalf("the extractors disagree about %q", name)
				}
			}
		}
	})
}
