package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// op says what role the resource that an error is about plays in the
// request, because the same driver error means different things for the
// resource a request reads and for one it creates: a missing node is 404
// for GET, but 409 ("create the parent first") for PUT.
type op uint8

const (
	// opRead: the request-URI must exist (GET, PROPFIND, DELETE, the
	// source of COPY and MOVE, ...).
	opRead op = iota
	// opCreate: the request-URI is being created (PUT, MKCOL, LOCK of an
	// unmapped URL).
	opCreate
	// opDest: the destination of COPY and MOVE.
	opDest
)

// statusCanceled is logged for requests whose client went away (nginx's
// convention); the client never sees it.
const statusCanceled = 499

// statusTable maps driver errors to HTTP status codes, first match wins;
// byOp overrides the status for some ops, and cond names the DAV:
// precondition element of the error body, if any. This is the only place
// where driver errors become statuses.
var statusTable = []struct {
	err    error
	status int
	byOp   map[op]int
	cond   string
}{
	{err: context.Canceled, status: statusCanceled},
	{err: context.DeadlineExceeded, status: http.StatusServiceUnavailable},
	// The blob store is down or overloaded: nothing happened, try again
	// (with Retry-After). Before any other row: such an error may also
	// carry the driver's reading of it.
	{err: decomposedfs.ErrUnavailable, status: http.StatusServiceUnavailable},
	{err: decomposedfs.ErrInvalidName, status: http.StatusBadRequest},
	{err: decomposedfs.ErrInvalidRef, status: http.StatusBadRequest},
	{err: decomposedfs.ErrInvalidChecksum, status: http.StatusBadRequest},
	// ownCloud answers a checksum mismatch with 400, and clients retry.
	{err: decomposedfs.ErrChecksumMismatch, status: http.StatusBadRequest},
	{err: decomposedfs.ErrSizeMismatch, status: http.StatusBadRequest},
	// A declared size larger than the blob store holds (5 TiB on S3).
	{err: decomposedfs.ErrContentTooLarge, status: http.StatusRequestEntityTooLarge},
	{err: decomposedfs.ErrRange, status: http.StatusRequestedRangeNotSatisfiable},
	{err: decomposedfs.ErrPrecondition, status: http.StatusPreconditionFailed},
	{err: decomposedfs.ErrLocked, status: http.StatusLocked},
	// UNLOCK with a token that does not apply is 409 (RFC 4918, 9.11.1);
	// a LOCK refresh with one is 412.
	{err: decomposedfs.ErrNoSuchLock, status: http.StatusConflict},
	// A record would pass metadata.MaxRecordSize: the server cannot store
	// it (RFC 4918, 11.5). Nothing was stored.
	{err: decomposedfs.ErrTooLarge, status: http.StatusInsufficientStorage},
	// The user holds as many locks, uploads in progress or grants as one
	// may (decomposedfs.Options); the message says which. Nothing changed.
	{err: decomposedfs.ErrLimit, status: http.StatusInsufficientStorage},
	// RFC 4331, 6: a write that would take the space over its quota.
	// Nothing was stored.
	{err: decomposedfs.ErrQuotaExceeded, status: http.StatusInsufficientStorage, cond: "quota-not-exceeded"},
	// The user may see the resource but not do this to it. (Where the user
	// may not even see it, the driver answers ErrNotFound: 404, so that
	// nothing leaks.)
	{err: decomposedfs.ErrPermissionDenied, status: http.StatusForbidden},
	// Another request writes or finishes the same resumable upload: retry
	// later. 409, as the TUS handler answers it.
	{err: decomposedfs.ErrUploadBusy, status: http.StatusConflict},
	// Copying or moving a folder into itself, or a resource onto itself
	// (RFC 4918, 9.8.5 and 9.9.4).
	{err: decomposedfs.ErrCycle, status: http.StatusForbidden},
	{err: decomposedfs.ErrRoot, status: http.StatusForbidden},
	// A move between spaces is not done here: like a destination on
	// another server (RFC 4918, 9.9.4).
	{err: decomposedfs.ErrCrossSpace, status: http.StatusBadGateway},
	// A path through a file: nothing there to read; nowhere to create.
	{err: decomposedfs.ErrNotDir, status: http.StatusNotFound, byOp: map[op]int{opCreate: http.StatusConflict, opDest: http.StatusConflict}},
	// PUT onto a collection.
	{err: decomposedfs.ErrIsDir, status: http.StatusMethodNotAllowed, byOp: map[op]int{opDest: http.StatusConflict}},
	// MKCOL of an existing name (RFC 4918, 9.3.1); COPY or MOVE with
	// "Overwrite: F" onto an existing target (9.8.5).
	{err: decomposedfs.ErrExist, status: http.StatusConflict, byOp: map[op]int{opCreate: http.StatusMethodNotAllowed, opDest: http.StatusPreconditionFailed}},
	// A missing parent: 409 for anything that creates (9.3.1, 9.7.1).
	{err: decomposedfs.ErrNotFound, status: http.StatusNotFound, byOp: map[op]int{opCreate: http.StatusConflict, opDest: http.StatusConflict}},
	{err: decomposedfs.ErrCorrupt, status: http.StatusInternalServerError},
	// A blob store without a capability an operation needs.
	{err: decomposedfs.ErrNotSupported, status: http.StatusNotImplemented},
}

// statusOf returns the HTTP status for a driver error in the role o.
func statusOf(err error, o op) int {
	s, _ := classify(err, o)
	return s
}

// classify returns the HTTP status and the DAV: condition (or "") for a
// driver error in the role o.
func classify(err error, o op) (int, string) {
	for _, row := range statusTable {
		if errors.Is(err, row.err) {
			if s, ok := row.byOp[o]; ok {
				return s, row.cond
			}
			return row.status, row.cond
		}
	}
	return http.StatusInternalServerError, ""
}

// told are the errors whose message the client gets in the body (as
// Sabre's s:message, which ownCloud and Nextcloud clients show): limits
// the user ran into with the user's own request, worded for people. Other
// driver messages stay in the log, since they name ids and paths that a
// 404 must not reveal.
var told = []error{decomposedfs.ErrLimit, decomposedfs.ErrTooLarge, decomposedfs.ErrQuotaExceeded}

// userMessage returns the message to show for err, or "".
func userMessage(err error) string {
	for _, t := range told {
		if errors.Is(err, t) {
			msg := err.Error()
			for _, p := range []string{"decomposedfs: ", "metadata: "} {
				msg = strings.ReplaceAll(msg, p, "")
			}
			return msg
		}
	}
	return ""
}
