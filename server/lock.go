package server

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// lockReq is a parsed DAV:lockinfo.
type lockReq struct {
	shared bool
	owner  string // the owner element's inner XML, kept verbatim
}

func parseLockInfo(body []byte) (*lockReq, error) {
	root, err := parseXML(body)
	if err != nil {
		return nil, err
	}
	if !root.is(nsDAV, "lockinfo") {
		return nil, errorf(http.StatusBadRequest, "LOCK body is not DAV:lockinfo")
	}
	lr := &lockReq{}
	scope := root.child(nsDAV, "lockscope")
	switch {
	case scope == nil:
		return nil, errorf(http.StatusBadRequest, "lockinfo without lockscope")
	case scope.child(nsDAV, "shared") != nil:
		lr.shared = true
	case scope.child(nsDAV, "exclusive") == nil:
		return nil, errorf(http.StatusBadRequest, "unknown lock scope")
	}
	typ := root.child(nsDAV, "locktype")
	if typ == nil || typ.child(nsDAV, "write") == nil {
		return nil, errorf(http.StatusBadRequest, "only write locks are supported")
	}
	if o := root.child(nsDAV, "owner"); o != nil {
		lr.owner = innerXML(o)
	}
	return lr, nil
}

// parseTimeout parses the Timeout header (RFC 4918, 10.7): the first value
// this server understands, "Infinite" being the longest lock it grants.
// Zero means none given (the driver's default).
func parseTimeout(h string) time.Duration {
	for v := range strings.SplitSeq(h, ",") {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "Infinite") {
			return decomposedfs.MaxLockTimeout
		}
		if s, ok := strings.CutPrefix(v, "Second-"); ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err == nil && n > 0 {
				return time.Duration(min(n, int64(decomposedfs.MaxLockTimeout/time.Second))) * time.Second
			}
		}
	}
	return 0
}

// lock answers LOCK: a new lock with a lockinfo body, a refresh without
// one (the lock named by a token in the If header). Locking an unmapped URL
// creates an empty file (201).
func (h *Handler) lock(q *davReq) error {
	body, err := readXMLBody(q.r, h.opts.MaxXMLBody)
	if err != nil {
		return err
	}
	timeout := parseTimeout(q.r.Header.Get("Timeout"))
	if len(body) == 0 {
		return h.refreshLock(q, timeout)
	}
	lr, err := parseLockInfo(body)
	if err != nil {
		return err
	}
	d, err := depth(q.r, -1, 0, -1)
	if err != nil {
		return err
	}
	isDir := false
	ri, err := h.fs.GetMD(q.ctx, q.t.Ref())
	switch {
	case err == nil:
		isDir = ri.IsDir()
	case errors.Is(err, decomposedfs.ErrNotFound) && q.t.Path != "/":
		// An unmapped URL: the lock creates an empty file (Create).
	default:
		return fail(err, opRead)
	}
	li, err := h.fs.Lock(q.ctx, q.t.Ref(), decomposedfs.LockOptions{
		User: q.t.User, Owner: lr.owner, Shared: lr.shared, Deep: d == -1, Timeout: timeout, Create: true,
	})
	if err != nil {
		switch {
		case errors.Is(err, decomposedfs.ErrLocked):
			return condError(http.StatusLocked, "no-conflicting-lock", "%v", err)
		case errors.Is(err, decomposedfs.ErrTooLarge):
			// The request's owner element is longer than a lock keeps.
			return &httpError{status: http.StatusRequestEntityTooLarge, err: err}
		case errors.Is(err, decomposedfs.ErrNotFound) || errors.Is(err, decomposedfs.ErrNotDir):
			return fail(err, opCreate)
		}
		return fail(err, opRead)
	}
	status := http.StatusOK
	if li.Created {
		status = http.StatusCreated
	}
	q.w.Header().Set("Lock-Token", "<"+li.Token+">")
	return writeLock(q, li, isDir, status)
}

func (h *Handler) refreshLock(q *davReq, timeout time.Duration) error {
	if len(q.tokens) == 0 {
		return errorf(http.StatusBadRequest, "LOCK without a body refreshes, and needs a lock token in the If header")
	}
	for _, tok := range q.tokens {
		li, err := h.fs.RefreshLock(q.ctx, q.t.Ref(), tok, timeout)
		if errors.Is(err, decomposedfs.ErrNoSuchLock) {
			continue
		}
		if err != nil {
			return fail(err, opRead)
		}
		// The lock's root, not the request-URI, decides the trailing slash.
		return writeLock(q, li, li.Deep || (li.Path != q.t.Path), http.StatusOK)
	}
	return condError(http.StatusPreconditionFailed, "lock-token-matches-request-uri", "no lock of the If header covers the resource")
}

func writeLock(q *davReq, li *decomposedfs.LockInfo, rootIsDir bool, status int) error {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<d:prop xmlns:d="DAV:"><d:lockdiscovery>`)
	writeActiveLock(&b, li, q.t, rootIsDir)
	b.WriteString("</d:lockdiscovery></d:prop>\n")
	q.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	q.w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	q.w.WriteHeader(status)
	_, err := q.w.Write(b.Bytes())
	return err
}

// unlock answers UNLOCK: 204, or 409 when the Lock-Token names no lock
// that covers the resource.
func (h *Handler) unlock(q *davReq) error {
	v := strings.TrimSpace(q.r.Header.Get("Lock-Token"))
	if len(v) < 3 || v[0] != '<' || v[len(v)-1] != '>' {
		return errorf(http.StatusBadRequest, "Lock-Token %q", v)
	}
	err := h.fs.Unlock(q.ctx, q.t.Ref(), v[1:len(v)-1])
	if errors.Is(err, decomposedfs.ErrNoSuchLock) {
		return condError(http.StatusConflict, "lock-token-matches-request-uri", "%v", err)
	}
	if err != nil {
		return fail(err, opRead)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
