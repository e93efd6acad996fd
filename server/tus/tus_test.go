package tus_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/server/tus"
)

// file returns a committed file's info and content.
func (e *env) file(t testing.TB, p string) (*decomposedfs.ResourceInfo, []byte) {
	t.Helper()
	rc, ri, err := e.fs.Download(context.Background(), e.ref(p), 0, -1)
	if err != nil {
		t.Fatalf("download %s: %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("download %s: %v", p, err)
	}
	return ri, b
}

func (e *env) absent(t testing.TB, p string) {
	t.Helper()
	if _, err := e.fs.GetMD(context.Background(), e.ref(p)); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Fatalf("%s exists (%v), but should not", p, err)
	}
}

// checkFile asserts a committed file's content and checksums.
func (e *env) checkFile(t testing.TB, p string, data []byte) *decomposedfs.ResourceInfo {
	t.Helper()
	ri, got := e.file(t, p)
	if sha256hex(got) != sha256hex(data) || ri.Size != int64(len(data)) {
		t.Fatalf("%s: %d bytes with SHA-256 %s, want %d with %s", p, len(got), sha256hex(got), len(data), sha256hex(data))
	}
	if ri.Checksums.SHA1 != sha1hex(data) || ri.Checksums.MD5 != md5hex(data) {
		t.Fatalf("%s: checksums %+v, want SHA-1 %s and MD5 %s", p, ri.Checksums, sha1hex(data), md5hex(data))
	}
	return ri
}

func TestOptions(t *testing.T) {
	for _, bad := range []tus.Options{
		{BasePath: ""}, {BasePath: "tus/"}, {BasePath: "/tus"}, {BasePath: "/tus/?x=1"},
		{BasePath: "/tus/", MaxSize: -1}, {BasePath: "/tus/", TTL: -time.Second},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: valid", bad)
		}
	}
	for _, good := range []tus.Options{tus.DefaultOptions(), {BasePath: "https://cloud.example.com/tus/", MaxSize: 1 << 30}} {
		if err := good.Validate(); err != nil {
			t.Errorf("%+v: %v", good, err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, posixBlobs)
	h, srv := e.serve(t, tus.Options{MaxSize: 1 << 30})
	c := &client{t: t, base: srv.URL, user: "alice"}
	r := c.do("OPTIONS", basePath, nil, nil, 0)
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Tus-Version") != "1.0.0" || r.Header.Get("Tus-Max-Size") != "1073741824" ||
		r.Header.Get("Tus-Checksum-Algorithm") != "sha1,md5" {
		t.Fatalf("OPTIONS: %d %v", r.StatusCode, r.Header)
	}
	for _, ext := range []string{"creation", "creation-with-upload", "termination", "checksum", "expiration"} {
		if !strings.Contains(","+r.Header.Get("Tus-Extension")+",", ","+ext+",") {
			t.Errorf("Tus-Extension %q lacks %s", r.Header.Get("Tus-Extension"), ext)
		}
	}
	hd := http.Header{}
	h.Advertise(hd)
	if hd.Get("Tus-Extension") != r.Header.Get("Tus-Extension") {
		t.Fatalf("Advertise %v differs from OPTIONS", hd)
	}
	post := &http.Request{Method: "POST", Header: http.Header{"Tus-Resumable": {"1.0.0"}}}
	if !h.Match(post) || h.Match(&http.Request{Method: "POST", Header: http.Header{}}) || h.Match(&http.Request{Method: "PUT", Header: post.Header}) {
		t.Fatal("Match")
	}
	// The protocol version is required.
	if r := c.do("POST", basePath, hdr{"Tus-Resumable": "", "Upload-Length": "1", "Upload-Metadata": uploadMeta("filename", "x")}, nil, 0); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("POST without Tus-Resumable: %d", r.StatusCode)
	}
	if r := c.do("GET", basePath+"x", nil, nil, 0); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.StatusCode)
	}
}

