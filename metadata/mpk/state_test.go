package mpk

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/vmihailenco/msgpack/v5"
)

// The tests in this file pin the on-disk format of a space's locks and
// reservations (see sets.go) and count what their writes cost, like
// format_test.go does for the records of nodes.

func (s *fxStore) lock(path string) metadata.Lock {
	now := time.Now().UnixNano()
	return metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: s.sid, Path: path, User: "alice",
		Created: now, Expires: now + int64(time.Hour)}
}

func (s *fxStore) editLocks(e metadata.LockEdit) {
	s.t.Helper()
	if err := s.b.UpdateLocks(s.ctx, s.sid, func([]metadata.Lock) (metadata.LockEdit, error) { return e, nil }); err != nil {
		s.t.Fatal(err)
	}
}

func (s *fxStore) editReservations(e metadata.ReservationEdit) {
	s.t.Helper()
	if err := s.b.UpdateReservations(s.ctx, s.sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) { return e, nil }); err != nil {
		s.t.Fatal(err)
	}
}

// dirFiles lists the names in a directory of the space.
func (s *fxStore) dirFiles(name string) []string {
	s.t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.spaceDir(), name))
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestStateLayout pins where a space's locks and reservations live: one
// file <random uuid>.mpk per record in <space>/locks/ and
// <space>/reservations/, holding exactly the record (metadata.EncodeLock,
// EncodeReservation), and nothing of them in space.mpk.
func TestStateLayout(t *testing.T) {
	s := newFxStore(t)
	before, err := os.ReadFile(filepath.Join(s.spaceDir(), "space.mpk"))
	if err != nil {
		t.Fatal(err)
	}
	l := s.lock("/")
	s.editLocks(metadata.LockEdit{Put: []metadata.Lock{l}})
	r := metadata.Reservation{ID: uuid.NewString(), Bytes: 77, Expires: time.Now().Add(time.Hour).UnixNano(), User: "bob"}
	s.editReservations(metadata.ReservationEdit{Put: []metadata.Reservation{r}})
	for _, c := range []struct {
		dir  string
		want []byte
	}{{"locks", mustEncode(t, metadata.EncodeLock, l)}, {"reservations", mustEncode(t, metadata.EncodeReservation, r)}} {
		names := s.dirFiles(c.dir)
		if len(names) != 1 {
			t.Fatalf("%s/ holds %q, want one record", c.dir, names)
		}
		id, ok := strings.CutSuffix(names[0], ".mpk")
		if !ok || metadata.ValidateID(id) != nil {
			t.Errorf("%s/%s is not <uuid>.mpk", c.dir, names[0])
		}
		data, err := os.ReadFile(filepath.Join(s.spaceDir(), c.dir, names[0]))
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(c.want) {
			t.Errorf("%s/%s holds %x, want the record %x", c.dir, names[0], data, c.want)
		}
	}
	after, err := os.ReadFile(filepath.Join(s.spaceDir(), "space.mpk"))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("taking a lock and a reservation changed space.mpk")
	}
}

