package sqlmeta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// Backend is the node store on a database. Open one with OpenPostgres or
// OpenSQLite.
type Backend struct {
	eng  engine
	d    *dialect
	q    *queries
	opts Options
	// Engine-specific implementations of the operations that one engine
	// does in fewer round trips than the generic transaction (nil: use
	// the generic one).
	// migrated holds the ids of spaces seen without locks or reservations
	// in their records (spacestate.go).
	migrated sync.Map

	createFast    func(ctx context.Context, n *metadata.Node, args []any) error
	propagateFast func(ctx context.Context, sid, id string, delta, now int64) (int64, error)
	trashFast     func(ctx context.Context, sid, id string, now int64) (*metadata.Node, error)
}

var _ metadata.Backend = (*Backend)(nil)
var _ metadata.Checker = (*Backend)(nil)

func newBackend(ctx context.Context, eng engine, d *dialect, opts Options) (*Backend, error) {
	b := &Backend{eng: eng, d: d, q: newQueries(d), opts: opts}
	if err := b.migrate(ctx); err != nil {
		eng.close()
		return nil, err
	}
	return b, nil
}

// Engine names the database: "postgres" or "sqlite".
func (b *Backend) Engine() string { return b.d.name }

// Close closes the backend's connections.
func (b *Backend) Close() error {
	b.eng.close()
	return nil
}

// Check implements metadata.Checker: the database answers.
func (b *Backend) Check(ctx context.Context) error {
	var one int64
	if _, err := queryRow(ctx, b.eng.query, `SELECT 1`, nil, &one); err != nil {
		return fmt.Errorf("sqlmeta: database unusable: %w", err)
	}
	return nil
}

func validIDs(ids ...string) error {
	for _, id := range ids {
		if err := metadata.ValidateID(id); err != nil {
			return err
		}
	}
	return nil
}

// now is the clock of versions and tree mtimes. Every stored one is
// GREATEST(old + 1, now): it always grows, so equal stamps mean equal
// versions, and it stays a plausible time in ns, as in mpk.
func now() int64 { return time.Now().UnixNano() }

func next(old int64) int64 { return max(old+1, now()) }

// orNil maps Go's empty values to SQL NULL, for columns where "none" is
// NULL (a uuid column cannot hold "").
func orNil[T string | []byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// CreateSpace stores the space record, its root node and its index entries
// in one transaction.
func (b *Backend) CreateSpace(ctx context.Context, s *metadata.Space, root *metadata.Node) error {
	if err := validIDs(s.ID); err != nil {
		return err
	}
	if root.ID != s.ID || root.SpaceID != s.ID || root.Type != metadata.TypeDir {
		return fmt.Errorf("sqlmeta: the root of space %s must be a folder with the space's id", s.ID)
	}
	rec, err := metadata.EncodeSpace(s)
	if err != nil {
		return err
	}
	rootRec, err := metadata.EncodeNode(root)
	if err != nil {
		return err
	}
	v := now()
	return b.inTx(ctx, "create space", func(tx txn) error {
		n, err := tx.exec(ctx, b.q.insertSpace, s.ID, v, rec)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: space %s", metadata.ErrExist, s.ID)
		}
		tx.queue(b.q.insertNode, nodeArgs(root, rootRec, v)...)
		b.queueIndex(tx, s)
		return nil
	})
}

// queueIndex queues the index entries of s.
func (b *Backend) queueIndex(tx txn, s *metadata.Space) {
	t := now()
	for _, idx := range metadata.SpaceIndexes {
		for _, k := range s.IndexKeys(idx, t) {
			tx.queue(b.q.insertIndex, string(idx), k, s.ID)
		}
	}
}

func decodeSpace(id string, rec []byte, version int64) (*metadata.Space, error) {
	s, err := metadata.DecodeSpace(rec)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: space %s: %w", id, err)
	}
	if s.ID != id {
		return nil, fmt.Errorf("sqlmeta: %w: the row of space %s holds the record of space %s", metadata.ErrCorrupt, id, s.ID)
	}
	s.Stamp = cache.Stamp{Mtime: version}
	return s, nil
}

