package metadata

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// TestStreamSegmentsSummarize: the rows Summarize picks carry a Summary of their payload, the others (and a
// payload the summary reader leaves to the whole parse) their Segment, and a payload no parse reads still goes to
// BadPayload; the summaries say what the whole segments say.
func TestStreamSegmentsSummarize(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ctx := testCtx(t)
		f := newStoreFixture(t, kind, VariantCurrent)
		recs := seedRows(t, f)
		// A numeric "fingerprint" is an unknown member to a DataSegment, which the summary reader does not take.
		odd := numbered(t, "2023-01-01T00:00:00.000Z/2023-01-02T00:00:00.000Z", "v1", 0, 1)
		payload, err := odd.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		payload = append([]byte(`{"fingerprint":1,`), payload[1:]...)
		bad := numbered(t, "2022-01-01T00:00:00.000Z/2022-01-02T00:00:00.000Z", "v1", 0, 1)
		if err := f.db.insertSegments(ctx, f.tables, SegmentRecord{Segment: odd, Payload: payload, Used: true},
			SegmentRecord{Segment: bad, Payload: []byte(`{"dataSource":"ds","interval":"x"}`), Used: true}); err != nil {
			t.Fatal(err)
		}
		whole := map[string]*segments.DataSegment{}
		for id, r := range recs {
			whole[id] = r.Segment
		}
		whole[odd.ID().String()] = odd
		var skipped []string
		summarized, parsed := 0, 0
		err = f.store.StreamSegments(ctx, StreamOptions{IncludeUnused: true,
			Summarize:  func(ds string) bool { return ds != "sales" },
			BadPayload: func(id string, _ []byte, _ error) error { skipped = append(skipped, id); return nil },
		}, func(r *SegmentRow) error {
			want := whole[r.ID]
			switch {
			case want == nil:
				t.Errorf("row %s: not seeded", r.ID)
			case r.Summary != nil && r.Segment == nil && r.DataSource != "sales" && r.ID != odd.ID().String():
				summarized++
				got, w := *r.Summary, want.Summary()
				var compact bytes.Buffer
				if len(got.LoadSpec) > 0 {
					_ = json.Compact(&compact, got.LoadSpec)
				}
				if got.ID() != w.ID() || got.Size != w.Size || got.ShardSpec.Type() != w.ShardSpec.Type() ||
					!bytes.Equal(compact.Bytes(), w.LoadSpec) {
					t.Errorf("row %s: summary %+v, the segment's %+v", r.ID, got, w)
				}
			case r.Segment != nil && r.Summary == nil && (r.DataSource == "sales" || r.ID == odd.ID().String()):
				parsed++
				if r.Segment.ID() != want.ID() {
					t.Errorf("row %s: segment %v", r.ID, r.Segment.ID())
				}
			default:
				t.Errorf("row %s of %s: summary %v, segment %v", r.ID, r.DataSource, r.Summary != nil, r.Segment != nil)
			}
			return nil
		})
		if err != nil || !slices.Equal(skipped, []string{bad.ID().String()}) || summarized == 0 || parsed < 2 {
			t.Errorf("err %v, skipped %v, %d rows summarized and %d parsed whole", err, skipped, summarized, parsed)
		}
	})
}
