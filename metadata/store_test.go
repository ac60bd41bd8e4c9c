package metadata

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/internal/testenv"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

func TestOpenRefusesOtherStores(t *testing.T) {
	for _, typ := range []string{"derby", "sqlserver"} {
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
			"druid.metadata.storage.type=" + typ,
			"druid.metadata.storage.connector.connectURI=jdbc:" + typ + "://db:3306/druid",
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(context.Background(), cfg)
		if err == nil {
			t.Fatalf("%s: Open succeeded", typ)
		}
		for _, want := range []string{"druid.metadata.storage.type", `"` + typ + `"`, "reads postgresql and mysql"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %s", typ, err, want)
			}
		}
		var p configs.Problem
		if !errors.As(err, &p) || p.Key != "druid.metadata.storage.type" {
			t.Errorf("%s: error %v is not a configs.Problem about the type", typ, err)
		}
	}
}

func TestOpenErrorNamesServerNotPassword(t *testing.T) {
	testenv.Integration(t)
	// A port nothing listens on (the services use 2xxxx ports), and a wrong password for a reachable server.
	for _, uri := range []string{
		"jdbc:postgresql://127.0.0.1:1/druid_meta?connectTimeout=2",
		"jdbc:mysql://127.0.0.1:1/druid_meta?connectTimeout=2000",
		"jdbc:mariadb://127.0.0.1:1,127.0.0.1:2/druid_meta",
	} {
		typ := "postgresql"
		if !strings.HasPrefix(uri, "jdbc:postgresql:") {
			typ = "mysql"
		}
		cfg, err := configs.Load(configs.LoadOptions{Environ: []string{}, NumCPU: 2, Sets: []string{
			"druid.metadata.storage.type=" + typ,
			"druid.metadata.storage.connector.connectURI=" + uri,
			"druid.metadata.storage.connector.user=druid",
			"druid.metadata.storage.connector.password=s3cr3t-pa55",
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(testCtx(t), cfg)
		if err == nil {
			t.Fatalf("%s: Open succeeded against a closed port", uri)
		}
		msg := err.Error()
		for _, want := range []string{"127.0.0.1:1", "druid_meta", "connecting"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %s", msg, want)
			}
		}
		if strings.Contains(msg, "s3cr3t-pa55") {
			t.Errorf("error %q reveals the password", msg)
		}
	}

	pg := testenv.Postgres(t)
	_, err := Open(testCtx(t), loadConfig(t, pg, "druid.metadata.storage.connector.connectURI=jdbc:postgresql://"+
		pg.Host+":"+itoa(pg.Port)+"/"+pg.Database+"_missing"))
	if err == nil || !strings.Contains(err.Error(), pg.Database+"_missing") {
		t.Errorf("Open on a missing database: %v, want an error naming it", err)
	}

	my := testenv.MariaDB(t)
	for _, tc := range []struct{ uri, password, want string }{
		{"jdbc:mysql://" + my.Host + ":" + itoa(my.Port) + "/" + my.Database + "_missing", my.Password, my.Database + "_missing"},
		{my.JDBCURI, "s3cr3t-pa55", "Access denied"},
	} {
		cfg, _ := loadStoreConfig(t, "mysql", "druid.metadata.storage.connector.connectURI="+tc.uri,
			"druid.metadata.storage.connector.password="+tc.password)
		_, err := Open(testCtx(t), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "MySQL at "+my.Host) ||
			strings.Contains(err.Error(), "s3cr3t-pa55") {
			t.Errorf("Open on MariaDB: %v, want an error naming the server and %s, without the password", err, tc.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStreamMissingTable(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ctx := testCtx(t)
		cfg, _ := loadStoreConfig(t, kind)
		st, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close(ctx)
		err = st.StreamSegments(ctx, StreamOptions{}, func(*SegmentRow) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "druid_segments") || !strings.Contains(err.Error(), Describe(cfg)) ||
			!strings.Contains(err.Error(), "has a Coordinator or Overlord created it") {
			t.Fatalf("StreamSegments without a table: %v, want an error naming druid_segments and the database", err)
		}
	})
}

// seedRows writes Druid-shaped rows: every payload kind, an ETERNITY segment, unused rows and two dataSources.
func seedRows(t *testing.T, f *fixture) map[string]SegmentRecord {
	t.Helper()
	ctx := testCtx(t)
	created := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	recs := map[string]SegmentRecord{}
	var list []SegmentRecord
	add := func(r SegmentRecord) {
		recs[r.Segment.ID().String()] = r
		list = append(list, r)
	}
	for _, name := range []string{"numbered", "eternity", "hashed", "tombstone", "numbered_overwrite", "range", "single", "linear"} {
		p := readPayload(t, name)
		add(SegmentRecord{Segment: parseSegment(t, p), Payload: p, Used: true, CreatedDate: created})
	}
	rows := int64(12345)
	for i := range 3 {
		s := numbered(t, "2024-01-0"+itoa(i+1)+"T00:00:00.000Z/2024-01-0"+itoa(i+2)+"T00:00:00.000Z", "v1", 0, 1)
		add(SegmentRecord{Segment: s, Used: i != 1, CreatedDate: created, UsedStatusLastUpdated: created.Add(time.Hour),
			SchemaFingerprint: "fp" + itoa(i), NumRows: &rows, UpgradedFromSegmentID: "ds_upgraded_" + itoa(i)})
	}
	if err := f.db.insertSegments(ctx, f.tables, list...); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestStreamSegmentsEveryVariant(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, v := range Variants {
			t.Run(v.String(), func(t *testing.T) { testStreamVariant(t, kind, v) })
		}
	})
}

func testStreamVariant(t *testing.T, kind string, v Variant) {
	ctx := testCtx(t)
	f := newStoreFixture(t, kind, v)
	recs := seedRows(t, f)
	if v == VariantUpgraded {
		// Rows written before the upgrade hold NULL in the added columns.
		old := numbered(t, "2023-01-01T00:00:00.000Z/2023-01-02T00:00:00.000Z", "v0", 0, 1)
		r := SegmentRecord{Segment: old, Used: true, NullUsedStatus: true}
		if err := f.db.insertSegments(ctx, f.tables, r); err != nil {
			t.Fatal(err)
		}
		recs[old.ID().String()] = r
	}

	for _, includeUnused := range []bool{false, true} {
		var ids []string
		err := f.store.StreamSegments(ctx, StreamOptions{IncludeUnused: includeUnused, Order: OrderByID}, func(r *SegmentRow) error {
			ids = append(ids, r.ID)
			rec, ok := recs[r.ID]
			if !ok {
				t.Errorf("unexpected row %s", r.ID)
				return nil
			}
			if r.Used != rec.Used || (!includeUnused && !r.Used) {
				t.Errorf("%s: used %v, want %v", r.ID, r.Used, rec.Used)
			}
			if r.DataSource != rec.Segment.DataSource || r.Segment.ID() != rec.Segment.ID() {
				t.Errorf("%s: dataSource %q, payload id %s", r.ID, r.DataSource, r.Segment.ID())
			}
			if rec.Payload != nil {
				if out, _ := r.Segment.AppendJSON(nil); string(out) != string(rec.Payload) {
					t.Errorf("%s: payload does not round-trip:\n got %s\nwant %s", r.ID, out, rec.Payload)
				}
			}
			checkOptionalColumns(t, v, r, rec)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, rec := range recs {
			if rec.Used || includeUnused {
				want++
			}
		}
		if len(ids) != want {
			t.Errorf("includeUnused=%v: %d rows, want %d", includeUnused, len(ids), want)
		}
		// PostgreSQL's test database collates in C, MariaDB's in utf8mb4_general_ci (case-insensitive).
		collate := strings.Compare
		if kind == "mysql" {
			collate = func(a, b string) int { return strings.Compare(strings.ToUpper(a), strings.ToUpper(b)) }
		}
		if !slices.IsSortedFunc(ids, collate) {
			t.Errorf("OrderByID: ids not ascending in the column's collation: %v", ids)
		}
	}
}

func checkOptionalColumns(t *testing.T, v Variant, r *SegmentRow, rec SegmentRecord) {
	t.Helper()
	wantStatus := ""
	if v != Variant022 && !rec.NullUsedStatus {
		at := rec.UsedStatusLastUpdated
		if at.IsZero() {
			at = rec.CreatedDate
		}
		wantStatus = segments.InstantOf(at).String()
	}
	if r.UsedStatusLastUpdated != wantStatus {
		t.Errorf("%s: used_status_last_updated %q, want %q", r.ID, r.UsedStatusLastUpdated, wantStatus)
	}
	var wantFP string
	var wantRows *int64
	if v == VariantSchema {
		wantFP, wantRows = rec.SchemaFingerprint, rec.NumRows
	}
	if r.SchemaFingerprint != wantFP {
		t.Errorf("%s: schema_fingerprint %q, want %q", r.ID, r.SchemaFingerprint, wantFP)
	}
	if r.HasNumRows != (wantRows != nil) || (wantRows != nil && r.NumRows != *wantRows) {
		t.Errorf("%s: num_rows %d (present %v), want %v", r.ID, r.NumRows, r.HasNumRows, wantRows)
	}
	wantUpgraded := ""
	if v != Variant022 {
		wantUpgraded = rec.UpgradedFromSegmentID
	}
	if r.UpgradedFromSegmentID != wantUpgraded {
		t.Errorf("%s: upgraded_from_segment_id %q, want %q", r.ID, r.UpgradedFromSegmentID, wantUpgraded)
	}
}

func TestStreamSegmentsRawColumns(t *testing.T) {
	forEachStore(t, testStreamSegmentsRawColumns)
}

func testStreamSegmentsRawColumns(t *testing.T, kind string) {
	// The ETERNITY row's start and "end" columns hold what Druid writes, which do not compare as strings.
	ctx := testCtx(t)
	f := newStoreFixture(t, kind, VariantCurrent)
	seedRows(t, f)
	var start, end string
	endCol := map[string]string{"postgresql": `"end"`, "mysql": "`end`"}[kind]
	err := f.db.queryRow(ctx, "SELECT start, "+endCol+" FROM druid_segments WHERE datasource = 'country_dim'", nil, &start, &end)
	if err != nil {
		t.Fatal(err)
	}
	if start != "-146136543-09-08T08:23:32.096Z" || end != "146140482-04-24T15:36:27.903Z" {
		t.Errorf("ETERNITY bounds stored as %s / %s", start, end)
	}
	var got *segments.DataSegment
	err = f.store.StreamSegments(ctx, StreamOptions{DataSources: []string{"country_dim"}}, func(r *SegmentRow) error {
		got = r.Segment
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Interval != segments.Eternity {
		t.Errorf("ETERNITY segment read as %v", got)
	}
}

func TestStreamSegmentsFilterStopAndBadPayload(t *testing.T) {
	forEachStore(t, testStreamSegmentsFilterStopAndBadPayload)
}

func testStreamSegmentsFilterStopAndBadPayload(t *testing.T, kind string) {
	ctx := testCtx(t)
	f := newStoreFixture(t, kind, VariantCurrent, "druid.metadata.storage.tables.base=custom")
	if f.tables.Segments() != "custom_segments" {
		t.Fatalf("segments table %s", f.tables.Segments())
	}
	seedRows(t, f)

	count := map[string]int{}
	err := f.store.StreamSegments(ctx, StreamOptions{DataSources: []string{"ds", "sales"}, IncludeUnused: true},
		func(r *SegmentRow) error { count[r.DataSource]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(count) != 2 || count["ds"] != 3 || count["sales"] != 2 {
		t.Errorf("rows per dataSource %v, want ds:3 sales:2", count)
	}

	stop := errors.New("stop")
	n := 0
	err = f.store.StreamSegments(ctx, StreamOptions{}, func(*SegmentRow) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("stopping: err %v after %d rows", err, n)
	}

	bad := numbered(t, "2022-01-01T00:00:00.000Z/2022-01-02T00:00:00.000Z", "v1", 0, 1)
	if err := f.db.insertSegments(ctx, f.tables, SegmentRecord{Segment: bad, Payload: []byte(`{"dataSource":"ds","interval":"x"}`), Used: true}); err != nil {
		t.Fatal(err)
	}
	err = f.store.StreamSegments(ctx, StreamOptions{}, func(*SegmentRow) error { return nil })
	if err == nil || !strings.Contains(err.Error(), bad.ID().String()) {
		t.Errorf("bad payload: %v, want an error naming %s", err, bad.ID())
	}
	var skipped []string
	rows := 0
	err = f.store.StreamSegments(ctx, StreamOptions{BadPayload: func(id string, _ []byte, _ error) error {
		skipped = append(skipped, id)
		return nil
	}}, func(*SegmentRow) error { rows++; return nil })
	if err != nil || !slices.Equal(skipped, []string{bad.ID().String()}) || rows != 10 {
		t.Errorf("BadPayload: err %v, skipped %v, %d rows", err, skipped, rows)
	}

	// The Store serves one operation at a time and reconnects after its connection is closed.
	f.db.killOthers(t)
	_ = f.store.StreamSegments(ctx, StreamOptions{}, func(*SegmentRow) error { return nil }) // may see the dead connection
	if err := f.store.StreamSegments(ctx, StreamOptions{BadPayload: func(string, []byte, error) error { return nil }},
		func(*SegmentRow) error { return nil }); err != nil {
		t.Errorf("after the connection was terminated: %v", err)
	}
}

// Rules are read the same on both stores: the latest version of each dataSource's rules.
func TestLoadRulesEveryStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ctx := testCtx(t)
		f := newStoreFixture(t, kind, VariantCurrent)
		at := func(s string) time.Time { return mustInstant(t, s).Time() }
		for _, r := range []struct{ ds, version, payload string }{
			{"_default", "2024-01-01T00:00:00.000Z", `[{"tieredReplicants":{"_default_tier":2},"useDefaultTierForNull":true,"type":"loadForever"}]`},
			{"wiki", "2024-01-01T00:00:00.000Z", `[{"type":"dropForever"}]`},
			{"wiki", "2024-03-01T00:00:00.000Z", `[{"type":"loadForever","tieredReplicants":{"hot":1}}]`},
		} {
			if err := f.db.insertRules(ctx, f.tables, r.ds, at(r.version), []byte(r.payload)); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := f.store.LoadRules(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if v := rs.Versions["wiki"]; v != "2024-03-01T00:00:00.000Z" || len(rs.ByDataSource["wiki"]) != 1 ||
			rs.ByDataSource["wiki"][0].Type != TypeLoadForever || len(rs.ByDataSource["_default"]) != 1 {
			t.Errorf("rules %+v, versions %v", rs.ByDataSource, rs.Versions)
		}
		n, err := f.store.CountSegments(ctx, true)
		if err != nil || n != 0 {
			t.Errorf("CountSegments = %d, %v", n, err)
		}
	})
}
