package metadatatest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

var concurrencyTests = []test{
	{"CreateDistinct", testConcCreateDistinct},
	{"CreateSameName", testConcCreateSameName},
	{"Propagate", testConcPropagate},
	{"CrossMoves", testConcCrossMoves},
	{"PropagateDuringMoves", testConcPropagateDuringMoves},
	{"LookupDuringRenames", testConcLookupDuringRenames},
	{"TrashSameNode", testConcTrashSameNode},
	{"CreateSpaceSameID", testConcCreateSpaceSameID},
}

// together runs fn(0..n-1) in n goroutines released at the same moment and
// waits for all of them.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// handles returns the two handles of the store, so that goroutine i can use
// handles[i%2]: half of every concurrent test runs "in another process".
func (s *store) handles() [2]metadata.Backend { return [2]metadata.Backend{s.b, s.second()} }

// Concurrent creates of distinct names in one folder all succeed and all
// show.
func testConcCreateDistinct(t *testing.T, s *store) {
	const n = 32
	d := s.mkdir(s.sid, "d")
	hs := s.handles()
	errs := make([]error, n)
	together(n, func(i int) {
		var node *metadata.Node
		if i%4 == 0 {
			node = dirNode(s.sid, d.ID, fmt.Sprintf("n%02d", i))
		} else {
			node = fileNode(s.sid, d.ID, fmt.Sprintf("n%02d", i))
		}
		errs[i] = hs[i%2].CreateNode(s.ctx, node)
	})
	want := make([]string, n)
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
		want[i] = fmt.Sprintf("n%02d", i)
	}
	for _, h := range hs {
		wantChildren(t, "d", s.list(h, d.ID), want...)
	}
}

// Of concurrent creates of one name, exactly one wins; the others get
// ErrExist and leave nothing behind.
func testConcCreateSameName(t *testing.T, s *store) {
	const n = 16
	d := s.mkdir(s.sid, "d")
	hs := s.handles()
	nodes := make([]*metadata.Node, n)
	errs := make([]error, n)
	for i := range nodes {
		if i%2 == 0 {
			nodes[i] = dirNode(s.sid, d.ID, "same")
		} else {
			nodes[i] = fileNode(s.sid, d.ID, "same")
		}
	}
	together(n, func(i int) { errs[i] = hs[i/2%2].CreateNode(s.ctx, nodes[i]) })
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("creates %d and %d of the same name both succeeded", winner, i)
			}
			winner = i
		case !errors.Is(err, metadata.ErrExist):
			t.Errorf("create %d: got %v, want success or ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no create of the name succeeded")
	}
	for _, h := range hs {
		l := s.list(h, d.ID)
		if ids := childIDs(l); !slices.Equal(ids, []string{nodes[winner].ID}) {
			t.Errorf("d lists %v, want only the winner %s", ids, nodes[winner].ID)
		}
		for i, n := range nodes {
			if i == winner {
				continue
			}
			_, err := h.ReadNode(s.ctx, s.sid, n.ID)
			wantErr(t, err, metadata.ErrNotFound, "ReadNode of loser %d", i)
		}
	}
}

