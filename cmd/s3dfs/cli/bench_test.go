package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--backends", "mpk,oracle"},
		{"bench", "--sizes", "lots"},
		{"bench", "--durability", "sometimes"},
		{"bench", "--workers", "0"},
		{"bench", "--blobs", "tape"},
		{"bench", "--quick", "--workloads", "compile"},
		{"bench", "extra"},
	} {
		r := cliRun(t, "", args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "s3dfs: ") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error (2)", args, r.code, r.stderr)
		}
	}
}

func TestBenchHelpListsBackendsAndWorkloads(t *testing.T) {
	r := cliRun(t, "", "bench", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"mpk, xattr, postgres, sqlite", "stat-id", "upload-burst", "--quick", "--pg-dsn", "--fs"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestBenchRuns runs a small bench through the command line, with the
// test binary as the workers' program (S3DFS_TEST_RUN_CLI, see TestMain).
func TestBenchRuns(t *testing.T) {
	t.Setenv("S3DFS_TEST_RUN_CLI", "1")
	fs, err := os.MkdirTemp("", "s3dfs-bench-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(fs) })
	out := t.TempDir()
	r := cliRun(t, "", "bench", "--quick", "--fs", fs, "--backends", "sqlite,mpk", "--workloads", "stat-id,create-files",
		"--sizes", "200", "--reps", "1", "--out", out, "--name", "cli")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "from sqlite, mpk on "+fs) || !strings.Contains(r.stdout, "report: "+out+"/cli.md") {
		t.Errorf("summary: %s", r.stdout)
	}
	md, err := os.ReadFile(filepath.Join(out, "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| stat-id | hot strict 1w | 200 |") || !strings.Contains(string(md), "`s3dfs bench --backends sqlite,mpk --fs "+fs) || !strings.Contains(string(md), " --quick ") {
		t.Errorf("report:\n%s", md)
	}
}
