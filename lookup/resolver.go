package lookup

import (
	"context"
	"fmt"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// Options configure a Resolver.
type Options struct {
	// CacheBytes bounds the path caches; 0 disables them (every
	// resolution walks, each step still served by the backend's caches).
	CacheBytes int64
	Mode       cache.Mode
	MaxStale   time.Duration
}

// DefaultOptions: 64 MiB of path caches, strict.
func DefaultOptions() Options {
	return Options{CacheBytes: 64 << 20, Mode: cache.Strict, MaxStale: time.Second}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	return o.cacheOptions().Validate()
}

func (o Options) cacheOptions() cache.Options {
	return cache.Options{MaxBytes: o.CacheBytes / 2, Mode: o.Mode, MaxStale: o.MaxStale}
}

// Resolver turns paths into nodes and nodes into paths.
//
// Both directions are cached. A cached answer is only as good as the names
// of the nodes on the path, and those can change in two ways: the node
// itself is renamed, moved or trashed (its own record changes, which a
// record read notices), or a folder above it is (which changes the space's
// namespace version, see metadata.Backend.NamespaceVersion). So an entry
// stores the namespace version it was computed under and the leaf's parent
// and name, and is served only while both still hold: two validations (the
// namespace version and the leaf record) however deep the path.
type Resolver struct {
	b     metadata.Backend
	paths *cache.Cache[pathEntry] // space + start + path -> node
	ids   *cache.Cache[pathEntry] // node id -> path
}

type pathEntry struct {
	ns       cache.Stamp // namespace version when computed
	id       string      // the node the path leads to
	parentID string      // its parent and name then
	name     string
	path     string // its space path (ids cache)
}

// New creates a Resolver over a backend.
func New(b metadata.Backend, opts Options) (*Resolver, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	r := &Resolver{b: b}
	var err error
	if r.paths, err = cache.New[pathEntry](opts.cacheOptions()); err != nil {
		return nil, err
	}
	if r.ids, err = cache.New[pathEntry](opts.cacheOptions()); err != nil {
		return nil, err
	}
	return r, nil
}

// Close releases the caches.
func (r *Resolver) Close() {
	r.paths.Close()
	r.ids.Close()
}

// Stats returns the counters of the path-to-node and node-to-path caches.
func (r *Resolver) Stats() (paths, ids cache.Stats) { return r.paths.Stats(), r.ids.Stats() }

// Wait applies pending cache insertions (benchmarks call it after warming).
func (r *Resolver) Wait() {
	r.paths.Wait()
	r.ids.Wait()
}

// check reports whether e still describes n: same namespace version (or
// fresh in relaxed mode) and the leaf still under the same name, not
// trashed.
func (r *Resolver) check(ctx context.Context, c *cache.Cache[pathEntry], e *cache.Entry[pathEntry], n *metadata.Node) (bool, error) {
	if n.ParentID != e.Value.parentID || n.Name != e.Value.name || n.Trashed != 0 {
		return false, nil
	}
	if c.Fresh(e) {
		return true, nil
	}
	ns, err := r.b.NamespaceVersion(ctx, n.SpaceID)
	if err != nil {
		return false, err
	}
	if ns != e.Value.ns {
		return false, nil
	}
	if c.Mode() == cache.Relaxed {
		c.Validated(e)
	}
	return true, nil
}

// Resolve returns the node at path p below node startID of space sid
// (segments as in Split; each must be a valid name). Every folder on the way
// must be live: the walk goes through links, so a trashed folder is never
// passed. The start node's own liveness is the caller's business (see
// PathOf).
func (r *Resolver) Resolve(ctx context.Context, sid, startID, p string) (*metadata.Node, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	key := sid + startID + p
	if e, ok := r.paths.GetUnchecked(key); ok {
		n, err := r.b.ReadNode(ctx, sid, e.Value.id)
		if err == nil {
			ok, err := r.check(ctx, r.paths, e, n)
			if err != nil {
				return nil, err
			}
			if ok {
				r.paths.Count(true, false)
				return n, nil
			}
		}
		r.paths.Count(false, true)
		r.paths.Invalidate(key)
	} else {
		r.paths.Count(false, false)
	}
	segs, _ := Split(p) // p is clean
	for _, s := range segs {
		if err := metadata.ValidateName(s); err != nil {
			return nil, err
		}
	}
	// The namespace version is read before the walk: a folder move that
	// the walk does not see changes it afterwards, so the entry cannot
	// outlive the move.
	ns, err := r.b.NamespaceVersion(ctx, sid)
	if err != nil {
		return nil, err
	}
	n, err := r.b.ReadNode(ctx, sid, startID)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		if n.Type != metadata.TypeDir {
			return nil, fmt.Errorf("%w: %q is below a file", metadata.ErrNotDir, p)
		}
		if n, err = r.b.Lookup(ctx, sid, n.ID, s); err != nil {
			return nil, err
		}
	}
	if len(segs) > 0 {
		r.paths.Put(key, cache.Path{}, cache.Stamp{}, pathEntry{ns: ns, id: n.ID, parentID: n.ParentID, name: n.Name},
			int64(len(key)+len(n.ID)+len(n.ParentID)+len(n.Name))+96)
	}
	return n, nil
}

