package s3_test

import (
	"os"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/blobstoretest"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// newStore returns a Store on a fresh bucket of the test server.
func newStore(t testing.TB, adjust func(*s3.Options)) *s3.Store {
	t.Helper()
	s, _ := newShared(t, adjust)
	return s
}

// newShared is newStore that also returns a function that opens a second
// Store (with its own client) on the same bucket.
func newShared(t testing.TB, adjust func(*s3.Options)) (*s3.Store, func() blobstore.Store) {
	t.Helper()
	cfg := s3test.New(t)
	opts := s3store.Options(cfg)
	opts.PartSize = blobstoretest.PartSize
	if adjust != nil {
		adjust(&opts)
	}
	open := func() *s3.Store {
		t.Helper()
		s, err := s3.New(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open(), func() blobstore.Store { return open() }
}

func TestConformance(t *testing.T) {
	blobstoretest.RunShared(t, func(t *testing.T) (blobstore.Store, func() blobstore.Store) {
		return newShared(t, nil)
	})
}

// Sequential part uploads (Concurrency 1) take other paths through
// minio-go than parallel ones.
func TestConformanceSequential(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		return newStore(t, func(o *s3.Options) { o.Concurrency = 1 })
	})
}
