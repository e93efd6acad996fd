package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// put stores a file's content: the body streams into the driver's Upload
// (straight to the blob store, hashed on the way), which commits the node
// only when the whole body arrived and matched the declared length and the
// OC-Checksum, if any. A failed or interrupted upload stores nothing.
func (h *Handler) put(q *davReq) error {
	r := q.r
	if q.t.Path == "/" {
		return errorf(http.StatusMethodNotAllowed, "PUT on a space root")
	}
	if _, chunked := r.Header["Oc-Chunked"]; chunked {
		return h.putChunkV1(q) // a chunk, never a file of its own
	}
	if r.Header.Get("Content-Range") != "" {
		// RFC 9110, 14.5: a partial PUT must not be taken for a whole one.
		return errorf(http.StatusBadRequest, "PUT with Content-Range")
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return errorf(http.StatusUnsupportedMediaType, "Content-Encoding %q", ce)
	}
	opts := decomposedfs.UploadOptions{Size: r.ContentLength}
	if opts.Size < 0 {
		opts.Size = -1
	}
	if v := r.Header.Get("X-OC-Mtime"); v != "" {
		mt, err := parseOCMtime(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "X-OC-Mtime %q", v)
		}
		opts.Mtime = mt
	}
	if v := r.Header.Get("OC-Checksum"); v != "" {
		c, err := decomposedfs.ParseChecksum(strings.TrimSpace(v))
		if err != nil {
			return fail(err, opCreate)
		}
		opts.Checksum = c
	}
	if v := strings.TrimSpace(r.Header.Get("If-Match")); v != "" {
		if strings.Contains(v, ",") {
			return errorf(http.StatusBadRequest, "If-Match with several entity tags is not supported")
		}
		opts.IfMatch = v
	}
	existing, err := h.fs.GetMD(q.ctx, q.t.Ref())
	switch {
	case err == nil && existing.IsDir():
		return errorf(http.StatusMethodNotAllowed, "PUT on a collection")
	case err != nil && !errors.Is(err, decomposedfs.ErrNotFound):
		return fail(err, opCreate)
	}
	if v := strings.TrimSpace(r.Header.Get("If-None-Match")); v != "" {
		if v == "*" {
			opts.CreateOnly = true
		} else if existing != nil && etagListMatch(v, existing.Etag) {
			return errorf(http.StatusPreconditionFailed, "If-None-Match matches")
		}
	}
	ri, err := h.fs.Upload(q.ctx, q.t.Ref(), r.Body, opts)
	if err != nil {
		return fail(err, opCreate)
	}
	hd := q.w.Header()
	h.fileHeaders(q.ctx, hd, q.t, ri, !opts.Mtime.IsZero())
	hd.Set("Content-Length", "0")
	if existing == nil {
		q.w.WriteHeader(http.StatusCreated)
	} else {
		q.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// parseOCMtime parses ownCloud's X-OC-Mtime: Unix seconds, possibly with
// a fraction.
func parseOCMtime(v string) (time.Time, error) {
	sec, frac, _ := strings.Cut(strings.TrimSpace(v), ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, errors.New("bad mtime")
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, errors.New("bad mtime")
		}
		ns = int64(f)
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
	}
	return time.Unix(s, ns), nil
}

// etagListMatch reports whether a comma-separated list of entity tags
// names etag (weak comparison).
func etagListMatch(list, etag string) bool {
	for e := range strings.SplitSeq(list, ",") {
		if e = strings.TrimSpace(e); e == "*" || etagMatch(e, etag) {
			return true
		}
	}
	return false
}
