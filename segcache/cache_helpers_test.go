package segcache

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// testLoc is one location of a test cache.
type testLoc struct {
	path        string
	maxSize     int64 // 0: not given
	freePercent float64
}

// testConfig builds a configuration with the given locations and extra --set values.
func testConfig(t testing.TB, locs []testLoc, sets ...string) *configs.Config {
	t.Helper()
	type jl struct {
		Path             string   `json:"path"`
		MaxSize          int64    `json:"maxSize,omitempty"`
		FreeSpacePercent *float64 `json:"freeSpacePercent,omitempty"`
	}
	var items []jl
	for _, l := range locs {
		item := jl{Path: l.path, MaxSize: l.maxSize}
		if l.freePercent > 0 {
			item.FreeSpacePercent = &l.freePercent
		}
		items = append(items, item)
	}
	raw, _ := json.Marshal(items)
	cfg, err := configs.Load(configs.LoadOptions{
		Environ: []string{},
		Sets:    append([]string{"druid.segmentCache.locations=" + string(raw)}, sets...),
		NumCPU:  2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newTestCache opens a cache on one fresh location (or the given ones) and bootstraps it.
func newTestCache(t testing.TB, cfg *configs.Config, opts CacheOptions) *Cache {
	t.Helper()
	c, err := NewCache(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// testSegment returns a v9 segment of the given size; day picks the interval, so segments differ.
func testSegment(t testing.TB, dataSource string, day, partition int, size int64) *segments.DataSegment {
	t.Helper()
	start := segments.UnixMilli(1735689600000 + int64(day)*86400000) // 2025-01-01 + day
	iv := segments.Interval{Start: start, End: start + 86400000}
	js := fmt.Sprintf(`{"dataSource":%q,"interval":%q,"version":"2025-02-01T00:00:00.000Z","loadSpec":{"type":"local","path":"/deep/index.zip"},`+
		`"dimensions":"a,b","metrics":"count","shardSpec":{"type":"numbered","partitionNum":%d,"partitions":0},"binaryVersion":9,"size":%d}`,
		dataSource, iv.String(), partition, size)
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return seg
}

// segmentFilesFor returns the files of a plausible v9 segment of size bytes (size >= 32): version.bin, meta.smoosh
// and 00000.smoosh filled with a pattern derived from seed.
func segmentFilesFor(size int64, seed string) map[string][]byte {
	version := binary.BigEndian.AppendUint32(nil, 9)
	meta := []byte("v1,2147483647,1\n")
	n := size - int64(len(version)) - int64(len(meta))
	chunk := make([]byte, n)
	for i := range chunk {
		chunk[i] = seed[i%len(seed)]
	}
	return map[string][]byte{"version.bin": version, "meta.smoosh": meta, "00000.smoosh": chunk}
}

// fakePuller writes a plausible segment's files, counting its pulls; hooks can block or fail a pull.
type fakePuller struct {
	pulls  atomic.Int64
	before func(seg *segments.DataSegment) error // runs before writing; an error fails the pull
	after  func(seg *segments.DataSegment) error // runs after writing; an error fails the pull (files stay for the cache to clean)
	files  func(seg *segments.DataSegment) map[string][]byte
}

func (f *fakePuller) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	f.pulls.Add(1)
	if f.before != nil {
		if err := f.before(seg); err != nil {
			return 0, err
		}
	}
	files := segmentFilesFor(max(seg.Size, 32), seg.ID().String())
	if f.files != nil {
		files = f.files(seg)
	}
	var total int64
	for name, data := range files {
		total += int64(len(data))
		if total > maxBytes && !seg.IsTombstone() {
			return 0, fmt.Errorf("too large: %d > %d", total, maxBytes)
		}
		if err := dir.WriteFile(name, data, 0o644); err != nil {
			return 0, err
		}
	}
	if f.after != nil {
		if err := f.after(seg); err != nil {
			return 0, err
		}
	}
	return total, ctx.Err()
}

// tree lists every file and directory under root as "path" or "path/" with '/' separators, sorted.
func tree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// hasEntry reports whether a tree listing has the entry.
func hasEntry(entries []string, want string) bool {
	for _, e := range entries {
		if e == want {
			return true
		}
	}
	return false
}

func withPrefix(entries []string, prefix string) []string {
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// gate blocks pulls until opened, counting the pulls that wait.
type gate struct {
	once    sync.Once
	ch      chan struct{}
	waiting atomic.Int64
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) wait(*segments.DataSegment) error {
	g.waiting.Add(1)
	<-g.ch
	return nil
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }
