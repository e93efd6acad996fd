package s3_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/internal/s3test/s3store"
)

// hungStore is a store on a real versitygw behind a proxy that can stall,
// with short deadlines.
func hungStore(t *testing.T) (*s3.Store, *s3test.Proxy, s3.Options) {
	t.Helper()
	cfg := s3test.New(t)
	proxy := s3test.StartProxy(t, cfg.Endpoint)
	o := s3store.Options(cfg)
	o.Endpoint = proxy.Addr()
	o.PartSize, o.Concurrency = s3.MinPartSize, 2
	o.DialTimeout, o.ResponseTimeout, o.IdleTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	s, err := s3.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, proxy, o
}

// TestHungServer: while S3 accepts connections but answers nothing (a
// server stopped with SIGSTOP, here a stalled proxy), every call ends with
// a transient ErrUnavailable that says S3 did not answer, after about one
// timeout (minio-go does not retry a stall); once S3 answers again, the
// same store works at once. (What S3 received before it hung, it may still
// carry out when it goes on, as any S3 client must expect after a
// timeout: the Delete here, say.)
func TestHungServer(t *testing.T) {
	s, proxy, o := hungStore(t)
	ctx := t.Context()
	big := bytes.Repeat([]byte("0123456789abcdef"), (12<<20)/16)
	mustPut := func(key string, data []byte) {
		t.Helper()
		if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), blobstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mustPut("old/small", []byte("small"))
	mustPut("old/doomed", []byte("deleted, perhaps, once S3 goes on"))
	mustPut("old/big", big)
	upload, err := s.CreateMultipart(ctx, "mp/key", blobstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part, err := s.UploadPart(ctx, "mp/key", upload, 1, bytes.NewReader(big[:s3.MinPartSize]), s3.MinPartSize)
	if err != nil {
		t.Fatal(err)
	}

	proxy.SetStalled(true)
	calls := []struct {
		name string
		call func() error
	}{
		{"Stat", func() error { _, err := s.Stat(ctx, "old/small"); return err }},
		{"Open", func() error { _, err := s.Open(ctx, "old/small", 0, -1); return err }},
		{"Open range", func() error { _, err := s.Open(ctx, "old/big", 100, 1000); return err }},
		{"Put small", func() error {
			_, err := s.Put(ctx, "new/small", strings.NewReader("never"), 5, blobstore.PutOptions{})
			return err
		}},
		{"Put multipart", func() error {
			_, err := s.Put(ctx, "new/big", bytes.NewReader(big), int64(len(big)), blobstore.PutOptions{})
			return err
		}},
		{"Put unknown size", func() error {
			_, err := s.Put(ctx, "new/stream", bytes.NewReader(big), -1, blobstore.PutOptions{})
			return err
		}},
		{"Copy", func() error { _, err := s.Copy(ctx, "old/small", "new/copy", blobstore.PutOptions{}); return err }},
		{"Delete", func() error { return s.Delete(ctx, "old/doomed") }},
		{"List", func() error { return s.List(ctx, "", func(blobstore.Info) error { return nil }) }},
		{"CreateMultipart", func() error { _, err := s.CreateMultipart(ctx, "mp/other", blobstore.PutOptions{}); return err }},
		{"UploadPart", func() error {
			_, err := s.UploadPart(ctx, "mp/key", upload, 2, bytes.NewReader(big[:s3.MinPartSize]), s3.MinPartSize)
			return err
		}},
		{"ListParts", func() error { _, err := s.ListParts(ctx, "mp/key", upload); return err }},
		{"CompleteMultipart", func() error {
			_, err := s.CompleteMultipart(ctx, "mp/key", upload, []blobstore.Part{part})
			return err
		}},
	}
	limit := 4 * max(o.DialTimeout, o.ResponseTimeout, o.IdleTimeout) // generous: one timeout, not one per retry
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		d := time.Since(start)
		if !errors.Is(err, blobstore.ErrUnavailable) || !s3.IsTransient(err) || !strings.Contains(err.Error(), "S3 did not answer") {
			t.Errorf("%s against a hung S3: %v, want a transient ErrUnavailable saying S3 did not answer", c.name, err)
		}
		if d > limit {
			t.Errorf("%s against a hung S3 took %v, more than %v", c.name, d, limit)
		}
	}
	// A body already open stops too, with the same error.
	proxy.SetStalled(false)
	rc, err := s.Open(ctx, "old/big", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	proxy.SetStalled(true)
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, blobstore.ErrUnavailable) || !strings.Contains(err.Error(), "S3 did not answer") {
		t.Errorf("reading a body while S3 hangs: %v, want ErrUnavailable", err)
	}

	// S3 answers again: the same store works at once.
	proxy.SetStalled(false)
	if _, err := s.Stat(ctx, "old/small"); err != nil {
		t.Errorf("Stat after the hang: %v", err)
	}
	mustPut("after/hang", big)
	rc, err = s.Open(ctx, "after/hang", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("after the hang: read %d bytes, %v", len(got), err)
	}
	if _, err := s.CompleteMultipart(ctx, "mp/key", upload, []blobstore.Part{part}); err != nil {
		t.Errorf("completing the upload after the hang: %v", err)
	}
}

// slowReader pauses before each chunk of its bytes: a client that uploads
// slowly.
type slowReader struct {
	r     io.Reader
	chunk int
	left  int // of the current chunk
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		time.Sleep(s.pause) // the behaviour under test: a slow producer, not synchronisation
		s.left = s.chunk
	}
	n, err := s.r.Read(p[:min(len(p), s.left)])
	s.left -= n
	return n, err
}

// TestSlowCallerNotCut: the deadlines count S3's time only. A caller that
// hands over its body, or reads the object, slower than IdleTimeout per
// chunk, in several parts, is not cut.
func TestSlowCallerNotCut(t *testing.T) {
	s, _, o := hungStore(t)
	ctx := t.Context()
	pause := 2 * o.IdleTimeout
	data := bytes.Repeat([]byte("slow"), (s3.MinPartSize+3<<20)/4) // two parts
	for _, size := range []int64{int64(len(data)), -1} {
		r := &slowReader{r: bytes.NewReader(data), chunk: 4 << 20, pause: pause}
		if _, err := s.Put(ctx, "slow/up", r, size, blobstore.PutOptions{}); err != nil {
			t.Fatalf("Put (size %d) from a slow caller: %v", size, err)
		}
	}
	rc, err := s.Open(ctx, "slow/up", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	buf := make([]byte, 4<<20)
	for {
		n, err := io.ReadFull(rc, buf)
		got.Write(buf[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("reading slowly after %d bytes: %v", got.Len(), err)
		}
		time.Sleep(pause) // a slow consumer
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Errorf("read %d bytes back, want %d", got.Len(), len(data))
	}
}
