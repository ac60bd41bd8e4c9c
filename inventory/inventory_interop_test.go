package inventory_test

// Interop test of the inventory's responses against the real Jackson (Debian's jackson-databind and
// jackson-dataformat-smile, plus Joda-Time): testdata/inventory/InventoryInterop.java is compiled into a temporary
// directory and run once for every case. Jackson's Smile mapper must read our Smile responses (snapshot of 2000
// segments, delta, reset, empty snapshot) into the same trees its JSON mapper reads from our JSON responses, and
// bind them to mirrors of Druid's ChangeRequestsSnapshot/Counter. Jackson's own Smile encoding of the same
// documents (default features, and shared string values on) is decoded by jackson.SmileToJSON, which must give
// back our JSON byte for byte: that cross-checks the project's Smile decoder against Jackson.
//
// Policy (docs/CONTRIBUTING.md): a missing java, javac or jar FAILS the test; only `go test -short` skips it.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/jackson"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// invOddSegments returns segments that stress the encoders: non-ASCII and escaped strings, a tombstone (null
// binaryVersion), a skip*-transformed copy (null loadSpec, empty dimensions and metrics), projections, a
// lastCompactionState and an unknown member with a floating-point number.
func invOddSegments(t testing.TB) []*segments.DataSegment {
	t.Helper()
	a := invSegment(900001)
	a.DataSource = "wiki_日本語_é"
	a.Version = `v"quoted"\back`
	b := segments.NewTombstone("tomb", invSegment(900002).Interval, "2025-01-01T00:00:00.000Z")
	c := invSegment(900003)
	c.LoadSpec, c.Dimensions, c.Metrics = nil, nil, nil
	d := invSegment(900004)
	proj := []string{"p1", "p2"}
	d.Projections = &proj
	d.LastCompactionState = json.RawMessage(`{"partitionsSpec":{"type":"dynamic","maxRowsPerSegment":5000000,"maxTotalRows":null},"dimensionsSpec":{"dimensions":[]}}`)
	var e segments.DataSegment
	raw := `{"dataSource":"extra","interval":"2025-01-01T00:00:00.000Z/2025-01-02T00:00:00.000Z","version":"v1","loadSpec":{"type":"local","path":"/tmp/x/index.zip"},"dimensions":"a,b","metrics":"","shardSpec":{"type":"numbered","partitionNum":0,"partitions":1},"newField":{"x":[1,2.5,null,-7,12345678901]},"binaryVersion":9,"size":1}`
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	return []*segments.DataSegment{a, &b, c, d, &e}
}

// compileInterop compiles testdata/inventory/name against the Jackson classpath into a directory of the test's, and
// returns the java binary, that directory and the classpath.
func compileInterop(ctx context.Context, t *testing.T, name string) (java, classes, cp string) {
	t.Helper()
	cp = testenv.JavaClasspath(t)
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("javac is not on PATH (%v).\n\tfix: install a JDK (Debian: openjdk-17-jdk-headless); only `go test -short` skips this test.", err)
	}
	java, _ = exec.LookPath("java") // JavaClasspath checked it
	classes = t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "inventory", name))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, javac, "-nowarn", "-d", classes, "-cp", cp, src).CombinedOutput(); err != nil {
		t.Fatalf("javac %s failed: %v\n%s", src, err, out)
	}
	return java, classes, cp
}

