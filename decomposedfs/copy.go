package decomposedfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// CopyOptions are optional parameters of Copy.
type CopyOptions struct {
	// Overwrite lets the copy replace an existing target, which goes to
	// the trash; otherwise an existing target gives ErrExist.
	Overwrite bool
	// Shallow copies a folder without its content (WebDAV Depth: 0).
	Shallow bool
}

// blobCopier is the optional server-side copy of a blob store.
type blobCopier interface {
	Copy(ctx context.Context, src, dst string, opts blobstore.PutOptions) (blobstore.Info, error)
}

// Copy copies a file or folder, with its dead properties, to dst, which may
// be in another space. Content never passes through the caller: the blob
// store copies it server-side where it can (S3 CopyObject), and the copy
// gets blobs of its own, so the two trees stay independent. A folder cannot
// be copied into itself (ErrCycle).
func (fs *FS) Copy(ctx context.Context, src, dst Reference, opts CopyOptions) (*ResourceInfo, error) {
	n, srcPath, err := fs.resolve(ctx, src)
	if err != nil {
		return nil, err
	}
	parent, ppath, name, err := fs.resolveParent(ctx, dst)
	if err != nil {
		return nil, err
	}
	dstPath := lookup.Join(ppath, name)
	// A copy reads content: a folder's too (its files), not just its
	// listing.
	read := PermDownload
	if n.Type == metadata.TypeDir {
		read = PermList | PermDownload
	}
	if _, err := fs.authorize(ctx, n.SpaceID, srcPath, read); err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, parent.SpaceID, ppath, createPerm(n.Type)); err != nil {
		return nil, err
	}
	if parent.SpaceID == n.SpaceID && n.Type == metadata.TypeDir && !opts.Shallow && under(dstPath, srcPath) {
		return nil, fmt.Errorf("%w: copy %s into %s", ErrCycle, srcPath, dstPath)
	}
	// Where a grant of the user's lies below the folder (a denial, say),
	// what the user may not read is left out, as listings leave it out.
	var keep func(*metadata.Node) (bool, error)
	if n.Type == metadata.TypeDir && !opts.Shallow {
		below, err := fs.grantsBelow(ctx, n.SpaceID, srcPath)
		if err != nil {
			return nil, err
		}
		if below {
			keep = func(c *metadata.Node) (bool, error) {
				p, err := fs.lu.PathOf(ctx, c)
				if err != nil {
					return false, err
				}
				perms, err := fs.permissions(ctx, c.SpaceID, p)
				need := PermStat | PermDownload
				if c.Type == metadata.TypeDir {
					need = PermStat | PermList | PermDownload
				}
				return perms.Has(need), err
			}
		}
	}
	if err := fs.checkLocks(ctx, parent.SpaceID, target{path: ppath}, target{path: dstPath, deep: true}); err != nil {
		return nil, err
	}
	// The copy's blobs count against the target space's quota like an
	// upload's: held before anything is stored, given back once the tree
	// size counts them.
	need := n.TreeSize()
	if opts.Shallow && n.Type == metadata.TypeDir {
		need = 0
	}
	res, err := fs.reserve(ctx, parent.SpaceID, "", need, 0, false)
	if err != nil {
		return nil, err
	}
	defer fs.release(ctx, res)
	replaced := ""
	if existing, err := fs.meta.Lookup(ctx, parent.SpaceID, parent.ID, name); err == nil {
		if !opts.Overwrite {
			return nil, fmt.Errorf("%w: %s", ErrExist, dstPath)
		}
		if existing.ID == n.ID {
			return nil, fmt.Errorf("%w: copy %s onto itself", ErrCycle, srcPath)
		}
		// The destination's lock stays, and takes in the copy (RFC 4918,
		// 7.7).
		if err := fs.delete(ctx, Reference{SpaceID: parent.SpaceID, NodeID: existing.ID}, true); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		replaced = existing.ID
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	top, size, err := fs.copyNode(ctx, n, parent, name, opts.Shallow, keep)
	if err != nil {
		return nil, err
	}
	if err := fs.locksMoved(ctx, parent.SpaceID, "", dstPath, top.ID, replaced); err != nil {
		return nil, err
	}
	if n.Type == metadata.TypeDir {
		size = 0 // the copied folders propagated their own content
	}
	if err := fs.propagate(ctx, parent.SpaceID, parent.ID, size); err != nil {
		return nil, err
	}
	if top, err = fs.meta.ReadNode(ctx, top.SpaceID, top.ID); err != nil {
		return nil, err
	}
	return info(top, dstPath), nil
}

