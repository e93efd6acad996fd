package sqlmeta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s3dfs/s3dfs/metadata"
)

// A space's WebDAV locks and quota reservations are rows of s3dfs_locks
// and s3dfs_reservations, one per lock or reservation, keyed by space and
// token or id, each holding its msgpack record. A change takes the space
// row's lock first (FOR UPDATE; SQLite has one writer anyway), so that
// what a writer read of the set is what its edit replaces. Older code
// kept them in the space record: the first transaction that changes the
// space's locks, reservations or record moves them into the tables, and
// readers add them until then (each handle remembers the spaces it saw
// without any, as in metadata/mpk).

// setTable describes one of the two tables.
type setTable[T any] struct {
	what           string // for errors: "lock", "reservation"
	read, put, del string
	decode         func([]byte) (*T, error)
	encode         func(*T) ([]byte, error)
	key            func(*T) string
	legacy         func(*metadata.Space, int64) []T
}

func (b *Backend) lockTable() *setTable[metadata.Lock] {
	return &setTable[metadata.Lock]{
		what: "lock", read: b.q.readLocks, put: b.q.putLock, del: b.q.deleteLock,
		decode: metadata.DecodeLock, encode: metadata.EncodeLock,
		key:    func(l *metadata.Lock) string { return l.Token },
		legacy: (*metadata.Space).LegacyLocks,
	}
}

func (b *Backend) reservationTable() *setTable[metadata.Reservation] {
	return &setTable[metadata.Reservation]{
		what: "reservation", read: b.q.readReservations, put: b.q.putReservation, del: b.q.deleteReservation,
		decode: metadata.DecodeReservation, encode: metadata.EncodeReservation,
		key:    func(r *metadata.Reservation) string { return r.ID },
		legacy: (*metadata.Space).LegacyReservations,
	}
}

// ReadLocks returns a space's locks.
func (b *Backend) ReadLocks(ctx context.Context, sid string) ([]metadata.Lock, error) {
	return readRows(ctx, b, b.lockTable(), sid)
}

// UpdateLocks changes a space's locks with the space row locked.
func (b *Backend) UpdateLocks(ctx context.Context, sid string, fn func([]metadata.Lock) (metadata.LockEdit, error)) error {
	return updateRows(ctx, b, b.lockTable(), sid, func(list []metadata.Lock) ([]metadata.Lock, []string, error) {
		e, err := fn(list)
		return e.Put, e.Delete, err
	})
}

// ReadReservations returns a space's reservations.
func (b *Backend) ReadReservations(ctx context.Context, sid string) ([]metadata.Reservation, error) {
	return readRows(ctx, b, b.reservationTable(), sid)
}

// UpdateReservations changes a space's reservations with the space row
// locked.
func (b *Backend) UpdateReservations(ctx context.Context, sid string, fn func([]metadata.Reservation) (metadata.ReservationEdit, error)) error {
	return updateRows(ctx, b, b.reservationTable(), sid, func(list []metadata.Reservation) ([]metadata.Reservation, []string, error) {
		e, err := fn(list)
		return e.Put, e.Delete, err
	})
}

// scanRows reads a space's rows of a table. A record that does not decode
// is left out: one bad row must not fail every request of the space.
func scanRows[T any](ctx context.Context, query func(context.Context, string, []any, rowFunc) error, t *setTable[T], sid string) ([]T, error) {
	var list []T
	err := query(ctx, t.read, []any{sid}, func(scan func(...any) error) error {
		var rec []byte
		if err := scan(&rec); err != nil {
			return err
		}
		if v, err := t.decode(rec); err == nil {
			list = append(list, *v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: read %ss of space %s: %w", t.what, sid, err)
	}
	return list, nil
}

func readRows[T any](ctx context.Context, b *Backend, t *setTable[T], sid string) ([]T, error) {
	if err := validIDs(sid); err != nil {
		return nil, err
	}
	// The space record first: a migration between the two reads then
	// shows its records twice (merged by key), never not at all.
	var legacy []T
	if _, ok := b.migrated.Load(sid); !ok {
		s, err := b.ReadSpace(ctx, sid)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		case !s.HasLegacyState():
			b.migrated.Store(sid, true)
		default:
			legacy = t.legacy(s, time.Now().UnixNano())
		}
	}
	list, err := scanRows(ctx, b.eng.query, t, sid)
	if err != nil || len(legacy) == 0 {
		return list, err
	}
	seen := map[string]bool{}
	for i := range list {
		seen[t.key(&list[i])] = true
	}
	for i := range legacy {
		if !seen[t.key(&legacy[i])] {
			list = append(list, legacy[i])
		}
	}
	return list, nil
}

func updateRows[T any](ctx context.Context, b *Backend, t *setTable[T], sid string, fn func([]T) ([]T, []string, error)) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	err := b.inTx(ctx, "update "+t.what+"s", func(tx txn) error {
		if err := b.lockSpaceMigrated(ctx, tx, sid); err != nil {
			return err
		}
		list, err := scanRows(ctx, tx.query, t, sid)
		if err != nil {
			return err
		}
		put, del, err := fn(list)
		if err != nil {
			return err
		}
		recs := make([][]byte, len(put))
		for i := range put {
			if recs[i], err = t.encode(&put[i]); err != nil {
				return err
			}
		}
		for _, k := range del {
			tx.queue(t.del, sid, k)
		}
		for i := range put {
			tx.queue(t.put, sid, t.key(&put[i]), recs[i])
		}
		return nil
	})
	if err == nil {
		b.migrated.Store(sid, true)
	}
	return err
}

// lockSpaceRow locks the space row in tx and returns its record, its
// version and its size in bytes.
func (b *Backend) lockSpaceRow(ctx context.Context, tx txn, sid string) (*metadata.Space, int64, int, error) {
	var rec []byte
	var version int64
	found, err := queryRow(ctx, tx.query, b.q.lockSpace, []any{sid}, &rec, &version)
	if err != nil {
		return nil, 0, 0, err
	}
	if !found {
		return nil, 0, 0, fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
	}
	s, err := decodeSpace(sid, rec, version)
	return s, version, len(rec), err
}

// queueLegacy takes the locks and reservations that older code kept in s
// out of it and queues their rows in tx; it reports whether there were
// any (and s must then be written back).
func (b *Backend) queueLegacy(tx txn, sid string, s *metadata.Space) (bool, error) {
	if !s.HasLegacyState() {
		return false, nil
	}
	locks, res := s.TakeLegacyState(time.Now().UnixNano())
	lt, rt := b.lockTable(), b.reservationTable()
	for i := range locks {
		r, err := lt.encode(&locks[i])
		if err != nil {
			return false, err
		}
		tx.queue(lt.put, sid, lt.key(&locks[i]), r)
	}
	for i := range res {
		r, err := rt.encode(&res[i])
		if err != nil {
			return false, err
		}
		tx.queue(rt.put, sid, rt.key(&res[i]), r)
	}
	return true, nil
}

// lockSpaceMigrated locks the space row in tx and moves what older code
// kept in its record into the tables.
func (b *Backend) lockSpaceMigrated(ctx context.Context, tx txn, sid string) error {
	s, version, size, err := b.lockSpaceRow(ctx, tx, sid)
	if err != nil {
		return err
	}
	moved, err := b.queueLegacy(tx, sid, s)
	if err != nil || !moved {
		return err
	}
	rec, err := metadata.EncodeSpaceFrom(s, size)
	if err != nil {
		return err
	}
	tx.queue(b.q.updateSpace, sid, rec, next(version))
	return nil
}
