package decomposedfs_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash/adler32"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

func forEachBlobStore(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, k := range []blobKind{s3Blobs, posixBlobs} {
		t.Run(k.String(), func(t *testing.T) { fn(t, newEnv(t, k)) })
	}
}

func TestTreeLifecycle(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mkdir(t, "/a")
		b := e.mkdir(t, "/a/b")
		data := payload(1, 100_000)
		mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
		ri, err := e.fs.Upload(ctx, e.ref("/a/b/f.txt"), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data)), Mtime: mt})
		if err != nil {
			t.Fatal(err)
		}
		md5sum := md5.Sum(data)
		if ri.Size != int64(len(data)) || ri.ParentID != b.ID || ri.Path != "/a/b/f.txt" || ri.Name != "f.txt" || ri.SpaceID != e.sid ||
			!ri.Mtime.Equal(mt) || ri.MimeType != "text/plain; charset=utf-8" || ri.Checksums.SHA1 != sha1hex(data) ||
			ri.Checksums.MD5 != hex.EncodeToString(md5sum[:]) {
			t.Fatalf("upload info: %+v", ri)
		}
		var ad [4]byte
		a := adler32.Checksum(data)
		ad[0], ad[1], ad[2], ad[3] = byte(a>>24), byte(a>>16), byte(a>>8), byte(a)
		if ri.Checksums.Adler32 != hex.EncodeToString(ad[:]) {
			t.Fatalf("adler32 %s, want %x", ri.Checksums.Adler32, ad)
		}
		// Stat by path and by id agree; folders carry the tree size.
		byPath := e.stat(t, "/a/b/f.txt")
		byID, err := e.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: e.sid, NodeID: ri.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(byPath, byID) || byID.Path != "/a/b/f.txt" || byID.Etag != ri.Etag {
			t.Fatalf("by path %+v, by id %+v", byPath, byID)
		}
		for _, p := range []string{"/", "/a", "/a/b"} {
			if got := e.stat(t, p).Size; got != int64(len(data)) {
				t.Fatalf("tree size of %s = %d, want %d", p, got, len(data))
			}
		}
		// A relative path from a node id.
		rel, err := e.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: e.sid, NodeID: b.ID, Path: "f.txt"})
		if err != nil || rel.ID != ri.ID || rel.Path != "/a/b/f.txt" {
			t.Fatalf("relative: %+v %v", rel, err)
		}
		if got := e.get(t, "/a/b/f.txt"); !bytes.Equal(got, data) {
			t.Fatal("download differs")
		}
		// Ranges, at the edges too.
		for _, r := range [][2]int64{{0, 1}, {99_999, 1}, {99_999, -1}, {500, 1000}, {99_990, 100}} {
			rc, _, err := e.fs.Download(ctx, e.ref("/a/b/f.txt"), r[0], r[1])
			if err != nil {
				t.Fatalf("range %v: %v", r, err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			end := int64(len(data))
			if r[1] >= 0 {
				end = min(end, r[0]+r[1])
			}
			if !bytes.Equal(got, data[r[0]:end]) {
				t.Fatalf("range %v: %d bytes differ", r, len(got))
			}
		}
		if _, _, err := e.fs.Download(ctx, e.ref("/a/b/f.txt"), 100_000, -1); !errors.Is(err, decomposedfs.ErrRange) {
			t.Fatalf("range past end: %v", err)
		}

		// Overwrite: new blob, the old one kept as a revision, sizes follow.
		blobsBefore := e.blobCount(t)
		etagBefore := e.stat(t, "/a").Etag
		small := []byte("hello")
		e.put(t, "/a/b/f.txt", small)
		if got := e.get(t, "/a/b/f.txt"); string(got) != "hello" {
			t.Fatalf("after overwrite: %q", got)
		}
		if e.blobCount(t) != blobsBefore+1 {
			t.Fatalf("overwrite left %d blobs, want %d (the new content and the revision)", e.blobCount(t), blobsBefore+1)
		}
		if e.stat(t, "/").Size != 5 || e.stat(t, "/a").Etag == etagBefore {
			t.Fatal("overwrite did not propagate")
		}
		if e.stat(t, "/a/b/f.txt").ID != ri.ID {
			t.Fatal("overwrite changed the node id")
		}

		// Listing.
		e.put(t, "/a/b/empty", nil)
		e.mkdir(t, "/a/b/sub")
		l, err := e.fs.ListFolder(ctx, e.ref("/a/b"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range l.Children {
			names = append(names, c.Name+":"+c.Path)
		}
		if strings.Join(names, ",") != "empty:/a/b/empty,f.txt:/a/b/f.txt,sub:/a/b/sub" || len(l.Problems) != 0 || l.Folder.ID != b.ID {
			t.Fatalf("listing: %v %v", names, l.Problems)
		}

		// Move a file, rename a folder; old paths vanish, ids stay.
		if _, err := e.fs.Move(ctx, e.ref("/a/b/f.txt"), e.ref("/a/g.txt"), false); err != nil {
			t.Fatal(err)
		}
		if e.stat(t, "/a/b").Size != 0 || e.stat(t, "/a").Size != 5 {
			t.Fatal("move did not propagate")
		}
		if _, err := e.fs.Move(ctx, e.ref("/a"), e.ref("/x"), false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.GetMD(ctx, e.ref("/a/g.txt")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Fatalf("old path after rename: %v", err)
		}
		if got := e.stat(t, "/x/g.txt"); got.ID != ri.ID {
			t.Fatalf("new path: %+v", got)
		}
		byID, err = e.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: e.sid, NodeID: ri.ID})
		if err != nil || byID.Path != "/x/g.txt" {
			t.Fatalf("path by id after ancestor rename: %+v %v", byID, err)
		}
		e.consistent(t)

		// Delete a folder: its subtree goes with it, by path and by id.
		if err := e.fs.Delete(ctx, e.ref("/x")); err != nil {
			t.Fatal(err)
		}
		if e.stat(t, "/").Size != 0 {
			t.Fatal("delete did not propagate")
		}
		for _, ref := range []decomposedfs.Reference{e.ref("/x"), e.ref("/x/g.txt"), {SpaceID: e.sid, NodeID: ri.ID}, {SpaceID: e.sid, NodeID: b.ID, Path: "empty"}} {
			if _, err := e.fs.GetMD(ctx, ref); !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Fatalf("%v after delete: %v", ref, err)
			}
		}
		e.consistent(t)
	})
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	e.mkdir(t, "/a")
	for _, name := range []string{"", ".", "..", "a\x00b", strings.Repeat("x", 256), "bad\xffutf8"} {
		_, err := e.fs.CreateDir(ctx, decomposedfs.Reference{SpaceID: e.sid, NodeID: e.stat(t, "/a").ID, Path: name})
		if !errors.Is(err, decomposedfs.ErrInvalidName) && !errors.Is(err, decomposedfs.ErrInvalidRef) {
			t.Errorf("mkdir %q: %v", name, err)
		}
	}
	for _, p := range []string{"/a/" + strings.Repeat("y", 256), "/a/b\x00c", "/a/\xff"} {
		if _, err := e.fs.Upload(ctx, e.ref(p), strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1}); !errors.Is(err, decomposedfs.ErrInvalidName) && !errors.Is(err, decomposedfs.ErrInvalidRef) {
			t.Errorf("upload %q: %v", p, err)
		}
	}
	// No path climbs out of its start, no id is a path.
	for _, ref := range []decomposedfs.Reference{
		e.ref("/../a"), e.ref("/a/../../etc"), e.ref(".."),
		{SpaceID: "../../etc", Path: "/"}, {SpaceID: e.sid, NodeID: "../x"},
		{SpaceID: e.sid, NodeID: e.stat(t, "/a").ID, Path: "../.."},
	} {
		if _, err := e.fs.GetMD(ctx, ref); !errors.Is(err, decomposedfs.ErrInvalidRef) {
			t.Errorf("%v: %v, want ErrInvalidRef", ref, err)
		}
	}
	// A 255-byte name and awkward characters are fine.
	for _, name := range []string{strings.Repeat("z", 255), "with space", "#%?&'\"", "ünïcødé ✓", "...", ".hidden"} {
		e.put(t, "/a/"+name, []byte(name))
		if got := e.get(t, "/a/"+name); string(got) != name {
			t.Errorf("%q: read back %q", name, got)
		}
	}
	// Operations on the root, moves into itself, overwrites.
	if err := e.fs.Delete(ctx, e.ref("/")); !errors.Is(err, decomposedfs.ErrRoot) {
		t.Errorf("delete root: %v", err)
	}
	e.mkdir(t, "/a/sub")
	if _, err := e.fs.Move(ctx, e.ref("/a"), e.ref("/a/sub/a"), false); !errors.Is(err, decomposedfs.ErrCycle) {
		t.Errorf("move into itself: %v", err)
	}
	if _, err := e.fs.Move(ctx, e.ref("/a"), e.ref("/a/a"), false); !errors.Is(err, decomposedfs.ErrCycle) {
		t.Errorf("move into itself: %v", err)
	}
	e.put(t, "/f1", []byte("one"))
	e.put(t, "/f2", []byte("two!"))
	if _, err := e.fs.Move(ctx, e.ref("/f1"), e.ref("/f2"), false); !errors.Is(err, decomposedfs.ErrExist) {
		t.Errorf("move onto existing: %v", err)
	}
	if _, err := e.fs.Move(ctx, e.ref("/f1"), e.ref("/f2"), true); err != nil {
		t.Errorf("move with overwrite: %v", err)
	}
	if got := e.get(t, "/f2"); string(got) != "one" {
		t.Errorf("after overwrite: %q", got)
	}
	if _, err := e.fs.Upload(ctx, e.ref("/a"), strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1}); !errors.Is(err, decomposedfs.ErrIsDir) {
		t.Errorf("upload onto a folder: %v", err)
	}
	if _, err := e.fs.CreateDir(ctx, e.ref("/f2/x")); !errors.Is(err, decomposedfs.ErrNotDir) {
		t.Errorf("mkdir below a file: %v", err)
	}
	if _, err := e.fs.CreateDir(ctx, e.ref("/missing/x")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("mkdir below a missing folder: %v", err)
	}
	e.consistent(t)
}

