package volprobe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
)

// recorder collects the rounds of a monitor.
type recorder struct{ ch chan Round }

func record(o *Options) *recorder {
	r := &recorder{ch: make(chan Round, 100000)}
	o.afterRound = func(x Round) { r.ch <- x }
	return r
}

// until returns the first round (from now on) that meets cond; every round
// it passes over is given to each, if not nil. A bound of 30 s only turns a
// hang into a failure.
func (r *recorder) until(t *testing.T, what string, cond func(Round) bool, each func(Round)) Round {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case x := <-r.ch:
			if cond(x) {
				return x
			}
			if each != nil {
				each(x)
			}
		case <-deadline:
			t.Fatalf("no round %s within 30 s", what)
		}
	}
}

func start(t *testing.T, o Options) *Monitor {
	t.Helper()
	m, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func sortedChecks(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		if !slices.Contains(out, p.Check) {
			out = append(out, p.Check)
		}
	}
	slices.Sort(out)
	return out
}

func verdictProblems(t *testing.T, err error, kind error) []Problem {
	t.Helper()
	var ve *VerdictError
	if !errors.As(err, &ve) || !errors.Is(err, kind) {
		t.Fatalf("Err = %v, want a *VerdictError wrapping %v", err, kind)
	}
	return ve.Problems
}

func noProblems(t *testing.T, who string) func(Round) {
	return func(r Round) {
		if len(r.Problems) > 0 {
			t.Errorf("%s: a round failed: %v", who, r.Problems)
		}
	}
}

func peerIn(r Round, id string) (PeerRound, bool) {
	for _, p := range r.Peers {
		if p.ID == id {
			return p, true
		}
	}
	return PeerRound{}, false
}

// probedClean: the round refused both locks of the peer and saw its files
// at once.
func probedClean(r Round, id string) bool {
	p, ok := peerIn(r, id)
	return ok && p.VolumeOK && p.OFD == "refused" && p.Flock == "refused" && p.Looked && p.Stale == 0 && !p.Capped
}

func TestLocalChecksPassOnThisDisk(t *testing.T) {
	root := newRoot(t)
	for _, c := range LocalChecks(root, true) {
		t.Logf("%-28s %-4s %s", c.Name, c.Status, c.Detail)
		if c.Status == Fail {
			t.Errorf("%s failed on the local disk: %s", c.Name, c.Detail)
		}
	}
	left, _ := filepath.Glob(filepath.Join(root, volumeDir, ".check-*"))
	if len(left) > 0 {
		t.Errorf("the checks left files behind: %v", left)
	}
}

func TestLocalChecksNeedAnExistingRoot(t *testing.T) {
	cs := LocalChecks(filepath.Join(t.TempDir(), "missing"), false)
	if len(cs) != 1 || cs[0].Status != Fail || !strings.Contains(cs[0].Detail, "no such file") {
		t.Fatalf("checks of a missing root: %+v", cs)
	}
}

// Two real processes on one root and one witness: each probes the other,
// every round passes, and the one that stops leaves nothing behind.
func TestTwoProcessesOnOneRootPass(t *testing.T) {
	root, wdir := newRoot(t), t.TempDir()
	o := testOptions(root, posixWitness(t, wdir))
	rec := record(&o)
	a := start(t, o)
	if err := a.Err(); err != nil {
		t.Fatalf("a lone process on a local disk: %v", err)
	}

	cmd, stdin, stdout := startRole(t, "monitor", root, wdir)
	child := make(chan roleRound, 100000)
	go func() {
		dec := json.NewDecoder(stdout)
		for {
			var rr roleRound
			if dec.Decode(&rr) != nil {
				close(child)
				return
			}
			child <- rr
		}
	}()
	var childID string
	for rr := range child {
		childID = rr.ID
		if len(rr.Problems) > 0 || rr.Err != "" {
			t.Fatalf("the other process failed a round: %v (%s)", rr.Problems, rr.Err)
		}
		if probedClean(Round{Peers: rr.Peers}, a.ID()) {
			break
		}
	}
	if childID == "" {
		t.Fatal("the other process reported no round")
	}
	rec.until(t, "that probed the other process", func(r Round) bool { return probedClean(r, childID) }, noProblems(t, "this process"))
	if err := a.Err(); err != nil {
		t.Fatalf("Err with a coherent peer: %v", err)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the other process: %v", err)
	}
	rec.until(t, "without the stopped process", func(r Round) bool {
		_, ok := peerIn(r, childID)
		return !ok
	}, noProblems(t, "this process"))
	for _, p := range []string{filepath.Join(root, volumeDir, childID), filepath.Join(root, volumeDir, childID+".rec")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the stopped process left %s (%v)", p, err)
		}
	}
	if _, err := o.Witness.Stat(context.Background(), DefaultPrefix+"peers/"+childID); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("the stopped process left its announcement (%v)", err)
	}
	if err := a.Err(); err != nil {
		t.Fatalf("Err after the peer left: %v", err)
	}
}

