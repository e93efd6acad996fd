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
	return info(n, p), nil
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
		return nil, fmt.Errorf("%w: %s", ErrNotDir, p)
	}
	l, err := fs.meta.List(ctx, n.SpaceID, n.ID)
	if err != nil {
		return nil, err
	}
	out := &Listing{Folder: info(n, p), Children: make([]*ResourceInfo, len(l.Children)), Problems: l.Problems}
	for i, c := range l.Children {
		out.Children[i] = childInfo(c, p)
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
		return nil, nil, fmt.Errorf("%w: %s", ErrIsDir, p)
	}
	ri := info(n, p)
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
