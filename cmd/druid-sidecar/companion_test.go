package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/audit"
	"github.com/druid-sidecar/druid-sidecar/internal/sandbox"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// companionHistorical is a Historical's cache directory and its inventory, served on 127.0.0.1.
type companionHistorical struct {
	cache, port string
	inv         *inventory.Inventory
}

func newCompanionHistorical(t *testing.T) *companionHistorical {
	t.Helper()
	h := &companionHistorical{cache: t.TempDir(), inv: inventory.New()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(inventory.Path, h.inv)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { h.inv.Stop(); srv.Close() })
	_, h.port, _ = net.SplitHostPort(ln.Addr().String())
	return h
}

func (h *companionHistorical) args(extra ...string) []string {
	return append([]string{"companion", "--set", "druid.host=127.0.0.1", "--set", "druid.plaintextPort=" + h.port,
		"--set", "druid.zk.service.enabled=false",
		"--set", fmt.Sprintf(`druid.segmentCache.locations=[{"path":%q}]`, h.cache)}, extra...)
}

// segment writes a complete segment directory (no download marker) for seg, as a finished load leaves it.
func (h *companionHistorical) segmentDir(t *testing.T, seg *segments.DataSegment) {
	t.Helper()
	dir := filepath.Join(h.cache, seg.ID().String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version.bin"), []byte{0, 0, 0, 9}, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (h *companionHistorical) infoFile(t *testing.T, seg *segments.DataSegment) {
	t.Helper()
	dir := filepath.Join(h.cache, "info_dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	js, err := seg.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, seg.ID().String()), js, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCompanionOnce(t *testing.T) {
	h := newCompanionHistorical(t)
	var segs []*segments.DataSegment
	for day := range 4 {
		segs = append(segs, sandbox.Segment("wikipedia", day, 0, 1, "b", "druid/segments", 1000))
	}
	// A healthy Historical: two segments on disk, in info_dir and announced.
	for _, s := range segs[:2] {
		h.segmentDir(t, s)
		h.infoFile(t, s)
	}
	if err := h.inv.Announce(segs[:2]); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, []string{}, h.args("--once")...)
	if code != exitOK || !strings.Contains(stdout, "No drift") {
		t.Fatalf("no drift: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}

	// Planted drift: an info file whose directory is gone, and an announced segment with nothing on disk.
	h.infoFile(t, segs[2])
	if err := h.inv.Announce(segs[3:]); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, []string{}, h.args("--once")...)
	if code != exitFailure {
		t.Fatalf("drift: exit %d, want %d; stdout %q, stderr %s", code, exitFailure, stdout, stderr)
	}
	for _, want := range []string{segs[2].ID().String(), audit.DriftInfoWithoutFiles, segs[3].ID().String(),
		audit.DriftAnnouncedMissing, "2 finding(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, []string{}, h.args("--once", "--format", "json")...)
	var findings []audit.Finding
	if err := json.Unmarshal([]byte(stdout), &findings); code != exitFailure || err != nil || len(findings) != 2 {
		t.Fatalf("json: exit %d, %v, %q", code, err, stdout)
	}
	for _, f := range findings {
		if f.Kind != audit.KindCacheDrift || f.DataSource != "wikipedia" {
			t.Errorf("finding %+v", f)
		}
	}
}

func TestCompanionOnceErrors(t *testing.T) {
	h := newCompanionHistorical(t)
	// No Historical at the address: the drift cannot be read, which is no verdict.
	args := append(h.args("--once"), "--set", "druid.plaintextPort="+strconv.Itoa(closedPort(t)))
	if code, _, stderr := runCLI(t, []string{}, args...); code != exitBadInput || !strings.Contains(stderr, "inventory") {
		t.Errorf("unreachable inventory: exit %d, stderr %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, []string{}, h.args("--once", "--format", "xml")...); code != exitBadInput || !strings.Contains(stderr, "--format") {
		t.Errorf("--format xml: exit %d, stderr %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, []string{}, "companion", "--once"); code != exitBadInput || !strings.Contains(stderr, "druid.host") {
		t.Errorf("no druid.host: exit %d, stderr %s", code, stderr)
	}
	if code, _, _ := runCLI(t, []string{}, "companion", "-h"); code != exitOK {
		t.Errorf("-h: exit %d", code)
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestCompanionRunsUntilCanceled runs the companion with prefetching off (no window configured, the default) and
// checks its health endpoint and a clean exit.
func TestCompanionRunsUntilCanceled(t *testing.T) {
	h := newCompanionHistorical(t)
	port := closedPort(t)
	stderr := runUntilAnswering(t, "companion",
		h.args("--set", "druid.bindOnHost=true", "--set", "druid.sidecar.companion.port="+strconv.Itoa(port)),
		"http://127.0.0.1:"+strconv.Itoa(port)+"/status/health")
	if !strings.Contains(stderr, "prefetching is off") {
		t.Errorf("no word on prefetching being off; stderr:\n%s", stderr)
	}
}

// TestCompanionRunsDespiteConfigurationProblems: a properties file that cannot be read and a malformed S3 endpoint,
// which stop every other command with exit 2, leave the companion running and answering its probe (the Historical
// beside it waits for that), with the problems in its log.
func TestCompanionRunsDespiteConfigurationProblems(t *testing.T) {
	h := newCompanionHistorical(t)
	port := closedPort(t)
	args := h.args("--properties", filepath.Join(t.TempDir(), "missing.properties"), "--set", "druid.bindOnHost=true",
		"--set", "druid.s3.endpoint.url=http:/nope", "--set", "druid.sidecar.companion.port="+strconv.Itoa(port))
	if code, _, stderr := runCLI(t, []string{}, append(slices.Clone(args), "--once")...); code != exitBadInput ||
		!strings.Contains(stderr, "druid.s3.endpoint.url") {
		t.Errorf("--once: exit %d, want 2; stderr %s", code, stderr)
	}
	stderr := runUntilAnswering(t, "companion", args, "http://127.0.0.1:"+strconv.Itoa(port)+"/status/health")
	for _, want := range []string{"configuration problem", "missing.properties", "druid.s3.endpoint.url", "prefetching is off",
		"the drift watch is off"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the log lacks %q:\n%s", want, stderr)
		}
	}
}
