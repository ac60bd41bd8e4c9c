package announcer

import (
	"context"
)

// StopLegacyZNodes stops writing, and deletes, the znodes a cluster whose Coordinator is Druid 38 or later no longer
// reads: with segs the segment batches (and served-segment znodes), with server the legacy server announcement. It
// returns once ZooKeeper no longer holds them. The HTTP inventory and the node's discovery znode are untouched, and
// nothing turns these znodes back on but a new Announcer: writing every served segment again is what a start does.
func (a *Announcer) StopLegacyZNodes(ctx context.Context, segs, server bool) error {
	if a.zk == nil {
		return a.checkStopped()
	}
	return a.change(ctx, func() {
		if server && a.serverAnn {
			a.serverAnn = false
			a.setDesired(a.serverPath, nil)
		}
		if !segs || !a.segsOnZK || a.segsStopped {
			return
		}
		a.segsStopped = true
		emptied := map[*batch]bool{}
		for id, p := range a.segs {
			if b := a.pack.remove(p); b != nil {
				emptied[b] = true
			}
			if a.served {
				a.setDesired(a.servedDir+"/"+id.String(), nil)
			}
		}
		a.served = false
		for b := range emptied {
			a.setDesired(a.batchDir+"/"+b.name, nil)
		}
	})
}

// LegacyZNodes reports which of the znodes StopLegacyZNodes stops are written now.
func (a *Announcer) LegacyZNodes() (segs, server bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.segsOnZK && !a.segsStopped, a.serverAnn
}
