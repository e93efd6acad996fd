package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
	"github.com/s3dfs/s3dfs/decomposedfs"
)

// jsonLines decodes one JSON object per line.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var all []T
	for line := range strings.Lines(out) {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		all = append(all, v)
	}
	return all
}

type spaceJSON struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	Name        string  `json:"name"`
	Owner       string  `json:"owner"`
	Quota       int64   `json:"quota"`
	Used        int64   `json:"used"`
	Available   int64   `json:"available"`
	Description string  `json:"description"`
	Disabled    *string `json:"disabled"`
}

func TestSpaceCommands(t *testing.T) {
	cleanStoreEnv(t)
	root := newStore(t)
	t.Setenv("S3DFS_ROOT", root)
	id := strings.TrimSpace(cliOK(t, "space", "create", "--owner", "alice", "--quota", "1KiB", "--description", "Q3 numbers", "Finance"))
	if len(id) != 36 {
		t.Fatalf("create printed %q, want an id", id)
	}
	cliFails(t, cli.ExitFailure, "already exists", "space", "create", "--id", id, "Again")
	pid := strings.TrimSpace(cliOK(t, "space", "create", "--type", "personal", "--owner", "bob", "bob"))
	if pid != decomposedfs.PersonalSpaceID("bob") {
		t.Errorf("personal space %s, want bob's %s", pid, decomposedfs.PersonalSpaceID("bob"))
	}
	list := cliOK(t, "space", "list")
	if !strings.Contains(list, id+" project ") || !strings.Contains(list, " 1024 alice Finance\n") || !strings.Contains(list, pid+" personal") {
		t.Errorf("list:\n%s", list)
	}
	spaces := jsonLines[spaceJSON](t, cliOK(t, "space", "list", "--json", "--owner", "alice"))
	if len(spaces) != 1 || spaces[0].ID != id || spaces[0].Quota != 1024 || spaces[0].Available != 1024 || spaces[0].Description != "Q3 numbers" {
		t.Errorf("list --json --owner alice: %+v", spaces)
	}

	// By name and by id; rename, describe, quota.
	cliOK(t, "space", "rename", "Finance", "Money")
	cliOK(t, "space", "describe", id, "all of it")
	cliOK(t, "space", "quota", "Money", "none")
	si := jsonLines[spaceJSON](t, cliOK(t, "space", "info", "--json", "Money"))[0]
	if si.Name != "Money" || si.Description != "all of it" || si.Quota != 0 || si.Available != -1 {
		t.Errorf("info: %+v", si)
	}
	cliFails(t, cli.ExitFailure, "space Finance: not found", "space", "info", "Finance")
	cliFails(t, cli.ExitUsage, "invalid size", "space", "quota", "Money", "lots")

	// Members show in info.
	cliOK(t, "share", "add", "--space", id, "/", "--to", "user:carol", "--role", "editor")
	if info := cliOK(t, "space", "info", id); !strings.Contains(info, "member:      user:carol editor") || !strings.Contains(info, "name:        Money") {
		t.Errorf("info:\n%s", info)
	}
	// A member sees the space; others do not; quotas are for admins.
	if got := cliOK(t, "space", "list", "--as", "carol"); !strings.Contains(got, id) || strings.Contains(got, pid) {
		t.Errorf("list --as carol:\n%s", got)
	}
	cliFails(t, cli.ExitFailure, "not found", "space", "info", "--as", "dave", id)
	cliFails(t, cli.ExitFailure, "permission denied", "space", "quota", "--as", "alice", id, "1MiB")
	cliFails(t, cli.ExitFailure, "permission denied", "space", "rename", "--as", "carol", id, "Mine")

	// Disable, restore, purge (only once disabled).
	cliFails(t, cli.ExitFailure, "precondition failed", "space", "purge", id)
	cliOK(t, "space", "disable", id)
	if got := cliOK(t, "space", "list"); !strings.Contains(got, "Money (disabled)") {
		t.Errorf("list after disable:\n%s", got)
	}
	cliFails(t, cli.ExitFailure, "not found", "space", "info", "--as", "carol", id)
	cliOK(t, "space", "info", "--as", "alice", id) // the owner still sees it
	cliOK(t, "space", "restore", id)
	cliOK(t, "space", "info", "--as", "carol", id)
	cliOK(t, "fs", "put", "--space", id, localFile(t, "data"), "/f")
	cliOK(t, "space", "disable", id)
	cliOK(t, "space", "purge", id)
	cliFails(t, cli.ExitFailure, "not found", "space", "info", id)
	if got := blobFiles(t, filepath.Join(root, "blobs")); len(got) != 0 {
		t.Errorf("blobs after purge: %v", got)
	}
	cliFails(t, cli.ExitUsage, "personal space needs --owner", "space", "create", "--type", "personal", "x")
	cliFails(t, cli.ExitUsage, "not one of project, personal", "space", "create", "--type", "shared", "x")
}

type trashJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Type         string `json:"type"`
	Size         int64  `json:"size"`
	OriginalPath string `json:"originalPath"`
}

