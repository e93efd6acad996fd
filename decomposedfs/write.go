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
	n, _, err := fs.resolve(ctx, src)
	if err != nil {
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
	moved, err := fs.meta.ReadNode(ctx, sid, n.ID)
	if err != nil {
		return nil, err
	}
	return info(moved, lookup.Join(ppath, name)), nil
}

// Delete moves a node and everything below it to its space's trash.
func (fs *FS) Delete(ctx context.Context, ref Reference) error {
	n, _, err := fs.resolve(ctx, ref)
	if err != nil {
		return err
	}
	if n.IsRoot() {
		return fmt.Errorf("%w: delete", ErrRoot)
	}
	old, err := fs.meta.TrashNode(ctx, n.SpaceID, n.ID)
	if err != nil {
		return err
	}
	return fs.propagate(ctx, n.SpaceID, old.ParentID, -old.TreeSize())
}
