package druidpeer

// JavaHistorical plays a Java Historical's segment cache (SegmentLocalCacheManager, StorageLocation and the info_dir
// writes of SegmentLoadDropHandler) step for step, as druid-protocol.md section 13 describes it, so that tests can
// race druid-sidecar's prefetcher against it on a real disk:
//
//   - flat layout (Druid 35+): a load checks every location in configuration order for the segment's directory; one
//     found is reserved (maxSize, then freeSpacePercent against the real free space) and mounted, and when the
//     reservation fails it is deleted. Mounting a directory with a downloadStartMarker moves it to __drop, deletes
//     it and pulls again; one without it is used as it is, with no size or checksum check, and only missing files
//     fail the mount. A failed mount deletes the directory and the next location is tried.
//   - nested layout (Druid 30-34): a directory found without a marker is accounted with maybeReserve (even past
//     maxSize; never deleted); one with a marker is deleted, then its parents while they are empty.
//   - a pull is mkdirp, create the marker (failing if it exists), one plain S3 GetObject spooled to a temporary
//     file and unzipped over whatever is there (Java's unzip truncates existing files), delete the marker; then the
//     info_dir/<segmentId> file is written in place (Druid 35 and older) with the DataSegment JSON.
//   - a drop deletes the info_dir file, then the directory: through __drop in the flat layout, recursively in place
//     and then each parent found empty (listing, then a recursive delete, as Druid 34's cleanupCacheFiles) in the
//     nested one.
//
// Every step can be preceded by a random delay and a hook, for race tests. Every mount is checked against deep
// storage: the files on disk must hash like the unpacked object, so a test can assert that no segment was ever
// mounted with bytes other than deep storage's. The stand-in also remembers every marker and info file it created,
// so that CheckOwnership finds any created by someone else.

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// HistoricalStep names a step of the stand-in's loads and drops, for HistoricalOptions.Hook.
type HistoricalStep string

// The steps, in the order a load or a drop takes them.
const (
	// HistStepFindExisting comes before looking for the segment's directory in one location.
	HistStepFindExisting HistoricalStep = "find-existing"
	// HistStepReserve comes before reserving (flat) or accounting (nested) a directory found on disk.
	HistStepReserve HistoricalStep = "reserve"
	// HistStepDeleteFound comes before deleting a directory found with a marker, or whose reservation failed.
	HistStepDeleteFound HistoricalStep = "delete-found"
	// HistStepMkdir comes before the mkdirp of the segment's directory for a pull.
	HistStepMkdir HistoricalStep = "mkdir"
	// HistStepMarker comes before creating the downloadStartMarker.
	HistStepMarker HistoricalStep = "marker"
	// HistStepPull comes before the GET from deep storage.
	HistStepPull HistoricalStep = "pull"
	// HistStepUnmark comes before deleting the downloadStartMarker.
	HistStepUnmark HistoricalStep = "unmark"
	// HistStepMount comes before mounting (the file check and the comparison with deep storage).
	HistStepMount HistoricalStep = "mount"
	// HistStepWriteInfo comes before writing info_dir/<segmentId>.
	HistStepWriteInfo HistoricalStep = "write-info"
	// HistStepDropInfo comes before a drop deletes the info file.
	HistStepDropInfo HistoricalStep = "drop-info"
	// HistStepDropDir comes before a drop deletes the directory.
	HistStepDropDir HistoricalStep = "drop-dir"
	// HistStepPruneParent (nested) comes after a parent was listed empty and before its recursive delete: the
	// window in which a sibling renamed into it is deleted with it.
	HistStepPruneParent HistoricalStep = "prune-parent"
)

// HistoricalOptions tune the stand-in; the zero value of each is a sensible default.
type HistoricalOptions struct {
	// S3 pulls segments, one GetObject per pull. Nil builds a client from druid.s3.* with a single connection.
	S3 *s3.Client
	// MaxDelay, when positive, sleeps a random duration below it before every step.
	MaxDelay time.Duration
	// Hook, when set, runs before every step (after the delay). It may block, to order a race.
	Hook func(step HistoricalStep, id segments.SegmentID)
	// ScratchDir holds the downloads' temporary files; "" means os.TempDir().
	ScratchDir string
	// DiskSpace, when set, replaces the filesystem's total and free bytes (Java's getTotalSpace and getFreeSpace) of
	// a location, so that a test can give a location a disk of any size.
	DiskSpace func(path string) (total, free uint64, err error)
}

