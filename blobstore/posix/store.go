package posix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/xattr"

	"github.com/s3dfs/s3dfs/blobstore"
)

const (
	tmpDir   = ".tmp"
	blobsDir = "blobs"
	// metaAttr holds a blob's metadata as a JSON object. It is absent when
	// the blob has none.
	metaAttr = "user.s3dfs.meta"
	// nameMax is the longest file name Linux file systems take (NAME_MAX).
	nameMax = 255
)

// Store keeps blobs as files below a local directory. It is safe for
// concurrent use, also by several processes sharing the directory.
type Store struct {
	root    string // absolute
	tmp     string // root/.tmp
	blobs   string // root/blobs
	uploads string // root/.uploads
	opts    Options
}

var _ blobstore.Store = (*Store)(nil)

// New opens the store in dir, creating dir and its layout if needed, and
// checks that the file system keeps user extended attributes (the metadata
// lives there). It deletes temp files older than opts.StaleTempAge.
// Multipart uploads are never swept: they end by CompleteMultipart or
// AbortMultipart only.
func New(dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("posix: %w", err)
	}
	s := &Store{
		root:    root,
		tmp:     filepath.Join(root, tmpDir),
		blobs:   filepath.Join(root, blobsDir),
		uploads: filepath.Join(root, uploadsDir),
		opts:    opts,
	}
	for _, d := range []string{root, s.tmp, s.blobs, s.uploads} {
		if err := os.MkdirAll(d, opts.DirMode); err != nil {
			return nil, fmt.Errorf("posix: %w", err)
		}
	}
	if err := s.probeXattr(); err != nil {
		return nil, err
	}
	if opts.StaleTempAge > 0 {
		if err := s.sweepTemp(time.Now().Add(-opts.StaleTempAge)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// probeXattr fails clearly on file systems without user xattrs (some
// tmpfs, some NFS setups) instead of at the first Put with metadata.
func (s *Store) probeXattr() error {
	f, err := os.CreateTemp(s.tmp, "probe-*")
	if err != nil {
		return fmt.Errorf("posix: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := xattr.FSet(f, metaAttr, []byte("{}")); err != nil {
		return fmt.Errorf("posix: %s cannot store user extended attributes, which hold blob metadata: %w", s.root, err)
	}
	return nil
}

func (s *Store) sweepTemp(before time.Time) error {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return fmt.Errorf("posix: sweep: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			continue // gone already, or maybe still being written
		}
		// RemoveAll: a discarded upload directory may be among them.
		if err := os.RemoveAll(filepath.Join(s.tmp, e.Name())); err != nil {
			return fmt.Errorf("posix: sweep: %w", err)
		}
	}
	return nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.root }

// path validates key and returns its file name. Beyond
// blobstore.ValidateKey it refuses segments longer than a file name can be.
func (s *Store) path(key string) (string, error) {
	if err := blobstore.ValidateKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > nameMax {
			return "", fmt.Errorf("%w: %q has a segment longer than %d bytes, the longest file name", blobstore.ErrInvalidKey, key, nameMax)
		}
	}
	return filepath.Join(s.blobs, filepath.FromSlash(key)), nil
}

// missing reports whether err from opening or removing a blob path means
// that there is no such blob: the file or a parent is missing, or a parent
// is a file ("a/b" when "a" is a blob).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// openBlob opens the blob file of key, or returns ErrNotFound. A directory
// (the parent of other keys) is not a blob.
func (s *Store) openBlob(op, key string) (*os.File, fs.FileInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, nil, err
	}
	// O_NOFOLLOW: a symlink someone put below blobs/ is not a blob and must
	// not lead out of the store.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if missing(err) || errors.Is(err, syscall.ELOOP) {
		return nil, nil, fmt.Errorf("posix: %s %s: %w", op, key, blobstore.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("posix: %s %s: %w", op, key, blobstore.ErrNotFound)
	}
	return f, fi, nil
}

// Open implements blobstore.Store. The reader reads the open file, so it
// keeps seeing the blob it opened even if a Put replaces or a Delete
// removes the key meanwhile.
func (s *Store) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if offset < 0 || length < -1 {
		if _, err := s.path(key); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("posix: open %s: offset %d, length %d: %w", key, offset, length, blobstore.ErrRangeNotSatisfiable)
	}
	f, fi, err := s.openBlob("open", key)
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if offset > size || offset == size && size > 0 {
		f.Close()
		return nil, fmt.Errorf("posix: open %s: offset %d of %d bytes: %w", key, offset, size, blobstore.ErrRangeNotSatisfiable)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	return &blobReader{SectionReader: io.NewSectionReader(f, offset, n), f: f}, nil
}

type blobReader struct {
	*io.SectionReader
	f *os.File
}

func (r *blobReader) Close() error { return r.f.Close() }

// Stat implements blobstore.Store. Size and metadata come from one open
// file, so they always belong to the same blob.
func (s *Store) Stat(ctx context.Context, key string) (blobstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, err
	}
	f, fi, err := s.openBlob("stat", key)
	if err != nil {
		return blobstore.Info{}, err
	}
	defer f.Close()
	md, err := readMetadata(f)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: stat %s: %w", key, err)
	}
	return blobstore.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Metadata: md}, nil
}

func readMetadata(f *os.File) (map[string]string, error) {
	raw, err := xattr.FGet(f, metaAttr)
	if errors.Is(err, xattr.ENOATTR) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	md := map[string]string{}
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("corrupt metadata attribute %s: %w", metaAttr, err)
	}
	return md, nil
}

// Delete implements blobstore.Store. It then removes the parent
// directories that became empty, up to the blobs directory, so that
// deleted keys leave no trace and a directory never blocks a later Put of
// a key with its name. Delete does not fsync: a crash may bring a deleted
// blob back, which is harmless for immutable blobs.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(key)
	if err != nil {
		return err
	}
	// unlink(2), unlike os.Remove, never removes a directory: the key "a"
	// does not exist just because "a/b" does.
	err = syscall.Unlink(p)
	if err != nil && !missing(err) && !errors.Is(err, syscall.EISDIR) {
		return fmt.Errorf("posix: delete %s: %w", key, &fs.PathError{Op: "unlink", Path: p, Err: err})
	}
	s.pruneDirs(filepath.Dir(p))
	return nil
}

// pruneDirs removes dir and its parents while they are empty. A concurrent
// Put that just created one of them retries its rename (see Put).
func (s *Store) pruneDirs(dir string) {
	for dir != s.blobs && strings.HasPrefix(dir, s.blobs+string(filepath.Separator)) {
		if syscall.Rmdir(dir) != nil {
			return // not empty, or gone: either way, done
		}
		dir = filepath.Dir(dir)
	}
}
