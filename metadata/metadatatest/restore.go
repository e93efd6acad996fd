package metadatatest

import (
	"errors"
	"slices"
	"testing"

	"github.com/s3dfs/s3dfs/metadata"
)

var restoreTests = []test{
	{"ListTrash", testListTrash},
	{"RestoreFile", testRestoreFile},
	{"RestoreFolder", testRestoreFolder},
	{"RestoreConflicts", testRestoreConflicts},
	{"DeleteSpace", testDeleteSpace},
}

func (s *store) trashIDs(b metadata.Backend) []string {
	s.t.Helper()
	var ids []string
	if err := b.ListTrash(s.ctx, s.sid, func(n *metadata.Node) error {
		if n.Trashed == 0 {
			s.t.Errorf("ListTrash returned %s without a trash mark", n.ID)
		}
		ids = append(ids, n.ID)
		return nil
	}); err != nil {
		s.t.Fatalf("ListTrash: %v", err)
	}
	slices.Sort(ids)
	return ids
}

// ListTrash shows the tops of trashed subtrees, including nodes replaced
// by a move, and not what lies below them.
func testListTrash(t *testing.T, s *store) {
	if got := s.trashIDs(s.b); len(got) != 0 {
		t.Fatalf("trash of a new space: %v", got)
	}
	d := s.mkdir(s.sid, "d")
	s.mkfile(d.ID, "inner")
	f := s.mkfile(s.sid, "f")
	victim := s.mkfile(s.sid, "victim")
	s.trash(s.b, d.ID)
	s.trash(s.b, f.ID)
	s.move(s.b, s.mkfile(s.sid, "g").ID, s.sid, "victim", true)
	want := []string{d.ID, f.ID, victim.ID}
	slices.Sort(want)
	if got := s.trashIDs(s.second()); !slices.Equal(got, want) {
		t.Fatalf("trash %v, want %v", got, want)
	}
}

func testRestoreFile(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	f := s.mkfile(d.ID, "f")
	s.trash(s.b, f.ID)
	n, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, d.ID, "f")
	if err != nil {
		t.Fatal(err)
	}
	if n.Trashed != 0 || n.ParentID != d.ID || n.Name != "f" {
		t.Fatalf("restored: %+v", n)
	}
	b2 := s.second()
	if got := s.lookup(b2, d.ID, "f"); got.ID != f.ID || got.Trashed != 0 {
		t.Fatalf("lookup after restore: %+v", got)
	}
	if got := s.trashIDs(b2); len(got) != 0 {
		t.Fatalf("trash after restore: %v", got)
	}
	// Restoring elsewhere, under another name.
	s.trash(s.b, f.ID)
	if _, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, s.sid, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if got := s.lookup(b2, s.sid, "elsewhere"); got.ID != f.ID || got.ParentID != s.sid {
		t.Fatalf("restore elsewhere: %+v", got)
	}
	if _, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, s.sid, "again"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("restore of a live node: %v", err)
	}
}

// A restored folder comes back with its subtree and its tree size, and
// changes the namespace version.
func testRestoreFolder(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	sub := s.mkdir(d.ID, "sub")
	f := s.mkfile(sub.ID, "f")
	s.propagate(s.b, sub.ID, 42)
	s.trash(s.b, d.ID)
	v := s.nsVersion(s.b)
	n, err := s.b.RestoreNode(s.ctx, s.sid, d.ID, s.sid, "d2")
	if err != nil {
		t.Fatal(err)
	}
	if n.TreeSize() != 42 {
		t.Fatalf("restored folder reports tree size %d, want 42", n.TreeSize())
	}
	if s.nsVersion(s.b) == v {
		t.Fatal("restoring a folder left the namespace version unchanged")
	}
	b2 := s.second()
	if got := s.lookup(b2, s.lookup(b2, s.lookup(b2, s.sid, "d2").ID, "sub").ID, "f"); got.ID != f.ID {
		t.Fatalf("subtree after restore: %+v", got)
	}
	// A folder cannot be restored into its own subtree.
	s.trash(s.b, d.ID)
	if _, err := s.b.RestoreNode(s.ctx, s.sid, d.ID, sub.ID, "loop"); !errors.Is(err, metadata.ErrCycle) && !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("restore into its own subtree: %v", err)
	}
}

func testRestoreConflicts(t *testing.T, s *store) {
	f := s.mkfile(s.sid, "f")
	s.trash(s.b, f.ID)
	s.mkfile(s.sid, "f")
	if _, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, s.sid, "f"); !errors.Is(err, metadata.ErrExist) {
		t.Fatalf("restore onto a taken name: %v", err)
	}
	if got := s.trashIDs(s.b); !slices.Equal(got, []string{f.ID}) {
		t.Fatalf("a failed restore changed the trash: %v", got)
	}
	file := s.mkfile(s.sid, "file")
	if _, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, file.ID, "x"); !errors.Is(err, metadata.ErrNotDir) {
		t.Fatalf("restore below a file: %v", err)
	}
	d := s.mkdir(s.sid, "d")
	s.trash(s.b, d.ID)
	if _, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, d.ID, "x"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("restore into a trashed folder: %v", err)
	}
	if _, err := s.b.RestoreNode(s.ctx, s.sid, f.ID, s.sid, "bad/name"); !errors.Is(err, metadata.ErrInvalidName) {
		t.Fatalf("restore under an invalid name: %v", err)
	}
}

func testDeleteSpace(t *testing.T, s *store) {
	sp, _ := s.newSpace(s.b)
	if err := s.b.DeleteSpace(s.ctx, sp.ID); err != nil {
		t.Fatal(err)
	}
	b2 := s.second()
	if _, err := b2.ReadSpace(s.ctx, sp.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("read of a deleted space: %v", err)
	}
	if _, err := b2.ReadNode(s.ctx, sp.ID, sp.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("read of a deleted space's root: %v", err)
	}
	if err := s.b.DeleteSpace(s.ctx, sp.ID); err != nil {
		t.Fatalf("deleting a deleted space: %v", err)
	}
	// The other space is untouched.
	s.read(b2, s.sid)
}
