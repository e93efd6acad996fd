package decomposedfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// withRevisions replaces the env's FS by one with another revision policy
// on the same stores.
func (e *env) withRevisions(t testing.TB, p decomposedfs.RevisionPolicy) {
	t.Helper()
	opts := decomposedfs.DefaultOptions()
	opts.Revisions = p
	fs, err := decomposedfs.New(e.meta, e.blobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	e.fs = fs
}

func (e *env) revisions(t testing.TB, p string) []decomposedfs.RevisionInfo {
	t.Helper()
	revs, err := e.fs.ListRevisions(admin, e.ref(p))
	if err != nil {
		t.Fatalf("revisions of %s: %v", p, err)
	}
	for i := 1; i < len(revs); i++ {
		if revs[i].ID <= revs[i-1].ID || revs[i].Mtime.Before(revs[i-1].Mtime) {
			t.Fatalf("revisions of %s not oldest first: %+v", p, revs)
		}
	}
	return revs
}

func (e *env) revision(t testing.TB, p, id string, offset, length int64) []byte {
	t.Helper()
	rc, ri, err := e.fs.DownloadRevision(admin, e.ref(p), id, offset, length)
	b, err := readAll(rc, err)
	if err != nil {
		t.Fatalf("revision %s of %s: %v", id, p, err)
	}
	if ri.ID != id {
		t.Fatalf("revision info %+v for %s", ri, id)
	}
	return b
}

// contents returns the content of every revision of p, oldest first, then
// the current content.
func (e *env) contents(t testing.TB, p string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, r := range e.revisions(t, p) {
		out = append(out, e.revision(t, p, r.ID, 0, -1))
	}
	return append(out, e.get(t, p))
}

func sameContents(got, want [][]byte) bool {
	return slices.EqualFunc(got, want, bytes.Equal)
}

func TestRevisions(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := admin
		v := [][]byte{payload(1, 1000), payload(2, 2000), payload(3, 3000)}
		mtimes := []time.Time{
			time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		e.mkdir(t, "/d")
		var infos []*decomposedfs.ResourceInfo
		for i := range v {
			ri, err := e.fs.Upload(ctx, e.ref("/d/f"), bytes.NewReader(v[i]), decomposedfs.UploadOptions{Size: int64(len(v[i])), Mtime: mtimes[i]})
			if err != nil {
				t.Fatal(err)
			}
			infos = append(infos, ri)
		}
		e.settled(t, "uploaded", 3000)
		revs := e.revisions(t, "/d/f")
		if len(revs) != 2 {
			t.Fatalf("%d revisions, want 2", len(revs))
		}
		for i, r := range revs {
			if r.Size != int64(len(v[i])) || !r.Mtime.Equal(mtimes[i]) || r.Etag != infos[i].Etag || r.Checksums != infos[i].Checksums {
				t.Errorf("revision %d: %+v, want the info of upload %d: %+v", i, r, i, infos[i])
			}
		}
		if got := e.contents(t, "/d/f"); !sameContents(got, v) {
			t.Fatal("contents differ")
		}
		// Ranges, as for Download.
		for _, r := range [][2]int64{{0, 1}, {999, 1}, {999, -1}, {10, 100}, {990, 100}} {
			got := e.revision(t, "/d/f", revs[0].ID, r[0], r[1])
			end := int64(1000)
			if r[1] >= 0 {
				end = min(end, r[0]+r[1])
			}
			if !bytes.Equal(got, v[0][r[0]:end]) {
				t.Errorf("range %v: %d bytes differ", r, len(got))
			}
		}
		if _, _, err := e.fs.DownloadRevision(ctx, e.ref("/d/f"), revs[0].ID, 1000, -1); !errors.Is(err, decomposedfs.ErrRange) {
			t.Errorf("range past the end: %v", err)
		}
		for _, id := range []string{"", "1", "nope"} {
			if _, _, err := e.fs.DownloadRevision(ctx, e.ref("/d/f"), id, 0, -1); !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Errorf("revision %q: %v", id, err)
			}
			if _, err := e.fs.RestoreRevision(ctx, e.ref("/d/f"), id); !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Errorf("restore revision %q: %v", id, err)
			}
			if err := e.fs.DeleteRevision(ctx, e.ref("/d/f"), id); !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Errorf("delete revision %q: %v", id, err)
			}
		}
		if _, err := e.fs.ListRevisions(ctx, e.ref("/d")); !errors.Is(err, decomposedfs.ErrIsDir) {
			t.Errorf("revisions of a folder: %v", err)
		}

		// Restore the oldest: the current content becomes a revision, so
		// nothing is lost, and sizes, mtime and etag follow.
		etag := e.stat(t, "/d").Etag
		ri, err := e.fs.RestoreRevision(ctx, e.ref("/d/f"), revs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if ri.Size != 1000 || !ri.Mtime.Equal(mtimes[0]) || ri.Etag != infos[0].Etag || ri.Checksums != infos[0].Checksums || ri.ID != infos[0].ID {
			t.Errorf("restored: %+v, want the info of the first upload %+v", ri, infos[0])
		}
		if got := e.stat(t, "/d/f"); got.Etag != ri.Etag || got.Size != 1000 {
			t.Errorf("stat after restore: %+v", got)
		}
		if e.stat(t, "/d").Etag == etag {
			t.Error("the folder's etag did not change")
		}
		e.settled(t, "restored", 1000)
		if got := e.contents(t, "/d/f"); !sameContents(got, [][]byte{v[1], v[2], v[0]}) {
			t.Fatal("contents after restore: something was lost")
		}
		revs = e.revisions(t, "/d/f")
		if revs[1].Etag != infos[2].Etag || !revs[1].Mtime.Equal(mtimes[2]) {
			t.Errorf("the content that was current: %+v, want %+v", revs[1], infos[2])
		}

		// Delete a revision: its blob goes, nothing else.
		before := e.blobKeys(t, ri.ID)
		if err := e.fs.DeleteRevision(ctx, e.ref("/d/f"), revs[0].ID); err != nil {
			t.Fatal(err)
		}
		after := e.blobKeys(t, ri.ID)
		if len(after) != len(before)-1 {
			t.Fatalf("blobs of the file %v, before %v", after, before)
		}
		for _, k := range before {
			if e.blobExists(t, k) != slices.Contains(after, k) {
				t.Errorf("blob %s: exists %v, still referenced %v", k, e.blobExists(t, k), slices.Contains(after, k))
			}
		}
		if got := e.contents(t, "/d/f"); !sameContents(got, [][]byte{v[2], v[0]}) {
			t.Fatal("contents after deleting a revision")
		}
		e.settled(t, "revision deleted", 1000)

		// Revisions follow the file through renames and moves.
		if _, err := e.fs.Move(ctx, e.ref("/d/f"), e.ref("/g"), false); err != nil {
			t.Fatal(err)
		}
		if len(e.revisions(t, "/g")) != 1 {
			t.Fatal("revisions lost in a move")
		}
		// A copy is a new file: no revisions, blobs of its own.
		if _, err := e.fs.Copy(ctx, e.ref("/g"), e.ref("/copy"), decomposedfs.CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		if len(e.revisions(t, "/copy")) != 0 {
			t.Fatal("a copy has revisions")
		}
		e.settled(t, "moved and copied", 2000)
	})
}

