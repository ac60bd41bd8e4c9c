package deepstorage

import (
	"context"
	"os"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// PullSegment pulls seg's files into dir by its loadSpec, within maxBytes, and returns the bytes written: the
// segment cache's puller (segcache.Puller), so that the cache and its callers need no adapter. A tombstone's pull
// writes nothing and touches no deep storage. Errors are ParseLoadSpec's and Pull's, errors.Is-able.
//
// Unlike Pull, it starts writing each file to disk while the pull goes on (every few MiB and once the file is
// complete), without waiting: its callers (a load, a prefetch) fsync the files next, and that fsync then finds most
// of their bytes written, instead of starting to write them all only then.
func (p *Puller) PullSegment(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	spec, err := ParseLoadSpec(seg.LoadSpec)
	if err != nil {
		return 0, err
	}
	res, err := p.pull(ctx, spec, dir, maxBytes, true)
	return res.Bytes, err
}
