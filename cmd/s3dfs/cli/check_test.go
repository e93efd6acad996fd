package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

// checkStore makes a store with a few files through the CLI and returns
// its root and the default space's id.
func checkStore(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	root := newStore(t, extra...)
	src := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(src, []byte(strings.Repeat("x", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := append([]string{"fs", "--root", root}, extra...)
	cliOK(t, append(fs, "mkdir", "-p", "/a/b")...)
	cliOK(t, append(fs, "put", src, "/a/b/f.txt")...)
	cliOK(t, append(fs, "put", src, "/a/g.txt")...)
	return root, decomposedfs.NamedSpaceID("default")
}

// ndjson parses NDJSON output into records.
func ndjson(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not NDJSON: %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

func ofType(recs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

var quick = []string{"--settle", "0", "--grace", "0", "--pending-grace", "0", "--progress", "never"}

func TestCheckClean(t *testing.T) {
	cleanStoreEnv(t)
	root, _ := checkStore(t)
	out := cliOK(t, append([]string{"check", "--root", root}, quick...)...)
	if !strings.Contains(out, "no findings") || !strings.Contains(out, "where the bytes are") {
		t.Errorf("human output:\n%s", out)
	}
	out = cliOK(t, append([]string{"check", "--root", root, "--json"}, quick...)...)
	recs := ndjson(t, out)
	if len(recs) != 1 || recs[0]["type"] != "summary" || recs[0]["complete"] != true || recs[0]["files"] != float64(2) {
		t.Errorf("json output: %v", recs)
	}
	// The last summary is kept.
	out = cliOK(t, "check", "last", "--root", root, "--json")
	if !strings.Contains(out, `"complete": true`) && !strings.Contains(out, `"complete":true`) {
		t.Errorf("check last: %s", out)
	}
}

// TestCheckRepairUndo breaks a store two ways, checks (exit 1: warnings),
// repairs (exit 0), undoes the repair (the orphan blob is back), and purges
// the quarantine.
func TestCheckRepairUndo(t *testing.T) {
	cleanStoreEnv(t)
	root, sid := checkStore(t)
	blobs, err := posix.New(filepath.Join(root, "blobs"), posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	orphan := decomposedfs.BlobKey(sid, uuid.NewString())
	if _, err := blobs.Put(context.Background(), orphan, strings.NewReader("lost"), 4, blobstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A temp file of a record replacement that never finished.
	tmp := filepath.Join(root, "spaces", sid[:2], sid, "nodes", sid[:2], "."+sid+".mpk.0badf00d.tmp")
	if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := cliRun(t, "", append([]string{"check", "--root", root, "--json"}, quick...)...)
	if r.code != check.ExitWarnings {
		t.Fatalf("check: exit %d, want %d\n%s%s", r.code, check.ExitWarnings, r.stdout, r.stderr)
	}
	recs := ndjson(t, r.stdout)
	codes := map[string]bool{}
	for _, f := range ofType(recs, "finding") {
		codes[f["code"].(string)] = true
	}
	if !codes["blob.orphan"] || !codes["tmp.leftover"] || len(codes) != 2 {
		t.Errorf("findings %v, want blob.orphan and tmp.leftover", codes)
	}

	r = cliRun(t, "", append([]string{"check", "--root", root, "--repair", "--json"}, quick...)...)
	if r.code != 0 {
		t.Fatalf("repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	recs = ndjson(t, r.stdout)
	if n := len(ofType(recs, "repair")); n != 2 {
		t.Errorf("%d repair outcomes, want 2:\n%s", n, r.stdout)
	}
	rs := ofType(recs, "repair-summary")
	if len(rs) != 1 || rs[0]["repaired"] != float64(2) {
		t.Fatalf("repair summary: %v", rs)
	}
	run := rs[0]["run"].(string)
	cliOK(t, append([]string{"check", "--root", root}, quick...)...)
	if _, err := blobs.Stat(context.Background(), orphan); err == nil {
		t.Errorf("the orphan is still there after the repair")
	}

	out := cliOK(t, "check", "undo", "--root", root, run)
	if !strings.Contains(out, "restored 2 item(s)") {
		t.Errorf("undo: %s", out)
	}
	if _, err := blobs.Stat(context.Background(), orphan); err != nil {
		t.Errorf("the orphan is not back after undo: %v", err)
	}
	r = cliRun(t, "", append([]string{"check", "--root", root}, quick...)...)
	if r.code != check.ExitWarnings {
		t.Errorf("check after undo: exit %d, want %d", r.code, check.ExitWarnings)
	}

	// Repair again, then purge: undo is no longer possible.
	r = cliRun(t, "", append([]string{"check", "--root", root, "--repair"}, quick...)...)
	if r.code != 0 {
		t.Fatalf("repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out = cliOK(t, "check", "purge-quarantine", "--root", root, "--older-than", "0s")
	if !strings.HasPrefix(out, "purged 2 run(s), 1 blob(s)") {
		t.Errorf("purge: %q", out)
	}
	r = cliRun(t, "", "check", "undo", "--root", root, run)
	if r.code != check.ExitIncomplete || !strings.Contains(r.stderr, "purged") {
		t.Errorf("undo after purge: exit %d, %q", r.code, r.stderr)
	}
}

// TestCheckApplyFrom repairs a reviewed report: the finding taken out of
// it is left alone.
func TestCheckApplyFrom(t *testing.T) {
	cleanStoreEnv(t)
	root, sid := checkStore(t)
	nodes := filepath.Join(root, "spaces", sid[:2], sid, "nodes")
	for _, name := range []string{"one", "two"} {
		if err := os.WriteFile(filepath.Join(nodes, sid[:2], "stray-"+name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	report := filepath.Join(t.TempDir(), "report.ndjson")
	r := cliRun(t, "", append([]string{"check", "--root", root, "--report", report}, quick...)...)
	if r.code != check.ExitWarnings {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.Contains(line, "stray-two") {
			kept = append(kept, line)
		}
	}
	if len(kept) != 2 { // one finding, the summary
		t.Fatalf("report:\n%s", data)
	}
	if err := os.WriteFile(report, []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cliOK(t, append([]string{"check", "--root", root, "--apply-from", report}, quick...)...)
	if _, err := os.Stat(filepath.Join(nodes, sid[:2], "stray-one")); err == nil {
		t.Errorf("stray-one is still there")
	}
	if _, err := os.Stat(filepath.Join(nodes, sid[:2], "stray-two")); err != nil {
		t.Errorf("stray-two, left out of the report, was touched: %v", err)
	}
}

func TestCheckExitCodes(t *testing.T) {
	cleanStoreEnv(t)
	root, sid := checkStore(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--phases", "bogus"}, "unknown phase"},
		{[]string{"--path", "/a"}, "--path needs --space"},
		{[]string{"--bogus"}, "unknown flag"},
		{[]string{"--repair", "--apply-from", "x"}, "exclude each other"},
		{[]string{"--space", "nope"}, "not found"},
		{[]string{"extra-arg"}, "argument"},
	} {
		r := cliRun(t, "", append([]string{"check", "--root", root}, c.args...)...)
		if r.code != check.ExitIncomplete || !strings.Contains(r.stderr, c.want) {
			t.Errorf("check %v: exit %d, stderr %q; want %d and %q", c.args, r.code, r.stderr, check.ExitIncomplete, c.want)
		}
	}
	// An error finding: a linked record that cannot be read.
	var rec string
	filepath.Walk(filepath.Join(root, "spaces", sid[:2], sid, "nodes"), func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".mpk") && !strings.Contains(p, sid+".mpk") && rec == "" {
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, []byte("g.txt")) {
				rec = p
			}
		}
		return nil
	})
	if rec == "" {
		t.Fatal("no record of g.txt")
	}
	if err := os.WriteFile(rec, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cliRun(t, "", append([]string{"check", "--root", root}, quick...)...)
	if r.code != check.ExitErrors || !strings.Contains(r.stdout, "record.corrupt") {
		t.Errorf("corrupt record: exit %d\n%s", r.code, r.stdout)
	}
	// Scoped to the space (by name) and a path that does not hold it.
	r = cliRun(t, "", append([]string{"check", "--root", root, "--space", "default", "--path", "/a/b"}, quick...)...)
	if r.code != 0 {
		t.Errorf("check of /a/b: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// check last reports the last run's exit status.
	if r := cliRun(t, "", "check", "last", "--root", root); r.code != 0 {
		t.Errorf("check last: exit %d", r.code)
	}
	if out := cliOK(t, "check", "codes"); !strings.Contains(out, "blob.orphan") {
		t.Errorf("check codes: %s", out)
	}
}

// TestCheckS3 checks and repairs a store whose blobs are in S3, with the
// blob store flags of the other commands.
func TestCheckS3(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	t.Setenv("S3DFS_S3_ACCESS_KEY", cfg.AccessKey)
	t.Setenv("S3DFS_S3_SECRET_KEY", cfg.SecretKey)
	s3flags := []string{"--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket, "--s3-region", cfg.Region, "--s3-tls=" + strconv.FormatBool(cfg.UseTLS)}
	root, sid := checkStore(t, s3flags...)
	objs := blobObjects(t, cfg)
	if len(objs) != 2 {
		t.Fatalf("%d blobs", len(objs))
	}
	// Delete one file's blob behind the store's back.
	if err := s3Store(t, cfg).Delete(context.Background(), objs[0].Key); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"check", "--root", root, "--json"}, s3flags...), quick...)
	r := cliRun(t, "", args...)
	if r.code != check.ExitErrors || !strings.Contains(r.stdout, `"blob.missing"`) {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliRun(t, "", append(args, "--repair")...)
	if r.code != 0 {
		t.Fatalf("repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cliOK(t, append(append([]string{"check", "--root", root}, s3flags...), quick...)...)
	out := cliOK(t, append(append([]string{"fs", "--root", root, "--space", sid}, s3flags...), "ls", "/lost+found")...)
	if !strings.Contains(out, "/") {
		t.Errorf("lost+found: %q", out)
	}
}

func s3Store(t *testing.T, cfg s3test.Config) blobstore.Store {
	t.Helper()
	opts := s3.DefaultOptions()
	opts.Endpoint, opts.Bucket, opts.Region, opts.UseTLS = cfg.Endpoint, cfg.Bucket, cfg.Region, cfg.UseTLS
	opts.AccessKey, opts.SecretKey = cfg.AccessKey, cfg.SecretKey
	store, err := s3.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return store
}
