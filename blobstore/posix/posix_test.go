package posix_test

import (
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/blobstoretest"
	"github.com/s3dfs/s3dfs/blobstore/posix"
)

func newStore(t testing.TB, opts posix.Options) *posix.Store {
	t.Helper()
	s, err := posix.New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openShared returns a fresh store and a function that opens a second
// Store value on the same directory, as another process would.
func openShared(opts posix.Options) func(t *testing.T) (blobstore.Store, func() blobstore.Store) {
	return func(t *testing.T) (blobstore.Store, func() blobstore.Store) {
		s := newStore(t, opts)
		return s, func() blobstore.Store {
			s2, err := posix.New(s.Dir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			return s2
		}
	}
}

func TestConformance(t *testing.T) {
	blobstoretest.RunShared(t, openShared(posix.DefaultOptions()))
}
