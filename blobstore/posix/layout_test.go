package posix_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkg/xattr"
	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/blobstoretest"
	"github.com/s3dfs/s3dfs/blobstore/posix"
)

func TestConformanceWithoutFsync(t *testing.T) {
	opts := posix.DefaultOptions()
	opts.Fsync = false
	blobstoretest.RunShared(t, openShared(opts))
}

func put(t *testing.T, s blobstore.Store, key, body string, md map[string]string) {
	t.Helper()
	if _, err := s.Put(t.Context(), key, strings.NewReader(body), int64(len(body)), blobstore.PutOptions{Metadata: md}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestLayout pins the on-disk format drawn in doc.go.
func TestLayout(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	md := map[string]string{"space": "s1", "node": "n1"}
	put(t, s, "sp/ab/cdef", "content", md)
	put(t, s, "plain", "", nil)

	if got := dirNames(t, s.Dir()); !slices.Equal(got, []string{".tmp", ".uploads", "blobs"}) {
		t.Errorf("root holds %q, want [.tmp .uploads blobs]", got)
	}
	if got := dirNames(t, filepath.Join(s.Dir(), ".tmp")); len(got) != 0 {
		t.Errorf(".tmp holds %q after the Puts", got)
	}
	p := filepath.Join(s.Dir(), "blobs", "sp", "ab", "cdef")
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "content" {
		t.Fatalf("blob file %s: %q, %v", p, data, err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode() != 0o644 {
		t.Errorf("blob file mode %v, %v; want -rw-r--r--", fi.Mode(), err)
	}
	raw, err := xattr.Get(p, "user.s3dfs.meta")
	if err != nil {
		t.Fatalf("metadata xattr: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(raw, &got); err != nil || !maps.Equal(got, md) {
		t.Errorf("metadata xattr %s = %v (%v), want %v", raw, got, err, md)
	}
	if _, err := xattr.Get(filepath.Join(s.Dir(), "blobs", "plain"), "user.s3dfs.meta"); !errors.Is(err, xattr.ENOATTR) {
		t.Errorf("a blob without metadata has the xattr anyway (%v)", err)
	}
}

func TestFileMode(t *testing.T) {
	opts := posix.DefaultOptions()
	opts.FileMode = 0o600
	s := newStore(t, opts)
	put(t, s, "k", "v", nil)
	fi, err := os.Stat(filepath.Join(s.Dir(), "blobs", "k"))
	if err != nil || fi.Mode() != 0o600 {
		t.Errorf("mode %v, %v; want -rw-------", fi.Mode(), err)
	}
}

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	put(t, s, "a/b/c", "1", nil)
	put(t, s, "a/d", "2", nil)
	blobs := filepath.Join(s.Dir(), "blobs")

	if err := s.Delete(t.Context(), "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, filepath.Join(blobs, "a")); !slices.Equal(got, []string{"d"}) {
		t.Errorf("blobs/a holds %q, want [d]", got)
	}
	if err := s.Delete(t.Context(), "a/d"); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, blobs); len(got) != 0 {
		t.Errorf("blobs holds %q after deleting everything", got)
	}
	// Now "a" can be a blob again.
	put(t, s, "a", "3", nil)
}

func TestKeyConflicts(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	ctx := t.Context()
	put(t, s, "a", "file", nil)
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x"), 1, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Put(a/b) with a blob at a: %v, want ErrInvalidKey", err)
	}
	put(t, s, "x/y", "below", nil)
	if _, err := s.Put(ctx, "x", strings.NewReader("x"), 1, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Put(x) with a blob at x/y: %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, "x"); err != nil {
		t.Errorf("Delete(x), a directory: %v", err)
	}
	if _, err := s.Stat(ctx, "x"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Stat(x), a directory: %v, want ErrNotFound", err)
	}
	for key, want := range map[string]string{"a": "file", "x/y": "below"} {
		rc, err := s.Open(ctx, key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != want {
			t.Errorf("%s = %q after the conflicts, want %q", key, got, want)
		}
	}
	if got := dirNames(t, filepath.Join(s.Dir(), ".tmp")); len(got) != 0 {
		t.Errorf("failed Puts left temp files %q", got)
	}
}

func TestLongSegment(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	ctx := t.Context()
	put(t, s, strings.Repeat("n", 255), "ok", nil)
	long := "d/" + strings.Repeat("n", 256)
	if _, err := s.Put(ctx, long, strings.NewReader("x"), 1, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Put: %v, want ErrInvalidKey", err)
	}
	if _, err := s.Stat(ctx, long); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Stat: %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, long); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("Delete: %v, want ErrInvalidKey", err)
	}
	if err := s.List(ctx, long+"/", func(blobstore.Info) error { return nil }); err != nil {
		t.Errorf("List below a segment too long to exist: %v", err)
	}
}

