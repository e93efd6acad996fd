package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// TrashItem is a subtree in a space's trash, named by the id of its top
// node.
type TrashItem struct {
	ID       string
	SpaceID  string
	Name     string
	Type     metadata.NodeType
	Size     int64 // tree size
	Deleted  time.Time
	ParentID string // where it was
	// OriginalPath is where it was, if that folder still lives ("" if not).
	OriginalPath string
}

// ListTrash lists a space's trash, newest first. It needs PermListTrash on
// the space root.
func (fs *FS) ListTrash(ctx context.Context, spaceID string) ([]TrashItem, error) {
	if err := fs.authorizeSpace(ctx, spaceID, PermListTrash); err != nil {
		return nil, err
	}
	var items []TrashItem
	err := fs.meta.ListTrash(ctx, spaceID, func(n *metadata.Node) error {
		it := TrashItem{ID: n.ID, SpaceID: n.SpaceID, Name: n.Name, Type: n.Type, Size: n.TreeSize(),
			Deleted: time.Unix(0, n.Trashed), ParentID: n.ParentID}
		if pp, err := fs.livePath(ctx, spaceID, n.ParentID); err != nil {
			return err
		} else if pp != "" {
			it.OriginalPath = lookup.Join(pp, n.Name)
		}
		items = append(items, it)
		return nil
	})
	slices.SortFunc(items, func(a, b TrashItem) int { return b.Deleted.Compare(a.Deleted) })
	return items, err
}

