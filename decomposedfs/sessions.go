package decomposedfs

import (
	"bytes"
	"cmp"
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// Resumable upload errors.
var (
	// ErrUploadOffset: a chunk did not start where the upload stands (the
	// client must ask for the current offset and resume from there).
	ErrUploadOffset = errors.New("decomposedfs: upload offset mismatch")
	// ErrNotSupported: the blob store cannot do what was asked (resumable
	// uploads need a blobstore.Multiparter).
	ErrNotSupported = errors.New("decomposedfs: not supported by this blob store")
	// ErrUploadBusy: another request (in this or another process) is
	// writing or finishing the upload right now.
	ErrUploadBusy = errors.New("decomposedfs: upload busy")
	// ErrUploadExpired: the upload ran out of time. It is an ErrNotFound.
	ErrUploadExpired = fmt.Errorf("decomposedfs: upload expired: %w", ErrNotFound)
)

// uploadLease is how long a writer or finisher holds an upload without
// renewing its lease; holders renew it every third of that while they work.
// A holder that died blocks the upload for at most this long, and not at
// all for processes on its own host, which can see that it is gone.
const uploadLease = 30 * time.Second

// leaseToken names a lease holder: a random token, and the host and
// process holding it.
func leaseToken() string {
	return fmt.Sprintf("%s@%s/%d", uuid.NewString(), hostname, os.Getpid())
}

var hostname, _ = os.Hostname()

// leaseLive reports whether a lease still binds others: unexpired, and not
// held by a process of this host that has died.
func leaseLive(holder string, until, now int64) bool {
	if holder == "" || until <= now {
		return false
	}
	_, where, ok := strings.Cut(holder, "@")
	if !ok {
		return true
	}
	host, pidText, ok := strings.Cut(where, "/")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || host != hostname || pid == os.Getpid() {
		return true
	}
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

// heartbeat renews a lease every third of its length until stop is called.
func (fs *FS) heartbeat(id, token string, finisher bool) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(uploadLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fs.meta.UpdateUpload(context.Background(), id, func(cur *metadata.Upload) error {
					until := time.Now().UnixNano() + int64(uploadLease)
					switch {
					case finisher && cur.Finisher == token:
						cur.FinisherUntil = until
					case !finisher && cur.Writer == token:
						cur.WriterUntil = until
					default:
						return errNotHeld
					}
					return nil
				})
			}
		}
	}()
	return func() { close(done) }
}

// DefaultUploadTTL is how long a resumable upload may stay incomplete.
const DefaultUploadTTL = 24 * time.Hour

// UploadSpec describes a resumable upload to start.
type UploadSpec struct {
	// ID is the session's id; empty: a new random one. A caller that maps
	// a client's own name for an upload to an id (a UUID derived from it)
	// gets ErrExist when a session with that id exists already.
	ID   string
	Ref  Reference // the file to create, or to give new content
	Size int64     // the total length, known up front
	// Detached starts an upload whose file is named only when it finishes
	// (FinishUploadWith's Ref): Ref names just the space that receives the
	// content, and the user must be allowed to create files at its root.
	Detached bool
	// Mtime, Checksum (of the whole content) and MimeType as for Upload.
	Mtime    time.Time
	Checksum *Checksum
	MimeType string
	// IfMatch, if set, is the etag (or "*") the file must have when the
	// upload starts and still when it finishes (ErrPrecondition).
	IfMatch string
	User    string            // who uploads
	Meta    map[string]string // the client's metadata, kept with the session
	TTL     time.Duration     // 0: DefaultUploadTTL
}

// UploadSession describes a resumable upload.
type UploadSession struct {
	ID       string
	SpaceID  string
	ParentID string // a detached upload's: the space root
	Name     string // a detached upload's: a placeholder
	User     string
	Size     int64
	Offset   int64
	Expires  time.Time
	Meta     map[string]string
	// Detached: the file is named when the upload finishes.
	Detached bool
	// Parked are the chunks kept aside until the bytes before them
	// arrive (PutChunk), by offset.
	Parked []ChunkInfo
	// Done is the id of the file the upload became, once finished.
	Done string
}

