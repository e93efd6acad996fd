package check_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// The crash test runs a mixed workload through the driver in a child
// process (this test binary again) and kills it with SIGKILL at a random
// moment, over and over on the same store. After each kill: the check may
// report only findings it can repair, the repair makes the store clean,
// and every write the child acknowledged before it died is intact.
//
// The child acknowledges an operation by appending a line to a log and
// fsyncing it after the operation returned; before it starts one, it
// appends what it is about to do. So at a kill at most the last operation
// is in doubt, and the parent replays the log into a model of the files.

const (
	crashChildEnv = "S3DFS_CHECK_CRASH_CHILD"
	crashKillsEnv = "S3DFS_CHECK_CRASH_KILLS" // more kills (default 100)
	crashSeedEnv  = "S3DFS_CHECK_CRASH_SEED"
)

type crashConfig struct {
	Root, Space, Log string
	S3               s3test.Config
	Seed             uint64
	Child            int
}

func TestCrashRecovery(t *testing.T) {
	kills := 100
	if v := os.Getenv(crashKillsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %v", crashKillsEnv, err)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
		seed = n
	}
	t.Logf("seed %d (set %s to repeat), %d kills", seed, crashSeedEnv, kills)
	rng := rand.New(rand.NewPCG(seed, 7))
	e := newEnv(t, s3Blobs)
	logPath := t.TempDir() + "/acks.log"
	if d := os.Getenv("S3DFS_CHECK_CRASH_LOG"); d != "" {
		logPath = d
	}
	m := newCrashModel()
	found := map[check.Code]int{}
	for i := range kills {
		cfg := crashConfig{Root: e.root, Space: e.sid, Log: logPath, S3: *e.s3, Seed: rng.Uint64(), Child: i}
		runAndKill(t, cfg, time.Duration(10+rng.IntN(190))*time.Millisecond)
		// A request whose body had fully reached the S3 server when its
		// client died may still complete there: let it land, so that
		// the check sees a store nobody touches.
		settleBlobs(t, e)

		e.reopen(t)
		start, before := time.Now(), blobKeys(t, e)
		fds, sum := checktest.Check(t, e.fs, nil)
		if !sum.Complete {
			t.Fatalf("kill %d: incomplete check: %v", i, sum.ErrorSamples)
		}
		for _, f := range fds {
			t.Logf("kill %d: %s", i, f)
			found[f.Code]++
			if !f.Repairable {
				t.Errorf("kill %d: a crash left something no repair can fix: %s", i, f)
			}
		}
		if len(fds) > 0 {
			_, outs, rs := checktest.Repair(t, e.fs)
			if rs.Failed > 0 || rs.Skipped > 0 {
				t.Fatalf("kill %d: repair: %d failed, %d skipped:%s", i, rs.Failed, rs.Skipped, checktest.Describe(outs))
			}
			after, _ := checktest.Check(t, e.fs, nil)
			if late := landedLate(t, e, after, start, before); len(late) > 0 {
				// A PUT whose body reached the S3 server before its client
				// died completed there after the first check listed the
				// bucket: no check could have seen it then (a live system's
				// grace period covers this). Now it is an orphan, and a
				// second repair must take it.
				for _, f := range late {
					t.Logf("kill %d: landed after the check began: %s", i, f)
				}
				checktest.Repair(t, e.fs)
				after, _ = checktest.Check(t, e.fs, nil)
			}
			for _, f := range after {
				t.Errorf("kill %d: after repair: %s", i, f)
			}
			if t.Failed() {
				t.Fatalf("kill %d: findings were %v%s", i, checktest.Codes(fds), checktest.Describe(outs))
			}
		}
		m.replay(t, logPath)
		m.verify(t, e, i, rng)
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			for _, id := range m.bad {
				for _, l := range strings.Split(string(data), "\n") {
					if strings.Contains(l, id) || (m.files[id] != nil && strings.Contains(l, m.files[id].path)) {
						t.Logf("log: %s", l)
					}
				}
			}
			t.FailNow()
		}
	}
	t.Logf("%d acknowledged operations; findings after the kills: %v", m.acks, found)
}

