package decomposedfs

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"mime"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// Upload errors.
var (
	// ErrSizeMismatch: the body was shorter or longer than declared.
	ErrSizeMismatch = blobstore.ErrSizeMismatch
	// ErrPrecondition: an IfMatch or CreateOnly condition failed.
	ErrPrecondition = errors.New("decomposedfs: precondition failed")
	// ErrInvalidChecksum: an expected checksum is malformed or of an
	// unsupported type (the request is wrong, not the content).
	ErrInvalidChecksum = errors.New("decomposedfs: invalid checksum")
)

// ParseChecksum parses "TYPE:HEX" (as in the OC-Checksum header, e.g.
// "SHA1:a9993e36..."); errors wrap ErrInvalidChecksum.
func ParseChecksum(s string) (*Checksum, error) {
	typ, val, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("%w: %q is not TYPE:HEX", ErrInvalidChecksum, s)
	}
	c := &Checksum{Type: strings.ToLower(typ), Value: strings.ToLower(val)}
	return c, c.validate()
}

// Checksum is an expected checksum of an upload.
type Checksum struct {
	Type  string // "sha1", "md5" or "adler32" (case-insensitive)
	Value string // hex
}

// UploadOptions are optional parameters of Upload.
type UploadOptions struct {
	// Size is the exact length of the body, or -1 if unknown.
	Size int64
	// Mtime is the content's modification time; zero means now.
	Mtime time.Time
	// Checksum, if set, must match the body, or nothing is stored.
	Checksum *Checksum
	// MimeType; empty derives it from the name's extension.
	MimeType string
	// IfMatch, if set, requires an existing file with this etag ("*": any
	// existing file), checked under the file's lock.
	IfMatch string
	// CreateOnly fails with ErrPrecondition if the name exists.
	CreateOnly bool
}

// blob metadata keys: back-pointers from a blob to the node it was
// uploaded for, so that an orphan can be explained.
const (
	MetaSpace = "space"
	MetaNode  = "node"
)

// errGone: the node an upload meant to overwrite was moved or trashed while
// the content was uploading; the upload commits as a new file instead.
var errGone = errors.New("decomposedfs: target changed during upload")

