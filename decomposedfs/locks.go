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
}

// LockInfo describes an active lock.
type LockInfo struct {
	Token   string // "opaquelocktoken:<uuid>"
	NodeID  string
	Path    string // the locked node's space path now
	User    string
	Owner   string
	Shared  bool
	Deep    bool
	Expires time.Time
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

// activeLocks returns the space's unexpired locks with their nodes' current
// paths; locks whose node is gone or trashed are left out (they protect
// nothing).
func (fs *FS) activeLocks(ctx context.Context, sid string) ([]LockInfo, error) {
	s, err := fs.meta.ReadSpace(ctx, sid)
	if err != nil {
		return nil, err
	}
	if len(s.Locks) == 0 {
		return nil, nil
	}
	now := time.Now().UnixNano()
	var out []LockInfo
	for _, l := range s.Locks {
		if l.Expires <= now {
			continue
		}
		n, err := fs.meta.ReadNode(ctx, sid, l.NodeID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := fs.lu.PathOf(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, lockInfo(l, p))
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
// the space this is one cached read of the space record.
func (fs *FS) checkLocks(ctx context.Context, sid string, targets ...target) error {
	locks, err := fs.activeLocks(ctx, sid)
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

// SpaceLocks returns every active lock of a space, with its node's current
// path (for lock discovery over many resources at once).
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
// update of the space record.
func (fs *FS) Lock(ctx context.Context, ref Reference, opts LockOptions) (*LockInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermLock); err != nil {
		return nil, err
	}
	timeout := clampTimeout(opts.Timeout)
	now := cache.NextTime()
	nl := metadata.Lock{
		Token: "opaquelocktoken:" + uuid.NewString(), NodeID: n.ID, User: opts.User, Owner: opts.Owner,
		Shared: opts.Shared, Deep: opts.Deep && n.Type == metadata.TypeDir, Created: now, Expires: now + int64(timeout),
	}
	_, err = fs.meta.UpdateSpace(ctx, n.SpaceID, func(s *metadata.Space) error {
		s.Locks = pruneLocks(s.Locks, now)
		for _, l := range s.Locks {
			ln, err := fs.meta.ReadNode(ctx, n.SpaceID, l.NodeID)
			if err != nil {
				continue
			}
			lp, err := fs.lu.PathOf(ctx, ln)
			if err != nil {
				continue
			}
			old := lockInfo(l, lp)
			if !covers(old, target{path: p, deep: nl.Deep}) {
				continue
			}
			if !old.Shared || !nl.Shared {
				return fmt.Errorf("%w: %s (lock on %s)", ErrLocked, p, lp)
			}
		}
		s.Locks = append(s.Locks, nl)
		return nil
	})
	if err != nil {
		return nil, err
	}
	li := lockInfo(nl, p)
	return &li, nil
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

func pruneLocks(ls []metadata.Lock, now int64) []metadata.Lock {
	return slices.DeleteFunc(ls, func(l metadata.Lock) bool { return l.Expires <= now })
}

// RefreshLock extends an active lock that covers ref.
func (fs *FS) RefreshLock(ctx context.Context, ref Reference, token string, timeout time.Duration) (*LockInfo, error) {
	return fs.changeLock(ctx, ref, token, func(s *metadata.Space, i int, now int64) {
		s.Locks[i].Expires = now + int64(clampTimeout(timeout))
	})
}

// Unlock removes an active lock that covers ref.
func (fs *FS) Unlock(ctx context.Context, ref Reference, token string) error {
	_, err := fs.changeLock(ctx, ref, token, func(s *metadata.Space, i int, now int64) {
		s.Locks = slices.Delete(s.Locks, i, i+1)
	})
	return err
}

func (fs *FS) changeLock(ctx context.Context, ref Reference, token string, change func(s *metadata.Space, i int, now int64)) (*LockInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermLock); err != nil {
		return nil, err
	}
	var out LockInfo
	_, err = fs.meta.UpdateSpace(ctx, n.SpaceID, func(s *metadata.Space) error {
		now := time.Now().UnixNano()
		s.Locks = pruneLocks(s.Locks, now)
		i := slices.IndexFunc(s.Locks, func(l metadata.Lock) bool { return l.Token == token })
		if i < 0 {
			return fmt.Errorf("%w: %s", ErrNoSuchLock, token)
		}
		if u := userOf(ctx); u != "" && s.Locks[i].User != "" && s.Locks[i].User != u {
			return fmt.Errorf("%w: %s belongs to another user", ErrNoSuchLock, token)
		}
		ln, err := fs.meta.ReadNode(ctx, n.SpaceID, s.Locks[i].NodeID)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrNoSuchLock, token)
		}
		lp, err := fs.lu.PathOf(ctx, ln)
		if err != nil || !covers(lockInfo(s.Locks[i], lp), target{path: p}) {
			return fmt.Errorf("%w: %s does not cover %s", ErrNoSuchLock, token, p)
		}
		change(s, i, now)
		if i < len(s.Locks) && s.Locks[i].Token == token {
			out = lockInfo(s.Locks[i], lp)
		}
		return nil
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
	locks, err := fs.activeLocks(ctx, n.SpaceID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(locks, func(l LockInfo) bool { return !covers(l, target{path: p}) }), nil
}
