package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

var update = flag.Bool("update", false, "rewrite generated parts of README.md")

// TestReadmeConfigTable keeps the README's table of configuration keys equal to the registry in package configs.
// Run `go test ./cmd/druid-sidecar -run Readme -update` after adding a key.
func TestReadmeConfigTable(t *testing.T) {
	const path = "../../README.md"
	const begin, end = "<!-- BEGIN CONFIG KEYS -->\n", "<!-- END CONFIG KEYS -->"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	want := text[:i+len(begin)] + configs.MarkdownTable() + text[j:]
	if want == text {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's configuration table is out of date: run go test ./cmd/druid-sidecar -run Readme -update")
}
