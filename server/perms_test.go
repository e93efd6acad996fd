package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// grant gives a grantee a role on a path of alice's space.
func (e *env) grant(p, grantee, role string, deny bool, expires time.Time) {
	e.t.Helper()
	_, err := e.fs.AddGrant(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: p},
		decomposedfs.GrantSpec{Grantee: grantee, Role: role, Deny: deny, Expires: expires})
	if err != nil {
		e.t.Fatal(err)
	}
}

// The users of the permission matrix, each with one way of (not) getting
// into alice's space.
var matrixUsers = []string{"viewer", "uploader", "editor", "manager", "teammate", "stranger", "expired", "denied", "subviewer"}

// setupMatrix builds alice's space and gives each matrix user its access:
//
//	viewer, uploader, editor, manager  that role on the space root (members)
//	teammate                           editor on the root through the group "team"
//	stranger                           no grant at all
//	expired                            editor on the root, expired
//	denied                             viewer on the root, viewer denied on /d
//	subviewer                          viewer on /d only (a share below the root)
//
// /d holds, for every user U, files f, ow-U, del-U, mv-U, pp-U, lock-U and
// a folder deldir-U.
func setupMatrix(t *testing.T) (*env, string) {
	e := newEnv(t)
	for _, u := range matrixUsers {
		if u == "teammate" {
			e.addUser(u, "team", "other")
		} else {
			e.addUser(u)
		}
	}
	e.mkcol(home + "/d")
	e.put(home+"/d/f", "content")
	for _, u := range matrixUsers {
		for _, f := range []string{"ow", "del", "mv", "pp", "lock"} {
			e.put(home+"/d/"+f+"-"+u, f)
		}
		e.mkcol(home + "/d/deldir-" + u)
	}
	for _, role := range []string{"viewer", "uploader", "editor", "manager"} {
		e.grant("/", "user:"+role, role, false, time.Time{})
	}
	e.grant("/", "group:team", "editor", false, time.Time{})
	e.grant("/", "user:denied", "viewer", false, time.Time{})
	e.grant("/d", "user:denied", "viewer", true, time.Time{})
	e.grant("/d", "user:subviewer", "viewer", false, time.Time{})
	// Last: adding a grant prunes the expired ones.
	e.grant("/", "user:expired", "editor", false, time.Now().Add(-time.Minute))
	return e, "/dav/spaces/" + aliceSpace
}

