package segcache

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// diskSpace is what statfs says of the filesystem holding a location.
type diskSpace struct {
	Total, Free uint64
}

// openLocations opens the configured locations, creating any that is not there yet with Druid's permissions as the
// Historical does at startup, for both the cache and the prefetcher, so that they agree on what a location is. It
// returns the first path component of each location that infoPath lies under (kept out of the segment layout) and
// refuses an infoPath that is a location itself, whose info files would then sit among the dataSources.
func openLocations(confLocs []configs.StorageLocation, infoPath string, sf func(string) (diskSpace, error)) (locs []*location, reserved []string, err error) {
	defer func() {
		if err != nil {
			for _, l := range locs {
				l.root.Close()
			}
			locs, reserved = nil, nil
		}
	}()
	for i, cl := range confLocs {
		p, err := filepath.Abs(filepath.Clean(cl.Path))
		if err != nil {
			return locs, nil, fmt.Errorf("segment cache location %s: %w", cl.Path, err)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return locs, nil, fmt.Errorf("creating segment cache location %s: %w", p, err)
		}
		root, err := os.OpenRoot(p)
		if err != nil {
			return locs, nil, fmt.Errorf("opening segment cache location %s: %w", p, err)
		}
		locs = append(locs, &location{index: i, path: p, root: root, maxSize: int64(cl.MaxSize),
			freeSpacePercent: cl.FreeSpacePercent, statfs: sf})
		if rel, err := filepath.Rel(p, infoPath); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			if rel == "." {
				return locs, nil, fmt.Errorf("druid.segmentCache.infoDir %s is the segment cache location itself; it must be a directory of its own", infoPath)
			}
			reserved = append(reserved, strings.SplitN(filepath.ToSlash(rel), "/", 2)[0])
		}
	}
	return locs, reserved, nil
}

// location is one druid.segmentCache.locations entry: a directory (opened as an *os.Root, so that no path derived
// from a segment id can leave it) and its accounting. Space is reserved before a download starts and released
// when it fails or when the segment's files are deleted, as Druid's StorageLocation does.
type location struct {
	index            int
	path             string
	root             *os.Root
	maxSize          int64
	freeSpacePercent float64
	statfs           func(string) (diskSpace, error)

	mu       sync.Mutex
	used     int64 // loaded segments, reservations of loads in progress, files waiting to be deleted
	inflight int64 // the part of used reserved by loads whose files are still being written
	count    int   // segments loaded or loading here

	// tree serialises, in the nested layout, creating a segment's parent directories with pruning empty ones.
	tree sync.Mutex
}

// LocationUsage is the state of one location, for `cache ls` and the usage gauges.
type LocationUsage struct {
	Path string
	// MaxSize is the location's maxSize (math.MaxInt64 when not configured).
	MaxSize int64
	// Used is the bytes accounted to the location: loaded segments, loads in progress and files awaiting deletion.
	Used int64
	// Segments is the number of segments loaded or loading in the location.
	Segments int
	// DiskTotal and DiskFree are what the filesystem reports; 0 when it could not be read.
	DiskTotal, DiskFree uint64
	// FreeSpacePercent is the share of the disk to keep free.
	FreeSpacePercent float64
}

func (l *location) usage() LocationUsage {
	l.mu.Lock()
	u := LocationUsage{Path: l.path, MaxSize: l.maxSize, Used: l.used, Segments: l.count, FreeSpacePercent: l.freeSpacePercent}
	l.mu.Unlock()
	if ds, err := l.statfs(l.path); err == nil {
		u.DiskTotal, u.DiskFree = ds.Total, ds.Free
	}
	return u
}

// roomLocked returns how many more bytes the location can take now: below maxSize, and above the free space to keep
// once the writes in progress have landed.
func (l *location) roomLocked() (int64, error) {
	room := l.maxSize - l.used
	if l.freeSpacePercent > 0 {
		ds, err := l.statfs(l.path)
		if err != nil {
			return 0, err
		}
		keep := uint64(math.Ceil(float64(ds.Total) * l.freeSpacePercent / 100))
		free := int64(min(ds.Free, math.MaxInt64)) - l.inflight
		room = min(room, free-int64(min(keep, math.MaxInt64)))
	}
	return max(room, 0), nil
}

