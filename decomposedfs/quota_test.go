package decomposedfs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

func (e *env) setQuota(t testing.TB, q int64) {
	t.Helper()
	if _, err := e.fs.SetQuota(admin, e.sid, q); err != nil {
		t.Fatal(err)
	}
}

func (e *env) space(t testing.TB) *decomposedfs.SpaceInfo {
	t.Helper()
	si, err := e.fs.GetSpace(admin, e.sid)
	if err != nil {
		t.Fatal(err)
	}
	return si
}

// refused checks that an upload was refused for quota and left nothing:
// no node, no blob, no size.
func (e *env) refused(t testing.TB, what string, err error, p string, blobs int, used int64) {
	t.Helper()
	if !errors.Is(err, decomposedfs.ErrQuotaExceeded) {
		t.Fatalf("%s: %v, want ErrQuotaExceeded", what, err)
	}
	if _, err := e.fs.GetMD(admin, e.ref(p)); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Fatalf("%s: a refused upload left %s: %v", what, p, err)
	}
	if n := e.blobCount(t); n != blobs {
		t.Fatalf("%s: %d blobs, want %d", what, n, blobs)
	}
	e.settled(t, what, used)
}

func TestQuotaUpload(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := admin
		e.setQuota(t, 1000)
		e.mkdir(t, "/d")
		e.put(t, "/d/a", payload(1, 600))
		err := upload(ctx, e.fs, e.ref("/d/b"), string(payload(2, 401)))
		e.refused(t, "known size", err, "/d/b", 1, 600)
		_, err = e.fs.Upload(ctx, e.ref("/d/b"), bytes.NewReader(payload(2, 401)), decomposedfs.UploadOptions{Size: -1})
		e.refused(t, "unknown size", err, "/d/b", 1, 600)
		// Up to the quota exactly, with a size known or not.
		if _, err := e.fs.Upload(ctx, e.ref("/d/b"), bytes.NewReader(payload(2, 300)), decomposedfs.UploadOptions{Size: -1}); err != nil {
			t.Fatal(err)
		}
		e.put(t, "/d/c", payload(3, 100))
		si := e.space(t)
		if si.Used != 1000 || si.Reserved != 0 || si.Available() != 0 {
			t.Fatalf("full space: %+v", si)
		}
		err = upload(ctx, e.fs, e.ref("/d/e"), "x")
		e.refused(t, "one byte more", err, "/d/e", 3, 1000)
		// An empty file takes nothing.
		if err := upload(ctx, e.fs, e.ref("/d/empty"), ""); err != nil {
			t.Fatalf("empty file in a full space: %v", err)
		}
		// Deleting frees quota; what is in the trash does not count.
		e.del(t, "/d/a")
		e.settled(t, "deleted", 400)
		e.put(t, "/d/a2", payload(4, 600))
		// A lower quota keeps what is stored and refuses what is new.
		e.setQuota(t, 500)
		if got := e.get(t, "/d/a2"); len(got) != 600 {
			t.Fatal("content lost to a lower quota")
		}
		err = upload(ctx, e.fs, e.ref("/d/f"), "x")
		e.refused(t, "over a lowered quota", err, "/d/f", 4, 1000)
		// No quota, no limit.
		e.setQuota(t, 0)
		e.put(t, "/d/big", payload(5, 5000))
		if si := e.space(t); si.Quota != 0 || si.Available() != -1 {
			t.Fatalf("no quota: %+v", si)
		}
		e.settled(t, "unlimited", 6000)
	})
}

