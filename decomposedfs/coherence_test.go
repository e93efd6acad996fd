package decomposedfs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Coherence across processes: this process (A) writes, a second OS process
// (B, this test binary as a reader) reads through its own warm caches.

const readerEnv = "S3DFS_TEST_READER"

type readerConfig struct {
	Root, Space string
	Mode        cache.Mode
	MaxStale    time.Duration
}

type answer struct {
	ID, Path, Etag string
	Size           int64
	Names          []string
	Err            string
	Hits           uint64 // "stats": validated cache hits so far
}

// reader is process B.
type reader struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
	cmd *exec.Cmd
}

func startReader(t *testing.T, e *env, mode cache.Mode, maxStale time.Duration) *reader {
	cfg, _ := json.Marshal(readerConfig{Root: e.root, Space: e.sid, Mode: mode, MaxStale: maxStale})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), readerEnv+"="+string(cfg))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("reader process: %v\n%s", err, stderr.String())
		}
	})
	return &reader{t: t, in: in, out: bufio.NewScanner(out), cmd: cmd}
}

// ask sends one request ("stat PATH", "id NODEID", "ls PATH").
func (r *reader) ask(req string) answer {
	r.t.Helper()
	if _, err := fmt.Fprintln(r.in, req); err != nil {
		r.t.Fatal(err)
	}
	if !r.out.Scan() {
		r.t.Fatalf("reader died: %v", r.out.Err())
	}
	var a answer
	if err := json.Unmarshal(r.out.Bytes(), &a); err != nil {
		r.t.Fatal(err)
	}
	return a
}