// Concurrent propagation through shared ancestors loses no delta and counts
// none twice, across handles.
func testConcPropagate(t *testing.T, s *store) {
	const workers, rounds = 16, 50
	ns := s.chain("a", "b", "c", "d") // d is at depth 4
	hs := s.handles()
	errs := make([]error, workers)
	together(workers, func(i int) {
		for range rounds {
			if err := hs[i%2].Propagate(s.ctx, s.sid, ns[4].ID, 1); err != nil {
				errs[i] = err
				return
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	s.wantTree(s.second(), "after concurrent propagation", workers*rounds, ns...)
}

// Two folders moved into each other at the same time: never both moves
// succeed (that would detach both from the root in a cycle). One succeeds
// and the other sees the cycle, and both folders stay reachable from the
// root.
func testConcCrossMoves(t *testing.T, s *store) {
	const rounds = 50
	hs := s.handles()
	for r := range rounds {
		a := s.mkdir(s.sid, fmt.Sprintf("a%02d", r))
		b := s.mkdir(s.sid, fmt.Sprintf("b%02d", r))
		pair := [2]*metadata.Node{a, b}
		var errs [2]error
		together(2, func(i int) {
			node, into := pair[i], pair[1-i]
			_, errs[i] = hs[(i+r)%2].MoveNode(s.ctx, s.sid, node.ID, into.ID, node.Name, false)
		})
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, metadata.ErrCycle):
				t.Errorf("round %d: move %d: got %v, want success or ErrCycle", r, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of two crossing moves succeeded (errors %v), want exactly 1", r, ok, errs)
		}
		for _, h := range hs {
			for _, n := range pair {
				if err := s.reachesRoot(h, n.ID); err != nil {
					t.Fatalf("round %d: %v", r, err)
				}
			}
		}
	}
}

// reachesRoot follows ParentID from id and fails on a cycle, a dangling
// parent, or a node its parent does not list under its name.
func (s *store) reachesRoot(b metadata.Backend, id string) error {
	seen := map[string]bool{}
	for cur := id; cur != s.sid; {
		if seen[cur] {
			return fmt.Errorf("node %s: cycle through %s", id, cur)
		}
		seen[cur] = true
		n, err := b.ReadNode(s.ctx, s.sid, cur)
		if err != nil {
			return fmt.Errorf("node %s: ancestor %s: %w", id, cur, err)
		}
		c, err := b.Lookup(s.ctx, s.sid, n.ParentID, n.Name)
		if err != nil || c.ID != cur {
			return fmt.Errorf("node %s: ancestor %s is not linked as %q in %s: %v", id, cur, n.Name, n.ParentID, err)
		}
		cur = n.ParentID
	}
	return nil
}

// A folder that moves back and forth while deltas propagate through it
// carries every delta exactly once, provided the mover propagates
// MoveResult.Moved's tree size away from the old parent and to the new one,
// as MoveResult's doc asks. A delta that passed the folder before the move
// is in Moved's size; one that reaches it after the move follows it to its
// new parent. The two parents start with a base size, so that no transient
// order of deltas can hit the clamp at 0.
func testConcPropagateDuringMoves(t *testing.T, s *store) {
	const base, workers, rounds, moves = 1000, 4, 40, 30
	root := s.read(s.b, s.sid)
	p := [2]*metadata.Node{s.mkdir(s.sid, "p0"), s.mkdir(s.sid, "p1")}
	x := s.mkdir(p[0].ID, "x")
	y := s.mkdir(x.ID, "y")
	s.propagate(s.b, p[0].ID, base)
	s.propagate(s.b, p[1].ID, base)
	hs := s.handles()
	errs := make([]error, workers+1)
	together(workers+1, func(i int) {
		if i < workers {
			for range rounds {
				if err := hs[i%2].Propagate(s.ctx, s.sid, y.ID, 1); err != nil {
					errs[i] = err
					return
				}
			}
			return
		}
		for m := range moves {
			from, to := p[m%2], p[(m+1)%2]
			h := hs[m/3%2]
			res, err := h.MoveNode(s.ctx, s.sid, x.ID, to.ID, "x", false)
			if err == nil {
				err = h.Propagate(s.ctx, s.sid, from.ID, -res.Moved.TreeSize())
			}
			if err == nil {
				err = h.Propagate(s.ctx, s.sid, to.ID, res.Moved.TreeSize())
			}
			if err != nil {
				errs[i] = fmt.Errorf("move %d: %w", m, err)
				return
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	const total = workers * rounds
	final := p[moves%2] // where x ended up
	b2 := s.second()
	s.wantTree(b2, "the moved folder and its child", total, x, y)
	s.wantTree(b2, "the parent x ended in", base+total, final)
	s.wantTree(b2, "the parent x left", base, p[(moves+1)%2])
	s.wantTree(b2, "the root", 2*base+total, root)
}

// Of concurrent trashes of one node, exactly one succeeds; the others find
// it gone (ErrNotFound).
func testConcTrashSameNode(t *testing.T, s *store) {
	const n = 8
	hs := s.handles()
	for r, node := range []*metadata.Node{s.mkfile(s.sid, "f"), s.mkdir(s.sid, "d")} {
		errs := make([]error, n)
		together(n, func(i int) { _, errs[i] = hs[(i+r)%2].TrashNode(s.ctx, s.sid, node.ID) })
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, metadata.ErrNotFound):
				t.Errorf("trash %d of %s: got %v, want success or ErrNotFound", i, node.Type, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent trashes of a %s succeeded, want 1", ok, n, node.Type)
		}
	}
	wantChildren(t, "root", s.list(s.second(), s.sid))
}

// Of concurrent creates of one space (a user's personal space on their
// first two logins at once), exactly one succeeds, and the space and its
// root are the winner's: a loser leaves nothing of its own behind.
func testConcCreateSpaceSameID(t *testing.T, s *store) {
	const n = 8
	hs := s.handles()
	for round := range 5 {
		id := uuid.NewString()
		errs := make([]error, n)
		together(n, func(i int) {
			sp := &metadata.Space{ID: id, Type: metadata.SpacePersonal, Name: fmt.Sprintf("attempt %d", i), Btime: int64(i + 1)}
			root := &metadata.Node{ID: id, SpaceID: id, Type: metadata.TypeDir, Mtime: int64(i + 1)}
			errs[i] = hs[i%2].CreateSpace(s.ctx, sp, root)
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("round %d: creates %d and %d of one space both succeeded", round, winner, i)
				}
				winner = i
			case !errors.Is(err, metadata.ErrExist):
				t.Errorf("round %d: create %d: got %v, want success or ErrExist", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no create of the space succeeded", round)
		}
		b2 := s.second()
		sp, err := b2.ReadSpace(s.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		root, err := b2.ReadNode(s.ctx, id, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("attempt %d", winner); sp.Name != want || root.Mtime != int64(winner+1) {
			t.Errorf("round %d: space %q with a root of mtime %d; want the winner's, %q with mtime %d",
				round, sp.Name, root.Mtime, want, winner+1)
		}
	}
}

// A node found by Lookup or List is the child of that folder under that
// name: its ParentID and Name say so, also while the node is being renamed
// and moved back and forth by another handle.
func testConcLookupDuringRenames(t *testing.T, s *store) {
	const moves = 60
	d := [2]*metadata.Node{s.mkdir(s.sid, "d0"), s.mkdir(s.sid, "d1")}
	f := s.mkfile(d[0].ID, "a")
	hs := s.handles()
	var mover sync.WaitGroup
	mover.Add(1)
	// Waited for however this test ends: the mover uses handles that the
	// test's cleanup closes.
	defer mover.Wait()
	done := make(chan struct{})
	var moveErr error
	go func() {
		defer mover.Done()
		defer close(done)
		for m := range moves {
			to := d[(m+1)%2] // alternate folders
			name := []string{"b", "a"}[m%2]
			if _, err := hs[0].MoveNode(s.ctx, s.sid, f.ID, to.ID, name, false); err != nil {
				moveErr = err
				return
			}
		}
	}()
	checked := 0
	check := func(n *metadata.Node, parentID, name, via string) {
		checked++
		if n.ID != f.ID || n.ParentID != parentID || n.Name != name {
			t.Errorf("%s %q in %s gave node %s named %q in %s", via, name, parentID, n.ID, n.Name, n.ParentID)
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false // one more pass over the final state
		default:
		}
		h := hs[1]
		for _, p := range d {
			for _, name := range []string{"a", "b"} {
				n, err := h.Lookup(s.ctx, s.sid, p.ID, name)
				if err == nil {
					check(n, p.ID, name, "Lookup")
				} else if !errors.Is(err, metadata.ErrNotFound) {
					t.Fatalf("Lookup: %v", err)
				}
			}
			l, err := h.List(s.ctx, s.sid, p.ID)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			for _, n := range l.Children {
				check(n, p.ID, n.Name, "List")
			}
		}
		if t.Failed() {
			break
		}
	}
	mover.Wait()
	if moveErr != nil {
		t.Fatal(moveErr)
	}
	if checked == 0 {
		t.Error("no Lookup or List found the node")
	}
}
