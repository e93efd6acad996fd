package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// MaxParts is the highest part number of a multipart upload (the S3 limit).
const MaxParts = 10000

// ErrInvalidPart is returned by the Multiparter methods for a part number
// outside [1, MaxParts], and by CompleteMultipart when its part list does
// not describe stored parts that can be assembled (see there). The upload
// is left as it was.
var ErrInvalidPart = errors.New("blobstore: invalid part")

// Part describes one stored part of a multipart upload.
type Part struct {
	Number int   // 1 to MaxParts
	Size   int64 // in bytes
	// ETag identifies this upload of the part: a re-upload with other
	// content gets another one. It is opaque (both stores use the hex MD5
	// of the part, the S3 convention, but callers must not rely on that).
	ETag string
}

// Multiparter is an optional capability of a Store: assembling a blob from
// parts that arrive in separate calls, possibly made by different processes
// on different hosts that share the store (one bucket, one directory), so
// that an upload can go on after a restart. Callers find it with a type
// assertion.
//
// An upload belongs to the key given to CreateMultipart. Its id is opaque;
// the other methods need the same key and id, and a wrong key is treated
// like an unknown id. A missing upload (never created, aborted, completed,
// or created for another key) gives ErrNotFound; there is no separate
// sentinel because nothing else in these calls can be missing.
//
// Nothing is visible under the key before CompleteMultipart, neither to
// Stat and Open nor to List. An upload that is neither completed nor
// aborted keeps its parts, and their storage, until AbortMultipart: the
// caller keeps track of its uploads and aborts the abandoned ones.
//
// All methods are safe for concurrent use. Distinct parts of one upload may
// be uploaded concurrently, from any number of processes. If
// CompleteMultipart or AbortMultipart races with an UploadPart of the same
// upload, that UploadPart may succeed and still not count: a completed
// blob holds exactly the parts given to CompleteMultipart (matched by ETag),
// and an aborted upload keeps nothing.
type Multiparter interface {
	// MinPartSize is the smallest size of a part that is not the last one
	// (5 MiB on S3).
	MinPartSize() int64

	// CreateMultipart starts an upload that will become key, with
	// opts.Metadata as the blob's metadata, and returns its id. Invalid
	// keys give ErrInvalidKey and invalid metadata ErrInvalidMetadata, as
	// for Put.
	CreateMultipart(ctx context.Context, key string, opts PutOptions) (uploadID string, err error)

	// UploadPart stores part number n (1 to MaxParts, else ErrInvalidPart)
	// from r, which has exactly size bytes (size >= 0: a part's size is
	// always known). A body of another length gives ErrSizeMismatch. On
	// any error, including a failing r and a cancelled ctx, the part stays
	// as it was: absent, or as its earlier upload left it. Uploading a
	// number again replaces that part. Parts may arrive in any order. r is
	// read as Put reads it and not closed. UploadPart returns the stored
	// part.
	UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (Part, error)

	// ListParts returns the parts stored so far, by ascending number, so
	// that an upload can resume after a restart. An upload without parts
	// gives an empty list.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)

	// CompleteMultipart assembles parts into the blob key and ends the
	// upload. parts must be numbered 1, 2, ... len(parts) in this order
	// (at least one), each with the Size and ETag of the stored part as
	// UploadPart or ListParts reported it, and every part but the last
	// must have at least MinPartSize bytes; otherwise the result is
	// ErrInvalidPart. Stored parts with higher numbers are discarded.
	//
	// Completion is atomic like Put: the blob, with the metadata given to
	// CreateMultipart, appears whole under key (replacing any blob there)
	// or not at all, and on error the upload stays as it was, so the call
	// can be repeated. After success the upload id gives ErrNotFound. The
	// returned Info has no Metadata.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Info, error)

	// AbortMultipart discards the upload and its parts. Aborting an
	// unknown upload is not an error, so AbortMultipart is idempotent.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// ValidatePartNumber reports whether n is a usable part number. The error
// wraps ErrInvalidPart.
func ValidatePartNumber(n int) error {
	if n < 1 || n > MaxParts {
		return fmt.Errorf("%w: part number %d is outside [1, %d]", ErrInvalidPart, n, MaxParts)
	}
	return nil
}

// ValidateParts checks what CompleteMultipart can check without looking at
// the stored parts: parts is not empty, numbered 1, 2, ... in order, no size
// is negative, and every part but the last has at least minPartSize bytes.
// The error wraps ErrInvalidPart.
func ValidateParts(parts []Part, minPartSize int64) error {
	if len(parts) == 0 {
		return fmt.Errorf("%w: no parts", ErrInvalidPart)
	}
	if len(parts) > MaxParts {
		return fmt.Errorf("%w: %d parts, more than %d", ErrInvalidPart, len(parts), MaxParts)
	}
	for i, p := range parts {
		switch {
		case p.Number != i+1:
			return fmt.Errorf("%w: part %d of the list has number %d; parts must be numbered 1, 2, ... without gaps",
				ErrInvalidPart, i+1, p.Number)
		case p.Size < 0:
			return fmt.Errorf("%w: part %d has size %d", ErrInvalidPart, p.Number, p.Size)
		case p.Size < minPartSize && i < len(parts)-1:
			return fmt.Errorf("%w: part %d has %d bytes; every part but the last needs at least %d",
				ErrInvalidPart, p.Number, p.Size, minPartSize)
		}
	}
	return nil
}
