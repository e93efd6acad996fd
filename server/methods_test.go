package server_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

const home = "/dav/files/alice"

func TestOptions(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "x")
	e.mkcol(home + "/d")
	for _, tc := range []struct {
		path      string
		allow     string
		forbidden string
	}{
		{home + "/f", "PUT", "MKCOL"},
		{home + "/d/", "PROPFIND", "PUT"},
		{home + "/missing", "MKCOL", "DELETE"},
	} {
		resp := e.do(req{method: "OPTIONS", path: tc.path})
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("OPTIONS %s: %d", tc.path, resp.StatusCode)
		}
		if got := resp.Header.Get("DAV"); got != "1, 2, 3" {
			t.Errorf("OPTIONS %s: DAV %q", tc.path, got)
		}
		allow := resp.Header.Get("Allow")
		if !strings.Contains(allow, tc.allow) || strings.Contains(allow, tc.forbidden) {
			t.Errorf("OPTIONS %s: Allow %q, want %s and not %s", tc.path, allow, tc.allow, tc.forbidden)
		}
	}
}

func TestMkcol(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/file", "x")
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"new", req{method: "MKCOL", path: home + "/a"}, http.StatusCreated},
		{"exists", req{method: "MKCOL", path: home + "/a"}, http.StatusMethodNotAllowed},
		{"over a file", req{method: "MKCOL", path: home + "/file"}, http.StatusMethodNotAllowed},
		{"missing parent", req{method: "MKCOL", path: home + "/x/y"}, http.StatusConflict},
		{"below a file", req{method: "MKCOL", path: home + "/file/y"}, http.StatusConflict},
		{"with a body", req{method: "MKCOL", path: home + "/b", body: "<x/>", hdr: map[string]string{"Content-Type": "text/xml"}}, http.StatusUnsupportedMediaType},
		{"space root", req{method: "MKCOL", path: home + "/"}, http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snap()
			got, body := e.status(tc.r)
			if got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
			if tc.want != http.StatusCreated {
				e.sameAs(before, tc.name)
			}
		})
	}
	if got := e.names("/"); strings.Join(got, ",") != "a,file" {
		t.Errorf("root holds %v", got)
	}
}

func TestPut(t *testing.T) {
	e := newEnv(t)
	e.mkcol(home + "/dir")
	content := "hello, world\n"
	sum := sha1.Sum([]byte(content))
	sha := hex.EncodeToString(sum[:])

	resp := e.do(req{method: "PUT", path: home + "/f.txt", body: content, hdr: map[string]string{"X-OC-Mtime": "1700000000", "OC-Checksum": "SHA1:" + sha}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT new: %d", resp.StatusCode)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("OC-ETag") != etag || resp.Header.Get("OC-FileId") == "" || resp.Header.Get("X-OC-MTime") != "accepted" {
		t.Errorf("PUT headers: %v", resp.Header)
	}
	ri, err := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if !ri.Mtime.Equal(time.Unix(1700000000, 0)) || ri.Size != int64(len(content)) || ri.Checksums.SHA1 != sha {
		t.Errorf("stored %+v", ri)
	}

	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"overwrite", req{method: "PUT", path: home + "/f.txt", body: "new"}, http.StatusNoContent},
		{"if-match wrong", req{method: "PUT", path: home + "/f.txt", body: "x", hdr: map[string]string{"If-Match": `"nope"`}}, http.StatusPreconditionFailed},
		{"if-match on missing", req{method: "PUT", path: home + "/none", body: "x", hdr: map[string]string{"If-Match": "*"}}, http.StatusPreconditionFailed},
		{"if-none-match * on existing", req{method: "PUT", path: home + "/f.txt", body: "x", hdr: map[string]string{"If-None-Match": "*"}}, http.StatusPreconditionFailed},
		{"if-none-match * on new", req{method: "PUT", path: home + "/g.txt", body: "x", hdr: map[string]string{"If-None-Match": "*"}}, http.StatusCreated},
		{"checksum mismatch", req{method: "PUT", path: home + "/h.txt", body: "x", hdr: map[string]string{"OC-Checksum": "SHA1:" + sha}}, http.StatusBadRequest},
		{"checksum malformed", req{method: "PUT", path: home + "/h.txt", body: "x", hdr: map[string]string{"OC-Checksum": "CRC9:zz"}}, http.StatusBadRequest},
		{"mtime malformed", req{method: "PUT", path: home + "/h.txt", body: "x", hdr: map[string]string{"X-OC-Mtime": "yesterday"}}, http.StatusBadRequest},
		{"on a collection", req{method: "PUT", path: home + "/dir", body: "x"}, http.StatusMethodNotAllowed},
		{"on the root", req{method: "PUT", path: home + "/", body: "x"}, http.StatusMethodNotAllowed},
		{"missing parent", req{method: "PUT", path: home + "/no/such", body: "x"}, http.StatusConflict},
		{"below a file", req{method: "PUT", path: home + "/f.txt/x", body: "x"}, http.StatusConflict},
		{"content-range", req{method: "PUT", path: home + "/h.txt", body: "x", hdr: map[string]string{"Content-Range": "bytes 0-0/2"}}, http.StatusBadRequest},
		{"content-encoding", req{method: "PUT", path: home + "/h.txt", body: "x", hdr: map[string]string{"Content-Encoding": "gzip"}}, http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snap()
			got, body := e.status(tc.r)
			if got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
			if got >= 400 {
				e.sameAs(before, tc.name)
			}
		})
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f.txt"}); got != "new" {
		t.Errorf("after overwrite: %q", got)
	}
}

