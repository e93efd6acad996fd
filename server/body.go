package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// clientBody is a request body as the handlers read it. It counts bytes
// (for the metrics), bounds the wait for each read (Options.BodyIdleTimeout:
// a client that stops sending holds a request for that long at most), and
// remembers how the body ended, because a body that broke is the client's
// fault, whatever error the code that read it made of that: writeError
// answers 408 for a stalled body and 400 for one that ended before its
// Content-Length or broke its chunked encoding, never 500.
//
// The read deadline is set before each read and cleared as soon as the
// body ends: net/http's background read, which starts at the end of a
// body to notice a client that hangs up, cancels the request's context
// when it fails, and must not inherit the deadline.
type clientBody struct {
	rc   io.ReadCloser
	ctl  *http.ResponseController
	idle time.Duration // 0: no deadline
	n    int64         // bytes read
	err  error         // how the body ended: io.EOF for a clean end, nil while it goes on
}

func newClientBody(w http.ResponseWriter, rc io.ReadCloser, idle time.Duration) *clientBody {
	return &clientBody{rc: rc, ctl: http.NewResponseController(w), idle: idle}
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.err != nil && b.err != io.EOF {
		return 0, b.err
	}
	if b.idle > 0 && b.err == nil {
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.idle)) // not supported: no bound, as before
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil {
		if b.idle > 0 && b.err == nil {
			_ = b.ctl.SetReadDeadline(time.Time{})
		}
		if b.err == nil {
			b.err = err
		}
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// abandon is called when the handler is done: a body it did not read to
// the end will not be read any more. net/http would still read up to 256
// KiB of it, without a time limit, before it closes the connection (the
// response said "Connection: close": see respWriter.WriteHeader), so that
// a client trickling its body could hold the connection for ever; an
// expired read deadline ends that at once.
func (b *clientBody) abandon() {
	if b.err == nil {
		_ = b.ctl.SetReadDeadline(time.Now())
	}
}

// ended reports whether the body was read to its clean end.
func (b *clientBody) ended() bool { return b.err == io.EOF }

// errBodyStalled and errBodyBroken are what a request whose body failed
// answers, instead of what the handler made of the failure.
var (
	errBodyStalled = &httpError{status: http.StatusRequestTimeout, err: errors.New("the request body stalled")}
	errBodyBroken  = &httpError{status: http.StatusBadRequest, err: errors.New("the request body ended early or is malformed")}
)

// failure returns the answer for a body that failed, or nil.
func (b *clientBody) failure() *httpError {
	if b == nil || b.err == nil || b.err == io.EOF {
		return nil
	}
	var ne net.Error
	if errors.As(b.err, &ne) && ne.Timeout() {
		return &httpError{status: errBodyStalled.status, err: errors.Join(errBodyStalled.err, b.err)}
	}
	return &httpError{status: errBodyBroken.status, err: errors.Join(errBodyBroken.err, b.err)}
}
