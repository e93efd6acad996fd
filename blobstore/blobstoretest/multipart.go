package blobstoretest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/blobstore"
)

// multiparter returns s as a blobstore.Multiparter, or skips the test if s
// is none.
func multiparter(t *testing.T, s blobstore.Store) blobstore.Multiparter {
	t.Helper()
	m, ok := s.(blobstore.Multiparter)
	if !ok {
		t.Skipf("%T does not implement blobstore.Multiparter", s)
	}
	if mps := m.MinPartSize(); mps < 1 || mps > PartSize {
		t.Fatalf("MinPartSize() = %d, want 1 to %d", mps, PartSize)
	}
	return m
}

// threeParts returns the bodies of the suite's usual upload: two parts of
// PartSize and a short last one.
func threeParts(seed uint64) [][]byte {
	return [][]byte{payload(seed, PartSize), payload(seed+1, PartSize), payload(seed+2, 1<<20)}
}

func mustCreate(t *testing.T, m blobstore.Multiparter, key string, md map[string]string) string {
	t.Helper()
	id, err := m.CreateMultipart(ctxT(t), key, blobstore.PutOptions{Metadata: md})
	if err != nil {
		t.Fatalf("CreateMultipart(%q): %v", key, err)
	}
	if id == "" {
		t.Fatalf("CreateMultipart(%q) returned an empty upload id", key)
	}
	return id
}

func mustUploadPart(t *testing.T, m blobstore.Multiparter, key, id string, n int, data []byte) blobstore.Part {
	t.Helper()
	p, err := m.UploadPart(ctxT(t), key, id, n, reader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("UploadPart(%q, part %d, %d bytes): %v", key, n, len(data), err)
	}
	if p.Number != n || p.Size != int64(len(data)) || p.ETag == "" {
		t.Fatalf("UploadPart(%q, part %d, %d bytes) = %+v", key, n, len(data), p)
	}
	return p
}

func assertParts(t *testing.T, m blobstore.Multiparter, key, id string, want ...blobstore.Part) {
	t.Helper()
	got, err := m.ListParts(ctxT(t), key, id)
	if err != nil {
		t.Fatalf("ListParts(%q): %v", key, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListParts(%q) = %+v\nwant %+v", key, got, want)
	}
}

func mustComplete(t *testing.T, m blobstore.Multiparter, key, id string, parts []blobstore.Part, want []byte) {
	t.Helper()
	info, err := m.CompleteMultipart(ctxT(t), key, id, parts)
	if err != nil {
		t.Fatalf("CompleteMultipart(%q, %d parts): %v", key, len(parts), err)
	}
	if info.Key != key || info.Size != int64(len(want)) || info.ModTime.IsZero() {
		t.Fatalf("CompleteMultipart(%q) = key %q size %d mtime %v, want size %d and a time",
			key, info.Key, info.Size, info.ModTime, len(want))
	}
}

// assertUploadGone checks that every call on upload id sees ErrNotFound,
// except AbortMultipart, which succeeds.
func assertUploadGone(t *testing.T, m blobstore.Multiparter, key, id string) {
	t.Helper()
	ctx := ctxT(t)
	if parts, err := m.ListParts(ctx, key, id); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("ListParts(%q, %q) = %+v, %v; want ErrNotFound", key, id, parts, err)
	}
	if _, err := m.UploadPart(ctx, key, id, 1, reader([]byte("x")), 1); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("UploadPart(%q, %q) error = %v, want ErrNotFound", key, id, err)
	}
	part := []blobstore.Part{{Number: 1, Size: 1, ETag: "x"}}
	if _, err := m.CompleteMultipart(ctx, key, id, part); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("CompleteMultipart(%q, %q) error = %v, want ErrNotFound", key, id, err)
	}
	if err := m.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("AbortMultipart(%q, %q) of a missing upload: %v, want nil", key, id, err)
	}
}

