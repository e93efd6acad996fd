package server

import (
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
	raw := strings.TrimSpace(q.r.Header.Get("Destination"))
	if raw == "" {
		return errorf(http.StatusBadRequest, "%s without a Destination", q.r.Method)
	}
	dt, err := h.mapURL(q, raw)
	if err != nil {
		var he *httpError
		switch {
		case errors.Is(err, errOtherServer) || errors.Is(err, errNoRoute):
			return errorf(http.StatusBadGateway, "Destination %q is not on this server", raw)
		case errors.Is(err, errBadPath):
			return errorf(http.StatusBadRequest, "Destination %q: %v", raw, err)
		case errors.As(err, &he) && he.status < 500:
			return errorf(http.StatusConflict, "Destination %q: %v", raw, err)
		}
		return err
	}
	overwrite := true
	switch strings.ToUpper(strings.TrimSpace(q.r.Header.Get("Overwrite"))) {
	case "", "T":
	case "F":
		overwrite = false
	default:
		return errorf(http.StatusBadRequest, "Overwrite %q", q.r.Header.Get("Overwrite"))
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
