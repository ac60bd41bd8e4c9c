package main

import (
	"bufio"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The page whose package map TestArchitecturePackageMap keeps in step with the tree, and its section holding it.
const (
	architecturePath = "../../docs/architecture.md"
	packageMapTitle  = "## Package map"
)

// TestArchitecturePackageMap keeps docs/architecture.md's package map equal to the module's packages: every
// directory the go command would list (.go files, outside testdata and directories starting with "." or "_") has
// a row, every row names such a directory, and each row's imports column lists exactly the module's packages that
// the package's non-test files import (every platform's files). Run
// `go test ./cmd/druid-sidecar -run Architecture -update` to rewrite the imports columns; a new package's row is
// written by hand, as its description is.
func TestArchitecturePackageMap(t *testing.T) {
	module, err := modulePath("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := modulePackages("../..", module)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(architecturePath)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := packageMapRows(string(data))
	if err != nil {
		t.Fatal(err)
	}

	problems, stale, text := comparePackageMap(tree, rows, string(data))
	if len(stale) > 0 && *update {
		if err := os.WriteFile(architecturePath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		stale = nil
	}
	if len(stale) > 0 {
		problems = append(problems, stale...)
		problems = append(problems, "(go test ./cmd/druid-sidecar -run Architecture -update rewrites the imports columns)")
	}
	if len(problems) > 0 {
		t.Fatalf("docs/architecture.md's package map is out of step with the tree:\n  %s", strings.Join(problems, "\n  "))
	}
}

// comparePackageMap compares the map's rows with the tree's packages. problems are rows without a package,
// packages without a row and rows listed twice; stale are imports columns out of date, and text is the page with
// them rewritten.
func comparePackageMap(tree map[string][]string, rows []packageMapRow, page string) (problems, stale []string, text string) {
	listed := map[string]bool{}
	for _, r := range rows {
		if listed[r.pkg] {
			problems = append(problems, fmt.Sprintf("%s is listed twice", r.pkg))
		}
		listed[r.pkg] = true
		if _, ok := tree[r.pkg]; !ok {
			problems = append(problems, fmt.Sprintf("%s is listed but is no package of the tree: remove its row", r.pkg))
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(tree)) {
		if !listed[pkg] {
			problems = append(problems, fmt.Sprintf("%s is a package of the tree but has no row: add one", pkg))
		}
	}
	text = page
	for _, r := range rows {
		want, ok := tree[r.pkg]
		if !ok || slices.Equal(r.imports, want) {
			continue
		}
		stale = append(stale, fmt.Sprintf("%s imports %s, its row says %s", r.pkg, describeImports(want), describeImports(r.imports)))
		text = strings.Replace(text, r.line, r.withImports(want), 1)
	}
	return problems, stale, text
}

// modulePath reads the module path from go.mod's module directive.
func modulePath(goMod string) (string, error) {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			if p, err := strconv.Unquote(strings.TrimSpace(rest)); err == nil {
				return p, nil
			}
			return strings.TrimSpace(rest), nil
		}
	}
	return "", fmt.Errorf("%s has no module directive", goMod)
}

// modulePackages walks the module from root as `go list ./...` does and returns each package directory (slash
// separated, relative to root) with the module's packages its non-test files import, sorted. Files of every
// platform count, since the map describes the package wherever it builds.
func modulePackages(root, module string) (map[string][]string, error) {
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root {
			// What the go command leaves out of ./...: testdata, "." and "_" directories, and nested modules.
			name := d.Name()
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		imports, isPkg, err := dirImports(path, module)
		if err != nil || !isPkg {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		pkgs[filepath.ToSlash(rel)] = imports
		return nil
	})
	return pkgs, err
}

// dirImports reports whether dir holds .go files, and the module's packages its non-test files import, sorted
// and relative to the module.
func dirImports(dir, module string) (imports []string, isPkg bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		isPkg = true
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			return nil, false, err
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return nil, false, err
			}
			if rel, ok := strings.CutPrefix(p, module+"/"); ok {
				seen[rel] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), isPkg, nil
}

// packageMapRow is one row of the package map: | `pkg` | what it holds | `imports`, ... |.
type packageMapRow struct {
	line    string // the row as written, without its newline
	pkg     string
	cells   []string
	imports []string // the backquoted names of the last cell, sorted
}

// withImports is the row with its imports cell rewritten to imports.
func (r packageMapRow) withImports(imports []string) string {
	cells := slices.Clone(r.cells)
	cells[len(cells)-1] = " " + describeImports(imports) + " "
	return "|" + strings.Join(cells, "|") + "|"
}

var backquoted = regexp.MustCompile("`([^`]+)`")

// packageMapRows reads the rows of the table under packageMapTitle, which ends at the next heading.
func packageMapRows(text string) ([]packageMapRow, error) {
	_, section, ok := strings.Cut(text, "\n"+packageMapTitle+"\n")
	if !ok {
		return nil, fmt.Errorf("docs/architecture.md has no %q section", packageMapTitle)
	}
	var rows []packageMapRow
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			break
		}
		if !strings.HasPrefix(line, "| `") {
			continue // prose, the header and its separator
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|"), "|")
		if len(cells) != 3 {
			return nil, fmt.Errorf("the package map row %q has %d cells; want 3 (package, what it holds, imports)", line, len(cells))
		}
		name := backquoted.FindStringSubmatch(cells[0])
		if name == nil {
			return nil, fmt.Errorf("the package map row %q does not name its package in backquotes", line)
		}
		r := packageMapRow{line: line, pkg: name[1], cells: cells}
		for _, m := range backquoted.FindAllStringSubmatch(cells[2], -1) {
			r.imports = append(r.imports, m[1])
		}
		slices.Sort(r.imports)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, errors.New("docs/architecture.md's package map has no rows")
	}
	return rows, nil
}

