package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// Options configure an FS.
type Options struct {
	// Lookup configures the path caches.
	Lookup lookup.Options
	// Logger receives problems the API cannot return, such as a blob that
	// could not be deleted after its node was. Nil means slog.Default().
	Logger *slog.Logger
	// Revisions says which earlier contents of files are kept.
	Revisions RevisionPolicy
	// ReservationTTL bounds how long a resumable upload holds quota it
	// has not used yet (its session's own lifetime is at most this).
	ReservationTTL time.Duration

	// Limits on what one user may hold, so that nobody can grow state
	// that others must read without bound; beyond them requests fail with
	// ErrLimit (or ErrTooLarge for the owner text).
	//
	// MaxLocksPerUser bounds the WebDAV locks one user holds in one space.
	MaxLocksPerUser int
	// MaxLockOwner bounds the owner text of a lock (WebDAV: the owner
	// element of LOCK), in bytes.
	MaxLockOwner int
	// MaxUploadsPerUser bounds the uploads one user has in progress in
	// one space: resumable upload sessions, and uploads that hold quota
	// while their content streams.
	MaxUploadsPerUser int
	// MaxGrantsPerSpace bounds the grants of a space (they live in the
	// space record, which every request reads).
	MaxGrantsPerSpace int
}

// Default limits (see Options).
const (
	DefaultMaxLocksPerUser   = 1000
	DefaultMaxLockOwner      = 4 << 10
	DefaultMaxUploadsPerUser = 1000
	DefaultMaxGrantsPerSpace = 1000
)

// DefaultOptions returns the defaults: 10 revisions per file, of any age,
// and the default limits.
func DefaultOptions() Options {
	return Options{
		Lookup: lookup.DefaultOptions(), Revisions: RevisionPolicy{MaxCount: 10}, ReservationTTL: 2 * DefaultUploadTTL,
		MaxLocksPerUser: DefaultMaxLocksPerUser, MaxLockOwner: DefaultMaxLockOwner,
		MaxUploadsPerUser: DefaultMaxUploadsPerUser, MaxGrantsPerSpace: DefaultMaxGrantsPerSpace,
	}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	if o.Revisions.MaxCount < 0 || o.Revisions.MaxAge < 0 {
		return fmt.Errorf("decomposedfs: revision limits must not be negative")
	}
	if o.ReservationTTL < 0 {
		return fmt.Errorf("decomposedfs: ReservationTTL must not be negative")
	}
	for _, l := range []struct {
		name string
		v    int
	}{
		{"MaxLocksPerUser", o.MaxLocksPerUser}, {"MaxLockOwner", o.MaxLockOwner},
		{"MaxUploadsPerUser", o.MaxUploadsPerUser}, {"MaxGrantsPerSpace", o.MaxGrantsPerSpace},
	} {
		if l.v <= 0 {
			return fmt.Errorf("decomposedfs: %s is %d; it must be positive (DefaultOptions has the defaults)", l.name, l.v)
		}
	}
	if o.MaxLockOwner > metadata.MaxRecordSize/2 {
		return fmt.Errorf("decomposedfs: MaxLockOwner %d leaves no room in a lock record of at most %d bytes", o.MaxLockOwner, metadata.MaxRecordSize)
	}
	return o.Lookup.Validate()
}

// FS is the storage driver: spaces of files and folders whose metadata lives
// in a metadata.Backend and whose content lives in a blobstore.Store. All
// methods are safe for concurrent use, and several FS values in several
// processes may share one backend store and one blob store.
type FS struct {
	meta  metadata.Backend
	blobs blobstore.Store
	lu    *lookup.Resolver
	log   *slog.Logger
	opts  Options
	perms *cache.Cache[permEntry] // user + path -> permissions
}

// New creates an FS. It takes ownership of neither store: Close closes the
// FS's own resources only.
func New(meta metadata.Backend, blobs blobstore.Store, opts Options) (*FS, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	lu, err := lookup.New(meta, opts.Lookup)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	perms, err := cache.New[permEntry](cache.Options{MaxBytes: opts.Lookup.CacheBytes / 4, Mode: cache.Strict})
	if err != nil {
		return nil, err
	}
	return &FS{meta: meta, blobs: blobs, lu: lu, log: log, opts: opts, perms: perms}, nil
}

// Close releases the FS's caches.
func (fs *FS) Close() error {
	fs.lu.Close()
	fs.perms.Close()
	return nil
}

// Backend returns the metadata store (for tools such as the checker).
// KeepsRevisions reports whether an overwrite keeps the earlier content
// as a revision (the versions a server may advertise).
func (fs *FS) KeepsRevisions() bool { return fs.opts.Revisions.MaxCount > 0 }

func (fs *FS) Backend() metadata.Backend { return fs.meta }

// Blobs returns the blob store.
func (fs *FS) Blobs() blobstore.Store { return fs.blobs }

// Resolver returns the path resolver (for its cache statistics).
func (fs *FS) Resolver() *lookup.Resolver { return fs.lu }