func TestCreation(t *testing.T) {
	e := newEnv(t, posixBlobs)
	if _, err := e.fs.CreateDir(context.Background(), e.ref("/docs")); err != nil {
		t.Fatal(err)
	}
	_, srv := e.serve(t, tus.Options{})
	c := &client{t: t, base: srv.URL, user: "alice"}
	data := payload(1, 1000)

	// On the base path: into the personal space's root.
	up := c.create(basePath, int64(len(data)), uploadMeta("filename", "a.txt", "filetype", "text/plain"))
	r := c.head(up)
	if r.StatusCode != http.StatusOK || r.offset() != 0 || r.Header.Get("Upload-Length") != "1000" ||
		r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("Upload-Metadata"), "filename YS50eHQ=") {
		t.Fatalf("HEAD of a new upload: %d %v", r.StatusCode, r.Header)
	}
	e.absent(t, "/a.txt")
	if r := c.patch(up, 0, data, nil); r.StatusCode != http.StatusNoContent || r.offset() != 1000 ||
		r.Header.Get("OC-FileId") == "" || r.Header.Get("OC-ETag") == "" || r.Header.Get("ETag") != r.Header.Get("OC-ETag") {
		t.Fatalf("PATCH: %d %v %s", r.StatusCode, r.Header, r.body)
	}
	ri := e.checkFile(t, "/a.txt", data)
	// A finished upload answers with its full offset until it expires, so a
	// client that lost the last response does not start over.
	if r := c.head(up); r.StatusCode != http.StatusOK || r.offset() != 1000 {
		t.Fatalf("HEAD of a finished upload: %d, offset %d", r.StatusCode, r.offset())
	}

	// ownCloud's way: POST to the folder; mtime and checksum honoured.
	meta := uploadMeta("filename", "b c#?%.bin", "mtime", "1700000000.5", "checksum", "SHA1 "+sha1hex(data))
	up = c.create("/files/"+e.alice+"/docs", int64(len(data)), meta)
	r = c.patch(up, 0, data, nil)
	if r.StatusCode != http.StatusNoContent || r.Header.Get("X-OC-MTime") != "accepted" || r.Header.Get("OC-FileId") != e.alice+"!"+e.checkFile(t, "/docs/b c#?%.bin", data).ID {
		t.Fatalf("PATCH: %d %v", r.StatusCode, r.Header)
	}
	if ri2, _ := e.file(t, "/docs/b c#?%.bin"); !ri2.Mtime.Equal(time.Unix(1700000000, 5e8)) {
		t.Fatalf("mtime %v", ri2.Mtime)
	}
	// The "sha1:hex" form, and a checksum the content does not match:
	// the file is not committed.
	up = c.create("/files/"+e.alice+"/docs", int64(len(data)), uploadMeta("filename", "bad.bin", "checksum", "sha1:"+sha1hex(data[1:])))
	if r := c.patch(up, 0, data, nil); r.StatusCode != 460 {
		t.Fatalf("PATCH with a wrong whole-file checksum: %d %s", r.StatusCode, r.body)
	}
	e.absent(t, "/docs/bad.bin")

	// An empty file is committed at creation.
	r = c.do("POST", basePath, hdr{"Upload-Length": "0", "Upload-Metadata": uploadMeta("filename", "empty")}, nil, 0)
	if r.StatusCode != http.StatusCreated || r.Header.Get("OC-FileId") == "" {
		t.Fatalf("empty upload: %d %v", r.StatusCode, r.Header)
	}
	if ri, b := e.file(t, "/empty"); ri.Size != 0 || len(b) != 0 {
		t.Fatal("empty file")
	}

	// Overwriting an existing file keeps its id.
	up = c.create(basePath, 3, uploadMeta("filename", "a.txt"))
	if r := c.patch(up, 0, []byte("new"), nil); r.StatusCode != http.StatusNoContent || r.Header.Get("OC-FileId") != e.alice+"!"+ri.ID {
		t.Fatalf("overwrite: %d %v", r.StatusCode, r.Header)
	}
	e.checkFile(t, "/a.txt", []byte("new"))

	// Bad requests.
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name, path, meta string
		status           int
	}{
		{"no filename", basePath, uploadMeta("x", "y"), http.StatusBadRequest},
		{"empty filename", basePath, uploadMeta("filename", ""), http.StatusBadRequest},
		{"dot", basePath, uploadMeta("filename", "."), http.StatusBadRequest},
		{"dotdot", basePath, uploadMeta("filename", ".."), http.StatusBadRequest},
		// A filename may be a path below the folder (owncloudcmd's), but
		// only of names.
		{"empty segment", basePath, uploadMeta("filename", "docs//x"), http.StatusBadRequest},
		{"dotdot segment", basePath, uploadMeta("filename", "docs/../x"), http.StatusBadRequest},
		{"only a slash", basePath, uploadMeta("filename", "/"), http.StatusBadRequest},
		{"path below a file", basePath, uploadMeta("filename", "a.txt/x"), http.StatusConflict},
		{"backslash", basePath, uploadMeta("filename", `a\b`), http.StatusBadRequest},
		{"nul", basePath, uploadMeta("filename", "a\x00b"), http.StatusBadRequest},
		{"not utf-8", basePath, uploadMeta("filename", "a\xffb"), http.StatusBadRequest},
		{"too long", basePath, uploadMeta("filename", long), http.StatusBadRequest},
		{"bad mtime", basePath, uploadMeta("filename", "m", "mtime", "yesterday"), http.StatusBadRequest},
		{"bad checksum", basePath, uploadMeta("filename", "m", "checksum", "SHA1 xyz"), http.StatusBadRequest},
		{"unknown checksum", basePath, uploadMeta("filename", "m", "checksum", "CRC32 00000000"), http.StatusBadRequest},
		{"a folder's name", basePath, uploadMeta("filename", "docs"), http.StatusConflict},
		{"below a file", "/files/" + e.alice + "/a.txt", uploadMeta("filename", "m"), http.StatusConflict},
		{"missing folder", "/files/" + e.alice + "/nope", uploadMeta("filename", "m"), http.StatusNotFound},
		{"not the base path", basePath + "x", uploadMeta("filename", "m"), http.StatusNotFound},
	} {
		if r := c.do("POST", tc.path, hdr{"Upload-Length": "1", "Upload-Metadata": tc.meta}, nil, 0); r.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.StatusCode, r.body, tc.status)
		}
	}
	if r := c.do("POST", basePath, hdr{"Upload-Length": "-1", "Upload-Metadata": uploadMeta("filename", "m")}, nil, 0); r.StatusCode != http.StatusBadRequest {
		t.Errorf("negative length: %d", r.StatusCode)
	}
	if r := c.do("POST", basePath, hdr{"Upload-Defer-Length": "1", "Upload-Metadata": uploadMeta("filename", "m")}, nil, 0); r.StatusCode != http.StatusNotImplemented {
		t.Errorf("deferred length: %d", r.StatusCode)
	}
	// No user: nothing can be created.
	anon := &client{t: t, base: srv.URL}
	if r := anon.do("POST", basePath, hdr{"Upload-Length": "1", "Upload-Metadata": uploadMeta("filename", "m")}, nil, 0); r.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous creation: %d", r.StatusCode)
	}
	// A WebDAV lock on the target refuses the upload without its token.
	if _, err := e.fs.Lock(context.Background(), e.ref("/docs"), decomposedfs.LockOptions{User: "alice", Deep: true}); err != nil {
		t.Fatal(err)
	}
	if r := c.do("POST", "/files/"+e.alice+"/docs", hdr{"Upload-Length": "1", "Upload-Metadata": uploadMeta("filename", "m")}, nil, 0); r.StatusCode != http.StatusLocked {
		t.Errorf("into a locked folder: %d %s", r.StatusCode, r.body)
	}
	if _, err := e.fs.PurgeExpiredUploads(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.consistent(t)
}

