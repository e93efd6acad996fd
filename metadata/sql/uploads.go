package sqlmeta

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3dfs/s3dfs/metadata"
)

// Upload records are rows of s3dfs_uploads: the msgpack record by id.

// CreateUpload inserts an upload record.
func (b *Backend) CreateUpload(ctx context.Context, u *metadata.Upload) error {
	rec, err := metadata.EncodeUpload(u)
	if err != nil {
		return err
	}
	n, err := b.eng.exec(ctx, b.q.insertUpload, u.ID, rec)
	if err != nil {
		return fmt.Errorf("sqlmeta: create upload %s: %w", u.ID, b.eng.classify(err))
	}
	if n == 0 {
		return fmt.Errorf("%w: upload %s", metadata.ErrExist, u.ID)
	}
	return nil
}

func decodeUpload(id string, rec []byte) (*metadata.Upload, error) {
	u, err := metadata.DecodeUpload(rec)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: upload %s: %w", id, err)
	}
	if u.ID != id {
		return nil, fmt.Errorf("sqlmeta: %w: the row of upload %s holds the record of upload %s", metadata.ErrCorrupt, id, u.ID)
	}
	return u, nil
}

func (b *Backend) readUpload(ctx context.Context, query func(context.Context, string, []any, rowFunc) error, q, id string) (*metadata.Upload, error) {
	var rec []byte
	found, err := queryRow(ctx, query, q, []any{id}, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: upload %s", metadata.ErrNotFound, id)
	}
	return decodeUpload(id, rec)
}

// ReadUpload reads an upload record.
func (b *Backend) ReadUpload(ctx context.Context, id string) (*metadata.Upload, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	return b.readUpload(ctx, b.eng.query, b.q.readUpload, id)
}

// UpdateUpload changes an upload record with its row locked.
func (b *Backend) UpdateUpload(ctx context.Context, id string, fn func(*metadata.Upload) error) (*metadata.Upload, error) {
	if err := validIDs(id); err != nil {
		return nil, err
	}
	var out *metadata.Upload
	err := b.inTx(ctx, "update upload", func(tx txn) error {
		old, err := b.readUpload(ctx, tx.query, b.q.lockUpload, id)
		if err != nil {
			return err
		}
		u := old.Clone()
		if err := fn(u); err != nil {
			return err
		}
		if u.ID != id {
			return errors.New("sqlmeta: UpdateUpload may not change the upload id")
		}
		rec, err := metadata.EncodeUpload(u)
		if err != nil {
			return err
		}
		tx.queue(b.q.updateUpload, id, rec)
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUpload deletes an upload record.
func (b *Backend) DeleteUpload(ctx context.Context, id string) error {
	if err := validIDs(id); err != nil {
		return err
	}
	if _, err := b.eng.exec(ctx, b.q.deleteUpload, id); err != nil {
		return fmt.Errorf("sqlmeta: delete upload %s: %w", id, b.eng.classify(err))
	}
	return nil
}

// ListUploads reads every upload record.
func (b *Backend) ListUploads(ctx context.Context, fn func(*metadata.Upload) error, bad func(string, error)) error {
	type row struct {
		id  string
		rec []byte
	}
	var rows []row // collected first: fn may call the backend
	err := b.eng.query(ctx, b.q.listUploads, nil, func(scan func(...any) error) error {
		var r row
		if err := scan(&r.id, &r.rec); err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlmeta: list uploads: %w", err)
	}
	for _, r := range rows {
		u, err := decodeUpload(r.id, r.rec)
		if err != nil {
			if bad != nil {
				bad(r.id, err)
			}
			continue
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}
