//go:build !linux

package segcache

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errPlatform is what the Linux-only calls of the prefetcher return elsewhere; it matches errors.ErrUnsupported.
var errPlatform = fmt.Errorf("prefetching is not supported on this platform (%s): it needs Linux's "+
	"renameat2(RENAME_NOREPLACE) and statx: %w", runtime.GOOS, errors.ErrUnsupported)

// prefetchSupported turns prefetching off here: without a rename that never replaces, a copy could replace the
// directory of a Historical's load in progress.
func prefetchSupported() error { return fmt.Errorf("%w: %w", ErrPrefetchOff, errPlatform) }

func renameNoReplace(*os.File, string, *os.File, string) error {
	return fmt.Errorf("%w: %w", ErrNoReplaceUnsupported, errPlatform)
}

// identify cannot tell a copy of the prefetcher's from a Historical's directory here, so it never claims one.
func identify(*os.Root, string) (dirID, error) { return dirID{}, errPlatform }

func statxAt(*os.File, string) (inodeTimes, error) { return inodeTimes{}, errPlatform }
