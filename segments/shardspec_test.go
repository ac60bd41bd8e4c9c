package segments

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestShardSpecConstructors(t *testing.T) {
	m := "m"
	tests := []struct {
		name               string
		spec               ShardSpec
		json               string
		typ                string
		partition, core    int
		startRoot, endRoot int
		minor, atomicGroup int
	}{
		{"numbered", NumberedShardSpec(2, 3), `{"type":"numbered","partitionNum":2,"partitions":3}`, "numbered", 2, 3, 2, 3, 0, 1},
		{"linear", LinearShardSpec(4), `{"type":"linear","partitionNum":4}`, "linear", 4, 0, 4, 5, 0, 1},
		{"none", NoneShardSpec(), `{"type":"none"}`, "none", 0, 0, 0, 1, 0, 1},
		{"tombstone", TombstoneShardSpec(), `{"type":"tombstone","partitionNum":0,"partitions":0}`, "tombstone", 0, 0, 0, 1, 0, 1},
		{"hashed", HashedShardSpec(0, 2, 0, 2, nil, ""),
			`{"type":"hashed","partitionNum":0,"partitions":2,"bucketId":0,"numBuckets":2,"partitionDimensions":[],"partitionFunction":null}`,
			"hashed", 0, 2, 0, 1, 0, 1},
		{"single", SingleDimensionShardSpec("d", nil, &m, 0, 2),
			`{"type":"single","start":null,"end":"m","dimension":"d","partitionNum":0,"numCorePartitions":2}`, "single", 0, 2, 0, 1, 0, 1},
		{"range", RangeShardSpec([]string{"a", "b"}, []string{"x", "1"}, nil, 1, 2),
			`{"type":"range","dimensions":["a","b"],"start":["x","1"],"end":null,"partitionNum":1,"numCorePartitions":2}`, "range", 1, 2, 1, 2, 0, 1},
		{"numbered_overwrite", NumberedOverwriteShardSpec(32768, 0, 2, 1, 1),
			`{"type":"numbered_overwrite","partitionId":32768,"startRootPartitionId":0,"endRootPartitionId":2,"minorVersion":1,"atomicUpdateGroupSize":1}`,
			"numbered_overwrite", 32768, 0, 0, 2, 1, 1},
		{"zero value", ShardSpec{}, `{"type":"numbered","partitionNum":0,"partitions":1}`, "numbered", 0, 1, 0, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, s ShardSpec) {
				t.Helper()
				wantEq(t, what+" JSON", s.String(), tt.json)
				wantEq(t, what+" Type", s.Type(), tt.typ)
				wantEq(t, what+" PartitionNum", s.PartitionNum(), tt.partition)
				wantEq(t, what+" NumCorePartitions", s.NumCorePartitions(), tt.core)
				wantEq(t, what+" StartRootPartitionID", s.StartRootPartitionID(), tt.startRoot)
				wantEq(t, what+" EndRootPartitionID", s.EndRootPartitionID(), tt.endRoot)
				wantEq(t, what+" MinorVersion", s.MinorVersion(), tt.minor)
				wantEq(t, what+" AtomicUpdateGroupSize", s.AtomicUpdateGroupSize(), tt.atomicGroup)
				wantEq(t, what+" IsKnownType", s.IsKnownType(), true)
			}
			check("constructed", tt.spec)
			parsed, err := ParseShardSpec([]byte(tt.json))
			if err != nil {
				t.Fatalf("ParseShardSpec(%s): %v", tt.json, err)
			}
			check("parsed", parsed)
			wantEq(t, "Equal", parsed.Equal(tt.spec), true)
		})
	}
}

