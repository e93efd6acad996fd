package server

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// get answers GET and HEAD. Files go through http.ServeContent, which
// does the conditional headers (If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, If-Range) and ranges (multi-range too). The content
// of a plain GET or of one range is opened before the headers go out, so
// that a blob store that is down answers 503, not a 200 cut short; other
// requests open it lazily, at the first read after a seek, for exactly the
// range being served. A folder gets a small HTML listing.
func (h *Handler) get(q *davReq) error {
	ri, err := h.fs.GetMD(q.ctx, q.t.Ref())
	if err != nil {
		return fail(err, opRead)
	}
	hd := q.w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	// User content is served from the API's origin: whatever it is, it
	// must not run scripts there.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	if ri.IsDir() {
		return h.listing(q, ri)
	}
	if !ri.Permissions.Has(decomposedfs.PermDownload) {
		// The driver would refuse the content too, but only once the
		// response has begun.
		return fail(decomposedfs.ErrPermissionDenied, opRead)
	}
	hd.Set("ETag", ri.Etag)
	hd["OC-ETag"] = []string{ri.Etag}
	hd["OC-FileId"] = []string{ri.SpaceID + "!" + ri.ID}
	hd.Set("Content-Type", ri.MimeType)
	if ri.Checksums.SHA1 != "" {
		hd["OC-Checksum"] = []string{"SHA1:" + ri.Checksums.SHA1}
	}
	ref := decomposedfs.Reference{SpaceID: ri.SpaceID, NodeID: ri.ID}
	c := &lazyContent{
		ctx: q.ctx,
		open: func(ctx context.Context, offset, length int64) (io.ReadCloser, string, error) {
			rc, ri, err := h.fs.Download(ctx, ref, offset, length)
			if err != nil {
				return nil, "", err
			}
			return rc, ri.Etag, nil
		},
		etag:    ri.Etag,
		size:    ri.Size,
		lengths: rangeLengths(q.r.Header.Get("Range"), ri.Size),
	}
	defer c.Close()
	if err := c.preopen(q.r); err != nil {
		// The blob store is down (503), or the content is gone: say so
		// with a status, not with a 200 cut off after the headers.
		return fail(err, opRead)
	}
	http.ServeContent(q.w, q.r, ri.Name, ri.Mtime, c)
	if c.err != nil {
		setLogErr(q.ctx, c.err)
	}
	return nil
}

// errChanged: the file was replaced between the metadata read and the
// content read; the response is cut off rather than mixing versions.
var errChanged = errors.New("server: file changed while it was read")

// lazyContent is the io.ReadSeeker that ServeContent reads: seeks only
// move the offset; the first read after a seek opens the blob at that
// offset, for the length of the range that starts there if the Range
// header named one, so a range request never downloads the whole file.
type lazyContent struct {
	ctx context.Context
	// open opens length bytes from offset (-1: to the end) and returns
	// the etag of what it opened.
	open    func(ctx context.Context, offset, length int64) (io.ReadCloser, string, error)
	etag    string
	size    int64
	lengths map[int64]int64 // range start -> length

	pos  int64
	rc   io.ReadCloser
	rcAt int64 // the offset rc reads from next
	err  error
}

// preopen opens the content before ServeContent writes the headers, where
// it is clear what will be read: a GET of the whole file or of one range,
// without the conditional headers that could answer 304 or 412 and read
// nothing. An error then becomes a status (503 for an unavailable blob
// store) instead of a 200 cut off after the headers. Other requests stay
// lazy.
func (c *lazyContent) preopen(r *http.Request) error {
	if r.Method != http.MethodGet || c.size == 0 {
		return nil
	}
	for _, h := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if r.Header.Get(h) != "" {
			return nil
		}
	}
	start, length := int64(0), int64(-1)
	if r.Header.Get("Range") != "" {
		if len(c.lengths) != 1 {
			return nil // several ranges, or one ServeContent will judge
		}
		for s, l := range c.lengths {
			start, length = s, l
		}
	}
	rc, etag, err := c.open(c.ctx, start, length)
	if err == nil && etag != c.etag {
		rc.Close()
		return errorf(http.StatusServiceUnavailable, "%w", errChanged) // replaced since GetMD: try again
	}
	if err != nil {
		return err
	}
	c.rc, c.rcAt = rc, start
	return nil
}

