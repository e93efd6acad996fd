package check_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// The fixture tests break a healthy store in exactly one way each, the way a
// crash, a bad disk or a careless admin would, and check that the checker
// reports exactly that (code, ids, evidence), that repair fixes it, that a
// second check is clean, and that no user data was lost on the way.

// base is the healthy store every fixture starts from:
//
//	/docs/a.txt        1100 bytes, with one revision (1000 bytes)
//	/docs/sub/b.bin    2000 bytes
//	/pics/c.jpg        3000 bytes
//	/empty             an empty file
//	/emptydir/         an empty folder
//	(trash) old/gone.txt
type base struct {
	ids   map[string]string // path -> node id
	files map[string][]byte // file node id -> content
}

func buildBase(t *testing.T, e *env) *base {
	ctx := context.Background()
	b := &base{ids: map[string]string{}, files: map[string][]byte{}}
	for _, d := range []string{"/docs", "/docs/sub", "/pics", "/emptydir", "/old"} {
		b.ids[d] = e.mkdir(t, d).ID
	}
	put := func(p string, data []byte) {
		ri := e.put(t, p, data)
		b.ids[p], b.files[ri.ID] = ri.ID, data
	}
	put("/docs/a.txt", payload(1, 1000))
	put("/docs/a.txt", payload(11, 1100))
	put("/docs/sub/b.bin", payload(2, 2000))
	put("/pics/c.jpg", payload(3, 3000))
	put("/old/gone.txt", payload(4, 400))
	delete(b.files, b.ids["/old/gone.txt"])
	ri, err := e.fs.TouchFile(ctx, e.ref("/empty"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b.ids["/empty"], b.files[ri.ID] = ri.ID, nil
	if err := e.fs.Delete(ctx, e.ref("/old")); err != nil {
		t.Fatal(err)
	}
	return b
}

// want is what a fixture expects.
type want struct {
	// codes are the findings, the first the one the fixture is about
	// (others are what the break implies, such as tree sizes that no
	// longer add up when a link is removed without propagating).
	codes                                  []check.Code
	node, parent, name, blob, upload, file string
	space                                  string // "-": none
	remedy                                 check.Remedy
	expected, actual                       string
	evidence                               func(t *testing.T, f *check.Finding)
	// lost are files whose content the break itself destroyed; moved
	// those that are no longer live (they stay readable otherwise).
	lost, notLive []string
	unrepairable  bool
	after         func(t *testing.T)
}

type fixture struct {
	code   check.Code
	name   string
	break_ func(t *testing.T, e *env, b *base) want
}

func TestFixtures(t *testing.T) {
	covered := map[check.Code]bool{}
	for _, fx := range fixtures {
		covered[fx.code] = true
		name := string(fx.code)
		if fx.name != "" {
			name += "/" + fx.name
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runFixture(t, fx)
		})
	}
	for _, cl := range check.Classes() {
		if !covered[cl.Code] {
			t.Errorf("no fixture for %s", cl.Code)
		}
	}
}

func runFixture(t *testing.T, fx fixture) {
	e := newEnv(t, s3Blobs)
	b := buildBase(t, e)
	checktest.AssertClean(t, e.fs)
	w := fx.break_(t, e, b)
	switch w.space {
	case "":
		w.space = e.sid
	case "-":
		w.space = ""
	}

	fds, sum := checktest.Check(t, e.fs, nil)
	if !sum.Complete {
		t.Fatalf("incomplete check: %v", sum.ErrorSamples)
	}
	got := checktest.Codes(fds)
	if !sameMultiset(got, w.codes) {
		for _, f := range fds {
			t.Logf("found: %s", f)
		}
		t.Fatalf("findings %v, want %v", got, w.codes)
	}
	var f *check.Finding
	for _, x := range fds {
		if x.Code == w.codes[0] {
			f = x
			break
		}
	}
	for _, c := range []struct{ what, got, want string }{
		{"node", f.Node, w.node}, {"parent", f.Parent, w.parent}, {"name", f.Name, w.name},
		{"blob", f.Blob, w.blob}, {"upload", f.Upload, w.upload}, {"file", f.File, w.file},
		{"remedy", string(f.Remedy), string(w.remedy)}, {"expected", f.Expected, w.expected}, {"actual", f.Actual, w.actual},
	} {
		if c.want != "" && c.got != c.want {
			t.Errorf("%s: %s %q, want %q", f.Code, c.what, c.got, c.want)
		}
	}
	if f.Space != w.space {
		t.Errorf("%s: space %q, want %q", f.Code, f.Space, w.space)
	}
	if cl, _ := check.ClassOf(f.Code); f.Severity != cl.Severity || f.Phase != cl.Phase {
		t.Errorf("%s: severity %s phase %s, want %s %s", f.Code, f.Severity, f.Phase, cl.Severity, cl.Phase)
	}
	if f.Detail == "" {
		t.Errorf("%s: no detail", f.Code)
	}
	if w.evidence != nil {
		w.evidence(t, f)
	}
	for _, x := range fds {
		if x.Repairable == w.unrepairable && x.Code == w.codes[0] {
			t.Errorf("%s: repairable %v", x.Code, x.Repairable)
		}
	}

	_, outs, rs := checktest.Repair(t, e.fs)
	if rs.Failed > 0 || rs.Skipped > 0 {
		t.Fatalf("repair: %d failed, %d skipped:%s", rs.Failed, rs.Skipped, checktest.Describe(outs))
	}
	if w.unrepairable {
		if rs.Left == "" {
			t.Errorf("an unrepairable finding left nothing")
		}
		fds, _ := checktest.Check(t, e.fs, nil)
		if codes := checktest.Codes(fds); !slices.Equal(codes, w.codes) {
			t.Errorf("after repair: %v, want %v left", codes, w.codes)
		}
	} else {
		fds, _ := checktest.Check(t, e.fs, nil)
		for _, f := range fds {
			t.Errorf("after repair: %s%s", f, checktest.Describe(outs))
		}
	}
	// No user data lost: every file of the base reads back by id.
	for id, data := range b.files {
		if slices.Contains(w.lost, id) || slices.Contains(w.notLive, id) {
			continue
		}
		if got := e.readID(t, id); !bytes.Equal(got, data) {
			t.Errorf("file %s: %d bytes after repair, want the %d it had", id, len(got), len(data))
		}
	}
	if w.after != nil {
		w.after(t)
	}
}

func sameMultiset(a, b []check.Code) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// readID reads a live file by its id.
func (e *env) readID(t *testing.T, id string) []byte {
	t.Helper()
	rc, _, err := e.fs.Download(context.Background(), decomposedfs.Reference{SpaceID: e.sid, NodeID: id}, 0, -1)
	if err != nil {
		t.Errorf("read %s: %v", id, err)
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("read %s: %v", id, err)
	}
	return b
}

func (e *env) rec(t *testing.T, id string) *metadata.Node {
	t.Helper()
	r := e.meta.ReadRaw(e.sid, id)
	if r.State != mpk.RecordOK {
		t.Fatalf("record %s: %s %v", id, r.State, r.Err)
	}
	return r.Node
}

// writeRecord writes a record file in place, as no writer of the store
// would (which is the point).
func (e *env) writeRecord(t *testing.T, n *metadata.Node) {
	t.Helper()
	data, err := metadata.EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	p := e.meta.RecordPath(n.SpaceID, n.ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func setTree(t *testing.T, path string, size, mtime int64) {
	t.Helper()
	var b [17]byte
	b[0] = 1
	binary.LittleEndian.PutUint64(b[1:], uint64(size))
	binary.LittleEndian.PutUint64(b[9:], uint64(mtime))
	if err := unix.Setxattr(path, "user.s3dfs.tree", b[:], 0); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) putBlob(t *testing.T, key string, data []byte, md map[string]string) {
	t.Helper()
	_, err := e.blobs.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), blobstore.PutOptions{Metadata: md})
	must(t, err)
}

func (e *env) lostAndFound(t *testing.T, id string) {
	t.Helper()
	ri, err := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: e.sid, NodeID: id})
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	if !strings.HasPrefix(ri.Path, "/lost+found/") {
		t.Errorf("node %s is at %s, not in /lost+found", id, ri.Path)
	}
	if ri.Props[check.PropReason] == "" {
		t.Errorf("node %s in lost+found without a reason property: %v", id, ri.Props)
	}
}