// PathOf returns the space path of n ("/" for the root) by walking its
// parents, or metadata.ErrNotFound if n or a folder above it is in the
// trash: a node is live exactly when PathOf succeeds.
func (r *Resolver) PathOf(ctx context.Context, n *metadata.Node) (string, error) {
	if n.IsRoot() {
		return "/", nil
	}
	if e, ok := r.ids.GetUnchecked(n.ID); ok {
		ok, err := r.check(ctx, r.ids, e, n)
		if err != nil {
			return "", err
		}
		if ok {
			r.ids.Count(true, false)
			return e.Value.path, nil
		}
		r.ids.Count(false, true)
		r.ids.Invalidate(n.ID)
	} else {
		r.ids.Count(false, false)
	}
	ns, err := r.b.NamespaceVersion(ctx, n.SpaceID)
	if err != nil {
		return "", err
	}
	p, err := r.walkUp(ctx, n, ns)
	if err != nil {
		return "", err
	}
	r.ids.Put(n.ID, cache.Path{}, cache.Stamp{}, pathEntry{ns: ns, id: n.ID, parentID: n.ParentID, name: n.Name, path: p},
		int64(len(n.ID)+len(n.ParentID)+len(n.Name)+len(p))+96)
	return p, nil
}

// maxDepth bounds a parent walk, so that a corrupt store with a parent cycle
// gives an error instead of a hang.
const maxDepth = 4096

// walkUp builds n's path from its ancestors' names, stopping early at an
// ancestor whose path is cached and valid under namespace version ns: a
// node read for the first time costs one step, not one per level.
func (r *Resolver) walkUp(ctx context.Context, n *metadata.Node, ns cache.Stamp) (string, error) {
	var names []string
	prefix := ""
	for cur := n; !cur.IsRoot(); {
		if cur.Trashed != 0 {
			return "", fmt.Errorf("%w: node %s is in the trash", metadata.ErrNotFound, n.ID)
		}
		if len(names) == maxDepth {
			return "", fmt.Errorf("%w: node %s: parent chain longer than %d (a cycle?)", metadata.ErrCorrupt, n.ID, maxDepth)
		}
		if cur != n {
			if e, ok := r.ids.GetUnchecked(cur.ID); ok && e.Value.ns == ns &&
				e.Value.parentID == cur.ParentID && e.Value.name == cur.Name {
				prefix = e.Value.path
				break
			}
		}
		names = append(names, cur.Name)
		parent, err := r.b.ReadNode(ctx, cur.SpaceID, cur.ParentID)
		if err != nil {
			return "", err
		}
		cur = parent
	}
	size := len(prefix)
	for _, s := range names {
		size += len(s) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(buf, prefix...)
	for i := len(names) - 1; i >= 0; i-- {
		buf = append(buf, '/')
		buf = append(buf, names[i]...)
	}
	return string(buf), nil
}
