package metadatatest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var moveTests = []test{
	{"Rename", testMoveRename},
	{"OtherFolder", testMoveOtherFolder},
	{"FolderWithChildren", testMoveFolderWithChildren},
	{"TargetExists", testMoveTargetExists},
	{"Replace", testMoveReplace},
	{"ReplaceFolder", testMoveReplaceFolder},
	{"MovedCarriesTree", testMoveCarriesTree},
	{"Cycle", testMoveCycle},
	{"Root", testMoveRoot},
	{"IntoFile", testMoveIntoFile},
	{"Missing", testMoveMissing},
	{"SameName", testMoveSameName},
	{"NamespaceVersion", testMoveNamespaceVersion},
}

// A rename in the same folder moves the name: the old name is gone, the new
// one finds the node, whose record says so, on both handles.
func testMoveRename(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "old")
	s.mkfile(s.sid, "zzz")
	res := s.move(s.b, f.ID, s.sid, "new", false)
	if res.Moved == nil || res.Moved.ID != f.ID || res.Moved.Name != "old" || res.Replaced != nil {
		t.Errorf("MoveResult = %+v, want Moved = the node before the move, Replaced = nil", res)
	}
	want := f.Clone()
	want.Name = "new"
	for i, b := range []metadata.Backend{s.b, s.second()} {
		_, err := b.Lookup(s.ctx, s.sid, s.sid, "old")
		wantErr(t, err, metadata.ErrNotFound, "handle %d: Lookup of the old name", i+1)
		sameRecord(t, "Lookup of the new name", s.lookup(b, s.sid, "new"), want)
		sameRecord(t, "ReadNode", s.read(b, f.ID), want)
		l := s.list(b, s.sid)
		wantChildren(t, "root", l, "new", "zzz")
		sameRecord(t, "List", findChild(l, "new"), want)
	}
}

// A move to another folder updates both listings and the record.
func testMoveOtherFolder(t *testing.T, s *store) {
	a := s.mkdir(s.sid, "a")
	b := s.mkdir(s.sid, "b")
	f := s.mkfile(a.ID, "f")
	s.mkfile(a.ID, "stays")
	b2 := s.second()
	s.list(b2, a.ID) // warm handle 2: the move must still show there
	s.list(b2, b.ID)
	s.settle(b2)
	res := s.move(s.b, f.ID, b.ID, "g", false)
	if res.Moved.ParentID != a.ID || res.Moved.Name != "f" {
		t.Errorf("MoveResult.Moved is in %s as %q, want the place before the move", res.Moved.ParentID, res.Moved.Name)
	}
	want := f.Clone()
	want.ParentID, want.Name = b.ID, "g"
	for i, h := range []metadata.Backend{s.b, b2} {
		wantChildren(t, "old parent", s.list(h, a.ID), "stays")
		l := s.list(h, b.ID)
		wantChildren(t, "new parent", l, "g")
		sameRecord(t, "List of the new parent", findChild(l, "g"), want)
		sameRecord(t, "ReadNode", s.read(h, f.ID), want)
		sameRecord(t, "Lookup", s.lookup(h, b.ID, "g"), want)
		_, err := h.Lookup(s.ctx, s.sid, a.ID, "f")
		wantErr(t, err, metadata.ErrNotFound, "handle %d: Lookup in the old parent", i+1)
	}
}

// A folder moves with its subtree: children keep their parent and stay
// reachable through the folder.
func testMoveFolderWithChildren(t *testing.T, s *store) {
	a := s.mkdir(s.sid, "a")
	dst := s.mkdir(s.sid, "dst")
	sub := s.mkdir(a.ID, "sub")
	f := s.mkfile(sub.ID, "f")
	s.move(s.b, a.ID, dst.ID, "a2", false)
	for _, b := range []metadata.Backend{s.b, s.second()} {
		moved := s.lookup(b, dst.ID, "a2")
		if moved.ID != a.ID {
			t.Fatalf("Lookup a2 = %s, want %s", moved.ID, a.ID)
		}
		sameRecord(t, "sub", s.lookup(b, a.ID, "sub"), sub)
		sameRecord(t, "f", s.lookup(b, sub.ID, "f"), f)
		wantChildren(t, "root", s.list(b, s.sid), "dst")
	}
}

// Without replace, a taken name gives ErrExist and nothing changes.
func testMoveTargetExists(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	x := s.mkfile(s.sid, "x")
	y := s.mkfile(d.ID, "y")
	sub := s.mkdir(d.ID, "sub")
	for _, c := range []struct {
		node *metadata.Node
		name string
	}{{x, "y"}, {x, "sub"}, {sub, "y"}} {
		_, err := s.b.MoveNode(s.ctx, s.sid, c.node.ID, d.ID, c.name, false)
		wantErr(t, err, metadata.ErrExist, "MoveNode of %q onto the taken name %q", c.node.Name, c.name)
	}
	b2 := s.second()
	wantChildren(t, "root", s.list(b2, s.sid), "d", "x")
	wantChildren(t, "d", s.list(b2, d.ID), "sub", "y")
	for _, n := range []*metadata.Node{x, y, sub} {
		got := s.read(b2, n.ID)
		sameRecord(t, "after a refused move", got, n)
	}
}