func (c *lazyContent) Seek(offset int64, whence int) (int64, error) {
	var p int64
	switch whence {
	case io.SeekStart:
		p = offset
	case io.SeekCurrent:
		p = c.pos + offset
	case io.SeekEnd:
		p = c.size + offset
	default:
		return 0, fmt.Errorf("server: bad whence %d", whence)
	}
	if p < 0 {
		return 0, errors.New("server: seek before start")
	}
	c.pos = p // an open rc elsewhere is closed by the next Read
	return p, nil
}

func (c *lazyContent) Read(p []byte) (int, error) {
	if c.pos >= c.size {
		return 0, io.EOF
	}
	if c.rc != nil && c.rcAt != c.pos {
		c.rc.Close()
		c.rc = nil
	}
	if c.rc == nil {
		length, ok := c.lengths[c.pos]
		if !ok {
			length = -1
		}
		rc, etag, err := c.open(c.ctx, c.pos, length)
		if err == nil && etag != c.etag {
			rc.Close()
			err = errChanged
		}
		if err != nil {
			c.err = err
			return 0, err
		}
		c.rc, c.rcAt = rc, c.pos
	}
	n, err := c.rc.Read(p)
	c.pos += int64(n)
	c.rcAt = c.pos
	if err == io.EOF && c.pos < c.size {
		// This range is done; a later read continues with a new one.
		c.rc.Close()
		c.rc = nil
		err = nil
		if n == 0 {
			return c.Read(p)
		}
	}
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

func (c *lazyContent) Close() error {
	if c.rc != nil {
		c.rc.Close()
		c.rc = nil
	}
	return nil
}

// rangeLengths maps the start of each range of a Range header to its
// length. Anything it cannot parse is left to ServeContent.
func rangeLengths(h string, size int64) map[int64]int64 {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || size == 0 {
		return nil
	}
	out := map[int64]int64{}
	for r := range strings.SplitSeq(spec, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(r), "-")
		if !ok {
			return nil
		}
		var start, end int64
		if a == "" {
			n, err := strconv.ParseInt(b, 10, 64)
			if err != nil || n <= 0 {
				return nil
			}
			start, end = max(size-n, 0), size-1
		} else {
			s, err := strconv.ParseInt(a, 10, 64)
			if err != nil || s < 0 {
				return nil
			}
			start, end = s, size-1
			if b != "" {
				e, err := strconv.ParseInt(b, 10, 64)
				if err != nil || e < s {
					return nil
				}
				end = min(e, size-1)
			}
		}
		if start < size {
			// Two ranges with one start: read the longer one.
			out[start] = max(out[start], end-start+1)
		}
	}
	return out
}

// listing answers GET on a folder with a plain HTML list of its children.
func (h *Handler) listing(q *davReq, ri *decomposedfs.ResourceInfo) error {
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if q.r.Method == http.MethodHead {
		q.w.WriteHeader(http.StatusOK)
		return nil
	}
	l, err := h.fs.ListFolder(q.ctx, decomposedfs.Reference{SpaceID: ri.SpaceID, NodeID: ri.ID})
	if err != nil {
		return fail(err, opRead)
	}
	var b strings.Builder
	title := html.EscapeString(q.t.Space.Name + ri.Path)
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body>\n<h1>" + title + "</h1>\n<ul>\n")
	if ri.Path != "/" {
		b.WriteString(`<li><a href="` + html.EscapeString(q.t.Href(parent(ri.Path), true)) + `">..</a></li>` + "\n")
	}
	for _, c := range l.Children {
		name := c.Name
		if c.IsDir() {
			name += "/"
		}
		b.WriteString(`<li><a href="` + html.EscapeString(q.t.Href(c.Path, c.IsDir())) + `">` + html.EscapeString(name) + "</a></li>\n")
	}
	b.WriteString("</ul>\n</body></html>\n")
	q.w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	q.w.WriteHeader(http.StatusOK)
	_, err = io.WriteString(q.w, b.String())
	return err
}
