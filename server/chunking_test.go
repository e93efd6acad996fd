package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// Chunked uploads of the desktop clients: NG and v2 under
// /remote.php/dav/uploads/, v1 by OC-Chunked.

const uploadsURL = "/remote.php/dav/uploads/alice"

// transfer is a chunked upload a test drives, as nextcloudcmd 3.7 does:
// chunks named by their number in 16 digits, OC-Chunk-Offset telling
// where they belong.
type transfer struct {
	e    *env
	id   string
	data string
	user string // "" alice
}

func (e *env) newTransfer(id, data string) *transfer {
	tr := &transfer{e: e, id: id, data: data}
	e.t.Helper()
	e.must(http.StatusCreated, tr.req(req{method: "MKCOL", path: tr.url(), hdr: map[string]string{"OC-Total-Length": strconv.Itoa(len(data))}}))
	return tr
}

func (tr *transfer) url() string { return uploadsURL + "/" + tr.id }

func (tr *transfer) req(r req) req {
	if tr.user != "" {
		return as(tr.user, r)
	}
	return r
}

// put sends chunk n: the bytes [from, to) of the data.
func (tr *transfer) put(n, from, to int) (int, string) {
	tr.e.t.Helper()
	return tr.e.status(tr.req(req{method: "PUT", path: fmt.Sprintf("%s/%016d", tr.url(), n), body: tr.data[from:to],
		hdr: map[string]string{"OC-Chunk-Offset": strconv.Itoa(from)}}))
}

func (tr *transfer) mustPut(n, from, to int) {
	tr.e.t.Helper()
	if st, body := tr.put(n, from, to); st != http.StatusCreated {
		tr.e.t.Fatalf("chunk %d [%d,%d): %d %s", n, from, to, st, body)
	}
}

// move finishes the transfer onto dest (a path below home), with the
// headers nextcloudcmd sends.
func (tr *transfer) move(dest string, hdr map[string]string) *http.Response {
	tr.e.t.Helper()
	sum := sha1.Sum([]byte(tr.data))
	h := map[string]string{
		"Destination":     tr.e.srv.URL + "/remote.php/dav/files/alice" + dest,
		"OC-Total-Length": strconv.Itoa(len(tr.data)),
		"X-OC-Mtime":      "1700000000",
		"OC-Checksum":     "SHA1:" + hex.EncodeToString(sum[:]),
	}
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return tr.e.do(tr.req(req{method: "MOVE", path: tr.url() + "/.file", hdr: h}))
}

func (tr *transfer) mustMove(dest string, want int) *http.Response {
	tr.e.t.Helper()
	resp := tr.move(dest, nil)
	if body := readAll(tr.e.t.(*testing.T), resp); resp.StatusCode != want {
		tr.e.t.Fatalf("MOVE .file -> %s: %d %s, want %d", dest, resp.StatusCode, body, want)
	}
	return resp
}

// content is the 25-byte test file of the chunk tests.
const content = "0123456789abcdefghijklmno"

