package mpk

import (
	"context"
	"errors"
	"time"

	"github.com/s3dfs/s3dfs/metadata"
)

// The space's WebDAV locks and quota reservations are record sets (see
// sets.go): <space>/locks/ and <space>/reservations/. Older code kept them
// in the space record; a space whose record still holds some has them moved
// out by the first write of its locks, reservations or record in any
// process (under the locks of all three, so that no writer of either set
// misses them), and readers add them to what the sets hold until then.
// Each process remembers the spaces it has seen without such state: this
// code never writes it, so it never comes back.

// ReadLocks returns a space's locks.
func (b *Backend) ReadLocks(ctx context.Context, sid string) ([]metadata.Lock, error) {
	if err := validIDs(sid); err != nil {
		return nil, err
	}
	legacy, err := legacyOf(ctx, b, sid, (*metadata.Space).LegacyLocks)
	if err != nil {
		return nil, err
	}
	list, err := readSet(b, lockSet, b.lockSets, sid)
	if err != nil || len(legacy) == 0 {
		return list, err
	}
	return mergeLegacy(list, legacy, lockSet.key), nil
}

// UpdateLocks changes a space's locks under the space's locks lock.
func (b *Backend) UpdateLocks(ctx context.Context, sid string, fn func([]metadata.Lock) (metadata.LockEdit, error)) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	if err := b.ensureMigrated(ctx, sid); err != nil {
		return err
	}
	return updateSet(ctx, b, lockSet, b.lockSets, sid, func(list []metadata.Lock) ([]metadata.Lock, []string, error) {
		e, err := fn(list)
		return e.Put, e.Delete, err
	})
}

// ReadReservations returns a space's quota reservations.
func (b *Backend) ReadReservations(ctx context.Context, sid string) ([]metadata.Reservation, error) {
	if err := validIDs(sid); err != nil {
		return nil, err
	}
	legacy, err := legacyOf(ctx, b, sid, (*metadata.Space).LegacyReservations)
	if err != nil {
		return nil, err
	}
	list, err := readSet(b, reservationSet, b.resSets, sid)
	if err != nil || len(legacy) == 0 {
		return list, err
	}
	return mergeLegacy(list, legacy, reservationSet.key), nil
}

// UpdateReservations changes a space's reservations under the space's
// reservations lock.
func (b *Backend) UpdateReservations(ctx context.Context, sid string, fn func([]metadata.Reservation) (metadata.ReservationEdit, error)) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	if err := b.ensureMigrated(ctx, sid); err != nil {
		return err
	}
	return updateSet(ctx, b, reservationSet, b.resSets, sid, func(list []metadata.Reservation) ([]metadata.Reservation, []string, error) {
		e, err := fn(list)
		return e.Put, e.Delete, err
	})
}

// legacyOf returns what the space record still holds of one kind of state
// in the way older code kept it (nil, at the cost of nothing but a map
// lookup, once this process has seen the record without any).
func legacyOf[T any](ctx context.Context, b *Backend, sid string, get func(*metadata.Space, int64) []T) ([]T, error) {
	if _, ok := b.migrated.Load(sid); ok {
		return nil, nil
	}
	s, err := b.ReadSpace(ctx, sid)
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, nil // no space, nothing held
	}
	if err != nil {
		return nil, err
	}
	if !s.HasLegacyState() {
		b.migrated.Store(sid, true)
		return nil, nil
	}
	return get(s, time.Now().UnixNano()), nil
}

// mergeLegacy adds the legacy records whose keys the set does not hold
// (a migration between the two reads put them in both).
func mergeLegacy[T any](list, legacy []T, key func(*T) string) []T {
	out := make([]T, 0, len(list)+len(legacy))
	out = append(out, list...)
	seen := make(map[string]bool, len(list))
	for i := range list {
		seen[key(&list[i])] = true
	}
	for i := range legacy {
		if !seen[key(&legacy[i])] {
			out = append(out, legacy[i])
		}
	}
	return out
}

// ensureMigrated moves state of older code out of a space record, once per
// space and process; ErrNotFound if the space does not exist.
func (b *Backend) ensureMigrated(ctx context.Context, sid string) error {
	if _, ok := b.migrated.Load(sid); ok {
		return nil
	}
	_, err := b.updateSpace(ctx, sid, nil)
	return err
}

// storeLegacy writes the locks and reservations taken out of a space record
// into their sets; the caller holds the locks of both sets. A crash after
// this and before the record is rewritten leaves them in both places: the
// next migration stores them again, replacing these.
func (b *Backend) storeLegacy(sid string, locks []metadata.Lock, res []metadata.Reservation) error {
	if len(locks) > 0 {
		err := applySet(b, lockSet, b.lockSets, sid, func([]metadata.Lock) ([]metadata.Lock, []string, error) {
			return locks, nil, nil
		})
		if err != nil {
			return err
		}
	}
	if len(res) > 0 {
		return applySet(b, reservationSet, b.resSets, sid, func([]metadata.Reservation) ([]metadata.Reservation, []string, error) {
			return res, nil, nil
		})
	}
	return nil
}