// Resumable uploads hold their size of the quota from InitiateUpload until
// they finish, are aborted, or expire.
func TestQuotaResumable(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := admin
	e.setQuota(t, 1000)
	start := func(name string, size int64, ttl time.Duration) (*decomposedfs.UploadSession, error) {
		return e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref(name), Size: size, TTL: ttl})
	}
	reserved := func(want int64) {
		t.Helper()
		if si := e.space(t); si.Reserved != want || (si.Quota > 0 && si.Used+si.Reserved > si.Quota) {
			t.Fatalf("reserved %d (used %d), want %d", si.Reserved, si.Used, want)
		}
	}
	s1, err := start("/one", 300, 0)
	if err != nil {
		t.Fatal(err)
	}
	reserved(300)
	// What s1 holds, nobody else gets: not a session, not a plain upload.
	if _, err := start("/two", 701, 0); !errors.Is(err, decomposedfs.ErrQuotaExceeded) {
		t.Fatalf("second session over the quota: %v", err)
	}
	err = upload(ctx, e.fs, e.ref("/plain"), string(payload(1, 701)))
	e.refused(t, "plain upload beside a session", err, "/plain", 0, 0)
	s2, err := start("/two", 700, 0)
	if err != nil {
		t.Fatal(err)
	}
	reserved(1000)
	// Another process sees the same reservations.
	other := reopen(t, e)
	if _, err := other.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/three"), Size: 1}); !errors.Is(err, decomposedfs.ErrQuotaExceeded) {
		t.Fatalf("another process over the quota: %v", err)
	}
	// Finishing turns the reservation into used bytes.
	data := payload(2, 300)
	if _, err := e.fs.WriteUpload(ctx, s1.ID, 0, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	reserved(1000)
	if _, err := other.FinishUpload(ctx, s1.ID); err != nil {
		t.Fatal(err)
	}
	reserved(700)
	e.settled(t, "finished", 300)
	// Aborting gives it back, also after some of it arrived.
	if _, err := e.fs.WriteUpload(ctx, s2.ID, 0, bytes.NewReader(payload(3, 100)), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.AbortUpload(ctx, s2.ID); err != nil {
		t.Fatal(err)
	}
	reserved(0)
	e.settled(t, "aborted", 300)
	// A finish that fails for good (a wrong checksum) gives it back too.
	s3, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/bad"), Size: 10,
		Checksum: &decomposedfs.Checksum{Type: "sha1", Value: strings.Repeat("0", 40)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.WriteUpload(ctx, s3.ID, 0, bytes.NewReader(payload(4, 10)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(ctx, s3.ID); !errors.Is(err, decomposedfs.ErrChecksumMismatch) {
		t.Fatalf("finish with a wrong checksum: %v", err)
	}
	reserved(0)
	e.settled(t, "failed finish", 300)
	// Expiry: the reservation ends with its session, even before the
	// session is purged, and purging leaves nothing.
	const ttl = 200 * time.Millisecond
	s4, err := start("/four", 700, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.WriteUpload(ctx, s4.ID, 0, bytes.NewReader(payload(5, 50)), nil); err != nil {
		t.Fatal(err)
	}
	reserved(700)
	time.Sleep(ttl + 50*time.Millisecond)
	reserved(0)
	if err := upload(ctx, e.fs, e.ref("/after"), string(payload(6, 700))); err != nil {
		t.Fatalf("upload after the session expired: %v", err)
	}
	if n, err := e.fs.PurgeExpiredUploads(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, err := e.fs.FinishUpload(ctx, s4.ID); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Fatalf("finish of a purged session: %v", err)
	}
	reserved(0)
	e.settled(t, "expired", 1000)
	// A space without a quota holds nothing for sessions.
	e.setQuota(t, 0)
	s5, err := start("/five", 1<<40, 0)
	if err != nil {
		t.Fatal(err)
	}
	reserved(0)
	if err := e.fs.AbortUpload(ctx, s5.ID); err != nil {
		t.Fatal(err)
	}
	e.settled(t, "no quota", 1000)
}

func TestSetQuotaNeedsAdmin(t *testing.T) {
	e := newEnv(t, posixBlobs)
	for _, user := range []string{"alice", "bob"} { // the owner, a stranger
		if _, err := e.fs.SetQuota(as(user), e.sid, 1<<30); !errors.Is(err, decomposedfs.ErrPermissionDenied) {
			t.Errorf("SetQuota as %s: %v, want ErrPermissionDenied", user, err)
		}
	}
	if _, err := e.fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "manager"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.SetQuota(as("bob"), e.sid, 1<<30); !errors.Is(err, decomposedfs.ErrPermissionDenied) {
		t.Errorf("SetQuota as a manager: %v, want ErrPermissionDenied", err)
	}
	if si := e.space(t); si.Quota != 0 {
		t.Fatalf("quota changed: %+v", si)
	}
	if _, err := e.fs.SetQuota(admin, e.sid, -1); err == nil {
		t.Error("a negative quota is accepted")
	}
	si, err := e.fs.SetQuota(admin, e.sid, 12345)
	if err != nil || si.Quota != 12345 || e.space(t).Quota != 12345 {
		t.Fatalf("SetQuota: %+v %v", si, err)
	}
}

// Concurrent uploads of several processes that together exceed the quota:
// those accepted fit, the others get ErrQuotaExceeded and store nothing, and
// the space uses exactly the bytes of the stored files.

const quotaWorkerEnv = "S3DFS_TEST_QUOTA_WORKER"

type quotaWorkerConfig struct {
	Root, Space, Blobs string // Blobs: a posix directory, or "" for S3
	S3                 s3test.Config
	Worker, Uploads    int
	Mode               string // "known", "unknown" or "resumable"
}

// quotaUpload is one upload of a worker and its outcome.
type quotaUpload struct {
	Path     string
	Size     int
	Seed     uint64
	Accepted bool
}

func quotaUploadSize(worker, i int) int { return 1000 * (1 + (worker*7+i*3)%9) }

func TestQuotaConcurrentProcesses(t *testing.T) {
	for _, kind := range []blobKind{s3Blobs, posixBlobs} {
		t.Run(kind.String(), func(t *testing.T) {
			e := newEnv(t, kind)
			e.needMPK(t, "the worker processes open mpk on the same root")
			modes := []string{"known", "unknown", "resumable", "known", "resumable", "unknown"}
			const uploads = 8
			var attempted int64
			for w := range modes {
				e.mkdir(t, fmt.Sprintf("/w%d", w))
				for i := range uploads {
					attempted += int64(quotaUploadSize(w, i))
				}
			}
			quota := attempted * 2 / 5
			e.setQuota(t, quota)
			var wg sync.WaitGroup
			results := make([][]quotaUpload, len(modes))
			errs := make([]error, len(modes))
			for w, mode := range modes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cfg := quotaWorkerConfig{Root: e.root, Space: e.sid, Worker: w, Uploads: uploads, Mode: mode}
					if e.s3 != nil {
						cfg.S3 = *e.s3
					} else {
						cfg.Blobs = e.root + "/blobs"
					}
					enc, _ := json.Marshal(cfg)
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), quotaWorkerEnv+"="+string(enc))
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					if err := cmd.Run(); err != nil {
						errs[w] = fmt.Errorf("worker %d (%s): %v\n%s", w, mode, err, stderr.String())
						return
					}
					if err := json.Unmarshal(stdout.Bytes(), &results[w]); err != nil {
						errs[w] = fmt.Errorf("worker %d output %q: %v", w, stdout.String(), err)
					}
				}()
			}
			wg.Wait()
			var stored int64
			accepted, refused := map[string]int{}, map[string]int{}
			for w, rs := range results {
				if errs[w] != nil {
					t.Fatal(errs[w])
				}
				for _, r := range rs {
					if !r.Accepted {
						refused[modes[w]]++
						if _, err := e.fs.GetMD(admin, e.ref(r.Path)); !errors.Is(err, decomposedfs.ErrNotFound) {
							t.Errorf("refused %s exists: %v", r.Path, err)
						}
						continue
					}
					accepted[modes[w]]++
					stored += int64(r.Size)
					if got := e.get(t, r.Path); !bytes.Equal(got, payload(r.Seed, r.Size)) {
						t.Errorf("%s: content differs", r.Path)
					}
				}
			}
			t.Logf("quota %d of %d attempted: stored %d; accepted %v, refused %v", quota, attempted, stored, accepted, refused)
			if stored > quota {
				t.Errorf("stored %d bytes, quota %d", stored, quota)
			}
			if len(refused) == 0 || len(accepted) == 0 {
				t.Errorf("accepted %v, refused %v: the quota did not bite, or nothing fit", accepted, refused)
			}
			si := e.space(t)
			if si.Used != stored || si.Reserved != 0 {
				t.Errorf("space uses %d and reserves %d; the stored files take %d", si.Used, si.Reserved, stored)
			}
			// Also seen afresh, and no blob of a refused upload is left.
			e.consistent(t)
			fresh := reopen(t, e)
			if si, err := fresh.GetSpace(admin, e.sid); err != nil || si.Used != stored {
				t.Errorf("a fresh process sees %+v %v", si, err)
			}
		})
	}
}

// runQuotaWorker is the body of a worker process: its uploads, one after
// the other, racing the other workers'; it prints what it did as JSON.
func runQuotaWorker() int {
	var cfg quotaWorkerConfig
	if err := json.Unmarshal([]byte(os.Getenv(quotaWorkerEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fs, closeFS, err := openChildFS(cfg.Root, cfg.S3, cfg.Blobs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer closeFS()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(cfg.Worker), 7))
	var out []quotaUpload
	for i := range cfg.Uploads {
		u := quotaUpload{Path: fmt.Sprintf("/w%d/f%d", cfg.Worker, i), Size: quotaUploadSize(cfg.Worker, i), Seed: rng.Uint64()}
		data := payload(u.Seed, u.Size)
		ref := decomposedfs.Reference{SpaceID: cfg.Space, Path: u.Path}
		switch cfg.Mode {
		case "known", "unknown":
			size := int64(u.Size)
			if cfg.Mode == "unknown" {
				size = -1
			}
			_, err = fs.Upload(ctx, ref, bytes.NewReader(data), decomposedfs.UploadOptions{Size: size})
		case "resumable":
			var s *decomposedfs.UploadSession
			s, err = fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: ref, Size: int64(u.Size)})
			if err == nil {
				half := u.Size / 2
				if _, err = fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(data[:half]), nil); err == nil {
					if _, err = fs.WriteUpload(ctx, s.ID, int64(half), bytes.NewReader(data[half:]), nil); err == nil {
						_, err = fs.FinishUpload(ctx, s.ID)
					}
				}
			}
		}
		switch {
		case err == nil:
			u.Accepted = true
		case errors.Is(err, decomposedfs.ErrQuotaExceeded):
		default:
			fmt.Fprintf(os.Stderr, "%s upload %s: %v\n", cfg.Mode, u.Path, err)
			return 1
		}
		out = append(out, u)
	}
	enc, _ := json.Marshal(out)
	fmt.Println(string(enc))
	return 0
}