// TestNGChunkedUpload is nextcloudcmd's sequence for a file over its chunk
// size. Before, the MKCOL of the transfer was 404 and no large file synced.
func TestNGChunkedUpload(t *testing.T) {
	e := newEnv(t)
	e.mkcol(home + "/big")
	before := e.blobFiles()
	tr := e.newTransfer("708541905", content)
	tr.mustPut(0, 0, 10)
	tr.mustPut(1, 10, 25)
	resp := tr.mustMove("/big/big%20file.bin", http.StatusCreated)
	ri, err := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/big/big file.bin"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(content))
	for k, want := range map[string]string{
		"OC-FileId": aliceSpace + "!" + ri.ID, "OC-ETag": ri.Etag, "ETag": ri.Etag,
		"X-OC-MTime": "accepted", "OC-Perm": "RDNVW", "OC-Checksum": "SHA1:" + hex.EncodeToString(sum[:]),
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("MOVE answer %s %q, want %q", k, got, want)
		}
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/big/big%20file.bin"}); got != content {
		t.Errorf("content %q", got)
	}
	if ri.Mtime.Unix() != 1700000000 {
		t.Errorf("mtime %v", ri.Mtime)
	}
	// The space holds the file and nothing else: no chunk, no placeholder.
	if tree := e.snap().tree; !slices.Equal(tree, []string{"/big", "/big/big file.bin"}) {
		t.Errorf("tree %q", tree)
	}
	// One blob: the file's. The chunks' bytes went into it, not beside it.
	if got := e.blobFiles(); got != before+1 {
		t.Errorf("%d blobs, want %d", got, before+1)
	}
	// Finished, the transfer is gone; the MOVE may be sent again (a lost
	// answer) and gives the same file.
	e.must(http.StatusNotFound, req{method: "PROPFIND", path: tr.url(), hdr: map[string]string{"Depth": "1"}})
	resp = tr.mustMove("/big/big%20file.bin", http.StatusNoContent)
	if got := resp.Header.Get("OC-FileId"); got != aliceSpace+"!"+ri.ID {
		t.Errorf("repeated MOVE: file id %q", got)
	}
	// A new transfer may reuse the name.
	tr2 := e.newTransfer("708541905", "new")
	tr2.mustPut(0, 0, 3)
	tr2.mustMove("/big/big%20file.bin", http.StatusNoContent)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/big/big%20file.bin"}); got != "new" {
		t.Errorf("content after the second transfer %q", got)
	}
}

// TestNGResume: what a transfer holds is listed so that a client resumes
// after it; an interrupted chunk keeps what arrived.
func TestNGResume(t *testing.T) {
	e := newEnv(t)
	tr := e.newTransfer("42", content)
	tr.mustPut(0, 0, 10)
	tr.mustPut(5, 20, 25) // ahead of its turn: kept aside
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: tr.url(), hdr: map[string]string{"Depth": "1"},
		body: propfindBody("<d:resourcetype/>", "<d:getcontentlength/>")})
	m := parseMS(t, body)
	var got []string
	for _, r := range m.Responses {
		size := ""
		if p, _, ok := r.prop("DAV:", "getcontentlength"); ok {
			size = p.Inner
		}
		got = append(got, strings.TrimPrefix(r.Href, uploadsURL)+" "+size)
	}
	want := []string{"/42/ ", "/42/0000000000000000 10", "/42/0000000000000020 5"}
	if !slices.Equal(got, want) {
		t.Errorf("listing %q, want %q", got, want)
	}
	// The client deletes what lies beyond a hole; bytes taken in cannot be.
	e.must(http.StatusNoContent, req{method: "DELETE", path: tr.url() + "/0000000000000020"})
	e.must(http.StatusConflict, req{method: "DELETE", path: tr.url() + "/0000000000000000"})
	e.must(http.StatusNotFound, req{method: "DELETE", path: tr.url() + "/0000000000000077"})
	// A chunk sent again (its answer was lost) is taken as it was.
	tr.mustPut(0, 0, 10)
	tr.mustPut(1, 5, 15) // overlaps what arrived: the new part is taken
	tr.mustPut(2, 15, 25)
	tr.mustMove("/f", http.StatusCreated)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != content {
		t.Errorf("content %q", got)
	}
}

func TestNGChunksOutOfOrder(t *testing.T) {
	e := newEnv(t)
	tr := e.newTransfer("ooo", content)
	tr.mustPut(2, 20, 25)
	tr.mustPut(1, 10, 20)
	tr.mustPut(0, 0, 10)
	tr.mustMove("/f", http.StatusCreated)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != content {
		t.Errorf("content %q", got)
	}
	// Nothing parked was left behind: one blob, the file's.
	if got := e.blobFiles(); got != 1 {
		t.Errorf("%d blobs after the upload, want 1", got)
	}
}

