package main

// In-process Go benchmarks of the s3dfs WebDAV handler on a real S3 server,
// for profiling the paths that the harness (main.go) measures end to end:
//
//	scripts/with-s3.sh go test ./bench/webdav -run '^$' -bench . -cpuprofile cpu.out
//
// The stack is wired as `s3dfs serve` wires it (mpk metadata on a temp
// root, the S3 blob store, decomposedfs and server defaults), behind an
// httptest server, so that a profile shows the server's own costs. The
// figures are not comparable with the harness's: no process boundary, and
// the benchmark's client shares the CPUs with the server.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"golang.org/x/crypto/bcrypt"

	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/auth"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// stack is an in-process s3dfs server.
type stack struct {
	b      *testing.B
	root   string
	cfg    s3test.Config
	srv    *httptest.Server
	client *http.Client
	close  func()
	base   string // URL of the user's space, ending in "/"
}

const ipUser, ipPass = "bench", "bench-password"

// newStack opens the stores on root (a fresh one if root is "") and
// serves them. Opening it again on the same root is a cold start: new
// caches, nothing read yet.
func newStack(b *testing.B, cfg s3test.Config, root string) *stack {
	b.Helper()
	if root == "" {
		root = b.TempDir()
		err := auth.NewFile(filepath.Join(root, "users.json")).Update(func(u *auth.Users) error {
			return u.Add(ipUser, ipPass, bcrypt.MinCost)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	meta, err := mpk.New(mpk.DefaultOptions(root))
	if err != nil {
		b.Fatal(err)
	}
	so := s3.DefaultOptions()
	so.Endpoint, so.Bucket, so.Region = cfg.Endpoint, cfg.Bucket, cfg.Region
	so.AccessKey, so.SecretKey = cfg.AccessKey, cfg.SecretKey
	blobs, err := s3.New(ctx, so)
	if err != nil {
		b.Fatal(err)
	}
	fo := decomposedfs.DefaultOptions()
	fo.Logger = slog.New(slog.DiscardHandler)
	fsys, err := decomposedfs.New(meta, blobs, fo)
	if err != nil {
		b.Fatal(err)
	}
	authn, err := auth.NewAuthenticator(filepath.Join(root, "users.json"), auth.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	o := server.DefaultOptions()
	o.Auth = authn
	o.Logger = fo.Logger
	h, err := server.New(fsys, o)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	s := &stack{b: b, root: root, cfg: cfg, srv: srv, client: newHTTPClient(), base: srv.URL + "/dav/files/" + ipUser + "/"}
	var once sync.Once
	s.close = func() {
		once.Do(func() {
			srv.Close()
			fsys.Close()
			meta.Close()
		})
	}
	b.Cleanup(s.close)
	s.must("OPTIONS", "", nil, nil, http.StatusOK, http.StatusNoContent) // login, personal space
	return s
}

// must sends a request and fails the benchmark unless it gets one of the
// statuses. The body is read and dropped, as a client that streams it
// would.
func (s *stack) must(method, path string, body []byte, hdr map[string]string, want ...int) {
	s.b.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.b.Fatal(err)
	}
	req.SetBasicAuth(ipUser, ipPass)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.b.Fatal(err)
	}
	defer resp.Body.Close()
	if slices.Contains(want, resp.StatusCode) {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			s.b.Fatal(err)
		}
		return
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	s.b.Fatalf("%s %s: status %d, want %v: %s", method, path, resp.StatusCode, want, msg)
}

func (s *stack) fill(dir string, n int) {
	s.must("MKCOL", dir+"/", nil, nil, http.StatusCreated)
	for i := 1; i <= n; i++ {
		s.must("PUT", dir+"/"+fileName(i), smallFile(i), nil, http.StatusCreated)
	}
}

var propfindHdr = map[string]string{"Depth": "1", "Content-Type": "application/xml"}

func BenchmarkPropfind1000Hot(b *testing.B) {
	s := newStack(b, s3test.New(b), "")
	s.fill(dirPropfind, 1000)
	s.must("PROPFIND", dirPropfind+"/", []byte(propfindBody), propfindHdr, http.StatusMultiStatus)
	for b.Loop() {
		s.must("PROPFIND", dirPropfind+"/", []byte(propfindBody), propfindHdr, http.StatusMultiStatus)
	}
}

// BenchmarkPropfind1000Cold opens the stores afresh for every PROPFIND;
// the opening itself and the login are not timed.
func BenchmarkPropfind1000Cold(b *testing.B) {
	cfg := s3test.New(b)
	first := newStack(b, cfg, "")
	first.fill(dirPropfind, 1000)
	first.close()
	for b.Loop() {
		b.StopTimer()
		s := newStack(b, cfg, first.root)
		b.StartTimer()
		s.must("PROPFIND", dirPropfind+"/", []byte(propfindBody), propfindHdr, http.StatusMultiStatus)
		b.StopTimer()
		s.close()
		b.StartTimer()
	}
}

func BenchmarkMove1000(b *testing.B) {
	s := newStack(b, s3test.New(b), "")
	s.fill(dirMoveA, 1000)
	src, dst := dirMoveA, dirMoveB
	for b.Loop() {
		s.must("MOVE", src+"/", nil, map[string]string{"Destination": s.base + dst + "/"}, http.StatusCreated)
		src, dst = dst, src
	}
}

func benchPutGet(b *testing.B, size int, get bool) {
	s := newStack(b, s3test.New(b), "")
	s.must("MKCOL", "d/", nil, nil, http.StatusCreated)
	data := randomBytes(size)
	b.SetBytes(int64(size))
	i := 0
	if get {
		s.must("PUT", "d/f", data, nil, http.StatusCreated)
	}
	for b.Loop() {
		if get {
			s.must("GET", "d/f", nil, nil, http.StatusOK)
			continue
		}
		i++
		s.must("PUT", fmt.Sprintf("d/f%d", i), data, nil, http.StatusCreated)
	}
}

func BenchmarkPut4K(b *testing.B)  { benchPutGet(b, 4<<10, false) }
func BenchmarkGet4K(b *testing.B)  { benchPutGet(b, 4<<10, true) }
func BenchmarkPut64M(b *testing.B) { benchPutGet(b, 64<<20, false) }
func BenchmarkGet64M(b *testing.B) { benchPutGet(b, 64<<20, true) }

// The raw minio-go baselines, in the same process, same S3 server.
func benchRaw(b *testing.B, size int, get bool) {
	cfg := s3test.New(b)
	mc, err := cfg.Client()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := randomBytes(size)
	b.SetBytes(int64(size))
	put := func(key string) {
		if _, err := mc.PutObject(ctx, cfg.Bucket, key, bytes.NewReader(data), int64(size), minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if get {
		put("f")
	}
	i := 0
	for b.Loop() {
		if !get {
			i++
			put(fmt.Sprintf("f%d", i))
			continue
		}
		obj, err := mc.GetObject(ctx, cfg.Bucket, "f", minio.GetObjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, obj); err != nil {
			b.Fatal(err)
		}
		obj.Close()
	}
}

func BenchmarkRawPut4K(b *testing.B)  { benchRaw(b, 4<<10, false) }
func BenchmarkRawGet4K(b *testing.B)  { benchRaw(b, 4<<10, true) }
func BenchmarkRawPut64M(b *testing.B) { benchRaw(b, 64<<20, false) }
func BenchmarkRawGet64M(b *testing.B) { benchRaw(b, 64<<20, true) }
