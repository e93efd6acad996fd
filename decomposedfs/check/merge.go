package check

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// merge reads the sorted entries node by node and explains each node whose
// entries do not add up.
func (sc *spaceCheck) merge() error {
	it, err := sc.entries.Sorted()
	if err != nil {
		return err
	}
	defer it.Close()
	var group []entry
	for {
		if err := sc.r.ctx.Err(); err != nil {
			return err
		}
		e, ok := it.Next()
		if ok && (len(group) == 0 || group[0].id == e.id) {
			group = append(group, e)
			continue
		}
		if len(group) > 0 {
			sc.classify(group)
		}
		if !ok {
			break
		}
		group = append(group[:0], e)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("check: merge: %w", err)
	}
	return nil
}

// classify explains one node from everything seen about it.
func (sc *spaceCheck) classify(g []entry) {
	id := g[0].id.String()
	var rec, dir, pend, trashEntry, trashTop bool
	var visits []entry
	var locks []uint8
	for _, e := range g {
		switch e.kind {
		case kRecord:
			rec = true
		case kDir:
			dir = true
		case kPending:
			pend = true
		case kVisited:
			visits = append(visits, e)
		case kTrashTop:
			trashTop = true
		case kTrashEntry:
			trashEntry = true
		case kLock:
			locks = append(locks, e.flags)
		}
	}
	isFile := len(visits) > 0 && visits[0].flags&fFile != 0
	if len(visits) > 1 {
		sc.duplicateLinks(id, visits)
	}
	if trashTop {
		isFile = g[0].flags&fFile != 0 || isFile
		for _, e := range g {
			if e.kind == kTrashTop && e.flags&fFile != 0 {
				isFile = true
			}
		}
	}
	if rec && len(visits) == 0 && !trashTop && id != sc.sid {
		isFile = sc.unvisited(id, pend, trashEntry)
	}
	if dir && (!rec || isFile) {
		sc.dirOrphan(id, rec)
	}
	if pend && (len(visits) > 0 || !rec) {
		path := sc.r.meta.PendingPath(sc.sid, id)
		f := newFinding(PendingDangling, RemedyMoveAside)
		f.Node, f.File = id, sc.rel(path)
		f.Detail = "a pending link of a node that is committed or gone"
		sc.hold.add(f, statSubject(path), recordSubject(sc.r.meta.RecordPath(sc.sid, id), sc.r.meta.ReadRaw(sc.sid, id)))
	}
	if len(locks) > 0 && !rec {
		for _, fl := range locks {
			path := sc.r.meta.SpacePath(sc.sid) + "/nodes/" + id[:2] + "/" + lockFileName(id, fl)
			f := newFinding(LockStale, RemedyMoveAside)
			f.Node, f.File = id, sc.rel(path)
			f.Detail = "a per-node lock file of a node that does not exist"
			sc.hold.add(f, statSubject(path), subject{path: sc.r.meta.RecordPath(sc.sid, id), absent: true})
		}
	}
}

