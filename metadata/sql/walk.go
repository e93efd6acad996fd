package sqlmeta

import (
	"context"
	"fmt"

	"github.com/s3dfs/s3dfs/metadata"
)

// walkPage is how many rows WalkNodes reads per query (the LIMIT of
// walkFirst and walkNext).
const walkPage = 1000

// WalkNodes calls fn for every node of a space, live or trashed, in id
// order. A row that does not decode is passed with its error and a nil
// node; fn decides whether that stops the walk. Rows are read in pages of
// a thousand by id (keyset pagination on the primary key), so memory stays
// bounded and fn may call the backend; each page scans the primary key
// from where the last one ended and skips other spaces' rows.
func (b *Backend) WalkNodes(ctx context.Context, sid string, fn func(id string, n *metadata.Node, err error) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	if _, err := b.NamespaceVersion(ctx, sid); err != nil {
		return err // the space must exist
	}
	last := ""
	for {
		q, args := b.q.walkFirst, []any{sid}
		if last != "" {
			q, args = b.q.walkNext, []any{sid, last}
		}
		var page []*nodeRow
		err := b.eng.query(ctx, q, args, func(scan func(...any) error) error {
			r := new(nodeRow)
			if err := scan(r.dest()...); err != nil {
				return err
			}
			page = append(page, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlmeta: walk %s: %w", sid, err)
		}
		for _, r := range page {
			n, err := r.node(sid)
			if err != nil {
				n = nil
			}
			if err := fn(r.id, n, err); err != nil {
				return err
			}
		}
		if len(page) < walkPage {
			return nil
		}
		last = page[len(page)-1].id
	}
}
