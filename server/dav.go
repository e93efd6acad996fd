package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// davReq is a WebDAV request being served.
type davReq struct {
	w http.ResponseWriter
	r *http.Request
	// ctx is the request's context carrying the lock tokens of its If
	// header for the driver.
	ctx context.Context
	t   *Target
	// tokens are the lock tokens the If header names (not negated).
	tokens []string
}

type davMethod func(h *Handler, q *davReq) error

var davMethods = map[string]davMethod{
	http.MethodOptions: (*Handler).options,
	http.MethodGet:     (*Handler).get,
	http.MethodHead:    (*Handler).get,
	http.MethodPut:     (*Handler).put,
	http.MethodDelete:  (*Handler).delete,
	"MKCOL":            (*Handler).mkcol,
	"PROPFIND":         (*Handler).propfind,
	"PROPPATCH":        (*Handler).proppatch,
	"COPY":             (*Handler).copyMove,
	"MOVE":             (*Handler).copyMove,
	"LOCK":             (*Handler).lock,
	"UNLOCK":           (*Handler).unlock,
}

// dav serves a WebDAV request on its target.
func (h *Handler) dav(w http.ResponseWriter, r *http.Request, t *Target) {
	q := &davReq{w: w, r: r, ctx: r.Context(), t: t}
	err := h.dispatch(q)
	if err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) dispatch(q *davReq) error {
	r := q.r
	if !q.t.Space.Disabled.IsZero() && !readOnly(r.Method) {
		// Only its managers see a disabled space at all, and they see it
		// frozen until it is restored (or purged).
		return errorf(http.StatusForbidden, "space %s is disabled", q.t.Space.ID)
	}
	if r.Method != http.MethodOptions {
		if err := h.checkIf(q); err != nil {
			return err
		}
	}
	for _, ext := range h.opts.Extensions {
		if ext.Match(q.r) {
			ext.Serve(q.w, q.r, q.t)
			return nil
		}
	}
	m, ok := davMethods[r.Method]
	if !ok {
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			q.w.Header().Set("Allow", strings.Join(h.allow(q, nil), ", "))
			return errorf(http.StatusMethodNotAllowed, "%s not allowed here", r.Method)
		}
		return errorf(http.StatusNotImplemented, "unknown method %q", r.Method)
	}
	return m(h, q)
}

// checkIf evaluates the request's If header on its target (412 when no
// list matches) and hands the lock tokens it names to the driver.
func (h *Handler) checkIf(q *davReq) error {
	ifh, err := parseIf(q.r.Header.Get("If"))
	if err != nil {
		return errorf(http.StatusBadRequest, "If header: %v", err)
	}
	if ifh == nil {
		return nil
	}
	ok, err := h.evalIf(q, ifh)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusPreconditionFailed, "If header: no list matches")
	}
	q.tokens = ifh.tokens()
	q.ctx = decomposedfs.WithLockTokens(q.ctx, q.tokens...)
	q.r = q.r.WithContext(q.ctx)
	return nil
}

// options answers OPTIONS: the DAV classes and the methods the resource
// allows.
func (h *Handler) options(q *davReq) error {
	ri, err := h.fs.GetMD(q.ctx, q.t.Ref())
	if err != nil && !errors.Is(err, decomposedfs.ErrNotFound) {
		return fail(err, opRead)
	}
	h.writeOptionsHeaders(q.w, h.allow(q, ri))
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) writeOptionsHeaders(w http.ResponseWriter, allow []string) {
	hd := w.Header()
	hd.Set("DAV", "1, 2, 3")
	hd.Set("MS-Author-Via", "DAV")
	if allow == nil {
		allow = []string{"OPTIONS", "GET", "HEAD", "PUT", "DELETE", "MKCOL", "PROPFIND", "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK"}
	}
	hd.Set("Allow", strings.Join(allow, ", "))
	for _, ext := range h.opts.Extensions {
		ext.Advertise(hd)
	}
}

// allow lists the methods a resource allows (ri nil: it does not exist),
// as far as the user's permissions on it tell. (For an unmapped URL they
// would need a lookup of the folder; the methods that create are listed,
// and the driver decides.)
func (h *Handler) allow(q *davReq, ri *decomposedfs.ResourceInfo) []string {
	if q.t.User == "" || (ri != nil && !q.t.Space.Disabled.IsZero()) {
		if ri == nil {
			return []string{"OPTIONS"}
		}
		return []string{"OPTIONS", "GET", "HEAD", "PROPFIND"}
	}
	if ri == nil {
		return []string{"OPTIONS", "PUT", "MKCOL", "LOCK"}
	}
	p := ri.Permissions
	root := ri.ID == ri.SpaceID
	out := []string{"OPTIONS", "GET", "HEAD"}
	add := func(ok bool, methods ...string) {
		if ok {
			out = append(out, methods...)
		}
	}
	add(!ri.IsDir() && p.Has(decomposedfs.PermOverwrite), "PUT")
	add(!root && p.Has(decomposedfs.PermDelete), "DELETE")
	// PROPPATCH stays: a favourite needs no more than seeing the resource.
	out = append(out, "PROPFIND", "PROPPATCH", "COPY")
	add(!root && p.Has(decomposedfs.PermMove), "MOVE")
	add(p.Has(decomposedfs.PermLock), "LOCK", "UNLOCK")
	return out
}

// depth parses the Depth header: "0", "1" or "infinity" (-1); def when
// absent. Values outside allowed are 400.
func depth(r *http.Request, def int, allowed ...int) (int, error) {
	v := strings.TrimSpace(r.Header.Get("Depth"))
	d := def
	switch strings.ToLower(v) {
	case "":
	case "0":
		d = 0
	case "1":
		d = 1
	case "infinity":
		d = -1
	default:
		return 0, errorf(http.StatusBadRequest, "Depth %q", v)
	}
	for _, a := range allowed {
		if a == d {
			return d, nil
		}
	}
	return 0, errorf(http.StatusBadRequest, "Depth %q not allowed for %s", v, r.Method)
}

// hasBody reports whether a request carries a body, without consuming
// more than a byte of it.
func hasBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return false
	}
	if r.ContentLength > 0 {
		return true
	}
	var b [1]byte
	n, _ := r.Body.Read(b[:])
	return n > 0
}
