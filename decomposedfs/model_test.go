package decomposedfs_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/fstest"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/lookup"
	"pgregory.net/rapid"
)

// The model-based test: random sequences of tree operations run against
// the driver and against an in-memory model of what the driver promises;
// after every step the two must agree on every listing, size, content,
// revision and trash item, and the store must be consistent (no blob
// missing or unreferenced).

// mnode is a file or folder of the model.
type mnode struct {
	id       string
	name     string
	parent   *mnode // nil for the root and for the top of a trash item
	dir      bool
	children map[string]*mnode
	content  []byte
	revs     [][]byte // earlier contents, oldest first
}

// mtrash is a trash item of the model.
type mtrash struct {
	top      *mnode
	parentID string // the folder it was in
}

type model struct {
	root    *mnode
	trash   []*mtrash // in the order of deletion
	maxRevs int
}

// modelMaxRevisions is the revision policy of the model's runs: small, so
// that short sequences reach the pruning of revisions.
const modelMaxRevisions = 2

// path is n's space path, or for a node in the trash its path below the
// top of its trash item ("/" for the top).
func (n *mnode) path() string {
	if n.parent == nil {
		return "/"
	}
	var segs []string
	for c := n; c.parent != nil; c = c.parent {
		segs = append(segs, c.name)
	}
	slices.Reverse(segs)
	return "/" + strings.Join(segs, "/")
}

func (n *mnode) size() int64 {
	if !n.dir {
		return int64(len(n.content))
	}
	var s int64
	for _, c := range n.children {
		s += c.size()
	}
	return s
}

// below reports whether n is m or below it.
func (n *mnode) below(m *mnode) bool {
	for c := n; c != nil; c = c.parent {
		if c == m {
			return true
		}
	}
	return false
}

// walk calls fn for n and everything below it, in name order.
func (n *mnode) walk(fn func(*mnode)) {
	fn(n)
	for _, name := range slices.Sorted(maps.Keys(n.children)) {
		n.children[name].walk(fn)
	}
}

func (n *mnode) detach() {
	if n.parent != nil {
		delete(n.parent.children, n.name)
		n.parent = nil
	}
}

func (n *mnode) attach(parent *mnode, name string) {
	n.name, n.parent = name, parent
	parent.children[name] = n
}

func (m *model) nodes(pred func(*mnode) bool) []*mnode {
	var out []*mnode
	m.root.walk(func(n *mnode) {
		if pred(n) {
			out = append(out, n)
		}
	})
	return out
}

func (m *model) live(id string) *mnode {
	var found *mnode
	m.root.walk(func(n *mnode) {
		if n.id == id {
			found = n
		}
	})
	return found
}

func (m *model) toTrash(n *mnode) {
	it := &mtrash{top: n, parentID: n.parent.id}
	n.detach()
	m.trash = append(m.trash, it)
}

func (m *model) dropItem(it *mtrash) {
	m.trash = slices.DeleteFunc(m.trash, func(x *mtrash) bool { return x == it })
}

// keepRevision records an overwrite under the model's revision policy.
func (m *model) keepRevision(n *mnode, old []byte) {
	n.revs = append(n.revs, old)
	if len(n.revs) > m.maxRevs {
		n.revs = slices.Clone(n.revs[len(n.revs)-m.maxRevs:])
	}
}

// modelRun is one check: a fresh store, the model, and the sequence.
type modelRun struct {
	stats map[string]int // outcomes by operation, over all checks
	op    string         // the operation running
	t     *rapid.T
	m     *model
	fs    *decomposedfs.FS
	sid   string
	ctx   context.Context
}

func (r *modelRun) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: r.sid, Path: p}
}

