package xattr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pkg/xattr"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/metadatatest"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	xattrmeta "github.com/s3dfs/s3dfs/metadata/xattr"
)

func open(t *testing.T, root string) metadata.Backend {
	t.Helper()
	b, err := xattrmeta.New(mpk.DefaultOptions(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	metadatatest.Run(t, metadatatest.Harness{
		New: func(t *testing.T) (metadata.Backend, func(t *testing.T) metadata.Backend) {
			root := t.TempDir()
			return open(t, root), func(t *testing.T) metadata.Backend { return open(t, root) }
		},
		WaitCache: func(b metadata.Backend) { b.(*mpk.Backend).WaitCache() },
	})
}

// Records really live in the attribute (the file is empty), an update
// changes them in place (same inode), and a record too big for an
// attribute is refused with ErrTooLarge and nothing changed.
func TestRecordsInAttributes(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	b := open(t, root)
	sid := uuid.NewString()
	now := time.Now().UnixNano()
	if err := b.CreateSpace(ctx, &metadata.Space{ID: sid, Type: metadata.SpaceProject, Btime: now},
		&metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now}); err != nil {
		t.Fatal(err)
	}
	n := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: sid, Name: "f", Type: metadata.TypeFile, Mtime: now}
	if err := b.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	path := root + "/spaces/" + sid[:2] + "/" + sid + "/nodes/" + n.ID[:2] + "/" + n.ID + ".mpk"
	raw, err := xattr.Get(path, "user.s3dfs.rec")
	if err != nil || len(raw) == 0 {
		t.Fatalf("record attribute: %d bytes, %v", len(raw), err)
	}
	before, _ := b.ReadNode(ctx, sid, n.ID)
	if _, err := b.UpdateNode(ctx, sid, n.ID, func(n *metadata.Node) error { n.MimeType = "text/plain"; return nil }); err != nil {
		t.Fatal(err)
	}
	after, err := b.ReadNode(ctx, sid, n.ID)
	if err != nil || after.MimeType != "text/plain" || after.Stamp.Ino != before.Stamp.Ino || after.Stamp == before.Stamp {
		t.Fatalf("update in place: %+v (stamp %v, before %v), %v", after, after.Stamp, before.Stamp, err)
	}
	_, err = b.UpdateNode(ctx, sid, n.ID, func(n *metadata.Node) error {
		n.Props = map[string]string{"{x:}big": strings.Repeat("x", 8192)}
		return nil
	})
	if !errors.Is(err, metadata.ErrTooLarge) {
		t.Fatalf("oversized record: %v, want ErrTooLarge", err)
	}
	if got, _ := b.ReadNode(ctx, sid, n.ID); got.Props != nil || got.MimeType != "text/plain" {
		t.Fatalf("a refused update changed the record: %+v", got)
	}
}
