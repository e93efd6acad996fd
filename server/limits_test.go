package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/tus"
	"github.com/vmihailenco/msgpack/v5"
)

// Nothing one user does can make a space unreadable for others: locks and
// quota reservations are records of their own, every record is bounded at
// write, and what one user may hold is limited (issue 11, item 1). These
// are the attacks that broke a space for good before: every request in it
// answered 500.

// newLimitedEnv is newEnv with driver options changed by fsOpts and TUS
// creation wired in as `s3dfs serve` does it, on the given root ("" for a
// new one).
func newLimitedEnv(t *testing.T, root string, fsOpts func(*decomposedfs.Options)) *env {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	blobDir := filepath.Join(root, "blobs")
	store, err := posix.New(blobDir, posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ext := &lateTUS{}
	e := newEnvFS(t, root, store, blobDir, fsOpts, func(o *server.Options) { o.Extensions = append(o.Extensions, ext) })
	if ext.h, err = tus.New(e.fs, tus.Options{BasePath: "/dav/uploads/"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// lateTUS is the TUS extension of `s3dfs serve`, given its handler once
// the FS exists.
type lateTUS struct{ h *tus.Handler }

func (x *lateTUS) Match(r *http.Request) bool { return x.h.Match(r) }
func (x *lateTUS) Advertise(h http.Header)    { x.h.Advertise(h) }
func (x *lateTUS) Serve(w http.ResponseWriter, r *http.Request, t *server.Target) {
	x.h.ServeHTTP(w, r.WithContext(tus.WithTarget(r.Context(), t.User, t.Ref())))
}

// tusCreate starts a resumable upload of size bytes named name in folder
// (a folder URL), as ownCloud clients do, and returns the status.
func (e *env) tusCreate(user, folder, name string, size int) (int, string) {
	e.t.Helper()
	r := req{method: "POST", path: folder, hdr: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": fmt.Sprint(size),
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte(name)),
	}}
	if user != "" && user != alice {
		r = as(user, r)
	}
	return e.status(r)
}

func (e *env) spaceRecord(sid string) string {
	return filepath.Join(e.root, "meta", "spaces", sid[:2], sid, "space.mpk")
}

func (e *env) spaceRecordBytes(sid string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(e.spaceRecord(sid))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// usable checks that user can still list, write and read in the space at
// base (a folder URL with a trailing slash).
func (e *env) usable(user, base, what string) {
	e.t.Helper()
	as := as
	if user == alice {
		as = func(_ string, r req) req { return r }
	}
	if got, body := e.status(as(user, req{method: "PROPFIND", path: base, hdr: map[string]string{"Depth": "1"}, body: propfindBody("<d:getetag/>")})); got != http.StatusMultiStatus {
		e.t.Fatalf("%s: PROPFIND by %s: %d\n%.300s", what, user, got, body)
	}
	name := "probe-" + uuid.NewString()[:8]
	if got, body := e.status(as(user, req{method: "PUT", path: base + name, body: "still here"})); got != http.StatusCreated {
		e.t.Fatalf("%s: PUT by %s: %d\n%s", what, user, got, body)
	}
	if got, body := e.status(as(user, req{method: "GET", path: base + name})); got != http.StatusOK || body != "still here" {
		e.t.Fatalf("%s: GET by %s: %d %q", what, user, got, body)
	}
}

func ownerBody(n int) string {
	return `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope>` +
		`<D:locktype><D:write/></D:locktype><D:owner>` + strings.Repeat("x", n) + `</D:owner></D:lockinfo>`
}

// The attack of the issue: two LOCKs with a 600 000-byte owner. The owner
// is refused (413, nothing created, not even the empty file of an unmapped
// URL), and the space works on.
func TestLockHugeOwnerRefused(t *testing.T) {
	e := newLimitedEnv(t, "", nil)
	e.put(home+"/f", "x")
	sid := aliceSpace
	before := e.spaceRecordBytes(sid)
	for _, p := range []string{home + "/f", home + "/new"} {
		got, body := e.status(req{method: "LOCK", path: p, body: ownerBody(600_000), hdr: map[string]string{"Depth": "0"}})
		if got != http.StatusRequestEntityTooLarge || !strings.Contains(body, "owner") {
			t.Fatalf("LOCK %s with a 600 000-byte owner: %d %.300q; want 413 naming the owner", p, got, body)
		}
	}
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/new"})
	if tr, _ := e.fs.ListTrash(context.Background(), sid); len(tr) != 0 {
		t.Errorf("a refused LOCK left %d items in the trash", len(tr))
	}
	if string(e.spaceRecordBytes(sid)) != string(before) {
		t.Error("refused LOCKs changed space.mpk")
	}
	e.usable(alice, home+"/", "after the refused LOCKs")
	// A sane owner still locks.
	e.lock(home+"/f", "exclusive", "0", http.StatusOK)
}

// With the owner limit raised as far as it goes, large owners fill lock
// records of their own, never the space record: the space stays readable
// however many there are (before, two pushed space.mpk past 1 MiB and the
// space answered 500 for good).
func TestLargeOwnersStayOutOfTheSpaceRecord(t *testing.T) {
	const owner = 500_000
	e := newLimitedEnv(t, "", func(o *decomposedfs.Options) { o.MaxLockOwner = owner })
	e.put(home+"/f", "x")
	before := e.spaceRecordBytes(aliceSpace)
	for i := range 4 { // 2 MB of owners in all
		e.must(http.StatusOK, req{method: "LOCK", path: home + "/f", body: ownerBody(owner), hdr: map[string]string{"Depth": "0"}})
		e.usable(alice, home+"/", fmt.Sprintf("after %d large LOCKs", i+1))
	}
	if string(e.spaceRecordBytes(aliceSpace)) != string(before) {
		t.Error("LOCKs changed space.mpk")
	}
	if v := e.lockTokensOf(home + "/f"); strings.Count(v, "opaquelocktoken:") != 4 || len(v) < 4*owner {
		t.Errorf("lockdiscovery shows %d locks in %d bytes; want 4 with their owners", strings.Count(v, "opaquelocktoken:"), len(v))
	}
}

// An editor of someone else's project space cannot break it for the owner:
// the editor's locks and uploads are limited per user, with a clear 507,
// and the owner's requests and locks go on.
func TestEditorCannotBreakOwnersSpace(t *testing.T) {
	e := newLimitedEnv(t, "", func(o *decomposedfs.Options) {
		o.MaxLocksPerUser = 5
		o.MaxUploadsPerUser = 10
		o.MaxLockOwner = 400_000
	})
	ctx := context.Background()
	e.addUser("mallory")
	si, err := e.fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "project", Owner: alice})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.SetQuota(ctx, si.ID, 1<<30); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.AddGrant(ctx, decomposedfs.Reference{SpaceID: si.ID}, decomposedfs.GrantSpec{Grantee: "user:mallory", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	sp := "/dav/spaces/" + si.ID + "/"
	e.put(sp+"f", "alice's")
	record := e.spaceRecordBytes(si.ID)
	for i := range 5 {
		e.must(http.StatusCreated, as("mallory", req{method: "LOCK", path: fmt.Sprintf("%sm%d", sp, i), body: ownerBody(400_000)}))
	}
	got, body := e.status(as("mallory", req{method: "LOCK", path: sp + "m5", body: lockinfo("exclusive")}))
	if got != http.StatusInsufficientStorage || !strings.Contains(body, "locks") {
		t.Fatalf("mallory's sixth LOCK: %d %q; want 507 naming the lock limit", got, body)
	}
	e.must(http.StatusNotFound, req{method: "GET", path: sp + "m5"}) // no empty file left
	for i := range 10 {
		if got, body := e.tusCreate("mallory", sp, fmt.Sprintf("u%d", i), 1); got != http.StatusCreated {
			t.Fatalf("mallory's TUS creation %d: %d %s", i, got, body)
		}
	}
	got, body = e.tusCreate("mallory", sp, "u10", 1)
	if got != http.StatusInsufficientStorage || !strings.Contains(body, "uploads in progress") {
		t.Fatalf("mallory's eleventh TUS creation: %d %q; want 507 naming the upload limit", got, body)
	}
	// The owner is not held back by any of it.
	e.usable(alice, sp, "after the editor's locks and uploads")
	tok := e.lock(sp+"f", "exclusive", "0", http.StatusOK)
	e.must(http.StatusNoContent, req{method: "PUT", path: sp + "f", body: "still alice's", hdr: untagged(tok)})
	if got, _ := e.tusCreate(alice, sp, "a0", 1); got != http.StatusCreated {
		t.Errorf("alice's TUS creation: %d", got)
	}
	if string(e.spaceRecordBytes(si.ID)) != string(record) {
		t.Error("locks and uploads changed the project's space.mpk")
	}
}

// The other attack of the issue: many TUS creations in a space with a
// quota. Each holds its reservation in a record of its own, so the space
// record does not grow and the space stays readable however many there
// are (bounded here so that the test stays fast; before, some 18 000 made
// the space answer 500 for good).
func TestManyUploadsInAQuotaSpace(t *testing.T) {
	e := newLimitedEnv(t, "", nil)
	e.put(home+"/f", "x")
	if _, err := e.fs.SetQuota(context.Background(), aliceSpace, 1<<30); err != nil {
		t.Fatal(err)
	}
	record := e.spaceRecordBytes(aliceSpace)
	const n = 300
	for i := range n {
		if got, body := e.tusCreate("", home+"/", fmt.Sprintf("u%03d", i), 1); got != http.StatusCreated {
			t.Fatalf("TUS creation %d: %d %s", i, got, body)
		}
	}
	if got := e.spaceRecordBytes(aliceSpace); string(got) != string(record) {
		t.Errorf("%d uploads grew space.mpk from %d to %d bytes", n, len(record), len(got))
	}
	si, err := e.fs.GetSpace(context.Background(), aliceSpace)
	if err != nil || si.Reserved != n {
		t.Fatalf("space: %+v, %v; want %d bytes reserved", si, err, n)
	}
	e.usable(alice, home+"/", fmt.Sprintf("after %d TUS creations", n))
}

// A space record that older code let grow past the read limit (two LOCKs
// with 600 000-byte owners) opens again: its locks hold, and the next
// lock operation moves them out, which brings the record back under the
// limit with its name and owner.
func TestOversizedRecordOfOlderCode(t *testing.T) {
	root := t.TempDir()
	first := newLimitedEnv(t, root, nil)
	first.put(home+"/f", "x")
	path := first.spaceRecord(aliceSpace)
	s, err := metadata.DecodeSpace(first.spaceRecordBytes(aliceSpace))
	if err != nil {
		t.Fatal(err)
	}
	f, err := first.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	var tokens []string
	for range 2 {
		tok := "opaquelocktoken:" + uuid.NewString()
		tokens = append(tokens, tok)
		s.Locks = append(s.Locks, metadata.Lock{Token: tok, NodeID: f.ID, User: alice, Owner: strings.Repeat("o", 600_000),
			Shared: true, Created: now, Expires: now + int64(time.Hour)})
	}
	data, err := msgpack.Marshal(s) // older code wrote records without a bound
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= metadata.MaxRecordSize {
		t.Fatalf("record of %d bytes", len(data))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A server started on the store as it is now.
	e := newLimitedEnv(t, root, nil)
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "1"}, body: propfindBody("<d:lockdiscovery/>")})
	e.must(http.StatusLocked, req{method: "PUT", path: home + "/f", body: "stranger"})
	e.must(http.StatusNoContent, req{method: "PUT", path: home + "/f", body: "mine", hdr: untagged(tokens[0])})
	e.must(http.StatusNoContent, req{method: "UNLOCK", path: home + "/f", hdr: map[string]string{"Lock-Token": "<" + tokens[0] + ">"}})
	st, err := os.Stat(path)
	if err != nil || st.Size() > 4096 {
		t.Fatalf("space.mpk after the move: %v, %v", st.Size(), err)
	}
	got, err := metadata.DecodeSpace(e.spaceRecordBytes(aliceSpace))
	if err != nil || got.Owner != alice || got.Type != metadata.SpacePersonal || got.HasLegacyState() {
		t.Fatalf("space record after the move: %+v, %v", got, err)
	}
	// The other lock moved out whole and still holds.
	e.must(http.StatusLocked, req{method: "PUT", path: home + "/f", body: "stranger"})
	if v := e.lockTokensOf(home + "/f"); !strings.Contains(v, tokens[1]) || strings.Contains(v, tokens[0]) {
		t.Errorf("lockdiscovery after the move: %.200s", v)
	}
	e.usable(alice, home+"/", "after the move")
}