// With replace, the node that had the name is trashed in the same step and
// reported as Replaced; the moved node takes its name.
func testMoveReplace(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	x := s.mkfile(s.sid, "x")
	y := s.mkfile(d.ID, "y")
	res := s.move(s.b, x.ID, d.ID, "y", true)
	if res.Moved == nil || res.Moved.ID != x.ID {
		t.Errorf("MoveResult.Moved = %+v, want node %s", res.Moved, x.ID)
	}
	if res.Replaced == nil || res.Replaced.ID != y.ID || res.Replaced.Size != y.Size {
		t.Fatalf("MoveResult.Replaced = %+v, want node %s", res.Replaced, y.ID)
	}
	for i, b := range []metadata.Backend{s.b, s.second()} {
		if n := s.lookup(b, d.ID, "y"); n.ID != x.ID {
			t.Errorf("handle %d: Lookup y = %s, want the moved node %s", i+1, n.ID, x.ID)
		}
		wantChildren(t, "d", s.list(b, d.ID), "y")
		wantChildren(t, "root", s.list(b, s.sid), "d")
		if n := s.read(b, y.ID); n.Trashed == 0 {
			t.Errorf("handle %d: the replaced node is not marked trashed", i+1)
		}
	}
	// The replaced node is in the trash, so it cannot be trashed again.
	_, err := s.b.TrashNode(s.ctx, s.sid, y.ID)
	wantErr(t, err, metadata.ErrNotFound, "TrashNode of a replaced node")
}

// Replacing a folder trashes it with its subtree, reports its tree size,
// and changes the namespace version (a folder left the namespace).
func testMoveReplaceFolder(t *testing.T, s *store) {
	victim := s.mkdir(s.sid, "target")
	inside := s.mkfile(victim.ID, "inside")
	s.propagate(s.b, victim.ID, 500)
	f := s.mkfile(s.sid, "f")
	v0 := s.nsVersion(s.b)
	res := s.move(s.b, f.ID, s.sid, "target", true)
	if res.Replaced == nil || res.Replaced.ID != victim.ID || res.Replaced.Tree.Size != 500 {
		t.Fatalf("MoveResult.Replaced = %+v, want folder %s with tree size 500", res.Replaced, victim.ID)
	}
	if v := s.nsVersion(s.b); v == v0 {
		t.Error("namespace version unchanged after a move replaced a folder")
	}
	b2 := s.second()
	if n := s.lookup(b2, s.sid, "target"); n.ID != f.ID {
		t.Errorf("Lookup target = %s, want the moved file %s", n.ID, f.ID)
	}
	if n := s.read(b2, victim.ID); n.Trashed == 0 {
		t.Error("the replaced folder is not marked trashed")
	}
	// Its descendants are not marked: liveness is a property of the path.
	if n := s.read(b2, inside.ID); n.Trashed != 0 {
		t.Error("a descendant of a trashed folder is marked trashed")
	}
}

// MoveResult.Moved is the node before the move, with its tree size, which
// is what the caller must propagate away from the old parent.
func testMoveCarriesTree(t *testing.T, s *store) {
	a := s.mkdir(s.sid, "a")
	b := s.mkdir(s.sid, "b")
	f := s.mkdir(a.ID, "f")
	s.propagate(s.b, f.ID, 123)
	res := s.move(s.b, f.ID, b.ID, "g", false)
	m := res.Moved
	if m == nil || m.ID != f.ID || m.ParentID != a.ID || m.Name != "f" || m.Tree.Size != 123 || m.TreeSize() != 123 {
		t.Errorf("MoveResult.Moved = %+v, want folder %s in %s as \"f\" with tree size 123", m, f.ID, a.ID)
	}
	if n := s.read(s.second(), f.ID); n.Tree.Size != 123 {
		t.Errorf("after the move, the folder's tree size is %d, want 123", n.Tree.Size)
	}
}

