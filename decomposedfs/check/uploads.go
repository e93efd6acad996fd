package check

import (
	"fmt"
	"time"

	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// scanUploads checks the upload records, and notes every blob a live
// upload owns (its tails, and the blob it will complete into) so that the
// blob phase never calls them orphans.
func (r *run) scanUploads() error {
	dir := r.meta.Root() + "/uploads"
	err := r.meta.ScanUploads(r.ctx, func(e mpk.UploadEntry) error {
		path := dir + "/" + e.Name
		switch e.Kind {
		case mpk.EntryTemp:
			r.tempFile(r.global, path)
			return nil
		case mpk.EntryOther:
			r.strayFile(r.global, path, "")
			return nil
		}
		if e.Err != nil {
			if r.young(e.Stamp.Ctime) {
				return nil // perhaps being written
			}
			f := newFinding(UploadCorrupt, RemedyMoveAside)
			f.Upload, f.File = e.ID, r.rel(path)
			f.Detail = fmt.Sprintf("%d-byte upload record: %v", e.Bytes, e.Err)
			r.global.add(f, stampSubject(path, e.Stamp))
			return nil
		}
		u := e.Upload
		if r.opts.Space != "" && u.SpaceID != r.opts.Space {
			return nil
		}
		r.mu.Lock()
		r.uploads[u.ID] = upload{space: u.SpaceID, live: u.Done == "" && u.Expires > r.cutoff, expired: u.Expires <= r.cutoff}
		r.mu.Unlock()
		r.uploadRefs(u)
		r.sum.update(u.SpaceID, func(ss *SpaceSummary) { ss.UploadBytes += u.Offset })
		var f *Finding
		switch {
		case !r.known[u.SpaceID]:
			f = newFinding(UploadOrphan, RemedyAbortUpload)
			f.Detail = fmt.Sprintf("upload of %q into space %s, which does not exist", u.Name, u.SpaceID)
		case u.Expires <= r.cutoff:
			f = newFinding(UploadStale, RemedyAbortUpload)
			f.Detail = fmt.Sprintf("upload of %q (%d of %d bytes) expired %s", u.Name, u.Offset, u.Size,
				time.Unix(0, u.Expires).UTC().Format(time.RFC3339))
		default:
			return nil
		}
		f.Space, f.Upload, f.File, f.Bytes = u.SpaceID, u.ID, r.rel(path), u.Offset
		r.global.add(f, stampSubject(path, e.Stamp))
		return nil
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

func (r *run) uploadRefs(u *metadata.Upload) {
	sp, owner := pack(u.SpaceID), pack(u.ID)
	if u.Done == "" {
		// Until it is a file's (Done), the upload owns the blob it
		// assembles, which a finish that died may have left whole.
		r.addRef(ref{space: sp, blob: pack(u.BlobID), owner: owner, size: -1, kind: refUploadTarget})
	}
	for _, t := range u.Tails {
		if metadata.ValidateID(t.BlobID) == nil {
			r.addRef(ref{space: sp, blob: pack(t.BlobID), owner: owner, size: t.Size, kind: refUploadTail})
		}
	}
	// Chunks kept aside until their turn are the upload's like its tails.
	for _, c := range u.Parked {
		if metadata.ValidateID(c.BlobID) == nil {
			r.addRef(ref{space: sp, blob: pack(c.BlobID), owner: owner, size: c.Size, kind: refUploadTail})
		}
	}
}

// upload is what the other phases need to know of an upload record.
type upload struct {
	space   string
	live    bool // neither finished nor expired
	expired bool // reported as upload.stale, whose repair gives its quota back
}

// checkReservations reports quota held by no upload in progress. A
// resumable upload's reservation has the upload's id; a plain upload's has
// its own, and lives only while its body streams, so it is reported only
// once it is older than PendingGrace.
func (r *run) checkReservations() {
	for _, sid := range r.spaces {
		for _, h := range r.reservations[sid] {
			res := h.res
			if u, ok := r.uploads[res.ID]; ok && (u.live || u.expired) && u.space == sid {
				continue
			}
			if _, ok := r.uploads[res.ID]; !ok && res.Expires-int64(r.opts.ReservationTTL) > r.cutoff-int64(r.opts.PendingGrace) {
				continue // perhaps an upload streaming right now
			}
			f := newFinding(QuotaReservation, RemedyDropReservation)
			f.Space, f.Upload, f.Bytes = sid, res.ID, res.Bytes
			f.File = r.rel(h.file)
			f.Detail = fmt.Sprintf("reservation %s holds %d bytes of the quota until %s, for no upload in progress",
				res.ID, res.Bytes, time.Unix(0, res.Expires).UTC().Format(time.RFC3339))
			f.Facts = &Facts{Size: res.Bytes}
			r.global.add(f, h.subject)
		}
	}
}
