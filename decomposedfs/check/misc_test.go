package check_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/metadata"
)

// TestSpillsToDisk runs the check with a sort memory far below what the
// store needs, so that every external sort spills and merges runs, and
// checks that it finds what it finds in memory.
func TestSpillsToDisk(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	var folders []string
	for i := range 20 {
		folders = append(folders, e.mkdir(t, fmt.Sprintf("/d%d", i)).ID)
	}
	// 1500 files straight through the node store (no content: the blob
	// phase is not what this is about).
	for i := range 1500 {
		now := cache.NextTime()
		must(t, e.meta.CreateNode(ctx, &metadata.Node{ID: uuid.NewString(), SpaceID: e.sid, ParentID: folders[i%20],
			Name: fmt.Sprintf("f%d", i), Type: metadata.TypeFile, Mtime: now, Btime: now}))
	}
	// Two things only the merge finds: a record without a link, a
	// directory without a record.
	orphanDir := uuid.NewString()
	must(t, os.MkdirAll(e.meta.FolderPath(e.sid, orphanDir), 0o755))
	unlinked := uuid.NewString()
	now := cache.NextTime()
	e.writeRecord(t, &metadata.Node{ID: unlinked, SpaceID: e.sid, ParentID: folders[0], Name: "x", Type: metadata.TypeFile, Mtime: now, Btime: now})

	for _, mem := range []int{64 << 10, 16 << 20} {
		o := checktest.Options(t)
		o.SortMemory = mem
		o.Phases = []check.Phase{check.PhaseNodes, check.PhaseTree, check.PhaseTrash}
		fds, sum := checktest.Check(t, e.fs, &o)
		if got := checktest.Codes(fds); !sameMultiset(got, []check.Code{check.DirOrphan, check.NodeUnlinked}) {
			t.Errorf("sort memory %d: findings %v", mem, got)
		}
		if sum.Nodes < 1520 {
			t.Errorf("sort memory %d: %d nodes", mem, sum.Nodes)
		}
		if ents, _ := os.ReadDir(o.TempDir); len(ents) != 0 {
			t.Errorf("sort memory %d: %d run files left behind", mem, len(ents))
		}
	}
}

// flakyStore fails listings: each prefix's first listing after `after`
// objects (retried, the check must recover), or every listing of one
// prefix (the check must say it is incomplete).
type flakyStore struct {
	blobstore.Store
	after  int
	broken string

	mu     sync.Mutex
	failed map[string]bool
}

func (s *flakyStore) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	if s.broken != "" && prefix == s.broken {
		return errors.New("flaky: this prefix never lists")
	}
	n := 0
	return s.Store.List(ctx, prefix, func(bi blobstore.Info) error {
		n++
		s.mu.Lock()
		fail := !s.failed[prefix] && n > s.after
		if fail {
			s.failed[prefix] = true
		}
		s.mu.Unlock()
		if fail {
			return errors.New("flaky: connection reset")
		}
		return fn(bi)
	})
}

// TestListingSplitAndRetried lists a bucket by 256 prefixes in parallel,
// each listing failing once half-way, and finds exactly the orphan.
func TestListingSplitAndRetried(t *testing.T) {
	e := newEnv(t, s3Blobs)
	buildBase(t, e)
	orphan := decomposedfs.BlobKey(e.sid, uuid.NewString())
	e.putBlob(t, orphan, payload(1, 10), nil)
	fs, err := decomposedfs.New(e.meta, &flakyStore{Store: e.blobs, after: 1, failed: map[string]bool{}}, decomposedfs.DefaultOptions())
	must(t, err)
	for _, space := range []string{"", e.sid} {
		o := checktest.Options(t)
		o.ListSplit, o.ListConcurrency, o.Space = 1, 4, space
		fds, sum := checktest.Check(t, fs, &o)
		if !sum.Complete {
			t.Errorf("space %q: incomplete: %v", space, sum.ErrorSamples)
		}
		if len(fds) != 1 || fds[0].Code != check.BlobOrphan || fds[0].Blob != orphan {
			for _, f := range fds {
				t.Logf("found: %s", f)
			}
			t.Errorf("space %q: want exactly the orphan", space)
		}
	}
}

