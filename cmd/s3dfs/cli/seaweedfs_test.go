//go:build seaweedfs

// The tests of s3dfs on SeaweedFS: its S3 gateway for the blobs and
// `weed mount` (FUSE) for the metadata root. They need the weed binary
// (scripts/install-seaweedfs.sh) and fuse3, and run with
//
//	go test -tags seaweedfs -run SeaweedFS ./cmd/s3dfs/cli/
//
// (make test-seaweedfs runs them). They fail, never skip, when SeaweedFS
// cannot be started or mounted.

package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/weedtest"
	"github.com/s3dfs/s3dfs/volprobe"
)

func weedS3Flags(cfg s3test.Config) []string {
	return []string{"--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket, "--s3-access-key", cfg.AccessKey,
		"--s3-secret-key", cfg.SecretKey, "--s3-region", cfg.Region}
}

// weedRoot makes a store below a mount, its blobs in the bucket of cfg,
// with user alice.
func weedRoot(t *testing.T, mnt string, cfg s3test.Config) string {
	t.Helper()
	root := filepath.Join(mnt, "root")
	initStore(t, root, weedS3Flags(cfg)...)
	return root
}

// One mount shared by two servers is one kernel's view of the files: its
// locks and changes are shared, and a write through one server is read
// through the other at once. But its rename(2) is not atomic for readers
// (a file being replaced is missing for a moment), so a record being
// updated can look deleted: the servers refuse writes on it. With
// --volume-checks warn they take them, and everything else holds.
func TestSeaweedFSOneMountTwoServers(t *testing.T) {
	w := weedtest.Shared(t)
	cleanStoreEnv(t)
	mnt := weedtest.NewMount(t, "/"+w.S3.Bucket)
	root := weedRoot(t, mnt, w.S3)
	args := append([]string{"--root", root, "--volume-probe-interval", "500ms", "--log-level", "warn"}, weedS3Flags(w.S3)...)

	// Enforced (the default): refused, and only for the rename.
	a, logsA, stopA := startServeStoppable(t, args...)
	code, body := httpDo(t, "GET", a+"readyz", "", "", "")
	if code != http.StatusServiceUnavailable || body != "not ready: the metadata volume is not safe for writes (failed: "+volprobe.CheckAtomicRename+")\n" {
		t.Errorf("readyz on one weed mount: %d %q, want 503 for the rename check alone\n%s", code, body, logsA)
	}
	if code, _ := httpDo(t, "PUT", a+"dav/files/alice/x", "alice", "pw", "x"); code != http.StatusServiceUnavailable {
		t.Errorf("PUT on one weed mount: %d, want 503", code)
	}
	stopA()

	args = append(args, "--volume-checks", "warn")
	a, logsA = startServe(t, args...)
	b, logsB := startServe(t, args...)

	// Read-after-write across the servers, 200 times.
	fails := 0
	for i := range 200 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		body := fmt.Sprintf("round %d %s", i, strings.Repeat("x", i))
		if code, _ := httpDo(t, "PUT", from+"dav/files/alice/raw.txt", "alice", "pw", body); code != http.StatusCreated && code != http.StatusNoContent {
			t.Fatalf("round %d: PUT: %d", i, code)
		}
		if code, got := httpDo(t, "GET", to+"dav/files/alice/raw.txt", "alice", "pw", ""); code != http.StatusOK || got != body {
			fails++
			t.Errorf("round %d: GET through the other server: %d %q, want %q", i, code, got, body)
		}
	}
	t.Logf("200 write-through-one, read-through-the-other rounds: %d failures", fails)

	// Concurrent uploads through both servers into one folder.
	if code, _ := httpDo(t, "MKCOL", a+"dav/files/alice/many", "alice", "pw", ""); code != http.StatusCreated {
		t.Fatalf("MKCOL: %d", code)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				srv := []string{a, b}[(g+i)%2]
				name := fmt.Sprintf("dav/files/alice/many/g%d-%02d", g, i)
				if code, _ := httpDo(t, "PUT", srv+name, "alice", "pw", name); code != http.StatusCreated {
					t.Errorf("PUT %s: %d", name, code)
				}
			}
		})
	}
	wg.Wait()
	for g := range 4 {
		for i := range 25 {
			name := fmt.Sprintf("dav/files/alice/many/g%d-%02d", g, i)
			srv := []string{a, b}[(g+i+1)%2] // the other server
			if code, got := httpDo(t, "GET", srv+name, "alice", "pw", ""); code != http.StatusOK || got != name {
				t.Errorf("GET %s: %d %q", name, code, got)
			}
		}
	}
	// Between the two servers themselves, the locks hold, and every change
	// shows at once, but for the rename again: a record file being replaced
	// is sometimes missing when the other looks.
	for _, l := range []*lockedBuffer{logsA, logsB} {
		for _, bad := range []string{volprobe.CheckOFDPeers, volprobe.CheckFlockPeers} {
			if strings.Contains(l.String(), bad) {
				t.Errorf("a server on one mount failed %q:\n%s", bad, l)
			}
		}
		for _, line := range strings.Split(l.String(), "\n") {
			for _, p := range strings.Split(line, volprobe.CheckStaleness+": ")[1:] {
				if !strings.Contains(p, "at first look: replaced file missing") {
					t.Errorf("a server on one mount found changes late, not for the rename: %s", p)
				}
			}
		}
	}
	// The checker finds nothing wrong.
	r := cliRun(t, "", append([]string{"check", "--root", root}, weedS3Flags(w.S3)...)...)
	if r.code != 0 {
		t.Errorf("s3dfs check after the rounds: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// Two mounts of one filer path are what two hosts see, and they share
// neither locks nor changes in time. On a weed mount every server refuses
// writes already (its rename is not atomic, see above); the second mount
// adds the failures between the servers: the second server has them in
// its first verdict, the first one within seconds, and they go when the
// second server stops.
func TestSeaweedFSTwoMountsAreRefused(t *testing.T) {
	w := weedtest.Shared(t)
	cleanStoreEnv(t)
	mnt1 := weedtest.NewMount(t, "/"+w.S3.Bucket)
	mnt2 := weedtest.NewMount(t, "/"+w.S3.Bucket)
	root1 := weedRoot(t, mnt1, w.S3)
	root2 := filepath.Join(mnt2, "root")
	flags := append([]string{"--volume-probe-interval", "1s"}, weedS3Flags(w.S3)...)
	a, logsA := startServe(t, append([]string{"--root", root1}, flags...)...)
	alone := "not ready: the metadata volume is not safe for writes (failed: " + volprobe.CheckAtomicRename + ")\n"
	if code, body := httpDo(t, "GET", a+"readyz", "", "", ""); code != http.StatusServiceUnavailable || body != alone {
		t.Fatalf("readyz of the first server alone: %d %q, want %q\n%s", code, body, alone, logsA)
	}
	// The second mount shows the root (users, volume id) after a while.
	deadline := time.Now().Add(30 * time.Second)
	for _, f := range []string{"users.json", "volume/id"} {
		for {
			if _, err := os.Stat(filepath.Join(root2, f)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second mount does not show %s after 30 s", f)
			}
			time.Sleep(100 * time.Millisecond) // waiting for the other mount: no event to wait on
		}
	}

	started := time.Now()
	b, logsB, stopB := startServeStoppable(t, append([]string{"--root", root2}, flags...)...)
	bStarted := time.Since(started)
	_, body := httpDo(t, "GET", b+"readyz", "", "", "")
	if !strings.Contains(body, volprobe.CheckOFDPeers) {
		t.Errorf("the second server's first verdict lacks %q: %q\n%s", volprobe.CheckOFDPeers, body, logsB)
	}
	if code, body := httpDo(t, "PUT", b+"dav/files/alice/f", "alice", "pw", "x"); code != http.StatusServiceUnavailable || !strings.Contains(body, "writes are refused") {
		t.Errorf("PUT on the second server: %d %q, want 503", code, body)
	}
	waitFor(t, "the first server's verdict to name the locks", func() bool {
		_, body := httpDo(t, "GET", a+"readyz", "", "", "")
		return strings.Contains(body, volprobe.CheckOFDPeers)
	})
	aFailed := time.Since(started)
	t.Logf("the second server started (first verdict included) in %v, failing %q; the first server's verdict named the locks %v after that start",
		bStarted.Round(time.Millisecond), strings.TrimSpace(body), aFailed.Round(time.Millisecond))
	for _, l := range []*lockedBuffer{logsA, logsB} {
		if !strings.Contains(l.String(), "OFD locks are not exclusive") {
			t.Errorf("a server's log does not say that the locks are not exclusive:\n%s", l)
		}
	}

	stopB()
	waitFor(t, "the first server's verdict to be the rename alone again", func() bool {
		code, body := httpDo(t, "GET", a+"readyz", "", "", "")
		return code == http.StatusServiceUnavailable && body == alone
	})
}

// waitFor polls cond until it holds (a bound of 60 s turns a hang into a
// failure).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling a server: no event to wait on
	}
}

