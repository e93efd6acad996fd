package storeid_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/storeid"
)

func blobDir(t *testing.T, dir string) blobstore.Store {
	t.Helper()
	b, err := posix.New(dir, posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func opener(b blobstore.Store) func() (blobstore.Store, error) {
	return func() (blobstore.Store, error) { return b, nil }
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		files []string
		want  storeid.State
	}{
		{"missing", nil, storeid.Missing},
		{"empty", []string{""}, storeid.Empty},
		{"users-only", []string{"users.json", "users.json.lock", "lost+found/"}, storeid.Empty},
		{"legacy", []string{"spaces/", "locks"}, storeid.Legacy},
		{"foreign", []string{"notes.txt"}, storeid.Foreign},
	} {
		root := filepath.Join(dir, tc.name)
		for _, f := range tc.files {
			p := filepath.Join(root, f)
			if strings.HasSuffix(f, "/") || f == "" {
				os.MkdirAll(p, 0o755)
			} else {
				os.MkdirAll(root, 0o755)
				os.WriteFile(p, nil, 0o644)
			}
		}
		got, id, err := storeid.Inspect(root)
		if err != nil || got != tc.want || id != nil {
			t.Errorf("%s: %v %v %v, want state %v", tc.name, got, id, err, tc.want)
		}
	}
}

// Create writes both halves; Verify accepts the pair, another blob
// directory holding the marker (a new mount point), and refuses an empty
// one, another store's, and another kind, naming both.
func TestCreateVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	blobsAt := filepath.Join(root, "blobs")
	desc := storeid.PosixDir(root, blobsAt)
	if desc.Dir != "blobs" {
		t.Fatalf("a blob directory inside the root is recorded as %q, want relative", desc.Dir)
	}
	// Opened only once the root was found fit: this one lies inside it.
	id, blobs, err := storeid.Create(ctx, root, desc, func() (blobstore.Store, error) { return posix.New(blobsAt, posix.DefaultOptions()) })
	if err != nil {
		t.Fatal(err)
	}
	state, got, err := storeid.Inspect(root)
	if err != nil || state != storeid.Present || *got != *id {
		t.Fatalf("after Create: %v %+v %v", state, got, err)
	}
	if m, err := storeid.ReadMarker(ctx, blobs); err != nil || m.Store != id.ID {
		t.Fatalf("marker %+v, %v", m, err)
	}
	if _, _, err := storeid.Create(ctx, root, desc, opener(blobs)); !errors.Is(err, storeid.ErrExist) {
		t.Errorf("Create over a store: %v", err)
	}
	if _, _, err := storeid.Create(ctx, filepath.Join(dir, "second"), desc, opener(blobs)); err == nil || !strings.Contains(err.Error(), "belongs to another store") {
		t.Errorf("Create on a taken blob store: %v", err)
	}
	if note, err := storeid.Verify(ctx, root, id, desc, blobs); err != nil || note != "" {
		t.Errorf("Verify of the pair: %q, %v", note, err)
	}

	// The same blob directory at another path: its marker decides.
	moved := filepath.Join(dir, "mnt")
	if err := os.Rename(blobsAt, moved); err != nil {
		t.Fatal(err)
	}
	if note, err := storeid.Verify(ctx, root, id, storeid.PosixDir(root, moved), blobDir(t, moved)); err != nil || !strings.Contains(note, "the same") {
		t.Errorf("Verify of the moved directory: %q, %v", note, err)
	}

	for name, tc := range map[string]struct {
		desc storeid.BlobStore
		open func() blobstore.Store
		want string
	}{
		"empty": {storeid.PosixDir(root, filepath.Join(dir, "e")), func() blobstore.Store { return blobDir(t, filepath.Join(dir, "e")) }, "holds no marker"},
		"another store's": {storeid.PosixDir(root, filepath.Join(dir, "o")), func() blobstore.Store {
			b := blobDir(t, filepath.Join(dir, "o"))
			if _, _, err := storeid.Create(ctx, filepath.Join(dir, "other"), storeid.PosixDir(filepath.Join(dir, "other"), filepath.Join(dir, "o")), opener(b)); err != nil {
				t.Fatal(err)
			}
			return b
		}, "belongs to another store"},
		"another kind": {storeid.BlobStore{Kind: storeid.KindS3, Endpoint: "h:1", Bucket: "b"}, func() blobstore.Store { return nil }, "was given"},
	} {
		_, err := storeid.Verify(ctx, root, id, tc.desc, tc.open())
		var me *storeid.MismatchError
		if !errors.As(err, &me) || !errors.Is(err, storeid.ErrMismatch) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), tc.desc.String()) || !strings.Contains(err.Error(), id.BlobStore.String()) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s3 := storeid.BlobStore{Kind: storeid.KindS3, Endpoint: "h:1", Bucket: "a"}
	other := s3
	other.Bucket = "b"
	if err := storeid.Compare(root, &storeid.Identity{ID: id.ID, BlobStore: s3}, other); err == nil || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Compare of two buckets: %v", err)
	}
	other = s3
	other.Endpoint = "elsewhere:2"
	if err := storeid.Compare(root, &storeid.Identity{ID: id.ID, BlobStore: s3}, other); err != nil {
		t.Errorf("Compare of two endpoints (the marker decides): %v", err)
	}
}

