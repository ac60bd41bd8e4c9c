package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// checkCachePaths refuses segment cache locations that overlap, and an infoDir that is one of them. Two entries that
// are one directory (written twice, "/c" and "/c/", a symbolic link to it, a bind mount: same device and inode)
// make the cache take each segment of one for a second copy in the other; a location inside another makes the outer
// one's stray directories the inner one's segments; info files in a location look like its segments. A location
// that exists as a regular file cannot hold segments either. The filesystem is consulted as it is now: paths that do
// not exist yet are compared below their deepest existing directory.
func (l *loader) checkCachePaths(c *Config) {
	locs := c.SegmentCache.locations
	if len(locs) == 0 {
		return
	}
	locOrigin, locOrder := l.values["druid.segmentCache.locations"].origin, l.values["druid.segmentCache.locations"].order
	locProblem := func(msg string) {
		l.probs.add(Problem{Key: "druid.segmentCache.locations", Origin: locOrigin, Msg: msg, order: locOrder})
	}
	resolved := make([]cachePath, len(locs))
	for i, loc := range locs {
		resolved[i] = resolveCachePath(loc.Path)
		if resolved[i].file {
			locProblem(fmt.Sprintf("entry %d (%s) is a regular file; a location is a directory", i+1, quoteValue(loc.Path)))
		}
	}
	for i := range locs {
		for j := range locs {
			if i == j {
				continue
			}
			switch resolved[j].within(resolved[i]) {
			case pathSame:
				if i < j {
					locProblem(fmt.Sprintf("entries %d (%s) and %d (%s) are the same directory; each location must be a "+
						"directory of its own", i+1, quoteValue(locs[i].Path), j+1, quoteValue(locs[j].Path)))
				}
			case pathInside:
				locProblem(fmt.Sprintf("entry %d (%s) lies inside entry %d (%s); locations must not nest", j+1,
					quoteValue(locs[j].Path), i+1, quoteValue(locs[i].Path)))
			}
		}
	}
	info, infoSet := l.values["druid.segmentCache.infoDir"]
	if !infoSet || c.SegmentCache.InfoDir == "" {
		return // <first location>/info_dir, which only a location nested in the first could be
	}
	ri := resolveCachePath(c.SegmentCache.InfoDir)
	for j, loc := range locs {
		if ri.within(resolved[j]) == pathSame {
			l.probs.add(Problem{Key: "druid.segmentCache.infoDir", Origin: info.origin, order: info.order, Msg: fmt.Sprintf(
				"%s is the directory of druid.segmentCache.locations entry %d (%s, %s); the info directory must be a "+
					"directory of its own, such as %s", quoteValue(c.SegmentCache.InfoDir), j+1, quoteValue(loc.Path), locOrigin,
				quoteValue(filepath.Join(loc.Path, "info_dir")))})
		}
	}
}

// cachePath is a path as the filesystem resolves it: its deepest existing directory (symbolic links followed) with
// that directory's ancestors, each as a FileInfo to compare by device and inode, and the components below it that
// do not exist yet.
type cachePath struct {
	chain []os.FileInfo // the deepest existing directory first, then its parents up to the root
	clean string        // the cleaned absolute path, when the filesystem could not be read at all
	rest  []string
	file  bool // the path itself is a regular file
}

func resolveCachePath(p string) cachePath {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = filepath.Clean(p)
	}
	var rest []string
	existing := abs
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() && len(rest) == 0 {
				return cachePath{clean: abs, file: true}
			}
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return cachePath{clean: abs}
		}
		rest = append([]string{filepath.Base(existing)}, rest...)
		existing = parent
	}
	if real, err := filepath.EvalSymlinks(existing); err == nil {
		existing = real
	}
	out := cachePath{clean: abs, rest: rest}
	for d := existing; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return cachePath{clean: abs}
		}
		out.chain = append(out.chain, fi)
		if filepath.Dir(d) == d {
			return out
		}
	}
}

type pathRelation int

const (
	pathApart pathRelation = iota
	pathSame
	pathInside
)

// within says whether p is outer, inside outer, or apart from it.
func (p cachePath) within(outer cachePath) pathRelation {
	if p.file || outer.file {
		return pathApart
	}
	if len(p.chain) == 0 || len(outer.chain) == 0 { // the filesystem could not say: compare the paths as written
		rel, err := filepath.Rel(outer.clean, p.clean)
		switch {
		case err != nil || rel == ".." || strings.HasPrefix(rel, "../"):
			return pathApart
		case rel == ".":
			return pathSame
		}
		return pathInside
	}
	top := outer.chain[0]
	if len(outer.rest) == 0 {
		// outer exists: p is inside it when outer is p's deepest existing directory or one of its parents.
		k := slices.IndexFunc(p.chain, func(fi os.FileInfo) bool { return os.SameFile(fi, top) })
		switch {
		case k < 0:
			return pathApart
		case k == 0 && len(p.rest) == 0:
			return pathSame
		}
		return pathInside
	}
	// outer does not exist yet: p must be below the same existing directory, along the same names.
	if !os.SameFile(p.chain[0], top) || len(p.rest) < len(outer.rest) || !slices.Equal(p.rest[:len(outer.rest)], outer.rest) {
		return pathApart
	}
	if len(p.rest) == len(outer.rest) {
		return pathSame
	}
	return pathInside
}
