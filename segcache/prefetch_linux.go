package segcache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The prefetcher's file system calls that only Linux has: renameat2(RENAME_NOREPLACE) and statx with birth times.
// Other platforms get prefetch_other.go, where the prefetcher is off.

// prefetchSupported is nil here: Linux has every call the prefetcher needs.
func prefetchSupported() error { return nil }

// renameNoReplace is renameat2(RENAME_NOREPLACE) of fromDir/fromName to toDir/toName: both names are single path
// components, so nothing resolves outside the two directories. An existing target matches fs.ErrExist.
func renameNoReplace(fromDir *os.File, fromName string, toDir *os.File, toName string) error {
	err := unix.Renameat2(int(fromDir.Fd()), fromName, int(toDir.Fd()), toName, unix.RENAME_NOREPLACE)
	runtime.KeepAlive(fromDir)
	runtime.KeepAlive(toDir)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.ENOTEMPTY):
		return fmt.Errorf("%w: %w", fs.ErrExist, err)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		// No fallback: link/unlink does not work for directories, and a plain rename could replace the empty
		// directory of a Historical's load in progress.
		return fmt.Errorf("%w: %w", ErrNoReplaceUnsupported, err)
	}
	return err
}

// identify reads the identity of the directory rel of root, without following a symlink.
func identify(root *os.Root, rel string) (dirID, error) {
	parent, err := root.Open(parentDir(rel))
	if err != nil {
		return dirID{}, err
	}
	defer parent.Close()
	var st unix.Statx_t
	err = unix.Statx(int(parent.Fd()), path.Base(rel), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_TYPE|unix.STATX_BTIME, &st)
	runtime.KeepAlive(parent)
	if err != nil {
		return dirID{}, fmt.Errorf("reading %s: %w", filepath.Join(root.Name(), rel), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return dirID{}, fmt.Errorf("%s is not a directory", filepath.Join(root.Name(), rel))
	}
	id := dirID{ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		id.birth = st.Btime.Sec*int64(time.Second) + int64(st.Btime.Nsec)
	}
	return id, nil
}

// statxAt reads the modification and birth times of name in dir ("." for dir itself), not following symlinks.
func statxAt(dir *os.File, name string) (inodeTimes, error) {
	var st unix.Statx_t
	err := unix.Statx(int(dir.Fd()), name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MTIME|unix.STATX_BTIME, &st)
	runtime.KeepAlive(dir)
	if err != nil {
		return inodeTimes{}, err
	}
	t := inodeTimes{mtime: time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec))}
	if st.Mask&unix.STATX_BTIME != 0 {
		t.btime, t.hasBirth = time.Unix(st.Btime.Sec, int64(st.Btime.Nsec)), true
	}
	return t, nil
}
