package check

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/s3dfs/s3dfs/decomposedfs/check/internal/extsort"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// A space is checked in four passes, none of which holds the nodes in
// memory:
//
//  1. the live walk from the root (walk.go), which checks every reachable
//     link against its record and every folder's tree values;
//  2. the trash walk, the same from every trash entry;
//  3. the shard scan, which lists every name in the space's shard
//     directories (records, folder directories, pending links, temp files);
//  4. the merge: the walks and the scan wrote one entry per thing seen into
//     an external sort by node id, so that in id order every node shows up
//     with everything known about it (record, directory, links, trash entry)
//     and what is missing or too much can be told without a map of all
//     nodes. Records nothing reached are read and explained there; the tops
//     of detached subtrees are then walked like the trash.

// entry is one thing seen about a node, for the merge.
type entry struct {
	id    id16
	other id16 // the linking folder, for kVisited
	kind  uint8
	flags uint8
}

const (
	kRecord     uint8 = iota + 1 // its record file exists
	kDir                         // its folder directory exists
	kPending                     // a pending link names it
	kVisited                     // a walk reached it through a link (other: the folder)
	kTrashTop                    // the trash walk started at it
	kTrashEntry                  // a trash entry names it
	kLock                        // a per-node lock file names it
)

const (
	fFile    uint8 = 1 << iota // kVisited: the record is a file's
	fCorrupt                   // kVisited: the record is unreadable
)

func cmpEntry(a, b entry) int {
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	return bytes.Compare(a.other[:], b.other[:])
}

var entryCodec extsort.Codec[entry] = extsort.Fixed[entry]{N: 34,
	Put: func(b []byte, e entry) {
		copy(b, e.id[:])
		copy(b[16:], e.other[:])
		b[32], b[33] = e.kind, e.flags
	},
	Get: func(b []byte) (e entry) {
		copy(e.id[:], b)
		copy(e.other[:], b[16:])
		e.kind, e.flags = b[32], b[33]
		return e
	},
	Mem: 40,
}

// lockNames are the per-node lock files of older layouts (and of the
// driver this one learned from): <id>.lock, <id>.mlock, <id>.flock, also
// with a leading dot. The flags of a kLock entry say which.
var lockSuffixes = []string{".lock", ".mlock", ".flock"}

func lockFileName(id string, flags uint8) string {
	name := id + lockSuffixes[flags>>1%uint8(len(lockSuffixes))]
	if flags&1 != 0 {
		name = "." + name
	}
	return name
}

func parseLockName(name string) (string, uint8, bool) {
	var flags uint8
	if strings.HasPrefix(name, ".") {
		name, flags = name[1:], 1
	}
	for i, suf := range lockSuffixes {
		if id, ok := strings.CutSuffix(name, suf); ok && metadata.ValidateID(id) == nil {
			return id, flags | uint8(i)<<1, true
		}
	}
	return "", 0, false
}

// spaceCheck is the state of checking one space.
type spaceCheck struct {
	r       *run
	sid     string
	hold    *holder
	reader  *mpk.SpaceReader
	entries *extsort.Sorter[entry] // nil when checking a path only

	nodes, folders, files atomic.Int64
	live, trash, lost     atomic.Int64

	// Merge state, used by one goroutine.
	memo     map[string]bool     // ids whose place in a detached subtree is known
	reported map[string]*Finding // tops of detached subtrees already reported
	tops     []*task
}

func (r *run) checkSpace(sid string) error {
	r.setStep("walk " + sid)
	sc := &spaceCheck{r: r, sid: sid, hold: newHolder(r, sid), memo: map[string]bool{}, reported: map[string]*Finding{}}
	var err error
	if sc.reader, err = r.meta.OpenSpaceReader(sid); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			sc.spaceFiles() // reports the missing nodes directory
			return sc.hold.flush()
		}
		r.readError("space "+sid, err)
		return nil
	}
	defer sc.reader.Close()
	if r.opts.Path == "" {
		if sc.entries, err = extsort.New(cmpEntry, entryCodec, r.sortOptions()); err != nil {
			return err
		}
		defer sc.entries.Close()
		sc.spaceFiles()
	}
	if err := sc.walkLive(); err != nil {
		return err
	}
	if r.opts.Path == "" {
		if err := sc.walkTrash(); err != nil {
			return err
		}
		r.setStep("scan " + sid)
		if err := sc.scanShards(); err != nil {
			return err
		}
		if err := sc.merge(); err != nil {
			return err
		}
		if err := sc.walkDetached(); err != nil {
			return err
		}
	}
	r.sum.update(sid, func(ss *SpaceSummary) {
		ss.Nodes, ss.Folders, ss.Files = sc.nodes.Load(), sc.folders.Load(), sc.files.Load()
		ss.LiveBytes, ss.TrashBytes, ss.LostBytes = sc.live.Load(), sc.trash.Load(), sc.lost.Load()
	})
	return sc.hold.flush()
}

