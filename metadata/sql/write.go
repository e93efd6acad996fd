package sqlmeta

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// nodeArgs are the parameters of insertNode for n, whose record is rec.
func nodeArgs(n *metadata.Node, rec []byte, version int64) []any {
	return []any{n.ID, n.SpaceID, orNil(n.ParentID), n.Name, int64(n.Type), n.Size, n.Mtime, orNil(n.BlobID),
		orNil(n.Checksums.SHA1), orNil(n.Checksums.MD5), orNil(n.Checksums.Adler32), version, rec}
}

// CreateNode inserts a node's row if its parent is a live folder and the
// name is free. PostgreSQL does it in one statement (see pgCreate); SQLite
// in a transaction of two.
func (b *Backend) CreateNode(ctx context.Context, n *metadata.Node) error {
	if err := validIDs(n.SpaceID, n.ID, n.ParentID); err != nil {
		return err
	}
	if err := metadata.ValidateName(n.Name); err != nil {
		return err
	}
	if n.Trashed != 0 || n.Tree != (metadata.TreeStats{}) {
		return errors.New("sqlmeta: a new node has no trash mark and no tree values")
	}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		return err
	}
	args := nodeArgs(n, rec, now())
	if b.createFast != nil {
		return retry(ctx, "create", func() error { return b.eng.classify(b.createFast(ctx, n, args)) })
	}
	return b.inTx(ctx, "create", func(tx txn) error {
		var typ, trashed int64
		found, err := queryRow(ctx, tx.query, b.q.parentOf, []any{n.SpaceID, n.ParentID}, &typ, &trashed)
		if err != nil {
			return err
		}
		if err := parentError(found, typ, trashed, n.ParentID); err != nil {
			return err
		}
		inserted, err := tx.exec(ctx, b.q.insertNode, args...)
		if err != nil {
			return err
		}
		if inserted == 0 {
			return existError(n)
		}
		return nil
	})
}

// parentError tells why a node cannot be created in or moved to a folder,
// from the folder's type and trash mark; nil if it can.
func parentError(found bool, typ, trashed int64, id string) error {
	switch {
	case !found:
		return fmt.Errorf("%w: folder %s", metadata.ErrNotFound, id)
	case typ != int64(metadata.TypeDir):
		return fmt.Errorf("%w: %s", metadata.ErrNotDir, id)
	case trashed != 0:
		return fmt.Errorf("%w: folder %s is in the trash", metadata.ErrNotFound, id)
	}
	return nil
}

func existError(n *metadata.Node) error {
	return fmt.Errorf("%w: %q in folder %s, or node id %s", metadata.ErrExist, n.Name, n.ParentID, n.ID)
}

// PrepareNode checks and encodes n; there is nothing a database could do
// ahead that would make the commit cheaper than the one insert it is, so
// Commit is CreateNode and an uncommitted preparation leaves nothing.
func (b *Backend) PrepareNode(ctx context.Context, n *metadata.Node) (metadata.Pending, error) {
	if err := validIDs(n.SpaceID, n.ID, n.ParentID); err != nil {
		return nil, err
	}
	if err := metadata.ValidateName(n.Name); err != nil {
		return nil, err
	}
	if n.Type != metadata.TypeFile {
		return nil, errors.New("sqlmeta: only files can be prepared")
	}
	if _, err := metadata.EncodeNode(n.Clone()); err != nil {
		return nil, err
	}
	return &pending{b: b, n: n.Clone()}, nil
}

type pending struct {
	b         *Backend
	n         *metadata.Node // as prepared
	committed bool
}

func (p *pending) Commit(ctx context.Context, n *metadata.Node) error {
	if p.committed {
		return fmt.Errorf("sqlmeta: node %s committed twice", n.ID)
	}
	if n.ID != p.n.ID || n.SpaceID != p.n.SpaceID || n.ParentID != p.n.ParentID || n.Name != p.n.Name || n.Type != p.n.Type {
		return fmt.Errorf("sqlmeta: commit of node %s does not match what was prepared", p.n.ID)
	}
	if err := p.b.CreateNode(ctx, n); err != nil {
		return err
	}
	p.committed = true
	return nil
}

func (p *pending) Abort() {}

// UpdateNode is a read-modify-write of a row locked for the transaction
// (SELECT ... FOR UPDATE; SQLite's write transaction excludes other writers
// anyway). A change fn makes to nothing writes nothing.
func (b *Backend) UpdateNode(ctx context.Context, sid, id string, fn func(*metadata.Node) error) (*metadata.Node, error) {
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	var out *metadata.Node
	err := b.inTx(ctx, "update", func(tx txn) error {
		r, err := readRow(ctx, tx.query, b.q.lockNode, sid, id)
		if err != nil {
			return err
		}
		old, err := r.node(sid)
		if err != nil {
			return err
		}
		n := old.Clone()
		if err := fn(n); err != nil {
			return err
		}
		if n.ID != old.ID || n.SpaceID != old.SpaceID || n.ParentID != old.ParentID || n.Name != old.Name ||
			n.Type != old.Type || n.Tree != old.Tree || n.Trashed != old.Trashed {
			return fmt.Errorf("sqlmeta: UpdateNode may not change the identity, link, tree or trash mark of node %s", id)
		}
		oldRec, err := metadata.EncodeNode(old.Clone())
		if err != nil {
			return err
		}
		rec, err := metadata.EncodeNode(n)
		if err != nil {
			return err
		}
		if bytes.Equal(rec, oldRec) {
			out = old
			return nil
		}
		n.Stamp = cache.Stamp{Mtime: next(r.version)}
		tx.queue(b.q.updateNode, sid, id, n.Size, n.Mtime, orNil(n.BlobID), orNil(n.Checksums.SHA1),
			orNil(n.Checksums.MD5), orNil(n.Checksums.Adler32), rec, n.Stamp.Mtime)
		n.Seal()
		out = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PurgeNode deletes a node's row. A folder's links to its children are
// the children's rows, which the caller purges first (bottom-up); any it
// left would point at a missing parent, for the checker to find, as mpk
// leaves their records.
func (b *Backend) PurgeNode(ctx context.Context, sid, id string) error {
	if err := validIDs(sid, id); err != nil {
		return err
	}
	if _, err := b.eng.exec(ctx, b.q.purgeNode, sid, id); err != nil {
		return fmt.Errorf("sqlmeta: purge %s: %w", id, b.eng.classify(err))
	}
	return nil
}
