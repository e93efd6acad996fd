package decomposedfs_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// withOptions returns another FS on the env's stores with changed options.
func withOptions(t *testing.T, e *env, change func(*decomposedfs.Options)) *decomposedfs.FS {
	t.Helper()
	o := decomposedfs.DefaultOptions()
	change(&o)
	fs, err := decomposedfs.New(e.meta, e.blobs, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestLimitOptionsValidate(t *testing.T) {
	for name, change := range map[string]func(*decomposedfs.Options){
		"no locks":       func(o *decomposedfs.Options) { o.MaxLocksPerUser = 0 },
		"negative owner": func(o *decomposedfs.Options) { o.MaxLockOwner = -1 },
		"huge owner":     func(o *decomposedfs.Options) { o.MaxLockOwner = metadata.MaxRecordSize },
		"no uploads":     func(o *decomposedfs.Options) { o.MaxUploadsPerUser = 0 },
		"no grants":      func(o *decomposedfs.Options) { o.MaxGrantsPerSpace = 0 },
	} {
		o := decomposedfs.DefaultOptions()
		change(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, o)
		}
	}
	if err := decomposedfs.DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
}

// A user holds at most MaxLocksPerUser locks in a space and an owner text
// of at most MaxLockOwner bytes; beyond, the lock is refused with a clear
// error and nothing is left (not even the empty file of a lock that would
// have created one). Others are not held back by one user's limit.
func TestLockLimits(t *testing.T) {
	e := newEnv(t, posixBlobs)
	fs := withOptions(t, e, func(o *decomposedfs.Options) { o.MaxLocksPerUser, o.MaxLockOwner = 3, 100 })
	if _, err := fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	alice, bob := decomposedfs.WithUser(admin, "alice"), decomposedfs.WithUser(admin, "bob")
	var toks []string
	for i := range 3 {
		l, err := fs.Lock(alice, e.ref(fmt.Sprintf("/f%d", i)), decomposedfs.LockOptions{User: "alice", Create: true})
		if err != nil {
			t.Fatal(err)
		}
		if !l.Created {
			t.Errorf("lock %d did not say it created its file", i)
		}
		toks = append(toks, l.Token)
	}
	_, err := fs.Lock(alice, e.ref("/f3"), decomposedfs.LockOptions{User: "alice", Create: true})
	if !errors.Is(err, decomposedfs.ErrLimit) || !strings.Contains(err.Error(), "alice holds 3 locks") {
		t.Fatalf("fourth lock: %v, want ErrLimit naming the count", err)
	}
	if _, err := fs.GetMD(admin, e.ref("/f3")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("a refused lock left its file: %v", err)
	}
	if tr, _ := fs.ListTrash(admin, e.sid); len(tr) != 0 {
		t.Errorf("a refused lock left %d trash items", len(tr))
	}
	if _, err := fs.Lock(bob, e.ref("/b"), decomposedfs.LockOptions{User: "bob", Create: true}); err != nil {
		t.Errorf("bob's lock beside alice's full set: %v", err)
	}
	// An unlock, or a lock whose resource is deleted, makes room.
	if err := fs.Unlock(alice, e.ref("/f0"), toks[0]); err != nil {
		t.Fatal(err)
	}
	if err := fs.Delete(decomposedfs.WithLockTokens(alice, toks[1]), e.ref("/f1")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/g1", "/g2"} {
		if _, err := fs.Lock(alice, e.ref(p), decomposedfs.LockOptions{User: "alice", Create: true}); err != nil {
			t.Fatalf("lock after room was made: %v", err)
		}
	}
	// The owner text.
	_, err = fs.Lock(bob, e.ref("/o"), decomposedfs.LockOptions{User: "bob", Owner: strings.Repeat("o", 101), Create: true})
	if !errors.Is(err, decomposedfs.ErrTooLarge) || !strings.Contains(err.Error(), "owner of 101 bytes") {
		t.Fatalf("owner of 101 bytes: %v, want ErrTooLarge", err)
	}
	if _, err := fs.GetMD(admin, e.ref("/o")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("a refused lock created its file: %v", err)
	}
	if _, err := fs.Lock(bob, e.ref("/o"), decomposedfs.LockOptions{User: "bob", Owner: strings.Repeat("o", 100), Create: true}); err != nil {
		t.Errorf("owner of 100 bytes: %v", err)
	}
	e.consistent(t)
}

// Lock with Create refuses nothing that a lock of an existing file allows,
// and says whether it created the file.
func TestLockCreate(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.put(t, "/f", []byte("x"))
	l, err := e.fs.Lock(admin, e.ref("/f"), decomposedfs.LockOptions{Create: true})
	if err != nil || l.Created {
		t.Fatalf("lock of an existing file: %+v, %v", l, err)
	}
	if _, err := e.fs.Lock(admin, e.ref("/nope/f"), decomposedfs.LockOptions{Create: true}); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("lock in a missing folder: %v", err)
	}
	if _, err := e.fs.Lock(admin, e.ref("/new"), decomposedfs.LockOptions{}); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("lock of a missing file without Create: %v", err)
	}
	// A deep lock above refuses the create itself, and nothing is made.
	e.mkdir(t, "/d")
	if _, err := e.fs.Lock(admin, e.ref("/d"), decomposedfs.LockOptions{Deep: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Lock(admin, e.ref("/d/new"), decomposedfs.LockOptions{Create: true}); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Errorf("lock-create below a deep lock: %v", err)
	}
	if _, err := e.fs.GetMD(admin, e.ref("/d/new")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("a refused lock-create made its file: %v", err)
	}
}

