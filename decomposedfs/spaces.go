package decomposedfs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
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
	// Used is the tree size of the space root.
	Used  int64
	Mtime time.Time
	Etag  string
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

// GetSpace describes one space.
func (fs *FS) GetSpace(ctx context.Context, id string) (*SpaceInfo, error) {
	if err := metadata.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRef, err)
	}
	s, err := fs.meta.ReadSpace(ctx, id)
	if err != nil {
		return nil, err
	}
	return fs.spaceInfo(ctx, s)
}

func (fs *FS) spaceInfo(ctx context.Context, s *metadata.Space) (*SpaceInfo, error) {
	root, err := fs.meta.ReadNode(ctx, s.ID, s.ID)
	if err != nil {
		return nil, err
	}
	return &SpaceInfo{
		ID: s.ID, Type: s.Type, Name: s.Name, Owner: s.Owner, Quota: s.Quota,
		Used:  root.TreeSize(),
		Mtime: time.Unix(0, max(root.Mtime, root.Tree.Mtime)),
		Etag:  root.Etag(),
	}, nil
}

// SpaceFilter selects spaces in ListSpaces; zero fields match anything.
type SpaceFilter struct {
	Type  metadata.SpaceType
	Owner string
	Name  string
}

// ListSpaces returns the spaces that match f, sorted by name, then id.
// Spaces whose records cannot be read are logged and left out.
func (fs *FS) ListSpaces(ctx context.Context, f SpaceFilter) ([]*SpaceInfo, error) {
	var out []*SpaceInfo
	err := fs.meta.ListSpaces(ctx, func(s *metadata.Space) error {
		if (f.Type != "" && s.Type != f.Type) || (f.Owner != "" && s.Owner != f.Owner) || (f.Name != "" && s.Name != f.Name) {
			return nil
		}
		si, err := fs.spaceInfo(ctx, s)
		if err != nil {
			fs.log.WarnContext(ctx, "space root unreadable", "space", s.ID, "err", err)
			return nil
		}
		out = append(out, si)
		return nil
	}, func(id string, err error) {
		fs.log.WarnContext(ctx, "space record unreadable", "space", id, "err", err)
	})
	slices.SortFunc(out, func(a, b *SpaceInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}