// describeImports is an imports cell: the names backquoted, or a dash for none.
func describeImports(imports []string) string {
	if len(imports) == 0 {
		return "—"
	}
	quoted := make([]string, len(imports))
	for i, p := range imports {
		quoted[i] = "`" + p + "`"
	}
	return strings.Join(quoted, ", ")
}

// TestPackageMapCheck runs the check on a tree of its own: what `go list ./...` leaves out is no package, and a
// missing row, a row of a removed package and an out-of-date imports column are each named.
func TestPackageMapCheck(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                 "module example.org/m\n",
		"a/a.go":                 "package a\n\nimport (\n\t\"fmt\"\n\t\"example.org/m/b\"\n)\n",
		"a/a_test.go":            "package a\n\nimport \"example.org/m/c\"\n",
		"b/b.go":                 "package b\n",
		"c/only_test.go":         "package c\n",
		"b/testdata/x/x.go":      "package x\n",
		".hidden/h.go":           "package h\n",
		"_skip/s.go":             "package s\n",
		"nested/go.mod":          "module example.org/nested\n",
		"nested/n.go":            "package n\n",
		"docs/readme.md":         "no Go here\n",
		"b/windows/w_windows.go": "//go:build windows\n\npackage w\n\nimport \"example.org/m/a\"\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	module, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil || module != "example.org/m" {
		t.Fatalf("modulePath = %q, %v; want example.org/m", module, err)
	}
	tree, err := modulePackages(root, module)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a": {"b"}, "b": nil, "c": nil, "b/windows": {"a"}}
	if !maps.EqualFunc(tree, want, func(x, y []string) bool { return slices.Equal(x, y) }) {
		t.Fatalf("packages = %v; want %v", tree, want)
	}

	page := "# M\n\n" + packageMapTitle + "\n\n| package | holds | imports |\n|---|---|---|\n" +
		"| `a` | A | `c` |\n| `b` | B | — |\n| `gone` | G | — |\n| `b/windows` | W | `a` |\n\n## Next\n\n| `c` | not a row | — |\n"
	rows, err := packageMapRows(page)
	if err != nil {
		t.Fatal(err)
	}
	problems, stale, text := comparePackageMap(tree, rows, page)
	wantProblems := []string{
		"gone is listed but is no package of the tree: remove its row",
		"c is a package of the tree but has no row: add one",
	}
	if !slices.Equal(problems, wantProblems) {
		t.Errorf("problems = %q; want %q", problems, wantProblems)
	}
	if want := []string{"a imports `b`, its row says `c`"}; !slices.Equal(stale, want) {
		t.Errorf("stale = %q; want %q", stale, want)
	}
	if !strings.Contains(text, "| `a` | A | `b` |\n") || strings.Contains(text, "| `a` | A | `c` |") {
		t.Errorf("the rewritten page does not have a's imports as `b`:\n%s", text)
	}
}
