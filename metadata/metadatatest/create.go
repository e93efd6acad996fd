package metadatatest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var createTests = []test{
	{"FileRoundtrip", testCreateFile},
	{"FolderRoundtrip", testCreateFolder},
	{"ListSorted", testCreateListSorted},
	{"NamesAreBytes", testCreateNamesAreBytes},
	{"DuplicateName", testCreateDuplicateName},
	{"ParentMissing", testCreateParentMissing},
	{"ParentTrashed", testCreateParentTrashed},
	{"ParentIsFile", testCreateParentIsFile},
	{"InvalidNames", testCreateInvalidNames},
	{"OddNames", testCreateOddNames},
	{"InvalidIDs", testCreateInvalidIDs},
	{"LookupMissing", testLookupMissing},
	{"ListNotFolder", testListNotFolder},
}

// Every field of a file survives the store, and ReadNode, Lookup and List
// agree on it, on both handles.
func testCreateFile(t *testing.T, s *store) {
	want := fileNode(s.sid, s.sid, "report.pdf")
	s.create(want.Clone())
	for i, b := range []metadata.Backend{s.b, s.second()} {
		n := s.read(b, want.ID)
		sameRecord(t, "ReadNode", n, want)
		if n.Tree != (metadata.TreeStats{}) || n.TreeSize() != want.Size {
			t.Errorf("handle %d: a new file has Tree %+v, TreeSize %d", i+1, n.Tree, n.TreeSize())
		}
		sameRecord(t, "Lookup", s.lookup(b, s.sid, want.Name), want)
		l := s.list(b, s.sid)
		wantChildren(t, "root", l, want.Name)
		sameRecord(t, "List", findChild(l, want.Name), want)
	}
}

// A folder's fields survive too; a new folder is empty, with a zero tree.
func testCreateFolder(t *testing.T, s *store) {
	want := dirNode(s.sid, s.sid, "photos")
	s.create(want.Clone())
	for i, b := range []metadata.Backend{s.b, s.second()} {
		n := s.read(b, want.ID)
		sameRecord(t, "ReadNode", n, want)
		if !n.IsDir() || n.Tree != (metadata.TreeStats{}) {
			t.Errorf("handle %d: new folder: IsDir %v, Tree %+v", i+1, n.IsDir(), n.Tree)
		}
		sameRecord(t, "Lookup", s.lookup(b, s.sid, want.Name), want)
		sameRecord(t, "List", findChild(s.list(b, s.sid), want.Name), want)
		if l := s.list(b, want.ID); len(l.Children) != 0 {
			t.Errorf("handle %d: new folder lists %q", i+1, childNames(l))
		}
	}
	// And it takes children of both kinds.
	sub := s.mkdir(want.ID, "2024")
	f := s.mkfile(sub.ID, "a.jpg")
	sameRecord(t, "Lookup in a subfolder", s.lookup(s.b, sub.ID, "a.jpg"), f)
}

// List returns children sorted by name, byte-wise, whatever the creation
// order.
func testCreateListSorted(t *testing.T, s *store) {
	names := []string{"b", "a", "B", "A", "_", "a b", "ab", "a.b", "Z", "z", "é", "0", "10", "9", "~"}
	shuffled := slices.Clone(names)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i, name := range shuffled {
		if i%3 == 0 {
			s.mkdir(s.sid, name)
		} else {
			s.mkfile(s.sid, name)
		}
	}
	slices.Sort(names)
	wantChildren(t, "handle 1", s.list(s.b, s.sid), names...)
	wantChildren(t, "handle 2", s.list(s.second(), s.sid), names...)
}

// Names are compared as bytes: no case folding, no Unicode normalization.
// "a" and "A", and é composed and decomposed, are four different children.
func testCreateNamesAreBytes(t *testing.T, s *store) {
	names := []string{"a", "A", "\u00e9", "e\u0301"}
	ids := map[string]string{}
	for _, name := range names {
		ids[name] = s.mkfile(s.sid, name).ID
	}
	for _, name := range names {
		if n := s.lookup(s.b, s.sid, name); n.ID != ids[name] {
			t.Errorf("Lookup(%q) found %q", name, n.Name)
		}
	}
	slices.Sort(names)
	wantChildren(t, "root", s.list(s.b, s.sid), names...)
}