// pullBound is how many bytes a load that has reserved `reserved` bytes may write: its reservation and the room
// left below maxSize, and no more than the filesystem's free space less the free-space margin and the bytes the
// other loads in progress have reserved but may not have written yet. Without maxSize and without a readable
// filesystem it is math.MaxInt64.
func (l *location) pullBound(reserved int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	// used includes the reservation, so this cannot overflow; the room left counts from zero, never below it, since
	// a segment accounted without a check (a dropped directory taken back, an over-limit one at startup) may have
	// pushed used past maxSize after this load reserved, and the reservation it was granted stays its own.
	bound := reserved + max(l.maxSize-l.used, 0)
	if ds, err := l.statfs(l.path); err == nil {
		keep := int64(min(uint64(math.Ceil(float64(ds.Total)*l.freeSpacePercent/100)), math.MaxInt64))
		disk := int64(min(ds.Free, math.MaxInt64)) - (l.inflight - reserved) - keep
		bound = min(bound, disk)
	}
	return max(bound, 0)
}

// reserve accounts size bytes to a load about to start, or says why the location cannot hold them.
func (l *location) reserve(size int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	room, err := l.roomLocked()
	if err != nil {
		return err
	}
	if size > room {
		if l.freeSpacePercent > 0 {
			return fmt.Errorf("%s has room for %d more bytes (maxSize %d, %d used or reserved, %.4g%% of the disk kept free), not %d",
				l.path, room, l.maxSize, l.used, l.freeSpacePercent, size)
		}
		return fmt.Errorf("%s has room for %d more bytes (maxSize %d, %d used or reserved), not %d", l.path, room,
			l.maxSize, l.used, size)
	}
	l.used += size
	l.inflight += size
	l.count++
	return nil
}

// settle turns a load's reservation into the bytes its files actually take.
func (l *location) settle(reserved, actual int64) {
	l.mu.Lock()
	l.inflight -= reserved
	l.used += actual - reserved
	l.mu.Unlock()
}

// release gives back a failed load's reservation.
func (l *location) release(reserved int64) {
	l.mu.Lock()
	l.inflight -= reserved
	l.used -= reserved
	l.count--
	l.mu.Unlock()
}

// account adds a segment found on disk (bootstrap, or a directory a load re-uses) without any free-space check:
// its bytes are already on the disk. It fails only past maxSize, the over-limit case.
func (l *location) account(size int64, force bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !force && l.used+size > l.maxSize {
		return false
	}
	l.used += size
	l.count++
	return true
}

// forget removes a segment's bytes once its files are gone; unloaded says whether it still counted as a segment.
func (l *location) forget(size int64, unloaded bool) {
	l.mu.Lock()
	l.used -= size
	if unloaded {
		l.count--
	}
	l.mu.Unlock()
}

// uncount stops counting a segment that is being dropped; its bytes stay used until its files are deleted.
func (l *location) uncount() {
	l.mu.Lock()
	l.count--
	l.mu.Unlock()
}

func (l *location) recount() {
	l.mu.Lock()
	l.count++
	l.mu.Unlock()
}

// selector orders the locations to try for a new segment, as druid.segmentCache.locationSelector.strategy says.
type selector struct {
	strategy configs.LocationSelectorStrategy
	next     atomic.Uint64
}

func (s *selector) order(locs []*location) []*location {
	out := slices.Clone(locs)
	switch s.strategy {
	case configs.RoundRobin:
		// Druid's RoundRobinStorageLocationSelectorStrategy: each call starts one location further.
		n := int(s.next.Add(1)-1) % len(out)
		out = append(out[n:], out[:n]...)
	case configs.Random:
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	case configs.MostAvailableSize:
		avail := make(map[*location]int64, len(out))
		for _, l := range out {
			l.mu.Lock()
			avail[l] = l.maxSize - l.used
			l.mu.Unlock()
		}
		slices.SortStableFunc(out, func(a, b *location) int { return cmp.Compare(avail[b], avail[a]) })
	default: // leastBytesUsed
		used := make(map[*location]int64, len(out))
		for _, l := range out {
			l.mu.Lock()
			used[l] = l.used
			l.mu.Unlock()
		}
		slices.SortStableFunc(out, func(a, b *location) int { return cmp.Compare(used[a], used[b]) })
	}
	return out
}
