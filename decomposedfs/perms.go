package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// ErrPermissionDenied: the user may see the resource but not do this to it.
// (Where the user may not even see it, the answer is ErrNotFound, so that
// existence does not leak.)
var ErrPermissionDenied = errors.New("decomposedfs: permission denied")

// Permissions is a set of things a user may do to a node.
type Permissions uint32

const (
	PermStat           Permissions = 1 << iota // see the node and its metadata
	PermList                                   // list a folder
	PermDownload                               // read content
	PermCreateFile                             // add files to a folder
	PermCreateFolder                           // add folders to a folder
	PermOverwrite                              // change a file's content or any node's properties
	PermDelete                                 // move to the trash
	PermMove                                   // rename or move
	PermListVersions                           // see earlier contents
	PermRestoreVersion                         // bring back or delete earlier contents
	PermListTrash                              // see the space's trash
	PermRestoreTrash                           // restore from the trash
	PermPurgeTrash                             // delete from the trash for good
	PermLock                                   // take WebDAV locks
	PermShare                                  // grant and revoke access
	PermManageSpace                            // rename, describe, disable the space

	// PermAll is everything: a space's owner, and the driver's own callers
	// when a context names no user.
	PermAll Permissions = 1<<iota - 1
)

// Roles are the named permission sets that grants give.
var Roles = map[string]Permissions{
	"viewer":   PermStat | PermList | PermDownload | PermListVersions,
	"uploader": PermStat | PermList | PermCreateFile | PermCreateFolder,
	"editor": PermStat | PermList | PermDownload | PermListVersions | PermCreateFile | PermCreateFolder |
		PermOverwrite | PermDelete | PermMove | PermRestoreVersion | PermListTrash | PermRestoreTrash | PermLock,
	"manager": PermAll, // a manager may do what an owner may
}

// Has reports whether p holds all of q.
func (p Permissions) Has(q Permissions) bool { return p&q == q }

