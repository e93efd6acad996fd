package blobstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (possibly wrapped) when a key does not exist.
var ErrNotFound = errors.New("blobstore: not found")

// ErrInvalidKey is returned when a key is empty, absolute, contains "." or
// ".." segments, empty segments, NUL bytes, or is otherwise unusable.
var ErrInvalidKey = errors.New("blobstore: invalid key")

// ErrSizeMismatch is returned by Put when the body does not have the size the
// caller declared. Nothing is stored in that case.
var ErrSizeMismatch = errors.New("blobstore: size mismatch")

// ErrTooLarge is returned by Put for a declared size larger than the store
// can hold in one blob (5 TiB on S3), before anything is read or stored.
var ErrTooLarge = errors.New("blobstore: blob too large")

// ErrInvalidMetadata is returned by Put when PutOptions.Metadata breaks the
// rules written on [PutOptions] (see [ValidateMetadata]). Nothing is stored.
var ErrInvalidMetadata = errors.New("blobstore: invalid metadata")

// ErrUnavailable is in the chain of an error that says the store could not
// be reached or answered "try again later" (a network error, a timeout, an
// HTTP 5xx, throttling), after the store's own retries. The same call may
// succeed later; a gateway answers 503, never 404 or 400.
var ErrUnavailable = errors.New("blobstore: unavailable")

// Info describes a stored blob.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// Metadata holds the user metadata given to Put. It is filled by Stat;
	// List leaves it nil (listings do not carry metadata on S3).
	Metadata map[string]string
}

// PutOptions are optional parameters of Put.
type PutOptions struct {
	// Metadata is stored with the blob. Keys are lower-case ASCII letters,
	// digits and '-'; values are printable ASCII without leading or trailing
	// spaces (HTTP would trim them); keys and values together take at most
	// MaxMetadataSize bytes (the S3 limit). Put rejects anything else with
	// ErrInvalidMetadata, so that every implementation returns exactly what
	// it was given.
	Metadata map[string]string
}

// Store is an immutable blob store. All methods are safe for concurrent use.
//
// Keys are slash-separated relative paths: non-empty segments of printable
// characters, none of them "." or "..". Keys that break these rules get
// ErrInvalidKey, so no key can escape the store.
type Store interface {
	// Put stores the bytes of r under key, replacing any blob with that key
	// (callers normally never reuse a key: blobs are immutable by
	// convention). size is the exact length of r, or -1 when unknown; a
	// body whose length differs from a known size fails with
	// ErrSizeMismatch. Put is atomic: on any error, including a cancelled
	// ctx, no partial blob is visible under key and a blob it would have
	// replaced stays. The error wraps r's own error when r fails, and
	// ctx.Err() when ctx ends first. Put reads r at most until EOF or one
	// byte past a known size, and does not close it. It returns the stored
	// blob's Info (without Metadata).
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error)

	// Open returns a reader of length bytes starting at offset, or of the
	// rest of the blob when length is -1. A range that starts at or past the
	// end returns an empty reader for an empty blob at offset 0 and
	// ErrRangeNotSatisfiable otherwise; a range that runs past the end is
	// cut at the end. Missing keys give ErrNotFound, whatever the range. The
	// caller closes the reader.
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Stat returns the Info of key, with its Metadata, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes key. Deleting a missing key is not an error, so Delete
	// is idempotent.
	Delete(ctx context.Context, key string) error

	// List calls fn for every blob whose key starts with prefix, in
	// ascending byte order of keys, across as many pages as the backend
	// needs. If fn returns an error, List stops and returns it.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// ErrRangeNotSatisfiable is returned by Open when offset lies past the end of
// a non-empty blob (or past 0 for an empty one).
var ErrRangeNotSatisfiable = errors.New("blobstore: range not satisfiable")
