package metadatatest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/metadata"
)

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