// HistoricalMount is one segment mounted by the stand-in.
type HistoricalMount struct {
	Segment  segments.SegmentID
	Dir      string
	Location string
	// Reused says the directory was found on disk and used as it was (a prefetched copy, say), not pulled.
	Reused bool
	// Digest hashes the files on disk when they were mounted; Want hashes the deep-storage object's content.
	Digest, Want string
}

// Match says whether the mounted bytes were deep storage's.
func (m HistoricalMount) Match() bool { return m.Digest != "" && m.Digest == m.Want }

// JavaHistorical is the stand-in. Its methods are safe for concurrent use; loads and drops of one segment are
// serialised, as Druid's per-segment locks do.
type JavaHistorical struct {
	nested  bool
	locs    []*histLocation
	infoDir string
	s3      *s3.Client
	opts    HistoricalOptions

	mu       sync.Mutex
	segLocks map[string]*sync.Mutex
	loaded   map[string]histLoaded
	mounts   []HistoricalMount
	created  map[histInode]string // markers and info files this Historical created, by inode
	digests  map[string]string    // deep-storage object -> digest of its content
}

type histLoaded struct {
	loc   *histLocation
	dir   string
	mount HistoricalMount
}

type histInode struct{ dev, ino uint64 }

// histLocation is a StorageLocation: maxSize, the free space to keep, and the reservations.
type histLocation struct {
	path    string
	maxSize int64
	keep    int64
	space   func(path string) (total, free uint64, err error)

	mu       sync.Mutex
	curr     int64
	reserved map[string]int64
}

// NewJavaHistorical makes a stand-in for the Historical whose configuration cfg is: its locations, info_dir, layout
// (druid.sidecar.cacheLayout: flat is Druid 35+, nested 30-34) and, without opts.S3, its druid.s3.* settings.
func NewJavaHistorical(cfg *configs.Config, opts HistoricalOptions) (*JavaHistorical, error) {
	locs := cfg.SegmentCache.Locations()
	if len(locs) == 0 {
		return nil, errors.New("java historical: druid.segmentCache.locations is empty")
	}
	h := &JavaHistorical{
		nested: cfg.Sidecar.CacheLayout == configs.NestedLayout, infoDir: cfg.SegmentCache.InfoDir, s3: opts.S3,
		opts: opts, segLocks: map[string]*sync.Mutex{}, loaded: map[string]histLoaded{},
		created: map[histInode]string{}, digests: map[string]string{},
	}
	if h.infoDir == "" {
		h.infoDir = filepath.Join(locs[0].Path, "info_dir")
	}
	if err := os.MkdirAll(h.infoDir, 0o755); err != nil {
		return nil, fmt.Errorf("java historical: creating the info_dir: %w", err)
	}
	for _, l := range locs {
		if err := os.MkdirAll(l.Path, 0o755); err != nil {
			return nil, fmt.Errorf("java historical: creating location %s: %w", l.Path, err)
		}
		hl := &histLocation{path: filepath.Clean(l.Path), maxSize: int64(l.MaxSize), reserved: map[string]int64{}, space: diskSpace}
		if opts.DiskSpace != nil {
			hl.space = opts.DiskSpace
		}
		if l.FreeSpacePercent > 0 {
			total, _, err := hl.space(hl.path)
			if err != nil {
				return nil, fmt.Errorf("java historical: reading the size of %s: %w", l.Path, err)
			}
			// StorageLocation: (long) (freeSpacePercent * getTotalSpace() / 100).
			hl.keep = int64(l.FreeSpacePercent * float64(total) / 100)
		}
		h.locs = append(h.locs, hl)
	}
	if h.s3 == nil {
		h.s3 = historicalS3Client(cfg)
	}
	return h, nil
}