// Two roots that claim to be one volume (the second has a copy of the
// first one's id) behave like two mounts that do not share locks or
// changes: both processes must refuse writes, the second one from its
// first verdict on; when the second stops, the first recovers.
func TestTwoRootsPretendingToBeOneAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		witness func(t *testing.T) blobstore.Store
	}{
		{"posix witness", func(t *testing.T) blobstore.Store { return posixWitness(t, t.TempDir()) }},
		{"S3 witness", s3Witness},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.witness(t)
			root1, root2 := newRoot(t), newRoot(t)
			oa := testOptions(root1, w)
			reca := record(&oa)
			a := start(t, oa)
			if err := a.Err(); err != nil {
				t.Fatal(err)
			}
			copyVolumeID(t, root1, root2)
			// The first process's stamp file shows on the second root too
			// (as a file of its own, like on a second mount), so that the
			// flock is probed as well.
			if err := os.WriteFile(filepath.Join(root2, volumeDir, a.ID()), nil, 0o644); err != nil {
				t.Fatal(err)
			}

			b := start(t, testOptions(root2, w))
			got := sortedChecks(verdictProblems(t, b.Err(), ErrUnsafe))
			want := []string{CheckOFDPeers, CheckFlockPeers, CheckStaleness}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("the second process's first verdict failed %v, want %v: %v", got, want, b.Err())
			}
			// Both locks were confirmed by the first process, which is alive.
			reca.until(t, "of the first process that saw the challenge", func(r Round) bool {
				got := sortedChecks(r.Problems)
				return slices.Contains(got, CheckOFDPeers) && slices.Contains(got, CheckFlockPeers)
			}, nil)
			verdictProblems(t, a.Err(), ErrUnsafe)

			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			reca.until(t, "of the first process that passes again", func(r Round) bool { return r.Err == nil }, nil)
			if err := a.Err(); err != nil {
				t.Fatalf("the first process alone again: %v", err)
			}
		})
	}
}