// failingReader returns n bytes, then an error.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestFailedUploadsLeaveNothing(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mkdir(t, "/d")
		e.put(t, "/d/keep", []byte("keep me"))
		before, blobs := e.stat(t, "/"), e.blobCount(t)
		data := payload(2, 6<<20) // more than one part on S3
		cases := map[string]func(name string) error{
			"reader fails mid-way": func(name string) error {
				r := &failingReader{r: bytes.NewReader(data[:3<<20]), err: errors.New("client went away")}
				_, err := e.fs.Upload(ctx, e.ref(name), r, decomposedfs.UploadOptions{Size: int64(len(data))})
				return err
			},
			"reader fails, unknown size": func(name string) error {
				r := &failingReader{r: bytes.NewReader(data), err: errors.New("client went away")}
				_, err := e.fs.Upload(ctx, e.ref(name), r, decomposedfs.UploadOptions{Size: -1})
				return err
			},
			"body shorter than declared": func(name string) error {
				_, err := e.fs.Upload(ctx, e.ref(name), bytes.NewReader(data[:100]), decomposedfs.UploadOptions{Size: 101})
				if !errors.Is(err, decomposedfs.ErrSizeMismatch) {
					t.Errorf("short body: %v, want ErrSizeMismatch", err)
				}
				return err
			},
			"body longer than declared": func(name string) error {
				_, err := e.fs.Upload(ctx, e.ref(name), bytes.NewReader(data[:100]), decomposedfs.UploadOptions{Size: 99})
				if !errors.Is(err, decomposedfs.ErrSizeMismatch) {
					t.Errorf("long body: %v, want ErrSizeMismatch", err)
				}
				return err
			},
			"checksum mismatch": func(name string) error {
				_, err := e.fs.Upload(ctx, e.ref(name), bytes.NewReader(data[:1000]), decomposedfs.UploadOptions{
					Size: 1000, Checksum: &decomposedfs.Checksum{Type: "SHA1", Value: sha1hex(data[:999])}})
				if !errors.Is(err, decomposedfs.ErrChecksumMismatch) {
					t.Errorf("checksum: %v, want ErrChecksumMismatch", err)
				}
				return err
			},
			"cancelled": func(name string) error {
				cctx, cancel := context.WithCancel(ctx)
				r := &cancelReader{r: bytes.NewReader(data), after: 2 << 20, cancel: cancel}
				_, err := e.fs.Upload(cctx, e.ref(name), r, decomposedfs.UploadOptions{Size: int64(len(data))})
				return err
			},
		}
		for what, upload := range cases {
			for _, name := range []string{"/d/new", "/d/keep"} { // a new file and an overwrite
				if err := upload(name); err == nil {
					t.Fatalf("%s %s: no error", what, name)
				}
				if _, err := e.fs.GetMD(ctx, e.ref("/d/new")); !errors.Is(err, decomposedfs.ErrNotFound) {
					t.Fatalf("%s: a node was left: %v", what, err)
				}
				if got := e.get(t, "/d/keep"); string(got) != "keep me" {
					t.Fatalf("%s: existing content changed: %q", what, got)
				}
				if after := e.stat(t, "/"); after.Size != before.Size {
					t.Fatalf("%s: size changed from %d to %d", what, before.Size, after.Size)
				}
				if n := e.blobCount(t); n != blobs {
					t.Fatalf("%s %s: %d blobs, want %d", what, name, n, blobs)
				}
			}
		}
		// A matching checksum passes, in any case of type and hex.
		good := data[:1000]
		if _, err := e.fs.Upload(ctx, e.ref("/d/ok"), bytes.NewReader(good), decomposedfs.UploadOptions{
			Size: 1000, Checksum: &decomposedfs.Checksum{Type: "sha1", Value: strings.ToUpper(sha1hex(good))}}); err != nil {
			t.Fatal(err)
		}
		e.consistent(t)
	})
}

