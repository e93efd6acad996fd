package blobstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// PartSize is the part size the suite assumes when it picks sizes around
// part boundaries: the S3 minimum, 5 MiB. Stores that upload in parts should
// be configured with it, so that the multipart paths run.
const PartSize = 5 << 20

// Run runs the conformance suite against the stores that newStore returns.
// Every subtest asks for a fresh, empty store; newStore arranges its
// cleanup through t.
func Run(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	Quirks{}.Run(t, newStore)
}

// Run is the package's Run for a store with these quirks.
func (q Quirks) Run(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	t.Run("Roundtrip", func(t *testing.T) { testRoundtrip(t, newStore(t)) })
	t.Run("Sizes", func(t *testing.T) { testSizes(t, newStore(t)) })
	t.Run("Multipart", func(t *testing.T) { testMultipart(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("ReaderError", func(t *testing.T) { testReaderError(t, newStore(t)) })
	t.Run("CancelMidUpload", func(t *testing.T) { testCancel(t, newStore(t)) })
	t.Run("InFlightPutInvisible", func(t *testing.T) { testInFlight(t, newStore(t)) })
	t.Run("Ranges", func(t *testing.T) { testRanges(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("Metadata", func(t *testing.T) { testMetadata(t, newStore(t), q) })
	t.Run("InvalidMetadata", func(t *testing.T) { testInvalidMetadata(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("UnusualKeys", func(t *testing.T) { testUnusualKeys(t, newStore(t), q) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("ListStops", func(t *testing.T) { testListStops(t, newStore(t)) })
	t.Run("ListManyPages", func(t *testing.T) { testListManyPages(t, newStore(t)) })

	// Optional capabilities: skipped for stores without them.
	t.Run("Copy", func(t *testing.T) { testCopy(t, newStore(t)) })
	t.Run("CopyErrors", func(t *testing.T) { testCopyErrors(t, newStore(t)) })
	t.Run("MultipartUpload", func(t *testing.T) { testMultipartUpload(t, newStore(t)) })
	t.Run("MultipartReplacePart", func(t *testing.T) { testMultipartReplacePart(t, newStore(t), q) })
	t.Run("MultipartErrors", func(t *testing.T) { testMultipartErrors(t, newStore(t)) })
	t.Run("MultipartAbort", func(t *testing.T) { testMultipartAbort(t, newStore(t)) })
	t.Run("MultipartConcurrentParts", func(t *testing.T) { testMultipartConcurrentParts(t, newStore(t)) })
}

// RunShared is Run for stores that several processes share: open returns
// a fresh, empty store and a function reopen that opens another store
// value on the same backing (bucket, directory), as a second process on
// another host would. Besides everything Run checks, it checks what must
// work across such store values, such as resuming a multipart upload
// after a restart.
func RunShared(t *testing.T, open func(t *testing.T) (s blobstore.Store, reopen func() blobstore.Store)) {
	Quirks{}.RunShared(t, open)
}

// RunShared is the package's RunShared for a store with these quirks.
func (q Quirks) RunShared(t *testing.T, open func(t *testing.T) (s blobstore.Store, reopen func() blobstore.Store)) {
	q.Run(t, func(t *testing.T) blobstore.Store { s, _ := open(t); return s })
	t.Run("MultipartResume", func(t *testing.T) {
		s, reopen := open(t)
		testMultipartResume(t, s, reopen)
	})
}

// payload returns n pseudo-random bytes, the same for the same seed.
func payload(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// onlyReader hides every method but Read (WriterTo, Seeker, ReaderAt, Len)
// so that a store cannot take a shortcut the suite did not mean to test.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func reader(data []byte) io.Reader { return onlyReader{bytes.NewReader(data)} }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t *testing.T, s blobstore.Store, key string, data []byte, size int64, md map[string]string) blobstore.Info {
	t.Helper()
	info, err := s.Put(ctxT(t), key, reader(data), size, blobstore.PutOptions{Metadata: md})
	if err != nil {
		t.Fatalf("Put(%q, %d bytes, size %d): %v", key, len(data), size, err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Fatalf("Put(%q) = key %q size %d, want key %q size %d", key, info.Key, info.Size, key, len(data))
	}
	return info
}

func mustRead(t *testing.T, s blobstore.Store, key string, offset, length int64) []byte {
	t.Helper()
	rc, err := s.Open(ctxT(t), key, offset, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", key, offset, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q [%d, +%d): %v", key, offset, length, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close %q: %v", key, err)
	}
	return data
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if len(got) != len(want) || sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// assertAbsent checks that key cannot be read, stat'ed or listed.
func assertAbsent(t *testing.T, s blobstore.Store, key string) {
	t.Helper()
	ctx := ctxT(t)
	if info, err := s.Stat(ctx, key); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat(%q) = %+v, %v; want ErrNotFound", key, info, err)
	}
	if rc, err := s.Open(ctx, key, 0, -1); !errors.Is(err, blobstore.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Fatalf("Open(%q) error = %v; want ErrNotFound", key, err)
	}
	if keys := listKeys(t, s, key); len(keys) != 0 && keys[0] == key {
		t.Fatalf("List(%q) shows the key: %q", key, keys)
	}
}

func listKeys(t *testing.T, s blobstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.List(ctxT(t), prefix, func(info blobstore.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testRoundtrip(t *testing.T, s blobstore.Store) {
	data := payload(1, 1000)
	md := map[string]string{"space": "s1", "node": "n-42"}
	before := time.Now()
	info := mustPut(t, s, "a/b/c", data, int64(len(data)), md)
	if info.ModTime.IsZero() {
		t.Errorf("Put returned a zero ModTime")
	}
	sameBytes(t, "Open(0, -1)", mustRead(t, s, "a/b/c", 0, -1), data)

	st, err := s.Stat(ctxT(t), "a/b/c")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != "a/b/c" || st.Size != 1000 {
		t.Errorf("Stat = key %q size %d, want a/b/c 1000", st.Key, st.Size)
	}
	if d := st.ModTime.Sub(before); d < -time.Hour || d > time.Hour {
		t.Errorf("Stat ModTime %v is far from the time of the Put (%v)", st.ModTime, before)
	}
	assertMetadata(t, st.Metadata, md)

	if err := s.Delete(ctxT(t), "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertAbsent(t, s, "a/b/c")
	if err := s.Delete(ctxT(t), "a/b/c"); err != nil {
		t.Fatalf("second Delete: %v, want nil (Delete is idempotent)", err)
	}
	if keys := listKeys(t, s, ""); len(keys) != 0 {
		t.Errorf("List after Delete = %q, want nothing", keys)
	}
}

func testSizes(t *testing.T, s blobstore.Store) {
	for _, n := range []int{0, 1, 4096, PartSize - 1, PartSize, PartSize + 1} {
		for _, known := range []bool{true, false} {
			size := int64(n)
			if !known {
				size = -1
			}
			data := payload(uint64(n), n)
			key := "sizes/" + strconv.Itoa(n) + "/" + map[bool]string{true: "known", false: "unknown"}[known]
			mustPut(t, s, key, data, size, nil)
			st, err := s.Stat(ctxT(t), key)
			if err != nil || st.Size != int64(n) {
				t.Fatalf("Stat(%q) = size %d, %v; want %d", key, st.Size, err, n)
			}
			sameBytes(t, key, mustRead(t, s, key, 0, -1), data)
		}
	}
}

func testMultipart(t *testing.T, s blobstore.Store) {
	// 20 MiB in 5 MiB parts, known size.
	data := payload(20, 20<<20)
	mustPut(t, s, "big/known", data, int64(len(data)), map[string]string{"kind": "multipart"})
	sameBytes(t, "big/known", mustRead(t, s, "big/known", 0, -1), data)
	// A range across the first part boundary.
	off := int64(PartSize - 10)
	sameBytes(t, "range across parts", mustRead(t, s, "big/known", off, 20), data[off:off+20])
	st, err := s.Stat(ctxT(t), "big/known")
	if err != nil || st.Size != int64(len(data)) {
		t.Fatalf("Stat = size %d, %v; want %d", st.Size, err, len(data))
	}
	assertMetadata(t, st.Metadata, map[string]string{"kind": "multipart"})

	// 12 MiB of unknown size: two full parts and a short one.
	data = payload(12, 12<<20)
	mustPut(t, s, "big/unknown", data, -1, nil)
	sameBytes(t, "big/unknown", mustRead(t, s, "big/unknown", 0, -1), data)
}
