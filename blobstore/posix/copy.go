package posix

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/s3dfs/s3dfs/blobstore"
)

var _ blobstore.Copier = (*Store)(nil)

// Copy implements blobstore.Copier. The new blob is a new inode: a reflink
// (FICLONE) of the source where the file system shares extents (btrfs, XFS,
// bcachefs), otherwise an in-kernel copy_file_range(2) (server-side copy on
// NFS 4.2, a plain kernel copy on ext4), and a read/write loop where neither
// works. It gets its metadata xattr and goes through the same rename as a
// Put, so it is atomic like one.
//
// A hard link would be cheaper still (blobs are immutable), but a link
// shares the inode and with it the xattr that holds the metadata: setting
// the copy's metadata would rewrite the source's, and Copy promises to
// leave the source alone.
//
// The bytes come from the source file Copy opened, so a concurrent
// overwrite or Delete of src yields a copy of the blob as it was when Copy
// started.
func (s *Store) Copy(ctx context.Context, src, dst string, opts blobstore.PutOptions) (blobstore.Info, error) {
	dp, err := s.path(dst)
	if err != nil {
		return blobstore.Info{}, err
	}
	if _, err := s.path(src); err != nil {
		return blobstore.Info{}, err
	}
	if src == dst {
		return blobstore.Info{}, fmt.Errorf("posix: copy %s: %w: source and destination are the same blob", src, blobstore.ErrInvalidKey)
	}
	if err := blobstore.ValidateMetadata(opts.Metadata); err != nil {
		return blobstore.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: copy %s: %w", src, err)
	}
	in, fi, err := s.openBlob("copy", src)
	if err != nil {
		return blobstore.Info{}, err
	}
	defer in.Close()

	f, err := os.CreateTemp(s.tmp, "copy-*")
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: copy %s: %w", src, err)
	}
	published := false
	defer func() {
		f.Close()
		if !published {
			os.Remove(f.Name())
		}
	}()
	if err := cloneFile(ctx, f, in, fi.Size()); err != nil {
		return blobstore.Info{}, fmt.Errorf("posix: copy %s to %s: %w", src, dst, err)
	}
	sealed, err := s.seal(ctx, "copy", f, dp, dst, opts.Metadata)
	if err != nil {
		return blobstore.Info{}, err
	}
	published = true
	return blobstore.Info{Key: dst, Size: sealed.Size(), ModTime: sealed.ModTime()}, nil
}

// copyChunk bounds one copy_file_range call, so that ctx is looked at
// every few tens of milliseconds during a long copy.
const copyChunk = 64 << 20

// copyPlain copies size bytes from src at srcOff to dst at dstOff through
// a buffer, checking ctx between chunks: the fallback where the kernel
// cannot copy between the two files itself.
func copyPlain(ctx context.Context, dst *os.File, dstOff int64, src *os.File, srcOff, size int64) error {
	n, err := copyBody(ctx, io.NewOffsetWriter(dst, dstOff), io.NewSectionReader(src, srcOff, size), size)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("copy: source ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	return nil
}
