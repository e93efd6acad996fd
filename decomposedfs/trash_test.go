package decomposedfs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// used is the space's used bytes as GetSpace reports them.
func (e *env) used(t testing.TB) int64 {
	t.Helper()
	si, err := e.fs.GetSpace(admin, e.sid)
	if err != nil {
		t.Fatal(err)
	}
	return si.Used
}

// settled checks a step of a test: the store is consistent (every tree
// size, live and in the trash, equals a recomputation from the files; no
// blob is missing or unreferenced) and the space uses want bytes.
func (e *env) settled(t testing.TB, step string, want int64) {
	t.Helper()
	e.consistent(t)
	if got := e.used(t); got != want {
		t.Fatalf("%s: space uses %d bytes, want %d", step, got, want)
	}
}

// blobKeys returns the keys of every blob the node and its subtree
// reference: contents and revisions (read from the records, white-box).
func (e *env) blobKeys(t testing.TB, id string) []string {
	t.Helper()
	ctx := context.Background()
	n, err := e.meta.ReadNode(ctx, e.sid, id)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if n.BlobID != "" {
		keys = append(keys, decomposedfs.BlobKey(e.sid, n.BlobID))
	}
	for _, r := range n.Revisions {
		if r.BlobID != "" {
			keys = append(keys, decomposedfs.BlobKey(e.sid, r.BlobID))
		}
	}
	if n.Type == metadata.TypeDir {
		l, err := e.meta.List(ctx, e.sid, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Children {
			keys = append(keys, e.blobKeys(t, c.ID)...)
		}
	}
	return keys
}

func (e *env) blobExists(t testing.TB, key string) bool {
	t.Helper()
	_, err := e.blobs.Stat(context.Background(), key)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func (e *env) trash(t testing.TB) []decomposedfs.TrashItem {
	t.Helper()
	items, err := e.fs.ListTrash(admin, e.sid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(items); i++ {
		if items[i].Deleted.After(items[i-1].Deleted) {
			t.Fatalf("trash not newest first: %v before %v", items[i-1].Deleted, items[i].Deleted)
		}
	}
	return items
}

// describeTrash is "name:type:size:originalpath" of every item, in order.
func describeTrash(items []decomposedfs.TrashItem) string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprintf("%s:%s:%d:%s", it.Name, it.Type, it.Size, it.OriginalPath))
	}
	return strings.Join(out, " ")
}

func (e *env) del(t testing.TB, p string) string {
	t.Helper()
	id := e.stat(t, p).ID
	if err := e.fs.Delete(admin, e.ref(p)); err != nil {
		t.Fatalf("delete %s: %v", p, err)
	}
	return id
}

func restore(e *env, id string, opts decomposedfs.RestoreOptions) (*decomposedfs.ResourceInfo, error) {
	return e.fs.RestoreTrash(admin, e.sid, id, opts)
}

