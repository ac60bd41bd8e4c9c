package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Chromium returns the path of Debian's headless-capable Chromium, which scripts/services.sh installs as a test
// peer (like the Java jars). The test fails if it is missing.
func Chromium(t testing.TB) string {
	t.Helper()
	Integration(t)
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("testenv: Chromium: not found on PATH.\n\tfix: %s (it installs Debian's chromium package).", fix)
	return ""
}

// Screenshot renders the page at url in headless Chromium at width×height pixels and returns the path of the PNG,
// under t.TempDir(). Chromium runs with a fresh profile and with its background networking off, so it makes no
// connection but to url (loopback or a file:// URL).
func Screenshot(t testing.TB, url string, width, height int) string {
	t.Helper()
	bin := Chromium(t)
	dir := t.TempDir()
	png := filepath.Join(dir, "screenshot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		fmt.Sprintf("--window-size=%d,%d", width, height),
		"--screenshot=" + png, url}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: Chromium screenshot of %s: %v\n%s", url, err, out)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("testenv: Chromium wrote no screenshot of %s (%v)\n%s", url, err, out)
	}
	return png
}

// DumpDOM renders the page at url in headless Chromium, runs its scripts, and returns the resulting DOM as HTML:
// what a reader sees, for checking numbers a page computes.
func DumpDOM(t testing.TB, url string) string {
	t.Helper()
	bin := Chromium(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--virtual-time-budget=5000", "--dump-dom", url}
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		t.Fatalf("testenv: Chromium --dump-dom of %s: %v", url, err)
	}
	return string(out)
}
