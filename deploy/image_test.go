package deploy

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
)

// TestImageBinaryCrossBuilds builds the image's binary as deploy/Dockerfile does (make image-binary with GOOS and
// GOARCH from the target platform), for linux/arm64 from this machine, and checks what the image relies on: an
// arm64 ELF, static (no interpreter, CGO_ENABLED=0), stripped (-s -w: no symbol table, no DWARF), built with
// -trimpath and the version and commit. No Docker engine is needed, and none is used: the image itself is not built
// here.
func TestImageBinaryCrossBuilds(t *testing.T) {
	testenv.Integration(t)
	const goos, goarch = "linux", "arm64"
	bin := filepath.Join(t.TempDir(), "druid-sidecar")
	cmd := exec.Command("make", "--no-print-directory", "image-binary", "GOOS="+goos, "GOARCH="+goarch,
		"VERSION=v0.0.0-test", "COMMIT=abcdef123456", "IMAGE_BINARY="+bin, "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image-binary GOOS=%s GOARCH=%s: %v\n%s", goos, goarch, err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("the binary is for %v, want arm64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has a dynamic loader: not static, it would not run on distroless static")
		}
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("the binary has section %s: not stripped (-s -w)", s.Name)
		}
	}

	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// Go leaves -ldflags out of the build information of a -trimpath build; the version and commit show in the
	// binary's data instead.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"v0.0.0-test", "abcdef123456"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the binary does not hold %q: -X main.version and main.commit were not set", want)
		}
	}
	for k, want := range map[string]string{"GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
		}
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("%s/%s binary as the image holds it: %.1f MB", goos, goarch, float64(fi.Size())/1e6)
	}
}