// historicalS3Client is a client of druid.s3.* that holds one connection, as Druid's single-stream pull uses.
func historicalS3Client(cfg *configs.Config) *s3.Client {
	o := deepstorage.OptionsFromConfig(cfg).S3
	region := o.Region
	if region == "" {
		region = "us-east-1"
	}
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxConnsPerHost: 1,
		MaxIdleConnsPerHost: 1, ResponseHeaderTimeout: 30 * time.Second}
	so := s3.Options{Region: region, UsePathStyle: o.PathStyle, HTTPClient: &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired}
	if o.Endpoint != "" {
		so.BaseEndpoint = aws.String(o.Endpoint)
	}
	if o.AccessKey != "" || o.SecretKey != "" {
		so.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")
	}
	return s3.New(so)
}

func (h *JavaHistorical) pause(step HistoricalStep, id segments.SegmentID) {
	if h.opts.MaxDelay > 0 {
		time.Sleep(mrand.N(h.opts.MaxDelay))
	}
	if h.opts.Hook != nil {
		h.opts.Hook(step, id)
	}
}

func (h *JavaHistorical) lock(id string) func() {
	h.mu.Lock()
	l := h.segLocks[id]
	if l == nil {
		l = new(sync.Mutex)
		h.segLocks[id] = l
	}
	h.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// relDir is the segment's directory relative to a location: the segment id (flat), or
// <dataSource>/<start>_<end>/<version>/<partitionNum> (DataSegmentPusher.getDefaultStorageDir, nested).
func (h *JavaHistorical) relDir(id segments.SegmentID) (string, error) {
	parts := []string{id.String()}
	if h.nested {
		parts = []string{id.DataSource, id.Interval.Start.String() + "_" + id.Interval.End.String(), id.Version,
			strconv.Itoa(id.PartitionNum)}
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\x00") {
			return "", fmt.Errorf("java historical: segment %s cannot be a directory of the cache (%q)", id, p)
		}
	}
	return filepath.Join(parts...), nil
}

// Load loads the segment as the Historical does on a load request, and returns its mount.
func (h *JavaHistorical) Load(ctx context.Context, seg *segments.DataSegment) (HistoricalMount, error) {
	id := seg.ID()
	name := id.String()
	rel, err := h.relDir(id)
	if err != nil {
		return HistoricalMount{}, err
	}
	defer h.lock(name)()
	h.mu.Lock()
	if l, ok := h.loaded[name]; ok {
		h.mu.Unlock()
		return l.mount, nil // loaded already: Druid answers at once
	}
	h.mu.Unlock()
	var m HistoricalMount
	if h.nested {
		m, err = h.loadNested(ctx, seg, rel)
	} else {
		m, err = h.loadFlat(ctx, seg, rel)
	}
	if err != nil {
		return m, fmt.Errorf("java historical: loading %s: %w", name, err)
	}
	h.pause(HistStepWriteInfo, id)
	if err := h.writeInfo(seg); err != nil {
		return m, fmt.Errorf("java historical: loading %s: %w", name, err)
	}
	h.mu.Lock()
	h.loaded[name] = histLoaded{loc: h.locByPath(m.Location), dir: m.Dir, mount: m}
	h.mounts = append(h.mounts, m)
	h.mu.Unlock()
	return m, nil
}

func (h *JavaHistorical) locByPath(p string) *histLocation {
	for _, l := range h.locs {
		if l.path == p {
			return l
		}
	}
	return nil
}

