package decomposedfs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// CreateDir creates the folder a reference names; its parent must exist.
// ErrExist if the name is taken.
func (fs *FS) CreateDir(ctx context.Context, ref Reference) (*ResourceInfo, error) {
	parent, ppath, name, err := fs.resolveParent(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, parent.SpaceID, ppath, PermCreateFolder); err != nil {
		return nil, err
	}
	if err := fs.checkLocks(ctx, parent.SpaceID, target{path: ppath}); err != nil {
		return nil, err
	}
	now := cache.NextTime()
	n := &metadata.Node{
		ID: uuid.NewString(), SpaceID: parent.SpaceID, ParentID: parent.ID, Name: name,
		Type: metadata.TypeDir, Mtime: now, Btime: now,
	}
	if err := fs.meta.CreateNode(ctx, n); err != nil {
		return nil, err
	}
	if err := fs.propagate(ctx, n.SpaceID, parent.ID, 0); err != nil {
		return nil, err
	}
	return info(n, lookup.Join(ppath, name)), nil
}

// TouchFile creates an empty file; ErrExist if the name is taken. A zero
// mtime means now.
func (fs *FS) TouchFile(ctx context.Context, ref Reference, mtime time.Time) (*ResourceInfo, error) {
	parent, ppath, name, err := fs.resolveParent(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, parent.SpaceID, ppath, PermCreateFile); err != nil {
		return nil, err
	}
	if err := fs.checkLocks(ctx, parent.SpaceID, target{path: ppath}); err != nil {
		return nil, err
	}
	now := cache.NextTime()
	mt := now
	if !mtime.IsZero() {
		mt = mtime.UnixNano()
	}
	n := &metadata.Node{
		ID: uuid.NewString(), SpaceID: parent.SpaceID, ParentID: parent.ID, Name: name,
		Type: metadata.TypeFile, Mtime: mt, Btime: now, MimeType: mimeType(name),
	}
	if err := fs.meta.CreateNode(ctx, n); err != nil {
		return nil, err
	}
	if err := fs.propagate(ctx, n.SpaceID, parent.ID, 0); err != nil {
		return nil, err
	}
	return info(n, lookup.Join(ppath, name)), nil
}

// Move renames and/or moves a node within its space. If the target name is
// taken, Move fails with ErrExist unless overwrite is set, in which case
// the node that had the name goes to the trash. A folder cannot move into
// itself (ErrCycle); a space root cannot move (ErrRoot).
func (fs *FS) Move(ctx context.Context, src, dst Reference, overwrite bool) (*ResourceInfo, error) {
	n, srcPath, err := fs.resolve(ctx, src)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, srcPath, PermMove); err != nil {
		return nil, err
	}
	if dst.SpaceID != src.SpaceID {
		return nil, fmt.Errorf("%w: %s to %s", ErrCrossSpace, src.SpaceID, dst.SpaceID)
	}
	if n.IsRoot() {
		return nil, fmt.Errorf("%w: move", ErrRoot)
	}
	parent, ppath, name, err := fs.resolveParent(ctx, dst)
	if err != nil {
		return nil, err
	}
	sid := n.SpaceID
	dstPath := lookup.Join(ppath, name)
	if _, err := fs.authorize(ctx, sid, ppath, createPerm(n.Type)); err != nil {
		return nil, err
	}
	if overwrite {
		if perms, err := fs.permissions(ctx, sid, dstPath); err != nil {
			return nil, err
		} else if !perms.Has(PermDelete) {
			if _, err := fs.meta.Lookup(ctx, sid, parent.ID, name); err == nil {
				return nil, fmt.Errorf("%w: replacing %s needs delete", ErrPermissionDenied, dstPath)
			}
		}
	}
	if err := fs.checkLocks(ctx, sid, target{path: srcPath, deep: true}, target{path: parentOf(srcPath)},
		target{path: ppath}, target{path: dstPath, deep: true}); err != nil {
		return nil, err
	}
	res, err := fs.meta.MoveNode(ctx, sid, n.ID, parent.ID, name, overwrite)
	if err != nil {
		return nil, err
	}
	size := res.Moved.TreeSize()
	newDelta := int64(0)
	if res.Replaced != nil {
		newDelta -= res.Replaced.TreeSize()
	}
	// Both folders change even when no size does (a rename changes the
	// listing), so both always get a new etag.
	if res.Moved.ParentID != parent.ID {
		if err := fs.propagate(ctx, sid, res.Moved.ParentID, -size); err != nil {
			return nil, err
		}
		newDelta += size
	}
	if err := fs.propagate(ctx, sid, parent.ID, newDelta); err != nil {
		return nil, err
	}
	// A lock does not move with its resource, and the destination's lock
	// takes in the resource moved onto it (RFC 4918, 7.7).
	replaced := ""
	if res.Replaced != nil {
		replaced = res.Replaced.ID
	}
	if err := fs.locksMoved(ctx, sid, srcPath, dstPath, n.ID, replaced); err != nil {
		return nil, err
	}
	moved, err := fs.meta.ReadNode(ctx, sid, n.ID)
	if err != nil {
		return nil, err
	}
	return info(moved, dstPath), nil
}

