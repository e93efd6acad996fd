package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const ocNS = "http://owncloud.org/ns"

// trashItems lists a trash bin: href -> response.
func trashItems(t *testing.T, e *env, r req) map[string]*msResponse {
	t.Helper()
	if r.hdr == nil {
		r.hdr = map[string]string{"Depth": "1"}
	}
	r.method = "PROPFIND"
	m := parseMS(t, e.must(http.StatusMultiStatus, r))
	out := map[string]*msResponse{}
	for i := range m.Responses {
		out[m.Responses[i].Href] = &m.Responses[i]
	}
	return out
}

// itemHref finds the href of the trash item with an original file name.
func itemHref(t *testing.T, items map[string]*msResponse, name string) string {
	t.Helper()
	for href, r := range items {
		if p, _, ok := r.prop(ocNS, "trashbin-original-filename"); ok && p.Inner == name {
			return href
		}
	}
	t.Fatalf("no trash item %q in %v", name, items)
	return ""
}

// Delete, list, restore by MOVE, purge by DELETE, empty, through both URL
// families of the trash bin.
func TestTrashBin(t *testing.T) {
	e := newEnv(t)
	bin := "/remote.php/dav/trash-bin/alice"
	spaceBin := "/dav/spaces/trash-bin/" + aliceSpace
	e.mkcol(home + "/t")
	e.put(home+"/t/a.txt", "aaa")
	e.mkcol(home + "/t/dir")
	e.put(home+"/t/dir/x.txt", "xx")
	e.put(home+"/t/dir/y.txt", "y")
	before := time.Now().Add(-time.Second)
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/t/a.txt"})
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/t/dir"})

	items := trashItems(t, e, req{path: bin + "/"})
	if len(items) != 3 {
		t.Fatalf("%d responses, want the trash bin and 2 items: %v", len(items), items)
	}
	if _, ok := items[bin+"/"]; !ok {
		t.Errorf("no response for the trash bin itself")
	}
	a := itemHref(t, items, "a.txt")
	dir := itemHref(t, items, "dir")
	if !strings.HasSuffix(dir, "/") || strings.HasSuffix(a, "/") {
		t.Errorf("hrefs %q, %q: only the folder ends in /", a, dir)
	}
	ra := items[a]
	if got := ra.value(t, ocNS, "trashbin-original-location"); got != "t/a.txt" {
		t.Errorf("original location %q", got)
	}
	if got := ra.value(t, "DAV:", "getcontentlength"); got != "3" {
		t.Errorf("size %q", got)
	}
	ts, _ := strconv.ParseInt(ra.value(t, ocNS, "trashbin-delete-timestamp"), 10, 64)
	if del := time.Unix(ts, 0); del.Before(before) || del.After(time.Now().Add(time.Second)) {
		t.Errorf("delete timestamp %v", del)
	}
	if _, err := http.ParseTime(ra.value(t, ocNS, "trashbin-delete-datetime")); err != nil {
		t.Errorf("delete datetime: %v", err)
	}
	if got := items[dir].value(t, ocNS, "size"); got != "3" {
		t.Errorf("folder size %q", got)
	}
	// The same through the space's trash bin.
	if got := trashItems(t, e, req{path: spaceBin + "/"}); len(got) != 3 {
		t.Errorf("space trash bin: %d responses", len(got))
	}
	// Inside a trashed folder.
	dirPath := strings.TrimPrefix(dir, "/remote.php")
	inside := trashItems(t, e, req{path: dirPath})
	x := itemHref(t, inside, "x.txt")
	if got := inside[x].value(t, ocNS, "trashbin-original-location"); got != "t/dir/x.txt" {
		t.Errorf("location inside a trashed folder: %q", got)
	}
	if len(inside) != 3 {
		t.Errorf("trashed folder: %d responses, want 3", len(inside))
	}

	// Restore by MOVE: to where it was, with the Overwrite rules of MOVE.
	e.must(http.StatusCreated, req{method: "MOVE", path: a, hdr: map[string]string{"Destination": home + "/t/a.txt"}})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/t/a.txt"}); got != "aaa" {
		t.Errorf("restored content %q", got)
	}
	e.must(http.StatusNotFound, req{method: "MOVE", path: a, hdr: map[string]string{"Destination": home + "/t/a.txt"}})
	// A file from inside the trashed folder, elsewhere.
	e.must(http.StatusCreated, req{method: "MOVE", path: x, hdr: map[string]string{"Destination": e.srv.URL + home + "/x-back.txt"}})
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/x-back.txt"}); got != "xx" {
		t.Errorf("restored from a trashed folder: %q", got)
	}
	e.must(http.StatusConflict, req{method: "MOVE", path: dir, hdr: map[string]string{"Destination": home + "/missing/dir"}})
	e.put(home+"/t/dir", "in the way")
	e.must(http.StatusPreconditionFailed, req{method: "MOVE", path: dir, hdr: map[string]string{"Destination": home + "/t/dir", "Overwrite": "F"}})
	e.must(http.StatusNoContent, req{method: "MOVE", path: dir, hdr: map[string]string{"Destination": home + "/t/dir"}})
	if got := e.names("/t/dir"); strings.Join(got, ",") != "y.txt" {
		t.Errorf("restored folder holds %v", got)
	}
	// What was in the way went to the trash.
	items = trashItems(t, e, req{path: bin + "/"})
	inTheWay := itemHref(t, items, "dir")
	if strings.HasSuffix(inTheWay, "/") {
		t.Errorf("the replaced file is listed as a folder: %q", inTheWay)
	}
	e.must(http.StatusMethodNotAllowed, req{method: "MOVE", path: bin + "/", hdr: map[string]string{"Destination": home + "/x"}})
	e.must(http.StatusForbidden, req{method: "MOVE", path: inTheWay, hdr: map[string]string{"Destination": spaceBin + "/x"}})

	// Purge one item: its blob goes.
	blobs := e.blobFiles()
	e.must(http.StatusNoContent, req{method: "DELETE", path: inTheWay})
	if got := e.blobFiles(); got != blobs-1 {
		t.Errorf("%d blobs after a purge, want %d", got, blobs-1)
	}
	e.must(http.StatusNotFound, req{method: "PROPFIND", path: inTheWay, hdr: map[string]string{"Depth": "0"}})
	e.must(http.StatusNotFound, req{method: "DELETE", path: inTheWay})

	// Empty the trash bin.
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/t/a.txt"})
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/x-back.txt"})
	if got := trashItems(t, e, req{path: spaceBin + "/"}); len(got) != 3 {
		t.Fatalf("%d responses before emptying", len(got))
	}
	e.must(http.StatusNoContent, req{method: "DELETE", path: spaceBin + "/"})
	if got := trashItems(t, e, req{path: bin + "/"}); len(got) != 1 {
		t.Errorf("%d responses after emptying", len(got))
	}
	if got := e.blobFiles(); got != 1 { // y.txt
		t.Errorf("%d blobs after emptying the trash bin, want 1", got)
	}
}