func TestTrashCommands(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_ROOT", newStore(t))
	cliOK(t, "fs", "mkdir", "-p", "/a/dir")
	cliOK(t, "fs", "put", localFile(t, "one"), "/a/one")
	cliOK(t, "fs", "put", localFile(t, "xy"), "/a/dir/x")
	cliOK(t, "fs", "rm", "/a/one", "/a/dir")
	items := jsonLines[trashJSON](t, cliOK(t, "trash", "list", "--json"))
	if len(items) != 2 {
		t.Fatalf("trash list: %+v", items)
	}
	byName := map[string]trashJSON{}
	for _, it := range items {
		byName[it.Name] = it
	}
	one, dir := byName["one"], byName["dir"]
	if one.OriginalPath != "/a/one" || one.Size != 3 || dir.Type != "folder" {
		t.Errorf("items %+v", items)
	}
	if out := cliOK(t, "trash", "list"); !strings.Contains(out, one.ID+" ") || !strings.Contains(out, " /a/dir\n") {
		t.Errorf("trash list:\n%s", out)
	}
	if out := cliOK(t, "trash", "list", dir.ID); !strings.HasSuffix(out, " x\n") {
		t.Errorf("trash list ITEM:\n%s", out)
	}
	// Restore: where it was, elsewhere, part of a folder.
	cliOK(t, "trash", "restore", one.ID)
	if got := cliOK(t, "fs", "get", "/a/one"); got != "one" {
		t.Errorf("restored: %q", got)
	}
	cliFails(t, cli.ExitUsage, "needs --to", "trash", "restore", dir.ID+"/x")
	cliOK(t, "trash", "restore", dir.ID+"/x", "--to", "/")
	if got := cliOK(t, "fs", "get", "/x"); got != "xy" {
		t.Errorf("restored from a folder: %q", got)
	}
	cliOK(t, "fs", "put", localFile(t, "in the way"), "/a/dir")
	cliFails(t, cli.ExitFailure, "already exists", "trash", "restore", dir.ID)
	cliOK(t, "trash", "restore", dir.ID, "--overwrite")
	// Purge: by id, by age, everything.
	cliOK(t, "fs", "rm", "/x", "/a/one")
	items = jsonLines[trashJSON](t, cliOK(t, "trash", "list", "--json"))
	if len(items) != 3 {
		t.Fatalf("trash list: %+v", items)
	}
	cliOK(t, "trash", "purge", items[0].ID)
	cliFails(t, cli.ExitFailure, "not found", "trash", "purge", items[0].ID)
	if out := cliOK(t, "trash", "purge", "--older-than", "1h", "-v"); out != "0 purged\n" {
		t.Errorf("purge --older-than 1h: %q", out)
	}
	if out := cliOK(t, "trash", "empty", "-v"); out != "2 purged\n" {
		t.Errorf("empty: %q", out)
	}
	if out := cliOK(t, "trash", "list"); out != "" {
		t.Errorf("trash after empty:\n%s", out)
	}
	cliFails(t, cli.ExitUsage, "needs items or --older-than", "trash", "purge")
	cliFails(t, cli.ExitUsage, "not both", "trash", "purge", "x", "--older-than", "1d")
	cliFails(t, cli.ExitUsage, "want a duration", "trash", "purge", "--older-than", "soon")
	cliFails(t, cli.ExitFailure, "space nope: not found", "trash", "list", "--space", "nope")
}

type revJSON struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
	Etag string `json:"etag"`
}

func TestVersionsCommands(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_ROOT", newStore(t))
	for _, c := range []string{"one", "two!", "three"} {
		cliOK(t, "fs", "put", localFile(t, c), "/f")
	}
	revs := jsonLines[revJSON](t, cliOK(t, "versions", "list", "--json", "/f"))
	if len(revs) != 2 || revs[0].Size != 3 || revs[1].Size != 4 {
		t.Fatalf("revisions %+v", revs)
	}
	if out := cliOK(t, "versions", "list", "/f"); !strings.HasPrefix(out, revs[0].ID+" ") || strings.Count(out, "\n") != 2 {
		t.Errorf("list:\n%s", out)
	}
	if got := cliOK(t, "versions", "get", "/f", revs[0].ID); got != "one" {
		t.Errorf("get: %q", got)
	}
	if got := cliOK(t, "versions", "get", "--range", "1-2", "/f", revs[1].ID, "-"); got != "wo" {
		t.Errorf("get --range: %q", got)
	}
	local := filepath.Join(t.TempDir(), "old")
	cliOK(t, "versions", "get", "/f", revs[0].ID, local)
	if b, _ := os.ReadFile(local); string(b) != "one" {
		t.Errorf("get to a file: %q", b)
	}
	cliOK(t, "versions", "restore", "/f", revs[0].ID)
	if got := cliOK(t, "fs", "get", "/f"); got != "one" {
		t.Errorf("after restore: %q", got)
	}
	cliOK(t, "versions", "delete", "/f", revs[1].ID)
	if revs = jsonLines[revJSON](t, cliOK(t, "versions", "list", "--json", "/f")); len(revs) != 1 || revs[0].Size != 5 {
		t.Errorf("after restore and delete: %+v", revs)
	}
	cliFails(t, cli.ExitFailure, "not found", "versions", "get", "/f", "nope")
	cliFails(t, cli.ExitFailure, "is a folder", "versions", "list", "/")
	cliFails(t, cli.ExitUsage, "takes 2 to 3 argument(s)", "versions", "get", "/f")
}

