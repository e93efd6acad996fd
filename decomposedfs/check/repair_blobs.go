package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// fixBlobMissing: a file whose content is gone keeps its name, properties
// and the evidence of what it had, moves to lost+found (when it lived; in
// the trash it stays there), and has no blob and no size any more.
func (rp *Repairer) fixBlobMissing(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	rp.mustFacts(f)
	if exists, err := rp.blobExists(blobKey(sid, f.Facts.BlobID)); err != nil {
		return "", err
	} else if exists {
		return "", errResolved
	}
	var oldSize int64
	n, err := rp.updateNode(sid, id, func(n *metadata.Node) error {
		if n.BlobID != f.Facts.BlobID {
			return errResolved
		}
		if rp.hot(id, n.Stamp.Ctime) {
			return skip("the record changed after the check")
		}
		if err := rp.man.add(ManifestEntry{Op: OpContent, Code: f.Code, From: f.Path, Space: sid, Node: id, Time: rp.now(),
			Old: &NodeState{BlobID: n.BlobID, Size: n.Size, Sums: n.Checksums}}); err != nil {
			return err
		}
		oldSize = n.Size
		rp.markProps(n, f)
		n.Props[PropMissingBlob] = n.BlobID
		n.Props[PropMissingSize] = strconv.FormatInt(n.Size, 10)
		n.BlobID, n.Size, n.Checksums = "", 0, metadata.Checksums{}
		return nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	if err := rp.propagate(sid, n.ParentID, -oldSize); err != nil {
		return "", err
	}
	if f.Facts.InTrash || rp.inTrash(sid, id) {
		return "dropped the missing blob from the record (the file stays in the trash, empty)", nil
	}
	lf, err := rp.lostFoundDir(sid)
	if err != nil {
		return "", err
	}
	name, err := rp.freeName(sid, lf, n.Name, id)
	if err != nil {
		return "", err
	}
	if err := rp.man.add(ManifestEntry{Op: OpRelink, Code: f.Code, From: f.Path, To: "/lost+found/" + rp.opts.Run + "/" + name,
		Space: sid, Node: id, Time: rp.now(), Old: &NodeState{Parent: n.ParentID, Name: n.Name, Linked: true}, New: &Link{Parent: lf, Name: name}}); err != nil {
		return "", err
	}
	res, err := rp.meta.MoveNode(rp.ctx, sid, id, lf, name, false)
	if err != nil {
		return "", err
	}
	rp.touch(res.Moved.ParentID, lf)
	rp.sum.LostAndFound++
	if err := rp.propagate(sid, res.Moved.ParentID, 0); err != nil {
		return "", err
	}
	if err := rp.propagate(sid, lf, 0); err != nil {
		return "", err
	}
	return fmt.Sprintf("moved to /lost+found/%s/%s without content", rp.opts.Run, name), nil
}

// inTrash reports whether a node lies in a trashed subtree.
func (rp *Repairer) inTrash(sid, id string) bool {
	for cur, i := id, 0; cur != "" && cur != sid && i < maxDepth; i++ {
		r := rp.meta.ReadRaw(sid, cur)
		if r.Node == nil {
			return false
		}
		if r.Node.Trashed != 0 {
			return true
		}
		cur = r.Node.ParentID
	}
	return false
}

func (rp *Repairer) fixBlobSize(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	rp.mustFacts(f)
	if err := rp.limitedCtx(); err != nil {
		return "", err
	}
	info, err := rp.blobs.Stat(rp.ctx, blobKey(sid, f.Facts.BlobID))
	if errors.Is(err, blobstore.ErrNotFound) {
		return "", errResolved
	}
	if err != nil {
		return "", err
	}
	var delta int64
	n, err := rp.updateNode(sid, id, func(n *metadata.Node) error {
		if n.BlobID != f.Facts.BlobID || n.Size == info.Size {
			return errResolved
		}
		if rp.hot(id, n.Stamp.Ctime) {
			return skip("the record changed after the check")
		}
		delta = info.Size - n.Size
		rp.markProps(n, f)
		n.Props[PropRecordSize] = strconv.FormatInt(n.Size, 10)
		n.Size, n.Checksums = info.Size, metadata.Checksums{}
		return nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	if err := rp.propagate(sid, n.ParentID, delta); err != nil {
		return "", err
	}
	return fmt.Sprintf("the record takes the blob's size %d", info.Size), nil
}

func (rp *Repairer) limitedCtx() error { return rp.ctx.Err() }

// fixBlobShared gives every node but the first a copy of the blob.
func (rp *Repairer) fixBlobShared(f *Finding) (string, error) {
	rp.mustFacts(f)
	sid, bid := f.Space, f.Facts.BlobID
	if len(f.Facts.Nodes) < 2 {
		return "", errResolved
	}
	copied := 0
	for _, id := range f.Facts.Nodes[1:] {
		if metadata.ValidateID(id) != nil {
			continue
		}
		r := rp.meta.ReadRaw(sid, id)
		if r.State != mpk.RecordOK || r.Node.BlobID != bid {
			continue
		}
		nb := uuid.NewString()
		if err := rp.copyBlob(blobKey(sid, bid), blobKey(sid, nb), map[string]string{decomposedfs.MetaSpace: sid, decomposedfs.MetaNode: id}); err != nil {
			return "", err
		}
		_, err := rp.updateNode(sid, id, func(n *metadata.Node) error {
			if n.BlobID != bid {
				return errResolved
			}
			n.BlobID = nb
			return nil
		})
		if err != nil {
			rp.blobs.Delete(context.WithoutCancel(rp.ctx), blobKey(sid, nb))
			if errors.Is(err, errResolved) {
				continue
			}
			return "", err
		}
		rp.touched[id] = true
		copied++
	}
	if copied == 0 {
		return "", errResolved
	}
	return fmt.Sprintf("gave %d node(s) their own copy of the blob", copied), nil
}

func (rp *Repairer) copyBlob(src, dst string, md map[string]string) error {
	if c, ok := rp.blobs.(blobstore.Copier); ok {
		_, err := c.Copy(rp.ctx, src, dst, blobstore.PutOptions{Metadata: md})
		return err
	}
	info, err := rp.blobs.Stat(rp.ctx, src)
	if err != nil {
		return err
	}
	rc, err := rp.blobs.Open(rp.ctx, src, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = rp.blobs.Put(rp.ctx, dst, rc, info.Size, blobstore.PutOptions{Metadata: md})
	return err
}

func (rp *Repairer) blobExists(key string) (bool, error) {
	_, err := rp.blobs.Stat(rp.ctx, key)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// fixBlobOrphan verifies that nothing references the blob now and moves it
// to quarantine.
func (rp *Repairer) fixBlobOrphan(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	if rp.blobs == nil {
		return "", skip("no blob store")
	}
	sid, bid, ok := parseBlobKey(f.Blob)
	if !ok {
		return "", fmt.Errorf("bad blob key %q", f.Blob)
	}
	info, err := rp.blobs.Stat(rp.ctx, f.Blob)
	if errors.Is(err, blobstore.ErrNotFound) {
		return "", errResolved
	}
	if err != nil {
		return "", err
	}
	if info.ModTime.UnixNano() > rp.cutoff {
		return "", skip("the blob was written after the check")
	}
	md := info.Metadata
	if u := md[decomposedfs.MetaUpload]; u != "" && metadata.ValidateID(u) == nil {
		if _, err := rp.meta.ReadUpload(rp.ctx, u); err == nil {
			return "", errResolved // its upload lives
		}
	}
	if nid := md[decomposedfs.MetaNode]; metadata.ValidateID(nid) == nil {
		if r := rp.meta.ReadRaw(sid, nid); r.State == mpk.RecordOK && refersTo(r.Node, bid) {
			return "", errResolved // committed after all
		}
	}
	if err := rp.quarantineBlob(f.Code, f.Blob, info); err != nil {
		return "", err
	}
	return "moved the blob to " + rp.quarantineKey(f.Blob), nil
}

func (rp *Repairer) quarantineKey(key string) string {
	return rp.opts.QuarantinePrefix + rp.opts.Run + "/" + key
}

// quarantineBlob moves a blob under the quarantine prefix: the manifest
// entry first, then a copy (server-side where the store can), checked,
// then the original goes. A crash in between leaves both; undo and a
// repeated repair cope with that.
func (rp *Repairer) quarantineBlob(code Code, key string, info blobstore.Info) error {
	q := rp.quarantineKey(key)
	if err := rp.man.add(ManifestEntry{Op: "blob", Code: code, From: key, To: q, Size: info.Size, Time: rp.now()}); err != nil {
		return err
	}
	md := map[string]string{}
	for k, v := range info.Metadata {
		md[k] = v
	}
	if err := rp.copyBlob(key, q, md); err != nil {
		return fmt.Errorf("quarantine %s: %w", key, err)
	}
	qi, err := rp.blobs.Stat(rp.ctx, q)
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", key, err)
	}
	if qi.Size != info.Size {
		return fmt.Errorf("quarantine %s: the copy has %d bytes, not %d", key, qi.Size, info.Size)
	}
	if err := rp.blobs.Delete(rp.ctx, key); err != nil {
		return fmt.Errorf("quarantine %s: %w", key, err)
	}
	rp.sum.QuarantinedBlobs++
	rp.sum.QuarantinedBytes += info.Size
	return nil
}

func (rp *Repairer) fixUploadCorrupt(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	path := rp.meta.UploadPath(f.Upload)
	err := rp.moveOut(f, "uploads", []string{f.Upload}, path, func() error {
		if _, err := rp.meta.ReadUpload(rp.ctx, f.Upload); err == nil {
			return errResolved
		}
		return nil
	})
	return "moved the upload record to the run's quarantine", err
}

// fixUpload aborts an upload that can never complete or is past its time:
// its multipart upload is aborted, its chunks go to quarantine, and its
// record goes to the run's quarantine.
func (rp *Repairer) fixUpload(f *Finding) (string, error) {
	if err := rp.needDelete(); err != nil {
		return "", err
	}
	if metadata.ValidateID(f.Upload) != nil {
		return "", fmt.Errorf("bad upload id %q", f.Upload)
	}
	u, err := rp.meta.ReadUpload(rp.ctx, f.Upload)
	if errors.Is(err, metadata.ErrNotFound) {
		return "", errResolved
	}
	if err != nil {
		return "", err
	}
	switch f.Code {
	case UploadStale:
		finished := false
		if n := rp.meta.ReadRaw(u.SpaceID, u.NodeID); n.State == mpk.RecordOK && refersTo(n.Node, u.BlobID) && u.Offset == u.Size {
			finished = true // committed; only the close of its record is missing
		}
		if u.Expires > rp.now().UnixNano() && !finished {
			return "", errResolved // extended meanwhile
		}
	case UploadOrphan:
		if _, err := rp.meta.ReadSpace(rp.ctx, u.SpaceID); err == nil {
			return "", errResolved
		}
	}
	if st, ok, _ := lstatStamp(rp.meta.UploadPath(u.ID)); ok && st.Ctime > rp.cutoff {
		return "", skip("the upload changed after the check")
	}
	if rp.blobs == nil {
		return "", skip("no blob store")
	}
	if u.MultipartID != "" {
		if mp, ok := rp.blobs.(blobstore.Multiparter); ok {
			if err := mp.AbortMultipart(rp.ctx, blobKey(u.SpaceID, u.BlobID), u.MultipartID); err != nil {
				return "", err
			}
		}
	}
	keys := []string{}
	for _, t := range u.Tails {
		keys = append(keys, blobKey(u.SpaceID, t.BlobID))
	}
	// The blob it assembles into (if a finish got that far) is left alone:
	// a commit under another node id may reference it, which only a full
	// check can tell; without this record, the next check quarantines it
	// if nothing does.
	n := 0
	for _, k := range keys {
		info, err := rp.blobs.Stat(rp.ctx, k)
		if errors.Is(err, blobstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := rp.quarantineBlob(f.Code, k, info); err != nil {
			return "", err
		}
		n++
	}
	err = rp.moveOut(f, "uploads", []string{u.ID}, rp.meta.UploadPath(u.ID), nil)
	if err != nil && !errors.Is(err, errResolved) {
		return "", err
	}
	// The quota the upload held (a resumable upload's reservation has its
	// id) goes with it.
	err = rp.meta.UpdateReservations(rp.ctx, u.SpaceID, func(rs []metadata.Reservation) (metadata.ReservationEdit, error) {
		if !slices.ContainsFunc(rs, func(r metadata.Reservation) bool { return r.ID == u.ID }) {
			return metadata.ReservationEdit{}, nil
		}
		return metadata.ReservationEdit{Delete: []string{u.ID}}, nil
	})
	if err != nil && !errors.Is(err, metadata.ErrNotFound) {
		return "", err
	}
	return fmt.Sprintf("aborted the upload; %d blob(s) to quarantine", n), nil
}

// PurgeSummary says what PurgeQuarantine deleted.
type PurgeSummary struct {
	Runs  []string `json:"runs"`
	Blobs int64    `json:"blobs"`
	Bytes int64    `json:"bytes"`
}

// PurgeQuarantine deletes for good what repair runs older than olderThan
// (by their run ids' times) quarantined: blobs under the quarantine prefix
// and the runs' quarantine directories. Reports, manifests and summaries
// stay. The caller holds the run lock.
func PurgeQuarantine(ctx context.Context, meta *mpk.Backend, blobs blobstore.Store, prefix string, olderThan time.Duration, now time.Time) (*PurgeSummary, error) {
	if prefix == "" {
		prefix = DefaultQuarantinePrefix
	}
	limit := now.Add(-olderThan)
	out := &PurgeSummary{}
	old := func(run string) bool {
		t, err := RunTime(run)
		return err == nil && t.Before(limit)
	}
	if blobs != nil {
		var keys []blobstore.Info
		err := blobs.List(ctx, prefix, func(bi blobstore.Info) error {
			run, _, _ := strings.Cut(strings.TrimPrefix(bi.Key, prefix), "/")
			if old(run) {
				keys = append(keys, bi)
				if len(keys) >= 1000 {
					if err := deleteAll(ctx, blobs, keys, out); err != nil {
						return err
					}
					keys = keys[:0]
				}
			}
			return nil
		})
		if err == nil {
			err = deleteAll(ctx, blobs, keys, out)
		}
		if err != nil {
			return out, fmt.Errorf("check: purge: %w", err)
		}
	}
	runs, err := ListRuns(meta.Root())
	if err != nil {
		return out, err
	}
	for _, run := range runs {
		if !old(run) {
			continue
		}
		dir := RunDir(meta.Root(), run)
		if err := removeAll(dir + "/quarantine"); err != nil {
			return out, err
		}
		if !exists(dir + "/purged") {
			if err := writeJSONFile(dir+"/purged", map[string]any{"purged": now}); err != nil {
				return out, err
			}
			out.Runs = append(out.Runs, run)
		}
	}
	return out, nil
}

func deleteAll(ctx context.Context, blobs blobstore.Store, keys []blobstore.Info, out *PurgeSummary) error {
	for _, k := range keys {
		if err := blobs.Delete(ctx, k.Key); err != nil {
			return err
		}
		out.Blobs++
		out.Bytes += k.Size
	}
	return nil
}

func renameMkdir(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.Rename(from, to)
}

func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// fixRevision drops a revision whose content is gone, or gives it the size
// its blob has.
func (rp *Repairer) fixRevision(f *Finding) (string, error) {
	sid, id := f.Space, f.Node
	rp.mustFacts(f)
	info, err := rp.blobs.Stat(rp.ctx, blobKey(sid, f.Facts.BlobID))
	missing := errors.Is(err, blobstore.ErrNotFound)
	if err != nil && !missing {
		return "", err
	}
	action := ""
	_, err = rp.updateNode(sid, id, func(n *metadata.Node) error {
		i := slices.IndexFunc(n.Revisions, func(r metadata.Revision) bool { return r.ID == f.Name && r.BlobID == f.Facts.BlobID })
		if i < 0 {
			return errResolved
		}
		switch {
		case missing:
			n.Revisions = slices.Delete(n.Revisions, i, i+1)
			if len(n.Revisions) == 0 {
				n.Revisions = nil
			}
			action = "dropped revision " + f.Name + " (its content is gone)"
		case n.Revisions[i].Size != info.Size:
			n.Revisions[i].Size, n.Revisions[i].Checksums = info.Size, metadata.Checksums{}
			action = fmt.Sprintf("revision %s takes its blob's size %d", f.Name, info.Size)
		default:
			return errResolved
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	rp.touched[id] = true
	return action, nil
}

// fixReservation gives back quota held by no upload in progress.
func (rp *Repairer) fixReservation(f *Finding) (string, error) {
	if u, err := rp.meta.ReadUpload(rp.ctx, f.Upload); err == nil && u.Done == "" && u.Expires > rp.now().UnixNano() {
		return "", errResolved // an upload in progress holds it after all
	}
	var bytes int64
	err := rp.meta.UpdateReservations(rp.ctx, f.Space, func(rs []metadata.Reservation) (metadata.ReservationEdit, error) {
		i := slices.IndexFunc(rs, func(r metadata.Reservation) bool { return r.ID == f.Upload })
		if i < 0 {
			return metadata.ReservationEdit{}, errResolved
		}
		bytes = rs[i].Bytes
		return metadata.ReservationEdit{Delete: []string{f.Upload}}, nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("gave back %d bytes of quota", bytes), nil
}
