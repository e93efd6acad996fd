package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// Deadlines. Every HTTP request to S3 runs under a watchdog (watchdog, set
// up by deadlineTransport) that allows, in turn:
//
//	connect       DialTimeout      from the start until a connection is had
//	send          IdleTimeout      between two writes of the request body
//	first byte    ResponseTimeout  after the request is sent, until the answer
//	                               begins (plus the server's own work, below)
//	receive       IdleTimeout      between two reads of the response body
//
// Time the caller spends elsewhere (reading the body it uploads, writing
// the body it downloads to a slow client) does not count: a download to a
// slow client or an upload from one is never cut, however long it takes,
// as long as S3 itself keeps moving bytes.
//
// Requests that make the server copy bytes before it answers (CopyObject,
// UploadPartCopy and CompleteMultipartUpload) get more time for the first
// byte: ResponseTimeout plus their size at ServerCopyRate.
//
// A request that stalls fails its whole Store call: the call's context is
// cancelled, minio-go does not retry (a stall has cost its timeout already,
// and repeating it against a hung server only multiplies the wait), and no
// further request of the call is sent, the clean-up of a failed multipart
// upload included: a hung server would not answer it either. So a call
// against a hung server ends after one timeout, and the Store returns
// blobstore.ErrUnavailable.

// stallError is the error of a request that stalled. It is a net.Error
// whose Timeout is true, so IsTransient counts it as transient, and it
// wraps blobstore.ErrUnavailable.
type stallError struct {
	phase string
	after time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("S3 did not answer: no progress for %v (%s)", e.after, e.phase)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }
func (e *stallError) Unwrap() error   { return blobstore.ErrUnavailable }

// call is one Store method call, as its requests see it through their
// context.
type call struct {
	parent *call // the call this one runs within (a clean-up), if any
	cancel context.CancelCauseFunc
	work   func() int64 // bytes of server-side copying its requests may ask for
	mu     sync.Mutex
	stall  error // guarded by mu: set once a request of the call stalled
}

type callKey struct{}

// begin starts a Store call: ctx carries it to the transport. work, if not
// nil, tells how many bytes a copy or completion request of the call makes
// the server copy. The caller must end the call.
func (s *Store) begin(ctx context.Context, work func() int64) (context.Context, *call) {
	parent, _ := ctx.Value(callKey{}).(*call)
	ctx, cancel := context.WithCancelCause(ctx)
	c := &call{parent: parent, cancel: cancel, work: work}
	return context.WithValue(ctx, callKey{}, c), c
}

// end releases the call's context. A reader returned by the call must not
// be used after.
func (c *call) end() { c.cancel(errCallEnded) }

var errCallEnded = errors.New("s3: call ended")

