package posix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/pkg/xattr"

	"github.com/s3dfs/s3dfs/blobstore"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Put implements blobstore.Store: the body goes to a new file in .tmp/,
// the metadata to its xattr, then (after fsync, if configured) rename(2)
// publishes file and metadata together. Readers see the old blob or the
// new one, never a part; concurrent Puts of one key leave the last rename's
// blob.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts blobstore.PutOptions) (info blobstore.Info, err error) {
	p, err := s.path(key)
	if err != nil {
		return blobstore.Info{}, err
	}
	if err := blobstore.ValidateMetadata(opts.Metadata); err != nil {
		return blobstore.Info{}, err
	}
	if size < -1 {
		return blobstore.Info{}, fmt.Errorf("posix: put %s: size %d is neither a length nor -1", key, size)
	}
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: put %s: %w", key, err)
	}

	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: put %s: %w", key, err)
	}
	published := false
	defer func() {
		f.Close()
		if !published {
			os.Remove(f.Name())
		}
	}()

	n, err := copyBody(ctx, f, r, size)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return blobstore.Info{}, fmt.Errorf("posix: put %s: %w: body has %s, declared %d bytes",
			key, blobstore.ErrSizeMismatch, describeLen(n, size), size)
	}
	fi, err := s.seal(ctx, "put", f, p, key, opts.Metadata)
	if err != nil {
		return blobstore.Info{}, err
	}
	published = true
	return blobstore.Info{Key: key, Size: n, ModTime: fi.ModTime()}, nil
}

// seal finishes a temp file that holds a blob's bytes (written by Put, Copy
// or CompleteMultipart): it sets the metadata xattr and the file mode,
// fsyncs when configured, and publishes the file under key, whose path is
// p. The caller removes the temp file if seal fails.
func (s *Store) seal(ctx context.Context, op string, f *os.File, p, key string, md map[string]string) (fs.FileInfo, error) {
	if len(md) > 0 {
		// No HTML escaping: it would turn one '<' into six bytes, and a
		// value that passes ValidateMetadata must fit the xattr.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(md); err != nil {
			return nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
		}
		if err := xattr.FSet(f, metaAttr, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); err != nil {
			return nil, fmt.Errorf("posix: %s %s: metadata: %w", op, key, err)
		}
	}
	if err := f.Chmod(s.opts.FileMode); err != nil {
		return nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
	}
	if s.opts.Fsync {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
	}
	// The last moment a cancellation can still undo the operation.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("posix: %s %s: %w", op, key, err)
	}
	if err := s.publish(op, f.Name(), p, key); err != nil {
		return nil, err
	}
	return fi, nil
}

func describeLen(n, size int64) string {
	if n > size {
		return "more"
	}
	return fmt.Sprintf("%d", n)
}

// copyBody copies r to w, checking ctx between chunks. With a known size
// it reads at most size+1 bytes: enough to tell a long body from a right
// one without draining an endless reader.
func copyBody(ctx context.Context, w io.Writer, r io.Reader, size int64) (int64, error) {
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, err := w.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("read body: %w", rerr)
		}
	}
}

// publish renames the finished temp file to its key's path, creating the
// parent directories. A concurrent Delete may remove a parent that is
// momentarily empty between our mkdir and rename (see pruneDirs), so an
// ENOENT from mkdir or rename means "create the parents again", a bounded
// number of times.
func (s *Store) publish(op, tmp, p, key string) error {
	dir := filepath.Dir(p)
	for attempt := 0; ; attempt++ {
		created, err := s.mkdirs(dir)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) && attempt < 10 {
				continue // a parent we just made was pruned already
			}
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
				return fmt.Errorf("posix: %s %s: %w: a parent of the key is a blob itself (this store cannot hold both \"a\" and \"a/b\")",
					op, key, blobstore.ErrInvalidKey)
			}
			return fmt.Errorf("posix: %s %s: %w", op, key, err)
		}
		err = os.Rename(tmp, p)
		switch {
		case err == nil:
			return s.syncDirs(append(created, dir))
		case errors.Is(err, syscall.ENOENT) && attempt < 10:
			continue
		case errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			// An empty directory left by a racing Delete would go with a
			// retry; one holding blobs is a real conflict.
			if syscall.Rmdir(p) == nil && attempt < 10 {
				continue
			}
			return fmt.Errorf("posix: %s %s: %w: other keys start with %q (this store cannot hold both \"a\" and \"a/b\")",
				op, key, blobstore.ErrInvalidKey, key+"/")
		default:
			return fmt.Errorf("posix: %s %s: %w", op, key, err)
		}
	}
}

// mkdirs creates dir and its missing parents below the blobs directory and
// returns the parents of the directories it created (which need an fsync
// for the new entries to be durable). ENOENT means a concurrent Delete
// pruned a parent meanwhile; EEXIST or ENOTDIR that a blob is in the way.
func (s *Store) mkdirs(dir string) ([]string, error) {
	if dir == s.blobs {
		return nil, nil
	}
	err := os.Mkdir(dir, s.opts.DirMode)
	switch {
	case err == nil:
		return []string{filepath.Dir(dir)}, nil
	case errors.Is(err, fs.ErrExist):
		return nil, existingDir(dir)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	created, err := s.mkdirs(filepath.Dir(dir))
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, s.opts.DirMode); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return created, existingDir(dir)
	}
	return append(created, filepath.Dir(dir)), nil
}

// existingDir checks, after mkdir said EEXIST, that dir is a directory. It
// may have been pruned since (ENOENT) or be a blob (EEXIST).
func existingDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.EEXIST}
	}
	return nil
}

// syncDirs makes new directory entries durable when Fsync is on.
func (s *Store) syncDirs(dirs []string) error {
	if !s.opts.Fsync {
		return nil
	}
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return fmt.Errorf("posix: sync %s: %w", d, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("posix: sync %s: %w", d, err)
		}
	}
	return nil
}
