package metadatatest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

// The per-request state of a space: its WebDAV locks and its quota
// reservations, each a record of its own (UpdateLocks, UpdateReservations),
// never part of the space record.
var stateTests = []test{
	{"LocksEmpty", testLocksEmpty},
	{"LocksPutReplaceDelete", testLocksPutReplaceDelete},
	{"LocksFnError", testLocksFnError},
	{"LocksMissingSpace", testLocksMissingSpace},
	{"LocksTooLarge", testLocksTooLarge},
	{"LocksAtomic", testLocksAtomic},
	{"LocksManyStayReadable", testLocksManyStayReadable},
	{"ReservationsExact", testReservationsExact},
	{"ReservationsIsolated", testReservationsIsolated},
	{"LegacyStateMovesOut", testLegacyStateMovesOut},
	{"LegacyStateByUpdateSpace", testLegacyStateByUpdateSpace},
	{"UpdateSpaceKeepsStateOut", testUpdateSpaceKeepsStateOut},
	{"RecordsBounded", testRecordsBounded},
	{"DeleteSpaceDropsState", testDeleteSpaceDropsState},
}

func newLock(nodeID, path string) metadata.Lock {
	now := time.Now().UnixNano()
	return metadata.Lock{
		Token: "opaquelocktoken:" + uuid.NewString(), NodeID: nodeID, Path: path, User: "alice",
		Owner: "<D:href>alice</D:href>", Deep: true, Created: now, Expires: now + int64(time.Hour),
	}
}

func (s *store) locks(b metadata.Backend) []metadata.Lock {
	s.t.Helper()
	ls, err := b.ReadLocks(s.ctx, s.sid)
	if err != nil {
		s.t.Fatalf("ReadLocks: %v", err)
	}
	return ls
}

func (s *store) editLocks(b metadata.Backend, e metadata.LockEdit) {
	s.t.Helper()
	err := b.UpdateLocks(s.ctx, s.sid, func([]metadata.Lock) (metadata.LockEdit, error) { return e, nil })
	if err != nil {
		s.t.Fatalf("UpdateLocks: %v", err)
	}
}

func tokens(ls []metadata.Lock) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Token)
	}
	slices.Sort(out)
	return out
}

func sameLock(t *testing.T, what string, got, want metadata.Lock) {
	t.Helper()
	if got.Token != want.Token || got.NodeID != want.NodeID || got.Path != want.Path || got.User != want.User ||
		got.Owner != want.Owner || got.Shared != want.Shared || got.Deep != want.Deep ||
		got.Created != want.Created || got.Expires != want.Expires {
		t.Errorf("%s: lock %+v, want %+v", what, got, want)
	}
}

// A new space has no locks and no reservations; nor has a space that does
// not exist (ReadLocks is asked by every mutation and must not fail).
func testLocksEmpty(t *testing.T, s *store) {
	if ls := s.locks(s.b); len(ls) != 0 {
		t.Errorf("new space: locks %+v", ls)
	}
	if rs, err := s.b.ReadReservations(s.ctx, s.sid); err != nil || len(rs) != 0 {
		t.Errorf("new space: reservations %+v, %v", rs, err)
	}
	ls, err := s.b.ReadLocks(s.ctx, uuid.NewString())
	if err != nil || len(ls) != 0 {
		t.Errorf("missing space: locks %+v, %v; want none", ls, err)
	}
	_, err = s.b.ReadLocks(s.ctx, "not-an-id")
	wantErr(t, err, metadata.ErrInvalidID, "ReadLocks of a bad id")
}