func TestTrash(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := admin
		e.mkdir(t, "/docs")
		e.mkdir(t, "/docs/sub")
		e.mkdir(t, "/pics")
		e.put(t, "/docs/a.txt", payload(1, 80))
		e.put(t, "/docs/a.txt", payload(2, 100)) // one revision
		e.put(t, "/docs/sub/b.bin", payload(3, 1000))
		e.put(t, "/docs/sub/c.bin", payload(4, 10))
		e.put(t, "/pics/p.jpg", payload(5, 500))
		e.put(t, "/top.txt", payload(6, 7))
		e.settled(t, "setup", 1617)

		// Deleting: newest first, with where each item was.
		top := e.del(t, "/top.txt")
		docs := e.del(t, "/docs")
		e.settled(t, "deleted", 500)
		if got := describeTrash(e.trash(t)); got != "docs:folder:1110:/docs top.txt:file:7:/top.txt" {
			t.Fatalf("trash: %s", got)
		}
		for _, p := range []string{"/docs", "/docs/a.txt", "/docs/sub/b.bin", "/top.txt"} {
			if _, err := e.fs.GetMD(ctx, e.ref(p)); !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Fatalf("%s after delete: %v", p, err)
			}
		}

		// Inside a deleted folder.
		l, err := e.fs.ListTrashFolder(ctx, e.sid, docs, "")
		if err != nil || childNames(l) != "a.txt,sub" || l.Folder.Size != 1110 {
			t.Fatalf("trashed folder: %q %+v %v", childNames(l), l.Folder, err)
		}
		l, err = e.fs.ListTrashFolder(ctx, e.sid, docs, "/sub")
		if err != nil || childNames(l) != "b.bin,c.bin" || l.Folder.Size != 1010 || l.Children[0].Size != 1000 {
			t.Fatalf("folder inside a trashed folder: %q %+v %v", childNames(l), l.Folder, err)
		}
		for what, err := range map[string]error{
			"a file":        second(e.fs.ListTrashFolder(ctx, e.sid, docs, "a.txt")),
			"a file item":   second(e.fs.ListTrashFolder(ctx, e.sid, top, "")),
			"missing path":  second(e.fs.ListTrashFolder(ctx, e.sid, docs, "nope")),
			"a live node":   second(e.fs.ListTrashFolder(ctx, e.sid, e.stat(t, "/pics").ID, "")),
			"not an item":   second(e.fs.ListTrashFolder(ctx, e.sid, "5ff9c4a6-2c68-4a3e-9c5a-1d1a3e5c0b7e", "")),
			"inner node id": second(e.fs.ListTrashFolder(ctx, e.sid, l.Folder.ID, "")),
		} {
			want := decomposedfs.ErrNotFound
			if strings.HasPrefix(what, "a file") {
				want = decomposedfs.ErrNotDir
			}
			if !errors.Is(err, want) {
				t.Errorf("ListTrashFolder of %s: %v, want %v", what, err, want)
			}
		}

		// A node from inside a deleted folder: it needs a target.
		if _, err := restore(e, docs, decomposedfs.RestoreOptions{Path: "sub/c.bin"}); !errors.Is(err, decomposedfs.ErrInvalidRef) {
			t.Fatalf("inner restore without a target: %v", err)
		}
		target := e.ref("/pics/c.bin")
		ri, err := restore(e, docs, decomposedfs.RestoreOptions{Path: "sub/c.bin", Target: &target})
		if err != nil || ri.Path != "/pics/c.bin" || ri.Size != 10 {
			t.Fatalf("inner restore: %+v %v", ri, err)
		}
		if string(e.get(t, "/pics/c.bin")) != string(payload(4, 10)) {
			t.Fatal("restored content differs")
		}
		e.settled(t, "inner file restored", 510)
		if got := describeTrash(e.trash(t)); got != "docs:folder:1100:/docs top.txt:file:7:/top.txt" {
			t.Fatalf("trash after an inner restore: %s", got)
		}
		// A folder from inside a deleted folder, with its content.
		target = e.ref("/pics/sub")
		if _, err := restore(e, docs, decomposedfs.RestoreOptions{Path: "sub", Target: &target}); err != nil {
			t.Fatal(err)
		}
		if e.stat(t, "/pics/sub").Size != 1000 || len(e.get(t, "/pics/sub/b.bin")) != 1000 {
			t.Fatal("restored folder")
		}
		e.settled(t, "inner folder restored", 1510)
		if got := describeTrash(e.trash(t)); got != "docs:folder:100:/docs top.txt:file:7:/top.txt" {
			t.Fatalf("trash after an inner folder restore: %s", got)
		}

		// Back where it was.
		if ri, err := restore(e, top, decomposedfs.RestoreOptions{}); err != nil || ri.Path != "/top.txt" || ri.ID != top {
			t.Fatalf("restore: %+v %v", ri, err)
		}
		if string(e.get(t, "/top.txt")) != string(payload(6, 7)) {
			t.Fatal("restored content")
		}
		e.settled(t, "restored", 1517)

		// Conflicts: the name is taken now.
		e.del(t, "/top.txt")
		e.put(t, "/top.txt", []byte("new"))
		if _, err := restore(e, top, decomposedfs.RestoreOptions{}); !errors.Is(err, decomposedfs.ErrExist) {
			t.Fatalf("restore onto a taken name: %v", err)
		}
		e.settled(t, "conflict", 1513)
		if _, err := restore(e, top, decomposedfs.RestoreOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
		if string(e.get(t, "/top.txt")) != string(payload(6, 7)) {
			t.Fatal("overwriting restore")
		}
		e.settled(t, "overwriting restore", 1517)
		// What had the name went to the trash, not away.
		items := e.trash(t)
		if got := describeTrash(items); got != "top.txt:file:3:/top.txt docs:folder:100:/docs" {
			t.Fatalf("trash after an overwriting restore: %s", got)
		}
		replaced := items[0].ID

		// Elsewhere, under another name, with the revisions of its files.
		target = e.ref("/pics/old-docs")
		if ri, err := restore(e, docs, decomposedfs.RestoreOptions{Target: &target}); err != nil || ri.ID != docs || ri.Size != 100 {
			t.Fatalf("restore elsewhere: %+v %v", ri, err)
		}
		if revs, err := e.fs.ListRevisions(ctx, e.ref("/pics/old-docs/a.txt")); err != nil || len(revs) != 1 {
			t.Fatalf("revisions after restore: %v %v", revs, err)
		}
		if l, err := e.fs.ListFolder(ctx, e.ref("/pics/old-docs")); err != nil || childNames(l) != "a.txt" { // sub was restored on its own
			t.Fatalf("restored folder: %q %v", childNames(l), err)
		}
		e.settled(t, "restored elsewhere", 1617)
		if _, err := restore(e, docs, decomposedfs.RestoreOptions{}); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Fatalf("restoring a restored item again: %v", err)
		}

		// Purge one item: its records and all its blobs, revisions' too.
		e.put(t, "/rev.txt", payload(7, 30))
		e.put(t, "/rev.txt", payload(8, 40))
		e.put(t, "/rev.txt", payload(9, 50))
		e.mkdir(t, "/gone")
		e.put(t, "/gone/g", payload(10, 60))
		e.put(t, "/gone/g", payload(11, 70))
		e.settled(t, "more files", 1617+50+70)
		rev := e.del(t, "/rev.txt")
		gone := e.del(t, "/gone")
		revKeys, goneKeys := e.blobKeys(t, rev), e.blobKeys(t, gone)
		if len(revKeys) != 3 || len(goneKeys) != 2 {
			t.Fatalf("blobs of the items: %v %v", revKeys, goneKeys)
		}
		keep := e.blobKeys(t, e.stat(t, "/pics").ID)
		if err := e.fs.PurgeTrash(ctx, e.sid, rev); err != nil {
			t.Fatal(err)
		}
		for _, k := range revKeys {
			if e.blobExists(t, k) {
				t.Errorf("blob %s of a purged file is still there", k)
			}
		}
		for _, k := range append(goneKeys, keep...) {
			if !e.blobExists(t, k) {
				t.Errorf("blob %s went with another item's purge", k)
			}
		}
		if err := e.fs.PurgeTrash(ctx, e.sid, rev); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("purging twice: %v", err)
		}
		if _, err := restore(e, rev, decomposedfs.RestoreOptions{}); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("restoring a purged item: %v", err)
		}
		if err := e.fs.PurgeTrash(ctx, e.sid, e.stat(t, "/pics").ID); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("purging a live node: %v", err)
		}
		e.settled(t, "purged", 1617)
		if got := describeTrash(e.trash(t)); got != "gone:folder:70:/gone top.txt:file:3:/top.txt" {
			t.Fatalf("trash after a purge: %s", got)
		}

		// Empty the trash: everything in it goes, nothing else.
		n, err := e.fs.EmptyTrash(ctx, e.sid)
		if err != nil || n != 2 {
			t.Fatalf("empty trash: %d %v", n, err)
		}
		for _, k := range goneKeys {
			if e.blobExists(t, k) {
				t.Errorf("blob %s survived the emptied trash", k)
			}
		}
		if _, err := restore(e, replaced, decomposedfs.RestoreOptions{}); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("restoring from an emptied trash: %v", err)
		}
		if len(e.trash(t)) != 0 {
			t.Fatal("trash not empty")
		}
		e.settled(t, "emptied", 1617)
		if n, err := e.fs.EmptyTrash(ctx, e.sid); err != nil || n != 0 {
			t.Fatalf("emptying an empty trash: %d %v", n, err)
		}
	})
}