// rel is a path relative to the root, for findings.
func (sc *spaceCheck) rel(path string) string { return sc.r.rel(path) }

func (r *run) rel(path string) string { return strings.TrimPrefix(path, r.meta.Root()+"/") }

func (sc *spaceCheck) add(kind uint8, id, other string, flags uint8) {
	if sc.entries == nil {
		return
	}
	e := entry{id: pack(id), kind: kind, flags: flags}
	if other != "" {
		e.other = pack(other)
	}
	if err := sc.entries.Add(e); err != nil {
		sc.r.readError("sort", err)
	}
}

// visit notes that a walk reached node id through a link in folder t.
func (sc *spaceCheck) visit(t *task, id string, file, corrupt bool) {
	if t.kind == walkDetached {
		return // detached walks run after the merge
	}
	var flags uint8
	if file {
		flags |= fFile
	}
	if corrupt {
		flags |= fCorrupt
	}
	if sc.entries == nil {
		return
	}
	t.seen = append(t.seen, entry{id: pack(id), other: pack(t.id), kind: kVisited, flags: flags})
	if len(t.seen) >= 4096 {
		sc.flushSeen(t)
	}
}

func (sc *spaceCheck) flushSeen(t *task) {
	if len(t.seen) == 0 || sc.entries == nil {
		return
	}
	if err := sc.entries.AddAll(t.seen); err != nil {
		sc.r.readError("sort", err)
	}
	t.seen = t.seen[:0]
}

// fileRef notes the blobs a file record references: its content and its
// revisions'.
func (sc *spaceCheck) fileRef(n *metadata.Node, kind walkKind) {
	if sc.r.refs == nil {
		return
	}
	for _, rv := range n.Revisions {
		if metadata.ValidateID(rv.BlobID) == nil {
			sc.r.addRef(ref{space: pack(sc.sid), blob: pack(rv.BlobID), owner: pack(n.ID), size: rv.Size, kind: refRevision})
		}
	}
	if n.BlobID == "" {
		return
	}
	rk := refNode
	switch kind {
	case walkTrash:
		rk = refTrash
	case walkDetached:
		rk = refLost
	}
	sc.r.addRef(ref{space: pack(sc.sid), blob: pack(n.BlobID), owner: pack(n.ID), size: n.Size, kind: rk})
}

// recordFinding describes a record that cannot be used.
func (sc *spaceCheck) recordFinding(id string, r mpk.RawRecord, linked bool) *Finding {
	code := RecordCorrupt
	switch r.State {
	case mpk.RecordInvalid:
		code = RecordInvalid
	case mpk.RecordMisplaced:
		code = NodeOutsideSpace
	}
	remedy := RemedyMoveAside
	if linked {
		remedy = RemedyRebuildRecord
		if code == NodeOutsideSpace {
			remedy = RemedyRewriteRecord
		}
	}
	f := newFinding(code, remedy)
	f.Node = id
	f.File = sc.rel(sc.r.meta.RecordPath(sc.sid, id))
	f.Detail = fmt.Sprintf("%d-byte record: %v", r.Bytes, r.Err)
	if code == NodeOutsideSpace && r.Node != nil {
		f.Expected = fmt.Sprintf("node %s of space %s", id, sc.sid)
		f.Actual = fmt.Sprintf("node %s of space %s", r.Node.ID, r.Node.SpaceID)
	}
	f.Facts = &Facts{Linked: linked, Ctime: r.Stamp.Ctime}
	return f
}

