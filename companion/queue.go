package companion

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/internal/promx"
	"github.com/druid-sidecar/druid-sidecar/segcache"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// The prefetch loop. One goroutine owns every entry; pulls run on their own goroutines and report back through a
// channel, so the bookkeeping needs no lock (the lock guards only what /status and the drift watch read).

type entryState int

const (
	statePulling entryState = iota // a pull runs
	statePlaced                    // placed in the cache, not claimed yet: counts against the window
	stateDone                      // nothing more to do while it stays queued (present, claimed, lost, skipped)
	stateFailed                    // the pull failed; tried again at retryAt
)

// entry is one queued segment the loop has dealt with.
type entry struct {
	id       string
	seg      *segments.DataSegment
	state    entryState
	cancel   context.CancelFunc // of the pull, while pulling
	left     bool               // the pull was canceled because the entry left the queue
	placedAt time.Time
	leftAt   time.Time // when a placed copy was first seen out of segmentsToLoad; zero while queued
	failures int
	retryAt  time.Time
}

// result is a finished pull.
type result struct {
	id  string
	pl  segcache.Placement
	err error
}

// loop is the prefetch loop's state, owned by its goroutine.
type loop struct {
	entries map[string]*entry
	segs    map[string]*segments.DataSegment // DataSegments of queued ids, fetched once
	queue   []string                         // the last segmentsToLoad read
	inQueue map[string]bool
	results chan result
	pulls   sync.WaitGroup
	coordOK bool
	read    bool   // the queue was read at least once: before that, every entry counts as queued
	lastErr string // the last Coordinator error logged, to log each new one once
	blocked string // why dispatching last stopped, logged once per change
	totals  totalCounts
	stats   segcache.PrefetchStats // the prefetcher's counts at the last reconcile, for the metrics' increments
	// unlistedSince is when the Coordinator's listing was first seen without the server (zero while it is listed);
	// warned says the warning about it was logged.
	unlistedSince time.Time
	warned        bool
}

// defaultAbsentGrace is how long the Coordinator may not list the Historical before the companion warns: a
// Historical announces itself only once it has loaded its cached segments, and the Coordinator lists it from its
// next run (druid.coordinator.period, a minute by default), so a few minutes of absence at startup are normal.
const defaultAbsentGrace = 5 * time.Minute

// totalCounts count since the start; /status shows them.
type totalCounts struct {
	Placed    int64 `json:"placed"`
	Claimed   int64 `json:"claimed"`
	Present   int64 `json:"alreadyPresent"`
	LostRace  int64 `json:"lostRace"`
	Unclaimed int64 `json:"discardedUnclaimed"`
	Vanished  int64 `json:"vanished"`
	Leaked    int64 `json:"leaked"`
	Raced     int64 `json:"raced"`
	Failed    int64 `json:"failed"`
	Canceled  int64 `json:"canceled"`
	Bytes     int64 `json:"bytes"`
}

func (c *Companion) prefetchLoop(ctx context.Context) {
	l := &loop{entries: map[string]*entry{}, segs: map[string]*segments.DataSegment{},
		inQueue: map[string]bool{}, results: make(chan result, c.threads())}
	// Copies an earlier run placed and the Historical has not claimed are in the prefetcher's ledger: they take the
	// window and are discarded as any other once out of the queue past the claim timeout.
	for _, pc := range c.pf.Unclaimed() {
		id := pc.Segment.ID().String()
		l.entries[id] = &entry{id: id, seg: pc.Segment, state: statePlaced, placedAt: pc.PlacedAt}
	}
	if n := len(l.entries); n > 0 {
		c.log.Info("unclaimed copies of an earlier run are in the cache", "segments", n)
	}
	tick := time.NewTicker(c.pollPeriod())
	defer tick.Stop()
	c.round(ctx, l, true)
	for {
		select {
		case <-ctx.Done():
			// Cancel every pull and wait for them: Place removes its staging copy when canceled.
			for _, e := range l.entries {
				if e.state == statePulling {
					e.cancel()
				}
			}
			l.pulls.Wait()
			return
		case r := <-l.results:
			c.finish(l, r)
			c.round(ctx, l, false)
		case <-tick.C:
			c.round(ctx, l, true)
		}
	}
}

