package check_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
)

// TestLiveCheck runs the check while uploads are in flight (single PUTs
// whose bodies trickle in, resumable sessions between chunks) and a writer
// keeps changing a folder, so that propagations race the walk. None of it
// may be reported: not the prepared nodes, not the chunks, not the blobs
// of uploads about to commit, not the tree sizes in motion.
func TestLiveCheck(t *testing.T) {
	e := newEnv(t, s3Blobs)
	b := buildBase(t, e)
	_ = b
	e.mkdir(t, "/hot")
	e.mkdir(t, "/in")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var uploads, writes atomic.Int64

	// Single PUTs whose bodies take a while: their records and pending
	// links exist (prepared) while the content streams.
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				data := payload(uint64(100*i+n), 64<<10)
				r := &slowReader{r: bytes.NewReader(data), ctx: ctx, delay: 20 * time.Millisecond, chunk: 4 << 10}
				_, err := e.fs.Upload(context.Background(), e.ref(fmt.Sprintf("/in/slow-%d-%d", i, n)), r, decomposedfs.UploadOptions{Size: int64(len(data))})
				if err == nil {
					uploads.Add(1)
				}
			}
		}()
	}
	// Resumable sessions, left between chunks while the check runs.
	var sessions []string
	for i := range 3 {
		s, err := e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: e.ref(fmt.Sprintf("/in/resumable-%d", i)), Size: 10000})
		must(t, err)
		_, err = e.fs.WriteUpload(ctx, s.ID, 0, bytes.NewReader(payload(uint64(i), 3000)), nil)
		must(t, err)
		sessions = append(sessions, s.ID)
	}
	// Writers that keep folders busy. (Not with ctx: cancelling it would
	// cut their operations short, which leaves what the final check
	// rightly reports.)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bg := context.Background()
			for n := 0; ctx.Err() == nil; n++ {
				p := fmt.Sprintf("/hot/w%d-f%d", w, n%20)
				data := payload(uint64(n), 1+n%5000)
				if _, err := e.fs.Upload(bg, e.ref(p), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data))}); err == nil {
					writes.Add(1)
				}
				if n%7 == 0 {
					e.fs.Move(bg, e.ref(p), e.ref(fmt.Sprintf("/hot/w%d-m%d", w, n)), false)
				}
				if n%11 == 0 {
					e.fs.Delete(bg, e.ref(fmt.Sprintf("/hot/w%d-m%d", w, n-7)))
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	var skipped int64
	for i := range 6 {
		grace := []time.Duration{time.Hour, 0}[i%2]
		o := checktest.Options(t)
		o.Grace, o.Settle = grace, 2*time.Second
		o.PendingGrace = check.DefaultOptions().PendingGrace
		fds, sum := checktest.Check(t, e.fs, &o)
		for _, f := range fds {
			t.Errorf("grace %v: a live operation was reported: %s", grace, f)
		}
		if !sum.Complete {
			t.Errorf("grace %v: incomplete: %v", grace, sum.ErrorSamples)
		}
		t.Logf("grace %v: %d nodes, %d blobs, %d values in motion skipped", grace, sum.Nodes, sum.Blobs, sum.Skipped)
		skipped += sum.Skipped
		// More chunks for the sessions between the checks.
		for _, id := range sessions {
			s, err := e.fs.GetUpload(ctx, id)
			must(t, err)
			_, err = e.fs.WriteUpload(ctx, id, s.Offset, bytes.NewReader(payload(9, 1000)), nil)
			must(t, err)
		}
	}
	cancel()
	wg.Wait()
	t.Logf("%d slow uploads and %d writes committed while the checks ran; %d values seen in motion", uploads.Load(), writes.Load(), skipped)
	if uploads.Load() == 0 || writes.Load() == 0 {
		t.Errorf("the workload did not run")
	}
	// Quiet now: nothing in flight, so nothing to forgive.
	checktest.AssertClean(t, e.fs)
}

// slowReader hands out its content a chunk at a time, with a pause before
// each; cancelling ctx makes it fail (the upload leaves nothing behind).
type slowReader struct {
	r     io.Reader
	ctx   context.Context
	delay time.Duration
	chunk int
}

func (s *slowReader) Read(p []byte) (int, error) {
	select {
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	case <-time.After(s.delay):
	}
	if len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.r.Read(p)
}
