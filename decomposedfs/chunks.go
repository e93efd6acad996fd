package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// Chunked uploads: the ownCloud and Nextcloud clients send a large file as
// chunks, each a request of its own, that name where they belong (an
// offset, or an index that gives one). Content is hashed in order and
// streamed into the blob store's multipart upload in order, so PutChunk
// writes a chunk at the upload's offset at once, skips what it already
// has of a chunk that starts before it (a chunk sent again), and keeps a
// chunk that starts beyond it whole in a blob of its own (parked) until
// the bytes before it have arrived. Nothing of a chunk touches the
// metadata volume.

// ErrTooManyParked: a chunk would be the upload's MaxParked+1st kept
// aside; the client must send the chunks before it first.
var ErrTooManyParked = fmt.Errorf("decomposedfs: more than %d chunks ahead of the upload's offset: %w", metadata.MaxParked, ErrUploadOffset)

// uploadTarget resolves the file an upload will create or overwrite and
// checks that the user may, and that no lock is in the way: the parent,
// the node id the file will have, and the name.
func (fs *FS) uploadTarget(ctx context.Context, ref Reference) (*metadata.Node, string, string, error) {
	parent, ppath, name, err := fs.resolveParent(ctx, ref)
	if err != nil {
		return nil, "", "", err
	}
	sid := parent.SpaceID
	nodeID := uuid.NewString()
	lt := target{path: ppath}
	if existing, err := fs.meta.Lookup(ctx, sid, parent.ID, name); err == nil {
		if existing.Type == metadata.TypeDir {
			return nil, "", "", fs.hide(ctx, sid, lookup.Join(ppath, name), fmt.Errorf("%w: %s", ErrIsDir, lookup.Join(ppath, name)))
		}
		nodeID, lt = existing.ID, target{path: lookup.Join(ppath, name)}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, "", "", err
	}
	need := PermCreateFile
	if lt.path != ppath {
		need = PermOverwrite
	}
	if _, err := fs.authorize(ctx, sid, lt.path, need); err != nil {
		return nil, "", "", err
	}
	if err := fs.checkLocks(ctx, sid, lt); err != nil {
		return nil, "", "", err
	}
	return parent, nodeID, name, nil
}

// detachedParent is the placeholder parent of a detached upload: the root
// of a space where the user may create files.
func (fs *FS) detachedParent(ctx context.Context, sid string) (*metadata.Node, error) {
	root, _, err := fs.resolve(ctx, Reference{SpaceID: sid, Path: "/"})
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, sid, "/", PermCreateFile); err != nil {
		return nil, err
	}
	return root, nil
}

// finishTarget is the folder and name an upload commits to: ref's, if
// given (in the upload's space), else the upload's own.
func (fs *FS) finishTarget(ctx context.Context, u *metadata.Upload, ref Reference) (*metadata.Node, string, string, error) {
	if ref == (Reference{}) {
		parent, err := fs.meta.ReadNode(ctx, u.SpaceID, u.ParentID)
		if err != nil {
			return nil, "", "", err
		}
		ppath, err := fs.lu.PathOf(ctx, parent)
		if err != nil {
			return nil, "", "", err
		}
		return parent, ppath, u.Name, nil
	}
	if ref.SpaceID != u.SpaceID {
		return nil, "", "", fmt.Errorf("%w: upload %s is in space %s, not %s", ErrCrossSpace, u.ID, u.SpaceID, ref.SpaceID)
	}
	return fs.resolveParent(ctx, ref)
}