func runReader() int {
	var cfg readerConfig
	if err := json.Unmarshal([]byte(os.Getenv(readerEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	o := mpk.DefaultOptions(cfg.Root)
	o.CacheMode, o.MaxStale = cfg.Mode, cfg.MaxStale
	meta, err := mpk.New(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	blobs, err := posix.New(cfg.Root+"/blobs", posix.DefaultOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fo := decomposedfs.DefaultOptions()
	fo.Lookup.Mode, fo.Lookup.MaxStale = cfg.Mode, cfg.MaxStale
	fs, err := decomposedfs.New(meta, blobs, fo)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		op, arg, _ := strings.Cut(in.Text(), " ")
		var a answer
		var ri *decomposedfs.ResourceInfo
		var err error
		switch op {
		case "stat":
			ri, err = fs.GetMD(ctx, decomposedfs.Reference{SpaceID: cfg.Space, Path: arg})
		case "id":
			ri, err = fs.GetMD(ctx, decomposedfs.Reference{SpaceID: cfg.Space, NodeID: arg})
		case "ls":
			var l *decomposedfs.Listing
			if l, err = fs.ListFolder(ctx, decomposedfs.Reference{SpaceID: cfg.Space, Path: arg}); err == nil {
				ri = l.Folder
				for _, c := range l.Children {
					a.Names = append(a.Names, fmt.Sprintf("%s:%d:%s", c.Name, c.Size, c.Etag))
				}
			}
		case "stats":
			st := meta.CacheStats()
			paths, ids := fs.Resolver().Stats()
			a.Hits = st.Nodes.Hits + st.Listings.Hits + st.Names.Hits + paths.Hits + ids.Hits
			ri = &decomposedfs.ResourceInfo{}
		default:
			err = fmt.Errorf("unknown request %q", op)
		}
		if err != nil {
			a.Err = err.Error()
			if errors.Is(err, decomposedfs.ErrNotFound) {
				a.Err = "not found"
			}
		} else {
			a.ID, a.Path, a.Etag, a.Size = ri.ID, ri.Path, ri.Etag, ri.Size
		}
		if err := enc.Encode(a); err != nil {
			return 1
		}
		// Let cache insertions land before the next request, as they do
		// on any real server between requests.
		meta.WaitCache()
		fs.Resolver().Wait()
	}
	return 0
}

func TestTwoProcessCoherenceStrict(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.needMPK(t, "a second process opens mpk on the same root")
	ctx := context.Background()
	b := startReader(t, e, cache.Strict, 0)
	warm := func(reqs ...string) {
		for range 3 {
			for _, r := range reqs {
				b.ask(r)
			}
		}
	}

	// Same-size rewrites within the same second: each one seen at once.
	f := e.put(t, "/f", []byte("v00"))
	warm("stat /f", "id "+f.ID, "ls /")
	start := time.Now()
	for i := 1; i <= 20; i++ {
		ri := e.put(t, "/f", []byte(fmt.Sprintf("v%02d", i)))
		for _, req := range []string{"stat /f", "id " + f.ID} {
			if a := b.ask(req); a.Etag != ri.Etag || a.ID != f.ID {
				t.Fatalf("rewrite %d: %s answered etag %s, want %s", i, req, a.Etag, ri.Etag)
			}
		}
		if a := b.ask("ls /"); len(a.Names) != 1 || a.Names[0] != "f:3:"+ri.Etag {
			t.Fatalf("rewrite %d: listing %v", i, a.Names)
		}
	}
	t.Logf("20 same-size rewrites in %v", time.Since(start))

	// Rename.
	if _, err := e.fs.Move(ctx, e.ref("/f"), e.ref("/g"), false); err != nil {
		t.Fatal(err)
	}
	if a := b.ask("stat /f"); a.Err != "not found" {
		t.Fatalf("old name after rename: %+v", a)
	}
	if a := b.ask("stat /g"); a.ID != f.ID {
		t.Fatalf("new name after rename: %+v", a)
	}
	if a := b.ask("id " + f.ID); a.Path != "/g" {
		t.Fatalf("by id after rename: %+v", a)
	}

	// Delete.
	warm("stat /g", "id "+f.ID, "ls /")
	if err := e.fs.Delete(ctx, e.ref("/g")); err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"stat /g", "id " + f.ID} {
		if a := b.ask(req); a.Err != "not found" {
			t.Fatalf("%s after delete: %+v", req, a)
		}
	}
	if a := b.ask("ls /"); len(a.Names) != 0 {
		t.Fatalf("listing after delete: %v", a.Names)
	}

	// Move a folder: paths below it change, by path and by id.
	e.mkdir(t, "/d")
	e.mkdir(t, "/d/sub")
	x := e.put(t, "/d/sub/x", []byte("xx"))
	warm("stat /d/sub/x", "id "+x.ID, "ls /d/sub", "ls /")
	if _, err := e.fs.Move(ctx, e.ref("/d"), e.ref("/e"), false); err != nil {
		t.Fatal(err)
	}
	if a := b.ask("stat /d/sub/x"); a.Err != "not found" {
		t.Fatalf("old path after folder move: %+v", a)
	}
	if a := b.ask("stat /e/sub/x"); a.ID != x.ID {
		t.Fatalf("new path after folder move: %+v", a)
	}
	if a := b.ask("id " + x.ID); a.Path != "/e/sub/x" {
		t.Fatalf("by id after folder move: %+v", a)
	}

	// A listing sees a new child, and a child's new size (its record
	// changed, its folder's directory entries did not).
	warm("ls /e/sub", "stat /e")
	e.put(t, "/e/sub/y", []byte("yyy"))
	if a := b.ask("ls /e/sub"); len(a.Names) != 2 {
		t.Fatalf("listing after create: %v", a.Names)
	}
	e.put(t, "/e/sub/x", []byte("a longer x"))
	if a := b.ask("ls /e/sub"); len(a.Names) != 2 || !strings.HasPrefix(a.Names[0], "x:10:") {
		t.Fatalf("listing after resize: %v", a.Names)
	}
	if a := b.ask("ls /e"); len(a.Names) != 1 || !strings.HasPrefix(a.Names[0], "sub:13:") {
		t.Fatalf("parent listing after resize below: %v", a.Names)
	}
	if a := b.ask("stat /e"); a.Size != 13 {
		t.Fatalf("tree size: %+v", a)
	}
	// All of the above went through B's caches, not around them.
	if a := b.ask("stats"); a.Hits < 100 {
		t.Fatalf("the reader's caches served only %d hits: the test did not exercise them", a.Hits)
	}
}

func TestTwoProcessCoherenceRelaxed(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.needMPK(t, "a second process opens mpk on the same root")
	ctx := context.Background()
	const maxStale = time.Second
	b := startReader(t, e, cache.Relaxed, maxStale)
	f := e.put(t, "/f", []byte("old"))
	for range 3 {
		b.ask("stat /f")
		b.ask("ls /")
	}
	ri := e.put(t, "/f", []byte("new"))
	changed := time.Now()
	a, l := b.ask("stat /f"), b.ask("ls /")
	if time.Since(changed) < maxStale {
		// The documented trade: within MaxStale of its last validation,
		// B serves what it had.
		if a.Etag == ri.Etag || a.ID != f.ID || len(l.Names) != 1 || l.Names[0] != "f:3:"+f.Etag {
			t.Fatalf("relaxed mode within MaxStale: stat %+v, ls %v; want the old etag %s", a, l.Names, f.Etag)
		}
	}
	time.Sleep(maxStale + 100*time.Millisecond)
	if a := b.ask("stat /f"); a.Etag != ri.Etag {
		t.Fatalf("relaxed mode after MaxStale: %+v, want etag %s", a, ri.Etag)
	}
	if l := b.ask("ls /"); len(l.Names) != 1 || l.Names[0] != "f:3:"+ri.Etag {
		t.Fatalf("relaxed listing after MaxStale: %v", l.Names)
	}
	// Structure changes too are bounded by MaxStale.
	if _, err := e.fs.Move(ctx, e.ref("/f"), e.ref("/g"), false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(maxStale + 100*time.Millisecond)
	if a := b.ask("stat /f"); a.Err != "not found" {
		t.Fatalf("relaxed mode, rename after MaxStale: %+v", a)
	}
}
