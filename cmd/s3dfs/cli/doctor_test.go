package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/internal/s3test"
)

// The doctor on a local disk: every check passes, the one between two
// processes too (its helper is this test binary acting as s3dfs).
func TestDoctorOnALocalDisk(t *testing.T) {
	cleanStoreEnv(t)
	t.Setenv("S3DFS_TEST_RUN_CLI", "1") // for the helper process
	root := t.TempDir()
	r := cliRun(t, "", "doctor", "--root", root, "--watch", "300ms", "--interval", "50ms")
	if r.code != 0 {
		t.Fatalf("doctor exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"xattrs                                 ok",
		"OFD locks, two processes on this host  ok       refused while a helper process held it, granted once it exited",
		"flock, two processes on this host      ok",
		"other processes seen                   -",
		"verdict: the volume gives what s3dfs needs",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	// The root held no store: the doctor leaves it empty, for 's3dfs init'.
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("the doctor left files behind in a root without a store: %v", entries)
	}
	if r := cliRun(t, "", "init", "--root", root); r.code != 0 {
		t.Errorf("init after the doctor: %+v", r)
	}
}

// initStore makes a store at root with the blob store flags, and user
// alice (password pw).
func initStore(t *testing.T, root string, flags ...string) {
	t.Helper()
	if r := cliRun(t, "", append([]string{"init", "--root", root}, flags...)...); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	if r := cliRun(t, "pw\n", "user", "add", "--root", root, "alice"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
}

// pretendRoot makes to claim to be the store and volume at from (a copy of
// its identity and volume id, like a second mount of one path shows), with
// user alice of its own.
func pretendRoot(t *testing.T, from, to string) {
	t.Helper()
	copyFile(t, filepath.Join(from, "store.json"), filepath.Join(to, "store.json"))
	copyFile(t, filepath.Join(from, "volume", "id"), filepath.Join(to, "volume", "id"))
	if r := cliRun(t, "pw\n", "user", "add", "--root", to, "alice"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
}

// s3Args are s3Flags with the keys.
func s3Args(cfg s3test.Config) []string {
	return append(s3Flags(cfg), "--s3-access-key", cfg.AccessKey, "--s3-secret-key", cfg.SecretKey)
}

func TestDoctorUsage(t *testing.T) {
	cleanStoreEnv(t)
	cliFails(t, 2, "--root is required", "doctor")
	cliFails(t, 2, "Interval", "doctor", "--root", t.TempDir(), "--interval", "1ms")
	cliFails(t, 1, "no such file", "doctor", "--root", filepath.Join(t.TempDir(), "missing"), "--blob-dir", t.TempDir())
}

// Two doctor runs at once on two roots that claim to be one volume (the
// second has the first one's volume id), sharing one bucket: they find
// each other through it, and both say the volume is not safe.
func TestDoctorsOnTwoRootsPretendingToBeOneFail(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	t.Setenv("S3DFS_TEST_RUN_CLI", "1") // for the helper process
	root1, root2 := t.TempDir(), t.TempDir()
	s3 := s3Args(cfg)
	initStore(t, root1, s3...)
	// A first short run creates the volume id.
	if r := cliRun(t, "", append([]string{"doctor", "--root", root1, "--watch", "0s"}, s3...)...); r.code != 0 {
		t.Fatalf("doctor: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pretendRoot(t, root1, root2)

	var wg sync.WaitGroup
	results := make([]cliResult, 2)
	for i, root := range []string{root1, root2} {
		wg.Go(func() {
			results[i] = cliRun(t, "", append([]string{"doctor", "--root", root, "--watch", "3s", "--interval", "100ms"}, s3...)...)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 1 {
			t.Errorf("doctor %d exited %d, want 1:\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			"OFD locks across processes and hosts   FAIL",
			"staleness                              FAIL",
			"other processes seen                   ok       1: doctor on",
			"verdict: NOT SAFE",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("doctor %d: the report lacks %q:\n%s", i+1, want, r.stdout)
			}
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitStatus polls url until it answers want (a bound of 60 s turns a
// hang into a failure) and returns the body.
func waitStatus(t *testing.T, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := httpDo(t, "GET", url, "", "", "")
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %q, want %d within 60 s", url, code, body, want)
		}
		time.Sleep(50 * time.Millisecond) // polling an HTTP endpoint: there is no event to wait on
	}
}

// Two servers on one root and one bucket: both ready, a write through one
// is read through the other at once.
func TestServeTwoServersOnOneRoot(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	root := t.TempDir()
	initStore(t, root, s3Args(cfg)...)
	args := append([]string{"--root", root, "--volume-probe-interval", "100ms", "--log-level", "warn"}, s3Args(cfg)...)
	a, logsA := startServe(t, args...)
	b, logsB := startServe(t, args...)
	for _, u := range []string{a, b} {
		if code, body := httpDo(t, "GET", u+"readyz", "", "", ""); code != http.StatusOK {
			t.Fatalf("readyz of %s: %d %q\n%s\n%s", u, code, body, logsA, logsB)
		}
	}
	for i := range 20 {
		body := strings.Repeat("x", i+1)
		if code, _ := httpDo(t, "PUT", a+"dav/files/alice/f", "alice", "pw", body); code != http.StatusCreated && code != http.StatusNoContent {
			t.Fatalf("PUT via A: %d", code)
		}
		if code, got := httpDo(t, "GET", b+"dav/files/alice/f", "alice", "pw", ""); code != http.StatusOK || got != body {
			t.Fatalf("round %d: GET via B: %d %q, want %q", i, code, got, body)
		}
	}
	for _, l := range []*lockedBuffer{logsA, logsB} {
		if strings.Contains(l.String(), "NOT safe") {
			t.Errorf("a server found the volume unsafe:\n%s", l)
		}
	}
}

// Two servers on two roots that claim to be one volume, sharing a bucket:
// what two FUSE mounts of one path look like to s3dfs. The second refuses
// writes from its first request on, the first within seconds; when the
// second stops, the first writes again.
func TestServeRefusesTwoRootsPretendingToBeOne(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	root1, root2 := t.TempDir(), t.TempDir()
	initStore(t, root1, s3Args(cfg)...)
	s3 := append(s3Args(cfg), "--volume-probe-interval", "100ms")
	a, logsA := startServe(t, append([]string{"--root", root1}, s3...)...)
	if code, _ := httpDo(t, "PUT", a+"dav/files/alice/before", "alice", "pw", "x"); code != http.StatusCreated {
		t.Fatalf("PUT on A alone: %d\n%s", code, logsA)
	}
	pretendRoot(t, root1, root2)

	b, logsB, stopB := startServeStoppable(t, append([]string{"--root", root2}, s3...)...)
	code, body := httpDo(t, "PUT", b+"dav/files/alice/f", "alice", "pw", "x")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "writes are refused: the metadata volume is not safe for writes") {
		t.Errorf("PUT on the second server: %d %q, want 503 saying why", code, body)
	}
	if code, body := httpDo(t, "MKCOL", b+"dav/files/alice/d", "alice", "pw", ""); code != http.StatusServiceUnavailable {
		t.Errorf("MKCOL on the second server: %d %q", code, body)
	}
	req, _ := http.NewRequest("POST", b+"dav/uploads/", nil)
	req.SetBasicAuth("alice", "pw")
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "1")
	req.Header.Set("Upload-Metadata", "filename Zg==")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("TUS creation on the second server: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, _ := httpDo(t, "GET", b+"readyz", "", "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz of the second server: %d", code)
	}
	if !strings.Contains(logsB.String(), "NOT safe") || !strings.Contains(logsB.String(), "OFD locks are not exclusive") {
		t.Errorf("the second server's log does not say why:\n%s", logsB)
	}
	waitStatus(t, a+"readyz", http.StatusServiceUnavailable)
	if code, _ := httpDo(t, "PUT", a+"dav/files/alice/during", "alice", "pw", "x"); code != http.StatusServiceUnavailable {
		t.Errorf("PUT on the first server with the second one running: %d", code)
	}
	if code, got := httpDo(t, "GET", a+"dav/files/alice/before", "alice", "pw", ""); code != http.StatusOK || got != "x" {
		t.Errorf("reads go on: %d %q", code, got)
	}

	stopB()
	waitStatus(t, a+"readyz", http.StatusOK)
	if code, _ := httpDo(t, "PUT", a+"dav/files/alice/after", "alice", "pw", "x"); code != http.StatusCreated {
		t.Errorf("PUT on the first server after the second stopped: %d", code)
	}
	if !strings.Contains(logsA.String(), "passes its checks again") {
		t.Errorf("the first server's log does not say that writes resume:\n%s", logsA)
	}
}

// --volume-checks warn: the failures are logged, writes are not refused.
func TestServeVolumeChecksWarn(t *testing.T) {
	cfg := s3test.New(t)
	cleanStoreEnv(t)
	root1, root2 := t.TempDir(), t.TempDir()
	initStore(t, root1, s3Args(cfg)...)
	s3 := append(s3Args(cfg), "--volume-probe-interval", "100ms")
	startServe(t, append([]string{"--root", root1}, s3...)...)
	pretendRoot(t, root1, root2)
	b, logsB := startServe(t, append([]string{"--root", root2, "--volume-checks", "warn"}, s3...)...)
	if code, _ := httpDo(t, "PUT", b+"dav/files/alice/f", "alice", "pw", "x"); code != http.StatusCreated {
		t.Errorf("PUT with --volume-checks warn: %d, want 201", code)
	}
	if code, _ := httpDo(t, "GET", b+"readyz", "", "", ""); code != http.StatusOK {
		t.Errorf("readyz with --volume-checks warn: %d, want 200", code)
	}
	for _, want := range []string{"--volume-checks warn", "NOT safe: writes go on (log only)"} {
		if !strings.Contains(logsB.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logsB)
		}
	}
}
