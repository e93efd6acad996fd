package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

func TestCopyMove(t *testing.T) {
	e := newEnv(t)
	e.mkcol(home + "/src")
	e.mkcol(home + "/src/sub")
	e.put(home+"/src/sub/f", "f-content")
	e.put(home+"/src/g", "g-content")
	e.put(home+"/other", "other")
	e.put(home+"/file", "file")
	dest := func(p string) map[string]string { return map[string]string{"Destination": p} }
	with := func(h map[string]string, k, v string) map[string]string { h[k] = v; return h }

	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"copy collection", req{method: "COPY", path: home + "/src", hdr: dest(home + "/copy")}, http.StatusCreated},
		{"copy absolute URL", req{method: "COPY", path: home + "/other", hdr: dest(e.srv.URL + home + "/other2")}, http.StatusCreated},
		{"copy overwrite F onto existing", req{method: "COPY", path: home + "/other", hdr: with(dest(home+"/file"), "Overwrite", "F")}, http.StatusPreconditionFailed},
		{"copy overwrite T onto existing", req{method: "COPY", path: home + "/other", hdr: with(dest(home+"/other2"), "Overwrite", "T")}, http.StatusNoContent},
		{"copy shallow", req{method: "COPY", path: home + "/src", hdr: with(dest(home+"/shallow"), "Depth", "0")}, http.StatusCreated},
		{"copy depth 1", req{method: "COPY", path: home + "/src", hdr: with(dest(home+"/d1"), "Depth", "1")}, http.StatusBadRequest},
		{"copy onto itself", req{method: "COPY", path: home + "/file", hdr: dest(home + "/file")}, http.StatusForbidden},
		{"copy into itself", req{method: "COPY", path: home + "/src", hdr: dest(home + "/src/sub/inner")}, http.StatusForbidden},
		{"copy missing parent", req{method: "COPY", path: home + "/file", hdr: dest(home + "/no/such")}, http.StatusConflict},
		{"copy missing source", req{method: "COPY", path: home + "/nope", hdr: dest(home + "/x")}, http.StatusNotFound},
		{"no destination", req{method: "COPY", path: home + "/file"}, http.StatusBadRequest},
		{"bad overwrite", req{method: "COPY", path: home + "/file", hdr: with(dest(home+"/x"), "Overwrite", "maybe")}, http.StatusBadRequest},
		{"other server", req{method: "COPY", path: home + "/file", hdr: dest("http://elsewhere.example" + home + "/x")}, http.StatusBadGateway},
		{"not a DAV URL", req{method: "COPY", path: home + "/file", hdr: dest("/somewhere/else")}, http.StatusBadGateway},
		{"traversal in destination", req{method: "COPY", path: home + "/file", hdr: dest(home + "/../bob/x")}, http.StatusBadRequest},
		{"encoded traversal in destination", req{method: "COPY", path: home + "/file", hdr: dest(home + "/%2e%2e/x")}, http.StatusBadRequest},
		{"another user's space", req{method: "COPY", path: home + "/file", hdr: dest("/dav/files/bob/stolen")}, http.StatusConflict},
		{"unknown space", req{method: "COPY", path: home + "/file", hdr: dest("/dav/spaces/00000000-0000-4000-8000-000000000000/x")}, http.StatusConflict},
		{"move", req{method: "MOVE", path: home + "/copy", hdr: dest(home + "/moved")}, http.StatusCreated},
		{"move overwrite F", req{method: "MOVE", path: home + "/moved", hdr: with(dest(home+"/file"), "Overwrite", "F")}, http.StatusPreconditionFailed},
		{"move overwrite T", req{method: "MOVE", path: home + "/other2", hdr: dest(home + "/file")}, http.StatusNoContent},
		{"move depth 0", req{method: "MOVE", path: home + "/moved", hdr: with(dest(home+"/m0"), "Depth", "0")}, http.StatusBadRequest},
		{"move into itself", req{method: "MOVE", path: home + "/moved", hdr: dest(home + "/moved/sub/x")}, http.StatusForbidden},
		{"move missing parent", req{method: "MOVE", path: home + "/moved", hdr: dest(home + "/no/such")}, http.StatusConflict},
		{"move the root", req{method: "MOVE", path: home + "/", hdr: dest(home + "/rootcopy")}, http.StatusForbidden},
		{"move onto the root", req{method: "MOVE", path: home + "/moved", hdr: dest(home + "/")}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before snapshot
			if tc.want >= 400 {
				before = e.snap()
			}
			if got, body := e.status(tc.r); got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
			if tc.want >= 400 {
				e.sameAs(before, tc.name)
			}
		})
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/moved/sub/f"}); got != "f-content" {
		t.Errorf("copied content %q", got)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/file"}); got != "other" {
		t.Errorf("moved-over content %q", got)
	}
	if n := e.names("/shallow"); n != nil && len(n) != 0 {
		t.Errorf("shallow copy has children %v", n)
	}
	if got := strings.Join(e.names("/"), ","); got != "file,moved,other,shallow,src" {
		t.Errorf("root: %s", got)
	}
	// bob never logged in: the refused COPY must not have made his space.
	if _, err := e.fs.GetSpace(context.Background(), decomposedfs.PersonalSpaceID(bob)); err == nil {
		t.Errorf("a COPY into bob's space created it")
	}
}

// COPY may cross spaces (server-side); MOVE may not.
func TestCopyMoveAcrossSpaces(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "content")
	si, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{Name: "project", Owner: alice})
	if err != nil {
		t.Fatal(err)
	}
	proj := "/dav/spaces/" + si.ID
	e.must(http.StatusCreated, req{method: "COPY", path: home + "/f", hdr: map[string]string{"Destination": proj + "/f"}})
	if got := e.must(http.StatusOK, req{method: "GET", path: proj + "/f"}); got != "content" {
		t.Errorf("copy across spaces: %q", got)
	}
	e.must(http.StatusBadGateway, req{method: "MOVE", path: home + "/f", hdr: map[string]string{"Destination": proj + "/g"}})
	// The alias routes name the same spaces.
	e.must(http.StatusOK, req{method: "GET", path: "/remote.php/dav/spaces/" + si.ID + "/f"})
	e.must(http.StatusCreated, req{method: "MOVE", path: "/remote.php/webdav/f", hdr: map[string]string{"Destination": "/remote.php/dav/files/alice/g"}})
	e.must(http.StatusOK, req{method: "GET", path: home + "/g"})
}
