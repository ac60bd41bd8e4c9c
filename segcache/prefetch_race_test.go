package segcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/internal/druidpeer"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// raceIterations is how many rounds each layout runs: PREFETCH_RACE_ITERATIONS, 25 by default (50 rounds in all,
// each scenario four times per layout, in about ten seconds; every round fsyncs a few dozen times).
func raceIterations(t *testing.T) int {
	n := 25
	if v := os.Getenv("PREFETCH_RACE_ITERATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("PREFETCH_RACE_ITERATIONS=%q is not a positive number", v)
		}
	}
	return n
}

// raceSetup is what every round shares: the segments in S3 and the two ways of pulling them.
type raceSetup struct {
	segs   []*segments.DataSegment // partitions of one interval: one parent directory in the nested layout
	puller segcache.Puller         // the prefetcher's: the deepstorage engine, with random delays
	s3     *s3.Client              // the Historical's single-stream client
}

func newRaceSetup(t *testing.T) *raceSetup {
	b := testenv.S3(t)
	rs := &raceSetup{s3: b.Client(t)}
	for part := range 3 {
		data, size, err := sandbox.IndexZip(uint64(part+1), 30_000)
		if err != nil {
			t.Fatal(err)
		}
		seg := sandbox.Segment("wiki", 0, part, 3, b.Bucket, "druid/segments", size)
		b.Put(t, sandbox.Key("druid/segments", seg.ID()), data)
		rs.segs = append(rs.segs, seg)
	}
	dp, err := deepstorage.New(deepstorage.Options{S3: deepstorage.S3Options{Endpoint: b.Endpoint, Region: b.Region,
		AccessKey: b.AccessKey, SecretKey: b.SecretKey, PathStyle: true}})
	if err != nil {
		t.Fatal(err)
	}
	inner := dp
	rs.puller = segcache.PullerFunc(func(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
		time.Sleep(rand.N(3 * time.Millisecond))
		return inner.PullSegment(ctx, seg, dir, maxBytes)
	})
	return rs
}

// raceRound is one round: a fresh cache of two locations, a prefetcher and a Java Historical on it.
type raceRound struct {
	t      *testing.T
	layout configs.CacheLayout
	locs   []string
	p      *segcache.Prefetcher
	h      *druidpeer.JavaHistorical
	// outcomes counts Place's results, for the log.
	mu       sync.Mutex
	outcomes map[string]int
}

