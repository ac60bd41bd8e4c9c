// Command benchgate is `make bench`: it runs the benchmarks that hold the project's performance targets, each
// several times (three by default), takes the median of each ratio against its same-run baseline, prints a table
// with the machine's load, and exits non-zero when a target is missed (1) or a benchmark could not tell (2: it
// failed, gave no result, or did not report the metric).
//
//	benchgate [-count 3] [-go go] [-log FILE] [-timeout 1h]
//	benchgate -from FILE   judges saved `go test -bench` output instead of running the benchmarks
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	count := flag.Int("count", 3, "runs of each benchmark")
	goTool := flag.String("go", "go", "the go command")
	from := flag.String("from", "", "judge this saved go test -bench output instead of running the benchmarks")
	logFile := flag.String("log", "", "also write the benchmarks' whole output to this file")
	timeout := flag.Duration("timeout", 60*time.Minute, "go test -timeout of each benchmark")
	flag.Parse()
	if *from != "" {
		data, err := os.ReadFile(*from)
		if err != nil {
			fatal(err)
		}
		os.Exit(judge(os.Stdout, data, *count))
	}
	os.Exit(run(*goTool, *count, *timeout, *logFile))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchgate:", err)
	os.Exit(2)
}

// judge parses output, prints the table and returns the exit status.
func judge(w io.Writer, output []byte, count int) int {
	res, err := Parse(bytes.NewReader(output))
	if err != nil {
		fatal(err)
	}
	rows := Evaluate(targets, res, count)
	WriteTable(w, rows)
	code := ExitCode(rows)
	fmt.Fprintln(w, []string{"every target met", "FAIL: a target missed",
		"FAIL: a benchmark failed or did not report its ratio"}[code])
	return code
}

// sizeEnv matches the variables that change the benchmarks' sizes: the gate measures the targets' own sizes, so
// they are left out of the benchmarks' environment.
var sizeEnv = regexp.MustCompile(`^DRUID_SIDECAR_BENCH_[A-Z0-9_]*=`)

// run runs each benchmark of the targets in a go test process of its own, so that one that panics or times out
// takes no other's results with it, echoing the output as it comes.
func run(goTool string, count int, timeout time.Duration, logFile string) int {
	var env []string
	for _, kv := range os.Environ() {
		if sizeEnv.MatchString(kv) {
			fmt.Printf("benchgate: %s is ignored: the targets hold at their own sizes\n", kv)
			continue
		}
		env = append(env, kv)
	}
	var all bytes.Buffer
	var out io.Writer = io.MultiWriter(os.Stdout, &all)
	if logFile != "" {
		if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
			fatal(err)
		}
		f, err := os.Create(logFile)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		out = io.MultiWriter(out, f)
	}
	loadStart, start := loadAverage(), time.Now()
	var took []string
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t.Bench] {
			continue
		}
		seen[t.Bench] = true
		runs, benchEnv := count, env
		if t.RoundsEnv != "" {
			runs, benchEnv = 1, append(slices.Clone(env), fmt.Sprintf("%s=%d", t.RoundsEnv, count))
		}
		args := []string{"test", "-run", "^$", "-bench", "^" + t.Bench + "$", "-benchtime", "1x",
			"-count", fmt.Sprint(runs), "-timeout", timeout.String(), t.Pkg}
		fmt.Fprintf(out, "\n== %s %s (load average %s)\n", goTool, strings.Join(args, " "), loadAverage())
		cmd := exec.Command(goTool, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = benchEnv, out, out
		began := time.Now()
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			fatal(err)
		}
		if err != nil {
			// A go test that failed without a benchmark's FAIL line (a build error, a panic, a timeout) still
			// fails the benchmark, never reads as a missing metric.
			fmt.Fprintf(&all, "--- FAIL: %s (go test: %v)\n", t.Bench, err)
		}
		took = append(took, fmt.Sprintf("%s %s", t.Bench, time.Since(began).Round(time.Second)))
	}
	fmt.Printf("\nmake bench: %d CPUs, load average %s at the start, %s at the end; %s in all (%s)\n",
		runtime.NumCPU(), loadStart, loadAverage(), time.Since(start).Round(time.Second), strings.Join(took, ", "))
	return judge(os.Stdout, all.Bytes(), count)
}

// loadAverage is the 1, 5 and 15 minute load averages, as uptime shows them.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