// loadFlat is Druid 35+'s assignLocationAndMount.
func (h *JavaHistorical) loadFlat(ctx context.Context, seg *segments.DataSegment, rel string) (HistoricalMount, error) {
	id := seg.ID()
	name := id.String()
	var errs []error
existing:
	for _, loc := range h.locs {
		h.pause(HistStepFindExisting, id)
		dir := filepath.Join(loc.path, rel)
		if !histExists(dir) {
			continue
		}
		h.pause(HistStepReserve, id)
		if loc.isReserved(name) || loc.reserve(name, seg.Size) {
			m, err := h.mountFlat(ctx, loc, seg, dir)
			if err == nil {
				return m, nil
			}
			// Druid catches the failure around the whole loop and goes on with the new-location loop.
			errs = append(errs, err)
			break existing
		}
		h.pause(HistStepDeleteFound, id)
		if err := h.deleteViaDrop(loc, dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, loc := range h.locs {
		if !loc.reserve(name, seg.Size) {
			errs = append(errs, fmt.Errorf("%s cannot reserve %d bytes", loc.path, seg.Size))
			continue
		}
		m, err := h.mountFlat(ctx, loc, seg, filepath.Join(loc.path, rel))
		if err == nil {
			return m, nil
		}
		errs = append(errs, err)
	}
	return HistoricalMount{}, fmt.Errorf("failed to load segment in all locations: %w", errors.Join(errs...))
}

// mountFlat is Druid 35+'s SegmentCacheEntry.mount in a reserved location; a failure unmounts (deletes the
// directory and releases the reservation).
func (h *JavaHistorical) mountFlat(ctx context.Context, loc *histLocation, seg *segments.DataSegment, dir string) (HistoricalMount, error) {
	id := seg.ID()
	reused := false
	var err error
	if histExists(dir) {
		if histExists(filepath.Join(dir, segcache.DownloadStartMarker)) {
			h.pause(HistStepDeleteFound, id)
			err = h.deleteViaDrop(loc, dir)
		} else {
			reused = true
		}
	}
	if err == nil && !reused {
		err = h.pullWithMarker(ctx, seg, dir)
	}
	var m HistoricalMount
	if err == nil {
		m, err = h.mount(ctx, loc, seg, dir, reused)
	}
	if err != nil {
		derr := h.deleteViaDrop(loc, dir)
		loc.release(id.String())
		return HistoricalMount{}, errors.Join(fmt.Errorf("in %s: %w", loc.path, err), derr)
	}
	return m, nil
}

// loadNested is Druid 30-34's load: findStoragePathFromCache, then loadSegmentWithRetry.
func (h *JavaHistorical) loadNested(ctx context.Context, seg *segments.DataSegment, rel string) (HistoricalMount, error) {
	id := seg.ID()
	name := id.String()
	for _, loc := range h.locs {
		h.pause(HistStepFindExisting, id)
		dir := filepath.Join(loc.path, rel)
		if !histExists(dir) {
			continue
		}
		if histExists(filepath.Join(dir, segcache.DownloadStartMarker)) {
			h.pause(HistStepDeleteFound, id)
			h.cleanupCacheFiles(loc, dir, id)
			continue
		}
		h.pause(HistStepReserve, id)
		loc.maybeReserve(name, seg.Size)
		m, err := h.mount(ctx, loc, seg, dir, true)
		if err != nil {
			h.cleanupCacheFiles(loc, dir, id)
			loc.release(name)
			return HistoricalMount{}, err
		}
		return m, nil
	}
	var errs []error
	for _, loc := range h.locs {
		if !loc.reserve(name, seg.Size) {
			errs = append(errs, fmt.Errorf("%s cannot reserve %d bytes", loc.path, seg.Size))
			continue
		}
		dir := filepath.Join(loc.path, rel)
		err := h.pullWithMarker(ctx, seg, dir)
		var m HistoricalMount
		if err == nil {
			m, err = h.mount(ctx, loc, seg, dir, false)
		}
		if err == nil {
			return m, nil
		}
		h.cleanupCacheFiles(loc, dir, id)
		loc.release(name)
		errs = append(errs, err)
	}
	return HistoricalMount{}, fmt.Errorf("failed to load segment in all locations: %w", errors.Join(errs...))
}

// pullWithMarker is loadInLocationWithStartMarker: mkdirp, create the marker, pull, delete the marker.
func (h *JavaHistorical) pullWithMarker(ctx context.Context, seg *segments.DataSegment, dir string) error {
	id := seg.ID()
	h.pause(HistStepMkdir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	h.pause(HistStepMarker, id)
	marker := filepath.Join(dir, segcache.DownloadStartMarker)
	f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("was not able to create new download marker for %s: %w", dir, err)
	}
	h.remember(f, marker)
	f.Close()
	h.pause(HistStepPull, id)
	if _, err := h.pull(ctx, seg, dir); err != nil {
		return err
	}
	h.pause(HistStepUnmark, id)
	h.forgetFile(marker)
	if err := os.Remove(marker); err != nil {
		return fmt.Errorf("unable to remove marker file for %s: %w", dir, err)
	}
	return nil
}

// mount checks what SegmentizerFactory.factorize would need (version.bin and the smoosh files meta.smoosh names,
// or druid.segment) and compares the files with deep storage's.
func (h *JavaHistorical) mount(ctx context.Context, loc *histLocation, seg *segments.DataSegment, dir string, reused bool) (HistoricalMount, error) {
	id := seg.ID()
	h.pause(HistStepMount, id)
	if err := histCheckMountable(dir); err != nil {
		return HistoricalMount{}, fmt.Errorf("mounting %s: %w", dir, err)
	}
	got, err := histDirDigest(dir)
	if err != nil {
		return HistoricalMount{}, fmt.Errorf("mounting %s: %w", dir, err)
	}
	want, err := h.expected(ctx, seg)
	if err != nil {
		return HistoricalMount{}, err
	}
	return HistoricalMount{Segment: id, Dir: dir, Location: loc.path, Reused: reused, Digest: got, Want: want}, nil
}

func histCheckMountable(dir string) error {
	if histExists(filepath.Join(dir, "druid.segment")) {
		return nil
	}
	if !histExists(filepath.Join(dir, "version.bin")) {
		return errors.New("version.bin is missing")
	}
	f, err := os.Open(filepath.Join(dir, "meta.smoosh"))
	if err != nil {
		return err
	}
	defer f.Close()
	first, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return fmt.Errorf("meta.smoosh: %w", err)
	}
	fields := strings.Split(strings.TrimSpace(first), ",")
	if len(fields) != 3 || fields[0] != "v1" {
		return fmt.Errorf("meta.smoosh starts with %q, not v1,<maxChunkSize>,<numChunks>", first)
	}
	n, err := strconv.Atoi(fields[2])
	if err != nil || n < 0 || n > 100000 {
		return fmt.Errorf("meta.smoosh names %q chunks", fields[2])
	}
	for i := range n {
		if !histExists(filepath.Join(dir, fmt.Sprintf("%05d.smoosh", i))) {
			return fmt.Errorf("%05d.smoosh is missing", i)
		}
	}
	return nil
}

// Drop drops the segment as the Historical does once the drop delay passed: info file first, then the files.
func (h *JavaHistorical) Drop(seg *segments.DataSegment) error {
	id := seg.ID()
	name := id.String()
	rel, err := h.relDir(id)
	if err != nil {
		return err
	}
	defer h.lock(name)()
	h.pause(HistStepDropInfo, id)
	info := filepath.Join(h.infoDir, name)
	h.forgetFile(info)
	if err := os.Remove(info); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("java historical: dropping %s: %w", name, err)
	}
	h.mu.Lock()
	l, ok := h.loaded[name]
	delete(h.loaded, name)
	h.mu.Unlock()
	if !ok {
		return nil
	}
	h.pause(HistStepDropDir, id)
	if h.nested {
		h.cleanupCacheFiles(l.loc, filepath.Join(l.loc.path, rel), id)
	} else if err := h.deleteViaDrop(l.loc, l.dir); err != nil {
		return fmt.Errorf("java historical: dropping %s: %w", name, err)
	}
	l.loc.release(name)
	return nil
}

