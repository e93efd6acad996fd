// Package fstest checks that a decomposedfs store is consistent, for tests:
//
//   - every folder's tree size is the sum of the files below it, in the live
//     tree and in every trashed subtree;
//   - every link agrees with its child's record, and only trash items carry
//     a trash mark;
//   - every blob a record references (a file's content, its revisions', in
//     the live tree or in the trash) and every tail blob of an upload in
//     progress exists with the recorded size;
//   - where the backend can enumerate its records: every record is
//     reachable from its space's root or from a trash item, and every blob
//     in the store is referenced by something;
//   - every unexpired quota reservation belongs to an upload in progress.
//
// It is a small stand-in until the full checker (decomposedfs/check)
// exists, and it reads everything into memory: test-sized stores only.
package fstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// NodeWalker is implemented by backends that can enumerate all records of a
// space, trashed ones included (metadata/mpk does).
type NodeWalker interface {
	WalkNodes(ctx context.Context, sid string, fn func(id string, n *metadata.Node, err error) error) error
}

// Check returns a description of every inconsistency found in all spaces.
func Check(ctx context.Context, fs *decomposedfs.FS) ([]string, error) {
	c := &checker{meta: fs.Backend(), blobs: fs.Blobs(), referenced: map[string]ref{}, mayExist: map[string]bool{}, reached: map[string]bool{}}
	var spaces []*metadata.Space
	err := c.meta.ListSpaces(ctx, func(s *metadata.Space) error {
		spaces = append(spaces, s)
		return nil
	}, func(id string, err error) { c.report("space %s unreadable: %v", id, err) })
	if err != nil {
		return nil, err
	}
	// Uploads in progress: their tail blobs are referenced, and they are
	// the only legitimate holders of quota reservations.
	uploads := map[string]*metadata.Upload{}
	now := time.Now().UnixNano()
	err = c.meta.ListUploads(ctx, func(u *metadata.Upload) error {
		uploads[u.ID] = u
		for _, t := range u.Tails {
			c.refer(u.SpaceID, t.BlobID, t.Size, "tail of upload "+u.ID)
		}
		if u.Done == "" && u.Offset == u.Size && u.Size > 0 {
			// Assembled by a finish that failed for a passing reason (or
			// died before its commit): the next finish uses this blob.
			c.mayExist[decomposedfs.BlobKey(u.SpaceID, u.BlobID)] = true
		}
		return nil
	}, func(id string, err error) { c.report("upload %s unreadable: %v", id, err) })
	if err != nil {
		return nil, err
	}
	walker, canWalk := c.meta.(NodeWalker)
	for _, s := range spaces {
		sid := s.ID
		if _, err := c.folder(ctx, sid, sid, "/", false); err != nil {
			return nil, err
		}
		err := c.meta.ListTrash(ctx, sid, func(n *metadata.Node) error {
			where := "trash:" + n.ID
			c.reached[sid+"/"+n.ID] = true
			if n.Type == metadata.TypeDir {
				_, err := c.folder(ctx, sid, n.ID, where, true)
				return err
			}
			c.file(sid, n, where)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list trash of %s: %w", sid, err)
		}
		reservations, err := c.meta.ReadReservations(ctx, sid)
		if err != nil {
			return nil, fmt.Errorf("reservations of %s: %w", sid, err)
		}
		for _, r := range reservations {
			if r.Expires <= now {
				continue
			}
			u, ok := uploads[r.ID]
			if !ok || u.SpaceID != sid || u.Done != "" || u.Expires <= now {
				c.report("space %s: reservation %s of %d bytes is held by no upload in progress", sid, r.ID, r.Bytes)
			}
		}
		if canWalk {
			err := walker.WalkNodes(ctx, sid, func(id string, n *metadata.Node, err error) error {
				if err != nil {
					c.report("record %s unreadable: %v", id, err)
					return nil
				}
				if !c.reached[sid+"/"+id] {
					c.report("record %s (%q, parent %s) is neither in the tree nor in the trash", id, n.Name, n.ParentID)
					c.file(sid, n, "unreachable:"+id) // its blobs are still referenced
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	stored := map[string]int64{}
	err = c.blobs.List(ctx, "", func(bi blobstore.Info) error {
		stored[bi.Key] = bi.Size
		if _, ok := c.referenced[bi.Key]; !ok && canWalk && !c.mayExist[bi.Key] {
			c.report("orphan blob %s (%d bytes)", bi.Key, bi.Size)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(c.referenced))
	for k := range c.referenced {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := c.referenced[k]
		size, ok := stored[k]
		switch {
		case !ok:
			c.report("%s: blob %s missing", r.by, k)
		case size != r.size:
			c.report("%s: blob %s has %d bytes, record says %d", r.by, k, size, r.size)
		}
	}
	return c.issues, nil
}

type ref struct {
	size int64
	by   string // who references it, for the report
}

type checker struct {
	meta       metadata.Backend
	blobs      blobstore.Store
	referenced map[string]ref  // blob key -> expected size and referrer
	mayExist   map[string]bool // blob keys neither referenced nor orphans
	reached    map[string]bool // space id + "/" + node id, from a root or a trash item
	issues     []string
}

func (c *checker) report(format string, a ...any) {
	c.issues = append(c.issues, fmt.Sprintf(format, a...))
}

func (c *checker) refer(sid, blobID string, size int64, by string) {
	if blobID == "" {
		if size != 0 {
			c.report("%s: %d bytes but no blob", by, size)
		}
		return
	}
	key := decomposedfs.BlobKey(sid, blobID)
	if prev, ok := c.referenced[key]; ok {
		c.report("blob %s is referenced twice: by %s and by %s", key, prev.by, by)
	}
	c.referenced[key] = ref{size: size, by: by}
}

// file records the blobs a file record references: its content and its
// revisions'.
func (c *checker) file(sid string, n *metadata.Node, where string) {
	if n.Type != metadata.TypeFile {
		return
	}
	c.refer(sid, n.BlobID, n.Size, where)
	for _, r := range n.Revisions {
		c.refer(sid, r.BlobID, r.Size, where+" revision "+r.ID)
	}
}

// folder checks a folder and everything below it and returns the sum of the
// file sizes below it. trashed says the folder is a trash item, whose own
// record carries the trash mark.
func (c *checker) folder(ctx context.Context, sid, id, path string, trashed bool) (int64, error) {
	c.reached[sid+"/"+id] = true
	n, err := c.meta.ReadNode(ctx, sid, id)
	if err != nil {
		c.report("%s: folder %s unreadable: %v", path, id, err)
		return 0, nil
	}
	if trashed != (n.Trashed != 0) {
		c.report("%s: trash mark %d on a folder that is %s", path, n.Trashed, map[bool]string{true: "a trash item", false: "live"}[trashed])
	}
	l, err := c.meta.List(ctx, sid, id)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", path, err)
	}
	for _, p := range l.Problems {
		c.report("%s: child %q (%s) unreadable: %v", path, p.Name, p.ID, p.Err)
	}
	var sum int64
	for _, child := range l.Children {
		cpath := strings.TrimSuffix(path, "/") + "/" + child.Name
		rec, err := c.meta.ReadNode(ctx, sid, child.ID)
		if err != nil {
			c.report("%s: record unreadable: %v", cpath, err)
			continue
		}
		if rec.ParentID != id || rec.Name != child.Name {
			c.report("%s: link says parent %s name %q, record says parent %s name %q", cpath, id, child.Name, rec.ParentID, rec.Name)
		}
		if rec.Trashed != 0 {
			c.report("%s: linked but marked trashed", cpath)
		}
		if rec.Type == metadata.TypeDir {
			s, err := c.folder(ctx, sid, rec.ID, cpath, false)
			if err != nil {
				return 0, err
			}
			sum += s
			continue
		}
		c.reached[sid+"/"+rec.ID] = true
		sum += rec.Size
		c.file(sid, rec, cpath)
	}
	if n.Tree.Size != sum {
		c.report("%s: tree size %d, files below sum to %d", path, n.Tree.Size, sum)
	}
	return sum, nil
}

// AssertConsistent fails the test with every inconsistency found.
func AssertConsistent(t testing.TB, fs *decomposedfs.FS) {
	t.Helper()
	issues, err := Check(context.Background(), fs)
	if err != nil {
		t.Fatalf("consistency check could not run: %v", err)
	}
	for _, s := range issues {
		t.Errorf("inconsistent: %s", s)
	}
}

// ErrInconsistent is returned by Consistent when Check finds something.
var ErrInconsistent = errors.New("fstest: inconsistent")

// Consistent runs Check and returns its findings as one error (nil if
// none): for property-based tests that report failures themselves.
func Consistent(ctx context.Context, fs *decomposedfs.FS) error {
	issues, err := Check(ctx, fs)
	if err != nil {
		return err
	}
	if len(issues) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInconsistent, strings.Join(issues, "\n  "))
	}
	return nil
}
