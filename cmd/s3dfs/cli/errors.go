package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
)

// errorTexts maps the driver's sentinel errors to what a user reads. With
// detail set, the text the sentinel was wrapped with follows (the name that
// is invalid, the checksum that was computed); without, it is noise (node
// ids) and is dropped. The first match wins, so more specific sentinels go
// first.
var errorTexts = []struct {
	err    error
	text   string
	detail bool
}{
	{context.Canceled, "interrupted", false},
	{context.DeadlineExceeded, "timed out", false},
	{decomposedfs.ErrInvalidName, "invalid name", true},
	{decomposedfs.ErrInvalidRef, "invalid path", true},
	{decomposedfs.ErrChecksumMismatch, "checksum mismatch", true},
	{decomposedfs.ErrSizeMismatch, "size mismatch (did the file change while it was read?)", false},
	{decomposedfs.ErrRange, "range not satisfiable", true},
	{decomposedfs.ErrCycle, "cannot move a folder into itself", false},
	{decomposedfs.ErrRoot, "not allowed on the space root", false},
	{decomposedfs.ErrCrossSpace, "cannot move between spaces", false},
	{decomposedfs.ErrNotDir, "not a folder", false},
	{decomposedfs.ErrIsDir, "is a folder", false},
	{decomposedfs.ErrExist, "already exists", false},
	{decomposedfs.ErrCorrupt, "corrupt metadata (run s3dfs check)", true},
	{decomposedfs.ErrPermissionDenied, "permission denied", false},
	{decomposedfs.ErrQuotaExceeded, "quota exceeded", false},
	{decomposedfs.ErrPrecondition, "precondition failed", true},
	// A node whose blob is gone is a broken file, not a missing path.
	{blobstore.ErrNotFound, "content missing from the blob store (run s3dfs check)", false},
	{decomposedfs.ErrNotFound, "not found", false},
}

// describe turns an error of the driver into a short message.
func describe(err error) string {
	for _, t := range errorTexts {
		if !errors.Is(err, t.err) {
			continue
		}
		if t.detail {
			if d := detail(err, t.err); d != "" {
				return t.text + ": " + d
			}
		}
		return t.text
	}
	return err.Error()
}

// detail is what a wrapped sentinel was wrapped with: the part of the
// message after "<sentinel>: ".
func detail(err, sentinel error) string {
	msg, s := err.Error(), sentinel.Error()+": "
	if i := strings.Index(msg, s); i >= 0 {
		return msg[i+len(s):]
	}
	return ""
}

// opError reports a failed operation on a path: "get /a/f: not found".
func opError(op, path string, err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: ExitFailure, err: &failure{msg: fmt.Sprintf("%s %s: %s", op, path, describe(err)), err: err}}
}

// failure is an error with a message for users; the original error stays
// reachable for errors.Is.
type failure struct {
	msg string
	err error
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.err }