type grantJSON struct {
	ID      string  `json:"id"`
	Path    string  `json:"path"`
	Grantee string  `json:"grantee"`
	Role    string  `json:"role"`
	Deny    bool    `json:"deny"`
	Expires *string `json:"expires"`
}

func TestShareCommands(t *testing.T) {
	cleanStoreEnv(t)
	root := newStore(t)
	t.Setenv("S3DFS_ROOT", root)
	t.Setenv("S3DFS_USERS", "")
	cliOK(t, "fs", "mkdir", "-p", "/a/b")
	cliOK(t, "fs", "put", localFile(t, "secret"), "/a/b/f")
	g1 := strings.TrimSpace(cliOK(t, "share", "add", "/a", "--to", "user:bob", "--role", "viewer"))
	g2 := strings.TrimSpace(cliOK(t, "share", "add", "/a/b", "--to", "group:staff", "--role", "editor", "--expires", "2099-01-01T00:00:00Z"))
	g3 := strings.TrimSpace(cliOK(t, "share", "add", "/a/b", "--to", "user:bob", "--role", "viewer", "--deny"))
	grants := jsonLines[grantJSON](t, cliOK(t, "share", "list", "--json"))
	if len(grants) != 3 {
		t.Fatalf("grants %+v", grants)
	}
	if out := cliOK(t, "share", "list", "/a/b"); !strings.Contains(out, g2+" /a/b group:staff editor expires=2099-01-01T00:00:00Z\n") ||
		!strings.Contains(out, g3+" /a/b user:bob viewer deny\n") || strings.Contains(out, g1) {
		t.Errorf("list /a/b:\n%s", out)
	}

	// --as: bob may read /a but not /a/b (denied); a member of staff may
	// write in /a/b, with the groups of the users file.
	if r := cliRun(t, "pw\n", "user", "add", "--groups", "staff,other", "carol"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	if got := cliOK(t, "user", "groups", "carol"); got != "other\nstaff\n" {
		t.Errorf("groups: %q", got)
	}
	for _, c := range []string{"1", "22"} {
		cliOK(t, "fs", "put", localFile(t, c), "/a/g")
		cliOK(t, "fs", "put", localFile(t, c), "/a/b/f")
	}
	if out := cliOK(t, "versions", "list", "--as", "bob", "/a/g"); strings.Count(out, "\n") != 1 {
		t.Errorf("bob's versions of /a/g:\n%s", out)
	}
	cliFails(t, cli.ExitFailure, "versions list /a/b/f: not found", "versions", "list", "--as", "bob", "/a/b/f")
	if out := cliOK(t, "share", "list", "--as", "bob"); strings.TrimSpace(out) != g1+" /a user:bob viewer" {
		t.Errorf("bob's view of the grants:\n%s", out)
	}
	revs := jsonLines[revJSON](t, cliOK(t, "versions", "list", "--json", "--as", "carol", "/a/b/f"))
	cliOK(t, "versions", "restore", "--as", "carol", "/a/b/f", revs[0].ID)
	cliFails(t, cli.ExitFailure, "not found", "trash", "list", "--as", "carol")
	cliFails(t, cli.ExitFailure, "permission denied", "share", "add", "--as", "carol", "/a/b", "--to", "user:x", "--role", "viewer")
	cliOK(t, "user", "groups", "carol", "")
	cliFails(t, cli.ExitFailure, "not found", "versions", "list", "--as", "carol", "/a/b/f")

	cliOK(t, "share", "remove", g1, g3)
	if grants = jsonLines[grantJSON](t, cliOK(t, "share", "list", "--json")); len(grants) != 1 || grants[0].ID != g2 || grants[0].Expires == nil {
		t.Errorf("after remove: %+v", grants)
	}
	cliFails(t, cli.ExitFailure, "not found", "share", "remove", g1)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"want user:NAME or group:NAME", []string{"share", "add", "/a", "--to", "bob", "--role", "viewer"}},
		{"want one of editor, manager, uploader, viewer", []string{"share", "add", "/a", "--to", "user:bob", "--role", "owner"}},
		{"--expires", []string{"share", "add", "/a", "--to", "user:bob", "--role", "viewer", "--expires", "tomorrow"}},
		{`required flag(s) "to" not set`, []string{"share", "add", "/a", "--role", "viewer"}},
		{"--as", []string{"share", "list", "--as", "bad/name"}},
		{"invalid group name", []string{"user", "groups", "carol", "a/b"}},
	} {
		cliFails(t, cli.ExitUsage, tc.want, tc.args...)
	}
}