func TestCreationWithUpload(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, srv := e.serve(t, tus.Options{})
		c := &client{t: t, base: srv.URL, user: "alice"}
		data := payload(2, 9<<20+5)
		post := func(name string, size int, body []byte, h hdr) resp {
			all := hdr{"Upload-Length": strconv.Itoa(size), "Upload-Metadata": uploadMeta("filename", name), "Content-Type": "application/offset+octet-stream"}
			for k, v := range h {
				all[k] = v
			}
			return c.do("POST", basePath, all, strings.NewReader(string(body)), int64(len(body)))
		}
		// All of it at once: committed by the POST.
		r := post("whole", len(data), data, hdr{"Upload-Checksum": uploadChecksum("sha1", data)})
		if r.StatusCode != http.StatusCreated || r.offset() != int64(len(data)) || r.Header.Get("OC-FileId") == "" {
			t.Fatalf("creation with the whole upload: %d %v %s", r.StatusCode, r.Header, r.body)
		}
		c.location(r)
		e.checkFile(t, "/whole", data)

		// A first part, then the rest.
		r = post("parts", len(data), data[:1<<20], nil)
		if r.StatusCode != http.StatusCreated || r.offset() != 1<<20 {
			t.Fatalf("creation with a part: %d %v", r.StatusCode, r.Header)
		}
		up := c.location(r)
		if r := c.patch(up, 1<<20, data[1<<20:], nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("rest: %d %s", r.StatusCode, r.body)
		}
		e.checkFile(t, "/parts", data)

		// A first part with a wrong checksum: created, but nothing stored.
		r = post("bad", len(data), data[:1000], hdr{"Upload-Checksum": uploadChecksum("md5", data[1:1001])})
		if r.StatusCode != 460 {
			t.Fatalf("creation with a bad chunk: %d %s", r.StatusCode, r.body)
		}
		if r := c.head(c.location(r)); r.StatusCode != http.StatusOK || r.offset() != 0 {
			t.Fatalf("after a bad first chunk: %d offset %d", r.StatusCode, r.offset())
		}
		if _, err := e.fs.PurgeExpiredUploads(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestChunkedUpload sends ~20 MiB in uneven chunks that straddle the
// driver's 8 MiB parts, checking the offsets all the way.
func TestChunkedUpload(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, srv := e.serve(t, tus.Options{})
		c := &client{t: t, base: srv.URL, user: "alice"}
		data := payload(3, 20<<20+12345)
		blobs := e.blobCount(t)
		up := c.create(basePath, int64(len(data)), uploadMeta("filename", "big.bin"))
		cuts := []int{0, 1, 1000, 3<<20 + 7, 8 << 20, 8<<20 + 1, 13<<20 - 3, 17 << 20, len(data) - 1, len(data)}
		for i := 1; i < len(cuts); i++ {
			off := int64(cuts[i-1])
			r := c.patch(up, off, data[cuts[i-1]:cuts[i]], nil)
			if r.StatusCode != http.StatusNoContent || r.offset() != int64(cuts[i]) {
				t.Fatalf("chunk %d [%d, %d): %d offset %d %s", i, cuts[i-1], cuts[i], r.StatusCode, r.offset(), r.body)
			}
			if i == len(cuts)-1 {
				break
			}
			if r.Header.Get("Upload-Expires") == "" {
				t.Fatal("PATCH response without Upload-Expires")
			}
			h := c.head(up)
			if h.StatusCode != http.StatusOK || h.offset() != int64(cuts[i]) || h.Header.Get("Upload-Length") != strconv.Itoa(len(data)) {
				t.Fatalf("HEAD after chunk %d: %d offset %d length %s", i, h.StatusCode, h.offset(), h.Header.Get("Upload-Length"))
			}
			if i == 3 {
				e.absent(t, "/big.bin")
			}
		}
		e.checkFile(t, "/big.bin", data)
		if r := c.head(up); r.StatusCode != http.StatusOK || r.offset() != int64(len(data)) {
			t.Fatalf("HEAD after the upload: %d, offset %d", r.StatusCode, r.offset())
		}
		if n := e.blobCount(t); n != blobs+1 {
			t.Fatalf("%d blobs, want %d: chunk blobs left behind", n, blobs+1)
		}
		e.consistent(t)
	})
}