// deleteViaDrop moves a directory into <location>/__drop and deletes it there (Druid 36's deletes).
func (h *JavaHistorical) deleteViaDrop(loc *histLocation, dir string) error {
	drop := filepath.Join(loc.path, segcache.DropDir)
	if err := os.MkdirAll(drop, 0o755); err != nil {
		return err
	}
	var b [8]byte
	rand.Read(b[:])
	trash := filepath.Join(drop, hex.EncodeToString(b[:]))
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("moving %s to %s: %w", dir, segcache.DropDir, err)
	}
	h.forgetTree(trash)
	return os.RemoveAll(trash)
}

// cleanupCacheFiles is Druid 34's: delete the directory recursively, then, while the parent lists as empty (or
// cannot be listed), delete the parent recursively, up to the location.
func (h *JavaHistorical) cleanupCacheFiles(loc *histLocation, dir string, id segments.SegmentID) {
	for dir != loc.path && strings.HasPrefix(dir, loc.path+string(filepath.Separator)) {
		h.forgetTree(dir)
		os.RemoveAll(dir)
		parent := filepath.Dir(dir)
		if parent == loc.path {
			return
		}
		children, err := os.ReadDir(parent)
		if err == nil && len(children) > 0 {
			return
		}
		h.pause(HistStepPruneParent, id)
		dir = parent
	}
}

