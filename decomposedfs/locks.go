package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// WebDAV locks belong to URLs, not to resources (RFC 4918, 7): a lock's
// root is the space path it was taken on, and the resource it protects is
// the node at that path. Each lock is a record of its own in the metadata
// store (Backend.UpdateLocks), never part of a record others read:
//
//   - a lock whose path no longer names its node protects nothing: its
//     resource was moved away or deleted (those operations also remove it,
//     but a crash between the two must not leave it in force);
//   - a MOVE or COPY onto a locked path, made with the lock's token, puts
//     the new resource under that lock (7.7): the lock keeps its token and
//     takes the new node's id;
//   - a MOVE leaves its source's locks behind, and since their path is
//     then unmapped, they go;
//   - what is created or moved below a folder with a depth-infinity lock
//     is covered by it, by its path.
//
// Taking a lock is one UpdateLocks: the check against every other lock of
// the space (above it with depth infinity, below it for a deep lock) and
// the new record are atomic. A mutation learns whether anything in the
// space is locked from ReadLocks, one cached, stamp-validated read.

// Lock errors.
var (
	// ErrLocked: the resource, a folder above it or (for operations on a
	// whole subtree) something below it is locked, and the request did not
	// carry the lock's token.
	ErrLocked = errors.New("decomposedfs: locked")
	// ErrNoSuchLock: the token names no active lock on the resource.
	ErrNoSuchLock = errors.New("decomposedfs: no such lock")
)

// Lock timeouts.
const (
	DefaultLockTimeout = 10 * time.Minute
	MaxLockTimeout     = 7 * 24 * time.Hour
)

// LockOptions describe a lock to take.
type LockOptions struct {
	User    string // the principal taking the lock
	Owner   string // the client's description of the owner (WebDAV: XML), opaque
	Shared  bool
	Deep    bool // depth infinity
	Timeout time.Duration
	// Create, for a reference that names nothing, creates an empty file
	// there and locks it (WebDAV: LOCK of an unmapped URL); if the lock
	// cannot be taken, the file goes again.
	Create bool
}

// LockInfo describes an active lock.
type LockInfo struct {
	Token   string // "opaquelocktoken:<uuid>"
	NodeID  string
	Path    string // the lock root: the space path the lock was taken on
	User    string
	Owner   string
	Shared  bool
	Deep    bool
	Expires time.Time
	// Created says that the lock created the empty file it locks
	// (LockOptions.Create).
	Created bool
}

type lockTokensKey struct{}

// WithLockTokens returns a context carrying lock tokens that the request
// submitted (WebDAV: in its If header). Mutations are allowed on locked
// resources only when the context carries a token of every lock in the way.
func WithLockTokens(ctx context.Context, tokens ...string) context.Context {
	if len(tokens) == 0 {
		return ctx
	}
	old, _ := ctx.Value(lockTokensKey{}).([]string)
	return context.WithValue(ctx, lockTokensKey{}, append(slices.Clip(old), tokens...))
}

func lockTokens(ctx context.Context) []string {
	t, _ := ctx.Value(lockTokensKey{}).([]string)
	return t
}

// target is what a mutation touches: a node's path, and whether the whole
// subtree below it is touched too (deleting or moving a folder).
type target struct {
	path string
	deep bool
}

// under reports whether p is q or below q.
func under(p, q string) bool {
	return p == q || q == "/" || strings.HasPrefix(p, q+"/")
}

// lockRoot returns the path of the resource a lock protects now, and false
// if it protects nothing: it expired, or its path no longer names its node.
// A lock written by older code has no path and follows its node.
func (fs *FS) lockRoot(ctx context.Context, sid string, l *metadata.Lock, now int64) (string, bool, error) {
	if l.Expires <= now {
		return "", false, nil
	}
	if l.Path == "" {
		n, err := fs.meta.ReadNode(ctx, sid, l.NodeID)
		if err == nil {
			var p string
			if p, err = fs.lu.PathOf(ctx, n); err == nil {
				return p, true, nil
			}
		}
		if errors.Is(err, ErrNotFound) {
			return "", false, nil
		}
		return "", false, err
	}
	n, err := fs.lu.Resolve(ctx, sid, sid, l.Path)
	switch {
	case errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotDir):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return l.Path, n.ID == l.NodeID, nil
}