// The policy's count: the oldest revisions go first, and exactly their
// blobs are deleted.
func TestRevisionPolicyCount(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.withRevisions(t, decomposedfs.RevisionPolicy{MaxCount: 3})
	var all [][]byte
	var keys []string // blob key of each upload's content
	for i := range 7 {
		data := payload(uint64(i), 100+i)
		ri := e.put(t, "/f", data)
		all = append(all, data)
		n, err := e.meta.ReadNode(context.Background(), e.sid, ri.ID)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, decomposedfs.BlobKey(e.sid, n.BlobID))
		kept := all[max(0, len(all)-4):] // 3 revisions and the current content
		if got := e.contents(t, "/f"); !sameContents(got, kept) {
			t.Fatalf("after upload %d: %d contents, want the last %d", i, len(got), len(kept))
		}
		for j, k := range keys {
			if want := j >= len(keys)-4; e.blobExists(t, k) != want {
				t.Fatalf("after upload %d: blob of upload %d exists %v, want %v", i, j, !want, want)
			}
		}
		e.settled(t, "upload", int64(len(data)))
	}
	// Restores keep the count: one revision out, one in.
	revs := e.revisions(t, "/f")
	if _, err := e.fs.RestoreRevision(admin, e.ref("/f"), revs[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := e.contents(t, "/f"); !sameContents(got, [][]byte{all[4], all[5], all[6], all[3]}) {
		t.Fatal("contents after restore")
	}
	// A lower limit applies at the next overwrite, to all revisions.
	e.withRevisions(t, decomposedfs.RevisionPolicy{MaxCount: 1})
	last := payload(99, 10)
	e.put(t, "/f", last)
	if got := e.contents(t, "/f"); !sameContents(got, [][]byte{all[3], last}) {
		t.Fatal("contents after lowering the limit")
	}
	e.settled(t, "lowered", 10)
}

// The policy's age: revisions replaced longer ago than MaxAge go at the
// next overwrite.
func TestRevisionPolicyAge(t *testing.T) {
	e := newEnv(t, posixBlobs)
	const age = 300 * time.Millisecond
	e.withRevisions(t, decomposedfs.RevisionPolicy{MaxCount: 10, MaxAge: age})
	v := [][]byte{[]byte("v0"), []byte("v1!"), []byte("v2!!"), []byte("v3!!!")}
	e.put(t, "/f", v[0])
	e.put(t, "/f", v[1]) // v0 becomes a revision now
	old := e.blobKeys(t, e.stat(t, "/f").ID)
	time.Sleep(age + 50*time.Millisecond)
	e.put(t, "/f", v[2]) // v1 becomes a revision; v0's is too old
	if got := e.contents(t, "/f"); !sameContents(got, v[1:3]) {
		t.Fatalf("contents: %q", got)
	}
	for _, k := range old {
		if k != old[0] && e.blobExists(t, k) { // old[0] is v1: still a revision
			t.Errorf("blob %s of an expired revision is still there", k)
		}
	}
	e.put(t, "/f", v[3])
	if got := e.contents(t, "/f"); !sameContents(got, v[1:4]) {
		t.Fatalf("contents: %q", got)
	}
	e.settled(t, "aged", int64(len(v[3])))
}

// With revisions off, an overwrite deletes the old content at once.
func TestRevisionPolicyOff(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		e.withRevisions(t, decomposedfs.RevisionPolicy{})
		e.put(t, "/f", []byte("one"))
		old := e.blobKeys(t, e.stat(t, "/f").ID)
		e.put(t, "/f", []byte("two"))
		if len(e.revisions(t, "/f")) != 0 {
			t.Fatal("revisions kept")
		}
		if len(old) != 1 || e.blobExists(t, old[0]) {
			t.Fatalf("old content %v still stored", old)
		}
		if e.blobCount(t) != 1 {
			t.Fatalf("%d blobs, want 1", e.blobCount(t))
		}
		e.settled(t, "off", 3)
		// Revisions made while the policy was on stay until deleted.
		e.withRevisions(t, decomposedfs.RevisionPolicy{MaxCount: 5})
		e.put(t, "/f", []byte("three"))
		e.withRevisions(t, decomposedfs.RevisionPolicy{})
		e.put(t, "/f", []byte("four"))
		if got := e.contents(t, "/f"); !sameContents(got, [][]byte{[]byte("two"), []byte("four")}) {
			t.Fatalf("contents %q", got)
		}
		e.settled(t, "off again", 4)
	})
	if err := (decomposedfs.Options{Lookup: decomposedfs.DefaultOptions().Lookup, Revisions: decomposedfs.RevisionPolicy{MaxCount: -1}}).Validate(); err == nil {
		t.Error("a negative count is accepted")
	}
}

