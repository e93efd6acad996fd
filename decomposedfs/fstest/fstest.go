// Package fstest checks that a decomposedfs store is consistent, for tests:
// every folder's tree size is the sum of the files below it, every link
// agrees with its child's record, every file's blob exists with the
// recorded size, and (where the backend can enumerate its records) every
// blob in the store is referenced by some node.
//
// It is a small stand-in until the full checker (decomposedfs/check)
// exists, and it reads everything into memory: test-sized stores only.
package fstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

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
	c := &checker{fs: fs, meta: fs.Backend(), blobs: fs.Blobs(), referenced: map[string]int64{}}
	var spaces []string
	err := c.meta.ListSpaces(ctx, func(s *metadata.Space) error {
		spaces = append(spaces, s.ID)
		return nil
	}, func(id string, err error) { c.report("space %s unreadable: %v", id, err) })
	if err != nil {
		return nil, err
	}
	walker, canWalk := c.meta.(NodeWalker)
	for _, sid := range spaces {
		if _, err := c.folder(ctx, sid, sid, "/"); err != nil {
			return nil, err
		}
		if canWalk {
			err := walker.WalkNodes(ctx, sid, func(id string, n *metadata.Node, err error) error {
				if err != nil {
					c.report("record %s unreadable: %v", id, err)
				} else {
					if n.BlobID != "" {
						c.referenced[decomposedfs.BlobKey(sid, n.BlobID)] = n.Size
					}
					for _, r := range n.Revisions {
						if r.BlobID != "" {
							c.referenced[decomposedfs.BlobKey(sid, r.BlobID)] = r.Size
						}
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if canWalk {
		err := c.blobs.List(ctx, "", func(bi blobstore.Info) error {
			if _, ok := c.referenced[bi.Key]; !ok {
				c.report("orphan blob %s (%d bytes)", bi.Key, bi.Size)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return c.issues, nil
}

type checker struct {
	fs         *decomposedfs.FS
	meta       metadata.Backend
	blobs      blobstore.Store
	referenced map[string]int64 // blob key -> size, from all records
	issues     []string
}

func (c *checker) report(format string, a ...any) {
	c.issues = append(c.issues, fmt.Sprintf(format, a...))
}

// folder checks a folder and everything below it and returns the sum of the
// file sizes below it.
func (c *checker) folder(ctx context.Context, sid, id, path string) (int64, error) {
	n, err := c.meta.ReadNode(ctx, sid, id)
	if err != nil {
		c.report("%s: folder %s unreadable: %v", path, id, err)
		return 0, nil
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
			s, err := c.folder(ctx, sid, rec.ID, cpath)
			if err != nil {
				return 0, err
			}
			sum += s
			continue
		}
		sum += rec.Size
		if rec.BlobID == "" {
			if rec.Size != 0 {
				c.report("%s: %d bytes but no blob", cpath, rec.Size)
			}
			continue
		}
		bi, err := c.blobs.Stat(ctx, decomposedfs.BlobKey(sid, rec.BlobID))
		switch {
		case errors.Is(err, blobstore.ErrNotFound):
			c.report("%s: blob %s missing", cpath, rec.BlobID)
		case err != nil:
			return 0, fmt.Errorf("stat blob of %s: %w", cpath, err)
		case bi.Size != rec.Size:
			c.report("%s: blob has %d bytes, record says %d", cpath, bi.Size, rec.Size)
		}
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