// A user has at most MaxUploadsPerUser uploads in progress in a space,
// with a quota or without; ending one makes room, and other users are not
// held back.
func TestUploadLimits(t *testing.T) {
	e := newEnv(t, posixBlobs)
	fs := withOptions(t, e, func(o *decomposedfs.Options) { o.MaxUploadsPerUser = 2 })
	if _, err := fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	alice, bob := decomposedfs.WithUser(admin, "alice"), decomposedfs.WithUser(admin, "bob")
	start := func(user, name string) (*decomposedfs.UploadSession, error) {
		ctx := decomposedfs.WithUser(admin, user)
		return fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref(name), Size: 10, User: user})
	}
	for _, quota := range []int64{0, 1 << 20} {
		t.Run(fmt.Sprintf("quota %d", quota), func(t *testing.T) {
			e.setQuota(t, quota)
			var ids []string
			for i := range 2 {
				s, err := start("alice", fmt.Sprintf("/a%d-%d", quota, i))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, s.ID)
			}
			_, err := start("alice", fmt.Sprintf("/a%d-x", quota))
			if !errors.Is(err, decomposedfs.ErrLimit) || !strings.Contains(err.Error(), "2 uploads in progress") {
				t.Fatalf("third upload: %v, want ErrLimit", err)
			}
			if s, err := start("bob", fmt.Sprintf("/b%d", quota)); err != nil {
				t.Errorf("bob's upload: %v", err)
			} else {
				fs.AbortUpload(bob, s.ID)
			}
			if err := fs.AbortUpload(alice, ids[0]); err != nil {
				t.Fatal(err)
			}
			s, err := start("alice", fmt.Sprintf("/a%d-y", quota))
			if err != nil {
				t.Fatalf("after an abort: %v", err)
			}
			for _, id := range []string{ids[1], s.ID} {
				fs.AbortUpload(alice, id)
			}
		})
	}
	e.consistent(t)
}

