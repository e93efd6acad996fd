package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"golang.org/x/sys/unix"
)

// The walk follows links from a top (the space root, a trashed node, a
// detached node) down through every folder, reading each child's record
// once, checking it against the link that named it, and summing file
// sizes bottom-up to compare with every folder's stored tree size. Folders
// are tasks on a shared LIFO stack served by Options.Workers goroutines: a
// task lists its folder in batches, checks each child, pushes a task per
// subfolder, and finishes when its last subfolder has; the last one to
// finish adds the folder's sum to its parent. LIFO keeps the walk
// depth-first, so the tasks in memory are about workers x depth, not the
// number of folders.

type walkKind uint8

const (
	walkLive     walkKind = iota // from the root: reachable, live nodes
	walkTrash                    // from a trash entry
	walkDetached                 // from a node nothing reaches
)

// maxDepth bounds a walk (and walks up parent chains), as it bounds
// metadata/mpk's: deeper means a cycle or a corrupt store.
const maxDepth = 4096

// task is one folder being walked.
type task struct {
	id     string
	name   string // the entry that named it ("" for a top)
	path   string // for people
	parent *task
	depth  int
	rec    mpk.RawRecord
	kind   walkKind
	top    *task

	dirStamp subject
	sum      atomic.Int64 // sizes of the files below
	childMt  atomic.Int64 // latest stored tree mtime of a child folder
	pending  atomic.Int32 // own listing + unfinished subfolders
	unknown  atomic.Bool  // a size below could not be read: no tree finding here or above
	finding  *Finding     // for tops: the finding whose Bytes the walk fills in

	// seen collects the merge entries of the folder's listing (one
	// worker lists a folder), added to the sort in one go.
	seen []entry
}

type walker struct {
	sc  *spaceCheck
	ctx context.Context

	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond
	stack   []*task
	running int
	closed  bool
	err     error

	wg sync.WaitGroup
}

func (sc *spaceCheck) newWalker() *walker {
	w := &walker{sc: sc, ctx: sc.r.ctx}
	w.cond = sync.NewCond(&w.mu)
	for range sc.r.opts.Workers {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

func (w *walker) push(t *task) {
	if t.top == nil {
		t.top = t
	}
	w.mu.Lock()
	w.stack = append(w.stack, t)
	w.mu.Unlock()
	w.cond.Signal()
}

// wait lets the workers finish what is pushed and returns the first fatal
// error.
func (w *walker) wait() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Broadcast()
	w.wg.Wait()
	return w.err
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cond.Broadcast()
}

func (w *walker) work() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		for len(w.stack) == 0 && w.err == nil && !(w.closed && w.running == 0) {
			w.cond.Wait()
		}
		if len(w.stack) == 0 || w.err != nil {
			w.mu.Unlock()
			w.cond.Broadcast()
			return
		}
		t := w.stack[len(w.stack)-1]
		w.stack[len(w.stack)-1] = nil
		w.stack = w.stack[:len(w.stack)-1]
		w.running++
		w.mu.Unlock()

		w.process(t)

		w.mu.Lock()
		w.running--
		idle := w.running == 0 && len(w.stack) == 0
		w.mu.Unlock()
		if idle {
			w.cond.Broadcast()
		}
	}
}

func (w *walker) process(t *task) {
	sc := w.sc
	t.pending.Store(1)
	st, err := sc.reader.Folder(w.ctx, t.id, func(e mpk.FolderEntry) error {
		return w.entry(t, e)
	})
	sc.flushSeen(t)
	t.seen = nil
	dir := sc.r.meta.FolderPath(sc.sid, t.id)
	switch {
	case err == nil:
		t.dirStamp = stampSubject(dir, st)
	case w.ctx.Err() != nil:
		w.fail(w.ctx.Err())
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
		sc.dirMissing(t)
	default:
		sc.r.readError("folder "+t.id, err)
		t.unknown.Store(true)
	}
	w.finish(t)
}