// Adopt: a store without identity proves its blob store by a sample of its
// blobs; one whose blob store moved, by the marker.
func TestAdopt(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	meta, err := mpk.New(mpk.DefaultOptions(root))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	blobsAt := filepath.Join(root, "blobs")
	blobs := blobDir(t, blobsAt)
	fs, err := decomposedfs.New(meta, blobs, decomposedfs.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	si, err := fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "p", Type: metadata.SpaceProject})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := fs.Upload(ctx, decomposedfs.Reference{SpaceID: si.ID, Path: "/" + name}, strings.NewReader("content "+name), decomposedfs.UploadOptions{Size: -1}); err != nil {
			t.Fatal(err)
		}
	}
	// A repair that found c's blob missing took it from the record and
	// noted it: it still counts (the repair may have looked at the wrong
	// bucket).
	ri, err := fs.GetMD(ctx, decomposedfs.Reference{SpaceID: si.ID, Path: "/c"})
	if err != nil {
		t.Fatal(err)
	}
	cKey := ""
	if _, err := meta.UpdateNode(ctx, si.ID, ri.ID, func(n *metadata.Node) error {
		cKey = decomposedfs.BlobKey(si.ID, n.BlobID)
		n.Props = map[string]string{check.PropMissingBlob: n.BlobID}
		n.BlobID, n.Size = "", 0
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	keys, err := storeid.SampleBlobKeys(ctx, meta, 10)
	if err != nil || len(keys) != 3 || !slices.Contains(keys, cKey) {
		t.Fatalf("sample %v, %v (want 3 with %s)", keys, err, cKey)
	}
	desc := storeid.PosixDir(root, blobsAt)

	emptyAt := filepath.Join(t.TempDir(), "e")
	res, err := storeid.Adopt(ctx, root, storeid.PosixDir(root, emptyAt), blobDir(t, emptyAt), meta, storeid.AdoptOptions{})
	if err == nil || !strings.Contains(err.Error(), "3 of 3 blobs") || res == nil || len(res.Missing) != 3 {
		t.Errorf("Adopt of an empty blob store: %+v, %v", res, err)
	}
	if st, _, _ := storeid.Inspect(root); st != storeid.Legacy {
		t.Errorf("a refused Adopt left state %v", st)
	}
	res, err = storeid.Adopt(ctx, root, desc, blobs, meta, storeid.AdoptOptions{})
	if err != nil || !res.Changed || res.ByMarker || res.Sampled != 3 || len(res.Missing) != 0 || res.Previous != nil {
		t.Fatalf("Adopt: %+v, %v", res, err)
	}
	if _, err := storeid.Verify(ctx, root, res.Identity, desc, blobs); err != nil {
		t.Errorf("Verify after Adopt: %v", err)
	}
	// Again: nothing to change.
	if res2, err := storeid.Adopt(ctx, root, desc, blobs, meta, storeid.AdoptOptions{}); err != nil || res2.Changed || !res2.ByMarker {
		t.Errorf("Adopt again: %+v, %v", res2, err)
	}
	// Forced onto a blob store that lacks blobs.
	res3, err := storeid.Adopt(ctx, root, storeid.PosixDir(root, emptyAt), blobDir(t, emptyAt), meta, storeid.AdoptOptions{Force: true})
	if err != nil || !res3.Changed || len(res3.Missing) != 3 || res3.Previous == nil || res3.Identity.ID != res.Identity.ID {
		t.Errorf("forced Adopt: %+v, %v", res3, err)
	}
}