// A taken name gives ErrExist, whatever the kinds involved, and leaves
// nothing behind: the listing has exactly the first child and the loser's
// record is not readable.
func testCreateDuplicateName(t *testing.T, s *store) {
	first := s.mkfile(s.sid, "x")
	folder := s.mkdir(s.sid, "d")
	for _, loser := range []*metadata.Node{
		fileNode(s.sid, s.sid, "x"),
		dirNode(s.sid, s.sid, "x"),
		fileNode(s.sid, s.sid, "d"),
		dirNode(s.sid, s.sid, "d"),
	} {
		wantErr(t, s.b.CreateNode(s.ctx, loser), metadata.ErrExist, "CreateNode %s %q over an existing name", loser.Type, loser.Name)
		_, err := s.b.ReadNode(s.ctx, s.sid, loser.ID)
		wantErr(t, err, metadata.ErrNotFound, "ReadNode of the loser of a name clash")
	}
	for i, b := range []metadata.Backend{s.b, s.second()} {
		l := s.list(b, s.sid)
		wantChildren(t, "root", l, "d", "x")
		if ids := childIDs(l); ids[0] != folder.ID || ids[1] != first.ID {
			t.Errorf("handle %d: listed ids %v, want the first owners %s, %s", i+1, ids, folder.ID, first.ID)
		}
	}
}

func testCreateParentMissing(t *testing.T, s *store) {
	n := fileNode(s.sid, uuid.NewString(), "orphan")
	wantErr(t, s.b.CreateNode(s.ctx, n), metadata.ErrNotFound, "CreateNode under a missing parent")
	_, err := s.b.ReadNode(s.ctx, s.sid, n.ID)
	wantErr(t, err, metadata.ErrNotFound, "ReadNode of a node whose create failed")
}

func testCreateParentTrashed(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	s.trash(s.b, d.ID)
	for _, n := range []*metadata.Node{fileNode(s.sid, d.ID, "f"), dirNode(s.sid, d.ID, "sub")} {
		wantErr(t, s.b.CreateNode(s.ctx, n), metadata.ErrNotFound, "CreateNode %s under a trashed folder", n.Type)
	}
}

func testCreateParentIsFile(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	for _, n := range []*metadata.Node{fileNode(s.sid, f.ID, "x"), dirNode(s.sid, f.ID, "y")} {
		wantErr(t, s.b.CreateNode(s.ctx, n), metadata.ErrNotDir, "CreateNode %s under a file", n.Type)
	}
	_, err := s.b.Lookup(s.ctx, s.sid, f.ID, "x")
	wantErr(t, err, metadata.ErrNotDir, "Lookup under a file")
}

// Invalid names are refused by every method that takes a name, and nothing
// is created.
func testCreateInvalidNames(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	for _, name := range badNames {
		wantErr(t, s.b.CreateNode(s.ctx, fileNode(s.sid, s.sid, name)), metadata.ErrInvalidName, "CreateNode file %q", name)
		wantErr(t, s.b.CreateNode(s.ctx, dirNode(s.sid, s.sid, name)), metadata.ErrInvalidName, "CreateNode folder %q", name)
		_, err := s.b.Lookup(s.ctx, s.sid, s.sid, name)
		wantErr(t, err, metadata.ErrInvalidName, "Lookup %q", name)
		_, err = s.b.MoveNode(s.ctx, s.sid, f.ID, s.sid, name, false)
		wantErr(t, err, metadata.ErrInvalidName, "MoveNode to %q", name)
		_, err = s.b.MoveNode(s.ctx, s.sid, f.ID, s.sid, name, true)
		wantErr(t, err, metadata.ErrInvalidName, "MoveNode with replace to %q", name)
	}
	wantChildren(t, "root", s.list(s.b, s.sid), "f")
	sameRecord(t, "the file the moves were tried on", s.read(s.second(), f.ID), f)
}

