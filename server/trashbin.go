package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// The trash bin, ownCloud's way (oCIS spells the URLs so):
//
//	/dav/spaces/trash-bin/{space id}/                the trash of a space
//	/dav/trash-bin/{user}/                           the trash of the user's personal space
//	.../{item id}                                    a trash item (what one DELETE trashed)
//	.../{item id}/{path}                             something inside a trashed folder
//
// PROPFIND lists (Depth 0 or 1), MOVE restores to its Destination, DELETE
// of an item purges it and DELETE of the trash bin empties it. Every
// /dav/ URL has its /remote.php/dav/ alias.

// trashReq is a request to a trash bin.
type trashReq struct {
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	user  string
	space *decomposedfs.SpaceInfo
	base  string // escaped URL path of the trash bin, without a trailing slash
	item  string // "" for the trash bin itself
	rel   string // path inside the item: "" for the item itself, else "/a/b"
}

// trashEntry is one response of a trash-bin PROPFIND: the trash bin
// itself (item nil), a trash item (ri nil) or something inside one.
type trashEntry struct {
	item *decomposedfs.TrashItem
	ri   *decomposedfs.ResourceInfo
	rel  string
}

func (e *trashEntry) isDir() bool {
	switch {
	case e.item == nil:
		return true
	case e.ri != nil:
		return e.ri.IsDir()
	}
	return e.item.Type == decomposedfs.TypeDir
}

func (e *trashEntry) name() string {
	if e.ri != nil {
		return e.ri.Name
	}
	return e.item.Name
}

// originalLocation is where the entry was, relative to the space root
// (as ownCloud writes it: no leading slash); "" when the folder it was in
// is gone too.
func (e *trashEntry) originalLocation() string {
	if e.item.OriginalPath == "" {
		return ""
	}
	return strings.TrimPrefix(e.item.OriginalPath+e.rel, "/")
}

var trashProps = []entryProp[*trashEntry]{
	{propName{nsDAV, "resourcetype"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.isDir() {
			b.WriteString("<d:collection/>")
		}
		return true
	}},
	{propName{nsDAV, "getcontentlength"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.isDir() {
			return false
		}
		writeInt(b, e.size())
		return true
	}},
	{propName{nsDAV, "getlastmodified"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil {
			return false
		}
		t := e.item.Deleted
		if e.ri != nil {
			t = e.ri.Mtime
		}
		b.Write(t.UTC().AppendFormat(b.AvailableBuffer(), http.TimeFormat))
		return true
	}},
	{propName{nsDAV, "getetag"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.ri == nil {
			return false
		}
		escapeText(b, e.ri.Etag)
		return true
	}},
	{propName{nsDAV, "displayname"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil {
			return false
		}
		escapeText(b, e.name())
		return true
	}},
	{propName{nsOC, "size"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil {
			return false
		}
		writeInt(b, e.size())
		return true
	}},
	{propName{nsOC, "trashbin-original-filename"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil {
			return false
		}
		escapeText(b, e.name())
		return true
	}},
	{propName{nsOC, "trashbin-original-location"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil || e.originalLocation() == "" {
			return false
		}
		escapeText(b, e.originalLocation())
		return true
	}},
	{propName{nsOC, "trashbin-delete-timestamp"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil {
			return false
		}
		writeInt(b, e.item.Deleted.Unix())
		return true
	}},
	{propName{nsOC, "trashbin-delete-datetime"}, func(e *trashEntry, b *bytes.Buffer) bool {
		if e.item == nil {
			return false
		}
		b.Write(e.item.Deleted.UTC().AppendFormat(b.AvailableBuffer(), http.TimeFormat))
		return true
	}},
	{propName{nsOC, "checksums"}, func(e *trashEntry, b *bytes.Buffer) bool {
		return e.ri != nil && !e.ri.IsDir() && writeChecksums(b, e.ri.Checksums)
	}},
}