// expect fails unless err is want (nil: success).
func (r *modelRun) expect(what string, err, want error) bool {
	r.t.Helper()
	if err == nil {
		r.stats[r.op+": ok"]++
	} else {
		r.stats[r.op+": refused"]++
	}
	if want == nil && err != nil {
		r.t.Fatalf("%s: %v, want success", what, err)
	}
	if want != nil && !errors.Is(err, want) {
		r.t.Fatalf("%s: %v, want %v", what, err, want)
	}
	return err == nil
}

var modelNames = []string{"a", "b", "c"}

// drawNode draws one of nodes and logs its path, for a readable
// counterexample.
func drawNode(t *rapid.T, nodes []*mnode, label string) *mnode {
	n := nodes[rapid.IntRange(0, len(nodes)-1).Draw(t, label+" index")]
	t.Logf("%s: %s", label, n.path())
	return n
}

func (r *modelRun) folders() []*mnode { return r.m.nodes(func(n *mnode) bool { return n.dir }) }

func (r *modelRun) nonRoot() []*mnode {
	return r.m.nodes(func(n *mnode) bool { return n != r.m.root })
}

func (r *modelRun) files(withRevs bool) []*mnode {
	return r.m.nodes(func(n *mnode) bool { return !n.dir && (!withRevs || len(n.revs) > 0) })
}

// target draws a live folder and a name in it.
func (r *modelRun) target(label string) (*mnode, string) {
	f := drawNode(r.t, r.folders(), label+" folder")
	return f, rapid.SampledFrom(modelNames).Draw(r.t, label+" name")
}

func (r *modelRun) mkdir() {
	f, name := r.target("mkdir")
	p := lookup.Join(f.path(), name)
	ri, err := r.fs.CreateDir(r.ctx, r.ref(p))
	if _, taken := f.children[name]; taken {
		r.expect("mkdir "+p, err, decomposedfs.ErrExist)
		return
	}
	if r.expect("mkdir "+p, err, nil) {
		(&mnode{id: ri.ID, dir: true, children: map[string]*mnode{}}).attach(f, name)
	}
}

func (r *modelRun) upload() {
	f, name := r.target("upload")
	if files := r.files(false); len(files) > 0 && rapid.Bool().Draw(r.t, "overwrite a file") {
		n := drawNode(r.t, files, "upload onto")
		f, name = n.parent, n.name
	}
	p := lookup.Join(f.path(), name)
	data := payload(rapid.Uint64().Draw(r.t, "seed"), rapid.SampledFrom([]int{0, 1, 10, 100, 1000}).Draw(r.t, "size"))
	size := int64(len(data))
	if rapid.Bool().Draw(r.t, "unknown size") {
		size = -1
	}
	ri, err := r.fs.Upload(r.ctx, r.ref(p), bytes.NewReader(data), decomposedfs.UploadOptions{Size: size})
	existing := f.children[name]
	switch {
	case existing != nil && existing.dir:
		r.expect("upload onto folder "+p, err, decomposedfs.ErrIsDir)
	case existing != nil:
		if r.expect("overwrite "+p, err, nil) {
			if ri.ID != existing.id {
				r.t.Fatalf("overwrite of %s changed its id", p)
			}
			r.m.keepRevision(existing, existing.content)
			existing.content = data
		}
	default:
		if r.expect("upload "+p, err, nil) {
			(&mnode{id: ri.ID, content: data}).attach(f, name)
		}
	}
}

func (r *modelRun) move() {
	nodes := r.nonRoot()
	if len(nodes) == 0 {
		return
	}
	n := drawNode(r.t, nodes, "move node")
	f, name := r.target("move to")
	overwrite := rapid.Bool().Draw(r.t, "overwrite")
	src, dst := n.path(), lookup.Join(f.path(), name)
	what := fmt.Sprintf("move %s to %s (overwrite %v)", src, dst, overwrite)
	_, err := r.fs.Move(r.ctx, r.ref(src), r.ref(dst), overwrite)
	existing := f.children[name]
	switch {
	case n.dir && f.below(n):
		r.expect(what, err, decomposedfs.ErrCycle)
	case existing == n:
		r.expect(what, err, nil)
	case existing != nil && !overwrite:
		r.expect(what, err, decomposedfs.ErrExist)
	default:
		if r.expect(what, err, nil) {
			n.detach() // first: the replaced node may hold it
			if existing != nil {
				r.m.toTrash(existing)
			}
			n.attach(f, name)
		}
	}
}

