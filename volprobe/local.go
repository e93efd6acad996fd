package volprobe

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// volumeDir is the directory of the probe files below the root.
const volumeDir = "volume"

// LocalChecks checks what one process can see alone on the volume of root:
// user extended attributes, nanosecond mtimes, RENAME_NOREPLACE, directory
// fsync (a failure is Fail if needDirFsync, else Warn), and that OFD locks
// and flock exclude a second open file description. It works on temp
// files below <root>/volume and removes them.
func LocalChecks(root string, needDirFsync bool) []Check {
	dir := filepath.Join(root, volumeDir)
	if err := ensureDir(root); err != nil {
		return []Check{{Name: CheckOwnFiles, Status: Fail, Detail: err.Error()}}
	}
	tmp := filepath.Join(dir, ".check-"+randomID())
	return []Check{
		checkXattr(tmp + ".x"),
		checkNanoTime(tmp + ".t"),
		checkRenameNoReplace(tmp + ".r"),
		checkAtomicRename(tmp + ".a"),
		checkDirFsync(dir, needDirFsync),
		checkOFDOneProcess(filepath.Join(root, "locks")),
		checkFlockOneProcess(tmp + ".f"),
	}
}

// ensureDir creates <root>/volume in an existing root.
func ensureDir(root string) error {
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("volprobe: root: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("volprobe: root %s is not a directory", root)
	}
	if err := os.Mkdir(filepath.Join(root, volumeDir), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("volprobe: %w", err)
	}
	return nil
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func createFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}

// checkXattr sets, reads back and removes a user extended attribute of the
// size of mpk's tree attribute (17 bytes: required) and one of 3 900 bytes
// (what metadata/xattr's records may need: a warning).
func checkXattr(path string) Check {
	c := Check{Name: CheckXattr}
	f, err := createFile(path)
	if err != nil {
		return fail(c, err)
	}
	defer os.Remove(path)
	defer f.Close()
	try := func(n int) error {
		v := bytes.Repeat([]byte{'x'}, n)
		v[0] = byte(n)
		if err := unix.Fsetxattr(int(f.Fd()), "user.s3dfs.check", v, 0); err != nil {
			return fmt.Errorf("set %d bytes: %w", n, err)
		}
		got := make([]byte, n+16)
		m, err := unix.Fgetxattr(int(f.Fd()), "user.s3dfs.check", got)
		if err != nil {
			return fmt.Errorf("get %d bytes: %w", n, err)
		}
		if !bytes.Equal(got[:m], v) {
			return fmt.Errorf("set %d bytes, read back %d other bytes", n, m)
		}
		return nil
	}
	if err := try(17); err != nil {
		c.Status, c.Detail = Fail, "user.* attributes: "+err.Error()+" (mpk keeps folder sizes in one)"
		return c
	}
	if err := try(3900); err != nil {
		c.Status, c.Detail = Warn, "17 bytes work; "+err.Error()+" (records in xattrs, metadata/xattr, would not fit)"
		return c
	}
	if err := unix.Fremovexattr(int(f.Fd()), "user.s3dfs.check"); err != nil {
		return fail(c, fmt.Errorf("remove: %w", err))
	}
	c.Detail = "user.* set, read back and removed (17 and 3900 bytes)"
	return c
}

// checkNanoTime sets mtimes one nanosecond apart and reads them back:
// cache.NextAfter relies on a +1 ns change showing in stat(2), so that an
// in-place change within one clock tick still changes the stamp.
func checkNanoTime(path string) Check {
	c := Check{Name: CheckNanoTime}
	f, err := createFile(path)
	if err != nil {
		return fail(c, err)
	}
	f.Close()
	defer os.Remove(path)
	base := time.Now().Truncate(time.Second).Add(123456789).UnixNano()
	got := make([]int64, 2)
	for i := range got {
		want := base + int64(i)
		ts := []unix.Timespec{unix.NsecToTimespec(want), unix.NsecToTimespec(want)}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, 0); err != nil {
			return fail(c, fmt.Errorf("utimensat: %w", err))
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return fail(c, err)
		}
		got[i] = st.Mtim.Nano()
	}
	switch {
	case got[0] == base && got[1] == base+1:
		c.Detail = "mtime kept to the nanosecond; a +1 ns change shows"
	case got[1] != got[0]:
		c.Status, c.Detail = Warn, fmt.Sprintf("set %d, read %d: times are rounded, but a +1 ns change still shows", base, got[0])
	default:
		res := time.Duration(base - got[0])
		c.Status = Warn
		if res >= time.Millisecond {
			c.Status = Fail
		}
		c.Detail = fmt.Sprintf("set %d and %d, read %d twice: mtimes are rounded (lost %v), so two changes within one tick look alike to the cache", base, base+1, got[0], res)
	}
	return c
}

