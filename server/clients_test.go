package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/tus"
)

// The endpoints and upload protocols of the ownCloud and Nextcloud desktop
// clients (nextcloudcmd 3.7, owncloudcmd 2.11); scripts/clients.sh runs the
// real clients.

// lazyTUS is the TUS handler of a test server, made once the server's FS
// exists (the router's options are fixed before).
type lazyTUS struct {
	h   *tus.Handler
	srv *server.Handler
}

func (l *lazyTUS) Match(r *http.Request) bool { return l.h.Match(r) }
func (l *lazyTUS) Advertise(h http.Header)    { l.h.Advertise(h) }
func (l *lazyTUS) Serve(w http.ResponseWriter, r *http.Request, t *server.Target) {
	l.h.ServeHTTP(w, r.WithContext(tus.WithTarget(r.Context(), t.User, t.Ref())))
}
func (l *lazyTUS) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }

// newTUSEnv is a test server with the real TUS handler wired as s3dfs
// serve wires it, under basePath ("" for none).
func newTUSEnv(t *testing.T, basePath string, opts ...envOption) *env {
	t.Helper()
	l := &lazyTUS{}
	opts = append(opts, func(o *server.Options) {
		o.BasePath = basePath
		o.Extensions = append(o.Extensions, l)
		o.Mounts = map[string]http.Handler{"/dav/uploads/": l}
		o.TUS = &server.TUSSupport{Version: tus.Version, Extensions: tus.Extensions()}
	})
	e := newEnv(t, opts...)
	to := tus.DefaultOptions()
	to.BasePath = basePath + to.BasePath
	to.User = server.UserFromContext
	to.Permissions = e.h.FilePermissions
	h, err := tus.New(e.fs, to)
	if err != nil {
		t.Fatal(err)
	}
	l.h = h
	return e
}

