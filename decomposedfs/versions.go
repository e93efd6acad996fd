package decomposedfs

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// RevisionPolicy says which earlier contents of a file are kept.
type RevisionPolicy struct {
	// MaxCount is how many revisions a file keeps at most; 0 keeps none
	// (an overwrite deletes the old content).
	MaxCount int
	// MaxAge drops revisions older than this at the next overwrite; 0
	// keeps them regardless of age.
	MaxAge time.Duration
}

// RevisionInfo describes an earlier content of a file.
type RevisionInfo struct {
	ID        string
	Size      int64
	Mtime     time.Time
	Etag      string
	Checksums Checksums
}

func revisionInfo(n *metadata.Node, r metadata.Revision) RevisionInfo {
	tmp := &metadata.Node{ID: n.ID, Type: metadata.TypeFile, BlobID: r.BlobID, Mtime: r.Mtime, Size: r.Size, Checksums: r.Checksums}
	ri := RevisionInfo{ID: r.ID, Size: r.Size, Mtime: time.Unix(0, r.Mtime), Etag: tmp.Etag()}
	ri.Checksums.SHA1, ri.Checksums.MD5, ri.Checksums.Adler32 = tmp.ChecksumsHex()
	return ri
}

// keepRevision adds the content n had before an overwrite as a revision,
// applies the policy, and returns the blobs that no longer have a
// reference: the old content's if revisions are off, else those of the
// revisions the policy dropped.
func (p RevisionPolicy) keepRevision(n *metadata.Node, old metadata.Revision) []string {
	if p.MaxCount <= 0 {
		return nonEmpty(old.BlobID)
	}
	n.Revisions = append(n.Revisions, old)
	var dropped []string
	cutoff := int64(0)
	if p.MaxAge > 0 {
		cutoff = time.Now().Add(-p.MaxAge).UnixNano()
	}
	keep := n.Revisions[:0]
	for i, r := range n.Revisions {
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		if len(n.Revisions)-i > p.MaxCount || (cutoff != 0 && id < cutoff) {
			dropped = append(dropped, nonEmpty(r.BlobID)...)
			continue
		}
		keep = append(keep, r)
	}
	n.Revisions = keep
	if len(n.Revisions) == 0 {
		n.Revisions = nil
	}
	return dropped
}

func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}

// ListRevisions lists a file's earlier contents, oldest first.
func (fs *FS) ListRevisions(ctx context.Context, ref Reference) ([]RevisionInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if n.Type != metadata.TypeFile {
		return nil, fs.hide(ctx, n.SpaceID, p, fmt.Errorf("%w: %s", ErrIsDir, p))
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermListVersions); err != nil {
		return nil, err
	}
	out := make([]RevisionInfo, 0, len(n.Revisions))
	for _, r := range n.Revisions {
		out = append(out, revisionInfo(n, r))
	}
	return out, nil
}

func findRevision(n *metadata.Node, id string) (int, error) {
	i := slices.IndexFunc(n.Revisions, func(r metadata.Revision) bool { return r.ID == id })
	if i < 0 {
		return -1, fmt.Errorf("%w: revision %q of %s", ErrNotFound, id, n.ID)
	}
	return i, nil
}

// DownloadRevision opens an earlier content of a file, like Download.
func (fs *FS) DownloadRevision(ctx context.Context, ref Reference, revID string, offset, length int64) (io.ReadCloser, *RevisionInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermListVersions|PermDownload); err != nil {
		return nil, nil, err
	}
	i, err := findRevision(n, revID)
	if err != nil {
		return nil, nil, err
	}
	r := n.Revisions[i]
	ri := revisionInfo(n, r)
	if offset < 0 || length < -1 || (offset >= r.Size && !(offset == 0 && r.Size == 0)) {
		return nil, nil, fmt.Errorf("%w: offset %d of %d bytes", ErrRange, offset, r.Size)
	}
	if r.BlobID == "" || length == 0 {
		return io.NopCloser(strings.NewReader("")), &ri, nil
	}
	if length == -1 || offset+length > r.Size {
		length = r.Size - offset
	}
	rc, err := fs.blobs.Open(ctx, BlobKey(n.SpaceID, r.BlobID), offset, length)
	if err != nil {
		return nil, nil, fmt.Errorf("decomposedfs: revision %s of %s: %w", revID, p, err)
	}
	return rc, &ri, nil
}

// RestoreRevision makes an earlier content current again; the current
// content becomes a revision itself, so nothing is lost.
func (fs *FS) RestoreRevision(ctx context.Context, ref Reference, revID string) (*ResourceInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermRestoreVersion); err != nil {
		return nil, err
	}
	if err := fs.checkLocks(ctx, n.SpaceID, target{path: p}); err != nil {
		return nil, err
	}
	// A bigger revision needs the quota for what it adds.
	if i, err := findRevision(n, revID); err == nil {
		res, err := fs.reserve(ctx, n.SpaceID, "", max(n.Revisions[i].Size-n.Size, 0), 0, false)
		if err != nil {
			return nil, err
		}
		defer fs.release(ctx, res)
	}
	var delta int64
	updated, err := fs.meta.UpdateNode(ctx, n.SpaceID, n.ID, func(cur *metadata.Node) error {
		i, err := findRevision(cur, revID)
		if err != nil {
			return err
		}
		r := cur.Revisions[i]
		current := metadata.Revision{ID: strconv.FormatInt(cache.NextTime(), 10), BlobID: cur.BlobID, Size: cur.Size,
			Mtime: cur.Mtime, Checksums: cur.Checksums}
		delta = r.Size - cur.Size
		cur.BlobID, cur.Size, cur.Mtime, cur.Checksums = r.BlobID, r.Size, r.Mtime, r.Checksums
		cur.Revisions = append(slices.Delete(cur.Revisions, i, i+1), current)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := fs.propagate(ctx, n.SpaceID, updated.ParentID, delta); err != nil {
		return nil, err
	}
	ri := info(updated, p)
	return ri, nil
}

// DeleteRevision deletes an earlier content of a file for good.
func (fs *FS) DeleteRevision(ctx context.Context, ref Reference, revID string) error {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermRestoreVersion); err != nil {
		return err
	}
	if err := fs.checkLocks(ctx, n.SpaceID, target{path: p}); err != nil {
		return err
	}
	var blob string
	if _, err := fs.meta.UpdateNode(ctx, n.SpaceID, n.ID, func(cur *metadata.Node) error {
		i, err := findRevision(cur, revID)
		if err != nil {
			return err
		}
		blob = cur.Revisions[i].BlobID
		cur.Revisions = slices.Delete(cur.Revisions, i, i+1)
		if len(cur.Revisions) == 0 {
			cur.Revisions = nil
		}
		return nil
	}); err != nil {
		return err
	}
	fs.deleteBlob(ctx, n.SpaceID, blob)
	return nil
}
