package segcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The prefetcher beside the Java Historical stand-in on Druid 35+'s flat layout, one case of the companion's
// safety each: where the Historical's accounting accepts a copy, what happens to a copy it rejects, leaks into
// another location, or downloads over.

// standInLoc is one location of a stand-in cache: its maxSize (0: none), freeSpacePercent and the size of the
// fake disk it is alone on (its free bytes are that less the files under the location).
type standInLoc struct {
	maxSize     int64
	freePercent float64
	disk        int64
}

type standIn struct {
	locs []string
	p    *segcache.Prefetcher
	h    *druidpeer.JavaHistorical
	logs *segcache.SyncLog
}

// duBytes adds up the sizes of the regular files under dir.
func duBytes(dir string) uint64 {
	var n uint64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += uint64(fi.Size())
			}
		}
		return nil
	})
	return n
}

// newStandIn opens a prefetcher and a Java Historical stand-in over fresh locations; sets add --set values (the
// window is auto unless one sets it).
func newStandIn(t *testing.T, rs *raceSetup, specs []standInLoc, hook func(druidpeer.HistoricalStep, segments.SegmentID), sets ...string) *standIn {
	t.Helper()
	dir := t.TempDir()
	s := &standIn{logs: &segcache.SyncLog{}}
	disks := map[string]int64{}
	var raw []map[string]any
	for i, sp := range specs {
		p := filepath.Join(dir, string(rune('a'+i)))
		s.locs = append(s.locs, p)
		disks[p] = sp.disk
		l := map[string]any{"path": p}
		if sp.maxSize > 0 {
			l["maxSize"] = sp.maxSize
		}
		if sp.freePercent > 0 {
			l["freeSpacePercent"] = sp.freePercent
		}
		raw = append(raw, l)
	}
	space := func(p string) (uint64, uint64, error) {
		total, ok := disks[filepath.Clean(p)]
		if !ok {
			return 0, 0, errors.New("no fake disk for " + p)
		}
		return uint64(total), uint64(total) - min(duBytes(p), uint64(total)), nil
	}
	js, _ := json.Marshal(raw)
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: append([]string{
		"druid.segmentCache.locations=" + string(js), "druid.sidecar.cacheLayout=flat"}, sets...)})
	if err != nil {
		t.Fatal(err)
	}
	opts := segcache.PrefetchOptions{Logger: hclog.New(&hclog.LoggerOptions{Output: s.logs, Level: hclog.Debug})}
	segcache.SetDiskSpace(&opts, space)
	if s.p, err = segcache.NewPrefetcher(cfg, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.p.Close() })
	if s.h, err = druidpeer.NewJavaHistorical(cfg, druidpeer.HistoricalOptions{S3: rs.s3, ScratchDir: dir, Hook: hook,
		DiskSpace: space}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *standIn) place(t *testing.T, rs *raceSetup, seg *segments.DataSegment) segcache.Placement {
	t.Helper()
	pl, err := s.p.Place(context.Background(), seg, rs.puller)
	if err != nil || pl.Outcome != segcache.Placed {
		t.Fatalf("Place(%s) = %+v, %v; want it placed", seg.ID(), pl, err)
	}
	return pl
}

// mustReuse loads the segment in the stand-in and requires that it mounted the prefetched copy with deep storage's bytes.
func (s *standIn) mustReuse(t *testing.T, seg *segments.DataSegment, dir string) {
	t.Helper()
	m, err := s.h.Load(context.Background(), seg)
	if err != nil {
		t.Fatalf("the Historical's load of the prefetched %s failed: %v", seg.ID(), err)
	}
	if !m.Reused || m.Dir != dir || !m.Match() {
		t.Fatalf("the Historical mounted %+v; want the prefetched copy in %s, as it was", m, dir)
	}
}

// pauseAtMkdir is a stand-in hook that stops the load of id after its scan of every location found nothing, just
// before its mkdirp: the window of the mount race. at is closed there; the load goes on once resume is closed.
func pauseAtMkdir(id segments.SegmentID) (hook func(druidpeer.HistoricalStep, segments.SegmentID), at, resume chan struct{}) {
	at, resume = make(chan struct{}), make(chan struct{})
	var once sync.Once
	return func(step druidpeer.HistoricalStep, got segments.SegmentID) {
		if step == druidpeer.HistStepMkdir && got == id {
			once.Do(func() { close(at); <-resume })
		}
	}, at, resume
}

