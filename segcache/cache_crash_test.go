package segcache_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// killIterations is how many times TestCacheSurvivesKill9 kills its helper (10 with -short);
// SEGMENTS_KILL_ITERATIONS overrides both (make soak runs more).
var killIterations = flag.Int("kill.iterations", 50, "kill -9 iterations of TestCacheSurvivesKill9")

const helperEnv = "SEGMENTS_CACHE_KILL_HELPER"

// crashSetup is what the helper process needs, passed as a JSON file.
type crashSetup struct {
	Location  string
	Segments  []string // DataSegment JSON, with local load specs
	DropDelay int      // milliseconds
	MaxSize   int64
}

func (s crashSetup) config(t testing.TB) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q,"maxSize":%d}]`, s.Location, s.MaxSize),
		"druid.segmentCache.dropSegmentDelayMillis=" + strconv.Itoa(s.DropDelay),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// localPuller pulls through package deepstorage, as the cache pull command does.
type localPuller struct{ p *deepstorage.Puller }

func (l localPuller) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	spec, err := deepstorage.ParseLoadSpec(seg.LoadSpec)
	if err != nil {
		return 0, err
	}
	res, err := l.p.Pull(ctx, spec, dir, maxBytes)
	return res.Bytes, err
}

// TestCacheSurvivesKill9 runs a helper process that loads and drops segments from a local deep storage in a loop on
// three goroutines and SIGKILLs it at random moments (mid-download, mid-unzip, mid-fsync, mid-drop), then checks that
// Bootstrap reports only segments whose files are all there with the right content, and reports everything else
// it finds (which a repair then removes). The next helper continues on the same cache.
func TestCacheSurvivesKill9(t *testing.T) {
	n := *killIterations
	if testing.Short() {
		n = min(n, 10)
	}
	if v := os.Getenv("SEGMENTS_KILL_ITERATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("SEGMENTS_KILL_ITERATIONS=%q: %v", v, err)
		}
	}
	base := t.TempDir()
	deep := filepath.Join(base, "deep")
	os.MkdirAll(deep, 0o755)
	setup := crashSetup{Location: filepath.Join(base, "cache"), DropDelay: 2}
	want := map[string]map[string][32]byte{} // segment id -> file -> sha256
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range 12 {
		files := map[string][]byte{
			"version.bin":  {0, 0, 0, 9},
			"factory.json": []byte(`{"type":"mMapSegmentFactory"}`),
			"meta.smoosh":  []byte("v1,2147483647,2\n"),
		}
		for c := range 2 {
			chunk := make([]byte, 16<<10+rng.IntN(200<<10))
			for j := 0; j < len(chunk); j += 8 {
				v := rng.Uint64() & 0x0f0f0f0f0f0f0f0f // compressible, but not trivially
				for k := j; k < min(j+8, len(chunk)); k++ {
					chunk[k] = byte(v >> (8 * (k - j)))
				}
			}
			files[fmt.Sprintf("%05d.smoosh", c)] = chunk
		}
		zipPath := filepath.Join(deep, fmt.Sprintf("seg%d", i), "index.zip")
		size := writeZip(t, zipPath, files)
		total += size
		js := fmt.Sprintf(`{"dataSource":"kill:test","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v1",`+
			`"loadSpec":{"type":"local","path":%q},"dimensions":"","metrics":"","shardSpec":{"type":"numbered","partitionNum":%d,"partitions":0},`+
			`"binaryVersion":9,"size":%d}`, zipPath, i, size)
		var seg segments.DataSegment
		if err := seg.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		sums := map[string][32]byte{}
		for name, data := range files {
			sums[name] = sha256.Sum256(data)
		}
		want[seg.ID().String()] = sums
		setup.Segments = append(setup.Segments, js)
	}
	setup.MaxSize = total * 2 / 3 // some loads find the location full
	setupPath := filepath.Join(base, "setup.json")
	data, _ := json.Marshal(setup)
	os.WriteFile(setupPath, data, 0o644)
	cfg := setup.config(t)

	start := time.Now()
	var loads atomic.Int64
	var readyTime, checkTime time.Duration
	kinds := map[segcache.ProblemKind]int{}
	maxSeen := 0
	for it := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+setupPath, "GORACE=halt_on_error=1")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- nil
					for sc.Scan() {
						if strings.HasPrefix(sc.Text(), "loaded") {
							loads.Add(1)
						}
					}
					return
				}
			}
			ready <- fmt.Errorf("the helper ended before it was ready: %v", sc.Err())
		}()
		t0 := time.Now()
		select {
		case err := <-ready:
			readyTime += time.Since(t0)
			if err != nil {
				cmd.Wait()
				t.Fatalf("iteration %d: %v\n%s", it, err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("iteration %d: the helper did not start\n%s", it, stderr.String())
		}
		time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if strings.Contains(stderr.String(), "FAIL") || strings.Contains(stderr.String(), "DATA RACE") {
			t.Fatalf("iteration %d: the helper failed:\n%s", it, stderr.String())
		}

		// Restart: only complete segments are announced. As in Druid, the startup removes only __drop's leftovers
		// (and info files of segments that are nowhere); what a kill leaves besides (a pull cut short, the files
		// of a load before its info file or of a drop after it) is reported and left in place. Every other
		// iteration repairs it, after which nothing else is left; the others leave it for the next run's loads.
		t1 := time.Now()
		c, err := segcache.NewCache(cfg, segcache.CacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		segs, rep, err := c.Bootstrap(context.Background())
		if err != nil {
			t.Fatalf("iteration %d: %v", it, err)
		}
		leftovers := map[string]bool{}
		for _, p := range rep.Problems {
			kinds[p.Kind]++
			inDrop := strings.HasPrefix(p.Path, filepath.Join(setup.Location, segcache.DropDir)+"/")
			switch {
			case p.Kind == segcache.ProblemMissing || p.Kind == segcache.ProblemTrash && inDrop:
				if !p.Repaired {
					t.Errorf("iteration %d: not removed at startup: %v", it, p)
				}
			case p.Kind == segcache.ProblemPartial || p.Kind == segcache.ProblemOrphaned || p.Kind == segcache.ProblemTrash:
				if p.Repaired {
					t.Errorf("iteration %d: removed at startup: %v", it, p)
				}
				leftovers[p.Path] = true
			default:
				t.Errorf("iteration %d: %v", it, p)
			}
		}
		maxSeen = max(maxSeen, len(segs))
		if it%2 == 1 {
			rep, err := c.Verify(context.Background(), true)
			if err != nil || len(rep.Problems) != len(leftovers) {
				t.Errorf("iteration %d: the repair after the startup: %+v (%v), want the %d leftovers", it, rep.Problems, err, len(leftovers))
			}
			leftovers = nil
		}
		checkCrashCache(t, it, setup.Location, segs, want, leftovers)
		if rep2, err := c.Verify(context.Background(), false); err != nil || len(rep2.Problems) != len(leftovers) {
			t.Errorf("iteration %d: a second check finds %+v (%v)", it, rep2.Problems, err)
		}
		c.Close()
		checkTime += time.Since(t1)
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d kills in %v (helper start-up %v, restart checks %v on average); %d loads returned; repaired after kills: %v; up to %d segments cached",
		n, time.Since(start).Round(time.Millisecond), (readyTime / time.Duration(max(n, 1))).Round(time.Millisecond),
		(checkTime / time.Duration(max(n, 1))).Round(time.Millisecond), loads.Load(), kinds, maxSeen)
	if n >= 20 && (maxSeen == 0 || kinds[segcache.ProblemPartial]+kinds[segcache.ProblemOrphaned]+kinds[segcache.ProblemTrash] == 0) {
		t.Errorf("the kills never hit a load or a drop in progress (repairs %v, up to %d segments): the test proves nothing", kinds, maxSeen)
	}
}

// checkCrashCache checks that each reported segment has exactly its files with their content, and that the
// location holds nothing but these segments, info_dir, an empty __drop and the leftovers (paths) the startup
// reported.
func checkCrashCache(t *testing.T, it int, loc string, segs []*segments.DataSegment, want map[string]map[string][32]byte, leftovers map[string]bool) {
	t.Helper()
	reported := map[string]bool{}
	for _, seg := range segs {
		id := seg.ID().String()
		reported[id] = true
		dir := filepath.Join(loc, id)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Errorf("iteration %d: %s reported but: %v", it, id, err)
			continue
		}
		if len(entries) != len(want[id]) {
			t.Errorf("iteration %d: %s reported with %d files, want %d", it, id, len(entries), len(want[id]))
		}
		for name, sum := range want[id] {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || sha256.Sum256(data) != sum {
				t.Errorf("iteration %d: %s reported but %s is not complete (%v)", it, id, name, err)
			}
		}
	}
	top, _ := os.ReadDir(loc)
	for _, e := range top {
		switch name := e.Name(); {
		case name == "info_dir":
			infos, _ := os.ReadDir(filepath.Join(loc, name))
			var names []string
			for _, i := range infos {
				if leftovers[filepath.Join(loc, name, i.Name())] {
					continue
				}
				names = append(names, i.Name())
				if !reported[i.Name()] {
					t.Errorf("iteration %d: info_dir/%s left for a segment not reported", it, i.Name())
				}
			}
			if len(names) != len(reported) {
				sort.Strings(names)
				t.Errorf("iteration %d: info_dir holds %v for %d segments", it, names, len(reported))
			}
		case name == segcache.DropDir:
			if rest, _ := os.ReadDir(filepath.Join(loc, name)); len(rest) != 0 {
				t.Errorf("iteration %d: __drop not emptied: %d entries", it, len(rest))
			}
		case !reported[name] && !leftovers[filepath.Join(loc, name)]:
			t.Errorf("iteration %d: %s left in the cache", it, name)
		}
	}
}

func writeZip(t *testing.T, path string, files map[string][]byte) int64 {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var size int64
	for _, name := range names {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[name])
		size += int64(len(files[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return size
}

// TestCacheKillHelper is the process TestCacheSurvivesKill9 kills; it does nothing in a normal test run.
func TestCacheKillHelper(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // not started by TestCacheSurvivesKill9: nothing to do
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var setup crashSetup
	if err := json.Unmarshal(data, &setup); err != nil {
		t.Fatal(err)
	}
	var segs []*segments.DataSegment
	for _, js := range setup.Segments {
		seg := new(segments.DataSegment)
		if err := seg.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, seg)
	}
	c, err := segcache.NewCache(setup.config(t), segcache.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	dp, err := deepstorage.New(deepstorage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := localPuller{dp}
	fmt.Println("ready")
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for {
				seg := segs[rng.IntN(len(segs))]
				if rng.IntN(3) == 0 {
					if err := c.Drop(seg); err != nil {
						fmt.Fprintln(os.Stderr, "FAIL drop:", err)
						os.Exit(3)
					}
					continue
				}
				t0 := time.Now()
				if _, err := c.Load(context.Background(), seg, p); err != nil && !strings.Contains(err.Error(), "no segment cache location can hold") {
					fmt.Fprintln(os.Stderr, "FAIL load:", err)
					os.Exit(3)
				}
				fmt.Println("loaded", time.Since(t0).Milliseconds())
			}
		})
	}
	wg.Wait()
}

// TestSizeZeroWithoutMaxSize loads, through the deep storage puller, segments of declared size 0 and of an inexact
// size into a location without maxSize: the bound of the pull is the room of the location, with no overflow.
func TestSizeZeroWithoutMaxSize(t *testing.T) {
	deep, loc := t.TempDir(), t.TempDir()
	cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
		fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, loc)}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := segcache.NewCache(cfg, segcache.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	dp, err := deepstorage.New(deepstorage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"version.bin": {0, 0, 0, 9}, "meta.smoosh": []byte("v1,2147483647,1\n"), "00000.smoosh": make([]byte, 100_000)}
	zipPath := filepath.Join(deep, "index.zip")
	size := writeZip(t, zipPath, files)
	for i, declared := range []int64{0, size / 2} {
		js := fmt.Sprintf(`{"dataSource":"wiki","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v1",`+
			`"loadSpec":{"type":"local","path":%q},"dimensions":"","metrics":"","shardSpec":{"type":"numbered","partitionNum":%d,"partitions":0},`+
			`"binaryVersion":9,"size":%d}`, zipPath, i, declared)
		var seg segments.DataSegment
		if err := seg.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Load(context.Background(), &seg, localPuller{dp}); err != nil {
			t.Errorf("size %d: %v", declared, err)
		}
	}
	if u := c.Usage()[0]; u.Used != 2*size || u.Segments != 2 {
		t.Errorf("usage %+v, want the %d bytes of two segments", u, 2*size)
	}
}
