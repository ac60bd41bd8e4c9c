package audit

// Single-node drift: a data server's segment cache directories, its info_dir and what it announces, compared. Druid
// keeps the three in step (a load writes the directory, then the info file, then announces; a drop undoes them in
// the reverse order), so a disagreement that lasts is a crash left behind, a cache shared badly, or a bug.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The details of cache_drift findings. A finding's Detail starts with one of them (more may follow, such as the
// directory); match them with strings.HasPrefix.
const (
	// DriftAnnouncedMissing: the node announces the segment, and no cache location holds its directory: queries
	// routed to the node for it fail.
	DriftAnnouncedMissing = "announced but missing on disk"
	// DriftNeverAnnounced: a complete directory (no download marker) that the node does not announce: disk used for
	// nothing, and invisible to the Coordinator's accounting.
	DriftNeverAnnounced = "on disk but never announced"
	// DriftMarkerStale: a directory whose download marker is older than the load timeout: a download that died.
	DriftMarkerStale = "download marker older than the load timeout"
	// DriftInfoWithoutFiles: an info_dir entry whose directory is in no location: the node will try to announce
	// it at its next start and fail, or re-download it.
	DriftInfoWithoutFiles = "info_dir entry without files"
)

// DefaultLoadTimeout is how long a download may run before its marker counts as stale: the Coordinator's load
// timeout (15 minutes, fixed since Druid 30), after which it has given up on the load anyway.
const DefaultLoadTimeout = 15 * time.Minute

// NodeState is one data server's own view of its segments.
type NodeState struct {
	OnDisk    map[string]DiskSegment // segment id -> what is in the cache locations (dir path, has downloadStartMarker, modTime)
	InfoDir   map[string]bool        // ids with an info_dir entry
	Announced map[string]bool        // ids in the node's inventory (counter=-1 snapshot)

	// ids are the structured ids ReadNode learned (the nested layout's directories, the inventory), which name the
	// dataSource and interval of a finding without parsing the id string.
	ids map[string]segments.SegmentID
}

// DiskSegment is one segment directory in a cache location.
type DiskSegment struct {
	// Dir is the directory's path.
	Dir string
	// Marker says whether it holds a downloadStartMarker (a download in progress, or one that died).
	Marker bool
	// ModTime is the marker's modification time when there is one (when the download started), else the
	// directory's.
	ModTime time.Time
}

// ReadNode reads a data server's cache locations and info_dir, as cfg describes them, and its inventory at
// inventoryURL (http://host:port, with or without the inventory's path; "" leaves Announced nil, and Drift then
// skips what needs it). It is read-only: it never writes or deletes anything, so it is safe beside a running Java
// Historical. Both cache layouts are read (druid.sidecar.cacheLayout): flat <location>/<segmentId>, and nested
// <location>/<dataSource>/<start>_<end>/<version>/<partitionNum>. In a location, names starting with '.' (the
// prefetcher's .prefetch staging among them), __drop, lost+found and the info_dir are not segments, nor is
// anything that is not a directory or, in the flat layout, whose name does not read as a segment id. A location or
// info_dir that does not exist holds nothing. A segment found in several locations is reported once, in the first.
//
// It fails when a directory cannot be read or the inventory cannot be fetched: a partial view would report drift
// that is not there.
func ReadNode(ctx context.Context, cfg *configs.Config, inventoryURL string) (*NodeState, error) {
	locs := cfg.SegmentCache.Locations()
	if len(locs) == 0 {
		return nil, errors.New("reading the node's segment cache: druid.segmentCache.locations is empty")
	}
	s := &NodeState{OnDisk: map[string]DiskSegment{}, InfoDir: map[string]bool{}, ids: map[string]segments.SegmentID{}}
	infoDir := cfg.SegmentCache.InfoDir
	nested := cfg.Sidecar.CacheLayout == configs.NestedLayout
	for _, loc := range locs {
		var err error
		if nested {
			err = s.readNested(ctx, loc.Path, infoDir)
		} else {
			err = s.readFlat(ctx, loc.Path, infoDir)
		}
		if err != nil {
			return nil, err
		}
	}
	if infoDir != "" {
		des, err := readDirIfExists(infoDir)
		if err != nil {
			return nil, fmt.Errorf("reading the segment info directory (druid.segmentCache.infoDir): %w", err)
		}
		for _, de := range des {
			// Dot-files are temporary files of an atomic write (Druid 36+, druid-sidecar), not entries.
			if de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".") {
				s.InfoDir[de.Name()] = true
			}
		}
	}
	if inventoryURL != "" {
		s.Announced = map[string]bool{}
		c := newInventoryClient(cfg, nil, 0)
		err := c.fetch(ctx, inventoryURL, func(id segments.SegmentID, _ int64, _ string) {
			name := id.String()
			s.Announced[name] = true
			s.ids[name] = id
		})
		if err != nil {
			return nil, fmt.Errorf("reading the node's segment inventory: %w", err)
		}
	}
	return s, nil
}

