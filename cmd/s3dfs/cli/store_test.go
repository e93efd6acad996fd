package cli_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/storeid"
)

// tree describes everything below dir, for before/after comparisons:
// path -> kind, size, link target and mtime. Paths starting with one of
// skip are left out. A missing dir gives nil.
func tree(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode().Type(), fi.Size(), fi.ModTime().UnixNano())
		if d.IsDir() {
			desc = fmt.Sprintf("%v %d", fi.Mode().Type(), fi.ModTime().UnixNano())
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			desc += " -> " + l
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree reports the differences between two trees.
func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if before == nil || after == nil {
		if (before == nil) != (after == nil) {
			t.Errorf("%s: existed before %t, after %t", what, before != nil, after != nil)
		}
		return
	}
	var diffs []string
	for p, d := range before {
		if after[p] != d {
			diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", p, d, after[p]))
		}
	}
	for p, d := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: new (%s)", p, d))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s changed:\n  %s", what, strings.Join(diffs[:min(len(diffs), 20)], "\n  "))
	}
}

// s3Flags are the blob store flags of a bucket (the keys come from the
// environment, see s3Keys).
func s3Flags(cfg s3test.Config) []string {
	return []string{"--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket, "--s3-region", cfg.Region, "--s3-tls=" + strconv.FormatBool(cfg.UseTLS)}
}

func s3Keys(t *testing.T, cfg s3test.Config) {
	t.Setenv("S3DFS_S3_ACCESS_KEY", cfg.AccessKey)
	t.Setenv("S3DFS_S3_SECRET_KEY", cfg.SecretKey)
}

func keysOf(objs []blobstore.Info) []string {
	var out []string
	for _, o := range objs {
		out = append(out, fmt.Sprintf("%s %d", o.Key, o.Size))
	}
	return out
}

// withS3 builds a command line: cmd..., the bucket's flags, then rest.
func withS3(cfg s3test.Config, cmd []string, rest ...string) []string {
	return append(append(append([]string{}, cmd...), s3Flags(cfg)...), rest...)
}

// The case: `check --repair` against the wrong bucket. It must be
// refused before anything is read or changed, naming both buckets; so must
// every other command, and an unknown bucket must not be created.
func TestWrongBucket(t *testing.T) {
	right, wrong := s3test.New(t), s3test.New(t)
	cleanStoreEnv(t)
	s3Keys(t, right)
	root := newStore(t, s3Flags(right)...)
	fsCmd := []string{"fs", "--root", root}
	cliOK(t, withS3(right, fsCmd, "mkdir", "-p", "/a/b")...)
	for i := range 5 {
		cliOK(t, withS3(right, fsCmd, "put", localFile(t, strings.Repeat("x", i+1)), fmt.Sprintf("/a/b/f%d", i))...)
	}
	before, objs := tree(t, root), keysOf(bucketObjects(t, right))

	r := cliRun(t, "", withS3(wrong, []string{"check", "--root", root, "--repair"}, quick...)...)
	checkCLIFailure(t, r, check.ExitIncomplete, "wrong blob store", nil)
	for _, b := range []string{right.Bucket, wrong.Bucket} {
		if !strings.Contains(r.stderr, `"`+b+`"`) {
			t.Errorf("the error does not name bucket %s: %s", b, r.stderr)
		}
	}
	sameTree(t, "the root after check --repair with the wrong bucket", before, tree(t, root))
	if got := bucketObjects(t, wrong); len(got) != 0 {
		t.Errorf("the wrong bucket got objects: %v", keysOf(got))
	}

	// Every other command: refused the same way, nothing touched.
	for _, args := range [][]string{
		withS3(wrong, fsCmd, "get", "/a/b/f1"),
		withS3(wrong, fsCmd, "ls", "/a/b"),
		withS3(wrong, fsCmd, "put", localFile(t, "new"), "/a/new"),
		withS3(wrong, []string{"space", "list", "--root", root}),
		withS3(wrong, []string{"check", "--root", root}, quick...),
	} {
		r := cliRun(t, "", args...)
		code := cli.ExitFailure
		if args[0] == "check" {
			code = check.ExitIncomplete
		}
		checkCLIFailure(t, r, code, wrong.Bucket, args)
		if !strings.Contains(r.stderr, right.Bucket) || strings.Contains(r.stderr, "run s3dfs check") {
			t.Errorf("%q: %s", args, r.stderr)
		}
	}
	sameTree(t, "the root after commands with the wrong bucket", before, tree(t, root))
	if got := keysOf(bucketObjects(t, right)); !slices.Equal(got, objs) {
		t.Errorf("the right bucket changed: %v -> %v", objs, got)
	}

	// A bucket that does not exist is not created.
	missing := right
	missing.Bucket = right.Bucket + "-nope"
	r = cliRun(t, "", withS3(missing, fsCmd, "ls", "/")...)
	checkCLIFailure(t, r, cli.ExitFailure, missing.Bucket, nil)
	if ok, err := bucketClient(t, right).BucketExists(t.Context(), missing.Bucket); err != nil || ok {
		t.Errorf("bucket %s exists %t (%v) after a command named it", missing.Bucket, ok, err)
	}

	// The same bucket reached under another name of its server: the
	// marker proves it is the store's.
	other := right
	other.Endpoint = strings.Replace(right.Endpoint, "127.0.0.1", "localhost", 1)
	if other.Endpoint == right.Endpoint {
		t.Fatalf("the S3 server is not on 127.0.0.1: %s", right.Endpoint)
	}
	if out := cliOK(t, withS3(other, fsCmd, "get", "/a/b/f2")...); out != "xxx" {
		t.Errorf("get through %s: %q", other.Endpoint, out)
	}

	// A bucket emptied behind the store's back (marker and all) is
	// refused too, with the reason.
	emptyBucket(t, right)
	r = cliRun(t, "", withS3(right, fsCmd, "ls", "/a")...)
	checkCLIFailure(t, r, cli.ExitFailure, "emptied", nil)
}

func bucketClient(t *testing.T, cfg s3test.Config) *minio.Client {
	t.Helper()
	c, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func emptyBucket(t *testing.T, cfg s3test.Config) {
	t.Helper()
	st := s3Store(t, cfg)
	for _, o := range bucketObjects(t, cfg) {
		if err := st.Delete(t.Context(), o.Key); err != nil {
			t.Fatal(err)
		}
	}
}

// A server started against the wrong bucket, or a missing one, refuses to
// start, says why, and changes nothing; --init does not change that for a
// root that holds a store.
func TestServeWrongBucket(t *testing.T) {
	right, wrong := s3test.New(t), s3test.New(t)
	cleanStoreEnv(t)
	s3Keys(t, right)
	root := newStore(t, s3Flags(right)...)
	cliRunOK(t, "pw\n", "user", "add", "--root", root, "alice")
	before := tree(t, root)
	missing := right
	missing.Bucket = right.Bucket + "-nope"
	for _, tc := range []struct {
		cfg  s3test.Config
		args []string
		want string
	}{
		{wrong, nil, "is not the store's bucket"},
		{wrong, []string{"--init"}, "is not the store's bucket"},
		{missing, []string{"--init"}, "is not the store's bucket"},
		{missing, nil, "is not the store's bucket"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		var out, errOut strings.Builder
		args := withS3(tc.cfg, []string{"serve", "--root", root, "--addr", "127.0.0.1:0"}, tc.args...)
		code := cli.Execute(ctx, args, strings.NewReader(""), &out, &errOut)
		cancel()
		checkCLIFailure(t, cliResult{code: code, stdout: out.String(), stderr: errOut.String()}, cli.ExitFailure, tc.want, args)
		if !strings.Contains(errOut.String(), tc.cfg.Bucket) || !strings.Contains(errOut.String(), `"`+right.Bucket+`"`) {
			t.Errorf("serve %q: the error does not name both buckets: %s", tc.args, errOut.String())
		}
		if strings.Contains(out.String(), "serving") {
			t.Errorf("serve %q served: %s", tc.args, out.String())
		}
	}
	sameTree(t, "the root after the refused starts", before, tree(t, root))
	if got := bucketObjects(t, wrong); len(got) != 0 {
		t.Errorf("the wrong bucket got objects: %v", keysOf(got))
	}
	if ok, err := bucketClient(t, right).BucketExists(t.Context(), missing.Bucket); err != nil || ok {
		t.Errorf("bucket %s exists %t (%v)", missing.Bucket, ok, err)
	}
}

// Read-only commands never create a store, a root or a space; every
// command on a missing or empty root fails with exit 1 (3 for check) and a
// hint.
func TestNothingCreatedByReads(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_USERS", "")
	parent := t.TempDir()
	missing := filepath.Join(parent, "nonexistent")
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	before := tree(t, parent)
	run := "20261125T161341Z-1a2b3c"
	for _, root := range []string{missing, empty} {
		for _, args := range [][]string{
			{"fs", "ls", "/"}, {"fs", "ls", "--space", "alice", "/"}, {"fs", "stat", "/x"}, {"fs", "get", "/x"}, {"fs", "spaces"},
			{"fs", "mkdir", "/a"}, {"fs", "put", localFile(t, "x"), "/x"}, {"fs", "rm", "/x"},
			{"space", "list"}, {"space", "info", "alice"}, {"trash", "list", "--space", "alice"},
			{"versions", "list", "/x"}, {"share", "list"},
			{"user", "list"}, {"user", "add", "bob"},
			{"check"}, {"check", "--space", "alice"}, {"check", "undo", run}, {"check", "purge-quarantine", "--older-than", "1h"},
		} {
			args = append(args, "--root", root)
			r := cliRun(t, "pw\n", args...)
			code := cli.ExitFailure
			if args[0] == "check" {
				code = check.ExitIncomplete
			}
			checkCLIFailure(t, r, code, "no s3dfs store at "+root, args)
			if !strings.Contains(r.stderr, "s3dfs init") {
				t.Errorf("%q: no hint: %s", args, r.stderr)
			}
		}
	}
	sameTree(t, "the directory after commands on a missing and an empty root", before, tree(t, parent))
}

// On a store, reads create no space: not a project space beside a user's
// personal space, not "default"; --space NAME finds the personal space of
// user NAME. Only writes create the project space they name.
func TestNothingCreatedInAStore(t *testing.T) {
	cleanStoreEnv(t)
	root := newStore(t)
	t.Setenv("S3DFS_ROOT", root)
	pid := strings.TrimSpace(cliOK(t, "space", "create", "--type", "personal", "--owner", "alice", "alice"))
	cliRunOK(t, "hi", "fs", "put", "--space", "alice", "-", "/hello")
	// (blobs/.tmp is the posix blob store's scratch directory, which
	// every open probes.)
	before := tree(t, root, "check", "blobs/.tmp")

	if out := cliOK(t, "fs", "ls", "--space", "alice", "/"); out != "hello\n" {
		t.Errorf("ls of alice's space: %q", out)
	}
	if out := cliOK(t, "fs", "get", "--space", "alice", "/hello"); out != "hi" {
		t.Errorf("get from alice's space: %q", out)
	}
	cliFails(t, cli.ExitFailure, "space default: not found", "fs", "ls")
	cliFails(t, cli.ExitFailure, "space default: not found", "fs", "stat", "/hello")
	cliFails(t, cli.ExitFailure, "space nosuch: not found", "fs", "ls", "--space", "nosuch")
	cliFails(t, cli.ExitFailure, "space nosuch: not found", "fs", "get", "--space", "nosuch", "/x")
	cliFails(t, cli.ExitFailure, "space nosuch: not found", "fs", "rm", "--space", "nosuch", "/x")
	cliFails(t, cli.ExitFailure, "not found", "trash", "list", "--space", "nosuch")
	cliFails(t, check.ExitIncomplete, "not found", append([]string{"check", "--space", "nosuch"}, quick...)...)
	sameTree(t, "the store after reads", before, tree(t, root, "check", "blobs/.tmp"))
	cliOK(t, append([]string{"check", "--space", "alice"}, quick...)...) // alice's personal space
	if out := cliOK(t, "fs", "spaces"); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, pid+" personal") {
		t.Errorf("spaces after reads: %q, want alice's only", out)
	}

	// A write creates the project space it names.
	cliRunOK(t, "p", "fs", "put", "--space", "team", "-", "/p")
	if out := cliOK(t, "fs", "ls", "--space", "team", "/"); out != "p\n" {
		t.Errorf("ls of team: %q", out)
	}
	// An fs project space named like a user beside her personal space:
	// the name is ambiguous, an id is needed.
	cliOK(t, "space", "create", "--id", decomposedfs.NamedSpaceID("alice"), "alice")
	cliFails(t, cli.ExitFailure, "ambiguous", "fs", "ls", "--space", "alice", "/")
	cliOK(t, "fs", "ls", "--space", pid, "/")
}

// user commands need a store at --root (or --users FILE); user add --init
// starts the users file of a root that serve --init makes a store later.
func TestUserNeedsStore(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_USERS", "")
	root := filepath.Join(t.TempDir(), "r")
	r := cliRun(t, "pw\n", "user", "add", "--root", root, "alice")
	checkCLIFailure(t, r, cli.ExitFailure, "no s3dfs store at "+root, nil)
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("user add created %s: %v", root, err)
	}
	cliRunOK(t, "pw\n", "user", "add", "--init", "--root", root, "alice")
	cliRunOK(t, "pw\n", "user", "add", "--root", root, "bob") // the users file is there now
	if out := cliOK(t, "user", "list", "--root", root); out != "alice\nbob\n" {
		t.Errorf("users %q", out)
	}
	// The users file alone is no store.
	cliFails(t, cli.ExitFailure, "no s3dfs store", "fs", "ls", "--root", root)
	if out := cliOK(t, "init", "--root", root); !strings.HasPrefix(out, "created store ") {
		t.Errorf("init beside a users file: %q", out)
	}
}

// init creates only in a missing or empty directory, and refuses a blob
// store that belongs to another store or holds blobs.
func TestInitRefuses(t *testing.T) {
	cfg, plain := s3test.New(t), s3test.New(t)
	cleanStoreEnv(t)
	s3Keys(t, cfg)
	first := newStore(t, s3Flags(cfg)...)
	dir := t.TempDir()
	r := cliRun(t, "", withS3(cfg, []string{"init", "--root", filepath.Join(dir, "second")})...)
	checkCLIFailure(t, r, cli.ExitFailure, "belongs to another store already", nil)
	cliFails(t, cli.ExitFailure, "exists already", withS3(cfg, []string{"init", "--root", first})...)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	cliFails(t, cli.ExitFailure, "holds other files", "init", "--root", dir)
	// Blobs without a marker: an older store's bucket.
	if _, err := s3Store(t, plain).Put(t.Context(), "0a1b2c3d-0000-4000-8000-000000000000/aa/aa000000-0000-4000-8000-000000000000", strings.NewReader("x"), 1, blobstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r = cliRun(t, "", withS3(plain, []string{"init", "--root", filepath.Join(dir, "third")})...)
	checkCLIFailure(t, r, cli.ExitFailure, "holds blobs", nil)
	if _, err := os.Stat(filepath.Join(dir, "third")); !os.IsNotExist(err) {
		t.Errorf("a refused init left %s: %v", filepath.Join(dir, "third"), err)
	}
	// --s3-create-bucket=false: the bucket must exist.
	nope := cfg
	nope.Bucket = cfg.Bucket + "-new"
	cliFails(t, cli.ExitFailure, "does not exist", withS3(nope, []string{"init", "--root", filepath.Join(dir, "fourth"), "--s3-create-bucket=false"})...)
	cliFails(t, cli.ExitUsage, "unknown flag: --s3-create-bucket", withS3(cfg, []string{"fs", "ls", "--root", first, "--s3-create-bucket"})...)
}

// A store made before identities is adopted explicitly, after its blob
// store proved to hold its blobs; a store whose bucket moved is re-pointed
// the same way.
func TestAdoptAndRepoint(t *testing.T) {
	cfg, empty, other, moved := s3test.New(t), s3test.New(t), s3test.New(t), s3test.New(t)
	cleanStoreEnv(t)
	s3Keys(t, cfg)
	root := newStore(t, s3Flags(cfg)...)
	fsCmd := []string{"fs", "--root", root}
	for i := range 3 {
		cliOK(t, withS3(cfg, fsCmd, "put", localFile(t, "content "+strconv.Itoa(i)), "/f"+strconv.Itoa(i))...)
	}
	// What an earlier s3dfs left: no identity, no marker.
	if err := os.Remove(filepath.Join(root, storeid.FileName)); err != nil {
		t.Fatal(err)
	}
	if err := s3Store(t, cfg).Delete(t.Context(), storeid.MarkerKey); err != nil {
		t.Fatal(err)
	}
	cliFails(t, cli.ExitFailure, "init --adopt", withS3(cfg, fsCmd, "ls", "/")...)

	adopt := []string{"init", "--adopt", "--root", root}
	r := cliRun(t, "", withS3(empty, adopt)...)
	checkCLIFailure(t, r, cli.ExitFailure, "3 of 3 blobs", nil)
	if _, err := os.Stat(filepath.Join(root, storeid.FileName)); !os.IsNotExist(err) || len(bucketObjects(t, empty)) != 0 {
		t.Errorf("a refused adoption wrote something: %v, %v", err, keysOf(bucketObjects(t, empty)))
	}
	newStore(t, s3Flags(other)...)
	cliFails(t, cli.ExitFailure, "belongs to another store", withS3(other, adopt)...)
	if out := cliOK(t, withS3(cfg, adopt)...); !strings.HasPrefix(out, "adopted: ") || !strings.Contains(out, "3 of 3 sampled blobs found") {
		t.Errorf("adopt: %q", out)
	}
	if out := cliOK(t, withS3(cfg, fsCmd, "get", "/f1")...); out != "content 1" {
		t.Errorf("get after adoption: %q", out)
	}

	// The bucket is copied to a new one: refused until re-pointed.
	copyBucket(t, cfg, moved)
	r = cliRun(t, "", withS3(moved, fsCmd, "get", "/f1")...)
	checkCLIFailure(t, r, cli.ExitFailure, "init --adopt", nil)
	if !strings.Contains(r.stderr, cfg.Bucket) || !strings.Contains(r.stderr, moved.Bucket) {
		t.Errorf("not both buckets named: %s", r.stderr)
	}
	out := cliOK(t, withS3(moved, adopt)...)
	if !strings.Contains(out, "now keeps its blobs in") || !strings.Contains(out, "its marker names this store") || !strings.Contains(out, cfg.Bucket) {
		t.Errorf("re-point: %q", out)
	}
	if out := cliOK(t, withS3(moved, fsCmd, "get", "/f2")...); out != "content 2" {
		t.Errorf("get after re-pointing: %q", out)
	}
	cliFails(t, cli.ExitFailure, "is not the store's bucket", withS3(cfg, fsCmd, "get", "/f2")...)
}

func copyBucket(t *testing.T, from, to s3test.Config) {
	t.Helper()
	src, dst := s3Store(t, from), s3Store(t, to)
	for _, o := range bucketObjects(t, from) {
		rc, err := src.Open(t.Context(), o.Key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = dst.Put(t.Context(), o.Key, rc, o.Size, blobstore.PutOptions{Metadata: o.Metadata})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// guardStore makes a posix store with n files in /a and returns its root
// and a copy of its blobs (the posix layout: <root>/blobs/blobs).
func guardStore(t *testing.T, n int) (root, blobDir, backup string) {
	t.Helper()
	root = newStore(t)
	t.Setenv("S3DFS_ROOT", root)
	cliOK(t, "fs", "mkdir", "/a", "/b")
	for i := range n {
		cliRunOK(t, "content of f"+strconv.Itoa(i), "fs", "put", "-", fmt.Sprintf("/a/f%02d", i))
	}
	blobDir = filepath.Join(root, "blobs", "blobs")
	backup = filepath.Join(t.TempDir(), "backup")
	copyDir(t, blobDir, backup)
	return root, blobDir, backup
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// removeBlobs deletes every blob file below dir but the marker, behind the
// store's back (a bucket emptied by a lifecycle rule, say).
func removeBlobs(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == storeid.MarkerKey {
			return err
		}
		return os.Remove(p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runOf finds the run id in the output of a repair.
func runOf(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "repair run ")
	run, _, _ := strings.Cut(rest, ":")
	if !ok || !check.ValidRunID(run) {
		t.Fatalf("no run id in the repair's output:\n%s", out)
	}
	return run
}

func onlyRun(t *testing.T, root string) string {
	t.Helper()
	runs, err := check.ListRuns(root)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	return runs[0]
}

// A repair that would move most of the store to lost+found stops before it
// changes anything and asks for --force; forced, it does it, and undo
// brings every file back where it was, with its content.
func TestRepairGuardAndUndo(t *testing.T) {
	cleanStoreEnv(t)
	const n = 30
	root, blobDir, backup := guardStore(t, n)
	removeBlobs(t, blobDir)
	cliRun(t, "", append([]string{"check"}, quick...)...) // makes <root>/check
	before := tree(t, root, "check", "blobs/.tmp")

	r := cliRun(t, "", append([]string{"check", "--repair"}, quick...)...)
	if r.code != check.ExitIncomplete || !strings.Contains(r.stderr, "--force") ||
		!strings.Contains(r.stderr, fmt.Sprintf("%d file(s) have no blob", n)) || !strings.Contains(r.stderr, "right blob store") {
		t.Fatalf("repair over the limit: exit %d\n%s", r.code, r.stderr)
	}
	sameTree(t, "the store after the refused repair", before, tree(t, root, "check", "blobs/.tmp"))
	// The limit is configurable.
	r = cliRun(t, "", append([]string{"check", "--repair", "--guard-min", strconv.Itoa(n)}, quick...)...)
	if r.code == check.ExitIncomplete {
		t.Fatalf("--guard-min %d did not let the repair through: %s", n, r.stderr)
	}
	if out := cliOK(t, "fs", "ls", "/a"); out != "" {
		t.Errorf("/a after the repair: %q", out)
	}
	run := runOf(t, r.stdout)

	// The right blobs are back (the wrong bucket was the mistake): undo.
	copyDir(t, backup, blobDir)
	out := cliOK(t, "check", "undo", run)
	if !strings.Contains(out, fmt.Sprintf("restored %d item(s)", 2*n)) || !strings.Contains(out, "removed 2 empty folder(s)") {
		t.Errorf("undo printed %q", out)
	}
	for i := range n {
		if got := cliOK(t, "fs", "get", fmt.Sprintf("/a/f%02d", i)); got != "content of f"+strconv.Itoa(i) {
			t.Errorf("/a/f%02d after undo: %q", i, got)
		}
	}
	if out := cliOK(t, "fs", "ls", "/"); out != "a/\nb/\n" {
		t.Errorf("/ after undo: %q", out)
	}
	cliOK(t, append([]string{"check"}, quick...)...)
}

// Undo restores what it can and fails loudly for the rest: a name taken
// since, a folder gone since.
func TestUndoFailsLoudly(t *testing.T) {
	cleanStoreEnv(t)
	root, blobDir, backup := guardStore(t, 4)
	cliRunOK(t, "in b", "fs", "put", "-", "/b/g")
	removeBlobs(t, blobDir)
	cliOK(t, append([]string{"check", "--repair"}, quick...)...)
	run := onlyRun(t, root)
	copyDir(t, backup, blobDir)
	cliRunOK(t, "new", "fs", "put", "-", "/a/f01") // the name is taken again
	cliOK(t, "fs", "rm", "/b")                     // the folder is gone

	r := cliRun(t, "", "check", "undo", run)
	checkCLIFailure(t, r, check.ExitIncomplete, "not restored", nil)
	for _, want := range []string{"NOT restored: /a/f01: the name is taken again", "NOT restored: /b/g: the folder it was in is gone"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("undo output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"/a/f00", "/a/f02", "/a/f03"} {
		if got := cliOK(t, "fs", "get", f); !strings.HasPrefix(got, "content of ") {
			t.Errorf("%s after undo: %q", f, got)
		}
	}
	if got := cliOK(t, "fs", "get", "/a/f01"); got != "new" {
		t.Errorf("undo overwrote /a/f01: %q", got)
	}
	// What could not go back is still in lost+found, with its content.
	if got := cliOK(t, "fs", "get", "/lost+found/"+run+"/f01"); got != "content of f1" {
		t.Errorf("lost+found/%s/f01: %q", run, got)
	}
}

func TestPercentFlag(t *testing.T) {
	cleanStoreEnv(t)
	root := newStore(t)
	for _, bad := range []string{"5", "101%", "-1%", "x"} {
		cliFails(t, check.ExitIncomplete, "not a share", "check", "--root", root, "--repair", "--guard-share", bad)
	}
}

// A run of an earlier s3dfs recorded no lost+found moves in its manifest
// (its undo restored nothing); undo takes them from its repairs.ndjson.
func TestUndoOfAnOlderRun(t *testing.T) {
	cleanStoreEnv(t)
	root, blobDir, backup := guardStore(t, 5)
	removeBlobs(t, blobDir)
	cliOK(t, append([]string{"check", "--repair"}, quick...)...)
	run := onlyRun(t, root)
	// What the earlier version's manifest held: no relink, content or
	// made entries.
	man := filepath.Join(check.RunDir(root, run), "manifest.ndjson")
	b, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if line != "" && !strings.Contains(line, `"op":"relink"`) && !strings.Contains(line, `"op":"content"`) && !strings.Contains(line, `"op":"made"`) {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(man, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, blobDir)
	out := cliOK(t, "check", "undo", run)
	if !strings.Contains(out, "restored 10 item(s)") {
		t.Errorf("undo printed %q", out)
	}
	for i := range 5 {
		if got := cliOK(t, "fs", "get", fmt.Sprintf("/a/f%02d", i)); got != "content of f"+strconv.Itoa(i) {
			t.Errorf("/a/f%02d after undo: %q", i, got)
		}
	}
	if out := cliOK(t, "fs", "ls", "/lost+found"); out != "" {
		t.Errorf("lost+found after undo: %q", out)
	}
	cliOK(t, append([]string{"check"}, quick...)...)
}
