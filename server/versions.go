package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// The versions of a file, ownCloud's way, by file id (oc:fileid,
// "{space id}!{node id}"):
//
//	/dav/meta/{file id}/                 the file's metadata collection
//	/dav/meta/{file id}/v/               its earlier contents (PROPFIND)
//	/dav/meta/{file id}/v/{revision}     one of them: GET, HEAD, COPY, DELETE
//
// COPY of a revision onto the file's own URL restores it (the current
// content becomes a revision itself); DELETE deletes it. Every /dav/ URL
// has its /remote.php/dav/ alias.

// metaReq is a request to a metadata collection.
type metaReq struct {
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	user string
	file *decomposedfs.ResourceInfo
	// frozen: the file's space is disabled.
	frozen bool
	base   string // escaped URL path of the metadata collection, without a trailing slash
	// level: 0 the metadata collection, 1 the versions collection, 2 a
	// revision (rev).
	level int
	rev   string
}

func (q *metaReq) ref() decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: q.file.SpaceID, NodeID: q.file.ID}
}

// metaEntry is one response of a PROPFIND: a collection (rev nil) or a
// revision of the file.
type metaEntry struct {
	file  *decomposedfs.ResourceInfo
	level int
	rev   *decomposedfs.RevisionInfo
}

var metaProps = []entryProp[*metaEntry]{
	{propName{nsDAV, "resourcetype"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.rev == nil {
			b.WriteString("<d:collection/>")
		}
		return true
	}},
	{propName{nsDAV, "getcontentlength"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.rev == nil {
			return false
		}
		writeInt(b, e.rev.Size)
		return true
	}},
	{propName{nsDAV, "getlastmodified"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.rev == nil {
			return false
		}
		b.Write(e.rev.Mtime.UTC().AppendFormat(b.AvailableBuffer(), http.TimeFormat))
		return true
	}},
	{propName{nsDAV, "getetag"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.rev == nil {
			return false
		}
		escapeText(b, e.rev.Etag)
		return true
	}},
	{propName{nsDAV, "getcontenttype"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.rev == nil {
			return false
		}
		escapeText(b, e.file.MimeType)
		return true
	}},
	{propName{nsOC, "size"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.rev == nil {
			return false
		}
		writeInt(b, e.rev.Size)
		return true
	}},
	{propName{nsOC, "checksums"}, func(e *metaEntry, b *bytes.Buffer) bool {
		return e.rev != nil && writeChecksums(b, e.rev.Checksums)
	}},
	{propName{nsOC, "fileid"}, func(e *metaEntry, b *bytes.Buffer) bool {
		b.WriteString(e.file.FileID())
		return true
	}},
	// Where the file is, in its space (ownCloud: in the user's home).
	{propName{nsOC, "meta-path-for-user"}, func(e *metaEntry, b *bytes.Buffer) bool {
		if e.level != 0 {
			return false
		}
		escapeText(b, e.file.Path)
		return true
	}},
}

// parseFileID splits ownCloud's file id, "{space id}!{node id}"; oCIS
// prefixes a storage id ("{storage}${space id}!{node id}"), which is
// accepted and ignored.
func parseFileID(s string) (sid, nid string, ok bool) {
	if _, rest, found := strings.Cut(s, "$"); found {
		s = rest
	}
	sid, nid, found := strings.Cut(strings.ToLower(s), "!")
	if !found || !isID(sid) || !isID(nid) {
		return "", "", false
	}
	return sid, nid, true
}

// meta serves a request to a metadata collection.
func (h *Handler) meta(w http.ResponseWriter, r *http.Request, rt route, user string) {
	if err := h.serveMeta(w, r, rt, user); err != nil {
		h.writeError(w, r, err)
	}
}

var errNoMeta = &httpError{status: http.StatusNotFound, err: errors.New("no such metadata collection")}