// Locks are stored whole, replaced by token, removed by token, and every
// change shows on the next read of every handle.
func testLocksPutReplaceDelete(t *testing.T, s *store) {
	b2 := s.second()
	s.locks(b2) // warm the second handle's cache
	s.settle(b2)
	f := s.mkfile(s.sid, "f")
	a, c := newLock(f.ID, "/f"), newLock(f.ID, "/f")
	c.Shared, c.Deep, c.Owner = true, false, ""
	s.editLocks(s.b, metadata.LockEdit{Put: []metadata.Lock{a, c}})
	for i, b := range []metadata.Backend{s.b, b2} {
		ls := s.locks(b)
		if len(ls) != 2 {
			t.Fatalf("handle %d: %d locks, want 2", i+1, len(ls))
		}
		for _, l := range ls {
			want := a
			if l.Token == c.Token {
				want = c
			}
			sameLock(t, fmt.Sprintf("handle %d", i+1), l, want)
		}
	}
	s.settle(s.b, b2)
	// A refresh: the same token, a later expiry.
	a.Expires += int64(time.Hour)
	s.editLocks(b2, metadata.LockEdit{Put: []metadata.Lock{a}})
	for i, b := range []metadata.Backend{s.b, b2} {
		ls := s.locks(b)
		if !slices.Equal(tokens(ls), tokens([]metadata.Lock{a, c})) {
			t.Fatalf("handle %d after a refresh: %v", i+1, tokens(ls))
		}
		for _, l := range ls {
			if l.Token == a.Token {
				sameLock(t, fmt.Sprintf("handle %d after a refresh", i+1), l, a)
			}
		}
	}
	s.settle(s.b, b2)
	s.editLocks(s.b, metadata.LockEdit{Delete: []string{c.Token, "opaquelocktoken:nothing"}})
	for i, b := range []metadata.Backend{s.b, b2} {
		if got := tokens(s.locks(b)); !slices.Equal(got, []string{a.Token}) {
			t.Errorf("handle %d after a delete: %v, want %v", i+1, got, a.Token)
		}
	}
	// fn sees what is stored.
	err := b2.UpdateLocks(s.ctx, s.sid, func(ls []metadata.Lock) (metadata.LockEdit, error) {
		if !slices.Equal(tokens(ls), []string{a.Token}) {
			t.Errorf("fn saw %v, want %v", tokens(ls), a.Token)
		}
		return metadata.LockEdit{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An fn that fails stores nothing, and its error comes back.
func testLocksFnError(t *testing.T, s *store) {
	boom := errors.New("boom")
	err := s.b.UpdateLocks(s.ctx, s.sid, func([]metadata.Lock) (metadata.LockEdit, error) {
		return metadata.LockEdit{Put: []metadata.Lock{newLock(s.sid, "/")}}, boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateLocks: %v, want fn's error", err)
	}
	err = s.b.UpdateReservations(s.ctx, s.sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
		return metadata.ReservationEdit{Put: []metadata.Reservation{{ID: uuid.NewString(), Bytes: 1, Expires: time.Now().Add(time.Hour).UnixNano()}}}, boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateReservations: %v, want fn's error", err)
	}
	if ls := s.locks(s.second()); len(ls) != 0 {
		t.Errorf("a failed UpdateLocks stored %+v", ls)
	}
	if rs, _ := s.second().ReadReservations(s.ctx, s.sid); len(rs) != 0 {
		t.Errorf("a failed UpdateReservations stored %+v", rs)
	}
}

// Locks of a space that does not exist cannot be stored (and must not
// bring the space back in any form).
func testLocksMissingSpace(t *testing.T, s *store) {
	missing := uuid.NewString()
	err := s.b.UpdateLocks(s.ctx, missing, func([]metadata.Lock) (metadata.LockEdit, error) {
		return metadata.LockEdit{Put: []metadata.Lock{newLock(missing, "/")}}, nil
	})
	wantErr(t, err, metadata.ErrNotFound, "UpdateLocks of a missing space")
	err = s.b.UpdateReservations(s.ctx, missing, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
		return metadata.ReservationEdit{Put: []metadata.Reservation{{ID: uuid.NewString(), Expires: 1 << 62}}}, nil
	})
	wantErr(t, err, metadata.ErrNotFound, "UpdateReservations of a missing space")
	if _, err := s.b.ReadSpace(s.ctx, missing); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("after UpdateLocks of a missing space, ReadSpace: %v", err)
	}
	if ls, _ := s.b.ReadLocks(s.ctx, missing); len(ls) != 0 {
		t.Errorf("a missing space has locks %+v", ls)
	}
}

// A lock whose record would pass MaxRecordSize is refused with
// ErrTooLarge, and nothing of the edit is stored.
func testLocksTooLarge(t *testing.T, s *store) {
	small, big := newLock(s.sid, "/"), newLock(s.sid, "/")
	big.Owner = strings.Repeat("o", metadata.MaxRecordSize)
	err := s.b.UpdateLocks(s.ctx, s.sid, func([]metadata.Lock) (metadata.LockEdit, error) {
		return metadata.LockEdit{Put: []metadata.Lock{small, big}}, nil
	})
	wantErr(t, err, metadata.ErrTooLarge, "UpdateLocks with a lock of %d bytes", len(big.Owner))
	if ls := s.locks(s.second()); len(ls) != 0 {
		t.Errorf("an edit refused as too large stored %v", tokens(ls))
	}
}

// Taking a lock is atomic with the look at all others: of many concurrent
// exclusive lockers of one path, on two handles, exactly one wins.
func testLocksAtomic(t *testing.T, s *store) {
	const n = 16
	hs := s.handles()
	errLocked := errors.New("locked")
	errs := make([]error, n)
	together(n, func(i int) {
		errs[i] = hs[i%2].UpdateLocks(s.ctx, s.sid, func(ls []metadata.Lock) (metadata.LockEdit, error) {
			for _, l := range ls {
				if l.Path == "/x" {
					return metadata.LockEdit{}, errLocked
				}
			}
			return metadata.LockEdit{Put: []metadata.Lock{newLock(s.sid, "/x")}}, nil
		})
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errLocked):
			t.Errorf("locker %d: %v", i, err)
		}
	}
	if ls := s.locks(s.b); won != 1 || len(ls) != 1 {
		t.Errorf("%d lockers won, %d locks stored; want 1 and 1", won, len(ls))
	}
}

// Many locks with large owners, more than any one record may hold, leave
// the space and its locks readable: each lock is its own record.
func testLocksManyStayReadable(t *testing.T, s *store) {
	owner := strings.Repeat("x", 200<<10)
	var all []metadata.Lock
	for range 8 { // 1.6 MiB of owners in all
		l := newLock(s.sid, "/")
		l.Owner = owner
		all = append(all, l)
		s.editLocks(s.b, metadata.LockEdit{Put: []metadata.Lock{l}})
	}
	b2 := s.second()
	if got := tokens(s.locks(b2)); !slices.Equal(got, tokens(all)) {
		t.Errorf("locks %v, want %v", got, tokens(all))
	}
	sp, err := b2.ReadSpace(s.ctx, s.sid)
	if err != nil {
		t.Fatalf("ReadSpace after locks of %d bytes in all: %v", len(all)*len(owner), err)
	}
	if len(sp.Locks) != 0 {
		t.Errorf("the space record holds %d locks", len(sp.Locks))
	}
	if _, err := b2.List(s.ctx, s.sid, s.sid); err != nil {
		t.Errorf("List: %v", err)
	}
}

// A quota check in UpdateReservations is exact: concurrent reservers on
// two handles that each add one if fewer than max are held never hold
// more than max together.
func testReservationsExact(t *testing.T, s *store) {
	const n, max = 24, 5
	hs := s.handles()
	full := errors.New("full")
	errs := make([]error, n)
	together(n, func(i int) {
		errs[i] = hs[i%2].UpdateReservations(s.ctx, s.sid, func(rs []metadata.Reservation) (metadata.ReservationEdit, error) {
			if len(rs) >= max {
				return metadata.ReservationEdit{}, full
			}
			return metadata.ReservationEdit{Put: []metadata.Reservation{{
				ID: uuid.NewString(), Bytes: int64(i), Expires: time.Now().Add(time.Hour).UnixNano(), User: "u",
			}}}, nil
		})
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, full):
			t.Errorf("reserver %d: %v", i, err)
		}
	}
	rs, err := s.second().ReadReservations(s.ctx, s.sid)
	if err != nil {
		t.Fatal(err)
	}
	if ok != max || len(rs) != max {
		t.Errorf("%d reservations taken, %d stored; want %d and %d", ok, len(rs), max, max)
	}
	// Released by id, on the other handle.
	var ids []string
	for _, r := range rs {
		if r.User != "u" || r.Version == 0 {
			t.Errorf("reservation %+v lost its user or version", r)
		}
		ids = append(ids, r.ID)
	}
	err = hs[1].UpdateReservations(s.ctx, s.sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
		return metadata.ReservationEdit{Delete: ids[:2]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.b.ReadReservations(s.ctx, s.sid); len(rs) != max-2 {
		t.Errorf("after releasing 2: %d reservations", len(rs))
	}
}

// The state of one space is not another's.
func testReservationsIsolated(t *testing.T, s *store) {
	other, _ := s.newSpace(s.b)
	s.editLocks(s.b, metadata.LockEdit{Put: []metadata.Lock{newLock(s.sid, "/")}})
	err := s.b.UpdateReservations(s.ctx, s.sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
		return metadata.ReservationEdit{Put: []metadata.Reservation{{ID: uuid.NewString(), Bytes: 7, Expires: 1 << 62}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.b.ReadLocks(s.ctx, other.ID); len(ls) != 0 {
		t.Errorf("another space has locks %+v", ls)
	}
	if rs, _ := s.b.ReadReservations(s.ctx, other.ID); len(rs) != 0 {
		t.Errorf("another space has reservations %+v", rs)
	}
}

// legacySpace creates a space whose record holds locks and reservations
// the way older code kept them: one live and one expired of each.
func (s *store) legacySpace() (*metadata.Space, metadata.Lock, metadata.Reservation) {
	s.t.Helper()
	id := uuid.NewString()
	now := time.Now().UnixNano()
	live := metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: id, User: "bob", Owner: "old", Deep: true, Created: now, Expires: now + int64(time.Hour)}
	dead := metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: id, Created: now - 10, Expires: now - 5}
	res := metadata.Reservation{ID: uuid.NewString(), Bytes: 1234, Expires: now + int64(time.Hour)}
	sp := &metadata.Space{
		ID: id, Type: metadata.SpaceProject, Name: "old", Owner: "bob", Quota: 1 << 20, Btime: now,
		Locks:        []metadata.Lock{live, dead},
		Reservations: []metadata.Reservation{res, {ID: uuid.NewString(), Bytes: 9, Expires: now - 5}},
	}
	root := &metadata.Node{ID: id, SpaceID: id, Type: metadata.TypeDir, Mtime: now, Btime: now}
	if err := s.b.CreateSpace(s.ctx, sp, root); err != nil {
		s.t.Fatalf("CreateSpace with older state: %v", err)
	}
	return sp, live, res
}

// Locks and reservations that older code kept in the space record count
// (for readers, before anything was written) and are moved out, the
// expired ones dropped, by the first write of the space's locks.
func testLegacyStateMovesOut(t *testing.T, s *store) {
	sp, live, res := s.legacySpace()
	b2 := s.second()
	for i, b := range []metadata.Backend{s.b, b2} {
		ls, err := b.ReadLocks(s.ctx, sp.ID)
		if err != nil || len(ls) != 1 {
			t.Fatalf("handle %d before the move: locks %+v, %v; want the live one", i+1, ls, err)
		}
		sameLock(t, "older lock", ls[0], live)
		rs, err := b.ReadReservations(s.ctx, sp.ID)
		if err != nil || len(rs) != 1 || rs[0].ID != res.ID || rs[0].Bytes != res.Bytes {
			t.Fatalf("handle %d before the move: reservations %+v, %v; want %+v", i+1, rs, err, res)
		}
	}
	s.settle(s.b, b2)
	err := b2.UpdateLocks(s.ctx, sp.ID, func(ls []metadata.Lock) (metadata.LockEdit, error) {
		if len(ls) != 1 || ls[0].Token != live.Token {
			t.Errorf("UpdateLocks' fn saw %v, want the live older lock", tokens(ls))
		}
		return metadata.LockEdit{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range []metadata.Backend{s.b, b2} {
		got, err := b.ReadSpace(s.ctx, sp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.HasLegacyState() || got.Name != sp.Name || got.Owner != sp.Owner || got.Type != sp.Type || got.Quota != sp.Quota {
			t.Errorf("handle %d: the record after the move: %+v", i+1, got)
		}
		ls, err := b.ReadLocks(s.ctx, sp.ID)
		if err != nil || len(ls) != 1 {
			t.Fatalf("handle %d after the move: locks %+v, %v", i+1, ls, err)
		}
		sameLock(t, "moved lock", ls[0], live)
		if ls[0].Version == 0 {
			t.Errorf("handle %d: the moved lock has no record version", i+1)
		}
		rs, err := b.ReadReservations(s.ctx, sp.ID)
		if err != nil || len(rs) != 1 || rs[0].ID != res.ID || rs[0].Bytes != res.Bytes {
			t.Errorf("handle %d after the move: reservations %+v, %v", i+1, rs, err)
		}
	}
}

// UpdateSpace moves them out too, and fn never sees them.
func testLegacyStateByUpdateSpace(t *testing.T, s *store) {
	sp, live, res := s.legacySpace()
	got, err := s.second().UpdateSpace(s.ctx, sp.ID, func(x *metadata.Space) error {
		if x.HasLegacyState() {
			t.Errorf("UpdateSpace's fn saw %d locks and %d reservations", len(x.Locks), len(x.Reservations))
		}
		x.Description = "moved"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.HasLegacyState() || got.Description != "moved" {
		t.Errorf("UpdateSpace returned %+v", got)
	}
	ls, err := s.b.ReadLocks(s.ctx, sp.ID)
	if err != nil || !slices.Equal(tokens(ls), []string{live.Token}) {
		t.Errorf("locks after UpdateSpace: %v, %v; want %v", tokens(ls), err, live.Token)
	}
	rs, err := s.b.ReadReservations(s.ctx, sp.ID)
	if err != nil || len(rs) != 1 || rs[0].ID != res.ID {
		t.Errorf("reservations after UpdateSpace: %+v, %v", rs, err)
	}
}

// UpdateSpace refuses to put locks or reservations into the record.
func testUpdateSpaceKeepsStateOut(t *testing.T, s *store) {
	_, err := s.b.UpdateSpace(s.ctx, s.sid, func(sp *metadata.Space) error {
		sp.Locks = append(sp.Locks, newLock(s.sid, "/"))
		return nil
	})
	if err == nil {
		t.Error("UpdateSpace stored a lock in the space record")
	}
	if got, _ := s.b.ReadSpace(s.ctx, s.sid); got != nil && got.HasLegacyState() {
		t.Errorf("the space record holds %d locks", len(got.Locks))
	}
}

// Every write refuses a record over MaxRecordSize with ErrTooLarge and
// leaves the stored one as it was: nodes, spaces, uploads.
func testRecordsBounded(t *testing.T, s *store) {
	huge := strings.Repeat("p", metadata.MaxRecordSize)
	f := s.mkfile(s.sid, "f")
	_, err := s.b.UpdateNode(s.ctx, s.sid, f.ID, func(n *metadata.Node) error {
		n.Props["big"] = huge
		return nil
	})
	wantErr(t, err, metadata.ErrTooLarge, "UpdateNode with %d bytes of properties", len(huge))
	if got := s.read(s.second(), f.ID); got.Props["big"] != "" {
		t.Error("a refused UpdateNode changed the record")
	}
	big := fileNode(s.sid, s.sid, "big")
	big.Props["big"] = huge
	wantErr(t, s.b.CreateNode(s.ctx, big), metadata.ErrTooLarge, "CreateNode with %d bytes of properties", len(huge))
	if _, err := s.b.Lookup(s.ctx, s.sid, s.sid, "big"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("a refused CreateNode left %q: %v", "big", err)
	}
	_, err = s.b.UpdateSpace(s.ctx, s.sid, func(sp *metadata.Space) error {
		sp.Description = huge
		return nil
	})
	wantErr(t, err, metadata.ErrTooLarge, "UpdateSpace with a description of %d bytes", len(huge))
	if sp, err := s.second().ReadSpace(s.ctx, s.sid); err != nil || sp.Description != "" {
		t.Errorf("after a refused UpdateSpace: %v", err)
	}
	u := newUpload(s.sid, s.sid)
	u.Meta = map[string]string{"big": huge}
	wantErr(t, s.b.CreateUpload(s.ctx, u), metadata.ErrTooLarge, "CreateUpload with %d bytes of metadata", len(huge))
	if _, err := s.b.ReadUpload(s.ctx, u.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("a refused CreateUpload left a record: %v", err)
	}
}

func newUpload(sid, parentID string) *metadata.Upload {
	now := time.Now().UnixNano()
	return &metadata.Upload{
		ID: uuid.NewString(), SpaceID: sid, ParentID: parentID, Name: "u", NodeID: uuid.NewString(),
		Size: 10, Created: now, Expires: now + int64(time.Hour), BlobID: uuid.NewString(), PartSize: 8 << 20,
	}
}

// Deleting a space deletes its locks and reservations.
func testDeleteSpaceDropsState(t *testing.T, s *store) {
	s.editLocks(s.b, metadata.LockEdit{Put: []metadata.Lock{newLock(s.sid, "/")}})
	err := s.b.UpdateReservations(s.ctx, s.sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
		return metadata.ReservationEdit{Put: []metadata.Reservation{{ID: uuid.NewString(), Bytes: 1, Expires: 1 << 62}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.b.DeleteSpace(s.ctx, s.sid); err != nil {
		t.Fatal(err)
	}
	b2 := s.second()
	if ls, err := b2.ReadLocks(s.ctx, s.sid); err != nil || len(ls) != 0 {
		t.Errorf("a deleted space has locks %+v, %v", ls, err)
	}
	if rs, err := b2.ReadReservations(s.ctx, s.sid); err != nil || len(rs) != 0 {
		t.Errorf("a deleted space has reservations %+v, %v", rs, err)
	}
}