// loadAround runs the stand-in's load of seg, whose hook stops it at at, runs during there, then lets it go on
// through resume and returns its mount.
func (s *standIn) loadAround(t *testing.T, seg *segments.DataSegment, at, resume chan struct{}, during func()) druidpeer.HistoricalMount {
	t.Helper()
	loaded := make(chan druidpeer.HistoricalMount, 1)
	go func() {
		m, err := s.h.Load(context.Background(), seg)
		if err != nil {
			t.Error(err)
		}
		loaded <- m
	}()
	<-at
	func() {
		defer close(resume) // even when during fails the test, the load must end
		during()
	}()
	return <-loaded
}

func TestPrefetchWhereHistoricalAccepts(t *testing.T) {
	rs := newRaceSetup(t)
	size := rs.segs[0].Size
	t.Run("maxSize", func(t *testing.T) {
		// Room for one and a half segments beside the one the Historical loads itself.
		s := newStandIn(t, rs, []standInLoc{{maxSize: 2*size + size/2, disk: 100 * size}}, nil)
		if _, err := s.h.Load(context.Background(), rs.segs[0]); err != nil {
			t.Fatal(err)
		}
		pl := s.place(t, rs, rs.segs[1])
		// A second copy would pass the disk but not maxSize less the loaded segment less the first copy.
		_, err := s.p.Place(context.Background(), rs.segs[2], rs.puller)
		if !errors.Is(err, segcache.ErrNoRoom) || !strings.Contains(err.Error(), "reservation would fail") {
			t.Fatalf("Place past the Historical's maxSize = %v, want ErrNoRoom naming its reservation", err)
		}
		s.mustReuse(t, rs.segs[1], pl.Dir)
		if st := s.p.Stats(); st.Placed != 1 {
			t.Fatalf("Stats = %+v", st)
		}
		if s.p.Claimed(rs.segs[1].ID()); s.p.Stats().Claimed != 1 {
			t.Fatalf("Stats after the claim = %+v", s.p.Stats())
		}
	})
	t.Run("freeSpacePercent", func(t *testing.T) {
		// A disk of 20 segments keeping 2 free, filled but for 4.5: one copy leaves 3.5 free, which the
		// Historical's check (2 kept + the segment's 1) accepts; a second would leave 2.5 and be deleted.
		s := newStandIn(t, rs, []standInLoc{{freePercent: 10, disk: 20 * size}}, nil,
			"druid.sidecar.prefetch.maxBytes=1g")
		if err := os.WriteFile(filepath.Join(s.locs[0], "filler"), make([]byte, 20*size-9*size/2), 0o644); err != nil {
			t.Fatal(err)
		}
		pl := s.place(t, rs, rs.segs[0])
		if _, err := s.p.Place(context.Background(), rs.segs[1], rs.puller); !errors.Is(err, segcache.ErrNoRoom) {
			t.Fatalf("Place past the free space the Historical keeps = %v, want ErrNoRoom", err)
		}
		s.mustReuse(t, rs.segs[0], pl.Dir)
	})
}

func TestPrefetchRejectedCopyIsNotPlacedAgain(t *testing.T) {
	rs := newRaceSetup(t)
	size := rs.segs[0].Size
	s := newStandIn(t, rs, []standInLoc{{maxSize: size + size/2, disk: 100 * size}}, nil)
	s.place(t, rs, rs.segs[1])
	// The Historical loads another segment first, then finds the copy: its reservation fails and it deletes it.
	if _, err := s.h.Load(context.Background(), rs.segs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.h.Load(context.Background(), rs.segs[1]); err == nil {
		t.Fatal("the Historical loaded a segment past its maxSize")
	}
	if un := s.p.Unclaimed(); len(un) != 0 {
		t.Fatalf("Unclaimed = %+v after the Historical deleted the copy", un)
	}
	if st := s.p.Stats(); st.Rejected != 1 || st.Claimed != 0 {
		t.Fatalf("Stats = %+v, want one rejected copy", st)
	}
	counting := &countingPuller{inner: rs.puller}
	for range 3 { // the companion's next rounds
		if err := s.p.Budget(rs.segs[1]); !errors.Is(err, segcache.ErrRejected) {
			t.Fatalf("Budget of a rejected segment = %v, want ErrRejected", err)
		}
		if _, err := s.p.Place(context.Background(), rs.segs[1], counting); !errors.Is(err, segcache.ErrRejected) {
			t.Fatalf("Place of a rejected segment = %v, want ErrRejected", err)
		}
	}
	if counting.n != 0 {
		t.Fatalf("%d pulls of a rejected segment", counting.n)
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "deleted a prefetched copy without claiming it"); n != 1 || !strings.Contains(logs, "reason=\"reservation: maxSize") {
		t.Fatalf("%d log lines of the rejection, want one with its reason:\n%s", n, logs)
	}
	// Out of the queue and queued again, once the Historical has room for it.
	if err := s.h.Drop(rs.segs[0]); err != nil {
		t.Fatal(err)
	}
	s.p.LeftQueue(rs.segs[1].ID().String())
	pl := s.place(t, rs, rs.segs[1])
	s.mustReuse(t, rs.segs[1], pl.Dir)
}

type countingPuller struct {
	inner segcache.Puller
	n     int
}

func (c *countingPuller) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	c.n++
	return c.inner.PullSegment(ctx, seg, dir, maxBytes)
}

