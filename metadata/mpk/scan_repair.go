package mpk

// Repair primitives for the consistency checker (decomposedfs/check).
//
// Each one takes the locks an ordinary operation on the same files would
// take (lock.go: the namespace lock first where a folder changes place,
// then node stripes in ascending order), reads what it is about to change
// again while it holds them, hands that to the caller's verify or fn
// callback, and changes nothing if the callback says no. So a checker that
// found a problem minutes ago acts only if the problem is still there, and a
// concurrent operation of the server either happens before (and the
// callback sees its result) or after (and sees the repair's).
//
// Nothing here deletes what could matter: a primitive that takes a file out
// of the store renames it to a caller-given path (saveTo) on the same
// volume, and unlinks only when the caller passes "". Every change is made
// visible to caches the way the ordinary operations make it (new stamps,
// bumped folder directories, a new namespace version where paths change).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// LinkRef names a folder entry: the folder and the name in it.
type LinkRef struct {
	Parent string
	Name   string
}

// preserve hard-links the file at path to saveTo (creating its directory),
// so that whatever replaces path later leaves the old version behind.
func preserve(path, saveTo string) error {
	if saveTo == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(saveTo), 0o755); err != nil {
		return fmt.Errorf("mpk: preserve %s: %w", path, err)
	}
	if err := os.Link(path, saveTo); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mpk: preserve %s: %w", path, err)
	}
	return nil
}

// moveOut renames path to saveTo (creating its directory), or removes it
// (unlink, or rmdir for a directory, which must be empty) when saveTo is "".
func moveOut(path, saveTo string) error {
	if saveTo == "" {
		err := unix.Unlink(path)
		if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
			err = unix.Rmdir(path)
		}
		if err != nil {
			return &os.PathError{Op: "remove", Path: path, Err: err}
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(saveTo), 0o755); err != nil {
		return fmt.Errorf("mpk: move aside: %w", err)
	}
	return os.Rename(path, saveTo)
}

