package sqlmeta

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// nodeRow is a row of s3dfs_nodes as {nodecols} selects it.
type nodeRow struct {
	id        string
	typ       int64
	parentID  string // "" for a space root
	name      string
	trashed   int64
	treeSize  int64
	treeMtime int64
	version   int64
	rec       []byte
}

func (r *nodeRow) dest() []any {
	return []any{&r.id, &r.typ, &r.parentID, &r.name, &r.trashed, &r.treeSize, &r.treeMtime, &r.version, &r.rec}
}

// node decodes the record and lays the row's columns over it: the link,
// the trash mark and the tree values are the columns'. A row that does not
// make a valid node of space sid gives an error wrapping ErrCorrupt.
func (r *nodeRow) node(sid string) (*metadata.Node, error) {
	n, err := metadata.DecodeNode(r.rec)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: node %s: %w", r.id, err)
	}
	if n.ID != r.id || n.SpaceID != sid || int64(n.Type) != r.typ {
		return nil, fmt.Errorf("sqlmeta: %w: the row of node %s (type %d) in space %s holds the record of %s node %s of space %s",
			metadata.ErrCorrupt, r.id, r.typ, sid, n.Type, n.ID, n.SpaceID)
	}
	n.ParentID, n.Name, n.Trashed = r.parentID, r.name, r.trashed
	if n.Type == metadata.TypeDir {
		n.Tree = metadata.TreeStats{Size: r.treeSize, Mtime: r.treeMtime}
	}
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("sqlmeta: row of node %s: %w", r.id, err)
	}
	n.Stamp = cache.Stamp{Mtime: r.version}
	n.Seal()
	return n, nil
}

// readRow reads one node's row with q (readNode or lockNode).
func readRow(ctx context.Context, query func(context.Context, string, []any, rowFunc) error, q, sid, id string) (*nodeRow, error) {
	var r nodeRow
	found, err := queryRow(ctx, query, q, []any{sid, id}, r.dest()...)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: node %s", metadata.ErrNotFound, id)
	}
	return &r, nil
}

// ReadNode reads a node's row: one query, by primary key.
func (b *Backend) ReadNode(ctx context.Context, sid, id string) (*metadata.Node, error) {
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	r, err := readRow(ctx, b.eng.query, b.q.readNode, sid, id)
	if err != nil {
		return nil, err
	}
	return r.node(sid)
}

// Lookup finds a child by name: one query that returns the folder's row
// and the child's, if there is one.
func (b *Backend) Lookup(ctx context.Context, sid, parentID, name string) (*metadata.Node, error) {
	if err := metadata.ValidateName(name); err != nil {
		return nil, err
	}
	if err := validIDs(sid, parentID); err != nil {
		return nil, err
	}
	var parent, child *nodeRow
	err := b.eng.query(ctx, b.q.lookup, []any{sid, parentID, name}, func(scan func(...any) error) error {
		r := new(nodeRow)
		if err := scan(r.dest()...); err != nil {
			return err
		}
		if r.id == parentID && parent == nil {
			parent = r
		} else {
			child = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: lookup %q in %s: %w", name, parentID, err)
	}
	if err := folderError(parent, parentID); err != nil {
		return nil, err
	}
	if child == nil {
		return nil, fmt.Errorf("%w: %q in folder %s", metadata.ErrNotFound, name, parentID)
	}
	return child.node(sid)
}

// folderError tells why a folder's row cannot have children: it is
// missing, or it is a file. nil if it is a folder.
func folderError(r *nodeRow, id string) error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: folder %s", metadata.ErrNotFound, id)
	case r.typ != int64(metadata.TypeDir):
		return fmt.Errorf("%w: %s", metadata.ErrNotDir, id)
	}
	return nil
}

// List returns a folder's children: one query, which also returns the
// folder's own row. A child whose row does not decode is reported in
// Problems.
func (b *Backend) List(ctx context.Context, sid, parentID string) (*metadata.Listing, error) {
	if err := validIDs(sid, parentID); err != nil {
		return nil, err
	}
	var parent *nodeRow
	l := &metadata.Listing{Children: []*metadata.Node{}}
	err := b.eng.query(ctx, b.q.list, []any{sid, parentID}, func(scan func(...any) error) error {
		var r nodeRow
		if err := scan(r.dest()...); err != nil {
			return err
		}
		if r.id == parentID && parent == nil {
			parent = &r
			return nil
		}
		n, err := r.node(sid)
		if err != nil {
			l.Problems = append(l.Problems, metadata.Problem{Name: r.name, ID: r.id, Err: err})
			return nil
		}
		l.Children = append(l.Children, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: list %s: %w", parentID, err)
	}
	if err := folderError(parent, parentID); err != nil {
		return nil, err
	}
	// The query sorts; this makes sure, at the cost of one pass, since
	// the order of a UNION's rows is not promised by SQL.
	byName := func(a, b *metadata.Node) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(l.Children, byName) {
		slices.SortFunc(l.Children, byName)
	}
	return l, nil
}
