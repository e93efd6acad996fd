package cli_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
)

// The serve flags of the request limits reach the server: a stalled body
// answers 408 after --body-idle-timeout, and failed logins from a trusted
// proxy's client count against the client named in X-Forwarded-For.
func TestServeLimitFlags(t *testing.T) {
	cleanStoreEnv(t)
	root := t.TempDir()
	if r := cliRun(t, "pw\n", "user", "add", "--init", "--root", root, "alice"); r.code != 0 {
		t.Fatal(r)
	}
	base, _ := startServe(t, "--init", "--root", root, "--body-idle-timeout", "300ms", "--trusted-proxy", "127.0.0.1")
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /dav/files/alice/stalled HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6cHc=\r\nContent-Length: 100\r\n\r\nten bytes!")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled PUT: no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled PUT: %d, want 408", resp.StatusCode)
	}
	// Failures of one client behind the proxy (for as many user names),
	// until that client is refused; another one behind the same proxy is
	// not: the address is the one X-Forwarded-For names.
	try := func(client, user string) int {
		r, _ := http.NewRequest("PROPFIND", base+"dav/files/"+user+"/", nil)
		r.SetBasicAuth(user, "guess")
		r.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// (The client earns a try every few seconds, which a busy machine may
	// spend on these: hence up to a hundred.)
	n := 0
	for ; n < 100 && try("198.51.100.1", fmt.Sprintf("user%d", n)) == http.StatusUnauthorized; n++ {
	}
	if n < 20 || n == 100 {
		t.Errorf("the client was refused after %d failures, want 20 or a few more", n)
	}
	if st := try("198.51.100.2", "another"); st != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d, want 401", st)
	}
}

func TestServeLimitFlagErrors(t *testing.T) {
	cleanStoreEnv(t)
	root := t.TempDir()
	s3 := []string{"--s3-endpoint", "127.0.0.1:1", "--s3-access-key", "k", "--s3-secret-key", "s"}
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"--trusted-proxy", []string{"serve", "--root", root, "--trusted-proxy", "not-an-address"}},
		{"--body-idle-timeout", []string{"serve", "--root", root, "--body-idle-timeout", "-1s"}},
		{"IdleTimeout", append([]string{"serve", "--root", root, "--s3-idle-timeout", "0s"}, s3...)},
		{"ResponseTimeout", append([]string{"serve", "--root", root, "--s3-response-timeout", "-1s"}, s3...)},
		{"DialTimeout", append([]string{"serve", "--root", root, "--s3-dial-timeout", "0s"}, s3...)},
	} {
		cliFails(t, cli.ExitUsage, tc.want, tc.args...)
	}
}
