package metadatatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// and of every handle reopen returns (t.Cleanup).
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
		{"Concurrency", concurrencyTests},
		{"Coherence", coherenceTests},
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

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, format string, args ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", fmt.Sprintf(format, args...), err, target)
	}
}

func childNames(l *metadata.Listing) []string {
	names := make([]string, len(l.Children))
	for i, n := range l.Children {
		names[i] = n.Name
	}
	return names
}

func childIDs(l *metadata.Listing) []string {
	ids := make([]string, len(l.Children))
	for i, n := range l.Children {
		ids[i] = n.ID
	}
	return ids
}

// findChild returns the listed child named name, or nil.
func findChild(l *metadata.Listing, name string) *metadata.Node {
	for _, n := range l.Children {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// diffRecord lists the stored fields in which got differs from want. Tree,
// Stamp and Version are not compared: the first two are not part of the
// record, the last is the encoder's business. Empty and nil collections are
// equal, so that a backend may return either.
func diffRecord(got, want *metadata.Node) string {
	var d []string
	cmp := func(field string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s: got %#v, want %#v", field, g, w))
		}
	}
	cmpBytes := func(field string, g, w []byte) {
		if !bytes.Equal(g, w) {
			d = append(d, fmt.Sprintf("%s: got %x, want %x", field, g, w))
		}
	}
	cmp("ID", got.ID, want.ID)
	cmp("SpaceID", got.SpaceID, want.SpaceID)
	cmp("ParentID", got.ParentID, want.ParentID)
	cmp("Name", got.Name, want.Name)
	cmp("Type", got.Type, want.Type)
	cmp("Size", got.Size, want.Size)
	cmp("BlobID", got.BlobID, want.BlobID)
	cmp("Mtime", got.Mtime, want.Mtime)
	cmp("Btime", got.Btime, want.Btime)
	cmpBytes("Checksums.SHA1", got.Checksums.SHA1, want.Checksums.SHA1)
	cmpBytes("Checksums.MD5", got.Checksums.MD5, want.Checksums.MD5)
	cmpBytes("Checksums.Adler32", got.Checksums.Adler32, want.Checksums.Adler32)
	cmp("MimeType", got.MimeType, want.MimeType)
	cmp("Trashed", got.Trashed, want.Trashed)
	if len(got.Props) != 0 || len(want.Props) != 0 {
		if !maps.Equal(got.Props, want.Props) {
			d = append(d, fmt.Sprintf("Props: got %v, want %v", got.Props, want.Props))
		}
	}
	return strings.Join(d, "; ")
}

func sameRecord(t *testing.T, what string, got, want *metadata.Node) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got no node", what)
		return
	}
	if d := diffRecord(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

// wantChildren fails the test unless the listing names exactly these
// children, in this order.
func wantChildren(t *testing.T, what string, l *metadata.Listing, names ...string) {
	t.Helper()
	if got := childNames(l); !slices.Equal(got, names) {
		t.Errorf("%s: children %q, want %q", what, got, names)
	}
}

// badIDs are strings that are not canonical node ids, each for a reason.
var badIDs = []string{
	"",
	"root",
	"../../etc",
	"../../../../../../../../../../../etc",  // 36 bytes
	"5E3B9C1A-0D2F-4A6B-8C7D-9E0F1A2B3C4D",  // upper case
	"5e3b9c1a0d2f4a6b8c7d9e0f1a2b3c4d",      // no hyphens
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4d0", // one byte long
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4",   // one byte short
	"5e3b9c1a-0d2f-4a6b-8c7d/9e0f1a2b3c4d",
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4\x00",
	"{5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c}",
	"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4g",
}

// badNames are invalid names, each for a reason.
var badNames = []string{
	"",
	".",
	"..",
	"a/b",
	"/",
	"../x",
	"a\x00b",
	strings.Repeat("n", metadata.MaxNameLen+1),
	"a\xffb",
	"\xc3", // a truncated two-byte rune
}

// oddNames are valid names that are easy to get wrong when they become
// paths, URLs, keys or SQL.
var oddNames = []string{
	strings.Repeat("n", metadata.MaxNameLen),
	strings.Repeat("é", (metadata.MaxNameLen-1)/2) + "x", // 255 bytes of mostly 2-byte runes
	"with space",
	" leading space",
	"trailing space ",
	"#hash",
	"100%",
	"100%25",
	"what?",
	"a&b=c",
	`double"quote`,
	"single'quote",
	"back\\slash",
	"star*",
	"colon:",
	"semi;colon",
	"pipe|",
	"<angle>",
	"tab\there",
	"日本語のファイル",
	"emoji 😀",
	".hidden",
	"..hidden",
	"...",
	"a..b",
	"~tilde",
	"-dash",
	"'; DROP TABLE nodes; --",
}