// landedLate returns fds if all of them are orphan blobs that the first
// check could not have judged: missing from before (the listing taken
// right before it), or changed since (size or time), or modified after
// start (the check skips a blob younger than its cutoff: it may be an
// upload in flight). Otherwise it returns nil.
func landedLate(t *testing.T, e *env, fds []*check.Finding, start time.Time, before map[string]blobstore.Info) []*check.Finding {
	t.Helper()
	for _, f := range fds {
		if f.Code != check.BlobOrphan || f.Blob == "" {
			return nil
		}
		var now blobstore.Info // from a listing, like before's (Stat's times are coarser)
		must(t, e.blobs.List(context.Background(), f.Blob, func(i blobstore.Info) error {
			if i.Key == f.Blob {
				now = i
			}
			return nil
		}))
		was, listed := before[f.Blob]
		if listed && was.Size == now.Size && was.ModTime.Equal(now.ModTime) && !now.ModTime.After(start) {
			return nil
		}
	}
	return fds
}

// blobKeys lists the blob store.
func blobKeys(t *testing.T, e *env) map[string]blobstore.Info {
	t.Helper()
	keys := map[string]blobstore.Info{}
	must(t, e.blobs.List(context.Background(), "", func(i blobstore.Info) error {
		keys[i.Key] = i
		return nil
	}))
	return keys
}

// settleBlobs waits until two listings of the blob store taken 150 ms
// apart agree (at most 10 s): a PUT whose body reached the S3 server before
// its client was killed lands there after the kill, and on a loaded machine
// that can take a while.
func settleBlobs(t *testing.T, e *env) {
	t.Helper()
	list := func() string {
		var b strings.Builder
		err := e.blobs.List(context.Background(), "", func(i blobstore.Info) error {
			fmt.Fprintf(&b, "%s %d %d\n", i.Key, i.Size, i.ModTime.UnixNano())
			return nil
		})
		must(t, err)
		return b.String()
	}
	prev := list()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(150 * time.Millisecond)
		cur := list()
		if cur == prev {
			return
		}
		prev = cur
	}
	t.Fatalf("the blob store's listing kept changing for 10 s after the kill")
}

// runAndKill starts a child and kills it after delay (counted from when it
// is ready to work).
func runAndKill(t *testing.T, cfg crashConfig, delay time.Duration) {
	t.Helper()
	js, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(js))
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start in time\n%s", stderr.String())
	}
	time.Sleep(delay)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended before the kill: %v\n%s", err, stderr.String())
	}
}

// crashChild is the child: a random workload until it is killed.
func crashChild() int {
	var cfg crashConfig
	if err := json.Unmarshal([]byte(os.Getenv(crashChildEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 2 }
	meta, err := mpk.New(mpk.DefaultOptions(cfg.Root))
	if err != nil {
		return fail(err)
	}
	blobs, err := openS3(cfg.S3)
	if err != nil {
		return fail(err)
	}
	fs, err := decomposedfs.New(meta, blobs, decomposedfs.DefaultOptions())
	if err != nil {
		return fail(err)
	}
	logf, err := os.OpenFile(cfg.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail(err)
	}
	w := &crashWorker{ctx: context.Background(), fs: fs, sid: cfg.Space, log: logf, child: cfg.Child,
		rng: rand.New(rand.NewPCG(cfg.Seed, 1)), files: map[string]string{}}
	if err := w.scan("/"); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	for n := 0; ; n++ {
		if err := w.step(n); err != nil {
			return fail(err)
		}
	}
}

type crashWorker struct {
	ctx     context.Context
	fs      *decomposedfs.FS
	sid     string
	log     *os.File
	child   int
	rng     *rand.Rand
	files   map[string]string // path -> id
	folders []string
}

func (w *crashWorker) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: w.sid, Path: p}
}

// node addresses a node by id: what is acknowledged is what was done, even
// if the worker's idea of the paths is off.
func (w *crashWorker) node(id string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: w.sid, NodeID: id}
}

// scan learns the tree as it is (it may hold what an earlier child did
// without acknowledging it).
func (w *crashWorker) scan(p string) error {
	l, err := w.fs.ListFolder(w.ctx, w.ref(p))
	if err != nil {
		return err
	}
	for _, c := range l.Children {
		if c.Path == "/lost+found" {
			continue
		}
		if c.IsDir() {
			w.folders = append(w.folders, c.Path)
			if err := w.scan(c.Path); err != nil {
				return err
			}
		} else {
			w.files[c.Path] = c.ID
		}
	}
	return nil
}

func (w *crashWorker) note(fsync bool, format string, a ...any) {
	w.log.WriteString(fmt.Sprintf(format, a...) + "\n")
	if fsync {
		w.log.Sync()
	}
}

