package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const lockBody = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:%s/></D:lockscope>` +
	`<D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.com</D:href></D:owner></D:lockinfo>`

func lockinfo(scope string) string { return strings.Replace(lockBody, "%s", scope, 1) }

// lock takes a lock and returns its token.
func (e *env) lock(path, scope, depth string, want int) string {
	e.t.Helper()
	resp := e.do(req{method: "LOCK", path: path, body: lockinfo(scope), hdr: map[string]string{"Depth": depth, "Timeout": "Second-600"}})
	resp.Body.Close()
	if resp.StatusCode != want {
		e.t.Fatalf("LOCK %s: %d, want %d", path, resp.StatusCode, want)
	}
	tok := resp.Header.Get("Lock-Token")
	if want < 300 && !regexp.MustCompile(`^<opaquelocktoken:[0-9a-f-]{36}>$`).MatchString(tok) {
		e.t.Fatalf("Lock-Token %q", tok)
	}
	return strings.Trim(tok, "<>")
}

func TestLocks(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "x")
	e.mkcol(home + "/coll")
	e.put(home+"/coll/inner", "i")

	tok := e.lock(home+"/f", "exclusive", "0", http.StatusOK)
	ifTok := map[string]string{"If": "(<" + tok + ">)"}

	t.Run("discovery", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/f", hdr: map[string]string{"Depth": "0"}, body: propfindBody("<d:lockdiscovery/>")})
		v := parseMS(t, body).Responses[0].value(t, "DAV:", "lockdiscovery")
		for _, want := range []string{tok, "exclusive", "<D:href>mailto:alice@example.com</D:href>", "Second-", home + "/f"} {
			if !strings.Contains(strings.ReplaceAll(v, `<href xmlns="DAV:">`, "<D:href>"), strings.ReplaceAll(want, "</D:href>", "")) {
				t.Errorf("lockdiscovery lacks %q:\n%s", want, v)
			}
		}
	})
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"put without token", req{method: "PUT", path: home + "/f", body: "y"}, http.StatusLocked},
		{"delete without token", req{method: "DELETE", path: home + "/f"}, http.StatusLocked},
		{"move without token", req{method: "MOVE", path: home + "/f", hdr: map[string]string{"Destination": home + "/g"}}, http.StatusLocked},
		{"proppatch without token", req{method: "PROPPATCH", path: home + "/f", body: `<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:a">1</a></prop></set></propertyupdate>`}, http.StatusLocked},
		{"copy onto without token", req{method: "COPY", path: home + "/coll/inner", hdr: map[string]string{"Destination": home + "/f"}}, http.StatusLocked},
		{"second exclusive lock", req{method: "LOCK", path: home + "/f", body: lockinfo("exclusive")}, http.StatusLocked},
		{"shared lock on exclusive", req{method: "LOCK", path: home + "/f", body: lockinfo("shared")}, http.StatusLocked},
		{"bogus token", req{method: "PUT", path: home + "/f", body: "y", hdr: map[string]string{"If": "(<opaquelocktoken:00000000-0000-4000-8000-000000000000>)"}}, http.StatusPreconditionFailed},
		{"corrupt token with Not", req{method: "PUT", path: home + "/f", body: "y", hdr: map[string]string{"If": "(<" + tok + "x>) (Not <DAV:no-lock>)"}}, http.StatusLocked},
		{"no-lock", req{method: "PUT", path: home + "/f", body: "y", hdr: map[string]string{"If": "(<DAV:no-lock>)"}}, http.StatusPreconditionFailed},
		{"malformed If", req{method: "PUT", path: home + "/f", body: "y", hdr: map[string]string{"If": "(<" + tok}}, http.StatusBadRequest},
		{"token and wrong etag", req{method: "PUT", path: home + "/f", body: "y", hdr: map[string]string{"If": "(<" + tok + `> ["nope"])`}}, http.StatusPreconditionFailed},
		{"put with token", req{method: "PUT", path: home + "/f", body: "y", hdr: ifTok}, http.StatusNoContent},
		{"tagged list", req{method: "PUT", path: home + "/f", body: "z", hdr: map[string]string{"If": "<" + e.srv.URL + home + "/f> (<" + tok + ">)"}}, http.StatusNoContent},
		{"token with Not no-lock", req{method: "PUT", path: home + "/f", body: "z", hdr: map[string]string{"If": "(<" + tok + ">) (Not <DAV:no-lock>)"}}, http.StatusNoContent},
		{"refresh", req{method: "LOCK", path: home + "/f", hdr: map[string]string{"If": "(<" + tok + ">)", "Timeout": "Second-100"}}, http.StatusOK},
		{"refresh without token", req{method: "LOCK", path: home + "/f"}, http.StatusBadRequest},
		{"refresh with a foreign token", req{method: "LOCK", path: home + "/coll", hdr: map[string]string{"If": "<" + home + "/f> (<" + tok + ">)"}}, http.StatusPreconditionFailed},
		{"unlock wrong token", req{method: "UNLOCK", path: home + "/f", hdr: map[string]string{"Lock-Token": "<opaquelocktoken:00000000-0000-4000-8000-000000000000>"}}, http.StatusConflict},
		{"unlock without token", req{method: "UNLOCK", path: home + "/f"}, http.StatusBadRequest},
		{"unlock missing resource", req{method: "UNLOCK", path: home + "/nope", hdr: map[string]string{"Lock-Token": "<" + tok + ">"}}, http.StatusNotFound},
		{"lock depth 1", req{method: "LOCK", path: home + "/coll", body: lockinfo("exclusive"), hdr: map[string]string{"Depth": "1"}}, http.StatusBadRequest},
		{"lock bad body", req{method: "LOCK", path: home + "/coll", body: `<lockinfo xmlns="DAV:"><locktype><write/></locktype></lockinfo>`}, http.StatusBadRequest},
		{"lock in a missing folder", req{method: "LOCK", path: home + "/no/such", body: lockinfo("exclusive")}, http.StatusConflict},
		{"unlock", req{method: "UNLOCK", path: home + "/f", hdr: map[string]string{"Lock-Token": "<" + tok + ">"}}, http.StatusNoContent},
		{"put after unlock", req{method: "PUT", path: home + "/f", body: "w"}, http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := e.status(tc.r); got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
		})
	}

	t.Run("shared", func(t *testing.T) {
		t1 := e.lock(home+"/f", "shared", "0", http.StatusOK)
		t2 := e.lock(home+"/f", "shared", "0", http.StatusOK)
		e.must(http.StatusLocked, req{method: "PUT", path: home + "/f", body: "v"})
		// The driver wants a token of every lock in the way, shared ones
		// included (RFC 4918 would let one shared lock's token do).
		e.must(http.StatusNoContent, req{method: "PUT", path: home + "/f", body: "v", hdr: map[string]string{"If": "(<" + t1 + ">) (<" + t2 + ">)"}})
		e.must(http.StatusNoContent, req{method: "UNLOCK", path: home + "/f", hdr: map[string]string{"Lock-Token": "<" + t1 + ">"}})
		e.must(http.StatusNoContent, req{method: "UNLOCK", path: home + "/f", hdr: map[string]string{"Lock-Token": "<" + t2 + ">"}})
	})
	t.Run("deep lock on a collection", func(t *testing.T) {
		ct := e.lock(home+"/coll", "exclusive", "infinity", http.StatusOK)
		e.must(http.StatusLocked, req{method: "PUT", path: home + "/coll/inner", body: "v"})
		e.must(http.StatusLocked, req{method: "PUT", path: home + "/coll/new", body: "v"})
		e.must(http.StatusLocked, req{method: "DELETE", path: home + "/coll"})
		e.must(http.StatusCreated, req{method: "PUT", path: home + "/coll/new", body: "v", hdr: map[string]string{"If": "(<" + ct + ">)"}})
		e.must(http.StatusCreated, req{method: "PUT", path: home + "/coll/new2", body: "v", hdr: map[string]string{"If": "<" + home + "/coll/> (<" + ct + ">)"}})
		// Refresh through a member (indirect).
		body := e.must(http.StatusOK, req{method: "LOCK", path: home + "/coll/inner", hdr: map[string]string{"If": "(<" + ct + ">)"}})
		if !strings.Contains(body, ct) || !strings.Contains(body, "<d:lockroot><d:href>"+home+"/coll/</d:href>") {
			t.Errorf("indirect refresh answer:\n%s", body)
		}
		// A copy does not take the lock along.
		e.must(http.StatusCreated, req{method: "COPY", path: home + "/coll", hdr: map[string]string{"Destination": home + "/coll-copy"}})
		pf := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/coll-copy", hdr: map[string]string{"Depth": "0"}, body: propfindBody("<d:lockdiscovery/>")})
		if strings.Contains(pf, "activelock") {
			t.Errorf("the copy is locked:\n%s", pf)
		}
		e.must(http.StatusNoContent, req{method: "UNLOCK", path: home + "/coll/inner", hdr: map[string]string{"Lock-Token": "<" + ct + ">"}})
		e.must(http.StatusNoContent, req{method: "DELETE", path: home + "/coll"})
	})
	t.Run("unmapped URL", func(t *testing.T) {
		ut := e.lock(home+"/unmapped", "exclusive", "0", http.StatusCreated)
		if got := e.must(http.StatusOK, req{method: "GET", path: home + "/unmapped"}); got != "" {
			t.Errorf("locked unmapped URL holds %q", got)
		}
		e.must(http.StatusCreated, req{method: "MOVE", path: home + "/unmapped", hdr: map[string]string{"Destination": home + "/mapped", "If": "(<" + ut + ">)"}})
		// Locks do not move with their resource.
		e.must(http.StatusNoContent, req{method: "PUT", path: home + "/mapped", body: "free"})
	})
}
