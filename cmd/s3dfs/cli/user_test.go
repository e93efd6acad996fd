package cli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
)

func TestUserCommands(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_USERS", "")
	root := newStore(t)
	if r := cliRun(t, "pw1\n", "user", "add", "--root", root, "alice"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("user add: %+v", r)
	}
	if r := cliRun(t, "pw2", "user", "add", "--root", root, "bob"); r.code != 0 {
		t.Fatalf("user add without a newline: %+v", r)
	}
	checkCLIFailure(t, cliRun(t, "x\n", "user", "add", "--root", root, "alice"), cli.ExitFailure, "user exists", nil)
	checkCLIFailure(t, cliRun(t, "x\n", "user", "add", "--root", root, "bad/name"), cli.ExitUsage, "invalid user name", nil)
	checkCLIFailure(t, cliRun(t, "", "user", "add", "--root", root, "carol"), cli.ExitUsage, "no password on stdin", nil)
	checkCLIFailure(t, cliRun(t, "\n", "user", "add", "--root", root, "carol"), cli.ExitUsage, "invalid password", nil)
	checkCLIFailure(t, cliRun(t, "", "user", "list"), cli.ExitUsage, "--users or --root is required", nil)
	checkCLIFailure(t, cliRun(t, "", "user", "del", "--root", root, "nobody"), cli.ExitFailure, "no such user", nil)

	tok := cliOK(t, "user", "token", "--root", root, "alice")
	if !regexp.MustCompile(`^s3dfs_[A-Za-z0-9_-]{43}\n$`).MatchString(tok) {
		t.Errorf("token %q", tok)
	}
	list := cliOK(t, "user", "list", "--root", root)
	if !regexp.MustCompile(`^alice [0-9a-f]{8}\nbob\n$`).MatchString(list) {
		t.Errorf("list %q", list)
	}
	id := strings.Fields(list)[1]
	cliOK(t, "user", "revoke", "--root", root, "alice", id)
	if r := cliRun(t, "new\n", "user", "passwd", "--root", root, "bob"); r.code != 0 {
		t.Errorf("passwd: %+v", r)
	}
	cliOK(t, "user", "del", "--root", root, "bob")
	// --users and its variable name the file directly.
	t.Setenv("S3DFS_USERS", filepath.Join(root, "users.json"))
	if got := cliOK(t, "user", "list"); got != "alice\n" {
		t.Errorf("list after del: %q", got)
	}
}
