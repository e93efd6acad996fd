package tus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/tus/tusd/v2/pkg/handler"
)

// store is tusd's data store over the driver's resumable uploads: a TUS
// upload is a decomposedfs upload session, its id the session's id.
type store struct {
	fs             *decomposedfs.FS
	ttl            time.Duration
	finishStranded bool // see Options.FinishStranded
	log            *slog.Logger
	perms          func(context.Context, *decomposedfs.ResourceInfo) string // see Options.Permissions
}

var (
	_ handler.DataStore           = (*store)(nil)
	_ handler.TerminaterDataStore = (*store)(nil)
	_ handler.Upload              = (*upload)(nil)
	_ handler.TerminatableUpload  = (*upload)(nil)
)

var errNoUser = handler.NewError("ERR_FORBIDDEN", "creating an upload needs an authenticated user", http.StatusForbidden)

// NewUpload starts a session for the file named by the metadata's
// filename in the request's folder.
func (s *store) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	rq := requestFrom(ctx)
	if rq.user == "" {
		return nil, errNoUser
	}
	spec, err := uploadSpec(rq, info)
	if err != nil {
		return nil, err
	}
	spec.TTL = s.ttl
	sess, err := s.fs.InitiateUpload(ctx, spec)
	if err != nil {
		return nil, s.tusError(ctx, err)
	}
	rq.expires(sess)
	rq.header.Set("Location", rq.location+sess.ID)
	return &upload{s: s, sess: sess}, nil
}

// uploadSpec turns a creation request into the driver's terms. The
// filename may be a path below the folder ("docs/a.txt", or "/docs/a.txt"
// as the ownCloud client sends it, relative to the URL it POSTs to); its
// folders must exist.
func uploadSpec(rq *request, info handler.FileInfo) (decomposedfs.UploadSpec, error) {
	meta := info.MetaData
	rel, err := checkPath(meta["filename"])
	if err != nil {
		return decomposedfs.UploadSpec{}, err
	}
	folder := decomposedfs.Reference{SpaceID: decomposedfs.PersonalSpaceID(rq.user)}
	if rq.folder != nil {
		folder = *rq.folder
	}
	ref := folder
	ref.Path = strings.TrimSuffix(folder.Path, "/") + "/" + rel
	spec := decomposedfs.UploadSpec{Ref: ref, Size: info.Size, User: rq.user, Meta: meta, IfMatch: rq.ifMatch}
	if strings.Contains(rq.ifMatch, ",") {
		return spec, handler.NewError("ERR_PRECONDITION", "If-Match with several entity tags is not supported", http.StatusBadRequest)
	}
	if meta["mtime"] == "" && rq.ocMtime != "" {
		// The ownCloud client's way: the X-OC-Mtime header.
		if meta == nil {
			meta = map[string]string{}
		}
		meta["mtime"] = rq.ocMtime
		spec.Meta = meta
	}
	if v := meta["mtime"]; v != "" {
		mt, err := parseMtime(v)
		if err != nil {
			return spec, badRequest("ERR_INVALID_MTIME", "metadata mtime %q: want Unix seconds", v)
		}
		spec.Mtime = mt
	}
	if v := meta["checksum"]; v != "" {
		// ownCloud sends "SHA1 <hex>"; OC-Checksum style "SHA1:<hex>" too.
		typ, val, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok {
			typ, val, _ = strings.Cut(v, ":")
		}
		c, err := decomposedfs.ParseChecksum(typ + ":" + strings.TrimSpace(val))
		if err != nil {
			return spec, badRequest("ERR_INVALID_CHECKSUM", "metadata checksum %q: %v", v, err)
		}
		spec.Checksum = c
	}
	return spec, nil
}

// checkPath splits a filename into its names, refusing any that would not
// name a single entry, and returns them joined by '/'. One leading '/' is
// allowed (the path is relative to the folder all the same); empty
// segments are not.
func checkPath(name string) (string, error) {
	rel := strings.TrimPrefix(name, "/")
	if rel == "" {
		return "", checkName(rel)
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if err := checkName(seg); err != nil {
			if seg == "" {
				return "", badRequest("ERR_INVALID_FILENAME", "invalid filename %q: an empty path segment", name)
			}
			return "", err
		}
	}
	return rel, nil
}

// checkName refuses names that would not name a single new entry. The
// driver checks the rest of its rules (length, for one) when the upload is
// created.
func checkName(name string) error {
	switch {
	case name == "":
		return badRequest("ERR_INVALID_FILENAME", "the metadata has no filename")
	case name == "." || name == "..",
		strings.ContainsAny(name, "/\\\x00"), // '\' too: the WebDAV routes refuse it in URLs
		!utf8.ValidString(name):
		return badRequest("ERR_INVALID_FILENAME", "invalid filename %q", name)
	}
	return nil
}

// parseMtime parses Unix seconds, possibly with a fraction.
func parseMtime(v string) (time.Time, error) {
	sec, frac, _ := strings.Cut(strings.TrimSpace(v), ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, errors.New("bad mtime")
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		f, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, errors.New("bad mtime")
		}
		ns = int64(f)
	}
	return time.Unix(s, ns), nil
}