func testMultipartUpload(t *testing.T, s blobstore.Store) {
	m := multiparter(t, s)
	bodies := threeParts(50)
	want := bytes.Join(bodies, nil)
	// The upload replaces this blob, and only when it completes.
	mustPut(t, s, "mp/key", []byte("old"), 3, map[string]string{"v": "old"})

	id := mustCreate(t, m, "mp/key", awkwardMetadata)
	assertParts(t, m, "mp/key", id) // none yet
	var parts [3]blobstore.Part
	for _, i := range []int{2, 0, 1} { // out of order in time
		parts[i] = mustUploadPart(t, m, "mp/key", id, i+1, bodies[i])
	}
	if parts[0].ETag == parts[1].ETag {
		t.Errorf("parts with different content have the same ETag %q", parts[0].ETag)
	}
	assertParts(t, m, "mp/key", id, parts[:]...)

	assertBlob(t, s, "mp/key", []byte("old"), map[string]string{"v": "old"})
	if got := listKeys(t, s, ""); !slices.Equal(got, []string{"mp/key"}) {
		t.Fatalf("List during the upload = %q, want [mp/key]", got)
	}

	mustComplete(t, m, "mp/key", id, parts[:], want)
	assertBlob(t, s, "mp/key", want, awkwardMetadata)
	if got := listKeys(t, s, ""); !slices.Equal(got, []string{"mp/key"}) {
		t.Fatalf("List after the upload = %q, want [mp/key]", got)
	}
	assertUploadGone(t, m, "mp/key", id)
	assertBlob(t, s, "mp/key", want, awkwardMetadata)
}

func testMultipartReplacePart(t *testing.T, s blobstore.Store, q Quirks) {
	m := multiparter(t, s)
	const key = "mp/replace"
	first, oldSecond, second := payload(60, PartSize), payload(61, 1000), payload(62, 2000)
	id := mustCreate(t, m, key, nil)
	p1 := mustUploadPart(t, m, key, id, 1, first)
	p2old := mustUploadPart(t, m, key, id, 2, oldSecond)
	p2 := mustUploadPart(t, m, key, id, 2, second)
	if p2.ETag == p2old.ETag {
		t.Errorf("part 2 has ETag %q before and after a re-upload with other content", p2.ETag)
	}
	if q.ReplacedPartKept {
		testReplacedPartKept(t, s, m, key, id, p1, p2old, p2, first, oldSecond, second)
		return
	}
	assertParts(t, m, key, id, p1, p2)

	// A failed re-upload leaves the part as it was.
	ctx := ctxT(t)
	for _, c := range []struct {
		body     int
		declared int64
	}{{10, 11}, {10, 9}, {0, 1}} {
		_, err := m.UploadPart(ctx, key, id, 2, reader(payload(63, c.body)), c.declared)
		if !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Fatalf("UploadPart(%d bytes, size %d): %v, want ErrSizeMismatch", c.body, c.declared, err)
		}
	}
	_, err := m.UploadPart(ctx, key, id, 2, &failingReader{data: payload(64, 100), after: 50}, 100)
	if !errors.Is(err, errInjected) {
		t.Fatalf("UploadPart with a failing reader: %v, want the reader's error", err)
	}
	assertParts(t, m, key, id, p1, p2)

	// The ETag of the replaced part no longer completes the upload.
	if _, err := m.CompleteMultipart(ctx, key, id, []blobstore.Part{p1, p2old}); !errors.Is(err, blobstore.ErrInvalidPart) {
		t.Fatalf("CompleteMultipart with a replaced part: %v, want ErrInvalidPart", err)
	}
	assertAbsent(t, s, key)
	mustComplete(t, m, key, id, []blobstore.Part{p1, p2}, append(slices.Clone(first), second...))
	assertBlob(t, s, key, append(slices.Clone(first), second...), nil)
}

