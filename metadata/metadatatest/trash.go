package metadatatest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var trashTests = []test{
	{"File", testTrashFile},
	{"Again", testTrashAgain},
	{"Root", testTrashRoot},
	{"Missing", testTrashMissing},
	{"Folder", testTrashFolder},
	{"NameReusable", testTrashNameReusable},
}

// A trashed node leaves its parent's listing and lookups but stays readable
// by id, marked Trashed, on both handles.
func testTrashFile(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	f := s.mkfile(d.ID, "f")
	s.mkfile(d.ID, "g")
	b2 := s.second()
	s.lookup(b2, d.ID, "f") // warm handle 2
	s.settle(b2)
	got := s.trash(s.b, f.ID)
	sameRecord(t, "TrashNode's result (the node when it was unlinked)", got, f)
	for i, b := range []metadata.Backend{s.b, b2} {
		wantChildren(t, "d", s.list(b, d.ID), "g")
		_, err := b.Lookup(s.ctx, s.sid, d.ID, "f")
		wantErr(t, err, metadata.ErrNotFound, "handle %d: Lookup of a trashed node", i+1)
		n := s.read(b, f.ID)
		if n.Trashed == 0 {
			t.Errorf("handle %d: ReadNode of a trashed node: Trashed = 0", i+1)
		}
		want := f.Clone()
		want.Trashed = n.Trashed
		sameRecord(t, "ReadNode of a trashed node", n, want)
	}
}

func testTrashAgain(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	s.trash(s.b, f.ID)
	_, err := s.b.TrashNode(s.ctx, s.sid, f.ID)
	wantErr(t, err, metadata.ErrNotFound, "TrashNode of a trashed node")
	_, err = s.second().TrashNode(s.ctx, s.sid, f.ID)
	wantErr(t, err, metadata.ErrNotFound, "TrashNode of a trashed node, handle 2")
}

func testTrashRoot(t *testing.T, s *store) {
	_, err := s.b.TrashNode(s.ctx, s.sid, s.sid)
	wantErr(t, err, metadata.ErrRoot, "TrashNode of the root")
	if n := s.read(s.second(), s.sid); n.Trashed != 0 {
		t.Error("the root is marked trashed")
	}
}

func testTrashMissing(t *testing.T, s *store) {
	_, err := s.b.TrashNode(s.ctx, s.sid, uuid.NewString())
	wantErr(t, err, metadata.ErrNotFound, "TrashNode of a missing node")
}

// Trashing a folder returns it with its tree size (what the caller
// propagates), keeps its subtree readable and unmarked, and changes the
// namespace version (the paths below it are gone).
func testTrashFolder(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	sub := s.mkdir(d.ID, "sub")
	f := s.mkfile(sub.ID, "f")
	s.propagate(s.b, sub.ID, 77)
	v0 := s.nsVersion(s.b)
	got := s.trash(s.b, d.ID)
	if got.ID != d.ID || got.Tree.Size != 77 || got.TreeSize() != 77 {
		t.Errorf("TrashNode returned %+v, want folder %s with tree size 77", got, d.ID)
	}
	if s.nsVersion(s.b) == v0 {
		t.Error("namespace version unchanged after trashing a folder")
	}
	b2 := s.second()
	wantChildren(t, "root", s.list(b2, s.sid))
	if n := s.read(b2, d.ID); n.Trashed == 0 || n.Tree.Size != 77 {
		t.Errorf("trashed folder reads as Trashed %d, tree size %d", n.Trashed, n.Tree.Size)
	}
	for _, n := range []*metadata.Node{sub, f} {
		if got := s.read(b2, n.ID); got.Trashed != 0 {
			t.Errorf("%q below a trashed folder is marked trashed", n.Name)
		}
	}
}

// A trashed node frees its name.
func testTrashNameReusable(t *testing.T, s *store) {
	old := s.mkfile(s.sid, "f")
	s.trash(s.b, old.ID)
	n := s.mkdir(s.sid, "f")
	for _, b := range []metadata.Backend{s.b, s.second()} {
		if got := s.lookup(b, s.sid, "f"); got.ID != n.ID {
			t.Errorf("Lookup f = %s, want the new node %s", got.ID, n.ID)
		}
	}
}

var purgeTests = []test{
	{"TrashedFile", testPurgeTrashedFile},
	{"TrashedFolder", testPurgeTrashedFolder},
	{"Missing", testPurgeMissing},
}

// Purging a trashed file removes its record for good, on both handles,
// and purging it again is not an error.
func testPurgeTrashedFile(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	s.trash(s.b, f.ID)
	b2 := s.second()
	s.read(b2, f.ID) // warm handle 2
	s.settle(b2)
	if err := s.b.PurgeNode(s.ctx, s.sid, f.ID); err != nil {
		t.Fatal(err)
	}
	for i, b := range []metadata.Backend{s.b, b2} {
		_, err := b.ReadNode(s.ctx, s.sid, f.ID)
		wantErr(t, err, metadata.ErrNotFound, "handle %d: ReadNode of a purged node", i+1)
		wantChildren(t, "root", s.list(b, s.sid))
	}
	if err := s.b.PurgeNode(s.ctx, s.sid, f.ID); err != nil {
		t.Errorf("PurgeNode of a purged node: %v", err)
	}
}

func testPurgeTrashedFolder(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	s.trash(s.b, d.ID)
	if err := s.b.PurgeNode(s.ctx, s.sid, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.second().ReadNode(s.ctx, s.sid, d.ID)
	wantErr(t, err, metadata.ErrNotFound, "ReadNode of a purged folder")
	// Its id is free again: nothing of it was left behind.
	n := dirNode(s.sid, s.sid, "d")
	n.ID = d.ID
	if err := s.b.CreateNode(s.ctx, n); err != nil {
		t.Errorf("CreateNode reusing a purged folder's id: %v", err)
	}
}

func testPurgeMissing(t *testing.T, s *store) {
	if err := s.b.PurgeNode(s.ctx, s.sid, uuid.NewString()); err != nil {
		t.Errorf("PurgeNode of a missing node: %v", err)
	}
}
