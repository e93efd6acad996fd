package cli_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/storeid"
)

// statJSON is what stat --json and ls --json print.
type statJSON struct {
	ID        string    `json:"id"`
	ParentID  string    `json:"parentId"`
	SpaceID   string    `json:"spaceId"`
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	Type      string    `json:"type"`
	Size      int64     `json:"size"`
	Mtime     time.Time `json:"mtime"`
	Etag      string    `json:"etag"`
	MimeType  string    `json:"mimeType"`
	Checksums struct {
		SHA1    string `json:"sha1"`
		MD5     string `json:"md5"`
		Adler32 string `json:"adler32"`
	} `json:"checksums"`
}

func parseStat(t *testing.T, line string) statJSON {
	t.Helper()
	var s statJSON
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return s
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// blobFiles returns the sizes of the files below dir.
func blobFiles(t *testing.T, dir string) []int64 {
	t.Helper()
	var sizes []int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == storeid.MarkerKey {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sizes = append(sizes, fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sizes
}

// runFlow is the README walk-through; fs is the command plus the store
// flags. It returns the space id the file went to.
func runFlow(t *testing.T, fs []string, content string) string {
	t.Helper()
	cmd := func(args ...string) []string { return append(append([]string{}, fs...), args...) }
	local := localFile(t, content)

	cliOK(t, cmd("mkdir", "/a")...)
	if out := cliOK(t, cmd("put", local, "/a/f1")...); out != "" {
		t.Errorf("put printed %q, want nothing", out)
	}
	if out := cliOK(t, cmd("ls", "/")...); out != "a/\n" {
		t.Errorf("ls / = %q, want %q", out, "a/\n")
	}
	if out := cliOK(t, cmd("ls", "/a")...); out != "f1\n" {
		t.Errorf("ls /a = %q, want %q", out, "f1\n")
	}
	if out := cliOK(t, cmd("get", "/a/f1", "-")...); out != content {
		t.Errorf("get /a/f1 - returned %d bytes, want the %d put", len(out), len(content))
	}
	if out := cliOK(t, cmd("get", "/a/f1")...); out != content {
		t.Errorf("get /a/f1 (stdout by default) returned %d bytes, want %d", len(out), len(content))
	}

	st := parseStat(t, cliOK(t, cmd("stat", "--json", "/a/f1")...))
	if st.Name != "f1" || st.Path != "/a/f1" || st.Type != "file" || st.Size != int64(len(content)) ||
		st.Checksums.SHA1 != sha1Hex(content) || st.ID == "" || st.ParentID == "" || st.SpaceID == "" ||
		st.Etag == "" || strings.Contains(st.Etag, `"`) || st.Mtime.IsZero() {
		t.Errorf("stat --json /a/f1 = %+v", st)
	}
	dir := parseStat(t, cliOK(t, cmd("stat", "--json", "/a")...))
	if dir.Type != "folder" || dir.Size != int64(len(content)) || dir.ID != st.ParentID {
		t.Errorf("stat --json /a = %+v (file %+v)", dir, st)
	}

	cliOK(t, cmd("mv", "/a/f1", "/a/f2")...)
	if out := cliOK(t, cmd("ls", "/a")...); out != "f2\n" {
		t.Errorf("ls /a after mv = %q", out)
	}
	cliOK(t, cmd("rm", "/a/f2")...)
	if out := cliOK(t, cmd("ls", "/a")...); out != "" {
		t.Errorf("ls /a after rm = %q, want nothing", out)
	}
	cliFails(t, cli.ExitFailure, "get /a/f2: not found", cmd("get", "/a/f2")...)
	return st.SpaceID
}

func TestPosixDefault(t *testing.T) {
	cleanStoreEnv(t)
	root := newStore(t)
	content := strings.Repeat("hello, s3dfs\n", 1000)
	sid := runFlow(t, []string{"fs", "--root", root}, content)
	if sid != decomposedfs.NamedSpaceID("default") {
		t.Errorf("space %s, want the default space %s", sid, decomposedfs.NamedSpaceID("default"))
	}
	// The content went to the posix store below <root>/blobs (rm moved the
	// file to the trash, which keeps its blob).
	if got := blobFiles(t, filepath.Join(root, "blobs", "blobs")); len(got) != 1 || got[0] != int64(len(content)) {
		t.Errorf("blob files %v, want one of %d bytes", got, len(content))
	}
	if out := cliOK(t, "fs", "spaces", "--root", root); !strings.Contains(out, sid+" project") || !strings.HasSuffix(out, " default\n") {
		t.Errorf("spaces = %q", out)
	}
}

func TestListings(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_ROOT", newStore(t))
	cliOK(t, "fs", "mkdir", "-p", "/d/sub")
	r := cliRun(t, "piped", "fs", "put", "-v", "-", "/d/b.txt")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "file ") || !strings.HasSuffix(r.stdout, " /d/b.txt\n") {
		t.Fatalf("put -v -: %+v", r)
	}

	if out := cliOK(t, "fs", "ls", "/d"); out != "b.txt\nsub/\n" {
		t.Errorf("ls /d = %q", out)
	}
	long := strings.Split(strings.TrimSuffix(cliOK(t, "fs", "ls", "-l", "/d"), "\n"), "\n")
	if len(long) != 2 {
		t.Fatalf("ls -l /d = %q", long)
	}
	f := strings.Fields(long[0])
	if len(f) != 5 || f[0] != "file" || f[1] != "5" || f[4] != "b.txt" {
		t.Errorf("ls -l line %q", long[0])
	}
	if _, err := time.Parse(time.RFC3339, f[2]); err != nil {
		t.Errorf("ls -l mtime: %v", err)
	}
	if f := strings.Fields(long[1]); len(f) != 5 || f[0] != "folder" || f[4] != "sub/" {
		t.Errorf("ls -l line %q", long[1])
	}

	lines := strings.Split(strings.TrimSuffix(cliOK(t, "fs", "ls", "--json", "/d"), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("ls --json /d = %q", lines)
	}
	b, sub := parseStat(t, lines[0]), parseStat(t, lines[1])
	if b.Path != "/d/b.txt" || b.MimeType != "text/plain; charset=utf-8" || b.Checksums.SHA1 != sha1Hex("piped") ||
		sub.Path != "/d/sub" || sub.Type != "folder" || b.ParentID != sub.ParentID {
		t.Errorf("ls --json: %+v %+v", b, sub)
	}

	// A file lists as itself; stat without --json is key: value lines.
	if out := cliOK(t, "fs", "ls", "/d/b.txt"); out != "b.txt\n" {
		t.Errorf("ls of a file = %q", out)
	}
	if out := cliOK(t, "fs", "stat", "/d/b.txt"); !strings.Contains(out, "path:     /d/b.txt\n") || !strings.Contains(out, "sha1:     "+sha1Hex("piped")) {
		t.Errorf("stat = %q", out)
	}
	if out := cliOK(t, "fs", "ls"); out != "d/\n" {
		t.Errorf("ls (root by default) = %q", out)
	}
}

func TestTransfers(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_ROOT", newStore(t))
	content := "0123456789"
	local := localFile(t, content)
	cliOK(t, "fs", "mkdir", "/in")

	// A trailing slash puts the file into the folder under its local name.
	cliOK(t, "fs", "put", local, "/in/")
	name := filepath.Base(local)
	if out := cliOK(t, "fs", "ls", "/in"); out != name+"\n" {
		t.Errorf("ls /in = %q, want %q", out, name)
	}

	// --mtime and a matching --checksum.
	mt := "2021-02-03T04:05:06Z"
	cliOK(t, "fs", "put", "--mtime", mt, "--checksum", "sha1:"+strings.ToUpper(sha1Hex(content)), local, "/in/m")
	if st := parseStat(t, cliOK(t, "fs", "stat", "--json", "/in/m")); !st.Mtime.Equal(time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)) {
		t.Errorf("mtime %v, want %s", st.Mtime, mt)
	}
	// A mismatching one stores nothing.
	cliFails(t, cli.ExitFailure, "checksum mismatch", "fs", "put", "--checksum", "sha1:"+sha1Hex("other"), local, "/in/bad")
	cliFails(t, cli.ExitFailure, "not found", "fs", "stat", "/in/bad")

	// Overwrite replaces the content.
	cliRunOK(t, "new", "fs", "put", "-", "/in/m")
	if out := cliOK(t, "fs", "get", "/in/m"); out != "new" {
		t.Errorf("after overwrite: %q", out)
	}

	// Ranges are inclusive, as in HTTP.
	cliOK(t, "fs", "put", local, "/in/r")
	for rng, want := range map[string]string{"2-4": "234", "7-": "789", "0-0": "0", "8-100": "89"} {
		if out := cliOK(t, "fs", "get", "--range", rng, "/in/r"); out != want {
			t.Errorf("--range %s = %q, want %q", rng, out, want)
		}
	}
	cliFails(t, cli.ExitFailure, "range not satisfiable", "fs", "get", "--range", "10-", "/in/r")

	// To a local file, and into a local directory under the remote name.
	dir := t.TempDir()
	cliOK(t, "fs", "get", "/in/r", filepath.Join(dir, "copy"))
	cliOK(t, "fs", "get", "/in/r", dir)
	for _, p := range []string{filepath.Join(dir, "copy"), filepath.Join(dir, "r")} {
		if b, err := os.ReadFile(p); err != nil || string(b) != content {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("local dir has %d entries, want 2 (no temp files left)", len(ents))
	}
	// A failed download leaves an existing local file alone.
	cliFails(t, cli.ExitFailure, "not found", "fs", "get", "/in/missing", filepath.Join(dir, "copy"))
	if b, _ := os.ReadFile(filepath.Join(dir, "copy")); string(b) != content {
		t.Errorf("failed get changed the local file: %q", b)
	}
}

// cliRunOK runs a command with stdin that must succeed.
func cliRunOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := cliRun(t, stdin, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("s3dfs %q: exit %d, stderr %q", args, r.code, r.stderr)
	}
	return r.stdout
}

func TestFailures(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_ROOT", newStore(t))
	cliOK(t, "fs", "mkdir", "/a")
	local := localFile(t, "x")
	cliOK(t, "fs", "put", local, "/a/f")

	for _, tc := range []struct {
		want string
		args []string
	}{
		{"get /missing: not found", []string{"get", "/missing"}},
		{"put /nofolder/f: not found", []string{"put", local, "/nofolder/f"}},
		{"invalid name", []string{"put", local, "/a/b\x00c"}},
		{"invalid name", []string{"mkdir", "/a/" + strings.Repeat("n", 256)}},
		{"invalid name", []string{"get", "/a/b\x00c"}},
		{"invalid path", []string{"ls", "/../x"}},
		{"mkdir /a: already exists", []string{"mkdir", "/a"}},
		{"mkdir /: already exists", []string{"mkdir", "/"}},
		{"not a folder", []string{"mkdir", "-p", "/a/f/g"}},
		{"not a folder", []string{"put", local, "/a/f/g"}},
		{"get /a: is a folder", []string{"get", "/a"}},
		{"put /a: is a folder", []string{"put", local, "/a"}},
		{"already exists", []string{"mv", "/a/f", "/a"}},
		{"cannot move a folder into itself", []string{"mv", "/a", "/a/inner"}},
		{"not allowed on the space root", []string{"rm", "/"}},
		{"rm /missing: not found", []string{"rm", "/missing"}},
		{"no such file or directory", []string{"put", filepath.Join(t.TempDir(), "nope"), "/a/x"}},
		{"is a directory", []string{"put", t.TempDir(), "/a/x"}},
		{"space 00000000-0000-4000-8000-000000000000: not found", []string{"ls", "--space", "00000000-0000-4000-8000-000000000000"}},
	} {
		cliFails(t, cli.ExitFailure, tc.want, append([]string{"fs"}, tc.args...)...)
	}
	// Nothing above changed the tree.
	if out := cliOK(t, "fs", "ls", "-l", "/a"); !strings.HasPrefix(out, "file ") || strings.Count(out, "\n") != 1 {
		t.Errorf("ls -l /a = %q", out)
	}
}

func TestMultipleArgs(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_ROOT", newStore(t))
	if out := cliOK(t, "fs", "mkdir", "-v", "-p", "/x/y", "/x/z", "/x"); out != "/x\n/x/y\n/x/z\n" {
		t.Errorf("mkdir -v -p printed %q", out)
	}
	// Each failure gets its own line; the others still happen.
	r := cliRun(t, "", "fs", "rm", "/x/y", "/nope", "/x/z", "/nope2")
	if r.code != cli.ExitFailure || r.stderr != "s3dfs: rm /nope: not found\ns3dfs: rm /nope2: not found\n" {
		t.Errorf("rm: %+v", r)
	}
	if out := cliOK(t, "fs", "ls", "/x"); out != "" {
		t.Errorf("ls /x = %q, want nothing", out)
	}
	// mv into a folder with a trailing slash; --overwrite replaces.
	cliOK(t, "fs", "mkdir", "/x/d")
	cliRunOK(t, "1", "fs", "put", "-", "/x/one")
	cliRunOK(t, "2", "fs", "put", "-", "/x/two")
	cliOK(t, "fs", "mv", "/x/one", "/x/d/")
	cliFails(t, cli.ExitFailure, "already exists", "fs", "mv", "/x/two", "/x/d/one")
	cliOK(t, "fs", "mv", "--overwrite", "/x/two", "/x/d/one")
	if out := cliOK(t, "fs", "get", "/x/d/one"); out != "2" {
		t.Errorf("after mv --overwrite: %q", out)
	}
}

func TestEnvironment(t *testing.T) {
	cleanStoreEnv(t)
	blobs := t.TempDir()
	t.Setenv("S3DFS_BLOB_DIR", blobs)
	root := newStore(t)
	t.Setenv("S3DFS_ROOT", root)
	t.Setenv("S3DFS_SPACE", "team")
	t.Setenv("S3DFS_DURABILITY", "fsync")
	t.Setenv("S3DFS_CACHE_MODE", "relaxed")
	cliRunOK(t, "abc", "fs", "put", "-", "/f")

	// The environment chose the space and the blob directory.
	st := parseStat(t, cliOK(t, "fs", "stat", "--json", "/f"))
	if st.SpaceID != decomposedfs.NamedSpaceID("team") {
		t.Errorf("space %s, want that of \"team\"", st.SpaceID)
	}
	if got := blobFiles(t, blobs); len(got) != 1 || got[0] != 3 {
		t.Errorf("blobs in S3DFS_BLOB_DIR: %v", got)
	}
	// Flags beat the environment. A read creates no space: "default"
	// does not exist, and stays so.
	cliFails(t, cli.ExitFailure, "space default: not found", "fs", "stat", "--space", "default", "/f")
	cliOK(t, "fs", "stat", "--space", st.SpaceID, "/f")
	cliOK(t, "fs", "stat", "--space", strings.ToUpper(st.SpaceID), "/f")
	if out := cliOK(t, "fs", "spaces"); strings.Count(out, "\n") != 1 || !strings.Contains(out, " team\n") {
		t.Errorf("spaces = %q, want team only", out)
	}
	var sp struct{ ID, Name, Type string }
	first := strings.SplitN(cliOK(t, "fs", "spaces", "--json"), "\n", 2)[0]
	if err := json.Unmarshal([]byte(first), &sp); err != nil || sp.Name != "team" || sp.Type != "project" {
		t.Errorf("spaces --json first line %q: %+v, %v", first, sp, err)
	}

	// Bad values from the environment are usage errors that name the
	// variable.
	t.Setenv("S3DFS_DURABILITY", "sometimes")
	cliFails(t, cli.ExitUsage, "S3DFS_DURABILITY", "fs", "ls")
	cliOK(t, "fs", "ls", "--durability", "none")
	t.Setenv("S3DFS_DURABILITY", "")

	// An S3 endpoint in the environment makes s3 the default store.
	t.Setenv("S3DFS_S3_ENDPOINT", "127.0.0.1:1")
	cliFails(t, cli.ExitUsage, "needs --s3-access-key", "fs", "ls")
	cliOK(t, "fs", "ls", "--blobstore", "posix")
	t.Setenv("S3DFS_S3_TLS", "maybe")
	cliFails(t, cli.ExitUsage, "S3DFS_S3_TLS", "fs", "ls")
}

// A child whose record cannot be read is reported, the rest is listed, and
// ls fails.
func TestListProblems(t *testing.T) {
	cleanStoreEnv(t)
	root := newStore(t)
	t.Setenv("S3DFS_ROOT", root)
	cliOK(t, "fs", "mkdir", "-p", "/p/good", "/p/bad")
	bad := parseStat(t, cliOK(t, "fs", "stat", "--json", "/p/bad"))
	// Corrupt the record of /p/bad, wherever the metadata layout keeps it.
	found := false
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == bad.ID+".mpk" {
			found = true
			return os.WriteFile(p, []byte("not msgpack"), 0o644)
		}
		return err
	})
	if !found {
		t.Fatalf("no record file %s.mpk below %s", bad.ID, root)
	}
	r := cliRun(t, "", "fs", "ls", "/p")
	if r.code != cli.ExitFailure || r.stdout != "good/\n" {
		t.Errorf("ls /p: %+v", r)
	}
	if !strings.Contains(r.stderr, "s3dfs: ls /p: cannot read bad (node "+bad.ID+"): corrupt metadata") ||
		!strings.HasSuffix(r.stderr, "s3dfs: ls /p: 1 entry could not be read\n") {
		t.Errorf("ls /p stderr %q", r.stderr)
	}
}