// Empty contents are revisions like any other, without a blob.
func TestRevisionsEmpty(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.put(t, "/f", nil)
	e.put(t, "/f", []byte("full"))
	e.put(t, "/f", nil)
	if got := e.contents(t, "/f"); !sameContents(got, [][]byte{{}, []byte("full"), {}}) {
		t.Fatalf("contents %q", got)
	}
	revs := e.revisions(t, "/f")
	if _, _, err := e.fs.DownloadRevision(admin, e.ref("/f"), revs[0].ID, 1, -1); !errors.Is(err, decomposedfs.ErrRange) {
		t.Errorf("range past the end of an empty revision: %v", err)
	}
	if _, err := e.fs.RestoreRevision(admin, e.ref("/f"), revs[1].ID); err != nil {
		t.Fatal(err)
	}
	if string(e.get(t, "/f")) != "full" {
		t.Fatal("restored content")
	}
	e.settled(t, "restored", 4)
	if err := e.fs.DeleteRevision(admin, e.ref("/f"), revs[0].ID); err != nil {
		t.Fatal(err)
	}
	e.settled(t, "deleted", 4)
}

// Revisions are changes of the file: locks guard them.
func TestRevisionsLocked(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.put(t, "/f", []byte("one"))
	e.put(t, "/f", []byte("two"))
	rev := e.revisions(t, "/f")[0].ID
	l, err := e.fs.Lock(admin, e.ref("/f"), decomposedfs.LockOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.RestoreRevision(admin, e.ref("/f"), rev); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Errorf("restore on a locked file: %v", err)
	}
	if err := e.fs.DeleteRevision(admin, e.ref("/f"), rev); !errors.Is(err, decomposedfs.ErrLocked) {
		t.Errorf("delete revision of a locked file: %v", err)
	}
	if _, err := e.fs.RestoreRevision(decomposedfs.WithLockTokens(admin, l.Token), e.ref("/f"), rev); err != nil {
		t.Errorf("restore with the token: %v", err)
	}
	rc, _, err := e.fs.Download(admin, e.ref("/f"), 0, -1)
	if b, err := readAll(rc, err); err != nil || string(b) != "one" {
		t.Errorf("content %q %v", b, err)
	}
	e.settled(t, "locked", 3)
}

