package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestStopsRunInReverseOrderToTheEnd(t *testing.T) {
	s := NewStops(nil)
	var ran []string
	push := func(name string, err error) {
		s.Push(name, func(context.Context) error { ran = append(ran, name); return err })
	}
	bad := errors.New("unannouncing failed")
	push("segment cache", nil)
	push("HTTP server", nil)
	push("node announcement", bad)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.Stop(ctx)
	if want := []string{"node announcement", "HTTP server", "segment cache"}; !slices.Equal(ran, want) {
		t.Errorf("stops ran as %v, want %v (the last started first, every one after a failure)", ran, want)
	}
	if !errors.Is(err, bad) {
		t.Errorf("Stop returned %v, want the failed stop's error", err)
	}
	ran = nil
	if err := s.Stop(ctx); err != nil || len(ran) != 0 {
		t.Errorf("a second Stop ran %v and returned %v; the list was emptied by the first", ran, err)
	}
}
