package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Stops is a process's ordered stop list. Each stage of the startup pushes its stop function when it starts, so the
// list holds exactly what started, and Stop runs them in the reverse order: what Druid's lifecycle needs, where the
// last stage to start (the announcement that makes the node discoverable) is the first withdrawn and what
// everything else stands on (the segment cache) is closed last. Unlike a run group, whose members are stopped all
// at once, each stop here ends before the next begins.
type Stops struct {
	mu     sync.Mutex
	stages []stage
	log    hclog.Logger
}

type stage struct {
	name string
	stop func(ctx context.Context) error
}

// NewStops returns an empty stop list that logs each stage at debug level; a nil log discards.
func NewStops(log hclog.Logger) *Stops {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Stops{log: log}
}

// Push adds the stop of a stage that has just started; name says what it stops, for the log.
func (s *Stops) Push(name string, stop func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stages = append(s.stages, stage{name: name, stop: stop})
}

// Stop runs every stop pushed, the last pushed first, each to its end, and empties the list. ctx bounds the whole
// shutdown: each stop is given it, and a stop that runs out of time says so in its error; the following stops still
// run, since whatever a late stage left, the earlier ones still hold resources. It returns every stop's error.
func (s *Stops) Stop(ctx context.Context) error {
	s.mu.Lock()
	stages := s.stages
	s.stages = nil
	s.mu.Unlock()
	var errs []error
	for i := len(stages) - 1; i >= 0; i-- {
		st := stages[i]
		s.log.Debug("stopping", "stage", st.name)
		if err := st.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Wrap says what failed, for a stop's error; it is nil when err is.
func Wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
