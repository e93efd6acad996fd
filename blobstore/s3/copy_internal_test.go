package s3

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

// TestCopyRanges checks how Copy splits objects of the sizes it cannot
// meet in a test (up to 5 TiB, the S3 maximum).
func TestCopyRanges(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		size      int64
		wantParts int // 0: one CopyObject request
	}{
		{0, 0},
		{1, 0},
		{maxWholeCopy, 0},
		{maxWholeCopy + 1, 11}, // ten parts of 512 MiB and one byte
		{6 * gib, 12},
		{100 * gib, 200},
		{5000 * gib, blobstore.MaxParts}, // more than MaxParts of 512 MiB: bigger parts
		{5 << 40, blobstore.MaxParts},
	} {
		ranges := copyRanges(c.size, maxWholeCopy, copyPartSize)
		if len(ranges) != c.wantParts {
			t.Errorf("size %d: %d parts, want %d", c.size, len(ranges), c.wantParts)
			continue
		}
		var next int64
		for i, r := range ranges {
			last := i == len(ranges)-1
			switch {
			case r.start != next:
				t.Fatalf("size %d: part %d starts at %d, want %d", c.size, i+1, r.start, next)
			case r.length > MaxPartSize || r.length < 1:
				t.Fatalf("size %d: part %d has %d bytes", c.size, i+1, r.length)
			case !last && r.length < MinPartSize:
				t.Fatalf("size %d: part %d of %d has %d bytes, under the S3 minimum", c.size, i+1, len(ranges), r.length)
			}
			next += r.length
		}
		if len(ranges) > 0 && next != c.size {
			t.Errorf("size %d: parts cover %d bytes", c.size, next)
		}
	}
}

func internalStore(t *testing.T) *Store {
	t.Helper()
	cfg := s3test.New(t)
	o := DefaultOptions()
	o.Endpoint, o.Bucket, o.Region = cfg.Endpoint, cfg.Bucket, cfg.Region
	o.AccessKey, o.SecretKey, o.UseTLS = cfg.AccessKey, cfg.SecretKey, cfg.UseTLS
	o.PartSize = MinPartSize
	s, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// TestCopyInParts sends an 11 MiB object down the path that Copy takes
// for objects over 5 GiB: UploadPartCopy in 5 MiB parts.
func TestCopyInParts(t *testing.T) {
	s := internalStore(t)
	ctx := t.Context()
	data := randomBytes(1, 2*MinPartSize+1<<20)
	if _, err := s.Put(ctx, "src", bytes.NewReader(data), int64(len(data)), blobstore.PutOptions{Metadata: map[string]string{"v": "src"}}); err != nil {
		t.Fatal(err)
	}
	md := map[string]string{"content-type": "not a header", "expires": "never", "v": "dst"}
	if n := len(copyRanges(int64(len(data)), 0, MinPartSize)); n != 3 {
		t.Fatalf("the test object would be copied in %d parts, want 3", n)
	}
	info, err := s.copyObject(ctx, "src", "dst", blobstore.PutOptions{Metadata: md}, 0, MinPartSize)
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "dst" || info.Size != int64(len(data)) {
		t.Errorf("copy = %+v", info)
	}
	rc, err := s.Open(ctx, "dst", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("copy has %d bytes (%v), want the %d of the source", len(got), err, len(data))
	}
	st, err := s.Stat(ctx, "dst")
	if err != nil || !maps.Equal(st.Metadata, md) {
		t.Errorf("copy's metadata = %v (%v), want %v", st.Metadata, err, md)
	}
	st, err = s.Stat(ctx, "src")
	if err != nil || !maps.Equal(st.Metadata, map[string]string{"v": "src"}) {
		t.Errorf("source's metadata = %v (%v), want it unchanged", st.Metadata, err)
	}

	// A source that changed after Copy looked at it (another ETag) fails
	// the part copies, and the upload is aborted.
	_, err = s.copyParts(ctx, "src", "changed", "0123456789abcdef0123456789abcdef", nil,
		copyRanges(int64(len(data)), 0, MinPartSize))
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) || resp.Code != "PreconditionFailed" || !strings.Contains(err.Error(), "overwritten") {
		t.Errorf("copy of a changed source: %v, want PreconditionFailed explained", err)
	}
	if _, err := s.Stat(ctx, "changed"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("the failed copy left an object: %v", err)
	}
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Errorf("upload %s of %q was left behind", u.UploadID, u.Key)
	}
}