// TestNGMissingChunk: a MOVE of an incomplete transfer stores nothing and
// keeps the transfer, so the client can send what is missing.
func TestNGMissingChunk(t *testing.T) {
	e := newEnv(t)
	tr := e.newTransfer("holes", content)
	tr.mustPut(0, 0, 10)
	tr.mustPut(2, 20, 25)
	before := e.snap()
	resp := tr.move("/f", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("MOVE of an incomplete transfer: %d %s", resp.StatusCode, body)
	}
	e.sameAs(before, "MOVE of an incomplete transfer")
	tr.mustPut(1, 10, 20)
	tr.mustMove("/f", http.StatusCreated)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != content {
		t.Errorf("content %q", got)
	}
}

func TestNGWrongLengths(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusBadRequest, req{method: "MKCOL", path: uploadsURL + "/x", hdr: map[string]string{"OC-Total-Length": "lots"}})
	tr := e.newTransfer("len", content)
	before := e.snap()
	// A chunk past the end, or one that says another total.
	if st, _ := tr.put(3, 20, 25); st != http.StatusCreated {
		t.Fatalf("last chunk: %d", st)
	}
	st, _ := e.status(req{method: "PUT", path: tr.url() + "/0000000000000009", body: "0123456789",
		hdr: map[string]string{"OC-Chunk-Offset": "20"}})
	if st != http.StatusBadRequest {
		t.Errorf("chunk past the end: %d", st)
	}
	st, _ = e.status(req{method: "PUT", path: tr.url() + "/0000000000000000", body: "0123456789",
		hdr: map[string]string{"OC-Chunk-Offset": "0", "OC-Total-Length": "26"}})
	if st != http.StatusBadRequest {
		t.Errorf("chunk with another OC-Total-Length: %d", st)
	}
	st, _ = e.status(req{method: "PUT", path: tr.url() + "/zero", body: "0123456789"})
	if st != http.StatusBadRequest {
		t.Errorf("chunk without an offset: %d", st)
	}
	tr.mustPut(0, 0, 10)
	tr.mustPut(1, 10, 20)
	// The MOVE says another length: nothing is stored, the transfer stays.
	resp := tr.move("/f", map[string]string{"OC-Total-Length": "24"})
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("MOVE with a wrong OC-Total-Length: %d %s", resp.StatusCode, body)
	}
	if tree := e.snap().tree; !slices.Equal(tree, before.tree) {
		t.Errorf("tree %q after refused requests", tree)
	}
	tr.mustMove("/f", http.StatusCreated)
}

// TestNGWrongChecksum: content that does not match OC-Checksum is not
// stored; the transfer ends and leaves nothing behind.
func TestNGWrongChecksum(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "old")
	before := e.snap()
	tr := e.newTransfer("ck", content)
	tr.mustPut(0, 0, 25)
	resp := tr.move("/f", map[string]string{"OC-Checksum": "SHA1:" + strings.Repeat("0", 40)})
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("MOVE with a wrong checksum: %d %s", resp.StatusCode, body)
	}
	e.sameAs(before, "a chunked upload with a wrong checksum")
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "old" {
		t.Errorf("content %q", got)
	}
	e.must(http.StatusNotFound, req{method: "PROPFIND", path: tr.url()})
	// A malformed one is refused before anything happens.
	tr = e.newTransfer("ck2", content)
	tr.mustPut(0, 0, 25)
	resp = tr.move("/f", map[string]string{"OC-Checksum": "CRC99:1"})
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("MOVE with a malformed checksum: %d %s", resp.StatusCode, body)
	}
	tr.mustMove("/f", http.StatusNoContent)
}

