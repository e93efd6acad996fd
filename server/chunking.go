package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// Chunked uploads of the ownCloud and Nextcloud clients ("chunking NG", and
// the chunking v2 of Nextcloud 26, which adds a Destination header):
//
//	MKCOL     /remote.php/dav/uploads/{user}/{transfer}            OC-Total-Length: N
//	PUT       /remote.php/dav/uploads/{user}/{transfer}/{chunk}    OC-Chunk-Offset: O
//	PROPFIND  /remote.php/dav/uploads/{user}/{transfer}            what has arrived (to resume)
//	MOVE      /remote.php/dav/uploads/{user}/{transfer}/.file      Destination, OC-Total-Length,
//	                                                               X-OC-Mtime, OC-Checksum, If
//	DELETE    /remote.php/dav/uploads/{user}/{transfer}[/{chunk}]
//
// A transfer is a driver upload session (decomposedfs.InitiateUpload) whose
// id is derived from the user and the client's transfer name, so that any
// process finds it without an index. The chunks stream into the session as
// they arrive (decomposedfs.PutChunk): into the blob store's multipart
// upload, hashed on the way, never written to the metadata volume; the
// final MOVE names the file and commits it. A chunk's offset is its
// OC-Chunk-Offset header, or else its name (NG names chunks by their
// offset, zero-padded to 16 digits).
//
// Without a Destination at MKCOL (NG), the session is detached: its bytes
// go to the user's personal space (the uploads URL is the user's), and the
// MOVE may name any file there; a Destination in another space is 502, as
// for any MOVE between spaces. With one (v2), the session targets that
// file from the start, in its space.

const prefixOCUploads = "/remote.php/dav/uploads/"

// chunkName is the name of the file a chunked upload becomes, in the
// clients' URLs.
const chunkFinal = ".file"

// chunkNS names transfer session ids: a version-5 UUID of the user and the
// client's transfer name.
var chunkNS = uuid.MustParse("7f5d2a2e-0b1c-4a8e-9a57-2d0c0c1b6f1e")

func transferID(user, transfer string) string {
	return uuid.NewSHA1(chunkNS, []byte(user+"\x00"+transfer)).String()
}

// chunkReq is a request on the chunked uploads URLs.
type chunkReq struct {
	w        http.ResponseWriter
	r        *http.Request
	user     string
	groups   []string
	transfer string // "" for the user's uploads collection
	chunk    string // "" for the transfer's collection
	id       string // the session id of the transfer
	base     string // the escaped URL path of the transfer collection
}

