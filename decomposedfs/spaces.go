package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// SpaceSpec describes a space to create.
type SpaceSpec struct {
	// ID is the space id; empty for a new random one. Fixed ids make
	// creation idempotent (see PersonalSpaceID).
	ID    string
	Type  metadata.SpaceType
	Name  string
	Owner string
	// Quota in bytes; 0 for none.
	Quota int64
}

// SpaceInfo describes a space.
type SpaceInfo struct {
	ID    string
	Type  metadata.SpaceType
	Name  string
	Owner string
	Quota int64
	// Used is the tree size of the space root; Reserved the quota held by
	// uploads in progress (0 in a space without a quota).
	Used        int64
	Reserved    int64
	Mtime       time.Time
	Etag        string
	Description string
	// Disabled is when the space was disabled (zero while enabled).
	Disabled time.Time
	// Permissions are the requesting user's on the space root.
	Permissions Permissions
}

// Available is what the quota leaves, or -1 without a quota.
func (si *SpaceInfo) Available() int64 {
	if si.Quota == 0 {
		return -1
	}
	return max(si.Quota-si.Used-si.Reserved, 0)
}

// spaceNS derives fixed space ids (UUID v5) from names.
var spaceNS = uuid.MustParse("0b9a7f7e-5d3c-4a51-9d4e-3f1f3b0c6a10")

// PersonalSpaceID is the id of a user's personal space: fixed, so that
// creating it on first login is idempotent across processes without an
// index.
func PersonalSpaceID(user string) string {
	return uuid.NewSHA1(spaceNS, []byte("personal:"+user)).String()
}

// NamedSpaceID is the fixed id of a project space known by a name (the CLI's
// default space, for one).
func NamedSpaceID(name string) string {
	return uuid.NewSHA1(spaceNS, []byte("project:"+name)).String()
}

