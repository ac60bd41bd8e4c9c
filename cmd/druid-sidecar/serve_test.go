package main

import (
	"bytes"
	"context"
	"net"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var stdout, stderr lockedBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: []string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env, []string{"serve", "--set", "druid.host=127.0.0.1", "--set", "druid.bindOnHost=true",
			"--set", "druid.plaintextPort=" + strconv.Itoa(port), "--set", "druid.zk.service.enabled=false",
			"--set", `druid.segmentCache.locations=[{"path":"` + t.TempDir() + `"}]`})
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/druid/historical/v1/readiness"
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
			t.Fatalf("serve exited with %d before it was ready; stderr:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve was not ready within 10 s; stderr:\n%s", stderr.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after cancel, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15 s of the cancel")
	}
	if !strings.Contains(stderr.String(), "shutdown complete") {
		t.Errorf("no shutdown log; stderr:\n%s", stderr.String())
	}
}
