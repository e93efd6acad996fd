package tus

import (
	"context"
	"errors"
	"net/http"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/tus/tusd/v2/pkg/handler"
)

// statusTable maps driver errors to TUS responses, first match wins. This
// is the only place where they become statuses; tusd sends the
// handler.Error that tusError makes of them.
var statusTable = []struct {
	err    error
	code   string
	status int
}{
	// An expired upload is gone for good (410); it is an ErrNotFound too,
	// so it must come first.
	{decomposedfs.ErrUploadExpired, "ERR_UPLOAD_EXPIRED", http.StatusGone},
	{decomposedfs.ErrNotFound, "ERR_UPLOAD_NOT_FOUND", http.StatusNotFound},
	{decomposedfs.ErrPermissionDenied, "ERR_FORBIDDEN", http.StatusForbidden},
	{decomposedfs.ErrQuotaExceeded, "ERR_QUOTA_EXCEEDED", http.StatusInsufficientStorage},
	// The user has as many uploads in progress as one may.
	{decomposedfs.ErrLimit, "ERR_LIMIT_REACHED", http.StatusInsufficientStorage},
	{decomposedfs.ErrUploadOffset, "ERR_MISMATCHED_OFFSET", http.StatusConflict},
	{decomposedfs.ErrUploadBusy, "ERR_UPLOAD_BUSY", http.StatusConflict},
	{decomposedfs.ErrTooLarge, "ERR_UPLOAD_SIZE_EXCEEDED", http.StatusRequestEntityTooLarge},
	{decomposedfs.ErrContentTooLarge, "ERR_UPLOAD_SIZE_EXCEEDED", http.StatusRequestEntityTooLarge},
	// 460 is the checksum extension's status, for a chunk's Upload-Checksum
	// and for the whole file's metadata checksum alike.
	{decomposedfs.ErrChecksumMismatch, "ERR_CHECKSUM_MISMATCH", 460},
	// A WebDAV lock on the file or a folder above it.
	{decomposedfs.ErrLocked, "ERR_LOCKED", http.StatusLocked},
	{decomposedfs.ErrInvalidName, "ERR_INVALID_FILENAME", http.StatusBadRequest},
	{decomposedfs.ErrInvalidRef, "ERR_INVALID_PATH", http.StatusBadRequest},
	{decomposedfs.ErrInvalidChecksum, "ERR_INVALID_CHECKSUM", http.StatusBadRequest},
	// The name is a folder's, or the "folder" is a file.
	{decomposedfs.ErrIsDir, "ERR_CONFLICT", http.StatusConflict},
	{decomposedfs.ErrNotDir, "ERR_CONFLICT", http.StatusConflict},
	{decomposedfs.ErrPrecondition, "ERR_PRECONDITION", http.StatusPreconditionFailed},
	// A blob store without multipart uploads.
	{decomposedfs.ErrNotSupported, "ERR_NOT_IMPLEMENTED", http.StatusNotImplemented},
	{context.DeadlineExceeded, "ERR_TIMEOUT", http.StatusServiceUnavailable},
}

// retryAfter is the Retry-After of a 503, in seconds, as the WebDAV
// routes answer it.
const retryAfter = "10"

// tusError makes a driver error a response. Anything unexpected is a 500
// whose details go to the log, not to the client.
func (s *store) tusError(ctx context.Context, err error) error {
	var te handler.Error
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, decomposedfs.ErrUnavailable) {
		// The details name the blob store's endpoint: for the log only.
		s.log.WarnContext(ctx, "tus: blob store unavailable", "err", err)
		te := handler.NewError("ERR_STORAGE_UNAVAILABLE", "the content store is unavailable; retry later", http.StatusServiceUnavailable)
		te.HTTPResponse.Header["Retry-After"] = retryAfter
		return te
	}
	for _, row := range statusTable {
		if errors.Is(err, row.err) {
			return handler.NewError(row.code, err.Error(), row.status)
		}
	}
	if !errors.Is(err, context.Canceled) {
		s.log.ErrorContext(ctx, "tus: upload failed", "err", err)
	}
	return handler.NewError("ERR_INTERNAL_SERVER_ERROR", "internal error", http.StatusInternalServerError)
}