// folderDone compares a walked folder's stored tree values with what lies
// below it.
func (sc *spaceCheck) folderDone(t *task, sum int64) {
	n := t.rec.Node
	if n == nil || n.Type != metadata.TypeDir || t.rec.State == mpk.RecordUndecodable || t.rec.State == mpk.RecordInvalid {
		return // the record's own finding covers it
	}
	recPath := sc.r.meta.RecordPath(sc.sid, t.id)
	subj := []subject{recordSubject(recPath, t.rec)}
	if t.dirStamp.path != "" {
		subj = append(subj, t.dirStamp)
	}
	stored := t.rec.Tree
	if t.rec.TreeErr != nil || (!t.unknown.Load() && stored.Size != sum) {
		f := newFinding(TreeSize, RemedyRecomputeTree)
		f.Node, f.Path, f.File = t.id, t.path, sc.rel(recPath)
		f.Expected, f.Actual = fmt.Sprint(sum), fmt.Sprint(stored.Size)
		f.Bytes = sum
		f.Detail = "stored tree size differs from the sum of the files below"
		if t.rec.TreeErr != nil {
			f.Detail = "tree attribute unreadable: " + t.rec.TreeErr.Error()
		}
		f.Facts = &Facts{Type: "folder", Stored: stored.Size, Computed: sum, Depth: t.depth, InTrash: t.kind == walkTrash}
		sc.hold.add(f, subj...)
	}
	if mt := t.childMt.Load(); mt > stored.Mtime && t.rec.TreeErr == nil {
		f := newFinding(TreeMtime, RemedyRecomputeTree)
		f.Node, f.Path, f.File = t.id, t.path, sc.rel(recPath)
		f.Expected, f.Actual = fmt.Sprintf("at least %d", mt), fmt.Sprint(stored.Mtime)
		f.Detail = "a subfolder changed later than the folder's tree mtime says (its etag missed a change)"
		f.Facts = &Facts{Type: "folder", Depth: t.depth, InTrash: t.kind == walkTrash}
		sc.hold.add(f, subj...)
	}
}

// topDone accounts a finished walk.
func (sc *spaceCheck) topDone(t *task, sum int64) {
	switch t.kind {
	case walkLive:
		if t.id == sc.sid {
			sc.live.Add(sum)
		}
	case walkTrash:
		sc.trash.Add(sum)
	case walkDetached:
		sc.lost.Add(sum)
		if t.finding != nil {
			t.finding.Bytes = sum
		}
	}
}

// dirMissing reports a folder record without its directory.
func (sc *spaceCheck) dirMissing(t *task) {
	dir := sc.r.meta.FolderPath(sc.sid, t.id)
	recPath := sc.r.meta.RecordPath(sc.sid, t.id)
	if t.id == sc.sid {
		f := newFinding(SpaceRoot, RemedyMakeDir)
		f.Node, f.Path, f.File = t.id, "/", sc.rel(dir)
		f.Detail = "the root folder has no directory"
		sc.hold.add(f, subject{path: dir, absent: true})
		return
	}
	if t.rec.State != mpk.RecordOK {
		return // the record's finding covers it
	}
	f := newFinding(DirMissing, RemedyMakeDir)
	f.Node, f.Path, f.File = t.id, t.path, sc.rel(dir)
	f.Detail = "the folder record has no directory (it becomes an empty folder)"
	sc.hold.add(f, recordSubject(recPath, t.rec), subject{path: dir, absent: true})
}

