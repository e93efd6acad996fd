package metadatatest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// Harness connects the suite to a backend.
type Harness struct {
	// New returns a fresh, empty store, and a function that opens another
	// independent handle on the same store, as a second process would (its
	// own caches, its own locks). New registers the cleanup of the store
	// and of every handle reopen returns (t.Cleanup). The suite runs its
	// tests in parallel (t.Parallel), so New is called concurrently and
	// each call must return a store of its own.
	New func(t *testing.T) (b metadata.Backend, reopen func(t *testing.T) metadata.Backend)

	// WaitCache, if not nil, returns once the reads made on b so far have
	// reached its cache. The coherence tests call it after warming a handle,
	// so that the read after a write elsewhere meets a cached entry and
	// must notice that it is stale, rather than simply missing. Backends
	// whose caches fill synchronously, or that have none, leave it nil.
	WaitCache func(b metadata.Backend)
}

// Run runs the whole suite. Every leaf test works on a fresh store.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("metadatatest: Harness.New is nil")
	}
	groups := []struct {
		name  string
		tests []test
	}{
		{"Spaces", spaceTests},
		{"Create", createTests},
		{"Update", updateTests},
		{"Move", moveTests},
		{"Trash", trashTests},
		{"Propagate", propagateTests},
		{"Purge", purgeTests},
		{"Prepare", prepareTests},
		{"Restore", restoreTests},
		{"Concurrency", concurrencyTests},
		{"Coherence", coherenceTests},
		{"State", stateTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t, h))
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s *store)
}

// store is a fresh store under test with one space to work in.
type store struct {
	t      *testing.T
	ctx    context.Context
	h      Harness
	b      metadata.Backend // the first handle
	reopen func(t *testing.T) metadata.Backend
	sid    string // the space; also the id of its root folder
}

func newStore(t *testing.T, h Harness) *store {
	b, reopen := h.New(t)
	if b == nil || reopen == nil {
		t.Fatal("metadatatest: Harness.New returned a nil backend or reopen")
	}
	s := &store{t: t, ctx: t.Context(), h: h, b: b, reopen: reopen}
	sp, _ := s.newSpace(b)
	s.sid = sp.ID
	return s
}

// second opens another handle on the store, as another process would.
func (s *store) second() metadata.Backend { return s.reopen(s.t) }

// settle lets asynchronous caches take in what was read (see
// Harness.WaitCache).
func (s *store) settle(bs ...metadata.Backend) {
	if s.h.WaitCache == nil {
		return
	}
	for _, b := range bs {
		s.h.WaitCache(b)
	}
}

// newSpace creates a space and its root folder: root.ID == space.ID ==
// root.SpaceID, a folder with no parent and no name. Version is left to the
// encoder.
func (s *store) newSpace(b metadata.Backend) (*metadata.Space, *metadata.Node) {
	s.t.Helper()
	id := uuid.NewString()
	now := time.Now().UnixNano()
	sp := &metadata.Space{
		ID:    id,
		Type:  metadata.SpaceProject,
		Name:  "space " + id[:8],
		Owner: uuid.NewString(),
		Quota: 1 << 30,
		Btime: now,
	}
	root := &metadata.Node{ID: id, SpaceID: id, Type: metadata.TypeDir, Mtime: now, Btime: now}
	if err := b.CreateSpace(s.ctx, sp, root); err != nil {
		s.t.Fatalf("CreateSpace %s: %v", id, err)
	}
	return sp, root
}

// fileNode returns a new file record with every field set.
func fileNode(sid, parentID, name string) *metadata.Node {
	now := time.Now().UnixNano()
	return &metadata.Node{
		ID:       uuid.NewString(),
		SpaceID:  sid,
		ParentID: parentID,
		Name:     name,
		Type:     metadata.TypeFile,
		Size:     4096,
		BlobID:   uuid.NewString(),
		Mtime:    now - 12345,
		Btime:    now - 67890,
		Checksums: metadata.Checksums{
			SHA1:    bytes.Repeat([]byte{0x5a}, 20),
			MD5:     bytes.Repeat([]byte{0xa5}, 16),
			Adler32: []byte{1, 2, 3, 4},
		},
		MimeType: "text/plain",
		Props:    map[string]string{"http://example.com/ns:color": "blue", "x": ""},
	}
}

