package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// Backend is the msgpack-file node store. Create it with New.
type Backend struct {
	root  string
	opts  Options
	locks *locker

	nodes    *cache.Cache[*metadata.Node]    // node id -> record, validated by the record file
	listings *cache.Cache[*metadata.Listing] // folder id -> listing, validated by the folder directory
	names    *cache.Cache[string]            // folder id + "/" + name -> child id ("" = no such name), same
	spaces   *cache.Cache[*metadata.Space]   // space id -> record, validated by space.mpk
	spaceIDs sync.Map                        // interned space ids

	lockSets *cache.Cache[*setSnap[metadata.Lock]]        // space id -> locks, validated by <space>/locks
	resSets  *cache.Cache[*setSnap[metadata.Reservation]] // space id -> reservations, validated by <space>/reservations
	migrated sync.Map                                     // space ids seen without state of older code (spacestate.go)

	handles     sync.Map     // space id -> *spaceHandle
	handlesOpen atomic.Int64 // spaces with kept descriptors
}

var _ metadata.Backend = (*Backend)(nil)

// New opens (or creates) a store at opts.Root.
func New(opts Options) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("mpk: root: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, spacesDir), 0o755); err != nil {
		return nil, fmt.Errorf("mpk: create root: %w", err)
	}
	b := &Backend{root: root, opts: opts}
	if b.locks, err = openLocker(filepath.Join(root, lockFile)); err != nil {
		return nil, err
	}
	if b.nodes, err = cache.New[*metadata.Node](opts.cacheOptions(10)); err != nil {
		return nil, err
	}
	if b.listings, err = cache.New[*metadata.Listing](opts.cacheOptions(4)); err != nil {
		return nil, err
	}
	if b.names, err = cache.New[string](opts.cacheOptions(1)); err != nil {
		return nil, err
	}
	if b.spaces, err = cache.New[*metadata.Space](opts.cacheOptions(1)); err != nil {
		return nil, err
	}
	if b.lockSets, err = cache.New[*setSnap[metadata.Lock]](opts.setCacheOptions()); err != nil {
		return nil, err
	}
	if b.resSets, err = cache.New[*setSnap[metadata.Reservation]](opts.setCacheOptions()); err != nil {
		return nil, err
	}
	return b, nil
}

// Root returns the store's root directory (absolute).
func (b *Backend) Root() string { return b.root }

// RecordsInXattr reports whether node records live in extended attributes
// (Options.RecordsInXattr, the metadata/xattr backend).
func (b *Backend) RecordsInXattr() bool { return b.opts.RecordsInXattr }

// Close releases the caches and the lock file.
func (b *Backend) Close() error {
	b.nodes.Close()
	b.listings.Close()
	b.names.Close()
	b.spaces.Close()
	b.lockSets.Close()
	b.resSets.Close()
	b.handles.Range(func(_, h any) bool {
		if fd := h.(*spaceHandle).nsFD; fd >= 0 {
			unix.Close(fd)
		}
		return true
	})
	return b.locks.close()
}

// CacheStats are the counters of the backend's caches.
type CacheStats struct {
	Nodes, Listings, Names, Spaces cache.Stats
}

// CacheStats returns the counters of the caches.
func (b *Backend) CacheStats() CacheStats {
	return CacheStats{
		Nodes:    b.nodes.Stats(),
		Listings: b.listings.Stats(),
		Names:    b.names.Stats(),
		Spaces:   b.spaces.Stats(),
	}
}

// WaitCache blocks until pending cache insertions are applied: benchmarks
// call it after warming up.
func (b *Backend) WaitCache() {
	b.nodes.Wait()
	b.listings.Wait()
	b.names.Wait()
	b.spaces.Wait()
}

func validIDs(ids ...string) error {
	for _, id := range ids {
		if err := metadata.ValidateID(id); err != nil {
			return err
		}
	}
	return nil
}

// CreateSpace creates the space directory, its root folder and, last, its
// record: a space whose record is missing was not created and is finished
// by the next attempt.
func (b *Backend) CreateSpace(ctx context.Context, s *metadata.Space, root *metadata.Node) error {
	if err := validIDs(s.ID); err != nil {
		return err
	}
	if root.ID != s.ID || root.SpaceID != s.ID || root.Type != metadata.TypeDir {
		return fmt.Errorf("mpk: the root of space %s must be a folder with the space's id", s.ID)
	}
	rec, err := metadata.EncodeSpace(s)
	if err != nil {
		return err
	}
	rootRec, err := metadata.EncodeNode(root)
	if err != nil {
		return err
	}
	// Concurrent creates of one space (a user's first logins, on several
	// hosts) take turns: a loser must fail before it replaces the root
	// record the winner wrote.
	unlock, err := b.locks.lockNodes(ctx, s.ID, "space:")
	if err != nil {
		return err
	}
	defer unlock()
	dir := b.spacePath(s.ID)
	recPath := filepath.Join(dir, spaceRecord)
	if _, err := os.Lstat(recPath); err == nil {
		return fmt.Errorf("%w: space %s", metadata.ErrExist, s.ID)
	}
	for _, d := range []string{filepath.Join(dir, nodesDir), filepath.Join(dir, trashDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("mpk: create space: %w", err)
		}
	}
	if err := b.writeNew(filepath.Join(dir, nsFile), nil); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mpk: create space: %w", err)
	}
	if err := os.MkdirAll(b.dirPath(s.ID, s.ID), 0o755); err != nil {
		return fmt.Errorf("mpk: create space: %w", err)
	}
	// A leftover root record of an interrupted attempt is replaced.
	if err := b.replaceRecord(b.recordPath(s.ID, s.ID), rootRec, cache.NextTime(), nil); err != nil {
		return fmt.Errorf("mpk: create space: %w", err)
	}
	if err := b.indexAdd(s); err != nil {
		return err
	}
	if err := b.writeNew(recPath, rec); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: space %s", metadata.ErrExist, s.ID)
		}
		return fmt.Errorf("mpk: create space: %w", err)
	}
	if !s.HasLegacyState() {
		b.migrated.Store(s.ID, true)
	}
	return b.syncDir(dir)
}

