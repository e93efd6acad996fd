package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
)

// TestBlobStoreDown: while the S3 server cannot be reached, reads of
// content, uploads and copies answer 503 with Retry-After (not 404, not a
// 200 cut short), requests that touch only metadata (PROPFIND, HEAD, MKCOL,
// MOVE, purging a trash item) keep working, and nothing is stored or lost:
// once S3 is back, the failed upload and copy left no file, every file
// reads as before, and the one leftover, the purged item's blob that S3
// could not delete then, is what s3dfs check reports and repair removes.
// The real versitygw is switched off behind a TCP proxy.
func TestBlobStoreDown(t *testing.T) {
	cfg := s3test.New(t)
	proxy := s3test.StartProxy(t, cfg.Endpoint)
	o := s3store.Options(cfg)
	o.Endpoint = proxy.Addr()
	o.MaxRetries, o.DialTimeout, o.ResponseTimeout = 1, 2*time.Second, 5*time.Second
	store, err := s3.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, t.TempDir(), store, "")
	e.mkcol(home + "/d")
	e.put(home+"/d/f.txt", "the content")
	e.put(home+"/d/g.txt", "to the trash")
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/d/g.txt"})
	g := itemHref(t, trashItems(t, e, req{path: "/dav/trash-bin/alice/"}), "g.txt")
	proxy.SetDown(true)

	for _, r := range []req{
		{method: "GET", path: home + "/d/f.txt"},
		{method: "GET", path: home + "/d/f.txt", hdr: map[string]string{"Range": "bytes=4-6"}},
		{method: "PUT", path: home + "/d/new.txt", body: "never stored"},
		{method: "PUT", path: home + "/d/f.txt", body: "never replaced"},
		{method: "COPY", path: home + "/d/f.txt", hdr: map[string]string{"Destination": home + "/d/copy.txt"}},
	} {
		resp := e.do(r)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s with S3 down: %d (Retry-After %q) %q; want 503 with Retry-After",
				r.method, r.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if strings.Contains(string(body), o.Endpoint) {
			t.Errorf("%s %s: the answer names the blob store's address: %q", r.method, r.path, body)
		}
	}
	// Metadata needs no S3.
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/d", hdr: map[string]string{"Depth": "1"}})
	e.must(http.StatusOK, req{method: "HEAD", path: home + "/d/f.txt"})
	e.must(http.StatusCreated, req{method: "MKCOL", path: home + "/e"})
	e.must(http.StatusCreated, req{method: "MOVE", path: home + "/e", hdr: map[string]string{"Destination": home + "/d/e"}})
	// Purging a trash item forgets its metadata at once; its blob, which
	// S3 cannot delete now, is left for s3dfs check to find.
	e.must(http.StatusNoContent, req{method: "DELETE", path: g})

	proxy.SetDown(false)
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/d/new.txt"})
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/d/copy.txt"})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/d/f.txt"}); got != "the content" {
		t.Errorf("after the outage f.txt reads %q", got)
	}
	fds, _ := checktest.Check(t, e.fs, nil)
	if codes := checktest.Codes(fds); len(codes) != 1 || codes[0] != check.BlobOrphan || fds[0].Bytes != int64(len("to the trash")) {
		t.Fatalf("after the outage the check found %v, want the purged item's blob as the one orphan", fds)
	}
	checktest.Repair(t, e.fs)
	checktest.AssertClean(t, e.fs)
}

// TestBlobStoreDownMidUpload: S3 goes away while a large PUT streams (its
// first multipart part already stored): the PUT answers 503, no file and
// no object appear, and the file it would have replaced is intact.
func TestBlobStoreDownMidUpload(t *testing.T) {
	cfg := s3test.New(t)
	proxy := s3test.StartProxy(t, cfg.Endpoint)
	o := s3store.Options(cfg)
	o.Endpoint = proxy.Addr()
	o.PartSize, o.Concurrency = 5<<20, 1
	o.MaxRetries, o.DialTimeout, o.ResponseTimeout = 1, 2*time.Second, 5*time.Second
	store, err := s3.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, t.TempDir(), store, "")
	e.put(home+"/big.bin", "the old content")
	objects := func() int {
		n := 0
		if err := store.List(context.Background(), "", func(blobstore.Info) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := objects()

	const size = 24 << 20
	pr, pw := io.Pipe()
	hr, err := http.NewRequest("PUT", e.srv.URL+home+"/big.bin", pr)
	if err != nil {
		t.Fatal(err)
	}
	hr.ContentLength = size
	hr.SetBasicAuth(alice, alicePW)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for i := 0; i < 12; i++ { // two parts and more
		if _, err := pw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the parts reach S3
	proxy.SetDown(true)
	go func() {
		for i := 12; i < size>>20; i++ {
			if _, err := pw.Write(chunk); err != nil {
				return // the server gave up on the body
			}
		}
		pw.Close()
	}()
	var resp *http.Response
	select {
	case resp = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the PUT did not end after S3 went away")
	}
	if resp == nil {
		return
	}
	resp.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("PUT with S3 gone mid-body: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	proxy.SetDown(false)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/big.bin"}); got != "the old content" {
		t.Errorf("the replaced file reads %d bytes, want the old content", len(got))
	}
	if n := objects(); n != before {
		t.Errorf("%d objects after the failed PUT, %d before", n, before)
	}
	checktest.AssertClean(t, e.fs)
}
