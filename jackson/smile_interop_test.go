package jackson_test

// Interop test of the Smile encoder against the real Jackson Smile parser: testdata/smile/SmileInterop.java is
// compiled with javac into a temporary directory and run once (one JVM for every case, since a JVM start is
// slow). For each case it reads our Smile with Jackson's SmileParser (default features, header required, as
// Druid's Brokers and Coordinators do) and the equivalent JSON with Jackson's JSON parser, and compares the token
// streams strictly and the databind trees; it also returns Jackson's own Smile encoding of the JSON, which must
// equal ours byte for byte except where noted.
//
// Policy (docs/CONTRIBUTING.md): a missing java, javac or jar FAILS the test; only `go test -short` skips it.
// DRUID_SIDECAR_TEST_JAVA_CP may hold the classpath; unset, it is built from Debian's /usr/share/java.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/jackson"
)

type smileInteropCase struct {
	name  string
	json  []byte // the document as JSON, read by Jackson's JSON parser
	smile []byte // our encoding of it, read by Jackson's Smile parser
	// expectFail marks a negative control: Jackson must read something other than the JSON.
	expectFail string
}

func TestSmileJacksonInterop(t *testing.T) {
	testenv.Integration(t)
	cp := smileJavaClasspath(t)
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("javac is not on PATH (%v).\n\tfix: install a JDK (Debian: openjdk-17-jdk-headless); only `go test -short` skips this test.", err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java is not on PATH (%v).\n\tfix: install a JDK (Debian: openjdk-17-jdk-headless); only `go test -short` skips this test.", err)
	}
	classes := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src, err := filepath.Abs(filepath.Join("testdata", "smile", "SmileInterop.java"))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if out, err := exec.CommandContext(ctx, javac, "-nowarn", "-d", classes, "-cp", cp, src).CombinedOutput(); err != nil {
		t.Fatalf("javac %s failed: %v\n%s", src, err, out)
	}
	t.Logf("javac took %v", time.Since(started).Round(time.Millisecond))

	started = time.Now()
	cases := smileInteropCases(t)
	t.Logf("encoding the cases took %v", time.Since(started).Round(time.Millisecond))
	var input bytes.Buffer
	byName := map[string]*smileInteropCase{}
	for i := range cases {
		c := &cases[i]
		if byName[c.name] != nil {
			t.Fatalf("duplicate case name %s", c.name)
		}
		byName[c.name] = c
		for _, chunk := range [][]byte{[]byte(c.name), c.json, c.smile} {
			input.Write(binary.BigEndian.AppendUint32(nil, uint32(len(chunk))))
			input.Write(chunk)
		}
	}
	// C1 only and the serial collector: this short run then needs about a third of the CPU time of the defaults
	// on this 2-core machine. The deep stack is for the "nested" case.
	cmd := exec.CommandContext(ctx, java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss16m",
		"-cp", classes+string(os.PathListSeparator)+cp, "SmileInterop")
	inputLen := input.Len()
	cmd.Stdin = &input
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started = time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("java SmileInterop failed: %v\nstderr:\n%s\nstdout:\n%.4000s", err, stderr.String(), stdout.String())
	}
	t.Logf("one JVM checked %d cases (%d bytes of input) in %v (CPU: %v user, %v system)", len(cases), inputLen,
		time.Since(started).Round(time.Millisecond), cmd.ProcessState.UserTime().Round(time.Millisecond),
		cmd.ProcessState.SystemTime().Round(time.Millisecond))

	seen := map[string]bool{}
	var identical, differing []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		fields := strings.SplitN(line, " ", 4)
		switch fields[0] {
		case "VERSION", "NOTE":
			t.Log(line)
			continue
		case "DONE":
			if n, _ := strconv.Atoi(fields[1]); n != len(cases) {
				t.Errorf("Java checked %d cases, want %d", n, len(cases))
			}
			continue
		case "OK", "FAIL":
		default:
			t.Errorf("unexpected output line %.300q", line)
			continue
		}
		if len(fields) < 3 {
			t.Errorf("short output line %.300q", line)
			continue
		}
		c := byName[fields[1]]
		if c == nil {
			t.Errorf("output for unknown case %q", fields[1])
			continue
		}
		seen[c.name] = true
		reason := ""
		if len(fields) == 4 {
			reason = fields[3]
		}
		switch {
		case c.expectFail != "":
			if fields[0] != "FAIL" || !strings.Contains(reason, c.expectFail) {
				t.Errorf("negative control %s: Jackson said %s %q, want a failure containing %q", c.name, fields[0], reason, c.expectFail)
			}
			continue
		case fields[0] == "FAIL":
			t.Errorf("Jackson reads case %s differently: %s", c.name, reason)
			continue
		}
		jackson, err := base64.StdEncoding.DecodeString(fields[2])
		if err != nil {
			t.Errorf("case %s: bad base64 from Java: %v", c.name, err)
			continue
		}
		if bytes.Equal(jackson, c.smile) {
			identical = append(identical, c.name)
			continue
		}
		differing = append(differing, c.name)
		if err := smileExplainJacksonDifference(c.smile, jackson); err != nil {
			t.Errorf("case %s: our bytes differ from Jackson's SmileGenerator beyond the known case: %v", c.name, err)
		}
	}
	for _, c := range cases {
		if !seen[c.name] {
			t.Errorf("no result for case %s", c.name)
		}
	}
	t.Logf("byte-identical to Jackson's SmileGenerator: %d cases; differing only in the known way: %d (%s)",
		len(identical), len(differing), strings.Join(differing, ", "))
}