// stalled returns the stall of the call (or of a call it runs within).
func (c *call) stalled() error {
	for ; c != nil; c = c.parent {
		c.mu.Lock()
		err := c.stall
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *call) stop(err error) {
	c.mu.Lock()
	if c.stall == nil {
		c.stall = err
	}
	c.mu.Unlock()
	c.cancel(err)
}

// result is the error of a call that failed with err: its stall, if a
// request stalled (what minio-go returns then is the cancelled context).
func (c *call) result(err error) error {
	if err == nil {
		return nil
	}
	if st := c.stalled(); st != nil {
		return fmt.Errorf("%w (%v)", st, err)
	}
	return err
}

// deadlineTransport runs every request under a watchdog.
type deadlineTransport struct {
	base              http.RoundTripper
	dial, first, idle time.Duration
	copyRate          int64 // bytes per second; see Options.ServerCopyRate
}

func newDeadlineTransport(base http.RoundTripper, o Options) *deadlineTransport {
	return &deadlineTransport{base: base, dial: o.DialTimeout, first: o.ResponseTimeout, idle: o.IdleTimeout, copyRate: o.ServerCopyRate}
}

// serverWork returns how many bytes the server copies before it answers
// r: those of the range of an UploadPartCopy, or, for CopyObject and
// CompleteMultipartUpload (a POST with an upload id), what the call says
// (0 if it says nothing).
func serverWork(r *http.Request, c *call) int64 {
	copying := r.Header.Get("X-Amz-Copy-Source") != ""
	if !copying && (r.Method != http.MethodPost || !r.URL.Query().Has("uploadId")) {
		return 0
	}
	var first, last int64
	if rg := r.Header.Get("X-Amz-Copy-Source-Range"); copying && rg != "" {
		if _, err := fmt.Sscanf(rg, "bytes=%d-%d", &first, &last); err == nil && last >= first {
			return last - first + 1
		}
	}
	if c == nil || c.work == nil {
		return 0
	}
	return c.work()
}

func (t *deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if err := c.stalled(); err != nil {
		return nil, err
	}
	first := t.first
	if n := serverWork(req, c); n > 0 && t.copyRate > 0 {
		first += time.Duration(float64(n) / float64(t.copyRate) * float64(time.Second))
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{call: c, cancel: cancel, phase: "connect", after: t.dial, deadline: time.Now().Add(t.dial)}
	w.mu.Lock() // the timer may fire before it is stored
	w.timer = time.AfterFunc(t.dial, w.fire)
	w.mu.Unlock()
	trace := &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { w.hook("send", t.idle) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { w.hook("first byte", first) },
		GotFirstResponseByte: func() { w.hook("receive", t.idle) },
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &sendBody{rc: req.Body, w: w, idle: t.idle}
		if gb := req.GetBody; gb != nil {
			// The transport resends a request on a fresh connection when a
			// pooled one turns out closed; that body is watched too.
			req.GetBody = func() (io.ReadCloser, error) {
				rc, err := gb()
				if err != nil {
					return nil, err
				}
				return &sendBody{rc: rc, w: w, idle: t.idle}, nil
			}
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		w.done()
		if st := w.stalled(); st != nil {
			return nil, st
		}
		return nil, err
	}
	w.returned()
	resp.Body = &receiveBody{rc: resp.Body, w: w, idle: t.idle}
	return resp, nil
}

// watchdog is the timer of one request.
type watchdog struct {
	call   *call // nil for a request outside a Store call
	cancel context.CancelCauseFunc
	timer  *time.Timer

	mu       sync.Mutex
	phase    string
	after    time.Duration
	deadline time.Time // zero: not armed
	back     bool      // the response went back to the caller: the transport's hooks no longer count
	over     bool      // the request is over: nothing counts
	stall    error
}

func (w *watchdog) arm(phase string, d time.Duration) {
	w.phase, w.after, w.deadline = phase, d, time.Now().Add(d)
	w.timer.Reset(d)
}

func (w *watchdog) disarm() {
	w.deadline = time.Time{}
	w.timer.Stop()
}

// hook arms the timer for a phase the transport reports.
func (w *watchdog) hook(phase string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.back && !w.over && w.stall == nil {
		w.arm(phase, d)
	}
}

// returned: RoundTrip hands the response to the caller, who reads its
// body at its own pace.
func (w *watchdog) returned() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.back = true
	w.disarm()
}

func (w *watchdog) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.over = true
	w.disarm()
	w.cancel(errCallEnded)
}

// reading arms or disarms the timer around a read of a body: a response
// body's reads wait for S3 (armed during the read); the time between two
// reads of a request body is the time the transport spends writing it to
// S3 (armed between reads). A request body read after the response went
// back to the caller no longer counts.
func (w *watchdog) reading(phase string, d time.Duration, armed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over || w.stall != nil || w.back && phase == "send" {
		return
	}
	if armed {
		w.arm(phase, d)
	} else {
		w.disarm()
	}
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.over || w.stall != nil || w.deadline.IsZero() || time.Now().Before(w.deadline) {
		w.mu.Unlock() // a stale firing: the timer was moved or stopped meanwhile
		return
	}
	st := &stallError{phase: w.phase, after: w.after}
	w.stall = st
	w.mu.Unlock()
	if w.call != nil {
		w.call.stop(st)
	}
	w.cancel(st)
}

func (w *watchdog) stalled() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stall
}

// fail is the error a body returns after a read failed: the stall, if
// the watchdog ended the request.
func (w *watchdog) fail(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if st := w.stalled(); st != nil {
		return st
	}
	return err
}

// sendBody is a request body: the transport reads it as it writes, so
// the time between two reads is time spent writing to S3.
type sendBody struct {
	rc   io.ReadCloser
	w    *watchdog
	idle time.Duration
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.reading("send", b.idle, false)
	n, err := b.rc.Read(p)
	// Armed after the last read too: the transport flushes what it
	// buffered, and only then reports the request written.
	b.w.reading("send", b.idle, true)
	return n, b.w.fail(err)
}

func (b *sendBody) Close() error { return b.rc.Close() }

// receiveBody is a response body: a read that waits longer than the idle
// timeout for S3 fails with the stall.
type receiveBody struct {
	rc   io.ReadCloser
	w    *watchdog
	idle time.Duration
}

func (b *receiveBody) Read(p []byte) (int, error) {
	b.w.reading("receive", b.idle, true)
	n, err := b.rc.Read(p)
	b.w.reading("receive", b.idle, false)
	return n, b.w.fail(err)
}

func (b *receiveBody) Close() error {
	err := b.rc.Close()
	b.w.done()
	return err
}