// RepairRecord replaces the record of node id with what fn makes of the
// record as it is on disk (read under the node's lock, in whatever state).
// fn returns nil to change nothing. The record must keep its id and space;
// a folder keeps its tree attribute. The old record file, if any, is kept
// at saveTo (a hard link) unless saveTo is "". The folders that list the
// node, before and after, get new directory mtimes so that cached listings
// notice. It returns the record written, or nil.
func (b *Backend) RepairRecord(ctx context.Context, sid, id, saveTo string, fn func(RawRecord) (*metadata.Node, error)) (*metadata.Node, error) {
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return nil, err
	}
	raw := b.ReadRaw(sid, id)
	n, err := fn(raw)
	if err != nil || n == nil {
		unlock()
		return nil, err
	}
	if n.ID != id || n.SpaceID != sid {
		unlock()
		return nil, fmt.Errorf("mpk: repair of %s may not change the record's id or space", id)
	}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		unlock()
		return nil, err
	}
	var tree []byte
	if n.Type == metadata.TypeDir {
		tree = encodeTree(raw.Tree)
	}
	path := b.recordPath(sid, id)
	if raw.State != RecordMissing {
		if err := preserve(path, saveTo); err != nil {
			unlock()
			return nil, err
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		unlock()
		return nil, fmt.Errorf("mpk: repair %s: %w", id, err)
	}
	err = b.replaceFile(path, rec, cache.NextAfter(raw.Stamp.Mtime), tree)
	b.nodes.Invalidate(id)
	unlock()
	if err != nil {
		return nil, fmt.Errorf("mpk: repair %s: %w", id, err)
	}
	n.Tree = raw.Tree
	for _, p := range []string{n.ParentID, oldParent(raw)} {
		if p != "" && metadata.ValidateID(p) == nil {
			if err := b.touchFolder(ctx, sid, p); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func oldParent(r RawRecord) string {
	if r.Node == nil {
		return ""
	}
	return r.Node.ParentID
}

// RelinkNode links node id into folder toParent as toName and makes its
// record say so: the repair of a node that has lost its link (a crash
// between writing a record and linking it, a folder entry removed by hand)
// or whose link sits in a folder that no longer exists (from; its entry is
// renamed, and must still link to id). fn, if not nil, may change the
// record on the way (clear a trash mark, add properties), but not its
// identity or link. Like MoveNode, a folder is relinked under the space's
// namespace lock and refused if toParent lies below it. The name must be
// free (ErrExist). It returns the record before and after.
//
// RelinkNode propagates nothing: the relinked subtree was counted nowhere
// (or in a folder that no longer exists), so the caller adds its tree size
// to toParent's ancestors with Propagate.
func (b *Backend) RelinkNode(ctx context.Context, sid, id, toParent, toName string, from *LinkRef, fn func(*metadata.Node) error) (old, relinked *metadata.Node, err error) {
	if err := validIDs(sid, id, toParent); err != nil {
		return nil, nil, err
	}
	if err := metadata.ValidateName(toName); err != nil {
		return nil, nil, err
	}
	if id == sid {
		return nil, nil, fmt.Errorf("%w: relink %s", metadata.ErrRoot, id)
	}
	first := b.ReadRaw(sid, id)
	if first.State != RecordOK {
		return nil, nil, fmt.Errorf("mpk: relink %s: record is %s: %w", id, first.State, first.Err)
	}
	if first.Node.Type == metadata.TypeDir {
		unlockNS, err := lockNamespace(ctx, b.spacePath(sid)+"/"+nsFile)
		if err != nil {
			return nil, nil, err
		}
		defer unlockNS()
		if err := b.checkCycle(ctx, sid, id, toParent); err != nil {
			return nil, nil, err
		}
	}
	ids := []string{id, toParent}
	if from != nil {
		ids = append(ids, from.Parent)
	}
	unlock, err := b.locks.lockNodes(ctx, sid, ids...)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if old, err = b.readFresh(sid, id); err != nil {
		return nil, nil, err
	}
	np, err := b.readFresh(sid, toParent)
	if err != nil {
		return nil, nil, err
	}
	if np.Type != metadata.TypeDir || np.Trashed != 0 {
		return nil, nil, fmt.Errorf("%w: %s is not a live folder", metadata.ErrNotDir, toParent)
	}
	toDir := b.dirPath(sid, toParent)
	target := toDir + "/" + toName
	fromDir := ""
	if from != nil {
		fromDir = b.dirPath(sid, from.Parent)
		src := fromDir + "/" + from.Name
		if l, err := readLink(src); err != nil || l != id {
			return nil, nil, fmt.Errorf("%w: %s no longer links to %s", metadata.ErrNotFound, src, id)
		}
		err = unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, target, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			if err = unix.Symlink(id, target); err == nil {
				unix.Unlink(src)
			}
		}
		if err != nil {
			return nil, nil, linkError(err, toName, toParent)
		}
		b.dirChanged(from.Parent, from.Name)
	} else if err := unix.Symlink(id, target); err != nil {
		return nil, nil, linkError(err, toName, toParent)
	}
	b.dirChanged(toParent, toName)
	n := old.Clone()
	n.ParentID, n.Name = toParent, toName
	if fn != nil {
		if err := fn(n); err != nil {
			return nil, nil, err
		}
		if n.ID != old.ID || n.SpaceID != old.SpaceID || n.ParentID != toParent || n.Name != toName || n.Type != old.Type {
			return nil, nil, fmt.Errorf("mpk: relink of %s may not change its identity or link", id)
		}
	}
	if _, err := b.rewrite(old, n); err != nil {
		return nil, nil, err
	}
	n.Tree = old.Tree
	if err := b.bumpMtime(toDir); err != nil {
		return nil, nil, err
	}
	if fromDir != "" {
		if err := b.bumpMtime(fromDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
	}
	if old.Type == metadata.TypeDir {
		if err := b.bumpNamespace(sid); err != nil {
			return nil, nil, err
		}
	}
	if fromDir != "" {
		if err := b.syncDir(fromDir); err != nil {
			return nil, nil, err
		}
	}
	return old, n, b.syncDir(toDir)
}

func linkError(err error, name, parent string) error {
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, name, parent)
	}
	return fmt.Errorf("mpk: relink: %w", err)
}

// UnlinkEntry takes the entry name out of folder folderID's directory,
// under the folder's lock, if verify (given the entry as it is now) agrees:
// renamed to saveTo, or removed if saveTo is "". The folder's directory
// gets a new mtime. A missing entry gives an error wrapping
// fs.ErrNotExist.
func (b *Backend) UnlinkEntry(ctx context.Context, sid, folderID, name, saveTo string, verify func(FolderEntry) error) error {
	if err := validIDs(sid, folderID); err != nil {
		return err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, folderID)
	if err != nil {
		return err
	}
	defer unlock()
	dir := b.dirPath(sid, folderID)
	path := dir + "/" + name
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	e := FolderEntry{Name: name, Type: fileModeType(st.Mode)}
	if e.Type == fs.ModeSymlink {
		e.Target, e.Err = readLink(path)
	} else {
		e.Err = fmt.Errorf("%w: %s is not a link", metadata.ErrCorrupt, path)
	}
	if err := verify(e); err != nil {
		return err
	}
	if err := moveOut(path, saveTo); err != nil {
		return err
	}
	b.dirChanged(folderID, name)
	if err := b.bumpMtime(dir); err != nil {
		return err
	}
	return b.syncDir(dir)
}

func fileModeType(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFREG:
		return 0
	}
	return fs.ModeIrregular
}

