package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// Upload records live in <root>/uploads/<id>.mpk, shared by every process
// like the rest of the store, so an upload can go on in any of them.

const uploadsDir = "uploads"

func (b *Backend) uploadPath(id string) string {
	return b.root + "/" + uploadsDir + "/" + id + recordExt
}

// CreateUpload writes a new upload record (no temp file: nobody knows the
// id yet).
func (b *Backend) CreateUpload(ctx context.Context, u *metadata.Upload) error {
	rec, err := metadata.EncodeUpload(u)
	if err != nil {
		return err
	}
	if err := b.writeNew(b.uploadPath(u.ID), rec); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: upload %s", metadata.ErrExist, u.ID)
		}
		return fmt.Errorf("mpk: create upload: %w", err)
	}
	return nil
}

func (b *Backend) readUpload(id string) (*metadata.Upload, cache.Stamp, error) {
	if err := validIDs(id); err != nil {
		return nil, cache.Stamp{}, err
	}
	fd, data, st, err := readFile(b.uploadPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, st, fmt.Errorf("%w: upload %s", metadata.ErrNotFound, id)
		}
		return nil, st, fmt.Errorf("mpk: %w", err)
	}
	unix.Close(fd)
	u, err := metadata.DecodeUpload(data)
	if err != nil {
		return nil, st, fmt.Errorf("mpk: upload %s: %w", id, err)
	}
	if u.ID != id {
		return nil, st, fmt.Errorf("mpk: %w: upload record %s names %s", metadata.ErrCorrupt, id, u.ID)
	}
	return u, st, nil
}

// ReadUpload reads an upload record from disk.
func (b *Backend) ReadUpload(ctx context.Context, id string) (*metadata.Upload, error) {
	u, _, err := b.readUpload(id)
	return u, err
}

// UpdateUpload changes an upload record under its lock (a stripe keyed by
// "uploads" and the id, so never the stripe of a node... or, rarely, the
// same stripe as some node, which only makes them wait for each other).
func (b *Backend) UpdateUpload(ctx context.Context, id string, fn func(*metadata.Upload) error) (*metadata.Upload, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	unlock, err := b.locks.lockNodes(ctx, uploadsDir, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, st, err := b.readUpload(id)
	if err != nil {
		return nil, err
	}
	u := old.Clone()
	if err := fn(u); err != nil {
		return nil, err
	}
	if u.ID != id {
		return nil, fmt.Errorf("mpk: UpdateUpload may not change the upload id")
	}
	rec, err := metadata.EncodeUpload(u)
	if err != nil {
		return nil, err
	}
	if err := b.replaceFile(b.uploadPath(id), rec, cache.NextAfter(st.Mtime), nil); err != nil {
		return nil, fmt.Errorf("mpk: update upload: %w", err)
	}
	return u, nil
}

// DeleteUpload removes an upload record.
func (b *Backend) DeleteUpload(ctx context.Context, id string) error {
	if err := validIDs(id); err != nil {
		return err
	}
	if err := unix.Unlink(b.uploadPath(id)); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: b.uploadPath(id), Err: err}
	}
	return nil
}

// ListUploads reads every upload record.
func (b *Backend) ListUploads(ctx context.Context, fn func(*metadata.Upload) error, bad func(string, error)) error {
	names, err := readDirNames(filepath.Join(b.root, uploadsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mpk: list uploads: %w", err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, ok := strings.CutSuffix(name, recordExt)
		if !ok || metadata.ValidateID(id) != nil {
			continue
		}
		u, _, err := b.readUpload(id)
		if errors.Is(err, metadata.ErrNotFound) {
			continue // finished meanwhile
		}
		if err != nil {
			if bad != nil {
				bad(id, err)
			}
			continue
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}
