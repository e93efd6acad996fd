package blobstoretest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
)

// copier returns s as a blobstore.Copier, or skips the test if s is none.
func copier(t *testing.T, s blobstore.Store) blobstore.Copier {
	t.Helper()
	c, ok := s.(blobstore.Copier)
	if !ok {
		t.Skipf("%T does not implement blobstore.Copier", s)
	}
	return c
}

// awkwardMetadata has keys that look like HTTP or S3 headers, which a
// server-side copy must still store as plain user metadata.
var awkwardMetadata = map[string]string{
	"node":                "n-2",
	"content-type":        "not a header",
	"cache-control":       "no",
	"expires":             "never",
	"x-amz-meta-inner":    "prefixed",
	"x-amz-storage-class": "GLACIER",
	"x-minio-internal":    "m",
	"empty":               "",
}

func mustCopy(t *testing.T, c blobstore.Copier, src, dst string, size int, md map[string]string) {
	t.Helper()
	info, err := c.Copy(ctxT(t), src, dst, blobstore.PutOptions{Metadata: md})
	if err != nil {
		t.Fatalf("Copy(%q, %q): %v", src, dst, err)
	}
	if info.Key != dst || info.Size != int64(size) || info.ModTime.IsZero() {
		t.Fatalf("Copy(%q, %q) = key %q size %d mtime %v, want key %q size %d and a time",
			src, dst, info.Key, info.Size, info.ModTime, dst, size)
	}
}

// assertBlob checks a blob's content and metadata.
func assertBlob(t *testing.T, s blobstore.Store, key string, data []byte, md map[string]string) {
	t.Helper()
	sameBytes(t, key, mustRead(t, s, key, 0, -1), data)
	st, err := s.Stat(ctxT(t), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if st.Size != int64(len(data)) {
		t.Fatalf("Stat(%q) size = %d, want %d", key, st.Size, len(data))
	}
	assertMetadata(t, st.Metadata, md)
}

func testCopy(t *testing.T, s blobstore.Store) {
	c := copier(t, s)
	srcMD := map[string]string{"space": "s1", "node": "n-1", "only-src": "x"}
	data := payload(40, PartSize+12345)
	mustPut(t, s, "copy/src", data, int64(len(data)), srcMD)

	mustCopy(t, c, "copy/src", "copy/dst", len(data), awkwardMetadata)
	assertBlob(t, s, "copy/dst", data, awkwardMetadata) // replaced, not merged
	assertBlob(t, s, "copy/src", data, srcMD)
	if got := listKeys(t, s, "copy/"); !slices.Equal(got, []string{"copy/dst", "copy/src"}) {
		t.Fatalf("List(copy/) = %q, want [copy/dst copy/src]", got)
	}

	// No metadata given: the copy has none.
	mustCopy(t, c, "copy/src", "copy/bare", len(data), nil)
	assertBlob(t, s, "copy/bare", data, nil)

	// A copy replaces the blob at dst, content and metadata.
	mustPut(t, s, "copy/old", payload(41, 777), 777, map[string]string{"v": "old", "gone": "1"})
	mustCopy(t, c, "copy/src", "copy/old", len(data), map[string]string{"v": "new"})
	assertBlob(t, s, "copy/old", data, map[string]string{"v": "new"})

	// Copies are independent blobs: overwriting or deleting the source
	// leaves them alone.
	other := payload(42, 3000)
	mustPut(t, s, "copy/src", other, int64(len(other)), map[string]string{"v": "other"})
	assertBlob(t, s, "copy/dst", data, awkwardMetadata)
	mustCopy(t, c, "copy/src", "copy/second", len(other), map[string]string{"v": "second"})
	if err := s.Delete(ctxT(t), "copy/src"); err != nil {
		t.Fatal(err)
	}
	assertBlob(t, s, "copy/dst", data, awkwardMetadata)
	assertBlob(t, s, "copy/second", other, map[string]string{"v": "second"})

	// The empty blob.
	mustPut(t, s, "copy/empty", nil, 0, nil)
	mustCopy(t, c, "copy/empty", "copy/empty2", 0, map[string]string{"k": "v"})
	assertBlob(t, s, "copy/empty2", nil, map[string]string{"k": "v"})
}

func testCopyErrors(t *testing.T, s blobstore.Store) {
	c := copier(t, s)
	ctx := ctxT(t)
	data := payload(43, 2000)
	md := map[string]string{"v": "1"}
	mustPut(t, s, "ce/src", data, int64(len(data)), md)

	// Onto itself.
	if _, err := c.Copy(ctx, "ce/src", "ce/src", blobstore.PutOptions{Metadata: map[string]string{"v": "2"}}); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Copy onto itself: %v, want ErrInvalidKey", err)
	}
	assertBlob(t, s, "ce/src", data, md)

	// A missing source, including a prefix of a blob and a key below one.
	for _, src := range []string{"ce/missing", "ce", "ce/src/below"} {
		if _, err := c.Copy(ctx, src, "ce/dst", blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("Copy(%q): %v, want ErrNotFound", src, err)
		}
		assertAbsent(t, s, "ce/dst")
	}

	for _, c2 := range []struct{ src, dst string }{{"", "ce/dst"}, {"ce/src", ""}, {"ce/src", "a//b"}, {"../x", "ce/dst"}} {
		if _, err := c.Copy(ctx, c2.src, c2.dst, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("Copy(%q, %q): %v, want ErrInvalidKey", c2.src, c2.dst, err)
		}
	}
	if _, err := c.Copy(ctx, "ce/src", "ce/dst", blobstore.PutOptions{Metadata: map[string]string{"Bad": "x"}}); !errors.Is(err, blobstore.ErrInvalidMetadata) {
		t.Errorf("Copy with invalid metadata: %v, want ErrInvalidMetadata", err)
	}
	assertAbsent(t, s, "ce/dst")

	// A cancelled context copies nothing, and a failed Copy keeps the blob
	// it would have replaced.
	mustPut(t, s, "ce/keep", []byte("keep"), 4, map[string]string{"v": "keep"})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, dst := range []string{"ce/dst", "ce/keep"} {
		if _, err := c.Copy(cctx, "ce/src", dst, blobstore.PutOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Copy to %s with a cancelled context: %v, want context.Canceled", dst, err)
		}
	}
	assertAbsent(t, s, "ce/dst")
	assertBlob(t, s, "ce/keep", []byte("keep"), map[string]string{"v": "keep"})
	if got := listKeys(t, s, ""); !slices.Equal(got, []string{"ce/keep", "ce/src"}) {
		t.Errorf("List = %q after the failed copies, want [ce/keep ce/src]", got)
	}
}