// GetUpload finds an upload of the request's user. Someone else's upload
// is not found, exactly as one that does not exist. A stranded upload is
// committed here (Options.FinishStranded).
func (s *store) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	rq := requestFrom(ctx)
	sess, err := s.fs.GetUpload(ctx, id)
	if err != nil {
		return nil, s.tusError(ctx, err)
	}
	if rq.user == "" || sess.User != rq.user || !isTUS(sess) {
		return nil, handler.ErrNotFound
	}
	rq.expires(sess)
	u := &upload{s: s, sess: sess}
	if s.finishStranded && sess.Offset == sess.Size && rq.method != http.MethodDelete {
		// Busy: someone else commits it right now (most likely the
		// request whose bytes completed it, between its last byte and
		// its commit), so it is not stranded; it answers as it stands.
		if err := u.finish(ctx, false); err != nil && !errors.Is(err, decomposedfs.ErrUploadBusy) {
			return nil, s.tusError(ctx, err)
		}
	}
	return u, nil
}

// owned checks that the request's user owns the upload, and returns it.
func (s *store) owned(ctx context.Context, id string) (*decomposedfs.UploadSession, error) {
	sess, err := s.fs.GetUpload(ctx, id)
	if err != nil {
		return nil, s.tusError(ctx, err)
	}
	if rq := requestFrom(ctx); rq.user == "" || sess.User != rq.user || !isTUS(sess) {
		return nil, handler.ErrNotFound
	}
	return sess, nil
}

// isTUS reports whether a session was created by TUS (it has a filename):
// the sessions of other protocols (the clients' chunked uploads) are not
// TUS uploads, even for their owner.
func isTUS(sess *decomposedfs.UploadSession) bool {
	return sess.Meta["filename"] != ""
}

// AsTerminatableUpload implements handler.TerminaterDataStore.
func (s *store) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return u.(*upload)
}

// upload is one session as one request sees it.
type upload struct {
	s        *store
	sess     *decomposedfs.UploadSession
	finished bool
}

func (u *upload) GetInfo(context.Context) (handler.FileInfo, error) {
	return handler.FileInfo{ID: u.sess.ID, Size: u.sess.Size, Offset: u.sess.Offset, MetaData: u.sess.Meta}, nil
}

// WriteChunk appends the request's body. tusd has checked the offset
// against GetInfo; the driver checks it again, atomically, so that of two
// requests racing (in different processes) one gets 409.
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	rq := requestFrom(ctx)
	n, err := u.s.fs.WriteUpload(ctx, u.sess.ID, offset, &chunkReader{r: src, body: rq.body}, rq.chunk)
	written := n - offset
	if written < 0 || errors.Is(err, decomposedfs.ErrUploadOffset) {
		written = 0 // n is where someone else's chunk left the upload
	}
	u.sess.Offset = offset + written
	if err != nil {
		if errors.Is(err, decomposedfs.ErrChecksumMismatch) && rq.body.broken() {
			// The chunk is short because its body broke, not wrong:
			// tusd answers with what happened to the body.
			return 0, nil
		}
		return written, u.s.tusError(ctx, err)
	}
	return written, nil
}

// GetReader is not supported: until it is finished, an upload's bytes
// are multipart parts that cannot be read back, and then it is a file,
// served by WebDAV.
func (u *upload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

// FinishUpload commits the file.
func (u *upload) FinishUpload(ctx context.Context) error {
	if u.finished {
		return nil
	}
	if err := u.finish(ctx, true); err != nil {
		return u.s.tusError(ctx, err)
	}
	return nil
}

// finish commits the upload and puts the file's headers on the response.
// With wait, an upload that another request or process is committing
// right now (it took the upload for stranded, between this request's last
// byte and this commit) is waited for: that commit is of the bytes this
// request stored, so the answer is the same as if this one had made it.
// The other commit holds a lease that it renews, so the wait ends with it,
// or when the lease of a process that died expires and the commit here
// takes over; or when ctx ends. Without wait, ErrUploadBusy is returned.
func (u *upload) finish(ctx context.Context, wait bool) error {
	rq := requestFrom(ctx)
	// The driver aborts an upload whose assembly fails, so a client that
	// hangs up right after its last byte must not cancel this.
	ri, err := u.s.fs.FinishUpload(context.WithoutCancel(ctx), u.sess.ID)
	for pause := 20 * time.Millisecond; wait && errors.Is(err, decomposedfs.ErrUploadBusy); pause = min(2*pause, time.Second) {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting for the commit under way: %w)", err, ctx.Err())
		case <-t.C:
		}
		ri, err = u.s.fs.FinishUpload(context.WithoutCancel(ctx), u.sess.ID)
	}
	if err != nil {
		return err
	}
	u.finished = true
	u.sess.Offset = u.sess.Size
	hd := rq.header
	hd.Del("Upload-Expires")
	hd.Set("ETag", ri.Etag)
	hd.Set("OC-ETag", ri.Etag)
	hd.Set("OC-FileId", ri.SpaceID+"!"+ri.ID)
	if u.sess.Meta["mtime"] != "" {
		hd.Set("X-OC-MTime", "accepted")
	}
	if ri.Checksums.SHA1 != "" {
		hd.Set("OC-Checksum", "SHA1:"+ri.Checksums.SHA1)
	}
	if u.s.perms != nil {
		hd.Set("OC-Perm", u.s.perms(ctx, ri))
	}
	return nil
}

// Terminate discards the upload and what it stored.
func (u *upload) Terminate(ctx context.Context) error {
	if err := u.s.fs.AbortUpload(ctx, u.sess.ID); err != nil {
		return u.s.tusError(ctx, err)
	}
	return nil
}

// expires announces the session's expiry (the expiration extension).
func (rq *request) expires(sess *decomposedfs.UploadSession) {
	rq.header.Set("Upload-Expires", sess.Expires.UTC().Format(http.TimeFormat))
}

func badRequest(code, format string, args ...any) error {
	return handler.NewError(code, fmt.Sprintf(format, args...), http.StatusBadRequest)
}