// ChunkInfo describes a chunk of an upload: Size bytes from Offset on.
type ChunkInfo struct {
	Offset, Size int64
}

func sessionOf(u *metadata.Upload) *UploadSession {
	s := &UploadSession{ID: u.ID, SpaceID: u.SpaceID, ParentID: u.ParentID, Name: u.Name, User: u.User,
		Size: u.Size, Offset: u.Offset, Expires: time.Unix(0, u.Expires), Meta: u.Meta, Detached: u.Detached, Done: u.Done}
	for _, c := range u.Parked {
		s.Parked = append(s.Parked, ChunkInfo{Offset: c.Offset, Size: c.Size})
	}
	slices.SortFunc(s.Parked, func(a, b ChunkInfo) int { return cmp.Compare(a.Offset, b.Offset) })
	return s
}

func (fs *FS) multiparter() (blobstore.Multiparter, error) {
	mp, ok := fs.blobs.(blobstore.Multiparter)
	if !ok {
		return nil, fmt.Errorf("%w: resumable uploads", ErrNotSupported)
	}
	return mp, nil
}

// InitiateUpload starts a resumable upload. Its state lives in the metadata
// store and its bytes in the blob store, so any process sharing both can
// continue it, also after a restart. Content goes to the blob store in
// parts as it arrives, hashed on the way; only the bytes after the last
// full part wait, as small blobs, for the next chunk.
func (fs *FS) InitiateUpload(ctx context.Context, spec UploadSpec) (*UploadSession, error) {
	mp, err := fs.multiparter()
	if err != nil {
		return nil, err
	}
	if spec.Size < 0 {
		return nil, fmt.Errorf("decomposedfs: a resumable upload needs its size up front, not %d", spec.Size)
	}
	if spec.Checksum != nil {
		if err := spec.Checksum.validate(); err != nil {
			return nil, err
		}
	}
	id := spec.ID
	if id == "" {
		id = uuid.NewString()
	} else if err := metadata.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%w: upload id %q", ErrInvalidRef, id)
	}
	var parent *metadata.Node
	var name string
	nodeID := uuid.NewString()
	if spec.Detached {
		// The target is named at the end, where permissions and locks
		// are checked; the content's space is known now.
		if parent, err = fs.detachedParent(ctx, spec.Ref.SpaceID); err != nil {
			return nil, err
		}
		name = ".upload-" + id
	} else if parent, nodeID, name, err = fs.uploadTarget(ctx, spec.Ref); err != nil {
		return nil, err
	}
	sid := parent.SpaceID
	ttl := spec.TTL
	if ttl <= 0 {
		ttl = DefaultUploadTTL
	}
	now := cache.NextTime()
	u := &metadata.Upload{
		ID: id, SpaceID: sid, ParentID: parent.ID, Name: name, NodeID: nodeID, User: spec.User,
		Size: spec.Size, MimeType: spec.MimeType, Meta: spec.Meta, Created: now, Expires: now + int64(ttl),
		BlobID: uuid.NewString(), PartSize: partSize(mp.MinPartSize(), spec.Size), Detached: spec.Detached,
	}
	if !spec.Mtime.IsZero() {
		u.Mtime = spec.Mtime.UnixNano()
	}
	if spec.Checksum != nil {
		u.Checksum = strings.ToLower(spec.Checksum.Type) + ":" + strings.ToLower(spec.Checksum.Value)
	}
	if spec.IfMatch != "" {
		if spec.Detached {
			return nil, fmt.Errorf("%w: a detached upload has no file to match", ErrInvalidRef)
		}
		if err := fs.matches(ctx, sid, parent.ID, name, spec.IfMatch); err != nil {
			return nil, err
		}
		u.IfMatch = spec.IfMatch
	}
	if u.Hashes, err = newHasher().marshal(); err != nil {
		return nil, err
	}
	// The upload holds its size of the quota for as long as it may live.
	res, err := fs.reserve(ctx, sid, u.ID, spec.Size, ttl, true)
	// The user's own abandoned uploads of the same file hold quota and
	// count against the user's uploads in progress: a new upload of it
	// ends them (supersede) and tries again.
	if (errors.Is(err, ErrQuotaExceeded) || errors.Is(err, ErrLimit)) && !spec.Detached && fs.supersede(ctx, u) > 0 {
		res, err = fs.reserve(ctx, sid, u.ID, spec.Size, ttl, true)
	}
	if err != nil {
		return nil, err
	}
	if err := fs.meta.CreateUpload(ctx, u); err != nil {
		fs.release(ctx, res)
		return nil, err
	}
	return sessionOf(u), nil
}

