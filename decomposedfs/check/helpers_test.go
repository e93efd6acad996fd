package check_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(s3test.Main(m))
}

// env is one store: a metadata root and a blob store, with a space.
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

func newEnv(t testing.TB, kind blobKind) *env {
	t.Helper()
	e := &env{root: t.TempDir()}
	e.open(t, kind)
	si, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{Name: "test", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.sid = si.ID
	return e
}

func (e *env) open(t testing.TB, kind blobKind) {
	t.Helper()
	var err error
	if e.meta, err = mpk.New(mpk.DefaultOptions(e.root)); err != nil {
		t.Fatal(err)
	}
	meta := e.meta
	t.Cleanup(func() { meta.Close() })
	switch kind {
	case s3Blobs:
		if e.s3 == nil {
			cfg := s3test.New(t)
			e.s3 = &cfg
		}
		if e.blobs, err = openS3(*e.s3); err != nil {
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
	fs := e.fs
	t.Cleanup(func() { fs.Close() })
}

// reopen opens the store again with fresh caches, as another process would.
func (e *env) reopen(t testing.TB) {
	t.Helper()
	kind := posixBlobs
	if e.s3 != nil {
		kind = s3Blobs
	}
	e.fs.Close()
	e.meta.Close()
	e.open(t, kind)
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

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
