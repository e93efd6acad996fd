package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// errRetry means the tree changed between the optimistic reads of an
// operation and the moment it held its locks; the operation starts over.
var errRetry = errors.New("mpk: retry")

const maxRetries = 16

// maxDepth bounds parent walks, so that a corrupt store whose parent links
// form a cycle gives an error instead of a hang.
const maxDepth = 4096

// MoveNode renames the link with rename(2), the commit point, then rewrites
// the node's record (1 inode creation: its temp file). A folder move holds
// the space's namespace lock, so that no other folder move can change the
// ancestry it checks for cycles, and sets a new namespace version.
func (b *Backend) MoveNode(ctx context.Context, sid, id, newParentID, newName string, replace bool) (metadata.MoveResult, error) {
	if err := validIDs(sid, id, newParentID); err != nil {
		return metadata.MoveResult{}, err
	}
	if err := metadata.ValidateName(newName); err != nil {
		return metadata.MoveResult{}, err
	}
	if id == sid {
		return metadata.MoveResult{}, fmt.Errorf("%w: move %s", metadata.ErrRoot, id)
	}
	n, err := b.ReadNode(ctx, sid, id)
	if err != nil {
		return metadata.MoveResult{}, err
	}
	if n.Type == metadata.TypeDir {
		unlockNS, err := lockNamespace(ctx, b.spacePath(sid)+"/"+nsFile)
		if err != nil {
			return metadata.MoveResult{}, err
		}
		defer unlockNS()
		if err := b.checkCycle(ctx, sid, id, newParentID); err != nil {
			return metadata.MoveResult{}, err
		}
	}
	for range maxRetries {
		res, err := b.moveOnce(ctx, sid, id, newParentID, newName, replace)
		if !errors.Is(err, errRetry) {
			return res, err
		}
	}
	return metadata.MoveResult{}, fmt.Errorf("mpk: move %s: the tree kept changing, gave up after %d tries", id, maxRetries)
}

// checkCycle walks from the new parent up to the root; meeting the node
// means the move would put it below itself.
func (b *Backend) checkCycle(ctx context.Context, sid, id, newParentID string) error {
	for cur, depth := newParentID, 0; cur != ""; depth++ {
		if depth > maxDepth {
			return fmt.Errorf("%w: the parent chain of %s is longer than %d folders (a cycle on disk?)", metadata.ErrCorrupt, newParentID, maxDepth)
		}
		if cur == id {
			return fmt.Errorf("%w: %s", metadata.ErrCycle, id)
		}
		n, err := b.ReadNode(ctx, sid, cur)
		if err != nil {
			return err
		}
		cur = n.ParentID
	}
	return nil
}

func (b *Backend) moveOnce(ctx context.Context, sid, id, newParentID, newName string, replace bool) (metadata.MoveResult, error) {
	// Optimistic reads pick the locks; everything is read again under them.
	n, err := b.ReadNode(ctx, sid, id)
	if err != nil {
		return metadata.MoveResult{}, err
	}
	if n.Trashed != 0 {
		return metadata.MoveResult{}, fmt.Errorf("%w: node %s is in the trash", metadata.ErrNotFound, id)
	}
	newDir := b.dirPath(sid, newParentID)
	target, err := readLink(newDir + "/" + newName)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
		return metadata.MoveResult{}, err
	}
	ids := []string{id, n.ParentID, newParentID}
	if target != "" && target != id {
		ids = append(ids, target)
	}
	unlock, err := b.locks.lockNodes(ctx, sid, ids...)
	if err != nil {
		return metadata.MoveResult{}, err
	}
	defer unlock()

	old, err := b.readFresh(sid, id)
	if err != nil {
		return metadata.MoveResult{}, err
	}
	if old.ParentID != n.ParentID || old.Name != n.Name || old.Trashed != 0 {
		return metadata.MoveResult{}, errRetry
	}
	np, err := b.readFresh(sid, newParentID)
	if err != nil {
		return metadata.MoveResult{}, err
	}
	if np.Type != metadata.TypeDir {
		return metadata.MoveResult{}, fmt.Errorf("%w: %s", metadata.ErrNotDir, newParentID)
	}
	if np.Trashed != 0 {
		return metadata.MoveResult{}, fmt.Errorf("%w: folder %s is in the trash", metadata.ErrNotFound, newParentID)
	}
	now, err := readLink(newDir + "/" + newName)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return metadata.MoveResult{}, err
	}
	if now != target {
		return metadata.MoveResult{}, errRetry
	}
	res := metadata.MoveResult{Moved: old}
	if target == id {
		return res, nil // already there under that name
	}
	if target != "" {
		if !replace {
			return metadata.MoveResult{}, fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, newName, newParentID)
		}
		if res.Replaced, err = b.readFresh(sid, target); err != nil {
			return metadata.MoveResult{}, err
		}
		// The replaced node goes to the trash: its trash entry first,
		// so that a crash leaves it findable there.
		if err := b.addTrashEntry(sid, target); err != nil {
			return metadata.MoveResult{}, err
		}
	}
	oldDir := b.dirPath(sid, old.ParentID)
	if err := os.Rename(oldDir+"/"+old.Name, newDir+"/"+newName); err != nil {
		return metadata.MoveResult{}, fmt.Errorf("mpk: move: %w", err)
	}
	b.dirChanged(old.ParentID, old.Name)
	b.dirChanged(newParentID, newName)
	moved := old.Clone()
	moved.ParentID, moved.Name = newParentID, newName
	if _, err := b.rewrite(old, moved); err != nil {
		return metadata.MoveResult{}, err
	}
	if res.Replaced != nil {
		if err := b.markTrashed(res.Replaced); err != nil {
			return metadata.MoveResult{}, err
		}
	}
	if err := b.bumpMtime(oldDir); err != nil {
		return metadata.MoveResult{}, err
	}
	if newDir != oldDir {
		if err := b.bumpMtime(newDir); err != nil {
			return metadata.MoveResult{}, err
		}
	}
	if old.Type == metadata.TypeDir || (res.Replaced != nil && res.Replaced.Type == metadata.TypeDir) {
		if err := b.bumpNamespace(sid); err != nil {
			return metadata.MoveResult{}, err
		}
	}
	if err := b.syncDir(oldDir); err != nil {
		return metadata.MoveResult{}, err
	}
	return res, b.syncDir(newDir)
}