type cancelReader struct {
	r      io.Reader
	after  int
	n      int
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.n >= c.after {
		c.cancel()
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestCorruptRecordIsIsolated(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.needMPK(t, "corrupts an mpk record file")
	ctx := context.Background()
	e.mkdir(t, "/d")
	e.put(t, "/d/a", []byte("a"))
	bad := e.put(t, "/d/b", []byte("b"))
	e.put(t, "/d/c", []byte("c"))
	path := e.root + "/spaces/" + e.sid[:2] + "/" + e.sid + "/nodes/" + bad.ID[:2] + "/" + bad.ID + ".mpk"
	if err := writeFile(path, []byte("\x85garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.GetMD(ctx, e.ref("/d/b")); !errors.Is(err, decomposedfs.ErrCorrupt) {
		t.Fatalf("stat of corrupt node: %v", err)
	}
	l, err := e.fs.ListFolder(ctx, e.ref("/d"))
	if err != nil {
		t.Fatalf("listing failed whole: %v", err)
	}
	if len(l.Children) != 2 || l.Children[0].Name != "a" || l.Children[1].Name != "c" {
		t.Fatalf("children: %+v", l.Children)
	}
	if len(l.Problems) != 1 || l.Problems[0].Name != "b" || l.Problems[0].ID != bad.ID || !errors.Is(l.Problems[0].Err, metadata.ErrCorrupt) {
		t.Fatalf("problems: %+v", l.Problems)
	}
}