func (r *modelRun) copy() {
	nodes := r.nonRoot()
	if len(nodes) == 0 {
		return
	}
	n := drawNode(r.t, nodes, "copy node")
	f, name := r.target("copy to")
	src, dst := n.path(), lookup.Join(f.path(), name)
	what := fmt.Sprintf("copy %s to %s", src, dst)
	_, err := r.fs.Copy(r.ctx, r.ref(src), r.ref(dst), decomposedfs.CopyOptions{})
	switch {
	case n.dir && (f.below(n) || f.children[name] == n): // onto itself too
		r.expect(what, err, decomposedfs.ErrCycle)
	case f.children[name] != nil:
		r.expect(what, err, decomposedfs.ErrExist)
	default:
		if !r.expect(what, err, nil) {
			return
		}
		var clone func(n *mnode) *mnode
		clone = func(n *mnode) *mnode {
			c := &mnode{dir: n.dir, content: n.content}
			if n.dir {
				c.children = map[string]*mnode{}
				for name, child := range n.children {
					clone(child).attach(c, name)
				}
			}
			return c
		}
		c := clone(n)
		c.attach(f, name)
		// The copies are new nodes: learn their ids.
		c.walk(func(x *mnode) {
			ri, err := r.fs.GetMD(r.ctx, r.ref(x.path()))
			if err != nil {
				r.t.Fatalf("copied %s: %v", x.path(), err)
			}
			x.id = ri.ID
		})
	}
}

func (r *modelRun) delete() {
	nodes := r.nonRoot()
	if len(nodes) == 0 {
		return
	}
	n := drawNode(r.t, nodes, "delete node")
	if r.expect("delete "+n.path(), r.fs.Delete(r.ctx, r.ref(n.path())), nil) {
		r.m.toTrash(n)
	}
}

func (r *modelRun) drawItem(label string) *mtrash {
	it := r.m.trash[rapid.IntRange(0, len(r.m.trash)-1).Draw(r.t, label+" index")]
	r.t.Logf("%s: %s (%s)", label, it.top.name, it.top.id)
	return it
}

// restore brings back a whole trash item, where it was or elsewhere.
func (r *modelRun) restore() {
	if len(r.m.trash) == 0 {
		return
	}
	it := r.drawItem("restore item")
	overwrite := rapid.Bool().Draw(r.t, "overwrite")
	opts := decomposedfs.RestoreOptions{Overwrite: overwrite}
	var f *mnode
	name := it.top.name
	if rapid.Bool().Draw(r.t, "elsewhere") {
		f, name = r.target("restore to")
		tref := r.ref(lookup.Join(f.path(), name))
		opts.Target = &tref
	} else {
		f = r.m.live(it.parentID)
	}
	what := fmt.Sprintf("restore %s (%s) with %+v", it.top.id, it.top.name, opts)
	_, err := r.fs.RestoreTrash(r.ctx, r.sid, it.top.id, opts)
	r.restored(what, err, f, name, overwrite, func() {
		r.m.dropItem(it)
		it.top.attach(f, name)
	})
}

