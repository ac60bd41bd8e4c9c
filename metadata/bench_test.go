package metadata

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchRowsEnv sets the number of rows BenchmarkStreamSegments loads into each store; without it the benchmark uses
// a small table so that a plain `go test -bench` stays quick. The figure to compare against is 1,000,000:
//
//	DRUID_SIDECAR_BENCH_SEGMENTS=1000000 go test -run '^$' -bench StreamSegments -benchtime 3x ./metadata
const benchRowsEnv = "DRUID_SIDECAR_BENCH_SEGMENTS"

func benchRows(tb testing.TB) int {
	v := os.Getenv(benchRowsEnv)
	if v == "" {
		return 20000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: expected a positive row count", benchRowsEnv, v)
	}
	return n
}

// heapPeak samples the live heap (runtime/metrics, no stop-the-world) until stopped and reports the peak.
type heapPeak struct {
	stop chan struct{}
	done sync.WaitGroup
	peak atomic.Uint64
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > h.peak.Load() {
			h.peak.Store(v)
		}
	}
	read()
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				read()
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return h
}

func (h *heapPeak) finish() float64 {
	close(h.stop)
	h.done.Wait()
	return float64(h.peak.Load()) / (1 << 20)
}

// loadedFixture loads n realistic rows into a fresh store of the kind (COPY FROM on PostgreSQL, multi-row INSERTs on
// MySQL) and returns the fixture and the number of used rows.
func loadedFixture(b *testing.B, kind string, n int) (*fixture, int) {
	b.Helper()
	ctx := context.Background()
	f := newStoreFixture(b, kind, VariantCurrent)
	start := time.Now()
	if _, err := f.db.bulkLoad(ctx, f.tables, n, ProductionShapedRecord); err != nil {
		b.Fatal(err)
	}
	analyze := map[string]string{"postgresql": "VACUUM (ANALYZE) ", "mysql": "ANALYZE TABLE "}[kind]
	if err := f.db.exec(ctx, analyze+f.tables.Segments()); err != nil {
		b.Fatal(err)
	}
	used, err := f.store.CountSegments(ctx, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: loaded %d rows (%d used) in %v", kind, n, used, time.Since(start).Round(time.Millisecond))
	return f, int(used)
}

// BenchmarkStreamSegments streams and parses every used row on each store, against the same run's plain read of
// the same payloads: on PostgreSQL COPY (SELECT payload FROM druid_segments WHERE used) TO STDOUT into io.Discard,
// on MariaDB its own client, `mariadb --quick -e 'SELECT payload FROM druid_segments WHERE used'` into a counter.
func BenchmarkStreamSegments(b *testing.B) {
	n := benchRows(b)
	for _, kind := range stores {
		f, used := loadedFixture(b, kind, n)
		if kind == "postgresql" {
			b.Run(kind+"/copy-baseline", func(b *testing.B) { benchCopyBaseline(b, f, used) })
		} else {
			b.Run(kind+"/mariadb-client-baseline", func(b *testing.B) { benchMariaDBClient(b, f, used) })
		}
		benchStream(b, kind, f, used)
	}
}

func benchCopyBaseline(b *testing.B, f *fixture, used int) {
	ctx := context.Background()
	var bytes int64
	peak := startHeapPeak()
	for b.Loop() {
		cw := &countingDiscard{}
		tag, err := f.db.(pgTestDB).conn.PgConn().CopyTo(ctx, cw, "COPY (SELECT payload FROM "+f.tables.Segments()+" WHERE used) TO STDOUT")
		if err != nil {
			b.Fatal(err)
		}
		if tag.RowsAffected() != int64(used) {
			b.Fatalf("COPY gave %d rows, want %d", tag.RowsAffected(), used)
		}
		bytes = cw.n
	}
	b.ReportMetric(peak.finish(), "peak-heap-MB")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(used), "ns/row")
	b.ReportMetric(float64(bytes)/(1<<20), "MB-copied")
}

// benchMariaDBClient runs MariaDB's own command-line client, row by row, its output counted and discarded.
func benchMariaDBClient(b *testing.B, f *fixture, used int) {
	my := f.db.(myTestDB).my
	var bytes int64
	for b.Loop() {
		cw := &countingDiscard{}
		my.Client(b, "SELECT payload FROM "+f.tables.Segments()+" WHERE used", cw)
		bytes = cw.n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(used), "ns/row")
	b.ReportMetric(float64(bytes)/(1<<20), "MB-copied")
}

func benchStream(b *testing.B, kind string, f *fixture, used int) {
	ctx := context.Background()
	// stream-summarized reads the rows as the audit does: payloads summarized, not parsed whole.
	for _, c := range []struct {
		name string
		opts StreamOptions
	}{
		{"stream", StreamOptions{}},
		{"stream-by-id", StreamOptions{Order: OrderByID}},
		{"stream-summarized", StreamOptions{Summarize: func(string) bool { return true }}},
	} {
		b.Run(kind+"/"+c.name, func(b *testing.B) {
			peak := startHeapPeak()
			for b.Loop() {
				rows := 0
				var size int64
				err := f.store.StreamSegments(ctx, c.opts, func(r *SegmentRow) error {
					rows++
					if r.Summary != nil {
						size += r.Summary.Size
					} else {
						size += r.Segment.Size
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if rows != used {
					b.Fatalf("streamed %d rows, want %d", rows, used)
				}
			}
			b.ReportMetric(peak.finish(), "peak-heap-MB")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(used), "ns/row")
		})
	}
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return io.Discard.Write(p)
}

// TestRealisticRowsRoundTrip keeps the benchmark's generator and bulk loads honest with a small table.
func TestRealisticRowsRoundTrip(t *testing.T) {
	forEachStore(t, testRealisticRowsRoundTrip)
}

func testRealisticRowsRoundTrip(t *testing.T, kind string) {
	ctx := testCtx(t)
	f := newStoreFixture(t, kind, VariantSchema)
	const n = 2500 // more than one of MySQL's INSERT batches
	if _, err := f.db.bulkLoad(ctx, f.tables, n, ProductionShapedRecord); err != nil {
		t.Fatal(err)
	}
	rows, used := 0, 0
	err := f.store.StreamSegments(ctx, StreamOptions{IncludeUnused: true}, func(r *SegmentRow) error {
		rows++
		if r.Used {
			used++
		}
		i := r.Segment.ShardSpec.PartitionNum()
		if r.ID != r.Segment.ID().String() || i < 0 || i > 3 || r.UsedStatusLastUpdated == "" {
			t.Errorf("row %s: %+v", r.ID, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || used != n-n/50 {
		t.Errorf("%d rows, %d used", rows, used)
	}
	peak := startHeapPeak()
	if err := f.store.StreamSegments(ctx, StreamOptions{}, func(*SegmentRow) error { return nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: peak heap streaming %d rows: %.1f MB", kind, n, peak.finish())
}