// testReplacedPartKept checks a store on a server with the quirk
// ReplacedPartKept: the listing is refused as ambiguous, a completion
// with the latest ETags assembles the latest uploads (what s3dfs does),
// and, the quirk itself, one with the earlier ETag assembles the earlier.
func testReplacedPartKept(t *testing.T, s blobstore.Store, m blobstore.Multiparter, key, id string,
	p1, p2old, p2 blobstore.Part, first, oldSecond, second []byte) {
	ctx := ctxT(t)
	parts, err := m.ListParts(ctx, key, id)
	if err == nil {
		if slices.Equal(parts, []blobstore.Part{p1, p2}) {
			t.Fatalf("quirk ReplacedPartKept is declared, but the re-uploaded part replaced the earlier one: remove the quirk")
		}
		t.Fatalf("ListParts = %+v, want ErrInvalidPart for a part listed twice", parts)
	}
	if !errors.Is(err, blobstore.ErrInvalidPart) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("ListParts with part 2 kept twice: %v, want ErrInvalidPart saying so", err)
	}
	mustComplete(t, m, key, id, []blobstore.Part{p1, p2}, append(slices.Clone(first), second...))
	assertBlob(t, s, key, append(slices.Clone(first), second...), nil)

	id = mustCreate(t, m, key, nil)
	p1 = mustUploadPart(t, m, key, id, 1, first)
	p2old = mustUploadPart(t, m, key, id, 2, oldSecond)
	mustUploadPart(t, m, key, id, 2, second)
	if _, err := m.CompleteMultipart(ctx, key, id, []blobstore.Part{p1, p2old}); err != nil {
		t.Fatalf("quirk ReplacedPartKept is declared, but completing with the earlier ETag failed (%v): remove the quirk", err)
	}
	assertBlob(t, s, key, append(slices.Clone(first), oldSecond...), nil)
}

func testMultipartErrors(t *testing.T, s blobstore.Store) {
	m := multiparter(t, s)
	ctx := ctxT(t)
	const key = "mp/errors"

	if _, err := m.CreateMultipart(ctx, "a//b", blobstore.PutOptions{}); !errors.Is(err, blobstore.ErrInvalidKey) {
		t.Errorf("CreateMultipart(a//b): %v, want ErrInvalidKey", err)
	}
	if _, err := m.CreateMultipart(ctx, key, blobstore.PutOptions{Metadata: map[string]string{"Bad": "x"}}); !errors.Is(err, blobstore.ErrInvalidMetadata) {
		t.Errorf("CreateMultipart with invalid metadata: %v, want ErrInvalidMetadata", err)
	}

	id := mustCreate(t, m, key, nil)
	for _, n := range []int{0, -1, blobstore.MaxParts + 1} {
		if _, err := m.UploadPart(ctx, key, id, n, reader([]byte("x")), 1); !errors.Is(err, blobstore.ErrInvalidPart) {
			t.Errorf("UploadPart(part %d): %v, want ErrInvalidPart", n, err)
		}
	}
	for _, c := range []struct {
		body     int
		declared int64
	}{{1000, 1001}, {1000, 999}, {1, 0}, {0, 1}} {
		_, err := m.UploadPart(ctx, key, id, 1, reader(payload(70, c.body)), c.declared)
		if !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Errorf("UploadPart(%d bytes, size %d): %v, want ErrSizeMismatch", c.body, c.declared, err)
		}
	}
	assertParts(t, m, key, id) // nothing stored

	// Part 2 is one byte short of the minimum: fine as the last part, not
	// in the middle.
	bodies := [][]byte{payload(71, PartSize), payload(72, int(m.MinPartSize()-1)), payload(73, 100)}
	p1 := mustUploadPart(t, m, key, id, 1, bodies[0])
	p2 := mustUploadPart(t, m, key, id, 2, bodies[1])
	p3 := mustUploadPart(t, m, key, id, 3, bodies[2])
	wrongSize, wrongETag := p1, p1
	wrongSize.Size++
	wrongETag.ETag = p3.ETag
	for name, parts := range map[string][]blobstore.Part{
		"no parts":            nil,
		"not from 1":          {p2, p3},
		"gap":                 {p1, p3},
		"wrong order":         {p2, p1},
		"duplicate":           {p1, p1},
		"small middle part":   {p1, p2, p3},
		"wrong size":          {wrongSize},
		"wrong ETag":          {wrongETag},
		"part that is absent": {p1, p2, p3, {Number: 4, Size: 1, ETag: p3.ETag}},
	} {
		if _, err := m.CompleteMultipart(ctx, key, id, parts); !errors.Is(err, blobstore.ErrInvalidPart) {
			t.Errorf("CompleteMultipart, %s: %v, want ErrInvalidPart", name, err)
		}
	}
	// Failed completions change nothing.
	assertParts(t, m, key, id, p1, p2, p3)
	assertAbsent(t, s, key)

	// Neither does a cancelled one.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.CompleteMultipart(cctx, key, id, []blobstore.Part{p1, p2}); !errors.Is(err, context.Canceled) {
		t.Errorf("CompleteMultipart with a cancelled context: %v, want context.Canceled", err)
	}
	assertParts(t, m, key, id, p1, p2, p3)
	assertAbsent(t, s, key)

	// Unknown ids, and a real id with another key.
	for _, bogus := range []string{"0123456789abcdef0123456789abcdef", "no-such-upload", "../" + id, id + "x", ""} {
		assertUploadGone(t, m, key, bogus)
	}
	assertUploadGone(t, m, "mp/other", id)
	assertParts(t, m, key, id, p1, p2, p3) // the other key's abort left it alone

	// Part 3 is stored but not listed: it is dropped.
	want := bytes.Join(bodies[:2], nil)
	mustComplete(t, m, key, id, []blobstore.Part{p1, p2}, want)
	assertBlob(t, s, key, want, nil)
	assertUploadGone(t, m, key, id)
}

