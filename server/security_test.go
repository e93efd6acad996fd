package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/auth"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	var token string
	err := auth.NewFile(e.users).Update(func(u *auth.Users) error {
		var err error
		token, err = u.NewToken(alice, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the authenticator looks at the file once a second
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"no credentials", req{method: "PROPFIND", path: home + "/", user: "-"}, http.StatusUnauthorized},
		{"wrong password", req{method: "PROPFIND", path: home + "/", user: alice, pass: "wrong"}, http.StatusUnauthorized},
		{"unknown user", req{method: "PROPFIND", path: home + "/", user: "mallory", pass: "x"}, http.StatusUnauthorized},
		{"another user's password", req{method: "PROPFIND", path: home + "/", user: alice, pass: bobPW}, http.StatusUnauthorized},
		{"bearer token", req{method: "PROPFIND", path: home + "/", user: "-", hdr: map[string]string{"Authorization": "Bearer " + token, "Depth": "0"}}, http.StatusMultiStatus},
		{"token as basic password", req{method: "PROPFIND", path: home + "/", user: alice, pass: token, hdr: map[string]string{"Depth": "0"}}, http.StatusMultiStatus},
		{"token of another user", req{method: "PROPFIND", path: home + "/", user: bob, pass: token}, http.StatusUnauthorized},
		{"wrong bearer", req{method: "PROPFIND", path: home + "/", user: "-", hdr: map[string]string{"Authorization": "Bearer s3dfs_nope"}}, http.StatusUnauthorized},
		{"unknown scheme", req{method: "PROPFIND", path: home + "/", user: "-", hdr: map[string]string{"Authorization": "Digest x"}}, http.StatusUnauthorized},
		{"anonymous GET", req{method: "GET", path: home + "/", user: "-"}, http.StatusUnauthorized},
		{"health needs none", req{method: "GET", path: "/healthz", user: "-"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.r)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), "Basic realm=") {
				t.Errorf("401 without WWW-Authenticate: %v", resp.Header)
			}
		})
	}
}

// Another user's spaces answer exactly like spaces that do not exist.
func TestSpacesOfOthersAreInvisible(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, req{method: "PUT", path: "/dav/files/bob/secret", body: "bob's", user: bob, pass: bobPW})
	bobSpace := decomposedfs.PersonalSpaceID(bob)
	proj, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{Name: "bob's project", Owner: bob})
	if err != nil {
		t.Fatal(err)
	}
	e.put(home+"/mine", "x")
	before := e.snap()
	missing := "/dav/spaces/00000000-0000-4000-8000-000000000000/secret"
	_, wantBody := e.status(req{method: "GET", path: missing})
	for _, method := range []string{"GET", "HEAD", "PROPFIND", "PUT", "DELETE", "MKCOL", "PROPPATCH", "LOCK", "MOVE", "COPY", "OPTIONS"} {
		for _, p := range []string{
			"/dav/files/bob/secret", "/remote.php/dav/files/bob/secret",
			"/dav/spaces/" + bobSpace + "/secret", "/remote.php/dav/spaces/" + bobSpace + "/secret",
			"/dav/spaces/" + proj.ID + "/", missing, "/dav/spaces/not-a-uuid/x",
		} {
			hdr := map[string]string{"Destination": home + "/taken"}
			got, body := e.status(req{method: method, path: p, body: "x", hdr: hdr})
			if got != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", method, p, got)
			}
			if method != "HEAD" && body != wantBody {
				t.Errorf("%s %s: body %q differs from a missing space's %q", method, p, body, wantBody)
			}
		}
	}
	e.sameAs(before, "requests to bob's spaces")
	if got := e.must(http.StatusOK, req{method: "GET", path: "/dav/files/bob/secret", user: bob, pass: bobPW}); got != "bob's" {
		t.Errorf("bob's file: %q", got)
	}
}