// round reads the load queue (when poll is set), settles the entries against it, starts pulls, and publishes the
// state.
func (c *Companion) round(ctx context.Context, l *loop, poll bool) {
	if poll {
		c.pollQueue(ctx, l)
	}
	now := c.now()
	c.reconcile(l, now)
	if l.coordOK {
		c.dispatch(ctx, l, now)
	}
	c.publishLoop(l)
}

func (c *Companion) pollQueue(ctx context.Context, l *loop) {
	q, err := c.coord.Queue(ctx, c.server)
	toLoad := q.ToLoad
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.metrics.coordinatorUp.Set(0)
		l.coordOK = false
		// The last queue read stays: nothing is canceled or discarded because the Coordinator cannot be read.
		if msg := err.Error(); msg != l.lastErr {
			c.log.Warn("cannot read the Coordinator's load queue; prefetching waits", "error", err)
			l.lastErr = msg
		}
		c.publish(func(s *snapshot) { s.Coordinator.Up, s.Coordinator.Error = false, err.Error() })
		return
	}
	if l.lastErr != "" || !l.coordOK {
		c.log.Info("reading the Coordinator's load queue", "leader", c.coord.Leader(), "queued", len(toLoad))
	}
	l.lastErr, l.coordOK, l.read = "", true, true
	c.metrics.coordinatorUp.Set(1)
	c.metrics.queue.Set(float64(len(toLoad)))
	absent := c.checkListed(l, q)
	l.queue = toLoad
	clear(l.inQueue)
	for _, id := range toLoad {
		l.inQueue[id] = true
	}
	for id := range l.segs {
		if !l.inQueue[id] {
			delete(l.segs, id)
		}
	}
	now := c.now()
	c.publish(func(s *snapshot) {
		s.Coordinator.Up, s.Coordinator.Error, s.Coordinator.LastPoll = true, "", now.UTC().Format(time.RFC3339Nano)
		s.Coordinator.ServerListed, s.Coordinator.ServerAbsent = q.Listed, absent
		s.Coordinator.ListedServers, s.Coordinator.OtherServers = q.Servers, nil
		if !q.Listed {
			s.Coordinator.OtherServers = q.Others
		}
	})
}

// checkListed follows whether the Coordinator lists the Historical under the companion's server name. A server it
// does not list gets no loads, so nothing is prefetched: the usual cause is a companion given another druid.host
// than the Historical announces (a pod IP beside a host name), which would otherwise go unnoticed. It returns what
// /status says about the absence, "" while the server is listed.
func (c *Companion) checkListed(l *loop, q coordinator.ServerQueue) string {
	c.metrics.serverListed.Set(promx.Bool(q.Listed))
	if q.Listed {
		if !l.unlistedSince.IsZero() {
			c.log.Info("the Coordinator lists the Historical now", "server", c.server)
		}
		l.unlistedSince, l.warned = time.Time{}, false
		return ""
	}
	now := c.now()
	if l.unlistedSince.IsZero() {
		l.unlistedSince = now
		c.log.Info("the Coordinator does not list the Historical yet; nothing is prefetched until it does",
			"server", c.server, "listedServers", q.Servers, "others", q.Others)
	}
	absent := fmt.Sprintf("the Coordinator's load queue has no server %s (it lists %d servers) since %s: the "+
		"Historical is still starting, or it announces another name than the companion's druid.host:port (give both "+
		"containers the same druid_host)", c.server, q.Servers, l.unlistedSince.UTC().Format(time.RFC3339))
	if !l.warned && now.Sub(l.unlistedSince) >= c.absentGrace {
		l.warned = true
		c.log.Warn("the Coordinator does not list the Historical: nothing is prefetched; check that the companion "+
			"and the Historical have the same druid.host and port", "server", c.server,
			"absentFor", now.Sub(l.unlistedSince).Round(time.Second), "listedServers", q.Servers, "others", q.Others)
	}
	return absent
}

