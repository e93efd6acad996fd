package decomposedfs

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/s3dfs/s3dfs/metadata"
)

// GetMD returns the resource info of the node a reference names.
func (fs *FS) GetMD(ctx context.Context, ref Reference) (*ResourceInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	perms, err := fs.authorize(ctx, n.SpaceID, p, PermStat)
	if err != nil {
		return nil, err
	}
	ri := info(n, p)
	ri.Permissions = perms
	return ri, nil
}

// Listing is the content of a folder.
type Listing struct {
	// Folder is the listed folder itself.
	Folder *ResourceInfo
	// Children, sorted by name.
	Children []*ResourceInfo
	// Problems are children left out because their metadata is unreadable
	// (a corrupt record, a broken link). One bad child never fails a whole
	// listing.
	Problems []metadata.Problem
}

// ListFolder lists a folder.
func (fs *FS) ListFolder(ctx context.Context, ref Reference) (*Listing, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if n.Type != metadata.TypeDir {
		return nil, fs.hide(ctx, n.SpaceID, p, fmt.Errorf("%w: %s", ErrNotDir, p))
	}
	perms, err := fs.authorize(ctx, n.SpaceID, p, PermList)
	if err != nil {
		return nil, err
	}
	l, err := fs.meta.List(ctx, n.SpaceID, n.ID)
	if err != nil {
		return nil, err
	}
	out := &Listing{Folder: info(n, p), Children: make([]*ResourceInfo, 0, len(l.Children)), Problems: l.Problems}
	out.Folder.Permissions = perms
	// Children inherit the folder's permissions unless a grant of the
	// user's lies below the folder; only then is each one evaluated.
	perChild, err := fs.grantsBelow(ctx, n.SpaceID, p)
	if err != nil {
		return nil, err
	}
	for _, c := range l.Children {
		ci := childInfo(c, p)
		ci.Permissions = perms
		if perChild {
			if ci.Permissions, err = fs.permissions(ctx, n.SpaceID, ci.Path); err != nil {
				return nil, err
			}
			if !ci.Permissions.Has(PermStat) {
				continue
			}
		}
		out.Children = append(out.Children, ci)
	}
	return out, nil
}

// Download opens length bytes of a file's content from offset (length -1:
// to the end). The caller closes the reader. An offset past the end of a
// non-empty file gives ErrRange.
func (fs *FS) Download(ctx context.Context, ref Reference, offset, length int64) (io.ReadCloser, *ResourceInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if n.Type == metadata.TypeDir {
		return nil, nil, fs.hide(ctx, n.SpaceID, p, fmt.Errorf("%w: %s", ErrIsDir, p))
	}
	perms, err := fs.authorize(ctx, n.SpaceID, p, PermDownload)
	if err != nil {
		return nil, nil, err
	}
	ri := info(n, p)
	ri.Permissions = perms
	if offset < 0 || length < -1 || (offset >= n.Size && !(offset == 0 && n.Size == 0)) {
		return nil, nil, fmt.Errorf("%w: offset %d of %d bytes", ErrRange, offset, n.Size)
	}
	if n.BlobID == "" || length == 0 {
		return io.NopCloser(strings.NewReader("")), ri, nil
	}
	if length == -1 || offset+length > n.Size {
		length = n.Size - offset
	}
	rc, err := fs.blobs.Open(ctx, BlobKey(n.SpaceID, n.BlobID), offset, length)
	if err != nil {
		return nil, nil, fmt.Errorf("decomposedfs: content of %s: %w", p, err)
	}
	return rc, ri, nil
}