// entry checks one child of folder t.
func (w *walker) entry(t *task, e mpk.FolderEntry) error {
	sc := w.sc
	path := joinPath(t.path, e.Name)
	dir := sc.r.meta.FolderPath(sc.sid, t.id)
	if e.Err != nil {
		f := newFinding(LinkInvalid, RemedyUnlinkEntry)
		f.Parent, f.Name, f.Path = t.id, e.Name, path
		f.File = sc.rel(dir + "/" + e.Name)
		f.Detail = e.Err.Error()
		sc.hold.add(f, statSubject(dir+"/"+e.Name))
		return nil
	}
	id := e.Target
	sc.r.nodes.Add(1)
	sc.nodes.Add(1)
	r := sc.reader.Record(id, false)
	if n := r.Node; r.State == mpk.RecordOK && n.Type == metadata.TypeFile && n.Trashed == 0 && n.ParentID == t.id && n.Name == e.Name {
		// The common case, read without a stamp (it needs none).
		sc.visit(t, id, true, false)
		sc.files.Add(1)
		t.sum.Add(n.Size)
		sc.fileRef(n, t.kind)
		return nil
	}
	// Anything else is read again with its stamp: findings and folders
	// (whose stamps the tree findings need) are concluded from values
	// read after their stamps.
	r = sc.reader.Record(id, true)
	recPath := sc.r.meta.RecordPath(sc.sid, id)
	switch r.State {
	case mpk.RecordMissing:
		f := newFinding(LinkDangling, RemedyUnlinkEntry)
		f.Node, f.Parent, f.Name, f.Path = id, t.id, e.Name, path
		f.File = sc.rel(dir + "/" + e.Name)
		f.Detail = "the entry links to node " + id + ", which has no record"
		sc.hold.add(f, statSubject(dir+"/"+e.Name), recordSubject(recPath, r))
		return nil
	case mpk.RecordUnreadable:
		sc.r.readError("record "+id, r.Err)
		t.unknown.Store(true)
		return nil
	case mpk.RecordUndecodable, mpk.RecordInvalid, mpk.RecordMisplaced:
		return w.brokenChild(t, e, r, path)
	}
	n := r.Node
	sc.visit(t, id, n.Type == metadata.TypeFile, false)
	switch {
	case n.Trashed != 0:
		f := newFinding(TrashLinked, RemedyUntrash)
		f.Node, f.Parent, f.Name, f.Path = id, t.id, e.Name, path
		f.File = sc.rel(recPath)
		f.Detail = "the node is linked in its folder and carries a trash mark; the link wins"
		f.Facts = &Facts{Type: n.Type.String(), Linked: true}
		if n.ParentID != t.id || n.Name != e.Name {
			f.Expected, f.Actual = linkText(t.id, e.Name), linkText(n.ParentID, n.Name)
		}
		sc.hold.add(f, recordSubject(recPath, r), statSubject(dir+"/"+e.Name))
	case n.ParentID != t.id || n.Name != e.Name:
		f := newFinding(LinkMismatch, RemedyRewriteRecord)
		f.Node, f.Parent, f.Name, f.Path = id, t.id, e.Name, path
		f.File = sc.rel(recPath)
		f.Expected, f.Actual = linkText(t.id, e.Name), linkText(n.ParentID, n.Name)
		f.Detail = "the record names another parent or name than its link (an interrupted move; the link wins)"
		f.Facts = &Facts{Type: n.Type.String(), Linked: true}
		sc.hold.add(f, recordSubject(recPath, r), statSubject(dir+"/"+e.Name))
	}
	if n.Type == metadata.TypeFile {
		sc.files.Add(1)
		t.sum.Add(n.Size)
		sc.fileRef(n, t.kind)
		return nil
	}
	sc.folders.Add(1)
	if ancestor(t, id) {
		if t.kind == walkDetached && t.top.id == id {
			return nil // the cycle this walk's top closes; its repair moves the top
		}
		f := newFinding(LinkDuplicate, RemedyUnlinkEntry)
		f.Node, f.Parent, f.Name, f.Path = id, t.id, e.Name, path
		f.File = sc.rel(dir + "/" + e.Name)
		f.Detail = "the entry links to a folder above it (a cycle)"
		f.Facts = &Facts{Type: "folder", Keep: &Link{Parent: n.ParentID, Name: n.Name}}
		sc.hold.add(f, statSubject(dir+"/"+e.Name))
		return nil
	}
	w.descend(t, e.Name, path, id, r)
	return nil
}

// brokenChild handles a linked child whose record cannot be used: it is
// reported, and if it has a folder directory the walk goes on into it, so
// that its children are not taken for detached ones.
func (w *walker) brokenChild(t *task, e mpk.FolderEntry, r mpk.RawRecord, path string) error {
	sc := w.sc
	id := e.Target
	recPath := sc.r.meta.RecordPath(sc.sid, id)
	isDir := isDirPath(sc.r.meta.FolderPath(sc.sid, id))
	f := sc.recordFinding(id, r, true)
	f.Parent, f.Name, f.Path = t.id, e.Name, path
	typ := "file"
	if isDir {
		typ = "folder"
	}
	f.Facts.Type = typ
	sc.visit(t, id, !isDir, true)
	if isDir {
		sc.folders.Add(1)
		sc.hold.add(f, recordSubject(recPath, r))
		if !ancestor(t, id) {
			w.descend(t, e.Name, path, id, r)
		}
		return nil
	}
	sc.files.Add(1)
	if r.Node != nil && r.Node.Type == metadata.TypeFile && r.Node.Size >= 0 {
		t.sum.Add(r.Node.Size)
		if metadata.ValidateID(r.Node.BlobID) == nil {
			sc.fileRef(r.Node, t.kind)
		}
	} else {
		t.unknown.Store(true)
	}
	// Its blob, found by its back-pointer in the blob phase, tells what
	// to rebuild it from.
	sc.hold.addHeld(held{f: f, subj: []subject{recordSubject(recPath, r)}, wanted: f.Code == RecordCorrupt})
	return nil
}

func (w *walker) descend(t *task, name, path, id string, r mpk.RawRecord) {
	if t.depth+1 > maxDepth {
		w.sc.r.readError("folder "+id, fmt.Errorf("deeper than %d folders", maxDepth))
		t.unknown.Store(true)
		return
	}
	child := &task{id: id, name: name, path: path, parent: t, depth: t.depth + 1, rec: r, kind: t.kind, top: t.top}
	t.pending.Add(1)
	w.push(child)
}

// finish ends a task's own listing; the last one to finish below a folder
// completes it, and so on up.
func (w *walker) finish(t *task) {
	for t != nil && t.pending.Add(-1) == 0 {
		sum := t.sum.Load()
		w.sc.folderDone(t, sum)
		p := t.parent
		if p == nil {
			w.sc.topDone(t, sum)
			return
		}
		p.sum.Add(sum)
		if t.rec.Node != nil {
			atomicMax(&p.childMt, t.rec.Tree.Mtime)
		}
		if t.unknown.Load() {
			p.unknown.Store(true)
		}
		t = p
	}
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func ancestor(t *task, id string) bool {
	for ; t != nil; t = t.parent {
		if t.id == id {
			return true
		}
	}
	return false
}

func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

func linkText(parent, name string) string {
	return fmt.Sprintf("parent %s name %q", parent, name)
}

func isDirPath(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}