// reconcile settles every entry against the last queue read: pulls of entries that left it are canceled, placed
// copies the Historical claimed are counted, unclaimed ones out of the queue for longer than the claim timeout are
// discarded, and finished entries out of the queue are forgotten.
func (c *Companion) reconcile(l *loop, now time.Time) {
	claimTimeout := c.loadTimeout()
	defer c.countCopies(l)
	c.vanished(l)
	for id, e := range l.entries {
		// Until the queue is read, an adopted copy is not known to be out of it.
		queued := l.inQueue[id] || !l.read
		if !queued {
			c.pf.LeftQueue(id) // a copy the Historical rejected may be prefetched again once it is queued again
		}
		switch e.state {
		case statePulling:
			if !queued && !e.left {
				e.left = true
				e.cancel()
			}
		case statePlaced:
			if c.pf.Claimed(e.seg.ID()) {
				e.state = stateDone
				l.totals.Claimed++
				c.metrics.claimed.Inc()
				c.metrics.leadTime.Observe(now.Sub(e.placedAt).Seconds())
				c.log.Debug("the Historical claimed a prefetched segment", "segment", id, "leadTime", now.Sub(e.placedAt))
				if !queued {
					delete(l.entries, id)
				}
				continue
			}
			if queued {
				e.leftAt = time.Time{}
				continue
			}
			if e.leftAt.IsZero() {
				e.leftAt = now
			}
			if now.Sub(e.leftAt) < claimTimeout {
				continue
			}
			if err := c.pf.Discard(e.seg); err != nil {
				if errors.Is(err, segcache.ErrNotPlaced) || errors.Is(err, segcache.ErrClaimed) {
					// Replaced, or taken by a load in progress: the directory is the Historical's now.
					c.log.Debug("a prefetched copy is no longer ours to discard", "segment", id, "error", err)
					delete(l.entries, id)
					continue
				}
				c.log.Warn("cannot discard an unclaimed prefetched segment; trying again next round", "segment", id, "error", err)
				continue
			}
			l.totals.Unclaimed++
			c.metrics.discardedUnclaimed.Inc()
			c.log.Info("discarded a prefetched segment the Historical never claimed", "segment", id,
				"outOfQueueFor", now.Sub(e.leftAt).Round(time.Second))
			delete(l.entries, id)
		default:
			if !queued {
				delete(l.entries, id)
			}
		}
	}
}

// vanished finds placed copies that are neither claimed nor in the prefetcher's ledger any more: the Historical
// deleted or replaced the directory, which a Druid 35+ Historical does when its reservation of the copy fails
// (the disk budget is too tight). They leave the window.
func (c *Companion) vanished(l *loop) {
	var placed int
	for _, e := range l.entries {
		if e.state == statePlaced {
			placed++
		}
	}
	if placed == 0 {
		return
	}
	ledger := map[string]bool{}
	for _, pc := range c.pf.Unclaimed() {
		ledger[pc.Segment.ID().String()] = true
	}
	for id, e := range l.entries {
		if e.state != statePlaced || ledger[id] || c.pf.Claimed(e.seg.ID()) {
			continue
		}
		e.state = stateDone
		l.totals.Vanished++
		c.metrics.discardedVanished.Inc()
		// The prefetcher logged the rejection once, with its reason.
		c.log.Debug("a prefetched copy disappeared before the Historical claimed it; a Historical deletes a copy whose "+
			"reservation fails, so check that the locations' maxSize, druid.sidecar.prefetch.maxBytes and the free "+
			"space kept fit the disk", "segment", id)
	}
}

// countCopies adds the copies the prefetcher found leaked (and removed) or raced since the last round to the
// metrics and the totals: it tells them apart when it settles a claim.
func (c *Companion) countCopies(l *loop) {
	st := c.pf.Stats()
	c.metrics.discardedLeaked.Add(float64(st.Leaked - l.stats.Leaked))
	c.metrics.raced.Add(float64(st.Raced - l.stats.Raced))
	l.totals.Leaked, l.totals.Raced = st.Leaked, st.Raced
	l.stats = st
}