// restoreInner brings back a node from inside a trashed folder.
func (r *modelRun) restoreInner() {
	type inner struct {
		it  *mtrash
		n   *mnode
		rel string
	}
	var inners []inner
	for _, it := range r.m.trash {
		it.top.walk(func(n *mnode) {
			if n != it.top {
				inners = append(inners, inner{it, n, n.path()})
			}
		})
	}
	if len(inners) == 0 {
		return
	}
	in := inners[rapid.IntRange(0, len(inners)-1).Draw(r.t, "inner node index")]
	r.t.Logf("inner node: %s in %s", in.rel, in.it.top.name)
	f, name := r.target("restore inner to")
	overwrite := rapid.Bool().Draw(r.t, "overwrite")
	tref := r.ref(lookup.Join(f.path(), name))
	opts := decomposedfs.RestoreOptions{Path: in.rel, Target: &tref, Overwrite: overwrite}
	what := fmt.Sprintf("restore %s of %s to %s", in.rel, in.it.top.id, tref.Path)
	_, err := r.fs.RestoreTrash(r.ctx, r.sid, in.it.top.id, opts)
	r.restored(what, err, f, name, overwrite, func() {
		in.n.detach()
		in.n.attach(f, name)
	})
}

// restored checks the outcome of a restore into folder f (nil: gone) as
// name, and applies it to the model with apply.
func (r *modelRun) restored(what string, err error, f *mnode, name string, overwrite bool, apply func()) {
	switch {
	case f == nil:
		r.expect(what, err, decomposedfs.ErrNotFound)
	case f.children[name] != nil && !overwrite:
		r.expect(what, err, decomposedfs.ErrExist)
	default:
		if r.expect(what, err, nil) {
			if existing := f.children[name]; existing != nil {
				r.m.toTrash(existing)
			}
			apply()
		}
	}
}

func (r *modelRun) purge() {
	if len(r.m.trash) == 0 {
		return
	}
	if rapid.IntRange(0, 9).Draw(r.t, "empty trash") == 0 {
		n, err := r.fs.EmptyTrash(r.ctx, r.sid)
		if r.expect("empty trash", err, nil) && n != len(r.m.trash) {
			r.t.Fatalf("emptied %d items, want %d", n, len(r.m.trash))
		}
		r.m.trash = nil
		return
	}
	it := r.drawItem("purge item")
	if r.expect("purge "+it.top.id, r.fs.PurgeTrash(r.ctx, r.sid, it.top.id), nil) {
		r.m.dropItem(it)
	}
}

// revisionID is the driver's id of the i-th (oldest first) revision of n.
func (r *modelRun) revisionID(n *mnode, i int) string {
	revs, err := r.fs.ListRevisions(r.ctx, r.ref(n.path()))
	if err != nil || len(revs) != len(n.revs) {
		r.t.Fatalf("revisions of %s: %d, %v; want %d", n.path(), len(revs), err, len(n.revs))
	}
	return revs[i].ID
}

func (r *modelRun) restoreRevision() {
	files := r.files(true)
	if len(files) == 0 {
		return
	}
	n := drawNode(r.t, files, "file")
	i := rapid.IntRange(0, len(n.revs)-1).Draw(r.t, "revision")
	_, err := r.fs.RestoreRevision(r.ctx, r.ref(n.path()), r.revisionID(n, i))
	if r.expect(fmt.Sprintf("restore revision %d of %s", i, n.path()), err, nil) {
		cur := n.content
		n.content = n.revs[i]
		n.revs = append(slices.Delete(slices.Clone(n.revs), i, i+1), cur)
	}
}

func (r *modelRun) deleteRevision() {
	files := r.files(true)
	if len(files) == 0 {
		return
	}
	n := drawNode(r.t, files, "file")
	i := rapid.IntRange(0, len(n.revs)-1).Draw(r.t, "revision")
	err := r.fs.DeleteRevision(r.ctx, r.ref(n.path()), r.revisionID(n, i))
	if r.expect(fmt.Sprintf("delete revision %d of %s", i, n.path()), err, nil) {
		n.revs = slices.Delete(slices.Clone(n.revs), i, i+1)
	}
}