// uploads serves the chunked uploads URLs.
func (h *Handler) uploads(w http.ResponseWriter, r *http.Request, escaped string) {
	segs, err := decodeSegments(strings.TrimPrefix(escaped, prefixOCUploads))
	if err != nil {
		h.writeError(w, r, &httpError{status: http.StatusBadRequest, err: err})
		return
	}
	if len(segs) == 0 || len(segs) > 3 {
		h.writeError(w, r, errorf(http.StatusNotFound, "no such upload URL"))
		return
	}
	user, groups, ok := h.authenticate(w, r, false)
	if !ok || h.writeRefused(w, r) {
		return
	}
	if segs[0] != user {
		h.writeError(w, r, errorf(http.StatusNotFound, "the uploads of another user"))
		return
	}
	r = r.WithContext(withUser(r.Context(), user, groups))
	c := &chunkReq{w: w, r: r, user: user, groups: groups, base: h.pathPrefix() + prefixOCUploads + escapeSegment(user)}
	if len(segs) > 1 {
		c.transfer = segs[1]
		c.id = transferID(user, c.transfer)
		c.base += "/" + escapeSegment(c.transfer)
	}
	if len(segs) > 2 {
		c.chunk = segs[2]
	}
	if err := h.ensurePersonal(r.Context(), user); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.chunkDispatch(c); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) chunkDispatch(c *chunkReq) error {
	m := c.r.Method
	switch {
	case m == http.MethodOptions:
		c.w.Header().Set("DAV", "1")
		c.w.Header().Set("Allow", "OPTIONS, MKCOL, PROPFIND, PUT, MOVE, DELETE")
		c.w.Header().Set("Content-Length", "0")
		c.w.WriteHeader(http.StatusOK)
		return nil
	case c.transfer == "":
		if m == "PROPFIND" {
			return h.chunkPropfind(c, nil)
		}
	case c.chunk == "":
		switch m {
		case "MKCOL":
			return h.chunkMkcol(c)
		case "PROPFIND":
			sess, err := h.transfer(c)
			if err != nil {
				return err
			}
			return h.chunkPropfind(c, sess)
		case http.MethodDelete:
			if _, err := h.transfer(c); err != nil {
				return err
			}
			if err := h.fs.AbortUpload(c.r.Context(), c.id); err != nil {
				return fail(err, opRead)
			}
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
	case c.chunk == chunkFinal:
		if m == "MOVE" {
			return h.chunkMove(c)
		}
	default:
		switch m {
		case http.MethodPut:
			return h.chunkPut(c)
		case http.MethodDelete:
			return h.chunkDelete(c)
		}
	}
	c.w.Header().Set("Allow", "OPTIONS, MKCOL, PROPFIND, PUT, MOVE, DELETE")
	return errorf(http.StatusMethodNotAllowed, "%s on a chunked upload URL", m)
}

// transfer reads the session of the request's transfer: 404 when there is
// none (or it expired). A finished transfer is gone for every method but
// the MOVE that finished it (which a client may send again).
func (h *Handler) transfer(c *chunkReq) (*decomposedfs.UploadSession, error) {
	sess, err := h.fs.GetUpload(c.r.Context(), c.id)
	if err != nil {
		return nil, fail(err, opRead)
	}
	if sess.Meta[metaChunking] == "" || sess.Done != "" && c.r.Method != "MOVE" {
		return nil, errorf(http.StatusNotFound, "no transfer %q", c.transfer)
	}
	return sess, nil
}

// metaChunking and metaTransfer are the session metadata of a chunked
// upload: the protocol ("ng", "v2" or "v1") and the client's transfer name.
const (
	metaChunking = "oc-chunking"
	metaTransfer = "oc-transfer"
)

// chunkMkcol starts a transfer. Its size is OC-Total-Length; without it,
// the session starts with the first chunk that carries one.
func (h *Handler) chunkMkcol(c *chunkReq) error {
	if hasBody(c.r) {
		return errorf(http.StatusUnsupportedMediaType, "MKCOL with a body")
	}
	size, ok, err := totalLength(c.r)
	if err != nil {
		return err
	}
	if !ok {
		// Nothing to reserve yet: the first chunk with OC-Total-Length
		// starts the session.
		c.w.Header().Set("Content-Length", "0")
		c.w.WriteHeader(http.StatusCreated)
		return nil
	}
	if _, err := h.startTransfer(c, size); err != nil {
		return err
	}
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// startTransfer creates the session of a transfer. An existing session of
// the same name that is finished gives way (clients reuse transfer names);
// an unfinished one makes the MKCOL 405, as for any existing collection.
func (h *Handler) startTransfer(c *chunkReq, size int64) (*decomposedfs.UploadSession, error) {
	ctx := c.r.Context()
	spec := decomposedfs.UploadSpec{
		ID: c.id, Size: size, User: c.user, TTL: h.opts.UploadTTL,
		Meta: map[string]string{metaChunking: "ng", metaTransfer: c.transfer},
	}
	if raw := strings.TrimSpace(c.r.Header.Get("Destination")); raw != "" {
		dt, err := h.destination(ctx, c.r, c.user)
		if err != nil {
			return nil, err
		}
		spec.Ref, spec.Meta[metaChunking] = dt.Ref(), "v2"
	} else {
		spec.Ref, spec.Detached = decomposedfs.Reference{SpaceID: decomposedfs.PersonalSpaceID(c.user)}, true
	}
	if v := c.r.Header.Get("X-OC-Mtime"); v != "" {
		mt, err := parseOCMtime(v)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "X-OC-Mtime %q", v)
		}
		spec.Mtime = mt
	}
	for range 2 {
		sess, err := h.fs.InitiateUpload(ctx, spec)
		if !errors.Is(err, decomposedfs.ErrExist) {
			if err != nil {
				return nil, fail(err, opCreate)
			}
			return sess, nil
		}
		old, gerr := h.fs.GetUpload(ctx, c.id)
		switch {
		case errors.Is(gerr, decomposedfs.ErrNotFound):
			// Expired (or ended meanwhile): its record goes.
		case gerr != nil:
			return nil, fail(gerr, opCreate)
		case old.Done == "":
			return nil, errorf(http.StatusMethodNotAllowed, "transfer %q exists", c.transfer)
		}
		if err := h.fs.AbortUpload(ctx, c.id); err != nil {
			return nil, fail(err, opCreate)
		}
	}
	return nil, errorf(http.StatusConflict, "transfer %q keeps being created", c.transfer)
}