// MoveAside takes a file or directory out of the store: renamed to saveTo,
// or removed if saveTo is "" (a directory only if it is empty). It holds
// the locks of the given keys of space sid (node ids, or "space:" for the
// space record) and calls verify with the path's stamp first; verify
// decides whether it is still what the caller thinks. Cached values of the
// keys are dropped. A missing path gives an error wrapping fs.ErrNotExist.
func (b *Backend) MoveAside(ctx context.Context, sid string, keys []string, path, saveTo string, verify func(cache.Stamp) error) error {
	if len(keys) > 0 {
		unlock, err := b.locks.lockNodes(ctx, sid, keys...)
		if err != nil {
			return err
		}
		defer unlock()
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if verify != nil {
		if err := verify(cache.StampOf(&st)); err != nil {
			return err
		}
	}
	if err := moveOut(path, saveTo); err != nil {
		return err
	}
	for _, k := range keys {
		b.nodes.Invalidate(k)
		b.listings.Invalidate(k)
	}
	if metadata.ValidateID(sid) == nil {
		b.spaces.Invalidate(sid)
		if path == b.spacePath(sid) {
			b.handles.Delete(sid)
		}
	}
	return b.syncDir(filepath.Dir(path))
}

// AddTrashEntry gives node id a trash entry, under the node's lock, if
// verify agrees with the record as it is: the repair of a trashed node that
// cannot be found in the trash. An existing entry is left as it is.
func (b *Backend) AddTrashEntry(ctx context.Context, sid, id string, verify func(RawRecord) error) error {
	if err := validIDs(sid, id); err != nil {
		return err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return err
	}
	defer unlock()
	if err := verify(b.ReadRaw(sid, id)); err != nil {
		return err
	}
	if err := os.MkdirAll(b.spacePath(sid)+"/"+trashDir, 0o755); err != nil {
		return fmt.Errorf("mpk: trash entry: %w", err)
	}
	return b.addTrashEntry(sid, id)
}

// MakeFolderDir creates the directory of folder id, under its lock, if
// verify agrees with the record as it is: the repair of a folder record
// without its directory (it is then an empty folder).
func (b *Backend) MakeFolderDir(ctx context.Context, sid, id string, verify func(RawRecord) error) error {
	if err := validIDs(sid, id); err != nil {
		return err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return err
	}
	defer unlock()
	if err := verify(b.ReadRaw(sid, id)); err != nil {
		return err
	}
	if err := os.Mkdir(b.dirPath(sid, id), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mpk: make folder directory: %w", err)
	}
	b.listings.Invalidate(id)
	return b.syncDir(b.shardPath(sid, id))
}

// FolderScan is what RecomputeTree read of a folder, under its lock.
type FolderScan struct {
	Folder   RawRecord
	DirStamp cache.Stamp
}

// RecomputeTree sets the tree values of folder id from its children, under
// the folder's lock: child is called for every entry of the folder's
// directory with the child's record as it is on disk (read without the
// child's lock: children's deltas reach the folder only through its lock,
// which this holds), then decide says, from the folder as it is, what its
// tree values are to be and whether to store them. A stored change gets a
// new tree mtime (so a new etag) later than every earlier one, and is made
// visible like a propagation step; the folder's parent directory is bumped
// too, since its listing shows the folder's tree size. It returns the tree
// values the folder has afterwards.
//
// Nothing is propagated: the caller recomputes bottom-up, so that each
// folder's sum is made of children that are right already.
func (b *Backend) RecomputeTree(ctx context.Context, sid, id string, child func(FolderEntry, RawRecord) error, decide func(FolderScan) (metadata.TreeStats, bool, error)) (metadata.TreeStats, error) {
	if err := validIDs(sid, id); err != nil {
		return metadata.TreeStats{}, err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, id)
	if err != nil {
		return metadata.TreeStats{}, err
	}
	raw := b.ReadRaw(sid, id)
	if raw.Node == nil || raw.Node.Type != metadata.TypeDir || (raw.State != RecordOK && raw.State != RecordMisplaced) {
		unlock()
		return metadata.TreeStats{}, fmt.Errorf("%w: %s is not a readable folder record (%s)", metadata.ErrNotDir, id, raw.State)
	}
	dirStamp, err := b.ReadFolder(ctx, sid, id, func(e FolderEntry) error {
		var r RawRecord
		if e.Err == nil {
			r = b.ReadRaw(sid, e.Target)
		}
		return child(e, r)
	})
	if err != nil {
		unlock()
		return raw.Tree, err
	}
	t, store, err := decide(FolderScan{Folder: raw, DirStamp: dirStamp})
	if err != nil || !store {
		unlock()
		return raw.Tree, err
	}
	path := b.recordPath(sid, id)
	fd, err := openRetry(path, openRead, 0)
	if err != nil {
		unlock()
		return raw.Tree, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		unlock()
		return raw.Tree, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	t.Mtime = cache.NextAfter(max(t.Mtime, raw.Tree.Mtime, st.Mtim.Nano()))
	err = unix.Fsetxattr(fd, treeXattr, encodeTree(t), 0)
	if err == nil {
		err = futimes(fd, t.Mtime)
	}
	unix.Close(fd)
	if err != nil {
		unlock()
		return raw.Tree, &os.PathError{Op: "set tree", Path: path, Err: err}
	}
	b.nodes.Invalidate(id)
	b.dirChanged(id)
	err = b.bumpMtime(b.dirPath(sid, id))
	unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return t, err
	}
	if p := raw.Node.ParentID; p != "" && raw.Node.Trashed == 0 {
		if err := b.touchFolder(ctx, sid, p); err != nil {
			return t, err
		}
	}
	return t, nil
}

// RepairSpaceRecord replaces the record of space sid with what fn makes of
// it (the record as read under the space's lock, or the error reading it
// gave), and makes sure the space's directories and namespace file exist.
// fn returns nil to change nothing. The old record file, if any, is kept at
// saveTo unless that is "".
func (b *Backend) RepairSpaceRecord(ctx context.Context, sid, saveTo string, fn func(*metadata.Space, error) (*metadata.Space, error)) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	unlock, err := b.locks.lockNodes(ctx, sid, "space:")
	if err != nil {
		return err
	}
	defer unlock()
	dir := b.spacePath(sid)
	path := dir + "/" + spaceRecord
	cur, size, rerr := readSpaceRaw(path, sid)
	s, err := fn(cur, rerr)
	if err != nil || s == nil {
		return err
	}
	if s.ID != sid {
		return fmt.Errorf("mpk: repair of space %s may not change its id", sid)
	}
	rec, err := metadata.EncodeSpaceFrom(s, size)
	if err != nil {
		return err
	}
	for _, d := range []string{dir + "/" + nodesDir, dir + "/" + trashDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("mpk: repair space %s: %w", sid, err)
		}
	}
	if err := b.writeNew(dir+"/"+nsFile, nil); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mpk: repair space %s: %w", sid, err)
	}
	if !errors.Is(rerr, metadata.ErrNotFound) {
		if err := preserve(path, saveTo); err != nil {
			return err
		}
	}
	if err := b.replaceFile(path, rec, cache.NextTime(), nil); err != nil {
		return fmt.Errorf("mpk: repair space %s: %w", sid, err)
	}
	b.spaces.Invalidate(sid)
	return nil
}
