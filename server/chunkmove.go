package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// The end of a chunked upload (MOVE .file) and what a transfer lists to a
// client that resumes it; see chunking.go.

// chunkMove finishes a transfer: its content becomes the Destination's.
func (h *Handler) chunkMove(c *chunkReq) error {
	ctx := c.r.Context()
	sess, err := h.transfer(c)
	if err != nil {
		return err
	}
	dt, err := h.destination(ctx, c.r, c.user)
	if err != nil {
		return err
	}
	dt.Groups = c.groups
	if dt.Path == "/" {
		return errorf(http.StatusForbidden, "MOVE onto a space root")
	}
	fo := decomposedfs.FinishOptions{Ref: dt.Ref()}
	overwrite, err := overwriteHeader(c.r)
	if err != nil {
		return err
	}
	fo.CreateOnly = !overwrite
	if size, ok, err := totalLength(c.r); err != nil {
		return err
	} else if ok && size != sess.Size {
		return errorf(http.StatusBadRequest, "OC-Total-Length %d, but the transfer holds a file of %d bytes", size, sess.Size)
	}
	if v := c.r.Header.Get("X-OC-Mtime"); v != "" {
		if fo.Mtime, err = parseOCMtime(v); err != nil {
			return errorf(http.StatusBadRequest, "X-OC-Mtime %q", v)
		}
	}
	if v := strings.TrimSpace(c.r.Header.Get("OC-Checksum")); v != "" {
		if fo.Checksum, err = decomposedfs.ParseChecksum(v); err != nil {
			return fail(err, opCreate)
		}
	}
	if v := strings.TrimSpace(c.r.Header.Get("If-Match")); v != "" {
		if strings.Contains(v, ",") {
			return errorf(http.StatusBadRequest, "If-Match with several entity tags is not supported")
		}
		fo.IfMatch = v
	}
	// The If header names the destination (NG sends "<dest> ([etag])"):
	// it is evaluated as for a MOVE onto dt, and its lock tokens count.
	q := &davReq{w: c.w, r: c.r, ctx: ctx, t: dt}
	if err := h.checkIf(q); err != nil {
		return err
	}
	if fo.IfMatch == "" {
		// ... and an etag it names for the destination alone is checked
		// again when the file is committed, atomically.
		fo.IfMatch = h.ifEtagOf(q, dt)
	}
	if sess.Done == "" {
		if have := sess.Offset + parkedAt(sess); have < sess.Size {
			return errorf(http.StatusBadRequest, "the chunks of transfer %q hold %d of its %d bytes", c.transfer, have, sess.Size)
		}
	}
	existing, err := h.fs.GetMD(q.ctx, dt.Ref())
	existed := err == nil
	if err != nil && !errors.Is(err, decomposedfs.ErrNotFound) {
		return fail(err, opDest)
	}
	if existed && existing.IsDir() {
		return errorf(http.StatusConflict, "Destination is a folder")
	}
	if existed && !overwrite && sess.Done == "" {
		return errorf(http.StatusPreconditionFailed, "Destination exists and Overwrite is F")
	}
	ri, err := h.fs.FinishUploadWith(q.ctx, c.id, fo)
	if err != nil {
		if errors.Is(err, decomposedfs.ErrPrecondition) && fo.IfMatch == "" && !fo.CreateOnly {
			return errorf(http.StatusBadRequest, "transfer %q is incomplete: %v", c.transfer, err)
		}
		return fail(err, opDest)
	}
	h.fileHeaders(q.ctx, c.w.Header(), dt, ri, !fo.Mtime.IsZero())
	c.w.Header().Set("Content-Length", "0")
	if existed {
		c.w.WriteHeader(http.StatusNoContent)
	} else {
		c.w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// parkedAt sums the parked chunks that would close the gap after the
// session's offset, in order: what the session holds beyond its offset.
func parkedAt(sess *decomposedfs.UploadSession) int64 {
	end := sess.Offset
	for _, p := range sess.Parked { // sorted by offset
		if p.Offset > end {
			break
		}
		end = max(end, p.Offset+p.Size)
	}
	return end - sess.Offset
}

// chunkPropfind lists what a transfer has: the bytes it holds from the
// start as one chunk named by NG's convention (its offset, 0, in 16
// digits) and each parked chunk by its offset, so that a client resumes
// after the bytes the server has. Without a session it lists the user's
// uploads collection alone.
func (h *Handler) chunkPropfind(c *chunkReq, sess *decomposedfs.UploadSession) error {
	d, err := depth(c.r, 1, 0, 1)
	if err != nil {
		return err
	}
	body, err := readXMLBody(c.r, h.opts.MaxXMLBody)
	if err != nil {
		return err
	}
	if _, err := parsePropfind(body); err != nil {
		return err
	}
	m := newMSWriter(c.w)
	now := time.Now()
	m.chunkEntry(c.base+"/", true, 0, now)
	if sess != nil && d == 1 {
		if sess.Offset > 0 {
			m.chunkEntry(c.base+"/"+chunkLabel(0), false, sess.Offset, now)
		}
		for _, p := range sess.Parked {
			m.chunkEntry(c.base+"/"+chunkLabel(p.Offset), false, p.Size, now)
		}
	}
	return m.close()
}

func chunkLabel(offset int64) string {
	return fmt.Sprintf("%016d", offset)
}

// chunkEntry writes the response of a transfer or one of its chunks.
func (m *msWriter) chunkEntry(href string, dir bool, size int64, mtime time.Time) error {
	b := m.begin(href)
	b.WriteString("<d:propstat><d:prop>")
	if dir {
		b.WriteString("<d:resourcetype><d:collection/></d:resourcetype>")
	} else {
		b.WriteString("<d:resourcetype/><d:getcontentlength>")
		b.WriteString(strconv.FormatInt(size, 10))
		b.WriteString("</d:getcontentlength>")
	}
	b.WriteString("<d:getlastmodified>")
	b.WriteString(mtime.UTC().Format(http.TimeFormat))
	b.WriteString("</d:getlastmodified></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>")
	return m.end()
}

// ifEtagOf returns the entity tag that an If header demands of t when it
// has no other way to be met: a single list of a single, not negated,
// entity tag, tagged with t's URL or untagged. Else "".
func (h *Handler) ifEtagOf(q *davReq, t *Target) string {
	ifh, err := parseIf(q.r.Header.Get("If"))
	if err != nil || ifh == nil || len(ifh.lists) != 1 {
		return ""
	}
	l := ifh.lists[0]
	if len(l.conds) != 1 || l.conds[0].not || l.conds[0].etag == "" {
		return ""
	}
	if l.tag != "" {
		lt, err := h.mapURL(q.ctx, q.r.Host, t.User, l.tag)
		if err != nil || lt.Space.ID != t.Space.ID || lt.Path != t.Path {
			return ""
		}
	}
	return strings.TrimPrefix(l.conds[0].etag, "W/")
}
