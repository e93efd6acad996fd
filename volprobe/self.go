package volprobe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// xattrName holds a stamp file's sequence number.
const xattrName = "user.s3dfs.probe"

// volumeID returns the id in <root>/volume/id, creating it if missing. The
// id is written to a temp file that is then linked into place, so
// concurrent first starts agree on one id and nobody reads a torn one.
func volumeID(root string) (string, error) {
	path := filepath.Join(root, volumeDir, "id")
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			id := strings.TrimSpace(string(b))
			if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
				return "", fmt.Errorf("volprobe: %s holds %q, not a volume id", path, b)
			}
			return id, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("volprobe: volume id: %w", err)
		}
		tmp := path + "." + randomID() + ".tmp"
		if err := os.WriteFile(tmp, []byte(randomID()+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("volprobe: volume id: %w", err)
		}
		err = os.Link(tmp, path)
		os.Remove(tmp)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("volprobe: volume id: %w", err)
		}
	}
	return "", fmt.Errorf("volprobe: %s vanished after it was created", path)
}

// self is what a monitor keeps on the volume: its stamp file (flock'ed for
// its life), its record file, and one byte of <root>/locks.
type self struct {
	id      string
	dir     string
	stamp   *os.File // holds the flock
	locks   *os.File // holds the OFD lock on lockOff
	probe   *os.File // a second open file description of <root>/locks, to probe peers
	lockOff int64
	seq     uint64
	mtime   int64 // the stamp's mtime at seq, as the volume stored it
}

func (s *self) stampPath() string { return filepath.Join(s.dir, s.id) }
func (s *self) recPath() string   { return filepath.Join(s.dir, s.id+".rec") }

// newSelf creates the files of a new probe id and takes its locks.
func newSelf(root string) (*self, error) {
	s := &self{id: randomID(), dir: filepath.Join(root, volumeDir)}
	var err error
	lockPath := filepath.Join(root, "locks")
	if s.locks, err = openLockFile(lockPath); err != nil {
		return nil, fmt.Errorf("volprobe: %w", err)
	}
	if s.probe, err = openLockFile(lockPath); err != nil {
		s.close()
		return nil, fmt.Errorf("volprobe: %w", err)
	}
	// A taken byte belongs to a live process (a collision: pick another)
	// or the volume lies about locks, which the peers will find.
	for range 8 {
		off := randomOffset()
		ok, err := tryOFD(s.locks, off)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("volprobe: lock %s: %w", lockPath, err)
		}
		if ok {
			s.lockOff = off
			break
		}
	}
	if s.lockOff == 0 {
		s.close()
		return nil, fmt.Errorf("volprobe: no free probe byte in %s after 8 tries", lockPath)
	}
	if err := s.createStamp(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// createStamp (re)creates the stamp file and flocks it.
func (s *self) createStamp() error {
	if s.stamp != nil {
		s.stamp.Close()
		s.stamp = nil
	}
	f, err := os.OpenFile(s.stampPath(), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("volprobe: stamp file: %w", err)
	}
	ok, err := tryFlock(f)
	if err != nil || !ok {
		f.Close()
		return fmt.Errorf("volprobe: flock own stamp file %s: granted %t, %v", s.stampPath(), ok, err)
	}
	s.stamp = f
	return nil
}

// heal recreates the stamp file when another process removed it (it took
// this process for dead): the file must be there for the peers to probe.
func (s *self) heal() (healed bool, err error) {
	var st, fst unix.Stat_t
	if err := unix.Fstat(int(s.stamp.Fd()), &fst); err != nil {
		return false, fmt.Errorf("volprobe: fstat own stamp file: %w", err)
	}
	err = unix.Stat(s.stampPath(), &st)
	if err == nil && st.Ino == fst.Ino && st.Dev == fst.Dev {
		return false, nil
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("volprobe: stat own stamp file: %w", err)
	}
	return true, s.createStamp()
}

// advance writes the next round to the volume: the record file replaced by
// rename, then the stamp's attribute and a new mtime set in place. It
// returns what to announce.
func (s *self) advance() error {
	seq := s.seq + 1
	val := []byte(strconv.FormatUint(seq, 10))
	tmp := filepath.Join(s.dir, "."+s.id+".rec.tmp")
	if err := os.WriteFile(tmp, append(val, '\n'), 0o644); err != nil {
		return fmt.Errorf("volprobe: record file: %w", err)
	}
	if err := os.Rename(tmp, s.recPath()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("volprobe: record file: %w", err)
	}
	if err := unix.Fsetxattr(int(s.stamp.Fd()), xattrName, val, 0); err != nil {
		return fmt.Errorf("volprobe: set %s on %s: %w", xattrName, s.stampPath(), err)
	}
	next := max(time.Now().UnixNano(), s.mtime+1)
	ts := []unix.Timespec{unix.NsecToTimespec(next), unix.NsecToTimespec(next)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, s.stampPath(), ts, 0); err != nil {
		return fmt.Errorf("volprobe: set mtime of %s: %w", s.stampPath(), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(s.stamp.Fd()), &st); err != nil {
		return fmt.Errorf("volprobe: fstat own stamp file: %w", err)
	}
	s.seq, s.mtime = seq, st.Mtim.Nano()
	return nil
}

// close releases the locks and removes the files.
func (s *self) close() {
	if s.stamp != nil {
		os.Remove(s.stampPath())
		os.Remove(s.recPath())
		s.stamp.Close()
	}
	if s.locks != nil {
		s.locks.Close()
	}
	if s.probe != nil {
		s.probe.Close()
	}
}

// removePeerFiles removes the files of a dead peer.
func removePeerFiles(dir, id string) {
	os.Remove(filepath.Join(dir, id))
	os.Remove(filepath.Join(dir, id+".rec"))
	os.Remove(filepath.Join(dir, "."+id+".rec.tmp"))
}
