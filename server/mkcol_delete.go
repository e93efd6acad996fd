package server

import (
	"net/http"
)

// mkcol creates a collection: 201, 405 if the name is taken, 409 without
// a parent, 415 with a body (this server knows no MKCOL bodies).
func (h *Handler) mkcol(q *davReq) error {
	if hasBody(q.r) {
		return errorf(http.StatusUnsupportedMediaType, "MKCOL with a body")
	}
	if q.t.Path == "/" {
		return errorf(http.StatusMethodNotAllowed, "MKCOL on a space root")
	}
	if _, err := h.fs.CreateDir(q.ctx, q.t.Ref()); err != nil {
		return fail(err, opCreate)
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusCreated)
	return nil
}

// delete moves a resource, with everything below it, to the space's
// trash: 204.
func (h *Handler) delete(q *davReq) error {
	ri, err := h.fs.GetMD(q.ctx, q.t.Ref())
	if err != nil {
		return fail(err, opRead)
	}
	if ri.IsDir() {
		// RFC 4918, 9.6.1: DELETE on a collection is depth infinity.
		if _, err := depth(q.r, -1, -1); err != nil {
			return err
		}
	}
	if err := h.fs.Delete(q.ctx, q.t.Ref()); err != nil {
		return fail(err, opRead)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
