package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// A record set is a directory of a space that holds small records of one
// kind, one file each: the space's WebDAV locks (locks/) and its quota
// reservations (reservations/). They hold per-request state, which must
// never grow a record that every request reads.
//
// Every record file is immutable: it is written once under a fresh random
// name (temp file, then rename(2): readers never see it half written) and
// removed by unlink(2). Changing a record (refreshing a lock) writes its new
// version under a new name and then unlinks the old one; a crash between
// the two leaves both, and readers keep the version that expires last.
// Immutable files make a cached set cheap to keep current: it is validated
// by the stamp of its directory, which every writer gives a new mtime, and
// when that changed only the names not seen before are read.
//
// Writers hold the set's lock (a stripe of the lock file keyed by the
// space and the set), read the set under it, and apply their whole edit
// before releasing it, so an edit is atomic with what its writer saw. The
// directory is created by the first write (one inode, once per space); a
// space that never had a lock pays one failing stat per lookup.

// setKind describes one kind of record set.
type setKind[T any] struct {
	dir     string // the directory in the space
	lockKey string // the stripe key, next to the space id
	decode  func([]byte) (*T, error)
	encode  func(*T) ([]byte, error)
	key     func(*T) string // a record's identity (lock token, reservation id)
	expires func(*T) int64
	cost    func(*T) int64 // a decoded record's memory, roughly
}

// The stripe keys of the sets cannot collide with node ids (UUIDs) or with
// the space record's "space:".
const (
	locksLockKey        = "locks:"
	reservationsLockKey = "reservations:"
)

var lockSet = &setKind[metadata.Lock]{
	dir:     locksDir,
	lockKey: locksLockKey,
	decode:  metadata.DecodeLock,
	encode:  metadata.EncodeLock,
	key:     func(l *metadata.Lock) string { return l.Token },
	expires: func(l *metadata.Lock) int64 { return l.Expires },
	cost: func(l *metadata.Lock) int64 {
		return int64(160 + len(l.Token) + len(l.NodeID) + len(l.Path) + len(l.User) + len(l.Owner))
	},
}

var reservationSet = &setKind[metadata.Reservation]{
	dir:     reservationsDir,
	lockKey: reservationsLockKey,
	decode:  metadata.DecodeReservation,
	encode:  metadata.EncodeReservation,
	key:     func(r *metadata.Reservation) string { return r.ID },
	expires: func(r *metadata.Reservation) int64 { return r.Expires },
	cost:    func(r *metadata.Reservation) int64 { return int64(120 + len(r.ID) + len(r.User)) },
}

// setSnap is a set as one directory stamp showed it.
type setSnap[T any] struct {
	files map[string]*T // file name -> record; nil for a file that does not decode
	list  []T           // one record per key: the version that expires last
	cost  int64
}

var errNoSet = errors.New("mpk: no record set directory")

// readSetFile reads and decodes one record file; a missing file (removed
// since the directory was read) is fs.ErrNotExist.
func readSetFile[T any](k *setKind[T], path string) (*T, error) {
	fd, data, _, err := readFile(path)
	if err != nil {
		return nil, err
	}
	closeFD(fd)
	return k.decode(data)
}

// build makes a snapshot from the files of a directory, reusing what prev
// decoded (files are immutable, so a known name is a known record).
func buildSnap[T any](k *setKind[T], dir string, names []string, prev *setSnap[T]) *setSnap[T] {
	snap := &setSnap[T]{files: make(map[string]*T, len(names))}
	for _, name := range names {
		if !isSetFile(name) {
			continue // a temp file being written, or something check reports
		}
		if prev != nil {
			if rec, ok := prev.files[name]; ok {
				snap.files[name] = rec
				continue
			}
		}
		rec, err := readSetFile(k, dir+"/"+name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed since the directory was read
		case err != nil:
			// Unreadable: left out, and left for check to report. One bad
			// record must not fail every request of the space.
			snap.files[name] = nil
		default:
			snap.files[name] = rec
		}
	}
	snap.list = latest(k, snap.files)
	snap.cost = setCost(k, snap.files)
	return snap
}

// setCost estimates the memory of a snapshot, for the cache's bound.
func setCost[T any](k *setKind[T], files map[string]*T) int64 {
	n := int64(64)
	for name, rec := range files {
		n += int64(len(name)) + 48
		if rec != nil {
			n += 2 * k.cost(rec) // in the map and in the list
		}
	}
	return n
}

// latest returns one record per key, the version that expires last.
func latest[T any](k *setKind[T], files map[string]*T) []T {
	best := make(map[string]*T, len(files))
	for _, rec := range files {
		if rec == nil {
			continue
		}
		key := k.key(rec)
		if b, ok := best[key]; !ok || k.expires(rec) > k.expires(b) {
			best[key] = rec
		}
	}
	list := make([]T, 0, len(best))
	for _, rec := range best {
		list = append(list, *rec)
	}
	return list
}

func isSetFile(name string) bool {
	id, ok := strings.CutSuffix(name, recordExt)
	return ok && metadata.ValidateID(id) == nil
}