// Upload stores a file's content: streamed to the blob store while SHA-1,
// MD5 and Adler-32 are computed in the same pass, checked against an
// expected checksum, and only then committed to the metadata, so a failed,
// interrupted or mismatched upload leaves no node and changes no size. An
// existing file gets the new content as a new blob, and its old blob is
// deleted once nothing references it.
func (fs *FS) Upload(ctx context.Context, ref Reference, r io.Reader, opts UploadOptions) (*ResourceInfo, error) {
	parent, ppath, name, err := fs.resolveParent(ctx, ref)
	if err != nil {
		return nil, err
	}
	sid := parent.SpaceID
	if opts.Size < -1 {
		return nil, fmt.Errorf("decomposedfs: invalid upload size %d", opts.Size)
	}
	if opts.Checksum != nil {
		if err := opts.Checksum.validate(); err != nil {
			return nil, err
		}
	}
	// Pick the node id first so the blob can point back at it.
	nodeID := uuid.NewString()
	tpath := lookup.Join(ppath, name)
	lockTarget := target{path: ppath} // a new member of the folder
	var oldSize int64                 // what the file holds now
	if existing, err := fs.meta.Lookup(ctx, sid, parent.ID, name); err == nil {
		lockTarget, oldSize = target{path: tpath}, existing.Size
		if existing.Type == metadata.TypeDir {
			return nil, fs.hide(ctx, sid, tpath, fmt.Errorf("%w: %s", ErrIsDir, tpath))
		}
		if opts.CreateOnly {
			return nil, fs.hide(ctx, sid, tpath, fmt.Errorf("%w: %s exists", ErrPrecondition, tpath))
		}
		nodeID = existing.ID
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	need := PermCreateFile
	if lockTarget.path != ppath {
		need = PermOverwrite
	}
	if _, err := fs.authorize(ctx, sid, lockTarget.path, need); err != nil {
		return nil, err
	}
	if err := fs.checkLocks(ctx, sid, lockTarget); err != nil {
		return nil, err
	}

	// Quota is held before anything is stored (for an unknown size, once
	// the size is known), and given back once the tree size counts the
	// file. An overwrite holds only what the file grows by: a full space
	// can still save a smaller version of a file.
	var res reservation
	if opts.Size >= 0 {
		if res, err = fs.reserve(ctx, sid, "", max(opts.Size-oldSize, 0), 0, false); err != nil {
			return nil, err
		}
		defer fs.release(ctx, res)
	}
	// A new file's metadata is prepared while its content uploads (two
	// file creations that would otherwise follow the upload).
	var prepared chan prepResult
	if lockTarget.path == ppath && opts.IfMatch == "" {
		prepared = make(chan prepResult, 1)
		now := cache.NextTime()
		n := &metadata.Node{ID: nodeID, SpaceID: sid, ParentID: parent.ID, Name: name, Type: metadata.TypeFile, Mtime: now, Btime: now}
		go func() {
			p, err := fs.meta.PrepareNode(context.WithoutCancel(ctx), n)
			prepared <- prepResult{p, err}
		}()
	}
	c, err := fs.storeContent(ctx, sid, nodeID, r, opts)
	var pend metadata.Pending
	if prepared != nil {
		if pr := <-prepared; pr.err == nil {
			pend = pr.p
			defer pend.Abort() // a no-op once committed
		}
	}
	if err != nil {
		return nil, err
	}
	if opts.Size < 0 {
		if res, err = fs.reserve(ctx, sid, "", max(c.size-oldSize, 0), 0, false); err != nil {
			fs.deleteBlob(ctx, sid, c.blobID)
			return nil, err
		}
		defer fs.release(ctx, res)
	}
	return fs.commit(ctx, parent, ppath, name, nodeID, c, opts, pend)
}

type prepResult struct {
	p   metadata.Pending
	err error
}

// commit makes stored content a file: a new node, or the new content of the
// file that has the name now. On failure the content's blob is deleted.
//
// pend, if not nil, is node nodeID prepared by PrepareNode: used if the
// name is still free.
func (fs *FS) commit(ctx context.Context, parent *metadata.Node, ppath, name, nodeID string, c content, opts UploadOptions, pend metadata.Pending) (*ResourceInfo, error) {
	sid := parent.SpaceID
	committed := false
	defer func() {
		if !committed {
			fs.deleteBlob(ctx, sid, c.blobID)
		}
	}()
	if err := opts.Checksum.check(c.sums); err != nil {
		return nil, err
	}
	mt := cache.NextTime()
	if !opts.Mtime.IsZero() {
		mt = opts.Mtime.UnixNano()
	}
	mimeT := opts.MimeType
	if mimeT == "" {
		mimeT = mimeType(name)
	}
	set := func(n *metadata.Node) {
		n.Size, n.BlobID, n.Mtime, n.Checksums, n.MimeType = c.size, c.blobID, mt, c.sums, mimeT
	}
	for range 4 {
		existing, err := fs.meta.Lookup(ctx, sid, parent.ID, name)
		if errors.Is(err, ErrNotFound) {
			if opts.IfMatch != "" {
				return nil, fmt.Errorf("%w: %s does not exist", ErrPrecondition, lookup.Join(ppath, name))
			}
			now := cache.NextTime()
			n := &metadata.Node{ID: nodeID, SpaceID: sid, ParentID: parent.ID, Name: name, Type: metadata.TypeFile, Btime: now}
			set(n)
			var err error
			if pend != nil {
				err = pend.Commit(ctx, n)
				pend = nil // whatever happened, it is used up
			} else {
				err = fs.meta.CreateNode(ctx, n)
			}
			if errors.Is(err, ErrExist) {
				nodeID = uuid.NewString() // the name or (rarely) the id was taken meanwhile
				continue
			}
			if err != nil {
				return nil, err
			}
			committed = true
			if err := fs.propagate(ctx, sid, parent.ID, n.Size); err != nil {
				return nil, err
			}
			return info(n, lookup.Join(ppath, name)), nil
		}
		if err != nil {
			return nil, err
		}
		if existing.Type == metadata.TypeDir {
			return nil, fmt.Errorf("%w: %s", ErrIsDir, lookup.Join(ppath, name))
		}
		if opts.CreateOnly {
			return nil, fmt.Errorf("%w: %s exists", ErrPrecondition, lookup.Join(ppath, name))
		}
		var unreferenced []string
		var oldSize int64
		n, err := fs.meta.UpdateNode(ctx, sid, existing.ID, func(n *metadata.Node) error {
			if n.Trashed != 0 || n.ParentID != parent.ID || n.Name != name {
				return errGone
			}
			if opts.IfMatch != "" && opts.IfMatch != "*" && n.Etag() != opts.IfMatch {
				return fmt.Errorf("%w: etag %s, not %s", ErrPrecondition, n.Etag(), opts.IfMatch)
			}
			oldSize = n.Size
			if c.blobID != "" && (n.BlobID == c.blobID || slices.ContainsFunc(n.Revisions, func(r metadata.Revision) bool { return r.BlobID == c.blobID })) {
				// A repeated commit of content committed before (by a
				// finish that died before recording it was done; the
				// file may have changed since): no change, and above all
				// no second reference to a blob.
				return nil
			}
			old := metadata.Revision{ID: strconv.FormatInt(cache.NextTime(), 10), BlobID: n.BlobID, Size: n.Size,
				Mtime: n.Mtime, Checksums: n.Checksums}
			set(n)
			unreferenced = fs.opts.Revisions.keepRevision(n, old)
			return nil
		})
		if errors.Is(err, errGone) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		committed = true
		// The previous content became a revision, or, with revisions off,
		// is unreferenced now; so are revisions the policy dropped.
		for _, b := range unreferenced {
			fs.deleteBlob(ctx, sid, b)
		}
		if err := fs.propagate(ctx, sid, n.ParentID, n.Size-oldSize); err != nil {
			return nil, err
		}
		return info(n, lookup.Join(ppath, name)), nil
	}
	return nil, fmt.Errorf("decomposedfs: upload to %s: the folder kept changing, gave up", lookup.Join(ppath, name))
}

type content struct {
	blobID string // empty for empty content
	size   int64
	sums   metadata.Checksums
}

// storeContent streams r into a new blob, hashing on the way.
func (fs *FS) storeContent(ctx context.Context, sid, nodeID string, r io.Reader, opts UploadOptions) (content, error) {
	h := newHasher()
	body := io.TeeReader(r, h)
	if opts.Size == 0 {
		// Nothing to store, but a body that is not empty is a lie.
		if n, _ := io.CopyN(io.Discard, body, 1); n > 0 {
			return content{}, fmt.Errorf("%w: declared 0 bytes, got more", ErrSizeMismatch)
		}
		return content{sums: h.sums()}, nil
	}
	blobID := uuid.NewString()
	key := BlobKey(sid, blobID)
	bi, err := fs.blobs.Put(ctx, key, body, opts.Size, blobstore.PutOptions{
		Metadata: map[string]string{MetaSpace: sid, MetaNode: nodeID},
	})
	if err != nil {
		return content{}, fmt.Errorf("decomposedfs: upload: %w", err)
	}
	if bi.Size != h.n {
		fs.deleteBlob(ctx, sid, blobID)
		return content{}, fmt.Errorf("decomposedfs: upload: blob store kept %d bytes of %d", bi.Size, h.n)
	}
	if h.n == 0 {
		fs.deleteBlob(ctx, sid, blobID)
		blobID = ""
	}
	return content{blobID: blobID, size: h.n, sums: h.sums()}, nil
}

// hasher computes all supported checksums in one pass.
type hasher struct {
	sha1, md5, adler hash.Hash
	n                int64
}

func newHasher() *hasher {
	return &hasher{sha1: sha1.New(), md5: md5.New(), adler: adler32.New()}
}

func (h *hasher) Write(p []byte) (int, error) {
	h.sha1.Write(p)
	h.md5.Write(p)
	h.adler.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

func (h *hasher) sums() metadata.Checksums {
	return metadata.Checksums{SHA1: h.sha1.Sum(nil), MD5: h.md5.Sum(nil), Adler32: h.adler.Sum(nil)}
}

func (c *Checksum) validate() error {
	want := map[string]int{"sha1": 40, "md5": 32, "adler32": 8}[strings.ToLower(c.Type)]
	if want == 0 {
		return fmt.Errorf("%w: unsupported type %q (want sha1, md5 or adler32)", ErrInvalidChecksum, c.Type)
	}
	if _, err := hex.DecodeString(c.Value); err != nil || len(c.Value) != want {
		return fmt.Errorf("%w: malformed %s value %q", ErrInvalidChecksum, c.Type, c.Value)
	}
	return nil
}

// check compares the expected checksum (if any) with the computed ones.
func (c *Checksum) check(got metadata.Checksums) error {
	if c == nil {
		return nil
	}
	var sum []byte
	switch strings.ToLower(c.Type) {
	case "sha1":
		sum = got.SHA1
	case "md5":
		sum = got.MD5
	case "adler32":
		sum = got.Adler32
	}
	if hex.EncodeToString(sum) != strings.ToLower(c.Value) {
		return fmt.Errorf("%w: %s is %x, expected %s", ErrChecksumMismatch, c.Type, sum, c.Value)
	}
	return nil
}

func mimeType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
