package bench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

func TestDiffLines(t *testing.T) {
	a := []string{
		"w:/\td\t30\t3 children",
		"w:/a\tf\t10",
		"w:/b\tf\t10",
		"w:/c\tf\t10",
	}
	b := []string{
		"w:/\td\t31\t3 children",
		"w:/a\tf\t10",
		"w:/b2\tf\t10",
		"w:/c\tf\t11",
	}
	diffs, total := diffLines(a, b, 10)
	want := []Difference{
		{Path: "w:/", A: a[0], B: b[0]},
		{Path: "w:/b", A: a[2]},
		{Path: "w:/b2", B: b[2]},
		{Path: "w:/c", A: a[3], B: b[3]},
	}
	if total != len(want) || len(diffs) != len(want) {
		t.Fatalf("%d differences (%v), want %d", total, diffs, len(want))
	}
	for i := range want {
		if diffs[i] != want[i] {
			t.Errorf("difference %d = %+v, want %+v", i, diffs[i], want[i])
		}
	}
	if d, n := diffLines(a, a, 10); len(d) != 0 || n != 0 {
		t.Errorf("a tree differs from itself: %v", d)
	}
	if d, n := diffLines(a, nil, 2); len(d) != 2 || n != 4 {
		t.Errorf("limit: %d shown of %d", len(d), n)
	}
}

func TestMismatchErrorNamesBothSides(t *testing.T) {
	a := []string{"work:/x\tf\t1", "work:/y\tf\t2"}
	b := []string{"work:/x\tf\t5"}
	err := mismatchError("create-files", "mpk", "postgres", a, b)
	if !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("%v is not ErrTreeMismatch", err)
	}
	msg := err.Error()
	for _, want := range []string{"create-files", "2 node(s)", "work:/x: mpk has f 1, postgres has f 5", "work:/y: mpk has f 2, postgres has (none)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if err := inconsistentError("x", "sqlite", []string{"w:/: tree size 1, children sum to 2"}); !errors.Is(err, ErrTreeMismatch) || !strings.Contains(err.Error(), "sqlite") {
		t.Errorf("inconsistentError = %v", err)
	}
}

// newTestFS is an FS on mpk with posix blobs in temp dirs.
func newTestFS(t *testing.T) (*decomposedfs.FS, metadata.Backend) {
	t.Helper()
	meta, err := mpk.New(mpk.DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	blobs, err := posix.New(t.TempDir(), posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fs, err := decomposedfs.New(meta, blobs, decomposedfs.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs, meta
}

func TestSnapshotTree(t *testing.T) {
	ctx := t.Context()
	fs, meta := newTestFS(t)
	si, err := fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "work"})
	if err != nil {
		t.Fatal(err)
	}
	ref := func(p string) decomposedfs.Reference { return decomposedfs.Reference{SpaceID: si.ID, Path: p} }
	if _, err := fs.CreateDir(ctx, ref("/a")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a/x", "/a/y", "/z"} {
		if _, err := fs.Upload(ctx, ref(p), strings.NewReader(p), decomposedfs.UploadOptions{Size: int64(len(p))}); err != nil {
			t.Fatal(err)
		}
	}
	spaces := map[string]string{"work": si.ID}
	s, err := snapshotTree(ctx, fs, spaces, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"work:/\td\t10\t2 children",
		"work:/a\td\t8\t2 children",
		"work:/a/x\tf\t4",
		"work:/a/y\tf\t4",
		"work:/z\tf\t2",
	}
	if strings.Join(s.Lines, "\n") != strings.Join(want, "\n") || s.Nodes != 5 || len(s.Inconsistent) > 0 {
		t.Fatalf("snapshot:\n%s\ninconsistent: %v", strings.Join(s.Lines, "\n"), s.Inconsistent)
	}

	// A scope is a subtree; a missing one is a line of its own, so that
	// it shows in a diff.
	sub, err := snapshotTree(ctx, fs, spaces, []Scope{{Space: "work", Path: "/a"}, {Space: "work", Path: "/gone"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Lines) != 4 || sub.Lines[0] != "work:/a\td\t8\t2 children" || sub.Lines[3] != "work:/gone\tmissing" || sub.Digest == s.Digest {
		t.Errorf("scoped snapshot: %q", sub.Lines)
	}
	short, err := snapshotTree(ctx, fs, spaces, nil, false)
	if err != nil || short.Lines != nil || short.Digest != s.Digest {
		t.Errorf("digest-only snapshot: %+v, %v", short, err)
	}

	// A file linked without propagating its size: the folders' tree
	// sizes no longer add up.
	now := time.Now().UnixNano()
	n := &metadata.Node{ID: uuid.NewString(), SpaceID: si.ID, ParentID: si.ID, Name: "sneaky", Type: metadata.TypeFile, Size: 7, Mtime: now}
	if err := meta.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	bad, err := snapshotTree(ctx, fs, spaces, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad.Inconsistent) != 1 || !strings.Contains(bad.Inconsistent[0], "work:/: tree size 10, children sum to 17") {
		t.Errorf("inconsistent = %q", bad.Inconsistent)
	}
}
