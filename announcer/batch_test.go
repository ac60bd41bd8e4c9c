package announcer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// json is the batch znode's data as the announcer writes it, compression aside.
func (b *batch) json() []byte {
	var buf bytes.Buffer
	writeJSONArray(&buf, b.parts())
	return buf.Bytes()
}

func testAnnounced(n int) *announced {
	// n bytes of JSON; the content does not matter to the packer.
	return &announced{json: []byte(strings.Repeat("x", n))}
}

func TestPackerJavaRules(t *testing.T) {
	now := func() time.Time { return time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC) }
	p := newPacker("127.0.0.7:8083", "historical", "_default_tier", 3, 1024, now)

	// Names: <host>_<type>_<tier>_<now>_<uuid32hex><counter>.
	b1 := p.placeOne(testAnnounced(300))
	if !strings.HasPrefix(b1.name, "127.0.0.7:8083_historical__default_tier_2025-10-01T12:00:00.000Z_") ||
		len(b1.name) != len("127.0.0.7:8083_historical__default_tier_2025-10-01T12:00:00.000Z_")+32+1 || !strings.HasSuffix(b1.name, "0") {
		t.Errorf("batch name %q", b1.name)
	}
	// Singles share the available znode while the JSON stays strictly under maxBytesPerNode.
	if b := p.placeOne(testAnnounced(300)); b != b1 {
		t.Fatal("second single segment did not join the available znode")
	}
	// [300,300,X] = 2+300+1+300+1+X < 1024 needs X < 420: 419 fits exactly, and the znode is then full (3 segments).
	if b := p.placeOne(testAnnounced(419)); b != b1 || b1.size != 1023 || len(p.available) != 0 {
		t.Fatalf("third segment: size %d, available %v", b1.size, p.available)
	}
	b2 := p.placeOne(testAnnounced(500))
	if b2 == b1 || !strings.HasSuffix(b2.name, "1") {
		t.Fatal("a full znode took another segment")
	}
	// Too big for b2 (2+500+1+520 = 1023 is fine, 521 is not): a new znode, and b2 leaves the available set.
	b3 := p.placeOne(testAnnounced(521))
	if b3 == b2 || len(p.available) != 1 || p.available[0] != b3.name {
		t.Fatalf("available after a too-full znode: %v", p.available)
	}
	// Bulk: new znodes only, cut at segmentsPerNode or before maxBytesPerNode, not offered to singles.
	bulk := p.placeBulk([]*announced{testAnnounced(10), testAnnounced(10), testAnnounced(10), testAnnounced(10), testAnnounced(600), testAnnounced(500)})
	if len(bulk) != 3 || len(bulk[0].segs) != 3 || len(bulk[1].segs) != 2 || len(bulk[2].segs) != 1 {
		t.Fatalf("bulk packing: %d znodes", len(bulk))
	}
	for _, b := range bulk {
		if b.size >= 1024 || string(b.json()) == "" || len(b.json()) != b.size {
			t.Errorf("bulk znode %s: size %d, json %d bytes", b.name, b.size, len(b.json()))
		}
	}
	if len(p.available) != 1 {
		t.Errorf("bulk znodes were offered to singles: %v", p.available)
	}
	// Removal rewrites and makes the znode available again; the last removal deletes it.
	a := bulk[0].segs[0]
	if b := p.remove(a); b != bulk[0] || len(b.segs) != 2 || len(p.available) != 2 {
		t.Fatalf("remove: %d left, available %v", len(b.segs), p.available)
	}
	last := bulk[2].segs[0]
	if b := p.remove(last); len(b.segs) != 0 || p.batches[b.name] != nil {
		t.Fatal("an emptied znode was kept")
	}
	if !p.fits(1021) || p.fits(1022) {
		t.Error("a single segment must fit strictly under maxBytesPerNode with its brackets")
	}
}