// readDirIfExists lists a directory; one that does not exist is empty.
func readDirIfExists(dir string) ([]os.DirEntry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return des, err
}

// notSegment reports whether a top-level name of a location can never be a segment (or a nested layout's
// dataSource): Druid forbids dataSources starting with '.', and the cache keeps its own directories there.
func notSegment(name, locPath, infoDir string) bool {
	switch {
	case strings.HasPrefix(name, "."), name == segcache.DropDir, name == "lost+found":
		return true
	}
	return infoDir != "" && filepath.Clean(filepath.Join(locPath, name)) == filepath.Clean(infoDir)
}

func (s *NodeState) readFlat(ctx context.Context, locPath, infoDir string) error {
	des, err := readDirIfExists(locPath)
	if err != nil {
		return fmt.Errorf("reading the segment cache location %s: %w", locPath, err)
	}
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading the segment cache location %s: %w", locPath, err)
		}
		name := de.Name()
		if !de.IsDir() || notSegment(name, locPath, infoDir) || len(segments.PossibleSegmentIDs(name)) == 0 {
			continue
		}
		if _, seen := s.OnDisk[name]; seen {
			continue
		}
		ds, err := diskSegment(filepath.Join(locPath, name), de)
		if err != nil {
			return err
		}
		s.OnDisk[name] = ds
	}
	return nil
}

// readNested walks <location>/<dataSource>/<start>_<end>/<version>/<partitionNum>; a level whose name cannot be what
// the layout puts there is skipped.
func (s *NodeState) readNested(ctx context.Context, locPath, infoDir string) error {
	list := func(dir string) ([]os.DirEntry, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading the segment cache location %s: %w", locPath, err)
		}
		des, err := readDirIfExists(dir)
		if err != nil {
			return nil, fmt.Errorf("reading the segment cache location %s: %w", locPath, err)
		}
		return slices.DeleteFunc(des, func(de os.DirEntry) bool { return !de.IsDir() }), nil
	}
	dss, err := list(locPath)
	if err != nil {
		return err
	}
	for _, dsEnt := range dss {
		if notSegment(dsEnt.Name(), locPath, infoDir) {
			continue
		}
		dsDir := filepath.Join(locPath, dsEnt.Name())
		ivs, err := list(dsDir)
		if err != nil {
			return err
		}
		for _, ivEnt := range ivs {
			iv, ok := nestedInterval(ivEnt.Name())
			if !ok {
				continue
			}
			ivDir := filepath.Join(dsDir, ivEnt.Name())
			versions, err := list(ivDir)
			if err != nil {
				return err
			}
			for _, vEnt := range versions {
				vDir := filepath.Join(ivDir, vEnt.Name())
				parts, err := list(vDir)
				if err != nil {
					return err
				}
				for _, pEnt := range parts {
					n, err := strconv.Atoi(pEnt.Name())
					if err != nil || n < 0 || strconv.Itoa(n) != pEnt.Name() {
						continue
					}
					id := segments.SegmentID{DataSource: dsEnt.Name(), Interval: iv, Version: vEnt.Name(), PartitionNum: n}
					name := id.String()
					if _, seen := s.OnDisk[name]; seen {
						continue
					}
					ds, err := diskSegment(filepath.Join(vDir, pEnt.Name()), pEnt)
					if err != nil {
						return err
					}
					s.OnDisk[name] = ds
					s.ids[name] = id
				}
			}
		}
	}
	return nil
}

