package decomposedfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// Chunks arriving in any order, as the desktop clients send them, over
// part boundaries (parts are 8 MiB): in order, ahead of their turn
// (parked), again (skipped), overlapping.
func TestPutChunk(t *testing.T) {
	forEachBlobStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		data := payload(11, 20<<20+777)
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/f.bin"), Size: int64(len(data)), User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		blobs := e.blobCount(t)
		put := func(from, to int) *decomposedfs.UploadSession {
			t.Helper()
			// Every other chunk through a second FS (another process).
			fs := e.fs
			if from%2 == 1 {
				fs = reopen(t, e)
			}
			got, err := fs.PutChunk(ctx, s.ID, int64(from), bytes.NewReader(data[from:to]), int64(to-from))
			if err != nil {
				t.Fatalf("chunk [%d,%d): %v", from, to, err)
			}
			return got
		}
		const mb = 1 << 20
		if got := put(12*mb, 15*mb); got.Offset != 0 || len(got.Parked) != 1 || got.Parked[0] != (decomposedfs.ChunkInfo{Offset: 12 * mb, Size: 3 * mb}) {
			t.Fatalf("a chunk ahead of its turn: %+v", got)
		}
		put(15*mb, len(data))
		if got := put(0, 9*mb+1); got.Offset != 9*mb+1 || len(got.Parked) != 2 {
			t.Fatalf("first chunk: %+v", got)
		}
		put(0, 5*mb)            // all of it arrived before
		got := put(9*mb, 12*mb) // overlaps by one byte; closes the gap
		if got.Offset != int64(len(data)) || len(got.Parked) != 0 {
			t.Fatalf("after the gap closed: offset %d, parked %+v", got.Offset, got.Parked)
		}
		ri, err := e.fs.FinishUploadWith(ctx, s.ID, decomposedfs.FinishOptions{
			Checksum: &decomposedfs.Checksum{Type: "sha1", Value: sha1hex(data)}, Mtime: time.Unix(1700000000, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if ri.Size != int64(len(data)) || !ri.Mtime.Equal(time.Unix(1700000000, 0)) || !bytes.Equal(e.get(t, "/f.bin"), data) {
			t.Fatalf("file %+v", ri)
		}
		if n := e.blobCount(t); n != blobs+1 {
			t.Errorf("%d blobs, want %d: parked chunks left behind", n, blobs+1)
		}
		e.consistent(t)
	})
}

// TestPutChunkRefused: what PutChunk refuses it refuses before it stores
// anything, and a broken chunk keeps what arrived.
func TestPutChunkRefused(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/f"), Size: 200, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	data := payload(3, 200)
	if _, err := e.fs.PutChunk(ctx, s.ID, 190, bytes.NewReader(data[:20]), 20); !errors.Is(err, decomposedfs.ErrSizeMismatch) {
		t.Errorf("chunk past the end: %v", err)
	}
	// A body shorter than the chunk's length: what arrived is kept.
	if _, err := e.fs.PutChunk(ctx, s.ID, 0, bytes.NewReader(data[:30]), 40); !errors.Is(err, decomposedfs.ErrSizeMismatch) {
		t.Errorf("short chunk: %v", err)
	}
	if got, _ := e.fs.GetUpload(ctx, s.ID); got.Offset != 30 {
		t.Errorf("offset %d after a short chunk, want 30", got.Offset)
	}
	// A short chunk that would be parked is not.
	if _, err := e.fs.PutChunk(ctx, s.ID, 50, bytes.NewReader(data[50:55]), 10); !errors.Is(err, decomposedfs.ErrSizeMismatch) {
		t.Errorf("short parked chunk: %v", err)
	}
	if got, _ := e.fs.GetUpload(ctx, s.ID); len(got.Parked) != 0 {
		t.Errorf("a short chunk was parked: %+v", got.Parked)
	}
	// At most MaxParked chunks wait.
	for i := range metadata.MaxParked {
		off := int64(40 + i)
		if _, err := e.fs.PutChunk(ctx, s.ID, off, bytes.NewReader(data[off:off+1]), 1); err != nil {
			t.Fatalf("parking chunk %d: %v", i, err)
		}
	}
	got, _ := e.fs.GetUpload(ctx, s.ID)
	if len(got.Parked) != metadata.MaxParked {
		t.Fatalf("%d parked", len(got.Parked))
	}
	if _, err := e.fs.PutChunk(ctx, s.ID, 150, bytes.NewReader(data[150:]), 50); !errors.Is(err, decomposedfs.ErrTooManyParked) || !errors.Is(err, decomposedfs.ErrUploadOffset) {
		t.Errorf("one chunk too many: %v", err)
	}
	// Dropping one makes room; the gap closed, all go in.
	if ok, err := e.fs.DropParked(ctx, s.ID, 41); !ok || err != nil {
		t.Fatalf("DropParked: %v %v", ok, err)
	}
	if _, err := e.fs.PutChunk(ctx, s.ID, 150, bytes.NewReader(data[150:]), 50); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.PutChunk(ctx, s.ID, 30, bytes.NewReader(data[30:150]), 120); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.get(t, "/f"), data) {
		t.Error("content")
	}
	e.consistent(t)
}

