package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that a running command and the test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeWithoutHostIsBadInput(t *testing.T) {
	code, _, stderr := runCLIStdin(t, "", "serve", "--set", `druid.segmentCache.locations=[{"path":"`+t.TempDir()+`"}]`)
	if code != exitBadInput || !strings.Contains(stderr, "druid.host") {
		t.Fatalf("exit %d, want %d naming druid.host; stderr:\n%s", code, exitBadInput, stderr)
	}
}

func TestServeRunsUntilCanceled(t *testing.T) {
	port := closedPort(t)
	stderr := runUntilAnswering(t, "serve", []string{"serve", "--set", "druid.host=127.0.0.1", "--set", "druid.bindOnHost=true",
		"--set", "druid.plaintextPort=" + strconv.Itoa(port), "--set", "druid.zk.service.enabled=false",
		"--set", `druid.segmentCache.locations=[{"path":"` + t.TempDir() + `"}]`},
		"http://127.0.0.1:"+strconv.Itoa(port)+"/druid/historical/v1/readiness")
	if !strings.Contains(stderr, "shutdown complete") {
		t.Errorf("no shutdown log; stderr:\n%s", stderr)
	}
}

// runUntilAnswering runs the command args until url answers 200, then cancels it as a SIGTERM would, checks that it
// exits 0 within 15 s, and returns what it wrote to stderr.
func runUntilAnswering(t *testing.T, name string, args []string, url string) string {
	t.Helper()
	var stdout, stderr lockedBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: []string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, args) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("%s exited with %d before it answered %s; stderr:\n%s", name, code, url, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s within 10 s; stderr:\n%s", name, url, stderr.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after cancel, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not exit within 15 s of the cancel", name)
	}
	return stderr.String()
}
