package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// reqInfo is what the request log line reports about a request; handlers
// fill it in through the request's context.
type reqInfo struct {
	id   string
	user string
	err  error
	body *clientBody // nil without a body
}

type reqInfoKey struct{}

func infoOf(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

func setLogUser(ctx context.Context, user string) {
	if ri := infoOf(ctx); ri != nil {
		ri.user = user
	}
}

func setLogErr(ctx context.Context, err error) {
	if ri := infoOf(ctx); ri != nil {
		ri.err = err
	}
}

// RequestID returns the id of the request whose context ctx is, or "".
func RequestID(ctx context.Context) string {
	if ri := infoOf(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// requestID returns the client's X-Request-Id if it is short and
// printable ASCII (it ends up in logs), else a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		ok := true
		for i := 0; i < len(id) && ok; i++ {
			ok = id[i] > ' ' && id[i] < 0x7f
		}
		if ok {
			return id
		}
	}
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe runs next with a request id, counts the request's bytes and
// latency, recovers a panic into a 500, and logs one line at the end.
func (h *Handler) observe(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	start := time.Now()
	info := &reqInfo{id: requestID(r)}
	ctx := context.WithValue(r.Context(), reqInfoKey{}, info)
	w.Header().Set("X-Request-Id", info.id)
	rw := &respWriter{ResponseWriter: w}
	// A shallow copy: the server's own request must keep its body, which
	// it inspects after the handler (an unread "Expect: 100-continue"
	// body closes the connection instead of being drained).
	r = r.WithContext(ctx)
	var body *clientBody
	if r.Body != nil && r.Body != http.NoBody {
		body = newClientBody(w, r.Body, h.opts.BodyIdleTimeout)
		r.Body = body
		info.body, rw.body = body, body
	}
	h.metrics.inFlight.Inc()
	defer func() {
		h.metrics.inFlight.Dec()
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			info.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			if rw.status == 0 {
				writeText(rw, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError)+"\n")
			}
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		if errors.Is(info.err, context.Canceled) && r.Context().Err() != nil {
			status = statusCanceled
		}
		var in int64
		if body != nil {
			in = body.n
		}
		h.metrics.observe(r.Method, status, time.Since(start), in, rw.n)
		h.logRequest(ctx, r, info, status, in, rw.n, time.Since(start))
	}()
	next(rw, r)
	if body != nil {
		body.abandon()
	}
}

func (h *Handler) logRequest(ctx context.Context, r *http.Request, info *reqInfo, status int, in, out int64, d time.Duration) {
	level := slog.LevelInfo
	switch {
	case status >= 500 && status != statusCanceled:
		level = slog.LevelError
	case r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
		level = slog.LevelDebug
	}
	if !h.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()),
		slog.Int("status", status),
		slog.Int64("bytes_in", in),
		slog.Int64("bytes_out", out),
		slog.Float64("ms", float64(d.Microseconds())/1000),
	}
	if info.user != "" {
		attrs = append(attrs, slog.String("user", info.user))
	}
	if info.err != nil {
		attrs = append(attrs, slog.String("err", info.err.Error()))
	}
	h.log.LogAttrs(ctx, level, "request", attrs...)
}

// respWriter records the status and counts the bytes of a response.
type respWriter struct {
	http.ResponseWriter
	status int
	n      int64
	body   *clientBody // nil without a body
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		if w.body != nil && !w.body.ended() {
			// Answered before the body's end: close the connection rather
			// than let net/http read the rest, which it would do without
			// any time limit.
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Flush lets streaming responses through the wrapper.
func (w *respWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap serves http.ResponseController.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// written reports whether a response has begun.
func (w *respWriter) written() bool { return w.status != 0 }

// NewLogHandler wraps a slog handler so that records logged with a
// request's context carry the request id.
func NewLogHandler(next slog.Handler) slog.Handler { return &logHandler{next: next} }

type logHandler struct{ next slog.Handler }

func (l *logHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return l.next.Enabled(ctx, lv)
}

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return l.next.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{next: l.next.WithAttrs(as)}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: l.next.WithGroup(name)}
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	io.WriteString(w, text)
}