// A folder cannot move into itself or below itself; nothing changes.
func testMoveCycle(t *testing.T, s *store) {
	ns := s.chain("a", "b", "c")
	a, b, c := ns[1], ns[2], ns[3]
	for _, dst := range []*metadata.Node{a, b, c} {
		_, err := s.b.MoveNode(s.ctx, s.sid, a.ID, dst.ID, "a", false)
		wantErr(t, err, metadata.ErrCycle, "MoveNode of a into %q", dst.Name)
		_, err = s.b.MoveNode(s.ctx, s.sid, a.ID, dst.ID, "x", true)
		wantErr(t, err, metadata.ErrCycle, "MoveNode with replace of a into %q", dst.Name)
	}
	_, err := s.b.MoveNode(s.ctx, s.sid, b.ID, c.ID, "b", false)
	wantErr(t, err, metadata.ErrCycle, "MoveNode of b into its child")
	b2 := s.second()
	for i, n := range ns[1:] {
		got := s.read(b2, n.ID)
		if got.ParentID != ns[i].ID {
			t.Errorf("after refused moves, %q is in %s, want %s", n.Name, got.ParentID, ns[i].ID)
		}
	}
	wantChildren(t, "root", s.list(b2, s.sid), "a")
}

func testMoveRoot(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	_, err := s.b.MoveNode(s.ctx, s.sid, s.sid, d.ID, "root", false)
	wantErr(t, err, metadata.ErrRoot, "MoveNode of the root")
	_, err = s.b.MoveNode(s.ctx, s.sid, s.sid, s.sid, "root", false)
	wantErr(t, err, metadata.ErrRoot, "MoveNode of the root into itself")
}

func testMoveIntoFile(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	g := s.mkfile(s.sid, "g")
	d := s.mkdir(s.sid, "d")
	for _, n := range []*metadata.Node{g, d} {
		_, err := s.b.MoveNode(s.ctx, s.sid, n.ID, f.ID, "x", false)
		wantErr(t, err, metadata.ErrNotDir, "MoveNode of %s %q into a file", n.Type, n.Name)
	}
	wantChildren(t, "root", s.list(s.second(), s.sid), "d", "f", "g")
}

// A missing node or a missing new parent gives ErrNotFound.
func testMoveMissing(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	d := s.mkdir(s.sid, "d")
	_, err := s.b.MoveNode(s.ctx, s.sid, uuid.NewString(), s.sid, "x", false)
	wantErr(t, err, metadata.ErrNotFound, "MoveNode of a missing node")
	for _, n := range []*metadata.Node{f, d} {
		_, err = s.b.MoveNode(s.ctx, s.sid, n.ID, uuid.NewString(), "x", false)
		wantErr(t, err, metadata.ErrNotFound, "MoveNode of %s into a missing folder", n.Type)
	}
	wantChildren(t, "root", s.list(s.second(), s.sid), "d", "f")
}

// Moving a node onto its own name is a successful no-op, with or without
// replace; in particular it does not trash the node.
func testMoveSameName(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	d := s.mkdir(s.sid, "d")
	v0 := s.nsVersion(s.b)
	for _, n := range []*metadata.Node{f, d} {
		for _, replace := range []bool{false, true} {
			res, err := s.b.MoveNode(s.ctx, s.sid, n.ID, s.sid, n.Name, replace)
			if err != nil {
				t.Fatalf("MoveNode of %q onto itself (replace %v): %v", n.Name, replace, err)
			}
			if res.Replaced != nil {
				t.Errorf("MoveNode of %q onto itself replaced %s", n.Name, res.Replaced.ID)
			}
		}
	}
	b2 := s.second()
	wantChildren(t, "root", s.list(b2, s.sid), "d", "f")
	sameRecord(t, "f", s.read(b2, f.ID), f)
	sameRecord(t, "d", s.read(b2, d.ID), d)
	if v := s.nsVersion(s.b); v != v0 {
		t.Error("a no-op folder move changed the namespace version")
	}
}

// The namespace version changes with every folder move and rename, and not
// with a file create (a version that changed with every create would make
// path caches useless).
func testMoveNamespaceVersion(t *testing.T, s *store) {
	a := s.mkdir(s.sid, "a")
	b := s.mkdir(s.sid, "b")
	b2 := s.second()
	v := s.nsVersion(s.b)
	if v2 := s.nsVersion(b2); v2 != v {
		t.Errorf("two handles disagree on the namespace version: %v, %v", v, v2)
	}
	s.mkfile(a.ID, "f")
	if got := s.nsVersion(s.b); got != v {
		t.Error("namespace version changed after a file create")
	}
	step := func(what string, op func()) {
		t.Helper()
		before := s.nsVersion(b2)
		op()
		if s.nsVersion(s.b) == before {
			t.Errorf("namespace version unchanged (handle 1) after %s", what)
		}
		if s.nsVersion(b2) == before {
			t.Errorf("namespace version unchanged (handle 2) after %s", what)
		}
	}
	step("a folder rename", func() { s.move(s.b, a.ID, s.sid, "a2", false) })
	step("a folder move", func() { s.move(s.b, a.ID, b.ID, "a2", false) })
	step("a folder move and rename", func() { s.move(s.b, a.ID, s.sid, "a3", false) })
	step("a folder rename on handle 2", func() { s.move(b2, b.ID, s.sid, "b2", false) })
}