func TestAnonymous(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.AllowAnonymous = true })
	e.put(home+"/pub", "public")
	space := "/dav/spaces/" + aliceSpace
	if got := e.must(http.StatusOK, req{method: "GET", path: space + "/pub", user: "-"}); got != "public" {
		t.Errorf("anonymous GET: %q", got)
	}
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: space + "/", user: "-", hdr: map[string]string{"Depth": "1"}})
	// The personal-space routes name a user, and need one, as documented.
	for _, p := range []string{home + "/pub", home + "/", "/remote.php/dav/files/alice/pub", "/dav/files/nobody/pub"} {
		for _, m := range []string{"GET", "HEAD", "PROPFIND", "OPTIONS"} {
			resp := e.do(req{method: m, path: p, user: "-"})
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("anonymous %s %s: %d (WWW-Authenticate %q), want 401 with a Basic challenge", m, p, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	before := e.snap()
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "PROPPATCH", "LOCK", "MOVE", "COPY"} {
		e.must(http.StatusUnauthorized, req{method: m, path: home + "/pub2", user: "-", body: "x", hdr: map[string]string{"Destination": home + "/x"}})
	}
	e.sameAs(before, "anonymous writes")
	// Wrong credentials are still wrong.
	e.must(http.StatusUnauthorized, req{method: "GET", path: home + "/pub", user: alice, pass: "wrong"})
	// A personal space without a user to map it to.
	e.must(http.StatusUnauthorized, req{method: "GET", path: "/remote.php/webdav/pub", user: "-"})
}

func TestPathTraversal(t *testing.T) {
	e := newEnv(t)
	e.mkcol(home + "/d")
	e.put(home+"/d/f", "x")
	e.must(http.StatusCreated, req{method: "PUT", path: "/dav/files/bob/secret", body: "bob's", user: bob, pass: bobPW})
	before := e.snap()
	for _, p := range []string{
		home + "/../bob/secret",
		home + "/d/../../bob/secret",
		home + "/%2e%2e/bob/secret",
		home + "/%2E%2E/%2E%2E/dav/files/bob/secret",
		home + "/d%2f..%2f..%2fbob",
		home + "/d%2Ff",
		home + "/..%5c..%5cbob",
		home + "/d%5cf",
		home + "/d/f%00.txt",
		home + "/./d/f",
		home + "/%2e/d/f",
		home + "/d/%ff%fe",
	} {
		for _, m := range []string{"GET", "PUT", "MKCOL", "PROPFIND", "DELETE"} {
			got, body := e.status(req{method: m, path: p, body: "evil"})
			if got != http.StatusBadRequest {
				t.Errorf("%s %s: %d, want 400\n%s", m, p, got, body)
			}
			if strings.Contains(body, "bob's") {
				t.Errorf("%s %s leaked bob's file", m, p)
			}
		}
	}
	// An escape that does not decode never reaches the handler: the Go
	// server refuses the request line.
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s/bad%%zzescape HTTP/1.1\r\nHost: x\r\n\r\n", home)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad escape: %v %v", resp, err)
	}
	e.sameAs(before, "traversal attempts")
}

func TestRequestLimits(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxXMLBody = 4096 })
	e.put(home+"/f", "x")
	before := e.snap()
	big := `<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:a">` + strings.Repeat("x", 5000) + `</a></prop></set></propertyupdate>`
	e.must(http.StatusRequestEntityTooLarge, req{method: "PROPPATCH", path: home + "/f", body: big})
	e.must(http.StatusRequestEntityTooLarge, req{method: "PROPFIND", path: home + "/f", body: "<propfind xmlns='DAV:'><allprop/></propfind>" + strings.Repeat(" ", 5000)})
	e.must(http.StatusRequestEntityTooLarge, req{method: "LOCK", path: home + "/f", body: strings.Repeat(" ", 5000) + lockinfo("exclusive")})
	// Without a Content-Length the limit holds as well.
	r := httptestRequest("PROPPATCH", home+"/f", strings.NewReader(big))
	r.ContentLength = -1
	w := newRecorder()
	e.h.ServeHTTP(w, r)
	if w.code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized body: %d", w.code)
	}
	// Headers: the handler's own limit and the server's.
	for _, size := range []int{66 << 10, 200 << 10} {
		got, _ := e.status(req{method: "GET", path: home + "/f", hdr: map[string]string{"X-Big": strings.Repeat("a", size)}})
		if got != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%d-byte header: %d, want 431", size, got)
		}
	}
	e.sameAs(before, "oversized requests")
	// Many malformed bodies, none stored.
	for _, body := range []string{"<", "<a></b>", "<propertyupdate xmlns='DAV:'>", "not xml at all", "<a/><b/>", "\x00\x01"} {
		e.must(http.StatusBadRequest, req{method: "PROPPATCH", path: home + "/f", body: body})
		e.must(http.StatusBadRequest, req{method: "LOCK", path: home + "/f", body: body})
	}
	e.sameAs(before, "malformed bodies")
}
