package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/server"
)

func TestProbesAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "12345")
	e.must(http.StatusOK, req{method: "GET", path: home + "/f"})
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/nope"})
	if got := e.must(http.StatusOK, req{method: "GET", path: "/healthz", user: "-"}); got != "ok\n" {
		t.Errorf("healthz %q", got)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: "/readyz", user: "-"}); got != "ready\n" {
		t.Errorf("readyz %q", got)
	}
	body := e.must(http.StatusOK, req{method: "GET", path: "/metrics", user: "-"})
	for _, want := range []string{
		`s3dfs_http_request_duration_seconds_count{method="PUT",status="201"} 1`,
		`s3dfs_http_request_duration_seconds_count{method="GET",status="404"} 1`,
		`s3dfs_http_requests_in_flight 1`, // this request
		`s3dfs_http_request_body_bytes_total 5`,
		`s3dfs_cache_hit_ratio{cache="records"}`,
		`s3dfs_cache_hits_total{cache="paths"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `method="BREW"`) {
		t.Errorf("unknown methods must not become labels")
	}
	e.must(http.StatusNotFound, req{method: "GET", path: "/nothing/here"})
}

func TestReadyzFailsWithoutVolume(t *testing.T) {
	e := newEnv(t)
	// A blob store that cannot be reached is not ready.
	e.blobs.Store = brokenStore{e.blobs.Store}
	e.must(http.StatusServiceUnavailable, req{method: "GET", path: "/readyz", user: "-"})
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	resp := e.do(req{method: "GET", path: "/healthz", hdr: map[string]string{"X-Request-Id": "abc-123"}})
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("echoed id %q", got)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 200)} {
		resp := e.do(req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"X-Request-Id": bad, "Depth": "0"}})
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); len(got) != 24 {
			t.Errorf("id for %q: %q, want a generated one", bad, got)
		}
	}
	resp = e.do(req{method: "PUT", path: home + "/logged", body: "x", hdr: map[string]string{"X-Request-Id": "trace-me"}})
	resp.Body.Close()
	if !strings.Contains(e.logs.String(), "request_id=trace-me") || !strings.Contains(e.logs.String(), "path=/dav/files/alice/logged") {
		t.Errorf("log lacks the request:\n%s", e.logs.String())
	}
}

// slowBody sends some bytes, then blocks until released.
type slowBody struct {
	first   []byte
	release chan struct{}
	started chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		if len(b.first) == 0 {
			close(b.started)
		}
		return n, nil
	}
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

// On shutdown, an upload that does not finish within the grace period is
// cancelled and leaves nothing behind; Serve returns.
func TestShutdownCancelsUploads(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/existing", "old")
	before := e.snap()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	opts := server.DefaultServeOptions()
	opts.ShutdownGrace = 200 * time.Millisecond
	opts.CancelGrace = 5 * time.Second
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, ln, e.h, opts) }()

	body := &slowBody{first: []byte(strings.Repeat("x", 64<<10)), release: make(chan struct{}), started: make(chan struct{})}
	defer close(body.release)
	hr, _ := http.NewRequest("PUT", "http://"+ln.Addr().String()+home+"/existing", body)
	hr.ContentLength = 1 << 20
	hr.SetBasicAuth(alice, alicePW)
	reqDone := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(hr)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		reqDone <- err
	}()
	<-body.started
	time.Sleep(50 * time.Millisecond)
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	e.sameAs(before, "a cancelled upload")
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/existing"}); got != "old" {
		t.Errorf("existing content %q", got)
	}
}

// Requests that finish within the grace period complete.
func TestShutdownLetsRequestsFinish(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, ln, e.h, server.DefaultServeOptions()) }()
	body := &slowBody{first: []byte("abc"), release: make(chan struct{}), started: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		io.Copy(pw, io.LimitReader(body, 3))
		<-body.release
		pw.Write([]byte("def"))
		pw.Close()
	}()
	hr, _ := http.NewRequest("PUT", "http://"+ln.Addr().String()+home+"/late", pr)
	hr.ContentLength = 6
	hr.SetBasicAuth(alice, alicePW)
	status := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-body.started
	time.Sleep(50 * time.Millisecond)
	stop()
	time.Sleep(50 * time.Millisecond)
	close(body.release)
	if got := <-status; got != http.StatusCreated {
		t.Errorf("upload during shutdown: %d", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/late"}); got != "abcdef" {
		t.Errorf("content %q", got)
	}
}

// fakeTUS is an extension in the place TUS takes.
type fakeTUS struct {
	target *server.Target
}

func (f *fakeTUS) Match(r *http.Request) bool { return r.Header.Get("Tus-Resumable") != "" }
func (f *fakeTUS) Serve(w http.ResponseWriter, r *http.Request, t *server.Target) {
	f.target = t
	w.WriteHeader(http.StatusCreated)
}
func (f *fakeTUS) Advertise(h http.Header) { h.Set("Tus-Version", "1.0.0") }

func TestExtensions(t *testing.T) {
	ext := &fakeTUS{}
	var mounted string
	e := newEnv(t, func(o *server.Options) {
		o.Extensions = []server.Extension{ext}
		o.Mounts = map[string]http.Handler{"/dav/uploads/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mounted = server.UserFromContext(r.Context())
			w.WriteHeader(http.StatusNoContent)
		})}
	})
	e.mkcol(home + "/in")
	e.must(http.StatusCreated, req{method: "POST", path: home + "/in", hdr: map[string]string{"Tus-Resumable": "1.0.0"}})
	if ext.target == nil || ext.target.Path != "/in" || ext.target.User != alice || ext.target.Href("/in/x", false) != home+"/in/x" {
		t.Errorf("extension got %+v", ext.target)
	}
	resp := e.do(req{method: "OPTIONS", path: home + "/in"})
	resp.Body.Close()
	if resp.Header.Get("Tus-Version") != "1.0.0" {
		t.Errorf("OPTIONS does not advertise the extension: %v", resp.Header)
	}
	e.must(http.StatusNoContent, req{method: "PATCH", path: "/dav/uploads/123"})
	if mounted != alice {
		t.Errorf("mount saw user %q", mounted)
	}
	e.must(http.StatusUnauthorized, req{method: "PATCH", path: "/dav/uploads/123", user: "-"})
	// Without the header, POST is still not WebDAV.
	e.must(http.StatusMethodNotAllowed, req{method: "POST", path: home + "/in"})
}