// ReadSpace reads a space record.
func (b *Backend) ReadSpace(ctx context.Context, id string) (*metadata.Space, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	var rec []byte
	var version int64
	found, err := queryRow(ctx, b.eng.query, b.q.readSpace, []any{id}, &rec, &version)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: read space %s: %w", id, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: space %s", metadata.ErrNotFound, id)
	}
	return decodeSpace(id, rec, version)
}

// UpdateSpace changes a space record with its row locked, and its index
// entries with it.
func (b *Backend) UpdateSpace(ctx context.Context, id string, fn func(*metadata.Space) error) (*metadata.Space, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	var out *metadata.Space
	err := b.inTx(ctx, "update space", func(tx txn) error {
		old, version, size, err := b.lockSpaceRow(ctx, tx, id)
		if err != nil {
			return err
		}
		s := old.Clone()
		// What older code kept in the record moves to its tables (see
		// spacestate.go); fn never sees it.
		if _, err := b.queueLegacy(tx, id, s); err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
		if s.ID != id {
			return errors.New("sqlmeta: UpdateSpace may not change the space id")
		}
		if s.HasLegacyState() {
			return errors.New("sqlmeta: UpdateSpace may not store locks or reservations in the space record (UpdateLocks, UpdateReservations)")
		}
		rec, err := metadata.EncodeSpaceFrom(s, size)
		if err != nil {
			return err
		}
		s.Stamp = cache.Stamp{Mtime: next(version)}
		tx.queue(b.q.updateSpace, id, rec, s.Stamp.Mtime)
		tx.queue(b.q.deleteIndex, id)
		b.queueIndex(tx, s)
		out = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.migrated.Store(id, true)
	return out, nil
}

// ListSpaces reads every space record.
func (b *Backend) ListSpaces(ctx context.Context, fn func(*metadata.Space) error, bad func(string, error)) error {
	type row struct {
		id      string
		rec     []byte
		version int64
	}
	// Collected first: fn may call the backend, which must not wait for
	// this query's connection.
	var rows []row
	err := b.eng.query(ctx, b.q.listSpaces, nil, func(scan func(...any) error) error {
		var r row
		if err := scan(&r.id, &r.rec, &r.version); err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlmeta: list spaces: %w", err)
	}
	for _, r := range rows {
		s, err := decodeSpace(r.id, r.rec, r.version)
		if err != nil {
			if bad != nil {
				bad(r.id, err)
			}
			continue
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// SpacesBy reads an index. Entries are written with their records, so only
// time can make one stale (an expired grant): each is checked against its
// record as of now.
func (b *Backend) SpacesBy(ctx context.Context, index metadata.SpaceIndex, key string) ([]string, error) {
	if !slices.Contains(metadata.SpaceIndexes, index) {
		return nil, fmt.Errorf("sqlmeta: unknown space index %q", index)
	}
	t := now()
	var ids []string
	err := b.eng.query(ctx, b.q.spacesBy, []any{string(index), key}, func(scan func(...any) error) error {
		var id string
		var rec []byte
		var version int64
		if err := scan(&id, &rec, &version); err != nil {
			return err
		}
		s, err := decodeSpace(id, rec, version)
		if err != nil {
			return err
		}
		if slices.Contains(s.IndexKeys(index, t), key) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: index %s: %w", index, err)
	}
	return ids, nil
}

// NamespaceVersion is the space's ns column, which every folder move,
// rename, trash and restore sets anew in its own transaction.
func (b *Backend) NamespaceVersion(ctx context.Context, sid string) (cache.Stamp, error) {
	if err := validIDs(sid); err != nil {
		return cache.Stamp{}, err
	}
	var ns int64
	found, err := queryRow(ctx, b.eng.query, b.q.readNS, []any{sid}, &ns)
	if err != nil {
		return cache.Stamp{}, fmt.Errorf("sqlmeta: namespace version of %s: %w", sid, err)
	}
	if !found {
		return cache.Stamp{}, fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
	}
	return cache.Stamp{Mtime: ns}, nil
}

// DeleteSpace removes a space's rows: its nodes, its index entries, its
// record.
func (b *Backend) DeleteSpace(ctx context.Context, id string) error {
	if err := validIDs(id); err != nil {
		return err
	}
	return b.inTx(ctx, "delete space", func(tx txn) error {
		for _, q := range b.q.deleteSpace {
			tx.queue(q, id)
		}
		return nil
	})
}