func TestPrefetchLeakedCopyIsDiscarded(t *testing.T) {
	rs := newRaceSetup(t)
	size := rs.segs[0].Size
	seg := rs.segs[0]
	hook, at, resume := pauseAtMkdir(seg.ID())
	// The second location has the most room, so the copy goes there; the Historical, which found no directory in
	// its scan, reserves in configuration order and downloads into the first.
	s := newStandIn(t, rs, []standInLoc{{maxSize: 10 * size, disk: 50 * size}, {maxSize: 10 * size, disk: 100 * size}}, hook)
	var pl segcache.Placement
	m := s.loadAround(t, seg, at, resume, func() {
		if pl = s.place(t, rs, seg); pl.Location != s.locs[1] {
			t.Errorf("the copy went to %s, want %s", pl.Location, s.locs[1])
		}
	})
	if m.Reused || m.Location != s.locs[0] || !m.Match() {
		t.Fatalf("the Historical mounted %+v; want its own download in %s", m, s.locs[0])
	}
	if !s.p.Claimed(seg.ID()) {
		t.Fatal("Claimed = false after the Historical's load")
	}
	if st := s.p.Stats(); st.Leaked != 1 || st.Claimed != 0 {
		t.Fatalf("Stats = %+v, want one leaked copy", st)
	}
	if _, err := os.Lstat(pl.Dir); !os.IsNotExist(err) {
		t.Fatalf("the leaked copy %s is still there: %v", pl.Dir, err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "version.bin")); err != nil {
		t.Fatalf("the Historical's directory lost its files: %v", err)
	}
	if err := s.h.CheckOwnership(); err != nil {
		t.Fatal(err)
	}
}

func TestPrefetchMountRaceIsCounted(t *testing.T) {
	rs := newRaceSetup(t)
	size := rs.segs[0].Size
	seg := rs.segs[0]
	hook, at, resume := pauseAtMkdir(seg.ID())
	s := newStandIn(t, rs, []standInLoc{{maxSize: 10 * size, disk: 100 * size}}, hook)
	var pl segcache.Placement
	m := s.loadAround(t, seg, at, resume, func() {
		pl = s.place(t, rs, seg)
		// File times come from a clock that ticks every few milliseconds: the Historical's writes must fall on a
		// later tick than the copy's for the race to show in them.
		waitClockPast(t, pl.Dir)
	})
	if m.Reused || m.Dir != pl.Dir || !m.Match() {
		t.Fatalf("the Historical mounted %+v; want its own download over the copy in %s", m, pl.Dir)
	}
	if !s.p.Claimed(seg.ID()) {
		t.Fatal("Claimed = false after the Historical's load")
	}
	if st := s.p.Stats(); st.Raced != 1 || st.Claimed != 0 || st.Leaked != 0 {
		t.Fatalf("Stats = %+v, want one raced copy", st)
	}
	if err := s.h.CheckOwnership(); err != nil {
		t.Fatal(err)
	}
}

// waitClockPast waits until a file written now gets a later modification time than every file of dir has.
func waitClockPast(t *testing.T, dir string) {
	t.Helper()
	probe := filepath.Join(t.TempDir(), "probe")
	deadline := time.Now().Add(5 * time.Second)
	for {
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var newest time.Time
		for _, de := range des {
			if fi, err := de.Info(); err == nil && fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(probe)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().After(newest) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the file clock did not move in 5 s")
		}
	}
}