// TestCrashLeftovers plays the part of a Put that died before its rename:
// its temp file is never listed, and New sweeps it once it is old.
func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := posix.New(dir, posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tmp")
	for _, name := range []string{"put-old", "put-fresh"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	twoDaysAgo := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(tmp, "put-old"), twoDaysAgo, twoDaysAgo); err != nil {
		t.Fatal(err)
	}
	if err := s.List(t.Context(), "", func(i blobstore.Info) error {
		t.Errorf("List shows %s", i.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := posix.New(dir, posix.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, tmp); !slices.Equal(got, []string{"put-fresh"}) {
		t.Errorf(".tmp holds %q after New, want [put-fresh]", got)
	}
}

// TestForeignEntries: things below blobs/ that no Put made (symlinks,
// names no key can have) are neither listed nor opened.
func TestForeignEntries(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	blobs := filepath.Join(s.Dir(), "blobs")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(blobs, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blobs, "back\\slash"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	put(t, s, "real", "x", nil)

	var keys []string
	if err := s.List(t.Context(), "", func(i blobstore.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"real"}) {
		t.Errorf("List = %q, want [real]", keys)
	}
	if _, err := s.Open(t.Context(), "link", 0, -1); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Open(link) = %v, want ErrNotFound", err)
	}
}

// TestOpenReadsASnapshot: an open reader keeps the blob it opened.
func TestOpenReadsASnapshot(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	put(t, s, "k", "old body", nil)
	rc, err := s.Open(t.Context(), "k", 4, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	put(t, s, "k", "new body, longer", nil)
	if err := s.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != "body" {
		t.Errorf("read %q, %v; want the old blob's \"body\"", got, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		adjust func(*posix.Options)
		want   string
	}{
		{"defaults", func(*posix.Options) {}, ""},
		{"no fsync, no sweep", func(o *posix.Options) { o.Fsync, o.StaleTempAge = false, 0 }, ""},
		{"unreadable files", func(o *posix.Options) { o.FileMode = 0o200 }, "FileMode"},
		{"file type bits", func(o *posix.Options) { o.FileMode = os.ModeDir | 0o644 }, "FileMode"},
		{"unenterable dirs", func(o *posix.Options) { o.DirMode = 0o600 }, "DirMode"},
		{"negative sweep age", func(o *posix.Options) { o.StaleTempAge = -time.Second }, "negative"},
		{"hasty sweep", func(o *posix.Options) { o.StaleTempAge = time.Minute }, "live upload"},
	} {
		o := posix.DefaultOptions()
		c.adjust(&o)
		err := o.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", c.name, err, c.want)
		}
		if _, nerr := posix.New(t.TempDir(), o); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New error %v disagrees with Validate's %v", c.name, nerr, err)
		}
	}
}

// TestPutDeleteRace: Deletes prune directories that concurrent Puts are
// about to use; every Put must still succeed.
func TestPutDeleteRace(t *testing.T) {
	opts := posix.DefaultOptions()
	opts.Fsync = false
	s := newStore(t, opts)
	var g errgroup.Group
	for w := range 8 {
		g.Go(func() error {
			for i := range 100 {
				key := fmt.Sprintf("r/s/%d/%d", (w+i)%3, w)
				if _, err := s.Put(t.Context(), key, strings.NewReader("x"), 1, blobstore.PutOptions{}); err != nil {
					return err
				}
				if err := s.Delete(t.Context(), key); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, filepath.Join(s.Dir(), "blobs")); len(got) != 0 {
		t.Errorf("blobs holds %q after every key was deleted", got)
	}
}
