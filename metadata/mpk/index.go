package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// Space indexes live in <root>/indexes/<index>/<escaped key>/<space id>, one
// symlink per entry. They are derived from the space records: an update adds
// the entries of the new record before it writes it and removes the old
// record's stale entries after, so a crash can leave an extra entry but
// never miss one; readers check every entry against the record, so an extra
// one is never returned.

const indexesDir = "indexes"

func (b *Backend) indexDir(index metadata.SpaceIndex, key string) string {
	return filepath.Join(b.root, indexesDir, string(index), url.PathEscape(key))
}

// indexAdd enters s into every index under its current keys.
func (b *Backend) indexAdd(s *metadata.Space) error {
	now := time.Now().UnixNano()
	for _, idx := range metadata.SpaceIndexes {
		for _, k := range s.IndexKeys(idx, now) {
			dir := b.indexDir(idx, k)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("mpk: index: %w", err)
			}
			if err := os.Symlink(s.ID, filepath.Join(dir, s.ID)); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("mpk: index: %w", err)
			}
		}
	}
	return nil
}

// indexDrop removes the entries old had and cur (nil after a delete) has
// not.
func (b *Backend) indexDrop(old, cur *metadata.Space) {
	now := time.Now().UnixNano()
	for _, idx := range metadata.SpaceIndexes {
		var keep []string
		if cur != nil {
			keep = cur.IndexKeys(idx, now)
		}
		for _, k := range old.IndexKeys(idx, now) {
			if !slices.Contains(keep, k) {
				unix.Unlink(filepath.Join(b.indexDir(idx, k), old.ID))
			}
		}
	}
}

// SpacesBy reads an index and checks every entry against its record.
func (b *Backend) SpacesBy(ctx context.Context, index metadata.SpaceIndex, key string) ([]string, error) {
	if !slices.Contains(metadata.SpaceIndexes, index) {
		return nil, fmt.Errorf("mpk: unknown space index %q", index)
	}
	names, err := readDirNames(b.indexDir(index, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mpk: index %s: %w", index, err)
	}
	now := time.Now().UnixNano()
	var ids []string
	for _, id := range names {
		if metadata.ValidateID(id) != nil {
			continue
		}
		s, err := b.ReadSpace(ctx, id)
		if errors.Is(err, metadata.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(s.IndexKeys(index, now), key) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
