package deepstorage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// local pulls a "local" load spec: a directory of segment files (druid.storage.zip=false), an index.zip, or a .gz
// file. Like Druid's LocalDataSegmentPuller, subdirectories of a directory are skipped. The source is read
// directly (it is the operator's own storage); only the destination is confined to the segment directory.
func (pl *pull) local(src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &kindError{kind: ErrNotFound, msg: fmt.Sprintf("%s does not exist (local deep storage: is "+
				"druid.storage.storageDirectory mounted on this host?)", src)}
		}
		return fmt.Errorf("local deep storage: %w", err)
	}
	switch {
	case fi.IsDir():
		return pl.localDir(src)
	case strings.HasSuffix(src, ".zip"):
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("local deep storage: %w", err)
		}
		defer f.Close()
		if err := pl.checkObjectSize(fi.Size()); err != nil {
			return pl.wrapArchive(src, err)
		}
		return pl.wrapArchive(src, unzipAt(ctxReaderAt{ctx: pl.ctx, r: f}, fi.Size(), pl.sink))
	case strings.HasSuffix(src, ".gz"):
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("local deep storage: %w", err)
		}
		defer f.Close()
		name := strings.TrimSuffix(filepath.Base(src), ".gz")
		if name == "" {
			return &kindError{kind: ErrInvalidArchive, msg: fmt.Sprintf("%s: the file name is only .gz", src)}
		}
		return pl.wrapArchive(src, gunzip(ctxReader{ctx: pl.ctx, r: f}, pl.sink, name))
	}
	return &kindError{kind: ErrInvalidArchive, msg: fmt.Sprintf("%s is neither a directory, a .zip nor a .gz file, "+
		"so there is no way to load it", src)}
}

func (pl *pull) localDir(src string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("local deep storage: %w", err)
	}
	copied := 0
	buf := make([]byte, 256<<10)
	for _, e := range entries {
		p := filepath.Join(src, e.Name())
		fi, err := os.Stat(p) // follows symlinks, as Java's File does
		if err != nil {
			return fmt.Errorf("local deep storage: %w", err)
		}
		if fi.IsDir() {
			pl.p.log.Info("skipping a subdirectory of a local segment directory", "path", p)
			continue
		}
		if !fi.Mode().IsRegular() {
			pl.p.log.Warn("skipping a special file in a local segment directory", "path", p, "mode", fi.Mode())
			continue
		}
		if err := pl.copyLocal(p, e.Name(), buf); err != nil {
			return err
		}
		copied++
	}
	if copied == 0 {
		return &kindError{kind: ErrNotFound, msg: fmt.Sprintf("%s holds no files (local deep storage)", src)}
	}
	return nil
}

func (pl *pull) copyLocal(src, name string, buf []byte) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("local deep storage: %w", err)
	}
	defer in.Close()
	out, err := pl.sink.create(name)
	if err != nil {
		return pl.wrapArchive(filepath.Dir(src), err)
	}
	_, _, rerr, werr := copyData(out, ctxReader{ctx: pl.ctx, r: in}, buf)
	if err := errors.Join(werr, out.Close()); err != nil {
		return pl.wrapArchive(filepath.Dir(src), err)
	}
	if rerr != nil {
		if pl.ctx.Err() != nil {
			return ctxError(pl.ctx, src)
		}
		return fmt.Errorf("local deep storage: reading %s: %w", src, rerr)
	}
	return nil
}

// ctxReader stops reading once the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, ctxError(c.ctx, "local deep storage")
	}
	return c.r.Read(p)
}

type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, ctxError(c.ctx, "local deep storage")
	}
	return c.r.ReadAt(p, off)
}
