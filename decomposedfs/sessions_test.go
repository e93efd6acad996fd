package decomposedfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// chunks of a resumable upload: sizes that straddle part boundaries (parts
// are 8 MiB), including a tiny one and an empty one.
func TestResumableUpload(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mkdir(t, "/up")
		data := payload(7, 19<<20+12345)
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{
			Ref: e.ref("/up/big.bin"), Size: int64(len(data)), User: "alice",
			Checksum: &decomposedfs.Checksum{Type: "sha1", Value: sha1hex(data)}, Meta: map[string]string{"filename": "big.bin"},
		})
		if err != nil {
			t.Fatal(err)
		}
		blobsBefore := e.blobCount(t)
		cuts := []int{0, 1000, 1000, 3 << 20, 9 << 20, 9<<20 + 1, 17 << 20, 19 << 20, len(data)}
		off := int64(0)
		for i := 1; i < len(cuts); i++ {
			chunk := data[cuts[i-1]:cuts[i]]
			// Every other chunk goes through a second FS (another process).
			fs := e.fs
			if i%2 == 0 {
				fs = reopen(t, e)
			}
			if n, err := fs.WriteUpload(ctx, s.ID, off+1, bytes.NewReader(chunk), nil); !errors.Is(err, decomposedfs.ErrUploadOffset) || n != off {
				t.Fatalf("chunk at the wrong offset: %d %v", n, err)
			}
			n, err := fs.WriteUpload(ctx, s.ID, off, bytes.NewReader(chunk), nil)
			if err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			off += int64(len(chunk))
			if n != off {
				t.Fatalf("chunk %d: offset %d, want %d", i, n, off)
			}
		}
		if _, err := e.fs.GetMD(ctx, e.ref("/up/big.bin")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Fatalf("the file exists before the upload finished: %v", err)
		}
		if e.stat(t, "/up").Size != 0 {
			t.Fatal("an unfinished upload counts in the tree size")
		}
		ri, err := reopen(t, e).FinishUpload(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ri.Size != int64(len(data)) || ri.Checksums.SHA1 != sha1hex(data) || !bytes.Equal(e.get(t, "/up/big.bin"), data) {
			t.Fatalf("finished upload: %+v", ri)
		}
		if e.stat(t, "/").Size != int64(len(data)) {
			t.Fatal("tree size after finish")
		}
		// The session remembers what it became, until it expires.
		if got, err := e.fs.GetUpload(ctx, s.ID); err != nil || got.Offset != got.Size {
			t.Fatalf("session after finish: %+v %v", got, err)
		}
		if again, err := e.fs.FinishUpload(ctx, s.ID); err != nil || again.ID != ri.ID {
			t.Fatalf("finishing again: %+v %v", again, err)
		}
		if n := e.blobCount(t); n != blobsBefore+1 {
			t.Fatalf("%d blobs after finishing, want %d (chunk blobs left behind?)", n, blobsBefore+1)
		}
		e.consistent(t)
	})
}

