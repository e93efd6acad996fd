package decomposedfs

import (
	"context"
	"time"

	"github.com/s3dfs/s3dfs/metadata"
)

// The tree operations keep the space's locks in line with the URLs they
// unmap and map (RFC 4918, 7 and 7.7). They run after the operation, once
// it succeeded; the locks in their way were checked before it. A crash
// between the two leaves locks whose path no longer names their node:
// those protect nothing (lockRoot), and the next Lock prunes them.

// locksMoved updates the locks after the resource at src was moved to dst,
// replacing the node replacedID there ("" if the name was free). src is ""
// for a copy, which leaves its source alone.
//
//   - Locks at or below src go: a lock does not move with its resource,
//     and its URL is unmapped now.
//   - A lock at dst that protected the replaced resource now protects the
//     resource moved there, with the same token: the destination's lock
//     takes the new resource in.
//   - Locks below dst protected what was replaced, and go.
func (fs *FS) locksMoved(ctx context.Context, sid, src, dst, movedID, replacedID string) error {
	if ls, err := fs.meta.ReadLocks(ctx, sid); err != nil || len(ls) == 0 {
		return err
	}
	return fs.meta.UpdateLocks(ctx, sid, func(locks []metadata.Lock) (metadata.LockEdit, error) {
		var edit metadata.LockEdit
		now := time.Now().UnixNano()
		for _, l := range locks {
			if l.Path == "" {
				// A lock of older code, bound to its node: the replaced
				// node's lock is the destination's; the others are where
				// their nodes are now.
				if replacedID != "" && l.NodeID == replacedID && l.Expires > now {
					l.Path, l.NodeID = dst, movedID
					edit.Put = append(edit.Put, l)
					continue
				}
				p, ok, err := fs.lockRoot(ctx, sid, &l, now)
				if err != nil {
					return edit, err
				}
				if !ok || under(p, dst) {
					edit.Delete = append(edit.Delete, l.Token)
					continue
				}
				l.Path = p
				edit.Put = append(edit.Put, l)
				continue
			}
			switch {
			case src != "" && under(l.Path, src):
				edit.Delete = append(edit.Delete, l.Token)
			case l.Path == dst && replacedID != "" && l.NodeID == replacedID:
				l.NodeID = movedID
				edit.Put = append(edit.Put, l)
			case under(l.Path, dst):
				if _, ok, err := fs.lockRoot(ctx, sid, &l, now); err != nil {
					return edit, err
				} else if !ok {
					edit.Delete = append(edit.Delete, l.Token)
				}
			}
		}
		return edit, nil
	})
}

// locksDeleted removes the locks at and below p, whose URLs a delete
// unmapped; with keepRoot, the lock at p stays (a copy replaces the
// resource there and gives it the new one).
func (fs *FS) locksDeleted(ctx context.Context, sid, p string, keepRoot bool) error {
	if ls, err := fs.meta.ReadLocks(ctx, sid); err != nil || len(ls) == 0 {
		return err
	}
	return fs.meta.UpdateLocks(ctx, sid, func(locks []metadata.Lock) (metadata.LockEdit, error) {
		var edit metadata.LockEdit
		now := time.Now().UnixNano()
		for _, l := range locks {
			lp := l.Path
			if lp == "" {
				var ok bool
				var err error
				if lp, ok, err = fs.lockRoot(ctx, sid, &l, now); err != nil {
					return edit, err
				} else if !ok {
					edit.Delete = append(edit.Delete, l.Token)
					continue
				}
			}
			if under(lp, p) && !(keepRoot && lp == p) {
				edit.Delete = append(edit.Delete, l.Token)
			}
		}
		return edit, nil
	})
}