// A trashed node whose folder is gone (trashed or purged) cannot go back
// where it was, but it can go elsewhere.
func TestTrashRestoreWithoutFolder(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/x")
	e.mkdir(t, "/x/y")
	e.put(t, "/x/y/z", payload(1, 11))
	e.mkdir(t, "/q")
	e.mkdir(t, "/q/r")
	e.put(t, "/q/r/s", payload(2, 22))
	z := e.del(t, "/x/y/z")
	e.del(t, "/x")
	r := e.del(t, "/q/r")
	q := e.del(t, "/q")
	if err := e.fs.PurgeTrash(admin, e.sid, q); err != nil {
		t.Fatal(err)
	}
	e.settled(t, "setup", 0)
	for _, it := range e.trash(t) {
		if (it.ID == z || it.ID == r) && it.OriginalPath != "" {
			t.Errorf("%s: original path %q of a node whose folder is gone", it.Name, it.OriginalPath)
		}
	}
	for what, id := range map[string]string{"folder trashed": z, "folder purged": r} {
		if _, err := restore(e, id, decomposedfs.RestoreOptions{}); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("%s: restore without target: %v, want ErrNotFound", what, err)
		}
	}
	e.settled(t, "refused", 0)
	for i, id := range []string{z, r} {
		target := e.ref(fmt.Sprintf("/back%d", i))
		if _, err := restore(e, id, decomposedfs.RestoreOptions{Target: &target}); err != nil {
			t.Fatal(err)
		}
	}
	if string(e.get(t, "/back0")) != string(payload(1, 11)) || string(e.get(t, "/back1/s")) != string(payload(2, 22)) {
		t.Fatal("restored content")
	}
	e.settled(t, "restored elsewhere", 33)
	// A target that is no folder, or in the trash itself, is refused.
	e.put(t, "/file", []byte("f"))
	for _, p := range []string{"/file/in", "/x/y/in", "/missing/in"} {
		target := e.ref(p)
		e.put(t, "/victim", []byte("v"))
		v := e.del(t, "/victim")
		if _, err := restore(e, v, decomposedfs.RestoreOptions{Target: &target}); err == nil {
			t.Errorf("restore to %s succeeded", p)
		}
	}
	e.settled(t, "bad targets", 34)
}