// ReadSpace returns a space record.
func (b *Backend) ReadSpace(ctx context.Context, id string) (*metadata.Space, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	if e, ok := b.spaces.Get(id); ok {
		return e.Value, nil
	}
	e, err := b.spaces.GetOrLoad(id, func() (cache.Path, cache.Stamp, *metadata.Space, int64, error) {
		path := filepath.Join(b.spacePath(id), spaceRecord)
		s, st, err := readSpaceFile(path, id)
		return cache.NewPath(path), st, s, 256, err
	})
	if err != nil {
		return nil, err
	}
	return e.Value, nil
}

func readSpaceFile(path, id string) (*metadata.Space, cache.Stamp, error) {
	fd, data, st, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, st, fmt.Errorf("%w: space %s", metadata.ErrNotFound, id)
		}
		return nil, st, fmt.Errorf("mpk: %w", err)
	}
	closeFD(fd)
	s, err := metadata.DecodeSpace(data)
	if err != nil {
		return nil, st, fmt.Errorf("mpk: %s: %w", path, err)
	}
	if s.ID != id {
		return nil, st, fmt.Errorf("mpk: %s: %w: record names space %s", path, metadata.ErrCorrupt, s.ID)
	}
	s.Stamp = st
	return s, st, nil
}

// UpdateSpace changes a space record under the space's lock.
func (b *Backend) UpdateSpace(ctx context.Context, id string, fn func(*metadata.Space) error) (*metadata.Space, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	return b.updateSpace(ctx, id, fn)
}

// updateSpace is UpdateSpace; a nil fn only moves state of older code out
// of the record, and writes nothing if there is none.
func (b *Backend) updateSpace(ctx context.Context, id string, fn func(*metadata.Space) error) (*metadata.Space, error) {
	// The space record shares the root node's lock stripe key space but
	// not its key: "space:" cannot collide with a node id. The locks of
	// the space's record sets are taken too, for the locks and
	// reservations that older code kept in the record and that a write
	// moves out (spacestate.go).
	unlock, err := b.locks.lockNodes(ctx, id, "space:", locksLockKey, reservationsLockKey)
	if err != nil {
		return nil, err
	}
	defer unlock()
	path := filepath.Join(b.spacePath(id), spaceRecord)
	old, st, err := readSpaceFile(path, id)
	if err != nil {
		return nil, err
	}
	if fn == nil && !old.HasLegacyState() {
		b.migrated.Store(id, true)
		return old, nil
	}
	s := old.Clone()
	locks, res := s.TakeLegacyState(time.Now().UnixNano())
	if fn != nil {
		if err := fn(s); err != nil {
			return nil, err
		}
	}
	if s.ID != id {
		return nil, fmt.Errorf("mpk: UpdateSpace may not change the space id")
	}
	if s.HasLegacyState() {
		return nil, fmt.Errorf("mpk: UpdateSpace may not store locks or reservations in the space record (UpdateLocks, UpdateReservations)")
	}
	rec, err := metadata.EncodeSpaceFrom(s, int(st.Size))
	if err != nil {
		return nil, err
	}
	if err := b.storeLegacy(id, locks, res); err != nil {
		return nil, err
	}
	if err := b.indexAdd(s); err != nil {
		return nil, err
	}
	if err := b.replaceFile(path, rec, cache.NextAfter(st.Mtime), nil); err != nil {
		return nil, fmt.Errorf("mpk: update space: %w", err)
	}
	b.spaces.Invalidate(id)
	b.indexDrop(old, s)
	b.migrated.Store(id, true)
	s.Stamp = cache.Stamp{} // unknown until read back
	return s, nil
}

