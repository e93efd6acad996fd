package cache

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Stamp identifies one version of a file as stat(2) reports it. Two stamps
// of the same path are equal only if the file was not replaced (device and
// inode), not resized, and neither its data nor its inode changed in a way
// the clocks could see (mtime and ctime in nanoseconds).
//
// Writers in s3dfs make every change visible in the stamp even where the
// filesystem clock is coarse: they set the mtime explicitly to a value that
// no earlier version of the file carried (see [NextTime]).
type Stamp struct {
	Dev   uint64
	Ino   uint64
	Size  int64
	Mtime int64 // ns since the Unix epoch
	Ctime int64 // ns since the Unix epoch
}

// IsZero reports whether s is the zero Stamp (no file).
func (s Stamp) IsZero() bool { return s == Stamp{} }

func (s Stamp) String() string {
	return fmt.Sprintf("dev=%d ino=%d size=%d mtime=%d ctime=%d", s.Dev, s.Ino, s.Size, s.Mtime, s.Ctime)
}

// StampOf converts a stat result.
func StampOf(st *unix.Stat_t) Stamp {
	return Stamp{
		Dev:   uint64(st.Dev),
		Ino:   st.Ino,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
	}
}

// Path is a file path prepared for allocation-free stat calls, absolute or
// relative to an open Dir. The zero Path is invalid. It holds the path
// once, NUL-terminated (paths are a large part of a cache entry's memory).
type Path struct {
	dir *Dir   // nil: c is absolute
	c   []byte // the path followed by a NUL byte
}

// NewPath prepares p. It panics if p contains a NUL byte, which no path
// built by s3dfs can (names are validated before they become paths).
func NewPath(p string) Path { return Path{c: cstring(p)} }

func cstring(p string) []byte {
	c := make([]byte, len(p)+1)
	copy(c, p)
	for _, b := range c[:len(p)] {
		if b == 0 {
			panic("cache: NUL byte in path")
		}
	}
	return c
}

// String returns the path.
func (p Path) String() string {
	if len(p.c) == 0 {
		return ""
	}
	if p.dir != nil {
		return p.dir.name + "/" + string(p.c[:len(p.c)-1])
	}
	return string(p.c[:len(p.c)-1])
}

// Stat returns the stamp of the file at p without following a final symlink
// (record and directory paths never are symlinks). A missing file gives an
// error for which errors.Is(err, fs.ErrNotExist) holds.
func (p Path) Stat() (Stamp, error) {
	var st unix.Stat_t
	dirfd := unix.AT_FDCWD
	if p.dir != nil {
		dirfd = p.dir.fd
	}
	if err := fstatat(dirfd, p.c, &st); err != nil {
		return Stamp{}, &os.PathError{Op: "stat", Path: p.String(), Err: err}
	}
	return StampOf(&st), nil
}

// Dir is an open directory that Paths can be relative to. The kernel then
// resolves only the components below it on every stat, which is measurably
// cheaper than resolving a long absolute path. A Dir is never closed: Paths
// refer to its descriptor, and a closed descriptor number may come back as
// another file. If the directory is removed, stats below it fail with
// ENOENT, which callers treat as "changed".
type Dir struct {
	fd   int
	name string
}

// OpenDir opens a directory for relative Paths.
func OpenDir(name string) (*Dir, error) {
	fd, err := unix.Open(name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return &Dir{fd: fd, name: name}, nil
}

// Path prepares rel, relative to d.
func (d *Dir) Path(rel string) Path { return Path{dir: d, c: cstring(rel)} }

// Name returns the directory's path as given to OpenDir.
func (d *Dir) Name() string { return d.name }

// Stat returns the directory's own stamp.
func (d *Dir) Stat() (Stamp, error) {
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return Stamp{}, &os.PathError{Op: "fstat", Path: d.name, Err: err}
	}
	return StampOf(&st), nil
}

// fstatat is unix.Fstatat without the allocation that converting a Go string
// to a C string costs: the hot path of every cache hit.
func fstatat(dirfd int, path []byte, st *unix.Stat_t) error {
	_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd),
		uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(st)),
		unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// FileStamp returns the stamp of an open file.
func FileStamp(f *os.File) (Stamp, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Stamp{}, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return StampOf(&st), nil
}
