package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/s3dfs/s3dfs/blobstore"
)

// TestUploadPartStreams covers parts larger than Options.PartSize, which
// UploadPart streams instead of buffering (the conformance suite's parts
// all fit the buffer): a wrong size or a failing reader must break the
// request so that the server keeps no part.
func TestUploadPartStreams(t *testing.T) {
	s := newStore(t, nil) // PartSize 5 MiB
	ctx := t.Context()
	id, err := s.CreateMultipart(ctx, "k", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	for _, c := range []struct {
		name string
		r    io.Reader
		size int64
		want error
	}{
		{"short", bytes.NewReader(data[:len(data)-1]), int64(len(data)), blobstore.ErrSizeMismatch},
		{"long", bytes.NewReader(data), int64(len(data) - 1), blobstore.ErrSizeMismatch},
		{"failing", io.MultiReader(bytes.NewReader(data[:1<<20]), errReader{}), int64(len(data)), errBroken},
	} {
		if _, err := s.UploadPart(ctx, "k", id, 1, c.r, c.size); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if parts, err := s.ListParts(ctx, "k", id); err != nil || len(parts) != 0 {
		t.Fatalf("ListParts after the failed uploads = %+v, %v; want none", parts, err)
	}

	p, err := s.UploadPart(ctx, "k", id, 1, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMultipart(ctx, "k", id, []blobstore.Part{p}); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
		t.Errorf("blob has %d bytes (%v), want the part's %d", len(got), err, len(data))
	}
}

var errBroken = errors.New("broken reader")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// TestUploadPartCancel: a cancelled context stores no part, on both the
// buffered and the streamed path.
func TestUploadPartCancel(t *testing.T) {
	s := newStore(t, nil) // PartSize 5 MiB
	id, err := s.CreateMultipart(t.Context(), "k", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1 << 20, 6 << 20} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancelAfter{r: bytes.NewReader(make([]byte, size)), after: size / 2, cancel: cancel}
		if _, err := s.UploadPart(ctx, "k", id, 1, r, int64(size)); !errors.Is(err, context.Canceled) {
			t.Errorf("%d bytes: %v, want context.Canceled", size, err)
		}
		cancel()
	}
	if parts, err := s.ListParts(t.Context(), "k", id); err != nil || len(parts) != 0 {
		t.Fatalf("ListParts after the cancelled uploads = %+v, %v; want none", parts, err)
	}
	if err := s.AbortMultipart(t.Context(), "k", id); err != nil {
		t.Fatal(err)
	}
}
