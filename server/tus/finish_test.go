package tus_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/server/tus"
)

// TestRacingWritersRounds: two clients PATCH the whole of one upload at
// offset 0 at the same time, through two servers on the same stores, round
// after round. In every round exactly one gets 204 and the other 409, and
// the file holds the bytes of the one that got 204. (The writer whose
// bytes completed the upload used to find the other server committing
// them, as a stranded upload, and answered 409 too.)
func TestRacingWritersRounds(t *testing.T) {
	rounds := map[blobKind]int{posixBlobs: 40, s3Blobs: 15}
	forEachStore(t, func(t *testing.T, e *env) {
		var bases []string
		for range 2 {
			in, err := e.open()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(in.close)
			_, srv := serveFS(t, in.fs, tus.Options{})
			bases = append(bases, srv.URL)
		}
		kind := posixBlobs
		if e.S3 != nil {
			kind = s3Blobs
		}
		for round := range rounds[kind] {
			data := [][]byte{payload(uint64(2*round), 3000), payload(uint64(2*round+1), 3000)}
			c := &client{t: t, base: bases[0], user: "alice"}
			name := "race" + string(rune('a'+round%26)) + string(rune('a'+round/26)) + ".bin"
			up := c.create(basePath, 3000, uploadMeta("filename", name))
			var wg sync.WaitGroup
			got := make([]resp, 2)
			for i, base := range bases {
				wg.Go(func() {
					ci := &client{t: t, base: base, user: "alice"}
					got[i] = ci.patch(up, 0, data[i], nil)
				})
			}
			wg.Wait()
			st := []int{got[0].StatusCode, got[1].StatusCode}
			var won int
			switch {
			case st[0] == http.StatusNoContent && st[1] == http.StatusConflict:
				won = 0
			case st[1] == http.StatusNoContent && st[0] == http.StatusConflict:
				won = 1
			default:
				t.Fatalf("round %d: statuses %v (%q, %q), want one 204 and one 409", round, st, got[0].body, got[1].body)
			}
			if got[won].Header.Get("ETag") == "" || got[won].Header.Get("OC-FileId") == "" {
				t.Errorf("round %d: the 204 has no ETag or OC-FileId: %v", round, got[won].Header)
			}
			e.checkFile(t, "/"+name, data[won])
		}
		e.consistent(t)
	})
}

// TestFinishWhileAnotherFinishes: the PATCH whose bytes complete an
// upload finds, when it comes to commit them, another process committing
// them already (one that took the upload for stranded in between). It
// waits for that commit and answers 204 with the file's ETag and id, as if
// it had committed the file itself; it used to answer 409 although its
// bytes were stored and committed. The moment is made with a metadata
// backend that holds the server's commit back.
func TestFinishWhileAnotherFinishes(t *testing.T) {
	e := newEnv(t, posixBlobs)
	in, err := e.open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.close)
	trap := &finishTrap{Backend: in.meta, reached: make(chan struct{}), proceed: make(chan struct{}), taken: make(chan error, 1)}
	fsA, err := decomposedfs.New(trap, in.blobs, decomposedfs.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	_, srv := serveFS(t, fsA, tus.Options{})
	c := &client{t: t, base: srv.URL, user: "alice"}
	data := payload(3, 2000)
	up := c.create(basePath, int64(len(data)), uploadMeta("filename", "f.bin"))
	id := strings.TrimPrefix(up, basePath)

	trap.armed.Store(true)
	done := make(chan resp, 1)
	go func() { done <- c.patch(up, 0, data, nil) }()
	<-trap.reached // every byte stored; the server is about to take the commit
	// Another process is committing the upload (holds the finisher lease).
	setFinisher := func(token string, until int64) {
		t.Helper()
		if _, err := e.meta.UpdateUpload(context.Background(), id, func(u *metadata.Upload) error {
			u.Finisher, u.FinisherUntil = token, until
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setFinisher("other-process", time.Now().Add(time.Hour).UnixNano())
	close(trap.proceed)
	if err := <-trap.taken; !errors.Is(err, decomposedfs.ErrUploadBusy) {
		t.Fatalf("the server's commit: %v, want it to find the other one busy", err)
	}
	// The other process completes its commit.
	setFinisher("", 0)
	ri, err := e.fs.FinishUpload(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.StatusCode != http.StatusNoContent || r.Header.Get("ETag") != ri.Etag || r.Header.Get("OC-FileId") != ri.SpaceID+"!"+ri.ID {
		t.Fatalf("PATCH: %d, ETag %q, OC-FileId %q (%q); want 204 with the file's %s and %s!%s",
			r.StatusCode, r.Header.Get("ETag"), r.Header.Get("OC-FileId"), r.body, ri.Etag, ri.SpaceID, ri.ID)
	}
	e.checkFile(t, "/f.bin", data)
	e.consistent(t)
}

// finishTrap is a metadata backend that, once armed, holds back the first
// update that takes an upload's finisher lease: it says so on reached,
// waits for proceed, and reports the update's result on taken.
type finishTrap struct {
	metadata.Backend
	armed   atomic.Bool
	reached chan struct{}
	proceed chan struct{}
	taken   chan error
}

func (m *finishTrap) UpdateUpload(ctx context.Context, id string, fn func(*metadata.Upload) error) (*metadata.Upload, error) {
	if m.armed.Load() {
		if cur, err := m.Backend.ReadUpload(ctx, id); err == nil {
			c := cur.Clone()
			if fn(c) == nil && cur.Finisher == "" && c.Finisher != "" && m.armed.CompareAndSwap(true, false) {
				m.reached <- struct{}{}
				<-m.proceed
				u, err := m.Backend.UpdateUpload(ctx, id, fn)
				m.taken <- err
				return u, err
			}
		}
	}
	return m.Backend.UpdateUpload(ctx, id, fn)
}

// TestPatchPastFinishedUpload: a PATCH with bytes for an upload that has
// all its bytes already is past Upload-Length: 413, as the docs say (tusd
// answered 204 and dropped the bytes); an empty one is answered with the
// final offset, and the file is unchanged.
func TestPatchPastFinishedUpload(t *testing.T) {
	e := newEnv(t, posixBlobs)
	_, srv := e.serve(t, tus.Options{})
	c := &client{t: t, base: srv.URL, user: "alice"}
	data := payload(4, 100)
	up := c.create(basePath, 100, uploadMeta("filename", "f.bin"))
	if r := c.patch(up, 0, data, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.StatusCode, r.body)
	}
	if r := c.patch(up, 100, []byte("more"), nil); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PATCH past the length of a finished upload: %d %q, want 413", r.StatusCode, r.body)
	}
	if r := c.do("PATCH", up, hdr{"Upload-Offset": "100", "Content-Type": "application/offset+octet-stream"}, strings.NewReader("more"), -1); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PATCH past the length of a finished upload: %d %q, want 413", r.StatusCode, r.body)
	}
	if r := c.patch(up, 100, nil, nil); r.StatusCode != http.StatusNoContent || r.offset() != 100 {
		t.Errorf("empty PATCH at the end: %d, offset %d, want 204 at 100", r.StatusCode, r.offset())
	}
	if r := c.patch(up, 50, []byte("x"), nil); r.StatusCode != http.StatusConflict {
		t.Errorf("PATCH at a wrong offset: %d, want 409", r.StatusCode)
	}
	e.checkFile(t, "/f.bin", data)
	e.consistent(t)
}
