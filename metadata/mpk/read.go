package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// ReadNode returns a node record, from the cache when its stamp still
// matches the record file.
func (b *Backend) ReadNode(ctx context.Context, sid, id string) (*metadata.Node, error) {
	if e, ok := b.nodes.Get(id); ok && e.Value.SpaceID == sid {
		return e.Value, nil
	}
	if err := validIDs(sid, id); err != nil {
		return nil, err
	}
	e, err := b.nodes.GetOrLoad(id, func() (cache.Path, cache.Stamp, *metadata.Node, int64, error) {
		path := b.recordPath(sid, id)
		n, err := b.readNodeFile(path, sid, id)
		if err != nil {
			return cache.Path{}, cache.Stamp{}, nil, 0, err
		}
		// Every cached node of a space shares one copy of its space id.
		n.SpaceID = b.internSpace(sid)
		return b.cachePath(sid, id[:2]+"/"+id+recordExt), n.Stamp, n, nodeCost(n), nil
	})
	if err != nil {
		return nil, err
	}
	if e.Value.SpaceID != sid {
		// The same id in two spaces only happens when a space was copied
		// by hand; read the record of the space that was asked for.
		return b.readNodeFile(b.recordPath(sid, id), sid, id)
	}
	return e.Value, nil
}

// readFresh reads a record from disk, bypassing the cache: the read of every
// read-modify-write, made while holding the node's lock.
func (b *Backend) readFresh(sid, id string) (*metadata.Node, error) {
	return b.readNodeFile(b.recordPath(sid, id), sid, id)
}

// nodeCost estimates the memory of a cached node.
func nodeCost(n *metadata.Node) int64 {
	c := int64(unsafe.Sizeof(*n)) + int64(len(n.ID)+len(n.SpaceID)+len(n.ParentID)+len(n.Name)+len(n.BlobID)+len(n.MimeType)) +
		int64(len(n.Checksums.SHA1)+len(n.Checksums.MD5)+len(n.Checksums.Adler32)) + 24 // etag
	for k, v := range n.Props {
		c += int64(len(k)+len(v)) + 48
	}
	return c
}

// Lookup resolves one name in a folder. A valid cached listing answers it;
// otherwise the name is read with readlink(2) and cached by itself, also
// when absent, both validated by the folder directory's stamp.
func (b *Backend) Lookup(ctx context.Context, sid, parentID, name string) (*metadata.Node, error) {
	if err := metadata.ValidateName(name); err != nil {
		return nil, err
	}
	if e, ok := b.listings.Get(parentID); ok && e.Value.Children != nil {
		if n := findChild(e.Value, name); n != nil && n.SpaceID == sid {
			return n, nil
		}
	}
	if err := validIDs(sid, parentID); err != nil {
		return nil, err
	}
	key := parentID + "/" + name
	e, err := b.names.GetOrLoad(key, func() (cache.Path, cache.Stamp, string, int64, error) {
		dir := b.dirPath(sid, parentID)
		cp := b.cachePath(sid, parentID[:2]+"/"+parentID)
		st, err := cp.Stat()
		if err != nil {
			return cache.Path{}, st, "", 0, b.folderError(ctx, sid, parentID, err)
		}
		id, err := readLink(dir + "/" + name)
		if errors.Is(err, fs.ErrNotExist) {
			id = ""
		} else if err != nil {
			return cache.Path{}, st, "", 0, err
		}
		return cp, st, id, int64(len(key) + len(id)), nil
	})
	if err != nil {
		return nil, err
	}
	if e.Value == "" {
		return nil, fmt.Errorf("%w: %q in folder %s", metadata.ErrNotFound, name, parentID)
	}
	n, err := b.ReadNode(ctx, sid, e.Value)
	if err != nil {
		return nil, err
	}
	return asLinked(n, parentID, name), nil
}

// asLinked returns n as the link that led to it names it. A record whose
// parent and name disagree with the link is being moved (the link is
// renamed first, then the record rewritten) or was split by a crash between
// the two steps: either way the link is the truth, for Lookup as for List.
// The checker reports a disagreement that persists.
func asLinked(n *metadata.Node, parentID, name string) *metadata.Node {
	if n.ParentID == parentID && n.Name == name {
		return n
	}
	n = n.Clone()
	n.ParentID, n.Name = parentID, name
	n.Seal()
	return n
}

func findChild(l *metadata.Listing, name string) *metadata.Node {
	i, ok := slices.BinarySearchFunc(l.Children, name, func(n *metadata.Node, name string) int {
		return strings.Compare(n.Name, name)
	})
	if !ok {
		return nil
	}
	return l.Children[i]
}

