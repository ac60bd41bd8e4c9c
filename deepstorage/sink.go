package deepstorage

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// sink creates a segment's files in its directory, only through the directory's *os.Root, and keeps count: of the
// bytes written (never more than max), of the files (never more than maxFiles, each name once). It removes exactly
// the files it created when a pull fails or is retried, and nothing else: the caller's own files in the directory
// (Druid's downloadStartMarker) are never touched, and a segment file that would replace one is refused.
// It is safe for concurrent use.
type sink struct {
	root      *os.Root
	max       int64
	maxFiles  int
	writeback bool // start each file's writeback as it is written (startWriteback)

	written atomic.Int64

	mu    sync.Mutex
	names map[string]bool
	files []string
}

func newSink(root *os.Root, max int64, maxFiles int) *sink {
	return &sink{root: root, max: max, maxFiles: maxFiles, names: map[string]bool{}}
}

// ErrTooLarge matches (errors.Is) a pull whose files add up to more than the bytes it was allowed.
var ErrTooLarge = errors.New("segment larger than allowed")

// ErrInvalidArchive matches (errors.Is) a pull that failed because of what deep storage holds: a corrupt or
// truncated archive, an entry name that could escape the segment directory, a symlink, a duplicate. Retrying does
// not help; the segment has to be pushed again.
var ErrInvalidArchive = errors.New("invalid segment archive")

// checkName accepts the name of a file in a flat segment directory. Druid writes flat archives (version.bin,
// meta.smoosh, 00000.smoosh, factory.json, or druid.segment from format v10), so anything else is refused rather
// than interpreted: directories, absolute paths, "..", backslashes (a Windows separator), control characters.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("has an empty name")
	case strings.HasPrefix(name, "/"):
		return errors.New("is an absolute path")
	case name == "." || name == ".." || strings.HasPrefix(name, "../") || strings.HasSuffix(name, "/..") ||
		strings.Contains(name, "/../"):
		return errors.New("climbs out of the segment directory (..)")
	case strings.Contains(name, "\\"):
		return errors.New("contains a backslash")
	case strings.HasSuffix(name, "/"):
		return errors.New("is a directory; segment archives are flat")
	case strings.Contains(name, "/"):
		return errors.New("is inside a directory; segment archives are flat")
	case len(name) > 255:
		return errors.New("is longer than 255 bytes")
	case !utf8.ValidString(name):
		return errors.New("is not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// create makes a new file, refusing bad and duplicate names and names that exist in the directory already.
func (s *sink) create(name string) (*sinkFile, error) {
	if err := checkName(name); err != nil {
		return nil, invalidf("entry %q %v", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[name] {
		return nil, invalidf("entry %q appears twice", name)
	}
	if len(s.names) >= s.maxFiles {
		return nil, invalidf("it holds more than %d files (a segment has a handful)", s.maxFiles)
	}
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, invalidf("entry %q would replace a file already in the segment directory", name)
		}
		return nil, fmt.Errorf("creating %s in the segment directory: %w", name, err)
	}
	s.names[name] = true
	s.files = append(s.files, name)
	return &sinkFile{s: s, f: f, name: name}, nil
}

// add counts n more bytes, failing once the total exceeds the limit. It returns how many of the n fit.
func (s *sink) add(n int) (int, error) {
	total := s.written.Add(int64(n))
	if total <= s.max {
		return n, nil
	}
	fit := int64(n) - (total - s.max)
	if fit < 0 {
		fit = 0
	}
	return int(fit), s.tooLarge()
}

// tooLarge is the error of files adding up to more than the sink allows.
func (s *sink) tooLarge() error {
	return &kindError{kind: ErrTooLarge, msg: fmt.Sprintf("its files add up to more than the %d bytes "+
		"allowed (the room its cache location has): deep storage holds something else than this segment, "+
		"or a decompression bomb", s.max)}
}

// removeAll deletes every file the sink created, so that a retry starts from the directory as it was given.
func (s *sink) removeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, name := range s.files {
		if err := s.root.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.files, s.names = nil, map[string]bool{}
	s.written.Store(0)
	return errors.Join(errs...)
}

// result lists the files written and their bytes.
func (s *sink) result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Result{Files: append([]string(nil), s.files...), Bytes: s.written.Load()}
}

// sinkFile is a file being written. Its Write never lets the sink's total pass its limit.
type sinkFile struct {
	s    *sink
	f    *os.File
	name string
	n    int64
	sent int64 // the bytes from 0 whose writeback was started
}

// writebackChunk is how many bytes a file written in order gathers before their writeback is started: large enough
// for the disk to take them in a few large writes.
const writebackChunk = 8 << 20

func (w *sinkFile) Write(p []byte) (int, error) {
	fit, errLimit := w.s.add(len(p))
	n, err := w.f.Write(p[:fit])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", w.name, err)
	}
	if w.s.writeback && w.n-w.sent >= writebackChunk {
		startWriteback(w.f, w.sent, w.n-w.sent)
		w.sent = w.n
	}
	return n, errLimit
}

// WriteAt writes at an offset (parallel ranged downloads of one object); bytes are counted as for Write.
func (w *sinkFile) WriteAt(p []byte, off int64) (int, error) {
	fit, errLimit := w.s.add(len(p))
	n, err := w.f.WriteAt(p[:fit], off)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", w.name, err)
	}
	return n, errLimit
}

func (w *sinkFile) Close() error {
	if w.s.writeback {
		startWriteback(w.f, w.sent, 0) // to the end, whatever WriteAt wrote
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", w.name, err)
	}
	return nil
}

// kindError is an error with a message of its own that matches one of the package's sentinel errors.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// invalidf is a problem with what deep storage holds; it matches ErrInvalidArchive.
func invalidf(format string, args ...any) error {
	return &kindError{kind: ErrInvalidArchive, msg: fmt.Sprintf(format, args...)}
}