// compare checks that the driver shows exactly the model.
func (r *modelRun) compare(step string) {
	r.t.Helper()
	fail := func(format string, a ...any) {
		r.t.Helper()
		r.t.Fatalf("after %s: %s", step, fmt.Sprintf(format, a...))
	}
	// The live tree: listings, ids, sizes, contents, revisions.
	var folder func(n *mnode, l *decomposedfs.Listing, where string)
	folder = func(n *mnode, l *decomposedfs.Listing, where string) {
		if l.Folder.ID != n.id || l.Folder.Size != n.size() || len(l.Problems) > 0 {
			fail("%s: folder %s of %d bytes (problems %v), want %s of %d", where, l.Folder.ID, l.Folder.Size, l.Problems, n.id, n.size())
		}
		names := slices.Sorted(maps.Keys(n.children))
		if got := childNames(l); got != strings.Join(names, ",") {
			fail("%s: children %q, want %q", where, got, strings.Join(names, ","))
		}
		for _, ci := range l.Children {
			c := n.children[ci.Name]
			if ci.ID != c.id || ci.IsDir() != c.dir || ci.Size != c.size() {
				fail("%s/%s: %s dir=%v size=%d, want %s dir=%v size=%d", where, ci.Name, ci.ID, ci.IsDir(), ci.Size, c.id, c.dir, c.size())
			}
		}
	}
	r.m.root.walk(func(n *mnode) {
		p := n.path()
		if n.dir {
			l, err := r.fs.ListFolder(r.ctx, r.ref(p))
			if err != nil {
				fail("list %s: %v", p, err)
			}
			folder(n, l, p)
			return
		}
		rc, _, err := r.fs.Download(r.ctx, r.ref(p), 0, -1)
		if b, err := readAll(rc, err); err != nil || !bytes.Equal(b, n.content) {
			fail("content of %s: %d bytes (%v), want %d", p, len(b), err, len(n.content))
		}
		revs, err := r.fs.ListRevisions(r.ctx, r.ref(p))
		if err != nil || len(revs) != len(n.revs) {
			fail("revisions of %s: %d (%v), want %d", p, len(revs), err, len(n.revs))
		}
		for i, rev := range revs {
			rc, _, err := r.fs.DownloadRevision(r.ctx, r.ref(p), rev.ID, 0, -1)
			if b, err := readAll(rc, err); err != nil || !bytes.Equal(b, n.revs[i]) || rev.Size != int64(len(n.revs[i])) {
				fail("revision %d of %s: %d bytes (%v), want %d", i, p, len(b), err, len(n.revs[i]))
			}
		}
	})
	// The trash: its items, newest first, and what is inside them.
	items, err := r.fs.ListTrash(r.ctx, r.sid)
	if err != nil || len(items) != len(r.m.trash) {
		fail("trash: %d items (%v), want %d", len(items), err, len(r.m.trash))
	}
	for i, item := range items {
		it := r.m.trash[len(r.m.trash)-1-i]
		if item.ID != it.top.id || item.Name != it.top.name || item.Size != it.top.size() || item.ParentID != it.parentID || (item.Type == decomposedfs.TypeDir) != it.top.dir {
			fail("trash item %d: %+v, want %s %q of %d bytes", i, item, it.top.id, it.top.name, it.top.size())
		}
		orig := ""
		if f := r.m.live(it.parentID); f != nil {
			orig = lookup.Join(f.path(), it.top.name)
		}
		if item.OriginalPath != orig {
			fail("trash item %s: original path %q, want %q", item.ID, item.OriginalPath, orig)
		}
		it.top.walk(func(n *mnode) {
			if !n.dir {
				return
			}
			rel := n.path()
			l, err := r.fs.ListTrashFolder(r.ctx, r.sid, it.top.id, rel)
			if err != nil {
				fail("list %s in trash item %s: %v", rel, it.top.id, err)
			}
			folder(n, l, "trash:"+it.top.id+rel)
		})
	}
	si, err := r.fs.GetSpace(r.ctx, r.sid)
	if err != nil || si.Used != r.m.root.size() {
		fail("space uses %d (%v), want %d", si.Used, err, r.m.root.size())
	}
	if err := fstest.Consistent(r.ctx, r.fs); err != nil {
		fail("%v", err)
	}
}