// pull is the single-stream pull: one GetObject spooled to a temporary file, unzipped into dir over what is there.
func (h *JavaHistorical) pull(ctx context.Context, seg *segments.DataSegment, dir string) (int64, error) {
	f, err := h.download(ctx, seg)
	if err != nil {
		return 0, err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return 0, fmt.Errorf("reading the segment archive: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	var total int64
	sums := map[string]string{}
	for _, zf := range zr.File {
		if err := histFlatName(zf.Name); err != nil {
			return total, err
		}
		rc, err := zf.Open()
		if err != nil {
			return total, err
		}
		out, err := root.OpenFile(zf.Name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			rc.Close()
			return total, err
		}
		hs := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, hs), rc) // archive/zip checks the CRC-32 at the end of the entry
		total += n
		if err := errors.Join(err, rc.Close(), out.Close()); err != nil {
			return total, fmt.Errorf("unzipping %s: %w", zf.Name, err)
		}
		sums[zf.Name] = hex.EncodeToString(hs.Sum(nil))
	}
	// What the object holds is known now: the mount check needs no second GET.
	h.mu.Lock()
	h.digests[string(seg.LoadSpec)] = histCombineDigests(sums)
	h.mu.Unlock()
	return total, nil
}

func histFlatName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("zip entry %q would leave the segment directory", name)
	}
	return nil
}

// download GETs the segment's object into a temporary file, rewound.
func (h *JavaHistorical) download(ctx context.Context, seg *segments.DataSegment) (*os.File, error) {
	spec, err := deepstorage.ParseLoadSpec(seg.LoadSpec)
	if err != nil {
		return nil, err
	}
	s, ok := spec.(deepstorage.S3Zip)
	if !ok || !strings.HasSuffix(s.Key, ".zip") {
		return nil, fmt.Errorf("java historical: only s3_zip index.zip load specs are pulled, not %s", spec)
	}
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Key)})
	if err != nil {
		return nil, fmt.Errorf("java historical: GET %s: %w", s, err)
	}
	defer out.Body.Close()
	f, err := os.CreateTemp(h.opts.ScratchDir, "java-historical-pull-*")
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("java historical: GET %s: %w", s, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// expected is the digest of the deep-storage object's unpacked content, fetched once per object.
func (h *JavaHistorical) expected(ctx context.Context, seg *segments.DataSegment) (string, error) {
	key := string(seg.LoadSpec)
	h.mu.Lock()
	d, ok := h.digests[key]
	h.mu.Unlock()
	if ok {
		return d, nil
	}
	f, err := h.download(ctx, seg)
	if err != nil {
		return "", err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return "", err
	}
	sums := map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			return "", err
		}
		hs := sha256.New()
		_, err = io.Copy(hs, rc)
		if err := errors.Join(err, rc.Close()); err != nil {
			return "", err
		}
		sums[zf.Name] = hex.EncodeToString(hs.Sum(nil))
	}
	d = histCombineDigests(sums)
	h.mu.Lock()
	h.digests[key] = d
	h.mu.Unlock()
	return d, nil
}

// dirDigest hashes every regular file of a segment directory (a leftover marker included, so it shows).
func histDirDigest(dir string) (string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	sums := map[string]string{}
	for _, de := range des {
		if !de.Type().IsRegular() {
			return "", fmt.Errorf("%s holds %s, which is not a regular file", dir, de.Name())
		}
		f, err := os.Open(filepath.Join(dir, de.Name()))
		if err != nil {
			return "", err
		}
		hs := sha256.New()
		_, err = io.Copy(hs, f)
		f.Close()
		if err != nil {
			return "", err
		}
		sums[de.Name()] = hex.EncodeToString(hs.Sum(nil))
	}
	return histCombineDigests(sums), nil
}

func histCombineDigests(sums map[string]string) string {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	slices.Sort(names)
	hs := sha256.New()
	for _, n := range names {
		fmt.Fprintf(hs, "%s\x00%s\n", n, sums[n])
	}
	return hex.EncodeToString(hs.Sum(nil))
}