func linkText(parent, name string) string {
	return "parent " + parent + " name \"" + name + "\""
}

var fixtures = []fixture{
	{code: check.SpaceIncomplete, break_: func(t *testing.T, e *env, b *base) want {
		si, err := e.fs.CreateSpace(context.Background(), decomposedfs.SpaceSpec{Name: "half"})
		must(t, err)
		must(t, os.Remove(e.meta.SpacePath(si.ID)+"/space.mpk"))
		return want{codes: []check.Code{check.SpaceIncomplete}, space: si.ID, remedy: check.RemedyMoveAside,
			after: func(t *testing.T) {
				if exists(e.meta.SpacePath(si.ID)) {
					t.Errorf("the incomplete space's directory is still there")
				}
			}}
	}},
	{code: check.SpaceRecord, break_: func(t *testing.T, e *env, b *base) want {
		must(t, os.WriteFile(e.meta.SpacePath(e.sid)+"/space.mpk", []byte("garbage"), 0o644))
		return want{codes: []check.Code{check.SpaceRecord}, remedy: check.RemedyRebuildSpace,
			after: func(t *testing.T) {
				if _, err := e.fs.GetSpace(context.Background(), e.sid); err != nil {
					t.Errorf("space after repair: %v", err)
				}
			}}
	}},
	{code: check.SpaceRoot, break_: func(t *testing.T, e *env, b *base) want {
		must(t, os.WriteFile(e.meta.RecordPath(e.sid, e.sid), []byte{0x81, 0xa1}, 0o644))
		return want{codes: []check.Code{check.SpaceRoot}, node: e.sid, remedy: check.RemedyRebuildRecord,
			after: func(t *testing.T) {
				if ri := e.stat(t, "/"); ri.Size != 1100+2000+3000 {
					t.Errorf("root size %d after repair", ri.Size)
				}
			}}
	}},
	{code: check.NodeOutsideSpace, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		shard := "00"
		if c[:2] == shard {
			shard = "01"
		}
		dst := e.meta.SpacePath(e.sid) + "/nodes/" + shard + "/" + c + ".mpk"
		data, err := os.ReadFile(e.meta.RecordPath(e.sid, c))
		must(t, err)
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		must(t, os.WriteFile(dst, data, 0o644))
		return want{codes: []check.Code{check.NodeOutsideSpace}, file: rel(e, dst), remedy: check.RemedyMoveAside}
	}},
	{code: check.RecordCorrupt, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		bid := e.rec(t, c).BlobID
		data, err := os.ReadFile(e.meta.RecordPath(e.sid, c))
		must(t, err)
		must(t, os.WriteFile(e.meta.RecordPath(e.sid, c), data[:len(data)/2], 0o644))
		return want{codes: []check.Code{check.RecordCorrupt}, node: c, parent: b.ids["/pics"], name: "c.jpg", remedy: check.RemedyRebuildRecord,
			evidence: func(t *testing.T, f *check.Finding) {
				if f.Facts == nil || !f.Facts.Linked || f.Facts.BlobID != bid || f.Facts.BlobSize != 3000 {
					t.Errorf("evidence %+v: want linked, blob %s of 3000 bytes found by its back-pointer", f.Facts, bid)
				}
			}}
	}},
	{code: check.RecordEmpty, break_: func(t *testing.T, e *env, b *base) want {
		// A create killed between creating its record and writing it: a
		// leftover like an unlinked record, so a warning, not an error.
		id := uuid.NewString()
		p := e.meta.RecordPath(e.sid, id)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, nil, 0o644))
		return want{codes: []check.Code{check.RecordEmpty}, node: id, remedy: check.RemedyMoveAside,
			evidence: func(t *testing.T, f *check.Finding) {
				if f.Severity != check.Warning {
					t.Errorf("an empty unlinked record is a %s, want a warning", f.Severity)
				}
			},
			after: func(t *testing.T) {
				if exists(p) {
					t.Errorf("the empty record is still there")
				}
			}}
	}},
	{code: check.RecordInvalid, break_: func(t *testing.T, e *env, b *base) want {
		sub := b.ids["/docs/sub"]
		data, err := os.ReadFile(e.meta.RecordPath(e.sid, sub))
		must(t, err)
		var m map[string]any
		must(t, msgpack.Unmarshal(data, &m))
		delete(m, "t") // the type, a required field
		data, err = msgpack.Marshal(m)
		must(t, err)
		must(t, os.WriteFile(e.meta.RecordPath(e.sid, sub), data, 0o644))
		return want{codes: []check.Code{check.RecordInvalid}, node: sub, parent: b.ids["/docs"], name: "sub", remedy: check.RemedyRebuildRecord,
			after: func(t *testing.T) {
				if ri := e.stat(t, "/docs/sub"); !ri.IsDir() || ri.Size != 2000 {
					t.Errorf("/docs/sub after repair: dir %v size %d", ri.IsDir(), ri.Size)
				}
			}}
	}},
	{code: check.LinkDangling, break_: func(t *testing.T, e *env, b *base) want {
		ghost := uuid.NewString()
		must(t, os.Symlink(ghost, e.meta.FolderPath(e.sid, b.ids["/docs"])+"/ghost"))
		return want{codes: []check.Code{check.LinkDangling}, node: ghost, parent: b.ids["/docs"], name: "ghost", remedy: check.RemedyUnlinkEntry}
	}},
	{code: check.LinkInvalid, break_: func(t *testing.T, e *env, b *base) want {
		must(t, os.WriteFile(e.meta.FolderPath(e.sid, b.ids["/docs"])+"/junk", []byte("x"), 0o644))
		return want{codes: []check.Code{check.LinkInvalid}, parent: b.ids["/docs"], name: "junk", remedy: check.RemedyUnlinkEntry}
	}},
	{code: check.LinkMismatch, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		n := e.rec(t, c).Clone()
		n.Name = "old.jpg" // a move that renamed the link and died before the record
		e.writeRecord(t, n)
		return want{codes: []check.Code{check.LinkMismatch}, node: c, parent: b.ids["/pics"], name: "c.jpg", remedy: check.RemedyRewriteRecord,
			expected: linkText(b.ids["/pics"], "c.jpg"), actual: linkText(b.ids["/pics"], "old.jpg"),
			after: func(t *testing.T) {
				if got := e.rec(t, c).Name; got != "c.jpg" {
					t.Errorf("record name %q after repair", got)
				}
			}}
	}},
	{code: check.LinkDuplicate, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		must(t, os.Symlink(c, e.meta.FolderPath(e.sid, b.ids["/pics"])+"/dup"))
		// The file counts twice below /pics and the root while both links
		// stand: their tree sizes disagree with the walk.
		return want{codes: []check.Code{check.LinkDuplicate, check.TreeSize, check.TreeSize}, node: c, parent: b.ids["/pics"], name: "dup",
			remedy: check.RemedyUnlinkEntry,
			evidence: func(t *testing.T, f *check.Finding) {
				if f.Facts == nil || f.Facts.Keep == nil || f.Facts.Keep.Name != "c.jpg" {
					t.Errorf("keeps %+v, want the link c.jpg", f.Facts)
				}
			}}
	}},
	{code: check.DirMissing, break_: func(t *testing.T, e *env, b *base) want {
		must(t, os.Remove(e.meta.FolderPath(e.sid, b.ids["/emptydir"])))
		return want{codes: []check.Code{check.DirMissing}, node: b.ids["/emptydir"], remedy: check.RemedyMakeDir}
	}},
	{code: check.DirOrphan, break_: func(t *testing.T, e *env, b *base) want {
		id := uuid.NewString()
		must(t, os.MkdirAll(e.meta.FolderPath(e.sid, id), 0o755))
		return want{codes: []check.Code{check.DirOrphan}, node: id, remedy: check.RemedyMoveAside}
	}},
	{code: check.NodeUnlinked, name: "empty", break_: func(t *testing.T, e *env, b *base) want {
		// A create that wrote its record and died before the link.
		id := uuid.NewString()
		now := cache.NextTime()
		e.writeRecord(t, &metadata.Node{ID: id, SpaceID: e.sid, ParentID: b.ids["/docs"], Name: "x", Type: metadata.TypeFile, Mtime: now, Btime: now})
		return want{codes: []check.Code{check.NodeUnlinked}, node: id, remedy: check.RemedyMoveAside}
	}},
	{code: check.NodeUnlinked, name: "content", break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		must(t, os.Remove(e.meta.FolderPath(e.sid, b.ids["/pics"])+"/c.jpg"))
		return want{codes: []check.Code{check.NodeUnlinked, check.TreeSize, check.TreeSize}, node: c, remedy: check.RemedyLostAndFound,
			after: func(t *testing.T) { e.lostAndFound(t, c) }}
	}},
	{code: check.NodePending, break_: func(t *testing.T, e *env, b *base) want {
		id := uuid.NewString()
		now := cache.NextTime()
		_, err := e.meta.PrepareNode(context.Background(), &metadata.Node{ID: id, SpaceID: e.sid, ParentID: b.ids["/docs"], Name: "p",
			Type: metadata.TypeFile, Mtime: now, Btime: now})
		must(t, err) // and the upload died: never committed, never aborted
		return want{codes: []check.Code{check.NodePending}, node: id, remedy: check.RemedyMoveAside,
			after: func(t *testing.T) {
				if exists(e.meta.PendingPath(e.sid, id)) || exists(e.meta.RecordPath(e.sid, id)) {
					t.Errorf("the prepared node is still there")
				}
			}}
	}},
	{code: check.NodePending, name: "with-blob", break_: func(t *testing.T, e *env, b *base) want {
		// Killed between writing the record that names the new blob and
		// the rename that commits it: both the node and the blob go.
		id, bid := uuid.NewString(), uuid.NewString()
		key := decomposedfs.BlobKey(e.sid, bid)
		data := payload(9, 900)
		_, err := e.blobs.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), blobstore.PutOptions{
			Metadata: map[string]string{decomposedfs.MetaSpace: e.sid, decomposedfs.MetaNode: id}})
		must(t, err)
		now := cache.NextTime()
		_, err = e.meta.PrepareNode(context.Background(), &metadata.Node{ID: id, SpaceID: e.sid, ParentID: b.ids["/docs"], Name: "p",
			Type: metadata.TypeFile, Mtime: now, Btime: now, BlobID: bid, Size: int64(len(data))})
		must(t, err)
		return want{codes: []check.Code{check.NodePending, check.BlobOrphan}, node: id, remedy: check.RemedyMoveAside,
			after: func(t *testing.T) {
				if exists(e.meta.PendingPath(e.sid, id)) || exists(e.meta.RecordPath(e.sid, id)) {
					t.Errorf("the prepared node is still there")
				}
				if _, err := e.blobs.Stat(context.Background(), key); !errors.Is(err, blobstore.ErrNotFound) {
					t.Errorf("the prepared node's blob is still in place: %v", err)
				}
			}}
	}},
	{code: check.PendingDangling, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		must(t, os.Symlink(c, e.meta.PendingPath(e.sid, c)))
		return want{codes: []check.Code{check.PendingDangling}, node: c, remedy: check.RemedyMoveAside}
	}},
	{code: check.ChainBroken, break_: func(t *testing.T, e *env, b *base) want {
		// A folder whose record is gone, with a file still linked in it.
		p, y, yb := uuid.NewString(), uuid.NewString(), uuid.NewString()
		data := payload(7, 700)
		e.putBlob(t, decomposedfs.BlobKey(e.sid, yb), data, map[string]string{"space": e.sid, "node": y})
		must(t, os.MkdirAll(e.meta.FolderPath(e.sid, p), 0o755))
		must(t, os.Symlink(y, e.meta.FolderPath(e.sid, p)+"/y"))
		now := cache.NextTime()
		e.writeRecord(t, &metadata.Node{ID: y, SpaceID: e.sid, ParentID: p, Name: "y", Type: metadata.TypeFile, Size: 700, BlobID: yb, Mtime: now, Btime: now})
		return want{codes: []check.Code{check.ChainBroken, check.DirOrphan}, node: y, parent: p, name: "y", remedy: check.RemedyLostAndFound,
			after: func(t *testing.T) {
				e.lostAndFound(t, y)
				if got := e.readID(t, y); !bytes.Equal(got, data) {
					t.Errorf("the detached file lost its content")
				}
			}}
	}},
	{code: check.ChainCycle, break_: func(t *testing.T, e *env, b *base) want {
		// Two folders linked into each other, one holding a file.
		a, bb, f, fb := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
		data := payload(8, 800)
		e.putBlob(t, decomposedfs.BlobKey(e.sid, fb), data, map[string]string{"space": e.sid, "node": f})
		now := cache.NextTime()
		e.writeRecord(t, &metadata.Node{ID: a, SpaceID: e.sid, ParentID: bb, Name: "a", Type: metadata.TypeDir, Mtime: now, Btime: now})
		e.writeRecord(t, &metadata.Node{ID: bb, SpaceID: e.sid, ParentID: a, Name: "b", Type: metadata.TypeDir, Mtime: now, Btime: now})
		e.writeRecord(t, &metadata.Node{ID: f, SpaceID: e.sid, ParentID: a, Name: "f", Type: metadata.TypeFile, Size: 800, BlobID: fb, Mtime: now, Btime: now})
		for _, d := range []string{a, bb} {
			must(t, os.MkdirAll(e.meta.FolderPath(e.sid, d), 0o755))
		}
		must(t, os.Symlink(a, e.meta.FolderPath(e.sid, bb)+"/a"))
		must(t, os.Symlink(bb, e.meta.FolderPath(e.sid, a)+"/b"))
		must(t, os.Symlink(f, e.meta.FolderPath(e.sid, a)+"/f"))
		top := min(a, bb)
		// Tree values as a walk from the top sees them.
		if top == a {
			setTree(t, e.meta.RecordPath(e.sid, a), 800, 0)
		} else {
			setTree(t, e.meta.RecordPath(e.sid, a), 800, 0)
			setTree(t, e.meta.RecordPath(e.sid, bb), 800, 0)
		}
		return want{codes: []check.Code{check.ChainCycle}, node: top, remedy: check.RemedyLostAndFound,
			after: func(t *testing.T) {
				e.lostAndFound(t, top)
				if got := e.readID(t, f); !bytes.Equal(got, data) {
					t.Errorf("the file in the cycle lost its content")
				}
			}}
	}},
	{code: check.TempLeftover, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		p := filepath.Dir(e.meta.RecordPath(e.sid, c)) + "/." + c + ".mpk.deadbeef.tmp"
		must(t, os.WriteFile(p, []byte("half a record"), 0o644))
		return want{codes: []check.Code{check.TempLeftover}, file: rel(e, p), remedy: check.RemedyMoveAside}
	}},
	{code: check.StrayFile, break_: func(t *testing.T, e *env, b *base) want {
		p := filepath.Dir(e.meta.RecordPath(e.sid, b.ids["/pics/c.jpg"])) + "/README"
		must(t, os.WriteFile(p, []byte("notes"), 0o644))
		return want{codes: []check.Code{check.StrayFile}, file: rel(e, p), remedy: check.RemedyMoveAside}
	}},
	{code: check.LockStale, break_: func(t *testing.T, e *env, b *base) want {
		id := uuid.NewString()
		p := filepath.Dir(e.meta.RecordPath(e.sid, id)) + "/" + id + ".lock"
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, nil, 0o644))
		return want{codes: []check.Code{check.LockStale}, node: id, file: rel(e, p), remedy: check.RemedyMoveAside}
	}},
	{code: check.TrashDangling, break_: func(t *testing.T, e *env, b *base) want {
		id := uuid.NewString()
		must(t, os.Symlink(id, e.meta.TrashEntryPath(e.sid, id)))
		return want{codes: []check.Code{check.TrashDangling}, node: id, remedy: check.RemedyRemoveTrashItem}
	}},
	{code: check.TrashInvalid, break_: func(t *testing.T, e *env, b *base) want {
		p := e.meta.SpacePath(e.sid) + "/trash/junk"
		must(t, os.WriteFile(p, nil, 0o644))
		return want{codes: []check.Code{check.TrashInvalid}, file: rel(e, p), remedy: check.RemedyRemoveTrashItem}
	}},
	{code: check.TrashLinked, break_: func(t *testing.T, e *env, b *base) want {
		// A trash that wrote its trash entry and died before the unlink.
		c := b.ids["/pics/c.jpg"]
		must(t, os.Symlink(c, e.meta.TrashEntryPath(e.sid, c)))
		return want{codes: []check.Code{check.TrashLinked}, node: c, remedy: check.RemedyUntrash,
			after: func(t *testing.T) {
				if exists(e.meta.TrashEntryPath(e.sid, c)) {
					t.Errorf("the trash entry is still there")
				}
			}}
	}},
	{code: check.TrashUnmarked, break_: func(t *testing.T, e *env, b *base) want {
		// A trash that unlinked and died before the mark.
		c := b.ids["/pics/c.jpg"]
		must(t, e.fs.Delete(context.Background(), e.ref("/pics/c.jpg")))
		n := e.rec(t, c).Clone()
		n.Trashed = 0
		e.writeRecord(t, n)
		return want{codes: []check.Code{check.TrashUnmarked}, node: c, remedy: check.RemedyMarkTrashed, notLive: []string{c},
			after: func(t *testing.T) { inTrash(t, e, c) }}
	}},
	{code: check.TrashEntryMissing, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		must(t, e.fs.Delete(context.Background(), e.ref("/pics/c.jpg")))
		must(t, os.Remove(e.meta.TrashEntryPath(e.sid, c)))
		return want{codes: []check.Code{check.TrashEntryMissing}, node: c, remedy: check.RemedyAddTrashEntry, notLive: []string{c},
			after: func(t *testing.T) { inTrash(t, e, c) }}
	}},
	{code: check.TreeSize, break_: func(t *testing.T, e *env, b *base) want {
		d := b.ids["/docs"]
		n := e.meta.ReadRaw(e.sid, d)
		setTree(t, e.meta.RecordPath(e.sid, d), n.Tree.Size+5, n.Tree.Mtime)
		return want{codes: []check.Code{check.TreeSize}, node: d, remedy: check.RemedyRecomputeTree, expected: "3100", actual: "3105"}
	}},
	{code: check.TreeMtime, break_: func(t *testing.T, e *env, b *base) want {
		d := b.ids["/docs"]
		n := e.meta.ReadRaw(e.sid, d)
		setTree(t, e.meta.RecordPath(e.sid, d), n.Tree.Size, 1)
		return want{codes: []check.Code{check.TreeMtime}, node: d, remedy: check.RemedyRecomputeTree, actual: "1"}
	}},
	{code: check.BlobMissing, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		key := decomposedfs.BlobKey(e.sid, e.rec(t, c).BlobID)
		must(t, e.blobs.Delete(context.Background(), key))
		return want{codes: []check.Code{check.BlobMissing}, node: c, blob: key, remedy: check.RemedyLostAndFound, lost: []string{c},
			after: func(t *testing.T) {
				e.lostAndFound(t, c)
				n := e.rec(t, c)
				if n.BlobID != "" || n.Size != 0 || n.Props[check.PropMissingSize] != "3000" {
					t.Errorf("after repair: blob %q size %d props %v", n.BlobID, n.Size, n.Props)
				}
			}}
	}},
	{code: check.BlobSize, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		key := decomposedfs.BlobKey(e.sid, e.rec(t, c).BlobID)
		e.putBlob(t, key, payload(3, 2999), map[string]string{"space": e.sid, "node": c})
		return want{codes: []check.Code{check.BlobSize}, node: c, blob: key, remedy: check.RemedyFixSize, lost: []string{c},
			after: func(t *testing.T) {
				if ri := e.stat(t, "/pics/c.jpg"); ri.Size != 2999 {
					t.Errorf("size %d after repair, want the blob's 2999", ri.Size)
				}
			}}
	}},
	{code: check.BlobShared, break_: func(t *testing.T, e *env, b *base) want {
		c := b.ids["/pics/c.jpg"]
		n := e.rec(t, c).Clone()
		n.ID, n.Name = uuid.NewString(), "c2.jpg"
		e.writeRecord(t, n)
		must(t, os.Symlink(n.ID, e.meta.FolderPath(e.sid, b.ids["/pics"])+"/c2.jpg"))
		must(t, e.meta.Propagate(context.Background(), e.sid, b.ids["/pics"], 3000))
		return want{codes: []check.Code{check.BlobShared}, blob: decomposedfs.BlobKey(e.sid, n.BlobID), remedy: check.RemedyCopyBlob,
			evidence: func(t *testing.T, f *check.Finding) {
				if f.Facts == nil || !sameMultiset(toCodes(f.Facts.Nodes), toCodes([]string{c, n.ID})) {
					t.Errorf("nodes %+v, want %s and %s", f.Facts, c, n.ID)
				}
			},
			after: func(t *testing.T) {
				if e.rec(t, n.ID).BlobID == e.rec(t, c).BlobID {
					t.Errorf("still shared")
				}
				if got := e.readID(t, n.ID); !bytes.Equal(got, b.files[c]) {
					t.Errorf("the copy differs")
				}
			}}
	}},
	{code: check.BlobOrphan, break_: func(t *testing.T, e *env, b *base) want {
		key := decomposedfs.BlobKey(e.sid, uuid.NewString())
		e.putBlob(t, key, payload(9, 900), map[string]string{"space": e.sid, "node": uuid.NewString()})
		return want{codes: []check.Code{check.BlobOrphan}, blob: key, remedy: check.RemedyQuarantineBlob,
			evidence: func(t *testing.T, f *check.Finding) {
				if f.Bytes != 900 || f.Facts == nil || f.Facts.Meta["node"] == "" {
					t.Errorf("orphan of %d bytes with back-pointers %+v", f.Bytes, f.Facts)
				}
			},
			after: func(t *testing.T) { quarantined(t, e, key) }}
	}},
	{code: check.BlobForeign, break_: func(t *testing.T, e *env, b *base) want {
		e.putBlob(t, "ab/not-a-blob", []byte("x"), nil)
		return want{codes: []check.Code{check.BlobForeign}, space: "-", blob: "ab/not-a-blob", remedy: check.RemedyNone, unrepairable: true}
	}},
	{code: check.UploadCorrupt, break_: func(t *testing.T, e *env, b *base) want {
		id := uuid.NewString()
		must(t, os.MkdirAll(e.root+"/uploads", 0o755))
		must(t, os.WriteFile(e.meta.UploadPath(id), nil, 0o644))
		return want{codes: []check.Code{check.UploadCorrupt}, space: "-", upload: id, remedy: check.RemedyMoveAside}
	}},
	{code: check.UploadStale, break_: func(t *testing.T, e *env, b *base) want {
		ctx := context.Background()
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/docs/big"), Size: 100})
		must(t, err)
		_, err = e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(payload(10, 40)), nil)
		must(t, err)
		u, err := e.meta.UpdateUpload(ctx, s.ID, func(u *metadata.Upload) error { u.Expires = time.Now().Add(-time.Hour).UnixNano(); return nil })
		must(t, err)
		tail := decomposedfs.BlobKey(e.sid, u.Tails[0].BlobID)
		return want{codes: []check.Code{check.UploadStale}, upload: s.ID, remedy: check.RemedyAbortUpload,
			after: func(t *testing.T) {
				quarantined(t, e, tail)
				if _, err := e.meta.ReadUpload(ctx, s.ID); err == nil {
					t.Errorf("the stale upload's record is still there")
				}
			}}
	}},
	{code: check.UploadOrphan, break_: func(t *testing.T, e *env, b *base) want {
		id, gone := uuid.NewString(), uuid.NewString()
		now := time.Now().UnixNano()
		must(t, e.meta.CreateUpload(context.Background(), &metadata.Upload{ID: id, SpaceID: gone, ParentID: gone, Name: "x", NodeID: uuid.NewString(),
			Size: 10, Created: now, Expires: now + int64(time.Hour), BlobID: uuid.NewString(), PartSize: 8 << 20}))
		return want{codes: []check.Code{check.UploadOrphan}, upload: id, space: gone, remedy: check.RemedyAbortUpload}
	}},
	{code: check.UploadTailMissing, break_: func(t *testing.T, e *env, b *base) want {
		ctx := context.Background()
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/docs/big"), Size: 100})
		must(t, err)
		_, err = e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(payload(10, 40)), nil)
		must(t, err)
		u, err := e.meta.ReadUpload(ctx, s.ID)
		must(t, err)
		tail := decomposedfs.BlobKey(e.sid, u.Tails[0].BlobID)
		must(t, e.blobs.Delete(ctx, tail))
		return want{codes: []check.Code{check.UploadTailMissing}, upload: s.ID, blob: tail, remedy: check.RemedyAbortUpload}
	}},
	{code: check.QuotaReservation, break_: func(t *testing.T, e *env, b *base) want {
		id := uuid.NewString()
		_, err := e.meta.UpdateSpace(context.Background(), e.sid, func(s *metadata.Space) error {
			s.Quota = 1 << 30
			return nil
		})
		must(t, err)
		err = e.meta.UpdateReservations(context.Background(), e.sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
			return metadata.ReservationEdit{Put: []metadata.Reservation{{ID: id, Bytes: 4096, Expires: time.Now().Add(time.Hour).UnixNano()}}}, nil
		})
		must(t, err)
		return want{codes: []check.Code{check.QuotaReservation}, upload: id, remedy: check.RemedyDropReservation,
			after: func(t *testing.T) {
				rs, err := e.meta.ReadReservations(context.Background(), e.sid)
				must(t, err)
				if len(rs) != 0 {
					t.Errorf("reservations left: %+v", rs)
				}
			}}
	}},
	{code: check.RevisionDangling, break_: func(t *testing.T, e *env, b *base) want {
		a := b.ids["/docs/a.txt"]
		rev := e.rec(t, a).Revisions[0]
		key := decomposedfs.BlobKey(e.sid, rev.BlobID)
		must(t, e.blobs.Delete(context.Background(), key))
		return want{codes: []check.Code{check.RevisionDangling}, node: a, name: rev.ID, blob: key, remedy: check.RemedyDropRevision,
			after: func(t *testing.T) {
				if revs := e.rec(t, a).Revisions; len(revs) != 0 {
					t.Errorf("revisions left: %+v", revs)
				}
			}}
	}},
}

func toCodes(s []string) []check.Code {
	out := make([]check.Code, len(s))
	for i, v := range s {
		out[i] = check.Code(v)
	}
	return out
}

func rel(e *env, p string) string { return strings.TrimPrefix(p, e.root+"/") }

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func inTrash(t *testing.T, e *env, id string) {
	t.Helper()
	items, err := e.fs.ListTrash(context.Background(), e.sid)
	must(t, err)
	for _, it := range items {
		if it.ID == id {
			return
		}
	}
	t.Errorf("node %s is not in the trash", id)
}

// quarantined checks that a blob left its key for the quarantine prefix.
func quarantined(t *testing.T, e *env, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.blobs.Stat(ctx, key); err == nil {
		t.Errorf("blob %s is still there", key)
	}
	found := false
	err := e.blobs.List(ctx, check.DefaultQuarantinePrefix, func(bi blobstore.Info) error {
		if strings.HasSuffix(bi.Key, "/"+key) {
			found = true
		}
		return nil
	})
	must(t, err)
	if !found {
		t.Errorf("blob %s is not in the quarantine", key)
	}
}
