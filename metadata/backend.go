package metadata

import (
	"context"
	"slices"

	"github.com/s3dfs/s3dfs/cache"
)

// Backend is the node store: node and space records and the parent/child
// links between nodes. metadata/mpk implements it with files on a POSIX
// volume; other implementations keep the same semantics, which the suite in
// metadata/metadatatest checks.
//
// All methods are safe for concurrent use, also by several processes that
// share one store (for backends that can be shared). Ids are validated
// (ErrInvalidID), names too (ErrInvalidName). Nodes and listings returned by
// the read methods are shared and must not be modified.
//
// The link from a folder to a child is the commit point of every change to
// the tree: a node exists for its users when its parent links to it. A
// record's ParentID and Name repeat the link; a backend keeps both in
// agreement, and where a crash splits them, the link wins.
//
// Tree sizes and tree mtimes are derived values. Operations never change
// them on their own; the caller reports what changed with Propagate, once the
// operation has succeeded. After a crash between the two, the derived values
// may lag behind and can be recomputed from the children.
type Backend interface {
	// CreateSpace stores a new space and its root folder, whose ID must
	// equal the space's ID. ErrExist if a space with that id exists.
	CreateSpace(ctx context.Context, s *Space, root *Node) error
	// ReadSpace returns a space record, or ErrNotFound.
	ReadSpace(ctx context.Context, id string) (*Space, error)
	// UpdateSpace applies fn to a fresh copy of the space record under the
	// space's lock and stores the result; if fn fails nothing is stored.
	// A record that would exceed MaxRecordSize gives ErrTooLarge (unless
	// it replaces a larger one that older code wrote). Locks and
	// reservations that older code kept in the record are moved out first
	// (see UpdateLocks): fn never sees them.
	UpdateSpace(ctx context.Context, id string, fn func(*Space) error) (*Space, error)
	// ListSpaces calls fn for every space, in no particular order. A space
	// whose record cannot be read is passed to bad (if not nil) and
	// skipped.
	ListSpaces(ctx context.Context, fn func(*Space) error, bad func(id string, err error)) error

	// SpacesBy returns the ids of the spaces that an index lists under
	// key, in no particular order. Indexes are derived from the space
	// records and kept by CreateSpace, UpdateSpace and DeleteSpace; every
	// id returned names a space whose record matches now.
	SpacesBy(ctx context.Context, index SpaceIndex, key string) ([]string, error)

	// ReadNode returns the record of a node, or ErrNotFound. It may come
	// from a cache, but never one older than the last write that finished
	// before the call (in the default strict mode). Trashed nodes are
	// returned too (Trashed != 0); descendants of a trashed folder are not
	// marked, so liveness is a property of the path, not of the record.
	// A record that cannot be decoded gives ErrCorrupt.
	ReadNode(ctx context.Context, spaceID, id string) (*Node, error)

	// Lookup returns the child of folder parentID named name, ErrNotFound if
	// there is none, ErrNotDir if parentID is a file.
	Lookup(ctx context.Context, spaceID, parentID, name string) (*Node, error)

	// List returns the children of a folder, sorted by name. A child whose
	// link or record is unreadable is left out and reported in
	// Listing.Problems: one bad record never fails a whole listing.
	List(ctx context.Context, spaceID, parentID string) (*Listing, error)

	// CreateNode stores a new node and links it into its parent under its
	// name, atomically: ErrExist if the name is taken (nothing is left
	// behind), ErrNotFound if the parent does not exist or is trashed,
	// ErrNotDir if it is a file. n.ID must be new.
	CreateNode(ctx context.Context, n *Node) error

	// PrepareNode does ahead of time what it can of creating n, so that a
	// caller busy with something else (an upload) can commit the node
	// quickly later. The node is not linked (Lookup and List do not show
	// it) until Pending.Commit, which has CreateNode's semantics; a Pending that is not committed must be
	// aborted. Only files can be prepared.
	PrepareNode(ctx context.Context, n *Node) (Pending, error)

	// UpdateNode applies fn to a copy of the node read from the store (never
	// from a cache) while holding the node's lock, and stores the result.
	// fn may change anything but the identity and the link (ID, SpaceID,
	// ParentID, Name, Type), Tree and Trashed; use MoveNode, TrashNode and
	// Propagate for those. If fn returns an error nothing is stored and the
	// error is returned. The change is visible in the parent's listing when
	// UpdateNode returns.
	UpdateNode(ctx context.Context, spaceID, id string, fn func(*Node) error) (*Node, error)

	// MoveNode renames a node and/or moves it to another folder of its
	// space. If newName is taken in newParentID, MoveNode fails with ErrExist
	// unless replace is set, in which case the node that had the name is
	// trashed in the same step. Moving a folder into itself or below itself
	// gives ErrCycle, moving the root ErrRoot.
	MoveNode(ctx context.Context, spaceID, id, newParentID, newName string, replace bool) (MoveResult, error)

	// TrashNode unlinks a node from its parent and moves it, with its whole
	// subtree, to its space's trash. It returns the node as it was when it
	// was unlinked (its tree size tells what to propagate).
	TrashNode(ctx context.Context, spaceID, id string) (*Node, error)

	// ListTrash calls fn for every node at the top of a trashed subtree of
	// the space (the nodes TrashNode or a replacing MoveNode trashed), in
	// no particular order.
	ListTrash(ctx context.Context, spaceID string, fn func(*Node) error) error

	// RestoreNode brings a trashed node (the top of a trashed subtree)
	// back under newParentID as newName, with its subtree: ErrExist if
	// the name is taken, ErrNotFound if the node is not in the trash or
	// the parent is not a live folder. It returns the restored node (its
	// tree size tells what to propagate). Restoring a folder changes the
	// namespace version.
	RestoreNode(ctx context.Context, spaceID, id, newParentID, newName string) (*Node, error)

	// PurgeNode removes the record of a node that is not linked anywhere
	// (a failed create, or a trashed node being purged) and its trash
	// entry; for a folder also its links to its children, which the caller
	// purges first (a subtree is purged bottom-up). Purging a missing node
	// is not an error.
	PurgeNode(ctx context.Context, spaceID, id string) error

	// Propagate adds sizeDelta to the tree size of folder folderID and of
	// each of its ancestors up to the space root, and gives each of them a
	// new tree mtime (so a new etag), taking one node's lock at a time,
	// bottom-up. It stops after a trashed node. Deltas are added as they
	// come, so that concurrent ones commute; the stored sum may be
	// negative for a moment, and Node.TreeSize never reports it so.
	Propagate(ctx context.Context, spaceID, folderID string, sizeDelta int64) error

	// NamespaceVersion returns a value that changes whenever a folder of the
	// space is moved, renamed, trashed or restored, i.e. whenever the path
	// of a node can change without its own record changing. Path caches
	// are validated by it.
	NamespaceVersion(ctx context.Context, spaceID string) (cache.Stamp, error)

	// DeleteSpace removes a space's metadata entirely: its record, its
	// nodes, its trash. The caller removes its blobs first. Deleting a
	// missing space is not an error.
	DeleteSpace(ctx context.Context, id string) error

	// CreateUpload stores the record of a new resumable upload; ErrExist if
	// its id is taken.
	CreateUpload(ctx context.Context, u *Upload) error
	// ReadUpload returns an upload record, read from the store (never
	// from a cache), or ErrNotFound.
	ReadUpload(ctx context.Context, id string) (*Upload, error)
	// UpdateUpload is a locked read-modify-write of an upload record; if
	// fn fails nothing is stored.
	UpdateUpload(ctx context.Context, id string, fn func(*Upload) error) (*Upload, error)
	// DeleteUpload removes an upload record; removing a missing one is not
	// an error.
	DeleteUpload(ctx context.Context, id string) error
	// ListUploads calls fn for every upload record, in no particular
	// order; unreadable ones go to bad (if not nil).
	ListUploads(ctx context.Context, fn func(*Upload) error, bad func(id string, err error)) error

	// ReadLocks returns the WebDAV locks of a space (see Lock), expired
	// ones included until a writer prunes them, in no particular order;
	// none for a space that does not exist. Every mutation asks it whether
	// anything in the space is locked, so with nothing changed since the
	// last call it costs one cached, stamp-validated read. The slice is
	// shared and must not be modified. Locks that older code kept in the
	// space record are included until they are moved out.
	ReadLocks(ctx context.Context, spaceID string) ([]Lock, error)
	// UpdateLocks calls fn with the space's locks as stored now, read
	// under a lock that every change of the space's locks takes, in every
	// process, and stores the edit fn returns: what fn saw is what the
	// edit replaces, so a lock can be taken atomically with the check
	// against all others. If fn fails nothing is stored and its error is
	// returned. ErrNotFound if the space does not exist; ErrTooLarge (and
	// nothing stored) for a lock whose record would exceed MaxRecordSize.
	// An I/O error while the edit is stored may leave part of it stored
	// (each lock is a record of its own); every lock is then either its
	// old or its new version, never a torn one.
	// A space record that still holds locks or reservations the way
	// older code kept them has them moved out first.
	UpdateLocks(ctx context.Context, spaceID string, fn func([]Lock) (LockEdit, error)) error

	// ReadReservations returns the quota reservations of a space,
	// expired ones included until a writer prunes them, with
	// ReadLocks' semantics.
	ReadReservations(ctx context.Context, spaceID string) ([]Reservation, error)
	// UpdateReservations is UpdateLocks for the space's reservations,
	// under a lock of their own: fn sees every reservation of every
	// process, so that a quota check in fn is exact.
	UpdateReservations(ctx context.Context, spaceID string, fn func([]Reservation) (ReservationEdit, error)) error

	// Close releases the backend's resources.
	Close() error
}

