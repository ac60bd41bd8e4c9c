package segcache

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// TestBootstrapEachHandsOverAsRead reads a flat cache of complete segments, a partial one, one in the nested layout
// and two over the location's maxSize: the complete ones (an over-limit one included: a startup announces it) are
// handed over in chunks while the cache is read, the one moved in from the nested layout is returned, the partial
// one neither; the cache knows them all, and the startup deletes nothing more than Bootstrap does.
func TestBootstrapEachHandsOverAsRead(t *testing.T) {
	loc := t.TempDir()
	info := filepath.Join(loc, "info_dir")
	os.MkdirAll(info, 0o755)
	const n = 2*handOverChunk + 7
	var complete []string
	for i := range n {
		seg := testSegment(t, "wiki", i/24, i%24, 1000)
		writeSegmentDir(t, filepath.Join(loc, seg.ID().String()), segmentFilesFor(1000, "a"))
		writeInfo(t, info, seg.ID().String(), seg)
		complete = append(complete, seg.ID().String())
	}
	partial := testSegment(t, "wiki", 500, 0, 1000)
	files := segmentFilesFor(1000, "p")
	files[DownloadStartMarker] = nil
	writeSegmentDir(t, filepath.Join(loc, partial.ID().String()), files)
	writeInfo(t, info, partial.ID().String(), partial)
	moved := testSegment(t, "wiki", 600, 0, 1000)
	nested, _ := newLayout("nested")
	rel, _, _ := nested.rel(moved.ID())
	writeSegmentDir(t, filepath.Join(loc, rel), segmentFilesFor(1000, "m"))
	writeInfo(t, info, moved.ID().String(), moved)

	// Room for all the complete segments but the last: it and the one moved in are over the limit, and announced all
	// the same.
	c := newTestCacheNoBootstrap(t, testConfig(t, []testLoc{{path: loc, maxSize: int64(n-1) * 1000}}))
	var handed []string
	chunks := 0
	rest, rep, err := c.BootstrapEach(context.Background(), func(segs []*segments.DataSegment) {
		chunks++
		for _, s := range segs {
			handed = append(handed, s.ID().String())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(handed)
	slices.Sort(complete)
	if !slices.Equal(handed, complete) || chunks != 3 {
		t.Errorf("handed over %d segments in %d chunks, want the %d complete ones in 3", len(handed), chunks, len(complete))
	}
	if len(rest) != 1 || rest[0].ID() != moved.ID() {
		t.Errorf("returned %v, want only the segment moved in from the nested layout", rest)
	}
	if rep.Segments != n+1 || rep.Count(ProblemPartial) != 1 || rep.Count(ProblemOverLimit) != 2 || len(c.List()) != n+1 {
		t.Errorf("report %d segments, %d partial, %d over the limit; the cache lists %d; want %d, 1, 2, %d",
			rep.Segments, rep.Count(ProblemPartial), rep.Count(ProblemOverLimit), len(c.List()), n+1, n+1)
	}
	if _, err := os.Stat(filepath.Join(loc, partial.ID().String(), DownloadStartMarker)); err != nil {
		t.Errorf("the partial segment was touched: %v", err)
	}
}