func newRaceRound(t *testing.T, rs *raceSetup, layout configs.CacheLayout, outcomes map[string]int) *raceRound {
	t.Helper()
	dir := t.TempDir()
	r := &raceRound{t: t, layout: layout, locs: []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}, outcomes: outcomes}
	raw, _ := json.Marshal([]map[string]string{{"path": r.locs[0]}, {"path": r.locs[1]}})
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		"druid.segmentCache.locations=" + string(raw), "druid.sidecar.cacheLayout=" + string(layout),
		"druid.sidecar.prefetch.maxBytes=100m"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.p, err = segcache.NewPrefetcher(cfg, segcache.PrefetchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.p.Close() })
	if r.h, err = druidpeer.NewJavaHistorical(cfg, druidpeer.HistoricalOptions{S3: rs.s3, MaxDelay: time.Millisecond, ScratchDir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := r.p.CleanStaging(); err != nil {
		t.Fatal(err)
	}
	return r
}

// place runs Place with a bound, so that a copy waiting for a nested parent to be quiet gives up quickly. Besides
// the three outcomes, a refusal for a recent drop and that bound are the acceptable results.
func (r *raceRound) place(seg *segments.DataSegment, rs *raceSetup) (segcache.Placement, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	pl, err := r.p.Place(ctx, seg, rs.puller)
	key := pl.Outcome.String()
	switch {
	case errors.Is(err, segcache.ErrRecentDrop):
		key = "refused: recent drop"
	case errors.Is(err, context.DeadlineExceeded):
		key = "gave up waiting for a quiet parent"
	case err != nil:
		r.t.Errorf("Place(%s): %v", seg.ID(), err)
		return pl, err
	}
	r.mu.Lock()
	r.outcomes[key]++
	r.mu.Unlock()
	return pl, err
}

func (r *raceRound) load(seg *segments.DataSegment) druidpeer.HistoricalMount {
	m, err := r.h.Load(context.Background(), seg)
	if err != nil {
		r.t.Errorf("the Historical's load of %s failed: %v", seg.ID(), err)
	}
	return m
}

// check is the scan after every step: every mount's bytes were deep storage's, and every downloadStartMarker and
// info_dir file is one the Historical created.
func (r *raceRound) check(step string) {
	r.t.Helper()
	for _, m := range r.h.Mounts() {
		if !m.Match() {
			r.t.Errorf("%s: %s was mounted from %s (reused %v) with bytes other than deep storage's", step, m.Segment, m.Dir, m.Reused)
		}
	}
	if err := r.h.CheckOwnership(); err != nil {
		r.t.Errorf("%s: %v", step, err)
	}
}

// finish checks the cleanup: CleanStaging leaves nothing but the ledger, claimed copies refuse Discard, unclaimed
// ones are removed by it, and after the Historical drops everything no segment directory is left.
func (r *raceRound) finish(rs *raceSetup) {
	t := r.t
	t.Helper()
	if err := r.p.CleanStaging(); err != nil {
		t.Error(err)
	}
	for _, loc := range r.locs {
		des, _ := os.ReadDir(filepath.Join(loc, segcache.PrefetchDir))
		for _, de := range des {
			if de.Name() != "placed" {
				t.Errorf("%s holds %s after CleanStaging", filepath.Join(loc, segcache.PrefetchDir), de.Name())
			}
		}
	}
	for _, seg := range rs.segs {
		dir, loaded := r.h.Loaded(seg.ID())
		if !loaded {
			continue
		}
		if err := r.p.Discard(seg); !errors.Is(err, segcache.ErrClaimed) && !errors.Is(err, segcache.ErrNotPlaced) {
			t.Errorf("Discard of %s, loaded by the Historical: %v, want a refusal", seg.ID(), err)
		}
		if _, err := os.Stat(filepath.Join(dir, "version.bin")); err != nil {
			t.Errorf("the Historical's %s lost its files: %v", seg.ID(), err)
		}
		if !r.p.Claimed(seg.ID()) {
			t.Errorf("Claimed(%s) = false for a segment the Historical loaded", seg.ID())
		}
		if err := r.h.Drop(seg); err != nil {
			t.Error(err)
		}
	}
	for _, c := range r.p.Unclaimed() {
		if err := r.p.Discard(c.Segment); err != nil {
			t.Errorf("Discard of the unclaimed %s: %v", c.Segment.ID(), err)
		}
	}
	r.check("after the cleanup")
	depth := 1
	if r.layout == configs.NestedLayout {
		depth = 4
	}
	for _, loc := range r.locs {
		filepath.WalkDir(loc, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == loc {
				return nil
			}
			rel, _ := filepath.Rel(loc, p)
			if top := strings.Split(rel, string(filepath.Separator))[0]; top == "info_dir" || top == segcache.DropDir || top == segcache.PrefetchDir {
				if d.Type().IsRegular() && top != "info_dir" {
					t.Errorf("left behind: %s", p)
				}
				return nil
			}
			if strings.Count(rel, string(filepath.Separator))+1 >= depth {
				t.Errorf("a segment directory is left after every drop and discard: %s", p)
				return filepath.SkipDir
			}
			return nil
		})
		if des, _ := os.ReadDir(filepath.Join(loc, "info_dir")); len(des) > 0 {
			t.Errorf("info_dir of %s still holds %d files", loc, len(des))
		}
	}
}

// The scenarios of one round.
var raceScenarios = []struct {
	name string
	run  func(r *raceRound, rs *raceSetup)
}{
	{"historical first", func(r *raceRound, rs *raceSetup) {
		for _, seg := range rs.segs {
			r.load(seg)
		}
		r.check("loads")
		for _, seg := range rs.segs {
			if pl, err := r.place(seg, rs); err == nil && pl.Outcome != segcache.AlreadyPresent {
				r.t.Errorf("Place of a loaded segment: %v, want already present", pl.Outcome)
			}
		}
		r.check("places")
	}},
	{"companion first", func(r *raceRound, rs *raceSetup) {
		for _, seg := range rs.segs {
			r.place(seg, rs)
		}
		r.check("places")
		for _, seg := range rs.segs {
			if m := r.load(seg); !m.Reused {
				r.t.Errorf("the Historical pulled %s again instead of mounting the prefetched copy", seg.ID())
			}
			if err := r.p.Discard(seg); !errors.Is(err, segcache.ErrClaimed) {
				r.t.Errorf("Discard of a claimed copy: %v, want ErrClaimed", err)
			}
		}
		r.check("loads")
	}},
	{"both at once", func(r *raceRound, rs *raceSetup) {
		var wg sync.WaitGroup
		for _, seg := range rs.segs {
			wg.Go(func() { time.Sleep(rand.N(2 * time.Millisecond)); r.load(seg) })
			wg.Go(func() { time.Sleep(rand.N(2 * time.Millisecond)); r.place(seg, rs) })
		}
		wg.Wait()
		r.check("loads and places at once")
	}},
	{"drop during placement", func(r *raceRound, rs *raceSetup) {
		// The Historical holds the first two; it drops the first while the prefetcher places the first again
		// and the third, siblings in the nested layout, whose parent the drop may prune.
		r.load(rs.segs[0])
		r.load(rs.segs[1])
		r.check("loads")
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := r.h.Drop(rs.segs[0]); err != nil {
				r.t.Error(err)
			}
		})
		wg.Go(func() { time.Sleep(rand.N(2 * time.Millisecond)); r.place(rs.segs[0], rs) })
		wg.Go(func() { time.Sleep(rand.N(2 * time.Millisecond)); r.place(rs.segs[2], rs) })
		wg.Wait()
		r.check("a drop and places at once")
		r.load(rs.segs[0])
		r.load(rs.segs[2])
		r.check("loads after the drop")
	}},
	{"drop of the last sibling", func(r *raceRound, rs *raceSetup) {
		// Nested: dropping the only segment of a parent prunes the parent; the placement of a sibling races it.
		r.load(rs.segs[0])
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := r.h.Drop(rs.segs[0]); err != nil {
				r.t.Error(err)
			}
		})
		wg.Go(func() { time.Sleep(rand.N(2 * time.Millisecond)); r.place(rs.segs[1], rs) })
		wg.Wait()
		r.check("a pruning drop and a place at once")
		r.load(rs.segs[1])
		r.check("the load after it")
	}},
	{"never claimed", func(r *raceRound, rs *raceSetup) {
		for _, seg := range rs.segs {
			if pl, err := r.place(seg, rs); err == nil && pl.Outcome != segcache.Placed {
				r.t.Errorf("Place into an empty cache: %v", pl.Outcome)
			}
		}
		r.check("places")
		if n := len(r.p.Unclaimed()); n != len(rs.segs) {
			r.t.Errorf("%d unclaimed copies, want %d", n, len(rs.segs))
		}
	}},
}

