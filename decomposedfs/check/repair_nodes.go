package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

type cacheStamp = cache.Stamp

// Dead properties a repair leaves on the nodes it had to change, so that
// users and admins can see what happened (PROPFIND shows them).
const (
	PropReason       = "{urn:s3dfs:check}reason"
	PropOriginalPath = "{urn:s3dfs:check}original-path"
	PropRun          = "{urn:s3dfs:check}run"
	PropMissingBlob  = "{urn:s3dfs:check}missing-blob"
	PropMissingSize  = "{urn:s3dfs:check}missing-size"
	PropRecordSize   = "{urn:s3dfs:check}record-size"
)

func (rp *Repairer) markProps(n *metadata.Node, f *Finding) {
	if n.Props == nil {
		n.Props = map[string]string{}
	}
	n.Props[PropReason] = string(f.Code)
	n.Props[PropRun] = rp.opts.Run
	if f.Path != "" {
		n.Props[PropOriginalPath] = f.Path
	}
}

func (rp *Repairer) fixSpaceIncomplete(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	dir := rp.meta.SpacePath(f.Space)
	err := rp.moveOut(f, f.Space, []string{"space:"}, dir, func() error {
		if exists(dir + "/space.mpk") {
			return errResolved
		}
		for _, p := range []string{dir, dir + "/nodes"} {
			if st, ok, _ := lstatStamp(p); ok && st.Ctime > rp.cutoff {
				return skip("the space directory changed after the check")
			}
		}
		return nil
	})
	return "moved the space directory to the run's quarantine", err
}

func (rp *Repairer) fixSpaceRecord(f *Finding) (string, error) {
	root := rp.meta.ReadRaw(f.Space, f.Space)
	action := "kept the space record, recreated its missing files"
	err := rp.meta.RepairSpaceRecord(rp.ctx, f.Space, rp.saveTo(f, rp.meta.SpacePath(f.Space)+"/space.mpk"),
		func(s *metadata.Space, err error) (*metadata.Space, error) {
			if err == nil {
				return s, nil
			}
			if !errors.Is(err, metadata.ErrCorrupt) && !errors.Is(err, metadata.ErrNotFound) {
				return nil, err
			}
			bt := rp.now().UnixNano()
			if root.Node != nil && root.Node.Btime != 0 {
				bt = root.Node.Btime
			}
			action = "rebuilt the space record (type project; name and owner unknown)"
			return &metadata.Space{ID: f.Space, Type: metadata.SpaceProject, Name: "recovered-" + f.Space[:8], Btime: bt}, nil
		})
	return action, err
}

func (rp *Repairer) fixSpaceRoot(f *Finding) (string, error) {
	sid := f.Space
	rebuilt := false
	_, err := rp.repairRecord(sid, sid, rp.saveTo(f, rp.meta.RecordPath(sid, sid)), func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.State == mpk.RecordOK && r.Node.Type == metadata.TypeDir && r.Node.IsRoot() {
			return nil, nil
		}
		if r.State == mpk.RecordUnreadable {
			return nil, r.Err
		}
		now := rp.now().UnixNano()
		n := &metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now, Btime: now}
		if r.Node != nil && r.Node.Btime > 0 {
			n.Btime, n.Mtime = r.Node.Btime, max(r.Node.Mtime, 0)
		}
		rebuilt = true
		return n, nil
	})
	if err != nil {
		return "", err
	}
	if err := rp.meta.MakeFolderDir(rp.ctx, sid, sid, func(r mpk.RawRecord) error { return nil }); err != nil {
		return "", err
	}
	rp.touched[sid] = true
	if err := rp.recomputeFolder(sid, sid); err != nil && !errors.Is(err, errResolved) {
		return "rebuilt the root folder", err
	}
	if !rebuilt {
		return "created the root folder's directory", nil
	}
	return "rebuilt the root folder record", nil
}