func (w *crashWorker) begin(format string, a ...any) { w.note(false, "begin "+format, a...) }
func (w *crashWorker) ack(format string, a ...any)   { w.note(true, "ack "+format, a...) }

func (w *crashWorker) pickFile() (string, string, bool) {
	if len(w.files) == 0 {
		return "", "", false
	}
	paths := make([]string, 0, len(w.files))
	for p := range w.files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	p := paths[w.rng.IntN(len(paths))]
	return p, w.files[p], true
}

func (w *crashWorker) pickFolder() string {
	if len(w.folders) == 0 || w.rng.IntN(5) == 0 {
		return "/"
	}
	return w.folders[w.rng.IntN(len(w.folders))]
}

func sha(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

// step does one random operation. Failures the workload provokes (a name
// taken, a folder gone) are part of the game; only errors that should not
// happen end the child.
func (w *crashWorker) step(n int) error {
	ok := func(err error) error {
		if err == nil || errors.Is(err, decomposedfs.ErrExist) || errors.Is(err, decomposedfs.ErrNotFound) ||
			errors.Is(err, decomposedfs.ErrNotDir) || errors.Is(err, decomposedfs.ErrCycle) || errors.Is(err, decomposedfs.ErrIsDir) {
			return nil
		}
		return err
	}
	switch r := w.rng.IntN(100); {
	case r < 10: // mkdir
		p := path.Join(w.pickFolder(), fmt.Sprintf("d%d", w.rng.IntN(4)))
		if strings.Count(p, "/") > 3 {
			return nil
		}
		w.begin("mkdir %s", p)
		if _, err := w.fs.CreateDir(w.ctx, w.ref(p)); err != nil {
			return ok(err)
		}
		w.folders = append(w.folders, p)
		w.ack("mkdir %s", p)
	case r < 40, r < 55 && len(w.files) > 0: // a new file, or an overwrite
		p := path.Join(w.pickFolder(), fmt.Sprintf("f-%d-%d", w.child, n))
		if r >= 40 {
			p, _, _ = w.pickFile()
		}
		data := payload(w.rng.Uint64(), 1+w.rng.IntN(16<<10))
		w.begin("put %s", p)
		ri, err := w.fs.Upload(w.ctx, w.ref(p), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data))})
		if err != nil {
			return ok(err)
		}
		w.files[p] = ri.ID
		w.ack("put %s %s %s %d", ri.ID, p, sha(data), len(data))
	case r < 65: // move a file
		p, id, found := w.pickFile()
		if !found {
			return nil
		}
		np := path.Join(w.pickFolder(), fmt.Sprintf("m-%d-%d", w.child, n))
		w.begin("move %s %s", id, np)
		if _, err := w.fs.Move(w.ctx, w.node(id), w.ref(np), false); err != nil {
			return ok(err)
		}
		delete(w.files, p)
		w.files[np] = id
		w.ack("move %s %s", id, np)
	case r < 73: // trash a file
		p, id, found := w.pickFile()
		if !found {
			return nil
		}
		w.begin("delete %s", id)
		if err := w.fs.Delete(w.ctx, w.node(id)); err != nil {
			return ok(err)
		}
		delete(w.files, p)
		w.ack("delete %s", id)
	case r < 77: // trash a folder
		if len(w.folders) == 0 {
			return nil
		}
		p := w.folders[w.rng.IntN(len(w.folders))]
		w.begin("rmdir %s", p)
		if err := w.fs.Delete(w.ctx, w.ref(p)); err != nil {
			return ok(err)
		}
		w.forget(p)
		w.ack("rmdir %s", p)
	case r < 82: // move a folder
		if len(w.folders) == 0 {
			return nil
		}
		p := w.folders[w.rng.IntN(len(w.folders))]
		np := path.Join(w.pickFolder(), fmt.Sprintf("r%d", w.rng.IntN(8)))
		if np == p || strings.HasPrefix(np, p+"/") {
			return nil
		}
		w.begin("movedir %s %s", p, np)
		if _, err := w.fs.Move(w.ctx, w.ref(p), w.ref(np), false); err != nil {
			return ok(err)
		}
		w.rename(p, np)
		w.ack("movedir %s %s", p, np)
	case r < 92: // a resumable upload, finished or abandoned
		p := path.Join(w.pickFolder(), fmt.Sprintf("u-%d-%d", w.child, n))
		data := payload(w.rng.Uint64(), 2+w.rng.IntN(16<<10))
		w.begin("put %s", p)
		s, err := w.fs.InitiateUpload(w.ctx, decomposedfs.UploadSpec{Ref: w.ref(p), Size: int64(len(data))})
		if err != nil {
			return ok(err)
		}
		half := len(data) / 2
		if _, err := w.fs.WriteUpload(w.ctx, s.ID, 0, bytes.NewReader(data[:half]), nil); err != nil {
			return err
		}
		if w.rng.IntN(4) == 0 {
			return nil // abandoned: a live session until it expires
		}
		if _, err := w.fs.WriteUpload(w.ctx, s.ID, int64(half), bytes.NewReader(data[half:]), nil); err != nil {
			return err
		}
		ri, err := w.fs.FinishUpload(w.ctx, s.ID)
		if err != nil {
			return ok(err)
		}
		w.files[p] = ri.ID
		w.ack("put %s %s %s %d", ri.ID, p, sha(data), len(data))
	case r < 96: // copy a file
		p, _, found := w.pickFile()
		if !found {
			return nil
		}
		np := path.Join(w.pickFolder(), fmt.Sprintf("c-%d-%d", w.child, n))
		w.begin("copy %s", np)
		ri, err := w.fs.Copy(w.ctx, w.ref(p), w.ref(np), decomposedfs.CopyOptions{})
		if err != nil {
			return ok(err)
		}
		w.files[np] = ri.ID
		w.ack("copyof %s %s %s", ri.ID, np, w.files[p])
	case r < 98: // restore a trashed file where it was
		items, err := w.fs.ListTrash(w.ctx, w.sid)
		if err != nil || len(items) == 0 {
			return err
		}
		it := items[w.rng.IntN(len(items))]
		if it.Type != decomposedfs.TypeFile {
			return nil
		}
		w.begin("restore %s", it.ID)
		ri, err := w.fs.RestoreTrash(w.ctx, w.sid, it.ID, decomposedfs.RestoreOptions{})
		if err != nil {
			return ok(err)
		}
		w.files[ri.Path] = ri.ID
		w.ack("restore %s %s", it.ID, ri.Path)
	case r < 99: // purge a trash item
		items, err := w.fs.ListTrash(w.ctx, w.sid)
		if err != nil || len(items) == 0 {
			return err
		}
		it := items[w.rng.IntN(len(items))]
		w.begin("purge %s", it.ID)
		if err := w.fs.PurgeTrash(w.ctx, w.sid, it.ID); err != nil {
			return ok(err)
		}
		w.ack("purge %s", it.ID)
	default: // dead properties
		_, id, found := w.pickFile()
		if !found {
			return nil
		}
		w.begin("props %s", id)
		if _, err := w.fs.SetProps(w.ctx, w.node(id), map[string]string{"{urn:test}n": strconv.Itoa(n)}, nil); err != nil {
			return ok(err)
		}
		w.ack("props %s", id)
	}
	return nil
}

