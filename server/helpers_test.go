package server_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/auth"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// Test users and their passwords.
const (
	alice, alicePW = "alice", "alice-secret"
	bob, bobPW     = "bob", "bob-secret"
)

// env is a server over a real decomposedfs on a temp root, with the posix
// blob store (wrapped to record what is opened).
type env struct {
	t       testing.TB
	fs      *decomposedfs.FS
	h       *server.Handler
	srv     *httptest.Server
	root    string
	blobDir string
	blobs   *recordingStore
	users   string // users file
	logs    *syncBuffer
}

type envOption func(*server.Options)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	root := t.TempDir()
	blobDir := filepath.Join(root, "blobs")
	ps, err := posix.New(blobDir, posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, root, ps, blobDir, opts...)
}

func newEnvOn(t testing.TB, root string, store blobstore.Store, blobDir string, opts ...envOption) *env {
	t.Helper()
	return newEnvFS(t, root, store, blobDir, nil, opts...)
}

// newEnvFS is newEnvOn with driver options changed by fsOpts (if not nil).
func newEnvFS(t testing.TB, root string, store blobstore.Store, blobDir string, fsOpts func(*decomposedfs.Options), opts ...envOption) *env {
	t.Helper()
	mo := mpk.DefaultOptions(filepath.Join(root, "meta"))
	mo.CacheBytes = 8 << 20
	meta, err := mpk.New(mo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	rec := &recordingStore{Store: store}
	var blobs blobstore.Store = rec
	if mp, ok := store.(blobstore.Multiparter); ok {
		// Resumable and chunked uploads need multipart uploads.
		blobs = recordingMultiparter{rec, mp}
	}
	logs := &syncBuffer{}
	log := slog.New(server.NewLogHandler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	fo := decomposedfs.DefaultOptions()
	fo.Logger = log
	if fsOpts != nil {
		fsOpts(&fo)
	}
	fsys, err := decomposedfs.New(meta, blobs, fo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })

	usersPath := filepath.Join(root, "users.json")
	err = auth.NewFile(usersPath).Update(func(u *auth.Users) error {
		if _, ok := u.Users[alice]; ok {
			return nil // a second server on the same root
		}
		if err := u.Add(alice, alicePW, bcrypt.MinCost); err != nil {
			return err
		}
		return u.Add(bob, bobPW, bcrypt.MinCost)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Users added by a test (addUser) count at once, not after a second.
	ao := auth.DefaultOptions()
	ao.ReloadEvery = 0
	authn, err := auth.NewAuthenticator(usersPath, ao)
	if err != nil {
		t.Fatal(err)
	}
	o := server.DefaultOptions()
	o.Auth = authn
	o.Logger = log
	for _, f := range opts {
		f(&o)
	}
	h, err := server.New(fsys, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = o.MaxHeaderBytes
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{t: t, fs: fsys, h: h, srv: srv, root: root, blobDir: blobDir, blobs: rec, users: usersPath, logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return e
}

// addUser adds a user whose password is the name plus "-pw", in groups.
func (e *env) addUser(name string, groups ...string) {
	e.t.Helper()
	err := auth.NewFile(e.users).Update(func(u *auth.Users) error {
		if err := u.Add(name, name+"-pw", bcrypt.MinCost); err != nil {
			return err
		}
		return u.SetGroups(name, groups)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// as is a request option: the request authenticates as a user added with
// addUser.
func as(name string, r req) req {
	r.user, r.pass = name, name+"-pw"
	return r
}

// req is a request to make: method, path (already escaped) and options.
type req struct {
	method string
	path   string
	body   string
	hdr    map[string]string
	user   string // "" for alice; "-" for no credentials
	pass   string
}

func (e *env) do(r req) *http.Response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	// The path goes out as written: escapes and dots are kept (the Go
	// client does not clean paths).
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range r.hdr {
		if k == "Host" {
			hr.Host = v
			continue
		}
		hr.Header.Set(k, v)
	}
	switch r.user {
	case "":
		hr.SetBasicAuth(alice, alicePW)
	case "-":
	default:
		hr.SetBasicAuth(r.user, r.pass)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// status runs a request and returns its status and body.
func (e *env) status(r req) (int, string) {
	e.t.Helper()
	resp := e.do(r)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// must runs a request that must answer want.
func (e *env) must(want int, r req) string {
	e.t.Helper()
	got, body := e.status(r)
	if got != want {
		e.t.Fatalf("%s %s: %d, want %d\n%s", r.method, r.path, got, want, body)
	}
	return body
}

func (e *env) put(path, content string) {
	e.t.Helper()
	got, body := e.status(req{method: "PUT", path: path, body: content})
	if got != http.StatusCreated && got != http.StatusNoContent {
		e.t.Fatalf("PUT %s: %d\n%s", path, got, body)
	}
}

func (e *env) mkcol(path string) {
	e.t.Helper()
	e.must(http.StatusCreated, req{method: "MKCOL", path: path})
}

// aliceSpace is the id of alice's personal space.
var aliceSpace = decomposedfs.PersonalSpaceID(alice)

// names lists a folder of alice's space (nil if it does not exist).
func (e *env) names(p string) []string {
	e.t.Helper()
	l, err := e.fs.ListFolder(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: p})
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range l.Children {
		out = append(out, c.Name)
	}
	return out
}

// blobFiles counts the files in the posix blob directory.
func (e *env) blobFiles() int {
	e.t.Helper()
	n := 0
	filepath.WalkDir(e.blobDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// snapshot is what must not change after a refused request.
type snapshot struct {
	tree  []string
	blobs int
	used  int64
}

// snap lists alice's whole space and counts blobs.
func (e *env) snap() snapshot {
	e.t.Helper()
	var tree []string
	var walk func(p string)
	walk = func(p string) {
		l, err := e.fs.ListFolder(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: p})
		if err != nil {
			return
		}
		for _, c := range l.Children {
			tree = append(tree, c.Path)
			if c.IsDir() {
				walk(c.Path)
			}
		}
	}
	walk("/")
	slices.Sort(tree)
	si, _ := e.fs.GetSpace(context.Background(), aliceSpace)
	var used int64
	if si != nil {
		used = si.Used
	}
	return snapshot{tree: tree, blobs: e.blobFiles(), used: used}
}

func (e *env) sameAs(before snapshot, what string) {
	e.t.Helper()
	after := e.snap()
	if !slices.Equal(before.tree, after.tree) || before.blobs != after.blobs || before.used != after.used {
		e.t.Errorf("%s changed the store: before %+v, after %+v", what, before, after)
	}
}

// ms is a parsed multistatus.
type ms struct {
	Responses []msResponse `xml:"DAV: response"`
}

type msResponse struct {
	Href      string       `xml:"DAV: href"`
	Status    string       `xml:"DAV: status"`
	Propstats []msPropstat `xml:"DAV: propstat"`
}

type msPropstat struct {
	Prop   msProp `xml:"DAV: prop"`
	Status string `xml:"DAV: status"`
}

type msProp struct {
	Props []msAny `xml:",any"`
}

type msAny struct {
	XMLName xml.Name
	Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Inner   string `xml:",innerxml"`
}

func parseMS(t *testing.T, body string) *ms {
	t.Helper()
	var m ms
	if err := xml.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("multistatus does not parse: %v\n%s", err, body)
	}
	return &m
}

// prop finds a property of a response, with its propstat status.
func (r *msResponse) prop(ns, local string) (msAny, string, bool) {
	for _, ps := range r.Propstats {
		for _, p := range ps.Prop.Props {
			if p.XMLName.Space == ns && p.XMLName.Local == local {
				return p, ps.Status, true
			}
		}
	}
	return msAny{}, "", false
}

// value is the inner XML of a property found with status 200.
func (r *msResponse) value(t *testing.T, ns, local string) string {
	t.Helper()
	p, st, ok := r.prop(ns, local)
	if !ok || !strings.Contains(st, " 200 ") {
		t.Fatalf("%s: property {%s}%s: found %v, status %q", r.Href, ns, local, ok, st)
	}
	return p.Inner
}

func propfindBody(props ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>`)
	for _, p := range props {
		b.WriteString(p)
	}
	b.WriteString(`</d:prop></d:propfind>`)
	return b.String()
}

// recordingStore records the ranges a blob store is asked to open.
type recordingStore struct {
	blobstore.Store
	mu    sync.Mutex
	opens [][2]int64
}

func (s *recordingStore) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opens = append(s.opens, [2]int64{offset, length})
	s.mu.Unlock()
	return s.Store.Open(ctx, key, offset, length)
}

func (s *recordingStore) takeOpens() [][2]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opens
	s.opens = nil
	return o
}

// recordingMultiparter is a recordingStore of a store with multipart
// uploads.
type recordingMultiparter struct {
	*recordingStore
	blobstore.Multiparter
}

// brokenStore is a blob store that cannot be reached.
type brokenStore struct{ blobstore.Store }

func (brokenStore) Stat(context.Context, string) (blobstore.Info, error) {
	return blobstore.Info{}, errors.New("connection refused")
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
