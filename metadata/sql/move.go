package sqlmeta

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3dfs/s3dfs/metadata"
)

// Lock order of the write transactions in PostgreSQL (SQLite runs one
// write transaction at a time and needs none): node rows first, several of
// them in one statement and in id order (SELECT ... ORDER BY id FOR
// UPDATE), then the space's row. Propagation locks the rows of a path; a
// move locks its node, the new parent and the node holding the target name;
// a restore its node and the new parent; then a folder move or restore
// locks the space's row, which serializes them within a space, so that the
// ancestry one checks for cycles cannot change until it commits. A
// transaction that still meets a deadlock (DeleteSpace locks every row of
// a space in no order) is aborted by PostgreSQL and runs again
// (errRetry).

// MoveNode renames and/or moves a node: its link columns change; its record
// does not need to.
//
// PostgreSQL round trips: a file move 2 (lock the rows, with BEGIN; update,
// with COMMIT), a folder move 3 (plus the space lock with the cycle check).
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
	var res metadata.MoveResult
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		res, err = b.moveOnce(ctx, sid, id, newParentID, newName, replace)
		// The rows were locked, so only a node created in the new parent
		// after the locking statement's snapshot was taken and before
		// its lock was granted can break the link index here; another
		// attempt sees it, and replaces it or reports it.
		if !errors.Is(err, errUnique) {
			break
		}
	}
	if errors.Is(err, errUnique) {
		err = fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, newName, newParentID)
	}
	if err != nil {
		return metadata.MoveResult{}, err
	}
	return res, nil
}

func (b *Backend) moveOnce(ctx context.Context, sid, id, newParentID, newName string, replace bool) (metadata.MoveResult, error) {
	var res metadata.MoveResult
	err := b.inTx(ctx, "move", func(tx txn) error {
		res = metadata.MoveResult{}
		var node, parent, target *nodeRow
		err := tx.query(ctx, b.q.moveLocks, []any{sid, id, newParentID, newName}, func(scan func(...any) error) error {
			r := new(nodeRow)
			if err := scan(r.dest()...); err != nil {
				return err
			}
			// One row can play several parts: the node may be its own
			// target (a no-op) or its own new parent (a cycle).
			if r.id == id {
				node = r
			}
			if r.id == newParentID {
				parent = r
			}
			if r.id != newParentID && r.parentID == newParentID && r.name == newName && r.trashed == 0 {
				target = r
			}
			return nil
		})
		if err != nil {
			return err
		}
		if node == nil || node.trashed != 0 {
			return fmt.Errorf("%w: node %s (or it is in the trash)", metadata.ErrNotFound, id)
		}
		old, err := node.node(sid)
		if err != nil {
			return err
		}
		res.Moved = old
		folder := old.Type == metadata.TypeDir
		if folder {
			b.lockNamespace(tx, sid)
			if err := b.checkCycle(ctx, tx, sid, id, newParentID); err != nil {
				return err
			}
		}
		if parent == nil {
			return fmt.Errorf("%w: folder %s", metadata.ErrNotFound, newParentID)
		}
		if err := parentError(true, parent.typ, parent.trashed, newParentID); err != nil {
			return err
		}
		if target != nil && target.id == id {
			if folder {
				// Nothing moves, so the namespace must not change:
				// undo the bump lockNamespace made.
				return errNoop
			}
			return nil
		}
		t := now()
		if target != nil {
			if !replace {
				return fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, newName, newParentID)
			}
			if res.Replaced, err = target.node(sid); err != nil {
				return err
			}
			// The replaced node goes to the trash first: the name is
			// free for the moved node's update after it.
			tx.queue(b.q.markTrashed, sid, target.id, t)
			if !folder && res.Replaced.Type == metadata.TypeDir {
				tx.queue(b.q.bumpNS, sid, t)
			}
		}
		tx.queue(b.q.moveNode, sid, id, newParentID, newName, max(node.version+1, t))
		return nil
	})
	if errors.Is(err, errNoop) {
		return res, nil
	}
	return res, err
}

// errNoop ends a transaction that must change nothing, with a rollback.
var errNoop = errors.New("sqlmeta: nothing to do")

// lockNamespace gives the space a new namespace version, which locks its
// row until the transaction ends: folder moves and restores of one space
// take turns from there on. The update is queued: it goes to PostgreSQL
// with the cycle check that follows it, and runs, lock wait included,
// before that check takes its snapshot. (A node was found in the space,
// so the space's row exists.)
func (b *Backend) lockNamespace(tx txn, sid string) {
	tx.queue(b.q.bumpNS, sid, now())
}