func (e *trashEntry) size() int64 {
	if e.ri != nil {
		return e.ri.Size
	}
	return e.item.Size
}

// trashBin serves a request to a trash bin.
func (h *Handler) trashBin(w http.ResponseWriter, r *http.Request, rt route, user string) {
	if err := h.serveTrash(w, r, rt, user); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) serveTrash(w http.ResponseWriter, r *http.Request, rt route, user string) error {
	if user == "" {
		return errorf(http.StatusUnauthorized, "the trash bin needs a user")
	}
	ctx := r.Context()
	var sid string
	switch rt.kind {
	case routeTrashUser:
		if rt.name != user {
			return errHidden
		}
		if err := h.ensurePersonal(ctx, user); err != nil {
			return err
		}
		sid = decomposedfs.PersonalSpaceID(user)
	default:
		sid = strings.ToLower(rt.name)
	}
	si, err := h.fs.GetSpace(ctx, sid)
	switch {
	case errors.Is(err, decomposedfs.ErrNotFound) || errors.Is(err, decomposedfs.ErrInvalidRef):
		return errHidden
	case err != nil:
		return err
	}
	q := &trashReq{w: w, r: r, user: user, space: si, base: rt.base}
	if item, rest, _ := strings.Cut(strings.TrimPrefix(rt.path, "/"), "/"); item != "" {
		q.item = item
		if rest != "" {
			q.rel = "/" + rest
		}
	}
	if !si.Disabled.IsZero() && !readOnly(r.Method) {
		return errorf(http.StatusForbidden, "space %s is disabled", si.ID)
	}
	if q.r, err = submitTokens(r); err != nil {
		return err
	}
	q.ctx = q.r.Context()
	allow := []string{"OPTIONS", "PROPFIND", "DELETE"}
	if q.item != "" {
		allow = append(allow, "MOVE")
	}
	switch r.Method {
	case http.MethodOptions:
		return answerOptions(w, allow)
	case "PROPFIND":
		return h.trashPropfind(q)
	case "MOVE":
		if q.item == "" {
			return methodNotAllowed(w, r.Method, allow)
		}
		return h.trashRestore(q)
	case http.MethodDelete:
		return h.trashPurge(q)
	}
	return methodNotAllowed(w, r.Method, allow)
}

// href is the URL path of something in the trash bin.
func (q *trashReq) href(item, rel string, dir bool) string {
	if item == "" {
		return q.base + "/"
	}
	return hrefOf(q.base, "/"+item+rel, dir)
}

// stat finds the entry the request names, or ErrNotFound. The driver has
// no lookup of one trash item, so an item is found in the listing of the
// whole trash; a path inside one, in the listing of its folder.
func (h *Handler) trashStat(q *trashReq) (*trashEntry, error) {
	items, err := h.fs.ListTrash(q.ctx, q.space.ID)
	if err != nil {
		return nil, err
	}
	var item *decomposedfs.TrashItem
	for i := range items {
		if items[i].ID == q.item {
			item = &items[i]
			break
		}
	}
	if item == nil {
		return nil, decomposedfs.ErrNotFound
	}
	if q.rel == "" {
		return &trashEntry{item: item}, nil
	}
	l, err := h.fs.ListTrashFolder(q.ctx, q.space.ID, q.item, parent(q.rel))
	if err != nil {
		return nil, err
	}
	name := q.rel[strings.LastIndexByte(q.rel, '/')+1:]
	for _, c := range l.Children {
		if c.Name == name {
			return &trashEntry{item: item, ri: c, rel: q.rel}, nil
		}
	}
	return nil, decomposedfs.ErrNotFound
}