// totalLength parses OC-Total-Length.
func totalLength(r *http.Request) (int64, bool, error) {
	v := strings.TrimSpace(r.Header.Get("OC-Total-Length"))
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, errorf(http.StatusBadRequest, "OC-Total-Length %q", v)
	}
	return n, true, nil
}

// chunkOffset is where a chunk belongs: OC-Chunk-Offset, or else its name,
// a decimal offset (NG), possibly followed by "-" and more (the
// "START-END" names of older clients).
func chunkOffset(r *http.Request, name string) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("OC-Chunk-Offset"))
	what := "OC-Chunk-Offset"
	if v == "" {
		v, _, _ = strings.Cut(name, "-")
		what = "chunk name"
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "%s %q: the chunk's offset must be a decimal number", what, v)
	}
	return n, nil
}

// chunkPut stores a chunk. Its length must be known (Content-Length).
func (h *Handler) chunkPut(c *chunkReq) error {
	r := c.r
	if r.ContentLength < 0 {
		return errorf(http.StatusLengthRequired, "a chunk needs a Content-Length")
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return errorf(http.StatusUnsupportedMediaType, "Content-Encoding %q", ce)
	}
	offset, err := chunkOffset(r, c.chunk)
	if err != nil {
		return err
	}
	sess, err := h.fs.GetUpload(r.Context(), c.id)
	if errors.Is(err, decomposedfs.ErrNotFound) {
		// A transfer whose MKCOL had no OC-Total-Length starts here.
		size, ok, terr := totalLength(r)
		if terr != nil {
			return terr
		}
		if !ok {
			return errorf(http.StatusNotFound, "no transfer %q: MKCOL it first, with OC-Total-Length", c.transfer)
		}
		sess, err = h.startTransfer(c, size)
	}
	if err != nil {
		return fail(err, opCreate)
	}
	if sess.Meta[metaChunking] == "" || sess.Done != "" {
		return errorf(http.StatusNotFound, "no transfer %q", c.transfer)
	}
	if size, ok, err := totalLength(r); err != nil {
		return err
	} else if ok && size != sess.Size {
		return errorf(http.StatusBadRequest, "OC-Total-Length %d, but the transfer was started for %d bytes", size, sess.Size)
	}
	if _, err := h.fs.PutChunk(r.Context(), c.id, offset, r.Body, r.ContentLength); err != nil {
		return failChunk(err)
	}
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// failChunk classifies a failed chunk: out of turn or in the way of
// another request is 409 (the client asks what has arrived and goes on
// from there), a chunk of the wrong length 400.
func failChunk(err error) error {
	switch {
	case errors.Is(err, decomposedfs.ErrUploadOffset), errors.Is(err, decomposedfs.ErrUploadBusy):
		return &httpError{status: http.StatusConflict, err: err}
	case errors.Is(err, decomposedfs.ErrPrecondition):
		return &httpError{status: http.StatusConflict, err: err} // the transfer is finished
	}
	return fail(err, opCreate)
}

// chunkDelete removes a chunk that waits for its turn. Bytes already taken
// into the file cannot be taken out again: such a chunk is 409 (the client
// may DELETE the whole transfer instead).
func (h *Handler) chunkDelete(c *chunkReq) error {
	sess, err := h.transfer(c)
	if err != nil {
		return err
	}
	offset, err := chunkOffset(c.r, c.chunk)
	if err != nil {
		return errorf(http.StatusNotFound, "no chunk %q", c.chunk)
	}
	removed, err := h.fs.DropParked(c.r.Context(), c.id, offset)
	if err != nil {
		return fail(err, opRead)
	}
	switch {
	case removed:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	case offset < sess.Offset:
		return errorf(http.StatusConflict, "the bytes at %d are part of the upload already", offset)
	}
	return errorf(http.StatusNotFound, "no chunk %q", c.chunk)
}