// window is what the prefetch window holds: pulls in flight and placed copies not yet claimed.
func (l *loop) window() (segs int, bytes int64, pulling int) {
	for _, e := range l.entries {
		switch e.state {
		case statePulling:
			pulling++
			fallthrough
		case statePlaced:
			segs++
			bytes += e.seg.Size
		}
	}
	return segs, bytes, pulling
}

// dispatch starts pulls in queue order while threads and the window allow. It stops at the first segment that does
// not fit, so that segments are fetched in the order the Historical will load them; entries done, waiting for a
// retry or already in flight are passed over.
func (c *Companion) dispatch(ctx context.Context, l *loop, now time.Time) {
	// With an automatic window MaxBytes is unbounded here: the prefetcher's Budget sizes each location's window.
	maxSegs, maxBytes := c.cfg.Sidecar.PrefetchMaxSegments, c.pf.MaxBytes()
	segs, bytes, pulling := l.window()
	blocked := ""
	// Each reason to wait is logged when it begins, not at every round.
	defer func() {
		if blocked != l.blocked && blocked != "" {
			c.log.Debug("prefetching waits", "why", blocked)
		}
		l.blocked = blocked
	}()
	for _, id := range l.queue {
		if ctx.Err() != nil {
			return
		}
		if pulling >= c.threads() {
			blocked = "every prefetch thread is busy"
			return
		}
		e := l.entries[id]
		if e != nil && (e.state != stateFailed || now.Before(e.retryAt)) {
			continue
		}
		if segs >= maxSegs {
			blocked = "the window holds druid.sidecar.prefetch.maxSegments segments"
			return
		}
		seg := l.segs[id]
		if seg == nil {
			var err error
			seg, err = c.source.SegmentByID(ctx, id)
			if errors.Is(err, coordinator.ErrSegmentNotFound) {
				c.log.Debug("a queued segment is not among the used segments; not prefetched", "segment", id, "error", err)
				l.entries[id] = &entry{id: id, state: stateDone}
				continue
			}
			if err != nil {
				blocked = "the segment metadata cannot be read"
				if ctx.Err() == nil && l.blocked != blocked {
					c.log.Warn("cannot read a queued segment's metadata; prefetching waits", "segment", id, "error", err)
				}
				return
			}
			l.segs[id] = seg
		}
		if seg.IsTombstone() || seg.Size <= 0 {
			// A tombstone has no files in deep storage: the Historical loads it without a download.
			l.entries[id] = &entry{id: id, seg: seg, state: stateDone}
			continue
		}
		if seg.Size > maxBytes {
			c.log.Warn("a queued segment is larger than the whole prefetch window; the Historical downloads it itself",
				"segment", id, "size", seg.Size, "maxBytes", maxBytes)
			l.entries[id] = &entry{id: id, seg: seg, state: stateDone}
			continue
		}
		if bytes+seg.Size > maxBytes {
			blocked = "the window holds druid.sidecar.prefetch.maxBytes"
			return
		}
		if err := c.pf.Budget(seg); err != nil {
			blocked = "no cache location has room"
			if l.blocked != blocked {
				c.log.Warn("no cache location has room for a prefetched copy; prefetching waits", "segment", id, "error", err)
			}
			return
		}
		if e == nil {
			e = &entry{id: id}
			l.entries[id] = e
		}
		e.seg, e.state, e.left = seg, statePulling, false
		pctx, cancel := context.WithCancel(ctx)
		e.cancel = cancel
		segs, bytes, pulling = segs+1, bytes+seg.Size, pulling+1
		l.pulls.Add(1)
		go func() {
			defer l.pulls.Done()
			pl, err := c.pf.Place(pctx, seg, c.puller)
			l.results <- result{id: id, pl: pl, err: err}
		}()
	}
}