// The doctor on one mount fails the rename check, and only it; two doctor
// runs at once on two mounts of one path find each other and fail the
// checks between them too.
func TestSeaweedFSDoctor(t *testing.T) {
	w := weedtest.Shared(t)
	cleanStoreEnv(t)
	t.Setenv("S3DFS_TEST_RUN_CLI", "1") // for the helper process
	mnt1 := weedtest.NewMount(t, "/"+w.S3.Bucket)
	mnt2 := weedtest.NewMount(t, "/"+w.S3.Bucket)
	root1, root2 := weedRoot(t, mnt1, w.S3), filepath.Join(mnt2, "root")
	r := cliRun(t, "", append([]string{"doctor", "--root", root1, "--watch", "2s"}, weedS3Flags(w.S3)...)...)
	t.Logf("doctor on one mount:\n%s", r.stdout)
	if r.code != 1 || strings.Count(r.stdout, " FAIL ") != 1 || !strings.Contains(r.stdout, volprobe.CheckAtomicRename+"        FAIL") {
		t.Errorf("doctor on one mount: exit %d, want 1 with the rename check failing, and only it\n%s", r.code, r.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(root2, "volume", "id")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second mount does not show the volume id after 30 s")
		}
		time.Sleep(100 * time.Millisecond) // waiting for the other mount: no event to wait on
	}
	var wg sync.WaitGroup
	results := make([]cliResult, 2)
	for i, root := range []string{root1, root2} {
		wg.Go(func() {
			results[i] = cliRun(t, "", append([]string{"doctor", "--root", root, "--watch", "8s"}, weedS3Flags(w.S3)...)...)
		})
	}
	wg.Wait()
	for i, r := range results {
		t.Logf("doctor on mount %d:\n%s", i+1, r.stdout)
		if r.code != 1 || !strings.Contains(r.stdout, "OFD locks across processes and hosts   FAIL") || !strings.Contains(r.stdout, "verdict: NOT SAFE") {
			t.Errorf("doctor on mount %d: exit %d, want 1 with a failing OFD check", i+1, r.code)
		}
	}
}
