package tus_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/server/tus"
)

// TestBlobStoreDown: a PATCH while the S3 server cannot be reached gets
// 503 with ERR_STORAGE_UNAVAILABLE (not a 500), the upload keeps the offset
// it had, and once S3 is back the client resumes from there and the file
// is exact. The S3 server is switched off behind a TCP proxy.
func TestBlobStoreDown(t *testing.T) {
	cfg := s3test.New(t)
	proxy := s3test.StartProxy(t, cfg.Endpoint)
	cfg.Endpoint = proxy.Addr()
	e := &env{stores: stores{Root: t.TempDir(), S3: &cfg}}
	var err error
	if e.instance, err = e.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.instance.close)
	si, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{ID: decomposedfs.PersonalSpaceID("alice"), Type: metadata.SpacePersonal, Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	e.alice = si.ID
	_, srv := e.serve(t, tus.Options{})
	c := &client{t: t, base: srv.URL, user: "alice"}

	data := payload(7, 3000)
	up := c.create(basePath, int64(len(data)), uploadMeta("filename", "f.bin"))
	if r := c.patch(up, 0, data[:1000], nil); r.StatusCode != http.StatusNoContent || r.offset() != 1000 {
		t.Fatalf("first PATCH: %d, offset %d: %s", r.StatusCode, r.offset(), r.body)
	}

	proxy.SetDown(true)
	r := c.patch(up, 1000, data[1000:2000], nil)
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, "ERR_STORAGE_UNAVAILABLE") && !strings.Contains(r.body, "unavailable") {
		t.Errorf("PATCH with S3 down: %d %q, want 503 saying the store is unavailable", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, cfg.Endpoint) {
		t.Errorf("the answer names the blob store's address: %q", r.body)
	}
	if h := c.head(up); h.StatusCode != http.StatusOK || h.offset() != 1000 {
		t.Errorf("HEAD with S3 down: %d, offset %d; want 200 and the offset before the failed PATCH", h.StatusCode, h.offset())
	}
	e.absent(t, "/f.bin")

	proxy.SetDown(false)
	h := c.head(up)
	if h.StatusCode != http.StatusOK {
		t.Fatalf("HEAD after the outage: %d", h.StatusCode)
	}
	off := h.offset()
	if r := c.patch(up, off, data[off:], nil); r.StatusCode != http.StatusNoContent || r.offset() != int64(len(data)) {
		t.Fatalf("resuming PATCH from %d: %d, offset %d: %s", off, r.StatusCode, r.offset(), r.body)
	}
	e.checkFile(t, "/f.bin", data)
	e.consistent(t)
}
