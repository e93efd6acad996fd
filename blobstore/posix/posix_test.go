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

func TestConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store { return newStore(t, posix.DefaultOptions()) })
}