// writeInfo is storeInfoFile of Druid 35 and older: when the file is not there, the DataSegment JSON written in
// place.
func (h *JavaHistorical) writeInfo(seg *segments.DataSegment) error {
	p := filepath.Join(h.infoDir, seg.ID().String())
	if histExists(p) {
		return nil
	}
	data, err := seg.AppendJSON(nil)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing the info file: %w", err)
	}
	h.remember(f, p)
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("writing the info file: %w", err)
	}
	return nil
}

// ---- accounting --------------------------------------------------------------------------------------------------

func (l *histLocation) isReserved(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.reserved[id]
	return ok
}

// reserve is StorageLocation.reserve: refused when already reserved, past maxSize, or when the free space would
// drop below the space to keep (getFreeSpace, which counts blocks reserved for root too).
func (l *histLocation) reserve(id string, size int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.reserved[id]; ok {
		return false
	}
	if l.maxSize-l.curr < size {
		return false
	}
	if l.keep > 0 {
		_, bfree, err := l.space(l.path)
		if err != nil {
			return false
		}
		free := int64(min(bfree, math.MaxInt64))
		if l.keep+size > free {
			return false
		}
	}
	l.reserved[id] = size
	l.curr += size
	return true
}

// maybeReserve is Druid 34's: the segment is accounted even past maxSize (Druid alerts); it says whether it fit.
func (l *histLocation) maybeReserve(id string, size int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.reserved[id]; ok {
		return true
	}
	l.reserved[id] = size
	l.curr += size
	return l.curr <= l.maxSize
}

func (l *histLocation) release(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size, ok := l.reserved[id]; ok {
		delete(l.reserved, id)
		l.curr -= size
	}
}

// ---- what it created ---------------------------------------------------------------------------------------------

func (h *JavaHistorical) remember(f *os.File, p string) {
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if k, ok := histInodeOf(fi); ok {
		h.mu.Lock()
		h.created[k] = p
		h.mu.Unlock()
	}
}

func (h *JavaHistorical) forgetFile(p string) {
	fi, err := os.Lstat(p)
	if err != nil {
		return
	}
	if k, ok := histInodeOf(fi); ok {
		h.mu.Lock()
		delete(h.created, k)
		h.mu.Unlock()
	}
}

// forgetTree forgets the markers of a directory about to be deleted, so that a later file with a reused inode
// is not taken for one of ours.
func (h *JavaHistorical) forgetTree(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == segcache.DownloadStartMarker {
			h.forgetFile(p)
		}
		return nil
	})
}

// CheckOwnership walks the locations and the info_dir and reports every downloadStartMarker and info file that this
// Historical did not create. Call it while no load or drop runs.
func (h *JavaHistorical) CheckOwnership() error {
	var errs []error
	owned := func(p string) bool {
		fi, err := os.Lstat(p)
		if err != nil {
			return true // gone meanwhile
		}
		k, ok := histInodeOf(fi)
		h.mu.Lock()
		defer h.mu.Unlock()
		return ok && h.created[k] != ""
	}
	for _, loc := range h.locs {
		err := filepath.WalkDir(loc.path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.IsDir() && d.Name() == segcache.DownloadStartMarker && !owned(p) {
				errs = append(errs, fmt.Errorf("%s was not created by the Historical", p))
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	des, err := os.ReadDir(h.infoDir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, de := range des {
		p := filepath.Join(h.infoDir, de.Name())
		if de.Type().IsRegular() && !owned(p) {
			errs = append(errs, fmt.Errorf("info file %s was not written by the Historical", p))
		}
	}
	return errors.Join(errs...)
}

// Mounts returns every mount so far, in order.
func (h *JavaHistorical) Mounts() []HistoricalMount {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.mounts)
}

// Loaded returns the directory of a loaded segment.
func (h *JavaHistorical) Loaded(id segments.SegmentID) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.loaded[id.String()]
	return l.dir, ok
}

// Used returns the bytes reserved in each location, in configuration order.
func (h *JavaHistorical) Used() []int64 {
	out := make([]int64, len(h.locs))
	for i, l := range h.locs {
		l.mu.Lock()
		out[i] = l.curr
		l.mu.Unlock()
	}
	return out
}

func histExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