// A space has at most MaxGrantsPerSpace grants (expired ones do not count).
func TestGrantLimit(t *testing.T) {
	e := newEnv(t, posixBlobs)
	fs := withOptions(t, e, func(o *decomposedfs.Options) { o.MaxGrantsPerSpace = 3 })
	for i := range 3 {
		if _, err := fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: fmt.Sprintf("user:u%d", i), Role: "viewer"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:u3", Role: "viewer"})
	if !errors.Is(err, decomposedfs.ErrLimit) || !strings.Contains(err.Error(), "3 grants") {
		t.Fatalf("fourth grant: %v, want ErrLimit", err)
	}
	gs, err := fs.Grants(admin, e.sid)
	if err != nil || len(gs) != 3 {
		t.Fatalf("grants: %d, %v", len(gs), err)
	}
	if err := fs.RemoveGrant(admin, e.sid, gs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:u3", Role: "viewer"}); err != nil {
		t.Errorf("a grant after one was removed: %v", err)
	}
}

// Locks that older code kept in the space record hold until they are
// moved out, and after (every backend).
func TestLegacyLocksHold(t *testing.T) {
	e := newEnv(t, posixBlobs)
	sid := uuid.NewString()
	now := time.Now().UnixNano()
	tok := "opaquelocktoken:" + uuid.NewString()
	sp := &metadata.Space{ID: sid, Type: metadata.SpaceProject, Name: "old", Owner: "alice", Btime: now,
		Locks: []metadata.Lock{{Token: tok, NodeID: sid, User: "alice", Deep: true, Created: now, Expires: now + int64(time.Hour)}}}
	if err := e.meta.CreateSpace(admin, sp, &metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now, Btime: now}); err != nil {
		t.Fatal(err)
	}
	fs := reopen(t, e) // a process that never saw the record without them
	ref := decomposedfs.Reference{SpaceID: sid, Path: "/f"}
	if _, err := fs.Upload(admin, ref, strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1}); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("upload below the older deep lock: %v, want ErrLocked", err)
	}
	ctx := decomposedfs.WithLockTokens(admin, tok)
	if _, err := fs.Upload(ctx, ref, strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	ls, err := fs.Locks(admin, ref)
	if err != nil || len(ls) != 1 || ls[0].Path != "/" {
		t.Fatalf("locks: %+v, %v", ls, err)
	}
	// Refreshed: moved out, and bound to its path from then on.
	if _, err := fs.RefreshLock(admin, decomposedfs.Reference{SpaceID: sid}, tok, time.Hour); err != nil {
		t.Fatal(err)
	}
	s, err := e.meta.ReadSpace(admin, sid)
	if err != nil || s.HasLegacyState() {
		t.Fatalf("space record after the refresh: %+v, %v", s, err)
	}
	stored, err := e.meta.ReadLocks(admin, sid)
	if err != nil || len(stored) != 1 || stored[0].Path != "/" || stored[0].Token != tok {
		t.Fatalf("stored locks: %+v, %v", stored, err)
	}
	if _, err := fs.Upload(admin, ref, strings.NewReader("y"), decomposedfs.UploadOptions{Size: 1}); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("after the move: %v, want ErrLocked", err)
	}
	if err := fs.Unlock(admin, decomposedfs.Reference{SpaceID: sid}, tok); err != nil {
		t.Fatal(err)
	}
}

// Of many concurrent exclusive LOCKs of one file from two processes,
// exactly one wins: the check against the other locks and the new lock
// are atomic across processes.
func TestLockAtomicAcrossProcesses(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.put(t, "/f", []byte("x"))
	fss := []*decomposedfs.FS{e.fs, reopen(t, e)}
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = fss[i%2].Lock(admin, e.ref("/f"), decomposedfs.LockOptions{User: fmt.Sprint("u", i)})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, decomposedfs.ErrLocked):
			t.Errorf("lock %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d exclusive locks of one file were granted", won)
	}
	if ls, _ := e.fs.Locks(admin, e.ref("/f")); len(ls) != 1 {
		t.Errorf("%d locks stored", len(ls))
	}
}

// A lock whose path no longer names the node it was taken on (a crash
// between a MOVE or DELETE and the update of the locks left it) protects
// nothing, is no one's to use, and the next LOCK prunes it.
func TestStaleLockProtectsNothing(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.put(t, "/f", []byte("x"))
	now := time.Now().UnixNano()
	stale := metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: uuid.NewString(), Path: "/f", User: "alice",
		Created: now, Expires: now + int64(time.Hour)}
	err := e.meta.UpdateLocks(admin, e.sid, func([]metadata.Lock) (metadata.LockEdit, error) {
		return metadata.LockEdit{Put: []metadata.Lock{stale}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Upload(admin, e.ref("/f"), strings.NewReader("y"), decomposedfs.UploadOptions{Size: 1}); err != nil {
		t.Fatalf("upload under a stale lock: %v", err)
	}
	if ls, err := e.fs.Locks(admin, e.ref("/f")); err != nil || len(ls) != 0 {
		t.Fatalf("locks of /f: %+v, %v; want none", ls, err)
	}
	if _, err := e.fs.RefreshLock(admin, e.ref("/f"), stale.Token, time.Hour); !errors.Is(err, decomposedfs.ErrNoSuchLock) {
		t.Errorf("refresh of a stale lock: %v", err)
	}
	if _, err := e.fs.Lock(admin, e.ref("/f"), decomposedfs.LockOptions{User: "alice"}); err != nil {
		t.Fatalf("an exclusive lock beside a stale one: %v", err)
	}
	stored, err := e.meta.ReadLocks(admin, e.sid)
	if err != nil || len(stored) != 1 || stored[0].Token == stale.Token {
		t.Errorf("after a LOCK the stored locks are %+v, %v; want the new one only", stored, err)
	}
}
