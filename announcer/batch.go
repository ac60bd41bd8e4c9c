package announcer

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/druid-sidecar/druid-sidecar/segments"
)

// announced is one announced segment: the segment as given (drops carry it to the history), the copy announced
// after the druid.announcer.skip* transform, its JSON and the batch znode that holds it; req is its load request's
// JSON, built with json for the inventory and handed over to it.
type announced struct {
	orig  *segments.DataSegment
	xform *segments.DataSegment
	json  []byte
	req   []byte
	batch *batch
}

// batch is one batch znode under <liveSegmentsPath>/<host:port>/: a JSON array of segments.
type batch struct {
	name string
	segs []*announced
	size int // bytes of the uncompressed JSON array
}

// sizeWith is the array's size with one more segment of n bytes.
func (b *batch) sizeWith(n int) int {
	if len(b.segs) == 0 {
		return 2 + n
	}
	return b.size + 1 + n
}

func (b *batch) add(a *announced) {
	b.size = b.sizeWith(len(a.json))
	b.segs = append(b.segs, a)
	a.batch = b
}

func (b *batch) remove(a *announced) {
	i := slices.Index(b.segs, a)
	if i < 0 {
		return
	}
	b.segs = slices.Delete(b.segs, i, i+1)
	if len(b.segs) == 0 {
		b.size = 0
	} else {
		b.size -= len(a.json) + 1
	}
	a.batch = nil
}

// parts is the segments' JSON, each as announced, in the order they were added: the znode's data is their JSON
// array (writeJSONArray; Java writes a Set, in no order).
func (b *batch) parts() [][]byte {
	parts := make([][]byte, len(b.segs))
	for i, a := range b.segs {
		parts[i] = a.json
	}
	return parts
}

// writeJSONArray writes the JSON array of the JSON values in parts.
func writeJSONArray(w io.Writer, parts [][]byte) {
	_, _ = w.Write([]byte{'['})
	for i, p := range parts {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		_, _ = w.Write(p)
	}
	_, _ = w.Write([]byte{']'})
}

// packer places segments into batch znodes with BatchDataSegmentAnnouncer's rules (druid-protocol.md 3.1):
//
//   - a single segment goes into the first "available" znode, in name order, whose JSON stays under
//     maxBytesPerNode (strict <) with it; a znode reaching segmentsPerNode, or too full for the segment, stops
//     being available; when none fits, a new znode is opened (and is available when segmentsPerNode > 1);
//   - a bulk call fills new znodes in turn, opening the next when segmentsPerNode is reached or the next segment
//     would not keep the JSON under maxBytesPerNode; bulk znodes are not offered to single segments until a
//     segment is removed from them;
//   - removing a segment rewrites its znode and makes it available again, or deletes it when it becomes empty.
//
// Every znode is kept strictly under maxBytesPerNode (Java's bulk path may exceed it by a few bytes; nothing
// needs that).
type packer struct {
	perNode   int
	maxBytes  int
	namePart  string // <host>_<type>_<tier>_ (empty parts skipped)
	counter   int64
	batches   map[string]*batch
	available []string // names, sorted
	now       func() time.Time
}

func newPacker(host, serverType, tier string, perNode int, maxBytes int64, now func() time.Time) *packer {
	var parts []string
	for _, p := range []string{host, serverType, tier} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return &packer{perNode: max(perNode, 1), maxBytes: int(maxBytes), namePart: strings.Join(parts, "_") + "_",
		batches: map[string]*batch{}, now: now}
}

// newName forms a batch znode name as Java does: UUIDUtils.generateUuid(host, type, tier, now) — the non-empty
// parts and a dashless random UUID joined with '_' — followed directly by a per-process counter.
func (p *packer) newName() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	name := p.namePart + segments.InstantOf(p.now()).String() + "_" + hex.EncodeToString(u[:]) + strconv.FormatInt(p.counter, 10)
	p.counter++
	return name
}

func (p *packer) newBatch() *batch {
	b := &batch{name: p.newName()}
	p.batches[b.name] = b
	return b
}

func (p *packer) setAvailable(name string, on bool) {
	i, found := slices.BinarySearch(p.available, name)
	switch {
	case on && !found:
		p.available = slices.Insert(p.available, i, name)
	case !on && found:
		p.available = slices.Delete(p.available, i, i+1)
	}
}

// fits reports whether a segment of n bytes of JSON can be announced at all.
func (p *packer) fits(n int) bool { return 2+n < p.maxBytes }

// placeOne places one segment and returns the batch whose data changed.
func (p *packer) placeOne(a *announced) *batch {
	for i := 0; i < len(p.available); {
		b := p.batches[p.available[i]]
		if b.sizeWith(len(a.json)) < p.maxBytes {
			b.add(a)
			if len(b.segs) >= p.perNode {
				p.available = slices.Delete(p.available, i, i+1)
			}
			return b
		}
		p.available = slices.Delete(p.available, i, i+1) // too full: Java drops it from the available set
	}
	b := p.newBatch()
	b.add(a)
	if p.perNode > 1 {
		p.setAvailable(b.name, true)
	}
	return b
}

// placeBulk places segments into new batches and returns them.
func (p *packer) placeBulk(as []*announced) []*batch {
	var out []*batch
	var cur *batch
	for _, a := range as {
		if cur == nil || len(cur.segs) >= p.perNode || cur.sizeWith(len(a.json)) >= p.maxBytes {
			cur = p.newBatch()
			out = append(out, cur)
		}
		cur.add(a)
	}
	return out
}

// remove takes a segment out of its batch and returns the batch, which is empty (to delete) or to rewrite.
func (p *packer) remove(a *announced) *batch {
	b := a.batch
	if b == nil {
		return nil
	}
	b.remove(a)
	if len(b.segs) == 0 {
		delete(p.batches, b.name)
		p.setAvailable(b.name, false)
	} else {
		p.setAvailable(b.name, true)
	}
	return b
}