// partSize picks the part size of an upload: at least 8 MiB (fewer, larger
// requests) and large enough that the whole upload fits in the store's
// part limit; it bounds the memory one chunk in flight takes.
func partSize(min, size int64) int64 {
	ps := max(min, 8<<20)
	if need := (size + blobstore.MaxParts - 2) / (blobstore.MaxParts - 1); need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return ps
}

// GetUpload describes an upload in progress; expired ones are not found.
func (fs *FS) GetUpload(ctx context.Context, id string) (*UploadSession, error) {
	u, err := fs.readUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return sessionOf(u), nil
}

func (fs *FS) readUpload(ctx context.Context, id string) (*metadata.Upload, error) {
	if err := metadata.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%w: upload %q", ErrNotFound, id)
	}
	u, err := fs.meta.ReadUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Expires <= time.Now().UnixNano() {
		return nil, fmt.Errorf("%w: %s", ErrUploadExpired, id)
	}
	if pr, ok := principalOf(ctx); ok && u.User != pr.user {
		return nil, fmt.Errorf("%w: upload %s", ErrNotFound, id) // another user's
	}
	return u, nil
}

// WriteUpload appends a chunk that starts at offset, which must be where the
// upload stands (else ErrUploadOffset). It returns the new offset, also
// when the body fails part-way: what arrived is kept, so the client can
// resume from there. With a chunk checksum, a mismatching chunk is
// discarded whole (ErrChecksumMismatch). Without one, every full part is
// kept as soon as it is stored, so a writer killed mid-chunk loses at most
// a part. A body that runs past the declared size gives ErrTooLarge: the
// parts before the excess stay (the returned offset says how far), the
// rest is discarded. A second writer while one is at work gets
// ErrUploadBusy.
func (fs *FS) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader, chunk *Checksum) (int64, error) {
	mp, err := fs.multiparter()
	if err != nil {
		return 0, err
	}
	if chunk != nil {
		if err := chunk.validate(); err != nil {
			return 0, err
		}
	}
	// Take the writer's lease: the offset must be right and nobody else may
	// be writing or finishing.
	token := leaseToken()
	u, err := fs.readUpload(ctx, id)
	if err != nil {
		return 0, err
	}
	stored := u.Offset
	u, err = fs.meta.UpdateUpload(ctx, id, func(cur *metadata.Upload) error {
		now := time.Now().UnixNano()
		stored = cur.Offset
		switch {
		case cur.Done != "" || cur.Offset != offset:
			return fmt.Errorf("%w: chunk at %d, upload at %d", ErrUploadOffset, offset, cur.Offset)
		case leaseLive(cur.Writer, cur.WriterUntil, now), leaseLive(cur.Finisher, cur.FinisherUntil, now):
			return fmt.Errorf("%w: %s", ErrUploadBusy, id)
		}
		cur.Writer, cur.WriterUntil = token, now+int64(uploadLease)
		return nil
	})
	if err != nil {
		return stored, err
	}
	defer fs.heartbeat(id, token, false)()
	h, err := restoreHasher(u.Hashes)
	if err != nil {
		fs.releaseWriter(ctx, id, token)
		return u.Offset, err
	}
	w := &uploadWriter{fs: fs, mp: mp, u: u.Clone(), start: u.Offset, h: h, token: token}
	if chunk != nil {
		w.ch = newHasher()
	}
	readErr := w.consume(ctx, r)
	if readErr == nil && chunk != nil {
		if err := chunk.check(w.ch.sums()); err != nil {
			w.discard(ctx)
			return w.start, err
		}
	}
	if errors.Is(readErr, ErrTooLarge) || (readErr != nil && chunk != nil) {
		// A chunk with a checksum is all or nothing; one that is too long
		// is wrong as a whole.
		w.discard(ctx)
		return w.start, readErr
	}
	if err := w.save(ctx, true); err != nil {
		return w.start, err
	}
	return w.u.Offset, readErr
}

