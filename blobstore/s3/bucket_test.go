package s3_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
)

func TestCreateBucket(t *testing.T) {
	o := s3store.Options(s3test.New(t))
	o.Bucket = s3test.BucketName("created-" + t.Name())

	_, err := s3.New(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "CreateBucket") {
		t.Fatalf("New on a missing bucket: %v, want a hint at CreateBucket", err)
	}
	if s3.IsTransient(err) || errors.Is(err, blobstore.ErrUnavailable) {
		t.Errorf("IsTransient(%v) or ErrUnavailable for a missing bucket", err)
	}

	o.CreateBucket = true
	for range 2 { // the second time the bucket exists already
		s, err := s3.New(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(t.Context(), "k", strings.NewReader("v"), 1, blobstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // s3test removes only the buckets it made
			ctx := context.WithoutCancel(t.Context())
			_ = s.Delete(ctx, "k")
			_ = s.Client().RemoveBucket(ctx, s.Bucket())
		})
	}
}

func TestBucketRemovedBehindTheStoresBack(t *testing.T) {
	s := newStore(t, nil)
	if err := s.Client().RemoveBucket(t.Context(), s.Bucket()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err := s.Put(ctx, "k", strings.NewReader("v"), 1, blobstore.PutOptions{})
	if quirks(t).BucketAutoCreated {
		if err != nil {
			t.Fatalf("quirk BucketAutoCreated is declared, but Put on a removed bucket failed (%v): remove the quirk", err)
		}
		if ok, err := s.Client().BucketExists(ctx, s.Bucket()); err != nil || !ok {
			t.Fatalf("Put on a removed bucket succeeded, but the bucket does not exist (%t, %v)", ok, err)
		}
		return
	}
	checkNoSuchBucket(t, "Put", s.Bucket(), err)
	_, err = s.Open(ctx, "k", 0, -1)
	checkNoSuchBucket(t, "Open", s.Bucket(), err)
	err = s.List(ctx, "", func(blobstore.Info) error { return nil })
	checkNoSuchBucket(t, "List", s.Bucket(), err)
}

func checkNoSuchBucket(t *testing.T, op, bucket string, err error) {
	t.Helper()
	var resp minio.ErrorResponse
	switch {
	case err == nil:
		t.Errorf("%s on a removed bucket succeeded", op)
	case !errors.As(err, &resp) || resp.Code != "NoSuchBucket":
		t.Errorf("%s: %v, want NoSuchBucket in the chain", op, err)
	case errors.Is(err, blobstore.ErrNotFound):
		t.Errorf("%s: a missing bucket is not a missing key: %v", op, err)
	case s3.IsTransient(err):
		t.Errorf("%s: IsTransient(%v) = true", op, err)
	case !strings.Contains(err.Error(), bucket) || !strings.Contains(err.Error(), "does not exist"):
		t.Errorf("%s: error %q does not say which bucket is missing", op, err)
	}
}

func TestPrefixAndUserMetadata(t *testing.T) {
	s := newStore(t, func(o *s3.Options) { o.Prefix = "tenant/blobs/" })
	ctx := t.Context()
	raw := s.Client()
	md := map[string]string{"space": "s1", "node": "n1"}
	if _, err := s.Put(ctx, "a/b", strings.NewReader("body"), 4, blobstore.PutOptions{Metadata: md}); err != nil {
		t.Fatal(err)
	}

	// The object lives under the prefix and carries the metadata as plain
	// S3 user metadata, for other tools to read.
	oi, err := raw.StatObject(ctx, s.Bucket(), "tenant/blobs/a/b", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("raw stat of the prefixed object: %v", err)
	}
	if oi.Metadata.Get("X-Amz-Meta-Space") != "s1" || oi.Metadata.Get("X-Amz-Meta-Node") != "n1" {
		t.Errorf("object headers %v lack the user metadata", oi.Metadata)
	}

	// Objects outside the prefix, and objects inside it whose names are
	// not keys, stay invisible.
	for _, name := range []string{"other/x", "tenant/blobsx", "tenant/blobs/dir/"} {
		if _, err := raw.PutObject(ctx, s.Bucket(), name, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("raw put %s: %v", name, err)
		}
	}
	var keys []string
	if err := s.List(ctx, "", func(i blobstore.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a/b"}) {
		t.Errorf("List = %q, want [a/b]", keys)
	}

	// The prefix counts against the S3 limit on object names.
	long := strings.Repeat("k", blobstore.MaxKeyLen-len("tenant/blobs/")+1)
	if _, err := s.Put(ctx, long, strings.NewReader("v"), 1, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Put of a key too long with the prefix: %v, want ErrInvalidKey", err)
	}
}

// TestFailedUploadsLeaveNoParts checks that a multipart upload that fails
// (wrong size, reader error, cancelled context) is aborted, not left
// holding parts on the server.
func TestFailedUploadsLeaveNoParts(t *testing.T) {
	for _, concurrency := range []int{1, 4} {
		s := newStore(t, func(o *s3.Options) { o.Concurrency = concurrency })
		big := bytes.Repeat([]byte("x"), 12<<20)

		if _, err := s.Put(t.Context(), "short", bytes.NewReader(big), 13<<20, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Errorf("short body: %v", err)
		}
		if _, err := s.Put(t.Context(), "long", bytes.NewReader(big), 11<<20, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Errorf("long body: %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancelAfter{r: bytes.NewReader(big), after: 7 << 20, cancel: cancel}
		if _, err := s.Put(ctx, "cancelled", r, -1, blobstore.PutOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}

		for u := range s.Client().ListIncompleteUploads(t.Context(), s.Bucket(), "", true) {
			if u.Err != nil {
				t.Fatalf("list incomplete uploads: %v", u.Err)
			}
			t.Errorf("concurrency %d: upload %s of %q was left behind", concurrency, u.UploadID, u.Key)
		}
	}
}

type cancelAfter struct {
	r      *bytes.Reader
	after  int
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n += n; c.n >= c.after {
		c.cancel()
	}
	return n, err
}

// An upload id that looks like a path cannot name an upload: ErrNotFound,
// whatever the server answers.
func TestMalformedUploadID(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	id, err := s.CreateMultipart(ctx, "k", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.AbortMultipart(ctx, "k", id)
	bad := "../" + id
	_, raw := minio.Core{Client: s.Client()}.ListObjectParts(ctx, s.Bucket(), "k", bad, 0, 1000)
	code := minio.ToErrorResponse(raw).Code
	if quirks(t).MalformedUploadID400 {
		if code != "InvalidRequest" {
			t.Errorf("quirk MalformedUploadID400 is declared, but the server answers %q (%v): remove the quirk", code, raw)
		}
	} else if code != "NoSuchUpload" {
		t.Errorf("the server answers %q for an upload id %q (%v): an undeclared quirk", code, bad, raw)
	}
	if _, err := s.ListParts(ctx, "k", bad); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("ListParts with upload id %q: %v, want ErrNotFound", bad, err)
	}
	if err := s.AbortMultipart(ctx, "k", bad); err != nil {
		t.Errorf("AbortMultipart with upload id %q: %v, want nil (no such upload)", bad, err)
	}
}
