package posix_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkg/xattr"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
)

// TestUploadLayout pins the on-disk format of multipart uploads drawn in
// doc.go, and checks that an upload leaves nothing behind once it ends.
func TestUploadLayout(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	ctx := t.Context()
	md := map[string]string{"space": "s1"}
	id, err := s.CreateMultipart(ctx, "sp/blob", blobstore.PutOptions{Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("upload id %q is not 32 hex digits", id)
	}
	p1, err := s.UploadPart(ctx, "sp/blob", id, 1, strings.NewReader("hello "), 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "sp/blob", id, 12, strings.NewReader("world"), 5); err != nil {
		t.Fatal(err)
	}
	if p1.ETag != "f814893777bcc2295fff05f00e508da6" { // md5("hello ")
		t.Errorf("part ETag %q, want the hex MD5 of its bytes", p1.ETag)
	}

	dir := filepath.Join(s.Dir(), ".uploads", id)
	if got := dirNames(t, dir); !slices.Equal(got, []string{"1", "12", "upload.json"}) {
		t.Errorf("upload directory holds %q, want [1 12 upload.json]", got)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "upload.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		V        int               `json:"v"`
		Key      string            `json:"key"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.V != 1 || m.Key != "sp/blob" || m.Metadata["space"] != "s1" {
		t.Errorf("manifest %s (%v)", raw, err)
	}
	if etag, err := xattr.Get(filepath.Join(dir, "1"), "user.s3dfs.etag"); err != nil || string(etag) != p1.ETag {
		t.Errorf("part 1 ETag xattr %q, %v; want %q", etag, err, p1.ETag)
	}
	if got := dirNames(t, filepath.Join(s.Dir(), ".tmp")); len(got) != 0 {
		t.Errorf(".tmp holds %q during the upload", got)
	}

	if _, err := s.CompleteMultipart(ctx, "sp/blob", id, []blobstore.Part{p1}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(s.Dir(), "blobs", "sp", "blob")); err != nil || string(data) != "hello " {
		t.Errorf("blob file %q, %v", data, err)
	}
	for _, d := range []string{".uploads", ".tmp"} {
		if got := dirNames(t, filepath.Join(s.Dir(), d)); len(got) != 0 {
			t.Errorf("%s holds %q after the upload completed", d, got)
		}
	}

	id, err = s.CreateMultipart(ctx, "sp/aborted", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "sp/aborted", id, 1, strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipart(ctx, "sp/aborted", id); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".uploads", ".tmp"} {
		if got := dirNames(t, filepath.Join(s.Dir(), d)); len(got) != 0 {
			t.Errorf("%s holds %q after the abort", d, got)
		}
	}
}

// TestUploadCrashLeftovers: an upload directory that a crash left half
// discarded in .tmp/ is swept by New like a temp file; a live upload, however
// old, is not.
func TestUploadCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := posix.New(dir, posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	id, err := s.CreateMultipart(ctx, "k", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.UploadPart(ctx, "k", id, 1, strings.NewReader("part"), 4)
	if err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, ".tmp", "gone-0123")
	if err := os.MkdirAll(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gone, "1"), []byte("part"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, p := range []string{gone, filepath.Join(dir, ".uploads", id), filepath.Join(dir, ".uploads", id, "1")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	s2, err := posix.New(dir, posix.DefaultOptions())
	if err != nil {
		t.Fatalf("New with a discarded upload in .tmp: %v", err)
	}
	if got := dirNames(t, filepath.Join(dir, ".tmp")); len(got) != 0 {
		t.Errorf(".tmp holds %q after New", got)
	}
	if _, err := s2.CompleteMultipart(ctx, "k", id, []blobstore.Part{p}); err != nil {
		t.Errorf("the old upload did not survive New: %v", err)
	}
}

// TestUploadCorruptManifest: a manifest that does not decode is reported,
// not taken for a missing upload.
func TestUploadCorruptManifest(t *testing.T) {
	s := newStore(t, posix.DefaultOptions())
	id, err := s.CreateMultipart(t.Context(), "k", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), ".uploads", id, "upload.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.ListParts(t.Context(), "k", id)
	if err == nil || errors.Is(err, blobstore.ErrNotFound) || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("ListParts with a corrupt manifest: %v", err)
	}
}