func (p Permissions) String() string {
	names := []string{"stat", "list", "download", "create-file", "create-folder", "overwrite", "delete", "move",
		"list-versions", "restore-version", "list-trash", "restore-trash", "purge-trash", "lock", "share", "manage-space"}
	var out []string
	for i, n := range names {
		if p&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

type userKey struct{}

type principal struct {
	user   string
	groups []string
}

// WithUser returns a context naming the user a request acts for, and the
// groups the user belongs to. Every operation then checks the user's
// permissions (grants, inherited down the tree; a space's owner may do
// anything), and lock tokens count only for locks the user took. A context
// without a user acts with every permission: for admin tools.
func WithUser(ctx context.Context, user string, groups ...string) context.Context {
	return context.WithValue(ctx, userKey{}, principal{user: user, groups: slices.Clone(groups)})
}

func userOf(ctx context.Context) string {
	p, _ := ctx.Value(userKey{}).(principal)
	return p.user
}

func principalOf(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(userKey{}).(principal)
	return p, ok && p.user != ""
}

func (p principal) matches(grantee string) bool {
	if name, ok := strings.CutPrefix(grantee, "user:"); ok {
		return name == p.user
	}
	if name, ok := strings.CutPrefix(grantee, "group:"); ok {
		return slices.Contains(p.groups, name)
	}
	return false
}

// permEntry caches a user's permissions on a path, valid while the space
// record (grants, owner) and the namespace version (folder paths) are
// unchanged, the records of the granted files too, and none of the user's
// grants has expired.
type permEntry struct {
	space cache.Stamp
	ns    cache.Stamp
	// files are the record stamps of the files among the user's granted
	// nodes: a file's path changes (rename, move, trash) with its record
	// alone, without a new namespace version.
	files []fileStamp
	// until is when the first of the user's grants expires (0: never).
	until int64
	perms Permissions
}

type fileStamp struct {
	id    string
	stamp cache.Stamp
}

// valid reports whether the parts of e that the space record and the
// namespace version do not cover still hold.
func (fs *FS) valid(ctx context.Context, sid string, e *permEntry) bool {
	if e.until != 0 && time.Now().UnixNano() >= e.until {
		return false
	}
	for _, f := range e.files {
		n, err := fs.meta.ReadNode(ctx, sid, f.id)
		if err != nil || n.Stamp != f.stamp {
			return false
		}
	}
	return true
}

// Permissions returns what the context's user may do to the node at path p
// of space sid.
func (fs *FS) permissions(ctx context.Context, sid, p string) (Permissions, error) {
	pr, ok := principalOf(ctx)
	if !ok {
		return PermAll, nil
	}
	s, err := fs.meta.ReadSpace(ctx, sid)
	if err != nil {
		return 0, err
	}
	if s.Owner == pr.user {
		if s.Disabled != 0 {
			return PermStat | PermManageSpace, nil // to restore or purge it
		}
		return PermAll, nil
	}
	if len(s.Grants) == 0 {
		return 0, nil
	}
	ns, err := fs.meta.NamespaceVersion(ctx, sid)
	if err != nil {
		return 0, err
	}
	key := pr.user + "\x00" + strings.Join(pr.groups, "\x00") + "\x00" + sid + p
	if e, ok := fs.perms.GetUnchecked(key); ok && !s.Stamp.IsZero() && e.Value.space == s.Stamp && e.Value.ns == ns && fs.valid(ctx, sid, &e.Value) {
		return e.Value.perms, nil
	}
	e, err := fs.evalPerms(ctx, s, pr, p)
	if err != nil {
		return 0, err
	}
	cacheable := !s.Stamp.IsZero()
	for _, f := range e.files {
		cacheable = cacheable && !f.stamp.IsZero()
	}
	if cacheable {
		e.space, e.ns = s.Stamp, ns
		fs.perms.Put(key, cache.Path{}, cache.Stamp{}, e, int64(len(key)+len(e.files)*64)+96)
	}
	return e.perms, nil
}

// evalPerms unions the roles of the user's grants on p and above it, minus
// those of denying grants: a denial wins over any grant. It also returns
// what the result depends on beyond the space record and the namespace
// version (see permEntry).
func (fs *FS) evalPerms(ctx context.Context, s *metadata.Space, pr principal, p string) (permEntry, error) {
	var e permEntry
	now := time.Now().UnixNano()
	var allow, deny Permissions
	for _, g := range s.Grants {
		if (g.Expires != 0 && g.Expires <= now) || !pr.matches(g.Grantee) {
			continue
		}
		if g.Expires != 0 && (e.until == 0 || g.Expires < e.until) {
			e.until = g.Expires
		}
		n, err := fs.meta.ReadNode(ctx, s.ID, g.NodeID)
		if errors.Is(err, ErrNotFound) {
			continue // purged: it grants nothing, ever again
		}
		if err != nil {
			return e, err
		}
		if n.Type == metadata.TypeFile {
			e.files = append(e.files, fileStamp{id: n.ID, stamp: n.Stamp})
		}
		gp, err := fs.lu.PathOf(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // in the trash
		}
		if err != nil {
			return e, err
		}
		if !under(p, gp) {
			continue
		}
		if g.Deny {
			deny |= Roles[g.Role]
		} else {
			allow |= Roles[g.Role]
		}
	}
	e.perms = allow &^ deny
	if s.Disabled != 0 {
		// A disabled space is there for its managers to restore or
		// purge, as for its owner (see permissions); nobody writes to it.
		e.perms &= PermStat | PermManageSpace
		if !e.perms.Has(PermManageSpace) {
			e.perms = 0
		}
	}
	return e, nil
}

// livePath is the path of a live node, or "" if it is gone or trashed.
func (fs *FS) livePath(ctx context.Context, sid, id string) (string, error) {
	n, err := fs.meta.ReadNode(ctx, sid, id)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	p, err := fs.lu.PathOf(ctx, n)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return p, err
}

// authorize fails unless the context's user may do need to the node at p:
// ErrNotFound if the user may not even see it, ErrPermissionDenied else.
func (fs *FS) authorize(ctx context.Context, sid, p string, need Permissions) (Permissions, error) {
	perms, err := fs.permissions(ctx, sid, p)
	if err != nil {
		return 0, err
	}
	if !perms.Has(PermStat) {
		return perms, fmt.Errorf("%w: %s", ErrNotFound, p)
	}
	if !perms.Has(need) {
		return perms, fmt.Errorf("%w: %s needs %s", ErrPermissionDenied, p, need&^perms)
	}
	return perms, nil
}

// hide returns err, an error that tells something about the node at p (its
// type, that it exists), if the context's user may see that node, and
// ErrNotFound otherwise: what a user may not see must look like nothing.
func (fs *FS) hide(ctx context.Context, sid, p string, err error) error {
	if _, aerr := fs.authorize(ctx, sid, p, PermStat); aerr != nil {
		return aerr
	}
	return err
}

// grantsBelow reports whether the context's user has a grant strictly
// below p, which may give a child of p other permissions than p has.
func (fs *FS) grantsBelow(ctx context.Context, sid, p string) (bool, error) {
	pr, ok := principalOf(ctx)
	if !ok {
		return false, nil
	}
	s, err := fs.meta.ReadSpace(ctx, sid)
	if err != nil {
		return false, err
	}
	if s.Owner == pr.user {
		return false, nil
	}
	for _, g := range s.Grants {
		if !pr.matches(g.Grantee) {
			continue
		}
		gp, err := fs.livePath(ctx, sid, g.NodeID)
		if err != nil {
			return false, err
		}
		if gp != "" && gp != p && under(gp, p) {
			return true, nil
		}
	}
	return false, nil
}

// createPerm is what creating a node of type t in a folder needs.
func createPerm(t metadata.NodeType) Permissions {
	if t == metadata.TypeDir {
		return PermCreateFolder
	}
	return PermCreateFile
}