// Valid names with characters that are special in paths, URLs and queries
// work with every method that takes a name.
func testCreateOddNames(t *testing.T, s *store) {
	a := s.mkdir(s.sid, "a")
	b := s.mkdir(s.sid, "b")
	ids := map[string]string{}
	for i, name := range oddNames {
		var n *metadata.Node
		if i%2 == 0 {
			n = s.mkfile(a.ID, name)
		} else {
			n = s.mkdir(a.ID, name)
		}
		ids[name] = n.ID
		if got := s.lookup(s.b, a.ID, name); got.ID != n.ID || got.Name != name {
			t.Errorf("Lookup(%q) = %s %q", name, got.ID, got.Name)
		}
	}
	sorted := slices.Clone(oddNames)
	slices.Sort(sorted)
	wantChildren(t, "a", s.list(s.b, a.ID), sorted...)
	for _, name := range oddNames {
		s.move(s.b, ids[name], b.ID, name, false)
	}
	b2 := s.second()
	wantChildren(t, "a after moving all out", s.list(b2, a.ID))
	wantChildren(t, "b after moving all in", s.list(b2, b.ID), sorted...)
	for _, name := range oddNames {
		n := s.lookup(b2, b.ID, name)
		if n.ID != ids[name] || n.Name != name || n.ParentID != b.ID {
			t.Errorf("after the move, Lookup(%q) = %s %q in %s", name, n.ID, n.Name, n.ParentID)
		}
		if n := s.read(b2, ids[name]); n.Name != name || n.ParentID != b.ID {
			t.Errorf("after the move, ReadNode of %q = %q in %s", name, n.Name, n.ParentID)
		}
	}
}

