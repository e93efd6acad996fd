package metadatatest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var updateTests = []test{
	{"Fields", testUpdateFields},
	{"SecondHandle", testUpdateSecondHandle},
	{"FnError", testUpdateFnError},
	{"Forbidden", testUpdateForbidden},
	{"Missing", testUpdateMissing},
	{"KeepsTree", testUpdateKeepsTree},
	{"Root", testUpdateRoot},
	{"NoChange", testUpdateNoChange},
}

// changeFile changes every field UpdateNode may change.
func changeFile(n *metadata.Node) {
	n.Size = 1 << 40
	n.BlobID = "0b10b000-0000-4000-8000-000000000001"
	n.Mtime += 1_000_000_007
	n.Btime -= 3
	n.Checksums = metadata.Checksums{SHA1: []byte("0123456789abcdefghij"), MD5: []byte("0123456789abcdef")}
	n.MimeType = "application/pdf"
	n.Props = map[string]string{"http://example.com/ns:color": "red", "new": "prop"}
}

// An update changes the fields fn changed, as ReadNode, Lookup and List of
// the parent show, and passes fn the stored record.
func testUpdateFields(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	orig := s.mkfile(d.ID, "f")
	want := orig.Clone()
	changeFile(want)
	got, err := s.b.UpdateNode(s.ctx, s.sid, orig.ID, func(n *metadata.Node) error {
		sameRecord(t, "the record fn gets", n, orig)
		changeFile(n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, "UpdateNode's result", got, want)
	sameRecord(t, "ReadNode", s.read(s.b, orig.ID), want)
	sameRecord(t, "Lookup", s.lookup(s.b, d.ID, "f"), want)
	sameRecord(t, "List", findChild(s.list(s.b, d.ID), "f"), want)
}

// A second handle that has read the node, looked it up and listed its
// parent before the update sees the new values on its next read.
func testUpdateSecondHandle(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	orig := s.mkfile(d.ID, "f")
	b2 := s.second()
	sameRecord(t, "warm ReadNode", s.read(b2, orig.ID), orig)
	sameRecord(t, "warm Lookup", s.lookup(b2, d.ID, "f"), orig)
	sameRecord(t, "warm List", findChild(s.list(b2, d.ID), "f"), orig)
	s.settle(b2)
	want := orig.Clone()
	changeFile(want)
	s.update(s.b, orig.ID, changeFile)
	sameRecord(t, "handle 2 ReadNode", s.read(b2, orig.ID), want)
	sameRecord(t, "handle 2 Lookup", s.lookup(b2, d.ID, "f"), want)
	sameRecord(t, "handle 2 List", findChild(s.list(b2, d.ID), "f"), want)
}

// If fn fails, UpdateNode returns its error and stores nothing.
func testUpdateFnError(t *testing.T, s *store) {
	orig := s.mkfile(s.sid, "f")
	_, err := s.b.UpdateNode(s.ctx, s.sid, orig.ID, func(n *metadata.Node) error {
		changeFile(n)
		return errBoom
	})
	wantErr(t, err, errBoom, "UpdateNode with a failing fn")
	for _, b := range []metadata.Backend{s.b, s.second()} {
		sameRecord(t, "ReadNode after a failed update", s.read(b, orig.ID), orig)
		sameRecord(t, "List after a failed update", findChild(s.list(b, s.sid), "f"), orig)
	}
}

// fn may not change the identity, the link, the tree or the trash mark:
// UpdateNode fails and stores nothing, not even fn's permitted changes.
func testUpdateForbidden(t *testing.T, s *store) {
	other := s.mkdir(s.sid, "other")
	d := s.mkdir(s.sid, "d")
	s.propagate(s.b, d.ID, 10)
	f := s.mkfile(s.sid, "f")
	cases := []struct {
		name   string
		target *metadata.Node
		change func(n *metadata.Node)
	}{
		{"ID", f, func(n *metadata.Node) { n.ID = uuid.NewString() }},
		{"SpaceID", f, func(n *metadata.Node) { n.SpaceID = other.ID }},
		{"ParentID", f, func(n *metadata.Node) { n.ParentID = other.ID }},
		{"Name", f, func(n *metadata.Node) { n.Name = "renamed" }},
		{"Type", f, func(n *metadata.Node) { n.Type = metadata.TypeDir; n.Size, n.BlobID = 0, "" }},
		{"Tree", d, func(n *metadata.Node) { n.Tree.Size = 0 }},
		{"TreeMtime", d, func(n *metadata.Node) { n.Tree.Mtime++ }},
		{"Trashed", f, func(n *metadata.Node) { n.Trashed = 1 }},
	}
	for _, c := range cases {
		before := s.read(s.b, c.target.ID)
		_, err := s.b.UpdateNode(s.ctx, s.sid, c.target.ID, func(n *metadata.Node) error {
			n.MimeType = "must/not-be-stored"
			c.change(n)
			return nil
		})
		if err == nil {
			t.Errorf("UpdateNode changing %s succeeded", c.name)
		}
		after := s.read(s.second(), c.target.ID)
		sameRecord(t, "after UpdateNode changing "+c.name, after, before)
		if after.Tree != before.Tree {
			t.Errorf("after UpdateNode changing %s: Tree %+v, was %+v", c.name, after.Tree, before.Tree)
		}
	}
	wantChildren(t, "root", s.list(s.second(), s.sid), "d", "f", "other")
	wantChildren(t, "other", s.list(s.second(), other.ID))
}

func testUpdateMissing(t *testing.T, s *store) {
	called := false
	_, err := s.b.UpdateNode(s.ctx, s.sid, uuid.NewString(), func(*metadata.Node) error { called = true; return nil })
	wantErr(t, err, metadata.ErrNotFound, "UpdateNode of a missing node")
	if called {
		t.Error("UpdateNode of a missing node called fn")
	}
}

// Updating a folder's record keeps its propagated tree values, which fn
// sees and which UpdateNode's result carries.
func testUpdateKeepsTree(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	s.propagate(s.b, d.ID, 1234)
	tree := s.read(s.b, d.ID).Tree
	got, err := s.b.UpdateNode(s.ctx, s.sid, d.ID, func(n *metadata.Node) error {
		if n.Tree != tree {
			t.Errorf("fn got Tree %+v, want %+v", n.Tree, tree)
		}
		n.Props = map[string]string{"k": "v"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tree != tree {
		t.Errorf("UpdateNode returned Tree %+v, want %+v", got.Tree, tree)
	}
	for i, b := range []metadata.Backend{s.b, s.second()} {
		n := s.read(b, d.ID)
		if n.Tree != tree || n.Props["k"] != "v" {
			t.Errorf("handle %d: after updating a folder: Tree %+v (want %+v), Props %v", i+1, n.Tree, tree, n.Props)
		}
		if c := findChild(s.list(b, s.sid), "d"); c == nil || c.Tree != tree {
			t.Errorf("handle %d: List shows folder %+v, want Tree %+v", i+1, c, tree)
		}
	}
}

// The root's record can be updated like any other.
func testUpdateRoot(t *testing.T, s *store) {
	s.update(s.b, s.sid, func(n *metadata.Node) { n.Props = map[string]string{"description": "team space"} })
	for i, b := range []metadata.Backend{s.b, s.second()} {
		n := s.read(b, s.sid)
		if n.Props["description"] != "team space" || !n.IsRoot() {
			t.Errorf("handle %d: root after update: %+v", i+1, n)
		}
	}
}

// An fn that changes nothing succeeds and returns the record as it is.
func testUpdateNoChange(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	got := s.update(s.b, f.ID, func(*metadata.Node) {})
	sameRecord(t, "UpdateNode's result", got, f)
	sameRecord(t, "ReadNode", s.read(s.second(), f.ID), f)
}