func TestStatusPHP(t *testing.T) {
	e := newEnv(t)
	want := `{"installed":true,"maintenance":false,"needsDbUpgrade":false,"version":"10.11.0.0","versionstring":"10.11.0","edition":"","productname":"s3dfs","product":"s3dfs","extendedSupport":false}` + "\n"
	resp := e.do(req{method: "GET", path: "/status.php", user: "-"})
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("status.php: %d\n%s\nwant\n%s", resp.StatusCode, body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	e.must(http.StatusMethodNotAllowed, req{method: "POST", path: "/status.php", user: "-"})
}

// capsJSON is the capabilities document of a server with TUS, as JSON.
const capsJSON = `{"version":{"major":10,"minor":11,"micro":0,"string":"10.11.0","edition":"","product":"s3dfs"},` +
	`"capabilities":{"core":{"webdav-root":"remote.php/webdav","status":{"installed":true,"maintenance":false,"needsDbUpgrade":false,"version":"10.11.0.0","versionstring":"10.11.0","edition":"","productname":"s3dfs","product":"s3dfs","extendedSupport":false}},` +
	`"checksums":{"supportedTypes":["SHA1","MD5","ADLER32"],"preferredUploadType":"SHA1"},` +
	`"dav":{"chunking":"1.0","trashbin":"1.0"},` +
	`"files":{"bigfilechunking":true,"privateLinks":false,"undelete":true,"versioning":true,` +
	`"tus_support":{"version":"1.0.0","resumable":"1.0.0","extension":"creation,creation-with-upload,termination,checksum,expiration","http_method_override":""}},` +
	`"files_sharing":{"api_enabled":false}}}`

const capsXML = `<version><major>10</major><minor>11</minor><micro>0</micro><string>10.11.0</string><edition></edition><product>s3dfs</product></version>` +
	`<capabilities><core><webdav-root>remote.php/webdav</webdav-root><status><installed>1</installed><maintenance></maintenance><needsDbUpgrade></needsDbUpgrade><version>10.11.0.0</version><versionstring>10.11.0</versionstring><edition></edition><productname>s3dfs</productname><product>s3dfs</product><extendedSupport></extendedSupport></status></core>` +
	`<checksums><supportedTypes><element>SHA1</element><element>MD5</element><element>ADLER32</element></supportedTypes><preferredUploadType>SHA1</preferredUploadType></checksums>` +
	`<dav><chunking>1.0</chunking><trashbin>1.0</trashbin></dav>` +
	`<files><bigfilechunking>1</bigfilechunking><privateLinks></privateLinks><undelete>1</undelete><versioning>1</versioning>` +
	`<tus_support><version>1.0.0</version><resumable>1.0.0</resumable><extension>creation,creation-with-upload,termination,checksum,expiration</extension><http_method_override></http_method_override></tus_support></files>` +
	`<files_sharing><api_enabled></api_enabled></files_sharing></capabilities>`

func TestCapabilities(t *testing.T) {
	e := newTUSEnv(t, "")
	for _, c := range []struct {
		path, accept, want string
	}{
		{"/ocs/v1.php/cloud/capabilities?format=json", "", `{"ocs":{"meta":{"status":"ok","statuscode":100,"message":"OK","totalitems":"","itemsperpage":""},"data":` + capsJSON + "}}\n"},
		{"/ocs/v2.php/cloud/capabilities?format=json", "", `{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK","totalitems":"","itemsperpage":""},"data":` + capsJSON + "}}\n"},
		{"/ocs/v2.php/cloud/capabilities", "application/json", `{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK","totalitems":"","itemsperpage":""},"data":` + capsJSON + "}}\n"},
		{"/ocs/v1.php/cloud/capabilities", "", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ocs><meta><status>ok</status><statuscode>100</statuscode><message>OK</message><totalitems></totalitems><itemsperpage></itemsperpage></meta><data>` + capsXML + "</data></ocs>\n"},
		{"/ocs/v2.php/cloud/capabilities?format=xml", "application/json", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ocs><meta><status>ok</status><statuscode>200</statuscode><message>OK</message><totalitems></totalitems><itemsperpage></itemsperpage></meta><data>` + capsXML + "</data></ocs>\n"},
	} {
		for _, user := range []string{"", "-"} { // logged in, and anonymous
			hdr := map[string]string{}
			if c.accept != "" {
				hdr["Accept"] = c.accept
			}
			if got := e.must(http.StatusOK, req{method: "GET", path: c.path, user: user, hdr: hdr}); got != c.want {
				t.Errorf("GET %s (user %q):\n%s\nwant\n%s", c.path, user, got, c.want)
			}
		}
	}
	// Wrong credentials are refused, in OCS's envelope.
	got := e.must(http.StatusUnauthorized, req{method: "GET", path: "/ocs/v1.php/cloud/capabilities?format=json", user: alice, pass: "wrong"})
	if want := `{"ocs":{"meta":{"status":"failure","statuscode":997,"message":"Unauthorised","totalitems":"","itemsperpage":""},"data":[]}}` + "\n"; got != want {
		t.Errorf("wrong password: %s", got)
	}
}

// TestCapabilitiesTellTheTruth: what the capabilities leave out is what
// the server does not do: without TUS no tus_support, without revisions
// no versioning.
func TestCapabilitiesTellTheTruth(t *testing.T) {
	e := newEnv(t)
	got := e.must(http.StatusOK, req{method: "GET", path: "/ocs/v2.php/cloud/capabilities?format=json"})
	if strings.Contains(got, "tus_support") {
		t.Errorf("a server without TUS advertises it: %s", got)
	}
	if !strings.Contains(got, `"versioning":true`) {
		t.Errorf("versions not advertised: %s", got)
	}
}

func TestCloudUser(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "12345")
	want := `{"ocs":{"meta":{"status":"ok","statuscode":100,"message":"OK","totalitems":"","itemsperpage":""},` +
		`"data":{"id":"alice","display-name":"alice","displayname":"alice","email":null,"enabled":true,` +
		`"quota":{"free":-3,"used":5,"total":-3,"relative":0,"quota":-3}}}}` + "\n"
	if got := e.must(http.StatusOK, req{method: "GET", path: "/ocs/v1.php/cloud/user?format=json"}); got != want {
		t.Errorf("cloud/user:\n%s\nwant\n%s", got, want)
	}
	if _, err := e.fs.SetQuota(context.Background(), aliceSpace, 1000); err != nil {
		t.Fatal(err)
	}
	want = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ocs><meta><status>ok</status><statuscode>200</statuscode><message>OK</message><totalitems></totalitems><itemsperpage></itemsperpage></meta>` +
		`<data><id>alice</id><display-name>alice</display-name><displayname>alice</displayname><email></email><enabled>1</enabled>` +
		`<quota><free>995</free><used>5</used><total>1000</total><relative>0.5</relative><quota>1000</quota></quota></data></ocs>` + "\n"
	if got := e.must(http.StatusOK, req{method: "GET", path: "/ocs/v2.php/cloud/user"}); got != want {
		t.Errorf("cloud/user with a quota:\n%s\nwant\n%s", got, want)
	}
	// Who am I needs a login: OCS v2 says 401 in the envelope too.
	got := e.must(http.StatusUnauthorized, req{method: "GET", path: "/ocs/v2.php/cloud/user?format=json", user: "-"})
	if want := `{"ocs":{"meta":{"status":"failure","statuscode":401,"message":"Unauthorised","totalitems":"","itemsperpage":""},"data":[]}}` + "\n"; got != want {
		t.Errorf("anonymous cloud/user: %s", got)
	}
	// bob sees bob (and gets a personal space on the way).
	if got := e.must(http.StatusOK, req{method: "GET", path: "/ocs/v1.php/cloud/user?format=json", user: bob, pass: bobPW}); !strings.Contains(got, `"id":"bob"`) {
		t.Errorf("bob's cloud/user: %s", got)
	}
}

// TestPutAnswerHeaders: after a PUT the clients read the entity tag, the
// file id, the checksum, the mtime and the permissions from the answer,
// instead of a PROPFIND per file (owncloudcmd logs "Missing permissions"
// and asks when OC-Perm is missing).
func TestPutAnswerHeaders(t *testing.T) {
	e := newEnv(t)
	resp := e.do(req{method: "PUT", path: home + "/a.txt", body: "hello", hdr: map[string]string{"X-OC-Mtime": "1700000000"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	ri, err := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("hello"))
	for k, want := range map[string]string{
		"ETag":        ri.Etag,
		"OC-ETag":     ri.Etag,
		"OC-FileId":   aliceSpace + "!" + ri.ID,
		"OC-Checksum": "SHA1:" + hex.EncodeToString(sum[:]),
		"X-OC-MTime":  "accepted",
		"OC-Perm":     "RDNVW",
	} {
		if got := resp.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("PUT answer header %s: %q, want %q", k, got, want)
		}
	}
	// An editor who may not share gets what PROPFIND tells him.
	e.mkcol(home + "/shared")
	e.addUser("carol")
	if _, err := e.fs.AddGrant(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/shared"},
		decomposedfs.GrantSpec{Grantee: "user:carol", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	resp = e.do(as("carol", req{method: "PUT", path: "/dav/spaces/" + aliceSpace + "/shared/c.txt", body: "c"}))
	resp.Body.Close()
	if got := resp.Header.Get("OC-Perm"); resp.StatusCode != http.StatusCreated || got != "DNVW" {
		t.Errorf("editor's PUT: %d, OC-Perm %q, want DNVW", resp.StatusCode, got)
	}
}

// TestTUSPathFilename: owncloudcmd POSTs every upload to the root of the
// user's files, with the path of the file (relative to that URL) as the
// filename; it reads OC-Perm from the answer that commits the file.
func TestTUSPathFilename(t *testing.T) {
	e := newTUSEnv(t, "")
	e.mkcol(home + "/big")
	content := "the content of a big file"
	sum := sha1.Sum([]byte(content))
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("/big/big file 0 ü.bin")) +
		",checksum " + base64.StdEncoding.EncodeToString([]byte("SHA1 "+hex.EncodeToString(sum[:])))
	resp := e.do(req{method: "POST", path: "/remote.php/dav/files/alice/", body: content, hdr: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": "25", "Upload-Metadata": meta,
		"Content-Type": "application/offset+octet-stream", "X-OC-Mtime": "1700000000",
	}})
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("TUS POST with a path filename: %d %s", resp.StatusCode, body)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/big/big%20file%200%20%C3%BC.bin"}); got != content {
		t.Errorf("content %q", got)
	}
	ri, err := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/big/big file 0 ü.bin"})
	if err != nil {
		t.Fatal(err)
	}
	if ri.Mtime.Unix() != 1700000000 {
		t.Errorf("mtime %v: X-OC-Mtime ignored", ri.Mtime)
	}
	for k, want := range map[string]string{"OC-Perm": "RDNVW", "OC-FileId": aliceSpace + "!" + ri.ID, "OC-ETag": ri.Etag, "X-OC-MTime": "accepted"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	// A path that climbs, or has empty segments, is refused; nothing stored.
	before := e.snap()
	for _, bad := range []string{"/big/../x", "big//x", "/", "big/./x"} {
		resp := e.do(req{method: "POST", path: "/remote.php/dav/files/alice/", hdr: map[string]string{
			"Tus-Resumable": "1.0.0", "Upload-Length": "0", "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte(bad)),
		}})
		if b := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("filename %q: %d %s", bad, resp.StatusCode, b)
		}
	}
	e.sameAs(before, "bad TUS filenames")
	// A missing folder is a conflict, as for PUT.
	resp = e.do(req{method: "POST", path: "/remote.php/dav/files/alice/", hdr: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": "0", "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("/nope/x")),
	}})
	if b := readAll(t, resp); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusConflict {
		t.Errorf("TUS into a missing folder: %d %s", resp.StatusCode, b)
	}
}

// TestBasePath: under a sub-path, with the prefix or without it (a proxy
// that strips it), every URL in an answer carries the prefix.
func TestBasePath(t *testing.T) {
	e := newTUSEnv(t, "/cloud")
	e.put("/cloud/remote.php/webdav/a", "x")
	e.put("/remote.php/webdav/b", "y")
	for _, p := range []string{"/cloud/remote.php/dav/files/alice/", "/remote.php/dav/files/alice/"} {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: p, hdr: map[string]string{"Depth": "1"}})
		for _, href := range []string{"/cloud/remote.php/dav/files/alice/", "/cloud/remote.php/dav/files/alice/a", "/cloud/remote.php/dav/files/alice/b"} {
			if !strings.Contains(body, "<d:href>"+href+"</d:href>") {
				t.Errorf("PROPFIND %s: no href %s:\n%s", p, href, body)
			}
		}
	}
	for _, p := range []string{"/cloud/status.php", "/cloud/ocs/v1.php/cloud/capabilities?format=json"} {
		e.must(http.StatusOK, req{method: "GET", path: p, user: "-"})
	}
	// A Destination with the prefix.
	e.must(http.StatusCreated, req{method: "MOVE", path: "/cloud/remote.php/webdav/a", hdr: map[string]string{"Destination": e.srv.URL + "/cloud/remote.php/webdav/c"}})
	// TUS: its Location carries the prefix, and works with and without.
	resp := e.do(req{method: "POST", path: "/cloud/remote.php/dav/files/alice/", hdr: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": "3", "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("t")),
	}})
	readAll(t, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, e.srv.URL+"/cloud/dav/uploads/") {
		t.Fatalf("TUS POST: %d, Location %q", resp.StatusCode, loc)
	}
	id := strings.TrimPrefix(loc, e.srv.URL+"/cloud/dav/uploads/")
	e.must(http.StatusNoContent, req{method: "PATCH", path: "/dav/uploads/" + id, body: "abc", hdr: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}})
	if got := e.must(http.StatusOK, req{method: "GET", path: "/cloud/remote.php/webdav/t"}); got != "abc" {
		t.Errorf("TUS upload: %q", got)
	}
}

func TestBasePathValidate(t *testing.T) {
	for _, bad := range []string{"cloud", "/cloud/", "/a b", "/dav", "/remote.php", "/a//b", "/a/%2F"} {
		o := server.DefaultOptions()
		o.Auth = nopAuth{}
		o.BasePath = bad
		if err := o.Validate(); err == nil {
			t.Errorf("BasePath %q accepted", bad)
		}
	}
}

type nopAuth struct{}

func (nopAuth) Authenticate(*http.Request) (string, bool, error) { return "", false, nil }
func (nopAuth) Groups(string) ([]string, error)                  { return nil, nil }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTUSIfMatch: owncloudcmd sends the etag of the file it replaces with
// its TUS creation. Before, it was ignored, and an upload overwrote a
// version another client had stored meanwhile (seen with two clients on
// one account: the other client's edit vanished from the file).
func TestTUSIfMatch(t *testing.T) {
	e := newTUSEnv(t, "")
	e.put(home+"/f", "v1")
	ri, _ := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	v1 := ri.Etag
	e.put(home+"/f", "v2 of another client")
	post := func(etag, body string, length int) *http.Response {
		return e.do(req{method: "POST", path: "/remote.php/dav/files/alice/", body: body, hdr: map[string]string{
			"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(length), "If-Match": etag,
			"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("/f")),
			"Content-Type":    "application/offset+octet-stream",
		}})
	}
	resp := post(v1, "mine", 4)
	if body := readAll(t, resp); resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("TUS creation with a stale If-Match: %d %s", resp.StatusCode, body)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "v2 of another client" {
		t.Fatalf("content %q", got)
	}
	// The condition holds at creation, but the file changes before the
	// last chunk: the commit is refused, the other version stays.
	ri, _ = e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	resp = post(ri.Etag, "mi", 4)
	readAll(t, resp)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creation: %d", resp.StatusCode)
	}
	loc := strings.TrimPrefix(resp.Header.Get("Location"), e.srv.URL)
	e.put(home+"/f", "v3 of another client")
	st, body := e.status(req{method: "PATCH", path: loc, body: "ne", hdr: map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": "2", "Content-Type": "application/offset+octet-stream"}})
	if st != http.StatusPreconditionFailed {
		t.Errorf("last chunk after the file changed: %d %s", st, body)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "v3 of another client" {
		t.Errorf("content %q", got)
	}
	// With the current etag it goes through.
	ri, _ = e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/f"})
	resp = post(ri.Etag, "mine", 4)
	if body := readAll(t, resp); resp.StatusCode != http.StatusCreated {
		t.Fatalf("TUS creation with the current If-Match: %d %s", resp.StatusCode, body)
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "mine" {
		t.Errorf("content %q", got)
	}
}
