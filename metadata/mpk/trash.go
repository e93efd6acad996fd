package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// ListTrash reads the space's trash directory: one symlink per trashed
// subtree, named by the id of its top node.
func (b *Backend) ListTrash(ctx context.Context, sid string, fn func(*metadata.Node) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	dir := filepath.Join(b.spacePath(sid), trashDir)
	names, err := readDirNames(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
	}
	if err != nil {
		return fmt.Errorf("mpk: list trash: %w", err)
	}
	for _, id := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if metadata.ValidateID(id) != nil {
			continue
		}
		n, err := b.readFresh(sid, id)
		if errors.Is(err, metadata.ErrNotFound) {
			continue // purged meanwhile
		}
		if err != nil {
			return err
		}
		if n.Trashed == 0 {
			continue // an interrupted trash or restore: the checker's business
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// RestoreNode links a trashed node into a folder again: the link is the
// commit point (symlink(2), so a taken name fails cleanly), then the trash
// mark goes from the record (1 inode: its temp file) and the trash entry
// goes. A crash in between leaves a linked node with a trash mark, which
// the checker repairs by clearing the mark.
func (b *Backend) RestoreNode(ctx context.Context, sid, id, newParentID, newName string) (*metadata.Node, error) {
	if err := validIDs(sid, id, newParentID); err != nil {
		return nil, err
	}
	if err := metadata.ValidateName(newName); err != nil {
		return nil, err
	}
	n, err := b.readFresh(sid, id)
	if err != nil {
		return nil, err
	}
	if n.Trashed == 0 {
		return nil, fmt.Errorf("%w: node %s is not in the trash", metadata.ErrNotFound, id)
	}
	if n.Type == metadata.TypeDir {
		// A restored folder changes paths, and must not land inside its
		// own subtree: the same guard as a folder move.
		unlockNS, err := lockNamespace(ctx, b.spacePath(sid)+"/"+nsFile)
		if err != nil {
			return nil, err
		}
		defer unlockNS()
		if err := b.checkCycle(ctx, sid, id, newParentID); err != nil {
			return nil, err
		}
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id, newParentID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := b.readFresh(sid, id)
	if err != nil {
		return nil, err
	}
	if old.Trashed == 0 {
		return nil, fmt.Errorf("%w: node %s is not in the trash", metadata.ErrNotFound, id)
	}
	np, err := b.readFresh(sid, newParentID)
	if err != nil {
		return nil, err
	}
	if np.Type != metadata.TypeDir {
		return nil, fmt.Errorf("%w: %s", metadata.ErrNotDir, newParentID)
	}
	if np.Trashed != 0 {
		return nil, fmt.Errorf("%w: folder %s is in the trash", metadata.ErrNotFound, newParentID)
	}
	pdir := b.dirPath(sid, newParentID)
	if err := os.Symlink(id, pdir+"/"+newName); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, newName, newParentID)
		}
		return nil, fmt.Errorf("mpk: restore: %w", err)
	}
	b.dirChanged(newParentID, newName)
	restored := old.Clone()
	restored.Trashed, restored.ParentID, restored.Name = 0, newParentID, newName
	if _, err := b.rewrite(old, restored); err != nil {
		return nil, err
	}
	if err := unix.Unlink(b.trashPath(sid, id)); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, &os.PathError{Op: "unlink", Path: b.trashPath(sid, id), Err: err}
	}
	if err := b.bumpMtime(pdir); err != nil {
		return nil, err
	}
	if old.Type == metadata.TypeDir {
		if err := b.bumpNamespace(sid); err != nil {
			return nil, err
		}
	}
	if err := b.syncDir(pdir); err != nil {
		return nil, err
	}
	restored.Tree = old.Tree
	return restored, nil
}

// DeleteSpace removes a space's directory tree. The space record goes
// first, so that a crash leaves a directory without a record, which
// ListSpaces skips and the checker removes.
func (b *Backend) DeleteSpace(ctx context.Context, id string) error {
	if err := validIDs(id); err != nil {
		return err
	}
	dir := b.spacePath(id)
	old, _, rerr := readSpaceFile(filepath.Join(dir, spaceRecord), id)
	if err := unix.Unlink(filepath.Join(dir, spaceRecord)); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: filepath.Join(dir, spaceRecord), Err: err}
	}
	b.spaces.Invalidate(id)
	b.handles.Delete(id)
	if rerr == nil {
		b.indexDrop(old, nil)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("mpk: delete space %s: %w", id, err)
	}
	return nil
}
