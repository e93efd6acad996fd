package blobstoretest

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
)

func testRanges(t *testing.T, s blobstore.Store) {
	data := payload(3, 1000)
	mustPut(t, s, "r/full", data, int64(len(data)), nil)
	mustPut(t, s, "r/empty", nil, 0, nil)

	for _, c := range []struct {
		offset, length int64
		from, to       int // expected data[from:to]
	}{
		{0, 1, 0, 1},
		{999, 1, 999, 1000},
		{999, -1, 999, 1000},
		{990, 100, 990, 1000}, // cut at the end
		{0, -1, 0, 1000},
		{0, 1000, 0, 1000},
		{0, 1 << 40, 0, 1000},
		{1, 1<<63 - 1, 1, 1000}, // offset+length overflows int64
		{500, 10, 500, 510},
		{10, 0, 10, 10},
		{999, 0, 999, 999},
	} {
		got := mustRead(t, s, "r/full", c.offset, c.length)
		sameBytes(t, "Open(r/full, "+fmtInt(c.offset)+", "+fmtInt(c.length)+")", got, data[c.from:c.to])
	}
	for _, c := range []struct{ offset, length int64 }{
		{1000, -1}, {1000, 1}, {1000, 0}, {1001, -1}, {1 << 40, 1},
	} {
		if rc, err := s.Open(ctxT(t), "r/full", c.offset, c.length); !errors.Is(err, blobstore.ErrRangeNotSatisfiable) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(r/full, %d, %d) error = %v, want ErrRangeNotSatisfiable", c.offset, c.length, err)
		}
	}

	for _, length := range []int64{-1, 0, 1, 10} {
		if got := mustRead(t, s, "r/empty", 0, length); len(got) != 0 {
			t.Errorf("Open(r/empty, 0, %d) gave %d bytes", length, len(got))
		}
	}
	for _, c := range []struct{ offset, length int64 }{{1, -1}, {1, 1}, {1, 0}} {
		if rc, err := s.Open(ctxT(t), "r/empty", c.offset, c.length); !errors.Is(err, blobstore.ErrRangeNotSatisfiable) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(r/empty, %d, %d) error = %v, want ErrRangeNotSatisfiable", c.offset, c.length, err)
		}
	}

	for _, c := range []struct{ offset, length int64 }{{-1, -1}, {0, -2}} {
		if rc, err := s.Open(ctxT(t), "r/full", c.offset, c.length); err == nil {
			rc.Close()
			t.Errorf("Open(r/full, %d, %d) succeeded, want an error", c.offset, c.length)
		}
	}
}

func testNotFound(t *testing.T, s blobstore.Store) {
	ctx := ctxT(t)
	mustPut(t, s, "present/x", []byte("x"), 1, nil)
	for _, key := range []string{"missing", "present", "present/x/y", "present/y"} {
		assertAbsent(t, s, key)
		if rc, err := s.Open(ctx, key, 5, 10); !errors.Is(err, blobstore.ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(%q, 5, 10) error = %v, want ErrNotFound (not a range error)", key, err)
		}
		if rc, err := s.Open(ctx, key, 0, 0); !errors.Is(err, blobstore.ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(%q, 0, 0) error = %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing key = %v, want nil", key, err)
		}
	}
	sameBytes(t, "present/x", mustRead(t, s, "present/x", 0, -1), []byte("x"))
}

func testOverwrite(t *testing.T, s blobstore.Store) {
	a, b := payload(1, 5000), payload(2, 300)
	mustPut(t, s, "o/k", a, int64(len(a)), map[string]string{"x": "1", "y": "2"})
	mustPut(t, s, "o/k", b, int64(len(b)), map[string]string{"x": "3"})
	sameBytes(t, "after overwrite", mustRead(t, s, "o/k", 0, -1), b)
	st, err := s.Stat(ctxT(t), "o/k")
	if err != nil || st.Size != int64(len(b)) {
		t.Fatalf("Stat = size %d, %v; want %d", st.Size, err, len(b))
	}
	assertMetadata(t, st.Metadata, map[string]string{"x": "3"}) // replaced, not merged

	mustPut(t, s, "o/k", a, -1, nil)
	sameBytes(t, "after second overwrite", mustRead(t, s, "o/k", 0, -1), a)
	st, err = s.Stat(ctxT(t), "o/k")
	if err != nil {
		t.Fatal(err)
	}
	assertMetadata(t, st.Metadata, nil)
	if keys := listKeys(t, s, ""); len(keys) != 1 {
		t.Errorf("List = %q, want one key", keys)
	}
}

// assertMetadata compares metadata maps, treating nil and empty alike.
func assertMetadata(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !maps.Equal(got, want) {
		t.Fatalf("metadata = %v, want %v", got, want)
	}
}

