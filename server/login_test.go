package server_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/auth"
)

// TestLoginThrottle: wrong passwords for a user answer 401 until the
// user name has failed auth.DefaultOptions().UserFailures times; then 429
// with Retry-After, the right password too (it is not looked at), for a
// user name that does not exist alike; a client whose login checked out
// before is not slowed down. (Every failure here comes from one address,
// whose own limit is higher.)
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.ThrottleDelay = 10 * time.Millisecond })
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"}})
	n := auth.DefaultOptions().UserFailures
	for _, user := range []string{bob, "nobody"} {
		for i := range n {
			if st, _ := e.status(req{method: "PROPFIND", path: "/dav/files/" + user + "/", user: user, pass: "guess"}); st != http.StatusUnauthorized {
				t.Fatalf("%s, wrong password %d: %d, want 401", user, i+1, st)
			}
		}
		for _, pw := range []string{"guess", bobPW} {
			resp := e.do(req{method: "PROPFIND", path: "/dav/files/" + user + "/", user: user, pass: pw})
			resp.Body.Close()
			secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if resp.StatusCode != http.StatusTooManyRequests || err != nil || secs < 1 {
				t.Errorf("%s after %d failures, password %q: %d (Retry-After %q), want 429 with Retry-After", user, n, pw, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
	}
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"}})
}
