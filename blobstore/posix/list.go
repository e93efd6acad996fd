package posix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/blobstore"
)

// List implements blobstore.Store by a depth-first walk that holds one
// directory's entries per level.
//
// Sorting each directory by name is not enough for byte order of whole
// keys: in one directory the file "a-c" and the directory "a" (holding
// "a/b") sort as "a" < "a-c", but the keys sort as "a-c" < "a/b" because
// '-' (0x2d) is less than '/' (0x2f). So entries are sorted by the string
// that every key below them starts with: the name for a file, the name
// plus "/" for a directory. No such string is a proper prefix of another
// unless it is a file's whole key, which then sorts first, as it should.
func (s *Store) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	if err := blobstore.ValidatePrefix(prefix); err != nil {
		return err
	}
	// "a/b/c" is listed from the directory a/b, keeping names that start
	// with "c"; everything below a kept directory matches.
	dirKey, namePrefix := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey, namePrefix = prefix[:i+1], prefix[i+1:]
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(dirKey, "/"), "/") {
		if len(seg) > nameMax {
			return nil // no such directory can exist
		}
	}
	dir := filepath.Join(s.blobs, filepath.FromSlash(dirKey))
	err := s.walk(ctx, dir, dirKey, namePrefix, fn)
	if errors.Is(err, errCtx) {
		return fmt.Errorf("posix: list %s*: %w", prefix, ctx.Err())
	}
	return err
}

var errCtx = errors.New("context done")

type entry struct {
	name    string
	sortKey string // name, plus "/" for a directory
	dir     bool
}

func (s *Store) walk(ctx context.Context, dir, keyPrefix, namePrefix string, fn func(blobstore.Info) error) error {
	entries, err := readDir(dir, namePrefix)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return errCtx
		}
		key := keyPrefix + e.name
		if e.dir {
			if err := s.walk(ctx, filepath.Join(dir, e.name), key+"/", "", fn); err != nil {
				return err
			}
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, e.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since readdir
		}
		if err != nil {
			return fmt.Errorf("posix: list: %w", err)
		}
		if err := fn(blobstore.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// readDir returns the entries of dir whose names start with namePrefix and
// can be part of a key, in key order. A missing dir (never created, or
// pruned by a concurrent Delete) or one that is a file has no entries.
func readDir(dir, namePrefix string) ([]entry, error) {
	f, err := os.Open(dir)
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("posix: list: %w", err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		if missing(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("posix: list: %w", err)
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if !strings.HasPrefix(name, namePrefix) || blobstore.ValidateKey(name) != nil {
			continue // foreign files with names no key can have
		}
		switch {
		case de.IsDir():
			entries = append(entries, entry{name: name, sortKey: name + "/", dir: true})
		case de.Type().IsRegular():
			entries = append(entries, entry{name: name, sortKey: name})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	return entries, nil
}
