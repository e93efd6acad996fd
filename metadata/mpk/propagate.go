package mpk

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// Propagate walks from a folder to its space root, one lock at a time. Each
// step changes the folder's tree attribute in place (setxattr(2), atomic),
// sets a new mtime on its record so that cached copies go stale, and bumps
// its directory so that cached listings of it (which show its children's
// tree sizes) go stale too. No step creates an inode.
//
// The parent to continue with is read under the folder's lock, at the same
// moment the delta is applied: a concurrent move of the folder then either
// sees the delta in the tree size it carries away, or the walk follows the
// folder to its new parent. Either way no delta is counted twice or lost.
func (b *Backend) Propagate(ctx context.Context, sid, folderID string, delta int64) error {
	if err := validIDs(sid, folderID); err != nil {
		return err
	}
	for id := folderID; id != ""; {
		next, err := b.propagateStep(ctx, sid, id, delta)
		if err != nil {
			return fmt.Errorf("mpk: propagate to %s: %w", id, err)
		}
		id = next
	}
	return nil
}

func (b *Backend) propagateStep(ctx context.Context, sid, id string, delta int64) (string, error) {
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return "", err
	}
	defer unlock()
	path := b.recordPath(sid, id)
	fd, data, st, err := b.readRecord(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Classified here like every read of a record: a folder
			// purged (or never created) is not found, not an I/O error.
			return "", fmt.Errorf("%w: node %s", metadata.ErrNotFound, id)
		}
		return "", err
	}
	defer unix.Close(fd)
	n, err := metadata.DecodeNode(data)
	if err != nil {
		return "", err
	}
	if n.ID != id || n.SpaceID != sid {
		return "", fmt.Errorf("%w: %s names node %s of space %s", metadata.ErrCorrupt, path, n.ID, n.SpaceID)
	}
	if n.Type != metadata.TypeDir {
		return "", fmt.Errorf("%w: %s", metadata.ErrNotDir, id)
	}
	t, err := getTree(fd)
	if err != nil {
		return "", err
	}
	t.Size += delta
	// The stored sum may dip below zero for a moment: deltas of concurrent
	// operations arrive in any order (a mover may subtract a subtree's
	// size, in-flight additions included, before one of those additions
	// has reached this folder), and only unclamped sums commute. Readers
	// never see a negative size (metadata.Node.TreeSize clamps); one that
	// stays negative is drift that the checker repairs.
	t.Mtime = cache.NextAfter(max(t.Mtime, st.Mtime))
	if err := unix.Fsetxattr(fd, treeXattr, encodeTree(t), 0); err != nil {
		return "", &os.PathError{Op: "setxattr", Path: path, Err: err}
	}
	if err := futimes(fd, t.Mtime); err != nil {
		return "", &os.PathError{Op: "utimes", Path: path, Err: err}
	}
	b.nodes.Invalidate(id)
	b.dirChanged(id)
	if err := b.bumpMtime(b.dirPath(sid, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if n.Trashed != 0 {
		return "", nil
	}
	return n.ParentID, nil
}