func testMetadata(t *testing.T, s blobstore.Store, q Quirks) {
	md := map[string]string{
		"space":        "0f8fad5b-d9cb-469f-a165-70867728950e",
		"node":         "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		"content-type": "looks like a standard header, is not",
		"expires":      "never",
		"x-amz-tagged": "a b  c", // inner spaces survive
		"punct":        `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`,
		"empty":        "",
		"n0":           strings.Repeat("v", 100),
	}
	mustPut(t, s, "m/k", []byte("body"), 4, md)
	st, err := s.Stat(ctxT(t), "m/k")
	if err != nil {
		t.Fatal(err)
	}
	if q.EmptyMetadataDropped {
		if _, ok := st.Metadata["empty"]; ok {
			t.Fatalf("quirk EmptyMetadataDropped is declared, but the empty value was kept: remove the quirk")
		}
		md = maps.Clone(md)
		delete(md, "empty")
	}
	assertMetadata(t, st.Metadata, md)

	mustPut(t, s, "m/big", nil, 0, map[string]string{"k": strings.Repeat("v", blobstore.MaxMetadataSize-1)})
	if st, err = s.Stat(ctxT(t), "m/big"); err != nil || len(st.Metadata["k"]) != blobstore.MaxMetadataSize-1 {
		t.Fatalf("Stat(m/big) = %d-byte value, %v", len(st.Metadata["k"]), err)
	}

	err = s.List(ctxT(t), "m/", func(info blobstore.Info) error {
		if info.Metadata != nil {
			t.Errorf("List gave metadata for %s: %v", info.Key, info.Metadata)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testInvalidMetadata(t *testing.T, s blobstore.Store) {
	for _, md := range []map[string]string{
		{"Upper": "v"},
		{"": "v"},
		{"under_score": "v"},
		{"dot.ted": "v"},
		{"k": "caf\u00e9"},
		{"k": "line\nbreak"},
		{"k": " leading"},
		{"k": "trailing "},
		{"k": strings.Repeat("v", blobstore.MaxMetadataSize)},
	} {
		_, err := s.Put(ctxT(t), "bad-md", reader([]byte("x")), 1, blobstore.PutOptions{Metadata: md})
		if !errors.Is(err, blobstore.ErrInvalidMetadata) {
			t.Errorf("Put with metadata %q: error = %v, want ErrInvalidMetadata", md, err)
		}
	}
	assertAbsent(t, s, "bad-md")
}

func testInvalidKeys(t *testing.T, s blobstore.Store) {
	ctx := ctxT(t)
	for _, key := range []string{
		"", "/abs", "a/../b", "..", ".", "a/.", "a//b", "a/./b", "trailing/", "a\x00b",
		"tab\there", "back\\slash", strings.Repeat("k", blobstore.MaxKeyLen+1),
	} {
		if _, err := s.Put(ctx, key, reader([]byte("x")), 1, blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if rc, err := s.Open(ctx, key, 0, -1); !errors.Is(err, blobstore.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/abs", "a//", "../", "a/../b"} {
		err := s.List(ctx, prefix, func(blobstore.Info) error { return nil })
		if !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want ErrInvalidKey", prefix, err)
		}
	}
	if keys := listKeys(t, s, ""); len(keys) != 0 {
		t.Errorf("invalid keys left blobs behind: %q", keys)
	}
}

// testUnusualKeys uses keys that are valid but easy to get wrong: URL
// metacharacters, non-ASCII, dot-led segments, names a store might use
// for itself, and the longest key allowed.
func testUnusualKeys(t *testing.T, s blobstore.Store, q Quirks) {
	long := strings.Repeat(strings.Repeat("l", 99)+"/", blobstore.MaxKeyLen/100)
	long += strings.Repeat("e", blobstore.MaxKeyLen-len(long))
	keys := []string{
		"with space/and+plus%25?q=1&x#frag",
		"unicode/caf\u00e9/\u65e5\u672c",
		"...", ".hidden/x", "..x/y", "a/...b",
		".tmp/x", "tmp", "blobs", "data/.tmp", ".uploads/x", "uploads",
		"~tilde/$dollar/@at/!bang/'quote'/(paren)/*star*/[br]/{cu}",
		long,
	}
	for i, key := range keys {
		data := payload(uint64(i), 10+i)
		mustPut(t, s, key, data, int64(len(data)), map[string]string{"i": fmtInt(int64(i))})
		sameBytes(t, key, mustRead(t, s, key, 0, -1), data)
		st, err := s.Stat(ctxT(t), key)
		if err != nil || st.Key != key || st.Size != int64(len(data)) {
			t.Fatalf("Stat(%q) = %+v, %v", key, st, err)
		}
	}
	got := listKeys(t, s, "")
	want := sortedCopy(keys)
	if q.UploadsPrefixHidden {
		if slices.Contains(got, ".uploads/x") {
			t.Fatalf("quirk UploadsPrefixHidden is declared, but List shows .uploads/x: remove the quirk")
		}
		want = slices.DeleteFunc(want, func(k string) bool { return strings.HasPrefix(k, ".uploads/") })
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("List = %q\nwant   %q", got, want)
	}
	for _, key := range keys {
		if err := s.Delete(ctxT(t), key); err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
		assertAbsent(t, s, key)
	}
	if got := listKeys(t, s, ""); len(got) != 0 {
		t.Fatalf("List after deleting everything = %q", got)
	}
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }
