package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverlappingCacheLocations: locations that are one directory, however written, or nested, and an infoDir that
// is a location, are problems of their key with its origin, naming the entries; distinct locations are fine.
func TestOverlappingCacheLocations(t *testing.T) {
	base := t.TempDir()
	c := filepath.Join(base, "c")
	other := filepath.Join(base, "other")
	for _, d := range []string{c, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(c, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	locs := func(paths ...string) string {
		var items []string
		for _, p := range paths {
			items = append(items, `{"path":"`+p+`"}`)
		}
		return "druid.segmentCache.locations=[" + strings.Join(items, ",") + "]"
	}
	for _, tc := range []struct {
		name string
		sets []string
		want string // "" for no problem
	}{
		{"same path twice", []string{locs(c, c)}, `entries 1 ("` + c + `") and 2 ("` + c + `") are the same directory`},
		{"trailing slash", []string{locs(c, c+"/")}, "entries 1 (" + quoteValue(c) + ") and 2 ("},
		{"symbolic link", []string{locs(link, c)}, "entries 1 (" + quoteValue(link) + ") and 2 (" + quoteValue(c) + ") are the same directory"},
		{"not yet created, through a link", []string{locs(filepath.Join(link, "new"), filepath.Join(c, "new"))}, "are the same directory"},
		{"nested", []string{locs(c, filepath.Join(c, "sub"))}, "entry 2 (" + quoteValue(filepath.Join(c, "sub")) + ") lies inside entry 1 (" + quoteValue(c) + ")"},
		{"nested through a link", []string{locs(filepath.Join(link, "sub"), c)}, "entry 1 (" + quoteValue(filepath.Join(link, "sub")) + ") lies inside entry 2"},
		{"nested, relative", []string{locs("rel", "rel/x")}, "lies inside entry 1"},
		{"a regular file", []string{locs(file)}, "entry 1 (" + quoteValue(file) + ") is a regular file"},
		{"infoDir is a location", []string{locs(other, c), "druid.segmentCache.infoDir=" + link}, "druid.segmentCache.infoDir: " + quoteValue(link) + " is the directory of druid.segmentCache.locations entry 2"},
		{"apart", []string{locs(c, other, filepath.Join(base, "c2")), "druid.segmentCache.infoDir=" + filepath.Join(c, "state")}, ""},
		{"prefix, not parent", []string{locs(c, c+"x")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(LoadOptions{Environ: []string{}, Sets: tc.sets, NumCPU: 2})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.Problems) != 1 || !strings.Contains(err.Error(), tc.want) ||
				!strings.HasPrefix(err.Error(), "flag:--set: druid.segmentCache.") {
				t.Errorf("%v, want one problem saying %q", err, tc.want)
			}
		})
	}
}