func TestInventoryJacksonInterop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	java, classes, cp := compileInterop(ctx, t, "InventoryInterop.java")

	// The responses.
	type invCase struct {
		name        string
		json, smile []byte
	}
	var cases []invCase
	inv := inventory.New()
	srv := invServer(t, inv)
	fetch := func(name, query string) {
		t.Helper()
		st1, ct1, js := invGet(t, srv, query, "application/json")
		st2, ct2, sm := invGet(t, srv, query, inventory.SmileType)
		if st1 != 200 || st2 != 200 || ct1 != "application/json" || ct2 != inventory.SmileType {
			t.Fatalf("%s: %d %q / %d %q", name, st1, ct1, st2, ct2)
		}
		cases = append(cases, invCase{name, js, sm})
	}
	fetch("empty-snapshot", "counter=-1&timeout=1000")
	all := append(invSegments(0, 1995), invOddSegments(t)...)
	if err := inv.Announce(all); err != nil {
		t.Fatal(err)
	}
	fetch("snapshot-2000", "counter=-1&timeout=1000")
	c := inv.Snapshot().Counter
	if err := inv.Announce(invSegments(5000, 3)); err != nil {
		t.Fatal(err)
	}
	if err := inv.Unannounce(all[1990:]); err != nil {
		t.Fatal(err)
	}
	fetch("delta", fmt.Sprintf("counter=%d&hash=%d&timeout=1000", c.Counter, c.Hash))
	fetch("reset", fmt.Sprintf("counter=%d&hash=%d&timeout=1000", c.Counter, c.Hash+1))
	fetch("reset-too-old", fmt.Sprintf("counter=0&hash=%d&timeout=1000", inventory.ProcessStart))

	// Negative controls: a JSON body where Smile is due, and a Smile body of another document.
	controls := []invCase{
		{"control-json-body", cases[1].json, cases[1].json},
		{"control-other-document", cases[2].json, cases[3].smile},
	}
	var input bytes.Buffer
	for _, cs := range append(cases, controls...) {
		for _, chunk := range [][]byte{[]byte(cs.name), cs.json, cs.smile} {
			input.Write(binary.BigEndian.AppendUint32(nil, uint32(len(chunk))))
			input.Write(chunk)
		}
	}
	cmd := exec.CommandContext(ctx, java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classes+string(os.PathListSeparator)+cp, "InventoryInterop")
	cmd.Stdin = &input
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("java InventoryInterop failed: %v\nstderr:\n%s\nstdout:\n%.4000s", err, stderr.String(), stdout.String())
	}
	t.Logf("one JVM checked %d cases in %v", len(cases), time.Since(started).Round(time.Millisecond))

	byName := map[string]invCase{}
	for _, cs := range cases {
		byName[cs.name] = cs
	}
	ok := map[string]string{}
	decoded := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		f := strings.SplitN(line, " ", 4)
		switch f[0] {
		case "VERSION":
			t.Log(line)
		case "DONE":
			if f[1] != fmt.Sprint(len(cases)+len(controls)) {
				t.Errorf("Java checked %s cases, want %d", f[1], len(cases)+len(controls))
			}
		case "FAIL":
			if strings.HasPrefix(f[1], "control-") {
				ok[f[1]] = line
				continue
			}
			t.Errorf("Jackson: %s", line)
		case "OK":
			ok[f[1]] = strings.Join(f[2:], " ")
		case "SMILE":
			cs := byName[f[1]]
			theirs, err := base64.StdEncoding.DecodeString(f[3])
			if err != nil {
				t.Fatalf("%s: bad base64: %v", f[1], err)
			}
			got, err := jackson.SmileToJSON(theirs)
			if err != nil {
				t.Errorf("%s: our decoder cannot decode Jackson's %s Smile: %v", f[1], f[2], err)
				continue
			}
			if !bytes.Equal(got, cs.json) {
				t.Errorf("%s: our decoder decodes Jackson's %s Smile to\n%.600s\nwant\n%.600s", f[1], f[2], got, cs.json)
				continue
			}
			decoded[f[1]]++
			if f[2] == "default" {
				t.Logf("%s: our Smile %d bytes, Jackson's %d bytes, identical: %v (JSON %d bytes)", f[1], len(cs.smile), len(theirs), bytes.Equal(theirs, cs.smile), len(cs.json))
			}
		default:
			t.Errorf("unexpected output line %.300q", line)
		}
	}
	c2 := inv.Snapshot().Counter
	want := map[string]string{
		"empty-snapshot": fmt.Sprintf("0 0 %d", inventory.ProcessStart),
		"snapshot-2000":  fmt.Sprintf("2000 %d %d", c.Counter, c.Hash),
		"delta":          fmt.Sprintf("13 %d %d", c2.Counter, c2.Hash),
	}
	if got := ok["control-json-body"]; !strings.Contains(got, "FAIL") || !strings.Contains(got, "header") {
		t.Errorf("negative control: Jackson's Smile mapper read a JSON body: %q", got)
	}
	if got := ok["control-other-document"]; !strings.Contains(got, "FAIL") || !strings.Contains(got, "differs") {
		t.Errorf("negative control: different documents compared equal: %q", got)
	}
	for _, cs := range cases {
		got, found := ok[cs.name]
		switch {
		case !found:
			t.Errorf("%s: Jackson did not accept it", cs.name)
		case want[cs.name] != "" && got != want[cs.name]:
			t.Errorf("%s: Jackson read %q (requests counter hash), want %q", cs.name, got, want[cs.name])
		case strings.HasPrefix(cs.name, "reset") && !strings.HasPrefix(got, "-1 reset"):
			t.Errorf("%s: Jackson read %q, want a reset", cs.name, got)
		}
		if decoded[cs.name] != 2 {
			t.Errorf("%s: %d of Jackson's 2 Smile encodings decoded to our JSON", cs.name, decoded[cs.name])
		}
	}
}
