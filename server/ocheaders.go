package server

import (
	"context"
	"net/http"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// fileHeaders sets what the ownCloud and Nextcloud clients read from the
// answer of a request that stored a file (PUT, the MOVE that finishes a
// chunked upload, the last chunk of an ownCloud chunked upload), so that
// they need no PROPFIND per file: the entity tag (as ETag and OC-ETag),
// the file id, the checksum, the mtime, and the user's permissions on the
// file as ownCloud's letters (OC-Perm, as oc:permissions would say).
// Header names are spelled as ownCloud spells them: some clients compare
// them case-sensitively.
func (h *Handler) fileHeaders(ctx context.Context, hd http.Header, t *Target, ri *decomposedfs.ResourceInfo, mtimeAccepted bool) {
	hd.Set("ETag", ri.Etag)
	hd["OC-ETag"] = []string{ri.Etag}
	hd["OC-FileId"] = []string{ri.SpaceID + "!" + ri.ID}
	hd.Set("Last-Modified", ri.Mtime.UTC().Format(http.TimeFormat))
	if ri.Checksums.SHA1 != "" {
		hd["OC-Checksum"] = []string{"SHA1:" + ri.Checksums.SHA1}
	}
	if mtimeAccepted {
		hd["X-OC-MTime"] = []string{"accepted"}
	}
	if perm, ok := h.permLetters(ctx, t, ri); ok {
		hd["OC-Perm"] = []string{perm}
	}
}

// permLetters are the user's permissions on a resource in ownCloud's
// letters, as oc:permissions reports them. The resource of an upload's
// answer comes with all permissions (the driver does not evaluate them on
// the write path), so they are read again, by id.
func (h *Handler) permLetters(ctx context.Context, t *Target, ri *decomposedfs.ResourceInfo) (string, bool) {
	cur, err := h.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: ri.SpaceID, NodeID: ri.ID})
	if err != nil {
		h.log.WarnContext(ctx, "permissions of a stored file unreadable; OC-Perm left out", "err", err)
		return "", false
	}
	r := &resource{ri: cur, t: t, h: h, ctx: ctx, root: cur.ID == cur.SpaceID}
	return r.permissions(), true
}

// FilePermissions is what OC-Perm says for a file the request's user
// stored (for the TUS handler's answers): the user is the one
// authenticated on ctx (UserFromContext).
func (h *Handler) FilePermissions(ctx context.Context, ri *decomposedfs.ResourceInfo) string {
	user := UserFromContext(ctx)
	groups, err := h.opts.Auth.Groups(user)
	if err != nil {
		return ""
	}
	t := &Target{User: user, Groups: groups, Space: &decomposedfs.SpaceInfo{ID: ri.SpaceID}}
	if si, err := h.fs.GetSpace(ctx, ri.SpaceID); err == nil {
		t.Space = si
	}
	perm, _ := h.permLetters(ctx, t, ri)
	return perm
}
