package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

// Quota: a space's used bytes are its root's tree size. Uploads reserve
// their size in the space record before they store anything (one atomic
// read-modify-write, so concurrent uploads from any number of processes
// cannot together exceed the quota), and release the reservation once
// committed, when the tree size counts them, or when they fail. A space
// without a quota reserves nothing and pays nothing.

// reservation is quota held for one upload; the zero value holds nothing.
type reservation struct {
	spaceID, id string
}

// reserve holds n bytes of a space's quota, or fails with
// ErrQuotaExceeded. id names the reservation (an upload session's id, or a
// fresh one).
func (fs *FS) reserve(ctx context.Context, sid, id string, n int64, ttl time.Duration) (reservation, error) {
	s, err := fs.meta.ReadSpace(ctx, sid)
	if err != nil {
		return reservation{}, err
	}
	if s.Quota == 0 || (n == 0 && id == "") {
		return reservation{}, nil
	}
	if id == "" {
		id = uuid.NewString()
	}
	if ttl <= 0 {
		ttl = fs.opts.ReservationTTL
	}
	_, err = fs.meta.UpdateSpace(ctx, sid, func(s *metadata.Space) error {
		if s.Quota == 0 {
			return nil
		}
		now := time.Now().UnixNano()
		s.Reservations = slices.DeleteFunc(s.Reservations, func(r metadata.Reservation) bool { return r.Expires <= now || r.ID == id })
		used, err := fs.used(ctx, sid)
		if err != nil {
			return err
		}
		held := reserved(s)
		if used+held+n > s.Quota {
			return fmt.Errorf("%w: %d bytes used, %d reserved, %d more would pass the quota of %d", ErrQuotaExceeded, used, held, n, s.Quota)
		}
		s.Reservations = append(s.Reservations, metadata.Reservation{ID: id, Bytes: n, Expires: now + int64(ttl)})
		return nil
	})
	if err != nil {
		return reservation{}, err
	}
	return reservation{spaceID: sid, id: id}, nil
}

func reserved(s *metadata.Space) int64 {
	var n int64
	now := time.Now().UnixNano()
	for _, r := range s.Reservations {
		if r.Expires > now {
			n += r.Bytes
		}
	}
	return n
}

// used is the space's tree size, read from the store.
func (fs *FS) used(ctx context.Context, sid string) (int64, error) {
	root, err := fs.meta.ReadNode(ctx, sid, sid)
	if err != nil {
		return 0, err
	}
	return root.TreeSize(), nil
}

// release gives a reservation back. Failing to is not fatal: the
// reservation expires.
func (fs *FS) release(ctx context.Context, r reservation) {
	if r.id == "" {
		return
	}
	_, err := fs.meta.UpdateSpace(context.WithoutCancel(ctx), r.spaceID, func(s *metadata.Space) error {
		n := len(s.Reservations)
		s.Reservations = slices.DeleteFunc(s.Reservations, func(x metadata.Reservation) bool { return x.ID == r.id })
		if len(s.Reservations) == n {
			return errNotHeld
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNotHeld) {
		fs.log.WarnContext(ctx, "could not release a quota reservation; it expires by itself", "space", r.spaceID, "reservation", r.id, "err", err)
	}
}

// SetQuota sets a space's quota in bytes (0: none). Only admin tools (a
// context without a user) may.
func (fs *FS) SetQuota(ctx context.Context, spaceID string, bytes int64) (*SpaceInfo, error) {
	if _, ok := principalOf(ctx); ok {
		return nil, fmt.Errorf("%w: quotas are set by administrators", ErrPermissionDenied)
	}
	if bytes < 0 {
		return nil, fmt.Errorf("decomposedfs: negative quota %d", bytes)
	}
	s, err := fs.meta.UpdateSpace(ctx, spaceID, func(s *metadata.Space) error {
		s.Quota = bytes
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fs.spaceInfo(ctx, s)
}