func TestPutChunkedAndEmpty(t *testing.T) {
	e := newEnv(t)
	// Unknown length (chunked transfer encoding).
	hr, _ := http.NewRequest("PUT", e.srv.URL+home+"/chunked", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
	hr.SetBasicAuth(alice, alicePW)
	hr.ContentLength = -1
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("chunked PUT: %d", resp.StatusCode)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/chunked"}); got != "abcdef" {
		t.Errorf("chunked content %q", got)
	}
	e.must(http.StatusCreated, req{method: "PUT", path: home + "/empty"})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/empty"}); got != "" {
		t.Errorf("empty content %q", got)
	}
}

// A body longer than its Content-Length cannot reach a server over HTTP/1.1
// (the rest is the next request), so the handler is called directly.
func TestPutLongerThanDeclared(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/keep", "k")
	before := e.snap()
	for _, tc := range []struct {
		name     string
		declared int64
		body     string
	}{
		{"longer", 5, "0123456789"},
		{"shorter", 20, "0123456789"},
		{"zero declared", 0, "0123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest("PUT", home+"/big", strings.NewReader(tc.body))
			r.ContentLength = tc.declared
			w := newRecorder()
			e.h.ServeHTTP(w, r)
			if w.code != http.StatusBadRequest {
				t.Fatalf("%d, want 400", w.code)
			}
			e.sameAs(before, tc.name)
		})
	}
}