// fixRecord repairs an unusable record: out of the store if nothing links
// to it, rebuilt (or corrected) in place if something does.
func (rp *Repairer) fixRecord(f *Finding) (string, error) {
	if f.Node == "" { // a stray node file below spaces/
		return rp.fixFile(f)
	}
	sid, id := f.Space, f.Node
	rp.mustFacts(f)
	if !f.Facts.Linked {
		if err := rp.needDelete(); err != nil {
			return "", err
		}
		rec := rp.meta.RecordPath(sid, id)
		err := rp.moveOut(f, sid, []string{id}, rec, func() error {
			r := rp.meta.ReadRaw(sid, id)
			if r.State == mpk.RecordOK {
				return errResolved
			}
			if rp.hot(id, r.Stamp.Ctime) {
				return skip("the record changed after the check")
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if f.Facts.InTrash {
			tp := rp.meta.TrashEntryPath(sid, id)
			if exists(tp) {
				if err := rp.moveOut(f, sid, []string{id}, tp, nil); err != nil && !errors.Is(err, errResolved) {
					return "", err
				}
			}
		}
		rp.emptyDirs = append(rp.emptyDirs, dirLater{sid, id})
		return "moved the unlinked record to the run's quarantine", nil
	}
	// Linked: the link says where it belongs; the rest is rebuilt from
	// what is known.
	if l, err := rp.meta.ReadEntry(sid, f.Parent, f.Name); err != nil || l != id {
		return "", errResolved
	}
	isDir := isDirPath(rp.meta.FolderPath(sid, id))
	action := ""
	_, err := rp.repairRecord(sid, id, rp.saveTo(f, rp.meta.RecordPath(sid, id)), func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.State == mpk.RecordOK {
			return nil, errResolved
		}
		if rp.hot(id, r.Stamp.Ctime) {
			return nil, skip("the record changed after the check")
		}
		if l, err := rp.meta.ReadEntry(sid, f.Parent, f.Name); err != nil || l != id {
			return nil, errResolved
		}
		now := rp.now().UnixNano()
		n := &metadata.Node{ID: id, SpaceID: sid, ParentID: f.Parent, Name: f.Name, Type: metadata.TypeFile, Mtime: now, Btime: now}
		if p := r.Node; p != nil {
			// What decoded of it: keep the fields that can be trusted.
			if p.Mtime > 0 {
				n.Mtime = p.Mtime
			}
			if p.Btime > 0 {
				n.Btime = p.Btime
			}
			n.MimeType, n.Props = p.MimeType, p.Props
			if r.State == mpk.RecordMisplaced || (p.Type == metadata.TypeFile && p.Size >= 0 && (p.BlobID == "" || metadata.ValidateID(p.BlobID) == nil)) {
				n.Size, n.BlobID, n.Checksums = p.Size, p.BlobID, p.Checksums
			}
		}
		switch {
		case isDir:
			n.Type, n.Size, n.BlobID, n.Checksums = metadata.TypeDir, 0, "", metadata.Checksums{}
			action = "rebuilt the folder record"
		case f.Facts.BlobID != "":
			n.Size, n.BlobID, n.Checksums = f.Facts.BlobSize, f.Facts.BlobID, metadata.Checksums{}
			action = "rebuilt the file record around its blob " + f.Facts.BlobID
		case n.BlobID != "":
			action = "rebuilt the file record from what decoded"
		default:
			action = "rebuilt the record as an empty file (its content is unknown; an orphan blob of it goes to quarantine)"
			n.Size, n.BlobID = 0, ""
		}
		if r.State != mpk.RecordMisplaced {
			rp.markProps(n, f)
		}
		return n, nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	// Its size was unknown to the check: recompute it (a folder) and its
	// ancestors, one level at a time, bottom-up.
	start := f.Parent
	if isDir {
		start = id
	}
	if err := rp.recomputeUp(sid, start); err != nil {
		return action, err
	}
	return action, nil
}

func (rp *Repairer) mustFacts(f *Finding) {
	if f.Facts == nil {
		f.Facts = &Facts{}
	}
}

// fixEntry takes a bad folder entry out of its folder.
func (rp *Repairer) fixEntry(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	sid := f.Space
	if metadata.ValidateID(f.Parent) != nil {
		return "", fmt.Errorf("bad folder id %q", f.Parent)
	}
	path := rp.meta.FolderPath(sid, f.Parent) + "/" + f.Name
	rel, dst, err := rp.quarantinePath(path)
	if err != nil {
		return "", err
	}
	drel, _ := filepath2Rel(rp.meta.Root(), dst)
	err = rp.meta.UnlinkEntry(rp.ctx, sid, f.Parent, f.Name, dst, func(e mpk.FolderEntry) error {
		if st, ok, _ := lstatStamp(path); ok && st.Ctime > rp.cutoff {
			return skip("the entry changed after the check")
		}
		switch f.Code {
		case LinkInvalid:
			if e.Err == nil {
				return errResolved
			}
		case LinkDangling:
			if e.Target != f.Node || rp.meta.ReadRaw(sid, f.Node).State != mpk.RecordMissing {
				return errResolved
			}
		case LinkDuplicate:
			if e.Target != f.Node {
				return errResolved
			}
			if k := f.Facts; k == nil || k.Keep == nil {
				return skip("the report does not say which link to keep")
			} else if l, err := rp.meta.ReadEntry(sid, k.Keep.Parent, k.Keep.Name); err != nil || l != f.Node {
				return skip("the link to keep no longer links to the node")
			}
		}
		return rp.man.add(ManifestEntry{Op: "file", Code: f.Code, From: rel, To: drel, Time: rp.now()})
	})
	if errors.Is(err, fs.ErrNotExist) {
		return "", errResolved
	}
	if err != nil {
		return "", err
	}
	rp.sum.MovedFiles++
	rp.touched[f.Parent] = true
	return "moved the folder entry to the run's quarantine", nil
}

func (rp *Repairer) fixLinkMismatch(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	_, err := rp.repairRecord(sid, id, "", func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.State != mpk.RecordOK {
			return nil, skip("the record is %s", r.State)
		}
		if l, err := rp.meta.ReadEntry(sid, f.Parent, f.Name); err != nil || l != id {
			return nil, errResolved
		}
		if r.Node.ParentID == f.Parent && r.Node.Name == f.Name {
			return nil, errResolved
		}
		if rp.hot(id, r.Stamp.Ctime) {
			return nil, skip("the record changed after the check")
		}
		n := r.Node.Clone()
		n.ParentID, n.Name = f.Parent, f.Name
		return n, nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	return "the record now names its link's folder and name", nil
}

func (rp *Repairer) fixDirMissing(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	if isDirPath(rp.meta.FolderPath(sid, id)) {
		return "", errResolved
	}
	err := rp.meta.MakeFolderDir(rp.ctx, sid, id, func(r mpk.RawRecord) error {
		if r.State != mpk.RecordOK || r.Node.Type != metadata.TypeDir {
			return errResolved
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	return "created the folder's directory (an empty folder)", nil
}

func (rp *Repairer) fixTrashItem(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	abs := rp.meta.Root() + "/" + f.File
	keys := []string{}
	if f.Node != "" {
		keys = append(keys, f.Node)
	}
	err := rp.moveOut(f, f.Space, keys, abs, func() error {
		if f.Code == TrashDangling && rp.meta.ReadRaw(f.Space, f.Node).State != mpk.RecordMissing {
			return errResolved
		}
		return nil
	})
	return "moved the trash entry to the run's quarantine", err
}

// fixTrashLinked: the link is the commit point, so the node lives: its
// trash mark goes, and so does its trash entry.
func (rp *Repairer) fixTrashLinked(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	if l, err := rp.meta.ReadEntry(sid, f.Parent, f.Name); err != nil || l != id {
		return "", errResolved
	}
	_, err := rp.repairRecord(sid, id, "", func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.State != mpk.RecordOK {
			return nil, skip("the record is %s", r.State)
		}
		if l, err := rp.meta.ReadEntry(sid, f.Parent, f.Name); err != nil || l != id {
			return nil, errResolved
		}
		if r.Node.Trashed == 0 && r.Node.ParentID == f.Parent && r.Node.Name == f.Name {
			return nil, nil // only the entry is left
		}
		if rp.hot(id, r.Stamp.Ctime) {
			return nil, skip("the record changed after the check")
		}
		n := r.Node.Clone()
		n.Trashed, n.ParentID, n.Name = 0, f.Parent, f.Name
		return n, nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	tp := rp.meta.TrashEntryPath(sid, id)
	if exists(tp) {
		err := rp.moveOut(f, sid, []string{id}, tp, func() error {
			if l, err := rp.meta.ReadEntry(sid, f.Parent, f.Name); err != nil || l != id {
				return skip("the node was unlinked meanwhile")
			}
			return nil
		})
		if err != nil && !errors.Is(err, errResolved) {
			return "", err
		}
	}
	return "cleared the trash mark and entry of the linked node", nil
}

func (rp *Repairer) fixTrashUnmarked(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	_, err := rp.repairRecord(sid, id, "", func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.State != mpk.RecordOK || r.Node.Trashed != 0 {
			return nil, errResolved
		}
		if l, err := rp.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err == nil && l == id {
			return nil, errResolved // linked after all: not trashed
		}
		if !exists(rp.meta.TrashEntryPath(sid, id)) {
			return nil, errResolved
		}
		n := r.Node.Clone()
		n.Trashed = cache.NextTime()
		return n, nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	return "set the trash mark", nil
}

func (rp *Repairer) fixTrashEntryMissing(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	err := rp.meta.AddTrashEntry(rp.ctx, sid, id, func(r mpk.RawRecord) error {
		if r.State != mpk.RecordOK || r.Node.Trashed == 0 {
			return errResolved
		}
		if l, err := rp.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err == nil && l == id {
			return errResolved
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "recreated the trash entry", nil
}

// toLostAndFound links a node nothing reaches into /lost+found/<run>/ of
// its space, after recomputing its subtree's tree values, and adds its size
// to its new ancestors.
func (rp *Repairer) toLostAndFound(f *Finding, from *Link) (string, error) {
	sid, id := f.Space, f.Node
	r := rp.meta.ReadRaw(sid, id)
	if r.State != mpk.RecordOK {
		return "", skip("the record is %s", r.State)
	}
	n := r.Node
	if rp.hot(id, r.Stamp.Ctime) {
		return "", skip("the record changed after the check")
	}
	var fromRef *mpk.LinkRef
	if from != nil {
		if l, err := rp.meta.ReadEntry(sid, from.Parent, from.Name); err != nil || l != id {
			return "", errResolved
		}
		fromRef = &mpk.LinkRef{Parent: from.Parent, Name: from.Name}
	} else if l, err := rp.meta.ReadEntry(sid, n.ParentID, n.Name); err == nil && l == id {
		return "", errResolved // linked meanwhile
	}
	lf, err := rp.lostFoundDir(sid)
	if err != nil {
		return "", err
	}
	name, err := rp.freeName(sid, lf, n.Name, id)
	if err != nil {
		return "", err
	}
	was := &NodeState{Parent: n.ParentID, Name: n.Name, Trashed: n.Trashed}
	if from != nil {
		was = &NodeState{Parent: from.Parent, Name: from.Name, Linked: true}
	}
	if err := rp.man.add(ManifestEntry{Op: OpRelink, Code: f.Code, From: f.Path, To: "/lost+found/" + rp.opts.Run + "/" + name,
		Space: sid, Node: id, Time: rp.now(), Old: was, New: &Link{Parent: lf, Name: name}}); err != nil {
		return "", err
	}
	_, moved, err := rp.meta.RelinkNode(rp.ctx, sid, id, lf, name, fromRef, func(m *metadata.Node) error {
		m.Trashed = 0
		rp.markProps(m, f)
		return nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id], rp.touched[lf] = true, true
	if from != nil {
		rp.touched[from.Parent] = true
	}
	rp.sum.LostAndFound++
	size := moved.TreeSize()
	if moved.Type == metadata.TypeDir {
		// Nobody kept its tree values while nothing reached it (and a
		// cycle counted itself): recompute them, then count them.
		if err := rp.recomputeSubtree(sid, id, nil); err != nil {
			return "", err
		}
		if r := rp.meta.ReadRaw(sid, id); r.State == mpk.RecordOK {
			size = r.Tree.Size
		}
	}
	if err := rp.propagate(sid, lf, size); err != nil {
		return "", err
	}
	return fmt.Sprintf("linked into /lost+found/%s/%s", rp.opts.Run, name), nil
}

// lostFoundDir returns /lost+found/<run> of a space, creating it.
func (rp *Repairer) lostFoundDir(sid string) (string, error) {
	if id, ok := rp.lostFound[sid]; ok {
		return id, nil
	}
	top, err := rp.ensureFolder(sid, sid, "lost+found")
	if err != nil {
		return "", err
	}
	id, err := rp.ensureFolder(sid, top, rp.opts.Run)
	if err != nil {
		return "", err
	}
	rp.lostFound[sid] = id
	return id, nil
}

// ensureFolder returns the live folder called name (or name-1, name-2, ...
// if name is taken by something else) in parent, creating it.
func (rp *Repairer) ensureFolder(sid, parent, base string) (string, error) {
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		n, err := rp.meta.Lookup(rp.ctx, sid, parent, name)
		if err == nil {
			if n.Type == metadata.TypeDir && n.Trashed == 0 {
				return n.ID, nil
			}
			continue
		}
		if !errors.Is(err, metadata.ErrNotFound) {
			return "", err
		}
		now := cache.NextTime()
		nn := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: parent, Name: name, Type: metadata.TypeDir, Mtime: now, Btime: now}
		if err := rp.man.add(ManifestEntry{Op: OpMade, Space: sid, Node: nn.ID, Time: rp.now(), New: &Link{Parent: parent, Name: name}}); err != nil {
			return "", err
		}
		err = rp.meta.CreateNode(rp.ctx, nn)
		if errors.Is(err, metadata.ErrExist) {
			i-- // someone else made it: look again
			continue
		}
		if err != nil {
			return "", err
		}
		rp.touched[nn.ID] = true
		if err := rp.propagate(sid, parent, 0); err != nil {
			return "", err
		}
		return nn.ID, nil
	}
	return "", fmt.Errorf("no free name for %s", base)
}

// freeName picks a free name in folder parent: name, or "name (id8)".
func (rp *Repairer) freeName(sid, parent, name, id string) (string, error) {
	for i, cand := range []string{name, name + " (" + id[:8] + ")", name + " (" + id + ")"} {
		_, err := rp.meta.Lookup(rp.ctx, sid, parent, cand)
		if errors.Is(err, metadata.ErrNotFound) {
			return cand, nil
		}
		if err != nil && !(i == 0 && errors.Is(err, metadata.ErrInvalidName)) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free name for %q in lost+found", name)
}

// propagate adds delta up from folder id, and notes every folder on the
// way as changed by this run.
func (rp *Repairer) propagate(sid, id string, delta int64) error {
	if err := rp.meta.Propagate(rp.ctx, sid, id, delta); err != nil {
		return err
	}
	for cur, i := id, 0; cur != "" && i < maxDepth; i++ {
		rp.touched[cur] = true
		r := rp.meta.ReadRaw(sid, cur)
		if r.Node == nil || r.Node.Trashed != 0 {
			break
		}
		cur = r.Node.ParentID
	}
	return nil
}

func (rp *Repairer) fixUnlinkedGarbage(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	sid, id := f.Space, f.Node
	err := rp.moveOut(f, sid, []string{id}, rp.meta.RecordPath(sid, id), func() error {
		r := rp.meta.ReadRaw(sid, id)
		if r.State != mpk.RecordOK {
			return errResolved
		}
		if rp.hot(id, r.Stamp.Ctime) {
			return skip("the record changed after the check")
		}
		if l, err := rp.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err == nil && l == id {
			return errResolved
		}
		if r.Node.Trashed != 0 || r.Node.BlobID != "" || r.Node.Size != 0 {
			return skip("the node has content now")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	rp.emptyDirs = append(rp.emptyDirs, dirLater{sid, id})
	return "moved the unlinked record to the run's quarantine", nil
}

func (rp *Repairer) fixPending(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	sid, id := f.Space, f.Node
	pp := rp.meta.PendingPath(sid, id)
	err := rp.moveOut(f, sid, []string{id}, pp, func() error {
		if st, ok, _ := lstatStamp(pp); ok && st.Ctime > rp.cutoff {
			return skip("the pending link changed after the check")
		}
		r := rp.meta.ReadRaw(sid, id)
		if r.State == mpk.RecordOK {
			if l, err := rp.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err == nil && l == id {
				return errResolved // committed after all
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	err = rp.moveOut(f, sid, []string{id}, rp.meta.RecordPath(sid, id), func() error {
		r := rp.meta.ReadRaw(sid, id)
		if r.State == mpk.RecordOK {
			if l, err := rp.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err == nil && l == id {
				return errResolved
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errResolved) {
		return "", err
	}
	return "moved the prepared record and its pending link to the run's quarantine", nil
}

func (rp *Repairer) fixPendingDangling(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	sid, id := f.Space, f.Node
	pp := rp.meta.PendingPath(sid, id)
	err := rp.moveOut(f, sid, []string{id}, pp, func() error {
		r := rp.meta.ReadRaw(sid, id)
		if r.State == mpk.RecordMissing {
			return nil
		}
		if r.State == mpk.RecordOK {
			if l, err := rp.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err == nil && l == id {
				return nil
			}
		}
		return skip("the pending link's node is not committed")
	})
	return "moved the pending link to the run's quarantine", err
}

func (rp *Repairer) fixDirOrphan(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	sid, id := f.Space, f.Node
	dir := rp.meta.FolderPath(sid, id)
	err := rp.moveOut(f, sid, []string{id}, dir, func() error {
		r := rp.meta.ReadRaw(sid, id)
		if r.State == mpk.RecordOK && r.Node.Type == metadata.TypeDir {
			return errResolved
		}
		if has, err := dirHasEntries(dir); err != nil || has {
			return skip("the directory still has entries")
		}
		return nil
	})
	return "moved the directory to the run's quarantine", err
}

// removeEmptyDirs moves out the directories of records a repair took out,
// once the chain repairs have moved their children away.
func (rp *Repairer) removeEmptyDirs() {
	for _, d := range rp.emptyDirs {
		dir := rp.meta.FolderPath(d.sid, d.id)
		if !isDirPath(dir) {
			continue
		}
		f := &Finding{Code: DirOrphan, Space: d.sid, Node: d.id}
		_ = rp.moveOut(f, d.sid, []string{d.id}, dir, func() error {
			if rp.meta.ReadRaw(d.sid, d.id).State != mpk.RecordMissing {
				return errResolved
			}
			if has, err := dirHasEntries(dir); err != nil || has {
				return skip("not empty")
			}
			return nil
		})
	}
	rp.emptyDirs = nil
}

// fixFile takes a file the store does not use out of it.
func (rp *Repairer) fixFile(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	if f.File == "" {
		return "", fmt.Errorf("the finding names no file")
	}
	abs := rp.meta.Root() + "/" + f.File
	sid, keys := fileLocks(f)
	err := rp.moveOut(f, sid, keys, abs, func() error {
		if f.Code == LockStale && rp.meta.ReadRaw(f.Space, f.Node).State != mpk.RecordMissing {
			return errResolved
		}
		if f.Code == TempLeftover || f.Code == StrayFile {
			if st, ok, _ := lstatStamp(abs); ok && st.Ctime > rp.cutoff {
				return skip("the file changed after the check")
			}
		}
		return nil
	})
	return "moved the file to the run's quarantine", err
}

// fileLocks are the locks that guard a file of the store: the node's a
// temp file replaces a record of, the upload's, or the space record's.
func fileLocks(f *Finding) (string, []string) {
	base := baseName(f.File)
	if k, id := mpk.ClassifyName(base, 0); k == mpk.EntryTemp {
		if len(f.File) > 8 && f.File[:8] == "uploads/" {
			return "uploads", []string{id}
		}
		return f.Space, []string{id}
	}
	if f.Node != "" {
		return f.Space, []string{f.Node}
	}
	if f.Space != "" {
		return f.Space, []string{"space:"}
	}
	return "", nil
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func (rp *Repairer) fixTree(f *Finding) (string, error) {
	err := rp.recomputeFolder(f.Space, f.Node)
	if err != nil {
		return "", err
	}
	return "recomputed the folder's tree size and mtime from its children", nil
}

var errHot = skip("the folder or a child changed after the check (operations in flight); the next run sees it settled")

// recomputeFolder sets a folder's tree values from its children's stored
// ones (files' sizes, subfolders' tree sizes), if neither it nor a child
// changed after the check in a way this run did not make.
func (rp *Repairer) recomputeFolder(sid, id string) error {
	var sum, mt int64
	var problem error
	hot := false
	_, err := rp.meta.RecomputeTree(rp.ctx, sid, id, func(e mpk.FolderEntry, r mpk.RawRecord) error {
		switch {
		case e.Err != nil:
			problem = skip("folder entry %q is broken", e.Name)
		case r.State != mpk.RecordOK:
			problem = skip("child %s is %s", e.Target, r.State)
		default:
			if rp.hot(e.Target, r.Stamp.Ctime) {
				hot = true
			}
			if r.Node.Type == metadata.TypeFile {
				sum += r.Node.Size
			} else {
				sum += r.Tree.Size
				mt = max(mt, r.Tree.Mtime)
			}
		}
		return nil
	}, func(s mpk.FolderScan) (metadata.TreeStats, bool, error) {
		if problem != nil {
			return s.Folder.Tree, false, problem
		}
		if hot || rp.hot(id, s.Folder.Stamp.Ctime) || rp.hot(id, s.DirStamp.Ctime) {
			return s.Folder.Tree, false, errHot
		}
		t := s.Folder.Tree
		if t.Size == sum && t.Mtime >= mt && s.Folder.TreeErr == nil {
			return t, false, errResolved
		}
		t.Size, t.Mtime = sum, max(t.Mtime, mt)
		return t, true, nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return skip("the folder has no directory")
	}
	if err != nil {
		return err
	}
	rp.touched[id] = true
	// The folder has a new tree mtime (a new etag): its ancestors' must not
	// be older, or a sync client would not look below them.
	if r := rp.meta.ReadRaw(sid, id); r.Node != nil && r.Node.ParentID != "" && r.Node.Trashed == 0 {
		return rp.propagate(sid, r.Node.ParentID, 0)
	}
	return nil
}

// recomputeUp recomputes a folder and each of its ancestors, bottom-up.
func (rp *Repairer) recomputeUp(sid, id string) error {
	for cur, i := id, 0; cur != "" && i < maxDepth; i++ {
		if err := rp.recomputeFolder(sid, cur); err != nil && !errors.Is(err, errResolved) {
			return err
		}
		r := rp.meta.ReadRaw(sid, cur)
		if r.Node == nil || r.Node.Trashed != 0 {
			return nil
		}
		cur = r.Node.ParentID
	}
	return nil
}

// recomputeSubtree recomputes every folder below and at id, bottom-up
// (above lies the chain of folders that led here, which a cycle may link
// back to).
func (rp *Repairer) recomputeSubtree(sid, id string, above []string) error {
	if len(above) > maxDepth {
		return fmt.Errorf("folder %s: deeper than %d", id, maxDepth)
	}
	var subs []string
	_, err := rp.meta.ReadFolder(rp.ctx, sid, id, func(e mpk.FolderEntry) error {
		if e.Err == nil && e.Target != id && !slices.Contains(above, e.Target) && isDirPath(rp.meta.FolderPath(sid, e.Target)) {
			subs = append(subs, e.Target)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, s := range subs {
		if err := rp.recomputeSubtree(sid, s, append(above, id)); err != nil {
			return err
		}
	}
	if err := rp.recomputeFolder(sid, id); err != nil && !errors.Is(err, errResolved) {
		return err
	}
	return nil
}

func filepath2Rel(root, p string) (string, error) {
	if len(p) > len(root) && p[:len(root)] == root && p[len(root)] == '/' {
		return p[len(root)+1:], nil
	}
	return p, fmt.Errorf("%s is not below %s", p, root)
}