// releaseWriter gives up a writer's lease, if it still holds it.
func (fs *FS) releaseWriter(ctx context.Context, id, token string) {
	fs.meta.UpdateUpload(context.WithoutCancel(ctx), id, func(cur *metadata.Upload) error {
		if cur.Writer != token {
			return errNotHeld
		}
		cur.Writer, cur.WriterUntil = "", 0
		return nil
	})
}

var errNotHeld = errors.New("decomposedfs: lease not held")

// uploadWriter moves one chunk into parts and tail blobs.
type uploadWriter struct {
	fs    *FS
	mp    blobstore.Multiparter
	u     *metadata.Upload      // the state being built
	start int64                 // the stored Offset (advances with each save)
	h     *hasher               // whole-content hashes
	ch    *hasher               // this chunk's hashes, if verified
	token string                // the writer's lease
	added []metadata.UploadTail // tail blobs stored since the last save
	spent []metadata.UploadTail // tail blobs folded into parts since the last save
}

func (w *uploadWriter) tailSize() int64 {
	var n int64
	for _, t := range w.u.Tails {
		n += t.Size
	}
	return n
}

// hash adds stored bytes to the whole-content hashes and, if the chunk is
// verified, to the chunk's.
func (w *uploadWriter) hash(b []byte) {
	w.h.Write(b)
	if w.ch != nil {
		w.ch.Write(b)
	}
}

func (w *uploadWriter) consume(ctx context.Context, r io.Reader) error {
	sid := w.u.SpaceID
	for {
		rest := w.u.Size - w.u.Offset
		tail := w.tailSize()
		need := min(w.u.PartSize-tail, rest)
		buf := make([]byte, need)
		n, rerr := io.ReadFull(r, buf)
		buf = buf[:n]
		if rerr == io.ErrUnexpectedEOF || rerr == io.EOF {
			rerr = nil
		}
		full := int64(n) == need && tail+int64(n) == w.u.PartSize && w.u.Offset+int64(n) < w.u.Size
		// The bytes are hashed only once they are stored: the hash state
		// is saved with the offset, and bytes that a failed store (S3
		// down) did not keep come again when the client resumes.
		switch {
		case full:
			if err := w.uploadPart(ctx, buf); err != nil {
				return err
			}
			w.hash(buf)
			if w.ch == nil {
				// Without a chunk checksum, every stored part is kept at
				// once: a writer killed mid-chunk loses at most a part.
				w.u.Offset += int64(n)
				if err := w.save(ctx, false); err != nil {
					return err
				}
				w.u.Offset -= int64(n) // counted again below
			}
		case n > 0:
			t := metadata.UploadTail{BlobID: uuid.NewString(), Size: int64(n)}
			_, err := w.fs.blobs.Put(ctx, BlobKey(sid, t.BlobID), bytes.NewReader(buf), int64(n), blobstore.PutOptions{
				Metadata: map[string]string{MetaSpace: sid, MetaNode: w.u.NodeID, MetaUpload: w.u.ID}})
			if err != nil {
				return fmt.Errorf("decomposedfs: upload %s: store chunk: %w", w.u.ID, err)
			}
			w.hash(buf)
			w.u.Tails = append(w.u.Tails, t)
			w.added = append(w.added, t)
		}
		w.u.Offset += int64(n)
		if rerr != nil {
			return rerr
		}
		if int64(n) < need {
			return nil // the body ended
		}
		if w.u.Offset == w.u.Size {
			var one [1]byte
			m, perr := io.ReadFull(r, one[:])
			if m > 0 {
				return fmt.Errorf("%w: the chunk runs past the upload's %d bytes", ErrTooLarge, w.u.Size)
			}
			if perr != nil && perr != io.EOF {
				return perr
			}
			return nil
		}
	}
}