func TestTermination(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, srv := e.serve(t, tus.Options{})
		c := &client{t: t, base: srv.URL, user: "alice"}
		data := payload(4, 10<<20)
		blobs := e.blobCount(t)
		up := c.create(basePath, int64(len(data)), uploadMeta("filename", "t"))
		if r := c.patch(up, 0, data[:9<<20+1], nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", r.StatusCode)
		}
		if r := c.do("DELETE", up, nil, nil, 0); r.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.StatusCode, r.body)
		}
		for _, m := range []string{"HEAD", "DELETE"} {
			if r := c.do(m, up, nil, nil, 0); r.StatusCode != http.StatusNotFound {
				t.Fatalf("%s after DELETE: %d", m, r.StatusCode)
			}
		}
		if r := c.patch(up, 9<<20+1, data[9<<20+1:], nil); r.StatusCode != http.StatusNotFound {
			t.Fatalf("PATCH after DELETE: %d", r.StatusCode)
		}
		e.absent(t, "/t")
		if n := e.blobCount(t); n != blobs {
			t.Fatalf("%d blobs after termination, want %d", n, blobs)
		}
		e.consistent(t)
	})
}

func TestExpiration(t *testing.T) {
	e := newEnv(t, posixBlobs)
	const ttl = time.Second
	_, srv := e.serve(t, tus.Options{TTL: ttl})
	c := &client{t: t, base: srv.URL, user: "alice"}
	before := time.Now()
	r := c.do("POST", basePath, hdr{"Upload-Length": "10", "Upload-Metadata": uploadMeta("filename", "x")}, nil, 0)
	created := time.Now()
	exp, err := http.ParseTime(r.Header.Get("Upload-Expires"))
	if r.StatusCode != http.StatusCreated || err != nil || exp.Before(before.Add(ttl).Truncate(time.Second)) || exp.After(created.Add(ttl)) {
		t.Fatalf("creation: %d, Upload-Expires %q (%v)", r.StatusCode, r.Header.Get("Upload-Expires"), err)
	}
	up := c.location(r)
	if r := c.patch(up, 0, []byte("12345"), nil); r.StatusCode != http.StatusNoContent || r.Header.Get("Upload-Expires") == "" {
		t.Fatalf("PATCH: %d %v", r.StatusCode, r.Header)
	}
	if r := c.head(up); r.Header.Get("Upload-Expires") == "" {
		t.Fatal("HEAD without Upload-Expires")
	}
	time.Sleep(time.Until(created.Add(ttl + 50*time.Millisecond)))
	// The expiration extension allows 404 or 410; the driver knows the
	// upload expired, so the answer is 410 Gone.
	if r := c.head(up); r.StatusCode != http.StatusGone {
		t.Fatalf("HEAD of an expired upload: %d", r.StatusCode)
	}
	if r := c.patch(up, 5, []byte("67890"), nil); r.StatusCode != http.StatusGone {
		t.Fatalf("PATCH of an expired upload: %d", r.StatusCode)
	}
	e.absent(t, "/x")
	if n, err := e.fs.PurgeExpiredUploads(context.Background()); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	e.consistent(t)
}

