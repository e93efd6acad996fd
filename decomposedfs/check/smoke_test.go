package check_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
)

// A healthy store with every kind of thing in it is clean.
func TestHealthyStoreIsClean(t *testing.T) {
	for _, kind := range []blobKind{posixBlobs, s3Blobs} {
		t.Run([]string{"s3", "posix"}[kind], func(t *testing.T) {
			e := newEnv(t, kind)
			healthy(t, e)
			checktest.AssertClean(t, e.fs)
			e.reopen(t)
			checktest.AssertClean(t, e.fs)
		})
	}
}

// healthy fills a store with folders, files, an overwrite, moves, the
// trash, a copy, an empty file and a resumable upload in progress.
func healthy(t *testing.T, e *env) {
	ctx := context.Background()
	e.mkdir(t, "/a")
	e.mkdir(t, "/a/b")
	e.mkdir(t, "/c")
	e.put(t, "/a/f1", payload(1, 1000))
	e.put(t, "/a/b/f2", payload(2, 3000))
	e.put(t, "/c/f3", payload(3, 10))
	e.put(t, "/a/f1", payload(4, 1500)) // overwrite
	if _, err := e.fs.Move(ctx, e.ref("/a/b"), e.ref("/c/b2"), false); err != nil {
		t.Fatal(err)
	}
	e.mkdir(t, "/d")
	e.put(t, "/d/gone", payload(5, 77))
	if err := e.fs.Delete(ctx, e.ref("/d")); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Delete(ctx, e.ref("/c/f3")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Copy(ctx, e.ref("/a"), e.ref("/a-copy"), decomposedfs.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.TouchFile(ctx, e.ref("/empty"), time0); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.blobs.(interface{ MinPartSize() int64 }); ok {
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/a/resumable"), Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(payload(6, 40)), nil); err != nil {
			t.Fatal(err)
		}
	}
}

var time0 = timeZero()
