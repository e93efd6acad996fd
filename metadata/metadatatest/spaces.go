package metadatatest

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var spaceTests = []test{
	{"CreateRead", testSpaceCreateRead},
	{"Duplicate", testSpaceDuplicate},
	{"ReadMissing", testSpaceReadMissing},
	{"InvalidID", testSpaceInvalidID},
	{"Update", testSpaceUpdate},
	{"UpdateFnError", testSpaceUpdateFnError},
	{"UpdateMissing", testSpaceUpdateMissing},
	{"List", testSpaceList},
	{"Isolation", testSpaceIsolation},
	{"Indexes", testSpaceIndexes},
}

// A space and its root read back as written, on both handles.
func testSpaceCreateRead(t *testing.T, s *store) {
	sp, root := s.newSpace(s.b)
	b2 := s.second()
	for i, b := range []metadata.Backend{s.b, b2} {
		got, err := b.ReadSpace(s.ctx, sp.ID)
		if err != nil {
			t.Fatalf("handle %d: ReadSpace: %v", i+1, err)
		}
		if got.ID != sp.ID || got.Type != sp.Type || got.Name != sp.Name || got.Owner != sp.Owner ||
			got.Quota != sp.Quota || got.Btime != sp.Btime {
			t.Errorf("handle %d: ReadSpace = %+v, want %+v", i+1, got, sp)
		}
		n, err := b.ReadNode(s.ctx, sp.ID, sp.ID)
		if err != nil {
			t.Fatalf("handle %d: ReadNode(root): %v", i+1, err)
		}
		sameRecord(t, "root", n, root)
		if !n.IsRoot() || !n.IsDir() || n.Tree != (metadata.TreeStats{}) {
			t.Errorf("handle %d: root %+v is not an empty root folder", i+1, n)
		}
		l, err := b.List(s.ctx, sp.ID, sp.ID)
		if err != nil || len(l.Children) != 0 || len(l.Problems) != 0 {
			t.Errorf("handle %d: List(root) = %+v, %v; want empty", i+1, l, err)
		}
	}
}

