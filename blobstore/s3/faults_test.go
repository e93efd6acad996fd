package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

// silentListener accepts TCP connections and never says a word. Each
// accepted connection is announced on accepted.
func silentListener(t *testing.T) (endpoint string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 100)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), ch
}

func TestSilentServerTimesOut(t *testing.T) {
	endpoint, _ := silentListener(t)
	o := validOptions()
	o.Endpoint, o.ResponseTimeout, o.MaxRetries = endpoint, 200*time.Millisecond, 0
	start := time.Now()
	_, err := s3.New(t.Context(), o)
	if err == nil {
		t.Fatal("New against a silent server succeeded")
	}
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("error %v is not the response timeout", err)
	}
	if !s3.IsTransient(err) || !errors.Is(err, blobstore.ErrUnavailable) {
		t.Errorf("IsTransient(%v) = %v, ErrUnavailable %v; want both", err, s3.IsTransient(err), errors.Is(err, blobstore.ErrUnavailable))
	}
	if !strings.Contains(err.Error(), endpoint) {
		t.Errorf("error %q does not name the endpoint", err)
	}
	// Generous: it only shows that the 200 ms option, not the one-minute
	// default, ended the call.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("New took %v", d)
	}
}

func TestSilentServerCancel(t *testing.T) {
	endpoint, accepted := silentListener(t)
	o := validOptions()
	o.Endpoint = endpoint // default timeouts (one minute) and retries
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s3.New(ctx, o)
		done <- err
	}()
	<-accepted // the request is on the wire
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("New error = %v, want context.Canceled", err)
		}
		if s3.IsTransient(err) || errors.Is(err, blobstore.ErrUnavailable) {
			t.Errorf("IsTransient(%v) or ErrUnavailable for a cancellation", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("New did not return after its context was cancelled")
	}
}

// faultServer answers HEAD /<bucket> (New's check) with 200 and every other
// request by calling fault, counting requests per method.
type faultServer struct {
	mu     sync.Mutex
	counts map[string]int
}

func (f *faultServer) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

func newFaultServer(t *testing.T, bucket string, fault http.HandlerFunc) (*faultServer, string) {
	f := &faultServer{counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && strings.Trim(r.URL.Path, "/") == bucket {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.counts[r.Method]++
		f.mu.Unlock()
		fault(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

// fastBackoff shrinks minio-go's retry backoff, a package variable, so that
// the retries a test counts do not sleep for seconds. Tests here never run
// in parallel, so nothing else reads it meanwhile.
func fastBackoff(t *testing.T) {
	unit, limit := minio.DefaultRetryUnit, minio.DefaultRetryCap
	minio.DefaultRetryUnit, minio.DefaultRetryCap = time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { minio.DefaultRetryUnit, minio.DefaultRetryCap = unit, limit })
}

func TestServiceUnavailableIsRetried(t *testing.T) {
	fastBackoff(t)
	const retries = 2
	f, endpoint := newFaultServer(t, "blobs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.Method != http.MethodHead {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
				`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		}
	})
	o := validOptions()
	o.Endpoint, o.MaxRetries = endpoint, retries
	s, err := s3.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	calls := []struct {
		method string
		call   func() error
	}{
		{http.MethodHead, func() error { _, err := s.Stat(ctx, "k"); return err }},
		{http.MethodGet, func() error { _, err := s.Open(ctx, "k", 0, -1); return err }},
		{http.MethodDelete, func() error { return s.Delete(ctx, "k") }},
		{http.MethodPut, func() error {
			_, err := s.Put(ctx, "k", strings.NewReader("body"), 4, blobstore.PutOptions{})
			return err
		}},
	}
	for _, c := range calls {
		before := f.count(c.method)
		err := c.call()
		if err == nil {
			t.Fatalf("%s succeeded against a 503 server", c.method)
		}
		if !s3.IsTransient(err) || !errors.Is(err, blobstore.ErrUnavailable) {
			t.Errorf("%s: IsTransient(%v) = %v, ErrUnavailable %v; want both", c.method, err, s3.IsTransient(err), errors.Is(err, blobstore.ErrUnavailable))
		}
		if errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("%s: a 503 became ErrNotFound: %v", c.method, err)
		}
		if n := f.count(c.method) - before; n != retries+1 {
			t.Errorf("%s: server saw %d requests, want %d (1 + MaxRetries)", c.method, n, retries+1)
		}
		var resp minio.ErrorResponse
		if c.method == http.MethodGet && (!errors.As(err, &resp) || resp.Code != "SlowDown" || !strings.Contains(err.Error(), "SlowDown")) {
			t.Errorf("GET: error %q does not carry the S3 code SlowDown", err)
		}
	}

	// List stops at the first page that keeps failing.
	before := f.count(http.MethodGet)
	err = s.List(ctx, "", func(blobstore.Info) error { t.Error("fn called"); return nil })
	if err == nil || !s3.IsTransient(err) {
		t.Errorf("List error = %v, want a transient error", err)
	}
	if n := f.count(http.MethodGet) - before; n != retries+1 {
		t.Errorf("List: server saw %d requests, want %d", n, retries+1)
	}
}

func TestStalledResponse(t *testing.T) {
	fastBackoff(t)
	arrived := make(chan struct{}, 10)
	_, endpoint := newFaultServer(t, "blobs", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // until the client gives up
	})
	o := validOptions()
	o.Endpoint, o.ResponseTimeout, o.MaxRetries = endpoint, 200*time.Millisecond, 1
	s, err := s3.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Open(t.Context(), "k", 0, -1)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() || !s3.IsTransient(err) {
		t.Errorf("Open on a stalled server: %v, want a transient timeout", err)
	}
	// A stall is not retried: it has cost its timeout already.
	if n := len(arrived); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}

	// With a long timeout, cancelling the context ends a stalled Put.
	o.ResponseTimeout = time.Minute
	if s, err = s3.New(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	for len(arrived) > 0 {
		<-arrived
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "k", bytes.NewReader([]byte("body")), 4, blobstore.PutOptions{})
		done <- err
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put error = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Put did not return after its context was cancelled")
	}
}

func TestWrongSecret(t *testing.T) {
	cfg := s3test.New(t)
	o := s3.DefaultOptions()
	o.Endpoint, o.Bucket, o.Region = cfg.Endpoint, cfg.Bucket, cfg.Region
	o.AccessKey, o.SecretKey = cfg.AccessKey, cfg.SecretKey+"-wrong"
	_, err := s3.New(t.Context(), o)
	if err == nil {
		t.Fatal("New with a wrong secret succeeded")
	}
	if s3.IsTransient(err) {
		t.Errorf("IsTransient(%v) = true for bad credentials", err)
	}
	if !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("error %q does not point at the credentials", err)
	}
}
