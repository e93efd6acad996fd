package mpk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// Record files are read and written with raw system calls: this is the
// cold-read path of every cache miss, and os.File costs allocations and a
// poller registration that buy nothing for a file read once.

const openRead = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW

// readFile reads a whole small file and the stamp it had before the read.
// A missing file gives an error satisfying errors.Is(err, fs.ErrNotExist).
func readFile(path string) (int, []byte, cache.Stamp, error) {
	fd, err := openRetry(path, openRead, 0)
	if err != nil {
		return -1, nil, cache.Stamp{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, cache.Stamp{}, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Size > metadata.MaxReadSize {
		unix.Close(fd)
		return -1, nil, cache.Stamp{}, fmt.Errorf("%w: %s is %d bytes", metadata.ErrCorrupt, path, st.Size)
	}
	// One byte more than the stamp's size: a record that grew between the
	// fstat and the read (it never does: records are replaced, not
	// rewritten) would show as trailing data rather than be cut short.
	buf := make([]byte, st.Size+1)
	n, err := readFull(fd, buf)
	if err != nil {
		unix.Close(fd)
		return -1, nil, cache.Stamp{}, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return fd, buf[:n], cache.StampOf(&st), nil
}

func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Pread(fd, buf[n:], int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

func openRetry(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags, mode)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// readNodeFile reads a node record with its tree values. The stamp is taken
// before anything is read, so the result is never older than its stamp.
func (b *Backend) readNodeFile(path, sid, id string) (*metadata.Node, error) {
	fd, data, st, err := b.readRecord(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: node %s", metadata.ErrNotFound, id)
		}
		return nil, fmt.Errorf("mpk: %w", err)
	}
	defer unix.Close(fd)
	n, err := metadata.DecodeNode(data)
	if err != nil {
		return nil, fmt.Errorf("mpk: %s: %w", path, err)
	}
	if n.ID != id || n.SpaceID != sid {
		return nil, fmt.Errorf("mpk: %s: %w: record names node %s of space %s", path, metadata.ErrCorrupt, n.ID, n.SpaceID)
	}
	if n.Type == metadata.TypeDir {
		if n.Tree, err = getTree(fd); err != nil {
			return nil, fmt.Errorf("mpk: %s: %w", path, err)
		}
	}
	n.Stamp = st
	n.Seal()
	return n, nil
}

// The tree xattr holds a folder's propagated values in 17 bytes: a format
// byte (1), then tree size and tree mtime as little-endian int64. A folder
// without the attribute has an empty tree.
const treeFormat = 1

func encodeTree(t metadata.TreeStats) []byte {
	var b [17]byte
	b[0] = treeFormat
	binary.LittleEndian.PutUint64(b[1:], uint64(t.Size))
	binary.LittleEndian.PutUint64(b[9:], uint64(t.Mtime))
	return b[:]
}

func decodeTree(b []byte) (metadata.TreeStats, error) {
	if len(b) != 17 || b[0] != treeFormat {
		return metadata.TreeStats{}, fmt.Errorf("%w: tree attribute of %d bytes, format %v", metadata.ErrCorrupt, len(b), b[:min(1, len(b))])
	}
	return metadata.TreeStats{
		Size:  int64(binary.LittleEndian.Uint64(b[1:])),
		Mtime: int64(binary.LittleEndian.Uint64(b[9:])),
	}, nil
}

func getTree(fd int) (metadata.TreeStats, error) {
	var b [32]byte
	n, err := unix.Fgetxattr(fd, treeXattr, b[:])
	if errors.Is(err, unix.ENODATA) {
		return metadata.TreeStats{}, nil
	}
	if err != nil {
		return metadata.TreeStats{}, fmt.Errorf("get tree attribute: %w", err)
	}
	return decodeTree(b[:n])
}

// futimes sets the mtime of an open file and leaves its atime: futimens(3),
// which is utimensat(2) with a NULL path.
func futimes(fd int, mtime int64) error {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime)}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// utimes sets the mtime of the file at path and leaves its atime.
func utimes(path string, mtime int64) error {
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// writeNew creates a file that must not exist yet and writes b into it, with
// no temp file: nobody can read a record whose node is not linked yet. A
// missing shard directory is created on the way.
func (b *Backend) writeNew(path string, data []byte) error {
	fd, err := openRetry(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.ENOENT) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		fd, err = openRetry(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}
	if err := b.writeAndClose(fd, path, data); err != nil {
		unix.Unlink(path)
		return err
	}
	return nil
}

func (b *Backend) writeAndClose(fd int, path string, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: path, Err: err}
		}
		data = data[n:]
	}
	if b.opts.Durability == DurabilityFsync {
		if err := unix.Fdatasync(fd); err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "fdatasync", Path: path, Err: err}
		}
	}
	return unix.Close(fd)
}

