package druidpeer

import (
	"io/fs"

	"golang.org/x/sys/windows"
)

// diskSpace is Java's File.getTotalSpace and getFreeSpace of the volume holding path.
func diskSpace(path string) (total, free uint64, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, err
	}
	err = windows.GetDiskFreeSpaceEx(p, nil, &total, &free)
	return total, free, err
}

// histInodeOf has no inode to read here: the fake Historical then does not recognise its own files by identity.
func histInodeOf(fs.FileInfo) (histInode, bool) { return histInode{}, false }