// duplicateLinks reports the extra links of a node reached more than once.
func (sc *spaceCheck) duplicateLinks(id string, visits []entry) {
	parents := map[string]bool{}
	for _, v := range visits {
		parents[v.other.String()] = true
	}
	var links []Link
	for p := range parents {
		_, err := sc.r.meta.ReadFolder(sc.r.ctx, sc.sid, p, func(e mpk.FolderEntry) error {
			if e.Target == id {
				links = append(links, Link{Parent: p, Name: e.Name})
			}
			return nil
		})
		if err != nil {
			sc.r.readError("folder "+p, err)
			return
		}
	}
	if len(links) < 2 {
		return // one link, reached twice through a folder linked twice
	}
	slices.SortFunc(links, func(a, b Link) int {
		if c := cmp.Compare(a.Parent, b.Parent); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	keep := links[0]
	r := sc.r.meta.ReadRaw(sc.sid, id)
	if r.Node != nil {
		for _, l := range links {
			if l.Parent == r.Node.ParentID && l.Name == r.Node.Name {
				keep = l
			}
		}
	}
	for _, l := range links {
		if l == keep {
			continue
		}
		path := sc.r.meta.FolderPath(sc.sid, l.Parent) + "/" + l.Name
		f := newFinding(LinkDuplicate, RemedyUnlinkEntry)
		f.Node, f.Parent, f.Name, f.File = id, l.Parent, l.Name, sc.rel(path)
		f.Detail = fmt.Sprintf("the node is linked %d times; the link its record names stays", len(links))
		f.Facts = &Facts{Keep: &Link{Parent: keep.Parent, Name: keep.Name}}
		sc.hold.add(f, statSubject(path))
	}
}

// unvisited explains a record that no walk reached. It returns whether the
// record is a file's.
func (sc *spaceCheck) unvisited(id string, pend, trashEntry bool) bool {
	r := sc.r
	rp := r.meta.RecordPath(sc.sid, id)
	rec := r.meta.ReadRaw(sc.sid, id)
	r.nodes.Add(1)
	switch rec.State {
	case mpk.RecordMissing:
		return false // purged meanwhile
	case mpk.RecordUnreadable:
		r.readError("record "+id, rec.Err)
		return false
	}
	if rec.Stamp.Ctime > r.cutoff {
		r.sum.skipped(1)
		return false // created or changed while the check ran
	}
	n := rec.Node
	isFile := n != nil && n.Type == metadata.TypeFile
	if pend {
		// A prepared node's blob is not content until a commit makes it
		// so: the blob merge judges it on its own (an orphan once the
		// node is older than the pending grace), so that the repair of
		// both leaves nothing behind.
		sc.pendingNode(id, rec)
		return isFile
	}
	if n != nil && isFile && metadata.ValidateID(n.BlobID) == nil {
		// Whatever it is, its blob is referenced while the record exists:
		// a repair that keeps it must find the blob there.
		sc.fileRef(n, walkDetached)
	}
	if rec.State != mpk.RecordOK {
		if trashEntry {
			return isFile // the trash walk reported it
		}
		f := sc.recordFinding(id, rec, false)
		f.Detail = "an unlinked record that cannot be read: " + f.Detail
		if rec.State == mpk.RecordUndecodable && rec.Bytes == 0 {
			// A create killed between creating its record and writing
			// it: the same leftover as an unlinked record, no loss.
			cl := classByCode[RecordEmpty]
			f.Code, f.Severity = cl.Code, cl.Severity
			f.Detail = "an empty record nothing links to (a create cut short before it wrote the record)"
		}
		sc.hold.add(f, recordSubject(rp, rec))
		return isFile
	}
	sc.nodes.Add(1)
	if l, err := r.meta.ReadEntry(sc.sid, n.ParentID, n.Name); err == nil && l == id {
		sc.detached(n, rec)
		return isFile
	}
	if n.Trashed != 0 {
		f := newFinding(TrashEntryMissing, RemedyAddTrashEntry)
		f.Node, f.File = id, sc.rel(rp)
		f.Path = "(trash)/" + n.Name
		f.Detail = "a trashed node without its trash entry: nobody can see or restore it"
		f.Facts = &Facts{Type: n.Type.String(), InTrash: true}
		sc.hold.add(f, recordSubject(rp, rec), subject{path: r.meta.TrashEntryPath(sc.sid, id), absent: true})
		sc.walkLater(n, rec, f)
		return isFile
	}
	content := false
	if isFile {
		content = n.BlobID != "" || n.Size > 0
	} else if has, err := dirHasEntries(r.meta.FolderPath(sc.sid, id)); err == nil {
		content = has
	}
	remedy := RemedyMoveAside
	if content {
		remedy = RemedyLostAndFound
	}
	f := newFinding(NodeUnlinked, remedy)
	f.Node, f.Parent, f.Name, f.File = id, n.ParentID, n.Name, sc.rel(rp)
	f.Path = "(unlinked)/" + n.Name
	f.Detail = "no folder entry links to the record (an interrupted create)"
	if content {
		f.Detail += "; it has content, which goes to lost+found"
	}
	f.Facts = &Facts{Type: n.Type.String(), Content: content, Size: n.Size, BlobID: n.BlobID}
	if isFile {
		f.Bytes = n.Size
		sc.lost.Add(n.Size)
	}
	sc.hold.add(f, recordSubject(rp, rec), subject{path: r.meta.FolderPath(sc.sid, n.ParentID) + "/" + n.Name, absent: true})
	if content && !isFile {
		sc.walkLater(n, rec, f)
	}
	return isFile
}

// pendingNode reports a prepared node older than the pending grace period.
func (sc *spaceCheck) pendingNode(id string, rec mpk.RawRecord) {
	r := sc.r
	pp := r.meta.PendingPath(sc.sid, id)
	st, ok, err := lstatStamp(pp)
	if err != nil || !ok {
		return
	}
	if st.Ctime > r.cutoff-int64(r.opts.PendingGrace) {
		return // its upload may still be streaming
	}
	f := newFinding(NodePending, RemedyMoveAside)
	f.Node, f.File = id, sc.rel(pp)
	f.Detail = "a prepared node whose upload never committed"
	if rec.Node != nil {
		f.Path = "(pending)/" + rec.Node.Name
		f.Parent, f.Name = rec.Node.ParentID, rec.Node.Name
	}
	sc.hold.add(f, stampSubject(pp, st), recordSubject(r.meta.RecordPath(sc.sid, id), rec))
}

// dirOrphan reports a folder directory that no folder record owns.
func (sc *spaceCheck) dirOrphan(id string, rec bool) {
	path := sc.r.meta.FolderPath(sc.sid, id)
	has, err := dirHasEntries(path)
	if err != nil {
		return
	}
	f := newFinding(DirOrphan, RemedyMoveAside)
	f.Node, f.File = id, sc.rel(path)
	f.Detail = "a folder directory without a folder record"
	if rec {
		f.Detail = "a folder directory of a file"
	}
	if has {
		f.Detail += "; its entries are relinked to lost+found first"
	}
	f.Facts = &Facts{Content: has}
	sc.hold.add(f, statSubject(path))
}

// detached finds the top of the subtree that linked-but-unreachable node n
// belongs to, and reports it once.
func (sc *spaceCheck) detached(n *metadata.Node, rec mpk.RawRecord) {
	if sc.memo[n.ID] {
		return
	}
	chain := []*metadata.Node{n}
	cur := n
	remember := func() {
		if len(sc.memo) > 100_000 {
			clear(sc.memo)
		}
		for _, c := range chain {
			sc.memo[c.ID] = true
		}
	}
	defer remember()
	for range maxDepth {
		if sc.memo[cur.ParentID] {
			return // above is a top already found
		}
		p := sc.r.meta.ReadRaw(sc.sid, cur.ParentID)
		if p.State != mpk.RecordOK || p.Node.Type != metadata.TypeDir {
			if p.State == mpk.RecordUnreadable {
				sc.r.readError("record "+cur.ParentID, p.Err)
				return
			}
			why := "has no record"
			switch {
			case p.State == mpk.RecordOK:
				why = "is a file"
			case p.State != mpk.RecordMissing:
				why = "has an unreadable record"
			}
			sc.reportTop(cur, ChainBroken, fmt.Sprintf("its parent folder %s %s", cur.ParentID, why))
			return
		}
		pn := p.Node
		if pn.IsRoot() {
			sc.r.sum.skipped(1) // attached after all: linked while the walk ran
			return
		}
		for i, c := range chain {
			if c.ID == pn.ID {
				top := slices.MinFunc(chain[i:], func(a, b *metadata.Node) int { return cmp.Compare(a.ID, b.ID) })
				sc.reportTop(top, ChainCycle, fmt.Sprintf("%d folders link each other in a cycle", len(chain)-i))
				return
			}
		}
		chain = append(chain, pn)
		if l, err := sc.r.meta.ReadEntry(sc.sid, pn.ParentID, pn.Name); err != nil || l != pn.ID {
			return // pn is unlinked: its own finding (unlinked, or trashed without entry) covers this subtree
		}
		cur = pn
	}
	sc.reportTop(cur, ChainBroken, fmt.Sprintf("its parent chain is longer than %d folders", maxDepth))
}

func (sc *spaceCheck) reportTop(n *metadata.Node, code Code, why string) {
	if sc.reported[n.ID] != nil {
		return
	}
	rp := sc.r.meta.RecordPath(sc.sid, n.ID)
	rec := sc.r.meta.ReadRaw(sc.sid, n.ID)
	if rec.State != mpk.RecordOK {
		return
	}
	f := newFinding(code, RemedyLostAndFound)
	f.Node, f.Parent, f.Name, f.File = n.ID, n.ParentID, n.Name, sc.rel(rp)
	f.Path = "(detached)/" + n.Name
	f.Detail = "nothing reaches this node: " + why
	f.Facts = &Facts{Type: n.Type.String(), From: &Link{Parent: n.ParentID, Name: n.Name}, Content: true}
	if n.Type == metadata.TypeFile {
		f.Bytes = n.Size
	}
	sc.reported[n.ID] = f
	entry := sc.r.meta.FolderPath(sc.sid, n.ParentID) + "/" + n.Name
	sc.hold.add(f, recordSubject(rp, rec), statSubject(entry))
	sc.walkLater(n, rec, f)
}

// walkLater queues a folder nothing reaches for the detached walk, which
// checks its subtree and counts its bytes.
func (sc *spaceCheck) walkLater(n *metadata.Node, rec mpk.RawRecord, f *Finding) {
	if n.Type != metadata.TypeDir {
		sc.lost.Add(n.Size)
		return
	}
	sc.tops = append(sc.tops, &task{id: n.ID, path: f.Path, rec: rec, kind: walkDetached, finding: f})
}

// walkDetached walks the subtrees found in the merge.
func (sc *spaceCheck) walkDetached() error {
	if len(sc.tops) == 0 {
		return nil
	}
	w := sc.newWalker()
	for _, t := range sc.tops {
		w.push(t)
	}
	sc.tops = nil
	return w.wait()
}