// TrashNode moves a node to the trash in three steps, each leaving a state
// the checker can finish: the trash entry (a symlink named by the node id in
// <space>/trash, 1 inode), the unlink from the parent (the commit point),
// and the trash mark in the record (1 inode for its temp file). The subtree
// stays where it is, so trashing a folder costs the same as a file.
func (b *Backend) TrashNode(ctx context.Context, sid, id string) (*metadata.Node, error) {
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	if id == sid {
		return nil, fmt.Errorf("%w: trash %s", metadata.ErrRoot, id)
	}
	for range maxRetries {
		n, err := b.trashOnce(ctx, sid, id)
		if !errors.Is(err, errRetry) {
			return n, err
		}
	}
	return nil, fmt.Errorf("mpk: trash %s: the tree kept changing, gave up after %d tries", id, maxRetries)
}

func (b *Backend) trashOnce(ctx context.Context, sid, id string) (*metadata.Node, error) {
	n, err := b.ReadNode(ctx, sid, id)
	if err != nil {
		return nil, err
	}
	if n.Trashed != 0 {
		return nil, fmt.Errorf("%w: node %s is in the trash", metadata.ErrNotFound, id)
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id, n.ParentID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := b.readFresh(sid, id)
	if err != nil {
		return nil, err
	}
	if old.ParentID != n.ParentID || old.Name != n.Name || old.Trashed != 0 {
		return nil, errRetry
	}
	dir := b.dirPath(sid, old.ParentID)
	link, err := readLink(dir + "/" + old.Name)
	if err != nil || link != id {
		return nil, fmt.Errorf("%w: node %s is not linked from its parent", metadata.ErrNotFound, id)
	}
	if err := b.addTrashEntry(sid, id); err != nil {
		return nil, err
	}
	if err := unix.Unlink(dir + "/" + old.Name); err != nil {
		return nil, &os.PathError{Op: "unlink", Path: dir + "/" + old.Name, Err: err}
	}
	b.dirChanged(old.ParentID, old.Name)
	if err := b.markTrashed(old); err != nil {
		return nil, err
	}
	if err := b.bumpMtime(dir); err != nil {
		return nil, err
	}
	if old.Type == metadata.TypeDir {
		if err := b.bumpNamespace(sid); err != nil {
			return nil, err
		}
	}
	return old, b.syncDir(dir)
}

func (b *Backend) addTrashEntry(sid, id string) error {
	p := b.trashPath(sid, id)
	err := os.Symlink(id, p)
	if errors.Is(err, fs.ErrExist) {
		return nil // left by an interrupted attempt
	}
	if err != nil {
		return fmt.Errorf("mpk: trash entry: %w", err)
	}
	return b.syncDir(b.spacePath(sid) + "/" + trashDir)
}

// markTrashed sets the trash mark of a node whose lock is held.
func (b *Backend) markTrashed(old *metadata.Node) error {
	n := old.Clone()
	n.Trashed = cache.NextTime()
	_, err := b.rewrite(old, n)
	return err
}
