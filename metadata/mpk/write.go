package mpk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// CreateNode writes the record of a new node straight to its final path (no
// temp file: nothing links to the node yet, so nobody can read it), makes
// its directory if it is a folder, and then claims the name in the parent
// with symlink(2), which fails if the name is taken. The claim is the
// commit point.
//
// Inode creations: a file 2 (record, link), a folder 3 (record, directory,
// link), plus a shard directory the first time one of its 256 is used.
func (b *Backend) CreateNode(ctx context.Context, n *metadata.Node) error {
	if err := validIDs(n.SpaceID, n.ID, n.ParentID); err != nil {
		return err
	}
	if err := metadata.ValidateName(n.Name); err != nil {
		return err
	}
	if n.Trashed != 0 || n.Tree != (metadata.TreeStats{}) {
		return fmt.Errorf("mpk: a new node has no trash mark and no tree values")
	}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		return err
	}
	sid := n.SpaceID
	unlock, err := b.locks.lockNodes(ctx, sid, n.ParentID)
	if err != nil {
		return err
	}
	defer unlock()
	parent, err := b.readFresh(sid, n.ParentID)
	if err != nil {
		return err
	}
	if parent.Type != metadata.TypeDir {
		return fmt.Errorf("%w: %s", metadata.ErrNotDir, n.ParentID)
	}
	if parent.Trashed != 0 {
		return fmt.Errorf("%w: folder %s is in the trash", metadata.ErrNotFound, n.ParentID)
	}
	recPath := b.recordPath(sid, n.ID)
	if err := b.createRecord(recPath, rec); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: node %s", metadata.ErrExist, n.ID)
		}
		return fmt.Errorf("mpk: create: %w", err)
	}
	undo := func() {
		unix.Unlink(recPath)
		if n.Type == metadata.TypeDir {
			unix.Rmdir(b.dirPath(sid, n.ID))
		}
	}
	if n.Type == metadata.TypeDir {
		if err := os.Mkdir(b.dirPath(sid, n.ID), 0o755); err != nil {
			undo()
			return fmt.Errorf("mpk: create: %w", err)
		}
	}
	if err := b.syncDir(b.shardPath(sid, n.ID)); err != nil {
		undo()
		return fmt.Errorf("mpk: create: %w", err)
	}
	pdir := b.dirPath(sid, n.ParentID)
	if err := os.Symlink(n.ID, pdir+"/"+n.Name); err != nil {
		undo()
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, n.Name, n.ParentID)
		}
		return fmt.Errorf("mpk: create: %w", err)
	}
	b.dirChanged(n.ParentID, n.Name)
	if err := b.bumpMtime(pdir); err != nil {
		return fmt.Errorf("mpk: create: %w", err)
	}
	return b.syncDir(pdir)
}

// dirChanged drops this process's cache entries of a folder whose directory
// just changed. Other processes notice the change through the stamp; this
// one would too, but the entries are certainly stale, so why wait.
func (b *Backend) dirChanged(folderID string, names ...string) {
	b.listings.Invalidate(folderID)
	for _, name := range names {
		b.names.Invalidate(folderID + "/" + name)
	}
}

// UpdateNode is a locked read-modify-write of one record: read from disk
// under the node's lock, changed by fn, replaced atomically (one temp file:
// 1 inode creation). The parent directory is bumped afterwards, under the
// parent's lock alone, so that cached listings of the parent see the change.
func (b *Backend) UpdateNode(ctx context.Context, sid, id string, fn func(*metadata.Node) error) (*metadata.Node, error) {
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	n, changed, err := b.updateLocked(ctx, sid, id, fn)
	if err != nil || !changed || n.ParentID == "" {
		return n, err
	}
	return n, b.touchFolder(ctx, sid, n.ParentID)
}

func (b *Backend) updateLocked(ctx context.Context, sid, id string, fn func(*metadata.Node) error) (*metadata.Node, bool, error) {
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	old, err := b.readFresh(sid, id)
	if err != nil {
		return nil, false, err
	}
	n := old.Clone()
	if err := fn(n); err != nil {
		return nil, false, err
	}
	if n.ID != old.ID || n.SpaceID != old.SpaceID || n.ParentID != old.ParentID || n.Name != old.Name ||
		n.Type != old.Type || n.Tree != old.Tree || n.Trashed != old.Trashed {
		return nil, false, fmt.Errorf("mpk: UpdateNode may not change the identity, link, tree or trash mark of node %s", id)
	}
	changed, err := b.rewrite(old, n)
	if err != nil {
		return nil, false, err
	}
	if !changed {
		return old, false, nil
	}
	return n, true, nil
}

// rewrite replaces the record of old with n (both of the same node, the
// node's lock held), unless the bytes are the same. It returns whether it
// wrote.
func (b *Backend) rewrite(old, n *metadata.Node) (bool, error) {
	oldRec, err := metadata.EncodeNode(old)
	if err != nil {
		return false, err
	}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		return false, err
	}
	if bytes.Equal(rec, oldRec) {
		return false, nil
	}
	var tree []byte
	if n.Type == metadata.TypeDir {
		tree = encodeTree(old.Tree)
	}
	if err := b.replaceRecord(b.recordPath(n.SpaceID, n.ID), rec, cache.NextAfter(old.Stamp.Mtime), tree); err != nil {
		return false, fmt.Errorf("mpk: update %s: %w", n.ID, err)
	}
	b.nodes.Invalidate(n.ID)
	n.Stamp = cache.Stamp{} // unknown until read back
	n.Seal()
	return true, nil
}

// touchFolder bumps a folder's directory under the folder's lock: a child's
// record changed, so cached listings of the folder must go.
func (b *Backend) touchFolder(ctx context.Context, sid, folderID string) error {
	unlock, err := b.locks.lockNodes(ctx, sid, folderID)
	if err != nil {
		return err
	}
	defer unlock()
	b.dirChanged(folderID)
	if err := b.bumpMtime(b.dirPath(sid, folderID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mpk: %w", err)
	}
	return nil
}

// PurgeNode removes the record of an unlinked node, its trash entry, and, for
// a folder, its directory with the links in it.
func (b *Backend) PurgeNode(ctx context.Context, sid, id string) error {
	if err := validIDs(sid, id); err != nil {
		return err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return err
	}
	defer unlock()
	// A folder's directory holds only links; the children they name are
	// purged by the caller first (or left for the checker).
	dir := b.dirPath(sid, id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("mpk: purge %s: %w", id, err)
	}
	if err := unix.Unlink(b.recordPath(sid, id)); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: b.recordPath(sid, id), Err: err}
	}
	if err := unix.Unlink(b.trashPath(sid, id)); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: b.trashPath(sid, id), Err: err}
	}
	b.nodes.Invalidate(id)
	b.listings.Invalidate(id)
	return nil
}