// dirNode returns a new folder record.
func dirNode(sid, parentID, name string) *metadata.Node {
	now := time.Now().UnixNano()
	return &metadata.Node{
		ID:       uuid.NewString(),
		SpaceID:  sid,
		ParentID: parentID,
		Name:     name,
		Type:     metadata.TypeDir,
		Mtime:    now - 111,
		Btime:    now - 222,
		Props:    map[string]string{"owner-note": "folder"},
	}
}

func (s *store) create(n *metadata.Node) *metadata.Node {
	s.t.Helper()
	if err := s.b.CreateNode(s.ctx, n); err != nil {
		s.t.Fatalf("CreateNode %q in %s: %v", n.Name, n.ParentID, err)
	}
	return n
}

func (s *store) mkfile(parentID, name string) *metadata.Node {
	s.t.Helper()
	return s.create(fileNode(s.sid, parentID, name))
}

func (s *store) mkdir(parentID, name string) *metadata.Node {
	s.t.Helper()
	return s.create(dirNode(s.sid, parentID, name))
}

// chain creates folders root/names[0]/names[1]/... and returns them, root
// first.
func (s *store) chain(names ...string) []*metadata.Node {
	s.t.Helper()
	nodes := []*metadata.Node{s.read(s.b, s.sid)}
	for _, name := range names {
		nodes = append(nodes, s.mkdir(nodes[len(nodes)-1].ID, name))
	}
	return nodes
}

func (s *store) read(b metadata.Backend, id string) *metadata.Node {
	s.t.Helper()
	n, err := b.ReadNode(s.ctx, s.sid, id)
	if err != nil {
		s.t.Fatalf("ReadNode %s: %v", id, err)
	}
	return n
}

func (s *store) lookup(b metadata.Backend, parentID, name string) *metadata.Node {
	s.t.Helper()
	n, err := b.Lookup(s.ctx, s.sid, parentID, name)
	if err != nil {
		s.t.Fatalf("Lookup %q in %s: %v", name, parentID, err)
	}
	return n
}

// list lists a folder and fails the test if the listing has problems: in a
// store the suite wrote, no child may be unreadable.
func (s *store) list(b metadata.Backend, parentID string) *metadata.Listing {
	s.t.Helper()
	l, err := b.List(s.ctx, s.sid, parentID)
	if err != nil {
		s.t.Fatalf("List %s: %v", parentID, err)
	}
	if len(l.Problems) != 0 {
		s.t.Fatalf("List %s: problems %v", parentID, l.Problems)
	}
	return l
}

func (s *store) update(b metadata.Backend, id string, fn func(*metadata.Node)) *metadata.Node {
	s.t.Helper()
	n, err := b.UpdateNode(s.ctx, s.sid, id, func(n *metadata.Node) error { fn(n); return nil })
	if err != nil {
		s.t.Fatalf("UpdateNode %s: %v", id, err)
	}
	return n
}

func (s *store) move(b metadata.Backend, id, newParentID, newName string, replace bool) metadata.MoveResult {
	s.t.Helper()
	res, err := b.MoveNode(s.ctx, s.sid, id, newParentID, newName, replace)
	if err != nil {
		s.t.Fatalf("MoveNode %s to %q in %s: %v", id, newName, newParentID, err)
	}
	return res
}

func (s *store) trash(b metadata.Backend, id string) *metadata.Node {
	s.t.Helper()
	n, err := b.TrashNode(s.ctx, s.sid, id)
	if err != nil {
		s.t.Fatalf("TrashNode %s: %v", id, err)
	}
	return n
}

func (s *store) propagate(b metadata.Backend, id string, delta int64) {
	s.t.Helper()
	if err := b.Propagate(s.ctx, s.sid, id, delta); err != nil {
		s.t.Fatalf("Propagate %+d to %s: %v", delta, id, err)
	}
}

func (s *store) nsVersion(b metadata.Backend) cache.Stamp {
	s.t.Helper()
	v, err := b.NamespaceVersion(s.ctx, s.sid)
	if err != nil {
		s.t.Fatalf("NamespaceVersion: %v", err)
	}
	return v
}

// treeSize reads a folder's tree size.
func (s *store) treeSize(b metadata.Backend, id string) int64 {
	s.t.Helper()
	return s.read(b, id).Tree.Size
}