// TestDetachedUpload: an upload whose file is named when it finishes.
func TestDetachedUpload(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	e.mkdir(t, "/d")
	id := uuid.NewString()
	s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{ID: id, Ref: decomposedfs.Reference{SpaceID: e.sid}, Detached: true, Size: 5, User: "alice"})
	if err != nil || s.ID != id || !s.Detached {
		t.Fatalf("detached upload: %+v %v", s, err)
	}
	if _, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{ID: id, Ref: e.ref("/x"), Size: 5, User: "alice"}); !errors.Is(err, decomposedfs.ErrExist) {
		t.Errorf("a second upload of the same id: %v", err)
	}
	if _, err := e.fs.PutChunk(ctx, id, 0, strings.NewReader("hello"), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(ctx, id); !errors.Is(err, decomposedfs.ErrInvalidRef) {
		t.Errorf("finishing a detached upload without naming its file: %v", err)
	}
	other, err := e.fs.CreateSpace(ctx, decomposedfs.SpaceSpec{Name: "other", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUploadWith(ctx, id, decomposedfs.FinishOptions{Ref: decomposedfs.Reference{SpaceID: other.ID, Path: "/x"}}); !errors.Is(err, decomposedfs.ErrCrossSpace) {
		t.Errorf("finishing into another space: %v", err)
	}
	if _, err := e.fs.FinishUploadWith(ctx, id, decomposedfs.FinishOptions{Ref: e.ref("/d")}); !errors.Is(err, decomposedfs.ErrIsDir) {
		t.Errorf("finishing onto a folder: %v", err)
	}
	if _, err := e.fs.FinishUploadWith(ctx, id, decomposedfs.FinishOptions{Ref: e.ref("/d/f"),
		Checksum: &decomposedfs.Checksum{Type: "md5", Value: strings.Repeat("0", 32)}}); !errors.Is(err, decomposedfs.ErrChecksumMismatch) {
		t.Errorf("a wrong checksum: %v", err)
	}
	// The mismatch ended the upload, and nothing is left of it.
	if _, err := e.fs.GetUpload(ctx, id); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("upload after a checksum mismatch: %v", err)
	}
	if n := e.blobCount(t); n != 0 {
		t.Errorf("%d blobs left", n)
	}
	names := func() []string {
		l, _ := e.fs.ListFolder(ctx, e.ref("/"))
		var out []string
		for _, c := range l.Children {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(); len(got) != 1 || got[0] != "d" {
		t.Errorf("root holds %q: the placeholder name must never show", got)
	}
	// Done right.
	s, err = e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{ID: id, Ref: decomposedfs.Reference{SpaceID: e.sid}, Detached: true, Size: 5, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.PutChunk(ctx, id, 0, strings.NewReader("hello"), 5); err != nil {
		t.Fatal(err)
	}
	ri, err := e.fs.FinishUploadWith(ctx, id, decomposedfs.FinishOptions{Ref: e.ref("/d/f"), CreateOnly: true})
	if err != nil || ri.Path != "/d/f" {
		t.Fatalf("finish: %+v %v", ri, err)
	}
	rc, _, err := e.fs.Download(ctx, e.ref("/d/f"), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Errorf("content %q", b)
	}
	e.consistent(t)
}

// TestSupersedeAbandonedUpload: a user who starts an upload of a file
// again from the beginning (owncloudcmd after an interrupted sync) gets
// the quota that the user's own abandoned upload of it held; someone
// else's upload, and one being written right now, keep theirs.
func TestSupersedeAbandonedUpload(t *testing.T) {
	e := newEnv(t, posixBlobs)
	ctx := context.Background()
	if _, err := e.fs.SetQuota(ctx, e.sid, 100); err != nil {
		t.Fatal(err)
	}
	start := func(user string) (*decomposedfs.UploadSession, error) {
		return e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref("/f"), Size: 80, User: user, Meta: map[string]string{"filename": "f"}})
	}
	old, err := start("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.WriteUpload(ctx, old.ID, 0, strings.NewReader(strings.Repeat("x", 30)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := start("bob"); !errors.Is(err, decomposedfs.ErrQuotaExceeded) {
		t.Fatalf("bob's upload of the same file: %v", err)
	}
	// A write in progress holds the upload: it is not abandoned.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := e.fs.WriteUpload(ctx, old.ID, 30, pr, nil)
		done <- err
	}()
	if _, err := pw.Write([]byte("y")); err != nil { // read by the writer, which holds the lease by then
		t.Fatal(err)
	}
	if _, err := start("alice"); !errors.Is(err, decomposedfs.ErrQuotaExceeded) {
		t.Fatalf("a new upload while the old one is written: %v", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Abandoned now: a new upload of the same file by the same user ends it.
	s, err := start("alice")
	if err != nil {
		t.Fatalf("a new upload of the same file: %v", err)
	}
	if _, err := e.fs.GetUpload(ctx, old.ID); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("the abandoned upload: %v", err)
	}
	if _, err := e.fs.PutChunk(ctx, s.ID, 0, bytes.NewReader(payload(1, 80)), 80); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	e.consistent(t)
}