// replaceFile atomically replaces the file at path with data: a temp file in
// the same directory, renamed over the old one, so readers see the old or
// the new version, never a mix. The new version's mtime is set to mtime (a
// value no earlier version had), and tree, if not nil, is carried over as
// the tree attribute.
func (b *Backend) replaceFile(path string, data []byte, mtime int64, tree []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+uuid.NewString()[:8]+tmpSuffix)
	fd, err := openRetry(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	fail := func(op string, err error) error {
		unix.Close(fd)
		unix.Unlink(tmp)
		return &os.PathError{Op: op, Path: tmp, Err: err}
	}
	if tree != nil {
		if err := unix.Fsetxattr(fd, treeXattr, tree, 0); err != nil {
			return fail("setxattr", err)
		}
	}
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fail("write", err)
		}
		rest = rest[n:]
	}
	if err := futimes(fd, mtime); err != nil {
		return fail("utimes", err)
	}
	if b.opts.Durability == DurabilityFsync {
		if err := unix.Fdatasync(fd); err != nil {
			return fail("fdatasync", err)
		}
	}
	if err := unix.Close(fd); err != nil {
		unix.Unlink(tmp)
		return &os.PathError{Op: "close", Path: tmp, Err: err}
	}
	if err := os.Rename(tmp, path); err != nil {
		unix.Unlink(tmp)
		return err
	}
	return b.syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries durable, if durability asks for it.
func (b *Backend) syncDir(dir string) error {
	if b.opts.Durability != DurabilityFsync {
		return nil
	}
	fd, err := openRetry(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// bumpDir gives a folder directory a new mtime that no earlier version of it
// had, after an entry in it changed or a child's record did: this is what
// makes a cached listing of the folder stale in every process. Callers of
// folder bumps hold the folder's lock, so the read-then-set cannot race
// another bump; the namespace file is bumped without one, which is safe
// because NextAfter never hands out a value twice in a process, and a
// stamp only has to differ from every earlier one, not to grow.
func (b *Backend) bumpMtime(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	if err := utimes(dir, cache.NextAfter(st.Mtim.Nano())); err != nil {
		return &os.PathError{Op: "utimes", Path: dir, Err: err}
	}
	return nil
}

func closeFD(fd int) { unix.Close(fd) }

// Node records are kept either as the content of their .mpk file (the
// default) or, with Options.RecordsInXattr, in the extended attribute
// user.s3dfs.rec of that (then empty) file: the metadata/xattr backend,
// kept for comparison. The three functions below are the only places that
// know which; space and upload records are always file contents.

const recXattr = "user.s3dfs.rec"

// readRecord reads a node record's bytes, with the stamp its file had
// before the read, and returns the open descriptor for further reads.
func (b *Backend) readRecord(path string) (int, []byte, cache.Stamp, error) {
	if !b.opts.RecordsInXattr {
		return readFile(path)
	}
	fd, err := openRetry(path, openRead, 0)
	if err != nil {
		return -1, nil, cache.Stamp{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, cache.Stamp{}, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	buf := make([]byte, 4096)
	for {
		n, err := unix.Fgetxattr(fd, recXattr, buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < metadata.MaxRecordSize {
			buf = make([]byte, 4*len(buf))
			continue
		}
		if errors.Is(err, unix.ENODATA) {
			n, err = 0, nil // an empty record: decoding reports it as corrupt
		}
		if err != nil {
			unix.Close(fd)
			return -1, nil, cache.Stamp{}, &os.PathError{Op: "getxattr", Path: path, Err: err}
		}
		return fd, buf[:n], cache.StampOf(&st), nil
	}
}

// createRecord stores the record of a new node at path, which must not
// exist.
func (b *Backend) createRecord(path string, data []byte) error {
	if !b.opts.RecordsInXattr {
		return b.writeNew(path, data)
	}
	if err := b.writeNew(path, nil); err != nil {
		return err
	}
	if err := b.setRecordXattr(path, data, 0); err != nil {
		unix.Unlink(path)
		return err
	}
	return nil
}

// replaceRecord replaces a record atomically for readers and gives its
// file a new mtime. In a file, that takes a temp file and rename(2) (and
// carries the tree attribute over); in an extended attribute, one
// setxattr(2) in place, which is atomic by itself and creates no inode.
func (b *Backend) replaceRecord(path string, data []byte, mtime int64, tree []byte) error {
	if !b.opts.RecordsInXattr {
		return b.replaceFile(path, data, mtime, tree)
	}
	err := b.setRecordXattr(path, data, mtime)
	if errors.Is(err, fs.ErrNotExist) {
		// A space root being created (the one record replaced that may
		// not exist yet): its file first.
		if err := b.writeNew(path, nil); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		err = b.setRecordXattr(path, data, mtime)
	}
	return err
}

func (b *Backend) setRecordXattr(path string, data []byte, mtime int64) error {
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, recXattr, data, 0); err != nil {
		if errors.Is(err, unix.E2BIG) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.ERANGE) {
			return fmt.Errorf("%w: a record of %d bytes does not fit in an extended attribute here (%v); use the file backend",
				metadata.ErrTooLarge, len(data), err)
		}
		return &os.PathError{Op: "setxattr", Path: path, Err: err}
	}
	if mtime != 0 {
		if err := futimes(fd, mtime); err != nil {
			return &os.PathError{Op: "utimes", Path: path, Err: err}
		}
	}
	if b.opts.Durability == DurabilityFsync {
		if err := unix.Fsync(fd); err != nil {
			return &os.PathError{Op: "fsync", Path: path, Err: err}
		}
	}
	return nil
}
