package segments

import (
	"slices"
	"strings"
	"testing"
)

func sid(t *testing.T, ds, interval, version string, partition int) SegmentID {
	t.Helper()
	return SegmentID{DataSource: ds, Interval: mustInterval(t, interval), Version: version, PartitionNum: partition}
}

func TestSegmentIDString(t *testing.T) {
	tests := []struct {
		id   SegmentID
		want string
	}{
		{sid(t, "ds", "2015-01-02/2015-01-03", "ver", 0), "ds_2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_ver"},
		{sid(t, "ds", "2015-01-02/2015-01-03", "ver_0", 1), "ds_2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_ver_0_1"},
		{sid(t, "ds", "2015-01-02/2015-01-03", "", 0), "ds_2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_"},
		{sid(t, "ds", "2015-01-02/2015-01-03", "v", -3), "ds_2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_v_-3"},
		{SegmentID{DataSource: "ds", Interval: Eternity, Version: "v"}, "ds_-146136543-09-08T08:23:32.096Z_146140482-04-24T15:36:27.903Z_v"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseSegmentIDWithDataSource(t *testing.T) {
	const iv = "2015-01-02/2015-01-03"
	const ivs = "2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z"
	tests := []struct {
		name, ds, id string
		want         []SegmentID
	}{
		{"plain", "ds", "ds_" + ivs + "_ver", []SegmentID{sid(t, "ds", iv, "ver", 0)}},
		{"partition", "ds", "ds_" + ivs + "_ver_3", []SegmentID{sid(t, "ds", iv, "ver", 3), sid(t, "ds", iv, "ver_3", 0)}},
		{"underscores in version", "ds", "ds_" + ivs + "_ver_0_1", []SegmentID{sid(t, "ds", iv, "ver_0", 1), sid(t, "ds", iv, "ver_0_1", 0)}},
		{"zero is no partition", "ds", "ds_" + ivs + "_ver_0", []SegmentID{sid(t, "ds", iv, "ver_0", 0)}},
		{"negative is no partition", "ds", "ds_" + ivs + "_ver_-2", []SegmentID{sid(t, "ds", iv, "ver_-2", 0)}},
		{"plus sign is no partition", "ds", "ds_" + ivs + "_ver_+2", []SegmentID{sid(t, "ds", iv, "ver_+2", 0)}},
		{"leading zeros still parse", "ds", "ds_" + ivs + "_ver_007", []SegmentID{sid(t, "ds", iv, "ver", 7), sid(t, "ds", iv, "ver_007", 0)}},
		{"int overflow is no partition", "ds", "ds_" + ivs + "_ver_2147483648", []SegmentID{sid(t, "ds", iv, "ver_2147483648", 0)}},
		{"empty version", "ds", "ds_" + ivs + "_", []SegmentID{sid(t, "ds", iv, "", 0)}},
		{"empty trail", "ds", "ds_" + ivs + "_v_", []SegmentID{sid(t, "ds", iv, "v_", 0)}},
		{"dataSource with underscores", "data_source_1", "data_source_1_" + ivs + "_v_2", []SegmentID{sid(t, "data_source_1", iv, "v", 2), sid(t, "data_source_1", iv, "v_2", 0)}},
		{"offsets are converted", "ds", "ds_2015-01-02T01:00:00.000+01:00_2015-01-03T00:00:00.000Z_v", []SegmentID{sid(t, "ds", iv, "v", 0)}},
		{"eternity", "ds", "ds_" + strings.ReplaceAll(Eternity.String(), "/", "_") + "_v", []SegmentID{{DataSource: "ds", Interval: Eternity, Version: "v"}}},
		{"wrong dataSource", "other", "ds_" + ivs + "_ver", nil},
		{"dataSource prefix without underscore", "d", "ds_" + ivs + "_ver", nil},
		{"id equals dataSource", "ds", "ds", nil},
		{"empty dataSource", "", "_" + ivs + "_ver", nil},
		{"too few parts", "ds", "ds_" + ivs, nil},
		{"no millis", "ds", "ds_2015-01-02T00:00:00Z_2015-01-03T00:00:00.000Z_v", nil},
		{"date only", "ds", "ds_2015-01-02_2015-01-03_v", nil},
		{"start equals end", "ds", "ds_2015-01-02T00:00:00.000Z_2015-01-02T00:00:00.000Z_v", nil},
		{"start after end", "ds", "ds_2015-01-03T00:00:00.000Z_2015-01-02T00:00:00.000Z_v", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseSegmentIDWithDataSource(tt.ds, tt.id)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseSegmentIDWithDataSource(%q, %q) =\n%v\nwant\n%v", tt.ds, tt.id, got, tt.want)
			}
		})
	}
}

func TestPossibleSegmentIDs(t *testing.T) {
	const iv = "2015-01-02/2015-01-03"
	const ivs = "2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z"
	tests := []struct {
		name, id string
		want     []SegmentID
	}{
		{"plain", "ds_" + ivs + "_ver", []SegmentID{sid(t, "ds", iv, "ver", 0)}},
		{"partition", "ds_" + ivs + "_ver_1", []SegmentID{sid(t, "ds", iv, "ver", 1), sid(t, "ds", iv, "ver_1", 0)}},
		{
			// The probable dataSource comes first, then every other prefix in order.
			"dataSource with underscore", "ds_1_" + ivs + "_v_2",
			[]SegmentID{sid(t, "ds_1", iv, "v", 2), sid(t, "ds_1", iv, "v_2", 0)},
		},
		{
			// A timestamp inside the dataSource misleads the guess; the other prefixes still find the true reading.
			"timestamp in dataSource", "ds_2015-01-01T00:00:00.000Z_" + ivs + "_v",
			[]SegmentID{
				sid(t, "ds", "2015-01-01/2015-01-02", "2015-01-03T00:00:00.000Z_v", 0),
				sid(t, "ds_2015-01-01T00:00:00.000Z", iv, "v", 0),
			},
		},
		{
			// Druid's guess needs a four-digit year, so for ETERNITY only the extra last prefix finds the reading.
			"eternity", "ds_" + strings.ReplaceAll(Eternity.String(), "/", "_") + "_v",
			[]SegmentID{{DataSource: "ds", Interval: Eternity, Version: "v"}},
		},
		{"garbage", "not an id", nil},
		{"starts with a timestamp", ivs + "_v", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PossibleSegmentIDs(tt.id)
			if !slices.Equal(got, tt.want) {
				t.Errorf("PossibleSegmentIDs(%q) =\n%v\nwant\n%v", tt.id, got, tt.want)
			}
		})
	}
}

