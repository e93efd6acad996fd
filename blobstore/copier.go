package blobstore

import "context"

// Copier is an optional capability of a Store: copying a blob inside the
// store without moving its bytes through the caller. Callers find it with a
// type assertion:
//
//	if c, ok := store.(blobstore.Copier); ok { ... }
//
// and otherwise fall back to Open and Put.
type Copier interface {
	// Copy stores the content of src under dst with opts.Metadata, which
	// replaces src's metadata (it is not merged; nil leaves dst without
	// metadata). The bytes stay inside the store (a server-side copy on S3,
	// a reflink or an in-kernel copy on a file system).
	//
	// A missing src gives ErrNotFound. Copying a blob onto itself
	// (src == dst) gives ErrInvalidKey, as do keys that are not valid. Copy
	// is atomic like Put: on any error, including a cancelled ctx, nothing
	// new is visible under dst and a blob it would have replaced stays. src
	// is never changed, neither its content nor its metadata, and later
	// changes to either blob do not show in the other. Copy returns dst's
	// Info (without Metadata). It is safe for concurrent use.
	Copy(ctx context.Context, src, dst string, opts PutOptions) (Info, error)
}