func s3Witness(t *testing.T) blobstore.Store {
	st, err := s3.New(context.Background(), s3store.Options(s3test.New(t)))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func copyVolumeID(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, volumeDir, "id"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(to, volumeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, volumeDir, "id"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTwoRootsOnOneBucketAreRefused(t *testing.T) {
	w := posixWitness(t, t.TempDir())
	start(t, testOptions(newRoot(t), w))
	b := start(t, testOptions(newRoot(t), w))
	ps := verdictProblems(t, b.Err(), ErrUnsafe)
	if got := sortedChecks(ps); !slices.Equal(got, []string{CheckVolumeID}) {
		t.Fatalf("problems %v, want only %q: %v", got, CheckVolumeID, ps)
	}
}

// lagLook simulates a volume whose changes show late in this process (an
// attribute cache, a second FUSE mount): while on, a look returns what the
// files held lag ago.
func lagLook(on *atomic.Bool, lag time.Duration) lookFunc {
	type seen struct {
		o  observation
		at time.Time
	}
	var mu sync.Mutex
	hist := map[string][]seen{}
	return func(stamp, rec string, kept *os.File) (observation, error) {
		o, err := look(stamp, rec, kept)
		if err != nil || !on.Load() {
			return o, err
		}
		mu.Lock()
		defer mu.Unlock()
		h := hist[stamp]
		if len(h) == 0 || h[len(h)-1].o != o {
			h = append(h, seen{o, time.Now()})
			hist[stamp] = h
		}
		for i := len(h) - 1; i >= 0; i-- {
			if time.Since(h[i].at) >= lag {
				return h[i].o, nil
			}
		}
		return observation{}, nil
	}
}

func TestLateChangesAreRefusedAndWritesResume(t *testing.T) {
	root, w := newRoot(t), posixWitness(t, t.TempDir())
	start(t, testOptions(root, w))
	var laggy atomic.Bool
	laggy.Store(true)
	o := testOptions(root, w)
	o.look = lagLook(&laggy, 100*time.Millisecond)
	var logs syncBuffer
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	rec := record(&o)
	b := start(t, o)

	ps := verdictProblems(t, b.Err(), ErrUnsafe)
	if got := sortedChecks(ps); !slices.Equal(got, []string{CheckStaleness}) {
		t.Fatalf("a volume 100 ms late failed %v, want only %q: %v", got, CheckStaleness, ps)
	}
	if !strings.Contains(ps[0].Detail, "strict cache mode") || !strings.Contains(ps[0].Detail, "showed after") {
		t.Errorf("the problem does not say how late and against which bound: %s", ps[0].Detail)
	}

	// Several failing rounds, one log line each time the verdict turns to
	// failing: the details change every round, the failing checks do not.
	// (On a slow machine the lag can miss a round, which may then pass.)
	failing, turns := 0, 1 // the first round turns the unverified start to failing
	wasOK := false
	rec.until(t, "after ten failing rounds", func(r Round) bool { return failing >= 10 }, func(r Round) {
		if len(r.Problems) > 0 {
			failing++
			if wasOK {
				turns++
			}
		}
		wasOK = r.Err == nil
	})
	if n := strings.Count(logs.String(), "NOT safe"); n != turns || turns >= failing {
		t.Errorf("%d failing rounds, %d turns to failing, logged %d times:\n%s", failing, turns, n, logs.String())
	}

	laggy.Store(false)
	r := rec.until(t, "that passes", func(r Round) bool { return len(r.Problems) == 0 }, nil)
	var ve *VerdictError
	if !errors.As(r.Err, &ve) || ve.Passed != 1 || ve.Need != 2 {
		t.Fatalf("after one passing round Err = %v, want still refusing (1 of 2 rounds passed)", r.Err)
	}
	rec.until(t, "after which writes resume", func(r Round) bool { return r.Err == nil }, nil)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "passes its checks again") {
		t.Errorf("the recovery is not logged:\n%s", logs.String())
	}
}

func TestLateChangesWithinTheRelaxedBoundPass(t *testing.T) {
	root, w := newRoot(t), posixWitness(t, t.TempDir())
	start(t, testOptions(root, w))
	var laggy atomic.Bool
	laggy.Store(true)
	o := testOptions(root, w)
	o.MaxStale, o.StaleCap = 500*time.Millisecond, time.Second
	o.look = lagLook(&laggy, 100*time.Millisecond)
	rec := record(&o)
	b := start(t, o)
	if err := b.Err(); err != nil {
		t.Fatalf("100 ms late with a 500 ms bound: %v", err)
	}
	r := rec.until(t, "that looked at the peer", func(r Round) bool {
		return len(r.Peers) == 1 && r.Peers[0].Looked
	}, noProblems(t, "relaxed"))
	if r.Peers[0].Stale < 100*time.Millisecond || len(r.Problems) > 0 {
		t.Fatalf("measured %v late with problems %v; want at least 100 ms and none", r.Peers[0].Stale, r.Problems)
	}
}

// A peer killed with SIGKILL on this host leaves its announcement and files
// behind and its locks free: that is no alarm, and its traces go at once.
func TestKilledPeerIsBuriedWithoutAlarm(t *testing.T) {
	root, wdir := newRoot(t), t.TempDir()
	o := testOptions(root, posixWitness(t, wdir))
	rec := record(&o)
	a := start(t, o)
	cmd, _, stdout := startRole(t, "monitor", root, wdir)
	var rr roleRound
	if err := json.NewDecoder(stdout).Decode(&rr); err != nil {
		t.Fatal(err)
	}
	rec.until(t, "that probed the other process", func(r Round) bool { return probedClean(r, rr.ID) }, noProblems(t, "before the kill"))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(root, volumeDir, rr.ID)); err != nil {
		t.Fatalf("the killed process's stamp file should still be there: %v", err)
	}
	rec.until(t, "without the killed process", func(r Round) bool {
		_, ok := peerIn(r, rr.ID)
		return !ok
	}, noProblems(t, "after the kill"))
	if _, err := os.Stat(filepath.Join(root, volumeDir, rr.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed process's stamp file was not removed: %v", err)
	}
	if _, err := o.Witness.Stat(context.Background(), DefaultPrefix+"peers/"+rr.ID); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("the killed process's announcement was not removed: %v", err)
	}
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
}

// A process of another host that stopped: its locks are free (so the probe
// is granted and challenged), nobody answers, and once its announcement
// is older than its time to live it is removed, without an alarm.
func TestSilentPeerOfAnotherHostExpires(t *testing.T) {
	root, w := newRoot(t), posixWitness(t, t.TempDir())
	o := testOptions(root, w)
	rec := record(&o)
	a := start(t, o)

	// The traces of a dead process: files, and an announcement of round 1.
	ctx := context.Background()
	id := randomID()
	ghost := &self{id: id, dir: filepath.Join(root, volumeDir)}
	if err := ghost.createStamp(); err != nil {
		t.Fatal(err)
	}
	if err := ghost.advance(); err != nil {
		t.Fatal(err)
	}
	ghost.stamp.Close() // its flock goes with its process
	wt := witness{store: w, prefix: DefaultPrefix}
	vol, _ := volumeID(root)
	ann := announcement{Version: 1, ID: id, Kind: "serve", Host: "elsewhere", PID: 4242, BootID: "another-boot",
		Root: "/mnt/s3dfs", Volume: vol, Interval: 20, Lock: probeBase + 7, Seq: ghost.seq, Mtime: ghost.mtime}
	if err := wt.put(ctx, wt.peerKey(id), ann); err != nil {
		t.Fatal(err)
	}
	r := rec.until(t, "that probed the silent process", func(r Round) bool {
		p, ok := peerIn(r, id)
		return ok && p.OFD == "granted"
	}, noProblems(t, "before"))
	if len(r.Problems) > 0 {
		t.Fatalf("a granted lock without an answer is no proof: %v", r.Problems)
	}
	if _, err := w.Stat(ctx, wt.challengeKey(id, a.ID())); err != nil {
		t.Fatalf("no challenge written for the granted lock: %v", err)
	}
	rec.until(t, "without the silent process", func(r Round) bool {
		_, ok := peerIn(r, id)
		return !ok
	}, noProblems(t, "until it expired"))
	for _, key := range []string{wt.peerKey(id), wt.challengeKey(id, a.ID())} {
		if _, err := w.Stat(ctx, key); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("%s was not removed: %v", key, err)
		}
	}
	if _, err := os.Stat(ghost.stampPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the silent process's stamp file was not removed: %v", err)
	}
}

