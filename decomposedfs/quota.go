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
// their size before they store anything, each with a reservation record of
// its own (Backend.UpdateReservations: one locked read-modify-write of the
// space's reservations, so that concurrent uploads from any number of
// processes cannot together exceed the quota), and release it once
// committed, when the tree size counts them, or when they fail. A space
// without a quota reserves nothing for plain uploads and pays nothing;
// resumable uploads register there too (with their size), so that the
// uploads a user has in progress can be counted and bounded
// (Options.MaxUploadsPerUser) in every space.

// reservation is quota held for one upload; the zero value holds nothing.
type reservation struct {
	spaceID, id string
}

// reserve holds n bytes of a space's quota, or fails with
// ErrQuotaExceeded, or with ErrLimit if the context's user has
// Options.MaxUploadsPerUser reservations in the space. id names the
// reservation (an upload session's id, or a fresh one). always registers a
// reservation in a space without a quota too (resumable uploads).
func (fs *FS) reserve(ctx context.Context, sid, id string, n int64, ttl time.Duration, always bool) (reservation, error) {
	s, err := fs.meta.ReadSpace(ctx, sid)
	if err != nil {
		return reservation{}, err
	}
	if !always && (s.Quota == 0 || (n == 0 && id == "")) {
		return reservation{}, nil
	}
	if id == "" {
		id = uuid.NewString()
	}
	if ttl <= 0 {
		ttl = fs.opts.ReservationTTL
	}
	user := userOf(ctx)
	err = fs.meta.UpdateReservations(ctx, sid, func(rs []metadata.Reservation) (metadata.ReservationEdit, error) {
		var edit metadata.ReservationEdit
		now := time.Now().UnixNano()
		var held int64
		mine := 0
		for _, r := range rs {
			if r.Expires <= now || r.ID == id {
				edit.Delete = append(edit.Delete, r.ID)
				continue
			}
			held += r.Bytes
			if user != "" && r.User == user {
				mine++
			}
		}
		if user != "" && mine >= fs.opts.MaxUploadsPerUser {
			return metadata.ReservationEdit{}, fmt.Errorf("%w: %s has %d uploads in progress in this space, the most one user may", ErrLimit, user, mine)
		}
		// The quota as it is now: the space record is not locked here, and
		// a quota set at this moment applies to the next upload.
		s, err := fs.meta.ReadSpace(ctx, sid)
		if err != nil {
			return metadata.ReservationEdit{}, err
		}
		if s.Quota > 0 {
			used, err := fs.used(ctx, sid)
			if err != nil {
				return metadata.ReservationEdit{}, err
			}
			if used+held+n > s.Quota {
				return metadata.ReservationEdit{}, fmt.Errorf("%w: %d bytes used, %d reserved, %d more would pass the quota of %d", ErrQuotaExceeded, used, held, n, s.Quota)
			}
		}
		edit.Put = append(edit.Put, metadata.Reservation{ID: id, Bytes: n, Expires: now + int64(ttl), User: user})
		return edit, nil
	})
	if err != nil {
		return reservation{}, err
	}
	return reservation{spaceID: sid, id: id}, nil
}

// reserved is the quota the space's unexpired reservations hold.
func (fs *FS) reserved(ctx context.Context, sid string) (int64, error) {
	rs, err := fs.meta.ReadReservations(ctx, sid)
	if err != nil {
		return 0, err
	}
	var n int64
	now := time.Now().UnixNano()
	for _, r := range rs {
		if r.Expires > now {
			n += r.Bytes
		}
	}
	return n, nil
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
	err := fs.meta.UpdateReservations(context.WithoutCancel(ctx), r.spaceID, func(rs []metadata.Reservation) (metadata.ReservationEdit, error) {
		if !slices.ContainsFunc(rs, func(x metadata.Reservation) bool { return x.ID == r.id }) {
			return metadata.ReservationEdit{}, errNotHeld
		}
		return metadata.ReservationEdit{Delete: []string{r.id}}, nil
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