// checkRenameNoReplace renames onto an existing name with
// RENAME_NOREPLACE: it must be refused with EEXIST and leave the target
// alone. Without the flag, mpk falls back to symlink(2) (a warning); a
// flag that is accepted and ignored would let two uploads claim one name.
func checkRenameNoReplace(path string) Check {
	c := Check{Name: CheckRenameNoRepl}
	a, b, d := path+".a", path+".b", path+".c"
	defer os.Remove(a)
	defer os.Remove(b)
	defer os.Remove(d)
	if err := os.WriteFile(a, []byte("a"), 0o644); err != nil {
		return fail(c, err)
	}
	if err := os.WriteFile(b, []byte("b"), 0o644); err != nil {
		return fail(c, err)
	}
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE)
	switch {
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP):
		c.Status, c.Detail = Warn, fmt.Sprintf("not supported (%v): uploads claim names with symlink(2) instead", err)
		return c
	case errors.Is(err, unix.EEXIST):
	case err == nil:
		c.Status, c.Detail = Fail, "a rename onto an existing name with RENAME_NOREPLACE replaced it"
		return c
	default:
		return fail(c, fmt.Errorf("renameat2 onto an existing name: %w", err))
	}
	if got, err := os.ReadFile(b); err != nil || string(got) != "b" {
		c.Status, c.Detail = Fail, fmt.Sprintf("refused with EEXIST, but the target changed (%q, %v)", got, err)
		return c
	}
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, d, unix.RENAME_NOREPLACE); err != nil {
		return fail(c, fmt.Errorf("renameat2 onto a free name: %w", err))
	}
	c.Detail = "refused onto an existing name (EEXIST), done onto a free one"
	return c
}

// checkAtomicRename reads a file while another goroutine keeps replacing
// it by rename(2), as mpk replaces records: a reader must always find the
// old file or the new one. Where it finds neither (a SeaweedFS mount does,
// for most reads), a record being updated looks deleted: a 404, or a
// listing without it, which a sync client takes for a deletion.
func checkAtomicRename(path string) Check {
	c := Check{Name: CheckAtomicRename}
	if err := os.WriteFile(path, []byte("0"), 0o644); err != nil {
		return fail(c, err)
	}
	defer os.Remove(path)
	var stop atomic.Bool
	renamed := make(chan int)
	var werr error
	go func() {
		n := 0
		for ; !stop.Load(); n++ {
			tmp := fmt.Sprintf("%s.%d.tmp", path, n)
			if werr = os.WriteFile(tmp, []byte(strconv.Itoa(n)), 0o644); werr == nil {
				werr = renameFile(tmp, path)
			}
			if werr != nil {
				os.Remove(tmp)
				break
			}
		}
		renamed <- n
	}()
	reads, missing := 0, 0
	var rerr error
	for start := time.Now(); time.Since(start) < renameCheckTime; reads++ {
		if _, err := os.ReadFile(path); errors.Is(err, os.ErrNotExist) {
			missing++
		} else if err != nil {
			rerr = err
			break
		}
	}
	stop.Store(true)
	n := <-renamed
	switch {
	case werr != nil || rerr != nil:
		return fail(c, errors.Join(werr, rerr))
	case n == 0:
		return fail(c, errors.New("no rename completed"))
	case missing > 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("%d of %d reads found no file while it was replaced by rename (%d times): a record being updated looks deleted", missing, reads, n)
	default:
		c.Detail = fmt.Sprintf("%d reads while the file was replaced by rename %d times: always there", reads, n)
	}
	return c
}