// flaky is a witness that can be switched off.
type flaky struct {
	blobstore.Store
	off atomic.Bool
}

var errOff = errors.Join(blobstore.ErrUnavailable, errors.New("switched off"))

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64, o blobstore.PutOptions) (blobstore.Info, error) {
	if f.off.Load() {
		return blobstore.Info{}, errOff
	}
	return f.Store.Put(ctx, key, r, size, o)
}

func (f *flaky) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	if f.off.Load() {
		return errOff
	}
	return f.Store.List(ctx, prefix, fn)
}

func TestWitnessOutageLeavesTheVolumeUnverified(t *testing.T) {
	w := &flaky{Store: posixWitness(t, t.TempDir())}
	o := testOptions(newRoot(t), w)
	rec := record(&o)
	m := start(t, o)
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	w.off.Store(true)
	r := rec.until(t, "that could not reach the witness", func(r Round) bool { return r.WitnessErr != nil }, nil)
	if r.Err != nil {
		t.Fatalf("one failed round within the grace must not change the verdict: %v", r.Err)
	}
	rec.until(t, "that gives up on the witness", func(r Round) bool { return r.Err != nil }, nil)
	ps := verdictProblems(t, m.Err(), ErrUnverified)
	if got := sortedChecks(ps); !slices.Equal(got, []string{CheckWitness}) {
		t.Fatalf("problems %v", ps)
	}
	w.off.Store(false)
	rec.until(t, "after the witness is back", func(r Round) bool { return r.Err == nil }, nil)
}