func mustEncode[T any](t *testing.T, enc func(*T) ([]byte, error), v T) []byte {
	t.Helper()
	b, err := enc(&v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStateInodeCounts counts what locks and reservations cost: one inode
// per new or refreshed record (its file, written as a temp file and
// renamed), none to remove one, and the set's directory once per space.
// The space record is never rewritten.
func TestStateInodeCounts(t *testing.T) {
	s := newFxStore(t)
	root := s.b.Root()
	count := len(storeEntries(t, root))
	spaceRec := inodeOf(t, filepath.Join(s.spaceDir(), "space.mpk"))
	step := func(what string, want int, op func()) {
		t.Helper()
		op()
		n := len(storeEntries(t, root))
		if n-count != want {
			t.Errorf("%s: %+d live inodes, want %+d", what, n-count, want)
		}
		count = n
	}
	a, b := s.lock("/a"), s.lock("/b")
	step("first lock of a space (record + locks/)", 2, func() { s.editLocks(metadata.LockEdit{Put: []metadata.Lock{a}}) })
	step("lock", 1, func() { s.editLocks(metadata.LockEdit{Put: []metadata.Lock{b}}) })
	step("refresh (new record, old one unlinked)", 0, func() {
		names := s.dirFiles("locks")
		a.Expires += int64(time.Minute)
		s.editLocks(metadata.LockEdit{Put: []metadata.Lock{a}})
		if slices.Equal(names, s.dirFiles("locks")) {
			t.Error("a refresh rewrote a lock record in place")
		}
	})
	step("unlock", -1, func() { s.editLocks(metadata.LockEdit{Delete: []string{b.Token}}) })
	r := metadata.Reservation{ID: uuid.NewString(), Bytes: 1, Expires: time.Now().Add(time.Hour).UnixNano()}
	step("first reservation of a space (record + reservations/)", 2, func() {
		s.editReservations(metadata.ReservationEdit{Put: []metadata.Reservation{r}})
	})
	r2 := r
	r2.ID = uuid.NewString()
	step("reserve", 1, func() { s.editReservations(metadata.ReservationEdit{Put: []metadata.Reservation{r2}}) })
	step("release", -1, func() { s.editReservations(metadata.ReservationEdit{Delete: []string{r2.ID}}) })
	step("an edit with nothing to do", 0, func() { s.editReservations(metadata.ReservationEdit{}) })
	if inodeOf(t, filepath.Join(s.spaceDir(), "space.mpk")) != spaceRec {
		t.Error("locks or reservations rewrote space.mpk")
	}
}

// TestStateCacheValidation: a hot read of a space's locks is served from
// the cache after one stat of the directory, and a change made by another
// process shows on the next read.
func TestStateCacheValidation(t *testing.T) {
	s := newFxStore(t)
	other := s.reopen()
	s.editLocks(metadata.LockEdit{Put: []metadata.Lock{s.lock("/")}})
	if ls, err := other.ReadLocks(s.ctx, s.sid); err != nil || len(ls) != 1 {
		t.Fatalf("ReadLocks: %v, %v", ls, err)
	}
	other.lockSets.Wait()
	hits := other.lockSets.Stats().Hits
	if ls, _ := other.ReadLocks(s.ctx, s.sid); len(ls) != 1 {
		t.Fatal("second read lost the lock")
	}
	if other.lockSets.Stats().Hits != hits+1 {
		t.Errorf("a hot ReadLocks was not a cache hit (%+v)", other.lockSets.Stats())
	}
	l2 := s.lock("/x")
	s.editLocks(metadata.LockEdit{Put: []metadata.Lock{l2}})
	if ls, _ := other.ReadLocks(s.ctx, s.sid); len(ls) != 2 {
		t.Errorf("after a lock taken elsewhere: %d locks, want 2", len(ls))
	}
	s.editLocks(metadata.LockEdit{Delete: []string{l2.Token}})
	if ls, _ := other.ReadLocks(s.ctx, s.sid); len(ls) != 1 {
		t.Errorf("after an unlock elsewhere: %d locks, want 1", len(ls))
	}
}

// TestStateSurvivesDamage: a record that cannot be decoded, a temp file and
// a second version of a lock left by a crash neither fail the reads nor
// count twice; the next write removes the older version.
func TestStateSurvivesDamage(t *testing.T) {
	s := newFxStore(t)
	l := s.lock("/")
	s.editLocks(metadata.LockEdit{Put: []metadata.Lock{l}})
	dir := filepath.Join(s.spaceDir(), "locks")
	// A crash between writing a refreshed version and unlinking the old.
	newer := l
	newer.Expires += int64(time.Hour)
	if err := os.WriteFile(filepath.Join(dir, uuid.NewString()+".mpk"), mustEncode(t, metadata.EncodeLock, newer), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, uuid.NewString()+".mpk"), []byte("garbage"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "."+uuid.NewString()+".mpk.1234abcd.tmp"), []byte{0x80}, 0o644))
	b := s.reopen()
	ls, err := b.ReadLocks(s.ctx, s.sid)
	if err != nil || len(ls) != 1 || ls[0].Expires != newer.Expires {
		t.Fatalf("ReadLocks = %+v, %v; want the newer version only", ls, err)
	}
	err = b.UpdateLocks(s.ctx, s.sid, func(ls []metadata.Lock) (metadata.LockEdit, error) {
		if len(ls) != 1 {
			t.Errorf("fn saw %d locks", len(ls))
		}
		return metadata.LockEdit{Put: []metadata.Lock{s.lock("/y")}}, nil
	})
	must(err)
	var records int
	for _, n := range s.dirFiles("locks") {
		if !strings.HasPrefix(n, ".") {
			records++
		}
	}
	if records != 3 { // the newer version, the new lock, the garbage (check's business)
		t.Errorf("after a write: %d record files, want 3 (the older version gone)", records)
	}
}

// TestLegacyRecordMovesOut: a space record that older code let grow past
// MaxRecordSize (two LOCKs with 600 000-byte owners) opens, its locks
// count, and the next write of the space's locks moves them out, which
// brings the record back under the limit with its name, type and owner.
func TestLegacyRecordMovesOut(t *testing.T) {
	s := newFxStore(t)
	path := filepath.Join(s.spaceDir(), "space.mpk")
	sp, err := s.b.ReadSpace(s.ctx, s.sid)
	if err != nil {
		t.Fatal(err)
	}
	old := sp.Clone()
	old.Owner = "alice"
	now := time.Now().UnixNano()
	owner := strings.Repeat("o", 600_000)
	for range 2 {
		old.Locks = append(old.Locks, metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: s.sid, User: "mallory",
			Owner: owner, Created: now, Expires: now + int64(time.Hour)})
	}
	data, err := msgpack.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= metadata.MaxRecordSize {
		t.Fatalf("test record of %d bytes", len(data))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := s.reopen()
	got, err := b.ReadSpace(s.ctx, s.sid)
	if err != nil {
		t.Fatalf("ReadSpace of a %d-byte record: %v", len(data), err)
	}
	if got.Name != "fx" || got.Owner != "alice" {
		t.Errorf("read %+v", got)
	}
	if ls, err := b.ReadLocks(s.ctx, s.sid); err != nil || len(ls) != 2 {
		t.Fatalf("ReadLocks: %d, %v; want the 2 older locks", len(ls), err)
	}
	err = b.UpdateLocks(s.ctx, s.sid, func(ls []metadata.Lock) (metadata.LockEdit, error) {
		return metadata.LockEdit{Delete: []string{ls[0].Token}}, nil
	})
	if err != nil {
		t.Fatalf("UpdateLocks: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 1000 {
		t.Errorf("space.mpk is %d bytes after the move", st.Size())
	}
	got, err = s.reopen().ReadSpace(s.ctx, s.sid)
	if err != nil || got.Name != "fx" || got.Owner != "alice" || got.Type != metadata.SpaceProject || got.HasLegacyState() {
		t.Errorf("after the move: %+v, %v", got, err)
	}
	if ls, err := s.reopen().ReadLocks(s.ctx, s.sid); err != nil || len(ls) != 1 || ls[0].Owner != owner {
		t.Errorf("after the move: %d locks, %v; want the one not deleted, whole", len(ls), err)
	}
}
