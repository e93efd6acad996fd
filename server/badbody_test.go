package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
	"github.com/s3dfs/s3dfs/server"
)

// raw sends a request as written, as alice, closes its side of the
// connection (so that the server sees the body end where the bytes end)
// and returns the status and body of the answer.
func (e *env) raw(method, path string, headers []string, body string) (int, string) {
	e.t.Helper()
	st, msg, _ := e.rawConn(method, path, headers, body, true)
	return st, msg
}

// rawConn is raw that can leave the connection open after the bytes
// (closeWrite false: the server waits for more) and also returns the
// answer's headers; the server's "Connection: close" is in them even
// though net/http takes it out. A server that does not answer within a minute fails
// the test.
func (e *env) rawConn(method, path string, headers []string, body string, closeWrite bool) (int, string, http.Header) {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\n", method, path)
	b.WriteString("Authorization: Basic " + basicAuth(alice, alicePW) + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		e.t.Fatal(err)
	}
	if closeWrite {
		conn.(*net.TCPConn).CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("%s %s: no answer: %v", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.Close {
		resp.Header.Set("Connection", "close")
	}
	return resp.StatusCode, string(msg), resp.Header
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestBrokenPutBodies: a PUT body that ends before its Content-Length,
// or whose chunked encoding is broken, is the client's fault: 400, no new
// file, the old content intact, no blob left. On posix and on S3 alike. A
// Content-Length larger than any blob store holds is refused too (413 on
// S3, which can tell at once; 400 on posix, when the body ends short).
func TestBrokenPutBodies(t *testing.T) {
	t.Run("posix", func(t *testing.T) {
		e := newEnv(t)
		testBrokenPutBodies(t, e, e.blobFiles)
	})
	t.Run("s3", func(t *testing.T) {
		cfg := s3test.New(t)
		store, err := s3.New(context.Background(), s3store.Options(cfg))
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvOn(t, t.TempDir(), store, "")
		testBrokenPutBodies(t, e, func() int {
			n := 0
			if err := store.List(context.Background(), "", func(blobstore.Info) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			return n
		})
	})
}

func testBrokenPutBodies(t *testing.T, e *env, blobs func() int) {
	e.put(home+"/old.txt", "the old content")
	before, nblobs := e.snap(), blobs()
	for _, tc := range []struct {
		name    string
		headers []string
		body    string
		want    []int
	}{
		{"short body", []string{"Content-Length: 100"}, "only 12 byte", []int{400}},
		{"empty body", []string{"Content-Length: 10"}, "", []int{400}},
		{"bad chunk size", []string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n", []int{400}},
		{"chunk cut short", []string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n10\r\nabc", []int{400}},
		{"no last chunk", []string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n", []int{400}},
		{"chunk without CRLF", []string{"Transfer-Encoding: chunked"}, "5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n", []int{400}},
		{"largest Content-Length", []string{"Content-Length: 9223372036854775807"}, "tiny", []int{400, 413}},
	} {
		for _, p := range []string{home + "/new.txt", home + "/old.txt"} {
			st, msg := e.raw("PUT", p, tc.headers, tc.body)
			if !contains(tc.want, st) {
				t.Errorf("%s, PUT %s: %d, want %v\n%s", tc.name, p, st, tc.want, msg)
			}
		}
	}
	e.sameAs(before, "the broken PUTs")
	if n := blobs(); n != nblobs {
		t.Errorf("%d blobs after the broken PUTs, %d before", n, nblobs)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/old.txt"}); got != "the old content" {
		t.Errorf("old.txt reads %q", got)
	}
}

// TestStalledBodies: a client that stops sending its body in the middle
// gets 408 once Options.BodyIdleTimeout passes without a byte, and its
// connection closed; nothing is stored and the old content is intact.
func TestStalledBodies(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.BodyIdleTimeout = 300 * time.Millisecond })
	e.put(home+"/old.txt", "the old content")
	before := e.snap()
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		body               string
	}{
		{"PUT new", "PUT", home + "/new.txt", []string{"Content-Length: 100"}, "12 bytes and"},
		{"PUT over", "PUT", home + "/old.txt", []string{"Content-Length: 100"}, "12 bytes and"},
		{"PUT chunked", "PUT", home + "/old.txt", []string{"Transfer-Encoding: chunked"}, "5\r\nhello\r\n"},
		{"PUT, nothing sent", "PUT", home + "/old.txt", []string{"Content-Length: 100"}, ""},
		{"PROPPATCH", "PROPPATCH", home + "/old.txt", []string{"Content-Length: 500"}, `<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:a">`},
		{"LOCK", "LOCK", home + "/old.txt", []string{"Content-Length: 500"}, `<lockinfo xmlns="DAV:">`},
	} {
		st, msg, hd := e.rawConn(tc.method, tc.path, tc.headers, strings.ReplaceAll(tc.body, `\r\n`, "\r\n"), false)
		if st != http.StatusRequestTimeout || hd.Get("Connection") != "close" {
			t.Errorf("%s: %d (Connection %q), want 408 and the connection closed\n%s", tc.name, st, hd.Get("Connection"), msg)
		}
	}
	e.sameAs(before, "the stalled requests")
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/old.txt"}); got != "the old content" {
		t.Errorf("old.txt reads %q", got)
	}
	if props := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/old.txt", hdr: map[string]string{"Depth": "0"}}); strings.Contains(props, "urn:a") || strings.Contains(props, "activelock") {
		t.Errorf("a stalled request changed the properties or locks:\n%s", props)
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestUnreadBodyNotDrained: a request answered before its body was read
// (401 without credentials, 405 for a PUT on a folder, 415 for MKCOL with
// a body) gets "Connection: close", and the server closes the connection
// at once, instead of waiting, without any time limit, for the rest of a
// body that a client may trickle for ever.
func TestUnreadBodyNotDrained(t *testing.T) {
	e := newEnv(t) // the default body idle timeout, a minute: not what ends these
	e.mkcol(home + "/folder")
	for _, tc := range []struct {
		name, method, path string
		auth               bool
		want               int
	}{
		{"no credentials", "PUT", home + "/f", false, http.StatusUnauthorized},
		{"PUT on a folder", "PUT", home + "/folder", true, http.StatusMethodNotAllowed},
		{"MKCOL with a body", "MKCOL", home + "/new", true, http.StatusUnsupportedMediaType},
	} {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n", tc.method, tc.path)
		if tc.auth {
			b.WriteString("Authorization: Basic " + basicAuth(alice, alicePW) + "\r\n")
		}
		b.WriteString("\r\nthe first bytes of a body that never ends")
		io.WriteString(conn, b.String())
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", tc.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !resp.Close {
			t.Errorf("%s: %d (close %v), want %d and Connection: close", tc.name, resp.StatusCode, resp.Close, tc.want)
		}
		start := time.Now()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: the connection stayed open after the answer (%v after %v)", tc.name, err, time.Since(start).Round(time.Millisecond))
		}
		conn.Close()
	}
}

// TestStalledTUSPatch: a TUS PATCH whose body stalls ends after the idle
// timeout too, with its connection closed; as TUS wants, what arrived is
// kept, and the client resumes from HEAD's offset to an exact file.
func TestStalledTUSPatch(t *testing.T) {
	var uploads http.Handler
	e := newEnv(t, func(o *server.Options) {
		o.BodyIdleTimeout = 300 * time.Millisecond
		o.Mounts = map[string]http.Handler{"/dav/uploads/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uploads.ServeHTTP(w, r)
		})}
	})
	uploads = tusOn(t, e, e.blobDir)
	e.mkcol(home + "/d") // alice's space exists from her first login
	data := bytes.Repeat([]byte("0123456789"), 300)
	up := tusCreate(t, e, len(data), "stalled.bin")
	u, _ := url.Parse(up)
	st, msg, hd := e.rawConn("PATCH", u.Path, []string{"Tus-Resumable: 1.0.0", "Content-Type: application/offset+octet-stream",
		"Upload-Offset: 0", "Content-Length: 3000"}, string(data[:1000]), false)
	if hd.Get("Connection") != "close" || st < 400 {
		t.Errorf("stalled PATCH: %d (Connection %q) %q, want an error and the connection closed", st, hd.Get("Connection"), msg)
	}
	off, _ := strconv.Atoi(tusHead(t, e, up).Header.Get("Upload-Offset"))
	if off < 0 || off > 1000 {
		t.Fatalf("offset %d after 1000 bytes and a stall", off)
	}
	if r := tusPatch(t, e, up, off, data[off:]); r.StatusCode != http.StatusNoContent {
		t.Fatalf("resume at %d: %d", off, r.StatusCode)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/stalled.bin"}); got != string(data) {
		t.Errorf("the resumed upload reads %d bytes", len(got))
	}
	t.Logf("stalled PATCH answered %d %q; %d bytes kept", st, strings.TrimSpace(msg), off)
}
