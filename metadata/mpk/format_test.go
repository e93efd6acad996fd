package mpk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// The tests in this file pin the on-disk format and count what the write
// paths cost in inodes. They spell paths out by hand instead of calling the
// layout functions, so that a change of the layout fails here and is a
// decision, not an accident.

// fxStore is a store in a temp directory with one space, for the tests of
// this package.
type fxStore struct {
	t    *testing.T
	ctx  context.Context
	b    *Backend
	opts Options
	sid  string
}

func newFxStore(t *testing.T, change ...func(*Options)) *fxStore {
	t.Helper()
	opts := DefaultOptions(filepath.Join(t.TempDir(), "store"))
	for _, c := range change {
		c(&opts)
	}
	s := &fxStore{t: t, ctx: context.Background(), opts: opts}
	s.b = s.reopen()
	s.sid = s.space(s.b)
	return s
}

// reopen opens another Backend on the store, as another process would.
func (s *fxStore) reopen() *Backend {
	s.t.Helper()
	b, err := New(s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { b.Close() })
	return b
}

func (s *fxStore) space(b *Backend) string {
	s.t.Helper()
	sid := uuid.NewString()
	sp := &metadata.Space{ID: sid, Type: metadata.SpaceProject, Name: "fx", Btime: 1}
	if err := b.CreateSpace(s.ctx, sp, &metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: 1}); err != nil {
		s.t.Fatal(err)
	}
	return sid
}

// idIn returns a new node id in the shard directory prefix: tests that count
// inodes put nodes into a shard that exists, so that no shard directory is
// created on the way.
func idIn(prefix string) string { return prefix + uuid.NewString()[2:] }

func (s *fxStore) create(id, parentID, name string, typ metadata.NodeType) *metadata.Node {
	s.t.Helper()
	if id == "" {
		id = uuid.NewString()
	}
	n := &metadata.Node{ID: id, SpaceID: s.sid, ParentID: parentID, Name: name, Type: typ, Mtime: 1, MimeType: "a"}
	if err := s.b.CreateNode(s.ctx, n); err != nil {
		s.t.Fatalf("CreateNode %q: %v", name, err)
	}
	return n
}

// Paths spelled out for this test file (see the comment at the top).
func (s *fxStore) spaceDir() string {
	return filepath.Join(s.b.Root(), "spaces", s.sid[:2], s.sid)
}
func (s *fxStore) recPath(id string) string {
	return filepath.Join(s.spaceDir(), "nodes", id[:2], id+".mpk")
}
func (s *fxStore) folderDir(id string) string {
	return filepath.Join(s.spaceDir(), "nodes", id[:2], id)
}

