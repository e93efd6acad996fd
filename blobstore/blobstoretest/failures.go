package blobstoretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
)

var errInjected = errors.New("blobstoretest: injected read error")

// failingReader yields data until it has given after bytes, then fails.
type failingReader struct {
	data  []byte
	after int
	off   int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.off >= f.after {
		return 0, errInjected
	}
	n := copy(p, f.data[f.off:min(f.after, len(f.data))])
	f.off += n
	return n, nil
}

// cancellingReader cancels the Put's context once it has given after bytes
// and then goes on giving data, so a store that ignores ctx would finish.
type cancellingReader struct {
	r      io.Reader
	after  int
	n      int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

func testSizeMismatch(t *testing.T, s blobstore.Store) {
	cases := []struct {
		name     string
		body     int
		declared int64
	}{
		{"short", 1000, 1001},
		{"long", 1000, 999},
		{"long-empty", 1, 0},
		{"short-empty", 0, 1},
		{"short-multipart", 6 << 20, 7 << 20},
		{"long-multipart", 7 << 20, 6 << 20},
		{"long-by-a-part", 2 * PartSize, PartSize},
		{"long-after-whole-parts", 2*PartSize + 1, 2 * PartSize},
	}
	for i, c := range cases {
		key := "mismatch/" + c.name
		_, err := s.Put(ctxT(t), key, reader(payload(uint64(i), c.body)), c.declared, blobstore.PutOptions{})
		if !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Fatalf("%s: Put(%d bytes, size %d) error = %v, want ErrSizeMismatch", c.name, c.body, c.declared, err)
		}
		assertAbsent(t, s, key)
	}

	// A failed Put leaves the blob it would have replaced alone, whether it
	// failed early or after sending whole parts.
	old := payload(99, 3000)
	mustPut(t, s, "mismatch/keep", old, int64(len(old)), map[string]string{"v": "old"})
	for _, c := range []struct {
		body     int
		declared int64
	}{{10, 11}, {2*PartSize + 1, 2 * PartSize}} {
		_, err := s.Put(ctxT(t), "mismatch/keep", reader(payload(100, c.body)), c.declared,
			blobstore.PutOptions{Metadata: map[string]string{"v": "new"}})
		if !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Fatalf("overwriting Put(%d bytes, size %d) error = %v, want ErrSizeMismatch", c.body, c.declared, err)
		}
		sameBytes(t, "blob after a failed overwrite", mustRead(t, s, "mismatch/keep", 0, -1), old)
		st, err := s.Stat(ctxT(t), "mismatch/keep")
		if err != nil {
			t.Fatal(err)
		}
		assertMetadata(t, st.Metadata, map[string]string{"v": "old"})
	}
}

func testReaderError(t *testing.T, s blobstore.Store) {
	cases := []struct {
		size, after int
		known       bool
	}{
		{2000, 0, true},
		{2000, 1000, true},
		{2000, 1000, false},
		{12 << 20, 7 << 20, true},
		{12 << 20, 7 << 20, false},
	}
	for i, c := range cases {
		key := fmt.Sprintf("readerr/%d", i)
		size := int64(c.size)
		if !c.known {
			size = -1
		}
		r := &failingReader{data: payload(uint64(i), c.size), after: c.after}
		_, err := s.Put(ctxT(t), key, r, size, blobstore.PutOptions{})
		if !errors.Is(err, errInjected) {
			t.Fatalf("case %+v: Put error = %v, want the reader's error", c, err)
		}
		assertAbsent(t, s, key)
	}
}

func testCancel(t *testing.T, s blobstore.Store) {
	cases := []struct {
		size, after int
		known       bool
	}{
		{1 << 20, 512 << 10, true},
		{12 << 20, 7 << 20, false},
		{12 << 20, 7 << 20, true},
	}
	for i, c := range cases {
		key := fmt.Sprintf("cancel/%d", i)
		size := int64(c.size)
		if !c.known {
			size = -1
		}
		ctx, cancel := context.WithCancel(ctxT(t))
		r := &cancellingReader{r: reader(payload(uint64(i), c.size)), after: c.after, cancel: cancel}
		_, err := s.Put(ctx, key, r, size, blobstore.PutOptions{})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("case %+v: Put error = %v, want context.Canceled", c, err)
		}
		assertAbsent(t, s, key)
	}
}

// testInFlight holds Puts half-way (the test feeds them through a pipe, and
// a pipe write returns only once the store has taken the bytes) and checks
// that nothing of them is visible before they return.
func testInFlight(t *testing.T, s blobstore.Store) {
	for _, c := range []struct {
		name        string
		first, rest int
		known       bool
	}{
		{"small", 1000, 1000, true},
		{"multipart", PartSize + 1, 1 << 20, false},
	} {
		key := "inflight/" + c.name
		data := payload(7, c.first+c.rest)
		size := int64(len(data))
		if !c.known {
			size = -1
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := s.Put(ctxT(t), key, pr, size, blobstore.PutOptions{})
			pr.CloseWithError(err) // unblocks the writer if Put gives up early
			done <- err
		}()
		if _, err := pw.Write(data[:c.first]); err != nil {
			t.Fatalf("%s: feeding Put: %v", c.name, err)
		}
		assertAbsent(t, s, key)
		if keys := listKeys(t, s, ""); len(keys) != 0 {
			t.Fatalf("%s: List during the Put = %q, want nothing", c.name, keys)
		}
		if _, err := pw.Write(data[c.first:]); err != nil {
			t.Fatalf("%s: feeding Put: %v", c.name, err)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatalf("%s: Put: %v", c.name, err)
		}
		sameBytes(t, key, mustRead(t, s, key, 0, -1), data)
		if keys := listKeys(t, s, ""); len(keys) != 1 || keys[0] != key {
			t.Fatalf("%s: List after the Put = %q, want [%s]", c.name, keys, key)
		}
		if err := s.Delete(ctxT(t), key); err != nil {
			t.Fatal(err)
		}
	}
}
