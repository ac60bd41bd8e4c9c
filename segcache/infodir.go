package segcache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/druid-sidecar/druid-sidecar/segments"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// infoDir is druid.segmentCache.infoDir: one file per cached segment, named with its SegmentId string and holding
// its segments.DataSegment JSON, so that a restart knows what to announce. Files are written atomically (a temporary
// ".<segmentId>.<random>" file, fsync, rename, fsync of the directory), as Druid 36 does; files written by older
// Druids, which write in place, are read defensively.
type infoDir struct {
	path string
	root *os.Root
	dir  *os.File // the directory itself, kept open to fsync it
	fast *dirFD   // dir, read with raw system calls where they can (nil: through root)
	sync groupSync
}

func openInfoDir(path string) (*infoDir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("creating the segment info directory (druid.segmentCache.infoDir): %w", err)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("opening the segment info directory (druid.segmentCache.infoDir): %w", err)
	}
	dir, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("opening the segment info directory (druid.segmentCache.infoDir): %w", err)
	}
	d := &infoDir{path: path, root: root, dir: dir, fast: newDirFD(dir)}
	d.sync.f = dir.Sync
	return d, nil
}

func (d *infoDir) close() error { return errors.Join(d.dir.Close(), d.root.Close()) }

// tempName is the name of the temporary file a write goes through: a dot-file, so that readers skip it.
func tempName(name string) string {
	var b [8]byte
	rand.Read(b[:])
	suffix := "." + hex.EncodeToString(b[:])
	if len(name)+1+len(suffix) > maxNameBytes {
		name = name[:maxNameBytes-1-len(suffix)]
	}
	return "." + name + suffix
}

// write stores the segment's JSON under name atomically and durably.
func (d *infoDir) write(name string, seg *segments.DataSegment) error {
	tmp, err := d.stage(name, seg)
	if err != nil {
		return err
	}
	return d.commit(tmp, name)
}

// stage writes the segment's JSON to a durable temporary file for commit to rename into place: a load stages it
// while the segment's own files are being made durable, since a dot-file is no entry until it is renamed.
func (d *infoDir) stage(name string, seg *segments.DataSegment) (tmp string, err error) {
	data, err := seg.AppendJSON(nil)
	if err != nil {
		return "", fmt.Errorf("writing the info file of %s: %w", name, err)
	}
	tmp = tempName(name)
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("writing the info file of %s in %s: %w", name, d.path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		d.root.Remove(tmp)
		return "", fmt.Errorf("writing the info file of %s in %s: %w", name, d.path, err)
	}
	return tmp, nil
}

// commit renames a staged file to name and makes the rename durable; the staged file is gone either way.
func (d *infoDir) commit(tmp, name string) error {
	if err := d.root.Rename(tmp, name); err != nil {
		d.root.Remove(tmp)
		return fmt.Errorf("writing the info file of %s in %s: %w", name, d.path, err)
	}
	if err := d.sync.sync(); err != nil {
		return fmt.Errorf("writing the info file of %s: syncing %s: %w", name, d.path, err)
	}
	return nil
}

// discard removes a staged file that is not to be committed.
func (d *infoDir) discard(tmp string) { d.root.Remove(tmp) }

// remove deletes a segment's info file durably; a file that is not there is no error.
func (d *infoDir) remove(name string) error {
	if err := d.root.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("removing the info file of %s from %s: %w", name, d.path, err)
	}
	if err := d.sync.sync(); err != nil {
		return fmt.Errorf("removing the info file of %s: syncing %s: %w", name, d.path, err)
	}
	return nil
}

// infoEntry is one file of the info directory.
type infoEntry struct {
	name string
	temp bool // a dot-file: a temporary file left by a crash in the middle of a write
}

// list returns the directory's entries: its regular files, and every other entry not named with a leading '.'
// (a directory or a symbolic link where an info file should be is read like one, and fails as a read error, so
// that its segment is left alone rather than taken for an orphan). lost+found, which mkfs puts at the root of a
// volume mounted as the info directory, is not an entry.
func (d *infoDir) list() ([]infoEntry, error) {
	des, err := listNames(d.path)
	if err != nil {
		return nil, fmt.Errorf("reading the segment info directory: %w", err)
	}
	out := make([]infoEntry, 0, len(des))
	for _, de := range des {
		dot := strings.HasPrefix(de.Name(), ".")
		if !de.Type().IsRegular() && (dot || de.Name() == lostFound) {
			continue
		}
		out = append(out, infoEntry{name: de.Name(), temp: dot})
	}
	return out, nil
}

// read parses an info file. A file whose bytes are not a segments.DataSegment (Druid 35 and older write in place, so a
// crash can truncate one) is an error matching errUnreadableInfo; any other error is one of reading the file
// (permissions, the disk, a directory in its place), which says nothing about the segment.
func (d *infoDir) read(name string, buf []byte) (*segments.DataSegment, []byte, error) {
	buf, ok, err := d.fast.readFile(name, buf)
	if !ok {
		var f *os.File
		if f, err = d.root.Open(name); err != nil {
			return nil, buf, err
		}
		buf, err = readAll(f, buf[:0])
		f.Close()
	}
	if err != nil {
		return nil, buf, err
	}
	seg := new(segments.DataSegment)
	if err := seg.UnmarshalJSON(buf); err != nil {
		return nil, buf, fmt.Errorf("%w: %w", errUnreadableInfo, err)
	}
	if seg.DataSource == "" { // "null"
		return nil, buf, fmt.Errorf("%w: it holds null", errUnreadableInfo)
	}
	return seg, buf, nil
}

var errUnreadableInfo = errors.New("not a segments.DataSegment JSON (a truncated or corrupt info file)")

// readAll reads f to its end into buf, growing it as needed.
func readAll(f io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
	}
}

// groupSync is a group commit of one fsync: a caller whose change is made waits for an fsync that began after it,
// and callers that arrive while one runs share the next, so that loads ending together pay one directory fsync
// rather than one each, and a lone caller starts its own at once without waiting for company.
type groupSync struct {
	f func() error // the fsync

	mu        sync.Mutex
	cond      *sync.Cond
	running   bool
	waiting   int    // callers waiting for an fsync to end
	started   uint64 // fsyncs begun
	completed uint64 // fsyncs ended; they run one at a time, in order
	failed    uint64 // the last fsync that failed (0: none), and its error
	err       error
}

// sync returns once an fsync that began after the call has ended: the error is that fsync's or a later one's.
func (g *groupSync) sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	want := g.started + 1 // one running now may have begun before the caller's change
	for g.completed < want {
		if g.running {
			g.waiting++
			g.cond.Wait()
			g.waiting--
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := g.f()
		g.mu.Lock()
		g.running = false
		g.completed = n
		if err != nil {
			g.failed, g.err = n, err
		}
		g.cond.Broadcast()
	}
	if g.failed >= want {
		return g.err
	}
	return nil
}