func (w *crashWorker) forget(dir string) {
	for p := range w.files {
		if strings.HasPrefix(p, dir+"/") {
			delete(w.files, p)
		}
	}
	w.folders = slices.DeleteFunc(w.folders, func(f string) bool { return f == dir || strings.HasPrefix(f, dir+"/") })
}

func (w *crashWorker) rename(from, to string) {
	for p, id := range w.files {
		if strings.HasPrefix(p, from+"/") {
			delete(w.files, p)
			w.files[to+strings.TrimPrefix(p, from)] = id
		}
	}
	for i, f := range w.folders {
		if f == from || strings.HasPrefix(f, from+"/") {
			w.folders[i] = to + strings.TrimPrefix(f, from)
		}
	}
}

// crashModel is what the acknowledged operations say the files are.
type crashModel struct {
	files  map[string]*mfile // node id -> file
	offset int64             // of the log, read so far
	doubts []string          // operations begun and not acknowledged (failed, or cut by the kill)
	dirty  map[string]bool   // changed since the last verification
	acks   int
	bad    []string // files that failed verification
}

type mfile struct {
	path, sha string
	size      int64
	deleted   bool
}

func newCrashModel() *crashModel {
	return &crashModel{files: map[string]*mfile{}, dirty: map[string]bool{}}
}

