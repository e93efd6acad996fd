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
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata/mpk"
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
	os.Exit(s3test.Main(m))
}

// env is one store: a metadata root and a blob store.
type env struct {
	root  string
	meta  *mpk.Backend
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
	if e.meta, err = mpk.New(mpk.DefaultOptions(e.root)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.meta.Close() })
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

func openS3(cfg s3test.Config) (*s3.Store, error) {
	o := s3.DefaultOptions()
	o.Endpoint, o.Bucket, o.AccessKey, o.SecretKey, o.Region, o.UseTLS = cfg.Endpoint, cfg.Bucket, cfg.AccessKey, cfg.SecretKey, cfg.Region, cfg.UseTLS
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

func openMeta(t testing.TB, root string) *mpk.Backend {
	t.Helper()
	meta, err := mpk.New(mpk.DefaultOptions(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	return meta
}
