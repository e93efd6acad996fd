package decomposedfs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// GrantSpec describes access to give.
type GrantSpec struct {
	// Grantee is "user:NAME" or "group:NAME".
	Grantee string
	// Role is a key of Roles: viewer, uploader, editor or manager.
	Role string
	// Deny takes the role's permissions away instead (a denial wins over
	// any grant, above or below).
	Deny bool
	// Expires, if not zero, ends the grant.
	Expires time.Time
}

// GrantInfo describes a grant.
type GrantInfo struct {
	ID      string
	NodeID  string
	Path    string // the node's path now ("" if it is in the trash)
	Grantee string
	Role    string
	Deny    bool
	Expires time.Time
	Creator string
	Created time.Time
}

func grantInfo(g metadata.Grant, p string) GrantInfo {
	gi := GrantInfo{ID: g.ID, NodeID: g.NodeID, Path: p, Grantee: g.Grantee, Role: g.Role, Deny: g.Deny,
		Creator: g.Creator, Created: time.Unix(0, g.Created)}
	if g.Expires != 0 {
		gi.Expires = time.Unix(0, g.Expires)
	}
	return gi
}

// AddGrant gives a user or group a role on a node and everything below it.
// A grant on a space's root makes the grantee a member of the space. It
// needs PermShare on the node. A space holds at most
// Options.MaxGrantsPerSpace grants (ErrLimit beyond).
func (fs *FS) AddGrant(ctx context.Context, ref Reference, spec GrantSpec) (*GrantInfo, error) {
	n, p, err := fs.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := fs.authorize(ctx, n.SpaceID, p, PermShare); err != nil {
		return nil, err
	}
	if _, ok := Roles[spec.Role]; !ok {
		return nil, fmt.Errorf("%w: unknown role %q", ErrInvalidRef, spec.Role)
	}
	name, ok := strings.CutPrefix(spec.Grantee, "user:")
	if !ok {
		name, ok = strings.CutPrefix(spec.Grantee, "group:")
	}
	if !ok || name == "" {
		return nil, fmt.Errorf("%w: grantee %q is neither user:NAME nor group:NAME", ErrInvalidRef, spec.Grantee)
	}
	g := metadata.Grant{ID: uuid.NewString(), NodeID: n.ID, Grantee: spec.Grantee, Role: spec.Role, Deny: spec.Deny,
		Creator: userOf(ctx), Created: cache.NextTime()}
	if !spec.Expires.IsZero() {
		g.Expires = spec.Expires.UnixNano()
	}
	if _, err := fs.meta.UpdateSpace(ctx, n.SpaceID, func(s *metadata.Space) error {
		s.Grants = pruneGrants(s.Grants)
		if len(s.Grants) >= fs.opts.MaxGrantsPerSpace {
			return fmt.Errorf("%w: the space has %d grants, the most a space may (share with a group instead)", ErrLimit, len(s.Grants))
		}
		s.Grants = append(s.Grants, g)
		return nil
	}); err != nil {
		return nil, err
	}
	gi := grantInfo(g, p)
	return &gi, nil
}

func pruneGrants(gs []metadata.Grant) []metadata.Grant {
	now := time.Now().UnixNano()
	return slices.DeleteFunc(gs, func(g metadata.Grant) bool { return g.Expires != 0 && g.Expires <= now })
}

// RemoveGrant revokes a grant of a space. It needs PermShare on the granted
// node (or, if that node is gone, on the space root).
func (fs *FS) RemoveGrant(ctx context.Context, spaceID, grantID string) error {
	gs, err := fs.Grants(ctx, spaceID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(gs, func(g GrantInfo) bool { return g.ID == grantID })
	if i < 0 {
		return fmt.Errorf("%w: grant %s", ErrNotFound, grantID)
	}
	p := gs[i].Path
	if p == "" {
		p = "/"
	}
	if _, err := fs.authorize(ctx, spaceID, p, PermShare); err != nil {
		return err
	}
	_, err = fs.meta.UpdateSpace(ctx, spaceID, func(s *metadata.Space) error {
		s.Grants = slices.DeleteFunc(pruneGrants(s.Grants), func(g metadata.Grant) bool { return g.ID == grantID })
		return nil
	})
	return err
}

// Grants lists the unexpired grants of a space with their nodes' paths.
// Users see the grants on nodes they may see.
func (fs *FS) Grants(ctx context.Context, spaceID string) ([]GrantInfo, error) {
	if err := metadata.ValidateID(spaceID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	s, err := fs.meta.ReadSpace(ctx, spaceID)
	if err != nil {
		return nil, err
	}
	var out []GrantInfo
	for _, g := range pruneGrants(s.Clone().Grants) {
		p, err := fs.livePath(ctx, spaceID, g.NodeID)
		if err != nil {
			return nil, err
		}
		if p != "" {
			perms, err := fs.permissions(ctx, spaceID, p)
			if err != nil {
				return nil, err
			}
			if !perms.Has(PermStat) {
				continue
			}
		} else if _, ok := principalOf(ctx); ok {
			continue
		}
		out = append(out, grantInfo(g, p))
	}
	if len(out) == 0 {
		// A user who may see nothing of the space must not learn that
		// it exists.
		if err := fs.authorizeSpace(ctx, spaceID, PermStat); err != nil {
			return nil, err
		}
	}
	return out, nil
}