// TestIncompleteCheckDeletesNothing: a listing that keeps failing makes the
// check incomplete (exit 3), and a repair after it takes nothing out of the
// store while it still fixes what only needs fixing.
func TestIncompleteCheckDeletesNothing(t *testing.T) {
	e := newEnv(t, s3Blobs)
	b := buildBase(t, e)
	orphan := decomposedfs.BlobKey(e.sid, uuid.NewString())
	e.putBlob(t, orphan, payload(1, 10), nil)
	d := b.ids["/docs"]
	n := e.meta.ReadRaw(e.sid, d)
	setTree(t, e.meta.RecordPath(e.sid, d), n.Tree.Size+1, n.Tree.Mtime)

	// A store whose listing of one prefix fails for good.
	broken := e.sid + "/" + strings.Split(orphan, "/")[1] + "/"
	fs, err := decomposedfs.New(e.meta, &flakyStore{Store: e.blobs, after: 1 << 30, broken: broken, failed: map[string]bool{}}, decomposedfs.DefaultOptions())
	must(t, err)
	o := checktest.Options(t)
	o.ListSplit, o.Space, o.ListRetries = 1, e.sid, 1
	fds, sum := checktest.Check(t, fs, &o)
	if sum.Complete || sum.ExitCode() != check.ExitIncomplete {
		t.Fatalf("complete %v, exit %d; want an incomplete check", sum.Complete, sum.ExitCode())
	}
	if got := checktest.Codes(fds); !slicesEqual(got, []check.Code{check.TreeSize}) {
		t.Errorf("findings %v: the orphan sits below the prefix that failed", got)
	}
	// The full check sees the orphan too; a repair from a report of an
	// incomplete check refuses to quarantine it but fixes the tree size.
	_, _, rs := checktest.Repair(t, e.fs)
	if rs.Repaired != 2 || !rs.CheckComplete {
		t.Fatalf("repair of a complete check: %+v", rs)
	}
	setTree(t, e.meta.RecordPath(e.sid, d), n.Tree.Size+1, n.Tree.Mtime)
	e.putBlob(t, orphan, payload(1, 10), nil)
	_, outs, rs := repairWith(t, e, fs, o)
	if rs.CheckComplete || rs.Repaired != 1 || rs.Skipped != 0 {
		t.Errorf("repair after an incomplete check: %+v%s", rs, checktest.Describe(outs))
	}
	if _, err := e.blobs.Stat(context.Background(), orphan); err != nil {
		t.Errorf("the orphan went: %v", err)
	}
}

func slicesEqual(a, b []check.Code) bool { return sameMultiset(a, b) && len(a) == len(b) }

// repairWith checks through fs with opts and repairs from that report.
func repairWith(t *testing.T, e *env, fs *decomposedfs.FS, o check.Options) ([]*check.Finding, []*check.Outcome, *check.RepairSummary) {
	t.Helper()
	c, err := check.New(e.meta, fs.Blobs(), o)
	must(t, err)
	run := check.NewRunID(timeZero().AddDate(2026, 0, 0))
	dir := check.RunDir(e.root, run)
	must(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(dir + "/report.ndjson")
	must(t, err)
	w := check.NewReportWriter(f)
	var fds []*check.Finding
	sum, err := c.Run(context.Background(), func(x *check.Finding) error { fds = append(fds, x); return w.Finding(x) })
	must(t, err)
	must(t, w.Summary(sum))
	must(t, f.Close())
	var outs []*check.Outcome
	rp, err := check.NewRepairer(e.meta, fs.Blobs(), check.RepairOptions{Run: run, Outcome: func(o *check.Outcome) { outs = append(outs, o) }})
	must(t, err)
	rs, err := rp.Apply(context.Background(), dir+"/report.ndjson")
	must(t, err)
	return fds, outs, rs
}