// storeEntries describes every entry below root: "path/" for a directory,
// "path -> target" for a symlink, "path" for anything else.
func storeEntries(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case path == root:
		case d.IsDir():
			out = append(out, rel+"/")
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			out = append(out, rel+" -> "+target)
		default:
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestLayout pins the directory layout of a space with a folder, a file in
// it and a trashed file, and checks that each record file holds the record
// its name promises.
func TestLayout(t *testing.T) {
	s := newFxStore(t)
	d := s.create("", s.sid, "docs", metadata.TypeDir)
	f := s.create("", d.ID, "a.txt", metadata.TypeFile)
	g := s.create("", s.sid, "old", metadata.TypeFile)
	if _, err := s.b.TrashNode(s.ctx, s.sid, g.ID); err != nil {
		t.Fatal(err)
	}
	sp := "spaces/" + s.sid[:2] + "/" + s.sid
	want := map[string]bool{
		"locks":                 true,
		"indexes/":              true,
		"indexes/type/":         true,
		"indexes/type/project/": true,
		"indexes/type/project/" + s.sid + " -> " + s.sid: true,
		"spaces/":                             true,
		"spaces/" + s.sid[:2] + "/":           true,
		sp + "/":                              true,
		sp + "/space.mpk":                     true,
		sp + "/ns":                            true,
		sp + "/nodes/":                        true,
		sp + "/trash/":                        true,
		sp + "/trash/" + g.ID + " -> " + g.ID: true,
	}
	for _, n := range []*metadata.Node{{ID: s.sid, Type: metadata.TypeDir}, d, f, g} {
		shard := sp + "/nodes/" + n.ID[:2]
		want[shard+"/"] = true
		want[shard+"/"+n.ID+".mpk"] = true
		if n.Type == metadata.TypeDir {
			want[shard+"/"+n.ID+"/"] = true
		}
	}
	want[sp+"/nodes/"+s.sid[:2]+"/"+s.sid+"/docs -> "+d.ID] = true
	want[sp+"/nodes/"+d.ID[:2]+"/"+d.ID+"/a.txt -> "+f.ID] = true
	var wantList []string
	for e := range want {
		wantList = append(wantList, e)
	}
	slices.Sort(wantList)
	if got := storeEntries(t, s.b.Root()); !slices.Equal(got, wantList) {
		t.Errorf("store layout:\n got %q\nwant %q", got, wantList)
	}

	for _, n := range []*metadata.Node{d, f, g} {
		data, err := os.ReadFile(s.recPath(n.ID))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := metadata.DecodeNode(data)
		if err != nil || rec.ID != n.ID || rec.ParentID != n.ParentID || rec.Name != n.Name {
			t.Errorf("record file of %q holds %+v, %v", n.Name, rec, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(s.spaceDir(), "space.mpk"))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := metadata.DecodeSpace(data); err != nil || rec.ID != s.sid || rec.Name != "fx" {
		t.Errorf("space.mpk holds %+v, %v", rec, err)
	}
	if st, err := os.Stat(filepath.Join(s.spaceDir(), "ns")); err != nil || st.Size() != 0 {
		t.Errorf("ns file: %v, %v; want an empty file", st, err)
	}
}

// TestTreeAttribute pins the format of the tree attribute: 17 bytes on a
// folder's record file, a format byte 1, then tree size and tree mtime as
// little-endian int64. A file's record has none.
func TestTreeAttribute(t *testing.T) {
	s := newFxStore(t)
	d := s.create("", s.sid, "d", metadata.TypeDir)
	f := s.create("", d.ID, "f", metadata.TypeFile)
	if err := s.b.Propagate(s.ctx, s.sid, d.ID, 100); err != nil {
		t.Fatal(err)
	}
	n, err := s.b.ReadNode(s.ctx, s.sid, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	sz, err := unix.Lgetxattr(s.recPath(d.ID), "user.s3dfs.tree", buf)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 17)
	want[0] = 1
	binary.LittleEndian.PutUint64(want[1:], 100)
	binary.LittleEndian.PutUint64(want[9:], uint64(n.Tree.Mtime))
	if !bytes.Equal(buf[:sz], want) {
		t.Errorf("tree attribute = %x, want %x", buf[:sz], want)
	}
	if n.Tree.Mtime == 0 {
		t.Error("tree mtime is 0 after Propagate")
	}
	if _, err := unix.Lgetxattr(s.recPath(f.ID), "user.s3dfs.tree", buf); !errors.Is(err, unix.ENODATA) {
		t.Errorf("a file's record has a tree attribute (err %v)", err)
	}
}

// TestInodeCounts measures what each write creates, as the number of live
// entries in the store before and after (files, directories and symlinks;
// each is one inode). A replace by temp file and rename(2) creates one inode
// and frees one, so it nets 0 here: for those the test also checks that the
// record's inode changed (it was replaced, not rewritten in place, which is
// what keeps readers from seeing a torn record). doc.go has the table of
// inode creations these numbers come from.
func TestInodeCounts(t *testing.T) {
	s := newFxStore(t)
	shard := s.sid[:2] // exists: it holds the root's record
	root := s.b.Root()
	count := len(storeEntries(t, root))
	step := func(what string, want int, op func()) {
		t.Helper()
		op()
		n := len(storeEntries(t, root))
		if n-count != want {
			t.Errorf("%s: %+d live inodes, want %+d", what, n-count, want)
		}
		count = n
	}
	replaced := func(what, path string, op func()) {
		t.Helper()
		before := inodeOf(t, path)
		op()
		if inodeOf(t, path) == before {
			t.Errorf("%s: the record was rewritten in place, not replaced", what)
		}
	}
	var f, d *metadata.Node
	step("CreateNode file", 2, func() { f = s.create(idIn(shard), s.sid, "f", metadata.TypeFile) })
	step("CreateNode folder", 3, func() { d = s.create(idIn(shard), s.sid, "d", metadata.TypeDir) })
	update := func(id string) func() {
		return func() {
			_, err := s.b.UpdateNode(s.ctx, s.sid, id, func(n *metadata.Node) error { n.MimeType += "x"; return nil })
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	step("UpdateNode file", 0, func() { replaced("UpdateNode file", s.recPath(f.ID), update(f.ID)) })
	step("UpdateNode folder", 0, func() { replaced("UpdateNode folder", s.recPath(d.ID), update(d.ID)) })
	step("Propagate", 0, func() {
		if err := s.b.Propagate(s.ctx, s.sid, d.ID, 5); err != nil {
			t.Fatal(err)
		}
	})
	move := func(id, parentID, name string) func() {
		return func() {
			if _, err := s.b.MoveNode(s.ctx, s.sid, id, parentID, name, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	step("MoveNode file to another folder", 0, func() { replaced("MoveNode", s.recPath(f.ID), move(f.ID, d.ID, "f")) })
	step("MoveNode folder rename", 0, move(d.ID, s.sid, "d2"))
	// Trash creates the trash entry and a temp file for the trash mark, and
	// frees the link and the old record: 2 created, net 0.
	step("TrashNode", 0, func() {
		replaced("TrashNode", s.recPath(f.ID), func() {
			if _, err := s.b.TrashNode(s.ctx, s.sid, f.ID); err != nil {
				t.Fatal(err)
			}
		})
		if _, err := os.Lstat(filepath.Join(s.spaceDir(), "trash", f.ID)); err != nil {
			t.Errorf("TrashNode made no trash entry: %v", err)
		}
	})
	step("PurgeNode of a trashed file", -2, func() {
		if err := s.b.PurgeNode(s.ctx, s.sid, f.ID); err != nil {
			t.Fatal(err)
		}
	})
	// The first node of a shard also creates the shard directory.
	fresh := shard
	for fresh == shard || fresh == d.ID[:2] {
		fresh = uuid.NewString()[:2]
	}
	step("CreateNode file in a new shard", 3, func() { s.create(idIn(fresh), s.sid, "g", metadata.TypeFile) })
}

// TestPropagateCreatesNoFiles: a propagation step changes the folder's
// record in place (same inode: no rename happened, so no temp file was
// made) and leaves every directory of the store as it was.
func TestPropagateCreatesNoFiles(t *testing.T) {
	s := newFxStore(t)
	a := s.create("", s.sid, "a", metadata.TypeDir)
	b := s.create("", a.ID, "b", metadata.TypeDir)
	inodes := map[string]uint64{}
	for _, id := range []string{s.sid, a.ID, b.ID} {
		inodes[id] = inodeOf(t, s.recPath(id))
	}
	before := storeEntries(t, s.b.Root())
	for range 10 {
		if err := s.b.Propagate(s.ctx, s.sid, b.ID, 7); err != nil {
			t.Fatal(err)
		}
	}
	if after := storeEntries(t, s.b.Root()); !slices.Equal(after, before) {
		t.Errorf("Propagate changed the store's entries:\nbefore %q\n after %q", before, after)
	}
	for id, want := range inodes {
		if got := inodeOf(t, s.recPath(id)); got != want {
			t.Errorf("Propagate replaced the record of %s (inode %d -> %d)", id, want, got)
		}
		if n, err := s.b.ReadNode(s.ctx, s.sid, id); err != nil || n.Tree.Size != 70 {
			t.Errorf("tree size of %s = %v, %v; want 70", id, n, err)
		}
	}
}

// replaceByHand replaces a file the way a well-behaved writer does (temp
// file and rename), so that every cache sees a new inode.
func replaceByHand(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".by-hand"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// rawRecord decodes a record file into a generic map.
func rawRecord(t *testing.T, path string) map[string]msgpack.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]msgpack.RawMessage
	if err := msgpack.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUnknownFieldsSurvive: a record written by a newer version, with a
// field this one does not know (at the top level and inside the checksums),
// keeps both through every operation that rewrites the record.
func TestUnknownFieldsSurvive(t *testing.T) {
	s := newFxStore(t)
	d := s.create("", s.sid, "d", metadata.TypeDir)
	f := s.create("", s.sid, "f", metadata.TypeFile)
	path := s.recPath(f.ID)

	// Write f's record as a newer version would.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["zz-future"] = 42
	m["ck"] = map[string]any{"sha1": bytes.Repeat([]byte{1}, 20), "sha3-256": bytes.Repeat([]byte{7}, 32)}
	if data, err = msgpack.Marshal(m); err != nil {
		t.Fatal(err)
	}
	replaceByHand(t, path, data)

	check := func(what string) {
		t.Helper()
		raw := rawRecord(t, path)
		var future int64
		if err := msgpack.Unmarshal(raw["zz-future"], &future); err != nil || future != 42 {
			t.Errorf("%s: zz-future = %d, %v; want 42", what, future, err)
		}
		var ck map[string][]byte
		if err := msgpack.Unmarshal(raw["ck"], &ck); err != nil || !bytes.Equal(ck["sha3-256"], bytes.Repeat([]byte{7}, 32)) {
			t.Errorf("%s: checksums = %x, %v; want sha3-256 kept", what, ck, err)
		}
		n, err := s.reopen().ReadNode(s.ctx, s.sid, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.UnknownFields(); !slices.Equal(got, []string{"zz-future"}) {
			t.Errorf("%s: UnknownFields() = %q, want [zz-future]", what, got)
		}
	}
	check("as written")

	if _, err := s.b.UpdateNode(s.ctx, s.sid, f.ID, func(n *metadata.Node) error { n.MimeType = "changed"; return nil }); err != nil {
		t.Fatal(err)
	}
	check("after UpdateNode")
	var mime string
	if err := msgpack.Unmarshal(rawRecord(t, path)["mime"], &mime); err != nil || mime != "changed" {
		t.Errorf("after UpdateNode the record has mime %q, %v", mime, err)
	}
	if _, err := s.b.MoveNode(s.ctx, s.sid, f.ID, d.ID, "g", false); err != nil {
		t.Fatal(err)
	}
	check("after MoveNode")
	if _, err := s.b.TrashNode(s.ctx, s.sid, f.ID); err != nil {
		t.Fatal(err)
	}
	check("after TrashNode")
	if rawRecord(t, path)["tr"] == nil {
		t.Error("after TrashNode the record has no trash mark")
	}
}

// TestNoOpUpdateWritesNothing: an UpdateNode whose fn changes nothing
// leaves the record and its folder alone (no inode, no stale caches). It
// relies on equal records having equal bytes, also with many props, whose
// Go map order is random.
func TestNoOpUpdateWritesNothing(t *testing.T) {
	s := newFxStore(t)
	f := &metadata.Node{ID: uuid.NewString(), SpaceID: s.sid, ParentID: s.sid, Name: "f", Type: metadata.TypeFile, Mtime: 1, Props: map[string]string{}}
	for range 16 {
		f.Props[uuid.NewString()] = "v"
	}
	if err := s.b.CreateNode(s.ctx, f); err != nil {
		t.Fatal(err)
	}
	// Whole stats, not inode numbers: ext4 hands a freed inode number out
	// again within a few replaces.
	var recBefore, dirBefore unix.Stat_t
	if err := unix.Lstat(s.recPath(f.ID), &recBefore); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(s.folderDir(s.sid), &dirBefore); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := s.b.UpdateNode(s.ctx, s.sid, f.ID, func(*metadata.Node) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var recAfter, dirAfter unix.Stat_t
	if err := unix.Lstat(s.recPath(f.ID), &recAfter); err != nil {
		t.Fatal(err)
	}
	if recAfter.Ino != recBefore.Ino || recAfter.Ctim != recBefore.Ctim || recAfter.Mtim != recBefore.Mtim {
		t.Error("an UpdateNode that changed nothing replaced the record")
	}
	if err := unix.Lstat(s.folderDir(s.sid), &dirAfter); err != nil {
		t.Fatal(err)
	}
	if dirAfter.Mtim != dirBefore.Mtim {
		t.Error("an UpdateNode that changed nothing bumped the parent folder")
	}
}

// TestRecordStampsNeverRepeat: every version of a record has a stamp no
// earlier version had, even for same-size rewrites in quick succession, and
// although ext4 reuses the inode numbers that replaced records free. This is
// what lets a cache trust a matching stamp.
func TestRecordStampsNeverRepeat(t *testing.T) {
	s := newFxStore(t)
	f := s.create("", s.sid, "f", metadata.TypeFile)
	d := s.create("", s.sid, "d", metadata.TypeDir)
	seen := map[string]map[cache.Stamp]int{}
	record := func(id string, version int) {
		t.Helper()
		st, err := cache.NewPath(s.recPath(id)).Stat()
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] == nil {
			seen[id] = map[cache.Stamp]int{}
		}
		if v, ok := seen[id][st]; ok {
			t.Fatalf("version %d of %s has the stamp of version %d: %v", version, id, v, st)
		}
		seen[id][st] = version
	}
	record(f.ID, 0)
	record(d.ID, 0)
	for i := range 100 {
		mime := string(rune('b' - i%2)) // same size every time, never a no-op
		for _, id := range []string{f.ID, d.ID} {
			if _, err := s.b.UpdateNode(s.ctx, s.sid, id, func(n *metadata.Node) error { n.MimeType = mime; return nil }); err != nil {
				t.Fatal(err)
			}
			record(id, 2*i+1)
		}
		if err := s.b.Propagate(s.ctx, s.sid, d.ID, 0); err != nil {
			t.Fatal(err)
		}
		record(d.ID, 2*i+2)
	}
}
