package agent

import (
	"context"

	"github.com/druid-sidecar/druid-sidecar/loadqueue"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// loadBootstrapSegments asks the leader Coordinator for its bootstrap (broadcast) segments and loads them on the
// bootstrap threads (the TURBO pool, numBootstrapThreads) before bootstrap completes, as Druid's
// SegmentCacheBootstrapper loads them beside the cached ones; each is cached and announced as any load is, and a
// cached one is announced already, so its load changes nothing. Druid logs a failed fetch as a warning and starts
// without them, and so does this: the Coordinator assigns them through the load queue anyway. A segment that fails
// to load is logged, and the others load, as Druid's alert of failed segments at startup leaves them out.
func (a *Agent) loadBootstrapSegments(ctx context.Context, q *loadqueue.Engine) {
	log := a.log.Named("bootstrap")
	c, err := a.coordinatorClient()
	if err != nil {
		log.Warn("bootstrap segments not fetched: the Coordinator cannot be found", "error", err)
		return
	}
	segs, err := c.BootstrapSegments(ctx)
	if err != nil {
		log.Warn("error fetching bootstrap segments from the Coordinator: starting without them", "error", err)
		return
	}
	log.Info("fetched bootstrap segments", "segments", len(segs))
	type load struct {
		id string
		ch <-chan segments.ChangeStatus
	}
	pending := make([]load, 0, len(segs))
	for _, s := range segs {
		ch, err := q.Submit(segments.ChangeRequest{Action: segments.ActionLoad, Segment: s}, segments.TurboLoading)
		if err != nil {
			log.Warn("bootstrap segment not loaded", "segment", s.ID().String(), "error", err)
			continue
		}
		pending = append(pending, load{s.ID().String(), ch})
	}
	failed := 0
	for _, l := range pending {
		select {
		case st := <-l.ch:
			if st.State != segments.ChangeSuccess {
				failed++
				log.Warn("bootstrap segment failed to load", "segment", l.id, "cause", st.FailureCause)
			}
		case <-ctx.Done():
			return
		}
	}
	log.Info("bootstrap segments loaded", "segments", len(pending)-failed, "failed", failed)
}