// renameFile is os.Rename; tests make it a rename that is not atomic.
var renameFile = os.Rename

// renameCheckTime is how long checkAtomicRename reads.
const renameCheckTime = 200 * time.Millisecond

func checkDirFsync(dir string, need bool) Check {
	c := Check{Name: CheckDirFsync}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Fsync(fd)
		unix.Close(fd)
	}
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("fsync of a directory: %v (--durability fsync would fail every write)", err)
		if need {
			c.Status = Fail
		}
		return c
	}
	c.Detail = "fsync of a directory works (--durability fsync can be used)"
	return c
}

// probeBase and probeRange place the probe locks in <root>/locks: far above
// mpk's 65 536 stripes, below 2^31 for filesystems with 32-bit lock
// offsets.
const (
	probeBase  = 1 << 24
	probeRange = 1 << 24
)

func randomOffset() int64 {
	var b [4]byte
	rand.Read(b[:])
	return probeBase + int64(uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24)%probeRange
}

// checkOFDOneProcess: two open file descriptions of <root>/locks in one
// process must exclude each other on one byte (mpk's node locks).
func checkOFDOneProcess(lockPath string) Check {
	c := Check{Name: CheckOFDOneProc}
	f1, err := openLockFile(lockPath)
	if err != nil {
		return fail(c, err)
	}
	defer f1.Close()
	f2, err := openLockFile(lockPath)
	if err != nil {
		return fail(c, err)
	}
	defer f2.Close()
	off := randomOffset()
	if ok, err := tryOFD(f1, off); err != nil || !ok {
		return fail(c, fmt.Errorf("first lock of byte %d: granted %t, %v", off, ok, err))
	}
	if ok, err := tryOFD(f2, off); err != nil || ok {
		c.Status, c.Detail = Fail, fmt.Sprintf("a byte locked through one open file description was granted through another (%v)", err)
		return c
	}
	unlockOFD(f1, off)
	if ok, err := tryOFD(f2, off); err != nil || !ok {
		return fail(c, fmt.Errorf("lock after the unlock: granted %t, %v", ok, err))
	}
	unlockOFD(f2, off)
	c.Detail = "F_OFD_SETLK: a second open file description is refused, and granted after the unlock"
	return c
}

// checkFlockOneProcess: flock through two open file descriptions of one
// file must exclude each other (mpk's namespace locks).
func checkFlockOneProcess(path string) Check {
	c := Check{Name: CheckFlockOneProc}
	f1, err := createFile(path)
	if err != nil {
		return fail(c, err)
	}
	defer os.Remove(path)
	defer f1.Close()
	f2, err := os.Open(path)
	if err != nil {
		return fail(c, err)
	}
	defer f2.Close()
	if ok, err := tryFlock(f1); err != nil || !ok {
		return fail(c, fmt.Errorf("first flock: granted %t, %v", ok, err))
	}
	if ok, err := tryFlock(f2); err != nil || ok {
		c.Status, c.Detail = Fail, fmt.Sprintf("a file flock'ed through one open file description was granted through another (%v)", err)
		return c
	}
	unlockFlock(f1)
	if ok, err := tryFlock(f2); err != nil || !ok {
		return fail(c, fmt.Errorf("flock after the unlock: granted %t, %v", ok, err))
	}
	c.Detail = "LOCK_EX: a second open file description is refused, and granted after the unlock"
	return c
}

func fail(c Check, err error) Check {
	c.Status, c.Detail = Fail, err.Error()
	return c
}

func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

// tryOFD tries to write-lock byte off of f without waiting: ok is false
// when another open file description holds it.
func tryOFD(f *os.File, off int64) (ok bool, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	for {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES):
		return false, nil
	}
	return false, fmt.Errorf("F_OFD_SETLK byte %d: %w", off, err)
}

func unlockOFD(f *os.File, off int64) {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: off, Len: 1}
	unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// tryFlock tries to take an exclusive flock on f without waiting.
func tryFlock(f *os.File) (ok bool, err error) {
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		return false, nil
	}
	return false, fmt.Errorf("flock: %w", err)
}

func unlockFlock(f *os.File) { unix.Flock(int(f.Fd()), unix.LOCK_UN) }
