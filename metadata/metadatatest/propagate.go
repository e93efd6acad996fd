package metadatatest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var propagateTests = []test{
	{"Chain", testPropagateChain},
	{"Mtime", testPropagateMtime},
	{"Clamp", testPropagateClamp},
	{"StopsAfterTrash", testPropagateStopsAfterTrash},
	{"NotFolder", testPropagateNotFolder},
	{"VisibleInListings", testPropagateVisibleInListings},
}

// wantTree fails the test unless each folder (read on b) has tree size want.
func (s *store) wantTree(b metadata.Backend, what string, want int64, folders ...*metadata.Node) {
	s.t.Helper()
	for _, f := range folders {
		if got := s.treeSize(b, f.ID); got != want {
			s.t.Errorf("%s: tree size of %q = %d, want %d", what, f.Name, got, want)
		}
	}
}

// A delta reaches the folder and every ancestor up to the root, and only
// them.
func testPropagateChain(t *testing.T, s *store) {
	ns := s.chain("a", "b", "c")
	root, a, b, c := ns[0], ns[1], ns[2], ns[3]
	side := s.mkdir(a.ID, "side")
	s.propagate(s.b, c.ID, 100)
	b2 := s.second()
	for _, h := range []metadata.Backend{s.b, b2} {
		s.wantTree(h, "after +100 at c", 100, c, b, a, root)
		s.wantTree(h, "a sibling of the path", 0, side)
	}
	s.propagate(b2, b.ID, 20)
	for _, h := range []metadata.Backend{s.b, b2} {
		s.wantTree(h, "after +20 at b", 100, c)
		s.wantTree(h, "after +20 at b", 120, b, a, root)
	}
	s.propagate(s.b, c.ID, -30)
	s.wantTree(b2, "after -30 at c", 70, c)
	s.wantTree(b2, "after -30 at c", 90, b, a, root)
}

// Every Propagate gives the folder and each ancestor a strictly greater
// tree mtime, so a new etag, even with a zero delta and even within one
// clock tick; the etag of a file is not a folder's business.
func testPropagateMtime(t *testing.T, s *store) {
	ns := s.chain("a", "b", "c")
	f := s.mkfile(ns[3].ID, "f")
	fileEtag := s.read(s.b, f.ID).Etag()
	b2 := s.second()
	prev := make([]*metadata.Node, len(ns))
	for i, n := range ns {
		prev[i] = s.read(b2, n.ID)
	}
	for round, delta := range []int64{5, 0, 5, -10} {
		s.propagate(s.b, ns[3].ID, delta)
		for i, n := range ns {
			cur := s.read(b2, n.ID)
			if cur.Tree.Mtime <= prev[i].Tree.Mtime {
				t.Errorf("round %d: tree mtime of %q went from %d to %d", round, n.Name, prev[i].Tree.Mtime, cur.Tree.Mtime)
			}
			if cur.Etag() == prev[i].Etag() {
				t.Errorf("round %d: etag of %q unchanged by Propagate", round, n.Name)
			}
			prev[i] = cur
		}
	}
	if e := s.read(b2, f.ID).Etag(); e != fileEtag {
		t.Errorf("a file's etag changed from %s to %s when its parent's tree changed", fileEtag, e)
	}
}

// A reported tree size never goes below zero, yet deltas commute: the
// stored sum is kept exact, so a subtraction that arrives before the
// addition it accounts for (concurrent operations propagate in any order)
// loses nothing.
func testPropagateClamp(t *testing.T, s *store) {
	ns := s.chain("a", "b")
	s.propagate(s.b, ns[1].ID, 50) // only root and a hold 50
	s.propagate(s.b, ns[2].ID, 100)
	s.propagate(s.b, ns[2].ID, -120) // b: 100-120 -> reported 0; a and root: 150-120 = 30
	b2 := s.second()
	if n := s.read(b2, ns[2].ID); n.TreeSize() != 0 {
		t.Errorf("after a delta larger than b's size: b reports %d, want 0", n.TreeSize())
	}
	s.wantTree(b2, "after a delta larger than b's size", 30, ns[1], ns[0])
	s.propagate(s.b, ns[2].ID, -1000)
	for _, n := range ns {
		if got := s.read(b2, n.ID).TreeSize(); got != 0 {
			t.Errorf("after a delta larger than every size: %q reports %d, want 0", n.Name, got)
		}
	}
	// The late additions arrive: every sum is exact again.
	s.propagate(s.b, ns[2].ID, 1020)
	s.wantTree(b2, "after the additions arrived", 0, ns[2])
	s.wantTree(b2, "after the additions arrived", 50, ns[1], ns[0])
}

// Propagation stops after a trashed folder: the trashed folder gets the
// delta (its size must stay right for a restore), its former parent, which
// no longer contains it, does not.
func testPropagateStopsAfterTrash(t *testing.T, s *store) {
	ns := s.chain("a", "b", "c")
	root, a, b, c := ns[0], ns[1], ns[2], ns[3]
	s.trash(s.b, b.ID)
	s.propagate(s.b, c.ID, 5)
	s.propagate(s.b, b.ID, 7)
	b2 := s.second()
	s.wantTree(b2, "below the trashed folder", 5, c)
	s.wantTree(b2, "the trashed folder", 12, b)
	s.wantTree(b2, "above the trashed folder", 0, a, root)
}

// Propagate is a folder operation: a file gives ErrNotDir, a missing folder
// ErrNotFound, and neither changes anything.
func testPropagateNotFolder(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	f := s.mkfile(d.ID, "f")
	wantErr(t, s.b.Propagate(s.ctx, s.sid, f.ID, 10), metadata.ErrNotDir, "Propagate to a file")
	wantErr(t, s.b.Propagate(s.ctx, s.sid, uuid.NewString(), 10), metadata.ErrNotFound, "Propagate to a missing folder")
	s.wantTree(s.second(), "after refused Propagate calls", 0, d, s.read(s.b, s.sid))
}

// Listings show their children's new tree sizes, also on a handle that had
// the listings cached.
func testPropagateVisibleInListings(t *testing.T, s *store) {
	ns := s.chain("a", "b", "c")
	b2 := s.second()
	for _, n := range ns[:3] {
		s.list(b2, n.ID)
		s.list(s.b, n.ID)
	}
	s.settle(s.b, b2)
	s.propagate(s.b, ns[3].ID, 64)
	for i, h := range []metadata.Backend{s.b, b2} {
		for j, n := range ns[:3] {
			c := findChild(s.list(h, n.ID), ns[j+1].Name)
			if c == nil || c.Tree.Size != 64 {
				t.Errorf("handle %d: List of %q shows child %+v, want tree size 64", i+1, n.Name, c)
			}
		}
		if c := s.lookup(h, ns[2].ID, "c"); c.Tree.Size != 64 {
			t.Errorf("handle %d: Lookup c shows tree size %d, want 64", i+1, c.Tree.Size)
		}
	}
}