// activeLocks returns the space's locks that protect something, with
// their roots.
func (fs *FS) activeLocks(ctx context.Context, sid string) ([]LockInfo, error) {
	return fs.locksNear(ctx, sid)
}

// locksNear returns the space's locks that protect something and, if
// targets are given, that may be in the way of one of them. The path a lock
// record holds tells which may (a string comparison); only those are
// validated against the tree (a path resolution each), so that many locks
// elsewhere in the space cost a mutation next to nothing.
func (fs *FS) locksNear(ctx context.Context, sid string, targets ...target) ([]LockInfo, error) {
	ls, err := fs.meta.ReadLocks(ctx, sid)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	now := time.Now().UnixNano()
	var out []LockInfo
	for i := range ls {
		l := &ls[i]
		if l.Expires <= now {
			continue
		}
		if l.Path != "" && len(targets) > 0 && !slices.ContainsFunc(targets, func(t target) bool {
			return covers(LockInfo{Path: l.Path, Deep: l.Deep}, t)
		}) {
			continue
		}
		p, ok, err := fs.lockRoot(ctx, sid, l, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, lockInfo(*l, p))
		}
	}
	return out, nil
}

func lockInfo(l metadata.Lock, path string) LockInfo {
	return LockInfo{Token: l.Token, NodeID: l.NodeID, Path: path, User: l.User, Owner: l.Owner,
		Shared: l.Shared, Deep: l.Deep, Expires: time.Unix(0, l.Expires)}
}

// covers reports whether lock l is in the way of a change of t.
func covers(l LockInfo, t target) bool {
	if l.Path == t.path || (l.Deep && under(t.path, l.Path)) {
		return true
	}
	return t.deep && under(l.Path, t.path)
}

// checkLocks fails with ErrLocked if a lock is in the way of any target and
// the context does not carry its token. Of several shared locks in the way,
// one token is enough (RFC 4918, 6.1); a token counts only for the user who
// took the lock, when the context names a user (WithUser). With no locks in
// the space this is one cached read.
func (fs *FS) checkLocks(ctx context.Context, sid string, targets ...target) error {
	locks, err := fs.locksNear(ctx, sid, targets...)
	if err != nil || len(locks) == 0 {
		return err
	}
	tokens, user := lockTokens(ctx), userOf(ctx)
	held := func(l LockInfo) bool {
		return slices.Contains(tokens, l.Token) && (user == "" || l.User == "" || l.User == user)
	}
	for _, t := range targets {
		var shared []LockInfo
		sharedHeld := false
		for _, l := range locks {
			if !covers(l, t) {
				continue
			}
			if l.Shared {
				shared = append(shared, l)
				sharedHeld = sharedHeld || held(l)
				continue
			}
			if !held(l) {
				return fmt.Errorf("%w: %s (lock on %s)", ErrLocked, t.path, l.Path)
			}
		}
		if len(shared) > 0 && !sharedHeld {
			return fmt.Errorf("%w: %s (shared lock on %s)", ErrLocked, t.path, shared[0].Path)
		}
	}
	return nil
}

