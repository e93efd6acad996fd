package tus_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs/fstest"
	"github.com/s3dfs/s3dfs/server/tus"
)

// verify checks the committed file through a fresh view of the stores, as
// a new process would see them.
func (e *env) verify(t *testing.T, p string, data []byte, mtime time.Time) {
	t.Helper()
	fresh, err := e.open()
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.close()
	v := &env{stores: e.stores, instance: fresh, alice: e.alice, bob: e.bob}
	ri := v.checkFile(t, p, data)
	if !mtime.IsZero() && !ri.Mtime.Equal(mtime) {
		t.Fatalf("mtime %v, want %v", ri.Mtime, mtime)
	}
	fstest.AssertConsistent(t, fresh.fs)
}

// waitOffset waits until the driver records offset for an upload (without
// asking the server, whose HEAD would interrupt a PATCH still running).
func (e *env) waitOffset(t *testing.T, up string, offset int64) {
	t.Helper()
	id := up[len(basePath):]
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := e.fs.GetUpload(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Offset == offset {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload at %d, want %d", s.Offset, offset)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRestart: a PATCH breaks off mid-way, the server that received it
// stops, and another server process on the same stores resumes the upload
// where the first left it.
func TestRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		data := payload(9, 20<<20+4321)
		mtime := time.Unix(1700000000, 0)
		meta := uploadMeta("filename", "resumed.bin", "mtime", "1700000000", "checksum", "SHA1 "+sha1hex(data))

		// Server A: this process, with its own FS on the stores.
		a, err := e.open()
		if err != nil {
			t.Fatal(err)
		}
		ha, srvA := serveFS(t, a.fs, tus.Options{})
		ca := &client{t: t, base: srvA.URL, user: "alice"}
		up := ca.create(basePath, int64(len(data)), meta)
		first := 9<<20 + 77
		if r := ca.patch(up, 0, data[:first], nil); r.StatusCode != http.StatusNoContent || r.offset() != int64(first) {
			t.Fatalf("first chunk: %d %s", r.StatusCode, r.body)
		}
		sent := 5<<20 + 3
		ca.brokenPatch(up, int64(first), int64(len(data)-first), data[first:first+sent])
		e.waitOffset(t, up, int64(first+sent)) // A kept all that arrived

		// Stop A completely.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := ha.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		srvA.Close()
		a.close()

		// Server B: another process.
		b := startServer(t, e.stores)
		cb := &client{t: t, base: b.URL, user: "alice"}
		r := cb.head(up)
		if r.StatusCode != http.StatusOK || r.offset() != int64(first+sent) || r.Header.Get("Upload-Length") != strconv.Itoa(len(data)) ||
			r.Header.Get("Upload-Expires") == "" || !strings.Contains(r.Header.Get("Upload-Metadata"), "filename") {
			t.Fatalf("HEAD on B: %d %v", r.StatusCode, r.Header)
		}
		off := r.offset()
		mid := off + 4<<20 + 1
		chunk := data[off:mid]
		if r := cb.patch(up, off, chunk, hdr{"Upload-Checksum": uploadChecksum("sha1", chunk)}); r.StatusCode != http.StatusNoContent || r.offset() != mid {
			t.Fatalf("PATCH on B: %d %s", r.StatusCode, r.body)
		}
		r = cb.patch(up, mid, data[mid:], nil)
		if r.StatusCode != http.StatusNoContent || r.offset() != int64(len(data)) || r.Header.Get("OC-FileId") == "" || r.Header.Get("X-OC-MTime") != "accepted" {
			t.Fatalf("last PATCH on B: %d %v %s", r.StatusCode, r.Header, r.body)
		}
		if r := cb.head(up); r.StatusCode != http.StatusOK || r.offset() != int64(len(data)) {
			t.Fatalf("HEAD after the upload: %d, offset %d", r.StatusCode, r.offset())
		}
		b.stop(t)
		e.verify(t, "/resumed.bin", data, mtime)
	})
}

// TestKilledServer: the server process dies (SIGKILL) while a chunk
// streams in. What that chunk sent is lost, but nothing before it, and
// another process resumes the upload.
func TestKilledServer(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		data := payload(10, 22<<20+99)
		a := startServer(t, e.stores)
		ca := &client{t: t, base: a.URL, user: "alice"}
		up := ca.create(basePath, int64(len(data)), uploadMeta("filename", "killed.bin"))
		first := 9<<20 + 77
		if r := ca.patch(up, 0, data[:first], nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("first chunk: %d %s", r.StatusCode, r.body)
		}
		// A chunk that fills the next part and more, then the crash.
		u, _ := url.Parse(a.URL)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nX-Test-User: alice\r\n"+
			"Content-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n",
			up, u.Host, first, len(data)-first)
		if _, err := conn.Write(data[first : first+12<<20]); err != nil {
			t.Fatal(err)
		}
		a.kill()
		conn.Close()

		b := startServer(t, e.stores)
		cb := &client{t: t, base: b.URL, user: "alice"}
		// Every full part that reached the blob store before the crash is
		// kept: the offset is past the first chunk, at a part boundary, and
		// never past what was sent.
		r := cb.head(up)
		off := r.offset()
		if r.StatusCode != http.StatusOK || off < int64(first) || off > int64(first+12<<20) || (off != int64(first) && off%(8<<20) != 0) {
			t.Fatalf("HEAD after the crash: %d offset %d, want %d or a later part boundary", r.StatusCode, off, first)
		}
		if r := cb.patch(up, off, data[off:], nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("resume: %d %s", r.StatusCode, r.body)
		}
		b.stop(t)
		e.verify(t, "/killed.bin", data, time.Time{})
	})
}

