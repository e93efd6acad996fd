package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// fileID reads a resource of alice's as oc:fileid.
func fileID(t *testing.T, e *env, path string) string {
	t.Helper()
	r := req{method: "PROPFIND", path: path, hdr: map[string]string{"Depth": "0"}, body: propfindBody("<oc:fileid/>")}
	m := parseMS(t, e.must(http.StatusMultiStatus, r))
	return m.Responses[0].value(t, ocNS, "fileid")
}

// versionList lists a file's revisions: their hrefs and contents lengths,
// oldest first.
func versionList(t *testing.T, e *env, vdir string) (hrefs, lengths []string) {
	t.Helper()
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: vdir, hdr: map[string]string{"Depth": "1"}})
	m := parseMS(t, body)
	if len(m.Responses) == 0 || m.Responses[0].Href != vdir {
		t.Fatalf("first response is not the versions collection:\n%s", body)
	}
	for _, r := range m.Responses[1:] {
		hrefs = append(hrefs, r.Href)
		lengths = append(lengths, r.value(t, "DAV:", "getcontentlength"))
	}
	return hrefs, lengths
}

// Overwrite a file three times, list its versions, download one, restore
// one by COPY, delete one.
func TestVersions(t *testing.T) {
	e := newEnv(t)
	for _, c := range []string{"one", "two!", "three", "four!!"} {
		e.put(home+"/v.txt", c)
	}
	id := fileID(t, e, home+"/v.txt")
	vdir := "/remote.php/dav/meta/" + id + "/v/"
	hrefs, lengths := versionList(t, e, vdir)
	if !slices.Equal(lengths, []string{"3", "4", "5"}) {
		t.Fatalf("version lengths %v, want 3 4 5", lengths)
	}
	// Each revision with its etag, date and checksums.
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: hrefs[0], hdr: map[string]string{"Depth": "0"},
		body: propfindBody("<d:getetag/>", "<d:getlastmodified/>", "<oc:checksums/>", "<d:resourcetype/>", "<oc:nope/>")})
	r := &parseMS(t, body).Responses[0]
	sum := sha1.Sum([]byte("one"))
	if got := r.value(t, ocNS, "checksums"); !strings.Contains(got, "SHA1:"+hex.EncodeToString(sum[:])) {
		t.Errorf("checksums %q", got)
	}
	etag := r.value(t, "DAV:", "getetag")
	if _, err := http.ParseTime(r.value(t, "DAV:", "getlastmodified")); err != nil || etag == "" {
		t.Errorf("etag %q, date: %v", etag, err)
	}
	if _, st, ok := r.prop(ocNS, "nope"); !ok || !strings.Contains(st, "404") {
		t.Errorf("unknown property: %v %q", ok, st)
	}

	// Download, whole and in part, through both aliases.
	if got := e.must(http.StatusOK, req{method: "GET", path: hrefs[0]}); got != "one" {
		t.Errorf("revision 1: %q", got)
	}
	short := strings.TrimPrefix(hrefs[1], "/remote.php")
	if got := e.must(http.StatusPartialContent, req{method: "GET", path: short, hdr: map[string]string{"Range": "bytes=1-2"}}); got != "wo" {
		t.Errorf("range of revision 2: %q", got)
	}
	e.must(http.StatusNotModified, req{method: "GET", path: hrefs[0], hdr: map[string]string{"If-None-Match": etag}})

	// Restore by COPY onto the file itself: the current content becomes a
	// revision.
	e.must(http.StatusForbidden, req{method: "COPY", path: hrefs[0], hdr: map[string]string{"Destination": home + "/elsewhere"}})
	e.must(http.StatusPreconditionFailed, req{method: "COPY", path: hrefs[0], hdr: map[string]string{"Destination": home + "/v.txt", "Overwrite": "F"}})
	e.must(http.StatusNoContent, req{method: "COPY", path: hrefs[0], hdr: map[string]string{"Destination": "/remote.php/dav/files/alice/v.txt"}})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/v.txt"}); got != "one" {
		t.Errorf("after restore: %q", got)
	}
	hrefs, lengths = versionList(t, e, vdir)
	if !slices.Equal(lengths, []string{"4", "5", "6"}) {
		t.Errorf("version lengths after restore %v, want 4 5 6", lengths)
	}

	// Delete a revision: its blob goes.
	blobs := e.blobFiles()
	e.must(http.StatusNoContent, req{method: "DELETE", path: hrefs[0]})
	e.must(http.StatusNotFound, req{method: "GET", path: hrefs[0]})
	if got := e.blobFiles(); got != blobs-1 {
		t.Errorf("%d blobs after deleting a revision, want %d", got, blobs-1)
	}
	if _, lengths = versionList(t, e, vdir); !slices.Equal(lengths, []string{"5", "6"}) {
		t.Errorf("version lengths after delete %v", lengths)
	}

	// The metadata collection, and what is not there.
	meta := "/dav/meta/" + id + "/"
	body = e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: meta, hdr: map[string]string{"Depth": "1"}})
	m := parseMS(t, body)
	if len(m.Responses) != 2 || m.Responses[1].Href != "/dav/meta/"+id+"/v/" || m.Responses[0].value(t, ocNS, "meta-path-for-user") != "/v.txt" {
		t.Errorf("metadata collection:\n%s", body)
	}
	e.mkcol(home + "/dir")
	dirID := fileID(t, e, home+"/dir")
	for _, tc := range []struct {
		r    req
		want int
	}{
		{req{method: "PROPFIND", path: "/dav/meta/" + dirID + "/v/"}, http.StatusNotFound},
		{req{method: "PROPFIND", path: "/dav/meta/not-an-id/v/"}, http.StatusNotFound},
		{req{method: "PROPFIND", path: "/dav/meta/" + id + "/v/nope"}, http.StatusNotFound},
		{req{method: "PROPFIND", path: "/dav/meta/" + id + "/x/"}, http.StatusNotFound},
		{req{method: "PUT", path: vdir + "1", body: "x"}, http.StatusMethodNotAllowed},
		{req{method: "DELETE", path: vdir}, http.StatusMethodNotAllowed},
		{req{method: "COPY", path: hrefs[1]}, http.StatusBadRequest},
		{req{method: "GET", path: vdir, user: "-"}, http.StatusUnauthorized},
	} {
		if got, body := e.status(tc.r); got != tc.want {
			t.Errorf("%s %s: %d, want %d\n%s", tc.r.method, tc.r.path, got, tc.want, body)
		}
	}
	// Another user sees nothing.
	before := e.snap()
	for _, m := range []string{"PROPFIND", "GET", "DELETE", "COPY"} {
		for _, p := range []string{vdir, hrefs[1], meta} {
			if got, _ := e.status(req{method: m, path: p, user: bob, pass: bobPW, hdr: map[string]string{"Destination": home + "/v.txt"}}); got != http.StatusNotFound {
				t.Errorf("bob: %s %s: %d, want 404", m, p, got)
			}
		}
	}
	e.sameAs(before, "bob's requests to alice's versions")
}

