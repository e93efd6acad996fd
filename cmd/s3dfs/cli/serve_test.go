package cli_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `s3dfs serve` in-process and returns its URL; the
// server stops when the test ends, and must exit 0.
func startServe(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	url, logs, _ := startServeStoppable(t, args...)
	return url, logs
}

// startServeStoppable is startServe that also returns a function that
// stops the server (and checks that it exited 0) before the test ends.
func startServeStoppable(t *testing.T, args ...string) (string, *lockedBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Execute(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &out, &errOut)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve exited %d:\n%s", code, errOut.String())
				}
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not stop")
			}
		})
	}
	t.Cleanup(stop)
	for range 1500 {
		if s, ok := strings.CutPrefix(out.String(), "s3dfs: serving "); ok {
			return strings.TrimSpace(s), &errOut, stop
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", errOut.String())
	return "", nil, nil
}

func httpDo(t *testing.T, method, url, user, pass, body string) (int, string) {
	t.Helper()
	r, _ := http.NewRequest(method, url, strings.NewReader(body))
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The embedded default: metadata and blobs under --root.
func TestServeEmbedded(t *testing.T) {
	cleanStoreEnv(t)
	// What a script starting a server on a fresh directory does: the
	// users file first, then serve --init creates the store.
	root := t.TempDir()
	if r := cliRun(t, "pw\n", "user", "add", "--init", "--root", root, "alice"); r.code != 0 {
		t.Fatal(r)
	}
	url, logs := startServe(t, "--init", "--root", root, "--log-format", "json")
	if code, _ := httpDo(t, "PUT", url+"dav/files/alice/hello.txt", "alice", "pw", "hello"); code != http.StatusCreated {
		t.Fatalf("PUT: %d", code)
	}
	if code, body := httpDo(t, "GET", url+"remote.php/webdav/hello.txt", "alice", "pw", ""); code != 200 || body != "hello" {
		t.Fatalf("GET: %d %q", code, body)
	}
	if code, _ := httpDo(t, "GET", url+"dav/files/alice/hello.txt", "alice", "nope", ""); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	// What the desktop clients read first; TUS is advertised, as it is
	// served.
	if code, body := httpDo(t, "GET", url+"status.php", "", "", ""); code != 200 || !strings.Contains(body, `"installed":true`) {
		t.Errorf("status.php: %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", url+"ocs/v2.php/cloud/capabilities?format=json", "alice", "pw", ""); code != 200 || !strings.Contains(body, `"tus_support":{"version":"1.0.0"`) {
		t.Errorf("capabilities: %d %s", code, body)
	}
	_, metrics := httpDo(t, "GET", url+"metrics", "", "", "")
	for _, want := range []string{`s3dfs_blobstore_operation_duration_seconds_count{backend="posix",op="put"} 1`, `s3dfs_http_requests_in_flight`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "blobs")); err != nil {
		t.Errorf("no blobs below the root: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"request"`) || !strings.Contains(logs.String(), `"request_id":"`) {
		t.Errorf("JSON request log lines missing:\n%s", logs.String())
	}
}

// Serving from S3, configured the way a deployment would: the environment
// and a config file.
func TestServeS3(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if r := cliRun(t, "pw\n", "user", "add", "--users", filepath.Join(dir, "u.json"), "bob"); r.code != 0 {
		t.Fatal(r)
	}
	t.Setenv("S3DFS_S3_ACCESS_KEY", cfg.AccessKey)
	t.Setenv("S3DFS_S3_SECRET_KEY", cfg.SecretKey)
	t.Setenv("S3DFS_USERS", filepath.Join(dir, "u.json"))
	conf := filepath.Join(dir, "s3dfs.json")
	// "init": the first start creates the store.
	os.WriteFile(conf, []byte(`{"init": true, "root": "`+root+`", "s3-endpoint": "`+cfg.Endpoint+`", "s3-bucket": "`+cfg.Bucket+
		`", "s3-region": "`+cfg.Region+`", "s3-tls": `+strconv.FormatBool(cfg.UseTLS)+`, "propfind-depth-limit": 3, "log-level": "warn"}`), 0o600)
	url, _ := startServe(t, "--config", conf)
	if code, _ := httpDo(t, "PUT", url+"dav/files/bob/x", "bob", "pw", strings.Repeat("s3", 1000)); code != http.StatusCreated {
		t.Fatalf("PUT: %d", code)
	}
	_, metrics := httpDo(t, "GET", url+"metrics", "", "", "")
	if !strings.Contains(metrics, `s3dfs_blobstore_operation_duration_seconds_count{backend="s3",op="put"} 1`) {
		t.Errorf("no S3 put in the metrics")
	}
	if code, _ := httpDo(t, "GET", url+"readyz", "", "", ""); code != 200 {
		t.Errorf("readyz: %d", code)
	}
}

func TestServeUsageErrors(t *testing.T) {
	cleanStoreEnv(t)
	root := t.TempDir()
	bad := filepath.Join(root, "bad.json")
	os.WriteFile(bad, []byte(`{"adress": "x"}`), 0o600)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"--root is required", []string{"serve"}},
		{"unknown setting \"adress\"", []string{"serve", "--root", root, "--config", bad}},
		{"config file", []string{"serve", "--root", root, "--config", filepath.Join(root, "missing.json")}},
		{"not one of text, json", []string{"serve", "--root", root, "--log-format", "xml"}},
		{"must not be negative", []string{"serve", "--root", root, "--propfind-depth-limit", "-1"}},
		{"takes 0 argument(s)", []string{"serve", "--root", root, "extra"}},
		{"must start with '/'", []string{"serve", "--root", root, "--base-path", "cloud"}},
		{"would hide the server's own /dav route", []string{"serve", "--root", root, "--base-path", "/dav"}},
		{"--upload-ttl must be positive", []string{"serve", "--root", root, "--upload-ttl", "0s"}},
	} {
		cliFails(t, cli.ExitUsage, tc.want, tc.args...)
	}
}
