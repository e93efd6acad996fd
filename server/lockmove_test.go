package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// Locks belong to URLs, not to resources (RFC 4918, 7 and 7.7): a MOVE or
// COPY onto a locked destination puts the new resource under the
// destination's lock, a MOVE leaves its source's lock behind (where its URL
// is unmapped, so the lock goes), and what is moved into a folder with a
// depth-infinity lock is covered by it.

// tagged is an If header as neon (davfs2, cadaver) writes it: one tagged
// list per lock, with the resource's absolute URL.
func (e *env) tagged(pairs ...string) map[string]string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("<" + e.srv.URL + pairs[i] + "> (<" + pairs[i+1] + ">) ")
	}
	return map[string]string{"If": strings.TrimSpace(b.String())}
}

func untagged(tok string) map[string]string { return map[string]string{"If": "(<" + tok + ">)"} }

func withHdr(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// lockTokensOf returns the lock tokens PROPFIND's lockdiscovery shows on a
// resource.
func (e *env) lockTokensOf(path string) string {
	e.t.Helper()
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: path, hdr: map[string]string{"Depth": "0"}, body: propfindBody("<d:lockdiscovery/>")})
	return parseMS(e.t.(*testing.T), body).Responses[0].value(e.t.(*testing.T), "DAV:", "lockdiscovery")
}

// The sequence davfs2 (1.6) sends for `sed -i s/one/ONE/ f.txt` in a mount:
// the rename of sed's temp file onto the locked f.txt keeps f.txt's lock,
// so that the refresh, the PUT and the UNLOCK that follow succeed and the
// content is what sed wrote. Before, the lock vanished with the replaced
// node: the refresh and the PUT answered 412, the UNLOCK 409, and davfs2
// left the file empty.
func TestDavfs2SedKeepsTheLock(t *testing.T) {
	e := newEnv(t)
	f, tmp := home+"/f.txt", home+"/sedAbC123"
	e.put(f, "one two\n")
	a := e.lock(f, "exclusive", "0", http.StatusOK)
	b := e.lock(tmp, "exclusive", "0", http.StatusCreated)
	e.must(http.StatusNoContent, req{method: "PUT", path: tmp, body: "ONE two\n", hdr: e.tagged(tmp, b)})
	e.must(http.StatusNoContent, req{method: "MOVE", path: tmp, hdr: withHdr(e.tagged(f, a, tmp, b),
		"Destination", e.srv.URL+f, "Overwrite", "T")})
	// f.txt is sed's file now, still under lock A.
	if got := e.must(http.StatusOK, req{method: "GET", path: f}); got != "ONE two\n" {
		t.Fatalf("after the MOVE f.txt holds %q", got)
	}
	e.must(http.StatusOK, req{method: "LOCK", path: f, hdr: withHdr(untagged(a), "Timeout", "Second-300")})
	e.must(http.StatusLocked, req{method: "PUT", path: f, body: "stranger\n"})
	e.must(http.StatusNoContent, req{method: "PUT", path: f, body: "ONE two\n", hdr: e.tagged(f, a)})
	if v := e.lockTokensOf(f); !strings.Contains(v, a) || strings.Contains(v, b) {
		t.Errorf("lockdiscovery of f.txt: %s; want lock A only", v)
	}
	e.must(http.StatusNoContent, req{method: "UNLOCK", path: f, hdr: map[string]string{"Lock-Token": "<" + a + ">"}})
	// Lock B went with its URL; A is gone now.
	e.must(http.StatusNotFound, req{method: "UNLOCK", path: tmp, hdr: map[string]string{"Lock-Token": "<" + b + ">"}})
	e.must(http.StatusConflict, req{method: "UNLOCK", path: f, hdr: map[string]string{"Lock-Token": "<" + b + ">"}})
	e.must(http.StatusNoContent, req{method: "PUT", path: f, body: "ONE two three\n"})
	if got := e.must(http.StatusOK, req{method: "GET", path: f}); got != "ONE two three\n" {
		t.Fatalf("f.txt holds %q", got)
	}
	// sed's temp name is free, and no lock of it comes back.
	e.must(http.StatusCreated, req{method: "PUT", path: tmp, body: "new"})
	e.must(http.StatusNoContent, req{method: "DELETE", path: tmp})
}