// Who may do what to versions: a viewer lists and downloads, an editor
// restores too.
func TestVersionsPermissions(t *testing.T) {
	e := newEnv(t)
	e.addUser("viewer")
	e.addUser("editor")
	e.put(home+"/v.txt", "old")
	e.put(home+"/v.txt", "new")
	e.grant("/", "user:viewer", "viewer", false, timeZero)
	e.grant("/", "user:editor", "editor", false, timeZero)
	id := fileID(t, e, home+"/v.txt")
	hrefs, _ := versionList(t, e, "/dav/meta/"+id+"/v/")
	file := "/dav/spaces/" + aliceSpace + "/v.txt"
	if got := e.must(http.StatusOK, as("viewer", req{method: "GET", path: hrefs[0]})); got != "old" {
		t.Errorf("viewer: %q", got)
	}
	e.must(http.StatusForbidden, as("viewer", req{method: "COPY", path: hrefs[0], hdr: map[string]string{"Destination": file}}))
	e.must(http.StatusForbidden, as("viewer", req{method: "DELETE", path: hrefs[0]}))
	e.must(http.StatusNoContent, as("editor", req{method: "COPY", path: hrefs[0], hdr: map[string]string{"Destination": file}}))
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/v.txt"}); got != "old" {
		t.Errorf("after the editor's restore: %q", got)
	}
}

