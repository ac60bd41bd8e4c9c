//go:build linux

package segcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// dirFD reads the entries of one directory the cache holds open with openat(2), fstatat(2) and getdents64(2)
// directly: a restart over 100,000 cached segments is a few hundred thousand system calls, and os.Root adds an
// lstat and an fstat to each of its opens (a third of the read here). Only a name that is one path component is
// read this way, opened with O_NOFOLLOW, so it cannot lead out of the directory any more than os.Root lets it; a
// symbolic link, a nested path or a system without this file takes the os.Root path as before (ok false).
type dirFD struct {
	f  *os.File // kept so that the descriptor stays open
	fd int
}

// openDirFD returns the dirFD of root's directory, nil when it cannot be opened (the callers then use root).
func openDirFD(root *os.Root) *dirFD {
	f, err := root.Open(".")
	if err != nil {
		return nil
	}
	return newDirFD(f)
}

// newDirFD is the dirFD of the open directory f, which stays the caller's to close.
func newDirFD(f *os.File) *dirFD { return &dirFD{f: f, fd: int(f.Fd())} }

func (d *dirFD) close() {
	if d != nil {
		d.f.Close()
	}
}

// oneComponent reports whether name names an entry of the directory itself.
func oneComponent(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsRune(name, '/')
}

// open opens name in d, or reports with ok false that the os.Root path must open it.
func (d *dirFD) open(name string, flags int) (fd int, ok bool, err error) {
	if d == nil || !oneComponent(name) {
		return -1, false, nil
	}
	for {
		fd, err = unix.Openat(d.fd, name, flags|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		switch {
		case err == nil:
			return fd, true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			// A symbolic link (ENOTDIR when a directory was asked for) or not a directory: os.Root decides whether
			// the link stays inside, and words what is wrong.
			return -1, false, nil
		default:
			return -1, true, &fs.PathError{Op: "openat", Path: name, Err: err}
		}
	}
}

// readFile reads the file name of d to its end into buf, as infoDir.read does through os.Root. A FIFO is opened
// without blocking (and reads as empty), where os.Root's open would wait for a writer.
func (d *dirFD) readFile(name string, buf []byte) (_ []byte, ok bool, err error) {
	fd, ok, err := d.open(name, unix.O_NONBLOCK)
	if !ok || err != nil {
		return buf, ok, err
	}
	defer unix.Close(fd)
	if buf, err = readAll(fdReader(fd), buf[:0]); err != nil {
		return buf, true, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return buf, true, nil
}

// fdReader reads a raw descriptor as an io.Reader for readAll: io.EOF at the end, EINTR retried.
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// listSegment is listSegmentDir of the directory rel of d: its regular files with their sizes, the download
// marker, and the names of entries that are not regular files, in directory order.
func (d *dirFD) listSegment(rel string) (out segmentFiles, ok bool, err error) {
	fd, ok, err := d.open(rel, unix.O_DIRECTORY)
	if !ok || err != nil {
		return out, ok, err
	}
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return out, true, &fs.PathError{Op: "readdirent", Path: rel, Err: err}
		}
		if n <= 0 {
			return out, true, nil
		}
		// struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name NUL-terminated.
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return out, true, &fs.PathError{Op: "readdirent", Path: rel, Err: errors.New("malformed directory entry")}
			}
			typ, nameBytes := b[18], b[19:reclen]
			if i := bytes.IndexByte(nameBytes, 0); i >= 0 {
				nameBytes = nameBytes[:i]
			}
			b = b[reclen:]
			name := string(nameBytes)
			if name == "." || name == ".." {
				continue
			}
			// The entry's type comes with it, but for a file system that leaves it unknown; a file's size takes one
			// fstatat either way.
			var st unix.Stat_t
			statted := false
			size := func() (int64, error) {
				if !statted {
					if err := fstatatRetry(fd, name, &st); err != nil {
						return 0, &fs.PathError{Op: "fstatat", Path: rel + "/" + name, Err: err}
					}
					statted = true
				}
				return st.Size, nil
			}
			regular := typ == unix.DT_REG
			if typ == unix.DT_UNKNOWN {
				if _, err := size(); err != nil {
					return out, true, err
				}
				regular = st.Mode&unix.S_IFMT == unix.S_IFREG
			}
			if err := out.add(name, regular, size); err != nil {
				return out, true, err
			}
		}
	}
}

func fstatatRetry(dirfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
