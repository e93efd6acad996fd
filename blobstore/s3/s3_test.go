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

// serverQuirks are the known deviations of an S3 server from the contract
// (see blobstoretest.Quirks), and two the suite cannot see through the
// store; each declared one is checked to be really there.
type serverQuirks struct {
	blobstoretest.Quirks
	// BucketAutoCreated: a bucket removed behind the store's back is
	// created again by the next write (SeaweedFS, for admin identities):
	// the store cannot tell, the volume probe notices the loss (its own
	// announcement vanishes from the bucket) and refuses writes.
	BucketAutoCreated bool
	// MalformedUploadID400: an upload id that looks like a path gets
	// 400 InvalidRequest, not NoSuchUpload (SeaweedFS); the store maps it
	// to ErrNotFound.
	MalformedUploadID400 bool
}

// knownQuirks are the quirks of each S3 server the tests run against,
// named by S3DFS_S3_SERVER (s3test.ServerName).
var knownQuirks = map[string]serverQuirks{
	"versitygw": {},
	"seaweedfs": {
		Quirks: blobstoretest.Quirks{
			EmptyMetadataDropped: true,
			UploadsPrefixHidden:  true,
			ReplacedPartKept:     true,
		},
		BucketAutoCreated:    true,
		MalformedUploadID400: true,
	},
}

func quirks(t testing.TB) serverQuirks {
	t.Helper()
	name := s3test.ServerName()
	q, ok := knownQuirks[name]
	if !ok {
		t.Fatalf("S3DFS_S3_SERVER=%s: no known quirks for this server; add it to knownQuirks", name)
	}
	return q
}

func TestConformance(t *testing.T) {
	quirks(t).RunShared(t, func(t *testing.T) (blobstore.Store, func() blobstore.Store) {
		return newShared(t, nil)
	})
}

// Sequential part uploads (Concurrency 1) take other paths through
// minio-go than parallel ones.
func TestConformanceSequential(t *testing.T) {
	quirks(t).Run(t, func(t *testing.T) blobstore.Store {
		return newStore(t, func(o *s3.Options) { o.Concurrency = 1 })
	})
}