// uploadPart stores the tail blobs plus buf as the next part.
func (w *uploadWriter) uploadPart(ctx context.Context, buf []byte) error {
	u := w.u
	key := BlobKey(u.SpaceID, u.BlobID)
	if u.MultipartID == "" {
		id, err := w.mp.CreateMultipart(ctx, key, blobstore.PutOptions{Metadata: map[string]string{MetaSpace: u.SpaceID, MetaNode: u.NodeID}})
		if err != nil {
			return fmt.Errorf("decomposedfs: upload %s: %w", u.ID, err)
		}
		u.MultipartID = id
	}
	body, closeAll, err := w.fs.tailReader(ctx, u, buf)
	if err != nil {
		return err
	}
	defer closeAll()
	p, err := w.mp.UploadPart(ctx, key, u.MultipartID, len(u.Parts)+1, body, u.PartSize)
	if err != nil {
		return fmt.Errorf("decomposedfs: upload %s: part %d: %w", u.ID, len(u.Parts)+1, err)
	}
	u.Parts = append(u.Parts, metadata.UploadPart{Number: p.Number, Size: p.Size, ETag: p.ETag})
	w.spent = append(w.spent, u.Tails...)
	u.Tails = nil
	return nil
}

// tailReader reads an upload's tail blobs, in order, then extra.
func (fs *FS) tailReader(ctx context.Context, u *metadata.Upload, extra []byte) (io.Reader, func(), error) {
	var rs []io.Reader
	var cs []io.Closer
	closeAll := func() {
		for _, c := range cs {
			c.Close()
		}
	}
	for _, t := range u.Tails {
		rc, err := fs.blobs.Open(ctx, BlobKey(u.SpaceID, t.BlobID), 0, -1)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("decomposedfs: upload %s: read back chunk: %w", u.ID, err)
		}
		rs, cs = append(rs, rc), append(cs, rc)
	}
	rs = append(rs, bytes.NewReader(extra))
	return io.MultiReader(rs...), closeAll, nil
}

// save records the progress so far under the writer's lease, renewing it
// (or, when done is set, releasing it), then deletes the tail blobs that
// went into parts.
func (w *uploadWriter) save(ctx context.Context, done bool) error {
	hs, err := w.h.marshal()
	if err != nil {
		return err
	}
	w.u.Hashes = hs
	_, err = w.fs.meta.UpdateUpload(ctx, w.u.ID, func(cur *metadata.Upload) error {
		if cur.Writer != w.token || cur.Offset != w.start {
			return fmt.Errorf("%w: the upload moved on without this writer", ErrUploadOffset)
		}
		cur.Offset, cur.MultipartID, cur.Parts, cur.Tails, cur.Hashes = w.u.Offset, w.u.MultipartID, w.u.Parts, w.u.Tails, w.u.Hashes
		cur.WriterUntil = time.Now().UnixNano() + int64(uploadLease)
		if done {
			cur.Writer, cur.WriterUntil = "", 0
		}
		return nil
	})
	if err != nil {
		w.discard(ctx)
		return err
	}
	for _, t := range w.spent {
		w.fs.deleteBlob(ctx, w.u.SpaceID, t.BlobID)
	}
	w.start, w.added, w.spent = w.u.Offset, nil, nil
	return nil
}

// discard drops what a rejected chunk stored: its tail blobs. Parts it
// uploaded are replaced when the chunk is sent again (same numbers) and
// never count otherwise.
func (w *uploadWriter) discard(ctx context.Context) {
	for _, t := range w.added {
		w.fs.deleteBlob(ctx, w.u.SpaceID, t.BlobID)
	}
	w.fs.releaseWriter(ctx, w.u.ID, w.token)
}

// FinishUpload turns a complete upload into its file: the last part is
// stored, the parts are assembled, the expected checksum is checked, and the
// file is committed as Upload commits it. Finishing is idempotent: the
// session remembers the file it became until it expires. A session whose
// content cannot become the file (checksum mismatch, the folder gone) ends;
// one that failed for a passing reason (the blob store) stays, and can be
// finished again. An incomplete upload gives ErrPrecondition, one that
// another request is writing or finishing ErrUploadBusy.
func (fs *FS) FinishUpload(ctx context.Context, id string) (*ResourceInfo, error) {
	return fs.FinishUploadWith(ctx, id, FinishOptions{})
}