// spaceFiles checks the fixed names of the space directory.
func (sc *spaceCheck) spaceFiles() {
	dir := sc.r.meta.SpacePath(sc.sid)
	ents, err := sc.r.meta.SpaceFiles(sc.sid)
	if err != nil {
		sc.r.readError("space "+sc.sid, err)
		return
	}
	want := map[string]fs.FileMode{"space.mpk": 0, "ns": 0, "nodes": fs.ModeDir, "trash": fs.ModeDir}
	var missing []string
	for _, e := range ents {
		typ, known := want[e.Name()]
		switch {
		case known && e.Type()&fs.ModeType == typ:
			delete(want, e.Name())
		case slices.Contains(mpk.StateDirs, e.Name()) && e.IsDir():
			// The space's locks and reservations, created by their first
			// write (state.go).
		case strings.HasPrefix(e.Name(), ".space.mpk.") && strings.HasSuffix(e.Name(), ".tmp"):
			sc.tempFile(dir + "/" + e.Name())
		default:
			sc.strayFile(dir+"/"+e.Name(), "")
		}
	}
	sc.stateFiles()
	for name := range want {
		if name != "space.mpk" { // a missing record is found by scanSpaces
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		f := newFinding(SpaceRecord, RemedyRebuildSpace)
		f.File = sc.rel(dir)
		f.Detail = "missing: " + strings.Join(slices.Sorted(slices.Values(missing)), ", ")
		subj := []subject{statSubject(dir)}
		for _, m := range missing {
			subj = append(subj, subject{path: dir + "/" + m, absent: true})
		}
		sc.hold.add(f, subj...)
	}
}

func (sc *spaceCheck) tempFile(path string) { sc.r.tempFile(sc.hold, path) }

func (sc *spaceCheck) strayFile(path, detail string) { sc.r.strayFile(sc.hold, path, detail) }

// tempFile reports a temp file older than the grace period.
func (r *run) tempFile(h *holder, path string) {
	st, ok, err := lstatStamp(path)
	if err != nil {
		r.readError("temp file", err)
		return
	}
	if !ok || r.young(st.Ctime) {
		return // gone, or perhaps still being written
	}
	f := newFinding(TempLeftover, RemedyMoveAside)
	f.File = r.rel(path)
	f.Detail = "a record replacement that never finished (its temp file)"
	h.add(f, stampSubject(path, st))
}

func (r *run) strayFile(h *holder, path, detail string) {
	f := newFinding(StrayFile, RemedyMoveAside)
	f.File = r.rel(path)
	f.Detail = detail
	if f.Detail == "" {
		f.Detail = "not a name the store uses here"
	}
	h.add(f, statSubject(path))
}

// young reports whether a ctime lies within the grace period before the
// cutoff (or after it).
func (r *run) young(ctime int64) bool {
	return ctime > r.cutoff-int64(r.opts.Grace)
}

// walkLive walks from the space root, or from the node at Options.Path.
func (sc *spaceCheck) walkLive() error {
	r := sc.r
	root := r.meta.ReadRaw(sc.sid, sc.sid)
	rootPath := r.meta.RecordPath(sc.sid, sc.sid)
	if root.State == mpk.RecordUnreadable {
		r.readError("root of space "+sc.sid, root.Err)
	} else if root.State != mpk.RecordOK || root.Node.Type != metadata.TypeDir || !root.Node.IsRoot() {
		f := newFinding(SpaceRoot, RemedyRebuildRecord)
		f.Node, f.Path, f.File = sc.sid, "/", sc.rel(rootPath)
		f.Detail = fmt.Sprintf("root record %s", root.State)
		if root.Err != nil {
			f.Detail += ": " + root.Err.Error()
		} else if root.Node != nil && root.Node.Type != metadata.TypeDir {
			f.Detail += " but a file"
		}
		sc.hold.add(f, recordSubject(rootPath, root))
	}
	top := &task{id: sc.sid, path: "/", rec: root, kind: walkLive}
	if r.opts.Path != "" {
		var err error
		if top, err = sc.resolvePath(root); err != nil {
			return err
		}
		if top == nil {
			return nil // a file: checked by resolvePath
		}
	}
	sc.add(kVisited, sc.sid, "", 0)
	w := sc.newWalker()
	w.push(top)
	return w.wait()
}

// resolvePath follows Options.Path through the links from the root. A file
// at the end is checked right here (its record and blob); a folder is
// returned to be walked.
func (sc *spaceCheck) resolvePath(root mpk.RawRecord) (*task, error) {
	segs, err := lookup.Split(sc.r.opts.Path)
	if err != nil {
		return nil, fmt.Errorf("check: path %q: %w", sc.r.opts.Path, err)
	}
	cur, rec, path := sc.sid, root, "/"
	for i, seg := range segs {
		id, err := sc.r.meta.ReadEntry(sc.sid, cur, seg)
		if err != nil {
			return nil, fmt.Errorf("check: path %s: %w", joinPath(path, seg), metadata.ErrNotFound)
		}
		path = joinPath(path, seg)
		rec = sc.r.meta.ReadRaw(sc.sid, id)
		if rec.State != mpk.RecordOK {
			f := sc.recordFinding(id, rec, true)
			f.Parent, f.Name, f.Path = cur, seg, path
			sc.hold.add(f, recordSubject(sc.r.meta.RecordPath(sc.sid, id), rec))
			return nil, nil
		}
		if rec.Node.Type == metadata.TypeFile {
			if i != len(segs)-1 {
				return nil, fmt.Errorf("check: path %s: %w", path, metadata.ErrNotDir)
			}
			sc.nodes.Add(1)
			sc.files.Add(1)
			sc.fileRef(rec.Node, walkLive)
			return nil, nil
		}
		cur = id
	}
	return &task{id: cur, path: path, rec: rec, kind: walkLive, depth: len(segs)}, nil
}

// walkTrash checks every trash entry and walks the trashed subtrees.
func (sc *spaceCheck) walkTrash() error {
	r := sc.r
	w := sc.newWalker()
	dir := r.meta.SpacePath(sc.sid) + "/trash"
	err := r.meta.ScanTrash(r.ctx, sc.sid, func(e mpk.TrashEntry) error {
		path := dir + "/" + e.Name
		if e.Err != nil || e.Target != e.Name {
			f := newFinding(TrashInvalid, RemedyRemoveTrashItem)
			f.File = sc.rel(path)
			f.Detail = "a trash entry is a link named by the node it links to"
			if e.Err != nil {
				f.Detail = e.Err.Error()
			}
			sc.hold.add(f, statSubject(path))
			return nil
		}
		id := e.Target
		sc.add(kTrashEntry, id, "", 0)
		rp := r.meta.RecordPath(sc.sid, id)
		rec := r.meta.ReadRaw(sc.sid, id)
		switch rec.State {
		case mpk.RecordMissing:
			f := newFinding(TrashDangling, RemedyRemoveTrashItem)
			f.Node, f.File = id, sc.rel(path)
			f.Detail = "the trash entry names a node without a record (an interrupted purge)"
			sc.hold.add(f, statSubject(path), recordSubject(rp, rec))
			return nil
		case mpk.RecordUnreadable:
			r.readError("record "+id, rec.Err)
			return nil
		case mpk.RecordOK:
		default:
			f := sc.recordFinding(id, rec, false)
			f.Facts.InTrash = true
			f.Path = "(trash)/" + id
			sc.hold.add(f, recordSubject(rp, rec))
			return nil
		}
		n := rec.Node
		if l, err := r.meta.ReadEntry(sc.sid, n.ParentID, n.Name); err == nil && l == id {
			if n.Trashed == 0 { // a marked one is reported by the walk that reaches its link
				f := newFinding(TrashLinked, RemedyUntrash)
				f.Node, f.Parent, f.Name, f.File = id, n.ParentID, n.Name, sc.rel(path)
				f.Detail = "the node has a trash entry but is still linked in its folder (an interrupted trash or restore; the link wins)"
				f.Facts = &Facts{Type: n.Type.String(), Linked: true}
				sc.hold.add(f, statSubject(path), recordSubject(rp, rec))
			}
			return nil
		}
		sc.r.nodes.Add(1)
		sc.nodes.Add(1)
		var fl uint8
		if n.Type == metadata.TypeFile {
			fl = fFile
		}
		sc.add(kTrashTop, id, "", fl)
		tpath := "(trash)/" + n.Name
		if n.Trashed == 0 {
			f := newFinding(TrashUnmarked, RemedyMarkTrashed)
			f.Node, f.Path, f.File = id, tpath, sc.rel(rp)
			f.Detail = "the node was unlinked into the trash, but its record lacks the trash mark (an interrupted trash)"
			f.Facts = &Facts{Type: n.Type.String(), InTrash: true}
			sc.hold.add(f, recordSubject(rp, rec), statSubject(path))
		}
		if n.Type == metadata.TypeFile {
			sc.files.Add(1)
			sc.trash.Add(n.Size)
			sc.fileRef(n, walkTrash)
			return nil
		}
		sc.folders.Add(1)
		w.push(&task{id: id, path: tpath, rec: rec, kind: walkTrash})
		return nil
	})
	werr := w.wait()
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return werr
}

// scanShards feeds every name of the space's shard directories to the
// merge, and reports what is no node's.
func (sc *spaceCheck) scanShards() error {
	r := sc.r
	nodes := r.meta.SpacePath(sc.sid) + "/nodes/"
	batch := &task{} // collects the entries, added in batches
	add := func(kind uint8, id string) {
		batch.seen = append(batch.seen, entry{id: pack(id), kind: kind})
		if len(batch.seen) >= 4096 {
			sc.flushSeen(batch)
		}
	}
	defer sc.flushSeen(batch)
	err := r.meta.ScanShards(r.ctx, sc.sid, func(e mpk.ShardEntry) error {
		switch e.Kind {
		case mpk.EntryRecord:
			add(kRecord, e.ID)
		case mpk.EntryFolder:
			add(kDir, e.ID)
		case mpk.EntryPending:
			add(kPending, e.ID)
		case mpk.EntryTemp:
			sc.tempFile(nodes + e.Rel())
		default:
			path := nodes + e.Rel()
			if id, flags, ok := parseLockName(e.Name); ok && e.Shard != "" && e.Type&fs.ModeType == 0 {
				sc.add(kLock, id, "", flags)
				return nil
			}
			if k, _ := mpk.ClassifyName(e.Name, e.Type); k != mpk.EntryOther && e.Shard != "" {
				f := newFinding(NodeOutsideSpace, RemedyMoveAside)
				f.File = sc.rel(path)
				f.Detail = "a node file in a shard its id does not map to: nothing can find it"
				sc.hold.add(f, statSubject(path))
				return nil
			}
			sc.strayFile(path, "")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

// dirHasEntries reports whether a directory has at least one entry.
func dirHasEntries(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	return err == nil, err
}
