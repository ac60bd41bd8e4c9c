package loadqueue

import (
	"context"
	"os"

	"github.com/druid-sidecar/druid-sidecar/deepstorage"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// DeepStoragePuller lets the segment cache pull through package deepstorage: it reads the segment's loadSpec (a
// tombstone's pull writes nothing and touches no deep storage). Errors are deepstorage's, errors.Is-able.
type DeepStoragePuller struct{ P *deepstorage.Puller }

// Pull implements segcache.Puller.
func (d DeepStoragePuller) Pull(ctx context.Context, seg *segments.DataSegment, dir *os.Root, maxBytes int64) (int64, error) {
	spec, err := deepstorage.ParseLoadSpec(seg.LoadSpec)
	if err != nil {
		return 0, err
	}
	res, err := d.P.Pull(ctx, spec, dir, maxBytes)
	return res.Bytes, err
}