// SpaceLocks returns every active lock of a space, with its root (for lock
// discovery over many resources at once).
func (fs *FS) SpaceLocks(ctx context.Context, spaceID string) ([]LockInfo, error) {
	if err := metadata.ValidateID(spaceID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	return fs.activeLocks(ctx, spaceID)
}

// LocksCovering filters locks (from SpaceLocks) to those that cover a
// resource at path p: its own, and deep ones of folders above it.
func LocksCovering(locks []LockInfo, p string) []LockInfo {
	var out []LockInfo
	for _, l := range locks {
		if covers(l, target{path: p}) {
			out = append(out, l)
		}
	}
	return out
}

// parentOf returns the space path of the folder containing p.
func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Lock locks a node. A conflicting lock (any lock, against an exclusive
// one; an exclusive one, against a shared one) on the node, on a folder
// above it with depth infinity, or, for a deep lock, on anything below it,
// gives ErrLocked. The conflict check and the new lock are one atomic
// update of the space's locks. A user holds at most
// Options.MaxLocksPerUser locks in a space (ErrLimit beyond), and an owner
// text of at most Options.MaxLockOwner bytes (ErrTooLarge beyond).
func (fs *FS) Lock(ctx context.Context, ref Reference, opts LockOptions) (*LockInfo, error) {
	if len(opts.Owner) > fs.opts.MaxLockOwner {
		return nil, fmt.Errorf("%w: a lock owner of %d bytes; at most %d are kept", ErrTooLarge, len(opts.Owner), fs.opts.MaxLockOwner)
	}
	n, p, err := fs.resolve(ctx, ref)
	created := false
	if errors.Is(err, ErrNotFound) && opts.Create {
		if _, err = fs.TouchFile(ctx, ref, time.Time{}); err == nil {
			created = true
		} else if !errors.Is(err, ErrExist) { // ErrExist: made meanwhile; lock that
			return nil, err
		}
		n, p, err = fs.resolve(ctx, ref)
	}
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*LockInfo, error) {
		if created {
			fs.removeEmpty(ctx, n)
		}
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermLock); err != nil {
		return fail(err)
	}
	timeout := clampTimeout(opts.Timeout)
	now := cache.NextTime()
	nl := metadata.Lock{
		Token: "opaquelocktoken:" + uuid.NewString(), NodeID: n.ID, Path: p, User: opts.User, Owner: opts.Owner,
		Shared: opts.Shared, Deep: opts.Deep && n.Type == metadata.TypeDir, Created: now, Expires: now + int64(timeout),
	}
	mt := target{path: p, deep: nl.Deep}
	err = fs.meta.UpdateLocks(ctx, n.SpaceID, func(locks []metadata.Lock) (metadata.LockEdit, error) {
		// Only the user's own locks (they count) and those in the way of
		// the new one are validated against the tree; expired ones go.
		edit, live, err := fs.pruneLocks(ctx, n.SpaceID, locks, now, func(l *metadata.Lock) bool {
			return l.Path == "" || (opts.User != "" && l.User == opts.User) || covers(LockInfo{Path: l.Path, Deep: l.Deep}, mt)
		})
		if err != nil {
			return edit, err
		}
		mine := 0
		for _, old := range live {
			if opts.User != "" && old.User == opts.User {
				mine++
			}
			if covers(old, mt) && (!old.Shared || !nl.Shared) {
				return edit, fmt.Errorf("%w: %s (lock on %s)", ErrLocked, p, old.Path)
			}
		}
		if opts.User != "" && mine >= fs.opts.MaxLocksPerUser {
			return edit, fmt.Errorf("%w: %s holds %d locks in this space, the most one user may", ErrLimit, opts.User, mine)
		}
		edit.Put = append(edit.Put, nl)
		return edit, nil
	})
	if err != nil {
		return fail(err)
	}
	li := lockInfo(nl, p)
	li.Created = created
	return &li, nil
}

// removeEmpty takes out the empty file a failed Lock created, leaving
// nothing behind, not even in the trash. Another request may have given
// it content meanwhile: then it stays in the trash, where its owner finds
// it.
func (fs *FS) removeEmpty(ctx context.Context, n *metadata.Node) {
	ctx = context.WithoutCancel(ctx)
	old, err := fs.meta.TrashNode(ctx, n.SpaceID, n.ID)
	if err != nil {
		fs.log.WarnContext(ctx, "a failed LOCK could not remove the empty file it created", "space", n.SpaceID, "node", n.ID, "err", err)
		return
	}
	fs.propagate(ctx, n.SpaceID, old.ParentID, -old.TreeSize())
	if old.Size != 0 || old.BlobID != "" {
		return
	}
	if err := fs.meta.PurgeNode(ctx, n.SpaceID, n.ID); err != nil {
		fs.log.WarnContext(ctx, "a failed LOCK left the empty file it created in the trash", "space", n.SpaceID, "node", n.ID, "err", err)
	}
}

// pruneLocks returns the locks that protect something among those that
// matter (all unexpired ones if matter is nil), with their roots, and an
// edit that removes those that do not, the expired ones included (and
// gives locks of older code the path they have now).
func (fs *FS) pruneLocks(ctx context.Context, sid string, locks []metadata.Lock, now int64, matter func(*metadata.Lock) bool) (metadata.LockEdit, []LockInfo, error) {
	var edit metadata.LockEdit
	var live []LockInfo
	for i := range locks {
		l := locks[i]
		if l.Expires <= now {
			edit.Delete = append(edit.Delete, l.Token)
			continue
		}
		if matter != nil && !matter(&l) {
			continue
		}
		p, ok, err := fs.lockRoot(ctx, sid, &l, now)
		if err != nil {
			return edit, nil, err
		}
		if !ok {
			edit.Delete = append(edit.Delete, l.Token)
			continue
		}
		if l.Path == "" {
			l.Path = p
			edit.Put = append(edit.Put, l)
		}
		live = append(live, lockInfo(l, p))
	}
	return edit, live, nil
}

func clampTimeout(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return DefaultLockTimeout
	case d > MaxLockTimeout:
		return MaxLockTimeout
	}
	return d
}

