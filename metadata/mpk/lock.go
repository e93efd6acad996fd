package mpk

// Lock order (the only one in this package; every method follows it):
//
//  1. the namespace lock of a space (flock on <space>/ns), taken only by
//     folder moves, which must see a stable ancestry to refuse cycles;
//  2. node locks, as stripes of <root>/locks, in ascending stripe order,
//     each stripe once, all taken before any is released (the space
//     record, and a space's lock and reservation sets, have stripes of
//     their own, keyed "space:", "locks:" and "reservations:": taken alone,
//     or together in one call);
//  3. nothing else is ever waited for while a lock is held, except I/O.
//
// Propagation takes one node lock at a time, bottom-up, and never holds one
// while waiting for another. Nothing waits for the namespace lock while it
// holds a node lock.
//
// A node lock is a byte-range OFD lock (F_OFD_SETLKW) on one byte of the
// shared lock file, chosen by hashing (space id, node id), plus an
// in-process mutex for that byte: OFD locks belong to an open file
// description, so two goroutines sharing one descriptor would otherwise
// both "hold" the byte, and the first unlock would release it for both.
// The lock file is created once and never unlinked, so no unlink can split a
// lock in two (the failure mode of per-node lock files). Unrelated nodes
// that share a stripe merely wait for each other.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

const lockStripes = 1 << 16

type locker struct {
	f  *os.File
	mu [lockStripes]sync.Mutex
}

func openLocker(path string) (*locker, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mpk: open lock file: %w", err)
	}
	return &locker{f: f}, nil
}

func (l *locker) close() error { return l.f.Close() }

// stripe hashes (space id, node id) with FNV-1a.
func stripe(sid, id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(sid); i++ {
		h = (h ^ uint32(sid[i])) * 16777619
	}
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return h % lockStripes
}

// lockNodes locks the given nodes of one space in stripe order and returns
// the function that unlocks them. The wait for the OFD lock cannot be
// cancelled; locks are only ever held for a few file operations.
func (l *locker) lockNodes(ctx context.Context, sid string, ids ...string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ss := make([]uint32, 0, len(ids))
	for _, id := range ids {
		ss = append(ss, stripe(sid, id))
	}
	slices.Sort(ss)
	ss = slices.Compact(ss)
	for i, s := range ss {
		l.mu[s].Lock()
		if err := l.fcntl(s, unix.F_WRLCK); err != nil {
			l.mu[s].Unlock()
			l.unlock(ss[:i])
			return nil, err
		}
	}
	return func() { l.unlock(ss) }, nil
}

func (l *locker) unlock(ss []uint32) {
	for i := len(ss) - 1; i >= 0; i-- {
		// Unlocking a range we hold cannot fail on a valid descriptor; if
		// it did, the process would keep the byte locked until it exits,
		// which other processes would notice as a hang, not as
		// corruption.
		_ = l.fcntl(ss[i], unix.F_UNLCK)
		l.mu[ss[i]].Unlock()
	}
}

func (l *locker) fcntl(s uint32, typ int16) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: int64(s), Len: 1}
	cmd := unix.F_OFD_SETLKW
	if typ == unix.F_UNLCK {
		cmd = unix.F_OFD_SETLK
	}
	for {
		err := unix.FcntlFlock(l.f.Fd(), cmd, &lk)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mpk: lock stripe %d: %w", s, err)
		}
		return nil
	}
}

// lockNamespace takes the namespace lock of a space: an exclusive flock on
// its ns file, which lives as long as the space. flock locks conflict
// between open file descriptions even within one process, so no in-process
// mutex is needed.
func lockNamespace(ctx context.Context, path string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("mpk: open namespace lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mpk: namespace lock: %w", err)
	}
	return func() { f.Close() }, nil
}
