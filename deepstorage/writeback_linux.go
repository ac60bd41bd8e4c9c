package deepstorage

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing n bytes of f from off (to its end when n is 0) to disk, without
// waiting for them (sync_file_range with SYNC_FILE_RANGE_WRITE). It is only a head start for a later fsync, which
// alone makes the bytes durable, so its error is ignored: the fsync reports any.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) })
}