// RefreshLock extends an active lock that covers ref.
func (fs *FS) RefreshLock(ctx context.Context, ref Reference, token string, timeout time.Duration) (*LockInfo, error) {
	return fs.changeLock(ctx, ref, token, func(l *metadata.Lock, now int64) bool {
		l.Expires = now + int64(clampTimeout(timeout))
		return true
	})
}

// Unlock removes an active lock that covers ref.
func (fs *FS) Unlock(ctx context.Context, ref Reference, token string) error {
	_, err := fs.changeLock(ctx, ref, token, func(*metadata.Lock, int64) bool { return false })
	return err
}

// changeLock finds the active lock token that covers ref and lets change
// update it (true: keep it) or remove it (false).
func (fs *FS) changeLock(ctx context.Context, ref Reference, token string, change func(l *metadata.Lock, now int64) bool) (*LockInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermLock); err != nil {
		return nil, err
	}
	var out LockInfo
	err = fs.meta.UpdateLocks(ctx, n.SpaceID, func(locks []metadata.Lock) (metadata.LockEdit, error) {
		now := time.Now().UnixNano()
		i := slices.IndexFunc(locks, func(l metadata.Lock) bool { return l.Token == token })
		if i < 0 {
			return metadata.LockEdit{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
		}
		l := locks[i]
		if u := userOf(ctx); u != "" && l.User != "" && l.User != u {
			return metadata.LockEdit{}, fmt.Errorf("%w: %s belongs to another user", ErrNoSuchLock, token)
		}
		lp, ok, err := fs.lockRoot(ctx, n.SpaceID, &l, now)
		if err != nil {
			return metadata.LockEdit{}, err
		}
		if !ok {
			// Expired, or its resource is gone (the next Lock prunes it).
			return metadata.LockEdit{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
		}
		if !covers(lockInfo(l, lp), target{path: p}) {
			return metadata.LockEdit{}, fmt.Errorf("%w: %s does not cover %s", ErrNoSuchLock, token, p)
		}
		l.Path = lp
		if !change(&l, now) {
			return metadata.LockEdit{Delete: []string{token}}, nil
		}
		out = lockInfo(l, lp)
		return metadata.LockEdit{Put: []metadata.Lock{l}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Locks returns the active locks that cover ref: its own and those of
// folders above it with depth infinity.
func (fs *FS) Locks(ctx context.Context, ref Reference) ([]LockInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermStat); err != nil {
		return nil, err
	}
	locks, err := fs.locksNear(ctx, n.SpaceID, target{path: p})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(locks, func(l LockInfo) bool { return !covers(l, target{path: p}) }), nil
}
