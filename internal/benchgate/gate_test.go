package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// passing is `go test -bench` output as the gate's runs print it, every target met: the header lines, a child's
// log written between a benchmark's name and its figures, a benchmark's own log after them (--- BENCH), and a
// failed go test of another package that has nothing to do with the targets.
const passing = `
== go test -run ^$ -bench ^BenchmarkServeLoad200$ -benchtime 1x -count 3 -timeout 1h0m0s ./cmd/druid-sidecar (load average 0.50 0.80 1.10)
goos: linux
goarch: amd64
pkg: github.com/druid-sidecar/druid-sidecar/cmd/druid-sidecar
cpu: Intel(R) Xeon(R) Processor
BenchmarkServeLoad200-2   	2026-12-06T12:00:00.000Z [INFO]  serve: listening: addr=127.0.0.1:41000
2026-12-06T12:00:01.000Z [INFO]  serve: ready
       1	5012345678 ns/op	         0.4100 raw-get-s	         0.5100 raw-pull-s	         0.6000 raw-pull-fsync-s	         0.6100 serve-s	         1.196 x-raw-pull	       343.2 zip-MB/s
BenchmarkServeLoad200-2   	       1	5112345678 ns/op	         0.4200 raw-get-s	         0.5000 raw-pull-s	         0.6100 raw-pull-fsync-s	         0.6000 serve-s	         1.200 x-raw-pull	       349.0 zip-MB/s
BenchmarkServeLoad200-2   	       1	5212345678 ns/op	         0.4000 raw-get-s	         0.5200 raw-pull-s	         0.6000 raw-pull-fsync-s	         0.6400 serve-s	         1.231 x-raw-pull	       327.3 zip-MB/s
PASS
ok  	github.com/druid-sidecar/druid-sidecar/cmd/druid-sidecar	31.2s

== go test -run ^$ -bench ^BenchmarkAnnounceBootstrap$ -benchtime 1x -count 3 -timeout 1h0m0s ./announcer (load average 0.90 0.80 1.10)
pkg: github.com/druid-sidecar/druid-sidecar/announcer
BenchmarkAnnounceBootstrap-2   	       1	1918760756 ns/op	         2.568 MB-sent	         0.4030 announce-s	      1351 heap-B/seg	         0.3389 raw-s	         1.189 x-raw	      2000 znodes
BenchmarkAnnounceBootstrap-2   	       1	1818760756 ns/op	         2.568 MB-sent	         0.3900 announce-s	      1351 heap-B/seg	         0.3500 raw-s	         1.114 x-raw	      2000 znodes
BenchmarkAnnounceBootstrap-2   	       1	1718760756 ns/op	         2.568 MB-sent	         0.3600 announce-s	      1351 heap-B/seg	         0.3400 raw-s	         1.059 x-raw	      2000 znodes
--- BENCH: BenchmarkAnnounceBootstrap-2
    bench_test.go:70: 100000 segments in 2000 znodes
PASS
ok  	github.com/druid-sidecar/druid-sidecar/announcer	9.1s
BenchmarkAuditMillion-2   	       1	61234567890 ns/op	       470.0 audit-peak-RSS-MiB	         6.100 audit-s	         3.200 copy-s	         1.906 x-copy
--- BENCH: BenchmarkAuditMillion-2
    audit_bench_test.go:180: median of 3 rounds: audit 6.10 s, COPY 3.20 s, 1.91x (target within 2x)
BenchmarkServeRestart100k-2   	       1	9234567890 ns/op	         2.400 ready-s	         2.100 walk-s	         1.143 x-walk	         1.100 x-walk-infodir
BenchmarkCachePull-2   	       1	3001234567 ns/op	  44.73 MB/s	         0.6000 cache-pull-s	         0.6300 raw-get-s	         1.050 x-get-unzip
BenchmarkCachePull-2   	       1	3001234567 ns/op	  44.73 MB/s	         0.6100 cache-pull-s	         0.6000 raw-get-s	         0.9836 x-get-unzip
BenchmarkCachePull-2   	       1	3001234567 ns/op	  44.73 MB/s	         0.6500 cache-pull-s	         0.6000 raw-get-s	         0.9231 x-get-unzip
PASS
--- FAIL: TestSomethingElse (0.01s)
FAIL	github.com/druid-sidecar/druid-sidecar/other	0.1s
`