// trashPropfind lists the trash bin (Depth 1: its items), an item or a
// folder inside one (Depth 1: its children).
func (h *Handler) trashPropfind(q *trashReq) error {
	d, pf, err := h.readPropfind(q.r)
	if err != nil {
		return err
	}
	var entries []*trashEntry
	if q.item == "" {
		if d == -1 {
			return errTooDeep // a trash bin is listed one level at a time
		}
		entries = append(entries, &trashEntry{})
		if d == 1 {
			items, err := h.fs.ListTrash(q.ctx, q.space.ID)
			if err != nil {
				return fail(err, opRead)
			}
			for i := range items {
				entries = append(entries, &trashEntry{item: &items[i]})
			}
		}
	} else {
		e, err := h.trashStat(q)
		if err != nil {
			return fail(err, opRead)
		}
		if d == -1 && e.isDir() {
			return errTooDeep
		}
		entries = append(entries, e)
		if d == 1 && e.isDir() {
			l, err := h.fs.ListTrashFolder(q.ctx, q.space.ID, q.item, q.rel)
			if err != nil {
				return fail(err, opRead)
			}
			if len(l.Problems) > 0 {
				h.log.WarnContext(q.ctx, "trash listing left out unreadable children; run s3dfs check",
					"item", q.item, "path", q.rel, "count", len(l.Problems), "err", l.Problems[0].Err)
			}
			for _, c := range l.Children {
				entries = append(entries, &trashEntry{item: e.item, ri: c, rel: q.rel + "/" + c.Name})
			}
		}
	}
	ms := newMSWriter(q.w)
	for _, e := range entries {
		item := ""
		if e.item != nil {
			item = e.item.ID
		}
		if err := writeEntry(ms, q.href(item, e.rel, e.isDir()), pf, trashProps, e); err != nil {
			return err
		}
	}
	return ms.close()
}

// trashRestore answers MOVE of a trash item (or of something inside a
// trashed folder): it goes back to the Destination, which must be in the
// same space. Overwrite as for MOVE: "F" and a taken name is 412, "T"
// sends what has the name to the trash. 201, or 204 when something was
// replaced; 409 when the Destination's folder does not exist.
func (h *Handler) trashRestore(q *trashReq) error {
	dt, err := h.destination(q.ctx, q.r, q.user)
	if err != nil {
		return err
	}
	overwrite, err := overwriteHeader(q.r)
	if err != nil {
		return err
	}
	if _, err := h.trashStat(q); err != nil {
		return fail(err, opRead)
	}
	if dt.Path == "/" {
		return errorf(http.StatusForbidden, "MOVE onto a space root")
	}
	if !dt.Space.Disabled.IsZero() {
		return errorf(http.StatusForbidden, "space %s is disabled", dt.Space.ID)
	}
	_, err = h.fs.GetMD(q.ctx, dt.Ref())
	existed := err == nil
	switch {
	case existed && !overwrite:
		return errorf(http.StatusPreconditionFailed, "Destination exists and Overwrite is F")
	case err != nil && !errors.Is(err, decomposedfs.ErrNotFound) && !errors.Is(err, decomposedfs.ErrNotDir):
		return fail(err, opDest)
	}
	ref := dt.Ref()
	_, err = h.fs.RestoreTrash(q.ctx, q.space.ID, q.item, decomposedfs.RestoreOptions{Path: q.rel, Target: &ref, Overwrite: overwrite})
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

// trashPurge answers DELETE: of the trash bin, it empties it; of an item,
// it purges the item (its blobs and revisions go too). Something inside a
// trashed folder cannot be purged alone (403).
func (h *Handler) trashPurge(q *trashReq) error {
	switch {
	case q.item == "":
		if _, err := h.fs.EmptyTrash(q.ctx, q.space.ID); err != nil {
			return fail(err, opRead)
		}
	case q.rel != "":
		if _, err := h.trashStat(q); err != nil {
			return fail(err, opRead)
		}
		return errorf(http.StatusForbidden, "only whole trash items can be purged")
	default:
		if err := h.fs.PurgeTrash(q.ctx, q.space.ID, q.item); err != nil {
			return fail(err, opRead)
		}
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
