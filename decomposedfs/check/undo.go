package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// UndoSummary says what Undo did.
type UndoSummary struct {
	Restored int `json:"restored"`
	// Conflicts were not restored: something is in the way again, or the
	// place they came from is gone. Each says what and why.
	Conflicts []string `json:"conflicts,omitempty"`
	Kept      []string `json:"kept,omitempty"` // copies of replaced records, left where they are
	// Removed are the folders the run created (lost+found/<run>) that
	// undo removed again, empty.
	Removed int `json:"removed,omitempty"`
}

// ErrUndoIncomplete is in the chain of Undo's error when something could
// not be restored (UndoSummary.Conflicts says what).
var ErrUndoIncomplete = errors.New("check: undo could not restore everything")

// Undo brings back what repair run took out of the store or out of its
// place, in reverse order: blobs from the quarantine prefix, files from
// the run's quarantine directory, nodes the run linked into lost+found to
// where they were (and the content it took from files whose blob was
// missing), and it removes the lost+found folders the run made once they
// are empty. Nothing is overwritten: where something is in the way again,
// or where a node came from is gone, the entry is left and reported as a
// conflict, and Undo returns an error wrapping ErrUndoIncomplete after
// doing everything else. Copies of records the run replaced are listed,
// not put back (the rebuilt record is the better one); tree sizes it
// recomputed stay. The caller holds the run lock.
func Undo(ctx context.Context, meta *mpk.Backend, blobs blobstore.Store, run string) (*UndoSummary, error) {
	if !ValidRunID(run) {
		return nil, fmt.Errorf("check: %q is not a run id", run)
	}
	if !isDirPath(RunDir(meta.Root(), run)) {
		return nil, fmt.Errorf("check: %w: run %s", metadata.ErrNotFound, run)
	}
	if exists(RunDir(meta.Root(), run) + "/purged") {
		return nil, fmt.Errorf("check: the quarantine of run %s was purged", run)
	}
	entries, err := ReadManifest(meta.Root(), run)
	if err != nil {
		return nil, err
	}
	if !hasNodeOps(entries) {
		legacy, err := legacyEntries(meta, run)
		if err != nil {
			return nil, err
		}
		entries = append(entries, legacy...)
	}
	u := &undoer{ctx: ctx, meta: meta, blobs: blobs, run: run, out: &UndoSummary{}}
	for i := len(entries) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return u.out, err
		}
		if err := u.undo(entries[i]); err != nil {
			return u.out, err
		}
	}
	if n := len(u.out.Conflicts); n > 0 {
		return u.out, fmt.Errorf("%w: %d item(s) of run %s not restored (first: %s)", ErrUndoIncomplete, n, run, u.out.Conflicts[0])
	}
	return u.out, nil
}

type undoer struct {
	ctx   context.Context
	meta  *mpk.Backend
	blobs blobstore.Store
	run   string
	out   *UndoSummary
}

func (u *undoer) conflict(format string, a ...any) {
	u.out.Conflicts = append(u.out.Conflicts, fmt.Sprintf(format, a...))
}

// undo reverses one manifest entry. Its error stops Undo (an I/O error,
// a manifest that makes no sense); what cannot be restored is a conflict.
func (u *undoer) undo(e ManifestEntry) error {
	switch e.Op {
	case OpSaved:
		u.out.Kept = append(u.out.Kept, e.To)
	case OpFile:
		return u.undoFile(e)
	case OpBlob:
		if u.blobs == nil {
			return fmt.Errorf("check: undo of run %s needs the blob store", u.run)
		}
		restored, err := undoBlob(u.ctx, u.blobs, e)
		if err != nil {
			return err
		}
		switch restored {
		case 1:
			u.out.Restored++
		case -1:
			u.conflict("blob %s: a blob with that key is there again", e.From)
		}
	case OpRelink, OpContent, OpMade:
		if e.Space == "" || e.Node == "" || metadata.ValidateID(e.Space) != nil || metadata.ValidateID(e.Node) != nil {
			return fmt.Errorf("check: manifest entry %s without a valid space and node", e.Op)
		}
		switch e.Op {
		case OpRelink:
			return u.undoRelink(e)
		case OpContent:
			return u.undoContent(e)
		default:
			return u.undoMade(e)
		}
	default:
		return fmt.Errorf("check: manifest entry with unknown op %q (a newer s3dfs wrote it?)", e.Op)
	}
	return nil
}

func (u *undoer) undoFile(e ManifestEntry) error {
	root := u.meta.Root()
	if strings.Contains(e.From, "..") || strings.Contains(e.To, "..") {
		return fmt.Errorf("check: manifest entry %q -> %q leaves the root", e.From, e.To)
	}
	from, to := root+"/"+e.From, root+"/"+e.To
	if !exists(to) {
		return nil // never moved (a crash before the move) or restored already
	}
	if exists(from) {
		u.conflict("%s: something is there again", e.From)
		return nil
	}
	if err := renameMkdir(to, from); err != nil {
		return err
	}
	u.out.Restored++
	return nil
}