// CreateSpace creates a space and its root folder. ErrExist if a space with
// that id exists.
func (fs *FS) CreateSpace(ctx context.Context, spec SpaceSpec) (*SpaceInfo, error) {
	if spec.ID == "" {
		spec.ID = uuid.NewString()
	}
	if err := metadata.ValidateID(spec.ID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	if spec.Type == "" {
		spec.Type = metadata.SpaceProject
	}
	if spec.Quota < 0 {
		return nil, fmt.Errorf("decomposedfs: negative quota %d", spec.Quota)
	}
	now := cache.NextTime()
	s := &metadata.Space{ID: spec.ID, Type: spec.Type, Name: spec.Name, Owner: spec.Owner, Quota: spec.Quota, Btime: now}
	root := &metadata.Node{ID: spec.ID, SpaceID: spec.ID, Type: metadata.TypeDir, Mtime: now, Btime: now}
	if err := fs.meta.CreateSpace(ctx, s, root); err != nil {
		return nil, err
	}
	return fs.GetSpace(ctx, spec.ID)
}

// EnsureSpace returns the space with spec.ID, creating it if it does not
// exist yet (spec.ID is required).
func (fs *FS) EnsureSpace(ctx context.Context, spec SpaceSpec) (*SpaceInfo, error) {
	if spec.ID == "" {
		return nil, fmt.Errorf("%w: EnsureSpace needs a space id", ErrInvalidRef)
	}
	si, err := fs.GetSpace(ctx, spec.ID)
	if !errors.Is(err, ErrNotFound) {
		return si, err
	}
	si, err = fs.CreateSpace(ctx, spec)
	if errors.Is(err, ErrExist) {
		return fs.GetSpace(ctx, spec.ID)
	}
	return si, err
}

// GetSpace describes one space the user may see (else ErrNotFound).
func (fs *FS) GetSpace(ctx context.Context, id string) (*SpaceInfo, error) {
	if err := metadata.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	s, err := fs.meta.ReadSpace(ctx, id)
	if err != nil {
		return nil, err
	}
	si, err := fs.spaceInfo(ctx, s)
	if err != nil {
		return nil, err
	}
	if !si.Permissions.Has(PermStat) {
		// A user whose grants lie below the root sees the space (to
		// reach what was shared) but not its root.
		if !fs.sharedWith(ctx, s) {
			return nil, fmt.Errorf("%w: space %s", ErrNotFound, id)
		}
	}
	return si, nil
}

func (fs *FS) spaceInfo(ctx context.Context, s *metadata.Space) (*SpaceInfo, error) {
	root, err := fs.meta.ReadNode(ctx, s.ID, s.ID)
	if err != nil {
		return nil, err
	}
	perms, err := fs.permissions(ctx, s.ID, "/")
	if err != nil {
		return nil, err
	}
	var held int64
	if s.Quota > 0 {
		if held, err = fs.reserved(ctx, s.ID); err != nil {
			return nil, err
		}
	}
	si := &SpaceInfo{
		ID: s.ID, Type: s.Type, Name: s.Name, Owner: s.Owner, Quota: s.Quota,
		Used:        root.TreeSize(),
		Reserved:    held,
		Mtime:       time.Unix(0, max(root.Mtime, root.Tree.Mtime)),
		Etag:        root.Etag(),
		Description: s.Description,
		Permissions: perms,
	}
	if s.Disabled != 0 {
		si.Disabled = time.Unix(0, s.Disabled)
	}
	return si, nil
}

// SpaceUpdate changes a space's description; nil fields stay.
type SpaceUpdate struct {
	Name        *string
	Description *string
}

// UpdateSpace renames or describes a space; it needs PermManageSpace.
func (fs *FS) UpdateSpace(ctx context.Context, id string, u SpaceUpdate) (*SpaceInfo, error) {
	if err := fs.authorizeSpace(ctx, id, PermManageSpace); err != nil {
		return nil, err
	}
	s, err := fs.meta.UpdateSpace(ctx, id, func(s *metadata.Space) error {
		if u.Name != nil {
			s.Name = *u.Name
		}
		if u.Description != nil {
			s.Description = *u.Description
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fs.spaceInfo(ctx, s)
}

// DisableSpace hides a space from everyone but its managers until it is
// restored or purged; RestoreSpace brings it back. Both need
// PermManageSpace.
func (fs *FS) DisableSpace(ctx context.Context, id string) error {
	return fs.setDisabled(ctx, id, true)
}

// RestoreSpace enables a disabled space again.
func (fs *FS) RestoreSpace(ctx context.Context, id string) error {
	return fs.setDisabled(ctx, id, false)
}

func (fs *FS) setDisabled(ctx context.Context, id string, disabled bool) error {
	if err := fs.authorizeSpace(ctx, id, PermManageSpace); err != nil {
		return err
	}
	_, err := fs.meta.UpdateSpace(ctx, id, func(s *metadata.Space) error {
		switch {
		case disabled && s.Disabled == 0:
			s.Disabled = time.Now().UnixNano()
		case !disabled:
			s.Disabled = 0
		}
		return nil
	})
	return err
}

// PurgeSpace deletes a disabled space for good: every blob under its
// prefix in the blob store (contents, revisions, trash, unfinished
// uploads), its upload sessions, and then its metadata. It needs
// PermManageSpace.
func (fs *FS) PurgeSpace(ctx context.Context, id string) error {
	if err := fs.authorizeSpace(ctx, id, PermManageSpace); err != nil {
		return err
	}
	s, err := fs.meta.ReadSpace(ctx, id)
	if err != nil {
		return err
	}
	if s.Disabled == 0 {
		return fmt.Errorf("%w: disable space %s before purging it", ErrPrecondition, id)
	}
	var sessions []*metadata.Upload
	if err := fs.meta.ListUploads(ctx, func(u *metadata.Upload) error {
		if u.SpaceID == id {
			sessions = append(sessions, u)
		}
		return nil
	}, nil); err != nil {
		return err
	}
	for _, u := range sessions {
		fs.endUpload(ctx, u, u.Done == "")
	}
	var keys []string
	if err := fs.blobs.List(ctx, id+"/", func(bi blobstore.Info) error {
		keys = append(keys, bi.Key)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := fs.blobs.Delete(ctx, k); err != nil {
			return fmt.Errorf("decomposedfs: purge space %s: %w", id, err)
		}
	}
	return fs.meta.DeleteSpace(ctx, id)
}

// SpaceFilter selects spaces in ListSpaces; zero fields match anything.
type SpaceFilter struct {
	Type  metadata.SpaceType
	Owner string
	Name  string
	// Member lists the spaces a grant on their root opens to this
	// grantee ("user:NAME" or "group:NAME").
	Member string
}

// ListSpaces returns the spaces that match f and that the user may see,
// sorted by name, then id. For a user, the candidates come from the space
// indexes (owned, and member through the user or a group), not from a scan
// of every space. Spaces whose records cannot be read are logged and left
// out.
func (fs *FS) ListSpaces(ctx context.Context, f SpaceFilter) ([]*SpaceInfo, error) {
	var candidates []string
	pr, isUser := principalOf(ctx)
	switch {
	case isUser || f.Owner != "" || f.Member != "":
		keys := map[metadata.SpaceIndex][]string{}
		if f.Owner != "" {
			keys[metadata.IndexOwner] = []string{f.Owner}
		}
		if f.Member != "" {
			keys[metadata.IndexMember] = []string{f.Member}
		}
		if isUser && f.Owner == "" && f.Member == "" {
			keys[metadata.IndexOwner] = []string{pr.user}
			keys[metadata.IndexMember] = append([]string{"user:" + pr.user}, prefixed("group:", pr.groups)...)
		}
		seen := map[string]bool{}
		for idx, ks := range keys {
			for _, k := range ks {
				ids, err := fs.meta.SpacesBy(ctx, idx, k)
				if err != nil {
					return nil, err
				}
				for _, id := range ids {
					if !seen[id] {
						seen[id] = true
						candidates = append(candidates, id)
					}
				}
			}
		}
	default:
		err := fs.meta.ListSpaces(ctx, func(s *metadata.Space) error {
			candidates = append(candidates, s.ID)
			return nil
		}, func(id string, err error) {
			fs.log.WarnContext(ctx, "space record unreadable", "space", id, "err", err)
		})
		if err != nil {
			return nil, err
		}
	}
	var out []*SpaceInfo
	for _, id := range candidates {
		s, err := fs.meta.ReadSpace(ctx, id)
		if err != nil {
			fs.log.WarnContext(ctx, "space record unreadable", "space", id, "err", err)
			continue
		}
		if (f.Type != "" && s.Type != f.Type) || (f.Owner != "" && s.Owner != f.Owner) || (f.Name != "" && s.Name != f.Name) {
			continue
		}
		si, err := fs.spaceInfo(ctx, s)
		if err != nil {
			fs.log.WarnContext(ctx, "space root unreadable", "space", s.ID, "err", err)
			continue
		}
		if !si.Permissions.Has(PermStat) {
			continue
		}
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b *SpaceInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

// sharedWith reports whether the context's user holds an unexpired grant
// (not a denial) on some node of space s that is still live.
func (fs *FS) sharedWith(ctx context.Context, s *metadata.Space) bool {
	pr, ok := principalOf(ctx)
	if !ok {
		return true
	}
	now := time.Now().UnixNano()
	for _, g := range s.Grants {
		if g.Deny || (g.Expires != 0 && g.Expires <= now) || !pr.matches(g.Grantee) {
			continue
		}
		if p, err := fs.livePath(ctx, s.ID, g.NodeID); err == nil && p != "" {
			if perms, err := fs.permissions(ctx, s.ID, p); err == nil && perms.Has(PermStat) {
				return true
			}
		}
	}
	return false
}