// ListSpaces walks spaces/*/* and reads each space record.
func (b *Backend) ListSpaces(ctx context.Context, fn func(*metadata.Space) error, bad func(string, error)) error {
	shards, err := os.ReadDir(b.spacesPath())
	if err != nil {
		return fmt.Errorf("mpk: list spaces: %w", err)
	}
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(b.spacesPath(), shard.Name()))
		if err != nil {
			return fmt.Errorf("mpk: list spaces: %w", err)
		}
		for _, ent := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := ent.Name()
			if metadata.ValidateID(id) != nil || id[:2] != shard.Name() {
				continue
			}
			s, err := b.ReadSpace(ctx, id)
			if errors.Is(err, metadata.ErrNotFound) {
				continue // being created, or half-created and abandoned
			}
			if err != nil {
				if bad != nil {
					bad(id, err)
				}
				continue
			}
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// NamespaceVersion is the stamp of the space's ns file, whose mtime every
// folder move, rename, trash and restore sets anew.
//
// The ns file is never replaced, only given new mtimes, so an open
// descriptor of it always shows its current stamp: fstat(2) of a kept
// descriptor costs a fraction of a stat(2) by path, and this is on the path
// of every cached path lookup. (If the space is removed, the descriptor's
// inode has no links left, which reads as "not found".)
func (b *Backend) NamespaceVersion(ctx context.Context, sid string) (cache.Stamp, error) {
	h, err := b.space(sid)
	if err != nil {
		return cache.Stamp{}, err
	}
	if h.nsFD < 0 {
		st, err := cache.NewPath(filepath.Join(b.spacePath(sid), nsFile)).Stat()
		if errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
		}
		return st, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(h.nsFD, &st); err != nil {
		return cache.Stamp{}, &os.PathError{Op: "fstat", Path: sid + "/" + nsFile, Err: err}
	}
	if st.Nlink == 0 {
		b.spaces.Invalidate(sid)
		b.handles.Delete(sid) // removed (and maybe created again): start over
		return cache.Stamp{}, fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
	}
	return cache.StampOf(&st), nil
}

// maxHandles bounds the spaces for which descriptors are kept (two each).
const maxHandles = 4096

// spaceHandle holds a space's kept descriptors: its ns file, and its nodes
// directory, below which record and folder paths are resolved (a stat of
// "ab/<id>.mpk" below an open directory is cheaper than of a long absolute
// path). Descriptors are never closed while the process uses the store:
// cached paths refer to them (see cache.Dir).
type spaceHandle struct {
	nsFD  int        // -1 beyond maxHandles
	nodes *cache.Dir // nil beyond maxHandles
}

// space returns the handle of an existing space.
func (b *Backend) space(sid string) (*spaceHandle, error) {
	if h, ok := b.handles.Load(sid); ok {
		return h.(*spaceHandle), nil
	}
	if err := validIDs(sid); err != nil {
		return nil, err
	}
	ns := filepath.Join(b.spacePath(sid), nsFile)
	h := &spaceHandle{nsFD: -1}
	if b.handlesOpen.Add(1) > maxHandles {
		b.handlesOpen.Add(-1)
		if _, err := os.Lstat(ns); err != nil {
			return nil, fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
		}
		return h, nil // not kept: every call stats the ns file by path
	}
	fd, err := openRetry(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.handlesOpen.Add(-1)
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
		}
		return nil, &os.PathError{Op: "open", Path: ns, Err: err}
	}
	nodes, err := cache.OpenDir(filepath.Join(b.spacePath(sid), nodesDir))
	if err != nil {
		unix.Close(fd)
		b.handlesOpen.Add(-1)
		return nil, fmt.Errorf("mpk: space %s: %w", sid, err)
	}
	h.nsFD, h.nodes = fd, nodes
	if old, loaded := b.handles.LoadOrStore(sid, h); loaded {
		unix.Close(fd) // nodes is never closed; see cache.Dir
		b.handlesOpen.Add(-1)
		return old.(*spaceHandle), nil
	}
	return h, nil
}

// cachePath is the path of a file below a space's nodes directory (rel is
// "<id[0:2]>/<id>..."), relative to the kept descriptor when there is one.
func (b *Backend) cachePath(sid, rel string) cache.Path {
	if h, err := b.space(sid); err == nil && h.nodes != nil {
		return h.nodes.Path(rel)
	}
	return cache.NewPath(b.spacePath(sid) + "/" + nodesDir + "/" + rel)
}

// bumpNamespace sets a new mtime on the space's ns file.
func (b *Backend) bumpNamespace(sid string) error {
	path := filepath.Join(b.spacePath(sid), nsFile)
	return b.bumpMtime(path) // the same read-then-set, on a plain file
}

// CacheCounters implements metadata.CacheReporter.
func (b *Backend) CacheCounters() map[string]cache.Stats {
	s := b.CacheStats()
	return map[string]cache.Stats{"records": s.Nodes, "listings": s.Listings, "names": s.Names, "spaces": s.Spaces}
}

// Check implements metadata.Checker: the root must be a readable directory
// and the lock file usable.
func (b *Backend) Check(ctx context.Context) error {
	if _, err := os.Stat(b.spacesPath()); err != nil {
		return fmt.Errorf("mpk: root unusable: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(b.locks.f.Fd()), &st); err != nil {
		return fmt.Errorf("mpk: lock file unusable: %w", err)
	}
	return nil
}