// undoBlob copies a quarantined blob back: 1 restored, 0 nothing to do,
// -1 conflict.
func undoBlob(ctx context.Context, blobs blobstore.Store, e ManifestEntry) (int, error) {
	qi, err := blobs.Stat(ctx, e.To)
	if errors.Is(err, blobstore.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if _, err := blobs.Stat(ctx, e.From); err == nil {
		// The original is there: a crash between copy and delete, or
		// restored before.
		return -1, nil
	} else if !errors.Is(err, blobstore.ErrNotFound) {
		return 0, err
	}
	md := qi.Metadata
	if c, ok := blobs.(blobstore.Copier); ok {
		_, err = c.Copy(ctx, e.To, e.From, blobstore.PutOptions{Metadata: md})
	} else {
		var rc io.ReadCloser
		rc, err = blobs.Open(ctx, e.To, 0, -1)
		if err == nil {
			_, err = blobs.Put(ctx, e.From, rc, qi.Size, blobstore.PutOptions{Metadata: md})
			rc.Close()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("check: restore %s: %w", e.From, err)
	}
	if err := blobs.Delete(ctx, e.To); err != nil {
		return 1, fmt.Errorf("check: restore %s: %w", e.From, err)
	}
	return 1, nil
}

// undoRelink takes a node out of lost+found again: back to the folder
// entry it had, or, if nothing linked it before, unlinked again with its
// record naming its old place.
func (u *undoer) undoRelink(e ManifestEntry) error {
	sid, id, old, cur := e.Space, e.Node, e.Old, e.New
	if old == nil || cur == nil {
		return fmt.Errorf("check: relink entry of %s without its old and new place", id)
	}
	where := e.From
	if where == "" {
		where = id
	}
	r := u.meta.ReadRaw(sid, id)
	if r.State != mpk.RecordOK {
		u.conflict("%s: its record is %s", where, r.State)
		return nil
	}
	l, err := u.meta.ReadEntry(sid, cur.Parent, cur.Name)
	if err != nil || l != id || r.Node.ParentID != cur.Parent || r.Node.Name != cur.Name {
		if old.Linked {
			if l, err := u.meta.ReadEntry(sid, old.Parent, old.Name); err == nil && l == id {
				return nil // never relinked (a crash first), or undone already
			}
		} else if r.Node.ParentID == old.Parent && r.Node.Name == old.Name {
			if _, err := u.meta.ReadEntry(sid, cur.Parent, cur.Name); err != nil {
				return nil
			}
		}
		u.conflict("%s: it moved away from /lost+found/%s/%s since the repair", where, u.run, cur.Name)
		return nil
	}
	if old.Linked {
		return u.moveBack(e, r.Node)
	}
	return u.unlinkAgain(e, r.Node)
}

// moveBack moves a node from lost+found to the folder entry it had.
func (u *undoer) moveBack(e ManifestEntry, n *metadata.Node) error {
	sid, id, old := e.Space, e.Node, *e.Old
	where := e.From
	if old.Parent == "" {
		pid, err := u.resolve(sid, e.OldDir)
		if err != nil {
			u.conflict("%s: the folder it was in is gone", where)
			return nil
		}
		old.Parent = pid
	}
	p, err := u.meta.ReadNode(u.ctx, sid, old.Parent)
	if err != nil || p.Type != metadata.TypeDir || p.Trashed != 0 || !u.live(sid, old.Parent) {
		u.conflict("%s: the folder it was in is gone (or in the trash)", where)
		return nil
	}
	if _, err := u.meta.Lookup(u.ctx, sid, old.Parent, old.Name); err == nil {
		u.conflict("%s: the name is taken again", where)
		return nil
	} else if !errors.Is(err, metadata.ErrNotFound) {
		return err
	}
	res, err := u.meta.MoveNode(u.ctx, sid, id, old.Parent, old.Name, false)
	if errors.Is(err, metadata.ErrExist) {
		u.conflict("%s: the name is taken again", where)
		return nil
	}
	if errors.Is(err, metadata.ErrCycle) || errors.Is(err, metadata.ErrNotDir) || errors.Is(err, metadata.ErrNotFound) {
		u.conflict("%s: cannot go back: %v", where, err)
		return nil
	}
	if err != nil {
		return err
	}
	size := res.Moved.TreeSize()
	if err := u.meta.Propagate(u.ctx, sid, e.New.Parent, -size); err != nil {
		return err
	}
	if err := u.meta.Propagate(u.ctx, sid, old.Parent, size); err != nil {
		return err
	}
	if _, err := u.meta.UpdateNode(u.ctx, sid, id, func(m *metadata.Node) error {
		dropCheckProps(m, u.run)
		return nil
	}); err != nil {
		return err
	}
	u.out.Restored++
	return nil
}

// unlinkAgain undoes the relink of a node that nothing linked before:
// its lost+found entry goes, and its record names its old place again.
func (u *undoer) unlinkAgain(e ManifestEntry, n *metadata.Node) error {
	sid, id, old, cur := e.Space, e.Node, e.Old, e.New
	err := u.meta.UnlinkEntry(u.ctx, sid, cur.Parent, cur.Name, "", func(fe mpk.FolderEntry) error {
		if fe.Target != id {
			return errResolved
		}
		return nil
	})
	if errors.Is(err, errResolved) {
		u.conflict("%s: /lost+found/%s/%s links to something else now", e.From, u.run, cur.Name)
		return nil
	}
	if err != nil {
		return err
	}
	var size int64
	_, err = u.meta.RepairRecord(u.ctx, sid, id, "", func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.State != mpk.RecordOK {
			return nil, fmt.Errorf("record of %s is %s", id, r.State)
		}
		m := r.Node.Clone()
		m.ParentID, m.Name, m.Trashed = old.Parent, old.Name, old.Trashed
		dropCheckProps(m, u.run)
		size = r.Tree.Size
		if m.Type != metadata.TypeDir {
			size = m.Size
		}
		return m, nil
	})
	if err != nil {
		return err
	}
	if err := u.meta.Propagate(u.ctx, sid, cur.Parent, -size); err != nil {
		return err
	}
	u.out.Restored++
	return nil
}

// undoContent gives a file back the blob a repair took from its record
// (because the blob store did not have it).
func (u *undoer) undoContent(e ManifestEntry) error {
	sid, id, old := e.Space, e.Node, e.Old
	if old == nil || old.BlobID == "" {
		return fmt.Errorf("check: content entry of %s without the blob", id)
	}
	restored := false
	n, err := u.meta.UpdateNode(u.ctx, sid, id, func(m *metadata.Node) error {
		switch {
		case m.BlobID == old.BlobID:
			return errResolved // never taken (a crash first), or undone already
		case m.BlobID != "" || m.Props[PropMissingBlob] != old.BlobID:
			return skip("it has other content now")
		}
		m.BlobID, m.Size, m.Checksums = old.BlobID, old.Size, old.Sums
		delete(m.Props, PropMissingBlob)
		delete(m.Props, PropMissingSize)
		dropCheckProps(m, u.run)
		restored = true
		return nil
	})
	var se *skipError
	switch {
	case errors.Is(err, errResolved):
		return nil
	case errors.As(err, &se):
		u.conflict("%s: %s", orNode(e.From, id), se.why)
		return nil
	case errors.Is(err, metadata.ErrNotFound):
		u.conflict("%s: its record is gone", orNode(e.From, id))
		return nil
	case err != nil:
		return err
	}
	if restored {
		if err := u.meta.Propagate(u.ctx, sid, n.ParentID, old.Size); err != nil {
			return err
		}
		u.out.Restored++
	}
	return nil
}

// undoMade removes a folder the run created, if it is empty now.
func (u *undoer) undoMade(e ManifestEntry) error {
	sid, id, at := e.Space, e.Node, e.New
	if at == nil {
		return fmt.Errorf("check: made entry of %s without its place", id)
	}
	empty := false
	err := u.meta.UnlinkEntry(u.ctx, sid, at.Parent, at.Name, "", func(fe mpk.FolderEntry) error {
		if fe.Target != id {
			return errResolved
		}
		has, err := dirHasEntries(u.meta.FolderPath(sid, id))
		if err != nil || has {
			return errResolved
		}
		empty = true
		return nil
	})
	if errors.Is(err, errResolved) || errors.Is(err, metadata.ErrNotFound) || !empty {
		return nil // gone already, or not empty: it stays
	}
	if err != nil {
		return err
	}
	if err := u.meta.PurgeNode(u.ctx, sid, id); err != nil {
		return err
	}
	if err := u.meta.Propagate(u.ctx, sid, at.Parent, 0); err != nil {
		return err
	}
	u.out.Removed++
	return nil
}

// resolve finds the node at path p of space sid.
func (u *undoer) resolve(sid, p string) (string, error) {
	cur := sid
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			continue
		}
		n, err := u.meta.Lookup(u.ctx, sid, cur, seg)
		if err != nil {
			return "", err
		}
		cur = n.ID
	}
	return cur, nil
}

// live reports whether folder id's parent chain reaches the space root.
func (u *undoer) live(sid, id string) bool {
	for cur, i := id, 0; i < maxDepth; i++ {
		if cur == sid {
			return true
		}
		r := u.meta.ReadRaw(sid, cur)
		if r.Node == nil || r.Node.Trashed != 0 {
			return false
		}
		if l, err := u.meta.ReadEntry(sid, r.Node.ParentID, r.Node.Name); err != nil || l != cur {
			return false
		}
		cur = r.Node.ParentID
	}
	return false
}

// dropCheckProps removes the properties a repair of run left on a node.
func dropCheckProps(n *metadata.Node, run string) {
	if n.Props[PropRun] != run {
		return
	}
	for _, p := range []string{PropReason, PropRun, PropOriginalPath} {
		delete(n.Props, p)
	}
}

func orNode(path, id string) string {
	if path != "" {
		return path
	}
	return "node " + id
}