// A download of a revision streams: a reader that is not drained leaks
// nothing and blocks nothing.
func TestRevisionDownloadPartialRead(t *testing.T) {
	e := newEnv(t, posixBlobs)
	data := payload(3, 1<<20)
	e.put(t, "/f", data)
	e.put(t, "/f", []byte("x"))
	rev := e.revisions(t, "/f")[0].ID
	rc, _, err := e.fs.DownloadRevision(admin, e.ref("/f"), rev, 100, 1000)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(rc, buf); err != nil || !bytes.Equal(buf, data[100:110]) {
		t.Fatalf("%q %v", buf, err)
	}
	rc.Close()
	if err := e.fs.DeleteRevision(admin, e.ref("/f"), rev); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.stat(t, "/f").MimeType, "octet-stream") {
		t.Errorf("mime type %q", e.stat(t, "/f").MimeType)
	}
	e.settled(t, "read", 1)
}

// A finish that committed its file and died before it recorded so is
// finished again: the second commit of the same content is no overwrite,
// and leaves no revision (least of all one without a blob).
func TestRevisionsRepeatedFinish(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := admin
		e.put(t, "/f", []byte("before"))
		data := payload(4, 9<<20+12345) // a part and a tail
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/f"), Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
		pending, err := e.meta.ReadUpload(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		ri, err := e.fs.FinishUpload(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The crash: the finish committed the file (and maybe deleted
		// the tail blobs) but did not record that it was done.
		if _, err := e.meta.UpdateUpload(ctx, s.ID, func(u *metadata.Upload) error {
			u.Done, u.MultipartID, u.Parts, u.Tails = "", pending.MultipartID, pending.Parts, pending.Tails
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		again, err := e.fs.FinishUpload(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != ri.ID || again.Etag != ri.Etag || again.Size != int64(len(data)) {
			t.Errorf("finished again: %+v, first %+v", again, ri)
		}
		if got := e.contents(t, "/f"); !sameContents(got, [][]byte{[]byte("before"), data}) {
			t.Errorf("%d contents after a repeated finish, want 2", len(got))
		}
		e.settled(t, "finished twice", int64(len(data)))
		// The same, after the file changed in between: the content the
		// session brought is a revision now, and stays just that.
		if _, err := e.meta.UpdateUpload(ctx, s.ID, func(u *metadata.Upload) error {
			u.Done, u.MultipartID, u.Parts, u.Tails = "", pending.MultipartID, pending.Parts, pending.Tails
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.put(t, "/f", []byte("after"))
		if _, err := e.fs.FinishUpload(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.contents(t, "/f"); !sameContents(got, [][]byte{[]byte("before"), data, []byte("after")}) {
			t.Errorf("%d contents after a late repeated finish, want 3", len(got))
		}
		e.settled(t, "finished late", 5)
	})
}