func TestChecksumExtension(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, srv := e.serve(t, tus.Options{})
		c := &client{t: t, base: srv.URL, user: "alice"}
		data := payload(5, 9<<20+3)
		up := c.create(basePath, int64(len(data)), uploadMeta("filename", "sum"))
		a, b := data[:1<<20], data[1<<20:9<<20+1]
		if r := c.patch(up, 0, a, hdr{"Upload-Checksum": uploadChecksum("sha1", a)}); r.StatusCode != http.StatusNoContent || r.offset() != 1<<20 {
			t.Fatalf("good sha1 chunk: %d %s", r.StatusCode, r.body)
		}
		// A bad chunk spans a part boundary: nothing of it may stay.
		if r := c.patch(up, 1<<20, b, hdr{"Upload-Checksum": uploadChecksum("sha1", a)}); r.StatusCode != 460 || !strings.Contains(r.body, "ERR_CHECKSUM_MISMATCH") {
			t.Fatalf("bad chunk: %d %s", r.StatusCode, r.body)
		}
		if r := c.head(up); r.offset() != 1<<20 {
			t.Fatalf("offset after a bad chunk: %d", r.offset())
		}
		for _, bad := range []string{"crc32 AAAAAA==", "sha256 " + strings.Repeat("A", 44), "sha1 !!!", "sha1 " + uploadChecksum("md5", b)[4:], "sha1"} {
			if r := c.patch(up, 1<<20, b, hdr{"Upload-Checksum": bad}); r.StatusCode != http.StatusBadRequest {
				t.Fatalf("Upload-Checksum %q: %d %s", bad, r.StatusCode, r.body)
			}
		}
		if r := c.patch(up, 1<<20, b, hdr{"Upload-Checksum": uploadChecksum("md5", b)}); r.StatusCode != http.StatusNoContent {
			t.Fatalf("good md5 chunk: %d %s", r.StatusCode, r.body)
		}
		rest := data[9<<20+1:]
		if r := c.patch(up, 9<<20+1, rest, hdr{"Upload-Checksum": "SHA1 " + uploadChecksum("sha1", rest)[5:]}); r.StatusCode != http.StatusNoContent {
			t.Fatalf("last chunk: %d %s", r.StatusCode, r.body)
		}
		e.checkFile(t, "/sum", data)
		e.consistent(t)
	})
}

