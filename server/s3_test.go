package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
)

// The whole WebDAV flow on a real S3 server.
func TestOnS3(t *testing.T) {
	cfg := s3test.New(t)
	store, err := s3.New(context.Background(), s3store.Options(cfg))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, t.TempDir(), store, "")
	objects := func() []blobstore.Info {
		t.Helper()
		var out []blobstore.Info
		if err := store.List(context.Background(), "", func(i blobstore.Info) error { out = append(out, i); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}

	big := make([]byte, 7<<20) // more than one multipart part
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	sum := sha1.Sum(big)
	e.mkcol(home + "/dir")
	e.must(http.StatusCreated, req{method: "PUT", path: home + "/dir/big.bin", body: string(big), hdr: map[string]string{"OC-Checksum": "SHA1:" + hex.EncodeToString(sum[:])}})
	e.put(home+"/dir/small.txt", "small")
	if n := len(objects()); n != 2 {
		t.Fatalf("%d objects after two uploads", n)
	}
	if got := e.must(http.StatusPartialContent, req{method: "GET", path: home + "/dir/big.bin", hdr: map[string]string{"Range": "bytes=6000000-6000009"}}); got != string(big[6000000:6000010]) {
		t.Errorf("range of the big file differs")
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/dir/big.bin"}); got != string(big) {
		t.Errorf("big file differs")
	}
	// A checksum mismatch stores nothing, in S3 either.
	e.must(http.StatusBadRequest, req{method: "PUT", path: home + "/dir/bad", body: "not this", hdr: map[string]string{"OC-Checksum": "SHA1:" + hex.EncodeToString(sum[:])}})
	e.must(http.StatusCreated, req{method: "COPY", path: home + "/dir", hdr: map[string]string{"Destination": home + "/copy"}})
	if n := len(objects()); n != 4 {
		t.Errorf("%d objects after copying two files, want 4", n)
	}
	// A move is a metadata operation: no object is added or removed.
	e.must(http.StatusCreated, req{method: "MOVE", path: home + "/copy", hdr: map[string]string{"Destination": home + "/moved"}})
	if n := len(objects()); n != 4 {
		t.Errorf("%d objects after a move, want 4", n)
	}
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/moved/", hdr: map[string]string{"Depth": "1"}, body: propfindBody("<d:getcontentlength/>", "<oc:checksums/>")})
	m := parseMS(t, body)
	if len(m.Responses) != 3 || !strings.Contains(body, hex.EncodeToString(sum[:])) {
		t.Errorf("listing of the copy:\n%s", body)
	}
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/moved"})
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/moved/small.txt"})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/dir/small.txt"}); got != "small" {
		t.Errorf("small: %q", got)
	}
	e.must(http.StatusOK, req{method: "GET", path: "/readyz", user: "-"})
}