// folderError explains why a folder's directory could not be used: the
// folder does not exist, is a file, or the volume failed.
func (b *Backend) folderError(ctx context.Context, sid, id string, err error) error {
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("mpk: folder %s: %w", id, err)
	}
	n, rerr := b.ReadNode(ctx, sid, id)
	switch {
	case rerr != nil:
		return rerr
	case n.Type != metadata.TypeDir:
		return fmt.Errorf("%w: %s", metadata.ErrNotDir, id)
	}
	return fmt.Errorf("mpk: %w: folder %s has a record but no directory", metadata.ErrCorrupt, id)
}

// readLink reads a child link and checks that it names a node id.
func readLink(path string) (string, error) {
	var buf [64]byte
	n, err := unix.Readlink(path, buf[:])
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			return "", fmt.Errorf("%w: %s is not a link", metadata.ErrCorrupt, path)
		}
		return "", &os.PathError{Op: "readlink", Path: path, Err: err}
	}
	id := string(buf[:n])
	if metadata.ValidateID(id) != nil {
		return "", fmt.Errorf("%w: link %s names %q, not a node id", metadata.ErrCorrupt, path, id)
	}
	return id, nil
}

// List returns a folder's children, cached as a whole and validated by one
// stat of the folder's directory. Writers bump that directory's mtime
// whenever an entry changes and whenever a child's record or tree changes,
// so one stat covers every child.
func (b *Backend) List(ctx context.Context, sid, parentID string) (*metadata.Listing, error) {
	// Ids are checked before the cache is asked: the cache is keyed by
	// folder id alone, and an empty listing has no child that could tell
	// which space (valid or not) it was read in. Its path tells.
	if err := validIDs(sid, parentID); err != nil {
		return nil, err
	}
	e, err := b.listings.GetOrLoad(parentID, func() (cache.Path, cache.Stamp, *metadata.Listing, int64, error) {
		return b.loadListing(ctx, sid, parentID)
	})
	if err != nil {
		return nil, err
	}
	if !b.inSpace(e.Path.String(), sid) {
		// The same folder id in two spaces only happens when a space was
		// copied by hand; list the space that was asked for, uncached.
		_, _, l, _, err := b.loadListing(ctx, sid, parentID)
		return l, err
	}
	return e.Value, nil
}

func (b *Backend) loadListing(ctx context.Context, sid, parentID string) (cache.Path, cache.Stamp, *metadata.Listing, int64, error) {
	dir := b.dirPath(sid, parentID)
	path := b.cachePath(sid, parentID[:2]+"/"+parentID)
	st, err := path.Stat()
	if err != nil {
		return path, st, nil, 0, b.folderError(ctx, sid, parentID, err)
	}
	names, err := readDirNames(dir)
	if err != nil {
		return path, st, nil, 0, b.folderError(ctx, sid, parentID, err)
	}
	slices.Sort(names)
	type child struct {
		n   *metadata.Node
		id  string
		err error
	}
	kids := make([]child, len(names))
	read := func(i int) {
		id, err := readLink(dir + "/" + names[i])
		if err != nil {
			kids[i].err = err
			return
		}
		kids[i].id = id
		kids[i].n, kids[i].err = b.ReadNode(ctx, sid, id)
	}
	// A cold listing is one readlink and one record read per child, all
	// from the page cache: CPU-bound system calls that run side by side on
	// as many cores as there are. Large folders are read by a few
	// goroutines at once (the results keep name order).
	if workers := min(listWorkers, len(names)/listChunk); workers > 1 {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(names) || ctx.Err() != nil {
						return
					}
					read(i)
				}
			})
		}
		wg.Wait()
	} else {
		for i := range names {
			if ctx.Err() != nil {
				break
			}
			read(i)
		}
	}
	if err := ctx.Err(); err != nil {
		return path, st, nil, 0, err
	}
	l := &metadata.Listing{Children: make([]*metadata.Node, 0, len(names))}
	cost := int64(64)
	for i, name := range names {
		k := kids[i]
		if k.err != nil {
			l.Problems = append(l.Problems, metadata.Problem{Name: name, ID: k.id, Err: k.err})
			continue
		}
		n := asLinked(k.n, parentID, name)
		l.Children = append(l.Children, n)
		cost += 8 + nodeCost(n)
	}
	return path, st, l, cost, nil
}

// listWorkers bounds the goroutines reading one listing; a listing gets
// one per listChunk children, so small folders are read by the caller
// alone.
const (
	listWorkers = 8
	listChunk   = 64
)

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// internSpace returns the canonical copy of a space id string.
func (b *Backend) internSpace(sid string) string {
	v, _ := b.spaceIDs.LoadOrStore(sid, sid)
	return v.(string)
}