// FinishOptions are what a client may say only when it finishes an upload
// (the chunked uploads of ownCloud and Nextcloud clients name their file,
// its mtime and its checksum in the last request).
type FinishOptions struct {
	// Ref names the file the upload becomes, in the upload's space (else
	// ErrCrossSpace); required for a detached upload, and otherwise it
	// replaces the target named at the start.
	Ref Reference
	// Mtime, if set, replaces the upload's.
	Mtime time.Time
	// Checksum, if set, must match the content too (ErrChecksumMismatch:
	// the upload ends, nothing is stored).
	Checksum *Checksum
	// IfMatch and CreateOnly as for Upload, checked when the file is
	// committed (ErrPrecondition: the upload ends).
	IfMatch    string
	CreateOnly bool
}

// FinishUploadWith is FinishUpload with what the client says at the end.
// Chunks parked ahead of their turn (PutChunk) are taken in first.
func (fs *FS) FinishUploadWith(ctx context.Context, id string, fo FinishOptions) (*ResourceInfo, error) {
	mp, err := fs.multiparter()
	if err != nil {
		return nil, err
	}
	if fo.Checksum != nil {
		if err := fo.Checksum.validate(); err != nil {
			return nil, err
		}
	}
	u, err := fs.readUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Done != "" {
		return fs.GetMD(ctx, Reference{SpaceID: u.SpaceID, NodeID: u.Done})
	}
	if len(u.Parked) > 0 {
		if err := fs.takeParked(ctx, id); err != nil {
			return nil, err
		}
		if u, err = fs.readUpload(ctx, id); err != nil {
			return nil, err
		}
	}
	if u.Offset != u.Size {
		return nil, fmt.Errorf("%w: upload %s has %d of %d bytes", ErrPrecondition, id, u.Offset, u.Size)
	}
	if u.Detached && fo.Ref == (Reference{}) {
		return nil, fmt.Errorf("%w: upload %s needs the file it becomes", ErrInvalidRef, id)
	}
	token := leaseToken()
	u, err = fs.meta.UpdateUpload(ctx, id, func(cur *metadata.Upload) error {
		now := time.Now().UnixNano()
		switch {
		case cur.Done != "":
			return errAlreadyDone
		case leaseLive(cur.Writer, cur.WriterUntil, now), leaseLive(cur.Finisher, cur.FinisherUntil, now):
			return fmt.Errorf("%w: %s", ErrUploadBusy, id)
		}
		cur.Finisher, cur.FinisherUntil = token, now+int64(uploadLease)
		return nil
	})
	if errors.Is(err, errAlreadyDone) {
		return fs.FinishUploadWith(ctx, id, fo)
	}
	if err != nil {
		return nil, err
	}
	defer fs.heartbeat(id, token, true)()
	release := func() {
		fs.meta.UpdateUpload(context.WithoutCancel(ctx), id, func(cur *metadata.Upload) error {
			if cur.Finisher != token {
				return errNotHeld
			}
			cur.Finisher, cur.FinisherUntil = "", 0
			return nil
		})
	}
	parent, ppath, name, err := fs.finishTarget(ctx, u, fo.Ref)
	if err != nil {
		if errors.Is(err, ErrNotFound) && fo.Ref == (Reference{}) {
			fs.AbortUpload(context.WithoutCancel(ctx), id) // the folder is gone
		} else {
			release()
		}
		return nil, err
	}
	// The target's locks and the user's permissions are checked again: a
	// lock taken while the content streamed is honoured.
	lt, need := target{path: ppath}, PermCreateFile
	if existing, err := fs.meta.Lookup(ctx, u.SpaceID, parent.ID, name); err == nil {
		if existing.Type == metadata.TypeDir {
			release()
			return nil, fs.hide(ctx, u.SpaceID, lookup.Join(ppath, name), fmt.Errorf("%w: %s", ErrIsDir, lookup.Join(ppath, name)))
		}
		lt, need = target{path: lookup.Join(ppath, name)}, PermOverwrite
	}
	if _, err := fs.authorize(ctx, u.SpaceID, lt.path, need); err != nil {
		release()
		return nil, err
	}
	if err := fs.checkLocks(ctx, u.SpaceID, lt); err != nil {
		release()
		return nil, err
	}
	h, err := restoreHasher(u.Hashes)
	if err != nil {
		release()
		return nil, err
	}
	c := content{size: u.Size, sums: h.sums()}
	opts := UploadOptions{Size: u.Size, MimeType: u.MimeType, IfMatch: u.IfMatch, CreateOnly: fo.CreateOnly}
	// Both conditions must hold: the stricter one is checked.
	switch {
	case fo.IfMatch == "" || fo.IfMatch == opts.IfMatch || fo.IfMatch == "*":
	case opts.IfMatch == "" || opts.IfMatch == "*":
		opts.IfMatch = fo.IfMatch
	default:
		release()
		return nil, fmt.Errorf("%w: the upload started for etag %s, not %s", ErrPrecondition, u.IfMatch, fo.IfMatch)
	}
	if u.Mtime != 0 {
		opts.Mtime = time.Unix(0, u.Mtime)
	}
	if !fo.Mtime.IsZero() {
		opts.Mtime = fo.Mtime
	}
	if u.Checksum != "" {
		if opts.Checksum, err = ParseChecksum(u.Checksum); err != nil {
			release()
			return nil, err
		}
	}
	// The content's checksums are known before it is assembled: a
	// mismatch ends the upload without assembling anything.
	for _, want := range []*Checksum{opts.Checksum, fo.Checksum} {
		if err := want.check(c.sums); err != nil {
			fs.endUpload(context.WithoutCancel(ctx), u, true)
			return nil, err
		}
	}
	if u.Size > 0 {
		if err := fs.assemble(ctx, mp, u); err != nil {
			release() // a passing failure: the session stays
			return nil, err
		}
		c.blobID = u.BlobID
	}
	ri, err := fs.commit(ctx, parent, ppath, name, u.NodeID, c, opts, nil)
	if err != nil {
		// The commit deleted the assembled blob; what is left of the
		// session goes too.
		fs.endUpload(context.WithoutCancel(ctx), u, true)
		return nil, err
	}
	for _, t := range u.Tails {
		fs.deleteBlob(ctx, u.SpaceID, t.BlobID)
	}
	fs.release(ctx, reservation{spaceID: u.SpaceID, id: u.ID})
	fs.meta.UpdateUpload(context.WithoutCancel(ctx), id, func(cur *metadata.Upload) error {
		cur.Done, cur.Finisher, cur.FinisherUntil = ri.ID, "", 0
		cur.MultipartID, cur.Parts, cur.Tails = "", nil, nil
		return nil
	})
	return ri, nil
}

