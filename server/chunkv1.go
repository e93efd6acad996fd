package server

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// ownCloud's first chunking protocol ("chunking v1"), which the clients
// use when a server advertises no newer one, and some older clients
// always:
//
//	PUT {folder}/{name}-chunking-{transfer}-{n}-{i}    OC-Chunked: 1
//	    OC-Total-Length, OC-Chunk-Size, X-OC-Mtime; OC-Checksum on the last
//
// Chunk i of n holds the bytes from i*OC-Chunk-Size on. The chunks of a
// transfer stream into one driver upload session for the file {name}
// (decomposedfs.PutChunk: in order, or parked until their turn, as the
// clients send several at once), and the request of the last chunk, which
// the clients send once all others are answered, commits the file and
// answers with its ETag: a chunk's answer without one tells the client
// that more chunks are expected. A chunk is never stored as a file of its
// own. A PUT without OC-Chunked is an ordinary PUT, whatever its name.

var chunkV1Name = regexp.MustCompile(`^(.+)-chunking-(\d+)-(\d+)-(\d+)$`)

// putChunkV1 stores one chunk of an ownCloud chunking v1 upload.
func (h *Handler) putChunkV1(q *davReq) error {
	r := q.r
	ppath, name := parent(q.t.Path), q.t.Path[strings.LastIndexByte(q.t.Path, '/')+1:]
	m := chunkV1Name.FindStringSubmatch(name)
	if m == nil {
		return errorf(http.StatusBadRequest, "OC-Chunked upload of %q: the name must end in -chunking-TRANSFER-COUNT-INDEX", name)
	}
	file, transfer := m[1], m[2]
	count, err1 := strconv.Atoi(m[3])
	index, err2 := strconv.Atoi(m[4])
	if err1 != nil || err2 != nil || count < 1 || index >= count {
		return errorf(http.StatusBadRequest, "OC-Chunked upload of %q: chunk %s of %s", name, m[4], m[3])
	}
	if r.ContentLength < 0 {
		return errorf(http.StatusLengthRequired, "a chunk needs a Content-Length")
	}
	total, ok, err := totalLength(r)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusBadRequest, "OC-Chunked upload of %q without OC-Total-Length", name)
	}
	// Where the chunk belongs: index times the chunk size; the last
	// chunk ends the file.
	var offset int64
	if v := strings.TrimSpace(r.Header.Get("OC-Chunk-Size")); v != "" {
		cs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || cs < 1 {
			return errorf(http.StatusBadRequest, "OC-Chunk-Size %q", v)
		}
		offset = int64(index) * cs
	} else if index == count-1 {
		offset = total - r.ContentLength
	} else {
		offset = int64(index) * r.ContentLength
	}
	if offset < 0 || offset+r.ContentLength > total || index == count-1 && offset+r.ContentLength != total {
		return errorf(http.StatusBadRequest, "chunk %d of %d (%d bytes at %d) does not fit a file of %d bytes", index, count, r.ContentLength, offset, total)
	}
	ref := q.t.ref(strings.TrimSuffix(ppath, "/") + "/" + file)
	mtime := strings.TrimSpace(r.Header.Get("X-OC-Mtime"))
	var mt decomposedfs.FinishOptions
	if mtime != "" {
		if mt.Mtime, err = parseOCMtime(mtime); err != nil {
			return errorf(http.StatusBadRequest, "X-OC-Mtime %q", mtime)
		}
	}
	// The session's id names the transfer, the file and its version
	// (size, mtime), so that a later upload of the same name never finds
	// this one.
	id := transferID(q.t.User, strings.Join([]string{"v1", q.t.Space.ID, ref.Path, transfer, m[3], strconv.FormatInt(total, 10), mtime}, "\x00"))
	sess, err := h.fs.GetUpload(q.ctx, id)
	if errors.Is(err, decomposedfs.ErrNotFound) {
		spec := decomposedfs.UploadSpec{
			ID: id, Ref: ref, Size: total, User: q.t.User, Mtime: mt.Mtime, TTL: h.opts.UploadTTL,
			Meta: map[string]string{metaChunking: "v1", metaTransfer: transfer},
		}
		if v := strings.TrimSpace(r.Header.Get("If-Match")); v != "" && !strings.Contains(v, ",") {
			spec.IfMatch = v // checked now, and when the file is committed
		}
		sess, err = h.fs.InitiateUpload(q.ctx, spec)
		if errors.Is(err, decomposedfs.ErrExist) {
			sess, err = h.fs.GetUpload(q.ctx, id) // another chunk started it
		}
	}
	if err != nil {
		return fail(err, opCreate)
	}
	if sess.Done == "" {
		if _, err := h.fs.PutChunk(q.ctx, id, offset, r.Body, r.ContentLength); err != nil {
			return failChunk(err)
		}
		if sess, err = h.fs.GetUpload(q.ctx, id); err != nil {
			return fail(err, opCreate)
		}
	}
	hd := q.w.Header()
	hd.Set("Content-Length", "0")
	if index != count-1 {
		// No entity tag: the client sends the next chunks.
		q.w.WriteHeader(http.StatusCreated)
		return nil
	}
	if v := strings.TrimSpace(r.Header.Get("OC-Checksum")); v != "" {
		if mt.Checksum, err = decomposedfs.ParseChecksum(v); err != nil {
			return fail(err, opCreate)
		}
	}
	if v := strings.TrimSpace(r.Header.Get("If-Match")); v != "" && !strings.Contains(v, ",") {
		mt.IfMatch = v
	}
	_, err = h.fs.GetMD(q.ctx, ref)
	existed := err == nil
	ri, err := h.fs.FinishUploadWith(q.ctx, id, mt)
	if errors.Is(err, decomposedfs.ErrPrecondition) && mt.IfMatch == "" {
		// Chunks are missing: answer without an entity tag, and the
		// client tries again.
		h.log.WarnContext(q.ctx, "last chunk of an incomplete chunked upload", "upload", id, "err", err)
		q.w.WriteHeader(http.StatusCreated)
		return nil
	}
	if err != nil {
		return fail(err, opCreate)
	}
	h.fileHeaders(q.ctx, hd, q.t, ri, mtime != "")
	if existed {
		q.w.WriteHeader(http.StatusNoContent)
	} else {
		q.w.WriteHeader(http.StatusCreated)
	}
	return nil
}
