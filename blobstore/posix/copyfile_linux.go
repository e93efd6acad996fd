package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// cloneFile makes dst, an empty file, a copy of the first size bytes of
// src, which has exactly size bytes: a reflink where the file system can
// share extents, an in-kernel copy otherwise.
func cloneFile(ctx context.Context, dst, src *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	err := withFds(dst, src, func(dfd, sfd int) error { return unix.IoctlFileClone(dfd, sfd) })
	if err == nil {
		return nil
	}
	// ext4, tmpfs, NFS and the like do not reflink (EOPNOTSUPP, EINVAL,
	// EXDEV, ENOTTY): the kernel copy below is the usual path there.
	return copyRange(ctx, dst, 0, src, size)
}

// copyRange copies the first size bytes of src to dst at dstOff with
// copy_file_range(2), which keeps the bytes in the kernel (and shares
// extents or copies on the server where the file system can), falling back
// to a read/write loop where the kernel refuses.
func copyRange(ctx context.Context, dst *os.File, dstOff int64, src *os.File, size int64) error {
	var done int64
	for done < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		var n int
		err := withFds(dst, src, func(dfd, sfd int) error {
			roff, woff := done, dstOff+done
			var err error
			n, err = unix.CopyFileRange(sfd, &roff, dfd, &woff, int(min(size-done, copyChunk)), 0)
			return err
		})
		if err != nil {
			if kernelCannotCopy(err) {
				return copyPlain(ctx, dst, dstOff+done, src, done, size-done)
			}
			return fmt.Errorf("copy_file_range: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("copy: source ended after %d of %d bytes: %w", done, size, io.ErrUnexpectedEOF)
		}
		done += int64(n)
	}
	return nil
}

// kernelCannotCopy reports the copy_file_range errors that mean "not
// between these files" rather than an I/O failure: no such system call
// (old kernels, seccomp filters), different file systems, or a file system
// without support. The list follows the Go runtime's own fallback.
func kernelCannotCopy(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.EXDEV, unix.EINVAL, unix.EOPNOTSUPP, unix.EPERM, unix.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// withFds runs fn with the descriptors of dst and src, which stay open
// while it runs.
func withFds(dst, src *os.File, fn func(dfd, sfd int) error) error {
	dc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	cerr := dc.Control(func(dfd uintptr) {
		if err := sc.Control(func(sfd uintptr) { fnErr = fn(int(dfd), int(sfd)) }); err != nil {
			fnErr = err
		}
	})
	if cerr != nil {
		return cerr
	}
	return fnErr
}
