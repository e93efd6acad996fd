package sqlmeta

import (
	"context"
	"fmt"

	"github.com/s3dfs/s3dfs/metadata"
)

// Propagate adds delta to the tree size of a folder and of each ancestor up
// to the root or the first trashed one, and gives each a new tree mtime
// (GREATEST(old + 1, now): strictly increasing per folder): one recursive
// UPDATE, whatever the depth. In SQLite it runs in a write transaction,
// which sees the current tree; PostgreSQL's version (pgPropagate) also
// makes sure that the path it read is still the path when it holds the
// rows' locks.
func (b *Backend) Propagate(ctx context.Context, sid, folderID string, delta int64) error {
	if err := validIDs(sid, folderID); err != nil {
		return err
	}
	t := now()
	var updated int64
	var err error
	if b.propagateFast != nil {
		err = retry(ctx, "propagate", func() error {
			updated, err = b.propagateFast(ctx, sid, folderID, delta, t)
			return b.eng.classify(err)
		})
	} else {
		err = b.inTx(ctx, "propagate", func(tx txn) error {
			updated, err = tx.exec(ctx, b.q.propagate, sid, folderID, delta, t)
			if err == nil && updated > maxDepth {
				err = fmt.Errorf("%w: the parent chain of %s is longer than %d folders (a cycle?)", metadata.ErrCorrupt, folderID, maxDepth)
			}
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlmeta: propagate to %s: %w", folderID, err)
	}
	if updated > 0 {
		return nil
	}
	// Nothing updated: the folder is missing or is a file.
	var typ, trashed int64
	found, err := queryRow(ctx, b.eng.query, b.q.parentOf, []any{sid, folderID}, &typ, &trashed)
	if err != nil {
		return fmt.Errorf("sqlmeta: propagate to %s: %w", folderID, err)
	}
	if !found {
		return fmt.Errorf("%w: folder %s", metadata.ErrNotFound, folderID)
	}
	return fmt.Errorf("%w: %s", metadata.ErrNotDir, folderID)
}