// loadSet returns the current snapshot of a space's set, from the cache if
// the directory's stamp still matches (one stat), else reading the files it
// has not seen. fresh forces validation in relaxed mode (writers). A
// missing directory is an empty set, with errNoSet.
func loadSet[T any](b *Backend, k *setKind[T], c *cache.Cache[*setSnap[T]], sid string, fresh bool) (*setSnap[T], error) {
	dir := b.spacePath(sid) + "/" + k.dir
	prev, ok := c.GetUnchecked(sid)
	if ok && !fresh && c.Fresh(prev) {
		c.Count(true, false)
		return prev.Value, nil
	}
	var path cache.Path
	if ok {
		path = prev.Path
	} else {
		path = cache.NewPath(dir)
	}
	st, err := path.Stat()
	if errors.Is(err, fs.ErrNotExist) {
		return &setSnap[T]{}, errNoSet
	}
	if err != nil {
		return nil, fmt.Errorf("mpk: %w", err)
	}
	if ok && prev.Stamp == st {
		c.Count(true, false)
		c.Validated(prev)
		return prev.Value, nil
	}
	c.Count(false, ok)
	names, err := readDirNames(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &setSnap[T]{}, errNoSet
	}
	if err != nil {
		return nil, fmt.Errorf("mpk: read %s: %w", dir, err)
	}
	var old *setSnap[T]
	if ok {
		old = prev.Value
	}
	snap := buildSnap(k, dir, names, old)
	c.Put(sid, path, st, snap, snap.cost)
	return snap, nil
}

// readSet returns a space's records (shared; not to be modified).
func readSet[T any](b *Backend, k *setKind[T], c *cache.Cache[*setSnap[T]], sid string) ([]T, error) {
	snap, err := loadSet(b, k, c, sid, false)
	if err != nil && !errors.Is(err, errNoSet) {
		return nil, err
	}
	return snap.list, nil
}

// updateSet runs fn on a space's set under the set's lock and applies the
// edit it returns (puts replace the records with their keys). The caller
// has checked that the space exists and holds no state of older code.
func updateSet[T any](ctx context.Context, b *Backend, k *setKind[T], c *cache.Cache[*setSnap[T]], sid string,
	fn func([]T) (put []T, del []string, err error)) error {
	unlock, err := b.locks.lockNodes(ctx, sid, k.lockKey)
	if err != nil {
		return err
	}
	defer unlock()
	return applySet(b, k, c, sid, fn)
}

// applySet is updateSet for a caller that holds the set's lock.
func applySet[T any](b *Backend, k *setKind[T], c *cache.Cache[*setSnap[T]], sid string,
	fn func([]T) ([]T, []string, error)) error {
	snap, err := loadSet(b, k, c, sid, true)
	exists := err == nil
	if err != nil && !errors.Is(err, errNoSet) {
		return err
	}
	put, del, err := fn(snap.list)
	if err != nil || len(put) == 0 && len(del) == 0 {
		return err
	}
	// Everything is encoded before anything changes: a record over the
	// limit fails the whole edit.
	recs := make([][]byte, len(put))
	for i := range put {
		if recs[i], err = k.encode(&put[i]); err != nil {
			return err
		}
	}
	dir := b.spacePath(sid) + "/" + k.dir
	if !exists && len(put) > 0 {
		// Only the set's own directory: a space that is gone must not
		// come back as an empty directory.
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
			}
			return fmt.Errorf("mpk: %w", err)
		}
	}
	// The files to remove: every version of a key that is deleted or
	// replaced, and the older versions a crash left behind.
	gone := map[string]bool{}
	for _, key := range del {
		gone[key] = true
	}
	for i := range put {
		gone[k.key(&put[i])] = true
	}
	files := make(map[string]*T, len(snap.files)+len(put))
	best := map[string]string{} // key -> file name of the version kept
	var stale []string
	for name, rec := range snap.files {
		switch {
		case rec == nil:
			files[name] = nil // unreadable: check's business
		case gone[k.key(rec)]:
			stale = append(stale, name)
		default:
			key := k.key(rec)
			if other, ok := best[key]; ok {
				if k.expires(snap.files[other]) >= k.expires(rec) {
					stale = append(stale, name)
					continue
				}
				stale = append(stale, other)
				delete(files, other)
			}
			best[key] = name
			files[name] = rec
		}
	}
	for i := range put {
		name := uuid.NewString() + recordExt
		if err := b.replaceFile(dir+"/"+name, recs[i], cache.NextTime(), nil); err != nil {
			return fmt.Errorf("mpk: write %s record: %w", k.dir, err)
		}
		files[name] = &put[i]
	}
	for _, name := range stale {
		if err := unix.Unlink(dir + "/" + name); err != nil && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "unlink", Path: dir + "/" + name, Err: err}
		}
	}
	if len(stale) > 0 {
		if err := b.syncDir(dir); err != nil {
			return err
		}
	}
	if err := b.bumpMtime(dir); err != nil {
		return err
	}
	// The state just written is known exactly: cache it under the stamp
	// it has now, while the lock keeps it from changing.
	path := cache.NewPath(dir)
	st, err := path.Stat()
	if err != nil {
		c.Invalidate(sid)
		return nil
	}
	next := &setSnap[T]{files: files, list: latest(k, files), cost: setCost(k, files)}
	c.Put(sid, path, st, next, next.cost)
	return nil
}
