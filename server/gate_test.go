package server_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3dfs/s3dfs/server"
)

// gateErr is a closed write gate's error, as the volume probe gives one:
// details for the log, a summary for clients.
type gateErr struct{}

func (gateErr) Error() string {
	return "volprobe: the metadata volume is not safe for writes: staleness: process on host-b (root /srv/secret) ..."
}
func (gateErr) Summary() string {
	return "the metadata volume is not safe for writes (failed: staleness)"
}

func TestWriteGateRefusesWritesAndReadyz(t *testing.T) {
	var closed atomic.Bool
	var mounted atomic.Int32
	e := newEnv(t, func(o *server.Options) {
		o.WriteGate = func() error {
			if closed.Load() {
				return gateErr{}
			}
			return nil
		}
		o.Extensions = []server.Extension{&fakeTUS{}}
		o.Mounts = map[string]http.Handler{"/dav/uploads/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mounted.Add(1)
			w.WriteHeader(http.StatusNoContent)
		})}
	})
	e.put(home+"/f", "old")
	e.mkcol(home + "/dir")
	closed.Store(true)

	lock := `<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>`
	patch := `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><x xmlns="urn:x">1</x></d:prop></d:set></d:propertyupdate>`
	for _, r := range []req{
		{method: "PUT", path: home + "/f", body: "new"},
		{method: "PUT", path: home + "/g", body: "new"},
		{method: "MKCOL", path: home + "/newdir"},
		{method: "DELETE", path: home + "/f"},
		{method: "MOVE", path: home + "/f", hdr: map[string]string{"Destination": e.srv.URL + home + "/moved"}},
		{method: "COPY", path: home + "/f", hdr: map[string]string{"Destination": e.srv.URL + home + "/copied"}},
		{method: "PROPPATCH", path: home + "/f", body: patch},
		{method: "LOCK", path: home + "/f", body: lock},
		{method: "POST", path: home + "/dir", hdr: map[string]string{"Tus-Resumable": "1.0.0"}},
		{method: "PATCH", path: "/dav/uploads/123"},
		{method: "MKCOL", path: "/remote.php/dav/uploads/" + alice + "/t1"},
		{method: "DELETE", path: "/dav/trash-bin/" + alice + "/x"},
	} {
		resp := e.do(r)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s %s with the gate closed: %d, want 503", r.method, r.path, resp.StatusCode)
			continue
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", r.method, r.path)
		}
		if !strings.Contains(body, "writes are refused: the metadata volume is not safe for writes (failed: staleness)") || strings.Contains(body, "/srv/secret") {
			t.Errorf("%s %s: body %q; want the summary, without the details", r.method, r.path, body)
		}
	}
	if mounted.Load() != 0 {
		t.Errorf("a refused write reached the mounted handler")
	}
	// Unauthenticated writes are still told to log in first.
	e.must(http.StatusUnauthorized, req{method: "PUT", path: home + "/f", body: "x", user: "-"})
	// Reads go on, and see that nothing changed.
	if got := e.must(http.StatusOK, req{method: "GET", path: home + "/f"}); got != "old" {
		t.Errorf("GET after refused writes: %q", got)
	}
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "1"}})
	e.must(http.StatusNotFound, req{method: "GET", path: home + "/g"})
	if got := e.must(http.StatusServiceUnavailable, req{method: "GET", path: "/readyz", user: "-"}); got != "not ready: the metadata volume is not safe for writes (failed: staleness)\n" {
		t.Errorf("readyz body %q", got)
	}
	if !strings.Contains(e.logs.String(), "/srv/secret") {
		t.Errorf("the details of a refusal are not in the log")
	}

	// The gate opens: writes resume.
	closed.Store(false)
	e.must(http.StatusNoContent, req{method: "PUT", path: home + "/f", body: "new"})
	e.must(http.StatusOK, req{method: "GET", path: "/readyz", user: "-"})
	e.must(http.StatusNoContent, req{method: "PATCH", path: "/dav/uploads/123"})
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