// An inner node restored out of a trashed folder is live: purging the rest
// of the item leaves it and its blobs alone.
func TestTrashPurgeAfterInnerRestore(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/d")
	e.put(t, "/d/keep", payload(1, 100))
	e.put(t, "/d/keep", payload(2, 110))
	e.put(t, "/d/drop", payload(3, 120))
	d := e.del(t, "/d")
	target := e.ref("/keep")
	if _, err := restore(e, d, decomposedfs.RestoreOptions{Path: "keep", Target: &target}); err != nil {
		t.Fatal(err)
	}
	keepKeys := e.blobKeys(t, e.stat(t, "/keep").ID)
	dropKeys := e.blobKeys(t, d)
	if len(keepKeys) != 2 || len(dropKeys) != 1 {
		t.Fatalf("keys %v %v", keepKeys, dropKeys)
	}
	if err := e.fs.PurgeTrash(admin, e.sid, d); err != nil {
		t.Fatal(err)
	}
	for _, k := range keepKeys {
		if !e.blobExists(t, k) {
			t.Errorf("blob %s of a restored file was purged", k)
		}
	}
	for _, k := range dropKeys {
		if e.blobExists(t, k) {
			t.Errorf("blob %s survived the purge", k)
		}
	}
	if revs, err := e.fs.ListRevisions(admin, e.ref("/keep")); err != nil || len(revs) != 1 {
		t.Fatalf("revisions %v %v", revs, err)
	}
	e.settled(t, "purged", 110)
}

// Only items deleted longer ago than the retention period are purged.
func TestTrashPurgeOlderThan(t *testing.T) {
	e := newEnv(t, posixBlobs)
	for _, n := range []string{"/old1", "/old2", "/new1", "/new2"} {
		e.put(t, n, []byte(n))
	}
	e.mkdir(t, "/olddir")
	e.put(t, "/olddir/f", []byte("f"))
	e.del(t, "/old1")
	e.del(t, "/olddir")
	e.del(t, "/old2")
	const age = 200 * time.Millisecond
	time.Sleep(age + 50*time.Millisecond)
	e.del(t, "/new1")
	e.del(t, "/new2")
	n, err := e.fs.PurgeTrashOlderThan(admin, e.sid, age)
	if err != nil || n != 3 {
		t.Fatalf("purged %d, %v; want 3", n, err)
	}
	var names []string
	for _, it := range e.trash(t) {
		names = append(names, it.Name)
	}
	if strings.Join(names, ",") != "new2,new1" {
		t.Fatalf("left in the trash: %v", names)
	}
	e.settled(t, "purged old", 0)
	if n, err := e.fs.PurgeTrashOlderThan(admin, e.sid, time.Hour); err != nil || n != 0 {
		t.Fatalf("nothing that old: %d %v", n, err)
	}
	if n, err := e.fs.PurgeTrashOlderThan(admin, e.sid, 0); err != nil || n != 2 {
		t.Fatalf("age 0 purges everything: %d %v", n, err)
	}
	e.settled(t, "purged all", 0)
}

// Sizes stay exact through deletes and restores of nested folders in any
// order, and through moves below a trashed folder's restored parts.
func TestTrashSizesNested(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	e.mkdir(t, "/a/b")
	e.mkdir(t, "/a/b/c")
	e.put(t, "/a/1", payload(1, 1))
	e.put(t, "/a/b/2", payload(2, 20))
	e.put(t, "/a/b/c/3", payload(3, 300))
	c := e.del(t, "/a/b/c")
	e.settled(t, "inner deleted", 21)
	a := e.del(t, "/a")
	e.settled(t, "outer deleted", 0)
	// The outer one back: its content, without the part deleted before.
	if _, err := restore(e, a, decomposedfs.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	e.settled(t, "outer restored", 21)
	// The inner one back into its restored folder.
	if _, err := restore(e, c, decomposedfs.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	e.settled(t, "inner restored", 321)
	for p, want := range map[string]int64{"/a": 321, "/a/b": 320, "/a/b/c": 300} {
		if got := e.stat(t, p).Size; got != want {
			t.Errorf("%s: %d, want %d", p, got, want)
		}
	}
	// A restored file overwritten: the sizes follow.
	e.put(t, "/a/b/c/3", payload(4, 3))
	e.settled(t, "overwritten", 24)
}

func second[T any](_ T, err error) error { return err }
