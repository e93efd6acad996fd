package tus

import (
	"context"
	"sync"

	"github.com/tus/tusd/v2/pkg/handler"
)

// locker is tusd's Locker, within one process only, and on purpose.
//
// Correctness across processes does not depend on it: the driver's
// WriteUpload moves an upload's offset with a compare-and-swap under the
// session record's cross-process lock, so of two chunks written at the same
// offset one is kept and the other is discarded with ErrUploadOffset (409).
//
// What the lock adds is liveness for the common case of a client that
// retries while its previous request still runs in this process (a dead
// connection is only noticed when a read times out): a request that wants
// a held lock interrupts the holder's body, the driver keeps what arrived,
// the holder answers and lets go, and the new request sees the upload's
// real offset at once. It also keeps two requests of this process from
// finishing the same upload at the same time.
//
// tusd hands Lock a requestRelease callback for that interruption; it is
// not used, because it makes tusd read its request state racily (see
// bodyWatch). The holder's own request is interrupted instead.
type locker struct {
	mu   sync.Mutex
	held map[string]*heldLock // guarded by mu: upload id -> its holder
}

type heldLock struct {
	released chan struct{}
	holder   *request
}

func newLocker() *locker { return &locker{held: map[string]*heldLock{}} }

func (l *locker) NewLock(id string) (handler.Lock, error) {
	return &lock{l: l, id: id}, nil
}

type lock struct {
	l   *locker
	id  string
	own *heldLock
}

// Lock waits for the upload's lock, interrupting its holder. It gives up
// with 423 when ctx (tusd's AcquireLockTimeout) ends first.
func (k *lock) Lock(ctx context.Context, _ func()) error {
	for {
		k.l.mu.Lock()
		h, ok := k.l.held[k.id]
		if !ok {
			k.own = &heldLock{released: make(chan struct{}), holder: requestFrom(ctx)}
			k.l.held[k.id] = k.own
			k.l.mu.Unlock()
			return nil
		}
		k.l.mu.Unlock()
		h.holder.interrupt(handler.ErrUploadInterrupted)
		select {
		case <-h.released:
		case <-ctx.Done():
			return handler.ErrFileLocked
		}
	}
}

func (k *lock) Unlock() error {
	k.l.mu.Lock()
	if k.own != nil && k.l.held[k.id] == k.own {
		delete(k.l.held, k.id)
		close(k.own.released)
	}
	k.own = nil
	k.l.mu.Unlock()
	return nil
}