// TestPrefetchRacesJavaHistorical runs the prefetcher against a Java Historical stand-in on one cache, both layouts,
// in every order: the Historical first, the prefetcher first, both at once, drops during placements, copies never
// claimed. With random delays in both, every round checks that no segment was ever mounted with bytes other than
// deep storage's, that the prefetcher never created a marker or an info_dir file, that CleanStaging leaves no
// staging debris, that claimed copies refuse Discard and unclaimed ones go with it.
func TestPrefetchRacesJavaHistorical(t *testing.T) {
	rs := newRaceSetup(t)
	n := raceIterations(t)
	for _, layout := range []configs.CacheLayout{configs.FlatLayout, configs.NestedLayout} {
		t.Run(string(layout), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			outcomes := map[string]int{}
			for i := range n {
				sc := raceScenarios[i%len(raceScenarios)]
				r := newRaceRound(t, rs, layout, outcomes)
				sc.run(r, rs)
				r.finish(rs)
				if t.Failed() {
					t.Fatalf("round %d (%s) failed", i, sc.name)
				}
			}
			t.Logf("%d rounds in %v; Place outcomes: %s", n, time.Since(start).Round(time.Millisecond), fmt.Sprint(outcomes))
		})
	}
}

// TestNestedDropGuard shows the hazard the nested layout's drop guard exists for, with the Historical stopped at
// the worst moment: it has dropped the only segment of a parent directory and found the parent empty, and is about
// to delete it recursively. A placement then is refused; a placement that ignored the guard (the clock moved a
// minute on) would be deleted with the parent.
func TestNestedDropGuard(t *testing.T) {
	rs := newRaceSetup(t)
	for _, ignoreGuard := range []bool{false, true} {
		t.Run(fmt.Sprintf("guard ignored %v", ignoreGuard), func(t *testing.T) {
			dir := t.TempDir()
			raw, _ := json.Marshal([]map[string]string{{"path": dir}})
			cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
				"druid.segmentCache.locations=" + string(raw), "druid.sidecar.cacheLayout=nested", "druid.sidecar.prefetch.maxBytes=100m"}})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now
			if ignoreGuard {
				now = func() time.Time { return time.Now().Add(2 * time.Minute) }
			}
			p, err := segcache.NewPrefetcher(cfg, segcache.PrefetchOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			atPrune, resume := make(chan struct{}), make(chan struct{})
			h, err := druidpeer.NewJavaHistorical(cfg, druidpeer.HistoricalOptions{S3: rs.s3, ScratchDir: dir,
				Hook: func(step druidpeer.HistoricalStep, _ segments.SegmentID) {
					if step == druidpeer.HistStepPruneParent {
						select {
						case <-atPrune: // later parents
						default:
							close(atPrune)
							<-resume
						}
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Load(context.Background(), rs.segs[0]); err != nil {
				t.Fatal(err)
			}
			// The drop must not follow the directory's creation within the guard's creation slack.
			time.Sleep(50 * time.Millisecond)
			dropped := make(chan error)
			go func() { dropped <- h.Drop(rs.segs[0]) }()
			<-atPrune
			pl, err := p.Place(context.Background(), rs.segs[1], rs.puller)
			close(resume)
			if derr := <-dropped; derr != nil {
				t.Fatal(derr)
			}
			if !ignoreGuard {
				if !errors.Is(err, segcache.ErrRecentDrop) {
					t.Fatalf("Place while the Historical prunes the parent = %+v, %v; want ErrRecentDrop", pl, err)
				}
				return
			}
			if err != nil || pl.Outcome != segcache.Placed {
				t.Fatalf("Place ignoring the guard = %+v, %v", pl, err)
			}
			if _, err := os.Stat(pl.Dir); !os.IsNotExist(err) {
				t.Fatalf("the copy placed into a parent being pruned survived (%v): the hazard did not show", err)
			}
		})
	}
}
