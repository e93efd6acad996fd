package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// copyMove answers COPY and MOVE. The Destination must be a URL of this
// server in a space the user may see (502 for another server, 409 for a
// space the user cannot see, as if its parent were missing). COPY copies
// server-side (the content never passes through this process when the
// blob store can copy); MOVE is a rename in the metadata and cannot leave
// its space.
func (h *Handler) copyMove(q *davReq) error {
	isMove := q.r.Method == "MOVE"
	dt, err := h.destination(q.ctx, q.r, q.t.User)
	if err != nil {
		return err
	}
	overwrite, err := overwriteHeader(q.r)
	if err != nil {
		return err
	}
	allowed := []int{-1}
	if !isMove {
		allowed = append(allowed, 0)
	}
	d, err := depth(q.r, -1, allowed...)
	if err != nil {
		return err
	}
	if _, err := h.fs.GetMD(q.ctx, q.t.Ref()); err != nil {
		return fail(err, opRead)
	}
	if dt.Space.ID == q.t.Space.ID && dt.Path == q.t.Path {
		return errorf(http.StatusForbidden, "%s onto itself", q.r.Method)
	}
	if dt.Path == "/" {
		return errorf(http.StatusForbidden, "%s onto a space root", q.r.Method)
	}
	_, err = h.fs.GetMD(q.ctx, dt.Ref())
	existed := err == nil
	switch {
	case existed && !overwrite:
		return errorf(http.StatusPreconditionFailed, "Destination exists and Overwrite is F")
	case err != nil && !errors.Is(err, decomposedfs.ErrNotFound):
		return fail(err, opDest)
	}
	if isMove {
		_, err = h.fs.Move(q.ctx, q.t.Ref(), dt.Ref(), overwrite)
	} else {
		_, err = h.fs.Copy(q.ctx, q.t.Ref(), dt.Ref(), decomposedfs.CopyOptions{Overwrite: overwrite, Shallow: d == 0})
	}
	if err != nil {
		return fail(err, opDest)
	}
	q.w.Header().Set("Content-Length", "0")
	if existed {
		q.w.WriteHeader(http.StatusNoContent)
	} else {
		q.w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// destination maps the Destination header of a COPY or MOVE (or of a
// restore from the trash bin or a versions collection) to a target: 400
// without one or for a malformed one, 502 for a URL of another server, 409
// for a space the user cannot see (as if its parent were missing), 403 for
// a URL of the trash bin or a versions collection.
func (h *Handler) destination(ctx context.Context, r *http.Request, user string) (*Target, error) {
	raw := strings.TrimSpace(r.Header.Get("Destination"))
	if raw == "" {
		return nil, errorf(http.StatusBadRequest, "%s without a Destination", r.Method)
	}
	dt, err := h.mapURL(ctx, r.Host, user, raw)
	if err != nil {
		var he *httpError
		switch {
		case errors.Is(err, errOtherServer) || errors.Is(err, errNoRoute):
			return nil, errorf(http.StatusBadGateway, "Destination %q is not on this server", raw)
		case errors.Is(err, errBadPath):
			return nil, errorf(http.StatusBadRequest, "Destination %q: %v", raw, err)
		case errors.Is(err, errNotFiles):
			return nil, errorf(http.StatusForbidden, "Destination %q is not a URL of files", raw)
		case errors.As(err, &he) && he.status < 500:
			return nil, errorf(http.StatusConflict, "Destination %q: %v", raw, err)
		}
		return nil, err
	}
	return dt, nil
}

// overwriteHeader parses the Overwrite header: true unless "F".
func overwriteHeader(r *http.Request) (bool, error) {
	switch v := strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))); v {
	case "", "T":
		return true, nil
	case "F":
		return false, nil
	}
	return false, errorf(http.StatusBadRequest, "Overwrite %q", r.Header.Get("Overwrite"))
}
