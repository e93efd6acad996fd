package decomposedfs

import (
	"errors"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/metadata"
)

// Errors returned by FS methods (possibly wrapped; test with errors.Is).
// Those shared with the metadata package are the same values, so either
// name matches.
var (
	ErrNotFound    = metadata.ErrNotFound
	ErrExist       = metadata.ErrExist
	ErrCorrupt     = metadata.ErrCorrupt
	ErrInvalidName = metadata.ErrInvalidName
	ErrNotDir      = metadata.ErrNotDir
	ErrIsDir       = metadata.ErrIsDir
	ErrCycle       = metadata.ErrCycle
	ErrRoot        = metadata.ErrRoot

	// ErrInvalidRef: a reference names no space, or a malformed id or path.
	ErrInvalidRef = errors.New("decomposedfs: invalid reference")
	// ErrChecksumMismatch: an upload's content does not match the
	// checksum the client sent. Nothing was stored.
	ErrChecksumMismatch = errors.New("decomposedfs: checksum mismatch")
	// ErrCrossSpace: a move between two spaces (copy and delete instead).
	ErrCrossSpace = errors.New("decomposedfs: cannot move between spaces")
	// ErrQuotaExceeded: the write would take a space over its quota.
	ErrQuotaExceeded = errors.New("decomposedfs: quota exceeded")
	// ErrLimit: a user reached a limit on what one may hold (locks,
	// uploads in progress, grants of a space; see Options). Nothing was
	// changed; the message says which limit.
	ErrLimit = errors.New("decomposedfs: limit reached")
	// ErrRange: a download range starts past the end of the file.
	ErrRange = errors.New("decomposedfs: range not satisfiable")
	// ErrUnavailable: the blob store could not be reached or said "try
	// again later" (after its own retries). Nothing was changed by the
	// failed call; repeating it later may succeed.
	ErrUnavailable = blobstore.ErrUnavailable
	// ErrContentTooLarge: an upload declared a size larger than the blob
	// store can hold in one blob. Nothing was stored.
	ErrContentTooLarge = blobstore.ErrTooLarge
)