func TestGetHead(t *testing.T) {
	e := newEnv(t)
	content := strings.Repeat("0123456789", 1000) // 10000 bytes
	e.put(home+"/f.txt", content)
	e.mkcol(home + "/d")
	e.put(home+"/d/<b>&.html", "<script>")
	head := e.do(req{method: "HEAD", path: home + "/f.txt"})
	head.Body.Close()
	etag, lm := head.Header.Get("ETag"), head.Header.Get("Last-Modified")
	if head.StatusCode != 200 || etag == "" || lm == "" || head.Header.Get("Content-Length") != "10000" ||
		!strings.HasPrefix(head.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("HEAD: %d %v", head.StatusCode, head.Header)
	}
	e.blobs.takeOpens()
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f.txt"}); got != content {
		t.Fatalf("GET: %d bytes", len(got))
	}
	if o := e.blobs.takeOpens(); len(o) != 1 || o[0] != [2]int64{0, 10000} {
		t.Errorf("full GET opened %v", o)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name  string
		hdr   map[string]string
		want  int
		body  string
		opens [][2]int64 // nil: not checked
	}{
		{"range", map[string]string{"Range": "bytes=10-19"}, http.StatusPartialContent, content[10:20], [][2]int64{{10, 10}}},
		{"suffix range", map[string]string{"Range": "bytes=-5"}, http.StatusPartialContent, content[9995:], [][2]int64{{9995, 5}}},
		{"open range", map[string]string{"Range": "bytes=9990-"}, http.StatusPartialContent, content[9990:], [][2]int64{{9990, 10}}},
		{"unsatisfiable", map[string]string{"Range": "bytes=20000-"}, http.StatusRequestedRangeNotSatisfiable, "", [][2]int64{}},
		{"if-none-match", map[string]string{"If-None-Match": etag}, http.StatusNotModified, "", [][2]int64{}},
		{"if-match", map[string]string{"If-Match": `"other"`}, http.StatusPreconditionFailed, "", [][2]int64{}},
		{"if-match ok", map[string]string{"If-Match": etag}, http.StatusOK, content, nil},
		{"if-modified-since", map[string]string{"If-Modified-Since": future}, http.StatusNotModified, "", nil},
		{"if-unmodified-since", map[string]string{"If-Unmodified-Since": past}, http.StatusPreconditionFailed, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, body := e.status(req{method: "GET", path: home + "/f.txt", hdr: tc.hdr})
			if got != tc.want || (tc.body != "" && body != tc.body) {
				t.Fatalf("%d (%d bytes), want %d", got, len(body), tc.want)
			}
			opens := e.blobs.takeOpens()
			if tc.opens != nil && !equalOpens(opens, tc.opens) {
				t.Errorf("opened %v, want %v", opens, tc.opens)
			}
		})
	}
	t.Run("multi-range", func(t *testing.T) {
		resp := e.do(req{method: "GET", path: home + "/f.txt", hdr: map[string]string{"Range": "bytes=0-4,100-104,9998-"}})
		defer resp.Body.Close()
		_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != http.StatusPartialContent || err != nil {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		mr := multipart.NewReader(resp.Body, params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, string(b))
		}
		if strings.Join(parts, "|") != "01234|01234|89" {
			t.Errorf("parts %q", parts)
		}
		if o := e.blobs.takeOpens(); !equalOpens(o, [][2]int64{{0, 5}, {100, 5}, {9998, 2}}) {
			t.Errorf("opened %v", o)
		}
	})
	t.Run("folder", func(t *testing.T) {
		resp := e.do(req{method: "GET", path: home + "/d/"})
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "&lt;b&gt;&amp;.html") || strings.Contains(string(body), "<script>") ||
			!strings.Contains(string(body), `href="/dav/files/alice/d/%3Cb%3E%26.html"`) {
			t.Errorf("listing %d:\n%s", resp.StatusCode, body)
		}
	})
	t.Run("user content cannot script", func(t *testing.T) {
		resp := e.do(req{method: "GET", path: home + "/d/%3Cb%3E%26.html"})
		resp.Body.Close()
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers %v", resp.Header)
		}
	})
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/missing"})
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/f.txt/below"})
}

func equalOpens(a, b [][2]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	e.mkcol(home + "/d")
	e.put(home+"/d/f", "x")
	e.put(home+"/g", "y")
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"depth 0 on a collection", req{method: "DELETE", path: home + "/d", hdr: map[string]string{"Depth": "0"}}, http.StatusBadRequest},
		{"collection", req{method: "DELETE", path: home + "/d"}, http.StatusNoContent},
		{"again", req{method: "DELETE", path: home + "/d"}, http.StatusNotFound},
		{"file", req{method: "DELETE", path: home + "/g"}, http.StatusNoContent},
		{"space root", req{method: "DELETE", path: home + "/"}, http.StatusForbidden},
		{"fragment", req{method: "DELETE", path: home + "/x%23frag"}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := e.status(tc.r); got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
		})
	}
	if n := e.names("/"); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

func TestUnknownMethods(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusNotImplemented, req{method: "BREW", path: home + "/"})
	e.must(http.StatusMethodNotAllowed, req{method: "POST", path: home + "/"})
	e.must(http.StatusMethodNotAllowed, req{method: "PATCH", path: home + "/x"})
}

// recorder is a minimal ResponseWriter for calling the handler directly.
type recorder struct {
	code int
	hdr  http.Header
	body bytes.Buffer
}

func newRecorder() *recorder { return &recorder{hdr: http.Header{}} }

func (r *recorder) Header() http.Header { return r.hdr }
func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(p)
}
func (r *recorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
}

func httptestRequest(method, path string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, "http://example.com"+path, body)
	if err != nil {
		panic(err)
	}
	r.RequestURI = path
	r.SetBasicAuth(alice, alicePW)
	return r
}