// PutChunk stores a chunk of size bytes of an upload that starts at
// offset, chunks arriving in any order: a chunk at the upload's offset is
// written as by WriteUpload; of a chunk that starts before it, the bytes
// the upload has are read and dropped and the rest is written (a chunk
// sent again, after a lost answer or a broken connection); a chunk that
// starts beyond it is parked in the blob store, at most
// metadata.MaxParked of them (else ErrTooManyParked). Parked chunks whose
// turn has come are then written, in any request's PutChunk or in
// FinishUploadWith. r must hold exactly size bytes (ErrSizeMismatch
// otherwise; what arrived of a chunk being written is kept, a chunk being
// parked is dropped). A chunk past the upload's size is ErrSizeMismatch,
// before anything is read. It returns the upload as it stands afterwards.
func (fs *FS) PutChunk(ctx context.Context, id string, offset int64, r io.Reader, size int64) (*UploadSession, error) {
	if _, err := fs.multiparter(); err != nil {
		return nil, err
	}
	if offset < 0 || size < 0 {
		return nil, fmt.Errorf("%w: chunk of %d bytes at %d", ErrSizeMismatch, size, offset)
	}
	body := &chunkBody{r: io.LimitReader(r, size), want: size}
	for {
		u, err := fs.readUpload(ctx, id)
		if err != nil {
			return nil, err
		}
		switch {
		case u.Done != "":
			return nil, fmt.Errorf("%w: upload %s is finished", ErrPrecondition, id)
		case offset+size > u.Size:
			return nil, fmt.Errorf("%w: a chunk of %d bytes at %d runs past the upload's %d bytes", ErrSizeMismatch, size, offset, u.Size)
		case offset+size <= u.Offset:
			// All of it has arrived before.
			if _, err := io.Copy(io.Discard, body); err != nil {
				return nil, err
			}
			if err := body.complete(); err != nil {
				return nil, err
			}
		case offset <= u.Offset:
			body.skip = u.Offset - offset
			_, err := fs.WriteUpload(ctx, id, u.Offset, body, nil)
			if errors.Is(err, ErrUploadOffset) && body.read == 0 {
				continue // another chunk moved the offset first: look again
			}
			if err == nil {
				err = body.complete()
			}
			if err != nil {
				return nil, err
			}
		default:
			if err := fs.park(ctx, u, offset, body, size); err != nil {
				return nil, err
			}
		}
		break
	}
	if err := fs.takeParked(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, ErrUploadBusy) {
		return nil, err
	}
	return fs.GetUpload(ctx, id)
}

// chunkBody is a chunk's body: its first skip bytes are read and dropped
// on the first read (so that nothing is consumed before the writer holds
// the upload), and complete tells whether all of it came.
type chunkBody struct {
	r          io.Reader
	skip       int64
	want, read int64
}