// copyNode copies n (and, for a folder, its subtree) below parent. A copied
// folder propagates the sizes of its direct files itself, so every file
// counts once in every ancestor; a copied file's size is returned for the
// caller to propagate. keep, if not nil, selects the descendants to copy.
func (fs *FS) copyNode(ctx context.Context, n, parent *metadata.Node, name string, shallow bool, keep func(*metadata.Node) (bool, error)) (*metadata.Node, int64, error) {
	now := cache.NextTime()
	c := &metadata.Node{
		ID: uuid.NewString(), SpaceID: parent.SpaceID, ParentID: parent.ID, Name: name, Type: n.Type,
		Size: n.Size, Mtime: n.Mtime, Btime: now, MimeType: n.MimeType, Checksums: n.Clone().Checksums,
	}
	if len(n.Props) > 0 {
		c.Props = n.Clone().Props
	}
	if n.Type == metadata.TypeFile {
		if n.BlobID != "" {
			c.BlobID = uuid.NewString()
			if err := fs.copyBlob(ctx, n, c); err != nil {
				return nil, 0, err
			}
		}
		if err := fs.meta.CreateNode(ctx, c); err != nil {
			fs.deleteBlob(ctx, c.SpaceID, c.BlobID)
			return nil, 0, err
		}
		return c, c.Size, nil
	}
	if err := fs.meta.CreateNode(ctx, c); err != nil {
		return nil, 0, err
	}
	if shallow {
		return c, 0, nil
	}
	l, err := fs.meta.List(ctx, n.SpaceID, n.ID)
	if err != nil {
		return nil, 0, err
	}
	if len(l.Problems) > 0 {
		p := l.Problems[0]
		return nil, 0, fmt.Errorf("decomposedfs: copy: %d unreadable children in %s, first %q: %w", len(l.Problems), n.ID, p.Name, p.Err)
	}
	var files int64
	for _, child := range l.Children {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if keep != nil {
			if ok, err := keep(child); err != nil {
				return nil, 0, err
			} else if !ok {
				continue
			}
		}
		_, size, err := fs.copyNode(ctx, child, c, child.Name, false, keep)
		if err != nil {
			return nil, 0, err
		}
		if child.Type == metadata.TypeFile {
			files += size
		}
	}
	if err := fs.propagate(ctx, c.SpaceID, c.ID, files); err != nil {
		return nil, 0, err
	}
	return c, 0, nil
}

func (fs *FS) copyBlob(ctx context.Context, from, to *metadata.Node) error {
	src, dst := BlobKey(from.SpaceID, from.BlobID), BlobKey(to.SpaceID, to.BlobID)
	popts := blobstore.PutOptions{Metadata: map[string]string{MetaSpace: to.SpaceID, MetaNode: to.ID}}
	if c, ok := fs.blobs.(blobCopier); ok {
		if _, err := c.Copy(ctx, src, dst, popts); err != nil {
			return fmt.Errorf("decomposedfs: copy content: %w", err)
		}
		return nil
	}
	rc, err := fs.blobs.Open(ctx, src, 0, -1)
	if err != nil {
		return fmt.Errorf("decomposedfs: copy content: %w", err)
	}
	defer rc.Close()
	if _, err := fs.blobs.Put(ctx, dst, rc, from.Size, popts); err != nil {
		return fmt.Errorf("decomposedfs: copy content: %w", err)
	}
	return nil
}