// A copy stores new blobs: it counts against the quota of the space it
// copies into, from the same space or from another one.
func TestQuotaCopy(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := admin
	e.setQuota(t, 1000)
	e.mkdir(t, "/d")
	e.put(t, "/d/a", payload(1, 300))
	e.put(t, "/d/b", payload(2, 300))
	other, err := e.fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "other", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	big := decomposedfs.Reference{SpaceID: other.ID, Path: "/big"}
	if _, err := e.fs.Upload(ctx, big, bytes.NewReader(payload(3, 500)), decomposedfs.UploadOptions{Size: 500}); err != nil {
		t.Fatal(err)
	}
	blobs := e.blobCount(t)
	_, err = e.fs.Copy(ctx, e.ref("/d"), e.ref("/d2"), decomposedfs.CopyOptions{})
	e.refused(t, "copy of a folder", err, "/d2", blobs, 600)
	_, err = e.fs.Copy(ctx, big, e.ref("/big"), decomposedfs.CopyOptions{})
	e.refused(t, "copy from another space", err, "/big", blobs, 600)
	if _, err := e.fs.Copy(ctx, e.ref("/d/a"), e.ref("/a2"), decomposedfs.CopyOptions{}); err != nil {
		t.Fatalf("a copy that fits: %v", err)
	}
	if si := e.space(t); si.Used != 900 || si.Reserved != 0 {
		t.Fatalf("after a copy: %+v", si)
	}
	e.settled(t, "copied", 900)
}