// TestNGTwoTransfersOneFile: two clients upload the same file at once;
// each MOVE commits a whole file, the later one wins and the earlier
// content is a revision.
func TestNGTwoTransfersOneFile(t *testing.T) {
	e := newEnv(t)
	a := e.newTransfer("a", content)
	b := e.newTransfer("b", strings.ToUpper(content))
	a.mustPut(0, 0, 10)
	b.mustPut(0, 0, 10)
	b.mustPut(1, 10, 25)
	a.mustPut(1, 10, 25)
	a.mustMove("/f", http.StatusCreated)
	b.mustMove("/f", http.StatusNoContent)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != strings.ToUpper(content) {
		t.Errorf("content %q", got)
	}
	revs, err := e.fs.ListRevisions(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	if err != nil || len(revs) != 1 || revs[0].Size != 25 {
		t.Errorf("revisions %+v, %v", revs, err)
	}
}

// TestNGIfHeader: nextcloudcmd names the etag it knows of the destination
// in an If header; a changed destination is 412 and nothing is stored.
func TestNGIfHeader(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "v1")
	ri, _ := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	old := ri.Etag
	e.put(home+"/f", "v2")
	dest := e.srv.URL + "/remote.php/dav/files/alice/f"
	tr := e.newTransfer("if", content)
	tr.mustPut(0, 0, 25)
	resp := tr.move("/f", map[string]string{"If": "<" + dest + "> ([" + old + "])"})
	if body := readAll(t, resp); resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("MOVE onto a changed file: %d %s", resp.StatusCode, body)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "v2" {
		t.Errorf("content %q", got)
	}
	ri, _ = e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	resp = tr.move("/f", map[string]string{"If": "<" + dest + "> ([" + ri.Etag + "])"})
	if body := readAll(t, resp); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("MOVE with the current etag: %d %s", resp.StatusCode, body)
	}
	// If-Match (as v2 clients send it) is checked as for PUT.
	tr = e.newTransfer("ifm", "x")
	tr.mustPut(0, 0, 1)
	resp = tr.move("/f", map[string]string{"If-Match": old})
	if body := readAll(t, resp); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("MOVE with a stale If-Match: %d %s", resp.StatusCode, body)
	}
}

func TestNGQuota(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home, hdr: map[string]string{"Depth": "0"}}) // alice's space
	if _, err := e.fs.SetQuota(context.Background(), aliceSpace, 20); err != nil {
		t.Fatal(err)
	}
	before := e.snap()
	body := e.must(http.StatusInsufficientStorage, req{method: "MKCOL", path: uploadsURL + "/q", hdr: map[string]string{"OC-Total-Length": "25"}})
	if !strings.Contains(body, "quota-not-exceeded") {
		t.Errorf("507 body %q", body)
	}
	// The same through a first chunk that starts the transfer.
	e.must(http.StatusCreated, req{method: "MKCOL", path: uploadsURL + "/q2"})
	e.must(http.StatusInsufficientStorage, req{method: "PUT", path: uploadsURL + "/q2/0000000000000000", body: content,
		hdr: map[string]string{"OC-Chunk-Offset": "0", "OC-Total-Length": "25"}})
	e.sameAs(before, "uploads over the quota")
	// A transfer holds its size of the quota until it ends.
	tr := e.newTransfer("fits", content[:15])
	tr.mustPut(0, 0, 10)
	e.must(http.StatusInsufficientStorage, req{method: "PUT", path: home + "/g", body: "0123456789"})
	tr.mustPut(1, 10, 15)
	tr.mustMove("/f", http.StatusCreated)
	if si, _ := e.fs.GetSpace(context.Background(), aliceSpace); si.Used != 15 || si.Reserved != 0 {
		t.Errorf("used %d, reserved %d", si.Used, si.Reserved)
	}
}