// Pending is a node prepared by PrepareNode.
type Pending interface {
	// Commit stores final (same ID, SpaceID, ParentID, Name and Type as
	// prepared; any other field may differ) and links it into its parent,
	// with CreateNode's errors. After an error the Pending must still be
	// aborted.
	Commit(ctx context.Context, final *Node) error
	// Abort discards the preparation. After a successful Commit it does
	// nothing; it may be called more than once.
	Abort()
}

// Listing is the content of a folder.
type Listing struct {
	// Children are the readable children, sorted by name.
	Children []*Node
	// Problems are the children left out because their link or record is
	// unreadable.
	Problems []Problem
}

// Problem is a child that a listing could not read.
type Problem struct {
	Name string // the link's name
	ID   string // the child id the link names, if it could be read
	Err  error  // wraps ErrCorrupt, ErrNotFound, ...
}

// MoveResult tells a caller what to propagate after MoveNode.
type MoveResult struct {
	// Moved is the node as it was before the move.
	Moved *Node
	// Replaced is the node that had the target name and was trashed
	// (replace only), or nil.
	Replaced *Node
}

// CacheReporter is implemented by backends that cache: the counters of each
// of their caches, by name.
type CacheReporter interface {
	CacheCounters() map[string]cache.Stats
}

// Checker is implemented by backends that can tell whether their storage is
// usable right now (for readiness probes).
type Checker interface {
	Check(ctx context.Context) error
}

// SpaceIndex names an index of spaces.
type SpaceIndex string

const (
	// IndexOwner lists spaces by owner name.
	IndexOwner SpaceIndex = "owner"
	// IndexMember lists spaces by member: the grantee ("user:NAME" or
	// "group:NAME") of an unexpired, not denying grant on the root node.
	IndexMember SpaceIndex = "member"
	// IndexType lists spaces by type.
	IndexType SpaceIndex = "type"
)

// IndexKeys returns the keys under which index lists s at time now (ns).
func (s *Space) IndexKeys(index SpaceIndex, now int64) []string {
	switch index {
	case IndexOwner:
		if s.Owner != "" {
			return []string{s.Owner}
		}
	case IndexType:
		return []string{string(s.Type)}
	case IndexMember:
		var keys []string
		for _, g := range s.Grants {
			if g.NodeID == s.ID && !g.Deny && (g.Expires == 0 || g.Expires > now) && !slices.Contains(keys, g.Grantee) {
				keys = append(keys, g.Grantee)
			}
		}
		return keys
	}
	return nil
}

// SpaceIndexes are all indexes, in a fixed order.
var SpaceIndexes = []SpaceIndex{IndexOwner, IndexMember, IndexType}