func TestOffsetsAndSizes(t *testing.T) {
	e := newEnv(t, posixBlobs)
	_, srv := e.serve(t, tus.Options{MaxSize: 1 << 20})
	c := &client{t: t, base: srv.URL, user: "alice"}
	blobs := e.blobCount(t)
	if r := c.do("POST", basePath, hdr{"Upload-Length": strconv.Itoa(1<<20 + 1), "Upload-Metadata": uploadMeta("filename", "big")}, nil, 0); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("creation over MaxSize: %d", r.StatusCode)
	}
	data := payload(6, 1000)
	up := c.create(basePath, 1000, uploadMeta("filename", "f"))
	if r := c.patch(up, 0, data[:100], nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", r.StatusCode)
	}
	for _, off := range []int64{0, 99, 101, 1000} {
		if r := c.patch(up, off, data[100:200], nil); r.StatusCode != http.StatusConflict {
			t.Fatalf("PATCH at %d, upload at 100: %d", off, r.StatusCode)
		}
	}
	if r := c.patch(up, 100, append(data[100:], 'x'), nil); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("PATCH past the length: %d", r.StatusCode)
	}
	// Without Content-Length the overflow shows only at the end: the
	// whole chunk is refused, not cut to length and committed.
	if r := c.do("PATCH", up, hdr{"Upload-Offset": "100", "Content-Type": "application/offset+octet-stream"},
		io.MultiReader(strings.NewReader(string(data[100:])), strings.NewReader("x")), -1); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked PATCH past the length: %d %s", r.StatusCode, r.body)
	}
	e.absent(t, "/f")
	if r := c.head(up); r.offset() != 100 {
		t.Fatalf("offset %d after refused chunks", r.offset())
	}
	for _, bad := range []hdr{{"Upload-Offset": "-1"}, {"Upload-Offset": "x"}, {"Upload-Offset": "100", "Content-Type": "text/plain"}} {
		all := hdr{"Upload-Offset": "100", "Content-Type": "application/offset+octet-stream"}
		for k, v := range bad {
			all[k] = v
		}
		if r := c.do("PATCH", up, all, strings.NewReader("x"), 1); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("PATCH %v: %d", bad, r.StatusCode)
		}
	}
	if r := c.do("PATCH", up, hdr{"Upload-Offset": "100", "Content-Type": "application/offset+octet-stream"},
		io.MultiReader(strings.NewReader(string(data[100:]))), -1); r.StatusCode != http.StatusNoContent || r.offset() != 1000 {
		t.Fatalf("chunked PATCH to the end: %d %s", r.StatusCode, r.body)
	}
	e.checkFile(t, "/f", data)
	for _, p := range []string{basePath, basePath + "a/b", basePath + "not-an-id", "/elsewhere/x"} {
		if r := c.head(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD %s: %d", p, r.StatusCode)
		}
	}
	if n := e.blobCount(t); n != blobs+1 {
		t.Fatalf("%d blobs, want %d", n, blobs+1)
	}
	e.consistent(t)
}