var errAlreadyDone = errors.New("decomposedfs: upload already finished")

// assemble makes the upload's blob from its parts and tails.
func (fs *FS) assemble(ctx context.Context, mp blobstore.Multiparter, u *metadata.Upload) error {
	key := BlobKey(u.SpaceID, u.BlobID)
	// An earlier finish may have assembled it (blobs appear whole or not
	// at all) and died before it recorded so, maybe after deleting the
	// tails or completing the multipart upload that it would need again.
	if bi, err := fs.blobs.Stat(ctx, key); err == nil && bi.Size == u.Size {
		return nil
	}
	body, closeAll, err := fs.tailReader(ctx, u, nil)
	if err != nil {
		return err
	}
	defer closeAll()
	var tail int64
	for _, t := range u.Tails {
		tail += t.Size
	}
	if u.MultipartID == "" {
		// Everything fits in what would be one part: a plain Put.
		_, err := fs.blobs.Put(ctx, key, body, tail, blobstore.PutOptions{Metadata: map[string]string{MetaSpace: u.SpaceID, MetaNode: u.NodeID}})
		return err
	}
	parts := make([]blobstore.Part, 0, len(u.Parts)+1)
	for _, p := range u.Parts {
		parts = append(parts, blobstore.Part{Number: p.Number, Size: p.Size, ETag: p.ETag})
	}
	if tail > 0 {
		p, err := mp.UploadPart(ctx, key, u.MultipartID, len(parts)+1, body, tail)
		if err != nil {
			return fmt.Errorf("decomposedfs: upload %s: last part: %w", u.ID, err)
		}
		parts = append(parts, p)
	}
	if _, err := mp.CompleteMultipart(ctx, key, u.MultipartID, parts); err != nil {
		// An earlier attempt may have completed it and died before the
		// commit: then the blob is there, whole.
		if errors.Is(err, blobstore.ErrNotFound) {
			if bi, serr := fs.blobs.Stat(ctx, key); serr == nil && bi.Size == u.Size {
				return nil
			}
		}
		return fmt.Errorf("decomposedfs: upload %s: assemble: %w", u.ID, err)
	}
	return nil
}

