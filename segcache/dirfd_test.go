package segcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"syscall"
	"testing"
)

// TestDirFDMatchesRoot holds the raw-system-call read of the startup (dirfd_linux.go) to the os.Root read it
// stands in for: the same listing of a segment directory holding every kind of entry, the same info file bytes,
// the same errors, a symbolic link handed back to os.Root, and a FIFO that does not block the read.
func TestDirFDMatchesRoot(t *testing.T) {
	dir := t.TempDir()
	seg := filepath.Join(dir, "seg")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(seg, 0o755))
	must(os.WriteFile(filepath.Join(seg, "version.bin"), []byte{0, 0, 0, 9}, 0o644))
	must(os.WriteFile(filepath.Join(seg, "meta.smoosh"), make([]byte, 300), 0o644))
	must(os.WriteFile(filepath.Join(seg, DownloadStartMarker), nil, 0o644))
	must(os.Mkdir(filepath.Join(seg, "sub"), 0o755))
	must(os.Symlink("version.bin", filepath.Join(seg, "link")))
	must(os.WriteFile(filepath.Join(dir, "info"), []byte(`{"dataSource":"x"}`), 0o644))
	must(os.Symlink("info", filepath.Join(dir, "info-link")))
	must(os.Symlink("seg", filepath.Join(dir, "seg-link")))
	fifo := runtime.GOOS == "linux"
	if fifo {
		must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	}

	root, err := os.OpenRoot(dir)
	must(err)
	defer root.Close()
	d := openDirFD(root)
	defer d.close()
	if runtime.GOOS == "linux" && d == nil {
		t.Fatal("no raw read on Linux")
	}

	want, err := listSegmentDir(root, "seg")
	must(err)
	got, err := listSegmentDirVia(d, root, "seg")
	must(err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listing: %+v, os.Root lists %+v", got, want)
	}
	if _, ok, _ := d.listSegment("seg-link"); ok {
		t.Error("a symbolic link to a directory was listed without os.Root")
	}
	_, wantErr := listSegmentDir(root, "missing")
	_, gotErr := listSegmentDirVia(d, root, "missing")
	if gotErr == nil || !errors.Is(gotErr, fs.ErrNotExist) || gotErr.Error() != wantErr.Error() {
		t.Errorf("a missing directory: %v, os.Root says %v", gotErr, wantErr)
	}
	if _, ok, _ := d.listSegment("a/b"); ok {
		t.Error("a nested path was read without os.Root")
	}

	if d != nil {
		b, ok, err := d.readFile("info", nil)
		if !ok || err != nil || string(b) != `{"dataSource":"x"}` {
			t.Errorf("info file: %q %v %v", b, ok, err)
		}
		if _, ok, _ := d.readFile("info-link", nil); ok {
			t.Error("a symbolic link was read without os.Root")
		}
		if _, ok, err := d.readFile("missing", nil); !ok || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a missing info file: %v %v", ok, err)
		}
		if fifo {
			if b, ok, err := d.readFile("fifo", nil); !ok || err != nil || len(b) != 0 {
				t.Errorf("a FIFO: %q %v %v, want it read as empty at once", b, ok, err)
			}
		}
	}
}