func TestResumableUploadFailures(t *testing.T) {
	e := newEnv(t, s3Blobs)
	ctx := context.Background()
	data := payload(8, 10<<20)
	blobs := e.blobCount(t)
	start := func(name string, sum string) *decomposedfs.UploadSession {
		t.Helper()
		spec := decomposedfs.UploadSpec{Ref: e.ref(name), Size: int64(len(data))}
		if sum != "" {
			spec.Checksum = &decomposedfs.Checksum{Type: "sha1", Value: sum}
		}
		s, err := e.fs.InitiateUpload(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A body that breaks off keeps what arrived; the client resumes there.
	s := start("/a", "")
	r := &failingReader{r: bytes.NewReader(data[:9<<20]), err: errors.New("connection reset")}
	n, err := e.fs.WriteUpload(ctx, s.ID, 0, r, nil)
	if err == nil || n != 9<<20 {
		t.Fatalf("broken body: offset %d, err %v; want the 9 MiB that arrived", n, err)
	}
	if got, _ := e.fs.GetUpload(ctx, s.ID); got.Offset != n {
		t.Fatalf("stored offset %d, want %d", got.Offset, n)
	}
	if _, err := e.fs.WriteUpload(ctx, s.ID, n, bytes.NewReader(data[n:]), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.get(t, "/a"), data) {
		t.Fatal("resumed content differs")
	}

	// A chunk with a wrong checksum is discarded whole.
	s = start("/b", "")
	wrong := &decomposedfs.Checksum{Type: "md5", Value: strings.Repeat("0", 32)}
	if n, err := e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(data[:1<<20]), wrong); !errors.Is(err, decomposedfs.ErrChecksumMismatch) || n != 0 {
		t.Fatalf("bad chunk checksum: %d %v", n, err)
	}
	// Too much data is refused: the full parts before the excess, which
	// were stored as they arrived, are kept, the rest is not.
	n, err = e.fs.WriteUpload(ctx, s.ID, 0, io.MultiReader(bytes.NewReader(data), strings.NewReader("extra")), nil)
	if !errors.Is(err, decomposedfs.ErrTooLarge) {
		t.Fatalf("oversized chunk: %v", err)
	}
	if got, _ := e.fs.GetUpload(ctx, s.ID); got.Offset != n || n >= int64(len(data)) {
		t.Fatalf("after an oversized chunk: offset %d, reported %d", got.Offset, n)
	}
	if _, err := e.fs.FinishUpload(ctx, s.ID); !errors.Is(err, decomposedfs.ErrPrecondition) {
		t.Fatalf("finish of an incomplete upload: %v", err)
	}
	if err := e.fs.AbortUpload(ctx, s.ID); err != nil {
		t.Fatal(err)
	}

	// A whole-file checksum that does not match stores nothing.
	s = start("/c", strings.Repeat("1", 40))
	if _, err := e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(ctx, s.ID); !errors.Is(err, decomposedfs.ErrChecksumMismatch) {
		t.Fatalf("finish with a wrong checksum: %v", err)
	}
	if _, err := e.fs.GetMD(ctx, e.ref("/c")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Fatalf("a mismatched upload left a file: %v", err)
	}

	// Expired uploads are purged with everything they stored.
	s, err = e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/d"), Size: int64(len(data)), TTL: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(data[:9<<20]), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := e.fs.WriteUpload(ctx, s.ID, 9<<20, bytes.NewReader(data[9<<20:]), nil); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Fatalf("write to an expired upload: %v", err)
	}
	if n, err := e.fs.PurgeExpiredUploads(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if got := e.blobCount(t); got != blobs+1 { // only /a's content
		t.Fatalf("%d blobs left, want %d", got, blobs+1)
	}
	e.consistent(t)
}

// Two processes finishing the same upload at once: one wins, the other
// waits its turn or gets the same answer; the content survives.
func TestResumableUploadConcurrentFinish(t *testing.T) {
	e := newEnv(t, s3Blobs)
	ctx := context.Background()
	data := payload(11, 9<<20+7)
	for round := range 5 {
		name := "/f" + string(rune('a'+round))
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref(name), Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
		other := reopen(t, e)
		errs := make(chan error, 2)
		ids := make(chan string, 2)
		for _, fs := range []*decomposedfs.FS{e.fs, other} {
			go func() {
				ri, err := fs.FinishUpload(ctx, s.ID)
				if err == nil {
					ids <- ri.ID
				}
				errs <- err
			}()
		}
		ok := 0
		for range 2 {
			if err := <-errs; err == nil {
				ok++
			} else if !errors.Is(err, decomposedfs.ErrUploadBusy) {
				t.Fatalf("round %d: concurrent finish: %v", round, err)
			}
		}
		if ok == 0 {
			t.Fatalf("round %d: neither finish succeeded", round)
		}
		// Finishing again answers the same.
		ri, err := e.fs.FinishUpload(ctx, s.ID)
		if err != nil || ri.ID != <-ids {
			t.Fatalf("round %d: repeated finish: %+v %v", round, ri, err)
		}
		if !bytes.Equal(e.get(t, name), data) {
			t.Fatalf("round %d: content lost", round)
		}
	}
	// A second writer of the same chunk fails fast.
	s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/g"), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	slow := io.MultiReader(bytes.NewReader(data[:1<<20]), readerFunc(func(p []byte) (int, error) {
		<-block
		return 0, io.EOF
	}))
	done := make(chan error, 1)
	go func() { _, err := e.fs.WriteUpload(ctx, s.ID, 0, slow, nil); done <- err }()
	time.Sleep(50 * time.Millisecond) // let the first writer take its lease
	if _, err := reopen(t, e).WriteUpload(ctx, s.ID, 0, bytes.NewReader(data), nil); !errors.Is(err, decomposedfs.ErrUploadBusy) {
		t.Fatalf("second writer: %v, want ErrUploadBusy", err)
	}
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := e.fs.AbortUpload(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	e.consistent(t)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