// TestNGAbandoned: a transfer nobody finishes goes when its time is up,
// with its bytes and the quota it held.
func TestNGAbandoned(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home, hdr: map[string]string{"Depth": "0"}}) // alice's space
	if _, err := e.fs.SetQuota(context.Background(), aliceSpace, 1000); err != nil {
		t.Fatal(err)
	}
	before := e.snap()
	tr := e.newTransfer("gone", content)
	tr.mustPut(0, 0, 10)
	tr.mustPut(2, 20, 25) // parked: a blob of its own
	if e.blobFiles() == before.blobs {
		t.Fatal("the transfer stored nothing")
	}
	if si, _ := e.fs.GetSpace(context.Background(), aliceSpace); si.Reserved != 25 {
		t.Errorf("reserved %d, want 25", si.Reserved)
	}
	n, err := e.fs.PurgeUploadsExpiredBy(context.Background(), time.Now().Add(decomposedfs.DefaultUploadTTL+time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	e.sameAs(before, "a purged transfer")
	if si, _ := e.fs.GetSpace(context.Background(), aliceSpace); si.Reserved != 0 {
		t.Errorf("reserved %d after the purge", si.Reserved)
	}
	e.must(http.StatusNotFound, req{method: "PROPFIND", path: tr.url()})
	if st, _ := tr.put(1, 10, 20); st != http.StatusNotFound {
		t.Errorf("chunk of a purged transfer: %d", st)
	}
	// DELETE ends a transfer at once.
	tr = e.newTransfer("del", content)
	tr.mustPut(0, 0, 10)
	e.must(http.StatusNoContent, req{method: "DELETE", path: tr.url()})
	e.sameAs(before, "a deleted transfer")
	e.must(http.StatusNotFound, req{method: "DELETE", path: tr.url()})
}

// TestNGOtherUser: the uploads of another user are invisible, and the
// same transfer name of two users names two transfers.
func TestNGOtherUser(t *testing.T) {
	e := newEnv(t)
	tr := e.newTransfer("same", content)
	tr.mustPut(0, 0, 10)
	bobReq := func(r req) req { r.user, r.pass = bob, bobPW; return r }
	for _, r := range []req{
		{method: "PROPFIND", path: tr.url()},
		{method: "MKCOL", path: tr.url()},
		{method: "PUT", path: tr.url() + "/0000000000000001", body: "x", hdr: map[string]string{"OC-Chunk-Offset": "10"}},
		{method: "DELETE", path: tr.url()},
		{method: "MOVE", path: tr.url() + "/.file", hdr: map[string]string{"Destination": e.srv.URL + "/remote.php/dav/files/bob/x"}},
		{method: "PROPFIND", path: uploadsURL},
	} {
		if st, body := e.status(bobReq(r)); st != http.StatusNotFound {
			t.Errorf("bob: %s %s: %d %s", r.method, r.path, st, body)
		}
	}
	e.must(http.StatusCreated, bobReq(req{method: "MKCOL", path: "/remote.php/dav/uploads/bob/same", hdr: map[string]string{"OC-Total-Length": "3"}}))
	e.must(http.StatusCreated, bobReq(req{method: "PUT", path: "/remote.php/dav/uploads/bob/same/0", body: "bob", hdr: map[string]string{"OC-Chunk-Offset": "0"}}))
	e.must(http.StatusCreated, bobReq(req{method: "MOVE", path: "/remote.php/dav/uploads/bob/same/.file",
		hdr: map[string]string{"Destination": e.srv.URL + "/remote.php/dav/files/bob/b"}}))
	// bob cannot finish into alice's files either.
	tr.mustPut(1, 10, 25)
	e.must(http.StatusUnauthorized, req{method: "MKCOL", path: tr.url(), user: "-"})
	tr.mustMove("/f", http.StatusCreated)
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != content {
		t.Errorf("alice's content %q", got)
	}
	if got := e.must(http.StatusOK, bobReq(req{method: "GET", path: "/dav/files/bob/b"})); got != "bob" {
		t.Errorf("bob's content %q", got)
	}
}

func TestNGMkcolRules(t *testing.T) {
	e := newEnv(t)
	tr := e.newTransfer("m", content)
	e.must(http.StatusMethodNotAllowed, req{method: "MKCOL", path: tr.url(), hdr: map[string]string{"OC-Total-Length": "25"}})
	e.must(http.StatusUnsupportedMediaType, req{method: "MKCOL", path: uploadsURL + "/b", body: "<x/>"})
	e.must(http.StatusMethodNotAllowed, req{method: "GET", path: tr.url() + "/0000000000000000"})
	// Another space's file is not a MOVE of this transfer's: 502, as a
	// MOVE between spaces.
	tr.mustPut(0, 0, 25)
	sp, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{Type: decomposedfs.SpaceProject, Name: "p", Owner: alice})
	if err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusBadGateway, req{method: "MOVE", path: tr.url() + "/.file", hdr: map[string]string{"Destination": "/dav/spaces/" + sp.ID + "/x"}})
	e.must(http.StatusConflict, req{method: "MOVE", path: tr.url() + "/.file", hdr: map[string]string{"Destination": home + "/nofolder/x"}})
	tr.mustMove("/f", http.StatusCreated)
}

