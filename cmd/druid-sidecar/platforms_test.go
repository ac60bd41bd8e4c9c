package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// crossPlatforms are where operators run the commands besides linux/amd64: audit, cluster and cache verify on
// macOS and Windows workstations, serve and companion on ARM servers.
var crossPlatforms = []struct{ goos, goarch string }{
	{"darwin", "arm64"},
	{"linux", "arm64"},
	{"windows", "amd64"},
}

// TestBuildsOnEveryPlatform builds the whole module for each platform, so that a Linux-only call outside a
// _linux.go file (or a build tag) fails here rather than on an operator's machine.
func TestBuildsOnEveryPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the module three times")
	}
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	for _, p := range crossPlatforms {
		t.Run(p.goos+"_"+p.goarch, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), gobin, "build", "-o", os.DevNull, "./...")
			cmd.Dir = filepath.Join("..", "..")
			cmd.Env = append(os.Environ(), "GOOS="+p.goos, "GOARCH="+p.goarch, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build ./...: %v\n%s", p.goos, p.goarch, err, strings.TrimSpace(string(out)))
			}
		})
	}
}