// The trash bins of others, and malformed trash URLs.
func TestTrashBinOfOthers(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "x")
	e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/f"})
	items := trashItems(t, e, req{path: "/dav/trash-bin/alice/"})
	f := itemHref(t, items, "f")
	before := e.snap()
	for _, p := range []string{"/dav/trash-bin/alice/", "/dav/spaces/trash-bin/" + aliceSpace + "/", f,
		"/remote.php/dav/trash-bin/alice" + f[len("/dav/trash-bin/alice"):]} {
		for _, m := range []string{"PROPFIND", "DELETE", "MOVE"} {
			if got, _ := e.status(req{method: m, path: p, user: bob, pass: bobPW, hdr: map[string]string{"Destination": "/dav/files/bob/f"}}); got != http.StatusNotFound {
				t.Errorf("bob: %s %s: %d, want 404", m, p, got)
			}
		}
	}
	e.sameAs(before, "bob's requests to alice's trash bin")
	for _, tc := range []struct {
		r    req
		want int
	}{
		{req{method: "PROPFIND", path: "/dav/spaces/trash-bin/not-a-space/"}, http.StatusNotFound},
		{req{method: "PROPFIND", path: "/dav/trash-bin/alice/not-an-item"}, http.StatusNotFound},
		{req{method: "PROPFIND", path: "/dav/trash-bin/alice/", hdr: map[string]string{"Depth": "infinity"}}, http.StatusForbidden},
		{req{method: "PUT", path: "/dav/trash-bin/alice/x", body: "x"}, http.StatusMethodNotAllowed},
		{req{method: "MOVE", path: f}, http.StatusBadRequest},
		{req{method: "MOVE", path: f, hdr: map[string]string{"Destination": "http://elsewhere.example/dav/files/alice/f"}}, http.StatusBadGateway},
		{req{method: "PROPFIND", path: "/dav/trash-bin/alice/", user: "-"}, http.StatusUnauthorized},
		{req{method: "OPTIONS", path: f}, http.StatusOK},
	} {
		if got, body := e.status(tc.r); got != tc.want {
			t.Errorf("%s %s: %d, want %d\n%s", tc.r.method, tc.r.path, got, tc.want, body)
		}
	}
}