// authorizeSpace checks a permission on a space's root.
func (fs *FS) authorizeSpace(ctx context.Context, spaceID string, need Permissions) error {
	if err := metadata.ValidateID(spaceID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	_, err := fs.authorize(ctx, spaceID, "/", need)
	return err
}

// trashNode finds a node inside a trash item: the item itself for an empty
// path, else the node at path below it.
func (fs *FS) trashNode(ctx context.Context, spaceID, itemID, path string) (*metadata.Node, string, error) {
	if err := metadata.ValidateID(itemID); err != nil {
		return nil, "", fmt.Errorf("%w: trash item %q", ErrNotFound, itemID)
	}
	top, err := fs.meta.ReadNode(ctx, spaceID, itemID)
	if err != nil {
		return nil, "", err
	}
	if top.Trashed == 0 {
		return nil, "", fmt.Errorf("%w: %s is not in the trash", ErrNotFound, itemID)
	}
	segs, err := lookup.Split(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	n := top
	for _, s := range segs {
		if n, err = fs.meta.Lookup(ctx, spaceID, n.ID, s); err != nil {
			return nil, "", err
		}
	}
	return n, lookup.Canonical(segs), nil
}

// GetTrashItem describes one item of a space's trash.
func (fs *FS) GetTrashItem(ctx context.Context, spaceID, itemID string) (*TrashItem, error) {
	if err := fs.authorizeSpace(ctx, spaceID, PermListTrash); err != nil {
		return nil, err
	}
	n, _, err := fs.trashNode(ctx, spaceID, itemID, "")
	if err != nil {
		return nil, err
	}
	it := &TrashItem{ID: n.ID, SpaceID: n.SpaceID, Name: n.Name, Type: n.Type, Size: n.TreeSize(),
		Deleted: time.Unix(0, n.Trashed), ParentID: n.ParentID}
	if pp, err := fs.livePath(ctx, spaceID, n.ParentID); err != nil {
		return nil, err
	} else if pp != "" {
		it.OriginalPath = lookup.Join(pp, n.Name)
	}
	return it, nil
}

// ListTrashFolder lists a folder inside a trash item (path "" or "/" for
// the item itself).
func (fs *FS) ListTrashFolder(ctx context.Context, spaceID, itemID, path string) (*Listing, error) {
	if err := fs.authorizeSpace(ctx, spaceID, PermListTrash); err != nil {
		return nil, err
	}
	n, rel, err := fs.trashNode(ctx, spaceID, itemID, path)
	if err != nil {
		return nil, err
	}
	if n.Type != metadata.TypeDir {
		return nil, fmt.Errorf("%w: %s", ErrNotDir, rel)
	}
	l, err := fs.meta.List(ctx, spaceID, n.ID)
	if err != nil {
		return nil, err
	}
	out := &Listing{Folder: info(n, rel), Problems: l.Problems}
	for _, c := range l.Children {
		out.Children = append(out.Children, childInfo(c, rel))
	}
	return out, nil
}

// RestoreOptions say where a trashed node goes back to.
type RestoreOptions struct {
	// Path is a path inside the trash item to restore only that part.
	Path string
	// Target is where to restore to; nil means where the item was.
	Target *Reference
	// Overwrite lets the restore replace what has the name now (it goes
	// to the trash); otherwise a taken name gives ErrExist.
	Overwrite bool
}

// RestoreTrash brings a trash item, or a node inside it, back into the
// live tree. It needs PermRestoreTrash on the space root and the right to
// create at the target.
func (fs *FS) RestoreTrash(ctx context.Context, spaceID, itemID string, opts RestoreOptions) (*ResourceInfo, error) {
	if err := fs.authorizeSpace(ctx, spaceID, PermRestoreTrash); err != nil {
		return nil, err
	}
	n, _, err := fs.trashNode(ctx, spaceID, itemID, opts.Path)
	if err != nil {
		return nil, err
	}
	var parent *metadata.Node
	var ppath, name string
	if opts.Target != nil {
		if opts.Target.SpaceID != spaceID {
			return nil, fmt.Errorf("%w: restore into another space", ErrCrossSpace)
		}
		if parent, ppath, name, err = fs.resolveParent(ctx, *opts.Target); err != nil {
			return nil, err
		}
	} else {
		if n.ID != itemID {
			return nil, fmt.Errorf("%w: a node inside a trash item needs a target", ErrInvalidRef)
		}
		parent, err = fs.meta.ReadNode(ctx, spaceID, n.ParentID)
		if err == nil {
			ppath, err = fs.lu.PathOf(ctx, parent)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: the folder it was in is gone; restore it elsewhere", ErrNotFound)
		}
		name = n.Name
	}
	if _, err := fs.authorize(ctx, spaceID, ppath, createPerm(n.Type)); err != nil {
		return nil, err
	}
	dst := lookup.Join(ppath, name)
	if err := fs.checkLocks(ctx, spaceID, target{path: ppath}, target{path: dst, deep: true}); err != nil {
		return nil, err
	}
	if existing, err := fs.meta.Lookup(ctx, spaceID, parent.ID, name); err == nil {
		if !opts.Overwrite {
			return nil, fmt.Errorf("%w: %s", ErrExist, dst)
		}
		if err := fs.Delete(ctx, Reference{SpaceID: spaceID, NodeID: existing.ID}); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	// What comes back counts against the quota again.
	res, err := fs.reserve(ctx, spaceID, "", n.TreeSize(), 0, false)
	if err != nil {
		return nil, err
	}
	defer fs.release(ctx, res)
	var restored *metadata.Node
	if n.ID == itemID {
		restored, err = fs.meta.RestoreNode(ctx, spaceID, n.ID, parent.ID, name)
	} else {
		// A node inside a trashed folder is not marked itself: moving it
		// out of the trashed subtree brings it back.
		var res metadata.MoveResult
		res, err = fs.meta.MoveNode(ctx, spaceID, n.ID, parent.ID, name, false)
		if err == nil {
			restored = res.Moved
			// Its old folder is in the trash: the delta stops there.
			err = fs.propagate(ctx, spaceID, res.Moved.ParentID, -res.Moved.TreeSize())
		}
	}
	if err != nil {
		return nil, err
	}
	if err := fs.propagate(ctx, spaceID, parent.ID, restored.TreeSize()); err != nil {
		return nil, err
	}
	return fs.GetMD(ctx, Reference{SpaceID: spaceID, NodeID: n.ID})
}

// PurgeTrash deletes a trash item for good: its records, and then the
// blobs of its files and their revisions. It needs PermPurgeTrash.
func (fs *FS) PurgeTrash(ctx context.Context, spaceID, itemID string) error {
	if err := fs.authorizeSpace(ctx, spaceID, PermPurgeTrash); err != nil {
		return err
	}
	top, _, err := fs.trashNode(ctx, spaceID, itemID, "")
	if err != nil {
		return err
	}
	return fs.purgeSubtree(ctx, top)
}

// purgeSubtree removes the records of a trashed subtree bottom-up, then
// the blobs they referenced. Records go first: a crash in between leaves
// orphan blobs, which the checker finds and quarantines, never records
// pointing at deleted content.
func (fs *FS) purgeSubtree(ctx context.Context, top *metadata.Node) error {
	sid := top.SpaceID
	var blobs []string
	var order []string // ids, children before their folders
	var walk func(n *metadata.Node) error
	walk = func(n *metadata.Node) error {
		if n.BlobID != "" {
			blobs = append(blobs, n.BlobID)
		}
		for _, r := range n.Revisions {
			if r.BlobID != "" {
				blobs = append(blobs, r.BlobID)
			}
		}
		if n.Type == metadata.TypeDir {
			l, err := fs.meta.List(ctx, sid, n.ID)
			if err != nil {
				return err
			}
			if len(l.Problems) > 0 {
				return fmt.Errorf("decomposedfs: purge: %d unreadable children in %s (run s3dfs check): %w", len(l.Problems), n.ID, l.Problems[0].Err)
			}
			for _, c := range l.Children {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		order = append(order, n.ID)
		return nil
	}
	if err := walk(top); err != nil {
		return err
	}
	for _, id := range order {
		if err := fs.meta.PurgeNode(ctx, sid, id); err != nil {
			return err
		}
	}
	for _, b := range blobs {
		fs.deleteBlob(ctx, sid, b)
	}
	return nil
}

// EmptyTrash purges every item of a space's trash and returns how many.
func (fs *FS) EmptyTrash(ctx context.Context, spaceID string) (int, error) {
	return fs.PurgeTrashOlderThan(ctx, spaceID, 0)
}

// PurgeTrashOlderThan purges the items of a space's trash deleted more than
// age ago (all of them for 0) and returns how many it purged.
func (fs *FS) PurgeTrashOlderThan(ctx context.Context, spaceID string, age time.Duration) (int, error) {
	items, err := fs.ListTrash(ctx, spaceID)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-age)
	n := 0
	for _, it := range items {
		if age > 0 && it.Deleted.After(cutoff) {
			continue
		}
		if err := fs.PurgeTrash(ctx, spaceID, it.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}
