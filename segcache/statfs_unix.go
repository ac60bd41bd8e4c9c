//go:build unix

package segcache

import (
	"fmt"
	"syscall"
)

// statfs returns the filesystem's size and the bytes an unprivileged process may still write (f_bavail), which
// is a little less than Java's File.getFreeSpace (f_bfree) and so errs on the side of keeping space free.
func statfs(path string) (diskSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return diskSpace{}, fmt.Errorf("reading the free space of %s: %w", path, err)
	}
	// The field types differ between Unixes (Bsize is 32 bits on macOS), hence the conversions.
	return diskSpace{Total: uint64(st.Blocks) * uint64(st.Bsize), Free: uint64(st.Bavail) * uint64(st.Bsize)}, nil
}