// Creating a space twice fails with ErrExist and leaves the first intact.
func testSpaceDuplicate(t *testing.T, s *store) {
	sp, _ := s.newSpace(s.b)
	dup := sp.Clone()
	dup.Name = "impostor"
	root := &metadata.Node{ID: sp.ID, SpaceID: sp.ID, Type: metadata.TypeDir, Mtime: 1}
	wantErr(t, s.b.CreateSpace(s.ctx, dup, root), metadata.ErrExist, "CreateSpace of an existing space")
	got, err := s.second().ReadSpace(s.ctx, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != sp.Name {
		t.Errorf("after a failed duplicate create, space name is %q, want %q", got.Name, sp.Name)
	}
}

func testSpaceReadMissing(t *testing.T, s *store) {
	_, err := s.b.ReadSpace(s.ctx, uuid.NewString())
	wantErr(t, err, metadata.ErrNotFound, "ReadSpace of a missing space")
}

func testSpaceInvalidID(t *testing.T, s *store) {
	for _, id := range badIDs {
		_, err := s.b.ReadSpace(s.ctx, id)
		wantErr(t, err, metadata.ErrInvalidID, "ReadSpace(%q)", id)
		called := false
		_, err = s.b.UpdateSpace(s.ctx, id, func(*metadata.Space) error { called = true; return nil })
		wantErr(t, err, metadata.ErrInvalidID, "UpdateSpace(%q)", id)
		if called {
			t.Errorf("UpdateSpace(%q) called fn", id)
		}
		_, err = s.b.NamespaceVersion(s.ctx, id)
		wantErr(t, err, metadata.ErrInvalidID, "NamespaceVersion(%q)", id)
		sp := &metadata.Space{ID: id, Type: metadata.SpacePersonal, Name: "x", Btime: 1}
		root := &metadata.Node{ID: id, SpaceID: id, Type: metadata.TypeDir, Mtime: 1}
		wantErr(t, s.b.CreateSpace(s.ctx, sp, root), metadata.ErrInvalidID, "CreateSpace(%q)", id)
	}
}

// UpdateSpace stores what fn made of the record; both handles see it.
func testSpaceUpdate(t *testing.T, s *store) {
	b2 := s.second()
	if _, err := b2.ReadSpace(s.ctx, s.sid); err != nil { // warm the second handle
		t.Fatal(err)
	}
	s.settle(b2)
	got, err := s.b.UpdateSpace(s.ctx, s.sid, func(sp *metadata.Space) error {
		sp.Name = "renamed"
		sp.Quota = 42
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.Quota != 42 || got.ID != s.sid {
		t.Errorf("UpdateSpace returned %+v", got)
	}
	for i, b := range []metadata.Backend{s.b, b2} {
		sp, err := b.ReadSpace(s.ctx, s.sid)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Name != "renamed" || sp.Quota != 42 {
			t.Errorf("handle %d: after UpdateSpace, ReadSpace = %+v", i+1, sp)
		}
	}
}

var errBoom = errors.New("metadatatest: fn failed on purpose")

// If fn fails, UpdateSpace returns its error and stores nothing.
func testSpaceUpdateFnError(t *testing.T, s *store) {
	before, err := s.b.ReadSpace(s.ctx, s.sid)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.b.UpdateSpace(s.ctx, s.sid, func(sp *metadata.Space) error {
		sp.Name = "must not be stored"
		return errBoom
	})
	wantErr(t, err, errBoom, "UpdateSpace with a failing fn")
	for i, b := range []metadata.Backend{s.b, s.second()} {
		sp, err := b.ReadSpace(s.ctx, s.sid)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Name != before.Name {
			t.Errorf("handle %d: a failed UpdateSpace stored name %q", i+1, sp.Name)
		}
	}
}

func testSpaceUpdateMissing(t *testing.T, s *store) {
	called := false
	_, err := s.b.UpdateSpace(s.ctx, uuid.NewString(), func(*metadata.Space) error { called = true; return nil })
	wantErr(t, err, metadata.ErrNotFound, "UpdateSpace of a missing space")
	if called {
		t.Error("UpdateSpace of a missing space called fn")
	}
}

// ListSpaces lists every space exactly once, on every handle.
func testSpaceList(t *testing.T, s *store) {
	want := []string{s.sid}
	for range 4 {
		sp, _ := s.newSpace(s.b)
		want = append(want, sp.ID)
	}
	slices.Sort(want)
	for i, b := range []metadata.Backend{s.b, s.second()} {
		var got []string
		err := b.ListSpaces(s.ctx, func(sp *metadata.Space) error {
			got = append(got, sp.ID)
			return nil
		}, func(id string, err error) {
			t.Errorf("handle %d: ListSpaces: bad space %s: %v", i+1, id, err)
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("handle %d: ListSpaces = %v, want %v", i+1, got, want)
		}
	}
}

// Spaces do not see each other's nodes, and a node's space is part of its
// identity.
func testSpaceIsolation(t *testing.T, s *store) {
	other, _ := s.newSpace(s.b)
	f := s.mkfile(s.sid, "f")
	_, err := s.b.ReadNode(s.ctx, other.ID, f.ID)
	wantErr(t, err, metadata.ErrNotFound, "ReadNode of a node in another space")
	_, err = s.b.Lookup(s.ctx, other.ID, other.ID, "f")
	wantErr(t, err, metadata.ErrNotFound, "Lookup of a name in another space's root")
	l, err := s.b.List(s.ctx, other.ID, other.ID)
	if err != nil || len(l.Children) != 0 {
		t.Errorf("List(other root) = %+v, %v; want empty", l, err)
	}
	// A folder is found only in its own space, also when a handle has its
	// (empty) listing at hand.
	e := s.mkdir(s.sid, "empty")
	s.list(s.b, e.ID)
	s.settle(s.b)
	_, err = s.b.List(s.ctx, other.ID, e.ID)
	wantErr(t, err, metadata.ErrNotFound, "List in another space of a folder whose listing was read")
	_, err = s.b.Lookup(s.ctx, other.ID, e.ID, "x")
	wantErr(t, err, metadata.ErrNotFound, "Lookup in another space in a folder whose listing was read")
	// A folder of one space cannot take a child of another.
	n := fileNode(other.ID, s.sid, "cross")
	wantErr(t, s.b.CreateNode(s.ctx, n), metadata.ErrNotFound, "CreateNode under a folder of another space")
}