// endUpload removes what a session leaves: tail blobs and the record, and
// with withParts the blob store's multipart upload. The upload's blob
// itself is never touched here: once finished it is a file's content.
func (fs *FS) endUpload(ctx context.Context, u *metadata.Upload, withParts bool) {
	if withParts && u.MultipartID != "" {
		if mp, err := fs.multiparter(); err == nil {
			if err := mp.AbortMultipart(ctx, BlobKey(u.SpaceID, u.BlobID), u.MultipartID); err != nil {
				fs.log.WarnContext(ctx, "could not abort a multipart upload; check will report its parts", "upload", u.ID, "err", err)
			}
		}
	}
	for _, t := range u.Tails {
		fs.deleteBlob(ctx, u.SpaceID, t.BlobID)
	}
	for _, c := range u.Parked {
		fs.deleteBlob(ctx, u.SpaceID, c.BlobID)
	}
	fs.release(ctx, reservation{spaceID: u.SpaceID, id: u.ID})
	if err := fs.meta.DeleteUpload(ctx, u.ID); err != nil {
		fs.log.WarnContext(ctx, "could not delete an upload's record", "upload", u.ID, "err", err)
	}
}

// AbortUpload ends an upload and discards what it stored (a finished
// upload's file stays). Aborting a missing upload is not an error.
func (fs *FS) AbortUpload(ctx context.Context, id string) error {
	if err := metadata.ValidateID(id); err != nil {
		return nil
	}
	u, err := fs.meta.ReadUpload(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if pr, ok := principalOf(ctx); ok && u.User != pr.user {
		return nil // another user's: as good as missing
	}
	fs.endUpload(ctx, u, u.Done == "")
	return nil
}

// PurgeExpiredUploads aborts every upload whose time ran out and returns
// how many it aborted.
func (fs *FS) PurgeExpiredUploads(ctx context.Context) (int, error) {
	return fs.PurgeUploadsExpiredBy(ctx, time.Now())
}

// PurgeUploadsExpiredBy aborts every upload whose time runs out by t (and
// so, with t in the future, uploads abandoned for longer than their
// lifetime minus the difference), and returns how many it aborted.
func (fs *FS) PurgeUploadsExpiredBy(ctx context.Context, t time.Time) (int, error) {
	now := t.UnixNano()
	var expired []string
	err := fs.meta.ListUploads(ctx, func(u *metadata.Upload) error {
		if u.Expires <= now {
			expired = append(expired, u.ID)
		}
		return nil
	}, func(id string, err error) {
		fs.log.WarnContext(ctx, "unreadable upload record", "upload", id, "err", err)
	})
	if err != nil {
		return 0, err
	}
	for i, id := range expired {
		if err := fs.AbortUpload(ctx, id); err != nil {
			return i, err
		}
	}
	return len(expired), nil
}

// MetaUpload is the blob metadata key naming the upload a chunk blob
// belongs to.
const MetaUpload = "upload"

func (h *hasher) marshal() ([][]byte, error) {
	var out [][]byte
	for _, x := range []any{h.sha1, h.md5, h.adler} {
		m, ok := x.(encoding.BinaryMarshaler)
		if !ok {
			return nil, fmt.Errorf("decomposedfs: hash state cannot be saved")
		}
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func restoreHasher(states [][]byte) (*hasher, error) {
	h := newHasher()
	if len(states) != 3 {
		return nil, fmt.Errorf("%w: upload hash state has %d parts", ErrCorrupt, len(states))
	}
	for i, x := range []any{h.sha1, h.md5, h.adler} {
		if err := x.(encoding.BinaryUnmarshaler).UnmarshalBinary(states[i]); err != nil {
			return nil, fmt.Errorf("%w: upload hash state: %v", ErrCorrupt, err)
		}
	}
	return h, nil
}
