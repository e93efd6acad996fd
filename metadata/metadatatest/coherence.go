package metadatatest

import (
	"fmt"
	"testing"

	"github.com/s3dfs/s3dfs/metadata"
)

// The coherence tests warm a second handle (its caches, if it has any), let
// the first handle change the store, and require the second handle's very
// next read to show the change. The changes are chosen to be invisible to a
// cheap validation: a same-size record rewrite within one clock tick, a
// rename that keeps the folder's entry count, and so on.
var coherenceTests = []test{
	{"SameSizeUpdate", testCoherenceSameSizeUpdate},
	{"TightLoop", testCoherenceTightLoop},
	{"DoubleUpdate", testCoherenceDoubleUpdate},
	{"Rename", testCoherenceRename},
	{"Trash", testCoherenceTrash},
	{"CreateSibling", testCoherenceCreateSibling},
	{"Move", testCoherenceMove},
	{"Propagate", testCoherencePropagate},
	{"Purge", testCoherencePurge},
	{"Space", testCoherenceSpace},
}

// coherent holds a file f in folder d and a warm second handle.
type coherent struct {
	*store
	b2   metadata.Backend
	d, f *metadata.Node
}

func newCoherent(s *store) *coherent {
	c := &coherent{store: s, b2: s.second()}
	c.d = s.mkdir(s.sid, "d")
	c.f = s.create(func() *metadata.Node {
		n := fileNode(s.sid, c.d.ID, "f")
		n.MimeType = "a"
		return n
	}())
	c.warm()
	return c
}

// warm reads f and d on the second handle every way there is.
func (c *coherent) warm() {
	c.t.Helper()
	c.read(c.b2, c.f.ID)
	c.read(c.b2, c.d.ID)
	c.lookup(c.b2, c.d.ID, c.f.Name)
	c.list(c.b2, c.d.ID)
	c.list(c.b2, c.sid)
	c.settle(c.b2)
}

// wantMime checks that all three reads of f on handle 2 show mime.
func (c *coherent) wantMime(what, mime string) {
	c.t.Helper()
	if n := c.read(c.b2, c.f.ID); n.MimeType != mime {
		c.t.Errorf("%s: handle 2 ReadNode shows MimeType %q, want %q", what, n.MimeType, mime)
	}
	if n := c.lookup(c.b2, c.d.ID, c.f.Name); n.MimeType != mime {
		c.t.Errorf("%s: handle 2 Lookup shows MimeType %q, want %q", what, n.MimeType, mime)
	}
	if n := findChild(c.list(c.b2, c.d.ID), c.f.Name); n == nil || n.MimeType != mime {
		c.t.Errorf("%s: handle 2 List shows %+v, want MimeType %q", what, n, mime)
	}
}

func testCoherenceSameSizeUpdate(t *testing.T, s *store) {
	c := newCoherent(s)
	c.wantMime("before", "a")
	c.settle(c.b2)
	s.update(s.b, c.f.ID, func(n *metadata.Node) { n.MimeType = "b" })
	c.wantMime("after a same-size update", "b")
}

// Twenty same-size updates in a row, each seen by the other handle at once:
// no two versions of the record may look the same to a cache.
func testCoherenceTightLoop(t *testing.T, s *store) {
	c := newCoherent(s)
	mime := "a"
	for i := range 20 {
		if mime == "a" {
			mime = "b"
		} else {
			mime = "a"
		}
		s.update(s.b, c.f.ID, func(n *metadata.Node) { n.MimeType = mime })
		c.wantMime(fmt.Sprintf("update %d", i), mime)
		c.settle(c.b2)
		if t.Failed() {
			t.Fatalf("handle 2 missed update %d", i)
		}
	}
}

// Two same-size updates between two reads: the second version may reuse
// storage the first freed (an inode, a row slot), and must still not look
// like the version the other handle has cached.
func testCoherenceDoubleUpdate(t *testing.T, s *store) {
	c := newCoherent(s)
	for i := range 20 {
		first, second := "b", "c"
		if i%2 == 1 {
			first, second = "c", "a"
		}
		s.update(s.b, c.f.ID, func(n *metadata.Node) { n.MimeType = first })
		s.update(s.b, c.f.ID, func(n *metadata.Node) { n.MimeType = second })
		c.wantMime(fmt.Sprintf("double update %d", i), second)
		c.settle(c.b2)
		if t.Failed() {
			t.FailNow()
		}
	}
}

func testCoherenceRename(t *testing.T, s *store) {
	c := newCoherent(s)
	s.move(s.b, c.f.ID, c.d.ID, "g", false) // same name length: the folder size stays
	_, err := c.b2.Lookup(s.ctx, s.sid, c.d.ID, "f")
	wantErr(t, err, metadata.ErrNotFound, "handle 2 Lookup of the old name")
	if n := s.lookup(c.b2, c.d.ID, "g"); n.ID != c.f.ID || n.Name != "g" {
		t.Errorf("handle 2 Lookup of the new name = %s %q", n.ID, n.Name)
	}
	if n := s.read(c.b2, c.f.ID); n.Name != "g" {
		t.Errorf("handle 2 ReadNode shows name %q, want g", n.Name)
	}
	wantChildren(t, "handle 2 List", s.list(c.b2, c.d.ID), "g")
}

