package deepstorage

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// A sink that starts each file's writeback writes the same bytes: in order across several writeback chunks, at
// offsets (a ranged download), and through PullSegment, which is Pull with writeback.
func TestSinkWriteback(t *testing.T) {
	root, dir := newRoot(t)
	s := newSink(root, 1<<40, 10)
	s.writeback = true
	big := bytes.Repeat([]byte("0123456789abcdef"), (2*writebackChunk+12345)/16)
	f, err := s.create("00000.smoosh")
	if err != nil {
		t.Fatal(err)
	}
	for rest := big; len(rest) > 0; {
		n := min(len(rest), 1<<20+7)
		if _, err := f.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := s.create("meta.smoosh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("world"), 6); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("hello "), 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	written := map[string][]byte{"00000.smoosh": big, "meta.smoosh": []byte("hello world")}
	if got := readDir(t, dir); !reflect.DeepEqual(got, written) {
		t.Errorf("the files written with writeback differ from what was written")
	}

	files := segmentFiles(100_000, 3)
	zipPath := filepath.Join(t.TempDir(), "index.zip")
	if err := os.WriteFile(zipPath, goZip(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(map[string]string{"type": "local", "path": zipPath})
	if err != nil {
		t.Fatal(err)
	}
	seg := &segments.DataSegment{LoadSpec: spec}
	root, dir = newRoot(t)
	n, err := newPuller(t, Options{}).PullSegment(context.Background(), seg, root, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range files {
		total += int64(len(f.data))
	}
	if got := readDir(t, dir); !reflect.DeepEqual(got, want(files)) || n != total {
		t.Errorf("PullSegment wrote %d files, %d bytes, not the segment's", len(got), n)
	}
}
