package segcache

import (
	"errors"
	"sync"
	"testing"
)

// TestGroupSyncLoneCallerSyncsAtOnce: a caller alone starts its own fsync, without waiting for company.
func TestGroupSyncLoneCallerSyncsAtOnce(t *testing.T) {
	calls := 0
	g := groupSync{f: func() error { calls++; return nil }}
	for i := 1; i <= 3; i++ {
		if err := g.sync(); err != nil {
			t.Fatal(err)
		}
		if calls != i {
			t.Fatalf("after %d calls one after another, %d fsyncs; want one each", i, calls)
		}
	}
}

// TestGroupSyncSharesAndCovers: callers arriving while an fsync runs share the next one, and none returns before an
// fsync that began after its call has ended.
func TestGroupSyncSharesAndCovers(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	began, ended := 0, 0
	g := groupSync{f: func() error {
		mu.Lock()
		began++
		first := began == 1
		mu.Unlock()
		if first {
			<-release // the first fsync is held until every other caller has arrived
		}
		mu.Lock()
		ended++
		mu.Unlock()
		return nil
	}}
	firstDone := make(chan error, 1)
	go func() { firstDone <- g.sync() }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return began == 1 })

	const others = 7
	type result struct {
		err   error
		ended int // fsyncs ended when the call returned
	}
	results := make(chan result, others)
	for range others {
		go func() {
			err := g.sync()
			mu.Lock()
			defer mu.Unlock()
			results <- result{err, ended}
		}()
	}
	// Every other caller is waiting on the held fsync before it is let go.
	waitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiting == others
	})
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	for range others {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.ended < 2 {
			t.Fatalf("a caller that arrived during the first fsync returned after %d fsyncs; it needs the second", r.ended)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if began != 2 {
		t.Fatalf("%d fsyncs for 8 callers, 7 of them arriving during the first; want 2", began)
	}
}

// TestGroupSyncError: the callers an fsync covered get its error; a later caller gets a fresh fsync.
func TestGroupSyncError(t *testing.T) {
	fail := errors.New("EIO")
	next := fail
	g := groupSync{f: func() error { return next }}
	if err := g.sync(); !errors.Is(err, fail) {
		t.Fatalf("got %v, want the fsync's error", err)
	}
	next = nil
	if err := g.sync(); err != nil {
		t.Fatalf("a caller after the failed fsync got %v; its own fsync succeeded", err)
	}
}