// checkCycle walks from the new parent up to the root in one recursive
// query: meeting the node means the move would put it below itself. The
// caller holds the namespace lock, so no folder moves meanwhile.
func (b *Backend) checkCycle(ctx context.Context, tx txn, sid, id, newParentID string) error {
	var hits, depth int64
	if _, err := queryRow(ctx, tx.query, b.q.ancestors, []any{sid, newParentID, id}, &hits, &depth); err != nil {
		return err
	}
	if hits > 0 {
		return fmt.Errorf("%w: %s", metadata.ErrCycle, id)
	}
	if depth > maxDepth {
		return fmt.Errorf("%w: the parent chain of %s is longer than %d folders (a cycle?)", metadata.ErrCorrupt, newParentID, maxDepth)
	}
	return nil
}

// TrashNode sets the node's trash mark, which takes it out of the link
// index: one UPDATE ... RETURNING, plus the namespace version for a folder
// (PostgreSQL: one statement for both, see pgTrash).
func (b *Backend) TrashNode(ctx context.Context, sid, id string) (*metadata.Node, error) {
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	if id == sid {
		return nil, fmt.Errorf("%w: trash %s", metadata.ErrRoot, id)
	}
	t := now()
	var n *metadata.Node
	var err error
	if b.trashFast != nil {
		err = retry(ctx, "trash", func() error {
			n, err = b.trashFast(ctx, sid, id, t)
			return b.eng.classify(err)
		})
	} else {
		err = b.inTx(ctx, "trash", func(tx txn) error {
			var r nodeRow
			found, err := queryRow(ctx, tx.query, b.q.trashNode, []any{sid, id, t}, r.dest()...)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: node %s (or it is in the trash)", metadata.ErrNotFound, id)
			}
			if n, err = trashedNode(&r, sid); err != nil {
				return err
			}
			if n.Type == metadata.TypeDir {
				tx.queue(b.q.bumpNS, sid, t)
			}
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// trashedNode is the node of a row just trashed, as it was before: live.
func trashedNode(r *nodeRow, sid string) (*metadata.Node, error) {
	r.trashed = 0
	return r.node(sid)
}

// ListTrash lists the rows with a trash mark.
func (b *Backend) ListTrash(ctx context.Context, sid string, fn func(*metadata.Node) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	if _, err := b.NamespaceVersion(ctx, sid); err != nil {
		return err // the space must exist
	}
	// Collected first: fn may call the backend.
	var nodes []*metadata.Node
	err := b.eng.query(ctx, b.q.listTrash, []any{sid}, func(scan func(...any) error) error {
		var r nodeRow
		if err := scan(r.dest()...); err != nil {
			return err
		}
		n, err := r.node(sid)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlmeta: list trash of %s: %w", sid, err)
	}
	for _, n := range nodes {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// RestoreNode clears the trash mark and links the node under its new name,
// which the link index claims.
func (b *Backend) RestoreNode(ctx context.Context, sid, id, newParentID, newName string) (*metadata.Node, error) {
	if err := validIDs(sid, id, newParentID); err != nil {
		return nil, err
	}
	if err := metadata.ValidateName(newName); err != nil {
		return nil, err
	}
	var out *metadata.Node
	err := b.inTx(ctx, "restore", func(tx txn) error {
		var r, p *nodeRow
		err := tx.query(ctx, b.q.restoreLocks, []any{sid, id, newParentID}, func(scan func(...any) error) error {
			row := new(nodeRow)
			if err := scan(row.dest()...); err != nil {
				return err
			}
			if row.id == id {
				r = row
			}
			if row.id == newParentID {
				p = row
			}
			return nil
		})
		if err != nil {
			return err
		}
		if r == nil || r.trashed == 0 {
			return fmt.Errorf("%w: node %s is not in the trash", metadata.ErrNotFound, id)
		}
		old, err := r.node(sid)
		if err != nil {
			return err
		}
		if old.Type == metadata.TypeDir {
			// A restored folder changes paths, and must not land inside
			// its own subtree: the same guard as a folder move.
			b.lockNamespace(tx, sid)
			if err := b.checkCycle(ctx, tx, sid, id, newParentID); err != nil {
				return err
			}
		}
		if p == nil {
			return fmt.Errorf("%w: folder %s", metadata.ErrNotFound, newParentID)
		}
		if err := parentError(true, p.typ, p.trashed, newParentID); err != nil {
			return err
		}
		version := max(r.version+1, now())
		tx.queue(b.q.restoreNode, sid, id, newParentID, newName, version)
		restored := old.Clone()
		restored.Trashed, restored.ParentID, restored.Name = 0, newParentID, newName
		restored.Tree = old.Tree
		restored.Stamp.Mtime = version
		restored.Seal()
		out = restored
		return nil
	})
	if errors.Is(err, errUnique) {
		err = fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, newName, newParentID)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
