package tus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/decomposedfs/fstest"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/server/tus"
)

// serverEnv selects the server mode of the test binary: the restart tests
// run it as a separate upload server on the same stores.
const serverEnv = "S3DFS_TUS_TEST_SERVER"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(serverEnv); cfg != "" {
		os.Exit(runServer(cfg))
	}
	os.Exit(s3test.Main(m))
}

const basePath = "/dav/uploads/"

// stores names the shared stores: a metadata root and a blob store.
type stores struct {
	Root string
	S3   *s3test.Config // nil: posix blobs under Root/blobs
}

// instance is one process's view of the stores: its own metadata backend,
// blob store client and FS, as a separate server process has.
type instance struct {
	meta  *mpk.Backend
	blobs blobstore.Store
	fs    *decomposedfs.FS
}

func (st stores) open() (*instance, error) {
	meta, err := mpk.New(mpk.DefaultOptions(st.Root))
	if err != nil {
		return nil, err
	}
	in := &instance{meta: meta}
	if st.S3 != nil {
		in.blobs, err = s3.New(context.Background(), s3store.Options(*st.S3))
	} else {
		in.blobs, err = posix.New(st.Root+"/blobs", posix.DefaultOptions())
	}
	if err == nil {
		in.fs, err = decomposedfs.New(meta, in.blobs, decomposedfs.DefaultOptions())
	}
	if err != nil {
		meta.Close()
		return nil, err
	}
	return in, nil
}

func (in *instance) close() {
	in.fs.Close()
	in.meta.Close()
}

// env is a test's stores with alice's and bob's personal spaces.
type env struct {
	stores
	*instance
	alice, bob string // personal space ids
}

type blobKind string

const (
	posixBlobs blobKind = "posix"
	s3Blobs    blobKind = "s3"
)

func newEnv(t testing.TB, kind blobKind) *env {
	t.Helper()
	e := &env{stores: stores{Root: t.TempDir()}}
	if kind == s3Blobs {
		cfg := s3test.New(t)
		e.S3 = &cfg
	}
	var err error
	if e.instance, err = e.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.instance.close)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		si, err := e.fs.CreateSpace(ctx, decomposedfs.SpaceSpec{ID: decomposedfs.PersonalSpaceID(u), Type: metadata.SpacePersonal, Owner: u})
		if err != nil {
			t.Fatal(err)
		}
		if u == "alice" {
			e.alice = si.ID
		} else {
			e.bob = si.ID
		}
	}
	return e
}

// forEachStore runs a test on the posix and on the S3 blob store.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, k := range []blobKind{posixBlobs, s3Blobs} {
		t.Run(string(k), func(t *testing.T) { fn(t, newEnv(t, k)) })
	}
}

func (e *env) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: e.alice, Path: p}
}

// serve starts a handler on the env's FS behind the test router.
func (e *env) serve(t testing.TB, opts tus.Options) (*tus.Handler, *httptest.Server) {
	t.Helper()
	return serveFS(t, e.fs, opts)
}

func serveFS(t testing.TB, fs *decomposedfs.FS, opts tus.Options) (*tus.Handler, *httptest.Server) {
	t.Helper()
	if opts.BasePath == "" {
		opts.BasePath = basePath
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	h, err := tus.New(fs, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(router(h))
	t.Cleanup(srv.Close)
	return h, srv
}

// testWriter sends a handler's log to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// router stands in for the server package: it authenticates (the user is
// whatever X-Test-User says) and hands the handler a folder for
// ownCloud-style creation on a folder URL, /files/{space id}/{path}.
func router(h *tus.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var folder decomposedfs.Reference
		if rest, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
			if !h.Match(r) {
				http.Error(w, "not a TUS creation", http.StatusMethodNotAllowed)
				return
			}
			sid, p, _ := strings.Cut(rest, "/")
			folder = decomposedfs.Reference{SpaceID: sid, Path: "/" + p}
		}
		h.ServeHTTP(w, r.WithContext(tus.WithTarget(r.Context(), r.Header.Get("X-Test-User"), folder)))
	})
}

// consistent asserts the store is consistent, by the driver's invariants
// and by s3dfs check.
func (e *env) consistent(t testing.TB) {
	t.Helper()
	fstest.AssertConsistent(t, e.fs)
	checktest.AssertClean(t, e.fs)
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

// The server process.

// runServer is the body of a server process: the stores named by cfg, a
// handler behind the test router on a free loopback port, whose address
// goes to stdout. It serves until stdin closes, then shuts down cleanly.
func runServer(cfg string) int {
	var st stores
	if err := json.Unmarshal([]byte(cfg), &st); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	in, err := st.open()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer in.close()
	h, err := tus.New(in.fs, tus.Options{BasePath: basePath})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := &http.Server{Handler: router(h), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// serverProc is a server process started by a test.
type serverProc struct {
	URL    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr strings.Builder
	done   chan error
}

// startServer runs the test binary as an upload server on st.
func startServer(t testing.TB, st stores) *serverProc {
	t.Helper()
	cfg, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProc{done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), serverEnv+"="+string(cfg))
	p.cmd.Stderr = &p.stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	select {
	case a := <-addr:
		if a == "" {
			p.kill()
			t.Fatalf("server process did not start:\n%s", p.stderr.String())
		}
		p.URL = "http://" + a
	case <-time.After(time.Minute):
		p.kill()
		t.Fatalf("server process did not start within a minute:\n%s", p.stderr.String())
	}
	return p
}

// stop shuts the server down as an operator would, and waits for it.
func (p *serverProc) stop(t testing.TB) {
	t.Helper()
	p.stdin.Close()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("server process: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(time.Minute):
		p.kill()
		t.Fatalf("server process did not stop within a minute:\n%s", p.stderr.String())
	}
}

// kill ends the server process with SIGKILL, as a crash would, and waits
// for it.
func (p *serverProc) kill() {
	select {
	case err := <-p.done: // exited already
		p.done <- err
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, err)
	}
}
