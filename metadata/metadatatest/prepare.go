package metadatatest

import (
	"errors"
	"testing"

	"github.com/s3dfs/s3dfs/metadata"
)

var prepareTests = []test{
	{"CommitCreates", testPrepareCommit},
	{"AbortLeavesNothing", testPrepareAbort},
	{"NameTakenMeanwhile", testPrepareNameTaken},
	{"ParentTrashedMeanwhile", testPrepareParentTrashed},
}

// A prepared file is not linked until Commit, which stores the final record
// (fields may differ from the prepared ones) and links it.
func testPrepareCommit(t *testing.T, s *store) {
	n := fileNode(s.sid, s.sid, "f")
	p, err := s.b.PrepareNode(s.ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.Lookup(s.ctx, s.sid, s.sid, "f"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("a prepared node is linked before Commit: %v", err)
	}
	if l := s.list(s.b, s.sid); len(l.Children) != 0 || len(l.Problems) != 0 {
		t.Fatalf("listing shows a prepared node: %+v", l)
	}
	final := n.Clone()
	final.Size, final.MimeType, final.BlobID = 1234, "text/plain", "0b4b4a44-9d73-4cb6-8e5b-2c1a54b7f1a1"
	if err := p.Commit(s.ctx, final); err != nil {
		t.Fatal(err)
	}
	p.Abort() // a no-op now
	got := s.lookup(s.second(), s.sid, "f")
	if got.ID != n.ID || got.Size != 1234 || got.MimeType != "text/plain" || got.BlobID != final.BlobID {
		t.Fatalf("committed node: %+v", got)
	}
	if err := p.Commit(s.ctx, final); err == nil {
		t.Fatal("a second Commit succeeded")
	}
	wrong := final.Clone()
	wrong.Name = "other"
	p2, err := s.b.PrepareNode(s.ctx, fileNode(s.sid, s.sid, "g"))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Abort()
	if err := p2.Commit(s.ctx, wrong); err == nil {
		t.Fatal("Commit of a node other than the prepared one succeeded")
	}
	if _, err := s.b.PrepareNode(s.ctx, dirNode(s.sid, s.sid, "d")); err == nil {
		t.Fatal("a folder was prepared")
	}
}

func testPrepareAbort(t *testing.T, s *store) {
	n := fileNode(s.sid, s.sid, "f")
	p, err := s.b.PrepareNode(s.ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	p.Abort()
	p.Abort()
	if _, err := s.b.ReadNode(s.ctx, s.sid, n.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("an aborted node can be read: %v", err)
	}
	// The name and the id are free again.
	s.create(n.Clone())
}

func testPrepareNameTaken(t *testing.T, s *store) {
	n := fileNode(s.sid, s.sid, "f")
	p, err := s.b.PrepareNode(s.ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	other := s.mkfile(s.sid, "f")
	if err := p.Commit(s.ctx, n); !errors.Is(err, metadata.ErrExist) {
		t.Fatalf("commit onto a taken name: %v", err)
	}
	p.Abort()
	if got := s.lookup(s.b, s.sid, "f"); got.ID != other.ID {
		t.Fatalf("the name now names %s, want %s", got.ID, other.ID)
	}
	if l := s.list(s.b, s.sid); len(l.Children) != 1 {
		t.Fatalf("listing: %+v", l)
	}
}

func testPrepareParentTrashed(t *testing.T, s *store) {
	d := s.mkdir(s.sid, "d")
	n := fileNode(s.sid, d.ID, "f")
	p, err := s.b.PrepareNode(s.ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	s.trash(s.b, d.ID)
	if err := p.Commit(s.ctx, n); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("commit into a trashed folder: %v", err)
	}
}
