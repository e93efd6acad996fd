package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/weedtest"
)

// TestMain starts the S3 test server on demand (s3test.Main), and
// SeaweedFS for the tests of seaweedfs_test.go (weedtest.Wrap). With
// S3DFS_TEST_RUN_CLI=1 the test binary is the s3dfs command instead, so that
// tests can run real s3dfs processes without building one:
//
//	cmd := exec.Command(os.Args[0], "fs", "ls", "/")
//	cmd.Env = append(os.Environ(), "S3DFS_TEST_RUN_CLI=1")
func TestMain(m *testing.M) {
	if os.Getenv("S3DFS_TEST_RUN_CLI") == "1" {
		os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(weedtest.Wrap(func() int { return s3test.Main(m) }))
}

// storeEnv are the environment variables of the store flags.
var storeEnv = []string{
	"S3DFS_ROOT", "S3DFS_BLOBSTORE", "S3DFS_BLOB_DIR",
	"S3DFS_S3_ENDPOINT", "S3DFS_S3_BUCKET", "S3DFS_S3_ACCESS_KEY", "S3DFS_S3_SECRET_KEY",
	"S3DFS_S3_REGION", "S3DFS_S3_TLS", "S3DFS_S3_PATH_STYLE", "S3DFS_S3_CREATE_BUCKET",
	"S3DFS_S3_PART_SIZE", "S3DFS_DURABILITY", "S3DFS_CACHE_MODE", "S3DFS_SPACE",
}

// cleanStoreEnv empties the store variables for the test, so that an S3 server
// configured for the test run (S3DFS_S3_ENDPOINT) does not leak into tests
// of the defaults. Empty counts as unset.
func cleanStoreEnv(t *testing.T) {
	t.Helper()
	for _, v := range storeEnv {
		t.Setenv(v, "")
	}
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// cliRun runs one s3dfs command line in-process.
func cliRun(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// cliOK runs a command that must succeed quietly on stderr and returns its
// stdout.
func cliOK(t *testing.T, args ...string) string {
	t.Helper()
	r := cliRun(t, "", args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("s3dfs %q: exit %d, stderr %q", args, r.code, r.stderr)
	}
	return r.stdout
}

// cliFails runs a command that must fail with code and a one-line error that
// contains want.
func cliFails(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	r := cliRun(t, "", args...)
	checkCLIFailure(t, r, code, want, args)
}

func checkCLIFailure(t *testing.T, r cliResult, code int, want string, args []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("s3dfs %q: exit %d, want %d (stderr %q)", args, r.code, code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "s3dfs: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("s3dfs %q: stderr %q, want one line starting with \"s3dfs: \"", args, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("s3dfs %q: stderr %q, want it to contain %q", args, r.stderr, want)
	}
}

// newStore creates a store with s3dfs init in a fresh directory, with the
// blob store flags given (none: blobs below the root), and returns its root.
func newStore(t *testing.T, flags ...string) string {
	t.Helper()
	root := t.TempDir()
	r := cliRun(t, "", append([]string{"init", "--root", root}, flags...)...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "created store ") || r.stderr != "" {
		t.Fatalf("s3dfs init --root %s %q: %+v", root, flags, r)
	}
	return root
}

// localFile creates a local file with content in a temp dir.
func localFile(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "local-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func TestVersion(t *testing.T) {
	out := cliOK(t, "version")
	if !strings.HasPrefix(out, "s3dfs dev (go") || strings.Count(out, "\n") != 1 {
		t.Errorf("version printed %q", out)
	}
}

func TestUsageErrors(t *testing.T) {
	cleanStoreEnv(t)
	root := t.TempDir()
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"missing command", nil},
		{"missing command", []string{"fs", "--root", root}},
		{`unknown command "bogus"`, []string{"bogus"}},
		{`did you mean "mkdir"`, []string{"fs", "mkdri", "--root", root}},
		{"unknown flag: --bogus", []string{"fs", "ls", "--bogus", "--root", root}},
		{"takes 2 argument(s), got 1", []string{"fs", "put", "x", "--root", root}},
		{"takes 0 argument(s)", []string{"version", "x"}},
		{"--root is required", []string{"fs", "ls", "/"}},
		{"not one of none, fsync", []string{"fs", "ls", "--root", root, "--durability", "always"}},
		{"not one of strict, relaxed", []string{"fs", "ls", "--root", root, "--cache-mode", "lazy"}},
		{"not one of posix, s3", []string{"fs", "ls", "--root", root, "--blobstore", "gcs"}},
		{"invalid size", []string{"fs", "ls", "--root", root, "--s3-part-size", "16MB"}},
		{"needs --s3-endpoint", []string{"fs", "ls", "--root", root, "--blobstore", "s3"}},
		{"needs --s3-access-key", []string{"fs", "ls", "--root", root, "--s3-endpoint", "127.0.0.1:1"}},
		{"outside 5MiB..5GiB", []string{"fs", "ls", "--root", root, "--s3-endpoint", "127.0.0.1:1",
			"--s3-access-key", "a", "--s3-secret-key", "b", "--s3-part-size", "1MiB"}},
		{"contradicts --s3-tls", []string{"fs", "ls", "--root", root, "--s3-endpoint", "http://127.0.0.1:1",
			"--s3-access-key", "a", "--s3-secret-key", "b", "--s3-tls"}},
		{"-l and --json", []string{"fs", "ls", "-l", "--json", "--root", root}},
		{"--mtime", []string{"fs", "put", "--mtime", "yesterday", "-", "/x", "--root", root}},
		{"a sha1 checksum is 40 hex digits", []string{"fs", "put", "--checksum", "sha1:abc", "-", "/x", "--root", root}},
		{"want TYPE:HEX", []string{"fs", "put", "--checksum", "crc32:abcd1234", "-", "/x", "--root", root}},
		{"stdin has no name", []string{"fs", "put", "-", "/a/", "--root", root}},
		{"--range", []string{"fs", "get", "/x", "--range", "5-2", "--root", root}},
		{"--range", []string{"fs", "get", "/x", "--range", "-5", "--root", root}},
	} {
		cliFails(t, cli.ExitUsage, tc.want, tc.args...)
	}
	// Help is not an error.
	if out := cliOK(t, "fs", "put", "--help"); !strings.Contains(out, "s3dfs fs put LOCALFILE|- REMOTEPATH") {
		t.Errorf("put --help printed %q", out)
	}
}
