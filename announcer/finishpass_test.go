package announcer

import (
	"context"
	"testing"
	"time"
)

// TestPassReleasesItsCallersDespiteLaterChanges: a pass that succeeded releases the callers whose changes it (or an
// earlier pass) carried, although changes made meanwhile leave paths dirty; those callers wait for the next pass.
func TestPassReleasesItsCallersDespiteLaterChanges(t *testing.T) {
	a := &Announcer{dirty: map[string]struct{}{}, doneCh: make(chan struct{}), epoch: 1}
	a.gen = 3 // the pass took the dirty paths at generation 3
	a.dirty["/druid/segments/h/later"] = struct{}{}
	a.gen = 4 // and a load changed a znode while the pass ran
	a.finishPass(3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.wait(ctx, 3); err != nil {
		t.Fatalf("the pass's caller: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if err := a.wait(short, 4); err == nil {
		t.Fatal("the caller of a change made during the pass returned before a pass carried it")
	}
	a.finishPass(4, 0) // a pass of a former session
	if a.doneGen != 3 {
		t.Fatalf("doneGen %d after a pass of a former session; want 3", a.doneGen)
	}
}