// replay reads the log's new lines.
func (m *crashModel) replay(t *testing.T, logPath string) {
	f, err := os.Open(logPath)
	must(t, err)
	defer f.Close()
	_, err = f.Seek(m.offset, io.SeekStart)
	must(t, err)
	data, err := io.ReadAll(f)
	must(t, err)
	// A line the kill cut off is not there.
	end := bytes.LastIndexByte(data, '\n') + 1
	m.offset += int64(end)
	pending := ""
	for _, line := range strings.Split(string(data[:end]), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		if fields[0] == "begin" {
			// An operation that returned an error may still have taken
			// effect (an error after its commit): it is in doubt like
			// the one the kill cut.
			if pending != "" {
				m.doubts = append(m.doubts, pending)
			}
			pending = strings.Join(fields[1:], " ")
			continue
		}
		pending = ""
		m.acks++
		switch a := fields[1:]; a[0] {
		case "put":
			size, _ := strconv.ParseInt(a[4], 10, 64)
			m.files[a[1]] = &mfile{path: a[2], sha: a[3], size: size}
			m.dirty[a[1]] = true
		case "copyof":
			if src := m.files[a[3]]; src != nil {
				m.files[a[1]] = &mfile{path: a[2], sha: src.sha, size: src.size}
			} else {
				m.files[a[1]] = &mfile{path: a[2]}
			}
			m.dirty[a[1]] = true
		case "move":
			if mf := m.files[a[1]]; mf != nil {
				mf.path = a[2]
				m.dirty[a[1]] = true
			}
		case "delete":
			if mf := m.files[a[1]]; mf != nil {
				mf.deleted = true
			}
		case "restore":
			if mf := m.files[a[1]]; mf != nil {
				mf.deleted, mf.path = false, a[2]
				m.dirty[a[1]] = true
			}
		case "rmdir":
			for _, mf := range m.files {
				if strings.HasPrefix(mf.path, a[1]+"/") {
					mf.deleted = true
				}
			}
		case "movedir":
			for id, mf := range m.files {
				if strings.HasPrefix(mf.path, a[1]+"/") {
					mf.path = a[2] + strings.TrimPrefix(mf.path, a[1])
					m.dirty[id] = true
				}
			}
		}
	}
	if pending != "" {
		m.doubts = append(m.doubts, pending)
	}
}

// inDoubt reports whether an operation that may or may not have happened
// may have changed a file.
func (m *crashModel) inDoubt(id string, mf *mfile) bool {
	for _, d := range m.doubts {
		f := strings.Fields(d)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "put":
			if mf.path == f[1] {
				return true
			}
		case "move", "delete", "props", "restore":
			if id == f[1] {
				return true
			}
		case "rmdir", "movedir":
			if strings.HasPrefix(mf.path, f[1]+"/") {
				return true
			}
		}
	}
	return false
}

// verify checks every acknowledged file: live where the log says, with the
// content it says (read back for files changed since the last kill and a
// sample of the others), and gone where the log says.
func (m *crashModel) verify(t *testing.T, e *env, kill int, rng *rand.Rand) {
	ctx := context.Background()
	for id, mf := range m.files {
		ri, err := e.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: e.sid, NodeID: id})
		if m.inDoubt(id, mf) {
			// The operation may or may not have happened: the store
			// says which, and the model follows.
			if err != nil {
				mf.deleted = true
			} else {
				mf.deleted, mf.path, mf.size, mf.sha = false, ri.Path, ri.Size, sha(e.readID(t, id))
			}
			continue
		}
		if mf.deleted {
			if err == nil {
				t.Errorf("kill %d: file %s was deleted (acknowledged) but lives at %s", kill, id, ri.Path)
				m.bad = append(m.bad, id)
			}
			continue
		}
		if err != nil {
			t.Errorf("kill %d: acknowledged file %s (%s) is gone: %v", kill, id, mf.path, err)
			m.bad = append(m.bad, id)
			continue
		}
		if ri.Path != mf.path {
			t.Errorf("kill %d: acknowledged file %s is at %s, not %s", kill, id, ri.Path, mf.path)
			m.bad = append(m.bad, id)
		}
		if mf.sha == "" || !(m.dirty[id] || rng.IntN(20) == 0) {
			continue
		}
		if ri.Size != mf.size {
			t.Errorf("kill %d: file %s has %d bytes, acknowledged %d", kill, mf.path, ri.Size, mf.size)
		}
		if got := sha(e.readID(t, id)); got != mf.sha {
			t.Errorf("kill %d: file %s has other content than acknowledged", kill, mf.path)
		}
		delete(m.dirty, id)
	}
	m.doubts = nil
}