func TestStartNeedsARoot(t *testing.T) {
	o := testOptions(filepath.Join(t.TempDir(), "missing"), posixWitness(t, t.TempDir()))
	if _, err := Start(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Start on a missing root: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	w := posixWitness(t, t.TempDir())
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no root", func(o *Options) { o.Root = "" }, "Root is empty"},
		{"no witness", func(o *Options) { o.Witness = nil }, "Witness is nil"},
		{"prefix without slash", func(o *Options) { o.Prefix = "x" }, "Prefix"},
		{"interval too short", func(o *Options) { o.Interval = time.Millisecond }, "Interval"},
		{"interval too long", func(o *Options) { o.Interval = time.Hour }, "Interval"},
		{"cap below bound", func(o *Options) { o.MaxStale = 5 * time.Second }, "StaleCap"},
		{"no recovery", func(o *Options) { o.Recover = 0 }, "Recover"},
	} {
		o := DefaultOptions("/x", w)
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := DefaultOptions("/x", w).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// A bucket that loses what was written in it (removed and created again
// behind the servers' back, which SeaweedFS does on the next write) no
// longer holds the blobs: writes stop.
func TestWitnessThatLosesObjectsIsRefused(t *testing.T) {
	o := testOptions(newRoot(t), posixWitness(t, t.TempDir()))
	rec := record(&o)
	m := start(t, o)
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	// Everything in the bucket goes (what a removed and re-created
	// bucket looks like). A round that was writing its announcement just
	// then puts it back before it looks: then again.
	var r Round
	for range 20 {
		var keys []string
		o.Witness.List(context.Background(), "", func(bi blobstore.Info) error { keys = append(keys, bi.Key); return nil })
		for _, k := range keys {
			if err := o.Witness.Delete(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		for len(rec.ch) > 0 {
			<-rec.ch // rounds that ended before the loss
		}
		if r = <-rec.ch; len(r.Problems) > 0 {
			break
		}
	}
	if got := sortedChecks(r.Problems); !slices.Equal(got, []string{CheckWitness}) || !strings.Contains(r.Problems[0].Detail, "lost objects") {
		t.Fatalf("problems %v", r.Problems)
	}
	verdictProblems(t, r.Err, ErrUnverified)
	// The next announcement is there again: writes resume.
	rec.until(t, "that passes again", func(r Round) bool { return r.Err == nil }, nil)
}

// A volume whose rename(2) lets readers see no file for a moment (a
// SeaweedFS mount) fails the checks: a record being replaced would look
// deleted.
func TestRenameThatIsNotAtomicFails(t *testing.T) {
	old := renameFile
	renameFile = func(from, to string) error {
		os.Remove(to)
		time.Sleep(time.Millisecond) // the gap such a volume leaves (fault injection, not synchronisation)
		return os.Rename(from, to)
	}
	defer func() { renameFile = old }()
	root := newRoot(t)
	for _, c := range LocalChecks(root, false) {
		if c.Name != CheckAtomicRename {
			continue
		}
		if c.Status != Fail || !strings.Contains(c.Detail, "looks deleted") {
			t.Fatalf("%s with a rename that is not atomic: %s %s", c.Name, c.Status, c.Detail)
		}
		// And a monitor on such a volume refuses writes from the start.
		m := start(t, testOptions(root, posixWitness(t, t.TempDir())))
		if got := sortedChecks(verdictProblems(t, m.Err(), ErrUnsafe)); !slices.Equal(got, []string{CheckAtomicRename}) {
			t.Fatalf("problems %v", got)
		}
		return
	}
	t.Fatalf("no check %q", CheckAtomicRename)
}

// syncBuffer is a log destination that rounds and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