// nestedInterval reads a nested layout's "<start>_<end>" directory name (ISO instants contain no '_').
func nestedInterval(name string) (segments.Interval, bool) {
	start, end, ok := strings.Cut(name, "_")
	if !ok {
		return segments.Interval{}, false
	}
	s, err1 := segments.ParseStrictInstant(start)
	e, err2 := segments.ParseStrictInstant(end)
	if err1 != nil || err2 != nil || s >= e {
		return segments.Interval{}, false
	}
	return segments.Interval{Start: s, End: e}, true
}

// diskSegment describes one segment directory: its marker, if any, and the time that matters.
func diskSegment(dir string, de os.DirEntry) (DiskSegment, error) {
	d := DiskSegment{Dir: dir}
	if fi, err := os.Lstat(filepath.Join(dir, segcache.DownloadStartMarker)); err == nil {
		d.Marker, d.ModTime = true, fi.ModTime()
		return d, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return d, fmt.Errorf("reading the segment directory %s: %w", dir, err)
	}
	fi, err := de.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil // removed since the listing: a drop finishing; its time does not matter
	}
	if err != nil {
		return d, fmt.Errorf("reading the segment directory %s: %w", dir, err)
	}
	d.ModTime = fi.ModTime()
	return d, nil
}

// Drift compares a node's cache directories, info_dir and announcements and returns one cache_drift finding per
// segment that disagrees, sorted by segment id; the first that applies of:
//
//   - announced, but no directory: DriftAnnouncedMissing;
//   - a directory whose download marker is older than loadTimeout (0 means DefaultLoadTimeout): DriftMarkerStale.
//     A younger marker is a download in progress, which is no finding;
//   - an info_dir entry, but no directory: DriftInfoWithoutFiles;
//   - a directory without a marker that is not announced: DriftNeverAnnounced.
//
// With s.Announced nil (ReadNode without an inventory URL) the checks that need it are skipped. ignore, when not nil,
// names segments to leave out: those being loaded or dropped right now, whose three views legitimately differ for a
// moment (a Historical's drop deletes the files dropSegmentDelayMillis after it unannounces them).
func Drift(s *NodeState, now time.Time, loadTimeout time.Duration, ignore func(id string) bool) []Finding {
	if s == nil {
		return nil
	}
	if loadTimeout <= 0 {
		loadTimeout = DefaultLoadTimeout
	}
	names := map[string]bool{}
	for n := range s.OnDisk {
		names[n] = true
	}
	for n := range s.InfoDir {
		names[n] = true
	}
	for n := range s.Announced {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	var out []Finding
	for _, name := range sorted {
		disk, onDisk := s.OnDisk[name]
		announced := s.Announced[name]
		var detail string
		switch {
		case announced && !onDisk:
			detail = DriftAnnouncedMissing
		case onDisk && disk.Marker:
			age := now.Sub(disk.ModTime)
			if age <= loadTimeout {
				continue // a download in progress
			}
			detail = fmt.Sprintf("%s (%s, started %s ago; the load timeout is %s)", DriftMarkerStale, disk.Dir,
				age.Round(time.Second), loadTimeout)
		case s.InfoDir[name] && !onDisk:
			detail = DriftInfoWithoutFiles
		case onDisk && s.Announced != nil && !announced:
			detail = fmt.Sprintf("%s (%s)", DriftNeverAnnounced, disk.Dir)
		default:
			continue
		}
		// Asked only of a segment that would be reported: the callers' checks take locks of a live server.
		if ignore != nil && ignore(name) {
			continue
		}
		f := Finding{Kind: KindCacheDrift, Severity: KindCacheDrift.Severity(), SegmentID: name, Detail: detail}
		if id, ok := s.idOf(name); ok {
			f.DataSource, f.Interval = id.DataSource, id.Interval.String()
		}
		out = append(out, f)
	}
	return out
}

// idOf returns the structured id of a segment id string: the one ReadNode learned, else the most probable reading.
func (s *NodeState) idOf(name string) (segments.SegmentID, bool) {
	if id, ok := s.ids[name]; ok {
		return id, true
	}
	if r := segments.PossibleSegmentIDs(name); len(r) > 0 {
		return r[0], true
	}
	return segments.SegmentID{}, false
}
