package mpk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// The tests in this file break the store by hand, the way a crash, a full
// disk, a bad disk or a careless admin would, and check that the damage
// stays local and is reported, never spread and never a panic.

// TestCorruptChildren: a child whose record or link is damaged is left out
// of its parent's listing and reported in Problems; the other children are
// listed as usual, and every direct access to the damaged child reports
// ErrCorrupt (or ErrNotFound for a link to no record).
func TestCorruptChildren(t *testing.T) {
	s := newFxStore(t)
	p := s.create("", s.sid, "p", metadata.TypeDir)
	s.create("", p.ID, "good1", metadata.TypeFile)
	s.create("", p.ID, "good2", metadata.TypeDir)
	other := s.space(s.b)

	valid := func(id string) []byte {
		data, err := os.ReadFile(s.recPath(id))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	reencode := func(id string, change func(n *metadata.Node)) []byte {
		n, err := metadata.DecodeNode(valid(id))
		if err != nil {
			t.Fatal(err)
		}
		change(n)
		data, err := metadata.EncodeNode(n)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	badRecords := map[string]func(id string) []byte{
		"garbage":   func(string) []byte { return []byte("this is not msgpack \x00\xff\xc1") },
		"empty":     func(string) []byte { return nil },
		"truncated": func(id string) []byte { d := valid(id); return d[:len(d)/2] },
		"trailing":  func(id string) []byte { return append(valid(id), 0xc0) },
		"not a map": func(string) []byte { return []byte{0x93, 1, 2, 3} },
		"wrong id":  func(id string) []byte { return reencode(id, func(n *metadata.Node) { n.ID = uuid.NewString() }) },
		"wrong space": func(id string) []byte {
			return reencode(id, func(n *metadata.Node) { n.SpaceID = other })
		},
		"future version": func(id string) []byte {
			var m map[string]any
			if err := msgpack.Unmarshal(valid(id), &m); err != nil {
				t.Fatal(err)
			}
			m["v"] = metadata.FormatVersion + 1
			data, _ := msgpack.Marshal(m)
			return data
		},
	}
	ids := map[string]string{}
	for name, corrupt := range badRecords {
		n := s.create("", p.ID, name, metadata.TypeFile)
		ids[name] = n.ID
		replaceByHand(t, s.recPath(n.ID), corrupt(n.ID))
	}
	// A record larger than any record may be: a sparse file costs nothing.
	huge := s.create("", p.ID, "huge", metadata.TypeFile)
	ids["huge"] = huge.ID
	if err := os.Truncate(s.recPath(huge.ID), metadata.MaxReadSize+1); err != nil {
		t.Fatal(err)
	}
	// Damaged links: a regular file, a directory, a link to a non-id, and
	// a link to an id with no record (ErrNotFound, not corrupt).
	dir := s.folderDir(p.ID)
	if err := os.WriteFile(filepath.Join(dir, "plain file"), []byte(uuid.NewString()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "a directory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../etc/passwd", filepath.Join(dir, "bad target")); err != nil {
		t.Fatal(err)
	}
	dangling := uuid.NewString()
	if err := os.Symlink(dangling, filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}

	for hi, b := range []*Backend{s.b, s.reopen()} {
		l, err := b.List(s.ctx, s.sid, p.ID)
		if err != nil {
			t.Fatalf("handle %d: List: %v", hi+1, err)
		}
		var names []string
		for _, c := range l.Children {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, []string{"good1", "good2"}) {
			t.Errorf("handle %d: List shows %q, want only the good children", hi+1, names)
		}
		problems := map[string]metadata.Problem{}
		for _, pr := range l.Problems {
			problems[pr.Name] = pr
		}
		for name, id := range ids {
			pr, ok := problems[name]
			if !ok || !errors.Is(pr.Err, metadata.ErrCorrupt) || pr.ID != id {
				t.Errorf("handle %d: problem for %q = %+v, want ErrCorrupt with id %s", hi+1, name, pr, id)
			}
			_, err := b.ReadNode(s.ctx, s.sid, id)
			if !errors.Is(err, metadata.ErrCorrupt) {
				t.Errorf("handle %d: ReadNode of %q: %v, want ErrCorrupt", hi+1, name, err)
			}
			_, err = b.Lookup(s.ctx, s.sid, p.ID, name)
			if !errors.Is(err, metadata.ErrCorrupt) {
				t.Errorf("handle %d: Lookup of %q: %v, want ErrCorrupt", hi+1, name, err)
			}
		}
		for _, name := range []string{"plain file", "a directory", "bad target"} {
			if pr, ok := problems[name]; !ok || !errors.Is(pr.Err, metadata.ErrCorrupt) {
				t.Errorf("handle %d: problem for link %q = %+v, want ErrCorrupt", hi+1, name, pr)
			}
			if _, err := b.Lookup(s.ctx, s.sid, p.ID, name); !errors.Is(err, metadata.ErrCorrupt) {
				t.Errorf("handle %d: Lookup of link %q: %v, want ErrCorrupt", hi+1, name, err)
			}
		}
		if pr := problems["dangling"]; !errors.Is(pr.Err, metadata.ErrNotFound) || pr.ID != dangling {
			t.Errorf("handle %d: problem for a dangling link = %+v, want ErrNotFound with id %s", hi+1, pr, dangling)
		}
		if len(l.Problems) != len(ids)+4 {
			t.Errorf("handle %d: %d problems, want %d: %+v", hi+1, len(l.Problems), len(ids)+4, l.Problems)
		}
	}

	// Writes refuse to build on a corrupt record: they fail with
	// ErrCorrupt and leave the bytes for the checker to look at.
	id := ids["garbage"]
	before, _ := os.ReadFile(s.recPath(id))
	_, err := s.b.UpdateNode(s.ctx, s.sid, id, func(n *metadata.Node) error { n.MimeType = "x"; return nil })
	if !errors.Is(err, metadata.ErrCorrupt) {
		t.Errorf("UpdateNode of a corrupt record: %v, want ErrCorrupt", err)
	}
	if _, err := s.b.MoveNode(s.ctx, s.sid, id, s.sid, "moved", false); !errors.Is(err, metadata.ErrCorrupt) {
		t.Errorf("MoveNode of a corrupt record: %v, want ErrCorrupt", err)
	}
	if _, err := s.b.TrashNode(s.ctx, s.sid, id); !errors.Is(err, metadata.ErrCorrupt) {
		t.Errorf("TrashNode of a corrupt record: %v, want ErrCorrupt", err)
	}
	if after, _ := os.ReadFile(s.recPath(id)); !slices.Equal(after, before) {
		t.Error("a failed write changed the corrupt record")
	}
}

// TestCorruptTreeAttribute: a folder whose tree attribute is damaged reads
// as corrupt, and propagation through it stops with ErrCorrupt instead of
// inventing a size.
func TestCorruptTreeAttribute(t *testing.T) {
	s := newFxStore(t)
	d := s.create("", s.sid, "d", metadata.TypeDir)
	sub := s.create("", d.ID, "sub", metadata.TypeDir)
	if err := unix.Lsetxattr(s.recPath(d.ID), "user.s3dfs.tree", []byte{9, 9, 9}, 0); err != nil {
		t.Fatal(err)
	}
	b := s.reopen()
	if _, err := b.ReadNode(s.ctx, s.sid, d.ID); !errors.Is(err, metadata.ErrCorrupt) {
		t.Errorf("ReadNode: %v, want ErrCorrupt", err)
	}
	l, err := b.List(s.ctx, s.sid, s.sid)
	if err != nil || len(l.Children) != 0 || len(l.Problems) != 1 || !errors.Is(l.Problems[0].Err, metadata.ErrCorrupt) {
		t.Errorf("List of the parent = %+v, %v; want d as an ErrCorrupt problem", l, err)
	}
	if err := b.Propagate(s.ctx, s.sid, sub.ID, 1); !errors.Is(err, metadata.ErrCorrupt) {
		t.Errorf("Propagate through it: %v, want ErrCorrupt", err)
	}
	root, err := b.ReadNode(s.ctx, s.sid, s.sid)
	if err != nil || root.Tree.Size != 0 {
		t.Errorf("root after a propagation that stopped below it: %+v, %v; want tree size 0", root, err)
	}
}

// TestCorruptSpaceRecord: a damaged space record is reported by ReadSpace
// and passed to ListSpaces' bad callback; the other spaces are listed.
func TestCorruptSpaceRecord(t *testing.T) {
	s := newFxStore(t)
	broken := s.space(s.b)
	replaceByHand(t, filepath.Join(s.b.Root(), "spaces", broken[:2], broken, "space.mpk"), []byte{0xde, 0xad})
	// Strays in the spaces tree are not spaces.
	if err := os.WriteFile(filepath.Join(s.b.Root(), "spaces", "stray"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.b.Root(), "spaces", s.sid[:2], "stray"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b := s.reopen()
	if _, err := b.ReadSpace(s.ctx, broken); !errors.Is(err, metadata.ErrCorrupt) {
		t.Errorf("ReadSpace: %v, want ErrCorrupt", err)
	}
	var good, bad []string
	err := b.ListSpaces(s.ctx, func(sp *metadata.Space) error {
		good = append(good, sp.ID)
		return nil
	}, func(id string, err error) {
		if !errors.Is(err, metadata.ErrCorrupt) {
			t.Errorf("bad space %s: %v, want ErrCorrupt", id, err)
		}
		bad = append(bad, id)
	})
	if err != nil || !slices.Equal(good, []string{s.sid}) || !slices.Equal(bad, []string{broken}) {
		t.Errorf("ListSpaces: good %v, bad %v, %v; want good [%s], bad [%s]", good, bad, err, s.sid, broken)
	}
}

// TestLeftoverTempFiles: temp files left by writers that died (empty, torn
// or complete) do not disturb reads, listings or writes of the records next
// to them.
func TestLeftoverTempFiles(t *testing.T) {
	s := newFxStore(t)
	d := s.create("", s.sid, "d", metadata.TypeDir)
	f := s.create("", d.ID, "f", metadata.TypeFile)
	good, err := os.ReadFile(s.recPath(f.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{nil, good[:len(good)/3], good} {
		for _, id := range []string{f.ID, d.ID, s.sid} {
			tmp := filepath.Join(filepath.Dir(s.recPath(id)), "."+id+".mpk."+uuid.NewString()[:8]+".tmp")
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, b := range []*Backend{s.b, s.reopen()} {
		if n, err := b.ReadNode(s.ctx, s.sid, f.ID); err != nil || n.Name != "f" {
			t.Errorf("ReadNode: %+v, %v", n, err)
		}
		l, err := b.List(s.ctx, s.sid, d.ID)
		if err != nil || len(l.Children) != 1 || len(l.Problems) != 0 {
			t.Errorf("List: %+v, %v; want f alone", l, err)
		}
		if n, err := b.Lookup(s.ctx, s.sid, d.ID, "f"); err != nil || n.ID != f.ID {
			t.Errorf("Lookup: %+v, %v", n, err)
		}
	}
	if _, err := s.b.UpdateNode(s.ctx, s.sid, f.ID, func(n *metadata.Node) error { n.MimeType = "b"; return nil }); err != nil {
		t.Error(err)
	}
	if err := s.b.Propagate(s.ctx, s.sid, d.ID, 3); err != nil {
		t.Error(err)
	}
	if _, err := s.b.MoveNode(s.ctx, s.sid, f.ID, s.sid, "f", false); err != nil {
		t.Error(err)
	}
	if _, err := s.b.TrashNode(s.ctx, s.sid, f.ID); err != nil {
		t.Error(err)
	}
	if err := s.b.PurgeNode(s.ctx, s.sid, f.ID); err != nil {
		t.Error(err)
	}
	if n, err := s.reopen().ReadNode(s.ctx, s.sid, d.ID); err != nil || n.Tree.Size != 3 {
		t.Errorf("d after the writes: %+v, %v; want tree size 3", n, err)
	}
}

// TestNoPathEscapes: ids and names that would be paths outside the store
// are refused by every method, and nothing is created or changed outside
// the root (or inside it).
func TestNoPathEscapes(t *testing.T) {
	s := newFxStore(t)
	f := s.create("", s.sid, "f", metadata.TypeFile)
	d := s.create("", s.sid, "d", metadata.TypeDir)
	parent := filepath.Dir(s.b.Root())
	if err := os.MkdirAll(filepath.Join(parent, "outside", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	outsideBefore := storeEntries(t, parent)
	insideBefore := storeEntries(t, s.b.Root())

	ids := []string{
		"../../outside", "../../../outside/etc", "..", ".", "/etc", "/",
		"../../../../../../../../../../../etc", // 36 bytes
		strings.Repeat("../", 12),
		"..%2f..%2f" + uuid.NewString()[10:],
	}
	names := []string{"..", ".", "../x", "../../outside/pwned", "/etc/passwd", "x/../../y", "a\x00b"}
	ctx, sid, b := s.ctx, s.sid, s.b
	expect := func(err, target error, what string) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %v, want %v", what, err, target)
		}
	}
	for _, id := range ids {
		sp := &metadata.Space{ID: id, Type: metadata.SpacePersonal, Name: "x", Btime: 1}
		expect(b.CreateSpace(ctx, sp, &metadata.Node{ID: id, SpaceID: id, Type: metadata.TypeDir, Mtime: 1}), metadata.ErrInvalidID, "CreateSpace "+id)
		_, err := b.ReadSpace(ctx, id)
		expect(err, metadata.ErrInvalidID, "ReadSpace "+id)
		_, err = b.UpdateSpace(ctx, id, func(*metadata.Space) error { return nil })
		expect(err, metadata.ErrInvalidID, "UpdateSpace "+id)
		_, err = b.NamespaceVersion(ctx, id)
		expect(err, metadata.ErrInvalidID, "NamespaceVersion "+id)
		for _, pair := range [][2]string{{id, f.ID}, {sid, id}} {
			_, err = b.ReadNode(ctx, pair[0], pair[1])
			expect(err, metadata.ErrInvalidID, "ReadNode "+id)
			_, err = b.Lookup(ctx, pair[0], pair[1], "f")
			expect(err, metadata.ErrInvalidID, "Lookup "+id)
			_, err = b.List(ctx, pair[0], pair[1])
			expect(err, metadata.ErrInvalidID, "List "+id)
			_, err = b.UpdateNode(ctx, pair[0], pair[1], func(*metadata.Node) error { return nil })
			expect(err, metadata.ErrInvalidID, "UpdateNode "+id)
			_, err = b.TrashNode(ctx, pair[0], pair[1])
			expect(err, metadata.ErrInvalidID, "TrashNode "+id)
			expect(b.PurgeNode(ctx, pair[0], pair[1]), metadata.ErrInvalidID, "PurgeNode "+id)
			expect(b.Propagate(ctx, pair[0], pair[1], 1), metadata.ErrInvalidID, "Propagate "+id)
		}
		_, err = b.MoveNode(ctx, sid, f.ID, id, "x", false)
		expect(err, metadata.ErrInvalidID, "MoveNode into "+id)
		for _, n := range []*metadata.Node{
			{ID: id, SpaceID: sid, ParentID: sid, Name: "x", Type: metadata.TypeFile, Mtime: 1},
			{ID: uuid.NewString(), SpaceID: id, ParentID: sid, Name: "x", Type: metadata.TypeFile, Mtime: 1},
			{ID: uuid.NewString(), SpaceID: sid, ParentID: id, Name: "x", Type: metadata.TypeDir, Mtime: 1},
		} {
			expect(b.CreateNode(ctx, n), metadata.ErrInvalidID, "CreateNode with "+id)
		}
	}
	for _, name := range names {
		for _, typ := range []metadata.NodeType{metadata.TypeFile, metadata.TypeDir} {
			n := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: d.ID, Name: name, Type: typ, Mtime: 1}
			expect(b.CreateNode(ctx, n), metadata.ErrInvalidName, "CreateNode named "+name)
		}
		_, err := b.Lookup(ctx, sid, d.ID, name)
		expect(err, metadata.ErrInvalidName, "Lookup "+name)
		_, err = b.MoveNode(ctx, sid, f.ID, d.ID, name, true)
		expect(err, metadata.ErrInvalidName, "MoveNode to "+name)
	}
	if got := storeEntries(t, parent); !slices.Equal(got, outsideBefore) {
		t.Errorf("entries around the store changed:\nbefore %q\n after %q", outsideBefore, got)
	}
	if got := storeEntries(t, s.b.Root()); !slices.Equal(got, insideBefore) {
		t.Errorf("entries in the store changed:\nbefore %q\n after %q", insideBefore, got)
	}
}

// TestLinkWins: after a crash between the two steps of a move (the link was
// renamed, the record not yet rewritten), the link is the truth: List and
// Lookup show the node where the link is, under the link's name, with and
// without a cached listing.
func TestLinkWins(t *testing.T) {
	s := newFxStore(t)
	a := s.create("", s.sid, "a", metadata.TypeDir)
	b := s.create("", s.sid, "b", metadata.TypeDir)
	f := s.create("", a.ID, "f", metadata.TypeFile)
	if err := os.Rename(filepath.Join(s.folderDir(a.ID), "f"), filepath.Join(s.folderDir(b.ID), "g")); err != nil {
		t.Fatal(err)
	}
	for hi, be := range []*Backend{s.b, s.reopen()} {
		for round := range 2 { // without, then with the listing cached
			n, err := be.Lookup(s.ctx, s.sid, b.ID, "g")
			if err != nil || n.ID != f.ID || n.ParentID != b.ID || n.Name != "g" {
				t.Errorf("handle %d round %d: Lookup g = %+v, %v; want f as linked", hi+1, round, n, err)
			}
			l, err := be.List(s.ctx, s.sid, b.ID)
			if err != nil || len(l.Children) != 1 || l.Children[0].ID != f.ID || l.Children[0].Name != "g" || l.Children[0].ParentID != b.ID {
				t.Errorf("handle %d round %d: List b = %+v, %v; want f as linked", hi+1, round, l, err)
			}
			if _, err := be.Lookup(s.ctx, s.sid, a.ID, "f"); !errors.Is(err, metadata.ErrNotFound) {
				t.Errorf("handle %d round %d: Lookup in the old parent: %v, want ErrNotFound", hi+1, round, err)
			}
			be.WaitCache()
		}
	}
}

// TestCrashStates: states an interrupted operation leaves behind behave as
// the operation's doc comment promises.
func TestCrashStates(t *testing.T) {
	s := newFxStore(t)

	// CreateNode died after writing the record, before the link: the node
	// does not exist for its users, and PurgeNode removes the record.
	orphan := &metadata.Node{ID: uuid.NewString(), SpaceID: s.sid, ParentID: s.sid, Name: "orphan", Type: metadata.TypeFile, Mtime: 1}
	data, err := metadata.EncodeNode(orphan)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(s.recPath(orphan.ID)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.recPath(orphan.ID), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.Lookup(s.ctx, s.sid, s.sid, "orphan"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("Lookup of an unlinked record: %v, want ErrNotFound", err)
	}
	if l, err := s.b.List(s.ctx, s.sid, s.sid); err != nil || len(l.Children)+len(l.Problems) != 0 {
		t.Errorf("List shows an unlinked record: %+v, %v", l, err)
	}
	// The name is free, and a new create takes it.
	s.create("", s.sid, "orphan", metadata.TypeFile)
	if err := s.b.PurgeNode(s.ctx, s.sid, orphan.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.ReadNode(s.ctx, s.sid, orphan.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("ReadNode after purging an orphan: %v, want ErrNotFound", err)
	}

	// TrashNode died after making the trash entry, before the unlink: the
	// node is still live, and trashing it again finishes the job.
	f := s.create("", s.sid, "f", metadata.TypeFile)
	if err := os.Symlink(f.ID, filepath.Join(s.spaceDir(), "trash", f.ID)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.b.Lookup(s.ctx, s.sid, s.sid, "f"); err != nil || n.Trashed != 0 {
		t.Errorf("Lookup of a node with a leftover trash entry: %+v, %v", n, err)
	}
	if _, err := s.b.TrashNode(s.ctx, s.sid, f.ID); err != nil {
		t.Errorf("TrashNode over a leftover trash entry: %v", err)
	}
	if n, err := s.b.ReadNode(s.ctx, s.sid, f.ID); err != nil || n.Trashed == 0 {
		t.Errorf("after finishing the trash: %+v, %v", n, err)
	}
}

// TestFsyncDurability runs each write once with DurabilityFsync, whose
// paths (fdatasync, directory fsyncs) the suite does not take.
func TestFsyncDurability(t *testing.T) {
	s := newFxStore(t, func(o *Options) { o.Durability = DurabilityFsync })
	d := s.create("", s.sid, "d", metadata.TypeDir)
	f := s.create("", d.ID, "f", metadata.TypeFile)
	if _, err := s.b.UpdateNode(s.ctx, s.sid, f.ID, func(n *metadata.Node) error { n.MimeType = "b"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.b.Propagate(s.ctx, s.sid, d.ID, 9); err != nil {
		t.Fatal(err)
	}
	g := s.create("", s.sid, "g", metadata.TypeFile)
	if _, err := s.b.MoveNode(s.ctx, s.sid, f.ID, s.sid, "g", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.TrashNode(s.ctx, s.sid, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.b.PurgeNode(s.ctx, s.sid, g.ID); err != nil {
		t.Fatal(err)
	}
	b := s.reopen()
	n, err := b.Lookup(s.ctx, s.sid, s.sid, "g")
	if err != nil || n.ID != f.ID || n.MimeType != "b" {
		t.Errorf("Lookup g = %+v, %v", n, err)
	}
	if n, err := b.ReadNode(s.ctx, s.sid, d.ID); err != nil || n.Trashed == 0 || n.Tree.Size != 9 {
		t.Errorf("trashed d = %+v, %v", n, err)
	}
}
