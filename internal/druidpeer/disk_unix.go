//go:build unix

package druidpeer

import (
	"io/fs"
	"syscall"
)

// diskSpace is Java's File.getTotalSpace and getFreeSpace (f_bfree, not f_bavail) of the filesystem holding path.
func diskSpace(path string) (total, free uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	// The field types differ between Unixes (Bsize is 32 bits on macOS), hence the conversions.
	return uint64(st.Blocks) * uint64(st.Bsize), uint64(st.Bfree) * uint64(st.Bsize), nil
}

func histInodeOf(fi fs.FileInfo) (histInode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return histInode{}, false
	}
	return histInode{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}
