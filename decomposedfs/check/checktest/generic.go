package checktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/metadata"
)

var timeNow = time.Now

// generic checks a store whose node store is not metadata/mpk through the
// metadata.Backend API: every reachable link against its record, every
// folder's tree size, every file's blob. It cannot see unlinked records or
// orphan blobs.
func generic(t testing.TB, fs *decomposedfs.FS) []*check.Finding {
	t.Helper()
	g := &genericCheck{ctx: context.Background(), meta: fs.Backend(), blobs: fs.Blobs()}
	var spaces []string
	err := g.meta.ListSpaces(g.ctx, func(s *metadata.Space) error {
		spaces = append(spaces, s.ID)
		return nil
	}, func(id string, err error) {
		g.add(check.SpaceRecord, id, "", "/", err.Error())
	})
	if err != nil {
		t.Fatalf("checktest: list spaces: %v", err)
	}
	for _, sid := range spaces {
		if _, err := g.folder(sid, sid, "/", 0); err != nil {
			t.Fatalf("checktest: %v", err)
		}
	}
	return g.out
}

type genericCheck struct {
	ctx   context.Context
	meta  metadata.Backend
	blobs blobstore.Store
	out   []*check.Finding
}

func (g *genericCheck) add(code check.Code, sid, id, path, detail string) *check.Finding {
	cl, _ := check.ClassOf(code)
	f := &check.Finding{Code: code, Severity: cl.Severity, Phase: cl.Phase, Space: sid, Node: id, Path: path, Detail: detail, Remedy: check.RemedyNone}
	g.out = append(g.out, f)
	return f
}

func (g *genericCheck) folder(sid, id, path string, depth int) (int64, error) {
	if depth > 4096 {
		return 0, fmt.Errorf("%s: too deep", path)
	}
	n, err := g.meta.ReadNode(g.ctx, sid, id)
	if err != nil {
		g.add(check.RecordCorrupt, sid, id, path, err.Error())
		return 0, nil
	}
	l, err := g.meta.List(g.ctx, sid, id)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", path, err)
	}
	for _, p := range l.Problems {
		code := check.RecordCorrupt
		if errors.Is(p.Err, metadata.ErrNotFound) {
			code = check.LinkDangling
		}
		g.add(code, sid, p.ID, joinPath(path, p.Name), p.Err.Error())
	}
	var sum int64
	for _, child := range l.Children {
		cpath := joinPath(path, child.Name)
		rec, err := g.meta.ReadNode(g.ctx, sid, child.ID)
		if err != nil {
			g.add(check.RecordCorrupt, sid, child.ID, cpath, err.Error())
			continue
		}
		if rec.ParentID != id || rec.Name != child.Name {
			f := g.add(check.LinkMismatch, sid, child.ID, cpath, "the record names another parent or name than its link")
			f.Expected, f.Actual = fmt.Sprintf("parent %s name %q", id, child.Name), fmt.Sprintf("parent %s name %q", rec.ParentID, rec.Name)
		}
		if rec.Trashed != 0 {
			g.add(check.TrashLinked, sid, child.ID, cpath, "linked but marked trashed")
		}
		if rec.Type == metadata.TypeDir {
			s, err := g.folder(sid, rec.ID, cpath, depth+1)
			if err != nil {
				return 0, err
			}
			sum += s
			continue
		}
		sum += rec.Size
		if rec.BlobID == "" || g.blobs == nil {
			continue
		}
		bi, err := g.blobs.Stat(g.ctx, decomposedfs.BlobKey(sid, rec.BlobID))
		switch {
		case errors.Is(err, blobstore.ErrNotFound):
			g.add(check.BlobMissing, sid, rec.ID, cpath, "blob "+rec.BlobID+" missing")
		case err != nil:
			return 0, fmt.Errorf("stat blob of %s: %w", cpath, err)
		case bi.Size != rec.Size:
			f := g.add(check.BlobSize, sid, rec.ID, cpath, "blob size differs")
			f.Expected, f.Actual = fmt.Sprint(rec.Size), fmt.Sprint(bi.Size)
		}
	}
	if n.Tree.Size != sum {
		f := g.add(check.TreeSize, sid, id, path, "stored tree size differs from the sum of the files below")
		f.Expected, f.Actual = fmt.Sprint(sum), fmt.Sprint(n.Tree.Size)
	}
	return sum, nil
}

func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