func (h *Handler) serveMeta(w http.ResponseWriter, r *http.Request, rt route, user string) error {
	if user == "" {
		return errorf(http.StatusUnauthorized, "versions need a user")
	}
	sid, nid, ok := parseFileID(rt.name)
	if !ok {
		return errNoMeta
	}
	ctx := r.Context()
	file, err := h.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: sid, NodeID: nid})
	switch {
	case errors.Is(err, decomposedfs.ErrNotFound) || errors.Is(err, decomposedfs.ErrInvalidRef):
		return errNoMeta
	case err != nil:
		return fail(err, opRead)
	}
	// The file id goes into hrefs as it came, '!' and '$' unescaped (both
	// are allowed in a path segment, and clients split on them).
	base := rt.base
	if strings.Trim(rt.name, "0123456789abcdefABCDEF-!$") == "" {
		base = strings.TrimSuffix(rt.base, escapeSegment(rt.name)) + rt.name
	}
	q := &metaReq{w: w, r: r, user: user, file: file, base: base}
	// A disabled space is frozen for its managers, and invisible to the
	// others (whom GetMD refused already).
	if si, err := h.fs.GetSpace(ctx, sid); err == nil && !si.Disabled.IsZero() {
		q.frozen = true
	}
	segs := strings.Split(strings.Trim(rt.path, "/"), "/")
	switch {
	case rt.path == "/":
	case segs[0] == "v" && len(segs) <= 2 && !file.IsDir():
		q.level = len(segs)
		if q.level == 2 {
			q.rev = segs[1]
		}
	default:
		return errNoMeta // folders keep no versions
	}
	if q.frozen && !readOnly(r.Method) {
		return errorf(http.StatusForbidden, "space %s is disabled", sid)
	}
	if q.r, err = submitTokens(r); err != nil {
		return err
	}
	q.ctx = q.r.Context()
	allow := []string{"OPTIONS", "PROPFIND"}
	if q.level == 2 {
		allow = []string{"OPTIONS", "GET", "HEAD", "PROPFIND", "COPY", "DELETE"}
	}
	switch r.Method {
	case http.MethodOptions:
		return answerOptions(w, allow)
	case "PROPFIND":
		return h.metaPropfind(q)
	case http.MethodGet, http.MethodHead:
		if q.level == 2 {
			return h.revisionGet(q)
		}
	case "COPY":
		if q.level == 2 {
			return h.revisionRestore(q)
		}
	case http.MethodDelete:
		if q.level == 2 {
			if err := h.fs.DeleteRevision(q.ctx, q.ref(), q.rev); err != nil {
				return fail(err, opRead)
			}
			q.w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return methodNotAllowed(w, r.Method, allow)
}

// href is the URL path of a level of the collection.
func (q *metaReq) href(level int, rev string) string {
	switch level {
	case 0:
		return q.base + "/"
	case 1:
		return q.base + "/v/"
	}
	return q.base + "/v/" + escapeSegment(rev)
}

// revision finds a revision of the file.
func (h *Handler) revision(q *metaReq) (*decomposedfs.RevisionInfo, error) {
	revs, err := h.fs.ListRevisions(q.ctx, q.ref())
	if err != nil {
		return nil, err
	}
	for i := range revs {
		if revs[i].ID == q.rev {
			return &revs[i], nil
		}
	}
	return nil, decomposedfs.ErrNotFound
}

// metaPropfind lists the metadata collection (Depth 1: the versions
// collection), the versions collection (Depth 1 or infinity: the
// revisions, oldest first) or one revision.
func (h *Handler) metaPropfind(q *metaReq) error {
	d, pf, err := h.readPropfind(q.r)
	if err != nil {
		return err
	}
	var entries []*metaEntry
	if q.level == 2 {
		rev, err := h.revision(q)
		if err != nil {
			return fail(err, opRead)
		}
		entries = append(entries, &metaEntry{file: q.file, level: 2, rev: rev})
	} else {
		entries = append(entries, &metaEntry{file: q.file, level: q.level})
		if q.level == 0 && d != 0 && !q.file.IsDir() {
			entries = append(entries, &metaEntry{file: q.file, level: 1})
		}
		if q.level == 1 && d != 0 || q.level == 0 && d == -1 && !q.file.IsDir() {
			revs, err := h.fs.ListRevisions(q.ctx, q.ref())
			if err != nil {
				return fail(err, opRead)
			}
			for i := range revs {
				entries = append(entries, &metaEntry{file: q.file, level: 2, rev: &revs[i]})
			}
		}
	}
	ms := newMSWriter(q.w)
	for _, e := range entries {
		rev := ""
		if e.rev != nil {
			rev = e.rev.ID
		}
		if err := writeEntry(ms, q.href(e.level, rev), pf, metaProps, e); err != nil {
			return err
		}
	}
	return ms.close()
}

// revisionGet answers GET and HEAD of a revision, with ranges and
// conditional headers as for a file.
func (h *Handler) revisionGet(q *metaReq) error {
	rev, err := h.revision(q)
	if err != nil {
		return fail(err, opRead)
	}
	if !q.file.Permissions.Has(decomposedfs.PermDownload) {
		return fail(decomposedfs.ErrPermissionDenied, opRead)
	}
	hd := q.w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	hd.Set("ETag", rev.Etag)
	hd.Set("Content-Type", q.file.MimeType)
	hd["OC-FileId"] = []string{q.file.FileID()}
	if rev.Checksums.SHA1 != "" {
		hd["OC-Checksum"] = []string{"SHA1:" + rev.Checksums.SHA1}
	}
	ref, id := q.ref(), rev.ID
	c := &lazyContent{
		ctx: q.ctx,
		open: func(ctx context.Context, offset, length int64) (io.ReadCloser, string, error) {
			rc, ri, err := h.fs.DownloadRevision(ctx, ref, id, offset, length)
			if err != nil {
				return nil, "", err
			}
			return rc, ri.Etag, nil
		},
		etag:    rev.Etag,
		size:    rev.Size,
		lengths: rangeLengths(q.r.Header.Get("Range"), rev.Size),
	}
	defer c.Close()
	http.ServeContent(q.w, q.r, q.file.Name, rev.Mtime, c)
	if c.err != nil {
		setLogErr(q.ctx, c.err)
	}
	return nil
}

// revisionRestore answers COPY of a revision: onto the file's own URL
// (any of its aliases), it restores the revision, 204. Another
// Destination is 403: a revision is restored, not copied elsewhere.
func (h *Handler) revisionRestore(q *metaReq) error {
	dt, err := h.destination(q.ctx, q.r, q.user)
	if err != nil {
		return err
	}
	overwrite, err := overwriteHeader(q.r)
	if err != nil {
		return err
	}
	if _, err := h.revision(q); err != nil {
		return fail(err, opRead)
	}
	target, err := h.fs.GetMD(q.ctx, dt.Ref())
	if err != nil && !errors.Is(err, decomposedfs.ErrNotFound) && !errors.Is(err, decomposedfs.ErrNotDir) {
		return fail(err, opDest)
	}
	if err != nil || target.SpaceID != q.file.SpaceID || target.ID != q.file.ID {
		return errorf(http.StatusForbidden, "a revision is restored by COPY onto its own file")
	}
	if !overwrite {
		return errorf(http.StatusPreconditionFailed, "the file exists and Overwrite is F")
	}
	if _, err := h.fs.RestoreRevision(q.ctx, q.ref(), q.rev); err != nil {
		return fail(err, opRead)
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