// TestV2ChunkedUpload: Nextcloud's chunking v2 names the destination on
// every request and numbers its chunks from 1.
func TestV2ChunkedUpload(t *testing.T) {
	e := newEnv(t)
	dest := e.srv.URL + "/remote.php/dav/files/alice/v2.bin"
	h := map[string]string{"Destination": dest, "OC-Total-Length": "25"}
	e.must(http.StatusCreated, req{method: "MKCOL", path: uploadsURL + "/web-file-upload-1", hdr: h})
	for i, c := range []string{content[:10], content[10:]} {
		hh := map[string]string{"Destination": dest, "OC-Total-Length": "25", "OC-Chunk-Offset": strconv.Itoa(i * 10)}
		e.must(http.StatusCreated, req{method: "PUT", path: fmt.Sprintf("%s/web-file-upload-1/%05d", uploadsURL, i+1), body: c, hdr: hh})
	}
	e.must(http.StatusCreated, req{method: "MOVE", path: uploadsURL + "/web-file-upload-1/.file", hdr: h})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/v2.bin"}); got != content {
		t.Errorf("content %q", got)
	}
}

// TestChunkingV1NeverAFile is nextcloudcmd's upload of a file over 10 MB
// when a server advertises no chunking: ownCloud's chunking v1. Before,
// each chunk was stored as a file of its own name with a 201, the client
// finished with exit 0, and the server kept a truncated file.
func TestChunkingV1NeverAFile(t *testing.T) {
	e := newEnv(t)
	hdr := func(int) map[string]string {
		return map[string]string{"OC-Chunked": "1", "OC-Total-Length": "25", "OC-Chunk-Size": "10", "X-OC-Mtime": "1700000000"}
	}
	// Three chunks of 10, 10 and 5 bytes, the last sent last, as the
	// clients send them (the others may come in any order).
	name := home + "/big%20file.bin-chunking-3545411421-3-"
	resp := e.do(req{method: "PUT", path: name + "1", body: content[10:20], hdr: hdr(0)})
	readAll(t, resp)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("ETag") != "" || resp.Header.Get("OC-ETag") != "" {
		t.Fatalf("chunk 1 of 3: %d, ETag %q (a chunk's answer has none)", resp.StatusCode, resp.Header.Get("ETag"))
	}
	e.must(http.StatusCreated, req{method: "PUT", path: name + "0", body: content[:10], hdr: hdr(0)})
	if tree := e.snap().tree; len(tree) != 0 {
		t.Fatalf("chunks stored as files: %q", tree)
	}
	last := hdr(0)
	sum := sha1.Sum([]byte(content))
	last["OC-Checksum"] = "SHA1:" + hex.EncodeToString(sum[:])
	resp = e.do(req{method: "PUT", path: name + "2", body: content[20:], hdr: last})
	readAll(t, resp)
	ri, err := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/big file.bin"})
	if resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("last chunk: %d, %v", resp.StatusCode, err)
	}
	for k, want := range map[string]string{"OC-ETag": ri.Etag, "OC-FileId": aliceSpace + "!" + ri.ID, "X-OC-MTime": "accepted", "OC-Perm": "RDNVW"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("last chunk's answer %s %q, want %q", k, got, want)
		}
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/big%20file.bin"}); got != content {
		t.Errorf("content %q", got)
	}
	if tree := e.snap().tree; !slices.Equal(tree, []string{"/big file.bin"}) {
		t.Errorf("tree %q", tree)
	}
	// The last chunk sent again (its answer was lost) gives the file.
	resp = e.do(req{method: "PUT", path: name + "2", body: content[20:], hdr: last})
	readAll(t, resp)
	if resp.StatusCode/100 != 2 || resp.Header.Get("OC-ETag") != ri.Etag {
		t.Errorf("last chunk again: %d, etag %q", resp.StatusCode, resp.Header.Get("OC-ETag"))
	}
	// Malformed chunk uploads are refused, and leave no file.
	for _, r := range []req{
		{method: "PUT", path: home + "/plain", body: "x", hdr: map[string]string{"OC-Chunked": "1", "OC-Total-Length": "1"}},
		{method: "PUT", path: name + "3", body: "x", hdr: hdr(0)},
		{method: "PUT", path: home + "/g-chunking-1-2-0", body: "x", hdr: map[string]string{"OC-Chunked": "1"}},
		{method: "PUT", path: home + "/g-chunking-1-2-0", body: "0123456789", hdr: map[string]string{"OC-Chunked": "1", "OC-Total-Length": "5"}},
	} {
		if st, body := e.status(r); st != http.StatusBadRequest {
			t.Errorf("PUT %s %v: %d %s", r.path, r.hdr, st, body)
		}
	}
	if tree := e.snap().tree; !slices.Equal(tree, []string{"/big file.bin"}) {
		t.Errorf("tree %q after malformed chunks", tree)
	}
	// Without OC-Chunked, such a name is just a name.
	e.put(home+"/notes-chunking-1-2-0", "plain")
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/notes-chunking-1-2-0"}); got != "plain" {
		t.Errorf("plain file %q", got)
	}
}

