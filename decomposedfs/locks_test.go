package decomposedfs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

func TestLocks(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	e.mkdir(t, "/d")
	e.mkdir(t, "/d/sub")
	e.put(t, "/d/sub/f", []byte("f"))
	e.put(t, "/g", []byte("g"))

	// An exclusive deep lock on /d guards everything below it.
	l, err := e.fs.Lock(ctx, e.ref("/d"), decomposedfs.LockOptions{User: "alice", Deep: true, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.Token, "opaquelocktoken:") || l.Path != "/d" || !l.Deep {
		t.Fatalf("lock: %+v", l)
	}
	locked := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, decomposedfs.ErrLocked) {
			t.Errorf("%s without token: %v, want ErrLocked", what, err)
		}
	}
	_, err = e.fs.Upload(ctx, e.ref("/d/sub/f"), strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1})
	locked("overwrite below", err)
	_, err = e.fs.CreateDir(ctx, e.ref("/d/new"))
	locked("mkdir below", err)
	locked("delete below", e.fs.Delete(ctx, e.ref("/d/sub")))
	locked("delete the locked folder", e.fs.Delete(ctx, e.ref("/d")))
	_, err = e.fs.Move(ctx, e.ref("/g"), e.ref("/d/g"), false)
	locked("move into", err)
	_, err = e.fs.SetProps(ctx, e.ref("/d/sub/f"), map[string]string{"{x:}p": "v"}, nil)
	locked("proppatch below", err)
	_, err = e.fs.Lock(ctx, e.ref("/d/sub/f"), decomposedfs.LockOptions{Shared: true})
	locked("shared lock below an exclusive one", err)

	// Outside the lock nothing is in the way.
	if _, err := e.fs.Upload(ctx, e.ref("/g"), strings.NewReader("gg"), decomposedfs.UploadOptions{Size: 2}); err != nil {
		t.Fatal(err)
	}
	// With the token everything is allowed.
	tctx := decomposedfs.WithLockTokens(ctx, l.Token)
	if _, err := e.fs.Upload(tctx, e.ref("/d/sub/f"), strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.CreateDir(tctx, e.ref("/d/new")); err != nil {
		t.Fatal(err)
	}
	// Discovery: the lock covers a node below, through the folder.
	ls, err := e.fs.Locks(ctx, e.ref("/d/sub/f"))
	if err != nil || len(ls) != 1 || ls[0].Token != l.Token {
		t.Fatalf("locks of a node below: %+v %v", ls, err)
	}
	// Refresh extends; a wrong token is refused.
	r, err := e.fs.RefreshLock(ctx, e.ref("/d"), l.Token, time.Hour)
	if err != nil || time.Until(r.Expires) < 50*time.Minute {
		t.Fatalf("refresh: %+v %v", r, err)
	}
	if _, err := e.fs.RefreshLock(ctx, e.ref("/d"), "opaquelocktoken:nope", time.Hour); !errors.Is(err, decomposedfs.ErrNoSuchLock) {
		t.Fatalf("refresh with a wrong token: %v", err)
	}
	if err := e.fs.Unlock(ctx, e.ref("/g"), l.Token); !errors.Is(err, decomposedfs.ErrNoSuchLock) {
		t.Fatalf("unlock outside the lock's scope: %v", err)
	}
	if err := e.fs.Unlock(ctx, e.ref("/d"), l.Token); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Delete(ctx, e.ref("/d/new")); err != nil {
		t.Fatalf("after unlock: %v", err)
	}

	// Shared locks coexist; an exclusive one then conflicts.
	s1, err := e.fs.Lock(ctx, e.ref("/g"), decomposedfs.LockOptions{Shared: true, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Lock(ctx, e.ref("/g"), decomposedfs.LockOptions{Shared: true}); err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := e.fs.Lock(ctx, e.ref("/g"), decomposedfs.LockOptions{}); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("exclusive over shared: %v", err)
	}
	// A deep lock on a folder conflicts with a lock below it.
	if _, err := e.fs.Lock(ctx, e.ref("/"), decomposedfs.LockOptions{Deep: true}); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("deep lock over a locked descendant: %v", err)
	}
	// Of two shared locks, one token is enough (RFC 4918, 6.1), but only
	// for the user who took it.
	if _, err := e.fs.AddGrant(ctx, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:mallory", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Move(decomposedfs.WithUser(decomposedfs.WithLockTokens(ctx, s1.Token), "mallory"), e.ref("/g"), e.ref("/h"), false); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("move with another user's token: %v", err)
	}
	if _, err := e.fs.Move(decomposedfs.WithLockTokens(ctx, s1.Token), e.ref("/g"), e.ref("/h"), false); err != nil {
		t.Fatalf("move with one of two shared tokens: %v", err)
	}
	if ls, _ := e.fs.Locks(ctx, e.ref("/h")); len(ls) != 0 {
		t.Fatalf("locks moved with the resource: %+v", ls)
	}

	// Locks expire.
	x, err := e.fs.Lock(ctx, e.ref("/d/sub/f"), decomposedfs.LockOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := e.fs.Delete(ctx, e.ref("/d/sub/f")); err != nil {
		t.Fatalf("delete after the lock %s expired: %v", x.Token, err)
	}

	// Locks are in the shared store: another process (a fresh FS on the same
	// root) sees them.
	y, err := e.fs.Lock(ctx, e.ref("/d"), decomposedfs.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := reopen(t, e)
	if _, err := other.CreateDir(ctx, e.ref("/d/z")); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Fatalf("another process ignored the lock %s: %v", y.Token, err)
	}
	// Moving a locked resource with its token drops the lock.
	if _, err := e.fs.Move(decomposedfs.WithLockTokens(ctx, y.Token), e.ref("/d"), e.ref("/e"), false); err != nil {
		t.Fatal(err)
	}
	if ls, _ := e.fs.Locks(ctx, e.ref("/e")); len(ls) != 0 {
		t.Fatalf("lock moved with the resource: %+v", ls)
	}
	e.consistent(t)
}

func TestPropsAndCopy(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mkdir(t, "/src")
		e.mkdir(t, "/src/sub")
		e.put(t, "/src/a", payload(3, 70_000))
		e.put(t, "/src/sub/b", payload(4, 1000))
		e.put(t, "/src/sub/empty", nil)
		ri, err := e.fs.SetProps(ctx, e.ref("/src/a"), map[string]string{"{urn:x}color": "blue", "{urn:x}n": "1"}, nil)
		if err != nil || ri.Props["{urn:x}color"] != "blue" {
			t.Fatalf("setprops: %+v %v", ri, err)
		}
		ri, err = e.fs.SetProps(ctx, e.ref("/src/a"), map[string]string{"{urn:x}n": "2"}, []string{"{urn:x}color"})
		if err != nil || len(ri.Props) != 1 || ri.Props["{urn:x}n"] != "2" {
			t.Fatalf("setprops 2: %+v %v", ri.Props, err)
		}
		if got := reopenStat(t, e, "/src/a"); got.Props["{urn:x}n"] != "2" {
			t.Fatalf("props not persisted: %+v", got.Props)
		}
		if _, err := e.fs.SetProps(ctx, e.ref("/src/a"), map[string]string{"{urn:x}big": strings.Repeat("x", decomposedfs.MaxPropsSize)}, nil); !errors.Is(err, decomposedfs.ErrTooLarge) {
			t.Fatalf("oversized props: %v", err)
		}

		blobs := e.blobCount(t)
		cp, err := e.fs.Copy(ctx, e.ref("/src"), e.ref("/dst"), decomposedfs.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != 71_000 || e.stat(t, "/").Size != 142_000 {
			t.Fatalf("copy sizes: copy %d, root %d", cp.Size, e.stat(t, "/").Size)
		}
		if string(e.get(t, "/dst/a")) != string(payload(3, 70_000)) || string(e.get(t, "/dst/sub/b")) != string(payload(4, 1000)) {
			t.Fatal("copied content differs")
		}
		if got := e.stat(t, "/dst/a"); got.Props["{urn:x}n"] != "2" || got.ID == e.stat(t, "/src/a").ID || got.Checksums != e.stat(t, "/src/a").Checksums {
			t.Fatalf("copied file: %+v", got)
		}
		if n := e.blobCount(t); n != blobs+2 {
			t.Fatalf("%d blobs after copying 2 non-empty files, want %d", n, blobs+2)
		}
		// The copies are independent.
		e.put(t, "/dst/a", []byte("changed"))
		if len(e.get(t, "/src/a")) != 70_000 {
			t.Fatal("changing the copy changed the original")
		}
		if _, err := e.fs.Copy(ctx, e.ref("/src"), e.ref("/dst"), decomposedfs.CopyOptions{}); !errors.Is(err, decomposedfs.ErrExist) {
			t.Fatalf("copy onto existing: %v", err)
		}
		if _, err := e.fs.Copy(ctx, e.ref("/src"), e.ref("/src/sub/x"), decomposedfs.CopyOptions{}); !errors.Is(err, decomposedfs.ErrCycle) {
			t.Fatalf("copy into itself: %v", err)
		}
		if _, err := e.fs.Copy(ctx, e.ref("/src/sub"), e.ref("/dst"), decomposedfs.CopyOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
		if l, _ := e.fs.ListFolder(ctx, e.ref("/dst")); len(l.Children) != 2 {
			t.Fatalf("overwrite copy: %+v", l.Children)
		}
		if _, err := e.fs.Copy(ctx, e.ref("/src"), e.ref("/shallow"), decomposedfs.CopyOptions{Shallow: true}); err != nil {
			t.Fatal(err)
		}
		if l, _ := e.fs.ListFolder(ctx, e.ref("/shallow")); len(l.Children) != 0 {
			t.Fatal("shallow copy copied children")
		}
		e.consistent(t)
	})
}

// reopen returns a second FS on the same stores, with caches of its own.
func reopen(t *testing.T, e *env) *decomposedfs.FS {
	t.Helper()
	meta := e.open(t)
	fs, err := decomposedfs.New(meta, e.blobs, decomposedfs.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func reopenStat(t *testing.T, e *env, p string) *decomposedfs.ResourceInfo {
	t.Helper()
	ri, err := reopen(t, e).GetMD(context.Background(), e.ref(p))
	if err != nil {
		t.Fatal(err)
	}
	return ri
}
