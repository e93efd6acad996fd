package s3

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
)

// TestPartSizeFor: a known size that does not fit in MaxParts parts of the
// configured size gets larger parts (minio-go refused such an upload), up
// to the 5 TiB object limit.
func TestPartSizeFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ size, configured, want int64 }{
		{-1, 16 * mib, 16 * mib},
		{0, 16 * mib, 16 * mib},
		{16 * mib * blobstore.MaxParts, 16 * mib, 16 * mib},
		{16*mib*blobstore.MaxParts + 1, 16 * mib, 17 * mib},
		{200 << 30, 16 * mib, 21 * mib},
		{MaxObjectSize, 16 * mib, 525 * mib},
		{MaxObjectSize, 1 << 30, 1 << 30},
	} {
		got := partSizeFor(c.size, c.configured)
		if got != c.want {
			t.Errorf("partSizeFor(%d, %d) = %d, want %d", c.size, c.configured, got, c.want)
		}
		if c.size > 0 && (got*blobstore.MaxParts < c.size || got > MaxPartSize) {
			t.Errorf("partSizeFor(%d, %d) = %d does not fit", c.size, c.configured, got)
		}
	}
}

// TestPutTooLarge: a declared size over 5 TiB is refused with ErrTooLarge
// before the body is read.
func TestPutTooLarge(t *testing.T) {
	s := internalStore(t)
	body := strings.NewReader("tiny")
	for _, size := range []int64{MaxObjectSize + 1, 1<<63 - 1} {
		_, err := s.Put(t.Context(), "k", body, size, blobstore.PutOptions{})
		if !errors.Is(err, blobstore.ErrTooLarge) {
			t.Errorf("Put of %d bytes: %v, want ErrTooLarge", size, err)
		}
	}
	if body.Len() != 4 {
		t.Errorf("the body was read")
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Stat after the refused Put: %v", err)
	}
}