// Reference addresses a node: a space, a node in it (empty for the space
// root) and a path relative to that node ("" or "/" for the node itself).
// Paths use "/" and may not climb above their start with "..".
type Reference struct {
	SpaceID string
	NodeID  string
	Path    string
}

func (r Reference) String() string {
	return fmt.Sprintf("%s!%s:%s", r.SpaceID, r.NodeID, r.Path)
}

// BlobKey is the blob store key of a blob of a space.
func BlobKey(spaceID, blobID string) string {
	return spaceID + "/" + blobID[:2] + "/" + blobID
}

// resolve finds the node a reference names and its space path. It fails
// with ErrNotFound for nodes in the trash or below a trashed folder.
func (fs *FS) resolve(ctx context.Context, ref Reference) (*metadata.Node, string, error) {
	if err := metadata.ValidateID(ref.SpaceID); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	rel, err := lookup.Clean(ref.Path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	start := ref.NodeID
	if start == "" {
		start = ref.SpaceID
	} else if err := metadata.ValidateID(start); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	// The start must be live; the walk below it goes through links, so the
	// result then is too, and its path is the start's path plus rel.
	var startPath string
	if start == ref.SpaceID {
		startPath = "/"
		if rel == "/" {
			n, err := fs.meta.ReadNode(ctx, ref.SpaceID, start)
			return n, "/", err
		}
	} else {
		n, err := fs.meta.ReadNode(ctx, ref.SpaceID, start)
		if err != nil {
			return nil, "", err
		}
		if startPath, err = fs.lu.PathOf(ctx, n); err != nil {
			return nil, "", err
		}
		if rel == "/" {
			return n, startPath, nil
		}
	}
	n, err := fs.lu.Resolve(ctx, ref.SpaceID, start, rel)
	if errors.Is(err, ErrNotDir) {
		return nil, "", fs.hideFileOnPath(ctx, ref.SpaceID, start, startPath, rel, err)
	}
	if err != nil {
		return nil, "", refError(err)
	}
	if startPath == "/" {
		return n, rel, nil
	}
	return n, startPath + rel, nil
}

// hideFileOnPath handles a path rel below node start (at startPath) that
// runs through a file: it reports so (err) only to a user who may see that
// file. What a user may not see must look like nothing.
func (fs *FS) hideFileOnPath(ctx context.Context, sid, start, startPath, rel string, err error) error {
	if _, ok := principalOf(ctx); !ok {
		return err
	}
	segs, serr := lookup.Split(rel)
	if serr != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRef, serr)
	}
	p := startPath
	for i := range segs {
		n, rerr := fs.lu.Resolve(ctx, sid, start, lookup.Canonical(segs[:i]))
		if rerr != nil {
			return refError(rerr)
		}
		if n.Type != metadata.TypeDir {
			return fs.hide(ctx, sid, p, err)
		}
		p = lookup.Join(p, segs[i])
	}
	return err // the tree changed meanwhile
}

func refError(err error) error {
	if errors.Is(err, lookup.ErrBadPath) {
		return fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	return err
}

// resolveParent splits the last segment off a reference's path and resolves
// the rest, which must be a live folder.
func (fs *FS) resolveParent(ctx context.Context, ref Reference) (*metadata.Node, string, string, error) {
	segs, err := lookup.Split(ref.Path)
	if err != nil {
		return nil, "", "", fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	if len(segs) == 0 {
		return nil, "", "", fmt.Errorf("%w: %q names no child", ErrInvalidRef, ref.Path)
	}
	name := segs[len(segs)-1]
	if err := metadata.ValidateName(name); err != nil {
		return nil, "", "", err
	}
	pref := ref
	pref.Path = strings.Join(segs[:len(segs)-1], "/")
	parent, ppath, err := fs.resolve(ctx, pref)
	if err != nil {
		return nil, "", "", err
	}
	if parent.Type != metadata.TypeDir {
		return nil, "", "", fs.hide(ctx, parent.SpaceID, ppath, fmt.Errorf("%w: %s", ErrNotDir, ppath))
	}
	return parent, ppath, name, nil
}

// propagate reports a change below folderID; failures are logged as well as
// returned, since the operation itself has already happened.
func (fs *FS) propagate(ctx context.Context, sid, folderID string, delta int64) error {
	if err := fs.meta.Propagate(ctx, sid, folderID, delta); err != nil {
		fs.log.ErrorContext(ctx, "propagation failed; tree sizes may lag until check --repair", "space", sid, "folder", folderID, "delta", delta, "err", err)
		return err
	}
	return nil
}

// deleteBlob removes a blob that nothing references any more. A failure
// leaves an orphan for the checker, so it is logged, not returned.
func (fs *FS) deleteBlob(ctx context.Context, sid, blobID string) {
	if blobID == "" {
		return
	}
	if err := fs.blobs.Delete(context.WithoutCancel(ctx), BlobKey(sid, blobID)); err != nil {
		fs.log.WarnContext(ctx, "could not delete an unreferenced blob; check will report it as an orphan", "space", sid, "blob", blobID, "err", err)
	}
}