// pipePatch starts a PATCH whose body the test feeds through the returned
// writer; the response arrives on the channel.
func pipePatch(t *testing.T, base, up string, offset, length int64) (*io.PipeWriter, <-chan resp) {
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PATCH", base+up, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("X-Test-User", "alice")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	ch := make(chan resp, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- resp{Response: &http.Response{StatusCode: -1, Header: http.Header{}}, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ch <- resp{Response: res, body: string(b)}
	}()
	return pw, ch
}

// TestShutdown: shutting a handler down stops the uploads in flight; what
// they received is kept, and they resume elsewhere.
func TestShutdown(t *testing.T) {
	e := newEnv(t, posixBlobs)
	h, srv := e.serve(t, tus.Options{})
	c := &client{t: t, base: srv.URL, user: "alice"}
	data := payload(11, 10<<20)
	up := c.create(basePath, int64(len(data)), uploadMeta("filename", "s"))
	pw, res := pipePatch(t, srv.URL, up, 0, int64(len(data)))
	if _, err := pw.Write(data[:3<<20]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-res
	pw.CloseWithError(io.ErrClosedPipe)
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("PATCH interrupted by shutdown: %d %s", r.StatusCode, r.body)
	}
	if r := c.head(up); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("HEAD after shutdown: %d", r.StatusCode)
	}
	_, srv2 := e.serve(t, tus.Options{})
	c2 := &client{t: t, base: srv2.URL, user: "alice"}
	off := c2.head(up).offset()
	if off < 0 || off > 3<<20 {
		t.Fatalf("offset %d after shutdown, sent %d", off, 3<<20)
	}
	if r := c2.patch(up, off, data[off:], nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("resume: %d %s", r.StatusCode, r.body)
	}
	e.checkFile(t, "/s", data)
	e.consistent(t)
}

// TestRetryInterrupts: a client whose connection went quiet retries; its
// HEAD does not wait for the old PATCH to time out, but stops it, and sees
// what it kept. Another user's requests stop nothing.
func TestRetryInterrupts(t *testing.T) {
	e := newEnv(t, posixBlobs)
	_, srv := e.serve(t, tus.Options{})
	c := &client{t: t, base: srv.URL, user: "alice"}
	bob := &client{t: t, base: srv.URL, user: "bob"}
	data := payload(12, 24<<20)
	// More than the socket buffers hold: when a write of this returns, the
	// server is reading the body.
	sent := 16 << 20

	up := c.create(basePath, int64(len(data)), uploadMeta("filename", "undisturbed"))
	pw, res := pipePatch(t, srv.URL, up, 0, int64(len(data)))
	if _, err := pw.Write(data[:sent]); err != nil {
		t.Fatal(err)
	}
	for _, r := range []resp{bob.head(up), bob.patch(up, 0, data[:10], nil), bob.do("DELETE", up, nil, nil, 0)} {
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("bob's %s during alice's PATCH: %d", r.Request.Method, r.StatusCode)
		}
	}
	if _, err := pw.Write(data[sent:]); err != nil {
		t.Fatalf("alice's PATCH was stopped: %v", err)
	}
	pw.Close()
	if r := <-res; r.StatusCode != http.StatusNoContent {
		t.Fatalf("alice's PATCH: %d %s", r.StatusCode, r.body)
	}
	e.checkFile(t, "/undisturbed", data)

	up = c.create(basePath, int64(len(data)), uploadMeta("filename", "r"))
	pw, res = pipePatch(t, srv.URL, up, 0, int64(len(data)))
	if _, err := pw.Write(data[:sent]); err != nil {
		t.Fatal(err)
	}
	h := c.head(up)
	off := h.offset()
	if h.StatusCode != http.StatusOK || off < 0 || off > int64(sent) {
		t.Fatalf("HEAD during a PATCH: %d offset %d", h.StatusCode, off)
	}
	r := <-res
	pw.CloseWithError(io.ErrClosedPipe)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "ERR_UPLOAD_INTERRUPTED") {
		t.Fatalf("interrupted PATCH: %d %s", r.StatusCode, r.body)
	}
	if r := c.patch(up, off, data[off:], nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("resume: %d %s", r.StatusCode, r.body)
	}
	e.checkFile(t, "/r", data)
	e.consistent(t)
}

// TestConcurrentWriters: two servers (each with its own FS, as two
// processes) get the same chunk at the same offset at the same time. One
// keeps it, the other answers 409, and the upload is intact.
func TestConcurrentWriters(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		data := payload(13, 12<<20)
		var bases []string
		for range 2 {
			in, err := e.open()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(in.close)
			_, srv := serveFS(t, in.fs, tus.Options{})
			bases = append(bases, srv.URL)
		}
		c := &client{t: t, base: bases[0], user: "alice"}
		up := c.create(basePath, int64(len(data)), uploadMeta("filename", "race.bin"))
		chunk := data[:9<<20+1]
		var wg sync.WaitGroup
		status := make([]int, len(bases))
		for i, base := range bases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ci := &client{t: t, base: base, user: "alice"}
				status[i] = ci.patch(up, 0, chunk, nil).StatusCode
			}()
		}
		wg.Wait()
		if !(status[0] == http.StatusNoContent && status[1] == http.StatusConflict || status[1] == http.StatusNoContent && status[0] == http.StatusConflict) {
			t.Fatalf("statuses %v, want one 204 and one 409", status)
		}
		if r := c.head(up); r.offset() != int64(len(chunk)) {
			t.Fatalf("offset %d, want %d", r.offset(), len(chunk))
		}
		if r := c.patch(up, int64(len(chunk)), data[len(chunk):], nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("rest: %d %s", r.StatusCode, r.body)
		}
		e.verify(t, "/race.bin", data, time.Time{})
	})
}
