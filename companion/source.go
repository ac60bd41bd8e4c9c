package companion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/coordinator"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// segmentSource gives a queued segment's DataSegment from its id alone.
type segmentSource interface {
	SegmentByID(ctx context.Context, id string) (*segments.DataSegment, error)
}

// fallbackSource asks the Coordinator first and, when the Coordinator refuses the credentials for the
// metadata API (it needs read permission on the dataSource, the load queue only on the state), reads the segment
// from the metadata store. The Coordinator is first because it serves from memory; the store is read one
// dataSource at a time, which is costly for large dataSources, so it stays a fallback.
type fallbackSource struct {
	primary segmentSource
	cfg     *configs.Config
	log     hclog.Logger

	mu    sync.Mutex
	store *metadata.Store
}

func (f *fallbackSource) SegmentByID(ctx context.Context, id string) (*segments.DataSegment, error) {
	seg, err := f.primary.SegmentByID(ctx, id)
	if err == nil || !errors.Is(err, coordinator.ErrRefused) {
		return seg, err
	}
	seg, serr := f.fromStore(ctx, id)
	if serr != nil {
		return nil, errors.Join(err, serr)
	}
	return seg, nil
}

// errFound ends a stream of the segments table at the row looked for.
var errFound = errors.New("found")

func (f *fallbackSource) fromStore(ctx context.Context, id string) (*segments.DataSegment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store == nil {
		s, err := metadata.Open(ctx, f.cfg)
		if err != nil {
			return nil, err
		}
		f.store = s
		f.log.Info("reading queued segments from the metadata store: the Coordinator refused its metadata API")
	}
	var dataSources []string
	for _, r := range segments.PossibleSegmentIDs(id) {
		if !slices.Contains(dataSources, r.DataSource) {
			dataSources = append(dataSources, r.DataSource)
		}
	}
	if len(dataSources) == 0 {
		return nil, fmt.Errorf("%q is not a segment id: %w", id, coordinator.ErrSegmentNotFound)
	}
	var found *segments.DataSegment
	err := f.store.StreamSegments(ctx, metadata.StreamOptions{DataSources: dataSources}, func(r *metadata.SegmentRow) error {
		if r.ID == id {
			found = r.Segment
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("segment %s: no used row in the metadata store: %w", id, coordinator.ErrSegmentNotFound)
	}
	return found, nil
}

func (f *fallbackSource) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.store.Close(ctx)
		f.store = nil
	}
}