// runModel is the property: a fresh store, then up to 30 random operations,
// each checked against the model.
func runModel(t *rapid.T, outer *testing.T, base string, s3blobs blobstore.Store, stats map[string]int) {
	ctx := context.Background()
	root, err := os.MkdirTemp(base, "check")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	meta, err := storeOpener(outer, root)()
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	blobs := s3blobs
	if blobs == nil {
		if blobs, err = posix.New(root+"/blobs", posix.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	} else {
		// One bucket serves every check: start from an empty one.
		var keys []string
		if err := blobs.List(ctx, "", func(bi blobstore.Info) error { keys = append(keys, bi.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := blobs.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := decomposedfs.DefaultOptions()
	opts.Revisions.MaxCount = modelMaxRevisions
	fs, err := decomposedfs.New(meta, blobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	si, err := fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "model", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	r := &modelRun{stats: stats, t: t, fs: fs, sid: si.ID, ctx: ctx,
		m: &model{root: &mnode{id: si.ID, dir: true, children: map[string]*mnode{}}, maxRevs: modelMaxRevisions}}
	actions := map[string]func(){
		"mkdir": r.mkdir, "upload": r.upload, "move": r.move, "copy": r.copy, "delete": r.delete,
		"restore": r.restore, "restore inner": r.restoreInner, "purge": r.purge,
		"restore revision": r.restoreRevision, "delete revision": r.deleteRevision,
	}
	// Weights: the tree must grow for the other operations to matter.
	var choices []string
	for name, w := range map[string]int{"mkdir": 3, "upload": 5, "move": 2, "copy": 1, "delete": 2,
		"restore": 2, "restore inner": 3, "purge": 1, "restore revision": 3, "delete revision": 2} {
		for range w {
			choices = append(choices, name)
		}
	}
	slices.Sort(choices)
	// 10 to 30 steps, shrinking towards fewer: the first steps mostly
	// build a tree for the others to work on.
	lengths := make([]int, 21)
	for i := range lengths {
		lengths[i] = 10 + i
	}
	steps := rapid.SampledFrom(lengths).Draw(t, "steps")
	stats["steps"] += steps
	stats["checks"]++
	for i := range steps {
		op := rapid.SampledFrom(choices).Draw(t, "op")
		r.op = op
		actions[op]()
		r.compare(fmt.Sprintf("step %d (%s)", i, op))
	}
}

// TestModel runs rapid's checks (100 unless -rapid.checks says otherwise;
// a fifth under the race detector) on the posix blob store.
func TestModel(t *testing.T) {
	if raceEnabled {
		scaleRapidChecks(t, 5)
	}
	base := t.TempDir()
	stats := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) { runModel(rt, t, base, nil, stats) })
	t.Logf("outcomes: %v", stats)
}

// TestModelS3 runs the model on S3, with a tenth of the checks: the blob
// store is the only difference, and S3 round trips cost more.
func TestModelS3(t *testing.T) {
	scaleRapidChecks(t, 10)
	if raceEnabled {
		scaleRapidChecks(t, 5)
	}
	cfg := openModelS3(t)
	base := t.TempDir()
	stats := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) { runModel(rt, t, base, cfg, stats) })
	t.Logf("outcomes: %v", stats)
}

// scaleRapidChecks divides rapid's number of checks (its -rapid.checks
// flag, which rapid offers no other way to set) by div for the rest of
// the test, keeping at least one.
func scaleRapidChecks(t *testing.T, div int) {
	f := flag.Lookup("rapid.checks")
	old := f.Value.String()
	n, err := strconv.Atoi(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Value.Set(strconv.Itoa(max(1, n/div))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

func openModelS3(t *testing.T) blobstore.Store {
	blobs, err := openS3(s3test.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return blobs
}
