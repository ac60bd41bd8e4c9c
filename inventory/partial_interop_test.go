package inventory_test

// A segment loaded through a partial-load wrapper (Druid 38+) is announced with the wrapper's fingerprint and
// loadedBytes = its size, as SegmentChangeRequestLoad.forAnnouncement does. testdata/inventory/PartialLoadInterop.java
// binds our JSON and Smile snapshots as a Druid 38 Broker or Coordinator does (Jackson, a mirror of
// SegmentChangeRequestLoad) and writes the request back, so that the place of the two fields is Jackson's too.
//
// Policy (docs/CONTRIBUTING.md): a missing java, javac or jar FAILS the test; only `go test -short` skips it.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/druid-sidecar/druid-sidecar/inventory"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

const partialWrapper = `{"type":"partialProjection","delegate":{"type":"s3_zip","bucket":"druid-deep","key":"druid/segments/wikipedia/index.zip","S3Schema":"s3n","rangeable":true},"projections":["revenue"],"fingerprint":"v1:abcdef0123456789"}`

func TestInventoryPartialLoadAnnouncement(t *testing.T) {
	wrapped, plain := invSegment(1), invSegment(2)
	wrapped.LoadSpec, wrapped.Size = json.RawMessage(partialWrapper), 12345
	inv := inventory.New()
	if err := inv.Announce([]*segments.DataSegment{wrapped, plain}); err != nil {
		t.Fatal(err)
	}
	srv := invServer(t, inv)
	st1, _, js := invGet(t, srv, "counter=-1&timeout=1000", "application/json")
	st2, _, sm := invGet(t, srv, "counter=-1&timeout=1000", inventory.SmileType)
	if st1 != 200 || st2 != 200 {
		t.Fatalf("statuses %d, %d", st1, st2)
	}
	// Our own reader, as the audit and the test peers read an inventory.
	ours := map[string][]byte{}
	if _, err := inventory.Decode(bytes.NewReader(js), func(r *segments.ChangeRequest, raw []byte) error {
		id := r.Segment.ID().String()
		ours[id] = bytes.Clone(raw)
		switch id {
		case wrapped.ID().String():
			if r.Fingerprint == nil || *r.Fingerprint != "v1:abcdef0123456789" || r.LoadedBytes == nil || *r.LoadedBytes != 12345 {
				t.Errorf("wrapped segment announced with fingerprint %v, loadedBytes %v", r.Fingerprint, r.LoadedBytes)
			}
			if string(r.Segment.LoadSpec) != partialWrapper {
				t.Errorf("announced load spec %s, want the wrapper as received %s", r.Segment.LoadSpec, partialWrapper)
			}
		default:
			if r.Fingerprint != nil || r.LoadedBytes != nil {
				t.Errorf("plain segment announced with fingerprint %v, loadedBytes %v", r.Fingerprint, r.LoadedBytes)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	java, dir, cp := compileInterop(ctx, t, "PartialLoadInterop.java")
	jsFile, smFile := filepath.Join(dir, "snapshot.json"), filepath.Join(dir, "snapshot.smile")
	if err := os.WriteFile(jsFile, js, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(smFile, sm, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", dir+string(os.PathListSeparator)+cp,
		"PartialLoadInterop", jsFile, smFile).CombinedOutput()
	if err != nil {
		t.Fatalf("java PartialLoadInterop failed: %v\n%s", err, out)
	}
	want := map[string]bool{
		"REQ json load " + wrapped.ID().String() + " v1:abcdef0123456789 12345 partialProjection":  true,
		"REQ smile load " + wrapped.ID().String() + " v1:abcdef0123456789 12345 partialProjection": true,
		"REQ json load " + plain.ID().String() + " null null s3_zip":                               true,
		"REQ smile load " + plain.ID().String() + " null null s3_zip":                              true,
	}
	writes := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case want[line]:
			delete(want, line)
		case strings.HasPrefix(line, "WRITE "):
			theirs, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "WRITE "))
			if err != nil {
				t.Fatal(err)
			}
			// Jackson's mirror has only some of DataSegment's members: compare up to the first segment member, which
			// is where Jackson puts the creator properties fingerprint and loadedBytes.
			cut := bytes.Index(theirs, []byte(`"dataSource":`))
			if cut < 0 {
				t.Errorf("Jackson's request %s has no dataSource", theirs)
				continue
			}
			mine := ours[plain.ID().String()]
			if bytes.Contains(theirs[:cut], []byte(`"fingerprint"`)) {
				mine = ours[wrapped.ID().String()]
			}
			if !bytes.HasPrefix(mine, theirs[:cut]) {
				t.Errorf("Jackson writes the request as %.160s…\nwe write %.160s…", theirs, mine)
			}
			writes++
		default:
			t.Errorf("Jackson: %s", line)
		}
	}
	for line := range want {
		t.Errorf("Jackson did not read %q", line)
	}
	if writes != 2 {
		t.Errorf("%d requests written back by Jackson, want 2", writes)
	}
}
