package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// MaxHeaderBytes bounds request headers (Go answers 431 beyond).
	MaxHeaderBytes int
	// ShutdownGrace is how long requests in flight may take to finish
	// once shutdown begins; after that they are cancelled.
	ShutdownGrace time.Duration
	// CancelGrace is how long cancelled requests get to clean up (an
	// upload removes its blob) before Serve returns anyway.
	CancelGrace time.Duration
	// OnShutdown functions run when shutdown begins, before the server
	// waits for requests in flight (resumable uploads stop their bodies
	// there, keeping what arrived, instead of holding shutdown up).
	OnShutdown []func(context.Context)
}

// DefaultServeOptions returns the defaults.
func DefaultServeOptions() ServeOptions {
	return ServeOptions{MaxHeaderBytes: DefaultOptions().MaxHeaderBytes, ShutdownGrace: 30 * time.Second, CancelGrace: 10 * time.Second}
}

// Serve serves h on ln until ctx ends, then shuts down: it stops
// accepting, lets requests in flight finish for ShutdownGrace, then
// cancels their contexts — an upload cancelled that way stores nothing,
// the driver guarantees it — and waits up to CancelGrace for them to
// return. It returns nil after a shutdown, or the error that stopped the
// server.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var inFlight tracker
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inFlight.add(1)
			defer inFlight.add(-1)
			h.ServeHTTP(w, r)
		}),
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(quickAck(ln)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(base, opts.ShutdownGrace)
	defer scancel()
	for _, f := range opts.OnShutdown {
		f(sctx)
	}
	err := srv.Shutdown(sctx)
	if err != nil {
		// Out of patience: cancel what is left and close its connections.
		cancel()
		srv.Close()
		inFlight.wait(opts.CancelGrace)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // requests were cancelled, as promised
	}
	return err
}

// tracker counts requests in flight. (A sync.WaitGroup may not see Add
// race with Wait, and a request can still begin while the server closes.)
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0 while someone waits
}

func (t *tracker) add(d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += d
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// wait returns when no request is in flight, or after d.
func (t *tracker) wait(d time.Duration) {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
	case <-time.After(d):
	}
}