func TestParseShardSpecLenient(t *testing.T) {
	tests := []struct {
		in              string
		want            string // the kept bytes
		partition, core int
		known           bool
	}{
		{"null", `{"type":"numbered","partitionNum":0,"partitions":1}`, 0, 1, true},
		{` { "type" : "numbered" , "partitionNum" : 1 , "partitions" : 2 } `, `{"type":"numbered","partitionNum":1,"partitions":2}`, 1, 2, true},
		{`{"partitions":2,"type":"numbered"}`, `{"partitions":2,"type":"numbered"}`, 0, 2, true},
		{`{"type":"numbered","partitionNum":null}`, `{"type":"numbered","partitionNum":null}`, 0, 0, true},
		{`{"type":"tombstone","partitionNum":7,"partitions":9}`, `{"type":"tombstone","partitionNum":7,"partitions":9}`, 0, 0, true},
		{`{"type":"single","dimension":"d","partitionNum":1}`, `{"type":"single","dimension":"d","partitionNum":1}`, 1, -1, true},
		{`{"type":"hashed","partitionNum":1,"partitions":2,"bucketId":null,"numBuckets":null,"partitionDimensions":null,"partitionFunction":null}`,
			`{"type":"hashed","partitionNum":1,"partitions":2,"bucketId":null,"numBuckets":null,"partitionDimensions":null,"partitionFunction":null}`, 1, 2, true},
		{`{"type":"range","dimensions":["a"],"start":null,"end":["z"],"partitionNum":0,"numCorePartitions":null,"virtualColumns":[]}`,
			`{"type":"range","dimensions":["a"],"start":null,"end":["z"],"partitionNum":0,"numCorePartitions":null,"virtualColumns":[]}`, 0, -1, true},
		{`{"type":"numbered_overwrite","partitionId":65535,"startRootPartitionId":0,"endRootPartitionId":32767,"minorVersion":32767,"atomicUpdateGroupSize":-1}`,
			`{"type":"numbered_overwrite","partitionId":65535,"startRootPartitionId":0,"endRootPartitionId":32767,"minorVersion":32767,"atomicUpdateGroupSize":-1}`, 65535, 0, true},
		{`{"type":"building_numbered","partitionId":3}`, `{"type":"building_numbered","partitionId":3}`, 3, 0, false},
		{`{"type":"future","partitionNum":4,"x":{"y":[1]}}`, `{"type":"future","partitionNum":4,"x":{"y":[1]}}`, 4, 0, false},
		{`{"type":"t\u0069mestone2"}`, `{"type":"t\u0069mestone2"}`, 0, 0, false},
	}
	for _, tt := range tests {
		s, err := ParseShardSpec([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseShardSpec(%s): %v", tt.in, err)
			continue
		}
		wantEq(t, tt.in+" bytes", string(s.Raw()), tt.want)
		wantEq(t, tt.in+" PartitionNum", s.PartitionNum(), tt.partition)
		wantEq(t, tt.in+" NumCorePartitions", s.NumCorePartitions(), tt.core)
		wantEq(t, tt.in+" IsKnownType", s.IsKnownType(), tt.known)
	}
}

func TestParseShardSpecErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"partitionNum":1}`, `invalid shard spec: it has no "type"`},
		{`{"type":1}`, "invalid shard spec: type 1 must be a JSON string"},
		{`[]`, "invalid shard spec []: it must be a JSON object"},
		{`{"type":"numbered","partitionNum":-1}`, "invalid numbered shard spec: partitionNum -1 must not be negative"},
		{`{"type":"numbered","partitions":-1}`, "invalid numbered shard spec: partitions -1 must not be negative"},
		{`{"type":"numbered","partitionNum":1.5}`, "invalid numbered shard spec: partitionNum 1.5 must be an integer that fits in 32 bits"},
		{`{"type":"numbered","partitionNum":2147483648}`, "partitionNum 2147483648 must be an integer that fits in 32 bits"},
		{`{"type":"numbered","partitionNum":"1"}`, `partitionNum "1" must be a JSON integer`},
		{`{"type":"linear"}`, "invalid linear shard spec: partitionNum is required"},
		{`{"type":"single","partitionNum":0}`, "invalid single shard spec: dimension must be a JSON string"},
		{`{"type":"single","dimension":"d","start":1}`, "invalid single shard spec: start 1 must be a JSON string or null"},
		{`{"type":"range","dimensions":[],"partitionNum":0}`, "dimensions must be a non-empty JSON array"},
		{`{"type":"range","dimensions":["a"],"end":"z"}`, `end "z" must be a JSON array or null`},
		{`{"type":"hashed","partitionDimensions":"a"}`, `partitionDimensions "a" must be a JSON array or null`},
		{`{"type":"numbered_overwrite","partitionId":1,"minorVersion":1,"atomicUpdateGroupSize":1}`, "partitionId 1 must be in [32768, 65536)"},
		{`{"type":"numbered_overwrite","partitionId":32768,"endRootPartitionId":32768,"minorVersion":1,"atomicUpdateGroupSize":1}`, "endRootPartitionId 32768 must be in [0, 32768)"},
		{`{"type":"numbered_overwrite","partitionId":32768,"minorVersion":0,"atomicUpdateGroupSize":1}`, "minorVersion 0 must be positive"},
		{`{"type":"numbered_overwrite","partitionId":32768,"minorVersion":32768}`, "minorVersion 32768 must be an integer that fits in 16 bits"},
		{`{"type":"numbered_overwrite","partitionId":32768,"minorVersion":1,"atomicUpdateGroupSize":0}`, "atomicUpdateGroupSize 0 must be positive or -1 (unknown)"},
		{`{"type":"numbered",}`, "invalid shard spec: malformed JSON at offset 19"},
		{`{"type":"numbered"} x`, "expected the end of the value"},
		{"{\"type\":\"\xff\"}", "not valid UTF-8"},
	}
	for _, tt := range tests {
		_, err := ParseShardSpec([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseShardSpec(%s) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestShardSpecJSON(t *testing.T) {
	var v struct {
		A ShardSpec `json:"a"`
		B ShardSpec `json:"b"`
	}
	if err := json.Unmarshal([]byte(`{"a":{"type":"linear","partitionNum":1},"b":null}`), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "json", string(b), `{"a":{"type":"linear","partitionNum":1},"b":{"type":"numbered","partitionNum":0,"partitions":1}}`)
	if err := json.Unmarshal([]byte(`{"a":{"type":"linear"}}`), &v); err == nil {
		t.Error("a linear spec without partitionNum was accepted")
	}
}