// A COPY onto a locked destination, with its token, puts the copy under
// the destination's lock.
func TestCopyOntoLockedDestination(t *testing.T) {
	e := newEnv(t)
	src, dst := home+"/src.txt", home+"/dst.txt"
	e.put(src, "source")
	e.put(dst, "destination")
	a := e.lock(dst, "exclusive", "0", http.StatusOK)
	e.must(http.StatusLocked, req{method: "COPY", path: src, hdr: map[string]string{"Destination": e.srv.URL + dst}})
	e.must(http.StatusNoContent, req{method: "COPY", path: src, hdr: withHdr(e.tagged(dst, a), "Destination", e.srv.URL+dst)})
	if got := e.must(http.StatusOK, req{method: "GET", path: dst}); got != "source" {
		t.Fatalf("the copy holds %q", got)
	}
	e.must(http.StatusLocked, req{method: "PUT", path: dst, body: "x"})
	e.must(http.StatusNoContent, req{method: "PUT", path: dst, body: "changed", hdr: untagged(a)})
	e.must(http.StatusOK, req{method: "LOCK", path: dst, hdr: untagged(a)})
	if v := e.lockTokensOf(dst); !strings.Contains(v, a) {
		t.Errorf("lockdiscovery of the copy: %s; want lock %s", v, a)
	}
	// The source was not locked by any of this.
	e.must(http.StatusNoContent, req{method: "PUT", path: src, body: "free"})
	e.must(http.StatusNoContent, req{method: "UNLOCK", path: dst, hdr: map[string]string{"Lock-Token": "<" + a + ">"}})
	e.must(http.StatusNoContent, req{method: "PUT", path: dst, body: "unlocked"})

	// A folder copied onto a locked folder: the lock covers the copy's
	// root (depth 0 lock: not what is below it).
	e.mkcol(home + "/d1")
	e.put(home+"/d1/in", "in")
	e.mkcol(home + "/d2")
	d := e.lock(home+"/d2", "exclusive", "0", http.StatusOK)
	e.must(http.StatusNoContent, req{method: "COPY", path: home + "/d1", hdr: withHdr(e.tagged(home+"/d2", d), "Destination", e.srv.URL+home+"/d2")})
	e.must(http.StatusLocked, req{method: "DELETE", path: home + "/d2"})
	e.must(http.StatusNoContent, req{method: "PUT", path: home + "/d2/in", body: "in2"})
	e.must(http.StatusNoContent, req{method: "UNLOCK", path: home + "/d2", hdr: map[string]string{"Lock-Token": "<" + d + ">"}})
}

// A MOVE does not take its source's lock along: the moved resource is not
// locked at its new URL, the lock is gone, and the source URL is free.
func TestMoveOfLockedSource(t *testing.T) {
	e := newEnv(t)
	a := home + "/a.txt"
	e.put(a, "a")
	tok := e.lock(a, "exclusive", "0", http.StatusOK)
	e.must(http.StatusLocked, req{method: "MOVE", path: a, hdr: map[string]string{"Destination": e.srv.URL + home + "/b.txt"}})
	e.must(http.StatusCreated, req{method: "MOVE", path: a, hdr: withHdr(untagged(tok), "Destination", e.srv.URL+home+"/b.txt")})
	e.must(http.StatusNoContent, req{method: "PUT", path: home + "/b.txt", body: "b"})
	if v := e.lockTokensOf(home + "/b.txt"); strings.Contains(v, tok) {
		t.Errorf("the lock moved with its resource: %s", v)
	}
	e.must(http.StatusConflict, req{method: "UNLOCK", path: home + "/b.txt", hdr: map[string]string{"Lock-Token": "<" + tok + ">"}})
	// A new resource at the old URL is not under the old lock.
	e.must(http.StatusCreated, req{method: "PUT", path: a, body: "new a"})
	e.must(http.StatusNoContent, req{method: "PUT", path: a, body: "newer a"})

	// The same for a locked folder with a locked file inside: both locks
	// stay behind and go.
	e.mkcol(home + "/src")
	e.put(home+"/src/in", "in")
	dl := e.lock(home+"/src", "exclusive", "infinity", http.StatusOK)
	e.must(http.StatusCreated, req{method: "MOVE", path: home + "/src", hdr: withHdr(untagged(dl), "Destination", e.srv.URL+home+"/moved")})
	e.must(http.StatusNoContent, req{method: "PUT", path: home + "/moved/in", body: "free"})
	e.must(http.StatusCreated, req{method: "MKCOL", path: home + "/src"})
	e.must(http.StatusCreated, req{method: "PUT", path: home + "/src/in", body: "free too"})
}

// What is moved into a folder with a depth-infinity lock is under that
// lock at its new URL; moving it there needs the lock's token.
func TestMoveIntoDeepLockedFolder(t *testing.T) {
	e := newEnv(t)
	e.mkcol(home + "/locked")
	e.put(home+"/x.txt", "x")
	e.mkcol(home + "/sub")
	e.put(home+"/sub/y", "y")
	tok := e.lock(home+"/locked", "exclusive", "infinity", http.StatusOK)
	e.must(http.StatusLocked, req{method: "MOVE", path: home + "/x.txt", hdr: map[string]string{"Destination": e.srv.URL + home + "/locked/x.txt"}})
	e.must(http.StatusCreated, req{method: "MOVE", path: home + "/x.txt", hdr: withHdr(e.tagged(home+"/locked", tok), "Destination", e.srv.URL+home+"/locked/x.txt")})
	e.must(http.StatusCreated, req{method: "MOVE", path: home + "/sub", hdr: withHdr(e.tagged(home+"/locked", tok), "Destination", e.srv.URL+home+"/locked/sub")})
	for _, p := range []string{home + "/locked/x.txt", home + "/locked/sub/y"} {
		e.must(http.StatusLocked, req{method: "PUT", path: p, body: "stranger"})
		e.must(http.StatusNoContent, req{method: "PUT", path: p, body: "mine", hdr: untagged(tok)})
		if v := e.lockTokensOf(p); !strings.Contains(v, tok) {
			t.Errorf("lockdiscovery of %s: %s; want the folder's lock", p, v)
		}
	}
	// Moved out again (with the token), it is free.
	e.must(http.StatusCreated, req{method: "MOVE", path: home + "/locked/x.txt", hdr: withHdr(untagged(tok), "Destination", e.srv.URL+home+"/out.txt")})
	e.must(http.StatusNoContent, req{method: "PUT", path: home + "/out.txt", body: "free"})
	// The folder's lock itself is still there.
	e.must(http.StatusOK, req{method: "LOCK", path: home + "/locked", hdr: untagged(tok)})
}
