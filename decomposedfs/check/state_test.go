package check_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/vmihailenco/msgpack/v5"
)

// A space record that older code let grow past the read limit (two LOCKs
// with 600 000-byte owners, a reservation) is read by the check, which
// finds nothing wrong with it; a repair run keeps its type, name and
// owner (before, the check called it unreadable and the repair rebuilt it
// as "type project; name and owner unknown"); the server moves its locks
// out on their next change.
func TestOversizedSpaceRecordOfOlderCode(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	e.put(t, "/f", []byte("content"))
	path := e.meta.SpacePath(e.sid) + "/space.mpk"
	data, err := os.ReadFile(path)
	must(t, err)
	s, err := metadata.DecodeSpace(data)
	must(t, err)
	now := time.Now().UnixNano()
	for range 2 {
		s.Locks = append(s.Locks, metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: e.sid, User: "mallory",
			Owner: strings.Repeat("o", 600_000), Shared: true, Created: now, Expires: now + int64(time.Hour)})
	}
	s.Reservations = []metadata.Reservation{{ID: uuid.NewString(), Bytes: 10, Expires: now + int64(time.Hour)}}
	big, err := msgpack.Marshal(s)
	must(t, err)
	if len(big) <= metadata.MaxRecordSize {
		t.Fatalf("record of %d bytes", len(big))
	}
	must(t, os.WriteFile(path, big, 0o644))
	e.reopen(t)

	fds, sum := checktest.Check(t, e.fs, nil)
	if !sum.Complete {
		t.Fatalf("incomplete check: %v", sum.ErrorSamples)
	}
	for _, f := range fds {
		if f.Code == check.SpaceRecord {
			t.Errorf("the check cannot read the record: %s", f)
		}
	}
	checktest.Repair(t, e.fs)
	si, err := e.fs.GetSpace(ctx, e.sid)
	if err != nil {
		t.Fatal(err)
	}
	if si.Name != "test" || si.Owner != "alice" || si.Type != metadata.SpaceProject {
		t.Errorf("after the repair the space is %s %q of %q", si.Type, si.Name, si.Owner)
	}
	// The locks hold (a depth-0 lock on the root guards its members), and
	// their first change moves them out.
	if ls, err := e.fs.SpaceLocks(ctx, e.sid); err != nil || len(ls) != 2 {
		t.Fatalf("locks: %d, %v", len(ls), err)
	}
	if err := e.fs.Delete(ctx, e.ref("/f")); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("delete below the root's older locks: %v, want ErrLocked", err)
	}
	if err := e.fs.Unlock(ctx, e.ref("/"), s.Locks[0].Token); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	must(t, err)
	if st.Size() > 4096 {
		t.Errorf("space.mpk is %d bytes after the locks moved out", st.Size())
	}
	checktest.AssertClean(t, e.fs)
}

// What cannot be decoded in a space's locks/ or reservations/, and temp
// files left there, are reported and moved aside; a reservation whose
// upload is gone is given back.
func TestStateFilesChecked(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	e.put(t, "/f", []byte("x"))
	if _, err := e.fs.Lock(ctx, e.ref("/f"), decomposedfs.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := e.meta.SpacePath(e.sid)
	garbage := filepath.Join(dir, "locks", uuid.NewString()+".mpk")
	must(t, os.WriteFile(garbage, []byte("not a record"), 0o644))
	tmp := filepath.Join(dir, "locks", "."+uuid.NewString()+".mpk.0badc0de.tmp")
	must(t, os.WriteFile(tmp, []byte{0x80}, 0o644))
	old := time.Now().Add(-48 * time.Hour)
	for _, p := range []string{garbage, tmp} {
		must(t, os.Chtimes(p, old, old))
	}
	fds, _ := checktest.Check(t, e.fs, nil)
	got := checktest.Codes(fds)
	if !sameMultiset(got, []check.Code{check.StrayFile, check.TempLeftover}) {
		for _, f := range fds {
			t.Logf("found: %s", f)
		}
		t.Fatalf("findings %v, want a stray file and a temp file", got)
	}
	_, outs, rs := checktest.Repair(t, e.fs)
	if rs.Failed > 0 {
		t.Fatalf("repair:%s", checktest.Describe(outs))
	}
	for _, p := range []string{garbage, tmp} {
		if exists(p) {
			t.Errorf("%s is still there", p)
		}
	}
	if ls, err := e.fs.Locks(ctx, e.ref("/f")); err != nil || len(ls) != 1 {
		t.Errorf("the good lock after the repair: %d, %v", len(ls), err)
	}
}