// TestChunkingV1Quota: a v1 transfer over the quota is 507 at its first
// chunk, and stores nothing.
func TestChunkingV1Quota(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home, hdr: map[string]string{"Depth": "0"}}) // alice's space
	if _, err := e.fs.SetQuota(context.Background(), aliceSpace, 20); err != nil {
		t.Fatal(err)
	}
	before := e.snap()
	e.must(http.StatusInsufficientStorage, req{method: "PUT", path: home + "/f-chunking-7-3-0", body: content[:10],
		hdr: map[string]string{"OC-Chunked": "1", "OC-Total-Length": "25", "OC-Chunk-Size": "10"}})
	e.sameAs(before, "a v1 chunk over the quota")
}

// TestChunkNeedsLength: a chunk's length must be known up front.
func TestChunkNeedsLength(t *testing.T) {
	e := newEnv(t)
	tr := e.newTransfer("len", content)
	hr, _ := http.NewRequest("PUT", e.srv.URL+tr.url()+"/0000000000000000", io.MultiReader(strings.NewReader(content)))
	hr.SetBasicAuth(alice, alicePW)
	hr.Header.Set("OC-Chunk-Offset", "0")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != http.StatusLengthRequired {
		t.Errorf("chunk without Content-Length: %d", resp.StatusCode)
	}
}

// TestChunkingV1IfMatch: the etag a v1 client sends with its chunks is
// checked at the first chunk and again when the last commits the file.
func TestChunkingV1IfMatch(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "v1")
	ri, _ := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	e.put(home+"/f", "v2")
	h := map[string]string{"OC-Chunked": "1", "OC-Total-Length": "4", "OC-Chunk-Size": "2", "If-Match": ri.Etag}
	e.must(http.StatusPreconditionFailed, req{method: "PUT", path: home + "/f-chunking-9-2-0", body: "ab", hdr: h})
	ri, _ = e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	h["If-Match"] = ri.Etag
	e.must(http.StatusCreated, req{method: "PUT", path: home + "/f-chunking-9-2-0", body: "ab", hdr: h})
	e.put(home+"/f", "v3")
	e.must(http.StatusPreconditionFailed, req{method: "PUT", path: home + "/f-chunking-9-2-1", body: "cd", hdr: h})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "v3" {
		t.Errorf("content %q", got)
	}
}
