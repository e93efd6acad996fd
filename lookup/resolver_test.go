package lookup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

type tree struct {
	t   *testing.T
	b   *mpk.Backend
	r   *lookup.Resolver
	sid string
}

func newTree(t *testing.T) *tree {
	b, err := mpk.New(mpk.DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r, err := lookup.New(b, lookup.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	sid := uuid.NewString()
	now := time.Now().UnixNano()
	if err := b.CreateSpace(context.Background(), &metadata.Space{ID: sid, Type: metadata.SpaceProject, Btime: now},
		&metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now}); err != nil {
		t.Fatal(err)
	}
	return &tree{t: t, b: b, r: r, sid: sid}
}

func (tr *tree) mk(parent, name string, typ metadata.NodeType) string {
	n := &metadata.Node{ID: uuid.NewString(), SpaceID: tr.sid, ParentID: parent, Name: name, Type: typ, Mtime: 1}
	if err := tr.b.CreateNode(context.Background(), n); err != nil {
		tr.t.Fatal(err)
	}
	return n.ID
}

// resolve resolves twice (the second time from the path cache) and checks
// that both agree with want (a node id, or "" for not found).
func (tr *tree) resolve(p, want string) {
	tr.t.Helper()
	for i := range 2 {
		n, err := tr.r.Resolve(context.Background(), tr.sid, tr.sid, p)
		switch {
		case want == "" && !errors.Is(err, metadata.ErrNotFound):
			tr.t.Fatalf("resolve %s (pass %d): %v, want not found", p, i, err)
		case want != "" && err != nil:
			tr.t.Fatalf("resolve %s (pass %d): %v", p, i, err)
		case want != "" && n.ID != want:
			tr.t.Fatalf("resolve %s (pass %d): node %s, want %s", p, i, n.ID, want)
		}
		tr.r.Wait()
	}
}

func (tr *tree) path(id, want string) {
	tr.t.Helper()
	for i := range 2 {
		n, err := tr.b.ReadNode(context.Background(), tr.sid, id)
		if err != nil {
			tr.t.Fatal(err)
		}
		got, err := tr.r.PathOf(context.Background(), n)
		if want == "" {
			if !errors.Is(err, metadata.ErrNotFound) {
				tr.t.Fatalf("path of %s (pass %d): %q %v, want not found", id, i, got, err)
			}
		} else if err != nil || got != want {
			tr.t.Fatalf("path of %s (pass %d): %q %v, want %s", id, i, got, err, want)
		}
		tr.r.Wait()
	}
}

func TestAncestorRenameInvalidatesPathsBelow(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	a := tr.mk(tr.sid, "a", metadata.TypeDir)
	b := tr.mk(a, "b", metadata.TypeDir)
	c := tr.mk(b, "c", metadata.TypeDir)
	f := tr.mk(c, "f", metadata.TypeFile)
	tr.resolve("/a/b/c/f", f)
	tr.path(f, "/a/b/c/f")

	// Rename the top folder: every cached path below it is stale.
	if _, err := tr.b.MoveNode(ctx, tr.sid, a, tr.sid, "x", false); err != nil {
		t.Fatal(err)
	}
	tr.resolve("/a/b/c/f", "")
	tr.resolve("/x/b/c/f", f)
	tr.path(f, "/x/b/c/f")
	tr.path(c, "/x/b/c")

	// Move a middle folder elsewhere.
	other := tr.mk(tr.sid, "other", metadata.TypeDir)
	if _, err := tr.b.MoveNode(ctx, tr.sid, b, other, "b2", false); err != nil {
		t.Fatal(err)
	}
	tr.resolve("/x/b/c/f", "")
	tr.resolve("/other/b2/c/f", f)
	tr.path(f, "/other/b2/c/f")

	// A name freed by a move and taken by a new node resolves to the new one.
	c2 := tr.mk(tr.mk(tr.mk(tr.sid, "x2", metadata.TypeDir), "b", metadata.TypeDir), "c", metadata.TypeDir)
	if _, err := tr.b.MoveNode(ctx, tr.sid, tr.mustLookup(tr.sid, "x2"), tr.sid, "x", true); err != nil {
		t.Fatal(err)
	}
	tr.resolve("/x/b/c", c2)

	// Trash an ancestor: the paths below are gone, and so is liveness.
	if _, err := tr.b.TrashNode(ctx, tr.sid, other); err != nil {
		t.Fatal(err)
	}
	tr.resolve("/other/b2/c/f", "")
	tr.path(f, "")
	tr.path(b, "")

	// Renaming the leaf itself (a file: no namespace change) is seen too.
	g := tr.mk(c2, "g", metadata.TypeFile)
	tr.resolve("/x/b/c/g", g)
	if _, err := tr.b.MoveNode(ctx, tr.sid, g, c2, "h", false); err != nil {
		t.Fatal(err)
	}
	tr.resolve("/x/b/c/g", "")
	tr.resolve("/x/b/c/h", g)
	tr.path(g, "/x/b/c/h")
}

func (tr *tree) mustLookup(parent, name string) string {
	n, err := tr.b.Lookup(context.Background(), tr.sid, parent, name)
	if err != nil {
		tr.t.Fatal(err)
	}
	return n.ID
}

func TestResolveErrors(t *testing.T) {
	tr := newTree(t)
	f := tr.mk(tr.sid, "f", metadata.TypeFile)
	_ = f
	ctx := context.Background()
	if _, err := tr.r.Resolve(ctx, tr.sid, tr.sid, "/f/x"); !errors.Is(err, metadata.ErrNotDir) {
		t.Errorf("below a file: %v", err)
	}
	if _, err := tr.r.Resolve(ctx, tr.sid, tr.sid, "/../f"); !errors.Is(err, lookup.ErrBadPath) {
		t.Errorf("climbing out: %v", err)
	}
	if _, err := tr.r.Resolve(ctx, tr.sid, tr.sid, "/a\x00b"); !errors.Is(err, metadata.ErrInvalidName) {
		t.Errorf("NUL: %v", err)
	}
}

func TestCleanAndSplit(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", ".": "/", "a": "/a", "/a/b": "/a/b", "/a//b/": "/a/b", "./a/./b": "/a/b", "/a/x/../b": "/a/b",
	} {
		got, err := lookup.Clean(in)
		if err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "/..", "/a/../..", "a/../../b"} {
		if _, err := lookup.Clean(bad); !errors.Is(err, lookup.ErrBadPath) {
			t.Errorf("Clean(%q): %v", bad, err)
		}
	}
	if got := lookup.Join("/", "a"); got != "/a" {
		t.Error(got)
	}
	if got := lookup.Join("/a", "b"); got != "/a/b" {
		t.Error(got)
	}
}