// Delete moves a node and everything below it to its space's trash.
func (fs *FS) Delete(ctx context.Context, ref Reference) error {
	return fs.delete(ctx, ref, false)
}

// delete is Delete; keepLock keeps the lock rooted at the deleted path
// (for a copy that replaces the resource there).
func (fs *FS) delete(ctx context.Context, ref Reference, keepLock bool) error {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermDelete); err != nil {
		return err
	}
	if n.IsRoot() {
		return fmt.Errorf("%w: delete", ErrRoot)
	}
	if err := fs.checkLocks(ctx, n.SpaceID, target{path: p, deep: true}, target{path: parentOf(p)}); err != nil {
		return err
	}
	old, err := fs.meta.TrashNode(ctx, n.SpaceID, n.ID)
	if err != nil {
		return err
	}
	if err := fs.propagate(ctx, n.SpaceID, old.ParentID, -old.TreeSize()); err != nil {
		return err
	}
	return fs.locksDeleted(ctx, n.SpaceID, p, keepLock)
}

// SetProps sets and removes dead properties of a node (WebDAV PROPPATCH):
// both in one atomic update of its record. Keys are opaque to the driver
// (the WebDAV server uses "{namespace}name").
func (fs *FS) SetProps(ctx context.Context, ref Reference, set map[string]string, remove []string) (*ResourceInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermOverwrite); err != nil {
		return nil, err
	}
	if err := fs.checkLocks(ctx, n.SpaceID, target{path: p}); err != nil {
		return nil, err
	}
	return fs.setProps(ctx, n, p, set, remove)
}

func (fs *FS) setProps(ctx context.Context, n *metadata.Node, p string, set map[string]string, remove []string) (*ResourceInfo, error) {
	size := 0
	for k, v := range set {
		if k == "" {
			return nil, fmt.Errorf("%w: empty property name", ErrInvalidRef)
		}
		size += len(k) + len(v)
	}
	updated, err := fs.meta.UpdateNode(ctx, n.SpaceID, n.ID, func(n *metadata.Node) error {
		for _, k := range remove {
			delete(n.Props, k)
		}
		for k, v := range n.Props {
			if _, ok := set[k]; !ok {
				size += len(k) + len(v)
			}
		}
		if size > MaxPropsSize {
			return fmt.Errorf("%w: dead properties of %d bytes exceed %d", ErrTooLarge, size, MaxPropsSize)
		}
		if len(set) > 0 && n.Props == nil {
			n.Props = make(map[string]string, len(set))
		}
		for k, v := range set {
			n.Props[k] = v
		}
		if len(n.Props) == 0 {
			n.Props = nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return info(updated, p), nil
}

// MaxPropsSize bounds the dead properties of one node (names and values).
const MaxPropsSize = 64 << 10

// ErrTooLarge: a request would store more than a limit allows (the same
// value as metadata.ErrTooLarge).
var ErrTooLarge = metadata.ErrTooLarge