func judgeString(t *testing.T, output string, count int) ([]Row, int) {
	t.Helper()
	res, err := Parse(strings.NewReader(output))
	if err != nil {
		t.Fatal(err)
	}
	rows := Evaluate(targets, res, count)
	return rows, ExitCode(rows)
}

// verdicts is each row's "benchmark metric: verdict".
func verdicts(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Bench+" "+r.Metric+": "+r.Verdict)
	}
	return out
}

func TestEveryTargetMet(t *testing.T) {
	rows, code := judgeString(t, passing, 3)
	if code != 0 {
		t.Errorf("exit %d, want 0: %q", code, verdicts(rows))
	}
	want := map[string]float64{"x-raw-pull": 1.2, "x-raw": 1.114, "x-copy": 1.906, "audit-peak-RSS-MiB": 470.0,
		"x-walk-infodir": 1.1, "x-get-unzip": 0.9836}
	for _, r := range rows {
		runs := 3
		if r.RoundsEnv != "" {
			runs = 1 // its own median of 3 rounds
		}
		if r.Verdict != Pass || r.Median != want[r.Metric] || len(r.Values) != runs {
			t.Errorf("%s %s: %s, median %v of %v, want pass with median %v of %d", r.Bench, r.Metric, r.Verdict,
				r.Median, r.Values, want[r.Metric], runs)
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != len(targets)+1 || strings.Join(strings.Fields(lines[0]), " ") != "BENCHMARK METRIC RUNS MEDIAN TARGET VERDICT" {
		t.Fatalf("table:\n%s", table.String())
	}
	for i, want := range []string{
		"BenchmarkServeLoad200 x-raw-pull 1.196 1.200 1.231 1.200 <= 1.250 pass",
		"BenchmarkAnnounceBootstrap x-raw 1.189 1.114 1.059 1.114 <= 1.200 pass",
		"BenchmarkAuditMillion x-copy 1.906 (one run, the median of 3 rounds) 1.906 <= 2.000 pass",
		"BenchmarkAuditMillion audit-peak-RSS-MiB 470 (one run, the median of 3 rounds) 470 < 512 pass",
		"BenchmarkServeRestart100k x-walk-infodir 1.100 (one run, the median of 3 rounds) 1.100 <= 1.200 pass",
		"BenchmarkCachePull x-get-unzip 1.050 0.984 0.923 0.984 >= 0.900 pass",
	} {
		if got := strings.Join(strings.Fields(lines[i+1]), " "); got != want {
			t.Errorf("row %d: %q, want %q", i+1, got, want)
		}
	}
}

func TestVerdictsTellMissedFromUnmeasured(t *testing.T) {
	for _, c := range []struct {
		name     string
		old, new string // the change to passing, made once
		all      bool   // made everywhere
		want     []string
		code     int
	}{
		{"a ratio above its target", "1.200 x-raw-pull", "1.400 x-raw-pull", false,
			[]string{"BenchmarkServeLoad200 x-raw-pull: " + Missed}, 1}, // 1.196 1.400 1.251: 1.251 is the median
		{"a throughput ratio below its target", "0.9836 x-get-unzip", "0.8500 x-get-unzip", false,
			[]string{"BenchmarkCachePull x-get-unzip: " + Missed}, 1}, // 1.050 0.850 0.852
		{"a strict limit reached", "470.0 audit-peak-RSS-MiB", "512.0 audit-peak-RSS-MiB", false,
			[]string{"BenchmarkAuditMillion audit-peak-RSS-MiB: " + Missed}, 1},
		{"a metric the benchmark does not report yet", "x-walk-infodir", "x-walk-other", true,
			[]string{"BenchmarkServeRestart100k x-walk-infodir: " + NoMetric}, 2},
		{"a metric one run did not report", "0.9836 x-get-unzip", "", false,
			[]string{"BenchmarkCachePull x-get-unzip: " + NoMetric}, 2},
		{"a second run that failed", "BenchmarkServeLoad200-2   	       1	5112345678 ns/op",
			"BenchmarkServeLoad200-2   	--- FAIL: BenchmarkServeLoad200-2\n    serve_bench_test.go:99: exit 1\nX", false,
			[]string{"BenchmarkServeLoad200 x-raw-pull: " + Broken}, 2},
		{"a benchmark of its own rounds that failed",
			"BenchmarkAuditMillion-2   	       1	61234567890 ns/op	       470.0",
			"BenchmarkAuditMillion-2   	--- FAIL: BenchmarkAuditMillion-2\n    audit_bench_test.go:99: audit: exit 1\nX", false,
			[]string{"BenchmarkAuditMillion x-copy: " + Broken,
				"BenchmarkAuditMillion audit-peak-RSS-MiB: " + Broken}, 2},
		{"a benchmark that failed before its first run", "BenchmarkAnnounceBootstrap-2   	       1",
			"--- FAIL: BenchmarkAnnounceBootstrap\n    bench_test.go:30: zookeeper: connection refused\n" +
				"BenchmarkAnnounceBootstrap-2   	       1", false,
			[]string{"BenchmarkAnnounceBootstrap x-raw: " + Broken}, 2},
		{"a go test that died", "PASS\nok  	github.com/druid-sidecar/druid-sidecar/announcer",
			"panic: test timed out after 1h0m0s\n--- FAIL: BenchmarkAnnounceBootstrap (go test: exit status 2)\nok", false,
			[]string{"BenchmarkAnnounceBootstrap x-raw: " + Broken}, 2},
		{"a benchmark that does not exist", "BenchmarkCachePull-2", "BenchmarkCachePulls-2", true,
			[]string{"BenchmarkCachePull x-get-unzip: " + NoResult}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(passing, c.old) {
				t.Fatalf("the canned output has no %q", c.old)
			}
			n := 1
			if c.all {
				n = -1
			}
			out := strings.Replace(passing, c.old, c.new, n)
			// The last run of the missed targets is just out of reach, so that the median decides.
			out = strings.NewReplacer("1.231 x-raw-pull", "1.251 x-raw-pull", "0.9231 x-get-unzip", "0.852 x-get-unzip").Replace(out)
			rows, code := judgeString(t, out, 3)
			var notPass []string
			for _, v := range verdicts(rows) {
				if !strings.HasSuffix(v, ": "+Pass) {
					notPass = append(notPass, v)
				}
			}
			if code != c.code || !slices.Equal(notPass, c.want) {
				t.Errorf("exit %d and %q, want exit %d and %q", code, notPass, c.code, c.want)
			}
		})
	}
}

func TestFewerRunsThanAskedFail(t *testing.T) {
	// Two runs where three were asked: a run went missing, so the benchmark failed even though both reported.
	first := "BenchmarkCachePull-2   	       1	3001234567 ns/op	  44.73 MB/s	         0.6000 cache-pull-s	" +
		"         0.6300 raw-get-s	         1.050 x-get-unzip\n"
	out := strings.Replace(passing, first, "", 1)
	rows, code := judgeString(t, out, 3)
	if code != 2 || rows[len(rows)-1].Verdict != Broken {
		t.Errorf("exit %d, %q", code, verdicts(rows))
	}
	// The same output judged as two runs asked for: the median of two is their mean.
	rows, code = judgeString(t, out, 2)
	if last := rows[len(rows)-1]; code != 0 || last.Verdict != Pass || last.Median != (0.9836+0.9231)/2 {
		t.Errorf("exit %d, %+v", code, last)
	}
}

func TestSubBenchmarksAndProcs(t *testing.T) {
	// GOMAXPROCS 1 prints no suffix; a sub-benchmark's runs count as its parent's.
	res, err := Parse(strings.NewReader("BenchmarkCachePull 	       1	3 ns/op	 1.5 x-get-unzip\n" +
		"BenchmarkCachePull/s3-8         	       1	3 ns/op	 0.5 x-get-unzip\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := res["BenchmarkCachePull"]
	if r == nil || len(r.Runs) != 2 || r.Runs[0]["x-get-unzip"] != 1.5 || r.Runs[1]["x-get-unzip"] != 0.5 ||
		r.Runs[0]["ns/op"] != 3 {
		t.Errorf("parsed %+v", res)
	}
}