func (b *chunkBody) Read(p []byte) (int, error) {
	if b.skip > 0 {
		n, err := io.CopyN(io.Discard, b.r, b.skip)
		b.read += n
		b.skip -= n
		if err != nil {
			return 0, b.eof(err)
		}
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, b.eof(err)
}

func (b *chunkBody) eof(err error) error {
	if err == io.EOF && b.read < b.want {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (b *chunkBody) complete() error {
	if b.read != b.want {
		return fmt.Errorf("%w: chunk of %d bytes ended after %d", ErrSizeMismatch, b.want, b.read)
	}
	return nil
}

// park stores a chunk that starts beyond the upload's offset in a blob of
// its own and records it. A chunk parked again at the same offset replaces
// the earlier one.
func (fs *FS) park(ctx context.Context, u *metadata.Upload, offset int64, r *chunkBody, size int64) error {
	if len(u.Parked) >= metadata.MaxParked {
		return fmt.Errorf("%w: upload %s", ErrTooManyParked, u.ID)
	}
	c := metadata.UploadChunk{Offset: offset, Size: size, BlobID: uuid.NewString()}
	_, err := fs.blobs.Put(ctx, BlobKey(u.SpaceID, c.BlobID), r, size, blobstore.PutOptions{
		Metadata: map[string]string{MetaSpace: u.SpaceID, MetaNode: u.NodeID, MetaUpload: u.ID}})
	if cerr := r.complete(); cerr != nil {
		err = cerr // a short body, however the blob store saw it
	}
	if err != nil {
		fs.deleteBlob(ctx, u.SpaceID, c.BlobID)
		return fmt.Errorf("decomposedfs: upload %s: park a chunk at %d: %w", u.ID, offset, err)
	}
	var replaced string
	_, err = fs.meta.UpdateUpload(ctx, u.ID, func(cur *metadata.Upload) error {
		// (Should the upload have moved past offset meanwhile, the chunk
		// is parked all the same and taken in, its known part skipped,
		// right away.)
		replaced = ""
		if cur.Done != "" {
			return fmt.Errorf("%w: upload %s is finished", ErrPrecondition, u.ID)
		}
		if i := slices.IndexFunc(cur.Parked, func(p metadata.UploadChunk) bool { return p.Offset == offset }); i >= 0 {
			replaced = cur.Parked[i].BlobID
			cur.Parked[i] = c
			return nil
		}
		if len(cur.Parked) >= metadata.MaxParked {
			return fmt.Errorf("%w: upload %s", ErrTooManyParked, u.ID)
		}
		cur.Parked = append(cur.Parked, c)
		return nil
	})
	if err != nil {
		fs.deleteBlob(ctx, u.SpaceID, c.BlobID)
		return err
	}
	fs.deleteBlob(ctx, u.SpaceID, replaced)
	return nil
}

// takeParked writes the parked chunks whose turn has come, in order, until
// none has. Every request that writes or parks a chunk calls it after its
// own chunk is recorded, so a chunk parked while another request held the
// upload is taken in by that request, which looks after it let go:
// ErrUploadBusy here means someone else will.
func (fs *FS) takeParked(ctx context.Context, id string) error {
	for {
		u, err := fs.readUpload(ctx, id)
		if err != nil {
			return err
		}
		if u.Done != "" {
			return nil
		}
		i := -1
		for j, c := range u.Parked {
			if c.Offset <= u.Offset && (i < 0 || c.Offset < u.Parked[i].Offset) {
				i = j
			}
		}
		if i < 0 {
			return nil
		}
		c := u.Parked[i]
		if c.Offset+c.Size > u.Offset {
			rc, err := fs.blobs.Open(ctx, BlobKey(u.SpaceID, c.BlobID), u.Offset-c.Offset, -1)
			if err != nil {
				return fmt.Errorf("decomposedfs: upload %s: read a parked chunk: %w", id, err)
			}
			body := &chunkBody{r: rc, want: c.Offset + c.Size - u.Offset}
			_, err = fs.WriteUpload(ctx, id, u.Offset, body, nil)
			rc.Close()
			if errors.Is(err, ErrUploadOffset) && body.read == 0 {
				continue
			}
			if err == nil {
				err = body.complete()
			}
			if err != nil {
				return err
			}
		}
		_, err = fs.meta.UpdateUpload(ctx, id, func(cur *metadata.Upload) error {
			cur.Parked = slices.DeleteFunc(cur.Parked, func(p metadata.UploadChunk) bool { return p.BlobID == c.BlobID })
			return nil
		})
		if err != nil {
			return err
		}
		fs.deleteBlob(ctx, u.SpaceID, c.BlobID)
	}
}

// DropParked removes the chunk parked at offset, if there is one, and
// reports whether there was.
func (fs *FS) DropParked(ctx context.Context, id string, offset int64) (bool, error) {
	u, err := fs.readUpload(ctx, id)
	if err != nil {
		return false, err
	}
	var blob string
	_, err = fs.meta.UpdateUpload(ctx, id, func(cur *metadata.Upload) error {
		blob = ""
		i := slices.IndexFunc(cur.Parked, func(p metadata.UploadChunk) bool { return p.Offset == offset })
		if i < 0 {
			return errNotHeld
		}
		blob = cur.Parked[i].BlobID
		cur.Parked = slices.Delete(cur.Parked, i, i+1)
		return nil
	})
	if errors.Is(err, errNotHeld) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fs.deleteBlob(ctx, u.SpaceID, blob)
	return true, nil
}

// supersede ends the user's own unfinished uploads of the file that u is
// to become, which nobody is writing or finishing, and returns how many
// it ended. A client that starts an upload again from the beginning (as
// owncloudcmd does with TUS after an interruption: it keeps no upload URL
// between syncs) would otherwise find the quota held by its own abandoned
// upload until that expires. It reads every upload record, so it runs
// only when the quota refused an upload.
func (fs *FS) supersede(ctx context.Context, u *metadata.Upload) int {
	if u.User == "" {
		return 0
	}
	now := time.Now().UnixNano()
	var stale []string
	err := fs.meta.ListUploads(ctx, func(o *metadata.Upload) error {
		if o.ID != u.ID && o.User == u.User && o.SpaceID == u.SpaceID && o.ParentID == u.ParentID && o.Name == u.Name &&
			!o.Detached && o.Done == "" && !leaseLive(o.Writer, o.WriterUntil, now) && !leaseLive(o.Finisher, o.FinisherUntil, now) {
			stale = append(stale, o.ID)
		}
		return nil
	}, nil)
	if err != nil {
		fs.log.WarnContext(ctx, "could not look for abandoned uploads", "err", err)
		return 0
	}
	n := 0
	for _, id := range stale {
		if err := fs.AbortUpload(ctx, id); err == nil {
			fs.log.InfoContext(ctx, "ended an abandoned upload of the same file for a new one", "upload", id, "for", u.ID)
			n++
		}
	}
	return n
}

// matches checks an If-Match condition on the file name in folder
// parentID: "*" wants a file, an etag that file's etag.
func (fs *FS) matches(ctx context.Context, sid, parentID, name, etag string) error {
	n, err := fs.meta.Lookup(ctx, sid, parentID, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %s does not exist", ErrPrecondition, name)
	case err != nil:
		return err
	case n.Type == metadata.TypeDir:
		return fmt.Errorf("%w: %s is a folder", ErrPrecondition, name)
	case etag != "*" && n.Etag() != etag:
		return fmt.Errorf("%w: etag %s, not %s", ErrPrecondition, n.Etag(), etag)
	}
	return nil
}