// A write over the quota answers 507 with DAV:quota-not-exceeded, and
// stores nothing; the quota properties tell what is left.
func TestQuota(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/small", "12345")
	if _, err := e.fs.SetQuota(context.Background(), aliceSpace, 10); err != nil {
		t.Fatal(err)
	}
	before := e.snap()
	got, body := e.status(req{method: "PUT", path: home + "/big", body: "123456"})
	if got != http.StatusInsufficientStorage || !strings.Contains(body, "<d:quota-not-exceeded/>") {
		t.Errorf("PUT over the quota: %d\n%s", got, body)
	}
	// Without a length up front (chunked), too.
	hr, _ := http.NewRequest("PUT", e.srv.URL+home+"/big", io.MultiReader(strings.NewReader("123"), strings.NewReader("456")))
	hr.SetBasicAuth(alice, alicePW)
	hr.ContentLength = -1
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("chunked PUT over the quota: %d", resp.StatusCode)
	}
	e.sameAs(before, "PUT over the quota")
	quota := func() (string, string) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"},
			body: propfindBody("<d:quota-used-bytes/>", "<d:quota-available-bytes/>")})
		r := &parseMS(t, body).Responses[0]
		return r.value(t, "DAV:", "quota-used-bytes"), r.value(t, "DAV:", "quota-available-bytes")
	}
	if used, avail := quota(); used != "5" || avail != "5" {
		t.Errorf("quota: used %s, available %s", used, avail)
	}
	e.must(http.StatusCreated, req{method: "PUT", path: home + "/fits", body: "12345"})
	if used, avail := quota(); used != "10" || avail != "0" {
		t.Errorf("quota when full: used %s, available %s", used, avail)
	}
	e.must(http.StatusInsufficientStorage, req{method: "PUT", path: home + "/one-more", body: "1"})
}

// oc:favorite is per user, and settable by anyone who may see the
// resource.
func TestFavorites(t *testing.T) {
	e := newEnv(t)
	e.addUser("viewer")
	e.put(home+"/f", "x")
	e.grant("/", "user:viewer", "viewer", false, timeZero)
	sp := "/dav/spaces/" + aliceSpace
	fav := func(u, v string, remove bool) {
		t.Helper()
		op := "set"
		if remove {
			op = "remove"
		}
		r := req{method: "PROPPATCH", path: sp + "/f",
			body: `<d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:` + op + `><d:prop><oc:favorite>` + v + `</oc:favorite></d:prop></d:` + op + `></d:propertyupdate>`}
		if u != alice {
			r = as(u, r)
		}
		body := e.must(http.StatusMultiStatus, r)
		if _, st, ok := parseMS(t, body).Responses[0].prop(ocNS, "favorite"); !ok || !strings.Contains(st, " 200 ") {
			t.Errorf("%s: PROPPATCH favorite: %v %q", u, ok, st)
		}
	}
	get := func(u string) string {
		t.Helper()
		r := req{method: "PROPFIND", path: sp + "/", hdr: map[string]string{"Depth": "1"}, body: propfindBody("<oc:favorite/>")}
		if u != alice {
			r = as(u, r)
		}
		m := parseMS(t, e.must(http.StatusMultiStatus, r))
		for _, resp := range m.Responses {
			if strings.HasSuffix(resp.Href, "/f") {
				return resp.value(t, ocNS, "favorite")
			}
		}
		t.Fatalf("no /f in the listing")
		return ""
	}
	fav(alice, "1", false)
	if a, v := get(alice), get("viewer"); a != "1" || v != "0" {
		t.Errorf("after alice's favourite: alice %s, viewer %s", a, v)
	}
	fav("viewer", "true", false)
	fav(alice, "0", false)
	if a, v := get(alice), get("viewer"); a != "0" || v != "1" {
		t.Errorf("after alice's unfavourite: alice %s, viewer %s", a, v)
	}
	fav("viewer", "", true)
	if v := get("viewer"); v != "0" {
		t.Errorf("after the viewer's remove: %s", v)
	}
	// A favourite with a dead property: all or nothing, and the viewer
	// may not set dead properties.
	e.must(http.StatusForbidden, as("viewer", req{method: "PROPPATCH", path: sp + "/f",
		body: `<d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:set><d:prop><oc:favorite>1</oc:favorite><oc:tag>x</oc:tag></d:prop></d:set></d:propertyupdate>`}))
	if v := get("viewer"); v != "0" {
		t.Errorf("a refused PROPPATCH set the favourite: %s", v)
	}
	// Favourites are not dead properties that others could read.
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/f", hdr: map[string]string{"Depth": "0"}})
	if strings.Contains(body, "favorite") {
		t.Errorf("allprop shows favourites:\n%s", body)
	}
}

var timeZero = decomposedfs.GrantSpec{}.Expires
