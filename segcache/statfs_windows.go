package segcache

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// statfs returns the volume's size and the bytes the calling user may still write, as f_bavail does on Unix.
func statfs(path string) (diskSpace, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return diskSpace{}, fmt.Errorf("reading the free space of %s: %w", path, err)
	}
	var free, total uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, nil); err != nil {
		return diskSpace{}, fmt.Errorf("reading the free space of %s: %w", path, err)
	}
	return diskSpace{Total: total, Free: free}, nil
}