func testCoherenceTrash(t *testing.T, s *store) {
	c := newCoherent(s)
	s.trash(s.b, c.f.ID)
	_, err := c.b2.Lookup(s.ctx, s.sid, c.d.ID, "f")
	wantErr(t, err, metadata.ErrNotFound, "handle 2 Lookup of a trashed node")
	wantChildren(t, "handle 2 List", s.list(c.b2, c.d.ID))
	if n := s.read(c.b2, c.f.ID); n.Trashed == 0 {
		t.Error("handle 2 ReadNode does not show the trash mark")
	}
	// And trashing the folder itself.
	s.trash(s.b, c.d.ID)
	wantChildren(t, "handle 2 List of the root", s.list(c.b2, s.sid))
	if n := s.read(c.b2, c.d.ID); n.Trashed == 0 {
		t.Error("handle 2 ReadNode does not show the folder's trash mark")
	}
}

func testCoherenceCreateSibling(t *testing.T, s *store) {
	c := newCoherent(s)
	_, err := c.b2.Lookup(s.ctx, s.sid, c.d.ID, "g") // a cached "no such name", maybe
	wantErr(t, err, metadata.ErrNotFound, "handle 2 Lookup before the create")
	c.settle(c.b2)
	g := s.mkfile(c.d.ID, "g")
	if n := s.lookup(c.b2, c.d.ID, "g"); n.ID != g.ID {
		t.Errorf("handle 2 Lookup of the new sibling = %s, want %s", n.ID, g.ID)
	}
	wantChildren(t, "handle 2 List", s.list(c.b2, c.d.ID), "f", "g")
}

func testCoherenceMove(t *testing.T, s *store) {
	c := newCoherent(s)
	e := s.mkdir(s.sid, "e")
	s.list(c.b2, e.ID)
	c.settle(c.b2)
	s.move(s.b, c.f.ID, e.ID, "f", false)
	wantChildren(t, "handle 2 List of the old parent", s.list(c.b2, c.d.ID))
	wantChildren(t, "handle 2 List of the new parent", s.list(c.b2, e.ID), "f")
	if n := s.read(c.b2, c.f.ID); n.ParentID != e.ID {
		t.Errorf("handle 2 ReadNode shows parent %s, want %s", n.ParentID, e.ID)
	}
	_, err := c.b2.Lookup(s.ctx, s.sid, c.d.ID, "f")
	wantErr(t, err, metadata.ErrNotFound, "handle 2 Lookup in the old parent")
}

func testCoherencePropagate(t *testing.T, s *store) {
	c := newCoherent(s)
	s.propagate(s.b, c.d.ID, 1)
	if n := s.read(c.b2, c.d.ID); n.Tree.Size != 1 {
		t.Errorf("handle 2 ReadNode shows tree size %d, want 1", n.Tree.Size)
	}
	if n := findChild(s.list(c.b2, s.sid), "d"); n == nil || n.Tree.Size != 1 {
		t.Errorf("handle 2 List of the root shows %+v, want tree size 1", n)
	}
	if n := s.lookup(c.b2, s.sid, "d"); n.Tree.Size != 1 {
		t.Errorf("handle 2 Lookup shows tree size %d, want 1", n.Tree.Size)
	}
}

func testCoherencePurge(t *testing.T, s *store) {
	c := newCoherent(s)
	s.trash(s.b, c.f.ID)
	s.read(c.b2, c.f.ID)
	c.settle(c.b2)
	if err := s.b.PurgeNode(s.ctx, s.sid, c.f.ID); err != nil {
		t.Fatal(err)
	}
	_, err := c.b2.ReadNode(s.ctx, s.sid, c.f.ID)
	wantErr(t, err, metadata.ErrNotFound, "handle 2 ReadNode of a purged node")
}

func testCoherenceSpace(t *testing.T, s *store) {
	b2 := s.second()
	set := func(name string) {
		t.Helper()
		if _, err := s.b.UpdateSpace(s.ctx, s.sid, func(sp *metadata.Space) error { sp.Name = name; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set("a")
	for _, name := range []string{"b", "a", "b"} {
		if _, err := b2.ReadSpace(s.ctx, s.sid); err != nil {
			t.Fatal(err)
		}
		s.settle(b2)
		set(name)
		sp, err := b2.ReadSpace(s.ctx, s.sid)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Name != name {
			t.Errorf("handle 2 ReadSpace shows name %q, want %q", sp.Name, name)
		}
	}
}