// TestOtherUser: an upload is its creator's; for anyone else it does not
// exist.
func TestOtherUser(t *testing.T) {
	e := newEnv(t, posixBlobs)
	_, srv := e.serve(t, tus.Options{})
	alice := &client{t: t, base: srv.URL, user: "alice"}
	data := payload(7, 100)
	up := alice.create(basePath, 100, uploadMeta("filename", "mine"))
	if r := alice.patch(up, 0, data[:50], nil); r.StatusCode != http.StatusNoContent {
		t.Fatal(r.StatusCode)
	}
	for _, other := range []*client{{t: t, base: srv.URL, user: "bob"}, {t: t, base: srv.URL}} {
		for _, r := range []resp{other.head(up), other.patch(up, 50, data[50:], nil), other.do("DELETE", up, nil, nil, 0)} {
			if r.StatusCode != http.StatusNotFound {
				t.Fatalf("%s %s as %q: %d", r.Request.Method, up, other.user, r.StatusCode)
			}
		}
	}
	if r := alice.head(up); r.offset() != 50 {
		t.Fatalf("alice's upload changed: %d", r.offset())
	}
	if r := alice.patch(up, 50, data[50:], nil); r.StatusCode != http.StatusNoContent {
		t.Fatal(r.StatusCode)
	}
	e.checkFile(t, "/mine", data)
	// bob's uploads go to bob's space.
	bob := &client{t: t, base: srv.URL, user: "bob"}
	up = bob.create(basePath, 3, uploadMeta("filename", "mine"))
	if r := bob.patch(up, 0, []byte("bob"), nil); r.StatusCode != http.StatusNoContent || !strings.HasPrefix(r.Header.Get("OC-FileId"), e.bob+"!") {
		t.Fatalf("bob's upload: %d %v", r.StatusCode, r.Header)
	}
}

// TestFinishStranded: the process that received the last byte died before
// it committed the file. The client sees a complete upload and will send
// nothing more; with FinishStranded the next request about the upload
// commits it, without it the upload waits for its expiry.
func TestFinishStranded(t *testing.T) {
	e := newEnv(t, posixBlobs)
	_, off := e.serve(t, tus.Options{})
	_, srv := e.serve(t, tus.Options{FinishStranded: true})
	c := &client{t: t, base: srv.URL, user: "alice"}
	data := payload(8, 5000)
	up := c.create(basePath, int64(len(data)), uploadMeta("filename", "late"))
	id := up[len(basePath):]
	if _, err := e.fs.WriteUpload(context.Background(), id, 0, strings.NewReader(string(data)), nil); err != nil {
		t.Fatal(err)
	}
	e.absent(t, "/late")
	dflt := &client{t: t, base: off.URL, user: "alice"}
	if r := dflt.head(up); r.StatusCode != http.StatusOK || r.offset() != int64(len(data)) || r.Header.Get("OC-FileId") != "" {
		t.Fatalf("HEAD of a stranded upload, FinishStranded off: %d %v", r.StatusCode, r.Header)
	}
	if r := dflt.patch(up, int64(len(data)), nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("empty PATCH at the end, FinishStranded off: %d", r.StatusCode)
	}
	e.absent(t, "/late")
	r := c.head(up)
	if r.StatusCode != http.StatusOK || r.offset() != int64(len(data)) || r.Header.Get("Upload-Length") != "5000" || r.Header.Get("OC-FileId") == "" {
		t.Fatalf("HEAD of a complete upload: %d %v", r.StatusCode, r.Header)
	}
	e.checkFile(t, "/late", data)
	if r := c.head(up); r.StatusCode != http.StatusOK || r.offset() != int64(len(data)) {
		t.Fatalf("HEAD after the commit: %d, offset %d", r.StatusCode, r.offset())
	}
	e.consistent(t)
}
