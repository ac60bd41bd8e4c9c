package deepstorage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// newPuller makes a Puller for tests that do not reach S3 (nothing is contacted until a pull needs it).
func newPuller(t testing.TB, opts Options) *Puller {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullTombstone(t *testing.T) {
	p := newPuller(t, Options{})
	root, dir := newRoot(t)
	// A tombstone's declared size is 1 byte; its factory.json is written whatever maxBytes says.
	res, err := p.Pull(context.Background(), Tombstone{}, root, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := readDir(t, dir)
	if !reflect.DeepEqual(got, map[string][]byte{"factory.json": []byte(`{"type":"tombstoneSegmentFactory"}`)}) {
		t.Errorf("tombstone wrote %q", got)
	}
	if !reflect.DeepEqual(res.Files, []string{"factory.json"}) || res.Bytes != 34 || res.Downloaded != 0 {
		t.Errorf("result = %+v", res)
	}
}

func TestPullLocal(t *testing.T) {
	files := segmentFiles(100_000, 3)
	src := t.TempDir()
	zipPath := filepath.Join(src, "index.zip")
	if err := os.WriteFile(zipPath, goZip(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
	segDir := filepath.Join(src, "unzipped")
	if err := os.MkdirAll(filepath.Join(segDir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(segDir, f.name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(files[0].data)
	zw.Close()
	gzPath := filepath.Join(src, "00000.smoosh.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	p := newPuller(t, Options{})
	for _, c := range []struct {
		name, path string
		want       map[string][]byte
	}{
		{"zip", zipPath, want(files)},
		{"directory", segDir, want(files)},
		{"gz", gzPath, map[string][]byte{"00000.smoosh": files[0].data}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, dir := newRoot(t)
			res, err := p.Pull(context.Background(), Local{Path: c.path}, root, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if got := readDir(t, dir); !reflect.DeepEqual(got, c.want) {
				t.Errorf("pulled %d files, not the segment's", len(got))
			}
			var total int64
			for _, b := range c.want {
				total += int64(len(b))
			}
			if res.Bytes != total || len(res.Files) != len(c.want) {
				t.Errorf("result = %d files, %d bytes; want %d, %d", len(res.Files), res.Bytes, len(c.want), total)
			}
		})
	}
}

func TestPullLocalFailures(t *testing.T) {
	src := t.TempDir()
	evil := filepath.Join(src, "evil.zip")
	if err := os.WriteFile(evil, goZip(t, file{"version.bin", []byte{0, 0, 0, 9}}, file{"../escaped", []byte("x")}), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(src, "big.zip")
	if err := os.WriteFile(big, goZip(t, file{"00000.smoosh", make([]byte, 2<<20)}), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(src, "index.tar")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(src, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	p := newPuller(t, Options{})
	cases := []struct {
		path string
		is   error
		msg  string
	}{
		{filepath.Join(src, "missing", "index.zip"), ErrNotFound, "does not exist"},
		{evil, ErrInvalidArchive, evil + ` is not a usable segment archive: entry "../escaped" climbs out of the segment directory`},
		{big, ErrTooLarge, "more than the 1048576 bytes allowed"},
		{other, ErrInvalidArchive, "is neither a directory, a .zip nor a .gz file"},
		{empty, ErrNotFound, "holds no files"},
	}
	for _, c := range cases {
		root, dir := newRoot(t)
		if err := os.WriteFile(filepath.Join(dir, "downloadStartMarker"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := p.Pull(context.Background(), Local{Path: c.path}, root, 1<<20)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Pull(%s) = %v, want %v saying %q", c.path, err, c.is, c.msg)
		}
		// The failed pull removed its own files, and only those.
		if got := tree(t, filepath.Dir(dir)); !reflect.DeepEqual(got, []string{"segment/", "segment/downloadStartMarker"}) {
			t.Errorf("after a failed pull of %s the directory holds %q", c.path, got)
		}
	}
}

func TestPullCanceled(t *testing.T) {
	p := newPuller(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "version.bin"), []byte{0, 0, 0, 9}, 0o644); err != nil {
		t.Fatal(err)
	}
	root, _ := newRoot(t)
	_, err := p.Pull(ctx, Local{Path: src}, root, 1<<20)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestPullTimeoutMessage(t *testing.T) {
	p := newPuller(t, Options{PullTimeout: time.Nanosecond})
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "version.bin"), []byte{0, 0, 0, 9}, 0o644); err != nil {
		t.Fatal(err)
	}
	root, _ := newRoot(t)
	// The 1 ns timeout starts inside Pull and is over before its first step: nothing to wait for beforehand.
	_, err := p.Pull(context.Background(), Local{Path: src}, root, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "the pull did not finish within its 1ns timeout") {
		t.Errorf("err = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []S3Options{
		{AccessKey: "a"},
		{SecretKey: "s"},
		{Endpoint: "127.0.0.1:9000"},
		{Endpoint: "ftp://x"},
	} {
		if _, err := New(Options{S3: o}); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
}

func TestBackoffFullJitter(t *testing.T) {
	p := newPuller(t, Options{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 5: time.Second, 40: time.Second} {
		var longest time.Duration
		for range 2000 {
			d := p.backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", n, d, ceiling)
			}
			longest = max(longest, d)
		}
		if longest < ceiling*8/10 {
			t.Errorf("backoff(%d) never came near its ceiling %v (longest %v): not full jitter", n, ceiling, longest)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][3]int64{
		"bytes 0-99/1000":                {0, 99, 1000},
		"bytes 8388608-9999999/10000000": {8388608, 9999999, 10000000},
	} {
		a, b, c, ok := parseContentRange(in)
		if !ok || [3]int64{a, b, c} != want {
			t.Errorf("parseContentRange(%q) = %d %d %d %v", in, a, b, c, ok)
		}
	}
	for _, in := range []string{"", "bytes */1000", "bytes 5-4/10", "bytes 0-10/10", "items 0-1/2", "bytes 0-1"} {
		if _, _, _, ok := parseContentRange(in); ok {
			t.Errorf("parseContentRange(%q) accepted", in)
		}
	}
}
