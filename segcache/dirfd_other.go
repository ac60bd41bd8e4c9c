//go:build !linux

package segcache

import "os"

// dirFD is the Linux read of a cache directory with raw system calls (dirfd_linux.go); elsewhere every read takes
// the os.Root path.
type dirFD struct{}

func openDirFD(*os.Root) *dirFD                                      { return nil }
func newDirFD(*os.File) *dirFD                                       { return nil }
func (d *dirFD) close()                                              {}
func (d *dirFD) readFile(_ string, buf []byte) ([]byte, bool, error) { return buf, false, nil }
func (d *dirFD) listSegment(string) (segmentFiles, bool, error)      { return segmentFiles{}, false, nil }