// Every role against every method, through the server, with real users
// and grants. A resource the user may not see answers as if it did not
// exist: 404, or 409 for a request that would create in a folder the user
// may not see (as for a missing folder); a space the user cannot enter at
// all is 404 for everything.
func TestPermissionMatrix(t *testing.T) {
	e, sp := setupMatrix(t)
	d0, d1 := map[string]string{"Depth": "0"}, map[string]string{"Depth": "1"}
	dest := func(p string) map[string]string { return map[string]string{"Destination": sp + p} }
	fav := `<d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:set><d:prop><oc:favorite>1</oc:favorite></d:prop></d:set></d:propertyupdate>`
	dead := `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><x:color xmlns:x="urn:x">red</x:color></d:prop></d:set></d:propertyupdate>`
	lock := `<d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>`
	// Paths are in alice's space, and "{u}" in a path or Destination is
	// the user's name; want lists the statuses in the order of
	// matrixUsers.
	for _, tc := range []struct {
		name string
		r    req
		want []int
	}{
		{"PROPFIND folder", req{method: "PROPFIND", path: "/d/", hdr: d1}, []int{207, 207, 207, 207, 207, 404, 404, 404, 207}},
		{"PROPFIND root", req{method: "PROPFIND", path: "/", hdr: d0}, []int{207, 207, 207, 207, 207, 404, 404, 207, 404}},
		{"PROPFIND file", req{method: "PROPFIND", path: "/d/f", hdr: d0}, []int{207, 207, 207, 207, 207, 404, 404, 404, 207}},
		{"GET file", req{method: "GET", path: "/d/f"}, []int{200, 403, 200, 200, 200, 404, 404, 404, 200}},
		{"GET folder", req{method: "GET", path: "/d/"}, []int{200, 200, 200, 200, 200, 404, 404, 404, 200}},
		{"PUT new", req{method: "PUT", path: "/d/new-{u}", body: "new"}, []int{403, 201, 201, 201, 201, 404, 404, 409, 403}},
		{"PUT overwrite", req{method: "PUT", path: "/d/ow-{u}", body: "changed"}, []int{403, 403, 204, 204, 204, 404, 404, 409, 403}},
		{"MKCOL", req{method: "MKCOL", path: "/d/mk-{u}"}, []int{403, 201, 201, 201, 201, 404, 404, 409, 403}},
		{"DELETE file", req{method: "DELETE", path: "/d/del-{u}"}, []int{403, 403, 204, 204, 204, 404, 404, 404, 403}},
		{"DELETE folder", req{method: "DELETE", path: "/d/deldir-{u}/"}, []int{403, 403, 204, 204, 204, 404, 404, 404, 403}},
		{"MOVE", req{method: "MOVE", path: "/d/mv-{u}", hdr: dest("/d/moved-{u}")}, []int{403, 403, 201, 201, 201, 404, 404, 404, 403}},
		{"COPY", req{method: "COPY", path: "/d/f", hdr: dest("/d/copy-{u}")}, []int{403, 403, 201, 201, 201, 404, 404, 404, 403}},
		{"PROPPATCH", req{method: "PROPPATCH", path: "/d/pp-{u}", body: dead}, []int{403, 403, 207, 207, 207, 404, 404, 404, 403}},
		{"PROPPATCH favorite", req{method: "PROPPATCH", path: "/d/f", body: fav}, []int{207, 207, 207, 207, 207, 404, 404, 404, 207}},
		// LOCK of an unmapped URL creates; in a folder the user may not
		// see, that is 409 as for a missing folder.
		{"LOCK", req{method: "LOCK", path: "/d/lock-{u}", body: lock}, []int{403, 403, 200, 200, 200, 404, 404, 409, 403}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, u := range matrixUsers {
				r := tc.r
				r.path = sp + strings.ReplaceAll(r.path, "{u}", u)
				if d, ok := r.hdr["Destination"]; ok {
					r.hdr = map[string]string{"Destination": strings.ReplaceAll(d, "{u}", u)}
				}
				got, body := e.status(as(u, r))
				if got != tc.want[i] {
					t.Errorf("%s: %d, want %d\n%s", u, got, tc.want[i], body)
				}
			}
		})
	}
	// The trash bin of the space: editors list it, viewers may not.
	for i, want := range []int{403, 403, 207, 207, 207, 404, 404, 403, 404} {
		u := matrixUsers[i]
		if got, _ := e.status(as(u, req{method: "PROPFIND", path: "/dav/spaces/trash-bin/" + aliceSpace + "/", hdr: d1})); got != want {
			t.Errorf("trash bin: %s: %d, want %d", u, got, want)
		}
	}
	// What was refused changed nothing: the files of the refused users
	// are still there, with their content.
	for _, u := range []string{"viewer", "uploader", "stranger", "expired", "denied", "subviewer"} {
		if got := e.must(http.StatusOK, req{method: "GET", path: home + "/d/ow-" + u}); got != "ow" {
			t.Errorf("ow-%s: %q", u, got)
		}
		e.must(http.StatusOK, req{method: "GET", path: home + "/d/del-" + u})
		e.must(http.StatusNotFound, req{method: "GET", path: home + "/d/moved-" + u})
	}
}