// finish records a finished pull.
func (c *Companion) finish(l *loop, r result) {
	e := l.entries[r.id]
	if e == nil {
		return
	}
	e.cancel()
	now := c.now()
	if r.err != nil {
		if e.left {
			l.totals.Canceled++
			c.metrics.canceled.Inc()
			c.log.Debug("canceled the prefetch of a segment that left the load queue", "segment", r.id)
			delete(l.entries, r.id)
			return
		}
		switch {
		case errors.Is(r.err, segcache.ErrNoRoom):
			// The window or the disk filled up between Budget and Place: the segment waits a poll period for room,
			// which keeps a disk that fills and empties from spinning the loop.
			c.log.Debug("no room for a prefetched copy; it waits", "segment", r.id, "error", r.err)
			e.state, e.retryAt = stateFailed, now.Add(c.pollPeriod())
			return
		case errors.Is(r.err, segcache.ErrRecentDrop):
			// The nested layout's drop guard: the parent calms down within a minute.
			c.log.Debug("a drop happened beside the segment's directory; trying again shortly", "segment", r.id)
			e.state, e.retryAt = stateFailed, now.Add(max(c.pollPeriod(), 5*time.Second))
			return
		}
		e.failures++
		e.state = stateFailed
		e.retryAt = now.Add(min(c.pollPeriod()<<min(e.failures, 10), 5*time.Minute))
		l.totals.Failed++
		c.metrics.failures.Inc()
		c.log.Warn("prefetching a segment failed; the Historical will download it itself unless a retry is in time",
			"segment", r.id, "error", r.err, "failures", e.failures, "retryAt", e.retryAt.UTC().Format(time.RFC3339))
		return
	}
	switch r.pl.Outcome {
	case segcache.Placed:
		e.state, e.placedAt = statePlaced, now
		if !l.inQueue[r.id] {
			e.leftAt = now
		}
		l.totals.Placed++
		l.totals.Bytes += r.pl.Bytes
		c.metrics.placed.Inc()
		c.metrics.bytes.Add(float64(r.pl.Bytes))
		c.log.Debug("prefetched a segment", "segment", r.id, "dir", r.pl.Dir, "bytes", r.pl.Bytes)
	case segcache.AlreadyPresent:
		e.state = stateDone
		l.totals.Present++
		c.metrics.present.Inc()
	case segcache.LostRace:
		e.state = stateDone
		l.totals.LostRace++
		c.metrics.discardedLostRace.Inc()
		c.log.Debug("the Historical placed the segment first; the prefetched copy was discarded", "segment", r.id)
	default:
		e.state = stateDone
	}
}

// publishLoop copies the loop's state to what /status and the drift watch read.
func (c *Companion) publishLoop(l *loop) {
	var p prefetchStatus
	p.Queue = len(l.queue)
	placed := map[string]bool{}
	for id, e := range l.entries {
		switch e.state {
		case statePulling:
			p.Pulling++
		case statePlaced:
			p.Placed++
			placed[id] = true
		case stateFailed:
			p.Failed++
		case stateDone:
			p.Done++
		}
	}
	p.WindowSegments, p.WindowBytes, _ = l.window()
	p.Totals = l.totals
	c.metrics.windowSegments.Set(float64(p.WindowSegments))
	c.metrics.windowBytes.Set(float64(p.WindowBytes))
	c.metrics.pulling.Set(float64(p.Pulling))
	c.mu.Lock()
	c.placed = placed
	c.mu.Unlock()
	leader := c.coord.Leader()
	c.publish(func(s *snapshot) {
		base := s.Prefetch
		p.Enabled, p.Off, p.MaxBytes, p.MaxSegments, p.Threads = base.Enabled, base.Off, base.MaxBytes, base.MaxSegments, base.Threads
		s.Prefetch = p
		if leader != "" {
			s.Coordinator.URL = leader
		}
	})
}

// placedUnclaimed says whether id is a copy the companion placed and the Historical has not claimed yet: the drift
// watch expects it on disk without an info_dir entry.
func (c *Companion) placedUnclaimed(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.placed[id]
}