// smileExplainJacksonDifference accepts one known difference from Jackson's generator: for ASCII strings of more
// than 2666 characters (when 3 × length + 2 exceeds its 8000-byte output buffer) Jackson writes the long-Unicode
// token 0xE4 rather than 0xE0, because it cannot go back to fix the type byte. Both are valid Smile and read back the same;
// we write 0xE0 for every long ASCII string, as Jackson does for shorter ones. Any other difference is an error.
func smileExplainJacksonDifference(ours, jackson []byte) error {
	if len(ours) != len(jackson) {
		return fmt.Errorf("lengths %d (ours) and %d (Jackson)", len(ours), len(jackson))
	}
	for i := range ours {
		if ours[i] != jackson[i] && !(ours[i] == 0xE0 && jackson[i] == 0xE4) {
			return fmt.Errorf("first difference at byte %d: ours % x, Jackson's % x", i,
				ours[i:min(i+16, len(ours))], jackson[i:min(i+16, len(jackson))])
		}
	}
	return nil
}

// smileJavaClasspath returns DRUID_SIDECAR_TEST_JAVA_CP, or else the Jackson jars of /usr/share/java, failing
// the test if a jar is missing.
func smileJavaClasspath(t *testing.T) string {
	t.Helper()
	cp := os.Getenv(testenv.EnvJavaCP)
	if cp == "" {
		var jars []string
		for _, j := range []string{"jackson-core", "jackson-annotations", "jackson-databind", "jackson-dataformat-smile"} {
			jars = append(jars, filepath.Join("/usr/share/java", j+".jar"))
		}
		cp = strings.Join(jars, string(os.PathListSeparator))
	}
	var missing []string
	for _, jar := range filepath.SplitList(cp) {
		if _, err := os.Stat(jar); err != nil {
			missing = append(missing, jar)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("Jackson jars missing from the classpath: %s.\n\tfix: install the Debian packages libjackson2-databind-java "+
			"and libjackson2-dataformat-smile (`scripts/services.sh up` does), or set %s; only `go test -short` skips this test.",
			strings.Join(missing, ", "), testenv.EnvJavaCP)
	}
	return cp
}

func smileInteropCases(t *testing.T) []smileInteropCase {
	var cases []smileInteropCase
	addJSON := func(name string, doc []byte) {
		t.Helper()
		smile, err := jackson.JSONToSmile(nil, doc)
		if err != nil {
			t.Fatalf("case %s: %v", name, err)
		}
		cases = append(cases, smileInteropCase{name: name, json: doc, smile: smile})
	}

	// The inventory: 2000 segments, each with a key of its own (the shared-name table fills and resets about
	// twice), long and Unicode keys, empty keys, non-BMP strings, doubles, longs; encoded three ways.
	segments := smileSegmentsJSON(2000, true)
	snapshot := smileSnapshotEnvelope(segments)
	addJSON("snapshot-2000/scanner", snapshot)
	var members bytes.Buffer
	w := jackson.NewSmileWriter(&members)
	smileWriteSnapshotMembers(t, w, segments)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, smileInteropCase{name: "snapshot-2000/json-members", json: snapshot, smile: members.Bytes()})
	api, err := smileTranscodeWithDecoder(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, smileInteropCase{name: "snapshot-2000/writer-api", json: snapshot, smile: api})
	addJSON("snapshot-plain-2000", smileSnapshotJSON(2000, false))
	addJSON("reset-snapshot", []byte(`{"resetCounter":true,"resetCause":"counter[42] failed to match with [41]","counter":null,"requests":null}`))

	// Integers around every length and type boundary, through JSON and through WriteInt64.
	var ints []string
	var apiInts []int64
	for _, v := range []int64{0, 1, 15, 16, 31, 32, 63, 64, 8191, 8192, 1 << 20, 1<<27 - 1, 1 << 27, math.MaxInt32, 1 << 31,
		1<<32 - 1, 1 << 32, 1<<34 - 1, 1 << 34, 1 << 41, 1 << 48, 1 << 55, 1 << 62, math.MaxInt64} {
		for _, x := range []int64{v, -v, -v - 1} {
			ints = append(ints, strconv.FormatInt(x, 10))
			apiInts = append(apiInts, x)
		}
	}
	two := big.NewInt(2)
	for _, e := range []int64{63, 64, 65, 100, 127, 128, 200, 1000} {
		p := new(big.Int).Exp(two, big.NewInt(e), nil)
		for _, d := range []int64{-1, 0, 1} {
			x := new(big.Int).Add(p, big.NewInt(d))
			if !x.IsInt64() {
				ints = append(ints, x.String(), new(big.Int).Neg(x).String())
			}
		}
	}
	ints = append(ints, "1"+strings.Repeat("0", 30), "-"+strings.Repeat("9", 100))
	addJSON("integers", []byte("["+strings.Join(ints, ",")+"]"))
	var apiJSON []string
	var intsOut bytes.Buffer
	w = jackson.NewSmileWriter(&intsOut)
	w.WriteStartArray()
	for _, x := range apiInts {
		w.WriteInt64(x)
		apiJSON = append(apiJSON, strconv.FormatInt(x, 10))
	}
	w.WriteEndArray()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, smileInteropCase{name: "integers/writer-api", json: []byte("[" + strings.Join(apiJSON, ",") + "]"), smile: intsOut.Bytes()})

	addJSON("doubles", []byte(`[0.0,-0.0,1.5,-2.5,0.1,1e-7,5e-324,4.9e-324,2.2250738585072014e-308,2.2250738585072011e-308,`+
		`1.7976931348623157e308,1.7976931348623159e308,1e400,-1e400,1e-400,-1e-400,123456789.123456789,1E2,3.0e+10,`+
		`9007199254740993.0,0.30000000000000004,6.02214076e23,-0.000001]`))

	// Strings and keys at every length boundary, ASCII and not, escapes, NUL, non-BMP, a 200 KB string.
	var strs, keys []string
	for _, n := range []int{1, 2, 31, 32, 33, 34, 55, 56, 57, 58, 63, 64, 65, 66, 100, 1000, 2700, 2800, 5000} {
		a := strings.Repeat("a", n)
		u := strings.Repeat("é", n/2) + strings.Repeat("x", n%2) // n bytes
		e := strings.Repeat("😀", n/4) + strings.Repeat("y", n%4) // n bytes, 4-byte UTF-8
		strs = append(strs, smileQ(a), smileQ(u), smileQ(e))
		keys = append(keys, smileQ(a)+":1", smileQ(u)+":2", smileQ(e)+":3")
	}
	strs = append(strs, `""`, `"\u0000"`, `"\u0000\u0001\u001f\u007f"`, `"\ud83d\ude00\udbff\udfff"`, smileQ("\U0010FFFF\uFFFF\u0800\u07FF"),
		`"\"\\\/\b\f\n\r\t"`, smileQ(strings.Repeat("large ", 200_000/6)), smileQ(strings.Repeat("größer ", 30_000)))
	addJSON("strings", []byte("["+strings.Join(strs, ",")+"]"))
	// Twice: the second object's keys are all back-references, long (0x34) names included.
	keyObj := "{" + strings.Join(keys, ",") + `,"":0,"\u0000":0}`
	addJSON("keys", []byte("["+keyObj+","+keyObj+"]"))

	// Nesting.
	var deep strings.Builder
	for i := 0; i < 300; i++ {
		if i%2 == 0 {
			deep.WriteString(`[1,`)
		} else {
			deep.WriteString(`{"k` + strconv.Itoa(i%5) + `":`)
		}
	}
	deep.WriteString(`[[],{},[[[]]],{"":{}}]`)
	for i := 299; i >= 0; i-- {
		if i%2 == 0 {
			deep.WriteString(`]`)
		} else {
			deep.WriteString(`}`)
		}
	}
	addJSON("nested", []byte(deep.String()))

	// Scalars at the root.
	for i, root := range []string{`true`, `false`, `null`, `0`, `-0`, `-0.0`, `-17`, `9223372036854775808`, `1.5`, `""`, `"root"`, `[]`, `{}`} {
		addJSON(fmt.Sprintf("root-%d", i), []byte(root))
	}

	// The table boundary: exactly 1024 names, long and Unicode ones last, then references, then the reset.
	var nb strings.Builder
	nb.WriteString(`[{`)
	name := func(i int) string {
		switch {
		case i >= 1020 && i%2 == 0:
			return fmt.Sprintf("a-long-property-name-that-is-more-than-sixty-four-bytes-long-%05d", i)
		case i >= 1020:
			return fmt.Sprintf("ünïcödé-%04d-ünïcödé-ünïcödé-ünïcödé-ünïcödé-ünïcödé", i)
		default:
			return fmt.Sprintf("n%04d", i)
		}
	}
	for i := 0; i < 1024; i++ {
		fmt.Fprintf(&nb, "%s:%d,", smileQ(name(i)), i)
	}
	nb.WriteString(`"":0},{`)
	for i := 0; i < 1024; i += 7 {
		fmt.Fprintf(&nb, "%s:%d,", smileQ(name(i)), i)
	}
	fmt.Fprintf(&nb, `%s:1,%s:2},{"after-reset":1,"after-reset":2,%s:3,%s:4,%s:5}]`, smileQ(name(1023)), smileQ(name(1022)),
		smileQ(name(1022)), smileQ(name(0)), smileQ(name(0)))
	addJSON("names-1024-boundary", []byte(nb.String()))

	// Random documents.
	rng := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 200; i++ {
		addJSON(fmt.Sprintf("random-%03d", i), smileRandomJSON(rng, 5))
	}

	// Hand-made documents showing that Jackson counts a long (0x34) name in the shared-name table: after a
	// 70-byte name (index 0) and "b" (index 1), 0x41 means "b". The negative control writes 0x40 instead, as an
	// encoder that only shared names of at most 64 bytes would; Jackson then reads the long name, not "b".
	longName := strings.Repeat("k", 70)
	longJSON := []byte(`{"` + longName + `":1,"b":2,"b":3}`)
	raw := func(ref string) []byte {
		return smileHex(t, smileTestHeader+"fa 34"+smileRepeatHex('k', 70)+"fc c2 80 62 c4"+ref+"c6 fb")
	}
	cases = append(cases,
		smileInteropCase{name: "raw/long-name-takes-a-slot", json: longJSON, smile: raw("41")},
		smileInteropCase{name: "raw/negative-control-long-name-not-counted", json: longJSON, smile: raw("40"),
			expectFail: `name "b" vs "` + longName[:10]})
	return cases
}
