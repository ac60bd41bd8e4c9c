package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeIndexZip writes a local deep storage index.zip of a small v9 segment and returns its path and total size.
func writeIndexZip(t *testing.T, dir string, seed byte) (string, int64) {
	t.Helper()
	files := map[string][]byte{
		"version.bin":  {0, 0, 0, 9},
		"factory.json": []byte(`{"type":"mMapSegmentFactory"}`),
		"meta.smoosh":  []byte("v1,2147483647,1\n"),
		"00000.smoosh": bytes.Repeat([]byte{seed}, 5000),
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var size int64
	for _, name := range []string{"00000.smoosh", "factory.json", "meta.smoosh", "version.bin"} {
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
	p := filepath.Join(dir, fmt.Sprintf("index-%d.zip", seed))
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, size
}

func segmentJSON(dataSource string, day int, zipPath string, size int64) string {
	return fmt.Sprintf(`{"dataSource":%q,"interval":"2025-01-%02dT00:00:00.000Z/2025-01-%02dT00:00:00.000Z","version":"2025-02-01T00:00:00.000Z",`+
		`"loadSpec":{"type":"local","path":%q},"dimensions":"a","metrics":"count","shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},`+
		`"binaryVersion":9,"size":%d}`, dataSource, day, day+1, zipPath, size)
}

func runCLIStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &environment{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, environ: []string{}}
	code := run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func TestCachePullVerifyLs(t *testing.T) {
	deep, loc := t.TempDir(), t.TempDir()
	set := []string{"--set", `druid.segmentCache.locations=[{"path":"` + loc + `","maxSize":"1m"}]`}
	zip1, size1 := writeIndexZip(t, deep, 1)
	zip2, size2 := writeIndexZip(t, deep, 2)
	segFile := filepath.Join(deep, "segment.json")
	os.WriteFile(segFile, []byte(segmentJSON("wiki", 1, zip1, size1)), 0o644)

	code, stdout, stderr := runCLIStdin(t, "", append(append([]string{"cache", "pull"}, set...), segFile)...)
	want := filepath.Join(loc, "wiki_2025-01-01T00:00:00.000Z_2025-01-02T00:00:00.000Z_2025-02-01T00:00:00.000Z")
	if code != exitOK || strings.TrimSpace(stdout) != want {
		t.Fatalf("pull: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	for _, f := range []string{"version.bin", "meta.smoosh", "00000.smoosh", "factory.json", "../info_dir/" + filepath.Base(want)} {
		if _, err := os.Stat(filepath.Join(want, f)); err != nil {
			t.Error(err)
		}
	}
	// A load change request on stdin.
	req := `{"action":"load",` + segmentJSON("wiki", 2, zip2, size2)[1:]
	if code, _, stderr := runCLIStdin(t, req, append(append([]string{"cache", "pull"}, set...), "-")...); code != exitOK {
		t.Fatalf("pull of a change request: exit %d: %s", code, stderr)
	}
	// Failures: a missing archive, an unsafe dataSource, a drop request.
	for _, tc := range []struct {
		stdin, want string
		code        int
	}{
		{segmentJSON("wiki", 3, filepath.Join(deep, "nope.zip"), 100), "does not exist", exitFailure},
		{segmentJSON("../../etc", 3, zip1, size1), "cannot be stored in the segment cache", exitFailure},
		{`{"action":"drop",` + segmentJSON("wiki", 3, zip1, size1)[1:], `"drop" change request`, exitBadInput},
		{`[]`, "not a JSON object", exitBadInput},
	} {
		code, _, stderr := runCLIStdin(t, tc.stdin, append(append([]string{"cache", "pull"}, set...), "-")...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("pull %s: exit %d, stderr %q; want %d and %q", tc.stdin, code, stderr, tc.code, tc.want)
		}
	}
	if entries, _ := os.ReadDir(loc); len(entries) != 4 { // two segments, info_dir, __drop
		t.Errorf("cache after failed pulls: %v", entries)
	}

	code, stdout, stderr = runCLIStdin(t, "", append([]string{"cache", "ls", "--format", "json"}, set...)...)
	if code != exitOK {
		t.Fatalf("ls: exit %d: %s", code, stderr)
	}
	var ls struct {
		Layout    string
		Locations []struct {
			Path     string
			MaxSize  int64
			Used     int64
			Segments []struct {
				ID   string
				Size int64
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &ls); err != nil {
		t.Fatal(err)
	}
	if ls.Layout != "flat" || len(ls.Locations) != 1 || ls.Locations[0].Used != size1+size2 || len(ls.Locations[0].Segments) != 2 ||
		ls.Locations[0].MaxSize != 1_000_000 {
		t.Errorf("ls: %s", stdout)
	}
	code, stdout, _ = runCLIStdin(t, "", append([]string{"cache", "ls"}, set...)...)
	if code != exitOK || !strings.Contains(stdout, "2 segments, 10.1 kB used of 1.0 MB maxSize") {
		t.Errorf("ls table: %s", stdout)
	}

	code, stdout, _ = runCLIStdin(t, "", append([]string{"cache", "verify"}, set...)...)
	if code != exitOK || !strings.Contains(stdout, "2 complete segments") {
		t.Errorf("verify: exit %d: %s", code, stdout)
	}
	os.Remove(filepath.Join(want, "version.bin"))
	code, stdout, _ = runCLIStdin(t, "", append([]string{"cache", "verify"}, set...)...)
	if code != exitFailure || !strings.Contains(stdout, "corrupt: "+want) {
		t.Errorf("verify of a damaged cache: exit %d: %s", code, stdout)
	}
	code, stdout, _ = runCLIStdin(t, "", append([]string{"cache", "verify", "--repair"}, set...)...)
	if code != exitFailure || !strings.Contains(stdout, "(removed)") || !strings.Contains(stdout, "1 removed") {
		t.Errorf("verify --repair: exit %d: %s", code, stdout)
	}
	code, stdout, _ = runCLIStdin(t, "", append([]string{"cache", "verify"}, set...)...)
	if code != exitOK || !strings.Contains(stdout, "1 complete segments") {
		t.Errorf("verify after repair: exit %d: %s", code, stdout)
	}
}

func TestCacheVerifyJavaHistorical(t *testing.T) {
	for _, tc := range []struct{ fixture, layout string }{{"flat35", "flat"}, {"nested34", "nested"}} {
		loc := filepath.Join(t.TempDir(), "cache")
		if err := os.CopyFS(loc, os.DirFS(filepath.Join("..", "..", "segcache", "testdata", "cache", tc.fixture))); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLIStdin(t, "", "cache", "verify", "--set", `druid.segmentCache.locations=[{"path":"`+loc+`"}]`,
			"--set", "druid.sidecar.cacheLayout="+tc.layout)
		if code != exitOK || !strings.Contains(stdout, "3 complete segments (2254 bytes) in "+tc.layout+"; 0 problems") {
			t.Errorf("%s: exit %d: %s %s", tc.fixture, code, stdout, stderr)
		}
	}
}

func TestCacheUsage(t *testing.T) {
	for _, args := range [][]string{{"cache"}, {"cache", "frob"}, {"cache", "pull"}, {"cache", "ls", "--format", "xml"}} {
		if code, _, _ := runCLIStdin(t, "", args...); code != exitBadInput {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	if code, _, stderr := runCLIStdin(t, "", "cache", "verify"); code != exitBadInput || !strings.Contains(stderr, "druid.segmentCache.locations") {
		t.Errorf("no locations: exit %d: %s", code, stderr)
	}
}

// TestCacheVerifyRepairLeavesReadErrors: an info_dir entry that cannot be read (here a directory in its place) is
// a finding of its own, and --repair removes neither it nor the segment's directory.
func TestCacheVerifyRepairLeavesReadErrors(t *testing.T) {
	deep, loc := t.TempDir(), t.TempDir()
	set := []string{"--set", `druid.segmentCache.locations=[{"path":"` + loc + `"}]`}
	zip1, size1 := writeIndexZip(t, deep, 1)
	segFile := filepath.Join(deep, "segment.json")
	os.WriteFile(segFile, []byte(segmentJSON("wiki", 1, zip1, size1)), 0o644)
	code, stdout, stderr := runCLIStdin(t, "", append(append([]string{"cache", "pull"}, set...), segFile)...)
	if code != exitOK {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	dir := strings.TrimSpace(stdout)
	infoFile := filepath.Join(loc, "info_dir", filepath.Base(dir))
	if err := os.Remove(infoFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(infoFile, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLIStdin(t, "", append([]string{"cache", "verify", "--repair"}, set...)...)
	if code != exitFailure || !strings.Contains(stdout, "read-error: ") || !strings.Contains(stdout, "1 problems, 0 removed") {
		t.Errorf("verify --repair: exit %d: %s", code, stdout)
	}
	for _, p := range []string{infoFile, filepath.Join(dir, "00000.smoosh")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("removed: %v", err)
		}
	}
}

// TestCachePullInexactSize: a segment whose files do not add up to its declared size loads with a warning, and
// verify notes it without failing, as Druid only logs it.
func TestCachePullInexactSize(t *testing.T) {
	deep, loc := t.TempDir(), t.TempDir()
	set := []string{"--set", `druid.segmentCache.locations=[{"path":"` + loc + `","maxSize":"1m"}]`}
	zip1, size1 := writeIndexZip(t, deep, 1)
	code, _, stderr := runCLIStdin(t, segmentJSON("wiki", 1, zip1, size1+1), append(append([]string{"cache", "pull"}, set...), "-")...)
	if code != exitOK || !strings.Contains(stderr, "differ from its declared size") {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	code, stdout, _ := runCLIStdin(t, "", append([]string{"cache", "verify"}, set...)...)
	if code != exitOK || !strings.Contains(stdout, "inexact-size: ") || !strings.Contains(stdout, "1 complete segments") {
		t.Errorf("verify: exit %d: %s", code, stdout)
	}
}

// TestCacheOverlappingLocations: locations that are one directory (here through a symbolic link) or nested are a
// configuration error (exit 2) naming both entries and where they came from, before anything reads the cache.
func TestCacheOverlappingLocations(t *testing.T) {
	base := t.TempDir()
	loc := filepath.Join(base, "cache")
	os.MkdirAll(loc, 0o755)
	link := filepath.Join(base, "link")
	if err := os.Symlink(loc, link); err != nil {
		t.Fatal(err)
	}
	props := filepath.Join(base, "runtime.properties")
	os.WriteFile(props, []byte(`druid.segmentCache.locations=[{"path":"`+loc+`"},{"path":"`+link+`"}]`+"\n"), 0o644)
	for _, sub := range []string{"verify", "ls"} {
		code, _, stderr := runCLIStdin(t, "", "cache", sub, "--properties", props)
		if code != exitBadInput || !strings.Contains(stderr, "file:"+props+":1: druid.segmentCache.locations: entries 1 (") ||
			!strings.Contains(stderr, "and 2 (") || !strings.Contains(stderr, "are the same directory") {
			t.Errorf("cache %s: exit %d: %s", sub, code, stderr)
		}
	}
	code, _, stderr := runCLIStdin(t, "", "cache", "verify", "--set",
		`druid.segmentCache.locations=[{"path":"`+loc+`"},{"path":"`+loc+`/sub"}]`)
	if code != exitBadInput || !strings.Contains(stderr, "lies inside entry 1") {
		t.Errorf("nested: exit %d: %s", code, stderr)
	}
}
