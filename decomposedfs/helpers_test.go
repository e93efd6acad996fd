package decomposedfs_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/decomposedfs/fstest"
	"github.com/s3dfs/s3dfs/internal/pgtest"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	sqlmeta "github.com/s3dfs/s3dfs/metadata/sql"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runWorker())
	}
	if os.Getenv(readerEnv) != "" {
		os.Exit(runReader())
	}
	if os.Getenv(quotaWorkerEnv) != "" {
		os.Exit(runQuotaWorker())
	}
	os.Exit(pgtest.Wrap(func() int { return s3test.Main(m) }))
}

// metaEnv chooses the metadata backend under the driver's tests: mpk (the
// default), xattr, postgres or sqlite. The tests are the driver's
// contract, so every backend must pass them; the few that exercise mpk's
// files themselves (several processes on one root, coherence of its
// caches, records corrupted on disk) say so and skip elsewhere.
const metaEnv = "S3DFS_TEST_METADATA"

func metaKind() string {
	if k := os.Getenv(metaEnv); k != "" {
		return k
	}
	return "mpk"
}

// env is one store: a metadata root and a blob store.
type env struct {
	root  string
	meta  metadata.Backend
	mpk   *mpk.Backend                      // meta, when it is mpk (nil for the others)
	open  func(testing.TB) metadata.Backend // another backend on the same store
	blobs blobstore.Store
	fs    *decomposedfs.FS
	sid   string
	s3    *s3test.Config // nil for posix
}

type blobKind int

const (
	s3Blobs blobKind = iota
	posixBlobs
)

func (k blobKind) String() string { return [...]string{"s3", "posix"}[k] }

func newEnv(t testing.TB, kind blobKind) *env {
	t.Helper()
	e := &env{root: t.TempDir()}
	var err error
	e.open = backendOpener(t, e.root)
	e.meta = e.open(t)
	e.mpk, _ = e.meta.(*mpk.Backend)
	switch kind {
	case s3Blobs:
		cfg := s3test.New(t)
		e.s3 = &cfg
		if e.blobs, err = openS3(cfg); err != nil {
			t.Fatal(err)
		}
	case posixBlobs:
		if e.blobs, err = posix.New(e.root+"/blobs", posix.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	}
	if e.fs, err = decomposedfs.New(e.meta, e.blobs, decomposedfs.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.fs.Close() })
	si, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{Name: "test", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.sid = si.ID
	return e
}

// needMPK skips a test that works on mpk's files themselves when the run
// is on another backend.
func (e *env) needMPK(t testing.TB, why string) {
	t.Helper()
	if metaKind() != "mpk" {
		t.Skipf("%s: needs metadata/mpk, this run is on %s", why, metaKind())
	}
}

// openChildFS opens the FS of a worker process: mpk at root, content in
// the posix directory blobDir if it is set, else in cfg's S3 bucket.
func openChildFS(root string, cfg s3test.Config, blobDir string) (*decomposedfs.FS, func(), error) {
	meta, err := mpk.New(mpk.DefaultOptions(root))
	if err != nil {
		return nil, nil, err
	}
	var blobs blobstore.Store
	if blobDir != "" {
		blobs, err = posix.New(blobDir, posix.DefaultOptions())
	} else {
		blobs, err = openS3(cfg)
	}
	var fs *decomposedfs.FS
	if err == nil {
		fs, err = decomposedfs.New(meta, blobs, decomposedfs.DefaultOptions())
	}
	if err != nil {
		meta.Close()
		return nil, nil, err
	}
	return fs, func() { fs.Close(); meta.Close() }, nil
}

func openS3(cfg s3test.Config) (*s3.Store, error) {
	o := s3store.Options(cfg)
	o.PartSize = 5 << 20
	return s3.New(context.Background(), o)
}

func (e *env) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: e.sid, Path: p}
}

func (e *env) mkdir(t testing.TB, p string) *decomposedfs.ResourceInfo {
	t.Helper()
	ri, err := e.fs.CreateDir(context.Background(), e.ref(p))
	if err != nil {
		t.Fatalf("mkdir %s: %v", p, err)
	}
	return ri
}

func (e *env) put(t testing.TB, p string, data []byte) *decomposedfs.ResourceInfo {
	t.Helper()
	ri, err := e.fs.Upload(context.Background(), e.ref(p), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("upload %s: %v", p, err)
	}
	return ri
}

func (e *env) stat(t testing.TB, p string) *decomposedfs.ResourceInfo {
	t.Helper()
	ri, err := e.fs.GetMD(context.Background(), e.ref(p))
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return ri
}

func (e *env) get(t testing.TB, p string) []byte {
	t.Helper()
	rc, _, err := e.fs.Download(context.Background(), e.ref(p), 0, -1)
	if err != nil {
		t.Fatalf("download %s: %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("download %s: %v", p, err)
	}
	return b
}

// blobCount counts the blobs in the store.
func (e *env) blobCount(t testing.TB) int {
	t.Helper()
	n := 0
	if err := e.blobs.List(context.Background(), "", func(blobstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// consistent asserts that the store is consistent twice over: by the
// driver's own invariants (fstest) and by s3dfs check (checktest), which
// also sees leftovers no listing shows (unlinked records, orphan blobs,
// temp files, stale sessions).
func (e *env) consistent(t testing.TB) {
	t.Helper()
	fstest.AssertConsistent(t, e.fs)
	checktest.AssertClean(t, e.fs)
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha1hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }

// backendOpener returns a function that opens a backend of the run's kind
// (metaKind) on one store, new and empty at first: every call opens
// another backend on the same store, with caches and connections of its
// own, as another process would. root is the store's directory (mpk,
// xattr, SQLite's file); a PostgreSQL store is a fresh schema.
func backendOpener(t testing.TB, root string) func(testing.TB) metadata.Backend {
	t.Helper()
	open := storeOpener(t, root)
	return func(t testing.TB) metadata.Backend {
		t.Helper()
		meta, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { meta.Close() })
		return meta
	}
}

// storeOpener is backendOpener without the cleanup: the caller closes what
// it opens.
func storeOpener(t testing.TB, root string) func() (metadata.Backend, error) {
	t.Helper()
	var open func() (metadata.Backend, error)
	switch k := metaKind(); k {
	case "mpk", "xattr":
		o := mpk.DefaultOptions(root)
		o.RecordsInXattr = k == "xattr"
		open = func() (metadata.Backend, error) { return mpk.New(o) }
	case "postgres":
		o := sqlmeta.DefaultOptions()
		o.DSN = pgtest.New(t)
		open = func() (metadata.Backend, error) { return sqlmeta.OpenPostgres(context.Background(), o) }
	case "sqlite":
		o := sqlmeta.DefaultOptions()
		o.Path = root + "/meta.db"
		open = func() (metadata.Backend, error) { return sqlmeta.OpenSQLite(context.Background(), o) }
	default:
		t.Fatalf("%s=%q: want mpk, xattr, postgres or sqlite", metaEnv, k)
	}
	return open
}