func TestMostProbableDataSource(t *testing.T) {
	tests := map[string]string{
		"ds_2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_v":          "ds",
		"ds_2015-01-02T00:00:00.000+01:00_2015-01-03T00:00:00.000Z_v":     "ds",
		"ds_2015-01-02T00:00:00.000+0100_2015-01-03T00:00:00.000Z_v":      "ds_2015-01-02T00:00:00.000+0100",
		"x2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_v":            "x2015-01-02T00:00:00.000Z",
		"2015-01-02T00:00:00.000Z_2015-01-03T00:00:00.000Z_v":             "2015-01-02T00:00:00.000Z",
		"ds_-146136543-09-08T08:23:32.096Z_146140482-04-24T15:36:27.903Z": "",
		"ds_2015-13-02T00:00:00.000Z_x":                                   "ds",
		"ds_2015-01-42T00:00:00.000Z_x":                                   "",
	}
	for id, want := range tests {
		if got := mostProbableDataSource(id); got != want {
			t.Errorf("mostProbableDataSource(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestSegmentIDCompare(t *testing.T) {
	a := sid(t, "a", "2015-01-02/2015-01-03", "v", 0)
	ordered := []SegmentID{
		a,
		sid(t, "a", "2015-01-02/2015-01-03", "v", 1),
		sid(t, "a", "2015-01-02/2015-01-03", "w", 0),
		sid(t, "a", "2015-01-02/2015-01-04", "a", 0),
		sid(t, "a", "2015-01-03/2015-01-04", "a", 0),
		sid(t, "b", "2000-01-01/2000-01-02", "a", 0),
		// Java compares UTF-16 code units: U+1F600 is 0xD83D 0xDE00 and sorts before U+FFFF, unlike in UTF-8.
		sid(t, "\U0001F600", "2000-01-01/2000-01-02", "a", 0),
		sid(t, "\uffff", "2000-01-01/2000-01-02", "a", 0),
	}
	for i := range ordered {
		for j := range ordered {
			want := compareInt(int64(i), int64(j))
			if got := ordered[i].Compare(ordered[j]); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	wantEq(t, "compareJavaStrings(prefix)", compareJavaStrings("ab", "abc"), -1)
	wantEq(t, "compareJavaStrings(é vs z)", compareJavaStrings("é", "z"), 1)
}