// Every method refuses ids that are not canonical UUIDs with ErrInvalidID,
// before it touches the store.
func testCreateInvalidIDs(t *testing.T, s *store) {
	ctx, sid := s.ctx, s.sid
	f := s.mkfile(sid, "f")
	d := s.mkdir(sid, "d")
	b := s.b
	// Warm every read, so that a backend that consults a cache before it
	// checks its arguments is caught: d's listing is empty, so no child can
	// betray which space it came from.
	s.read(b, f.ID)
	s.list(b, d.ID)
	s.list(b, sid)
	s.lookup(b, sid, "f")
	s.settle(b)
	for _, bad := range badIDs {
		n := fileNode(sid, sid, "x")
		n.ID = bad
		wantErr(t, b.CreateNode(ctx, n), metadata.ErrInvalidID, "CreateNode with ID %q", bad)
		n = fileNode(sid, sid, "x")
		n.SpaceID = bad
		wantErr(t, b.CreateNode(ctx, n), metadata.ErrInvalidID, "CreateNode with SpaceID %q", bad)
		n = fileNode(sid, sid, "x")
		n.ParentID = bad
		wantErr(t, b.CreateNode(ctx, n), metadata.ErrInvalidID, "CreateNode with ParentID %q", bad)

		_, err := b.ReadNode(ctx, bad, f.ID)
		wantErr(t, err, metadata.ErrInvalidID, "ReadNode with space %q", bad)
		_, err = b.ReadNode(ctx, sid, bad)
		wantErr(t, err, metadata.ErrInvalidID, "ReadNode(%q)", bad)
		_, err = b.Lookup(ctx, bad, sid, "f")
		wantErr(t, err, metadata.ErrInvalidID, "Lookup with space %q", bad)
		_, err = b.Lookup(ctx, sid, bad, "f")
		wantErr(t, err, metadata.ErrInvalidID, "Lookup in folder %q", bad)
		_, err = b.List(ctx, bad, sid)
		wantErr(t, err, metadata.ErrInvalidID, "List with space %q", bad)
		_, err = b.List(ctx, sid, bad)
		wantErr(t, err, metadata.ErrInvalidID, "List(%q)", bad)
		_, err = b.List(ctx, bad, d.ID)
		wantErr(t, err, metadata.ErrInvalidID, "List of an empty folder with space %q", bad)
		_, err = b.Lookup(ctx, bad, d.ID, "f")
		wantErr(t, err, metadata.ErrInvalidID, "Lookup in an empty folder with space %q", bad)
		called := false
		_, err = b.UpdateNode(ctx, sid, bad, func(*metadata.Node) error { called = true; return nil })
		wantErr(t, err, metadata.ErrInvalidID, "UpdateNode(%q)", bad)
		_, err = b.UpdateNode(ctx, bad, f.ID, func(*metadata.Node) error { called = true; return nil })
		wantErr(t, err, metadata.ErrInvalidID, "UpdateNode with space %q", bad)
		if called {
			t.Errorf("UpdateNode with the invalid id %q called fn", bad)
		}
		_, err = b.MoveNode(ctx, sid, bad, d.ID, "x", false)
		wantErr(t, err, metadata.ErrInvalidID, "MoveNode(%q)", bad)
		_, err = b.MoveNode(ctx, sid, f.ID, bad, "x", false)
		wantErr(t, err, metadata.ErrInvalidID, "MoveNode to folder %q", bad)
		_, err = b.MoveNode(ctx, bad, f.ID, d.ID, "x", false)
		wantErr(t, err, metadata.ErrInvalidID, "MoveNode with space %q", bad)
		_, err = b.TrashNode(ctx, sid, bad)
		wantErr(t, err, metadata.ErrInvalidID, "TrashNode(%q)", bad)
		_, err = b.TrashNode(ctx, bad, f.ID)
		wantErr(t, err, metadata.ErrInvalidID, "TrashNode with space %q", bad)
		wantErr(t, b.PurgeNode(ctx, sid, bad), metadata.ErrInvalidID, "PurgeNode(%q)", bad)
		wantErr(t, b.PurgeNode(ctx, bad, f.ID), metadata.ErrInvalidID, "PurgeNode with space %q", bad)
		wantErr(t, b.Propagate(ctx, sid, bad, 1), metadata.ErrInvalidID, "Propagate(%q)", bad)
		wantErr(t, b.Propagate(ctx, bad, d.ID, 1), metadata.ErrInvalidID, "Propagate with space %q", bad)
	}
	// Nothing happened to the valid nodes the calls named.
	b2 := s.second()
	wantChildren(t, "root", s.list(b2, sid), "d", "f")
	sameRecord(t, "f", s.read(b2, f.ID), f)
	if n := s.read(b2, d.ID); n.Tree.Size != 0 {
		t.Errorf("folder d has tree size %d after refused Propagate calls", n.Tree.Size)
	}
}

func testLookupMissing(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	s.mkfile(d.ID, "present")
	_, err := s.b.Lookup(s.ctx, s.sid, d.ID, "absent")
	wantErr(t, err, metadata.ErrNotFound, "Lookup of a missing name")
	_, err = s.b.Lookup(s.ctx, s.sid, s.sid, "present")
	wantErr(t, err, metadata.ErrNotFound, "Lookup of a name that lives in a subfolder")
	_, err = s.b.Lookup(s.ctx, s.sid, uuid.NewString(), "present")
	wantErr(t, err, metadata.ErrNotFound, "Lookup in a missing folder")
	_, err = s.b.ReadNode(s.ctx, s.sid, uuid.NewString())
	wantErr(t, err, metadata.ErrNotFound, "ReadNode of a missing node")
}

// List is a folder operation: a file gives ErrNotDir, a missing folder
// ErrNotFound (the meanings package metadata gives its sentinels).
func testListNotFolder(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	_, err := s.b.List(s.ctx, s.sid, f.ID)
	wantErr(t, err, metadata.ErrNotDir, "List of a file")
	_, err = s.b.List(s.ctx, s.sid, uuid.NewString())
	wantErr(t, err, metadata.ErrNotFound, "List of a missing folder")
}