// oc:permissions tells each user what the driver allows, in ownCloud's
// letters.
func TestPermissionLetters(t *testing.T) {
	e, sp := setupMatrix(t)
	perms := func(u, p string) string {
		t.Helper()
		r := req{method: "PROPFIND", path: sp + p, hdr: map[string]string{"Depth": "0"}, body: propfindBody("<oc:permissions/>")}
		if u != alice {
			r = as(u, r)
		}
		body := e.must(http.StatusMultiStatus, r)
		return parseMS(t, body).Responses[0].value(t, "http://owncloud.org/ns", "permissions")
	}
	for _, tc := range []struct {
		user, path, want string
	}{
		{"viewer", "/", "S"},
		{"viewer", "/d/", ""},
		{"viewer", "/d/f", ""},
		{"uploader", "/d/", "CK"},
		{"editor", "/d/", "DNVCK"},
		{"editor", "/d/f", "DNVW"},
		{"editor", "/", "SCK"},
		{"teammate", "/", "SCK"},
		{"manager", "/d/f", "RDNVW"},
		{"manager", "/", "SRCK"},
		{"subviewer", "/d/", "S"},
		{"subviewer", "/d/f", ""},
	} {
		if got := perms(tc.user, tc.path); got != tc.want {
			t.Errorf("%s on %s: %q, want %q", tc.user, tc.path, got, tc.want)
		}
	}
	if got := perms(alice, "/d/f"); got != "RDNVW" {
		t.Errorf("owner on a file: %q", got)
	}
	// OPTIONS tells what the permissions allow.
	for _, tc := range []struct{ user, allow string }{
		{"viewer", "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, COPY"},
		{"editor", "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"},
	} {
		resp := e.do(as(tc.user, req{method: "OPTIONS", path: sp + "/d/f"}))
		resp.Body.Close()
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("OPTIONS as %s: Allow %q, want %q", tc.user, got, tc.allow)
		}
	}
	// The denied folder is left out of the listing of the root.
	body := e.must(http.StatusMultiStatus, as("denied", req{method: "PROPFIND", path: sp + "/", hdr: map[string]string{"Depth": "1"}}))
	if strings.Contains(body, "/d/") {
		t.Errorf("denied user sees the denied folder:\n%s", body)
	}
	// oc:share-types: for those who may share.
	st := func(u string) string {
		r := req{method: "PROPFIND", path: sp + "/d/", hdr: map[string]string{"Depth": "0"}, body: propfindBody("<oc:share-types/>")}
		if u != alice {
			r = as(u, r)
		}
		body := e.must(http.StatusMultiStatus, r)
		v, _, _ := parseMS(t, body).Responses[0].prop("http://owncloud.org/ns", "share-types")
		return v.Inner
	}
	if got := st(alice); got != "<oc:share-type>0</oc:share-type>" {
		t.Errorf("share types for the owner: %q", got)
	}
	if got := st("editor"); got != "" {
		t.Errorf("share types for an editor: %q", got)
	}
}

// A member sees a space in PROPFIND, and the quota properties of the
// space; a user with a grant below the root only what it opens.
func TestSharedFolderBelowRoot(t *testing.T) {
	e, sp := setupMatrix(t)
	body := e.must(http.StatusMultiStatus, as("subviewer", req{method: "PROPFIND", path: sp + "/d/", hdr: map[string]string{"Depth": "1"}}))
	if m := parseMS(t, body); len(m.Responses) < 3 {
		t.Errorf("listing of the shared folder: %d responses", len(m.Responses))
	}
	if got := e.must(http.StatusOK, as("subviewer", req{method: "GET", path: sp + "/d/f"})); got != "content" {
		t.Errorf("shared file: %q", got)
	}
	// A copy out of the shared folder into the user's own space.
	e.addUser("sub2")
	e.grant("/d", "user:sub2", "viewer", false, time.Time{})
	e.must(http.StatusCreated, as("sub2", req{method: "COPY", path: sp + "/d/f", hdr: map[string]string{"Destination": "/dav/files/sub2/mine"}}))
	if got := e.must(http.StatusOK, as("sub2", req{method: "GET", path: "/dav/files/sub2/mine"})); got != "content" {
		t.Errorf("copied file: %q", got)
	}
	// And none into the shared folder.
	e.must(http.StatusForbidden, as("sub2", req{method: "COPY", path: "/dav/files/sub2/mine", hdr: map[string]string{"Destination": sp + "/d/theirs"}}))
}

// A disabled space is invisible to all but its managers, and frozen for
// them.
func TestDisabledSpace(t *testing.T) {
	e := newEnv(t)
	e.addUser("member")
	ctx := context.Background()
	si, err := e.fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "project", Owner: alice})
	if err != nil {
		t.Fatal(err)
	}
	sp := "/dav/spaces/" + si.ID
	e.put(sp+"/f", "x")
	if _, err := e.fs.AddGrant(ctx, decomposedfs.Reference{SpaceID: si.ID}, decomposedfs.GrantSpec{Grantee: "user:member", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, as("member", req{method: "GET", path: sp + "/f"}))
	if err := e.fs.DisableSpace(ctx, si.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "PROPFIND", "PUT", "DELETE"} {
		e.must(http.StatusNotFound, as("member", req{method: m, path: sp + "/f", body: "y"}))
	}
	e.must(http.StatusNotFound, as("member", req{method: "PROPFIND", path: "/dav/spaces/trash-bin/" + si.ID + "/"}))
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: sp + "/", hdr: map[string]string{"Depth": "0"}})
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "PROPPATCH"} {
		e.must(http.StatusForbidden, req{method: m, path: sp + "/f", body: "y"})
	}
	if err := e.fs.RestoreSpace(ctx, si.ID); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusNoContent, as("member", req{method: "PUT", path: sp + "/f", body: "y"}))
}
