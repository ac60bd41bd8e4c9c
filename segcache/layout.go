package segcache

import (
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// Names a segment cache reserves inside a location and inside a segment's directory.
const (
	// DownloadStartMarker is the empty file Druid creates in a segment's directory before pulling and deletes after:
	// a directory that still has it is a partial download.
	DownloadStartMarker = "downloadStartMarker"
	// DropDir is <location>/__drop, where directories are moved before they are deleted, so that a crash in the
	// middle of a delete leaves nothing that looks like a segment.
	DropDir = "__drop"
	// PrefetchDir is <location>/.prefetch, where the prefetcher stages segments; the cache never treats it, or
	// anything else whose name starts with '.', as a segment.
	PrefetchDir = ".prefetch"
	// lostFound is the directory mkfs puts at the root of an ext filesystem, often a location's root.
	lostFound = "lost+found"
)

// ErrUnsafeSegmentID matches (errors.Is) the error of a segment whose id cannot be mapped safely to a directory of
// the cache: a '/' or NUL in its dataSource or version, a name starting with '.', a name longer than a file name may
// be, or a dataSource colliding with a name the cache reserves.
var ErrUnsafeSegmentID = errors.New("segment id cannot be stored in the segment cache")

// maxNameBytes is the longest file name Linux filesystems accept (NAME_MAX).
const maxNameBytes = 255

// layout maps segment ids to directories relative to a location, in one of Druid's two layouts.
type layout struct {
	kind configs.CacheLayout
	// reserved are top-level names that can never be a segment's first path component: the drop and prefetch
	// directories, and the info_dir when it lies in a location.
	reserved map[string]bool
}

func newLayout(kind configs.CacheLayout, reserved ...string) (layout, error) {
	switch kind {
	case configs.FlatLayout, configs.NestedLayout:
	case "":
		kind = configs.FlatLayout
	default:
		return layout{}, fmt.Errorf("druid.sidecar.cacheLayout %q: expected flat or nested", kind)
	}
	l := layout{kind: kind, reserved: map[string]bool{DropDir: true, PrefetchDir: true, lostFound: true}}
	for _, r := range reserved {
		l.reserved[r] = true
	}
	return l, nil
}

// checkComponent says why name cannot be one path component of the cache, or returns nil.
func checkComponent(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case strings.HasPrefix(name, "."):
		// Covers "." and "..", and keeps the staging and temporary names (.prefetch, .<id>.<rand>) apart.
		return errors.New("starts with '.'")
	case strings.IndexByte(name, '/') >= 0:
		return errors.New("contains '/'")
	case strings.IndexByte(name, 0) >= 0:
		return errors.New("contains a NUL byte")
	case len(name) > maxNameBytes:
		return fmt.Errorf("is %d bytes long, more than the %d a file name may have", len(name), maxNameBytes)
	case !utf8.ValidString(name):
		return errors.New("is not valid UTF-8")
	}
	return nil
}

// idName checks that a segment id string is usable as one file name (the flat directory and the info_dir file).
func idName(id segments.SegmentID) (string, error) {
	name := id.String()
	if err := checkComponent(name); err != nil {
		return "", fmt.Errorf("%w: segment id %s %v", ErrUnsafeSegmentID, segments.QuoteShort(name), err)
	}
	return name, nil
}

// rel returns the segment's directory relative to its location, with '/' separators, and the id's string form.
func (l layout) rel(id segments.SegmentID) (dir, name string, err error) {
	name, err = idName(id)
	if err != nil {
		return "", "", err
	}
	if l.kind == configs.FlatLayout {
		if l.reserved[name] {
			return "", "", fmt.Errorf("%w: segment id %s is a name the cache reserves", ErrUnsafeSegmentID, segments.QuoteShort(name))
		}
		return name, name, nil
	}
	parts := l.nestedParts(id)
	for i, p := range parts {
		if err := checkComponent(p); err != nil {
			return "", "", fmt.Errorf("%w: segment %s: its nested directory's %s %s %v", ErrUnsafeSegmentID,
				segments.QuoteShort(name), nestedPartNames[i], segments.QuoteShort(p), err)
		}
	}
	if l.reserved[parts[0]] {
		return "", "", fmt.Errorf("%w: segment %s: dataSource %s is a name the cache reserves", ErrUnsafeSegmentID,
			segments.QuoteShort(name), segments.QuoteShort(parts[0]))
	}
	return strings.Join(parts[:], "/"), name, nil
}

var nestedPartNames = [4]string{"dataSource", "interval", "version", "partition number"}

// nestedParts are DataSegmentPusher.getDefaultStorageDir's components: dataSource, start_end, version, partitionNum.
func (l layout) nestedParts(id segments.SegmentID) [4]string {
	return [4]string{id.DataSource, id.Interval.Start.String() + "_" + id.Interval.End.String(), id.Version,
		strconv.Itoa(id.PartitionNum)}
}

// depth is how many path components a segment directory has.
func (l layout) depth() int {
	if l.kind == configs.FlatLayout {
		return 1
	}
	return 4
}

// parentDir returns the directory that holds a segment directory ("." in the flat layout).
func parentDir(rel string) string { return path.Dir(rel) }