func testMultipartAbort(t *testing.T, s blobstore.Store) {
	m := multiparter(t, s)
	const key = "mp/abort"
	bodies := threeParts(80)

	// Two uploads of one key are independent.
	id1 := mustCreate(t, m, key, map[string]string{"v": "1"})
	id2 := mustCreate(t, m, key, map[string]string{"v": "2"})
	if id1 == id2 {
		t.Fatalf("two CreateMultipart calls returned the same id %q", id1)
	}
	mustUploadPart(t, m, key, id1, 1, bodies[0])
	mustUploadPart(t, m, key, id1, 2, bodies[2])
	p := mustUploadPart(t, m, key, id2, 1, bodies[1])

	if err := m.AbortMultipart(ctxT(t), key, id1); err != nil {
		t.Fatalf("AbortMultipart: %v", err)
	}
	assertUploadGone(t, m, key, id1)
	assertAbsent(t, s, key)
	if got := listKeys(t, s, ""); len(got) != 0 {
		t.Fatalf("List after the abort = %q, want nothing", got)
	}

	assertParts(t, m, key, id2, p)
	mustComplete(t, m, key, id2, []blobstore.Part{p}, bodies[1])
	assertBlob(t, s, key, bodies[1], map[string]string{"v": "2"})
}

func testMultipartConcurrentParts(t *testing.T, s blobstore.Store) {
	m := multiparter(t, s)
	const key = "mp/concurrent"
	bodies := threeParts(90)
	id := mustCreate(t, m, key, nil)
	parts := make([]blobstore.Part, len(bodies))
	var g errgroup.Group
	for i, body := range bodies {
		g.Go(func() error {
			var err error
			parts[i], err = m.UploadPart(ctxT(t), key, id, i+1, reader(body), int64(len(body)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent UploadPart: %v", err)
	}
	assertParts(t, m, key, id, parts...)
	want := bytes.Join(bodies, nil)
	mustComplete(t, m, key, id, parts, want)
	assertBlob(t, s, key, want, nil)
}

// testMultipartResume uploads some parts through one store value, then
// goes on through a second one on the same backing, as a process
// restarted on another host would.
func testMultipartResume(t *testing.T, s blobstore.Store, reopen func() blobstore.Store) {
	m := multiparter(t, s)
	const key = "resume/key"
	md := map[string]string{"space": "s1", "node": "n-9"}
	bodies := threeParts(100)
	id := mustCreate(t, m, key, md)
	p3 := mustUploadPart(t, m, key, id, 3, bodies[2])
	p1 := mustUploadPart(t, m, key, id, 1, bodies[0])

	s2 := reopen()
	m2, ok := s2.(blobstore.Multiparter)
	if !ok {
		t.Fatalf("the reopened store, a %T, is no blobstore.Multiparter", s2)
	}
	assertParts(t, m2, key, id, p1, p3)
	p2 := mustUploadPart(t, m2, key, id, 2, bodies[1])
	assertParts(t, m, key, id, p1, p2, p3)

	want := bytes.Join(bodies, nil)
	mustComplete(t, m2, key, id, []blobstore.Part{p1, p2, p3}, want)
	assertBlob(t, s, key, want, md)
	assertUploadGone(t, m, key, id)
}
